//! The `wasi_snapshot_preview1` functions, as methods of `WasiCtx` over a `GuestMemory`.
//!
//! Each method checks, in this order: argument encodings (unknown flag bits or enum values are
//! `inval`), the descriptor (`badf`), its kind (a file operation on a directory is `isdir`, a
//! path operation on a non-directory `notdir`), a read-only preopen (`perm` for anything that
//! would change it), then the descriptor's rights (`notcapable`); only then does the host see
//! the call. Paths are resolved by cap-std beneath the directory descriptor, so `..`, absolute
//! paths and symlinks cannot leave it. Results are written through `GuestMemory`.

use crate::ctx::{Input, Output, WasiCtx};
use crate::memory::{Fdstat, Filestat, GuestMemory, Prestat};
use crate::table::{Desc, DirDesc, DirItem, FileDesc, Kind, rights_for_filetype};
use crate::types::{
    Errno, Error, Result, fdflags, filetype, fstflags, lookupflags, oflags, rights,
};
use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    SystemTimeSpec,
};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;

/// The most bytes one `fd_read`/`fd_write` moves through a host buffer; longer requests are
/// short reads or writes, which POSIX allows.
const MAX_IO_CHUNK: usize = 16 << 20;

/// `proc_exit`'s error: the guest asked to exit with this status. Not a failure of the host;
/// an embedder downcasts the error of the call to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl std::fmt::Display for I32Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exited with i32 exit status {}", self.0)
    }
}

impl std::error::Error for I32Exit {}

/// How `fd_seek` encodes `whence`: preview1 and preview0 order the values differently.
#[derive(Clone, Copy)]
pub(crate) enum WhenceAbi {
    /// `set = 0, cur = 1, end = 2`.
    Preview1,
    /// `cur = 0, end = 1, set = 2`.
    Preview0,
}

fn ns(secs: i64, nsec: i64) -> u64 {
    let secs = u64::try_from(secs).unwrap_or(0);
    let nsec = u64::try_from(nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

fn filetype_of(ft: cap_std::fs::FileType) -> u8 {
    use cap_std::fs::FileTypeExt;
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

fn std_filetype_of(ft: std::fs::FileType) -> u8 {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

fn filestat_of(m: &cap_std::fs::Metadata) -> Filestat {
    use cap_std::fs::MetadataExt;
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of(m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: ns(m.atime(), m.atime_nsec()),
        mtim: ns(m.mtime(), m.mtime_nsec()),
        ctim: ns(m.ctime(), m.ctime_nsec()),
    }
}

fn std_filestat_of(m: &std::fs::Metadata) -> Filestat {
    use std::os::unix::fs::MetadataExt;
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: std_filetype_of(m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: ns(m.atime(), m.atime_nsec()),
        mtim: ns(m.mtime(), m.mtime_nsec()),
        ctim: ns(m.ctime(), m.ctime_nsec()),
    }
}

/// Checks that `flags` only uses bits of `all`.
fn check_flags<T: Into<u64>>(flags: T, all: T) -> Result<()> {
    if flags.into() & !all.into() == 0 {
        Ok(())
    } else {
        Err(Errno::Inval.into())
    }
}

/// Converts `fstflags` and times into the two timestamps `utimensat` takes.
fn set_times_args(
    atim: u64,
    mtim: u64,
    fst: u16,
) -> Result<(Option<SystemTimeSpec>, Option<SystemTimeSpec>)> {
    check_flags(fst, fstflags::ALL)?;
    let one = |t: u64, set: u16, now: u16| -> Result<Option<SystemTimeSpec>> {
        match (fst & set != 0, fst & now != 0) {
            (true, true) => Err(Errno::Inval.into()),
            (true, false) => {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t);
                Ok(Some(SystemTimeSpec::Absolute(
                    cap_std::time::SystemTime::from_std(t),
                )))
            }
            (false, true) => Ok(Some(SystemTimeSpec::SymbolicNow)),
            (false, false) => Ok(None),
        }
    };
    Ok((
        one(atim, fstflags::ATIM, fstflags::ATIM_NOW)?,
        one(mtim, fstflags::MTIM, fstflags::MTIM_NOW)?,
    ))
}

fn timespec_of(spec: Option<SystemTimeSpec>) -> rustix::fs::Timespec {
    match spec {
        None => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        Some(SystemTimeSpec::SymbolicNow) => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        Some(SystemTimeSpec::Absolute(t)) => {
            let d = t
                .into_std()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            rustix::fs::Timespec {
                tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: d.subsec_nanos().into(),
            }
        }
    }
}

/// Rejects a `path` argument that names nothing: an interior NUL is `inval` (the host could not
/// pass it on), and an empty path is `noent`.
fn check_path(path: &str) -> Result<()> {
    if path.contains('\0') {
        return Err(Errno::Inval.into());
    }
    if path.is_empty() {
        return Err(Errno::Noent.into());
    }
    Ok(())
}

fn host_is_tty(output: &Output) -> bool {
    match output {
        Output::Stdout => rustix::termios::isatty(std::io::stdout().as_fd()),
        Output::Stderr => rustix::termios::isatty(std::io::stderr().as_fd()),
        _ => false,
    }
}

pub(crate) fn read_stdin(input: &Input, buf: &mut [u8]) -> Result<usize> {
    match input {
        Input::Inherit => loop {
            // Read the descriptor directly: std's buffered `Stdin` would hide what is left from
            // `poll_oneoff`.
            match rustix::io::read(std::io::stdin().as_fd(), &mut *buf) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        },
        Input::Pipe(p) => Ok(p.read(buf)?),
        Input::Empty => Ok(0),
    }
}

fn write_output(output: &mut Output, data: &[u8]) -> Result<usize> {
    match output {
        Output::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(data)?;
            out.flush()?;
        }
        Output::Stderr => {
            let mut out = std::io::stderr().lock();
            out.write_all(data)?;
            out.flush()?;
        }
        Output::Pipe(p) => {
            p.write(data)?;
        }
        Output::Writer(w) => {
            w.write_all(data)?;
            w.flush()?;
        }
        Output::Sink => {}
    }
    Ok(data.len())
}

/// The first non-empty buffer of an iovec list (or an empty one).
fn first_nonempty(iovs: &[(u32, u32)]) -> (u32, u32) {
    iovs.iter()
        .copied()
        .find(|&(_, len)| len > 0)
        .unwrap_or((0, 0))
}

/// The bytes of a ciovec list, concatenated (at most `MAX_IO_CHUNK`).
fn gather(mem: &GuestMemory<'_>, iovs: &[(u32, u32)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for &(ptr, len) in iovs {
        let room = MAX_IO_CHUNK - out.len();
        let take = (len as usize).min(room) as u32;
        out.extend_from_slice(mem.slice(ptr, take)?);
        if out.len() == MAX_IO_CHUNK {
            break;
        }
    }
    Ok(out)
}

/// Copies `data` into an iovec list; returns the bytes copied.
fn scatter(mem: &mut GuestMemory<'_>, iovs: &[(u32, u32)], mut data: &[u8]) -> Result<usize> {
    let mut total = 0;
    for &(ptr, len) in iovs {
        if data.is_empty() {
            break;
        }
        let n = (len as usize).min(data.len());
        mem.write_bytes(ptr, &data[..n])?;
        data = &data[n..];
        total += n;
    }
    Ok(total)
}

fn to_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Errno::Overflow.into())
}

impl WasiCtx {
    // ---- arguments and environment ----

    pub(crate) fn args_sizes_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        argc: u32,
        size: u32,
    ) -> Result<()> {
        let n = to_u32(self.args.len())?;
        let bytes: usize = self.args.iter().map(|a| a.len() + 1).sum();
        mem.write::<u32>(argc, n)?;
        mem.write::<u32>(size, to_u32(bytes)?)
    }

    pub(crate) fn args_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        argv: u32,
        buf: u32,
    ) -> Result<()> {
        let items: Vec<Vec<u8>> = self
            .args
            .iter()
            .map(|a| [a.as_bytes(), b"\0"].concat())
            .collect();
        write_string_array(mem, argv, buf, &items)
    }

    pub(crate) fn environ_sizes_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        count: u32,
        size: u32,
    ) -> Result<()> {
        let n = to_u32(self.env.len())?;
        let bytes: usize = self.env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        mem.write::<u32>(count, n)?;
        mem.write::<u32>(size, to_u32(bytes)?)
    }

    pub(crate) fn environ_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        environ: u32,
        buf: u32,
    ) -> Result<()> {
        let items: Vec<Vec<u8>> = self
            .env
            .iter()
            .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes(), b"\0"].concat())
            .collect();
        write_string_array(mem, environ, buf, &items)
    }

    // ---- clocks, randomness, scheduling ----

    pub(crate) fn clock_res_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        id: u32,
        out: u32,
    ) -> Result<()> {
        let res = self.clocks.resolution(id)?;
        mem.write::<u64>(out, res)
    }

    pub(crate) fn clock_time_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        id: u32,
        _precision: u64,
        out: u32,
    ) -> Result<()> {
        let now = self.clocks.now(id)?;
        mem.write::<u64>(out, now)
    }

    pub(crate) fn random_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        buf: u32,
        len: u32,
    ) -> Result<()> {
        let dst = mem.slice_mut(buf, len)?;
        self.random
            .fill(dst)
            .map_err(|e| Error::trap(format!("random source failed: {e}")))
    }

    pub(crate) fn sched_yield(&mut self) -> Result<()> {
        std::thread::yield_now();
        Ok(())
    }

    pub(crate) fn proc_raise(&mut self, _sig: u32) -> Result<()> {
        Err(Errno::Notsup.into())
    }

    // ---- descriptors ----

    /// The open regular file `fd` (after checking `required` rights).
    fn file(&self, fd: u32, required: u64) -> Result<&FileDesc> {
        let desc = self.table.get(fd)?;
        match &desc.kind {
            Kind::File(f) => {
                desc.require(required)?;
                Ok(f)
            }
            Kind::Dir(_) => Err(Errno::Isdir.into()),
            Kind::Stdin(_) | Kind::Output(_) => {
                if required & (rights::FD_SEEK | rights::FD_TELL) != 0 {
                    Err(Errno::Spipe.into())
                } else {
                    Err(Errno::Badf.into())
                }
            }
            Kind::Listener(_) | Kind::Stream(_) => {
                if required & (rights::FD_SEEK | rights::FD_TELL) != 0 {
                    Err(Errno::Spipe.into())
                } else {
                    Err(Errno::Badf.into())
                }
            }
        }
    }

    /// `spipe` for a descriptor without positions (stdio, sockets), as for `pread` on a pipe.
    fn positional(&self, fd: u32) -> Result<()> {
        match self.table.get(fd)?.kind {
            Kind::Stdin(_) | Kind::Output(_) | Kind::Listener(_) | Kind::Stream(_) => {
                Err(Errno::Spipe.into())
            }
            Kind::File(_) | Kind::Dir(_) => Ok(()),
        }
    }

    /// The directory `fd`, checking `required` rights and, when `mutates`, that it is not
    /// read-only.
    fn dir(&self, fd: u32, required: u64, mutates: bool) -> Result<&DirDesc> {
        let desc = self.table.get(fd)?;
        let d = desc.dir()?;
        if mutates && d.readonly {
            return Err(Errno::Perm.into());
        }
        desc.require(required)?;
        Ok(d)
    }

    pub(crate) fn fd_advise(&mut self, fd: u32, offset: u64, len: u64, advice: u32) -> Result<()> {
        use rustix::fs::Advice;
        let advice = match advice {
            0 => Advice::Normal,
            1 => Advice::Sequential,
            2 => Advice::Random,
            3 => Advice::WillNeed,
            4 => Advice::DontNeed,
            5 => Advice::NoReuse,
            _ => return Err(Errno::Inval.into()),
        };
        let f = self.file(fd, rights::FD_ADVISE)?;
        offset.checked_add(len).ok_or(Errno::Inval)?;
        rustix::fs::fadvise(&f.file, offset, std::num::NonZeroU64::new(len), advice)?;
        Ok(())
    }

    pub(crate) fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> Result<()> {
        let f = self.file(fd, rights::FD_ALLOCATE)?;
        if len == 0 {
            return Err(Errno::Inval.into());
        }
        let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
        if i64::try_from(end).is_err() {
            return Err(Errno::Fbig.into());
        }
        rustix::fs::fallocate(&f.file, rustix::fs::FallocateFlags::empty(), offset, len)?;
        Ok(())
    }

    pub(crate) fn fd_close(&mut self, fd: u32) -> Result<()> {
        self.table.remove(fd)?;
        Ok(())
    }

    pub(crate) fn fd_datasync(&mut self, fd: u32) -> Result<()> {
        let desc = self.table.get(fd)?;
        match &desc.kind {
            Kind::File(f) => {
                desc.require(rights::FD_DATASYNC)?;
                f.file.sync_data()?;
            }
            Kind::Dir(d) => {
                desc.require(rights::FD_DATASYNC)?;
                rustix::fs::fdatasync(&d.dir)?;
            }
            _ => return Err(Errno::Inval.into()),
        }
        Ok(())
    }

    pub(crate) fn fd_sync(&mut self, fd: u32) -> Result<()> {
        let desc = self.table.get(fd)?;
        match &desc.kind {
            Kind::File(f) => {
                desc.require(rights::FD_SYNC)?;
                f.file.sync_all()?;
            }
            Kind::Dir(d) => {
                desc.require(rights::FD_SYNC)?;
                rustix::fs::fsync(&d.dir)?;
            }
            _ => return Err(Errno::Inval.into()),
        }
        Ok(())
    }

    pub(crate) fn fd_fdstat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        out: u32,
    ) -> Result<()> {
        let desc = self.table.get(fd)?;
        let (filetype, flags) = match &desc.kind {
            Kind::Stdin(input) => {
                let tty = matches!(input, Input::Inherit)
                    && rustix::termios::isatty(std::io::stdin().as_fd());
                let ft = if tty {
                    filetype::CHARACTER_DEVICE
                } else {
                    filetype::UNKNOWN
                };
                (ft, 0)
            }
            Kind::Output(o) => {
                let ft = if host_is_tty(o) {
                    filetype::CHARACTER_DEVICE
                } else {
                    filetype::UNKNOWN
                };
                (ft, 0)
            }
            Kind::File(f) => (f.filetype, host_fdflags(&f.file)?),
            Kind::Dir(_) => (filetype::DIRECTORY, 0),
            Kind::Listener(l) => (filetype::SOCKET_STREAM, host_fdflags(l)?),
            Kind::Stream(s) => (filetype::SOCKET_STREAM, host_fdflags(s)?),
        };
        mem.write(
            out,
            Fdstat {
                filetype,
                flags,
                rights_base: desc.base,
                rights_inheriting: desc.inheriting,
            },
        )
    }

    pub(crate) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> Result<()> {
        let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
        check_flags(flags, fdflags::ALL)?;
        let desc = self.table.get(fd)?;
        desc.require(rights::FD_FDSTAT_SET_FLAGS)?;
        let fd_obj: std::os::fd::BorrowedFd<'_> = match &desc.kind {
            Kind::File(f) => f.file.as_fd(),
            Kind::Listener(l) => l.as_fd(),
            Kind::Stream(s) => s.as_fd(),
            // Stdio and directories have no flags worth changing; accept the call so programs
            // that ask for non-blocking stdio keep working.
            _ => return Ok(()),
        };
        if flags & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
            // Linux cannot change the synchronisation flags of an open file.
            return Err(Errno::Inval.into());
        }
        use rustix::fs::OFlags;
        let mut host = rustix::fs::fcntl_getfl(fd_obj)?;
        host.set(OFlags::APPEND, flags & fdflags::APPEND != 0);
        host.set(OFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
        rustix::fs::fcntl_setfl(fd_obj, host)?;
        Ok(())
    }

    pub(crate) fn fd_fdstat_set_rights(
        &mut self,
        fd: u32,
        base: u64,
        inheriting: u64,
    ) -> Result<()> {
        let desc = self.table.get_mut(fd)?;
        if base & !desc.base != 0 || inheriting & !desc.inheriting != 0 {
            return Err(Errno::Notcapable.into());
        }
        desc.base = base;
        desc.inheriting = inheriting;
        Ok(())
    }

    pub(crate) fn fd_filestat(&self, fd: u32) -> Result<Filestat> {
        let desc = self.table.get(fd)?;
        desc.require(rights::FD_FILESTAT_GET)?;
        Ok(match &desc.kind {
            Kind::File(f) => std_filestat_of(&f.file.metadata()?),
            Kind::Dir(d) => filestat_of(&d.dir.dir_metadata()?),
            Kind::Stdin(input) => Filestat {
                filetype: if matches!(input, Input::Inherit)
                    && rustix::termios::isatty(std::io::stdin().as_fd())
                {
                    filetype::CHARACTER_DEVICE
                } else {
                    filetype::UNKNOWN
                },
                ..Filestat::default()
            },
            Kind::Output(o) => Filestat {
                filetype: if host_is_tty(o) {
                    filetype::CHARACTER_DEVICE
                } else {
                    filetype::UNKNOWN
                },
                ..Filestat::default()
            },
            Kind::Listener(_) | Kind::Stream(_) => Filestat {
                filetype: filetype::SOCKET_STREAM,
                ..Filestat::default()
            },
        })
    }

    pub(crate) fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> Result<()> {
        let f = self.file(fd, rights::FD_FILESTAT_SET_SIZE)?;
        if i64::try_from(size).is_err() {
            return Err(Errno::Fbig.into());
        }
        f.file.set_len(size)?;
        Ok(())
    }

    pub(crate) fn fd_filestat_set_times(
        &mut self,
        fd: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> Result<()> {
        let fst = u16::try_from(fst).map_err(|_| Errno::Inval)?;
        let (a, m) = set_times_args(atim, mtim, fst)?;
        let desc = self.table.get(fd)?;
        let times = rustix::fs::Timestamps {
            last_access: timespec_of(a),
            last_modification: timespec_of(m),
        };
        match &desc.kind {
            Kind::File(f) => {
                desc.require(rights::FD_FILESTAT_SET_TIMES)?;
                rustix::fs::futimens(&f.file, &times)?;
            }
            Kind::Dir(d) => {
                if d.readonly {
                    return Err(Errno::Perm.into());
                }
                desc.require(rights::FD_FILESTAT_SET_TIMES)?;
                rustix::fs::futimens(&d.dir, &times)?;
            }
            _ => return Err(Errno::Badf.into()),
        }
        Ok(())
    }

    pub(crate) fn fd_read(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        out: u32,
    ) -> Result<()> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.check_array::<u32>(out, 1)?;
        let (ptr, len) = first_nonempty(&iovs);
        let desc = self.table.get_mut(fd)?;
        let n = match &mut desc.kind {
            Kind::File(f) => {
                if desc.base & rights::FD_READ == 0 {
                    return Err(Errno::Notcapable.into());
                }
                read_retry(&mut &f.file, mem.slice_mut(ptr, len)?)?
            }
            Kind::Stdin(input) => {
                if desc.base & rights::FD_READ == 0 {
                    return Err(Errno::Notcapable.into());
                }
                read_stdin(input, mem.slice_mut(ptr, len)?)?
            }
            Kind::Stream(s) => {
                if desc.base & rights::FD_READ == 0 {
                    return Err(Errno::Notcapable.into());
                }
                read_retry(&mut &*s, mem.slice_mut(ptr, len)?)?
            }
            Kind::Dir(_) => return Err(Errno::Isdir.into()),
            Kind::Output(_) | Kind::Listener(_) => return Err(Errno::Badf.into()),
        };
        mem.write::<u32>(out, to_u32(n)?)
    }

    pub(crate) fn fd_pread(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        out: u32,
    ) -> Result<()> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.check_array::<u32>(out, 1)?;
        self.positional(fd)?;
        let f = self.file(fd, rights::FD_READ)?;
        let total: u64 = iovs.iter().map(|&(_, l)| u64::from(l)).sum();
        let want = (total as usize).min(MAX_IO_CHUNK);
        if i64::try_from(offset).is_err() {
            return Err(Errno::Inval.into());
        }
        let mut buf = vec![0u8; want];
        let n = loop {
            match f.file.read_at(&mut buf, offset) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        let n = scatter(mem, &iovs, &buf[..n])?;
        mem.write::<u32>(out, to_u32(n)?)
    }

    pub(crate) fn fd_write(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        out: u32,
    ) -> Result<()> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.check_array::<u32>(out, 1)?;
        let data = gather(mem, &iovs)?;
        let desc = self.table.get_mut(fd)?;
        if !matches!(desc.kind, Kind::Dir(_)) && desc.base & rights::FD_WRITE == 0 {
            return Err(match desc.kind {
                Kind::Stdin(_) | Kind::Listener(_) => Errno::Badf,
                _ => Errno::Notcapable,
            }
            .into());
        }
        let n = match &mut desc.kind {
            Kind::File(f) => write_retry(&mut &f.file, &data)?,
            Kind::Output(o) => write_output(o, &data)?,
            Kind::Stream(s) => write_retry(&mut &*s, &data)?,
            Kind::Dir(_) => return Err(Errno::Isdir.into()),
            Kind::Stdin(_) | Kind::Listener(_) => return Err(Errno::Badf.into()),
        };
        mem.write::<u32>(out, to_u32(n)?)
    }

    pub(crate) fn fd_pwrite(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        out: u32,
    ) -> Result<()> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.check_array::<u32>(out, 1)?;
        let data = gather(mem, &iovs)?;
        self.positional(fd)?;
        let f = self.file(fd, rights::FD_WRITE)?;
        if offset
            .checked_add(data.len() as u64)
            .and_then(|e| i64::try_from(e).ok())
            .is_none()
        {
            return Err(Errno::Fbig.into());
        }
        let n = loop {
            match f.file.write_at(&data, offset) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        mem.write::<u32>(out, to_u32(n)?)
    }

    pub(crate) fn fd_prestat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        out: u32,
    ) -> Result<()> {
        let desc = self.table.get(fd)?;
        match &desc.kind {
            Kind::Dir(DirDesc {
                preopen: Some(name),
                ..
            }) => mem.write(
                out,
                Prestat {
                    name_len: to_u32(name.len())?,
                },
            ),
            _ => Err(Errno::Badf.into()),
        }
    }

    pub(crate) fn fd_prestat_dir_name(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<()> {
        let desc = self.table.get(fd)?;
        match &desc.kind {
            Kind::Dir(DirDesc {
                preopen: Some(name),
                ..
            }) => {
                if name.len() > len as usize {
                    return Err(Errno::Nametoolong.into());
                }
                mem.write_bytes(path, name.as_bytes())
            }
            _ => Err(Errno::Notdir.into()),
        }
    }

    pub(crate) fn fd_renumber(&mut self, from: u32, to: u32) -> Result<()> {
        if !self.table.contains(from) || !self.table.contains(to) {
            return Err(Errno::Badf.into());
        }
        if from == to {
            return Ok(());
        }
        let desc = self.table.remove(from)?;
        self.table.insert_at(to, desc);
        Ok(())
    }

    pub(crate) fn fd_seek(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        offset: i64,
        whence: u32,
        abi: WhenceAbi,
        out: u32,
    ) -> Result<()> {
        let pos = match (abi, whence) {
            (WhenceAbi::Preview1, 0) | (WhenceAbi::Preview0, 2) => {
                SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?)
            }
            (WhenceAbi::Preview1, 1) | (WhenceAbi::Preview0, 0) => SeekFrom::Current(offset),
            (WhenceAbi::Preview1, 2) | (WhenceAbi::Preview0, 1) => SeekFrom::End(offset),
            _ => return Err(Errno::Inval.into()),
        };
        mem.check_array::<u64>(out, 1)?;
        let required = if offset == 0 && matches!(pos, SeekFrom::Current(_)) {
            rights::FD_TELL
        } else {
            rights::FD_SEEK
        };
        let desc = self.table.get(fd)?;
        let f = match &desc.kind {
            Kind::File(f) => {
                if desc.base & (required | rights::FD_SEEK) == 0 {
                    return Err(Errno::Notcapable.into());
                }
                f
            }
            _ => return self.file(fd, rights::FD_SEEK).map(|_| ()),
        };
        let new = (&f.file).seek(pos)?;
        mem.write::<u64>(out, new)
    }

    pub(crate) fn fd_tell(&mut self, mem: &mut GuestMemory<'_>, fd: u32, out: u32) -> Result<()> {
        mem.check_array::<u64>(out, 1)?;
        let f = self.file(fd, rights::FD_TELL)?;
        let pos = (&f.file).stream_position()?;
        mem.write::<u64>(out, pos)
    }

    pub(crate) fn fd_readdir(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        out: u32,
    ) -> Result<()> {
        mem.check_array::<u32>(out, 1)?;
        let desc = self.table.get_mut(fd)?;
        let Kind::Dir(d) = &mut desc.kind else {
            return Err(Errno::Notdir.into());
        };
        if desc.base & rights::FD_READDIR == 0 {
            return Err(Errno::Notcapable.into());
        }
        if cookie == 0 || d.listing.is_none() {
            d.listing = Some(list_dir(&d.dir)?);
        }
        let listing = d.listing.as_deref().unwrap_or_default();
        let start = usize::try_from(cookie).unwrap_or(usize::MAX);
        let cap = buf_len as usize;
        let mut bytes = Vec::with_capacity(cap.min(1 << 16));
        for (i, item) in listing.iter().enumerate().skip(start) {
            if bytes.len() >= cap {
                break;
            }
            let header = crate::memory::Dirent {
                next: (i + 1) as u64,
                ino: item.ino,
                namlen: to_u32(item.name.len())?,
                filetype: item.filetype,
            }
            .to_bytes();
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(&item.name);
        }
        bytes.truncate(cap);
        mem.write_bytes(buf, &bytes)?;
        mem.write::<u32>(out, to_u32(bytes.len())?)
    }

    // ---- paths ----

    pub(crate) fn path_create_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<()> {
        let path = mem.str(path, len)?;
        check_path(path)?;
        let d = self.dir(fd, rights::PATH_CREATE_DIRECTORY, true)?;
        d.dir.create_dir(path)?;
        Ok(())
    }

    pub(crate) fn path_filestat(
        &mut self,
        mem: &GuestMemory<'_>,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
    ) -> Result<Filestat> {
        check_flags(flags, lookupflags::ALL)?;
        let path = mem.str(path, len)?;
        check_path(path)?;
        let d = self.dir(fd, rights::PATH_FILESTAT_GET, false)?;
        let meta = if flags & lookupflags::SYMLINK_FOLLOW != 0 {
            d.dir.metadata(path)?
        } else {
            d.dir.symlink_metadata(path)?
        };
        Ok(filestat_of(&meta))
    }

    #[expect(clippy::too_many_arguments, reason = "the witx signature")]
    pub(crate) fn path_filestat_set_times(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> Result<()> {
        check_flags(flags, lookupflags::ALL)?;
        let fst = u16::try_from(fst).map_err(|_| Errno::Inval)?;
        let (a, m) = set_times_args(atim, mtim, fst)?;
        let path = mem.str(path, len)?;
        check_path(path)?;
        let d = self.dir(fd, rights::PATH_FILESTAT_SET_TIMES, true)?;
        if flags & lookupflags::SYMLINK_FOLLOW != 0 {
            d.dir.set_times(path, a, m)?;
        } else {
            d.dir.set_symlink_times(path, a, m)?;
        }
        Ok(())
    }

    #[expect(clippy::too_many_arguments, reason = "the witx signature")]
    pub(crate) fn path_link(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_fd: u32,
        old_flags: u32,
        old_path: u32,
        old_len: u32,
        new_fd: u32,
        new_path: u32,
        new_len: u32,
    ) -> Result<()> {
        check_flags(old_flags, lookupflags::ALL)?;
        let old_path = mem.str(old_path, old_len)?;
        let new_path = mem.str(new_path, new_len)?;
        check_path(old_path)?;
        check_path(new_path)?;
        let old = self.dir(old_fd, rights::PATH_LINK_SOURCE, true)?;
        let new = self.dir(new_fd, rights::PATH_LINK_TARGET, true)?;
        if old_flags & lookupflags::SYMLINK_FOLLOW != 0 {
            // Following a symlink here would need a host `linkat(AT_SYMLINK_FOLLOW)` that
            // resolves beneath the directory; like Wasmtime, refuse it.
            return Err(Errno::Inval.into());
        }
        if new_path.ends_with('/') {
            // `linkat` never creates a directory: a trailing slash names nothing that can exist.
            return Err(
                match new.dir.symlink_metadata(new_path.trim_end_matches('/')) {
                    Ok(_) => Errno::Exist,
                    Err(_) => Errno::Noent,
                }
                .into(),
            );
        }
        old.dir.hard_link(old_path, &new.dir, new_path)?;
        Ok(())
    }

    #[expect(clippy::too_many_arguments, reason = "the witx signature")]
    pub(crate) fn path_open(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        dirflags: u32,
        path: u32,
        len: u32,
        oflags: u32,
        base: u64,
        inheriting: u64,
        fdflags: u32,
        out: u32,
    ) -> Result<()> {
        check_flags(dirflags, lookupflags::ALL)?;
        let oflags = u16::try_from(oflags).map_err(|_| Errno::Inval)?;
        check_flags(oflags, oflags::ALL)?;
        let fdflags = u16::try_from(fdflags).map_err(|_| Errno::Inval)?;
        check_flags(fdflags, fdflags::ALL)?;
        let path = mem.str(path, len)?.to_owned();
        check_path(&path)?;
        mem.check_array::<u32>(out, 1)?;

        let desc = self.table.get(fd)?;
        let d = desc.dir()?;
        let creat = oflags & oflags::CREAT != 0;
        let trunc = oflags & oflags::TRUNC != 0;
        let want_write = base & rights::FD_WRITE != 0;
        if d.readonly && (creat || trunc || want_write) {
            return Err(Errno::Perm.into());
        }
        let mut required = rights::PATH_OPEN;
        if creat {
            required |= rights::PATH_CREATE_FILE;
        }
        if trunc {
            required |= rights::PATH_FILESTAT_SET_SIZE;
        }
        desc.require(required)?;
        if oflags & oflags::DIRECTORY != 0 && (creat || trunc || oflags & oflags::EXCL != 0) {
            return Err(Errno::Inval.into());
        }

        let write = want_write || creat || trunc;
        let read = base & (rights::FD_READ | rights::FD_READDIR) != 0 || !write;
        let mut opts = cap_std::fs::OpenOptions::new();
        opts.read(read).write(write).maybe_dir(true);
        if creat {
            if oflags & oflags::EXCL != 0 {
                opts.create_new(true);
            } else {
                opts.create(true);
            }
        }
        if trunc {
            opts.truncate(true);
        }
        if fdflags & fdflags::APPEND != 0 && write {
            opts.append(true);
        }
        opts.sync(fdflags & fdflags::SYNC != 0)
            .dsync(fdflags & fdflags::DSYNC != 0)
            .rsync(fdflags & fdflags::RSYNC != 0)
            .nonblock(fdflags & fdflags::NONBLOCK != 0);
        opts.follow(if dirflags & lookupflags::SYMLINK_FOLLOW != 0 {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        });

        let opened = d.dir.open_with(&path, &opts)?;
        let meta = opened.metadata()?;
        let readonly = d.readonly;
        let parent_inheriting = desc.inheriting;
        let new = if meta.is_dir() {
            let dir = cap_std::fs::Dir::from_std_file(opened.into_std());
            Desc::new(
                Kind::Dir(DirDesc::new(dir, None, readonly)),
                base & parent_inheriting & rights::DIRECTORY,
                inheriting & parent_inheriting,
            )
        } else if oflags & oflags::DIRECTORY != 0 {
            return Err(Errno::Notdir.into());
        } else {
            let ft = filetype_of(meta.file_type());
            let file = opened.into_std();
            if fdflags & fdflags::APPEND != 0 && !write {
                // Recorded on the host descriptor so `fd_fdstat_get` reports it.
                let mut fl = rustix::fs::fcntl_getfl(&file)?;
                fl.insert(rustix::fs::OFlags::APPEND);
                rustix::fs::fcntl_setfl(&file, fl)?;
            }
            Desc::new(
                Kind::File(FileDesc { file, filetype: ft }),
                base & parent_inheriting & rights_for_filetype(ft),
                inheriting & parent_inheriting,
            )
        };
        let newfd = self.table.push(new)?;
        if let Err(e) = mem.write::<u32>(out, newfd) {
            let _ = self.table.remove(newfd);
            return Err(e);
        }
        Ok(())
    }

    #[expect(clippy::too_many_arguments, reason = "the witx signature")]
    pub(crate) fn path_readlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> Result<()> {
        let path = mem.str(path, len)?;
        check_path(path)?;
        let d = self.dir(fd, rights::PATH_READLINK, false)?;
        let target = d.dir.read_link(path)?;
        let bytes = target.as_os_str().as_bytes();
        let n = bytes.len().min(buf_len as usize);
        mem.write_bytes(buf, &bytes[..n])?;
        mem.write::<u32>(out, to_u32(n)?)
    }

    pub(crate) fn path_remove_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<()> {
        let path = mem.str(path, len)?;
        check_path(path)?;
        let d = self.dir(fd, rights::PATH_REMOVE_DIRECTORY, true)?;
        // `rmdir("dir/")` works on POSIX; cap-std wants the name without the slash (a
        // non-directory is still `notdir`).
        let trimmed = path.trim_end_matches('/');
        d.dir
            .remove_dir(if trimmed.is_empty() { path } else { trimmed })?;
        Ok(())
    }

    #[expect(clippy::too_many_arguments, reason = "the witx signature")]
    pub(crate) fn path_rename(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        old_path: u32,
        old_len: u32,
        new_fd: u32,
        new_path: u32,
        new_len: u32,
    ) -> Result<()> {
        let old_path = mem.str(old_path, old_len)?;
        let new_path = mem.str(new_path, new_len)?;
        check_path(old_path)?;
        check_path(new_path)?;
        let old = self.dir(fd, rights::PATH_RENAME_SOURCE, true)?;
        let new = self.dir(new_fd, rights::PATH_RENAME_TARGET, true)?;
        old.dir.rename(old_path, &new.dir, new_path)?;
        Ok(())
    }

    pub(crate) fn path_symlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_path: u32,
        old_len: u32,
        fd: u32,
        new_path: u32,
        new_len: u32,
    ) -> Result<()> {
        let old_path = mem.str(old_path, old_len)?;
        let new_path = mem.str(new_path, new_len)?;
        check_path(old_path)?;
        check_path(new_path)?;
        let d = self.dir(fd, rights::PATH_SYMLINK, true)?;
        if old_path.starts_with('/') {
            // An absolute target would point outside every preopen.
            return Err(Errno::Perm.into());
        }
        d.dir.symlink(old_path, new_path)?;
        Ok(())
    }

    pub(crate) fn path_unlink_file(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<()> {
        let path = mem.str(path, len)?;
        check_path(path)?;
        let d = self.dir(fd, rights::PATH_UNLINK_FILE, true)?;
        if path.ends_with('/') {
            // `unlinkat` with a trailing slash: a directory is `isdir`, anything else `notdir`.
            let meta = d.dir.symlink_metadata(path.trim_end_matches('/'))?;
            return Err(if meta.is_dir() {
                Errno::Isdir
            } else {
                Errno::Notdir
            }
            .into());
        }
        d.dir.remove_file_or_symlink(path)?;
        Ok(())
    }
}

fn host_fdflags(fd: impl AsFd) -> Result<u16> {
    use rustix::fs::OFlags;
    let fl = rustix::fs::fcntl_getfl(fd)?;
    let mut out = 0;
    if fl.contains(OFlags::APPEND) {
        out |= fdflags::APPEND;
    }
    if fl.contains(OFlags::NONBLOCK) {
        out |= fdflags::NONBLOCK;
    }
    if fl.contains(OFlags::SYNC) {
        out |= fdflags::SYNC;
    } else if fl.contains(OFlags::DSYNC) {
        out |= fdflags::DSYNC;
    }
    // Linux defines O_RSYNC as O_SYNC, so `rsync` cannot be told apart and is not reported.
    Ok(out)
}

fn read_retry(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            res => return Ok(res?),
        }
    }
}

fn write_retry(w: &mut impl Write, mut data: &[u8]) -> Result<usize> {
    let mut total = 0;
    while !data.is_empty() {
        match w.write(data) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                data = &data[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if total > 0 && e.kind() != std::io::ErrorKind::Interrupted => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(total)
}

/// Writes `items` (already NUL-terminated) into `buf` and a pointer to each into the `u32`
/// array `ptrs`.
fn write_string_array(
    mem: &mut GuestMemory<'_>,
    ptrs: u32,
    buf: u32,
    items: &[Vec<u8>],
) -> Result<()> {
    mem.check_array::<u32>(ptrs, to_u32(items.len())?)?;
    let mut at = buf;
    for (i, item) in items.iter().enumerate() {
        mem.write_elem::<u32>(ptrs, i as u32, at)?;
        mem.write_bytes(at, item)?;
        at = at
            .checked_add(to_u32(item.len())?)
            .ok_or_else(|| Error::trap("out of bounds memory access: string buffer overflows"))?;
    }
    Ok(())
}

/// `.`, `..` and the entries of `dir`, in the order `fd_readdir` reports them.
fn list_dir(dir: &cap_std::fs::Dir) -> Result<Vec<DirItem>> {
    use cap_fs_ext::MetadataExt as _;
    let ino = dir.dir_metadata()?.ino();
    let mut items = vec![
        DirItem {
            name: b".".to_vec(),
            ino,
            filetype: filetype::DIRECTORY,
        },
        DirItem {
            name: b"..".to_vec(),
            ino,
            filetype: filetype::DIRECTORY,
        },
    ];
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name();
        let ft = match entry.file_type() {
            Ok(t) => filetype_of(t),
            Err(_) => filetype::UNKNOWN,
        };
        items.push(DirItem {
            name: name.as_bytes().to_vec(),
            ino: std::os::unix::fs::DirEntryExt::ino(&entry),
            filetype: ft,
        });
    }
    Ok(items)
}
