//! Fuzz target `instantiate`: wasm-smith modules instantiated against dummy imports, every export called with fuel; only clean traps.
//!
//! A thin wrapper over `kiln_fuzzing::oracles::instantiate`; run with
//! `cargo +nightly fuzz run instantiate` from the repository root.

#![no_main]

use kiln_fuzzing::{Unstructured, oracles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oracles::instantiate(&mut Unstructured::new(data));
});
