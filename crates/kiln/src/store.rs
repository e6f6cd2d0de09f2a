//! `Store<T>`: owns every instance, function, memory, table and global created in it, plus the
//! per-store state compiled code reads (`VMStoreContext`). Nothing in a store is freed before
//! the store itself.
//!
//! Handles (`Func`, `Memory`, …) are indices tagged with their store's id; using one with
//! another store panics with "object used with the wrong store".

use crate::Engine;
use crate::runtime::vm::instance::Instance as VmInstance;
use crate::runtime::vm::memory::LinearMemory;
use crate::runtime::vm::table::Table as VmTable;
use crate::runtime::vm::vmcontext::{FuncRef, VMGlobalDefinition, VMGlobalRef, VMStoreContext};
use kiln_environ::{FuncType, GlobalType};
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies a store; handles carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn fresh() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

pub(crate) struct FuncEntry {
    pub(crate) func_ref: FuncRef,
    pub(crate) ty: FuncType,
}

pub(crate) struct GlobalEntry {
    pub(crate) def: VMGlobalRef,
    pub(crate) ty: GlobalType,
}

/// The type-independent part of a store. `vm_store_context` must stay the first field: host
/// functions recover the store from the `VMStoreContext` pointer in a vmctx.
#[repr(C)]
#[expect(
    clippy::vec_box,
    reason = "instances, memories, tables and globals are boxed so the raw pointers vmctx holds to them stay valid when the vectors grow"
)]
pub(crate) struct StoreOpaque {
    pub(crate) vm_store_context: VMStoreContext,
    pub(crate) id: StoreId,
    pub(crate) engine: Engine,
    pub(crate) funcs: Vec<FuncEntry>,
    pub(crate) func_by_ref: HashMap<usize, usize>,
    pub(crate) instances: Vec<Box<VmInstance>>,
    pub(crate) memories: Vec<Box<LinearMemory>>,
    pub(crate) tables: Vec<Box<VmTable>>,
    pub(crate) globals: Vec<GlobalEntry>,
    pub(crate) owned_globals: Vec<Box<VMGlobalDefinition>>,
    pub(crate) externrefs: Vec<Box<dyn Any + Send + Sync>>,
    pub(crate) host_funcs: Vec<Box<dyn Any + Send>>,
}

/// A store and its embedder data. `opaque` must stay the first field (see `StoreOpaque`).
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub(crate) opaque: StoreOpaque,
    pub(crate) data: T,
}

/// A collection of wasm objects and the embedder's data `T`.
pub struct Store<T> {
    pub(crate) inner: Box<StoreInner<T>>,
}

// SAFETY: every raw pointer inside a store points into allocations the store owns (instances,
// memories, tables, globals, host functions) or into immutable module code; none is shared
// with another store, so moving the whole store to another thread is sound when `T` is.
unsafe impl<T: Send> Send for Store<T> {}
// SAFETY: `&Store` only allows reads of store-owned data.
unsafe impl<T: Sync> Sync for Store<T> {}

impl<T> Store<T> {
    /// Creates a store for `engine` holding `data`.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: Box::new(StoreInner {
                opaque: StoreOpaque {
                    vm_store_context: VMStoreContext {
                        stack_limit: 0,
                        last_wasm_exit_fp: 0,
                        fuel_consumed: 0,
                        epoch_deadline: u64::MAX,
                    },
                    id: StoreId::fresh(),
                    engine: engine.clone(),
                    funcs: Vec::new(),
                    func_by_ref: HashMap::new(),
                    instances: Vec::new(),
                    memories: Vec::new(),
                    tables: Vec::new(),
                    globals: Vec::new(),
                    owned_globals: Vec::new(),
                    externrefs: Vec::new(),
                    host_funcs: Vec::new(),
                },
                data,
            }),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }

    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The embedder data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// Consumes the store, returning the embedder data.
    pub fn into_data(self) -> T {
        let inner = *self.inner;
        inner.data
    }
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// A shared borrow of a store (from a `Store` or a `Caller`).
pub struct StoreContext<'a, T>(pub(crate) &'a StoreInner<T>);

/// An exclusive borrow of a store (from a `Store` or a `Caller`).
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut StoreInner<T>);

impl<T> StoreContext<'_, T> {
    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.0.data
    }
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.opaque.engine
    }
}

impl<T> StoreContextMut<'_, T> {
    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.0.data
    }
    /// The embedder data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.0.data
    }
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.opaque.engine
    }
}

/// Something that gives shared access to a store: `Store<T>`, `Caller<T>`, or a reference to
/// one of them.
pub trait AsContext {
    /// The embedder data type.
    type Data;
    /// Borrows the store.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Something that gives exclusive access to a store.
pub trait AsContextMut: AsContext {
    /// Borrows the store exclusively.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(&self.inner)
    }
}
impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(&mut self.inner)
    }
}
impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}
impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}
impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}
impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}
impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}
impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

/// A handle's index in its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Stored {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Stored {
    pub(crate) fn check(&self, store: &StoreOpaque) -> usize {
        assert!(self.store == store.id, "object used with the wrong store");
        self.index
    }
}

impl StoreOpaque {
    pub(crate) fn stored(&self, index: usize) -> Stored {
        Stored {
            store: self.id,
            index,
        }
    }
}

impl<'a, T> From<&'a Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a Store<T>) -> Self {
        StoreContext(&s.inner)
    }
}
impl<'a, T> From<&'a mut Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContext(&s.inner)
    }
}
impl<'a, T> From<&'a StoreContextMut<'_, T>> for StoreContext<'a, T> {
    fn from(s: &'a StoreContextMut<'_, T>) -> Self {
        StoreContext(s.0)
    }
}
impl<'a, T> From<&'a mut StoreContextMut<'_, T>> for StoreContext<'a, T> {
    fn from(s: &'a mut StoreContextMut<'_, T>) -> Self {
        StoreContext(s.0)
    }
}
impl<'a, T> From<&'a mut Store<T>> for StoreContextMut<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContextMut(&mut s.inner)
    }
}
impl<'a, T> From<&'a mut StoreContextMut<'_, T>> for StoreContextMut<'a, T> {
    fn from(s: &'a mut StoreContextMut<'_, T>) -> Self {
        StoreContextMut(s.0)
    }
}
