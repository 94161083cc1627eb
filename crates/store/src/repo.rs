//! Queries grouped by aggregate. Every function takes a `&Connection` (a `Transaction`
//! derefs to one) so callers can compose several in one transaction. Parameters always;
//! never SQL built from input.

pub mod cards;
pub mod products;
pub mod sessions;
pub mod settings;
pub mod users;
