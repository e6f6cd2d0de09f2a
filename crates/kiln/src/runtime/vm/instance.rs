//! A runtime instance: its vmctx allocation and the operations builtins perform on it.
//!
//! The vmctx is a 16-aligned, zeroed block laid out by `VMOffsets`. All reads and writes of it
//! go through [`Instance::vmctx_plus_offset`], the single place that turns an offset into a
//! pointer.

use super::image::MemoryImage;
use super::memory::LinearMemory;
use super::pool::SlotPool;
use super::table::Table;
use super::vmcontext::{
    FuncRef, VMContextHeader, VMFuncRef, VMGlobalDefinition, VMGlobalRef, VMStoreContext, ValRaw,
};
use kiln_environ::{ConstExpr, ConstOp, ElemItems, ModuleInfo, Trap, VMOffsets};
use std::alloc::Layout;
use std::sync::Arc;

/// What compiled code and builtins need of a module, shared by all its instances.
#[derive(Debug)]
pub struct ModuleRuntimeInfo {
    /// The module description.
    pub module: ModuleInfo,
    /// vmctx layout.
    pub offsets: VMOffsets,
    /// Engine-wide type id of each module type.
    pub type_ids: Box<[u32]>,
    /// The published code.
    pub code: Arc<super::code_memory::CodeMemory>,
    /// Copy-on-write images of the defined memories, made on first use.
    pub memory_images: std::sync::OnceLock<Box<[Option<Arc<MemoryImage>>]>>,
}

impl ModuleRuntimeInfo {
    /// The image of each defined memory (made on the first call). A failure to make them (no
    /// memfd, say) is not an error: instantiation copies the segments instead.
    pub fn memory_images(&self) -> &[Option<Arc<MemoryImage>>] {
        self.memory_images.get_or_init(|| {
            super::image::module_images(&self.module).unwrap_or_else(|_| {
                let defined =
                    self.module.memories.len() - self.module.num_imported_memories as usize;
                vec![None; defined].into_boxed_slice()
            })
        })
    }
}

/// A runtime instance. Owned (boxed) by its store; its vmctx lives as long as it does.
#[derive(Debug)]
pub struct Instance {
    /// The module.
    pub info: Arc<ModuleRuntimeInfo>,
    vmctx: *mut u8,
    vmctx_alloc: VmctxAlloc,
    /// Every memory of the instance (imported first), owned by the store.
    pub memories: Vec<*mut LinearMemory>,
    /// Every table of the instance (imported first), owned by the store.
    pub tables: Vec<*mut Table>,
    /// Store indices of the memories, tables and globals, for exports.
    pub memory_ids: Vec<usize>,
    /// See `memory_ids`.
    pub table_ids: Vec<usize>,
    /// See `memory_ids`; `None` for a defined global not yet exported.
    pub global_ids: Vec<Option<usize>>,
    /// Whether each element segment has been dropped.
    pub dropped_elems: Vec<bool>,
    /// Whether each data segment has been dropped.
    pub dropped_data: Vec<bool>,
    /// This instance's index in its store.
    pub store_index: usize,
    /// The store owning this instance.
    store: *mut dyn super::vmstore::VMStore,
}

/// Where a vmctx was allocated.
#[derive(Debug)]
enum VmctxAlloc {
    /// The global allocator, with this layout.
    Heap(Layout),
    /// A slot of the pooling allocator.
    Pooled(Arc<SlotPool>, usize),
}

// SAFETY: raw pointers refer to allocations owned by the same store, which moves between
// threads as a whole.
unsafe impl Send for Instance {}

impl Instance {
    /// Allocates a zeroed vmctx (from `pool` if given) and fills its header. Everything else
    /// is filled by instantiation.
    pub fn new(
        info: Arc<ModuleRuntimeInfo>,
        store: *mut dyn super::vmstore::VMStore,
        store_ctx: *mut VMStoreContext,
        builtins: *const usize,
        epoch_counter: *const u64,
        store_index: usize,
        pool: Option<&Arc<SlotPool>>,
    ) -> anyhow::Result<Box<Instance>> {
        let size = info.offsets.size().max(16) as usize;
        let (vmctx, vmctx_alloc) = match pool {
            None => {
                let layout = Layout::from_size_align(size, 16)?;
                // SAFETY: layout has non-zero size.
                let vmctx = unsafe { std::alloc::alloc_zeroed(layout) };
                if vmctx.is_null() {
                    std::alloc::handle_alloc_error(layout);
                }
                (vmctx, VmctxAlloc::Heap(layout))
            }
            Some(pool) => {
                if size > pool.slot_size() {
                    anyhow::bail!(
                        "instance state of {size} bytes exceeds the pooling allocator's \
                         max_core_instance_size of {} bytes",
                        pool.slot_size()
                    );
                }
                let (slot, vmctx) = pool.allocate()?;
                // SAFETY: the slot is ours, page aligned and at least `size` bytes.
                unsafe { vmctx.write_bytes(0, size) };
                (vmctx, VmctxAlloc::Pooled(pool.clone(), slot))
            }
        };
        let m = &info.module;
        let mut inst = Box::new(Instance {
            vmctx,
            vmctx_alloc,
            memories: Vec::with_capacity(m.memories.len()),
            tables: Vec::with_capacity(m.tables.len()),
            memory_ids: Vec::with_capacity(m.memories.len()),
            table_ids: Vec::with_capacity(m.tables.len()),
            global_ids: vec![None; m.globals.len()],
            dropped_elems: vec![false; m.elements.len()],
            dropped_data: vec![false; m.data.len()],
            store_index,
            store,
            info,
        });
        let me: *mut Instance = &mut *inst;
        // SAFETY: the header lies at offset 0 of a zeroed allocation at least as large.
        let header = unsafe { &mut *inst.vmctx.cast::<VMContextHeader>() };
        header.magic = kiln_environ::vmoffsets::VMCTX_MAGIC;
        header.store_context = store_ctx.cast();
        header.builtins = builtins as *mut _;
        header.type_ids = inst.info.type_ids.as_ptr() as *mut _;
        header.epoch_counter = epoch_counter as *mut _;
        header.instance = me.cast();
        Ok(inst)
    }

    /// The store owning this instance. It outlives the instance; dereference it only while
    /// no other reference into the store is in use (for example in a builtin, after dropping
    /// the reference to this instance).
    pub fn store_ptr(&self) -> *mut dyn super::vmstore::VMStore {
        self.store
    }

    /// The instance owning `vmctx`.
    ///
    /// # Safety
    ///
    /// `vmctx` must be the vmctx of a live instance, and no other reference to that instance
    /// may be used while the result is.
    pub unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a mut Instance {
        // SAFETY: a live vmctx's header holds the back pointer to its boxed instance.
        unsafe {
            &mut *(*vmctx.cast::<VMContextHeader>())
                .instance
                .cast::<Instance>()
        }
    }

    /// A typed pointer into the vmctx.
    ///
    /// # Safety
    ///
    /// `offset` must come from this module's `VMOffsets` for a field of type `T`.
    unsafe fn vmctx_plus_offset<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset < self.info.offsets.size());
        // SAFETY: in bounds of the vmctx allocation per the caller's obligation.
        unsafe { self.vmctx.add(offset as usize).cast() }
    }

    /// The `VMFuncRef` slot of function `index` (import record or escape slot), if it has one.
    fn func_ref_slot(&self, index: u32) -> Option<*mut VMFuncRef> {
        let m = &self.info.module;
        let o = &self.info.offsets;
        let offset = if m.is_imported_func(index) {
            o.vmctx_imported_function(index)
        } else {
            o.vmctx_func_ref(*m.escape_slot.get(&index)?)
        };
        // SAFETY: the offset is a VMFuncRef slot of this vmctx.
        Some(unsafe { self.vmctx_plus_offset(offset) })
    }

    /// The funcref of function `index`, if it escapes (every import does). Valid once
    /// instantiation filled the slot, for as long as this instance lives.
    pub fn func_ref(&self, index: u32) -> Option<FuncRef> {
        self.func_ref_slot(index).and_then(|p| {
            // The slot lies in this instance's vmctx, which the store keeps alive as long as
            // any value referring to it.
            // SAFETY: so it satisfies `FuncRef`'s invariant.
            unsafe { FuncRef::new(p) }
        })
    }

    /// Fills the import record of function `index` from the imported function's record.
    pub fn set_imported_func(&mut self, index: u32, src: FuncRef) {
        let dst = self.func_ref_slot(index).expect("imports have slots");
        let record = VMFuncRef { ..*src.get() };
        // SAFETY: `dst` is this vmctx's import slot.
        unsafe { dst.write(record) };
    }

    /// Fills the escape slot of defined function `index` with its code and this vmctx.
    pub fn init_func_ref(
        &mut self,
        index: u32,
        wasm_call: usize,
        array_call: usize,
        type_index: u32,
    ) {
        let vmctx = self.vmctx.cast();
        let dst = self
            .func_ref_slot(index)
            .expect("escaping functions have slots");
        let record = VMFuncRef {
            wasm_call: wasm_call as *mut _,
            array_call: array_call as *mut _,
            vmctx,
            type_index,
            _pad: 0,
        };
        // SAFETY: `dst` is this vmctx's escape slot for `index`.
        unsafe { dst.write(record) };
    }

    /// Sets the table pointer slot of table `index`.
    /// `table` must be owned (boxed) by the same store as this instance, which keeps it alive
    /// and in place as long as the instance.
    pub fn set_table(&mut self, index: u32, table: &mut Table) {
        let def = table.vmdef();
        // SAFETY: the offset is table `index`'s pointer slot.
        unsafe { *self.vmctx_plus_offset(self.info.offsets.vmctx_table(index)) = def };
        self.tables.push(table);
    }

    /// Sets the memory pointer slot of memory `index`.
    /// `mem` must be owned (boxed) by the same store as this instance (see `set_table`).
    pub fn set_memory(&mut self, index: u32, mem: &mut LinearMemory) {
        let def = mem.vmdef();
        // The offsets are memory `index`'s pointer and base slots, and `def` points to the
        // memory's live definition (the memory is boxed and owned by the store).
        // SAFETY: so both writes and the read stay inside live allocations.
        unsafe {
            *self.vmctx_plus_offset(self.info.offsets.vmctx_memory(index)) = def;
            *self.vmctx_plus_offset(self.info.offsets.vmctx_memory_base(index)) = (*def).base;
        }
        self.memories.push(mem);
    }

    /// Sets the pointer slot of imported global `index`.
    pub fn set_imported_global(&mut self, index: u32, def: VMGlobalRef) {
        let slot = self.info.offsets.vmctx_imported_global(index);
        // SAFETY: the offset is imported global `index`'s pointer slot.
        unsafe { *self.vmctx_plus_offset(slot) = def.as_ptr() };
    }

    /// The definition of global `index` (imported: where the import points).
    pub fn global_ref(&self, index: u32) -> VMGlobalRef {
        let m = &self.info.module;
        let o = &self.info.offsets;
        let ptr: *mut VMGlobalDefinition = if m.is_imported_global(index) {
            // SAFETY: the offset is the import's pointer slot, filled at instantiation.
            unsafe {
                *self.vmctx_plus_offset::<*mut VMGlobalDefinition>(o.vmctx_imported_global(index))
            }
        } else {
            let defined = index - m.num_imported_globals;
            // SAFETY: the offset is the defined global's inline storage.
            unsafe { self.vmctx_plus_offset(o.vmctx_defined_global(defined)) }
        };
        // SAFETY: imported slots point to live definitions owned by the store; defined ones
        // live in this vmctx, which the store keeps alive.
        unsafe { VMGlobalRef::new(ptr) }.expect("global slots are filled before use")
    }

    /// Evaluates a constant expression.
    pub fn eval_const(&self, expr: &ConstExpr) -> ValRaw {
        let mut stack: Vec<ValRaw> = Vec::with_capacity(2);
        for op in expr.ops.iter() {
            let v = match *op {
                ConstOp::I32Const(v) => ValRaw::i32(v),
                ConstOp::I64Const(v) => ValRaw::i64(v),
                ConstOp::F32Const(v) => ValRaw::f32(v),
                ConstOp::F64Const(v) => ValRaw::f64(v),
                ConstOp::V128Const(v) => ValRaw::u128(v),
                ConstOp::RefNull(_) => ValRaw::reference(0),
                ConstOp::RefFunc(f) => {
                    ValRaw::reference(self.func_ref(f).map_or(0, FuncRef::as_raw))
                }
                ConstOp::GlobalGet(g) => self.global_ref(g).get_raw(),
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    let b = stack.pop().unwrap_or_default().get_i32();
                    let a = stack.pop().unwrap_or_default().get_i32();
                    ValRaw::i32(match *op {
                        ConstOp::I32Add => a.wrapping_add(b),
                        ConstOp::I32Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    })
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    let b = stack.pop().unwrap_or_default().get_i64();
                    let a = stack.pop().unwrap_or_default().get_i64();
                    ValRaw::i64(match *op {
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    })
                }
            };
            stack.push(v);
        }
        stack.pop().unwrap_or_default()
    }

    /// The reference values of element segment `index` (empty once dropped).
    pub fn elem_values(&self, index: u32) -> Vec<usize> {
        if self.dropped_elems[index as usize] {
            return Vec::new();
        }
        match &self.info.module.elements[index as usize].items {
            ElemItems::Functions(fs) => fs
                .iter()
                .map(|&f| self.func_ref(f).map_or(0, FuncRef::as_raw))
                .collect(),
            ElemItems::Exprs(es) => es
                .iter()
                .map(|e| self.eval_const(e).get_reference())
                .collect(),
        }
    }

    /// `table.init`: copies `len` items of element segment `elem` from `src` into `table` at
    /// `dst`.
    pub fn table_init(
        &mut self,
        table: u32,
        elem: u32,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), Trap> {
        let values = self.elem_values(elem);
        // SAFETY: table pointers are live boxes owned by the store.
        let table = unsafe { &mut *self.tables[table as usize] };
        let src_end = src.checked_add(len).ok_or(Trap::TableOutOfBounds)?;
        let dst_end = dst.checked_add(len).ok_or(Trap::TableOutOfBounds)?;
        if src_end > values.len() as u64 || dst_end > table.size() {
            return Err(Trap::TableOutOfBounds);
        }
        table.elements_mut()[dst as usize..dst_end as usize]
            .copy_from_slice(&values[src as usize..src_end as usize]);
        Ok(())
    }

    /// `memory.init`.
    pub fn memory_init(
        &mut self,
        memory: u32,
        data: u32,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), Trap> {
        let bytes: &[u8] = if self.dropped_data[data as usize] {
            &[]
        } else {
            &self.info.module.data[data as usize].data
        };
        // SAFETY: memory pointers are live boxes owned by the store.
        let mem = unsafe { &mut *self.memories[memory as usize] };
        let src_end = src.checked_add(len).ok_or(Trap::MemoryOutOfBounds)?;
        let dst_end = dst.checked_add(len).ok_or(Trap::MemoryOutOfBounds)?;
        if src_end > bytes.len() as u64 || dst_end > mem.byte_size() as u64 {
            return Err(Trap::MemoryOutOfBounds);
        }
        mem.data_mut()[dst as usize..dst_end as usize]
            .copy_from_slice(&bytes[src as usize..src_end as usize]);
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        match &self.vmctx_alloc {
            // SAFETY: allocated in `new` with this layout and not freed elsewhere.
            VmctxAlloc::Heap(layout) => unsafe { std::alloc::dealloc(self.vmctx, *layout) },
            VmctxAlloc::Pooled(pool, slot) => pool.release(*slot),
        }
    }
}
