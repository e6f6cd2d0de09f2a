//! `WasiCtx` and `WasiCtxBuilder`: what a guest may see and touch.
//!
//! Nothing is inherited from the host unless asked for: the default context has no arguments,
//! no environment, an empty stdin, discarded stdout/stderr and no preopened directories.
//! Descriptors 0–2 are stdio; preopened directories (and sockets) follow from 3 in the order
//! they were added. Clocks and the random source are injectable for deterministic runs.

use crate::table::{Desc, DirDesc, FdTable, Kind};
use crate::types::{Errno, clockid, rights};
use anyhow::{Context as _, Result};
use kiln::trust::audit::{Audit, CapabilityDenied};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Whether a preopened directory may be changed through WASI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirPerms {
    /// Files may be read, written, created and removed (subject to host permissions).
    ReadWrite,
    /// Nothing below the directory can be created, written, renamed or removed; attempts fail
    /// with `perm` (or `notcapable` where a right is missing) before the host sees them.
    ReadOnly,
}

/// A clock the guest can read: `clock_time_get`, `clock_res_get` and `poll_oneoff` timeouts.
pub trait WasiClocks: Send {
    /// The current time of clock `id` (a `clockid` value) in nanoseconds.
    fn now(&self, id: u32) -> Result<u64, Errno>;
    /// The resolution of clock `id` in nanoseconds.
    fn resolution(&self, id: u32) -> Result<u64, Errno>;
}

/// The host's clocks: realtime, monotonic, and the process and thread CPU-time clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClocks;

fn host_clock(id: u32) -> Result<rustix::time::ClockId, Errno> {
    use rustix::time::ClockId as C;
    Ok(match id {
        clockid::REALTIME => C::Realtime,
        clockid::MONOTONIC => C::Monotonic,
        clockid::PROCESS_CPUTIME_ID => C::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => C::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

fn timespec_ns(t: rustix::time::Timespec) -> Result<u64, Errno> {
    let secs = u64::try_from(t.tv_sec).map_err(|_| Errno::Overflow)?;
    let nsec = u64::try_from(t.tv_nsec).map_err(|_| Errno::Overflow)?;
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(nsec))
        .ok_or(Errno::Overflow)
}

impl WasiClocks for SystemClocks {
    fn now(&self, id: u32) -> Result<u64, Errno> {
        timespec_ns(rustix::time::clock_gettime(host_clock(id)?))
    }
    fn resolution(&self, id: u32) -> Result<u64, Errno> {
        timespec_ns(rustix::time::clock_getres(host_clock(id)?))
    }
}

/// The source of `random_get`.
pub trait WasiRandom: Send {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<()>;
}

/// The host's CSPRNG (`getrandom(2)`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl WasiRandom for SystemRandom {
    fn fill(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match rustix::rand::getrandom(&mut *buf, rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => buf = &mut buf[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl<F: FnMut(&mut [u8]) + Send> WasiRandom for F {
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self(buf);
        Ok(())
    }
}

/// In-memory stdin contents for the guest.
#[derive(Debug, Clone, Default)]
pub struct MemoryInputPipe {
    inner: Arc<Mutex<io::Cursor<Vec<u8>>>>,
}

impl MemoryInputPipe {
    /// A pipe that yields `bytes` and then end-of-file.
    pub fn new(bytes: impl Into<Vec<u8>>) -> MemoryInputPipe {
        MemoryInputPipe {
            inner: Arc::new(Mutex::new(io::Cursor::new(bytes.into()))),
        }
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut cur = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        cur.read(buf)
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.inner.lock().map_or(0, |c| {
            (c.get_ref().len() as u64).saturating_sub(c.position())
        })
    }
}

/// Captures what the guest writes to stdout or stderr; clones share the buffer.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutputPipe {
    inner: Arc<Mutex<Vec<u8>>>,
}

impl MemoryOutputPipe {
    /// An empty pipe.
    pub fn new() -> MemoryOutputPipe {
        MemoryOutputPipe::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.inner.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut v = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        v.extend_from_slice(buf);
        Ok(buf.len())
    }
}

/// Where the guest's stdin comes from.
pub(crate) enum Input {
    /// The host process's stdin, read without buffering so `poll_oneoff` sees what is left.
    Inherit,
    Pipe(MemoryInputPipe),
    Empty,
}

/// Where the guest's stdout or stderr goes.
pub(crate) enum Output {
    Stdout,
    Stderr,
    Pipe(MemoryOutputPipe),
    Writer(Box<dyn Write + Send>),
    Sink,
}

enum Preopen {
    Dir {
        dir: cap_std::fs::Dir,
        guest: String,
        perms: DirPerms,
    },
    Listener(std::net::TcpListener),
}

/// Builds a [`WasiCtx`].
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    preopens: Vec<Preopen>,
    clocks: Box<dyn WasiClocks>,
    random: Box<dyn WasiRandom>,
    audit: Option<Audit>,
    module: Option<String>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl WasiCtxBuilder {
    /// A builder for a context that grants nothing.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Input::Empty,
            stdout: Output::Sink,
            stderr: Output::Sink,
            preopens: Vec::new(),
            clocks: Box::new(SystemClocks),
            random: Box::new(SystemRandom),
            audit: None,
            module: None,
        }
    }

    /// Appends one argument (the first is the program name, `argv[0]`).
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (replacing an earlier value of the same name).
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        match self.env.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.env.push((key, value)),
        }
        self
    }

    /// Sets several environment variables.
    pub fn envs<K: Into<String>, V: Into<String>>(
        &mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> &mut Self {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Copies the host's environment (variables that are not valid UTF-8 are skipped).
    pub fn inherit_env(&mut self) -> &mut Self {
        for (k, v) in std::env::vars_os() {
            if let (Ok(k), Ok(v)) = (k.into_string(), v.into_string()) {
                self.env(k, v);
            }
        }
        self
    }

    /// Gives the guest the host's stdin.
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.stdin = Input::Inherit;
        self
    }

    /// Sends the guest's stdout to the host's stdout.
    pub fn inherit_stdout(&mut self) -> &mut Self {
        self.stdout = Output::Stdout;
        self
    }

    /// Sends the guest's stderr to the host's stderr.
    pub fn inherit_stderr(&mut self) -> &mut Self {
        self.stderr = Output::Stderr;
        self
    }

    /// Inherits stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// Feeds stdin from memory.
    pub fn stdin(&mut self, pipe: MemoryInputPipe) -> &mut Self {
        self.stdin = Input::Pipe(pipe);
        self
    }

    /// Captures stdout in memory.
    pub fn stdout(&mut self, pipe: MemoryOutputPipe) -> &mut Self {
        self.stdout = Output::Pipe(pipe);
        self
    }

    /// Captures stderr in memory.
    pub fn stderr(&mut self, pipe: MemoryOutputPipe) -> &mut Self {
        self.stderr = Output::Pipe(pipe);
        self
    }

    /// Sends stdout to any writer.
    pub fn stdout_writer(&mut self, w: impl Write + Send + 'static) -> &mut Self {
        self.stdout = Output::Writer(Box::new(w));
        self
    }

    /// Sends stderr to any writer.
    pub fn stderr_writer(&mut self, w: impl Write + Send + 'static) -> &mut Self {
        self.stderr = Output::Writer(Box::new(w));
        self
    }

    /// Preopens the host directory `host` under the name `guest`.
    pub fn preopened_dir(
        &mut self,
        host: impl AsRef<Path>,
        guest: impl Into<String>,
        perms: DirPerms,
    ) -> Result<&mut Self> {
        let host = host.as_ref();
        let dir = cap_std::fs::Dir::open_ambient_dir(host, cap_std::ambient_authority())
            .with_context(|| format!("failed to open directory {}", host.display()))?;
        Ok(self.preopened_cap_dir(dir, guest, perms))
    }

    /// Preopens an already opened directory under the name `guest`.
    pub fn preopened_cap_dir(
        &mut self,
        dir: cap_std::fs::Dir,
        guest: impl Into<String>,
        perms: DirPerms,
    ) -> &mut Self {
        self.preopens.push(Preopen::Dir {
            dir,
            guest: guest.into(),
            perms,
        });
        self
    }

    /// Gives the guest a listening TCP socket (for `sock_accept`); sockets get descriptors
    /// after all preopened directories.
    pub fn preopened_listener(&mut self, listener: std::net::TcpListener) -> &mut Self {
        self.preopens.push(Preopen::Listener(listener));
        self
    }

    /// Replaces the clocks.
    pub fn clocks(&mut self, clocks: impl WasiClocks + 'static) -> &mut Self {
        self.clocks = Box::new(clocks);
        self
    }

    /// Replaces the random source.
    pub fn random(&mut self, random: impl WasiRandom + 'static) -> &mut Self {
        self.random = Box::new(random);
        self
    }

    /// Records every capability use the context refuses in `audit` (as well as the
    /// `kiln::audit` `tracing` event it always emits), such as `Engine::audit` of an engine
    /// with a load policy.
    pub fn audit(&mut self, audit: Audit) -> &mut Self {
        self.audit = Some(audit);
        self
    }

    /// The module named in the audit records of refused capability uses (usually its path).
    pub fn audit_module_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.module = Some(name.into());
        self
    }

    /// Builds the context, leaving the builder empty.
    pub fn build(&mut self) -> WasiCtx {
        let b = std::mem::take(self);
        let mut table = FdTable::default();
        let stdio_rights = |r: u64| r | rights::FD_FDSTAT_SET_FLAGS | rights::FD_FILESTAT_GET;
        let stdio_rights = |r: u64| stdio_rights(r) | rights::POLL_FD_READWRITE;
        table.insert_at(
            0,
            Desc::new(Kind::Stdin(b.stdin), stdio_rights(rights::FD_READ), 0),
        );
        table.insert_at(
            1,
            Desc::new(Kind::Output(b.stdout), stdio_rights(rights::FD_WRITE), 0),
        );
        table.insert_at(
            2,
            Desc::new(Kind::Output(b.stderr), stdio_rights(rights::FD_WRITE), 0),
        );
        // Directories first: wasi-libc scans descriptors from 3 and stops at the first one
        // that is not a preopened directory.
        let (dirs, sockets): (Vec<_>, Vec<_>) = b
            .preopens
            .into_iter()
            .partition(|p| matches!(p, Preopen::Dir { .. }));
        for p in dirs.into_iter().chain(sockets) {
            let desc = match p {
                Preopen::Dir { dir, guest, perms } => {
                    let readonly = perms == DirPerms::ReadOnly;
                    let mask = if readonly { !rights::MUTATING } else { !0 };
                    Desc::new(
                        Kind::Dir(DirDesc::new(dir, Some(guest), readonly)),
                        rights::DIRECTORY & mask,
                        (rights::DIRECTORY | rights::FILE) & mask,
                    )
                }
                Preopen::Listener(l) => {
                    Desc::new(Kind::Listener(l), rights::SOCKET, rights::SOCKET)
                }
            };
            // The table is empty past stdio, so this cannot run out of descriptors.
            let _ = table.push(desc);
        }
        WasiCtx {
            args: b.args,
            env: b.env,
            table,
            clocks: b.clocks,
            random: b.random,
            audit: b.audit,
            module: b.module,
        }
    }
}

/// The state of one WASI guest: arguments, environment, descriptors, clocks, randomness.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) table: FdTable,
    pub(crate) clocks: Box<dyn WasiClocks>,
    pub(crate) random: Box<dyn WasiRandom>,
    audit: Option<Audit>,
    module: Option<String>,
}

impl WasiCtx {
    /// A builder.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }

    /// Audits the refusal of a call to `function` with `errno`, if that refusal denied a
    /// capability: `perm` (a path outside the preopens, a change to a read-only preopen, or
    /// the host's own refusal) or `notcapable` (a right the descriptor lacks). `resource` is
    /// what the call used, such as its path. Other errors are not refusals and pass silently.
    pub(crate) fn audit_refusal(&self, function: &str, errno: Errno, resource: String) {
        let reason = match errno {
            Errno::Perm => {
                "not permitted: outside the preopened directories, a read-only preopen, or \
                 refused by the host"
            }
            Errno::Notcapable => "the descriptor lacks the right",
            _ => return,
        };
        let denied = CapabilityDenied {
            module: self.module.clone(),
            capability: function.to_string(),
            resource,
            reason: reason.to_string(),
        };
        match &self.audit {
            // An audit sink that cannot be written must not change the guest's errno; the
            // `tracing` event has been emitted either way.
            Some(audit) => drop(audit.capability_denied(&denied)),
            None => kiln::trust::audit::capability_denied(&denied),
        }
    }
}
