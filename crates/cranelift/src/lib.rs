//! Kiln's compiler: WebAssembly function bodies to native code through Cranelift.
//!
//! ```text
//!   ModuleTranslation ──► translate/ (validate + wasm → CLIF, one rayon task per function)
//!                              │
//!                              ▼
//!                      cranelift_codegen::Context::compile
//!                              │
//!   trampolines.rs ──► (array-to-wasm, builtin and wasm-to-array trampolines)
//!                              │
//!                              ▼
//!                      link.rs: one position-independent text, traps, address map
//! ```
//!
//! [`CraneliftCompiler`] implements [`kiln_environ::Compiler`]. Everything the generated code
//! reads lives behind the vmctx, laid out by [`kiln_environ::VMOffsets`]; the text holds no
//! absolute address. The ABI is described in `ARCHITECTURE.md`; the choices this crate makes
//! inside it (trap codes, builtin trampolines) are documented in `traps.rs` and
//! `trampolines.rs`.
//!
//! Translation is total: any module that `kiln_environ::translate_module` accepts either
//! compiles or yields a [`kiln_environ::CompileError`] naming the function and byte offset.
//! No input reaches a panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod abi;
mod compiler;
mod libcalls;
mod link;
mod trampolines;
mod translate;
mod traps;

pub use compiler::CraneliftCompiler;

#[cfg(test)]
mod tests;
