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

/// Page protection of a range: inaccessible or readable and writable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No access (guard pages, memory beyond the current size).
    None,
    /// Readable and writable.
    ReadWrite,
}

/// Sets the protection of `[ptr, ptr + len)`.
///
/// # Safety
///
/// The range must be page aligned and lie inside a mapping the caller owns, with no Rust
/// reference into the part being made inaccessible.
pub unsafe fn protect(ptr: *mut u8, len: usize, access: Access) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let flags = match access {
        Access::None => MprotectFlags::empty(),
        Access::ReadWrite => MprotectFlags::READ | MprotectFlags::WRITE,
    };
    // SAFETY: the caller owns the range.
    unsafe { rustix::mm::mprotect(ptr.cast::<c_void>(), len, flags) }.context("mprotect failed")
}

/// Replaces `[ptr, ptr + len)` with fresh zeroed anonymous pages of the given access.
///
/// # Safety
///
/// As for [`protect`]: a page-aligned range of a mapping the caller owns, with no Rust reference
/// into it (its contents are discarded).
pub unsafe fn map_zeroed_fixed(ptr: *mut u8, len: usize, access: Access) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let prot = match access {
        Access::None => ProtFlags::empty(),
        Access::ReadWrite => ProtFlags::READ | ProtFlags::WRITE,
    };
    // SAFETY: MAP_FIXED replaces only pages of the caller's own mapping.
    let got = unsafe {
        rustix::mm::mmap_anonymous(
            ptr.cast(),
            len,
            prot,
            MapFlags::PRIVATE | MapFlags::FIXED | MapFlags::NORESERVE,
        )
    }
    .context("failed to map zeroed pages")?;
    anyhow::ensure!(got.cast::<u8>() == ptr, "mmap ignored MAP_FIXED");
    Ok(())
}

/// Maps `len` bytes of `fd` from offset 0 at `ptr`, privately (copy-on-write), readable and
/// writable.
///
/// # Safety
///
/// As for [`map_zeroed_fixed`]; `len` must not exceed the file's size.
pub unsafe fn map_file_fixed(
    ptr: *mut u8,
    len: usize,
    fd: rustix::fd::BorrowedFd<'_>,
) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    // The private mapping never writes back to the file.
    // SAFETY: MAP_FIXED replaces only pages of the caller's own mapping.
    let got = unsafe {
        rustix::mm::mmap(
            ptr.cast(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | MapFlags::FIXED,
            fd,
            0,
        )
    }
    .context("failed to map a memory image")?;
    anyhow::ensure!(got.cast::<u8>() == ptr, "mmap ignored MAP_FIXED");
    Ok(())
}

/// Discards the contents of `[ptr, ptr + len)`: anonymous pages read as zero afterwards and
/// private file pages as the file's contents again. Protection is unchanged.
///
/// # Safety
///
/// As for [`map_zeroed_fixed`].
pub unsafe fn discard(ptr: *mut u8, len: usize) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: the caller owns the range and holds no reference into it.
    unsafe { rustix::mm::madvise(ptr.cast(), len, rustix::mm::Advice::LinuxDontNeed) }
        .context("madvise(MADV_DONTNEED) failed")
}

/// A sealed in-memory file holding `len` bytes: `chunks` (offset, bytes) written in order over
/// zeros. Used as the backing of copy-on-write memory images.
pub fn memfd(name: &str, len: usize, chunks: &[(usize, &[u8])]) -> Result<rustix::fd::OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .context("memfd_create failed")?;
    rustix::fs::ftruncate(&fd, len as u64).context("ftruncate of a memfd failed")?;
    for &(offset, bytes) in chunks {
        anyhow::ensure!(
            offset
                .checked_add(bytes.len())
                .is_some_and(|end| end <= len),
            "memory image chunk outside the image"
        );
        let mut done = 0;
        while done < bytes.len() {
            let n = rustix::io::pwrite(&fd, &bytes[done..], (offset + done) as u64)
                .context("write to a memfd failed")?;
            anyhow::ensure!(n > 0, "write to a memfd made no progress");
            done += n;
        }
    }
    // Nothing may change the image once instances map it.
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .context("sealing a memfd failed")?;
    Ok(fd)
}
