//! Platform layer: virtual memory and signals. Only this module calls `mmap`, `mprotect` and
//! `sigaction`. Unix (Linux) x86-64 only for now.

mod mmap;
pub mod signals;

pub use mmap::{Access, Mmap, discard, map_file_fixed, map_zeroed_fixed, memfd, protect};

/// The host page size.
pub fn page_size() -> usize {
    rustix::param::page_size()
}
