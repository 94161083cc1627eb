//! The Cards Galore gift card domain: pure rules and formats, with no I/O.
//!
//! This crate owns:
//! - [`card`]: the gift card itself, its real signature scheme (HMAC-SHA256
//!   with a per-card nonce under a [`card::CardKey`]), and its two file
//!   encodings: the legacy site's JSON card file and the binary `.gft` format,
//!   whose parser is strict, bounds-checked and safe on hostile input;
//! - [`amount`]: the money rules (whole dollars, `$1` to [`amount::MAX_AMOUNT`])
//!   and parsing of the amount typed into a form;
//! - [`users`]: username and new-password rules, and password hashing
//!   (Argon2id, plus verification of the legacy salted SHA-256 records so
//!   that they can be upgraded on login).
//!
//! It must not touch I/O of any kind (files, network, database, processes)
//! nor build SQL: callers pass bytes and strings in and get values or typed
//! errors back. Every error's `Display` is one sentence that can be shown to a
//! user; none contains key material, passwords or a whole card.

pub mod amount;
pub mod card;
pub mod users;

pub use amount::{parse_amount, validate_amount, AmountError, MAX_AMOUNT};
pub use card::{Card, CardError, CardKey, GftError, GftFile, GftRecord, Signature};
pub use users::{PasswordHasher, UserError, Verification};
