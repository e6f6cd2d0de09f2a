//! Trap emission: the one place that decides how a trap condition becomes code.
//!
//! With signals-based traps, `trap`/`trapz`/`trapnz` are Cranelift's trap instructions
//! (`ud2` on x86-64), found through the trap table when they fault. Without them, each is a
//! branch to a cold block that calls the `trap` builtin (through its builtin trampoline) with
//! `Trap as u8` as an i32, followed by a `trap` that is never reached because the builtin does
//! not return. Every trap the translator emits goes through these three functions.

use super::env::FuncEnv;
use crate::traps;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::FunctionBuilder;
use kiln_environ::{BuiltinFunction, Trap};

impl FuncEnv<'_> {
    /// Emits an unconditional trap; the current block is terminated.
    pub fn trap(&mut self, b: &mut FunctionBuilder<'_>, trap: Trap) {
        if self.tunables.signals_based_traps {
            b.ins().trap(traps::to_cranelift(trap));
        } else {
            self.raise_via_builtin(b, trap);
        }
    }

    /// Traps with `trap` if `cond` is zero.
    pub fn trapz(&mut self, b: &mut FunctionBuilder<'_>, cond: Value, trap: Trap) {
        if self.tunables.signals_based_traps {
            b.ins().trapz(cond, traps::to_cranelift(trap));
        } else {
            self.branch_to_trap(b, cond, trap, false);
        }
    }

    /// Traps with `trap` if `cond` is non-zero.
    pub fn trapnz(&mut self, b: &mut FunctionBuilder<'_>, cond: Value, trap: Trap) {
        if self.tunables.signals_based_traps {
            b.ins().trapnz(cond, traps::to_cranelift(trap));
        } else {
            self.branch_to_trap(b, cond, trap, true);
        }
    }

    /// Without signals: branch to a cold block that raises `trap` when `cond` is non-zero
    /// (`trap_if_nonzero`) or zero, and continue in a fresh block otherwise.
    fn branch_to_trap(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        cond: Value,
        trap: Trap,
        trap_if_nonzero: bool,
    ) {
        let cold = b.create_block();
        b.set_cold_block(cold);
        let cont = b.create_block();
        if trap_if_nonzero {
            b.ins().brif(cond, cold, &[], cont, &[]);
        } else {
            b.ins().brif(cond, cont, &[], cold, &[]);
        }
        b.switch_to_block(cold);
        b.seal_block(cold);
        self.raise_via_builtin(b, trap);
        b.switch_to_block(cont);
        b.seal_block(cont);
    }

    /// Calls the `trap` builtin (which never returns), then marks the rest unreachable.
    fn raise_via_builtin(&mut self, b: &mut FunctionBuilder<'_>, trap: Trap) {
        let code = b.ins().iconst(types::I32, i64::from(trap as u8));
        // The arity is right by construction, so this cannot fail; should it, the trap
        // instruction below still stops execution.
        let _ = self.call_builtin(b, BuiltinFunction::trap, &[code]);
        b.ins().trap(traps::to_cranelift(trap));
    }
}
