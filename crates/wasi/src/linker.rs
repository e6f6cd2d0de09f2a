//! `add_to_linker`: defines every WASI function on a `kiln::Linker`, under
//! `wasi_snapshot_preview1` and under the older `wasi_unstable` (preview0).
//!
//! Each host function finds the calling instance's `memory` export, wraps it in a
//! `GuestMemory`, and calls the `WasiCtx` method; an `Errno` becomes the i32 result, a trap
//! becomes the call's error (`in func MODULE::NAME: ...`), and `proc_exit` becomes an
//! [`I32Exit`] error that unwinds the guest without ending the host process.
//!
//! preview0 differs from preview1 in three layouts, handled here: `fd_seek`'s `whence`
//! encoding, the 56-byte `filestat` (with a 32-bit `nlink`), and the 56-byte clock
//! `subscription` (with an extra `identifier`). It has no `sock_accept`.

use crate::ctx::WasiCtx;
use crate::memory::{FilestatP0, GuestMemory};
use crate::p1::{I32Exit, WhenceAbi};
use crate::poll::SubscriptionAbi;
use crate::types::Error;
use anyhow::anyhow;
use kiln::{Caller, Extern, Linker};

/// The module name of WASI preview1.
pub const PREVIEW1: &str = "wasi_snapshot_preview1";
/// The module name of WASI preview0.
pub const PREVIEW0: &str = "wasi_unstable";

fn with_mem<T, G>(
    caller: &mut Caller<'_, T>,
    get: G,
    module: &'static str,
    name: &'static str,
    f: impl FnOnce(&mut WasiCtx, &mut GuestMemory<'_>) -> crate::types::Result<()>,
) -> anyhow::Result<i32>
where
    G: Fn(&mut T) -> &mut WasiCtx,
{
    let memory = match caller.get_export("memory") {
        Some(Extern::Memory(m)) => m,
        _ => {
            return Err(anyhow!(
                "in func {module}::{name}: the module exports no memory named `memory`"
            ));
        }
    };
    let (bytes, data) = memory.data_and_store_mut(&mut *caller);
    let mut mem = GuestMemory::new(bytes);
    let cx = get(data);
    let r = f(cx, &mut mem);
    let fd = cx.table.take_last();
    if let Err(Error::Errno(e)) = &r {
        let resource = mem.strings_read().or(fd.map(|fd| format!("fd {fd}")));
        cx.audit_refusal(name, *e, resource.unwrap_or_default());
    }
    finish(r, module, name)
}

fn without_mem<T, G>(
    caller: &mut Caller<'_, T>,
    get: G,
    module: &'static str,
    name: &'static str,
    f: impl FnOnce(&mut WasiCtx) -> crate::types::Result<()>,
) -> anyhow::Result<i32>
where
    G: Fn(&mut T) -> &mut WasiCtx,
{
    let cx = get(caller.data_mut());
    let r = f(cx);
    let fd = cx.table.take_last();
    if let Err(Error::Errno(e)) = &r {
        cx.audit_refusal(
            name,
            *e,
            fd.map(|fd| format!("fd {fd}")).unwrap_or_default(),
        );
    }
    finish(r, module, name)
}

fn finish(r: crate::types::Result<()>, module: &str, name: &str) -> anyhow::Result<i32> {
    match r {
        Ok(()) => Ok(0),
        Err(Error::Errno(e)) => Ok(i32::from(e.raw())),
        Err(Error::Trap(e)) => Err(e.context(format!("in func {module}::{name}"))),
    }
}

/// Defines both `wasi_snapshot_preview1` and `wasi_unstable` on `linker`; `get` finds the
/// [`WasiCtx`] in the store's data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Copy + Send + Sync + 'static,
) -> anyhow::Result<()> {
    add_module(linker, get, PREVIEW1)?;
    add_module(linker, get, PREVIEW0)
}

/// Defines only `wasi_snapshot_preview1`.
pub fn add_to_linker_preview1<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Copy + Send + Sync + 'static,
) -> anyhow::Result<()> {
    add_module(linker, get, PREVIEW1)
}

macro_rules! mem_fn {
    ($linker:ident, $get:ident, $m:ident, $name:literal, |$cx:ident, $mem:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {
        $linker.func_wrap($m, $name, move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> anyhow::Result<i32> {
            with_mem(&mut caller, $get, $m, $name, |$cx, $mem| $body)
        })?;
    };
}

macro_rules! plain_fn {
    ($linker:ident, $get:ident, $m:ident, $name:literal, |$cx:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {
        $linker.func_wrap($m, $name, move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> anyhow::Result<i32> {
            without_mem(&mut caller, $get, $m, $name, |$cx| $body)
        })?;
    };
}

fn add_module<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Copy + Send + Sync + 'static,
    m: &'static str,
) -> anyhow::Result<()> {
    let p0 = m == PREVIEW0;
    mem_fn!(
        linker,
        get,
        m,
        "args_get",
        |cx, mem, argv: u32, buf: u32| cx.args_get(mem, argv, buf)
    );
    mem_fn!(
        linker,
        get,
        m,
        "args_sizes_get",
        |cx, mem, argc: u32, size: u32| cx.args_sizes_get(mem, argc, size)
    );
    mem_fn!(
        linker,
        get,
        m,
        "environ_get",
        |cx, mem, env: u32, buf: u32| cx.environ_get(mem, env, buf)
    );
    mem_fn!(
        linker,
        get,
        m,
        "environ_sizes_get",
        |cx, mem, count: u32, size: u32| cx.environ_sizes_get(mem, count, size)
    );
    mem_fn!(
        linker,
        get,
        m,
        "clock_res_get",
        |cx, mem, id: u32, out: u32| cx.clock_res_get(mem, id, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "clock_time_get",
        |cx, mem, id: u32, precision: u64, out: u32| cx.clock_time_get(mem, id, precision, out)
    );
    plain_fn!(
        linker,
        get,
        m,
        "fd_advise",
        |cx, fd: u32, offset: u64, len: u64, advice: u32| cx.fd_advise(fd, offset, len, advice)
    );
    plain_fn!(
        linker,
        get,
        m,
        "fd_allocate",
        |cx, fd: u32, offset: u64, len: u64| cx.fd_allocate(fd, offset, len)
    );
    plain_fn!(linker, get, m, "fd_close", |cx, fd: u32| cx.fd_close(fd));
    plain_fn!(linker, get, m, "fd_datasync", |cx, fd: u32| cx
        .fd_datasync(fd));
    mem_fn!(
        linker,
        get,
        m,
        "fd_fdstat_get",
        |cx, mem, fd: u32, out: u32| cx.fd_fdstat_get(mem, fd, out)
    );
    plain_fn!(
        linker,
        get,
        m,
        "fd_fdstat_set_flags",
        |cx, fd: u32, flags: u32| cx.fd_fdstat_set_flags(fd, flags)
    );
    plain_fn!(
        linker,
        get,
        m,
        "fd_fdstat_set_rights",
        |cx, fd: u32, base: u64, inh: u64| cx.fd_fdstat_set_rights(fd, base, inh)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_filestat_get",
        |cx, mem, fd: u32, out: u32| {
            mem.check_array::<crate::memory::Filestat>(out, 0)?;
            let st = cx.fd_filestat(fd)?;
            if p0 {
                mem.write(out, FilestatP0(st))
            } else {
                mem.write(out, st)
            }
        }
    );
    plain_fn!(
        linker,
        get,
        m,
        "fd_filestat_set_size",
        |cx, fd: u32, size: u64| cx.fd_filestat_set_size(fd, size)
    );
    plain_fn!(
        linker,
        get,
        m,
        "fd_filestat_set_times",
        |cx, fd: u32, atim: u64, mtim: u64, fst: u32| cx.fd_filestat_set_times(fd, atim, mtim, fst)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_pread",
        |cx, mem, fd: u32, iovs: u32, n: u32, offset: u64, out: u32| cx
            .fd_pread(mem, fd, iovs, n, offset, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_prestat_get",
        |cx, mem, fd: u32, out: u32| cx.fd_prestat_get(mem, fd, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_prestat_dir_name",
        |cx, mem, fd: u32, path: u32, len: u32| cx.fd_prestat_dir_name(mem, fd, path, len)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_pwrite",
        |cx, mem, fd: u32, iovs: u32, n: u32, offset: u64, out: u32| cx
            .fd_pwrite(mem, fd, iovs, n, offset, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_read",
        |cx, mem, fd: u32, iovs: u32, n: u32, out: u32| cx.fd_read(mem, fd, iovs, n, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "fd_readdir",
        |cx, mem, fd: u32, buf: u32, len: u32, cookie: u64, out: u32| cx
            .fd_readdir(mem, fd, buf, len, cookie, out)
    );
    plain_fn!(linker, get, m, "fd_renumber", |cx, from: u32, to: u32| cx
        .fd_renumber(from, to));
    let whence = if p0 {
        WhenceAbi::Preview0
    } else {
        WhenceAbi::Preview1
    };
    mem_fn!(
        linker,
        get,
        m,
        "fd_seek",
        |cx, mem, fd: u32, offset: i64, w: u32, out: u32| cx
            .fd_seek(mem, fd, offset, w, whence, out)
    );
    plain_fn!(linker, get, m, "fd_sync", |cx, fd: u32| cx.fd_sync(fd));
    mem_fn!(linker, get, m, "fd_tell", |cx, mem, fd: u32, out: u32| cx
        .fd_tell(mem, fd, out));
    mem_fn!(
        linker,
        get,
        m,
        "fd_write",
        |cx, mem, fd: u32, iovs: u32, n: u32, out: u32| cx.fd_write(mem, fd, iovs, n, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_create_directory",
        |cx, mem, fd: u32, path: u32, len: u32| cx.path_create_directory(mem, fd, path, len)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_filestat_get",
        |cx, mem, fd: u32, flags: u32, path: u32, len: u32, out: u32| {
            mem.check_array::<crate::memory::Filestat>(out, 0)?;
            let st = cx.path_filestat(mem, fd, flags, path, len)?;
            if p0 {
                mem.write(out, FilestatP0(st))
            } else {
                mem.write(out, st)
            }
        }
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_filestat_set_times",
        |cx, mem, fd: u32, flags: u32, path: u32, len: u32, atim: u64, mtim: u64, fst: u32| cx
            .path_filestat_set_times(mem, fd, flags, path, len, atim, mtim, fst)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_link",
        |cx,
         mem,
         old_fd: u32,
         old_flags: u32,
         old_path: u32,
         old_len: u32,
         new_fd: u32,
         new_path: u32,
         new_len: u32| cx.path_link(
            mem, old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len
        )
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_open",
        |cx,
         mem,
         fd: u32,
         dirflags: u32,
         path: u32,
         len: u32,
         oflags: u32,
         base: u64,
         inheriting: u64,
         fdflags: u32,
         out: u32| cx.path_open(
            mem, fd, dirflags, path, len, oflags, base, inheriting, fdflags, out
        )
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_readlink",
        |cx, mem, fd: u32, path: u32, len: u32, buf: u32, buf_len: u32, out: u32| cx
            .path_readlink(mem, fd, path, len, buf, buf_len, out)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_remove_directory",
        |cx, mem, fd: u32, path: u32, len: u32| cx.path_remove_directory(mem, fd, path, len)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_rename",
        |cx,
         mem,
         fd: u32,
         old_path: u32,
         old_len: u32,
         new_fd: u32,
         new_path: u32,
         new_len: u32| cx
            .path_rename(mem, fd, old_path, old_len, new_fd, new_path, new_len)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_symlink",
        |cx, mem, old_path: u32, old_len: u32, fd: u32, new_path: u32, new_len: u32| cx
            .path_symlink(mem, old_path, old_len, fd, new_path, new_len)
    );
    mem_fn!(
        linker,
        get,
        m,
        "path_unlink_file",
        |cx, mem, fd: u32, path: u32, len: u32| cx.path_unlink_file(mem, fd, path, len)
    );
    let subs = if p0 {
        SubscriptionAbi::Preview0
    } else {
        SubscriptionAbi::Preview1
    };
    mem_fn!(
        linker,
        get,
        m,
        "poll_oneoff",
        |cx, mem, subs_ptr: u32, events: u32, n: u32, out: u32| cx
            .poll_oneoff(mem, subs_ptr, events, n, out, subs)
    );
    linker.func_wrap(m, "proc_exit", |code: u32| -> anyhow::Result<()> {
        Err(I32Exit(code as i32).into())
    })?;
    plain_fn!(linker, get, m, "proc_raise", |cx, sig: u32| cx
        .proc_raise(sig));
    plain_fn!(linker, get, m, "sched_yield", |cx| cx.sched_yield());
    mem_fn!(
        linker,
        get,
        m,
        "random_get",
        |cx, mem, buf: u32, len: u32| cx.random_get(mem, buf, len)
    );
    if !p0 {
        mem_fn!(
            linker,
            get,
            m,
            "sock_accept",
            |cx, mem, fd: u32, flags: u32, out: u32| cx.sock_accept(mem, fd, flags, out)
        );
    }
    mem_fn!(
        linker,
        get,
        m,
        "sock_recv",
        |cx, mem, fd: u32, iovs: u32, n: u32, flags: u32, out_len: u32, out_flags: u32| cx
            .sock_recv(mem, fd, iovs, n, flags, out_len, out_flags)
    );
    mem_fn!(
        linker,
        get,
        m,
        "sock_send",
        |cx, mem, fd: u32, iovs: u32, n: u32, flags: u32, out: u32| cx
            .sock_send(mem, fd, iovs, n, flags, out)
    );
    plain_fn!(linker, get, m, "sock_shutdown", |cx, fd: u32, how: u32| cx
        .sock_shutdown(fd, how));
    Ok(())
}
