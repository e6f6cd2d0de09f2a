//! The WASI preview1 ABI vocabulary from `wasi_snapshot_preview1.witx`: errno values, rights,
//! flags, enum encodings and struct sizes, plus `Error`, which keeps an errno result (returned
//! to the guest) apart from a trap (which unwinds the guest).
//!
//! Everything here is plain data; the struct layouts are encoded in `memory.rs`.

use std::fmt;
use std::io;

/// A WASI errno value (`errno` in the witx), as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
#[allow(
    missing_docs,
    reason = "the names are the witx names; see the WASI specification"
)]
pub enum Errno {
    Success = 0,
    TooBig = 1,
    Acces = 2,
    Addrinuse = 3,
    Addrnotavail = 4,
    Afnosupport = 5,
    Again = 6,
    Already = 7,
    Badf = 8,
    Badmsg = 9,
    Busy = 10,
    Canceled = 11,
    Child = 12,
    Connaborted = 13,
    Connrefused = 14,
    Connreset = 15,
    Deadlk = 16,
    Destaddrreq = 17,
    Dom = 18,
    Dquot = 19,
    Exist = 20,
    Fault = 21,
    Fbig = 22,
    Hostunreach = 23,
    Idrm = 24,
    Ilseq = 25,
    Inprogress = 26,
    Intr = 27,
    Inval = 28,
    Io = 29,
    Isconn = 30,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Mlink = 34,
    Msgsize = 35,
    Multihop = 36,
    Nametoolong = 37,
    Netdown = 38,
    Netreset = 39,
    Netunreach = 40,
    Nfile = 41,
    Nobufs = 42,
    Nodev = 43,
    Noent = 44,
    Noexec = 45,
    Nolck = 46,
    Nolink = 47,
    Nomem = 48,
    Nomsg = 49,
    Noprotoopt = 50,
    Nospc = 51,
    Nosys = 52,
    Notconn = 53,
    Notdir = 54,
    Notempty = 55,
    Notrecoverable = 56,
    Notsock = 57,
    Notsup = 58,
    Notty = 59,
    Nxio = 60,
    Overflow = 61,
    Ownerdead = 62,
    Perm = 63,
    Pipe = 64,
    Proto = 65,
    Protonosupport = 66,
    Prototype = 67,
    Range = 68,
    Rofs = 69,
    Spipe = 70,
    Srch = 71,
    Stale = 72,
    Timedout = 73,
    Txtbsy = 74,
    Xdev = 75,
    Notcapable = 76,
}

impl Errno {
    /// The raw value the guest receives.
    pub fn raw(self) -> u16 {
        self as u16
    }

    /// The WASI errno for a host `errno` value (Linux numbering), `Io` when there is none.
    pub fn from_raw_os_error(code: i32) -> Errno {
        use rustix::io::Errno as E;
        let e = E::from_raw_os_error(code);
        let table = [
            (E::TOOBIG, Errno::TooBig),
            (E::ACCESS, Errno::Acces),
            (E::ADDRINUSE, Errno::Addrinuse),
            (E::ADDRNOTAVAIL, Errno::Addrnotavail),
            (E::AFNOSUPPORT, Errno::Afnosupport),
            (E::AGAIN, Errno::Again),
            (E::ALREADY, Errno::Already),
            (E::BADF, Errno::Badf),
            (E::BADMSG, Errno::Badmsg),
            (E::BUSY, Errno::Busy),
            (E::CANCELED, Errno::Canceled),
            (E::CHILD, Errno::Child),
            (E::CONNABORTED, Errno::Connaborted),
            (E::CONNREFUSED, Errno::Connrefused),
            (E::CONNRESET, Errno::Connreset),
            (E::DEADLK, Errno::Deadlk),
            (E::DESTADDRREQ, Errno::Destaddrreq),
            (E::DOM, Errno::Dom),
            (E::DQUOT, Errno::Dquot),
            (E::EXIST, Errno::Exist),
            (E::FAULT, Errno::Fault),
            (E::FBIG, Errno::Fbig),
            (E::HOSTUNREACH, Errno::Hostunreach),
            (E::IDRM, Errno::Idrm),
            (E::ILSEQ, Errno::Ilseq),
            (E::INPROGRESS, Errno::Inprogress),
            (E::INTR, Errno::Intr),
            (E::INVAL, Errno::Inval),
            (E::IO, Errno::Io),
            (E::ISCONN, Errno::Isconn),
            (E::ISDIR, Errno::Isdir),
            (E::LOOP, Errno::Loop),
            (E::MFILE, Errno::Mfile),
            (E::MLINK, Errno::Mlink),
            (E::MSGSIZE, Errno::Msgsize),
            (E::MULTIHOP, Errno::Multihop),
            (E::NAMETOOLONG, Errno::Nametoolong),
            (E::NETDOWN, Errno::Netdown),
            (E::NETRESET, Errno::Netreset),
            (E::NETUNREACH, Errno::Netunreach),
            (E::NFILE, Errno::Nfile),
            (E::NOBUFS, Errno::Nobufs),
            (E::NODEV, Errno::Nodev),
            (E::NOENT, Errno::Noent),
            (E::NOEXEC, Errno::Noexec),
            (E::NOLCK, Errno::Nolck),
            (E::NOLINK, Errno::Nolink),
            (E::NOMEM, Errno::Nomem),
            (E::NOMSG, Errno::Nomsg),
            (E::NOPROTOOPT, Errno::Noprotoopt),
            (E::NOSPC, Errno::Nospc),
            (E::NOSYS, Errno::Nosys),
            (E::NOTCONN, Errno::Notconn),
            (E::NOTDIR, Errno::Notdir),
            (E::NOTEMPTY, Errno::Notempty),
            (E::NOTRECOVERABLE, Errno::Notrecoverable),
            (E::NOTSOCK, Errno::Notsock),
            (E::NOTSUP, Errno::Notsup),
            (E::OPNOTSUPP, Errno::Notsup),
            (E::NOTTY, Errno::Notty),
            (E::NXIO, Errno::Nxio),
            (E::OVERFLOW, Errno::Overflow),
            (E::OWNERDEAD, Errno::Ownerdead),
            (E::PERM, Errno::Perm),
            (E::PIPE, Errno::Pipe),
            (E::PROTO, Errno::Proto),
            (E::PROTONOSUPPORT, Errno::Protonosupport),
            (E::PROTOTYPE, Errno::Prototype),
            (E::RANGE, Errno::Range),
            (E::ROFS, Errno::Rofs),
            (E::SPIPE, Errno::Spipe),
            (E::SRCH, Errno::Srch),
            (E::STALE, Errno::Stale),
            (E::TIMEDOUT, Errno::Timedout),
            (E::TXTBSY, Errno::Txtbsy),
            (E::XDEV, Errno::Xdev),
        ];
        table
            .iter()
            .find(|(host, _)| *host == e)
            .map_or(Errno::Io, |(_, wasi)| *wasi)
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        Errno::from(&e)
    }
}

impl From<&io::Error> for Errno {
    fn from(e: &io::Error) -> Errno {
        if let Some(code) = e.raw_os_error() {
            return Errno::from_raw_os_error(code);
        }
        // Errors made by std or cap-std without an OS errno; cap-std reports an attempt to
        // leave the sandbox as `PermissionDenied`, which WASI runtimes give as `perm`.
        match e.kind() {
            io::ErrorKind::NotFound => Errno::Noent,
            io::ErrorKind::PermissionDenied => Errno::Perm,
            io::ErrorKind::AlreadyExists => Errno::Exist,
            io::ErrorKind::InvalidInput => Errno::Inval,
            io::ErrorKind::InvalidData => Errno::Ilseq,
            io::ErrorKind::WouldBlock => Errno::Again,
            io::ErrorKind::Interrupted => Errno::Intr,
            io::ErrorKind::BrokenPipe => Errno::Pipe,
            io::ErrorKind::Unsupported => Errno::Notsup,
            io::ErrorKind::OutOfMemory => Errno::Nomem,
            io::ErrorKind::NotADirectory => Errno::Notdir,
            io::ErrorKind::IsADirectory => Errno::Isdir,
            io::ErrorKind::DirectoryNotEmpty => Errno::Notempty,
            _ => Errno::Io,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno::from_raw_os_error(e.raw_os_error())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} ({:?})", self.raw(), self)
    }
}

/// The outcome of a WASI call that did not succeed: an errno for the guest, or a trap.
#[derive(Debug)]
pub enum Error {
    /// Returned to the guest as the function's result.
    Errno(Errno),
    /// Unwinds the guest (a bad pointer, `proc_exit`, a host failure).
    Trap(anyhow::Error),
}

impl Error {
    /// A trap with `msg`.
    pub fn trap(msg: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Error {
        Error::Trap(anyhow::Error::msg(msg))
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Error {
        Error::Errno(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Errno(e.into())
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Error {
        Error::Errno(e.into())
    }
}

/// The result type of every WASI implementation function.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Rights (`rights` in the witx): what may be done through a descriptor.
pub mod rights {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// Every right preview1 defines.
    pub const ALL: u64 = (1 << 30) - 1;

    /// The rights that make sense on a regular file.
    pub const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;

    /// The rights that make sense on a directory.
    pub const DIRECTORY: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | POLL_FD_READWRITE;

    /// The rights of a stream socket.
    pub const SOCKET: u64 = FD_READ
        | FD_WRITE
        | FD_FDSTAT_SET_FLAGS
        | FD_FILESTAT_GET
        | POLL_FD_READWRITE
        | SOCK_SHUTDOWN
        | SOCK_ACCEPT;

    /// Rights that change the filesystem or a file's contents; a read-only preopen and
    /// everything opened through it never holds them.
    pub const MUTATING: u64 = FD_DATASYNC
        | FD_WRITE
        | FD_ALLOCATE
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
}

/// `filetype` values.
pub mod filetype {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags` bits.
pub mod fdflags {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
    pub const ALL: u16 = (1 << 5) - 1;
}

/// `oflags` bits.
pub mod oflags {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
    pub const ALL: u16 = (1 << 4) - 1;
}

/// `lookupflags` bits.
pub mod lookupflags {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
    pub const ALL: u32 = 1;
}

/// `fstflags` bits.
pub mod fstflags {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
    pub const ALL: u16 = (1 << 4) - 1;
}

/// `clockid` values.
pub mod clockid {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `eventtype` values and `eventrwflags`/`subclockflags` bits.
pub mod event {
    #![allow(missing_docs, reason = "the names are the witx names")]
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
    pub const FD_READWRITE_HANGUP: u16 = 1 << 0;
    pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1 << 0;
}
