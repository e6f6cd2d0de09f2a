//! Fuzz target `differential`: wasm-smith modules run in Kiln and in wasmi; results, traps, globals, memories and tables must agree.
//!
//! A thin wrapper over `kiln_fuzzing::oracles::differential`; run with
//! `cargo +nightly fuzz run differential` from the repository root.

#![no_main]

use kiln_fuzzing::{Unstructured, oracles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oracles::differential(&mut Unstructured::new(data));
});
