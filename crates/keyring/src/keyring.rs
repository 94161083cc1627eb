//! The keyring file: format, unlocking, keyslot management and data key rotation.
//!
//! On disk (JSON):
//! `{"format": "cardsgalore-keyring", "version": 1, "body": {...}, "checksum": "<sha256 of body>",
//! "mac": "<HMAC-SHA256 of body under a key derived from the master key>"}`.
//! The checksum tells a damaged file from a wrong passphrase without any key; the MAC, checked
//! after a slot opens, tells a file edited outside cardsgalore.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::fsutil::write_file_atomically;
use crate::kdf::KdfParams;
use crate::keys::{DataKey, MasterKey, RecoveryCode};

/// File name of the keyring inside a data directory.
pub const KEYRING_FILE: &str = "keyring.json";

const FORMAT: &str = "cardsgalore-keyring";
const VERSION: u32 = 1;
const MAX_FILE_BYTES: u64 = 1024 * 1024;
const MAX_SLOTS: usize = 64;
const MAX_LABEL_LEN: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("cannot read or write keyring {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("keyring {path} is damaged ({reason}); restore it from a backup")]
    Damaged { path: PathBuf, reason: String },
    #[error("keyring {path} has version {found}, this build reads version {VERSION}")]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("wrong passphrase: it opens no keyslot of this keyring")]
    WrongPassphrase,
    #[error("keyring integrity check failed: the file was modified outside cardsgalore; restore it from a backup")]
    Tampered,
    #[error("no keyslot is labelled '{0}'")]
    UnknownSlot(String),
    #[error("a keyslot labelled '{0}' already exists")]
    DuplicateLabel(String),
    #[error("invalid keyslot label '{0}': use 1 to 64 letters, digits, '.', '_', '@' or '-'")]
    InvalidLabel(String),
    #[error("refusing to remove '{0}': it is the last passphrase slot, and the database could not be opened without it")]
    LastSlot(String),
    #[error("the keyring already has {MAX_SLOTS} keyslots")]
    TooManySlots,
    #[error("invalid Argon2id parameters: {0}")]
    Kdf(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotKind {
    Passphrase,
    Recovery,
}

impl std::fmt::Display for SlotKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SlotKind::Passphrase => "passphrase",
            SlotKind::Recovery => "recovery code",
        })
    }
}

/// What may be shown about a slot: never key material.
#[derive(Clone, Debug)]
pub struct SlotInfo {
    pub label: String,
    pub kind: SlotKind,
    pub created: String,
    pub kdf: KdfParams,
}

#[derive(Clone, Serialize, Deserialize)]
struct Wrapped {
    nonce: String,
    ciphertext: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct Slot {
    label: String,
    kind: SlotKind,
    created: String,
    kdf: KdfParams,
    salt: String,
    master: Wrapped,
}

#[derive(Clone, Serialize, Deserialize)]
struct Body {
    created: String,
    slots: Vec<Slot>,
    data_key: Wrapped,
    /// Set while a data key rotation is under way: the database holds either key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_data_key: Option<Wrapped>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    body: &'a RawValue,
    checksum: String,
    mac: String,
}

#[derive(Deserialize)]
struct FileIn<'a> {
    format: String,
    version: u32,
    #[serde(borrow)]
    body: &'a RawValue,
    checksum: String,
    mac: String,
}

/// A keyring read from disk whose checksum is intact, not yet unlocked.
pub struct Keyring {
    body: Body,
    body_bytes: Vec<u8>,
    mac: Vec<u8>,
}

/// A keyring whose master key is in memory: it can hand out the data key and change slots.
pub struct UnlockedKeyring {
    body: Body,
    master: MasterKey,
    slot: String,
}

impl Keyring {
    /// Reads and checks a keyring file. Fails on a damaged file, never on a wrong passphrase.
    pub fn load(path: &Path) -> Result<Keyring, KeyringError> {
        let io_err = |source| KeyringError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = fs::metadata(path).map_err(io_err)?.len();
        if len > MAX_FILE_BYTES {
            return Err(KeyringError::Damaged {
                path: path.to_path_buf(),
                reason: format!("{len} bytes is too large for a keyring"),
            });
        }
        let text = fs::read(path).map_err(io_err)?;
        Keyring::parse(&text, path)
    }

    /// Checks the bytes of a keyring file, as [`Keyring::load`] does after reading it; `path`
    /// only names the file in errors. No I/O, so untrusted bytes can be fed to it directly.
    pub fn parse(text: &[u8], path: &Path) -> Result<Keyring, KeyringError> {
        let damaged = |reason: String| KeyringError::Damaged {
            path: path.to_path_buf(),
            reason,
        };
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(damaged(format!(
                "{} bytes is too large for a keyring",
                text.len()
            )));
        }
        let file: FileIn =
            serde_json::from_slice(text).map_err(|e| damaged(format!("not valid JSON: {e}")))?;
        if file.format != FORMAT {
            return Err(damaged(format!("unknown format '{}'", file.format)));
        }
        if file.version != VERSION {
            return Err(KeyringError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: file.version,
            });
        }
        let body_bytes = file.body.get().as_bytes().to_vec();
        let checksum = hex::decode(&file.checksum).unwrap_or_default();
        if checksum.ct_eq(&Sha256::digest(&body_bytes)).unwrap_u8() != 1 {
            return Err(damaged("checksum mismatch".into()));
        }
        let body: Body = serde_json::from_slice(&body_bytes)
            .map_err(|e| damaged(format!("unexpected content: {e}")))?;
        if body.slots.is_empty() || body.slots.len() > MAX_SLOTS {
            return Err(damaged(format!("{} keyslots", body.slots.len())));
        }
        for slot in &body.slots {
            slot.kdf
                .check()
                .map_err(|e| damaged(format!("slot '{}': {e}", slot.label)))?;
        }
        let mac = hex::decode(&file.mac).map_err(|_| damaged("MAC is not hex".into()))?;
        Ok(Keyring {
            body,
            body_bytes,
            mac,
        })
    }

    pub fn slots(&self) -> Vec<SlotInfo> {
        slot_infos(&self.body)
    }

    /// True while a data key rotation has started and not finished.
    pub fn rotation_pending(&self) -> bool {
        self.body.pending_data_key.is_some()
    }

    /// Opens the keyring with a passphrase or recovery code, trying each slot (recovery slots
    /// first when the text looks like a recovery code). Each try costs one Argon2id run.
    pub fn unlock(&self, secret: &SecretString) -> Result<UnlockedKeyring, KeyringError> {
        let text = secret.expose_secret();
        let recovery_first = RecoveryCode::looks_like(text);
        let mut order: Vec<&Slot> = self.body.slots.iter().collect();
        order.sort_by_key(|s| (s.kind == SlotKind::Recovery) != recovery_first);
        for slot in order {
            if let Some(master) = open_slot(slot, text)? {
                let mac_ok = body_mac(&master, &self.body_bytes)
                    .ct_eq(&self.mac)
                    .unwrap_u8()
                    == 1;
                if !mac_ok {
                    return Err(KeyringError::Tampered);
                }
                let unlocked = UnlockedKeyring {
                    body: self.body.clone(),
                    master,
                    slot: slot.label.clone(),
                };
                // Both data keys must open under the master key, or the file was tampered with.
                unlocked.data_key()?;
                unlocked.pending_data_key()?;
                return Ok(unlocked);
            }
        }
        Err(KeyringError::WrongPassphrase)
    }
}

impl UnlockedKeyring {
    /// A new keyring with a fresh master key and data key, and one passphrase slot.
    pub fn create(
        label: &str,
        passphrase: &SecretString,
        kdf: KdfParams,
    ) -> Result<UnlockedKeyring, KeyringError> {
        let master = MasterKey::generate();
        let data_key = wrap_data_key(&master, &DataKey::generate());
        let mut keyring = UnlockedKeyring {
            body: Body {
                created: now(),
                slots: Vec::new(),
                data_key,
                pending_data_key: None,
            },
            master,
            slot: label.to_string(),
        };
        keyring.add_slot(label, SlotKind::Passphrase, passphrase.expose_secret(), kdf)?;
        Ok(keyring)
    }

    /// Label of the slot that opened this keyring.
    pub fn unlocked_with(&self) -> &str {
        &self.slot
    }

    pub fn slots(&self) -> Vec<SlotInfo> {
        slot_infos(&self.body)
    }

    pub fn data_key(&self) -> Result<DataKey, KeyringError> {
        unwrap_data_key(&self.master, &self.body.data_key)
    }

    /// The key a rotation under way is moving the database to, if any.
    pub fn pending_data_key(&self) -> Result<Option<DataKey>, KeyringError> {
        self.body
            .pending_data_key
            .as_ref()
            .map(|w| unwrap_data_key(&self.master, w))
            .transpose()
    }

    pub fn add_passphrase(
        &mut self,
        label: &str,
        passphrase: &SecretString,
        kdf: KdfParams,
    ) -> Result<(), KeyringError> {
        self.add_slot(label, SlotKind::Passphrase, passphrase.expose_secret(), kdf)
    }

    /// Replaces the passphrase of an existing passphrase slot (new salt, new parameters).
    pub fn change_passphrase(
        &mut self,
        label: &str,
        passphrase: &SecretString,
        kdf: KdfParams,
    ) -> Result<(), KeyringError> {
        let index = self.slot_index(label)?;
        let slot = make_slot(
            &self.master,
            label,
            SlotKind::Passphrase,
            passphrase.expose_secret(),
            kdf,
        )?;
        self.body.slots[index] = slot;
        Ok(())
    }

    pub fn remove_slot(&mut self, label: &str) -> Result<(), KeyringError> {
        let index = self.slot_index(label)?;
        let passphrase_slots = self
            .body
            .slots
            .iter()
            .filter(|s| s.kind == SlotKind::Passphrase)
            .count();
        if self.body.slots[index].kind == SlotKind::Passphrase && passphrase_slots == 1 {
            return Err(KeyringError::LastSlot(label.to_string()));
        }
        self.body.slots.remove(index);
        Ok(())
    }

    /// Adds a recovery slot and returns its label and the code (shown once, never stored).
    pub fn add_recovery_code(
        &mut self,
        kdf: KdfParams,
    ) -> Result<(String, RecoveryCode), KeyringError> {
        let n = (1..)
            .find(|n| {
                !self
                    .body
                    .slots
                    .iter()
                    .any(|s| s.label == format!("recovery-{n}"))
            })
            .unwrap_or(1);
        let label = format!("recovery-{n}");
        let code = RecoveryCode::generate();
        let normalized = RecoveryCode::normalize(code.expose());
        self.add_slot(&label, SlotKind::Recovery, &normalized, kdf)?;
        Ok((label, code))
    }

    /// Records a new data key as pending and returns it. The database must then be
    /// re-encrypted with it, and `finish_rotation` called.
    pub fn begin_rotation(&mut self) -> DataKey {
        let key = DataKey::generate();
        self.body.pending_data_key = Some(wrap_data_key(&self.master, &key));
        key
    }

    /// Makes the pending data key the current one and forgets the old one.
    pub fn finish_rotation(&mut self) {
        if let Some(pending) = self.body.pending_data_key.take() {
            self.body.data_key = pending;
        }
    }

    /// Forgets a pending data key (the database still uses the current one).
    pub fn abort_rotation(&mut self) {
        self.body.pending_data_key = None;
    }

    /// Writes the keyring crash-safely (temp file, fsync, rename, fsync directory), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyringError> {
        let body_json = serde_json::to_string(&self.body).map_err(|e| KeyringError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
        let body = RawValue::from_string(body_json).map_err(|e| KeyringError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
        let file = FileOut {
            format: FORMAT,
            version: VERSION,
            checksum: hex::encode(Sha256::digest(body.get().as_bytes())),
            mac: hex::encode(body_mac(&self.master, body.get().as_bytes())),
            body: &body,
        };
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| KeyringError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_file_atomically(path, &bytes, 0o600).map_err(|source| KeyringError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    fn slot_index(&self, label: &str) -> Result<usize, KeyringError> {
        self.body
            .slots
            .iter()
            .position(|s| s.label == label)
            .ok_or_else(|| KeyringError::UnknownSlot(label.to_string()))
    }

    fn add_slot(
        &mut self,
        label: &str,
        kind: SlotKind,
        secret: &str,
        kdf: KdfParams,
    ) -> Result<(), KeyringError> {
        if self.body.slots.iter().any(|s| s.label == label) {
            return Err(KeyringError::DuplicateLabel(label.to_string()));
        }
        if self.body.slots.len() >= MAX_SLOTS {
            return Err(KeyringError::TooManySlots);
        }
        let slot = make_slot(&self.master, label, kind, secret, kdf)?;
        self.body.slots.push(slot);
        Ok(())
    }
}

fn slot_infos(body: &Body) -> Vec<SlotInfo> {
    body.slots
        .iter()
        .map(|s| SlotInfo {
            label: s.label.clone(),
            kind: s.kind,
            created: s.created.clone(),
            kdf: s.kdf,
        })
        .collect()
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

fn slot_aad(kind: SlotKind, label: &str) -> Vec<u8> {
    format!("cardsgalore/slot/v1\0{kind:?}\0{label}").into_bytes()
}

fn make_slot(
    master: &MasterKey,
    label: &str,
    kind: SlotKind,
    secret: &str,
    kdf: KdfParams,
) -> Result<Slot, KeyringError> {
    if !valid_label(label) {
        return Err(KeyringError::InvalidLabel(label.to_string()));
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let wrapping = kdf
        .derive(secret.as_bytes(), &salt)
        .map_err(KeyringError::Kdf)?;
    Ok(Slot {
        label: label.to_string(),
        kind,
        created: now(),
        kdf,
        salt: B64.encode(salt),
        master: seal(&wrapping, &master.0, &slot_aad(kind, label)),
    })
}

/// Tries one slot: `Ok(None)` when the secret does not open it.
fn open_slot(slot: &Slot, secret: &str) -> Result<Option<MasterKey>, KeyringError> {
    let salt: [u8; 16] = match B64.decode(&slot.salt).ok().and_then(|s| s.try_into().ok()) {
        Some(salt) => salt,
        None => return Err(KeyringError::Tampered),
    };
    let input = match slot.kind {
        SlotKind::Passphrase => Zeroizing::new(secret.to_string()),
        SlotKind::Recovery => RecoveryCode::normalize(secret),
    };
    let wrapping = slot
        .kdf
        .derive(input.as_bytes(), &salt)
        .map_err(KeyringError::Kdf)?;
    Ok(
        open(&wrapping, &slot.master, &slot_aad(slot.kind, &slot.label)).and_then(|bytes| {
            let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
            Some(MasterKey(key))
        }),
    )
}

fn subkey(master: &MasterKey, purpose: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&master.0)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(purpose);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

fn body_mac(master: &MasterKey, body: &[u8]) -> Vec<u8> {
    let key = subkey(master, b"cardsgalore/keyring-mac/v1");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

const DATA_KEY_AAD: &[u8] = b"cardsgalore/data-key/v1";

fn wrap_data_key(master: &MasterKey, key: &DataKey) -> Wrapped {
    let wrapping = subkey(master, b"cardsgalore/data-key-wrap/v1");
    seal(&wrapping, key.expose_bytes(), DATA_KEY_AAD)
}

fn unwrap_data_key(master: &MasterKey, wrapped: &Wrapped) -> Result<DataKey, KeyringError> {
    let wrapping = subkey(master, b"cardsgalore/data-key-wrap/v1");
    let bytes = open(&wrapping, wrapped, DATA_KEY_AAD).ok_or(KeyringError::Tampered)?;
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyringError::Tampered)?;
    Ok(DataKey::from_bytes(key))
}

fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Wrapped {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encryption of 32 bytes cannot fail"));
    Wrapped {
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ciphertext),
    }
}

fn open(key: &[u8; 32], wrapped: &Wrapped, aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 24] = B64.decode(&wrapped.nonce).ok()?.try_into().ok()?;
    let ciphertext = B64.decode(&wrapped.ciphertext).ok()?;
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    fn saved(dir: &Path) -> (PathBuf, DataKey) {
        let path = dir.join(KEYRING_FILE);
        let keyring = UnlockedKeyring::create("alice", &secret("alice passphrase"), CHEAP).unwrap();
        keyring.save(&path).unwrap();
        (path, keyring.data_key().unwrap())
    }

    #[test]
    fn unlock_gives_the_same_data_key() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = saved(dir.path());
        let unlocked = Keyring::load(&path)
            .unwrap()
            .unlock(&secret("alice passphrase"))
            .unwrap();
        assert_eq!(
            unlocked.data_key().unwrap().expose_bytes(),
            key.expose_bytes()
        );
        assert_eq!(unlocked.unlocked_with(), "alice");
    }

    #[test]
    fn wrong_passphrase_damage_and_tampering_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let keyring = Keyring::load(&path).unwrap();
        assert!(matches!(
            keyring.unlock(&secret("nope")),
            Err(KeyringError::WrongPassphrase)
        ));

        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replacen("alice", "alicf", 1)).unwrap();
        assert!(matches!(
            Keyring::load(&path),
            Err(KeyringError::Damaged { .. })
        ));

        fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(matches!(
            Keyring::load(&path),
            Err(KeyringError::Damaged { .. })
        ));
    }

    #[test]
    fn edited_body_with_fixed_checksum_is_tampered() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let mut value: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        value["body"]["created"] = "2000-01-01T00:00:00Z".into();
        let body = serde_json::to_string(&value["body"]).unwrap();
        value["checksum"] = hex::encode(Sha256::digest(body.as_bytes())).into();
        fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        let keyring = Keyring::load(&path).unwrap();
        assert!(matches!(
            keyring.unlock(&secret("alice passphrase")),
            Err(KeyringError::Tampered)
        ));
    }

    #[test]
    fn absurd_kdf_parameters_in_a_file_are_refused_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let mut value: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        value["body"]["slots"][0]["kdf"]["m_kib"] = u32::MAX.into();
        let body = serde_json::to_string(&value["body"]).unwrap();
        value["checksum"] = hex::encode(Sha256::digest(body.as_bytes())).into();
        fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        let err = Keyring::load(&path).err().unwrap().to_string();
        assert!(err.contains("above the limit"), "{err}");
    }

    #[test]
    fn slots_change_without_touching_the_data_key() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = saved(dir.path());
        let mut unlocked = Keyring::load(&path)
            .unwrap()
            .unlock(&secret("alice passphrase"))
            .unwrap();
        unlocked
            .add_passphrase("bob", &secret("bob passphrase"), CHEAP)
            .unwrap();
        assert!(matches!(
            unlocked.add_passphrase("bob", &secret("x"), CHEAP),
            Err(KeyringError::DuplicateLabel(_))
        ));
        assert!(matches!(
            unlocked.add_passphrase("no spaces", &secret("x"), CHEAP),
            Err(KeyringError::InvalidLabel(_))
        ));
        unlocked
            .change_passphrase("alice", &secret("alice new"), CHEAP)
            .unwrap();
        let (_, code) = unlocked.add_recovery_code(CHEAP).unwrap();
        unlocked.save(&path).unwrap();

        let keyring = Keyring::load(&path).unwrap();
        assert!(keyring.unlock(&secret("alice passphrase")).is_err());
        for s in ["alice new", "bob passphrase", code.expose()] {
            let k = keyring.unlock(&secret(s)).unwrap();
            assert_eq!(k.data_key().unwrap().expose_bytes(), key.expose_bytes());
        }
        let lower = code.expose().to_lowercase();
        assert!(keyring.unlock(&secret(&lower)).is_ok());

        let mut unlocked = keyring.unlock(&secret("bob passphrase")).unwrap();
        unlocked.remove_slot("alice").unwrap();
        assert!(matches!(
            unlocked.remove_slot("bob"),
            Err(KeyringError::LastSlot(_))
        ));
        unlocked.remove_slot("recovery-1").unwrap();
        assert_eq!(unlocked.slots().len(), 1);
    }

    #[test]
    fn rotation_keeps_both_keys_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let (path, old) = saved(dir.path());
        let mut unlocked = Keyring::load(&path)
            .unwrap()
            .unlock(&secret("alice passphrase"))
            .unwrap();
        let new = unlocked.begin_rotation();
        unlocked.save(&path).unwrap();
        let reread = Keyring::load(&path)
            .unwrap()
            .unlock(&secret("alice passphrase"))
            .unwrap();
        assert_eq!(
            reread.data_key().unwrap().expose_bytes(),
            old.expose_bytes()
        );
        assert_eq!(
            reread.pending_data_key().unwrap().unwrap().expose_bytes(),
            new.expose_bytes()
        );
        unlocked.finish_rotation();
        unlocked.save(&path).unwrap();
        let done = Keyring::load(&path).unwrap();
        assert!(!done.rotation_pending());
        let done = done.unlock(&secret("alice passphrase")).unwrap();
        assert_eq!(done.data_key().unwrap().expose_bytes(), new.expose_bytes());
    }
}
