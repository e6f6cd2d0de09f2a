//! `Config`: every engine-wide setting.

use kiln_environ::{OptLevel, Tunables};

/// Global configuration for an [`Engine`](crate::Engine).
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) tunables: Tunables,
    pub(crate) max_wasm_stack: usize,
    /// Provenance checks on every module's bytes before parsing (see `policy.rs`).
    pub(crate) load_policy: Option<std::sync::Arc<crate::LoadPolicy>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tunables: Tunables::default(),
            max_wasm_stack: 512 * 1024,
            load_policy: None,
        }
    }
}

impl Config {
    /// The default configuration: optimised code, 4 GiB reservations with a 32 MiB guard and
    /// signals-based traps, 512 KiB of wasm stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cranelift's optimisation level.
    pub fn cranelift_opt_level(&mut self, level: OptLevel) -> &mut Self {
        self.tunables.opt_level = level;
        self
    }

    /// Bytes of address space reserved per linear memory. A memory that fits in its
    /// reservation never moves; 4 GiB (the default) lets 32-bit memories skip bounds checks.
    pub fn memory_reservation(&mut self, bytes: u64) -> &mut Self {
        self.tunables.memory_reservation = bytes;
        self
    }

    /// Bytes of inaccessible guard region after each linear memory.
    pub fn memory_guard_size(&mut self, bytes: u64) -> &mut Self {
        self.tunables.memory_guard_size = bytes;
        self
    }

    /// Whether hardware faults may signal traps. With `false`, every trap condition is an
    /// explicit check in the generated code.
    pub fn signals_based_traps(&mut self, enable: bool) -> &mut Self {
        self.tunables.signals_based_traps = enable;
        self
    }

    /// The most stack, in bytes, wasm may use before "call stack exhausted".
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }
}
