//! Fuzz target `wasi_paths`: generated paths and symlink layouts against kiln-wasi's preopens; never an escape.
//!
//! A thin wrapper over `kiln_fuzzing::oracles::wasi_paths`; run with
//! `cargo +nightly fuzz run wasi_paths` from the repository root.

#![no_main]

use kiln_fuzzing::{Unstructured, oracles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oracles::wasi_paths(&mut Unstructured::new(data));
});
