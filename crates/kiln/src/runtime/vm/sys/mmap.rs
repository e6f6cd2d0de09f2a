//! An owned anonymous memory mapping.

use anyhow::{Context, Result};
use core::ffi::c_void;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};

/// An anonymous private mapping, unmapped on drop. Parts of it may be inaccessible (guard
/// regions) and later made accessible.
#[derive(Debug)]
pub struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is exclusively owned; access goes through `&self`/`&mut self`.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Reserves `len` bytes (rounded up to pages) with no access rights.
    pub fn reserve(len: usize) -> Result<Mmap> {
        let len = round_up(len.max(1))?;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address aliases nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .with_context(|| format!("failed to reserve {len} bytes of address space"))?;
        Ok(Mmap {
            ptr: ptr.cast(),
            len,
        })
    }

    /// Maps `len` bytes (rounded up to pages) readable and writable, zeroed.
    pub fn accessible(len: usize) -> Result<Mmap> {
        let mut m = Mmap::reserve(len)?;
        m.make_accessible(0, m.len)?;
        Ok(m)
    }

    /// Base address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The whole mapping as a slice. Only valid if every page is accessible.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: callers use this only on fully accessible mappings (`accessible`), which
        // we own exclusively through `&mut self`.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Makes `[start, start + len)` readable and writable. Both must be page aligned.
    pub fn make_accessible(&mut self, start: usize, len: usize) -> Result<()> {
        self.protect(start, len, MprotectFlags::READ | MprotectFlags::WRITE)
    }

    /// Makes the whole mapping read+execute (and no longer writable).
    pub fn make_executable(&mut self) -> Result<()> {
        self.protect(0, self.len, MprotectFlags::READ | MprotectFlags::EXEC)
    }

    fn protect(&mut self, start: usize, len: usize, flags: MprotectFlags) -> Result<()> {
        anyhow::ensure!(
            start.checked_add(len).is_some_and(|end| end <= self.len),
            "mprotect range outside mapping"
        );
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping (checked above); changing its
        // protection cannot affect memory we do not own.
        unsafe { rustix::mm::mprotect(self.ptr.add(start).cast::<c_void>(), len, flags) }
            .context("mprotect failed")?;
        Ok(())
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: we own the mapping and nothing refers to it after drop.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr.cast(), self.len);
        }
    }
}

fn round_up(len: usize) -> Result<usize> {
    let page = super::page_size();
    len.checked_next_multiple_of(page)
        .context("mapping size overflows")
}
