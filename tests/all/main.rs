//! Integration tests of the embedding API: one test binary with a module per area.

mod artifacts;
mod embed;
mod epoch;
mod fuel;
mod limits;
mod pooling;
mod simd;
mod traps;
