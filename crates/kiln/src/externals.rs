//! Things an instance imports and exports: functions, memories, tables and globals.

use crate::runtime::vm::memory::LinearMemory;
use crate::runtime::vm::table::Table as VmTable;
use crate::runtime::vm::vmcontext::{VMGlobalDefinition, VMGlobalRef};
use crate::runtime::vm::vmstore::{grow_memory, grow_table};
use crate::store::{GlobalEntry, StoreOpaque, Stored};
use crate::{AsContext, AsContextMut, Func, StoreContext, StoreContextMut, Val, ValType};
use anyhow::{Result, bail, ensure};
pub use kiln_environ::{GlobalType, MemoryType, TableType};

/// An external item: what instances import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }
    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }
    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }
    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }
    /// A short description of the kind: "function", "global", "table" or "memory".
    pub fn kind(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Global(_) => "global",
            Extern::Table(_) => "table",
            Extern::Memory(_) => "memory",
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

/// A linear memory owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memory(pub(crate) Stored);

impl Memory {
    /// Creates a memory of type `ty`.
    pub fn new<T>(mut store: impl AsContextMut<Data = T>, ty: MemoryType) -> Result<Memory> {
        let inner = store.as_context_mut().0;
        crate::instance::check_initial_memory(inner, &ty)?;
        let store = &mut inner.opaque;
        let mem = LinearMemory::new(ty, &store.engine.config().tunables)?;
        Ok(Memory::push(store, mem))
    }

    pub(crate) fn push(store: &mut StoreOpaque, mem: Box<LinearMemory>) -> Memory {
        store.memories.push(mem);
        Memory(store.stored(store.memories.len() - 1))
    }

    pub(crate) fn vm<'a>(&self, store: &'a StoreOpaque) -> &'a LinearMemory {
        &store.memories[self.0.check(store)]
    }

    pub(crate) fn vm_mut<'a>(&self, store: &'a mut StoreOpaque) -> &'a mut LinearMemory {
        let i = self.0.check(store);
        &mut store.memories[i]
    }

    /// The memory's type, with its current size as the minimum.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        let m = self.vm(&store.as_context().0.opaque);
        MemoryType {
            minimum: m.pages(),
            ..m.ty()
        }
    }

    /// The contents.
    pub fn data<'a, T: 'a>(&self, store: impl Into<StoreContext<'a, T>>) -> &'a [u8] {
        self.vm(&store.into().0.opaque).data()
    }

    /// The contents, mutably.
    pub fn data_mut<'a, T: 'a>(&self, store: impl Into<StoreContextMut<'a, T>>) -> &'a mut [u8] {
        self.vm_mut(&mut store.into().0.opaque).data_mut()
    }

    /// The contents, mutably, together with the store's embedder data (so a host function can
    /// use both at once, as WASI does with its context and the guest's memory).
    pub fn data_and_store_mut<'a, T: 'a>(
        &self,
        store: impl Into<StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let inner = store.into().0;
        let i = self.0.check(&inner.opaque);
        (inner.opaque.memories[i].data_mut(), &mut inner.data)
    }

    /// Size in bytes.
    pub fn data_size(&self, store: impl AsContext) -> usize {
        self.vm(&store.as_context().0.opaque).byte_size()
    }

    /// Size in wasm pages.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.vm(&store.as_context().0.opaque).pages()
    }

    /// Reads `buf.len()` bytes at `offset`.
    pub fn read(&self, store: impl AsContext, offset: usize, buf: &mut [u8]) -> Result<()> {
        let data = self.vm(&store.as_context().0.opaque).data();
        let end = offset.checked_add(buf.len());
        match end.and_then(|end| data.get(offset..end)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => bail!("out of bounds memory access"),
        }
    }

    /// Writes `buf` at `offset`.
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, buf: &[u8]) -> Result<()> {
        let data = self.vm_mut(&mut store.as_context_mut().0.opaque).data_mut();
        let end = offset.checked_add(buf.len());
        match end.and_then(|end| data.get_mut(offset..end)) {
            Some(dst) => {
                dst.copy_from_slice(buf);
                Ok(())
            }
            None => bail!("out of bounds memory access"),
        }
    }

    /// Grows by `delta` pages, returning the old size in pages. The store's limiter applies,
    /// as for `memory.grow`.
    pub fn grow<T>(&self, mut store: impl AsContextMut<Data = T>, delta: u64) -> Result<u64> {
        let inner = store.as_context_mut().0;
        let index = self.0.check(&inner.opaque);
        match grow_memory(inner, index, delta)? {
            Some(old) => Ok(old),
            None => bail!("failed to grow memory by {delta} pages"),
        }
    }
}

/// A table owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table(pub(crate) Stored);

impl Table {
    /// Creates a table of type `ty` with every element set to `init`.
    pub fn new<T>(
        mut store: impl AsContextMut<Data = T>,
        ty: TableType,
        init: Val,
    ) -> Result<Table> {
        let inner = store.as_context_mut().0;
        crate::instance::check_initial_table(inner, &ty)?;
        let store = &mut inner.opaque;
        init.check(ValType::Ref(ty.element), store)?;
        let init = init.to_raw(store).get_reference();
        let t = VmTable::new(ty, init)?;
        Ok(Table::push(store, t))
    }

    pub(crate) fn push(store: &mut StoreOpaque, t: Box<VmTable>) -> Table {
        store.tables.push(t);
        Table(store.stored(store.tables.len() - 1))
    }

    pub(crate) fn vm<'a>(&self, store: &'a StoreOpaque) -> &'a VmTable {
        &store.tables[self.0.check(store)]
    }

    /// The table's type, with its current size as the minimum.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        let t = self.vm(&store.as_context().0.opaque);
        TableType {
            minimum: t.size(),
            ..t.ty()
        }
    }

    /// Number of elements.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.vm(&store.as_context().0.opaque).size()
    }

    /// Element `index`, or `None` out of bounds.
    pub fn get(&self, mut store: impl AsContextMut, index: u64) -> Option<Val> {
        let store = &mut store.as_context_mut().0.opaque;
        let t = self.vm(store);
        let raw = t.get(index)?;
        let ty = ValType::Ref(t.ty().element);
        Some(Val::from_raw(
            store,
            crate::runtime::vm::vmcontext::ValRaw::reference(raw),
            ty,
        ))
    }

    /// Sets element `index`.
    pub fn set(&self, mut store: impl AsContextMut, index: u64, val: Val) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        let i = self.0.check(store);
        val.check(ValType::Ref(store.tables[i].ty().element), store)?;
        let raw = val.to_raw(store).get_reference();
        ensure!(
            store.tables[i].set(index, raw),
            "out of bounds table access"
        );
        Ok(())
    }

    /// Grows by `delta` elements set to `init`, returning the old size. The store's limiter
    /// applies, as for `table.grow`.
    pub fn grow<T>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        let inner = store.as_context_mut().0;
        let store = &mut inner.opaque;
        let i = self.0.check(store);
        init.check(ValType::Ref(store.tables[i].ty().element), store)?;
        let raw = init.to_raw(store).get_reference();
        match grow_table(inner, i, delta, raw)? {
            Some(old) => Ok(old),
            None => bail!("failed to grow table by {delta}"),
        }
    }
}

/// A global owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Global(pub(crate) Stored);

impl Global {
    /// Creates a global of type `ty` with value `val`.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, val: Val) -> Result<Global> {
        let store = &mut store.as_context_mut().0.opaque;
        val.check(ty.content, store)?;
        let mut def = Box::new(VMGlobalDefinition::default());
        def.set_raw(val.to_raw(store));
        let global_ref = VMGlobalRef::from_box(&mut def);
        store.owned_globals.push(def);
        Ok(Global::push(store, global_ref, ty))
    }

    pub(crate) fn push(store: &mut StoreOpaque, def: VMGlobalRef, ty: GlobalType) -> Global {
        store.globals.push(GlobalEntry { def, ty });
        Global(store.stored(store.globals.len() - 1))
    }

    pub(crate) fn entry<'a>(&self, store: &'a StoreOpaque) -> &'a GlobalEntry {
        &store.globals[self.0.check(store)]
    }

    /// The global's type.
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        self.entry(&store.as_context().0.opaque).ty
    }

    /// The current value.
    pub fn get(&self, mut store: impl AsContextMut) -> Val {
        let store = &mut store.as_context_mut().0.opaque;
        let e = self.entry(store);
        let ty = e.ty.content;
        let raw = e.def.get_raw();
        Val::from_raw(store, raw, ty)
    }

    /// Sets the value; fails if the global is immutable or `val` has another type.
    pub fn set(&self, mut store: impl AsContextMut, val: Val) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        let e = self.entry(store);
        ensure!(e.ty.mutable, "immutable global cannot be set");
        val.check(e.ty.content, store)?;
        let raw = val.to_raw(store);
        self.entry(store).def.set_raw(raw);
        Ok(())
    }
}
