//! Tables: a growable array of pointer-sized reference values (0 is null), described to
//! compiled code by a `VMTableDefinition`.

use super::vmcontext::VMTableDefinition;
use kiln_environ::TableType;

/// The most elements any table may have, whatever its declared maximum: keeps a `table.grow`
/// from asking the host for an absurd allocation.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table.
#[derive(Debug)]
pub struct Table {
    elements: Vec<usize>,
    def: VMTableDefinition,
    ty: TableType,
}

impl Table {
    /// Creates a table of `ty.minimum` elements set to `init`.
    pub fn new(ty: TableType, init: usize) -> anyhow::Result<Box<Table>> {
        if ty.minimum > MAX_TABLE_ELEMENTS {
            anyhow::bail!("table minimum of {} elements is too large", ty.minimum);
        }
        let mut elements = Vec::new();
        elements.try_reserve_exact(ty.minimum as usize)?;
        elements.resize(ty.minimum as usize, init);
        let mut t = Box::new(Table {
            elements,
            def: VMTableDefinition {
                base: core::ptr::null_mut(),
                current_elements: 0,
            },
            ty,
        });
        t.sync();
        Ok(t)
    }

    fn sync(&mut self) {
        self.def.base = self.elements.as_mut_ptr().cast();
        self.def.current_elements = self.elements.len();
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
        self.elements.len() as u64
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
        &self.elements
    }

    /// All elements, mutably.
    pub fn elements_mut(&mut self) -> &mut [usize] {
        &mut self.elements
    }

    /// Element `i`, or `None` out of bounds.
    pub fn get(&self, i: u64) -> Option<usize> {
        self.elements.get(usize::try_from(i).ok()?).copied()
    }

    /// Sets element `i`; `false` out of bounds.
    pub fn set(&mut self, i: u64, v: usize) -> bool {
        match usize::try_from(i)
            .ok()
            .and_then(|i| self.elements.get_mut(i))
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
        self.elements.try_reserve(new - self.elements.len()).ok()?;
        self.elements.resize(new, init);
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
        self.elements[dst as usize..end as usize].fill(val);
        true
    }
}
