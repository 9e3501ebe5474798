#![no_main]
//! cargo-fuzz target: see `fuzz/targets.rs` for the invariants checked.

use libfuzzer_sys::fuzz_target;

#[path = "../targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| targets::id_token_signature(data));
