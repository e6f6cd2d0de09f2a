//! The pooling instance allocator: address space for every instance's vmctx, table and
//! memory reserved once, when the engine is created, and handed out in fixed-size slots.
//!
//! ```text
//!   memories:  guard | slot 0 | guard | slot 1 | guard | … | slot n-1 | guard
//!   tables:    slot 0 | slot 1 | …            (table_elements × 8 bytes each)
//!   instances: slot 0 | slot 1 | …            (max_core_instance_size bytes each)
//! ```
//!
//! A memory slot is as large as the engine's memory reservation (so compiled code's
//! bounds-check elision holds) and at least `max_memory_size`. A released memory slot is reset
//! with `madvise(MADV_DONTNEED)` over the bytes it made accessible, which zeroes anonymous pages
//! and returns a copy-on-write image's pages to the image, so a slot keeps its image mapped for
//! the next instance of the same module, which then needs no mapping call at all.

use super::image::MemoryImage;
use super::sys::{self, Access, Mmap};
use anyhow::{Context, Result, bail};
use std::sync::{Arc, Mutex};

/// Limits of the pooling allocator (Wasmtime's names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLimits {
    /// Instances alive at once.
    pub total_core_instances: u32,
    /// Defined memories alive at once.
    pub total_memories: u32,
    /// Defined tables alive at once.
    pub total_tables: u32,
    /// The largest size a pooled memory may have, in bytes.
    pub max_memory_size: usize,
    /// The most elements a pooled table may have.
    pub table_elements: usize,
    /// The largest vmctx of a pooled instance, in bytes.
    pub max_core_instance_size: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            total_core_instances: 1000,
            total_memories: 1000,
            total_tables: 1000,
            max_memory_size: 4 << 30,
            table_elements: 20_000,
            max_core_instance_size: 1 << 20,
        }
    }
}

/// The three pools of an engine.
#[derive(Debug)]
pub struct PoolingAllocator {
    /// Memory slots.
    pub memories: Arc<MemoryPool>,
    /// Table slots (`table_elements` pointer-sized elements each).
    pub tables: Arc<SlotPool>,
    /// vmctx slots.
    pub instances: Arc<SlotPool>,
}

impl PoolingAllocator {
    /// Reserves the pools. `reservation` and `guard` are the engine's memory reservation and
    /// guard size.
    pub fn new(limits: PoolLimits, reservation: u64, guard: u64) -> Result<PoolingAllocator> {
        let table_slot = limits
            .table_elements
            .checked_mul(size_of::<usize>())
            .context("pooling allocator: table_elements too large")?;
        Ok(PoolingAllocator {
            memories: Arc::new(MemoryPool::new(
                limits.total_memories as usize,
                reservation,
                guard,
                limits.max_memory_size,
            )?),
            tables: Arc::new(SlotPool::new(
                "table",
                limits.total_tables as usize,
                table_slot,
            )?),
            instances: Arc::new(SlotPool::new(
                "core instance",
                limits.total_core_instances as usize,
                limits.max_core_instance_size,
            )?),
        })
    }
}

/// Fixed-size, readable and writable slots of one reservation (vmctx and table storage).
/// Slot contents are unspecified when handed out.
#[derive(Debug)]
pub struct SlotPool {
    what: &'static str,
    mapping: Mmap,
    /// Usable bytes per slot (as configured).
    slot_size: usize,
    /// Distance between slots (`slot_size` rounded up to pages).
    stride: usize,
    count: usize,
    free: Mutex<Vec<usize>>,
}

impl SlotPool {
    fn new(what: &'static str, count: usize, slot_size: usize) -> Result<SlotPool> {
        let stride = slot_size.max(16).next_multiple_of(sys::page_size());
        let total = stride
            .checked_mul(count)
            .with_context(|| format!("pooling allocator: {what} pool too large"))?;
        let mapping = Mmap::accessible(total)?;
        Ok(SlotPool {
            what,
            mapping,
            slot_size,
            stride,
            count,
            // Popped from the end: slot 0 first.
            free: Mutex::new((0..count).rev().collect()),
        })
    }

    /// The usable size of each slot in bytes.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Takes a free slot: its index and address.
    pub fn allocate(&self) -> Result<(usize, *mut u8)> {
        let index = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let Some(index) = index else {
            bail!(
                "maximum concurrent {} limit of {} reached",
                self.what,
                self.count
            );
        };
        // SAFETY: `index < count`, so the slot lies inside the mapping.
        Ok((index, unsafe {
            self.mapping.as_ptr().add(index * self.stride)
        }))
    }

    /// Returns slot `index`. Its previous user must hold no pointer into it any more.
    pub fn release(&self, index: usize) {
        debug_assert!(index < self.count);
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(index);
    }
}

/// A free memory slot and what its last user left mapped.
#[derive(Debug)]
struct FreeMemorySlot {
    index: usize,
    /// Bytes from the slot's start that are readable and writable (all discarded: they read
    /// as zero, or as `image` where it is mapped).
    accessible: usize,
    /// The image still mapped in the slot.
    image: Option<Arc<MemoryImage>>,
}

/// Slots for linear memories, each `reservation` bytes between guard regions.
#[derive(Debug)]
pub struct MemoryPool {
    mapping: Mmap,
    reservation: usize,
    guard: usize,
    stride: usize,
    count: usize,
    max_memory_size: usize,
    free: Mutex<Vec<FreeMemorySlot>>,
}

/// A memory slot handed out by [`MemoryPool::allocate`].
#[derive(Debug)]
pub struct MemorySlot {
    /// Slot index (give it back to `release`).
    pub index: usize,
    /// First byte of the memory.
    pub base: *mut u8,
    /// Bytes the memory may grow to in place.
    pub capacity: usize,
    /// The largest size the memory may have (`max_memory_size`).
    pub max_size: usize,
    /// The image mapped at its offset, pristine, if the slot kept one.
    pub image: Option<Arc<MemoryImage>>,
}

impl MemoryPool {
    fn new(count: usize, reservation: u64, guard: u64, max_memory_size: usize) -> Result<Self> {
        let page = sys::page_size();
        let reservation = usize::try_from(reservation)
            .context("memory reservation too large")?
            .max(max_memory_size)
            .next_multiple_of(page);
        let guard = usize::try_from(guard)
            .context("memory guard too large")?
            .next_multiple_of(page);
        let stride = reservation
            .checked_add(guard)
            .context("pooling allocator: memory slots too large")?;
        let total = stride
            .checked_mul(count)
            .and_then(|t| t.checked_add(guard))
            .context("pooling allocator: memory pool too large")?;
        let mapping = Mmap::reserve(total).with_context(|| {
            format!("failed to reserve {total} bytes for a pool of {count} memories")
        })?;
        Ok(MemoryPool {
            mapping,
            reservation,
            guard,
            stride,
            count,
            max_memory_size,
            free: Mutex::new(
                (0..count)
                    .rev()
                    .map(|index| FreeMemorySlot {
                        index,
                        accessible: 0,
                        image: None,
                    })
                    .collect(),
            ),
        })
    }

    fn slot_base(&self, index: usize) -> *mut u8 {
        debug_assert!(index < self.count);
        // SAFETY: `guard + index * stride + reservation <= total` for `index < count`.
        unsafe { self.mapping.as_ptr().add(self.guard + index * self.stride) }
    }

    /// Takes a slot with its first `min_bytes` accessible and zeroed — except for `hint`'s
    /// range when the slot returned still has that image mapped (`MemorySlot::image`),
    /// preferring such a slot.
    pub fn allocate(
        &self,
        min_bytes: usize,
        hint: Option<&Arc<MemoryImage>>,
    ) -> Result<MemorySlot> {
        if min_bytes > self.max_memory_size {
            bail!(
                "memory minimum size of {min_bytes} bytes exceeds the pooling allocator's \
                 max_memory_size of {} bytes",
                self.max_memory_size
            );
        }
        let slot = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            let same = hint.and_then(|h| {
                free.iter()
                    .rposition(|s| s.image.as_ref().is_some_and(|i| Arc::ptr_eq(i, h)))
            });
            match same {
                Some(pos) => free.swap_remove(pos),
                None => match free.pop() {
                    Some(s) => s,
                    None => bail!("maximum concurrent memory limit of {} reached", self.count),
                },
            }
        };
        match self.prepare(&slot, min_bytes, hint) {
            Ok(image) => Ok(MemorySlot {
                index: slot.index,
                base: self.slot_base(slot.index),
                capacity: self.reservation,
                max_size: self.max_memory_size,
                image,
            }),
            Err(e) => {
                // The slot's state is unknown: make it all inaccessible zeroes again.
                let base = self.slot_base(slot.index);
                // SAFETY: the slot is ours (taken from the free list) and nothing points in.
                let reset = unsafe { sys::map_zeroed_fixed(base, self.reservation, Access::None) };
                if reset.is_ok() {
                    self.free
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(FreeMemorySlot {
                            index: slot.index,
                            accessible: 0,
                            image: None,
                        });
                }
                Err(e)
            }
        }
    }

    /// Makes a free slot's first `min_bytes` accessible, dropping an image other than `hint`.
    fn prepare(
        &self,
        slot: &FreeMemorySlot,
        min_bytes: usize,
        hint: Option<&Arc<MemoryImage>>,
    ) -> Result<Option<Arc<MemoryImage>>> {
        let base = self.slot_base(slot.index);
        let mut image = slot.image.clone();
        if let Some(old) = &image
            && !hint.is_some_and(|h| Arc::ptr_eq(h, old))
        {
            // SAFETY: the image range lies inside the slot, which is ours.
            unsafe { sys::map_zeroed_fixed(base.add(old.offset()), old.len(), Access::ReadWrite)? };
            image = None;
        }
        if let Some(img) = &image
            && img.offset() + img.len() > min_bytes
        {
            // SAFETY: as above.
            unsafe { sys::map_zeroed_fixed(base.add(img.offset()), img.len(), Access::ReadWrite)? };
            image = None;
        }
        // SAFETY: both ranges lie inside the slot, which is ours; nothing points into it.
        unsafe {
            if slot.accessible < min_bytes {
                sys::protect(
                    base.add(slot.accessible),
                    min_bytes - slot.accessible,
                    Access::ReadWrite,
                )?;
            } else {
                sys::protect(
                    base.add(min_bytes),
                    slot.accessible - min_bytes,
                    Access::None,
                )?;
            }
        }
        Ok(image)
    }

    /// Returns a slot whose memory made its first `accessible` bytes accessible and has
    /// `image` mapped (or not). Its user must hold no pointer into it any more.
    pub fn release(&self, index: usize, accessible: usize, image: Option<Arc<MemoryImage>>) {
        let base = self.slot_base(index);
        // SAFETY: the slot is ours and its memory is gone.
        let slot = match unsafe { sys::discard(base, accessible) } {
            Ok(()) => FreeMemorySlot {
                index,
                accessible,
                image,
            },
            Err(_) => {
                // SAFETY: as above.
                match unsafe { sys::map_zeroed_fixed(base, self.reservation, Access::None) } {
                    Ok(()) => FreeMemorySlot {
                        index,
                        accessible: 0,
                        image: None,
                    },
                    // The slot cannot be reset: leak it rather than hand out dirty memory.
                    Err(_) => return,
                }
            }
        };
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot);
    }
}
