//! Usernames, the new-password policy, and password hashing.
//!
//! New passwords are hashed with Argon2id into PHC strings. Verification
//! also accepts the legacy site's records, `"<32 hex salt>$<64 hex>"` where
//! the hash is SHA-256 over the salt's 32 hex characters followed by the
//! password, and reports that they need upgrading.

/// Argon2 cost parameters, re-exported for [`PasswordHasher::new`].
pub use argon2::Params;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, PasswordHasher as _, PasswordVerifier as _, Version};
use hex::FromHex;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The longest username, in characters.
pub const MAX_USERNAME_LEN: usize = 30;
/// The shortest new password, in characters.
pub const MIN_PASSWORD_LEN: usize = 10;
/// The longest new password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

const LEGACY_SALT_LEN: usize = 32;
/// Salt for [`PasswordHasher::dummy_verify`]; its value does not matter.
const DUMMY_SALT: &[u8] = b"cardsgalore/dummy-verify";

/// Why a username or password was refused or could not be hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UserError {
    #[error("Username must not be empty.")]
    EmptyUsername,
    #[error("Username must be at most {} characters long.", MAX_USERNAME_LEN)]
    UsernameTooLong,
    #[error("Username may only contain letters, digits and the characters _ . @ + -")]
    UsernameBadChar,
    #[error("Password must be at least {} characters long.", MIN_PASSWORD_LEN)]
    PasswordTooShort,
    #[error("Password must be at most {} bytes long.", MAX_PASSWORD_BYTES)]
    PasswordTooLong,
    #[error("The password could not be hashed; please try again.")]
    Hashing,
}

/// Checks a username (the legacy form's "Username/Email"): 1 to 30 ASCII
/// letters, digits, or `_ . @ + -`.
pub fn validate_username(username: &str) -> Result<&str, UserError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.@+-".contains(c);
    if username.is_empty() {
        Err(UserError::EmptyUsername)
    } else if username.chars().count() > MAX_USERNAME_LEN {
        Err(UserError::UsernameTooLong)
    } else if !username.chars().all(allowed) {
        Err(UserError::UsernameBadChar)
    } else {
        Ok(username)
    }
}

/// Checks a password chosen at registration or on a password change.
pub fn validate_new_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        Err(UserError::PasswordTooShort)
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(UserError::PasswordTooLong)
    } else {
        Ok(())
    }
}

/// The outcome of checking a password against a stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password, or a malformed stored record.
    Invalid,
    /// Right password. If `needs_upgrade`, the caller should store a fresh
    /// hash of it (legacy record, or weaker Argon2 parameters).
    Valid { needs_upgrade: bool },
}

/// Hashes and verifies passwords with Argon2id under fixed parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl Default for PasswordHasher {
    /// OWASP's recommended Argon2id parameters: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        PasswordHasher::new(Params::DEFAULT)
    }
}

impl PasswordHasher {
    pub fn new(params: Params) -> Self {
        PasswordHasher { params }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` with a random salt into an Argon2id PHC string.
    pub fn hash(&self, password: &str) -> Result<String, UserError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| UserError::Hashing)
    }

    /// Checks `candidate` against a stored Argon2id PHC string or legacy
    /// record. Hashes are compared in constant time, and a legacy check
    /// takes as long as an Argon2 one.
    pub fn verify(&self, stored: &str, candidate: &str) -> Verification {
        let matches = if let Some(hash) = parse_argon2(stored) {
            let weaker = Params::try_from(&hash).map_or(true, |params| {
                params.m_cost() < self.params.m_cost() || params.t_cost() < self.params.t_cost()
            });
            self.argon2()
                .verify_password(candidate.as_bytes(), &hash)
                .is_ok()
                .then_some(weaker)
        } else if let Some((salt, expected)) = parse_legacy(stored) {
            // Take as long as an Argon2 check, so that accounts with legacy
            // records do not stand out by their login time.
            self.dummy_verify(candidate);
            let actual = Sha256::new()
                .chain_update(salt)
                .chain_update(candidate)
                .finalize();
            bool::from(actual.as_slice().ct_eq(&expected)).then_some(true)
        } else {
            None
        };
        match matches {
            Some(needs_upgrade) => Verification::Valid { needs_upgrade },
            None => Verification::Invalid,
        }
    }

    /// Spends as long as verifying a password hashed with these parameters,
    /// so that a login for an unknown username takes as long as one for a
    /// known username.
    pub fn dummy_verify(&self, candidate: &str) {
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        // The result is meaningless; only the time spent matters.
        let _ = self
            .argon2()
            .hash_password_into(candidate.as_bytes(), DUMMY_SALT, &mut output);
        std::hint::black_box(output);
    }
}

/// [`PasswordHasher::hash`] with the default parameters.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    PasswordHasher::default().hash(password)
}

/// [`PasswordHasher::verify`] with the default parameters.
pub fn verify_password(stored: &str, candidate: &str) -> Verification {
    PasswordHasher::default().verify(stored, candidate)
}

/// [`PasswordHasher::dummy_verify`] with the default parameters.
pub fn dummy_verify(candidate: &str) {
    PasswordHasher::default().dummy_verify(candidate)
}

/// Whether `record` is a password record we can verify: an Argon2id PHC
/// string or a legacy salted SHA-256 record.
pub fn is_valid_password_record(record: &str) -> bool {
    parse_argon2(record).is_some() || parse_legacy(record).is_some()
}

/// An Argon2id (version 0x13) PHC string with valid parameters, a salt and
/// a hash.
fn parse_argon2(record: &str) -> Option<PasswordHash<'_>> {
    let hash = PasswordHash::new(record).ok()?;
    let usable = hash.algorithm == Algorithm::Argon2id.ident()
        && hash.version == Some(Version::V0x13.into())
        && hash.salt.is_some()
        && hash.hash.is_some()
        && Params::try_from(&hash).is_ok();
    usable.then_some(hash)
}

/// A legacy record's salt (32 hex characters, hashed as text) and digest.
fn parse_legacy(record: &str) -> Option<(&str, [u8; 32])> {
    let (salt, digest) = record.split_once('$')?;
    if salt.len() != LEGACY_SALT_LEN || !salt.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digest = <[u8; 32]>::from_hex(digest).ok()?;
    Some((salt, digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SALT: &str = "000000000000000000000000000078d2";

    /// Cheap parameters, so that the tests stay fast.
    fn fast() -> PasswordHasher {
        PasswordHasher::new(Params::new(64, 1, 1, None).expect("valid params"))
    }

    fn legacy(digest: &str) -> String {
        format!("{SALT}${digest}")
    }

    #[test]
    fn usernames() {
        for good in [
            "alice",
            "test2",
            "bob.smith+shop@example.com",
            "a_b-c",
            "x",
            &"a".repeat(30),
        ] {
            assert_eq!(validate_username(good), Ok(good));
        }
        assert_eq!(validate_username(""), Err(UserError::EmptyUsername));
        assert_eq!(
            validate_username(&"a".repeat(31)),
            Err(UserError::UsernameTooLong)
        );
        assert_eq!(
            validate_username(&"é".repeat(31)),
            Err(UserError::UsernameTooLong)
        );
        for bad in [
            "al ice", "alice!", "<script>", "al'ice", "é", "a\0", "a\n", "名前",
        ] {
            assert_eq!(
                validate_username(bad),
                Err(UserError::UsernameBadChar),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn new_passwords() {
        assert_eq!(validate_new_password("0123456789"), Ok(()));
        assert_eq!(validate_new_password("ééééééééééé"), Ok(()));
        assert_eq!(validate_new_password(&"p".repeat(1024)), Ok(()));
        assert_eq!(validate_new_password(""), Err(UserError::PasswordTooShort));
        assert_eq!(
            validate_new_password("012345678"),
            Err(UserError::PasswordTooShort)
        );
        // 9 characters, even though they take 18 bytes.
        assert_eq!(
            validate_new_password("ééééééééé"),
            Err(UserError::PasswordTooShort)
        );
        assert_eq!(
            validate_new_password(&"p".repeat(1025)),
            Err(UserError::PasswordTooLong)
        );
    }

    #[test]
    fn messages() {
        let cases = [
            (UserError::EmptyUsername, "Username must not be empty."),
            (
                UserError::UsernameTooLong,
                "Username must be at most 30 characters long.",
            ),
            (
                UserError::UsernameBadChar,
                "Username may only contain letters, digits and the characters _ . @ + -",
            ),
            (
                UserError::PasswordTooShort,
                "Password must be at least 10 characters long.",
            ),
            (
                UserError::PasswordTooLong,
                "Password must be at most 1024 bytes long.",
            ),
            (
                UserError::Hashing,
                "The password could not be hashed; please try again.",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn legacy_vectors() {
        let valid = Verification::Valid {
            needs_upgrade: true,
        };
        let hasher = fast();
        for (password, digest) in [
            (
                "test2",
                "3ce31585b23f69ac17ac91609ad325d9bd0ddeb9925816c390f3b5dcc74d4163",
            ),
            (
                "victim",
                "671eebdfdf2c94e41a6d4d6082597160d22f5af5b98c74e6512c06fdff6d10a8",
            ),
            (
                "pw",
                "461910f7eb31cd6446f1dcace2b342c22c99e56c52738645fb6bd62feb87e6f7",
            ),
        ] {
            let record = legacy(digest);
            assert!(is_valid_password_record(&record));
            assert_eq!(hasher.verify(&record, password), valid, "{password}");
            assert_eq!(verify_password(&record, password), valid, "{password}");
            assert_eq!(hasher.verify(&record, "wrong"), Verification::Invalid);
            assert_eq!(
                hasher.verify(&record.to_uppercase(), password),
                Verification::Invalid
            );
        }
    }

    #[test]
    fn malformed_records_are_invalid() {
        let digest = "3ce31585b23f69ac17ac91609ad325d9bd0ddeb9925816c390f3b5dcc74d4163";
        let good_argon2 = fast().hash("test2").expect("hashes");
        let malformed = [
            String::new(),
            "$".into(),
            digest.into(),
            format!("{SALT}{digest}"),
            format!("{SALT}${}", &digest[..63]),
            format!("{SALT}${digest}0"),
            format!("{SALT}${digest}$"),
            format!("{}${digest}", &SALT[..31]),
            format!("{}g${digest}", &SALT[..31]),
            format!("{SALT}${}g", &digest[..63]),
            "$argon2id$".into(),
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ".into(),
            good_argon2.replace("$argon2id$", "$argon2i$"),
            good_argon2.replace("m=64", "m=1"),
            good_argon2.replace("$v=19", "$v=99"),
            "$scrypt$ln=1,r=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            "pbkdf2_sha256$260000$salt$hash".into(),
        ];
        for record in &malformed {
            assert!(!is_valid_password_record(record), "{record}");
            assert_eq!(
                fast().verify(record, "test2"),
                Verification::Invalid,
                "{record}"
            );
        }
    }

    #[test]
    fn argon2_hashes_verify() {
        let hasher = fast();
        let record = hasher.hash("correct horse").expect("hashes");
        assert!(
            record.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{record}"
        );
        assert!(is_valid_password_record(&record));
        assert_eq!(
            hasher.verify(&record, "correct horse"),
            Verification::Valid {
                needs_upgrade: false
            }
        );
        assert_eq!(
            hasher.verify(&record, "correct horse "),
            Verification::Invalid
        );
        assert_eq!(hasher.verify(&record, ""), Verification::Invalid);
        assert_ne!(hasher.hash("correct horse"), Ok(record), "salts are random");
    }

    #[test]
    fn weaker_argon2_parameters_need_upgrade() {
        let weak = fast().hash("correct horse").expect("hashes");
        let stronger_memory = PasswordHasher::new(Params::new(128, 1, 1, None).expect("valid"));
        let stronger_time = PasswordHasher::new(Params::new(64, 2, 1, None).expect("valid"));
        let upgrade = Verification::Valid {
            needs_upgrade: true,
        };
        assert_eq!(stronger_memory.verify(&weak, "correct horse"), upgrade);
        assert_eq!(stronger_time.verify(&weak, "correct horse"), upgrade);
        assert_eq!(verify_password(&weak, "correct horse"), upgrade);
        assert_eq!(stronger_time.verify(&weak, "wrong"), Verification::Invalid);
    }

    #[test]
    fn default_parameters() {
        let record = hash_password("correct horse").expect("hashes");
        assert!(
            record.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{record}"
        );
        assert_eq!(
            verify_password(&record, "correct horse"),
            Verification::Valid {
                needs_upgrade: false
            }
        );
        dummy_verify("correct horse");
        fast().dummy_verify("");
    }

    proptest! {
        #[test]
        fn verify_never_panics(stored in "\\PC{0,120}", candidate in "\\PC{0,20}") {
            prop_assert_eq!(fast().verify(&stored, &candidate), Verification::Invalid);
        }

        #[test]
        fn legacy_records_match_only_their_password(password in "\\PC{0,20}", other in "\\PC{0,20}") {
            let digest = hex::encode(Sha256::digest(format!("{SALT}{password}")));
            let record = legacy(&digest);
            prop_assert_eq!(fast().verify(&record, &password), Verification::Valid { needs_upgrade: true });
            if other != password {
                prop_assert_eq!(fast().verify(&record, &other), Verification::Invalid);
            }
        }
    }
}
