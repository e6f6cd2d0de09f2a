//! What the runtime needs from a store without knowing its data type: its memories and tables
//! by index, its resource limiter, and its epoch-deadline behaviour. `StoreInner<T>`
//! implements [`VMStore`]; each instance keeps a pointer to it so builtins can reach it.
//!
//! Growth goes through [`grow_memory`] and [`grow_table`], so the wasm instructions and the
//! embedding API apply the same limits in the same order: type maximum, then the limiter, then
//! the allocation.

use super::memory::LinearMemory;
use super::table::Table;
use crate::ResourceLimiter;
use anyhow::{Result, anyhow};
use kiln_environ::WASM_PAGE_SIZE;

/// The store, as the runtime sees it.
pub trait VMStore {
    /// The memory with this store index.
    fn memory(&mut self, index: usize) -> &mut LinearMemory;
    /// The table with this store index.
    fn table(&mut self, index: usize) -> &mut Table;
    /// The embedder's resource limiter, if any.
    fn limiter(&mut self) -> Option<&mut dyn ResourceLimiter>;
    /// The epoch deadline was reached: run the deadline callback and return the new deadline,
    /// or the error (by default the `Interrupt` trap) that stops execution.
    fn new_epoch(&mut self) -> Result<u64>;
}

/// Grows memory `index` by `delta` pages. `Ok(None)` means "refused" (wasm sees -1); `Err`
/// means the limiter asked for a trap.
pub fn grow_memory(store: &mut dyn VMStore, index: usize, delta: u64) -> Result<Option<u64>> {
    let mem = store.memory(index);
    let current = mem.byte_size();
    let max_pages = mem.maximum_pages();
    let maximum = usize::try_from(max_pages * WASM_PAGE_SIZE).ok();
    let desired_pages = mem.pages().checked_add(delta);
    let desired = desired_pages
        .and_then(|p| p.checked_mul(WASM_PAGE_SIZE))
        .and_then(|b| usize::try_from(b).ok());
    let Some(desired) = desired.filter(|_| desired_pages.is_some_and(|p| p <= max_pages)) else {
        let err = anyhow!("memory maximum size of {max_pages} pages would be exceeded");
        return fail_memory(store, err);
    };
    if delta == 0 {
        return Ok(Some(store.memory(index).pages()));
    }
    if let Some(limiter) = store.limiter()
        && !limiter.memory_growing(current, desired, maximum)?
    {
        return Ok(None);
    }
    match store.memory(index).grow(delta) {
        Some(old) => Ok(Some(old)),
        None => fail_memory(store, anyhow!("failed to grow memory to {desired} bytes")),
    }
}

fn fail_memory(store: &mut dyn VMStore, err: anyhow::Error) -> Result<Option<u64>> {
    if let Some(limiter) = store.limiter() {
        limiter.memory_grow_failed(err)?;
    }
    Ok(None)
}

/// Grows table `index` by `delta` elements set to `init`; like [`grow_memory`].
pub fn grow_table(
    store: &mut dyn VMStore,
    index: usize,
    delta: u64,
    init: usize,
) -> Result<Option<u64>> {
    let table = store.table(index);
    let current = table.size();
    let maximum = table.maximum();
    let declared_max = table.ty().maximum.and_then(|m| usize::try_from(m).ok());
    let Some(desired) = current.checked_add(delta).filter(|d| *d <= maximum) else {
        return fail_table(
            store,
            anyhow!("table maximum size of {maximum} elements would be exceeded"),
        );
    };
    if delta == 0 {
        return Ok(Some(current));
    }
    let (cur, des) = (current as usize, desired as usize);
    if let Some(limiter) = store.limiter()
        && !limiter.table_growing(cur, des, declared_max)?
    {
        return Ok(None);
    }
    match store.table(index).grow(delta, init) {
        Some(old) => Ok(Some(old)),
        None => fail_table(store, anyhow!("failed to grow table to {desired} elements")),
    }
}

fn fail_table(store: &mut dyn VMStore, err: anyhow::Error) -> Result<Option<u64>> {
    if let Some(limiter) = store.limiter() {
        limiter.table_grow_failed(err)?;
    }
    Ok(None)
}
