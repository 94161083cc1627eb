//! The JSON card file, laid out exactly like the legacy site's:
//!
//! ```text
//! {"merchant_id": "NYU Apparel Card", "customer_id": "alice", "total_value": 95, "records": [{"record_type": "amount_change", "amount_added": 95, "signature": "<64 hex>"}]}
//! ```

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Card, CardError, Signature};

/// The largest JSON card file accepted, in bytes.
pub(super) const MAX_JSON_SIZE: usize = 16 * 1024;

impl Card {
    /// The card as a JSON card file, with the legacy key order and Python's
    /// default separators. `total_value` is written as a number.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // `Value`'s Display writes a correctly escaped JSON string.
        format!(
            "{{\"merchant_id\": {}, \"customer_id\": {}, \"total_value\": {}, \"records\": \
             [{{\"record_type\": \"amount_change\", \"amount_added\": {}, \"signature\": \"{}\"}}]}}",
            Value::from(self.merchant_id.as_str()),
            Value::from(self.customer_id.as_str()),
            self.amount,
            self.amount,
            self.signature.to_hex(),
        )
        .into_bytes()
    }

    /// Strictly parses a JSON card file: exactly the fields we write, one
    /// `amount_change` record, a `total_value` (number or string of digits)
    /// equal to its `amount_added`, and a 64-hex-character signature. This
    /// does not verify the signature; call [`Card::verify`] for that.
    pub fn from_json(bytes: &[u8]) -> Result<Card, CardError> {
        if bytes.len() > MAX_JSON_SIZE {
            return Err(CardError::JsonTooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| CardError::JsonNotUtf8)?;
        let mut card: Object =
            serde_json::from_str(text).map_err(|error| match error.classify() {
                Category::Data => CardError::JsonNotObject,
                Category::Io | Category::Syntax | Category::Eof => CardError::JsonSyntax {
                    line: error.line(),
                    column: error.column(),
                },
            })?;

        let merchant_id: String = card.take("merchant_id", "a string")?;
        let customer_id: String = card.take("customer_id", "a string")?;
        let total_value = whole_number(&card.take("total_value", WHOLE_NUMBER)?).ok_or(
            CardError::JsonBadField {
                field: "total_value",
                expected: WHOLE_NUMBER,
            },
        )?;
        let records: Vec<Object> = card.take("records", "an array of record objects")?;
        card.finish()?;

        let [mut record] = <[Object; 1]>::try_from(records)
            .map_err(|records| CardError::JsonRecordCount(records.len()))?;
        let record_type: String = record.take("record_type", AMOUNT_CHANGE)?;
        if record_type != "amount_change" {
            return Err(CardError::JsonBadField {
                field: "record_type",
                expected: AMOUNT_CHANGE,
            });
        }
        let amount: i64 = record.take("amount_added", "a whole number")?;
        let signature: String = record.take("signature", "a string")?;
        record.finish()?;

        if total_value != amount {
            return Err(CardError::JsonTotalMismatch);
        }
        Card::from_parts(
            merchant_id,
            customer_id,
            amount,
            Signature::from_hex(&signature)?,
        )
    }
}

const WHOLE_NUMBER: &str = "a whole number or a string of digits";
const AMOUNT_CHANGE: &str = "\"amount_change\"";

/// `total_value` is a number in our files and in some legacy ones, and a
/// string of digits in others.
fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().ok()
        }
        _ => None,
    }
}

/// A JSON object's members in document order, duplicates included
/// (`serde_json::Map` would silently keep only the last one).
struct Object(Vec<(String, Box<RawValue>)>);

impl Object {
    /// Removes the member `field` and parses its value as a `T`.
    fn take<T: DeserializeOwned>(
        &mut self,
        field: &'static str,
        expected: &'static str,
    ) -> Result<T, CardError> {
        let index = self
            .0
            .iter()
            .position(|(name, _)| name == field)
            .ok_or(CardError::JsonMissingField(field))?;
        let (_, value) = self.0.swap_remove(index);
        if self.0.iter().any(|(name, _)| name == field) {
            return Err(CardError::JsonDuplicateField(field));
        }
        serde_json::from_str(value.get()).map_err(|_| CardError::JsonBadField { field, expected })
    }

    /// Fails if any member was not taken.
    fn finish(self) -> Result<(), CardError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CardError::JsonUnknownField)
        }
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Object(members))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::AmountError;
    use crate::card::tests::{any_card, test_key};
    use proptest::prelude::*;

    const SIGNATURE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn card_json(total_value: &str, records: &str) -> String {
        format!(
            "{{\"merchant_id\": \"NYU Apparel Card\", \"customer_id\": \"alice\", \
             \"total_value\": {total_value}, \"records\": {records}}}"
        )
    }

    fn record(amount: &str, signature: &str) -> String {
        format!(
            "{{\"record_type\": \"amount_change\", \"amount_added\": {amount}, \"signature\": \"{signature}\"}}"
        )
    }

    fn parse(json: &str) -> Result<Card, CardError> {
        Card::from_json(json.as_bytes())
    }

    fn bad_field(field: &'static str, expected: &'static str) -> Result<Card, CardError> {
        Err(CardError::JsonBadField { field, expected })
    }

    #[test]
    fn writes_the_legacy_layout() {
        let card = Card {
            merchant_id: "NYU Apparel Card".into(),
            customer_id: "alice".into(),
            amount: 95,
            signature: Signature::from_hex(SIGNATURE).expect("valid hex"),
        };
        let expected = format!(
            "{{\"merchant_id\": \"NYU Apparel Card\", \"customer_id\": \"alice\", \"total_value\": 95, \
             \"records\": [{{\"record_type\": \"amount_change\", \"amount_added\": 95, \"signature\": \"{SIGNATURE}\"}}]}}"
        );
        assert_eq!(String::from_utf8(card.to_json_bytes()), Ok(expected));
        assert_eq!(Card::from_json(&card.to_json_bytes()), Ok(card));
    }

    #[test]
    fn escapes_strings() {
        let card =
            Card::issue(&test_key(), "Quote \" and \\ card", "bob@x.org", 5).expect("valid card");
        let json = String::from_utf8(card.to_json_bytes()).expect("UTF-8");
        assert!(json
            .starts_with(r#"{"merchant_id": "Quote \" and \\ card", "customer_id": "bob@x.org""#));
        assert_eq!(Card::from_json(json.as_bytes()), Ok(card));
    }

    #[test]
    fn accepts_a_string_total_value() {
        let card = parse(&card_json(
            "\"95\"",
            &format!("[{}]", record("95", SIGNATURE)),
        ))
        .expect("valid card");
        assert_eq!(card.amount, 95);
        assert_eq!(card.signature.to_hex(), SIGNATURE);
    }

    #[test]
    fn accepts_any_member_order_and_whitespace() {
        let json = format!(
            "\n{{ \"records\":[{{\"signature\":\"{SIGNATURE}\",\"amount_added\":95,\"record_type\":\"amount_change\"}}],\
             \"total_value\":95,\"customer_id\":\"alice\",\"merchant_id\":\"NYU Apparel Card\" }}\n"
        );
        assert_eq!(parse(&json).map(|card| card.amount), Ok(95));
    }

    #[test]
    fn rejects_oversized_and_non_utf8_input() {
        let big = format!("{}{}", card_json("95", "[]"), " ".repeat(MAX_JSON_SIZE));
        assert_eq!(parse(&big), Err(CardError::JsonTooLarge));
        assert_eq!(
            Card::from_json(b"{\"merchant_id\": \"\xff\"}"),
            Err(CardError::JsonNotUtf8)
        );
    }

    #[test]
    fn rejects_non_objects_and_bad_syntax() {
        for json in ["[]", "95", "\"card\"", "null"] {
            assert_eq!(parse(json), Err(CardError::JsonNotObject), "{json}");
        }
        assert_eq!(parse(""), Err(CardError::JsonSyntax { line: 1, column: 0 }));
        assert_eq!(
            parse("{\"a\" 1}"),
            Err(CardError::JsonSyntax { line: 1, column: 6 })
        );
        assert_eq!(
            parse("{}\n{}"),
            Err(CardError::JsonSyntax { line: 2, column: 1 })
        );
    }

    #[test]
    fn survives_deep_nesting() {
        let deep = format!("{}{}", "[".repeat(8000), "]".repeat(8000));
        assert_eq!(
            parse(&card_json(&deep, "[]")),
            bad_field("total_value", WHOLE_NUMBER)
        );
        assert_eq!(
            parse(&card_json("95", &deep)),
            bad_field("records", "an array of record objects")
        );
    }

    #[test]
    fn names_missing_fields() {
        let records = format!("[{}]", record("95", SIGNATURE));
        assert_eq!(parse("{}"), Err(CardError::JsonMissingField("merchant_id")));
        assert_eq!(
            parse(&format!(
                "{{\"merchant_id\": \"M\", \"total_value\": 95, \"records\": {records}}}"
            )),
            Err(CardError::JsonMissingField("customer_id"))
        );
        assert_eq!(
            parse(&format!(
                "{{\"merchant_id\": \"M\", \"customer_id\": \"c\", \"records\": {records}}}"
            )),
            Err(CardError::JsonMissingField("total_value"))
        );
        assert_eq!(
            parse("{\"merchant_id\": \"M\", \"customer_id\": \"c\", \"total_value\": 95}"),
            Err(CardError::JsonMissingField("records"))
        );
        assert_eq!(
            parse(&card_json("95", "[{}]")),
            Err(CardError::JsonMissingField("record_type"))
        );
        assert_eq!(
            parse(&card_json("95", "[{\"record_type\": \"amount_change\"}]")),
            Err(CardError::JsonMissingField("amount_added"))
        );
        assert_eq!(
            parse(&card_json(
                "95",
                "[{\"record_type\": \"amount_change\", \"amount_added\": 95}]"
            )),
            Err(CardError::JsonMissingField("signature"))
        );
    }

    #[test]
    fn rejects_duplicate_and_unknown_fields() {
        let records = format!("[{}]", record("95", SIGNATURE));
        assert_eq!(
            parse(&format!(
                "{{\"merchant_id\": \"M\", \"merchant_id\": \"N\", \"customer_id\": \"c\", \
                 \"total_value\": 95, \"records\": {records}}}"
            )),
            Err(CardError::JsonDuplicateField("merchant_id"))
        );
        let json = card_json("95", &records).replacen('{', "{\"extra\": 1, ", 1);
        assert_eq!(parse(&json), Err(CardError::JsonUnknownField));
        let json = card_json("95", &records.replacen('{', "{\"extra\": 1, ", 1));
        assert_eq!(parse(&json), Err(CardError::JsonUnknownField));
        let json = card_json(
            "95",
            &records.replacen('{', &format!("{{\"signature\": \"{SIGNATURE}\", "), 1),
        );
        assert_eq!(
            parse(&json),
            Err(CardError::JsonDuplicateField("signature"))
        );
    }

    #[test]
    fn names_fields_of_the_wrong_type() {
        let records = format!("[{}]", record("95", SIGNATURE));
        assert_eq!(
            parse(&card_json("95", &records).replace("\"NYU Apparel Card\"", "7")),
            bad_field("merchant_id", "a string")
        );
        assert_eq!(
            parse(&card_json("95", &records).replace("\"alice\"", "null")),
            bad_field("customer_id", "a string")
        );
        for total in [
            "95.0",
            "\"95.0\"",
            "\"\"",
            "\"-95\"",
            "\" 95\"",
            "true",
            "1e400",
            "\"99999999999999999999\"",
        ] {
            assert_eq!(
                parse(&card_json(total, &records)),
                bad_field("total_value", WHOLE_NUMBER),
                "{total}"
            );
        }
        for records in ["{}", "\"r\"", "[1]", "[[]]"] {
            assert_eq!(
                parse(&card_json("95", records)),
                bad_field("records", "an array of record objects"),
                "{records}"
            );
        }
        let wrong_type = records.replace("\"amount_change\"", "\"message\"");
        assert_eq!(
            parse(&card_json("95", &wrong_type)),
            bad_field("record_type", AMOUNT_CHANGE)
        );
        let wrong_type = records.replace("\"amount_change\"", "1");
        assert_eq!(
            parse(&card_json("95", &wrong_type)),
            bad_field("record_type", AMOUNT_CHANGE)
        );
        for amount in ["\"95\"", "95.5", "null"] {
            assert_eq!(
                parse(&card_json(
                    "95",
                    &format!("[{}]", record(amount, SIGNATURE))
                )),
                bad_field("amount_added", "a whole number"),
                "{amount}"
            );
        }
        let numeric_signature = records.replace(&format!("\"{SIGNATURE}\""), "12");
        assert_eq!(
            parse(&card_json("95", &numeric_signature)),
            bad_field("signature", "a string")
        );
    }

    #[test]
    fn needs_exactly_one_record() {
        assert_eq!(
            parse(&card_json("95", "[]")),
            Err(CardError::JsonRecordCount(0))
        );
        let two = format!("[{}, {}]", record("95", SIGNATURE), record("0", SIGNATURE));
        assert_eq!(
            parse(&card_json("95", &two)),
            Err(CardError::JsonRecordCount(2))
        );
    }

    #[test]
    fn total_must_match_the_record() {
        // The legacy site always wrote 2000 here, whatever the amount.
        let legacy = format!("[{}]", record("2000", SIGNATURE));
        assert_eq!(
            parse(&card_json("\"123\"", &legacy)),
            Err(CardError::JsonTotalMismatch)
        );
    }

    #[test]
    fn rejects_legacy_signatures() {
        let legacy = card_json(
            "\"123\"",
            &format!("[{}]", record("123", "84bffa71cfdba27c5c5b43954b564d4c")),
        );
        assert_eq!(parse(&legacy), Err(CardError::UnknownSignatureFormat));
        let placeholder = card_json(
            "95",
            &format!("[{}]", record("95", "[ insert crypto signature here ]")),
        );
        assert_eq!(parse(&placeholder), Err(CardError::UnknownSignatureFormat));
    }

    #[test]
    fn applies_the_card_rules() {
        let records = |amount: &str| format!("[{}]", record(amount, SIGNATURE));
        assert_eq!(
            parse(&card_json("0", &records("0"))),
            Err(CardError::Amount(AmountError::TooSmall))
        );
        assert_eq!(
            parse(&card_json("20000", &records("20000"))),
            Err(CardError::Amount(AmountError::TooLarge))
        );
        assert_eq!(
            parse(&card_json("95", &records("95")).replace("alice", "")),
            Err(CardError::EmptyId {
                field: "customer ID"
            })
        );
        assert_eq!(
            parse(&card_json("95", &records("95")).replace("alice", &"a".repeat(33))),
            Err(CardError::IdTooLong {
                field: "customer ID"
            })
        );
        assert_eq!(
            parse(&card_json("95", &records("95")).replace("NYU", "\\u0000")),
            Err(CardError::IdControlChar {
                field: "merchant ID"
            })
        );
    }

    proptest! {
        #[test]
        fn round_trips(card in any_card()) {
            prop_assert_eq!(Card::from_json(&card.to_json_bytes()), Ok(card));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Card::from_json(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_cards(
            card in any_card(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut bytes = card.to_json_bytes();
            for (index, byte) in edits {
                let i = index.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = Card::from_json(&bytes);
        }
    }
}
