//! The checks behind the `gft_parse` and `json_card` fuzz targets (fuzz/fuzz_targets/), shared
//! with `tests/fuzz_corpus.rs`, which replays the committed corpora on stable in CI.
//!
//! Beyond "never panics", each check asserts the format invariants: parsing normalizes (what
//! was parsed writes back to bytes that parse to the same thing), a parsed card survives both
//! encodings and `Card::from_upload` unchanged, and verification is total.

use cardsgalore_cards::{Card, CardKey, GftFile};

/// The key the seed cards of the corpora are signed with.
pub fn seed_key() -> CardKey {
    CardKey::from_bytes([7; 32])
}

/// `gft_parse`: the binary `.gft` parser, then the card built from it.
pub fn gft(data: &[u8]) {
    let parsed = GftFile::parse(data);
    let Ok(file) = parsed else {
        return;
    };
    let bytes = file.to_bytes();
    // Text fields are fixed-size and messages keep their length, so only padding may differ.
    assert_eq!(bytes.len(), data.len(), "rewriting changed the size");
    assert_eq!(
        GftFile::parse(&bytes).as_ref(),
        Ok(&file),
        "a parsed file does not round-trip"
    );
    let card = Card::from_gft(&file);
    // A well-formed `.gft` file declares its own length, so an upload reads it as `.gft`.
    assert_eq!(
        Card::from_upload(data),
        card,
        "upload disagrees with the parser"
    );
    if let Ok(card) = card {
        check_card(&card);
    }
}

/// `json_card`: the strict JSON card parser, then the card.
pub fn json(data: &[u8]) {
    let parsed = Card::from_json(data);
    if let Ok(card) = &parsed {
        check_card(card);
        // A JSON object starts with `{` and is far too short to declare its own length.
        assert_eq!(
            Card::from_upload(data).as_ref(),
            Ok(card),
            "upload disagrees with the parser"
        );
    } else {
        // Whatever the bytes, the upload path must not panic either.
        let _ = Card::from_upload(data);
    }
}

/// A parsed card is a valid card: both encodings give it back, and verifying is total and
/// agrees across encodings.
fn check_card(card: &Card) {
    let key = seed_key();
    let verified = card.verify(&key);
    let json = card.to_json_bytes();
    let from_json = Card::from_json(&json);
    assert_eq!(from_json.as_ref(), Ok(card), "JSON round trip");
    assert_eq!(Card::from_upload(&json).as_ref(), Ok(card), "JSON upload");
    let gft = card
        .to_gft_bytes()
        .expect("a parsed card fits the .gft format");
    let from_gft = GftFile::parse(&gft)
        .map_err(Into::into)
        .and_then(|file| Card::from_gft(&file));
    assert_eq!(from_gft.as_ref(), Ok(card), ".gft round trip");
    assert_eq!(Card::from_upload(&gft).as_ref(), Ok(card), ".gft upload");
    for again in [from_json, from_gft].into_iter().flatten() {
        assert_eq!(again.verify(&key), verified, "verification changed");
    }
}
