//! Fuzz target `compile`: validation and compilation of arbitrary bytes and wasm-smith modules never panic, and agree with wasmparser.
//!
//! A thin wrapper over `kiln_fuzzing::oracles::compile`; run with
//! `cargo +nightly fuzz run compile` from the repository root.

#![no_main]

use kiln_fuzzing::{Unstructured, oracles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oracles::compile(&mut Unstructured::new(data));
});
