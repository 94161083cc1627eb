//! Property tests of the card formats across both encodings and the upload path, with ids up
//! to the full 32 bytes (the unit tests' generators stop at 8 characters).

mod fuzz_harness;

use cardsgalore_cards::{Card, MAX_AMOUNT};
use proptest::prelude::*;

/// Any card `Card::issue` accepts, with ids of 1 to 32 bytes of any characters.
fn any_card() -> impl Strategy<Value = Card> {
    let id = || {
        prop_oneof!["\\PC{1,32}", "[ -~]{1,32}", "[a-zé€😀 ]{1,12}"]
            .prop_filter("at most 32 bytes", |id| id.len() <= 32)
    };
    (id(), id(), 1..=MAX_AMOUNT).prop_filter_map("a valid card", |(merchant, customer, amount)| {
        Card::issue(&fuzz_harness::seed_key(), &merchant, &customer, amount).ok()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn cards_round_trip_through_both_formats_and_uploads(card in any_card()) {
        let json = card.to_json_bytes();
        let gft = card.to_gft_bytes().unwrap();
        prop_assert_eq!(Card::from_upload(&json), Ok(card.clone()));
        prop_assert_eq!(Card::from_upload(&gft), Ok(card.clone()));
        prop_assert_eq!(card.verify(&fuzz_harness::seed_key()), Ok(()));
        // The fuzz targets' invariants hold on every valid card too.
        fuzz_harness::json(&json);
        fuzz_harness::gft(&gft);
    }
}
