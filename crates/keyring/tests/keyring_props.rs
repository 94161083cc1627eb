//! Property tests of the keyring's wrap/unwrap promises, with cheap Argon2id parameters:
//! create → save → load → unlock gives back the data key; a wrong passphrase never unlocks;
//! and no single-byte change to a saved file panics or yields another key.

use std::path::Path;

use cardsgalore_keyring::{KdfParams, Keyring, KeyringError, UnlockedKeyring, KEYRING_FILE};
use proptest::prelude::*;
use secrecy::SecretString;

const CHEAP: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_string())
}

/// Creates and saves a keyring; returns its file's bytes and its data key.
fn saved(dir: &Path, label: &str, passphrase: &str) -> (Vec<u8>, [u8; 32]) {
    let path = dir.join(KEYRING_FILE);
    let keyring = UnlockedKeyring::create(label, &secret(passphrase), CHEAP).expect("create");
    keyring.save(&path).expect("save");
    let key = *keyring.data_key().expect("data key").expose_bytes();
    (std::fs::read(&path).expect("read"), key)
}

fn label() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._@-]{1,64}"
}

/// Any passphrase, including empty, non-ASCII and recovery-code-shaped ones.
fn passphrase() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        any::<String>(),
        "RC-[0-9A-Z]{4}(-[0-9A-Z]{4}){3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn unlock_gives_back_the_data_key(label in label(), passphrase in passphrase()) {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = saved(dir.path(), &label, &passphrase);
        let keyring = Keyring::load(&dir.path().join(KEYRING_FILE)).unwrap();
        let unlocked = keyring.unlock(&secret(&passphrase)).unwrap();
        prop_assert_eq!(*unlocked.data_key().unwrap().expose_bytes(), key);
        prop_assert_eq!(unlocked.unlocked_with(), label.as_str());
        prop_assert!(unlocked.pending_data_key().unwrap().is_none());
    }

    #[test]
    fn a_wrong_passphrase_never_unlocks(
        passphrase in passphrase(),
        wrong in passphrase(),
    ) {
        prop_assume!(wrong != passphrase);
        let dir = tempfile::tempdir().unwrap();
        saved(dir.path(), "admin", &passphrase);
        let keyring = Keyring::load(&dir.path().join(KEYRING_FILE)).unwrap();
        prop_assert!(matches!(
            keyring.unlock(&secret(&wrong)),
            Err(KeyringError::WrongPassphrase)
        ));
    }

    #[test]
    fn a_changed_byte_never_panics_nor_gives_another_key(
        passphrase in "\\PC{1,20}",
        start in 0usize..7,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 1..=u8::MAX), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, key) = saved(dir.path(), "admin", &passphrase);
        // A change at every 7th byte (from a random start, so runs cover every byte), plus a
        // random multi-byte one.
        let mut variants: Vec<Vec<u8>> = (start..bytes.len())
            .step_by(7)
            .map(|i| {
                let mut v = bytes.clone();
                v[i] ^= edits[0].1;
                v
            })
            .collect();
        let mut multi = bytes.clone();
        for (index, flip) in &edits {
            let i = index.index(multi.len());
            multi[i] ^= flip;
        }
        variants.push(multi);
        for changed in variants {
            let outcome = Keyring::parse(&changed, Path::new(KEYRING_FILE))
                .and_then(|keyring| keyring.unlock(&secret(&passphrase)));
            match outcome {
                // A change the format ignores (JSON whitespace, say) must still give the key.
                Ok(unlocked) => {
                    prop_assert_eq!(*unlocked.data_key().unwrap().expose_bytes(), key);
                }
                Err(
                    KeyringError::Damaged { .. }
                    | KeyringError::UnsupportedVersion { .. }
                    | KeyringError::Tampered
                    | KeyringError::WrongPassphrase,
                ) => {}
                Err(other) => prop_assert!(false, "unexpected error: {other}"),
            }
        }
    }
}

/// `load` is `parse` of the file's bytes: both agree on a good file and on a damaged one.
#[test]
fn load_is_read_then_parse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(KEYRING_FILE);
    let (bytes, key) = saved(dir.path(), "admin", "pass");
    let parsed = Keyring::parse(&bytes, &path).unwrap();
    let unlocked = parsed.unlock(&secret("pass")).unwrap();
    assert_eq!(unlocked.data_key().unwrap().expose_bytes(), &key);
    assert!(Keyring::load(&path).is_ok());
    let half = &bytes[..bytes.len() / 2];
    std::fs::write(&path, half).unwrap();
    assert!(matches!(
        Keyring::load(&path),
        Err(KeyringError::Damaged { .. })
    ));
    assert!(matches!(
        Keyring::parse(half, &path),
        Err(KeyringError::Damaged { .. })
    ));
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert!(matches!(
        Keyring::parse(&huge, &path),
        Err(KeyringError::Damaged { reason, .. }) if reason.contains("too large")
    ));
}
