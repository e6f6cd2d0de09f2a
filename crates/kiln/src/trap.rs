//! Traps and wasm backtraces as the embedder sees them.
//!
//! A trap reaches the embedder as an `anyhow::Error` whose root cause is a [`Trap`] (use
//! `error.downcast_ref::<Trap>()`), with a [`WasmBacktrace`] attached as context. Its
//! display looks like:
//!
//! ```text
//! error while executing at wasm backtrace:
//!     0:     0x23 - m!die
//!     1:     0x2e - m!<wasm function 1>
//! ```

use crate::runtime::vm::code_memory::lookup_code;
use crate::runtime::vm::traphandlers::RawBacktrace;
pub use kiln_environ::Trap;
use std::fmt;

/// One frame of a wasm backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    module_name: Option<String>,
    func_index: u32,
    func_name: Option<String>,
    module_offset: Option<u32>,
}

impl FrameInfo {
    /// The module's name from its name section.
    pub fn module_name(&self) -> Option<&str> {
        self.module_name.as_deref()
    }
    /// The function's index in the module.
    pub fn func_index(&self) -> u32 {
        self.func_index
    }
    /// The function's name from the name section.
    pub fn func_name(&self) -> Option<&str> {
        self.func_name.as_deref()
    }
    /// Byte offset in the module of the executing instruction.
    pub fn module_offset(&self) -> Option<u32> {
        self.module_offset
    }
}

/// The wasm frames active when a trap happened, innermost first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WasmBacktrace {
    frames: Vec<FrameInfo>,
}

impl WasmBacktrace {
    /// The frames, innermost first.
    pub fn frames(&self) -> &[FrameInfo] {
        &self.frames
    }

    pub(crate) fn from_raw(raw: &RawBacktrace) -> WasmBacktrace {
        let mut frames = Vec::new();
        for (i, &pc) in raw.pcs().iter().enumerate() {
            let Some(code) = lookup_code(pc) else {
                continue;
            };
            let Some(f) = code.lookup_function(pc) else {
                continue;
            };
            // Outer frames hold return addresses: look up the call instruction before them.
            let lookup_pc = if i == 0 { pc } else { pc - 1 };
            let meta = code.meta();
            frames.push(FrameInfo {
                module_name: meta.module_name.clone(),
                func_index: meta.func_indices[f],
                func_name: meta.func_names.get(f).cloned().flatten(),
                module_offset: code.lookup_wasm_offset(lookup_pc),
            });
        }
        WasmBacktrace { frames }
    }
}

impl fmt::Display for WasmBacktrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error while executing at wasm backtrace:")?;
        for (i, frame) in self.frames.iter().enumerate() {
            let module = frame.module_name.as_deref().unwrap_or("<unknown>");
            let name = match &frame.func_name {
                Some(n) => n.clone(),
                None => format!("<wasm function {}>", frame.func_index),
            };
            match frame.module_offset {
                Some(off) => write!(f, "  {i:>4}: {off:>#8x} - {module}!{name}")?,
                None => write!(f, "  {i:>4}: {:>8} - {module}!{name}", "")?,
            }
            if i + 1 < self.frames.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
