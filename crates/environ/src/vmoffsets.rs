//! The layout contract between compiled code and the runtime: the `VM*` records and the vmctx.
//!
//! [`for_each_vm_record!`](crate::for_each_vm_record) declares every `#[repr(C)]` record that
//! compiled code reads or writes. This crate instantiates it with integer stand-ins of the same
//! size and alignment to compute offsets; the runtime instantiates it with real pointer types.
//! Both are `#[repr(C)]`, and the runtime's layout tests assert `offset_of!` agrees with
//! [`VMOffsets`], so the two views cannot drift.
//!
//! The vmctx of an instance is a header record followed by arrays sized by the module:
//!
//! ```text
//!   VMContextHeader        magic, store_context, builtins, type_ids, epoch_counter,
//!                          instance (runtime-only back pointer)
//!   imported_functions     [VMFuncRef; imported functions]   (callee code, vmctx, type id)
//!   tables                 [*mut VMTableDefinition; all tables]
//!   memories               [*mut VMMemoryDefinition; all memories]
//!   memory_bases           [*mut u8; all memories]   (base of each memory, for code that
//!                          knows the memory never moves: one load instead of two)
//!   imported_globals       [*mut VMGlobalDefinition; imported globals]
//!   (align 16)
//!   defined_globals        [VMGlobalDefinition; defined globals]   (16 bytes each, inline)
//!   func_refs              [VMFuncRef; escaping defined functions]
//! ```
//!
//! Only 64-bit hosts are supported: pointers are 8 bytes.

use crate::ModuleInfo;

/// The version of the contract between compiled code and the runtime: the vmctx layout, the
/// `VM*` records, the builtin list and the calling conventions. Part of the engine
/// fingerprint, so precompiled artifacts made under another version are refused. Bump it with
/// every change to any of these.
pub const ABI_VERSION: u32 = 2;

/// The size of a wasm page.
pub const WASM_PAGE_SIZE: u64 = 0x1_0000;

/// The magic value in the first word of every instance vmctx: `b"core"`.
pub const VMCTX_MAGIC: u32 = u32::from_le_bytes(*b"core");

/// The magic value of a host function's context: `b"host"`.
pub const VM_HOST_FUNC_MAGIC: u32 = u32::from_le_bytes(*b"host");

/// Declares every `#[repr(C)]` record shared by compiled code and the runtime.
///
/// Invokes `$mac!` with a list of `Name { field: kind, ... }` where kind is one of `ptr`,
/// `usize`, `u32`, `u64` or `i64`. The callee maps kinds to field types.
#[macro_export]
macro_rules! for_each_vm_record {
    ($mac:ident) => {
        $mac! {
            /// A function reference: what `call_indirect`, `ref.func` and imports use.
            /// `wasm_call` has the wasm calling convention (`callee_vmctx, caller_vmctx, args`);
            /// `array_call` is the host-facing `fn(callee_vmctx, caller_vmctx, *mut ValRaw, len) -> bool`.
            VMFuncRef {
                wasm_call: ptr,
                array_call: ptr,
                vmctx: ptr,
                type_index: u32,
                _pad: u32,
            }
            /// A linear memory: its base and current byte length.
            VMMemoryDefinition {
                base: ptr,
                current_length: usize,
            }
            /// A table: its element array (one pointer-sized word per element; 0 is null) and
            /// current element count.
            VMTableDefinition {
                base: ptr,
                current_elements: usize,
            }
            /// Per-store state compiled code reads and writes.
            VMStoreContext {
                stack_limit: usize,
                last_wasm_exit_fp: usize,
                fuel_consumed: i64,
                epoch_deadline: u64,
            }
            /// The head of a host function's context (what `VMFuncRef::vmctx` points to for a
            /// host function). The wasm-to-array trampoline loads `array_call` from here.
            VMHostFuncContext {
                magic: u32,
                _pad: u32,
                array_call: ptr,
            }
            /// The fixed head of every instance vmctx.
            VMContextHeader {
                magic: u32,
                _pad: u32,
                store_context: ptr,
                builtins: ptr,
                type_ids: ptr,
                epoch_counter: ptr,
                instance: ptr,
            }
        }
    };
}

macro_rules! shadow_records {
    ($($(#[$doc:meta])* $name:ident { $($field:ident : $kind:ident,)* })*) => {
        /// Integer stand-ins for the VM records, used only to compute offsets.
        #[allow(dead_code, reason = "fields exist only for offset_of!")]
        mod shadow {
            $(
                #[repr(C)]
                pub struct $name { $(pub $field: shadow_records!(@ty $kind),)* }
            )*
        }

        /// Byte offsets of the fields of each VM record, and its size.
        pub mod record {
            $(
                $(#[$doc])*
                #[allow(non_snake_case, non_upper_case_globals, reason = "mirrors field names")]
                pub mod $name {
                    $(
                        #[doc = concat!("Offset of `", stringify!($field), "`.")]
                        pub const $field: u32 =
                            core::mem::offset_of!(super::super::shadow::$name, $field) as u32;
                    )*
                    /// Size of the record in bytes.
                    pub const SIZE: u32 = core::mem::size_of::<super::super::shadow::$name>() as u32;
                }
            )*
        }
    };
    (@ty ptr) => { u64 };
    (@ty usize) => { u64 };
    (@ty u32) => { u32 };
    (@ty u64) => { u64 };
    (@ty i64) => { i64 };
}

for_each_vm_record!(shadow_records);

/// The size of a `VMGlobalDefinition`: 16 bytes, 16-aligned, large enough for a v128.
pub const VM_GLOBAL_DEFINITION_SIZE: u32 = 16;

/// The size of one raw value in the array-call ABI (`ValRaw`): 16 bytes.
pub const VAL_RAW_SIZE: u32 = 16;

/// Offsets into the vmctx of one module's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VMOffsets {
    /// Number of imported functions.
    pub num_imported_functions: u32,
    /// Number of tables (imported and defined).
    pub num_tables: u32,
    /// Number of memories (imported and defined).
    pub num_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Number of defined globals.
    pub num_defined_globals: u32,
    /// Number of defined functions that escape (exported, in tables, or referenced).
    pub num_escaped_funcs: u32,
    imported_functions: u32,
    tables: u32,
    memories: u32,
    memory_bases: u32,
    imported_globals: u32,
    defined_globals: u32,
    func_refs: u32,
    size: u32,
}

fn align(n: u32, to: u32) -> u32 {
    n.div_ceil(to) * to
}

impl VMOffsets {
    /// Computes the layout for a module.
    pub fn new(module: &ModuleInfo) -> Self {
        Self::from_counts(
            module.num_imported_funcs,
            module.tables.len() as u32,
            module.memories.len() as u32,
            module.num_imported_globals,
            module.globals.len() as u32 - module.num_imported_globals,
            module.escaped_funcs.len() as u32,
        )
    }

    /// Computes the layout from counts.
    pub fn from_counts(
        num_imported_functions: u32,
        num_tables: u32,
        num_memories: u32,
        num_imported_globals: u32,
        num_defined_globals: u32,
        num_escaped_funcs: u32,
    ) -> Self {
        let ptr = 8;
        let imported_functions = record::VMContextHeader::SIZE;
        let tables = imported_functions + num_imported_functions * record::VMFuncRef::SIZE;
        let memories = tables + num_tables * ptr;
        let memory_bases = memories + num_memories * ptr;
        let imported_globals = memory_bases + num_memories * ptr;
        let defined_globals = align(imported_globals + num_imported_globals * ptr, 16);
        let func_refs = defined_globals + num_defined_globals * VM_GLOBAL_DEFINITION_SIZE;
        let size = align(func_refs + num_escaped_funcs * record::VMFuncRef::SIZE, 16);
        VMOffsets {
            num_imported_functions,
            num_tables,
            num_memories,
            num_imported_globals,
            num_defined_globals,
            num_escaped_funcs,
            imported_functions,
            tables,
            memories,
            memory_bases,
            imported_globals,
            defined_globals,
            func_refs,
            size,
        }
    }

    /// Offset of the magic word.
    pub fn vmctx_magic(&self) -> u32 {
        record::VMContextHeader::magic
    }
    /// Offset of the `*mut VMStoreContext`.
    pub fn vmctx_store_context(&self) -> u32 {
        record::VMContextHeader::store_context
    }
    /// Offset of the pointer to the builtin function array.
    pub fn vmctx_builtins(&self) -> u32 {
        record::VMContextHeader::builtins
    }
    /// Offset of the pointer to the module's engine-wide type ids (`*const u32`, indexed by the
    /// module's type index).
    pub fn vmctx_type_ids(&self) -> u32 {
        record::VMContextHeader::type_ids
    }
    /// Offset of the pointer to the engine's epoch counter (`*const AtomicU64`).
    pub fn vmctx_epoch_counter(&self) -> u32 {
        record::VMContextHeader::epoch_counter
    }
    /// Offset of the `VMFuncRef` of imported function `index`.
    pub fn vmctx_imported_function(&self, index: u32) -> u32 {
        assert!(index < self.num_imported_functions);
        self.imported_functions + index * record::VMFuncRef::SIZE
    }
    /// Offset of the `*mut VMTableDefinition` of table `index`.
    pub fn vmctx_table(&self, index: u32) -> u32 {
        assert!(index < self.num_tables);
        self.tables + index * 8
    }
    /// Offset of the `*mut VMMemoryDefinition` of memory `index`.
    pub fn vmctx_memory(&self, index: u32) -> u32 {
        assert!(index < self.num_memories);
        self.memories + index * 8
    }
    /// Offset of the base address of memory `index`. Filled at instantiation; valid for as
    /// long as the instance only if the memory never moves (`Tunables::memory_may_move` is
    /// false for its type).
    pub fn vmctx_memory_base(&self, index: u32) -> u32 {
        assert!(index < self.num_memories);
        self.memory_bases + index * 8
    }
    /// Offset of the `*mut VMGlobalDefinition` of imported global `index`.
    pub fn vmctx_imported_global(&self, index: u32) -> u32 {
        assert!(index < self.num_imported_globals);
        self.imported_globals + index * 8
    }
    /// Offset of the inline `VMGlobalDefinition` of defined global `index` (counted from the
    /// first defined global).
    pub fn vmctx_defined_global(&self, index: u32) -> u32 {
        assert!(index < self.num_defined_globals);
        self.defined_globals + index * VM_GLOBAL_DEFINITION_SIZE
    }
    /// Offset of the `VMFuncRef` of escaped function slot `index`.
    pub fn vmctx_func_ref(&self, index: u32) -> u32 {
        assert!(index < self.num_escaped_funcs);
        self.func_refs + index * record::VMFuncRef::SIZE
    }
    /// Total size of the vmctx in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layouts() {
        assert_eq!(record::VMFuncRef::wasm_call, 0);
        assert_eq!(record::VMFuncRef::array_call, 8);
        assert_eq!(record::VMFuncRef::vmctx, 16);
        assert_eq!(record::VMFuncRef::type_index, 24);
        assert_eq!(record::VMFuncRef::SIZE, 32);
        assert_eq!(record::VMMemoryDefinition::current_length, 8);
        assert_eq!(record::VMContextHeader::store_context, 8);
        assert_eq!(record::VMContextHeader::SIZE, 48);
    }

    #[test]
    fn vmctx_regions_are_ordered_and_aligned() {
        let o = VMOffsets::from_counts(2, 1, 1, 3, 5, 4);
        assert_eq!(o.vmctx_imported_function(0), 48);
        assert_eq!(o.vmctx_table(0), 48 + 64);
        assert_eq!(o.vmctx_memory(0), o.vmctx_table(0) + 8);
        assert_eq!(o.vmctx_memory_base(0), o.vmctx_memory(0) + 8);
        assert_eq!(o.vmctx_imported_global(0), o.vmctx_memory_base(0) + 8);
        assert_eq!(o.vmctx_defined_global(0) % 16, 0);
        assert_eq!(o.vmctx_func_ref(0), o.vmctx_defined_global(4) + 16);
        assert_eq!(o.size() % 16, 0);
    }
}
