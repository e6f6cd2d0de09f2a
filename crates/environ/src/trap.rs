//! The trap codes of compiled wasm, with the spec testsuite's exact messages.
//!
//! Compiled code records a `Trap` for every instruction that can fault (the trap table), and
//! builtins report one when they fail. The display strings are the ones the spec's
//! `assert_trap` directives expect, so they must not be reworded.

use std::fmt;

macro_rules! traps {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $msg:literal;)*) => {
        /// Why wasm execution stopped abnormally.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Trap {
            $($(#[$doc])* $name = $code,)*
        }

        impl Trap {
            /// Every trap code, in code order.
            pub const ALL: &'static [Trap] = &[$(Trap::$name,)*];

            /// The spec's message for this trap.
            pub fn message(self) -> &'static str {
                match self {
                    $(Trap::$name => $msg,)*
                }
            }

            /// Decodes a trap code as stored in trap tables and passed to the `trap` builtin.
            pub fn from_u8(code: u8) -> Option<Trap> {
                match code {
                    $($code => Some(Trap::$name),)*
                    _ => None,
                }
            }
        }
    };
}

traps! {
    /// The wasm stack (bounded by `max_wasm_stack`) is exhausted.
    StackOverflow = 0, "call stack exhausted";
    /// A load or store outside the bounds of a linear memory.
    MemoryOutOfBounds = 1, "out of bounds memory access";
    /// A table access (`table.get/set/fill/copy/init`) outside a table's bounds.
    TableOutOfBounds = 2, "out of bounds table access";
    /// `call_indirect` with an index outside the table.
    IndirectCallOutOfBounds = 3, "undefined element";
    /// `call_indirect` through a null table element.
    IndirectCallToNull = 4, "uninitialized element";
    /// `call_indirect` whose callee has another signature.
    BadSignature = 5, "indirect call type mismatch";
    /// Signed division overflow (`INT_MIN / -1`) or a float-to-int conversion out of range.
    IntegerOverflow = 6, "integer overflow";
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 7, "integer divide by zero";
    /// A float-to-int conversion of NaN.
    BadConversionToInteger = 8, "invalid conversion to integer";
    /// The `unreachable` instruction.
    UnreachableCodeReached = 9, "unreachable";
    /// Execution was interrupted (epoch deadline).
    Interrupt = 10, "interrupt";
    /// Fuel ran out.
    OutOfFuel = 11, "all fuel consumed by WebAssembly";
    /// A null reference was dereferenced.
    NullReference = 12, "null reference";
    /// Growth of a memory or table failed and the configuration asks for a trap.
    AllocationTooLarge = 13, "allocation size too large";
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Trap {}

#[cfg(test)]
mod tests {
    use super::Trap;

    #[test]
    fn codes_round_trip() {
        for (i, t) in Trap::ALL.iter().enumerate() {
            assert_eq!(*t as u8 as usize, i);
            assert_eq!(Trap::from_u8(*t as u8), Some(*t));
        }
        assert_eq!(Trap::from_u8(200), None);
    }
}
