//! The checks behind the `keyring_load` fuzz target (fuzz/fuzz_targets/), shared with
//! `tests/fuzz_corpus.rs`, which replays the committed corpus on stable in CI.
//!
//! A mutated file almost always fails its checksum, so each input is also tried with the
//! checksum recomputed over its body: that lets the fuzzer reach the body parser, the slot
//! checks and unlocking. The invariant is the keyring's promise: a file either fails with an
//! error or opens with the right passphrase to exactly the right key.

use std::collections::BTreeMap;
use std::path::Path;

use cardsgalore_keyring::Keyring;
use secrecy::SecretString;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The passphrase of every slot of the seed keyrings in fuzz/corpus/keyring_load/.
pub const PASSPHRASE: &str = "fuzz passphrase";

/// Shaped like a recovery code; opens no slot.
const WRONG_RECOVERY_CODE: &str = "RC-0000-1111-2222-3333-4444-5555-6666-7777";

/// The data keys (current and pending) of the seed keyrings, as hex: all seeds share one master
/// key, so no file the fuzzer builds from them may open to any other key.
pub const DATA_KEYS: [&str; 2] = [
    "6c3cce29a80c9b471e594a7a0f47c0c53d03ff8e5c2728cd1ed63278b98977c3",
    "4d3a4584c35c026bc2c258e53597957a2db40c68578e0f06581983bb7e246dd8",
];

/// Slots costlier than this are not unlocked: Argon2id at up to 4 GiB is the keyring's
/// documented cap, not a bug, and would only slow the fuzzer down.
const MAX_FUZZ_M_KIB: u32 = 1024;

/// `keyring_load`: parse the bytes as a keyring file, as given and with a fixed checksum.
pub fn keyring_file(data: &[u8]) {
    check(data);
    if let Some(fixed) = with_fixed_checksum(data) {
        if fixed != data {
            check(&fixed);
        }
    }
}

fn check(data: &[u8]) {
    let Ok(keyring) = Keyring::parse(data, Path::new("fuzz/keyring.json")) else {
        return;
    };
    let slots = keyring.slots();
    let _ = keyring.rotation_pending();
    if slots
        .iter()
        .any(|slot| slot.kdf.m_kib > MAX_FUZZ_M_KIB || slot.kdf.t > 2)
    {
        return;
    }
    // A wrong passphrase, and a wrong recovery code (tried against recovery slots first).
    for secret in [PASSPHRASE, "not the passphrase", WRONG_RECOVERY_CODE] {
        let Ok(unlocked) = keyring.unlock(&SecretString::from(secret.to_string())) else {
            continue;
        };
        assert_eq!(secret, PASSPHRASE, "a wrong secret opened the keyring");
        let key = unlocked.data_key().expect("unlock checks the data key");
        assert!(
            DATA_KEYS.contains(&hex::encode(key.expose_bytes()).as_str()),
            "the keyring opened to a key it never held"
        );
        if let Some(pending) = unlocked.pending_data_key().expect("unlock checks it too") {
            assert!(
                DATA_KEYS.contains(&hex::encode(pending.expose_bytes()).as_str()),
                "the keyring opened to a pending key it never held"
            );
        }
    }
}

/// The file with `checksum` recomputed over its `body`, if it is a JSON object with a body.
fn with_fixed_checksum(data: &[u8]) -> Option<Vec<u8>> {
    let mut members: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(data).ok()?;
    let body = members.get("body")?;
    let checksum = format!("\"{}\"", hex::encode(Sha256::digest(body.get().as_bytes())));
    members.insert(
        "checksum".to_string(),
        RawValue::from_string(checksum).ok()?,
    );
    serde_json::to_vec(&members).ok()
}
