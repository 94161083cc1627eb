//! Key management for Cards Galore: pure cryptography, no SQL.
//!
//! The database is encrypted with a random 256-bit data key ([`DataKey`]). The keyring file
//! holds that key wrapped (XChaCha20-Poly1305) under a random master key, and the master key
//! wrapped once per keyslot. A keyslot is an admin passphrase or a recovery code; its wrapping
//! key is Argon2id(passphrase, per-slot salt) with parameters stored in the slot. Changing a
//! passphrase therefore rewrites only the keyring, never the database.
//!
//! This crate owns the keyring file format, the key types (which zeroize on drop and redact
//! their `Debug` output) and crash-safe file replacement. It must not open databases, read
//! passphrases from terminals or log anything.

mod fsutil;
mod kdf;
mod keyring;
mod keys;

pub use fsutil::{fsync_dir, write_file_atomically};
pub use kdf::KdfParams;
pub use keyring::{Keyring, KeyringError, SlotInfo, SlotKind, UnlockedKeyring, KEYRING_FILE};
pub use keys::{DataKey, RecoveryCode};
