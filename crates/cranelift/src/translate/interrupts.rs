//! Fuel metering and epoch interruption: the code the translator adds so that no guest can run
//! forever.
//!
//! **Fuel.** Every reachable operator has a cost ([`fuel_cost`], documented in `docs/fuel.md`).
//! Costs accumulate at translation time and are added to a variable mirroring
//! `VMStoreContext::fuel_consumed` at every point where control flow leaves a straight-line
//! run (branches, block boundaries, calls, returns, traps). The variable is written back to the
//! store context before calls and returns and re-read after calls, so callees and the host see
//! the exact count. `fuel_consumed` starts at minus the fuel given; when it is above zero at a
//! check (function entry, loop header) execution traps with `OutOfFuel`. Because the count is
//! derived from the wasm operators alone, it is the same on every platform, optimisation level
//! and bounds-check strategy.
//!
//! **Epochs.** At function entry and at every loop header the engine's epoch counter is
//! compared with the store's deadline; when reached, the `new_epoch` builtin runs the store's
//! deadline callback (which extends the deadline or traps with `Interrupt`).
//!
//! Checking at both function entry and loop headers means neither a loop nor a loop-free call
//! tree can escape.

use super::FuncTranslator;
use super::env::offset_imm;
use crate::abi;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::Variable;
use kiln_environ::vmoffsets::record;
use kiln_environ::{BuiltinFunction, Trap, WasmResult};
use wasmparser::Operator;

/// The fuel cost of one operator. Structural operators that generate no work cost nothing;
/// every other operator costs 1. Changing this changes every pinned fuel figure: do it only
/// deliberately, together with `docs/fuel.md` and the pinned tests.
pub(crate) fn fuel_cost(op: &Operator<'_>) -> i64 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::Unreachable
        | Operator::Return
        | Operator::Else
        | Operator::End => 0,
        _ => 1,
    }
}

/// Whether an operator ends a straight-line run (its pending cost must be in the variable
/// before it executes).
fn ends_run(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Unreachable
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
    )
}

fn is_call(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. })
}

/// Per-function interruption state.
#[derive(Default)]
pub(crate) struct Interrupts {
    /// The fuel variable, when fuel is metered.
    fuel: Option<Variable>,
    /// Cost of the operators translated since the last flush.
    pending: i64,
}

impl FuncTranslator<'_, '_> {
    fn fuel_addr(&mut self) -> Value {
        self.env.store_context(&mut self.builder)
    }

    fn load_fuel(&mut self) {
        if let Some(var) = self.interrupts.fuel {
            let ctx = self.fuel_addr();
            let v = self.builder.ins().load(
                types::I64,
                abi::trusted(),
                ctx,
                offset_imm(record::VMStoreContext::fuel_consumed),
            );
            self.builder.def_var(var, v);
        }
    }

    fn save_fuel(&mut self) {
        if let Some(var) = self.interrupts.fuel {
            let v = self.builder.use_var(var);
            let ctx = self.fuel_addr();
            self.builder.ins().store(
                abi::trusted(),
                v,
                ctx,
                offset_imm(record::VMStoreContext::fuel_consumed),
            );
        }
    }

    fn flush_fuel(&mut self) {
        let pending = std::mem::take(&mut self.interrupts.pending);
        if let (Some(var), true) = (self.interrupts.fuel, pending != 0) {
            let v = self.builder.use_var(var);
            let v = self.builder.ins().iadd_imm_s(v, pending);
            self.builder.def_var(var, v);
        }
    }

    /// Traps with `OutOfFuel` if the fuel consumed is above zero (saving the count first).
    fn check_fuel(&mut self) {
        let Some(var) = self.interrupts.fuel else {
            return;
        };
        let v = self.builder.use_var(var);
        let out = self
            .builder
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThan, v, 0);
        let cold = self.builder.create_block();
        let cont = self.builder.create_block();
        self.builder.set_cold_block(cold);
        self.builder.ins().brif(out, cold, &[], cont, &[]);
        self.builder.switch_to_block(cold);
        self.builder.seal_block(cold);
        self.save_fuel();
        self.env.trap(&mut self.builder, Trap::OutOfFuel);
        self.builder.switch_to_block(cont);
        self.builder.seal_block(cont);
    }

    /// Calls `new_epoch` if the engine's epoch reached the store's deadline.
    fn check_epoch(&mut self) -> WasmResult<()> {
        if !self.env.tunables.epoch_interruption {
            return Ok(());
        }
        let vmctx = self.env.vmctx;
        let counter = self.env.load_readonly(
            &mut self.builder,
            vmctx,
            record::VMContextHeader::epoch_counter,
        );
        let epoch = self
            .builder
            .ins()
            .load(types::I64, abi::trusted(), counter, 0);
        let ctx = self.env.store_context(&mut self.builder);
        let deadline = self.builder.ins().load(
            types::I64,
            abi::trusted(),
            ctx,
            offset_imm(record::VMStoreContext::epoch_deadline),
        );
        let reached = self
            .builder
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
        let cold = self.builder.create_block();
        let cont = self.builder.create_block();
        self.builder.set_cold_block(cold);
        self.builder.ins().brif(reached, cold, &[], cont, &[]);
        self.builder.switch_to_block(cold);
        self.builder.seal_block(cold);
        // The deadline callback may read the fuel; its builtin never clobbers it.
        self.save_fuel();
        self.env
            .call_builtin(&mut self.builder, BuiltinFunction::new_epoch, &[])?;
        self.builder.ins().jump(cont, &[]);
        self.builder.switch_to_block(cont);
        self.builder.seal_block(cont);
        Ok(())
    }

    /// At function entry: set up the fuel variable, then check fuel and epoch.
    pub(crate) fn interrupts_at_entry(&mut self) -> WasmResult<()> {
        if self.env.tunables.consume_fuel {
            let var = self.builder.declare_var(types::I64);
            self.interrupts.fuel = Some(var);
            self.load_fuel();
        }
        self.check_fuel();
        self.check_epoch()
    }

    /// At a loop header (every iteration passes here).
    pub(crate) fn interrupts_at_loop_header(&mut self) -> WasmResult<()> {
        self.check_fuel();
        self.check_epoch()
    }

    /// Before an operator: account its cost, flushing before control flow and saving before
    /// calls.
    pub(crate) fn interrupts_before_op(&mut self, op: &Operator<'_>) {
        if self.interrupts.fuel.is_none() || !self.reachable {
            return;
        }
        self.interrupts.pending += fuel_cost(op);
        if ends_run(op) {
            self.flush_fuel();
        }
        if is_call(op) {
            self.save_fuel();
        }
    }

    /// After an operator: a call may have consumed fuel, so re-read it.
    pub(crate) fn interrupts_after_op(&mut self, op: &Operator<'_>) {
        if self.interrupts.fuel.is_some() && self.reachable && is_call(op) {
            self.load_fuel();
        }
    }

    /// Before a `return` instruction: the caller (or the host) reads the count from memory.
    pub(crate) fn interrupts_before_return(&mut self) {
        self.flush_fuel();
        self.save_fuel();
    }
}
