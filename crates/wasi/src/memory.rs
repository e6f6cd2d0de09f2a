//! `GuestMemory`: the one way WASI reads and writes the guest's linear memory.
//!
//! Every access names a guest address (`u32`) and a length; the range is checked against the
//! memory's size (with overflow checks) and, for typed values, against the type's alignment
//! before any byte is touched. Following the witx rules for pointers (and what Wasmtime does), an
//! out-of-bounds or misaligned pointer is a trap, not an errno; invalid UTF-8 in a string
//! argument is `ilseq`.
//!
//! Invariant: nothing in this crate indexes guest memory except through this type.

use crate::types::{Errno, Error, Result};
use std::cell::Cell;

/// Why a guest pointer was refused.
fn out_of_bounds(ptr: u32, len: u64) -> Error {
    Error::trap(format!(
        "out of bounds memory access: guest pointer {ptr:#x} with length {len}"
    ))
}

fn misaligned(ptr: u32, align: u32) -> Error {
    Error::trap(format!(
        "misaligned guest pointer {ptr:#x} (alignment {align} required)"
    ))
}

/// A value with a fixed little-endian layout in guest memory.
pub(crate) trait GuestType: Sized {
    /// Size in bytes.
    const SIZE: u32;
    /// Required alignment in bytes.
    const ALIGN: u32;
    /// Decodes from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

/// A `GuestType` the host also writes.
pub(crate) trait GuestWrite: GuestType {
    /// Encodes into exactly `SIZE` bytes.
    fn encode(&self, out: &mut [u8]);
}

macro_rules! int_guest_type {
    ($($t:ty),*) => {$(
        impl GuestType for $t {
            const SIZE: u32 = std::mem::size_of::<$t>() as u32;
            const ALIGN: u32 = std::mem::size_of::<$t>() as u32;
            fn decode(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
        }
        impl GuestWrite for $t {
            fn encode(&self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

int_guest_type!(u8, u16, u32, u64);

/// The guest's linear memory during one WASI call.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
    /// The first two strings the call read (its paths), for the audit record of a refusal.
    strings: Cell<[Option<(u32, u32)>; 2]>,
}

impl<'a> GuestMemory<'a> {
    /// Wraps the contents of a linear memory.
    pub fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory {
            bytes,
            strings: Cell::new([None; 2]),
        }
    }

    /// The strings (paths) this call read, in order, separated by ` -> ` (the two paths of a
    /// rename, link or symlink); `None` if it read none.
    pub(crate) fn strings_read(&self) -> Option<String> {
        let texts: Vec<String> = self
            .strings
            .get()
            .into_iter()
            .flatten()
            .filter_map(|(ptr, len)| {
                let r = self.range(ptr, len).ok()?;
                Some(String::from_utf8_lossy(&self.bytes[r]).into_owned())
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join(" -> "))
    }

    /// The checked byte range `[ptr, ptr + len)`.
    fn range(&self, ptr: u32, len: u32) -> Result<std::ops::Range<usize>> {
        let start = ptr as usize;
        let end = start
            .checked_add(len as usize)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| out_of_bounds(ptr, u64::from(len)))?;
        Ok(start..end)
    }

    /// The bytes `[ptr, ptr + len)`.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8]> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// The bytes `[ptr, ptr + len)`, mutably.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8]> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    /// Checks that an array of `count` values of `T` at `ptr` is aligned and in bounds.
    pub(crate) fn check_array<T: GuestType>(&self, ptr: u32, count: u32) -> Result<()> {
        if !ptr.is_multiple_of(T::ALIGN) {
            return Err(misaligned(ptr, T::ALIGN));
        }
        let len = u64::from(count) * u64::from(T::SIZE);
        let len32 = u32::try_from(len).map_err(|_| out_of_bounds(ptr, len))?;
        self.range(ptr, len32).map(|_| ())
    }

    /// Reads a `T` at `ptr` (aligned, in bounds).
    pub(crate) fn read<T: GuestType>(&self, ptr: u32) -> Result<T> {
        if !ptr.is_multiple_of(T::ALIGN) {
            return Err(misaligned(ptr, T::ALIGN));
        }
        Ok(T::decode(self.slice(ptr, T::SIZE)?))
    }

    /// Writes a `T` at `ptr` (aligned, in bounds).
    pub(crate) fn write<T: GuestWrite>(&mut self, ptr: u32, value: T) -> Result<()> {
        if !ptr.is_multiple_of(T::ALIGN) {
            return Err(misaligned(ptr, T::ALIGN));
        }
        value.encode(self.slice_mut(ptr, T::SIZE)?);
        Ok(())
    }

    /// Element `index` of an array of `T` at `ptr`.
    pub(crate) fn read_elem<T: GuestType>(&self, ptr: u32, index: u32) -> Result<T> {
        let offset = u64::from(index) * u64::from(T::SIZE);
        let addr = u64::from(ptr) + offset;
        let addr = u32::try_from(addr).map_err(|_| out_of_bounds(ptr, offset))?;
        self.read(addr)
    }

    /// Writes element `index` of an array of `T` at `ptr`.
    pub(crate) fn write_elem<T: GuestWrite>(
        &mut self,
        ptr: u32,
        index: u32,
        value: T,
    ) -> Result<()> {
        let offset = u64::from(index) * u64::from(T::SIZE);
        let addr = u64::from(ptr) + offset;
        let addr = u32::try_from(addr).map_err(|_| out_of_bounds(ptr, offset))?;
        self.write(addr, value)
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<()> {
        let len = u32::try_from(data.len()).map_err(|_| out_of_bounds(ptr, data.len() as u64))?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    /// The UTF-8 string `[ptr, ptr + len)`: `ilseq` if it is not valid UTF-8.
    pub fn str(&self, ptr: u32, len: u32) -> Result<&str> {
        let bytes = self.slice(ptr, len)?;
        let mut seen = self.strings.get();
        if let Some(slot) = seen.iter_mut().find(|s| s.is_none()) {
            *slot = Some((ptr, len));
            self.strings.set(seen);
        }
        std::str::from_utf8(bytes).map_err(|_| Error::Errno(Errno::Ilseq))
    }

    /// The guest's `iovec`/`ciovec` array at `ptr` with `count` entries, as (pointer, length)
    /// pairs, each buffer checked to be in bounds.
    pub(crate) fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<(u32, u32)>> {
        self.check_array::<Iovec>(ptr, count)?;
        let mut out = Vec::with_capacity(count.min(1024) as usize);
        for i in 0..count {
            let iov: Iovec = self.read_elem(ptr, i)?;
            self.range(iov.buf, iov.len)?;
            out.push((iov.buf, iov.len));
        }
        Ok(out)
    }
}

/// `iovec` and `ciovec`: a guest buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Iovec {
    pub buf: u32,
    pub len: u32,
}

impl GuestType for Iovec {
    const SIZE: u32 = 8;
    const ALIGN: u32 = 4;
    fn decode(b: &[u8]) -> Self {
        Iovec {
            buf: u32::decode(&b[0..4]),
            len: u32::decode(&b[4..8]),
        }
    }
}

impl GuestWrite for Iovec {
    fn encode(&self, out: &mut [u8]) {
        self.buf.encode(&mut out[0..4]);
        self.len.encode(&mut out[4..8]);
    }
}

/// `fdstat`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fdstat {
    pub filetype: u8,
    pub flags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

impl GuestType for Fdstat {
    const SIZE: u32 = 24;
    const ALIGN: u32 = 8;
    fn decode(b: &[u8]) -> Self {
        Fdstat {
            filetype: b[0],
            flags: u16::decode(&b[2..4]),
            rights_base: u64::decode(&b[8..16]),
            rights_inheriting: u64::decode(&b[16..24]),
        }
    }
}

impl GuestWrite for Fdstat {
    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        out[0] = self.filetype;
        self.flags.encode(&mut out[2..4]);
        self.rights_base.encode(&mut out[8..16]);
        self.rights_inheriting.encode(&mut out[16..24]);
    }
}

/// `filestat`, in the preview1 layout (64 bytes, `nlink: u64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filestat {
    /// Device id.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// `filetype` value.
    pub filetype: u8,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// Last access, in nanoseconds since the epoch.
    pub atim: u64,
    /// Last modification.
    pub mtim: u64,
    /// Last status change.
    pub ctim: u64,
}

impl GuestType for Filestat {
    const SIZE: u32 = 64;
    const ALIGN: u32 = 8;
    fn decode(b: &[u8]) -> Self {
        Filestat {
            dev: u64::decode(&b[0..8]),
            ino: u64::decode(&b[8..16]),
            filetype: b[16],
            nlink: u64::decode(&b[24..32]),
            size: u64::decode(&b[32..40]),
            atim: u64::decode(&b[40..48]),
            mtim: u64::decode(&b[48..56]),
            ctim: u64::decode(&b[56..64]),
        }
    }
}

impl GuestWrite for Filestat {
    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        self.dev.encode(&mut out[0..8]);
        self.ino.encode(&mut out[8..16]);
        out[16] = self.filetype;
        self.nlink.encode(&mut out[24..32]);
        self.size.encode(&mut out[32..40]);
        self.atim.encode(&mut out[40..48]);
        self.mtim.encode(&mut out[48..56]);
        self.ctim.encode(&mut out[56..64]);
    }
}

/// `filestat` in the `wasi_unstable` (preview0) layout: 56 bytes, `nlink: u32` at offset 20.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilestatP0(pub Filestat);

impl GuestType for FilestatP0 {
    const SIZE: u32 = 56;
    const ALIGN: u32 = 8;
    fn decode(b: &[u8]) -> Self {
        FilestatP0(Filestat {
            dev: u64::decode(&b[0..8]),
            ino: u64::decode(&b[8..16]),
            filetype: b[16],
            nlink: u64::from(u32::decode(&b[20..24])),
            size: u64::decode(&b[24..32]),
            atim: u64::decode(&b[32..40]),
            mtim: u64::decode(&b[40..48]),
            ctim: u64::decode(&b[48..56]),
        })
    }
}

impl GuestWrite for FilestatP0 {
    fn encode(&self, out: &mut [u8]) {
        let s = &self.0;
        out.fill(0);
        s.dev.encode(&mut out[0..8]);
        s.ino.encode(&mut out[8..16]);
        out[16] = s.filetype;
        u32::try_from(s.nlink)
            .unwrap_or(u32::MAX)
            .encode(&mut out[20..24]);
        s.size.encode(&mut out[24..32]);
        s.atim.encode(&mut out[32..40]);
        s.mtim.encode(&mut out[40..48]);
        s.ctim.encode(&mut out[48..56]);
    }
}

/// `prestat` (only the `dir` variant exists).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prestat {
    pub name_len: u32,
}

impl GuestType for Prestat {
    const SIZE: u32 = 8;
    const ALIGN: u32 = 4;
    fn decode(b: &[u8]) -> Self {
        Prestat {
            name_len: u32::decode(&b[4..8]),
        }
    }
}

impl GuestWrite for Prestat {
    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        self.name_len.encode(&mut out[4..8]);
    }
}

/// The header of a `dirent`; the name's bytes follow it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dirent {
    pub next: u64,
    pub ino: u64,
    pub namlen: u32,
    pub filetype: u8,
}

impl Dirent {
    pub(crate) fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        self.next.encode(&mut out[0..8]);
        self.ino.encode(&mut out[8..16]);
        self.namlen.encode(&mut out[16..20]);
        out[20] = self.filetype;
        out
    }
}

/// A decoded `subscription`, either layout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subscription {
    pub userdata: u64,
    pub kind: SubscriptionKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum SubscriptionKind {
    Clock {
        id: u32,
        timeout: u64,
        flags: u16,
    },
    FdRead(u32),
    FdWrite(u32),
    /// A tag that names no event type: `inval`.
    Invalid,
}

/// `subscription` in the preview1 layout (48 bytes).
pub(crate) struct SubscriptionP1(pub Subscription);

impl GuestType for SubscriptionP1 {
    const SIZE: u32 = 48;
    const ALIGN: u32 = 8;
    fn decode(b: &[u8]) -> Self {
        let userdata = u64::decode(&b[0..8]);
        let kind = match b[8] {
            0 => SubscriptionKind::Clock {
                id: u32::decode(&b[16..20]),
                timeout: u64::decode(&b[24..32]),
                flags: u16::decode(&b[40..42]),
            },
            1 => SubscriptionKind::FdRead(u32::decode(&b[16..20])),
            2 => SubscriptionKind::FdWrite(u32::decode(&b[16..20])),
            _ => SubscriptionKind::Invalid,
        };
        SubscriptionP1(Subscription { userdata, kind })
    }
}

/// `subscription` in the preview0 layout (56 bytes: the clock variant starts with an extra
/// `identifier: userdata`).
pub(crate) struct SubscriptionP0(pub Subscription);

impl GuestType for SubscriptionP0 {
    const SIZE: u32 = 56;
    const ALIGN: u32 = 8;
    fn decode(b: &[u8]) -> Self {
        let userdata = u64::decode(&b[0..8]);
        let kind = match b[8] {
            0 => SubscriptionKind::Clock {
                id: u32::decode(&b[24..28]),
                timeout: u64::decode(&b[32..40]),
                flags: u16::decode(&b[48..50]),
            },
            1 => SubscriptionKind::FdRead(u32::decode(&b[16..20])),
            2 => SubscriptionKind::FdWrite(u32::decode(&b[16..20])),
            _ => SubscriptionKind::Invalid,
        };
        SubscriptionP0(Subscription { userdata, kind })
    }
}

/// `event` (the same 32-byte layout in preview0 and preview1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    pub userdata: u64,
    pub error: Errno,
    pub kind: u8,
    pub nbytes: u64,
    pub flags: u16,
}

impl GuestType for Event {
    const SIZE: u32 = 32;
    const ALIGN: u32 = 8;
    fn decode(b: &[u8]) -> Self {
        Event {
            userdata: u64::decode(&b[0..8]),
            error: Errno::Success,
            kind: b[10],
            nbytes: u64::decode(&b[16..24]),
            flags: u16::decode(&b[24..26]),
        }
    }
}

impl GuestWrite for Event {
    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        self.userdata.encode(&mut out[0..8]);
        self.error.raw().encode(&mut out[8..10]);
        out[10] = self.kind;
        self.nbytes.encode(&mut out[16..24]);
        self.flags.encode(&mut out[24..26]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_alignment() {
        let mut bytes = vec![0u8; 64];
        let mut m = GuestMemory::new(&mut bytes);
        assert!(m.write::<u32>(60, 7).is_ok());
        assert!(matches!(m.write::<u32>(61, 7), Err(Error::Trap(_))));
        assert!(matches!(m.write::<u32>(64, 7), Err(Error::Trap(_))));
        assert!(matches!(m.read::<u64>(u32::MAX - 3), Err(Error::Trap(_))));
        assert!(matches!(m.slice(u32::MAX, 2), Err(Error::Trap(_))));
        assert_eq!(m.read::<u32>(60).ok(), Some(7));
        assert!(m.check_array::<Iovec>(0, 8).is_ok());
        assert!(m.check_array::<Iovec>(0, 9).is_err());
        assert!(m.check_array::<Iovec>(0, u32::MAX).is_err());
    }

    #[test]
    fn utf8_is_ilseq() {
        let mut bytes = vec![0xffu8; 8];
        let m = GuestMemory::new(&mut bytes);
        assert!(matches!(m.str(0, 2), Err(Error::Errno(Errno::Ilseq))));
    }

    #[test]
    fn layouts() {
        let st = Filestat {
            dev: 1,
            ino: 2,
            filetype: 4,
            nlink: 3,
            size: 5,
            atim: 6,
            mtim: 7,
            ctim: 8,
        };
        let mut b = [0u8; 64];
        st.encode(&mut b);
        assert_eq!(Filestat::decode(&b), st);
        let mut b0 = [0u8; 56];
        FilestatP0(st).encode(&mut b0);
        assert_eq!(FilestatP0::decode(&b0).0, st);
        assert_eq!(b0[20], 3);
        assert_eq!(b0[24], 5);
    }
}
