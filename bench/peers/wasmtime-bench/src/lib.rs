//! Empty library target of the Wasmtime peer bench crate; the benchmarks live in `benches/`.
