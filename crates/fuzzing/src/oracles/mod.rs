//! Oracles: each runs one fuzz input and panics on a finding.
//!
//! Every oracle has the shape `fn(&mut Unstructured) -> arbitrary::Result<()>`; an `Err` means
//! the input ran out before a test case could be built (not a finding).

mod compile;
pub(crate) mod differential;
mod instantiate;
mod wasi_paths;
mod wast;

pub use compile::compile;
pub use differential::{Outcome, Stats, TrapClass, Value, differential, stats};
pub use instantiate::instantiate;
pub use wasi_paths::{call_counts as wasi_call_counts, wasi_paths};
pub use wast::wast;

use arbitrary::{Result, Unstructured};
use kiln::{Val, ValType};

/// An argument of type `ty` made from the input (references are null: the generated
/// modules cannot tell a null from a host reference apart from identity).
pub(crate) fn arbitrary_val(u: &mut Unstructured<'_>, ty: ValType) -> Result<Val> {
    Ok(match ty {
        ValType::I32 => Val::I32(u.arbitrary()?),
        ValType::I64 => Val::I64(u.arbitrary()?),
        ValType::F32 => Val::F32(u.arbitrary()?),
        ValType::F64 => Val::F64(u.arbitrary()?),
        ValType::V128 => Val::V128(u.arbitrary()?),
        ValType::Ref(_) => Val::default_for(ty),
    })
}

/// Whether `err` is a clean wasm trap (its root cause a `kiln::Trap`).
pub(crate) fn trap_of(err: &anyhow::Error) -> Option<kiln::Trap> {
    err.downcast_ref::<kiln::Trap>().copied()
}
