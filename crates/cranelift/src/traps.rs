//! The mapping between Kiln's [`Trap`] codes and Cranelift's [`TrapCode`]s.
//!
//! The mapping is private to this crate: the runtime only ever sees [`Trap`] values in
//! `CompiledCode::traps`, and the `trap` builtin receives `Trap as u8` (zero-extended to i32).
//!
//! Cranelift's five reserved codes are used where a Cranelift instruction produces them by
//! itself (`sdiv`, `fcvt_to_sint`, heap accesses, the `stack_limit` prologue check); every
//! other trap is the user code `1 + Trap as u8`. Decoding accepts both, so the direction
//! Kiln → Cranelift may pick either encoding.

use cranelift_codegen::ir::TrapCode;
use kiln_environ::Trap;

/// The Cranelift trap code that stands for `trap`.
pub(crate) fn to_cranelift(trap: Trap) -> TrapCode {
    match trap {
        Trap::StackOverflow => TrapCode::STACK_OVERFLOW,
        Trap::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
        Trap::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
        Trap::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
        Trap::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
        // `Trap` codes are below 255 - 5 - 1, so `user` always succeeds; the fallback only
        // keeps this total.
        other => TrapCode::user(1 + other as u8).unwrap_or(TrapCode::STACK_OVERFLOW),
    }
}

/// The Kiln trap a Cranelift trap code stands for, or `None` for a code this crate never
/// emits.
pub(crate) fn from_cranelift(code: TrapCode) -> Option<Trap> {
    match code {
        TrapCode::STACK_OVERFLOW => Some(Trap::StackOverflow),
        TrapCode::HEAP_OUT_OF_BOUNDS => Some(Trap::MemoryOutOfBounds),
        TrapCode::INTEGER_OVERFLOW => Some(Trap::IntegerOverflow),
        TrapCode::INTEGER_DIVISION_BY_ZERO => Some(Trap::IntegerDivisionByZero),
        TrapCode::BAD_CONVERSION_TO_INTEGER => Some(Trap::BadConversionToInteger),
        other => Trap::from_u8(other.as_raw().get().checked_sub(1)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trap_round_trips() {
        for &t in Trap::ALL {
            assert_eq!(from_cranelift(to_cranelift(t)), Some(t), "{t:?}");
        }
        for &code in TrapCode::non_user_traps() {
            assert!(from_cranelift(code).is_some(), "{code}");
        }
        assert_eq!(from_cranelift(TrapCode::unwrap_user(200)), None);
    }
}
