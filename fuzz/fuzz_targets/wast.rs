//! Fuzz target `wast`: a spec test script under a random Kiln configuration must pass.
//!
//! A thin wrapper over `kiln_fuzzing::oracles::wast`; run with
//! `cargo +nightly fuzz run wast` from the repository root.

#![no_main]

use kiln_fuzzing::{Unstructured, oracles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oracles::wast(&mut Unstructured::new(data));
});
