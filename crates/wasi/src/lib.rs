//! `kiln-wasi`: WASI preview1 for Kiln, sandboxed by capabilities.
//!
//! Every function of `wasi_snapshot_preview1` (and of `wasi_unstable`, preview0, whose three
//! differing layouts are handled) is implemented on top of cap-std, so a guest reaches only
//! the directories it was given, and only in the ways its rights allow.
//!
//! # Example
//!
//! ```no_run
//! use kiln::{Engine, Linker, Module, Store};
//! use kiln_wasi::{I32Exit, WasiCtx, WasiCtxBuilder};
//!
//! # fn main() -> anyhow::Result<()> {
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "hello.wasm")?;
//! let mut linker: Linker<WasiCtx> = Linker::new(&engine);
//! kiln_wasi::add_to_linker(&mut linker, |cx| cx)?;
//! let wasi = WasiCtxBuilder::new().inherit_stdio().arg("hello.wasm").build();
//! let mut store = Store::new(&engine, wasi);
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
//! match start.call(&mut store, ()) {
//!     Ok(()) => {}
//!     Err(e) => match e.downcast_ref::<I32Exit>() {
//!         Some(exit) => println!("exit status {}", exit.0),
//!         None => return Err(e),
//!     },
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Core concepts
//!
//! - [`WasiCtxBuilder`] / [`WasiCtx`]: arguments, environment (nothing is inherited unless
//!   asked), stdio (inherited, captured in a [`MemoryOutputPipe`], fed from a
//!   [`MemoryInputPipe`], or empty), preopened directories ([`DirPerms::ReadOnly`] or
//!   read-write), preopened TCP listeners, and injectable [`WasiClocks`] and [`WasiRandom`].
//! - [`add_to_linker`]: defines both WASI modules on a `kiln::Linker`.
//! - [`I32Exit`]: the error `proc_exit` returns; the guest stops, the host keeps running.
//!
//! # Sandbox
//!
//! - **Architecture Invariant:** guest memory is read and written only through
//!   `GuestMemory`, which checks bounds and alignment; a bad pointer is a trap (as the witx
//!   pointer rules and Wasmtime have it), never a host fault.
//! - Every path is resolved by cap-std beneath a directory descriptor: `..` past the
//!   preopen, absolute paths, and symlinks leading out fail (`perm`); absolute symlink targets
//!   cannot be created.
//! - Rights are checked before the host sees a call (`notcapable`); a read-only preopen and
//!   everything opened through it refuse changes with `perm`. Every call refused with `perm`
//!   or `notcapable` is a `capability_denied` audit event (`WasiCtxBuilder::audit`).
//! - Errno results stay separate from traps: the `Error` type is either an `Errno` for the
//!   guest or a trap for the embedder.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ctx;
mod linker;
mod memory;
mod p1;
mod poll;
mod sock;
mod table;
mod types;

pub use ctx::{
    DirPerms, MemoryInputPipe, MemoryOutputPipe, SystemClocks, SystemRandom, WasiClocks, WasiCtx,
    WasiCtxBuilder, WasiRandom,
};
pub use linker::{PREVIEW0, PREVIEW1, add_to_linker, add_to_linker_preview1};
pub use memory::{Filestat, GuestMemory};
pub use p1::I32Exit;
pub use types::{Errno, Error, clockid, fdflags, filetype, fstflags, lookupflags, oflags, rights};
