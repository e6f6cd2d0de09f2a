//! The runtime: `vm` holds everything that touches raw memory, signals or machine code.

pub mod vm;
