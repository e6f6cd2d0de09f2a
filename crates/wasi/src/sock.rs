//! The socket functions of preview1: `sock_accept` on a preopened listener, and `sock_recv`,
//! `sock_send`, `sock_shutdown` on accepted connections. A guest cannot create sockets; it only
//! gets the listeners the embedder preopened. On a descriptor that is not a socket they fail
//! with `notsock`, on a bad one with `badf`.

use crate::ctx::WasiCtx;
use crate::memory::GuestMemory;
use crate::table::{Desc, Kind};
use crate::types::{Errno, Result, fdflags, rights};
use std::io::{Read, Write};
use std::net::Shutdown;

const RECV_PEEK: u16 = 1 << 0;
const RECV_WAITALL: u16 = 1 << 1;
/// The most bytes one `sock_recv` moves.
const MAX_RECV: usize = 16 << 20;

impl WasiCtx {
    pub(crate) fn sock_accept(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        flags: u32,
        out: u32,
    ) -> Result<()> {
        let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
        if flags & !fdflags::NONBLOCK != 0 {
            return Err(Errno::Inval.into());
        }
        mem.check_array::<u32>(out, 1)?;
        let desc = self.table.get(fd)?;
        let Kind::Listener(l) = &desc.kind else {
            return Err(Errno::Notsock.into());
        };
        desc.require(rights::SOCK_ACCEPT)?;
        let (stream, _) = l.accept()?;
        stream.set_nonblocking(flags & fdflags::NONBLOCK != 0)?;
        let inheriting = desc.inheriting;
        let newfd = self.table.push(Desc::new(
            Kind::Stream(stream),
            rights::SOCKET & inheriting & !rights::SOCK_ACCEPT,
            rights::SOCKET & inheriting,
        ))?;
        mem.write::<u32>(out, newfd)
    }

    #[expect(clippy::too_many_arguments, reason = "the witx signature")]
    pub(crate) fn sock_recv(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        ri_flags: u32,
        out_len: u32,
        out_flags: u32,
    ) -> Result<()> {
        let ri_flags = u16::try_from(ri_flags).map_err(|_| Errno::Inval)?;
        if ri_flags & !(RECV_PEEK | RECV_WAITALL) != 0 {
            return Err(Errno::Inval.into());
        }
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.check_array::<u32>(out_len, 1)?;
        mem.check_array::<u16>(out_flags, 1)?;
        let desc = self.table.get(fd)?;
        let Kind::Stream(s) = &desc.kind else {
            return Err(socket_kind_error(&desc.kind));
        };
        desc.require(rights::FD_READ)?;
        let total: usize = iovs.iter().map(|&(_, l)| l as usize).sum();
        let mut buf = vec![0u8; total.min(MAX_RECV)];
        let n = if ri_flags & RECV_PEEK != 0 {
            s.peek(&mut buf)?
        } else if ri_flags & RECV_WAITALL != 0 {
            let mut got = 0;
            while got < buf.len() {
                match (&*s).read(&mut buf[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if got == 0 => return Err(e.into()),
                    Err(_) => break,
                }
            }
            got
        } else {
            (&*s).read(&mut buf)?
        };
        let mut rest = &buf[..n];
        for &(ptr, len) in &iovs {
            let k = (len as usize).min(rest.len());
            mem.write_bytes(ptr, &rest[..k])?;
            rest = &rest[k..];
        }
        mem.write::<u32>(out_len, n as u32)?;
        // Stream sockets never truncate a message.
        mem.write::<u16>(out_flags, 0)
    }

    pub(crate) fn sock_send(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        si_flags: u32,
        out: u32,
    ) -> Result<()> {
        if si_flags != 0 {
            return Err(Errno::Inval.into());
        }
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.check_array::<u32>(out, 1)?;
        let desc = self.table.get(fd)?;
        let Kind::Stream(s) = &desc.kind else {
            return Err(socket_kind_error(&desc.kind));
        };
        desc.require(rights::FD_WRITE)?;
        let mut data = Vec::new();
        for &(ptr, len) in &iovs {
            data.extend_from_slice(mem.slice(ptr, len)?);
        }
        let n = (&*s).write(&data)?;
        mem.write::<u32>(out, n as u32)
    }

    pub(crate) fn sock_shutdown(&mut self, fd: u32, how: u32) -> Result<()> {
        let how = match how {
            1 => Shutdown::Read,
            2 => Shutdown::Write,
            3 => Shutdown::Both,
            _ => return Err(Errno::Inval.into()),
        };
        let desc = self.table.get(fd)?;
        let Kind::Stream(s) = &desc.kind else {
            return Err(socket_kind_error(&desc.kind));
        };
        desc.require(rights::SOCK_SHUTDOWN)?;
        s.shutdown(how)?;
        Ok(())
    }
}

fn socket_kind_error(kind: &Kind) -> crate::types::Error {
    match kind {
        // A listening socket is a socket, just not a connected one.
        Kind::Listener(_) => Errno::Notconn.into(),
        _ => Errno::Notsock.into(),
    }
}
