//! Tables: a growable array of pointer-sized reference values (0 is null), described to
//! compiled code by a `VMTableDefinition`.

use super::pool::SlotPool;
use super::vmcontext::VMTableDefinition;
use kiln_environ::TableType;
use std::sync::Arc;

/// The most elements any table may have, whatever its declared maximum: keeps a `table.grow`
/// from asking the host for an absurd allocation.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table.
#[derive(Debug)]
pub struct Table {
    storage: Storage,
    def: VMTableDefinition,
    ty: TableType,
}

/// Where a table's elements live.
#[derive(Debug)]
enum Storage {
    /// A vector of its own.
    Owned(Vec<usize>),
    /// The first `len` of the `capacity` elements of a pool slot, returned on drop.
    Pooled {
        pool: Arc<SlotPool>,
        slot: usize,
        ptr: *mut usize,
        len: usize,
        capacity: usize,
    },
}

// SAFETY: a pooled table exclusively owns its slot; it moves between threads with its store.
unsafe impl Send for Table {}

fn check_type(ty: &TableType) -> anyhow::Result<usize> {
    if ty.minimum > MAX_TABLE_ELEMENTS {
        anyhow::bail!("table minimum of {} elements is too large", ty.minimum);
    }
    Ok(ty.minimum as usize)
}

impl Table {
    /// Creates a table of `ty.minimum` elements set to `init`.
    pub fn new(ty: TableType, init: usize) -> anyhow::Result<Box<Table>> {
        let min = check_type(&ty)?;
        let mut elements = Vec::new();
        elements.try_reserve_exact(min)?;
        elements.resize(min, init);
        Ok(Table::with_storage(Storage::Owned(elements), ty))
    }

    /// Creates a table of `ty.minimum` elements set to `init` in a slot of `pool`.
    pub fn new_pooled(
        ty: TableType,
        init: usize,
        pool: &Arc<SlotPool>,
    ) -> anyhow::Result<Box<Table>> {
        let min = check_type(&ty)?;
        let capacity = pool.slot_size() / size_of::<usize>();
        if min > capacity {
            anyhow::bail!(
                "table minimum of {min} elements exceeds the pooling allocator's table_elements \
                 of {capacity}"
            );
        }
        let (slot, ptr) = pool.allocate()?;
        let ptr = ptr.cast::<usize>();
        // SAFETY: the slot is ours, aligned to a page and `capacity` elements long.
        unsafe { core::slice::from_raw_parts_mut(ptr, min) }.fill(init);
        let storage = Storage::Pooled {
            pool: pool.clone(),
            slot,
            ptr,
            len: min,
            capacity,
        };
        Ok(Table::with_storage(storage, ty))
    }

    fn with_storage(storage: Storage, ty: TableType) -> Box<Table> {
        let mut t = Box::new(Table {
            storage,
            def: VMTableDefinition {
                base: core::ptr::null_mut(),
                current_elements: 0,
            },
            ty,
        });
        t.sync();
        t
    }

    fn sync(&mut self) {
        let elements = self.elements_mut();
        let (base, len) = (elements.as_mut_ptr(), elements.len());
        self.def.base = base.cast();
        self.def.current_elements = len;
    }

    /// The type (its minimum is the creation size).
    pub fn ty(&self) -> TableType {
        self.ty
    }

    /// The record compiled code reads.
    pub fn vmdef(&mut self) -> *mut VMTableDefinition {
        &mut self.def
    }

    /// Current number of elements.
    pub fn size(&self) -> u64 {
        self.elements().len() as u64
    }

    /// The largest size this table may reach.
    pub fn maximum(&self) -> u64 {
        self.ty
            .maximum
            .unwrap_or(u64::from(u32::MAX))
            .min(MAX_TABLE_ELEMENTS)
    }

    /// All elements.
    pub fn elements(&self) -> &[usize] {
        match &self.storage {
            Storage::Owned(v) => v,
            // SAFETY: the slot's first `len` elements are initialised and owned by this table.
            Storage::Pooled { ptr, len, .. } => unsafe { core::slice::from_raw_parts(*ptr, *len) },
        }
    }

    /// All elements, mutably.
    pub fn elements_mut(&mut self) -> &mut [usize] {
        match &mut self.storage {
            Storage::Owned(v) => v,
            // SAFETY: as in `elements`; `&mut self` gives exclusive access.
            Storage::Pooled { ptr, len, .. } => unsafe {
                core::slice::from_raw_parts_mut(*ptr, *len)
            },
        }
    }

    /// Element `i`, or `None` out of bounds.
    pub fn get(&self, i: u64) -> Option<usize> {
        self.elements().get(usize::try_from(i).ok()?).copied()
    }

    /// Sets element `i`; `false` out of bounds.
    pub fn set(&mut self, i: u64, v: usize) -> bool {
        match usize::try_from(i)
            .ok()
            .and_then(|i| self.elements_mut().get_mut(i))
        {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        }
    }

    /// Grows by `delta` elements set to `init`; returns the old size or `None`.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.maximum() {
            return None;
        }
        let new = usize::try_from(new).ok()?;
        match &mut self.storage {
            Storage::Owned(v) => {
                v.try_reserve(new - v.len()).ok()?;
                v.resize(new, init);
            }
            Storage::Pooled {
                ptr, len, capacity, ..
            } => {
                if new > *capacity {
                    return None;
                }
                // `[len, new)` lies within the slot's `capacity` elements and is not yet part of
                // the table's contents.
                // SAFETY: so it is this table's to initialise.
                unsafe { core::slice::from_raw_parts_mut(ptr.add(*len), new - *len) }.fill(init);
                *len = new;
            }
        }
        self.sync();
        Some(old)
    }

    /// Fills `[dst, dst + len)` with `val`; `false` if out of bounds.
    pub fn fill(&mut self, dst: u64, val: usize, len: u64) -> bool {
        let Some(end) = dst.checked_add(len) else {
            return false;
        };
        if end > self.size() {
            return false;
        }
        self.elements_mut()[dst as usize..end as usize].fill(val);
        true
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if let Storage::Pooled { pool, slot, .. } = &self.storage {
            pool.release(*slot);
        }
    }
}
