//! The interface between the runtime and a compiler, and what a compiler produces.

use crate::{CompileError, FuncType, ModuleTranslation, Trap, Tunables};

/// Where a piece of code lies in a [`CompiledCode::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionLoc {
    /// Byte offset of the first instruction.
    pub start: u32,
    /// Length in bytes.
    pub length: u32,
}

/// Machine code for one module (or one trampoline), position independent, with every
/// relocation already resolved, plus the tables the runtime needs to map PCs back to wasm.
#[derive(Debug, Clone, Default)]
pub struct CompiledCode {
    /// The code. Nothing in it refers to an absolute address: everything outside the text is
    /// reached through the vmctx.
    pub text: Vec<u8>,
    /// Each defined function's body (index = defined function index). For a trampoline-only
    /// compilation this holds the single trampoline.
    pub functions: Vec<FunctionLoc>,
    /// The array-to-wasm trampoline of each defined function that escapes (index = defined
    /// function index). Signature: `fn(callee_vmctx, caller_vmctx, *mut ValRaw, usize) -> bool`.
    pub array_to_wasm_trampolines: Vec<Option<FunctionLoc>>,
    /// Instructions that can fault, with the trap each means; sorted by offset.
    pub traps: Vec<(u32, Trap)>,
    /// Map from code offset to the wasm module byte offset of the instruction that produced
    /// it; sorted by code offset. A lookup takes the last entry at or before a PC.
    pub address_map: Vec<(u32, u32)>,
}

/// A WebAssembly compiler.
pub trait Compiler: Send + Sync {
    /// Validates and compiles every function body of `translation`, plus an array-to-wasm
    /// trampoline for each escaping defined function.
    fn compile_module(
        &self,
        translation: &ModuleTranslation<'_>,
        tunables: &Tunables,
    ) -> Result<CompiledCode, CompileError>;

    /// Compiles a wasm-to-array trampoline for host functions of type `ty`: it has the wasm
    /// calling convention, spills its arguments into a `ValRaw` array, calls the callee's
    /// `array_call` (found in the `VMFuncRef` the callee vmctx belongs to; see the ABI notes in
    /// ARCHITECTURE.md), and calls the `raise` builtin if that returns `false`. The result has
    /// one entry in `functions`.
    fn compile_wasm_to_array_trampoline(
        &self,
        ty: &FuncType,
        tunables: &Tunables,
    ) -> Result<CompiledCode, CompileError>;

    /// A description of the target and every setting that changes generated code.
    fn target_description(&self) -> String;
}
