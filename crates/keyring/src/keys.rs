//! Key types. Each zeroizes on drop and prints `[redacted]` in `Debug`.

use std::fmt;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The random 256-bit key SQLCipher encrypts the database with.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> DataKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        DataKey(key)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }

    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw-key form SQLCipher takes in `PRAGMA key`: `x'<64 hex>'`.
    pub fn sqlcipher_key(&self) -> Zeroizing<String> {
        let mut hex = Zeroizing::new(hex::encode(self.0));
        let key = Zeroizing::new(format!("x'{}'", hex.as_str()));
        hex.zeroize();
        key
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// The key that wraps the data key; itself wrapped once per keyslot.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct MasterKey(pub(crate) [u8; 32]);

impl MasterKey {
    pub(crate) fn generate() -> MasterKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// A recovery code: 160 random bits written as `RC-XXXXX-XXXXX-...` in Crockford-like base32.
pub struct RecoveryCode(SecretString);

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub(crate) const RECOVERY_PREFIX: &str = "RC-";

impl RecoveryCode {
    pub(crate) fn generate() -> RecoveryCode {
        let mut bytes = Zeroizing::new([0u8; 20]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        let mut text = String::from(RECOVERY_PREFIX);
        let mut acc: u64 = 0;
        let mut bits = 0;
        let mut written = 0;
        for b in bytes.iter() {
            acc = (acc << 8) | u64::from(*b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                if written > 0 && written % 4 == 0 {
                    text.push('-');
                }
                text.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
                written += 1;
            }
        }
        acc.zeroize();
        RecoveryCode(SecretString::from(text))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub(crate) fn looks_like(text: &str) -> bool {
        text.trim()
            .to_ascii_uppercase()
            .starts_with(RECOVERY_PREFIX)
    }

    /// The canonical bytes a recovery code is derived from: upper case, no separators, so
    /// a code typed in lower case or with spaces still works.
    pub(crate) fn normalize(text: &str) -> Zeroizing<String> {
        Zeroizing::new(
            text.trim()
                .to_ascii_uppercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect(),
        )
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_is_redacted() {
        let key = DataKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "DataKey([redacted])");
        let code = RecoveryCode::generate();
        assert!(!format!("{code:?}").contains(&code.expose()[3..]));
    }

    #[test]
    fn sqlcipher_key_form() {
        let key = DataKey::from_bytes([0x01; 32]);
        let text = key.sqlcipher_key();
        assert_eq!(text.len(), 67);
        assert!(text.starts_with("x'0101") && text.ends_with('\''));
    }

    #[test]
    fn recovery_codes_are_long_and_normalize() {
        let code = RecoveryCode::generate();
        assert!(RecoveryCode::looks_like(code.expose()));
        assert_eq!(code.expose().len(), 3 + 32 + 7);
        let lower = code.expose().to_ascii_lowercase().replace('-', " ");
        assert_eq!(
            *RecoveryCode::normalize(&lower),
            *RecoveryCode::normalize(code.expose())
        );
    }
}
