//! The unsafe core of the runtime: code memory, vmctx, memories, tables, builtins, traps.
//!
//! Architecture Invariant: this module (and `sys/` inside it) is the only place in Kiln that
//! touches `mmap`, signals, machine code or raw vmctx pointers. The rest of the `kiln` crate
//! uses the safe interfaces exported here.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod call;
pub mod code_memory;
pub mod entry;
pub mod image;
pub mod instance;
pub mod libcalls;
pub mod memory;
pub mod pool;
pub mod sys;
pub mod table;
pub mod traphandlers;
pub mod vmcontext;
pub mod vmstore;
