//! The gift card, its signature, and its two file encodings: the legacy
//! site's JSON card file ([`Card::to_json_bytes`], [`Card::from_json`]) and
//! the binary `.gft` format ([`GftFile`], [`Card::to_gft_bytes`],
//! [`Card::from_gft`]).
//!
//! A card's signature is 32 bytes: a 12-byte random nonce followed by the
//! first 20 bytes of HMAC-SHA256 under the shop's [`CardKey`] over
//!
//! ```text
//! b"cardsgalore/card/v1\0" || nonce
//!   || u32-le len || merchant_id || u32-le len || customer_id
//!   || amount as i64-le
//! ```
//!
//! The nonce makes every card unique, even two of the same amount bought by
//! the same customer.

mod gft;
mod json;

pub use gft::{GftError, GftFile, GftRecord};

use std::fmt;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::amount::{validate_amount, AmountError};

/// The most bytes a merchant or customer id may have (the size of its field
/// in a `.gft` file).
pub const MAX_ID_BYTES: usize = 32;

const SIGNATURE_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = SIGNATURE_LEN - NONCE_LEN;
const DOMAIN: &[u8] = b"cardsgalore/card/v1\0";

/// Why a card could not be issued, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CardError {
    #[error("The {field} must not be empty.")]
    EmptyId { field: &'static str },
    #[error("The {field} must be at most {} bytes long.", MAX_ID_BYTES)]
    IdTooLong { field: &'static str },
    #[error("The {field} must not contain control characters.")]
    IdControlChar { field: &'static str },
    #[error("The {field} must not start or end with whitespace.")]
    IdOuterWhitespace { field: &'static str },
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error(
        "This card's signature is not valid: it was not issued by this shop or has been altered."
    )]
    BadSignature,
    #[error("This card's signature format is unknown, so it was not issued by this shop.")]
    UnknownSignatureFormat,
    #[error(
        "The JSON card file is too large: a card file is at most {} bytes.",
        json::MAX_JSON_SIZE
    )]
    JsonTooLarge,
    #[error("The JSON card file is not valid UTF-8 text.")]
    JsonNotUtf8,
    #[error("The JSON card file is not valid JSON (error at line {line}, column {column}).")]
    JsonSyntax { line: usize, column: usize },
    #[error("The JSON card file must contain a JSON object.")]
    JsonNotObject,
    #[error("The JSON card file is missing the \"{0}\" field.")]
    JsonMissingField(&'static str),
    #[error("The JSON card file has the \"{0}\" field more than once.")]
    JsonDuplicateField(&'static str),
    #[error("The JSON card file's \"{field}\" field must be {expected}.")]
    JsonBadField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("The JSON card file contains a field that is not part of the card format.")]
    JsonUnknownField,
    #[error("The JSON card file must contain exactly one record, but it contains {0}.")]
    JsonRecordCount(usize),
    #[error("The JSON card file's total value does not match the amount added by its record.")]
    JsonTotalMismatch,
    #[error(transparent)]
    Gft(#[from] GftError),
    #[error("The .gft card file must contain exactly one amount record, but it contains {0}.")]
    GftAmountRecordCount(usize),
    #[error("The .gft card file's amount record is not signed.")]
    GftUnsigned,
    #[error("Animated message cards are not accepted.")]
    GftAnimated,
}

/// The shop's secret key for signing cards. Zeroized on drop, never printed.
pub struct CardKey(SecretBox<[u8; 32]>);

impl CardKey {
    /// Wraps existing key bytes (for example, loaded from the keyring).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = CardKey(SecretBox::new(Box::new(bytes)));
        // Wipe this copy now that the key is boxed away.
        bytes.zeroize();
        key
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        CardKey(SecretBox::init_with_mut(|key: &mut [u8; 32]| {
            OsRng.fill_bytes(key)
        }))
    }

    /// The raw key bytes, for storing the key. Handle with care.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// The truncated card MAC (see the module docs).
    fn tag(
        &self,
        nonce: &[u8],
        merchant_id: &str,
        customer_id: &str,
        amount: i64,
    ) -> [u8; TAG_LEN] {
        // HMAC zero-pads keys shorter than the hash's 64-byte block (RFC 2104
        // §2), so this is exactly HMAC-SHA256 keyed with the 32-byte card key,
        // built without the fallible `new_from_slice`.
        let mut block = Zeroizing::new([0u8; 64]);
        block[..32].copy_from_slice(self.expose_bytes());
        let mut mac = <Hmac<Sha256> as Mac>::new(&(*block).into());
        mac.update(DOMAIN);
        mac.update(nonce);
        for text in [merchant_id, customer_id] {
            // Ids we sign are at most 32 bytes; saturating keeps this total
            // for hand-built cards, which then simply fail verification.
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            mac.update(&len.to_le_bytes());
            mac.update(text.as_bytes());
        }
        mac.update(&amount.to_le_bytes());
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
        tag
    }
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardKey([redacted])")
    }
}

/// A card signature: a 12-byte nonce followed by a 20-byte MAC.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// The signature as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters; anything else is not one of our signatures.
    pub fn from_hex(text: &str) -> Result<Signature, CardError> {
        hex::FromHex::from_hex(text)
            .map(Signature)
            .map_err(|_| CardError::UnknownSignatureFormat)
    }

    fn split(&self) -> (&[u8], &[u8]) {
        self.0.split_at(NONCE_LEN)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// A gift card: `amount` whole dollars of `merchant_id` credit, bought by
/// `customer_id`, signed by the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub merchant_id: String,
    pub customer_id: String,
    pub amount: i64,
    pub signature: Signature,
}

impl Card {
    /// Issues a new card signed with `key` and a fresh random nonce.
    pub fn issue(
        key: &CardKey,
        merchant_id: &str,
        customer_id: &str,
        amount: i64,
    ) -> Result<Card, CardError> {
        check_fields(merchant_id, customer_id, amount)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut signature = [0u8; SIGNATURE_LEN];
        let (nonce_part, tag_part) = signature.split_at_mut(NONCE_LEN);
        nonce_part.copy_from_slice(&nonce);
        tag_part.copy_from_slice(&key.tag(&nonce, merchant_id, customer_id, amount));
        Ok(Card {
            merchant_id: merchant_id.to_owned(),
            customer_id: customer_id.to_owned(),
            amount,
            signature: Signature(signature),
        })
    }

    /// Checks that `key` signed exactly this card (in constant time).
    pub fn verify(&self, key: &CardKey) -> Result<(), CardError> {
        let (nonce, tag) = self.signature.split();
        let expected = key.tag(nonce, &self.merchant_id, &self.customer_id, self.amount);
        if bool::from(expected.as_slice().ct_eq(tag)) {
            Ok(())
        } else {
            Err(CardError::BadSignature)
        }
    }

    /// Parses an uploaded card file: JSON if its first non-whitespace byte is
    /// `{`, the binary `.gft` format otherwise. This does not verify the
    /// signature; call [`Card::verify`] for that.
    ///
    /// A `.gft` file whose size field happens to start with `{` (0x7b) is
    /// still read as `.gft`: its first four bytes give its own length, which
    /// no JSON card file small enough to accept can do.
    pub fn from_upload(bytes: &[u8]) -> Result<Card, CardError> {
        let looks_like_json = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{');
        if looks_like_json && !gft::declares_own_length(bytes) {
            Card::from_json(bytes)
        } else {
            Card::from_gft(&GftFile::parse(bytes)?)
        }
    }

    /// Builds a card from parsed fields, applying the same rules as issuing.
    fn from_parts(
        merchant_id: String,
        customer_id: String,
        amount: i64,
        signature: Signature,
    ) -> Result<Card, CardError> {
        check_fields(&merchant_id, &customer_id, amount)?;
        Ok(Card {
            merchant_id,
            customer_id,
            amount,
            signature,
        })
    }
}

/// The rules every card's fields follow, whether issued or parsed.
fn check_fields(merchant_id: &str, customer_id: &str, amount: i64) -> Result<(), CardError> {
    check_id("merchant ID", merchant_id)?;
    check_id("customer ID", customer_id)?;
    validate_amount(amount)?;
    Ok(())
}

fn check_id(field: &'static str, id: &str) -> Result<(), CardError> {
    if id.is_empty() {
        Err(CardError::EmptyId { field })
    } else if id.len() > MAX_ID_BYTES {
        Err(CardError::IdTooLong { field })
    } else if id.chars().any(char::is_control) {
        Err(CardError::IdControlChar { field })
    } else if id.trim() != id {
        // The `.gft` format pads ids with spaces, so outer whitespace would
        // not survive a round trip.
        Err(CardError::IdOuterWhitespace { field })
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn test_key() -> CardKey {
        CardKey::from_bytes([7; 32])
    }

    /// Any card that `Card::issue` accepts, signed with `test_key()`.
    pub(crate) fn any_card() -> impl Strategy<Value = Card> {
        let id = "\\PC{1,8}";
        (id, id, 1..=crate::MAX_AMOUNT).prop_filter_map(
            "ids must be valid",
            |(merchant, customer, amount)| {
                Card::issue(&test_key(), &merchant, &customer, amount).ok()
            },
        )
    }

    #[test]
    fn issued_cards_verify() {
        let key = test_key();
        let card = Card::issue(&key, "NYU Apparel Card", "alice", 95).expect("valid card");
        assert_eq!(card.merchant_id, "NYU Apparel Card");
        assert_eq!(card.customer_id, "alice");
        assert_eq!(card.amount, 95);
        assert_eq!(card.verify(&key), Ok(()));
    }

    #[test]
    fn every_card_is_unique() {
        let key = test_key();
        let a = Card::issue(&key, "NYU Gym Card", "bob", 450).expect("valid card");
        let b = Card::issue(&key, "NYU Gym Card", "bob", 450).expect("valid card");
        assert_ne!(a.signature, b.signature);
    }

    #[test]
    fn other_keys_do_not_verify() {
        let card = Card::issue(&test_key(), "Tuition Card", "carol", 1999).expect("valid card");
        assert_eq!(
            card.verify(&CardKey::generate()),
            Err(CardError::BadSignature)
        );
        assert_eq!(
            card.verify(&CardKey::from_bytes([8; 32])),
            Err(CardError::BadSignature)
        );
    }

    #[test]
    fn mac_matches_the_documented_scheme() {
        let key = test_key();
        let card = Card::issue(&key, "Tandon Food Court Card", "dave", 30).expect("valid card");
        let (nonce, tag) = card.signature.split();
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_bytes()).expect("any key length");
        mac.update(b"cardsgalore/card/v1\0");
        mac.update(nonce);
        mac.update(&22u32.to_le_bytes());
        mac.update(b"Tandon Food Court Card");
        mac.update(&4u32.to_le_bytes());
        mac.update(b"dave");
        mac.update(&30i64.to_le_bytes());
        assert_eq!(&mac.finalize().into_bytes()[..20], tag);
    }

    #[test]
    fn issue_checks_ids() {
        let key = test_key();
        let issue = |merchant: &str, customer: &str| Card::issue(&key, merchant, customer, 10);
        assert_eq!(
            issue("", "alice"),
            Err(CardError::EmptyId {
                field: "merchant ID"
            })
        );
        assert_eq!(
            issue("Card", ""),
            Err(CardError::EmptyId {
                field: "customer ID"
            })
        );
        assert_eq!(
            issue(&"m".repeat(33), "alice"),
            Err(CardError::IdTooLong {
                field: "merchant ID"
            })
        );
        // 11 three-byte characters: 11 chars but 33 bytes.
        assert_eq!(
            issue("Card", &"€".repeat(11)),
            Err(CardError::IdTooLong {
                field: "customer ID"
            })
        );
        assert!(issue(&"m".repeat(32), &"€".repeat(10)).is_ok());
        assert_eq!(
            issue("Ca\nrd", "alice"),
            Err(CardError::IdControlChar {
                field: "merchant ID"
            })
        );
        assert_eq!(
            issue("Card", "al\0ice"),
            Err(CardError::IdControlChar {
                field: "customer ID"
            })
        );
        assert_eq!(
            issue(" Card", "alice"),
            Err(CardError::IdOuterWhitespace {
                field: "merchant ID"
            })
        );
        assert_eq!(
            issue("Card", "alice "),
            Err(CardError::IdOuterWhitespace {
                field: "customer ID"
            })
        );
    }

    #[test]
    fn issue_checks_amounts() {
        let key = test_key();
        assert_eq!(
            Card::issue(&key, "Card", "alice", 0),
            Err(CardError::Amount(AmountError::TooSmall))
        );
        assert_eq!(
            Card::issue(&key, "Card", "alice", -5),
            Err(CardError::Amount(AmountError::TooSmall))
        );
        assert_eq!(
            Card::issue(&key, "Card", "alice", 10_001),
            Err(CardError::Amount(AmountError::TooLarge))
        );
    }

    #[test]
    fn signature_hex() {
        let signature = Signature([0xab; 32]);
        assert_eq!(signature.to_hex(), "ab".repeat(32));
        assert_eq!(Signature::from_hex(&"ab".repeat(32)), Ok(signature));
        assert_eq!(Signature::from_hex(&"AB".repeat(32)), Ok(signature));
        for bad in [
            "",
            "ab",
            "84bffa71cfdba27c5c5b43954b564d4c",
            &"zz".repeat(32),
        ] {
            assert_eq!(
                Signature::from_hex(bad),
                Err(CardError::UnknownSignatureFormat)
            );
        }
        assert_eq!(
            format!("{signature:?}"),
            format!("Signature({})", "ab".repeat(32))
        );
    }

    #[test]
    fn key_is_redacted_and_round_trips() {
        let key = CardKey::from_bytes([42; 32]);
        assert_eq!(format!("{key:?}"), "CardKey([redacted])");
        assert_eq!(key.expose_bytes(), &[42; 32]);
        assert_ne!(
            CardKey::generate().expose_bytes(),
            CardKey::generate().expose_bytes()
        );
    }

    #[test]
    fn from_upload_picks_the_format() {
        let card = Card::issue(&test_key(), "NYU Apparel Card", "alice", 95).expect("valid card");
        let mut json = b" \r\n\t".to_vec();
        json.extend(card.to_json_bytes());
        assert_eq!(Card::from_upload(&json), Ok(card.clone()));
        let gft = card.to_gft_bytes().expect("valid card");
        assert_eq!(Card::from_upload(&gft), Ok(card));
        assert_eq!(
            Card::from_upload(b"  {\"merchant_id\": "),
            Err(CardError::JsonSyntax {
                line: 1,
                column: 18
            })
        );
        assert_eq!(
            Card::from_upload(b"{\"merchant_id\": \"M\"}"),
            Err(CardError::JsonMissingField("customer_id"))
        );
        assert_eq!(Card::from_upload(b""), Err(GftError::TooShort.into()));
        assert_eq!(Card::from_upload(b"[1, 2]"), Err(GftError::TooShort.into()));
    }

    #[test]
    fn messages() {
        let cases = [
            (
                CardError::EmptyId { field: "merchant ID" },
                "The merchant ID must not be empty.",
            ),
            (
                CardError::IdTooLong { field: "customer ID" },
                "The customer ID must be at most 32 bytes long.",
            ),
            (
                CardError::IdControlChar { field: "customer ID" },
                "The customer ID must not contain control characters.",
            ),
            (
                CardError::IdOuterWhitespace { field: "merchant ID" },
                "The merchant ID must not start or end with whitespace.",
            ),
            (
                CardError::Amount(AmountError::TooLarge),
                "Amount must be at most $10000.",
            ),
            (
                CardError::BadSignature,
                "This card's signature is not valid: it was not issued by this shop or has been altered.",
            ),
            (
                CardError::UnknownSignatureFormat,
                "This card's signature format is unknown, so it was not issued by this shop.",
            ),
            (
                CardError::JsonTooLarge,
                "The JSON card file is too large: a card file is at most 16384 bytes.",
            ),
            (
                CardError::JsonNotUtf8,
                "The JSON card file is not valid UTF-8 text.",
            ),
            (
                CardError::JsonSyntax { line: 2, column: 7 },
                "The JSON card file is not valid JSON (error at line 2, column 7).",
            ),
            (
                CardError::JsonNotObject,
                "The JSON card file must contain a JSON object.",
            ),
            (
                CardError::JsonMissingField("records"),
                "The JSON card file is missing the \"records\" field.",
            ),
            (
                CardError::JsonDuplicateField("signature"),
                "The JSON card file has the \"signature\" field more than once.",
            ),
            (
                CardError::JsonBadField {
                    field: "amount_added",
                    expected: "a whole number",
                },
                "The JSON card file's \"amount_added\" field must be a whole number.",
            ),
            (
                CardError::JsonUnknownField,
                "The JSON card file contains a field that is not part of the card format.",
            ),
            (
                CardError::JsonRecordCount(2),
                "The JSON card file must contain exactly one record, but it contains 2.",
            ),
            (
                CardError::JsonTotalMismatch,
                "The JSON card file's total value does not match the amount added by its record.",
            ),
            (
                CardError::Gft(GftError::TooShort),
                "The .gft card file is too short to hold its header.",
            ),
            (
                CardError::GftAmountRecordCount(0),
                "The .gft card file must contain exactly one amount record, but it contains 0.",
            ),
            (
                CardError::GftUnsigned,
                "The .gft card file's amount record is not signed.",
            ),
            (
                CardError::GftAnimated,
                "Animated message cards are not accepted.",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    proptest! {
        #[test]
        fn verify_fails_if_any_field_changes(
            card in any_card(),
            merchant in "\\PC{1,8}",
            customer in "\\PC{1,8}",
            amount in 1..=crate::MAX_AMOUNT,
            byte in 0..SIGNATURE_LEN,
            flip in 1..=u8::MAX,
        ) {
            let key = test_key();
            prop_assert_eq!(card.verify(&key), Ok(()));
            let changed = [
                Card { merchant_id: merchant, ..card.clone() },
                Card { customer_id: customer, ..card.clone() },
                Card { amount, ..card.clone() },
                Card {
                    signature: {
                        let mut signature = card.signature;
                        signature.0[byte] ^= flip;
                        signature
                    },
                    ..card.clone()
                },
            ];
            for other in changed.iter().filter(|other| **other != card) {
                prop_assert_eq!(other.verify(&key), Err(CardError::BadSignature));
            }
        }
    }
}
