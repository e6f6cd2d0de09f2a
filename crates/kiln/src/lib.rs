//! Kiln: a secure, fast, embeddable WebAssembly runtime.
//!
//! Kiln validates a module, compiles it to native code with Cranelift, and runs it sandboxed:
//! linear memories sit in guard-page reservations, faults become traps, and a trap returns to
//! the host as an error with a wasm backtrace.
//!
//! # Example
//!
//! ```
//! use kiln::{Engine, Linker, Module, Store};
//!
//! # fn main() -> anyhow::Result<()> {
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "double" (func $double (param i32) (result i32)))
//!       (func (export "run") (param i32) (result i32)
//!         local.get 0
//!         call $double
//!         i32.const 1
//!         i32.add))
//! "#)?;
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap("host", "double", |x: i32| x * 2)?;
//! let mut store = Store::new(&engine, ());
//! let instance = linker.instantiate(&mut store, &module)?;
//! let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
//! assert_eq!(run.call(&mut store, 20)?, 41);
//! # Ok(())
//! # }
//! ```
//!
//! # Core concepts
//!
//! - [`Engine`]: compiler and settings ([`Config`]), shared by everything.
//! - [`Module`]: validated, compiled code; shareable across stores.
//! - [`Store`]: owns instances and their memories, tables, globals and functions, plus your
//!   data `T`. Nothing in a store is freed before the store.
//! - [`Linker`]: names for imports; [`Instance`]: an instantiated module.
//! - [`Func`] / [`TypedFunc`]: call wasm, or define host functions ([`Func::wrap`]) that get a
//!   [`Caller`].
//! - [`Memory`], [`Table`], [`Global`]: the other external items.
//! - [`LoadPolicy`]: provenance (signatures, pinned hashes) checked on a module's bytes before
//!   they are parsed ([`Config::load_policy`]); the [`trust`] module has the rest.
//! - Errors are `anyhow::Error`; a trap's root cause is a [`Trap`] with the spec's message,
//!   and its [`WasmBacktrace`] is attached as context.

#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod artifact;
mod cache;
mod config;
mod engine;
mod externals;
mod func;
mod instance;
mod limits;
mod linker;
mod module;
mod policy;
mod profiling;
pub(crate) mod runtime;
mod store;
mod trap;
mod values;

pub use artifact::{ArtifactKey, is_artifact};
pub use cache::CacheStats;
pub use config::{
    Config, DEFAULT_CACHE_MAX_SIZE, InstanceAllocationStrategy, PoolingAllocationConfig,
    ProfilingStrategy,
};
pub use engine::Engine;
pub use externals::{Extern, Global, GlobalType, Memory, MemoryType, Table, TableType};
pub use func::{Caller, Func, HostResult, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmTy};
pub use instance::Instance;
pub use kiln_environ::{FuncType, OptLevel};
pub use limits::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
pub use linker::{InstancePre, Linker, UnknownImportError};
pub use module::{ExportType, ExternType, ImportType, Module};
pub use policy::{LoadPolicy, PinSet, PublicKey};
pub use store::{AsContext, AsContextMut, Store, StoreContext, StoreContextMut, UpdateDeadline};
pub use trap::{FrameInfo, Trap, WasmBacktrace};
pub use values::{ExternRef, RefType, V128, Val, ValType};

/// Module provenance: signatures, keys, pins, load decisions and the audit trail.
pub use kiln_trust as trust;

/// `Result` with `anyhow::Error`, the error type of every fallible Kiln API.
pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;
