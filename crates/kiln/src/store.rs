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
use crate::runtime::vm::vmstore::VMStore;
use crate::{ResourceLimiter, Trap};
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
    pub(crate) ty: std::sync::Arc<FuncType>,
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
    limiter: Option<LimiterAccessor<T>>,
    epoch_callback: Option<EpochCallback<T>>,
}

type LimiterAccessor<T> = Box<dyn (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync>;
type EpochCallback<T> =
    Box<dyn FnMut(StoreContextMut<'_, T>) -> anyhow::Result<UpdateDeadline> + Send + Sync>;

/// What an epoch deadline callback asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateDeadline {
    /// Keep running, with a new deadline this many epoch ticks from now.
    Continue(u64),
}

impl<T> VMStore for StoreInner<T> {
    fn memory(&mut self, index: usize) -> &mut LinearMemory {
        &mut self.opaque.memories[index]
    }

    fn table(&mut self, index: usize) -> &mut VmTable {
        &mut self.opaque.tables[index]
    }

    fn limiter(&mut self) -> Option<&mut dyn ResourceLimiter> {
        let accessor = self.limiter.as_mut()?;
        Some(accessor(&mut self.data))
    }

    fn new_epoch(&mut self) -> anyhow::Result<u64> {
        let Some(mut callback) = self.epoch_callback.take() else {
            return Err(Trap::Interrupt.into());
        };
        let result = callback(StoreContextMut(self));
        if self.epoch_callback.is_none() {
            self.epoch_callback = Some(callback);
        }
        let UpdateDeadline::Continue(delta) = result?;
        let epoch = self.opaque.engine.current_epoch();
        let deadline = epoch.saturating_add(delta);
        self.opaque.vm_store_context.epoch_deadline = deadline;
        Ok(deadline)
    }
}

impl<T> StoreInner<T> {
    /// The limiter, for checks made by the embedding API (instantiation, `Memory::new`, ...).
    pub(crate) fn limiter_mut(&mut self) -> Option<&mut dyn ResourceLimiter> {
        VMStore::limiter(self)
    }

    /// Whether charging `cost` units of fuel would leave the store with fuel (always, when fuel
    /// is not metered).
    pub(crate) fn fuel_would_last(&self, cost: u64) -> bool {
        if !self.opaque.engine.config().tunables.consume_fuel {
            return true;
        }
        let consumed = self.opaque.vm_store_context.fuel_consumed;
        i64::try_from(cost)
            .ok()
            .and_then(|c| consumed.checked_add(c))
            .is_some_and(|after| after <= 0)
    }

    /// Charges `cost` units of fuel for work done outside compiled code (instantiation).
    pub(crate) fn consume_fuel(&mut self, cost: u64) -> anyhow::Result<()> {
        if !self.opaque.engine.config().tunables.consume_fuel {
            return Ok(());
        }
        let ctx = &mut self.opaque.vm_store_context;
        ctx.fuel_consumed = ctx
            .fuel_consumed
            .saturating_add(i64::try_from(cost).unwrap_or(i64::MAX));
        if ctx.fuel_consumed > 0 {
            return Err(Trap::OutOfFuel.into());
        }
        Ok(())
    }
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

impl<T: 'static> Store<T> {
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
                limiter: None,
                epoch_callback: None,
            }),
        }
    }

    /// Gives the store `fuel` units of fuel (replacing what is left). Requires
    /// `Config::consume_fuel`. Each wasm operator costs the amount in `docs/fuel.md`; running
    /// out traps with [`Trap::OutOfFuel`].
    pub fn set_fuel(&mut self, fuel: u64) -> anyhow::Result<()> {
        self.check_fuel_enabled()?;
        let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
        self.inner.opaque.vm_store_context.fuel_consumed = -fuel;
        Ok(())
    }

    /// The fuel left. Requires `Config::consume_fuel`.
    pub fn get_fuel(&self) -> anyhow::Result<u64> {
        self.check_fuel_enabled()?;
        let consumed = self.inner.opaque.vm_store_context.fuel_consumed;
        Ok(u64::try_from(-consumed.min(0)).unwrap_or(0))
    }

    fn check_fuel_enabled(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.engine().config().tunables.consume_fuel,
            "fuel is not enabled in this store's engine (see `Config::consume_fuel`)"
        );
        Ok(())
    }

    /// Sets the epoch deadline `ticks_beyond_current` engine epochs from now. Requires
    /// `Config::epoch_interruption`. Until a deadline is set, the store never interrupts.
    pub fn set_epoch_deadline(&mut self, ticks_beyond_current: u64) {
        let epoch = self.engine().current_epoch();
        self.inner.opaque.vm_store_context.epoch_deadline =
            epoch.saturating_add(ticks_beyond_current);
    }

    /// When the deadline is reached, trap with [`Trap::Interrupt`] (the default).
    pub fn epoch_deadline_trap(&mut self) {
        self.inner.epoch_callback = None;
    }

    /// When the deadline is reached, call `callback`: it returns a new deadline
    /// ([`UpdateDeadline::Continue`]) or an error, which stops execution with that error.
    pub fn epoch_deadline_callback(
        &mut self,
        callback: impl FnMut(StoreContextMut<'_, T>) -> anyhow::Result<UpdateDeadline>
        + Send
        + Sync
        + 'static,
    ) {
        self.inner.epoch_callback = Some(Box::new(callback));
    }

    /// Installs a resource limiter, reached through the store's data.
    pub fn limiter(
        &mut self,
        accessor: impl (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync + 'static,
    ) {
        self.inner.limiter = Some(Box::new(accessor));
    }
}

impl<T> Store<T> {
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
    #[inline]
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
