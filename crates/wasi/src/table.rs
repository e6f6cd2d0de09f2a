//! The descriptor table: guest fd numbers to host objects, each with its WASI rights.
//!
//! A descriptor's rights only ever shrink (`fd_fdstat_set_rights`), and a descriptor opened
//! through a directory gets at most that directory's inheriting rights, so a read-only preopen
//! can never hand out a writable descriptor.

use crate::ctx::{Input, Output};
use crate::types::{Errno, Result, rights};
use std::cell::Cell;
use std::collections::BTreeMap;

/// At most this many descriptors are open at once (`nfile` past it).
const MAX_DESCRIPTORS: usize = 1 << 16;

/// One entry of a directory listing, as `fd_readdir` reports it.
#[derive(Debug, Clone)]
pub(crate) struct DirItem {
    pub name: Vec<u8>,
    pub ino: u64,
    pub filetype: u8,
}

/// An open directory.
pub(crate) struct DirDesc {
    pub dir: cap_std::fs::Dir,
    /// The guest name, for a preopen.
    pub preopen: Option<String>,
    /// Nothing below may be changed.
    pub readonly: bool,
    /// The listing of the last `fd_readdir` that started at cookie 0.
    pub listing: Option<Vec<DirItem>>,
}

impl DirDesc {
    pub(crate) fn new(dir: cap_std::fs::Dir, preopen: Option<String>, readonly: bool) -> DirDesc {
        DirDesc {
            dir,
            preopen,
            readonly,
            listing: None,
        }
    }
}

/// An open regular file (or another non-directory: a device, a FIFO).
pub(crate) struct FileDesc {
    pub file: std::fs::File,
    pub filetype: u8,
}

pub(crate) enum Kind {
    Stdin(Input),
    Output(Output),
    File(FileDesc),
    Dir(DirDesc),
    Listener(std::net::TcpListener),
    Stream(std::net::TcpStream),
}

/// A descriptor.
pub(crate) struct Desc {
    pub kind: Kind,
    pub base: u64,
    pub inheriting: u64,
}

impl Desc {
    pub(crate) fn new(kind: Kind, base: u64, inheriting: u64) -> Desc {
        Desc {
            kind,
            base,
            inheriting,
        }
    }

    /// `notcapable` unless the descriptor holds every right in `required`.
    pub(crate) fn require(&self, required: u64) -> Result<()> {
        if self.base & required == required {
            Ok(())
        } else {
            Err(Errno::Notcapable.into())
        }
    }

    pub(crate) fn dir(&self) -> Result<&DirDesc> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Errno::Notdir.into()),
        }
    }
}

/// Guest descriptor numbers.
#[derive(Default)]
pub(crate) struct FdTable {
    map: BTreeMap<u32, Desc>,
    /// The descriptor number last looked up, for the audit record of a refusal.
    last: Cell<Option<u32>>,
}

impl FdTable {
    pub(crate) fn insert_at(&mut self, fd: u32, desc: Desc) -> Option<Desc> {
        self.map.insert(fd, desc)
    }

    /// Adds `desc` at the lowest free number.
    pub(crate) fn push(&mut self, desc: Desc) -> Result<u32> {
        if self.map.len() >= MAX_DESCRIPTORS {
            return Err(Errno::Nfile.into());
        }
        let mut fd = 0u32;
        for &used in self.map.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        self.map.insert(fd, desc);
        Ok(fd)
    }

    pub(crate) fn get(&self, fd: u32) -> Result<&Desc> {
        self.last.set(Some(fd));
        self.map.get(&fd).ok_or(Errno::Badf.into())
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut Desc> {
        self.last.set(Some(fd));
        self.map.get_mut(&fd).ok_or(Errno::Badf.into())
    }

    /// The descriptor number last looked up, cleared.
    pub(crate) fn take_last(&self) -> Option<u32> {
        self.last.take()
    }

    pub(crate) fn remove(&mut self, fd: u32) -> Result<Desc> {
        self.map.remove(&fd).ok_or(Errno::Badf.into())
    }

    pub(crate) fn contains(&self, fd: u32) -> bool {
        self.map.contains_key(&fd)
    }
}

/// The rights a new descriptor of file type `filetype` may hold at most.
pub(crate) fn rights_for_filetype(filetype: u8) -> u64 {
    use crate::types::filetype as ft;
    match filetype {
        ft::DIRECTORY => rights::DIRECTORY,
        ft::SOCKET_STREAM | ft::SOCKET_DGRAM => rights::SOCKET,
        _ => rights::FILE,
    }
}
