//! Linear memories.
//!
//! A memory is one anonymous mapping, `pre_guard | capacity | guard`, or a slot of the engine's
//! pooling allocator laid out the same way; all of it is inaccessible except the first
//! `current_length` bytes of the capacity. Its initial contents may be a copy-on-write image
//! (`image.rs`) mapped over the zero pages. With the default tunables the capacity is
//! the whole 4 GiB reservation, so a 32-bit memory never moves and accesses whose static
//! offset fits the guard need no bounds check. With a small reservation (explicit bounds
//! checks) a growth beyond the capacity moves the memory to a larger mapping.

use super::image::MemoryImage;
use super::pool::MemoryPool;
use super::sys::{self, Access, Mmap};
use super::vmcontext::VMMemoryDefinition;
use anyhow::{Result, bail};
use kiln_environ::{MemoryType, Tunables, WASM_PAGE_SIZE};
use std::sync::Arc;

/// The largest number of pages a 32-bit memory may have.
const MAX_PAGES_32: u64 = 1 << 16;

/// A linear memory.
#[derive(Debug)]
pub struct LinearMemory {
    /// The first byte of the memory.
    base: *mut u8,
    /// Bytes the memory may grow to in place.
    capacity: usize,
    /// A bound on its size in bytes besides its type's maximum (the pool's `max_memory_size`).
    max_size: usize,
    def: VMMemoryDefinition,
    ty: MemoryType,
    /// Whether growth may move the memory (reservation smaller than the maximum size).
    may_move: bool,
    /// The copy-on-write image mapped at its offset, if any.
    image: Option<Arc<MemoryImage>>,
    backing: Backing,
}

/// Where a memory's address space comes from.
#[derive(Debug)]
enum Backing {
    /// Its own mapping: `pre_guard | capacity | guard`, unmapped on drop.
    Owned {
        #[expect(dead_code, reason = "held for its `Drop`, which unmaps the memory")]
        mmap: Mmap,
        pre_guard: usize,
        guard: usize,
    },
    /// A slot of the engine's pool, returned on drop.
    Pooled { pool: Arc<MemoryPool>, slot: usize },
}

// SAFETY: the memory exclusively owns the address range `base` points into (its own mapping
// or pool slot); it moves between threads with its store.
unsafe impl Send for LinearMemory {}

fn check_type(ty: &MemoryType) -> Result<usize> {
    if ty.memory64 || ty.shared {
        bail!("64-bit and shared memories are not supported");
    }
    if ty.minimum > MAX_PAGES_32 {
        bail!("memory minimum of {} pages is too large", ty.minimum);
    }
    Ok(usize::try_from(ty.minimum * WASM_PAGE_SIZE)?)
}

impl LinearMemory {
    /// Creates a memory of `ty.minimum` pages in its own mapping.
    pub fn new(ty: MemoryType, tunables: &Tunables) -> Result<Box<LinearMemory>> {
        let min_bytes = check_type(&ty)?;
        let page = sys::page_size();
        let reservation = usize::try_from(tunables.memory_reservation)?;
        let capacity = reservation.max(min_bytes).next_multiple_of(page);
        let guard = usize::try_from(tunables.memory_guard_size)?.next_multiple_of(page);
        // A pre-guard as large as the guard catches accesses computed from negative offsets.
        let pre_guard = if tunables.signals_based_traps {
            guard
        } else {
            0
        };
        let mut mmap = Mmap::reserve(pre_guard + capacity + guard)?;
        mmap.make_accessible(pre_guard, min_bytes)?;
        // SAFETY: `pre_guard` is within the mapping.
        let base = unsafe { mmap.as_ptr().add(pre_guard) };
        Ok(Box::new(LinearMemory {
            base,
            capacity,
            max_size: usize::MAX,
            def: VMMemoryDefinition {
                base: base.cast(),
                current_length: min_bytes,
            },
            ty,
            may_move: tunables.memory_may_move(&ty),
            image: None,
            backing: Backing::Owned {
                mmap,
                pre_guard,
                guard,
            },
        }))
    }

    /// Creates a memory of `ty.minimum` pages in a slot of `pool`, preferring one that still
    /// has `image` mapped.
    pub fn new_pooled(
        ty: MemoryType,
        pool: &Arc<MemoryPool>,
        image: Option<&Arc<MemoryImage>>,
    ) -> Result<Box<LinearMemory>> {
        let min_bytes = check_type(&ty)?;
        let slot = pool.allocate(min_bytes, image)?;
        Ok(Box::new(LinearMemory {
            base: slot.base,
            capacity: slot.capacity,
            max_size: slot.max_size,
            def: VMMemoryDefinition {
                base: slot.base.cast(),
                current_length: min_bytes,
            },
            ty,
            may_move: false,
            image: slot.image,
            backing: Backing::Pooled {
                pool: pool.clone(),
                slot: slot.index,
            },
        }))
    }

    /// Whether `image` is mapped, untouched since: a memory fresh from a pool slot that kept
    /// its image.
    pub fn has_image(&self, image: &Arc<MemoryImage>) -> bool {
        self.image.as_ref().is_some_and(|i| Arc::ptr_eq(i, image))
    }

    /// Maps `image` over the memory's initial (zero) contents. The memory must be fresh: no
    /// byte written since creation.
    pub fn map_image(&mut self, image: &Arc<MemoryImage>) -> Result<()> {
        if self.has_image(image) {
            return Ok(());
        }
        self.clear_image()?;
        anyhow::ensure!(
            image.offset() + image.len() <= self.def.current_length,
            "memory image does not fit the memory"
        );
        // The image range lies in the accessible part of this memory's own address range
        // (checked above), and `&mut self` rules out references into it.
        // SAFETY: so `map_at`'s contract holds.
        unsafe { image.map_at(self.base)? };
        self.image = Some(image.clone());
        Ok(())
    }

    /// Replaces a mapped image with zeroes.
    pub fn clear_image(&mut self) -> Result<()> {
        if let Some(old) = self.image.take() {
            // A mapped image lies in the accessible part of this memory's own range (memories
            // never shrink), and `&mut self` excludes references into it.
            // SAFETY: so the range is ours to replace.
            unsafe {
                sys::map_zeroed_fixed(self.base.add(old.offset()), old.len(), Access::ReadWrite)?
            };
        }
        Ok(())
    }

    fn base(&self) -> *mut u8 {
        self.base
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
        if new_bytes > self.max_size {
            return None;
        }
        if new_bytes > self.capacity {
            if !self.may_move {
                return None;
            }
            let Backing::Owned {
                pre_guard, guard, ..
            } = self.backing
            else {
                return None;
            };
            // Move to a larger mapping, leaving room to grow again without copying.
            let page = sys::page_size();
            let max_bytes = usize::try_from(self.maximum_pages() * WASM_PAGE_SIZE).ok()?;
            let capacity = new_bytes
                .saturating_add(new_bytes / 2)
                .min(max_bytes)
                .max(new_bytes)
                .next_multiple_of(page);
            let mut mmap = Mmap::reserve(pre_guard + capacity + guard).ok()?;
            mmap.make_accessible(pre_guard, new_bytes).ok()?;
            // SAFETY: `pre_guard` is within the new mapping.
            let base = unsafe { mmap.as_ptr().add(pre_guard) };
            // SAFETY: both ranges are accessible and distinct mappings; `old_bytes` fits both.
            unsafe { core::ptr::copy_nonoverlapping(self.base, base, old_bytes) };
            self.backing = Backing::Owned {
                mmap,
                pre_guard,
                guard,
            };
            self.base = base;
            self.capacity = capacity;
            self.image = None;
            self.def.base = base.cast();
        } else {
            // `[old_bytes, new_bytes)` lies within the capacity of this memory's own address
            // range and is not yet accessible, so nothing refers to it.
            // SAFETY: so the range is ours to make accessible.
            unsafe {
                sys::protect(
                    self.base.add(old_bytes),
                    new_bytes - old_bytes,
                    Access::ReadWrite,
                )
            }
            .ok()?;
        }
        self.def.current_length = new_bytes;
        Some(old_pages)
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        if let Backing::Pooled { pool, slot } = &self.backing {
            pool.release(*slot, self.def.current_length, self.image.take());
        }
    }
}
