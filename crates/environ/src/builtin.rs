//! The runtime functions ("builtins", or libcalls) that compiled code may call.
//!
//! This list is the single source of truth: the compiler derives each call's signature from it
//! and the runtime fills `VMBuiltinFunctionsArray` in the same order (a runtime test checks
//! the names and count). Every builtin takes the calling instance's vmctx first. Compiled code
//! reaches builtins only through `vmctx.builtins`, so code has no absolute relocations.
//!
//! A builtin that fails raises its trap itself (it never returns in that case); it holds no
//! value with a destructor when it does so.

use std::fmt;

/// The type of a builtin parameter or result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinType {
    /// A 32-bit integer (`u32` on the Rust side).
    I32,
    /// A 64-bit integer (`u64`/`i64` on the Rust side).
    I64,
    /// A host pointer (`*mut u8` or `usize`): vmctx, or a reference value.
    Pointer,
}

macro_rules! builtins {
    ($($(#[$doc:meta])* $name:ident ( $($pname:ident : $pty:ident),* ) $(-> $rty:ident)?;)*) => {
        /// A runtime function callable from compiled code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[expect(non_camel_case_types, reason = "names match the runtime's extern functions")]
        #[repr(u32)]
        pub enum BuiltinFunction {
            $($(#[$doc])* $name,)*
        }

        impl BuiltinFunction {
            /// Every builtin, in the order of `VMBuiltinFunctionsArray`.
            pub const ALL: &'static [BuiltinFunction] = &[$(BuiltinFunction::$name,)*];

            /// The builtin's name (also the runtime function's name).
            pub fn name(self) -> &'static str {
                match self {
                    $(BuiltinFunction::$name => stringify!($name),)*
                }
            }

            /// Parameter types; the first is always the caller's vmctx.
            pub fn params(self) -> &'static [BuiltinType] {
                match self {
                    $(BuiltinFunction::$name => &[$(BuiltinType::$pty),*],)*
                }
            }

            /// Result type, if any.
            pub fn result(self) -> Option<BuiltinType> {
                match self {
                    $(BuiltinFunction::$name => builtins!(@ret $($rty)?),)*
                }
            }
        }
    };
    (@ret) => { None };
    (@ret $t:ident) => { Some(BuiltinType::$t) };
}

builtins! {
    /// `memory.grow`: returns the old size in pages, or -1 if growth failed.
    memory_grow(vmctx: Pointer, memory: I32, delta: I64) -> I64;
    /// `memory.fill`; traps with `MemoryOutOfBounds`.
    memory_fill(vmctx: Pointer, memory: I32, dst: I64, val: I32, len: I64);
    /// `memory.copy` between two memories of the instance (possibly the same one).
    memory_copy(vmctx: Pointer, dst_memory: I32, dst: I64, src_memory: I32, src: I64, len: I64);
    /// `memory.init` from a passive data segment.
    memory_init(vmctx: Pointer, memory: I32, data: I32, dst: I64, src: I32, len: I32);
    /// `data.drop`.
    data_drop(vmctx: Pointer, data: I32);
    /// `table.grow`: returns the old size, or -1 if growth failed.
    table_grow(vmctx: Pointer, table: I32, delta: I64, init: Pointer) -> I64;
    /// `table.fill`; traps with `TableOutOfBounds`.
    table_fill(vmctx: Pointer, table: I32, dst: I64, val: Pointer, len: I64);
    /// `table.copy`.
    table_copy(vmctx: Pointer, dst_table: I32, src_table: I32, dst: I64, src: I64, len: I64);
    /// `table.init` from an element segment.
    table_init(vmctx: Pointer, table: I32, elem: I32, dst: I64, src: I32, len: I32);
    /// `elem.drop`.
    elem_drop(vmctx: Pointer, elem: I32);
    /// Raises the trap with the given `Trap` code. Never returns. Used for every trap when
    /// signals-based traps are off.
    trap(vmctx: Pointer, code: I32);
    /// Raises the error a host function recorded before returning `false` to a wasm-to-host
    /// trampoline. Never returns.
    raise(vmctx: Pointer);
    /// The engine's epoch reached the store's deadline: runs the store's deadline callback and
    /// returns the new deadline, or raises the interrupt (or the callback's error).
    new_epoch(vmctx: Pointer) -> I64;
}

impl BuiltinFunction {
    /// Index in `VMBuiltinFunctionsArray`.
    pub fn index(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for BuiltinFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
