//! The legacy binary `.gft` card format, with a strict and panic-free parser.
//!
//! All integers are little-endian:
//!
//! ```text
//! u32 total_size            whole file length, this field included
//! [u8; 32] merchant_id      text padded with spaces or NULs
//! [u8; 32] customer_id
//! u32 num_records
//! records:
//!   u32 record_size         including this 8-byte record header
//!   u32 type
//!   payload:
//!     1 amount change:      i32 amount, then a 32-byte signature if amount >= 0
//!     2 message:            NUL-terminated UTF-8 text filling the payload
//!     3 animated message:   32-byte message, 256-byte program (never run)
//! ```

use thiserror::Error;

use super::{Card, CardError, Signature, MAX_ID_BYTES};
use crate::amount::AmountError;

/// The largest `.gft` file accepted, in bytes.
const MAX_GFT_SIZE: usize = 64 * 1024;
/// The most records a `.gft` file may declare.
const MAX_RECORDS: u32 = 64;
const TEXT_LEN: usize = MAX_ID_BYTES;
const PROGRAM_LEN: usize = 256;
const HEADER_LEN: usize = 4 + TEXT_LEN + TEXT_LEN + 4;
const RECORD_HEADER_LEN: usize = 8;

const AMOUNT_CHANGE: u32 = 1;
const MESSAGE: u32 = 2;
const ANIMATED: u32 = 3;

/// Why bytes are not a well-formed `.gft` file. Records are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GftError {
    #[error(
        "The .gft card file is too large: a card file is at most {} bytes.",
        MAX_GFT_SIZE
    )]
    TooLarge,
    #[error("The .gft card file is too short to hold its header.")]
    TooShort,
    #[error("The .gft card file says it is {declared} bytes long but is {actual} bytes long.")]
    SizeMismatch { declared: u32, actual: usize },
    #[error("The .gft card file's {0} is not valid UTF-8 text.")]
    BadText(&'static str),
    #[error("The .gft card file declares {0} records, more than the limit of {max}.", max = MAX_RECORDS)]
    TooManyRecords(u32),
    #[error("The .gft card file ends before record {0}.")]
    MissingRecord(u32),
    #[error("Record {record} of the .gft card file has an invalid size of {size} bytes.")]
    RecordSize { record: u32, size: u32 },
    #[error("The message in record {0} of the .gft card file is not valid text.")]
    BadMessage(u32),
    #[error("Record {record} of the .gft card file has unknown type {record_type}.")]
    UnknownRecordType { record: u32, record_type: u32 },
    #[error("The .gft card file has {0} unexpected bytes after its last record.")]
    TrailingBytes(usize),
}

/// A parsed `.gft` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GftFile {
    pub merchant_id: String,
    pub customer_id: String,
    pub records: Vec<GftRecord>,
}

/// One record of a `.gft` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GftRecord {
    /// Adds `amount` dollars; signed when `amount >= 0`.
    AmountChange {
        amount: i32,
        signature: Option<[u8; 32]>,
    },
    /// A text message (without its terminating NUL).
    Message(String),
    /// A message with a program for the legacy toy VM; `program` is 256 bytes.
    Animated { message: String, program: Vec<u8> },
}

impl GftFile {
    /// Parses a `.gft` file, checking every size and bound.
    pub fn parse(bytes: &[u8]) -> Result<GftFile, GftError> {
        if bytes.len() > MAX_GFT_SIZE {
            return Err(GftError::TooLarge);
        }
        if bytes.len() < HEADER_LEN {
            return Err(GftError::TooShort);
        }
        let mut reader = Reader(bytes);
        let total_size = reader.u32().ok_or(GftError::TooShort)?;
        if usize::try_from(total_size).ok() != Some(bytes.len()) {
            return Err(GftError::SizeMismatch {
                declared: total_size,
                actual: bytes.len(),
            });
        }
        let merchant_id = reader.array().ok_or(GftError::TooShort)?;
        let customer_id = reader.array().ok_or(GftError::TooShort)?;
        let num_records = reader.u32().ok_or(GftError::TooShort)?;
        let merchant_id = padded_text(&merchant_id).ok_or(GftError::BadText("merchant ID"))?;
        let customer_id = padded_text(&customer_id).ok_or(GftError::BadText("customer ID"))?;
        if num_records > MAX_RECORDS {
            return Err(GftError::TooManyRecords(num_records));
        }
        let records = (1..=num_records)
            .map(|record| parse_record(&mut reader, record))
            .collect::<Result<_, _>>()?;
        if !reader.0.is_empty() {
            return Err(GftError::TrailingBytes(reader.0.len()));
        }
        Ok(GftFile {
            merchant_id,
            customer_id,
            records,
        })
    }

    /// Writes the file. Text is padded with spaces; text longer than its
    /// field is cut at a character boundary, a message stops at its first
    /// NUL, and a program is cut or NUL-padded to 256 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0; 4]; // total_size, filled in at the end
        bytes.extend(padded(&self.merchant_id));
        bytes.extend(padded(&self.customer_id));
        bytes.extend(len_u32(self.records.len()).to_le_bytes());
        for record in &self.records {
            let (record_type, payload) = match record {
                GftRecord::AmountChange { amount, signature } => {
                    let mut payload = amount.to_le_bytes().to_vec();
                    payload.extend(signature.iter().flatten());
                    (AMOUNT_CHANGE, payload)
                }
                GftRecord::Message(message) => {
                    let text = message.split('\0').next().unwrap_or_default();
                    let mut payload = text.as_bytes().to_vec();
                    payload.push(0);
                    (MESSAGE, payload)
                }
                GftRecord::Animated { message, program } => {
                    let mut payload = padded(message).to_vec();
                    let mut program = program.clone();
                    program.resize(PROGRAM_LEN, 0);
                    payload.extend(program);
                    (ANIMATED, payload)
                }
            };
            bytes.extend(len_u32(RECORD_HEADER_LEN + payload.len()).to_le_bytes());
            bytes.extend(record_type.to_le_bytes());
            bytes.extend(payload);
        }
        let total_size = len_u32(bytes.len()).to_le_bytes();
        bytes[..4].copy_from_slice(&total_size);
        bytes
    }
}

impl Card {
    /// The card as a `.gft` file with one signed amount record. Fails if
    /// the card's fields break the card rules (only possible for a card
    /// built by hand), since they might not fit the format.
    pub fn to_gft_bytes(&self) -> Result<Vec<u8>, CardError> {
        super::check_fields(&self.merchant_id, &self.customer_id, self.amount)?;
        let amount = i32::try_from(self.amount).map_err(|_| AmountError::TooLarge)?;
        let file = GftFile {
            merchant_id: self.merchant_id.clone(),
            customer_id: self.customer_id.clone(),
            records: vec![GftRecord::AmountChange {
                amount,
                signature: Some(self.signature.0),
            }],
        };
        Ok(file.to_bytes())
    }

    /// The card a `.gft` file holds: it needs exactly one signed amount
    /// record; message records are ignored and animated ones refused. This
    /// does not verify the signature; call [`Card::verify`] for that.
    pub fn from_gft(file: &GftFile) -> Result<Card, CardError> {
        let mut amounts = Vec::new();
        for record in &file.records {
            match record {
                GftRecord::AmountChange { amount, signature } => amounts.push((amount, signature)),
                GftRecord::Message(_) => {}
                GftRecord::Animated { .. } => return Err(CardError::GftAnimated),
            }
        }
        let [(&amount, signature)] = amounts[..] else {
            return Err(CardError::GftAmountRecordCount(amounts.len()));
        };
        let signature = signature.ok_or(CardError::GftUnsigned)?;
        Card::from_parts(
            file.merchant_id.clone(),
            file.customer_id.clone(),
            amount.into(),
            Signature(signature),
        )
    }
}

fn parse_record(reader: &mut Reader<'_>, record: u32) -> Result<GftRecord, GftError> {
    let size = reader.u32().ok_or(GftError::MissingRecord(record))?;
    let record_type = reader.u32().ok_or(GftError::MissingRecord(record))?;
    let bad_size = || GftError::RecordSize { record, size };
    let payload = usize::try_from(size)
        .ok()
        .and_then(|size| size.checked_sub(RECORD_HEADER_LEN))
        .and_then(|len| reader.take(len))
        .ok_or_else(bad_size)?;
    match record_type {
        AMOUNT_CHANGE => {
            let (amount, signature) = payload.split_first_chunk().ok_or_else(bad_size)?;
            let amount = i32::from_le_bytes(*amount);
            let signature = match (amount >= 0, signature) {
                (true, signature) => Some(signature.try_into().map_err(|_| bad_size())?),
                (false, []) => None,
                (false, _) => return Err(bad_size()),
            };
            Ok(GftRecord::AmountChange { amount, signature })
        }
        MESSAGE => match payload.split_last() {
            Some((0, text)) if !text.contains(&0) => std::str::from_utf8(text)
                .map(|text| GftRecord::Message(text.to_owned()))
                .map_err(|_| GftError::BadMessage(record)),
            _ => Err(GftError::BadMessage(record)),
        },
        ANIMATED => {
            let (message, program) = payload.split_first_chunk().ok_or_else(bad_size)?;
            if program.len() != PROGRAM_LEN {
                return Err(bad_size());
            }
            let message = padded_text(message).ok_or(GftError::BadMessage(record))?;
            Ok(GftRecord::Animated {
                message,
                program: program.to_vec(),
            })
        }
        record_type => Err(GftError::UnknownRecordType {
            record,
            record_type,
        }),
    }
}

/// Whether `bytes` starts with its own length, as a `.gft` file does.
pub(super) fn declares_own_length(bytes: &[u8]) -> bool {
    let total_size = Reader(bytes).u32();
    total_size.and_then(|size| usize::try_from(size).ok()) == Some(bytes.len())
}

/// Reads from the front of a byte slice; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
}

/// A fixed-size text field without its trailing spaces and NULs.
fn padded_text(field: &[u8; TEXT_LEN]) -> Option<String> {
    let len = field
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |last| last + 1);
    let text = std::str::from_utf8(field.get(..len)?).ok()?;
    Some(text.to_owned())
}

/// `text` in a space-padded fixed-size field, cut at a character boundary
/// if too long.
fn padded(text: &str) -> [u8; TEXT_LEN] {
    let mut field = [b' '; TEXT_LEN];
    let mut len = text.len().min(TEXT_LEN);
    while !text.is_char_boundary(len) {
        len -= 1;
    }
    field[..len].copy_from_slice(&text.as_bytes()[..len]);
    field
}

/// A length as a `u32` field. Lengths that do not fit are far beyond
/// `MAX_GFT_SIZE`, so saturating just yields a file `parse` rejects.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::tests::{any_card, test_key};
    use proptest::prelude::*;

    /// The legacy `examplefile.gft`.
    fn legacy_sample() -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(116u32.to_le_bytes());
        bytes.extend(format!("{:<32}", "GiftCardz.com").as_bytes());
        bytes.extend(format!("{:<32}", "DuaneGreenes Store 1451").as_bytes());
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(44u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(2000i32.to_le_bytes());
        bytes.extend(b"[ insert crypto signature here ]");
        bytes
    }

    fn sample_file() -> GftFile {
        GftFile {
            merchant_id: "NYU Gym Card".into(),
            customer_id: "alice".into(),
            records: vec![
                GftRecord::Message("Happy birthday!".into()),
                GftRecord::AmountChange {
                    amount: 450,
                    signature: Some([9; 32]),
                },
                GftRecord::AmountChange {
                    amount: -5,
                    signature: None,
                },
                GftRecord::Animated {
                    message: "Wheee".into(),
                    program: (0..=255).collect(),
                },
            ],
        }
    }

    /// Replaces the `u32` at `offset` (which must exist).
    fn set_u32(bytes: &mut [u8], offset: usize, value: u32) {
        bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// A file with the given records, each given as `(size, type, payload)`.
    fn file_with(records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut bytes = vec![0; 4];
        bytes.extend([b' '; 64]);
        bytes.extend((records.len() as u32).to_le_bytes());
        for (size, record_type, payload) in records {
            bytes.extend(size.to_le_bytes());
            bytes.extend(record_type.to_le_bytes());
            bytes.extend(*payload);
        }
        let len = bytes.len() as u32;
        set_u32(&mut bytes, 0, len);
        bytes
    }

    #[test]
    fn parses_the_legacy_sample() {
        let bytes = legacy_sample();
        assert_eq!(bytes.len(), 116);
        let file = GftFile::parse(&bytes).expect("the legacy sample parses");
        assert_eq!(file.merchant_id, "GiftCardz.com");
        assert_eq!(file.customer_id, "DuaneGreenes Store 1451");
        assert_eq!(
            file.records,
            [GftRecord::AmountChange {
                amount: 2000,
                signature: Some(*b"[ insert crypto signature here ]"),
            }]
        );
        assert_eq!(file.to_bytes(), bytes);
        let card = Card::from_gft(&file).expect("it has the shape of a card");
        assert_eq!(card.amount, 2000);
        assert_eq!(card.verify(&test_key()), Err(CardError::BadSignature));
        assert_eq!(Card::from_upload(&bytes), Ok(card));
    }

    #[test]
    fn upload_of_a_gft_starting_with_a_brace_is_read_as_gft() {
        let card = Card::issue(&test_key(), "NYU Gym Card", "alice", 450).expect("valid card");
        let mut file =
            GftFile::parse(&card.to_gft_bytes().expect("valid card")).expect("valid file");
        // 72 + 44 + (8 + 255) = 379 = 0x17b, whose first byte is `{`.
        file.records.push(GftRecord::Message("x".repeat(254)));
        let bytes = file.to_bytes();
        assert_eq!(bytes.first(), Some(&b'{'));
        assert_eq!(Card::from_upload(&bytes), Ok(card));
    }

    #[test]
    fn writes_and_parses_every_record_type() {
        let file = sample_file();
        let bytes = file.to_bytes();
        assert_eq!(bytes.len(), 72 + (8 + 16) + (8 + 36) + (8 + 4) + (8 + 288));
        assert_eq!(GftFile::parse(&bytes), Ok(file));
    }

    #[test]
    fn trims_nul_padding_too() {
        let mut bytes = legacy_sample();
        bytes[4 + 13..4 + 32].fill(0);
        bytes[36 + 23] = 0;
        let file = GftFile::parse(&bytes).expect("valid");
        assert_eq!(file.merchant_id, "GiftCardz.com");
        assert_eq!(file.customer_id, "DuaneGreenes Store 1451");
    }

    #[test]
    fn writer_fits_text_into_fields() {
        let file = GftFile {
            merchant_id: "€".repeat(11),
            customer_id: String::new(),
            records: vec![
                GftRecord::Message("one\0two".into()),
                GftRecord::Animated {
                    message: "m".repeat(40),
                    program: vec![1; 300],
                },
                GftRecord::Animated {
                    message: String::new(),
                    program: vec![2],
                },
            ],
        };
        let parsed = GftFile::parse(&file.to_bytes()).expect("valid");
        assert_eq!(parsed.merchant_id, "€".repeat(10));
        assert_eq!(parsed.customer_id, "");
        let mut short_program = vec![2];
        short_program.resize(PROGRAM_LEN, 0);
        assert_eq!(
            parsed.records,
            [
                GftRecord::Message("one".into()),
                GftRecord::Animated {
                    message: "m".repeat(32),
                    program: vec![1; PROGRAM_LEN],
                },
                GftRecord::Animated {
                    message: String::new(),
                    program: short_program,
                },
            ]
        );
    }

    #[test]
    fn checks_the_file_size() {
        assert_eq!(
            GftFile::parse(&[0; MAX_GFT_SIZE + 1]),
            Err(GftError::TooLarge)
        );
        assert_eq!(GftFile::parse(&[]), Err(GftError::TooShort));
        assert_eq!(GftFile::parse(&[1, 0, 0]), Err(GftError::TooShort));
        assert_eq!(GftFile::parse(&[4, 0, 0, 0]), Err(GftError::TooShort));
        assert_eq!(GftFile::parse(&[0; 71]), Err(GftError::TooShort));
        assert_eq!(
            GftFile::parse(&[0; 72]),
            Err(GftError::SizeMismatch {
                declared: 0,
                actual: 72
            })
        );
        assert_eq!(
            GftFile::parse(&legacy_sample()[..75]),
            Err(GftError::SizeMismatch {
                declared: 116,
                actual: 75
            })
        );
        let mut header_only = legacy_sample()[..72].to_vec();
        set_u32(&mut header_only, 0, 72);
        assert_eq!(
            GftFile::parse(&header_only),
            Err(GftError::MissingRecord(1))
        );
        let mut bytes = legacy_sample();
        set_u32(&mut bytes, 0, 112); // gengift.py's len(data)+4 mistake, say
        assert_eq!(
            GftFile::parse(&bytes),
            Err(GftError::SizeMismatch {
                declared: 112,
                actual: 116
            })
        );
        set_u32(&mut bytes, 0, u32::MAX);
        assert_eq!(
            GftFile::parse(&bytes),
            Err(GftError::SizeMismatch {
                declared: u32::MAX,
                actual: 116
            })
        );
    }

    #[test]
    fn checks_text_fields() {
        let mut bytes = legacy_sample();
        bytes[4] = 0xff;
        assert_eq!(
            GftFile::parse(&bytes),
            Err(GftError::BadText("merchant ID"))
        );
        let mut bytes = legacy_sample();
        bytes[36] = 0xc3; // a truncated two-byte character
        assert_eq!(
            GftFile::parse(&bytes),
            Err(GftError::BadText("customer ID"))
        );
    }

    #[test]
    fn checks_the_record_count() {
        let mut bytes = legacy_sample();
        set_u32(&mut bytes, 68, 65);
        assert_eq!(GftFile::parse(&bytes), Err(GftError::TooManyRecords(65)));
        set_u32(&mut bytes, 68, u32::MAX);
        assert_eq!(
            GftFile::parse(&bytes),
            Err(GftError::TooManyRecords(u32::MAX))
        );
        set_u32(&mut bytes, 68, 2);
        assert_eq!(GftFile::parse(&bytes), Err(GftError::MissingRecord(2)));
        set_u32(&mut bytes, 68, 0);
        assert_eq!(GftFile::parse(&bytes), Err(GftError::TrailingBytes(44)));
        let messages = vec![GftRecord::Message(String::new()); 64];
        let file = GftFile {
            merchant_id: "M".into(),
            customer_id: "c".into(),
            records: messages,
        };
        assert_eq!(GftFile::parse(&file.to_bytes()), Ok(file));
    }

    #[test]
    fn checks_record_sizes() {
        let payload = [2000i32.to_le_bytes().as_slice(), &[7; 32]].concat();
        for size in [0, 7, 43, 45, u32::MAX] {
            assert_eq!(
                GftFile::parse(&file_with(&[(size, 1, &payload)])),
                Err(GftError::RecordSize { record: 1, size }),
                "{size}"
            );
        }
        // A negative amount carries no signature, so its record is 12 bytes.
        let negative = (-5i32).to_le_bytes();
        assert_eq!(
            GftFile::parse(&file_with(&[(12, 1, &negative)])).map(|file| file.records),
            Ok(vec![GftRecord::AmountChange {
                amount: -5,
                signature: None
            }])
        );
        let negative_signed = [negative.as_slice(), &[7; 32]].concat();
        assert_eq!(
            GftFile::parse(&file_with(&[(44, 1, &negative_signed)])),
            Err(GftError::RecordSize {
                record: 1,
                size: 44
            })
        );
        assert_eq!(
            GftFile::parse(&file_with(&[(11, 1, &[0, 0, 0])])),
            Err(GftError::RecordSize {
                record: 1,
                size: 11
            })
        );
        let zero_unsigned = 0i32.to_le_bytes();
        assert_eq!(
            GftFile::parse(&file_with(&[(12, 1, &zero_unsigned)])),
            Err(GftError::RecordSize {
                record: 1,
                size: 12
            })
        );
        let animated = [0u8; 288];
        assert!(GftFile::parse(&file_with(&[(296, 3, &animated)])).is_ok());
        for (size, payload) in [
            (295, &animated[..287]),
            (40, &animated[..32]),
            (20, &animated[..12]),
        ] {
            assert_eq!(
                GftFile::parse(&file_with(&[(size, 3, payload)])),
                Err(GftError::RecordSize { record: 1, size }),
                "{size}"
            );
        }
        // The second record's header is cut short.
        let mut bytes = file_with(&[(9, 2, &[0]), (9, 2, &[0])]);
        bytes.truncate(bytes.len() - 6);
        let len = bytes.len() as u32;
        set_u32(&mut bytes, 0, len);
        assert_eq!(GftFile::parse(&bytes), Err(GftError::MissingRecord(2)));
    }

    #[test]
    fn checks_messages() {
        assert_eq!(
            GftFile::parse(&file_with(&[(11, 2, b"hi\0")])).map(|file| file.records),
            Ok(vec![GftRecord::Message("hi".into())])
        );
        for payload in [&b""[..], b"hi", b"h\0i\0", b"\xff\0"] {
            let size = 8 + payload.len() as u32;
            assert_eq!(
                GftFile::parse(&file_with(&[(size, 2, payload)])),
                Err(GftError::BadMessage(1)),
                "{payload:?}"
            );
        }
        let mut animated = [0u8; 288];
        animated[0] = 0xff;
        assert_eq!(
            GftFile::parse(&file_with(&[(9, 2, b"\0"), (296, 3, &animated)])),
            Err(GftError::BadMessage(2))
        );
    }

    #[test]
    fn names_unknown_record_types() {
        for record_type in [0, 4, u32::MAX] {
            assert_eq!(
                GftFile::parse(&file_with(&[(8, record_type, &[])])),
                Err(GftError::UnknownRecordType {
                    record: 1,
                    record_type
                })
            );
        }
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = legacy_sample();
        bytes.extend([0, 0]);
        set_u32(&mut bytes, 0, 118);
        assert_eq!(GftFile::parse(&bytes), Err(GftError::TrailingBytes(2)));
    }

    #[test]
    fn card_needs_one_signed_amount_record() {
        let file = |records| GftFile {
            merchant_id: "NYU Gym Card".into(),
            customer_id: "alice".into(),
            records,
        };
        let signed = GftRecord::AmountChange {
            amount: 450,
            signature: Some([1; 32]),
        };
        let message = GftRecord::Message("hi".into());
        let card =
            Card::from_gft(&file(vec![message.clone(), signed.clone(), message])).expect("a card");
        assert_eq!(card.amount, 450);
        assert_eq!(card.signature, Signature([1; 32]));
        assert_eq!(
            Card::from_gft(&file(vec![])),
            Err(CardError::GftAmountRecordCount(0))
        );
        assert_eq!(
            Card::from_gft(&file(vec![signed.clone(), signed.clone()])),
            Err(CardError::GftAmountRecordCount(2))
        );
        let unsigned = GftRecord::AmountChange {
            amount: -5,
            signature: None,
        };
        assert_eq!(
            Card::from_gft(&file(vec![unsigned])),
            Err(CardError::GftUnsigned)
        );
        let animated = GftRecord::Animated {
            message: String::new(),
            program: vec![0; PROGRAM_LEN],
        };
        assert_eq!(
            Card::from_gft(&file(vec![signed, animated])),
            Err(CardError::GftAnimated)
        );
    }

    #[test]
    fn card_rules_apply() {
        let file = |merchant_id: &str, amount| GftFile {
            merchant_id: merchant_id.into(),
            customer_id: "alice".into(),
            records: vec![GftRecord::AmountChange {
                amount,
                signature: Some([1; 32]),
            }],
        };
        assert_eq!(
            Card::from_gft(&file("Card", 0)),
            Err(CardError::Amount(AmountError::TooSmall))
        );
        assert_eq!(
            Card::from_gft(&file("Card", i32::MAX)),
            Err(CardError::Amount(AmountError::TooLarge))
        );
        assert_eq!(
            Card::from_gft(&file("", 10)),
            Err(CardError::EmptyId {
                field: "merchant ID"
            })
        );
        assert_eq!(
            Card::from_gft(&file("Ca\0rd", 10)),
            Err(CardError::IdControlChar {
                field: "merchant ID"
            })
        );
    }

    #[test]
    fn to_gft_bytes_refuses_hand_built_invalid_cards() {
        let card = Card::issue(&test_key(), "Card", "alice", 10).expect("valid card");
        let too_long = Card {
            merchant_id: "m".repeat(33),
            ..card.clone()
        };
        assert_eq!(
            too_long.to_gft_bytes(),
            Err(CardError::IdTooLong {
                field: "merchant ID"
            })
        );
        let too_much = Card {
            amount: i64::MAX,
            ..card
        };
        assert_eq!(
            too_much.to_gft_bytes(),
            Err(CardError::Amount(AmountError::TooLarge))
        );
    }

    #[test]
    fn messages() {
        let cases = [
            (
                GftError::TooLarge,
                "The .gft card file is too large: a card file is at most 65536 bytes.",
            ),
            (
                GftError::TooShort,
                "The .gft card file is too short to hold its header.",
            ),
            (
                GftError::SizeMismatch {
                    declared: 112,
                    actual: 116,
                },
                "The .gft card file says it is 112 bytes long but is 116 bytes long.",
            ),
            (
                GftError::BadText("merchant ID"),
                "The .gft card file's merchant ID is not valid UTF-8 text.",
            ),
            (
                GftError::TooManyRecords(65),
                "The .gft card file declares 65 records, more than the limit of 64.",
            ),
            (
                GftError::MissingRecord(2),
                "The .gft card file ends before record 2.",
            ),
            (
                GftError::RecordSize { record: 1, size: 7 },
                "Record 1 of the .gft card file has an invalid size of 7 bytes.",
            ),
            (
                GftError::BadMessage(3),
                "The message in record 3 of the .gft card file is not valid text.",
            ),
            (
                GftError::UnknownRecordType {
                    record: 1,
                    record_type: 9,
                },
                "Record 1 of the .gft card file has unknown type 9.",
            ),
            (
                GftError::TrailingBytes(2),
                "The .gft card file has 2 unexpected bytes after its last record.",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    fn any_record() -> impl Strategy<Value = GftRecord> {
        prop_oneof![
            (0..=i32::MAX, any::<[u8; 32]>()).prop_map(|(amount, signature)| {
                GftRecord::AmountChange {
                    amount,
                    signature: Some(signature),
                }
            }),
            (i32::MIN..0).prop_map(|amount| GftRecord::AmountChange {
                amount,
                signature: None
            }),
            "[^\\x00]{0,40}".prop_map(GftRecord::Message),
            (
                "[a-z ]{0,31}[a-z]",
                proptest::collection::vec(any::<u8>(), PROGRAM_LEN)
            )
                .prop_map(|(message, program)| GftRecord::Animated { message, program }),
        ]
    }

    fn any_file() -> impl Strategy<Value = GftFile> {
        let id = "([^\\x00 ]{0,7}[^\\x00 ])?";
        (id, id, proptest::collection::vec(any_record(), 0..6)).prop_map(
            |(merchant_id, customer_id, records)| GftFile {
                merchant_id,
                customer_id,
                records,
            },
        )
    }

    proptest! {
        #[test]
        fn card_round_trips(card in any_card()) {
            let bytes = card.to_gft_bytes().expect("issued cards fit");
            let file = GftFile::parse(&bytes).expect("we write valid files");
            prop_assert_eq!(Card::from_gft(&file), Ok(card));
        }

        #[test]
        fn file_round_trips(file in any_file()) {
            prop_assert_eq!(GftFile::parse(&file.to_bytes()), Ok(file));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = GftFile::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_mutated_files(
            file in any_file(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = file.to_bytes();
            for (index, byte) in edits {
                let i = index.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = GftFile::parse(&bytes);
            bytes.truncate(cut.index(bytes.len()));
            let _ = GftFile::parse(&bytes);
        }
    }
}
