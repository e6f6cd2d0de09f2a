//! Copy-on-write memory images.
//!
//! For each defined memory whose active data segments all have constant offsets and fit its
//! minimum size, the segments are laid out once per module into a sealed in-memory file (memfd)
//! covering the page-aligned range they touch. Instantiation then maps that file privately over
//! the memory instead of copying the bytes: a page is copied only when the guest writes to it,
//! and a pooled memory slot that keeps the mapping is reset to the image by discarding its
//! private pages (`madvise(MADV_DONTNEED)`).
//!
//! The result must equal copying the segments in order, so an image is used only when no
//! segment initialisation of the instantiation can trap (see `instance.rs`).

use super::sys;
use anyhow::Result;
use kiln_environ::{ConstExpr, ConstOp, DataKind, ModuleInfo, WASM_PAGE_SIZE};
use rustix::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// The laid-out initial contents of one memory: `len` bytes at byte `offset` of the memory,
/// both multiples of the host page size. Bytes outside the range are zero.
#[derive(Debug)]
pub struct MemoryImage {
    fd: OwnedFd,
    offset: usize,
    len: usize,
}

impl MemoryImage {
    /// Where the image starts in the memory.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Maps the image privately at `base + offset`.
    ///
    /// # Safety
    ///
    /// `[base + offset, base + offset + len)` must be part of a mapping the caller owns, with no
    /// Rust reference into it.
    pub unsafe fn map_at(&self, base: *mut u8) -> Result<()> {
        // SAFETY: per the caller's obligation.
        unsafe { sys::map_file_fixed(base.add(self.offset), self.len, self.fd.as_fd()) }
    }
}

/// The value of a constant expression made only of `i32` constants and arithmetic, or `None`
/// if it reads anything (a global) or is not an `i32`.
pub fn const_i32(expr: &ConstExpr) -> Option<i32> {
    let mut stack: Vec<i32> = Vec::with_capacity(2);
    for op in expr.ops.iter() {
        let v = match *op {
            ConstOp::I32Const(v) => v,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop()?;
                let a = stack.pop()?;
                match *op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }
            }
            _ => return None,
        };
        stack.push(v);
    }
    match stack[..] {
        [v] => Some(v),
        _ => None,
    }
}

/// The images of a module's defined memories (index = defined memory index); `None` where a
/// memory has no active segment or one the image cannot represent.
pub fn module_images(module: &ModuleInfo) -> Result<Box<[Option<Arc<MemoryImage>>]>> {
    let page = sys::page_size();
    let defined = module.memories.len() - module.num_imported_memories as usize;
    let mut images = Vec::with_capacity(defined);
    'memories: for d in 0..defined {
        let index = module.num_imported_memories + d as u32;
        let ty = &module.memories[index as usize];
        let Some(min_bytes) = ty
            .minimum
            .checked_mul(WASM_PAGE_SIZE)
            .and_then(|b| usize::try_from(b).ok())
        else {
            images.push(None);
            continue;
        };
        let mut chunks: Vec<(usize, &[u8])> = Vec::new();
        for seg in &module.data {
            let DataKind::Active { memory, offset } = &seg.kind else {
                continue;
            };
            if *memory != index {
                continue;
            }
            let Some(start) = const_i32(offset).map(|o| o as u32 as usize) else {
                images.push(None);
                continue 'memories;
            };
            if start
                .checked_add(seg.data.len())
                .is_none_or(|end| end > min_bytes)
            {
                // Initialisation traps: it must happen segment by segment.
                images.push(None);
                continue 'memories;
            }
            if !seg.data.is_empty() {
                chunks.push((start, &seg.data));
            }
        }
        let (Some(lo), Some(hi)) = (
            chunks.iter().map(|c| c.0).min(),
            chunks.iter().map(|c| c.0 + c.1.len()).max(),
        ) else {
            images.push(None);
            continue;
        };
        let offset = lo - lo % page;
        // `hi <= min_bytes`, a multiple of the 64 KiB wasm page and so of the host page.
        let len = hi.next_multiple_of(page) - offset;
        let relative: Vec<(usize, &[u8])> = chunks.iter().map(|&(o, b)| (o - offset, b)).collect();
        let fd = sys::memfd("kiln-memory-image", len, &relative)?;
        images.push(Some(Arc::new(MemoryImage { fd, offset, len })));
    }
    Ok(images.into_boxed_slice())
}
