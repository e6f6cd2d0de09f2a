//! Linear memories.
//!
//! A memory is one anonymous mapping: `pre_guard | capacity | guard`, all inaccessible except
//! the first `current_length` bytes of the capacity. With the default tunables the capacity is
//! the whole 4 GiB reservation, so a 32-bit memory never moves and accesses whose static
//! offset fits the guard need no bounds check. With a small reservation (explicit bounds
//! checks) a growth beyond the capacity moves the memory to a larger mapping.

use super::sys::{self, Mmap};
use super::vmcontext::VMMemoryDefinition;
use anyhow::{Result, bail};
use kiln_environ::{MemoryType, Tunables, WASM_PAGE_SIZE};

/// The largest number of pages a 32-bit memory may have.
const MAX_PAGES_32: u64 = 1 << 16;

/// A linear memory.
#[derive(Debug)]
pub struct LinearMemory {
    mmap: Mmap,
    pre_guard: usize,
    capacity: usize,
    guard: usize,
    def: VMMemoryDefinition,
    ty: MemoryType,
    /// Whether growth may move the memory (reservation smaller than the maximum size).
    may_move: bool,
}

impl LinearMemory {
    /// Creates a memory of `ty.minimum` pages.
    pub fn new(ty: MemoryType, tunables: &Tunables) -> Result<Box<LinearMemory>> {
        if ty.memory64 || ty.shared {
            bail!("64-bit and shared memories are not supported");
        }
        let min_bytes = ty.minimum.saturating_mul(WASM_PAGE_SIZE);
        if ty.minimum > MAX_PAGES_32 {
            bail!("memory minimum of {} pages is too large", ty.minimum);
        }
        let page = sys::page_size();
        let min_bytes = usize::try_from(min_bytes)?;
        let reservation = usize::try_from(tunables.memory_reservation)?;
        let capacity = reservation.max(min_bytes).next_multiple_of(page);
        let guard = usize::try_from(tunables.memory_guard_size)?.next_multiple_of(page);
        // A pre-guard as large as the guard catches accesses computed from negative offsets.
        let pre_guard = if tunables.signals_based_traps {
            guard
        } else {
            0
        };
        let mmap = Mmap::reserve(pre_guard + capacity + guard)?;
        let mut mem = Box::new(LinearMemory {
            mmap,
            pre_guard,
            capacity,
            guard,
            def: VMMemoryDefinition {
                base: core::ptr::null_mut(),
                current_length: 0,
            },
            ty,
            may_move: tunables.memory_may_move(&ty),
        });
        mem.mmap.make_accessible(pre_guard, min_bytes)?;
        mem.def.base = mem.base().cast();
        mem.def.current_length = min_bytes;
        Ok(mem)
    }

    fn base(&self) -> *mut u8 {
        // SAFETY: `pre_guard` is within the mapping.
        unsafe { self.mmap.as_ptr().add(self.pre_guard) }
    }

    /// The type (its minimum is the creation size).
    pub fn ty(&self) -> MemoryType {
        self.ty
    }

    /// The record compiled code reads.
    pub fn vmdef(&mut self) -> *mut VMMemoryDefinition {
        &mut self.def
    }

    /// Current size in bytes.
    pub fn byte_size(&self) -> usize {
        self.def.current_length
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.def.current_length as u64 / WASM_PAGE_SIZE
    }

    /// The largest size in pages this memory may reach.
    pub fn maximum_pages(&self) -> u64 {
        self.ty.maximum.unwrap_or(MAX_PAGES_32).min(MAX_PAGES_32)
    }

    /// The accessible bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: the first `current_length` bytes after `base` are mapped read-write and
        // owned by this memory.
        unsafe { core::slice::from_raw_parts(self.base(), self.def.current_length) }
    }

    /// The accessible bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and `&mut self` gives exclusive access.
        unsafe { core::slice::from_raw_parts_mut(self.base(), self.def.current_length) }
    }

    /// Grows by `delta` pages. Returns the old size in pages, or `None` if the memory cannot
    /// grow that far (the maximum, or the host refusing address space).
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old_pages = self.pages();
        let new_pages = old_pages.checked_add(delta)?;
        if new_pages > self.maximum_pages() {
            return None;
        }
        if delta == 0 {
            return Some(old_pages);
        }
        let new_bytes = usize::try_from(new_pages * WASM_PAGE_SIZE).ok()?;
        let old_bytes = self.def.current_length;
        if new_bytes > self.capacity {
            if !self.may_move {
                return None;
            }
            // Move to a larger mapping, leaving room to grow again without copying.
            let page = sys::page_size();
            let max_bytes = usize::try_from(self.maximum_pages() * WASM_PAGE_SIZE).ok()?;
            let capacity = new_bytes
                .saturating_add(new_bytes / 2)
                .min(max_bytes)
                .max(new_bytes)
                .next_multiple_of(page);
            let mut mmap = Mmap::reserve(self.pre_guard + capacity + self.guard).ok()?;
            mmap.make_accessible(self.pre_guard, new_bytes).ok()?;
            // SAFETY: both ranges are accessible and distinct mappings; `old_bytes` fits both.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    self.base(),
                    mmap.as_ptr().add(self.pre_guard),
                    old_bytes,
                );
            }
            self.mmap = mmap;
            self.capacity = capacity;
            self.def.base = self.base().cast();
        } else {
            self.mmap
                .make_accessible(self.pre_guard + old_bytes, new_bytes - old_bytes)
                .ok()?;
        }
        self.def.current_length = new_bytes;
        Some(old_pages)
    }
}
