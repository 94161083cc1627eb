#![no_main]
//! `cargo fuzz` target; the checks live in the harness shared with the stable corpus test.

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses part of the harness
#[path = "../../crates/cards/tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| fuzz_harness::json(data));
