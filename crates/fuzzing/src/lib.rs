//! `kiln-fuzzing`: generators and oracles for fuzzing Kiln.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are thin wrappers over the oracles here, and
//! every oracle also runs a few hundred inputs as a `#[test] fn smoke()` under plain
//! `cargo test`, so a regression shows up without a fuzzer. This crate is test support only:
//! no product crate depends on it (it pulls in `wasm-smith` and the `wasmi` interpreter).
//!
//! - [`generators`]: `wasm-smith` configurations limited to what Kiln implements (Wasm 2.0 with
//!   SIMD and relaxed SIMD; no threads, GC, exceptions, memory64 or tail calls) with bounded
//!   sizes, and random Kiln [`kiln::Config`]s (opt level, guard pages or explicit checks,
//!   baseline CPU, relaxed-SIMD profile).
//! - [`oracles`]: `compile`, `instantiate`, `differential` (against wasmi), `wast` and
//!   `wasi_paths`. Each takes an [`arbitrary::Unstructured`] and panics on a finding.
//!
//! An oracle panics only on a real finding; inputs the generator cannot use
//! (`arbitrary::Error`) are skipped by the fuzz targets.

#![forbid(unsafe_code)]

pub mod generators;
pub mod oracles;
#[cfg(test)]
mod smoke;

pub use arbitrary::{self, Unstructured};
