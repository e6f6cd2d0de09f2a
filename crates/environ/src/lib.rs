//! Compiler-independent description of a WebAssembly module for Kiln.
//!
//! This crate is the contract between the three halves of Kiln:
//!
//! ```text
//!   bytes ──► environ::translate_module ──► ModuleTranslation (ModuleInfo + bodies)
//!                                                │
//!                        environ::Compiler ◄─────┘  (implemented by kiln-cranelift)
//!                                │
//!                                ▼
//!                          CompiledCode ──► kiln runtime (code memory, vmctx via VMOffsets)
//! ```
//!
//! It owns validation (through `wasmparser`), the module IR ([`ModuleInfo`]), the vmctx layout
//! ([`VMOffsets`], declared once in [`vmoffsets`]), the trap codes ([`Trap`]), the list of
//! runtime builtins ([`BuiltinFunction`]) and the engine settings the compiler needs
//! ([`Tunables`]).
//!
//! Architecture Invariant: this crate never depends on `cranelift-codegen`, so another compiler
//! can implement [`Compiler`] without touching the runtime.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builtin;
mod compile;
mod error;
mod module;
mod trap;
mod tunables;
mod types;
pub mod vmoffsets;

pub use builtin::{BuiltinFunction, BuiltinType};
pub use compile::{CompiledCode, Compiler, FunctionLoc};
pub use error::{CompileError, WasmError, WasmResult};
pub use module::{
    ConstExpr, ConstOp, DataKind, DataSegment, ElemItems, ElemKind, ElemSegment, EntityIndex,
    Export, FunctionBodyInput, Import, ModuleInfo, ModuleTranslation, translate_module,
    wasm_features,
};
pub use trap::Trap;
pub use tunables::{OptLevel, Tunables};
pub use types::{FuncType, GlobalType, MemoryType, RefType, TableType, WasmValType};
pub use vmoffsets::{VMOffsets, WASM_PAGE_SIZE};

/// The largest number of function results or parameters Kiln accepts (wasmparser's own limit
/// is 1000; we keep ours equal so the array-call buffer size is bounded).
pub const MAX_WASM_FUNCTION_PARAMS_AND_RESULTS: usize = 1000;
