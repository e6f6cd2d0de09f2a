//! Errors of validation, translation and compilation. Every error carries the byte offset in
//! the module where it was found; compile errors also name the function.

use std::fmt;

/// An error found in a module at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmError {
    /// What is wrong, in lowercase spec vocabulary.
    pub message: String,
    /// Byte offset in the module binary.
    pub offset: u64,
}

impl WasmError {
    /// Creates an error at `offset`.
    pub fn new(offset: u64, message: impl Into<String>) -> Self {
        WasmError {
            message: message.into(),
            offset,
        }
    }
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset 0x{:x})", self.message, self.offset)
    }
}

impl std::error::Error for WasmError {}

impl From<wasmparser::BinaryReaderError> for WasmError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        WasmError::new(e.offset(), e.message())
    }
}

/// Result with a [`WasmError`].
pub type WasmResult<T> = Result<T, WasmError>;

/// A module failed to compile: which function, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Function index in the module's function index space.
    pub func_index: u32,
    /// The function's name from the name section, if any.
    pub func_name: Option<String>,
    /// The underlying error.
    pub error: WasmError,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func_name {
            Some(name) => write!(
                f,
                "failed to compile function `{name}` (index {}): {}",
                self.func_index, self.error
            ),
            None => write!(
                f,
                "failed to compile wasm function {}: {}",
                self.func_index, self.error
            ),
        }
    }
}

impl std::error::Error for CompileError {}
