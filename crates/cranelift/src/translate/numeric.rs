//! Integer division and float-to-integer conversion: the arithmetic that can trap.
//!
//! With signals-based traps these are Cranelift's trapping instructions, whose faults are in
//! the trap table. Without signals every trap condition is checked explicitly first, so the
//! instruction that follows can no longer fault (division) or is the saturating form
//! (conversion).

use super::FuncTranslator;
use cranelift_codegen::ir::{
    InstBuilder, Type, Value, condcodes::FloatCC, condcodes::IntCC, types,
};
use kiln_environ::{Trap, WasmResult};

/// An integer division or remainder.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DivOp {
    DivS,
    DivU,
    RemS,
    RemU,
}

impl FuncTranslator<'_, '_> {
    /// `i32/i64.{div,rem}_{s,u}`.
    pub(super) fn divide(&mut self, op: DivOp) -> WasmResult<()> {
        let (x, y) = self.pop2()?;
        if !self.env.tunables.signals_based_traps {
            self.env
                .trapz(&mut self.builder, y, Trap::IntegerDivisionByZero);
            if op == DivOp::DivS {
                let ty = self.builder.func.dfg.value_type(x);
                let min = if ty == types::I32 {
                    i64::from(i32::MIN)
                } else {
                    i64::MIN
                };
                let x_is_min = self.builder.ins().icmp_imm_s(IntCC::Equal, x, min);
                let y_is_neg1 = self.builder.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let overflow = self.builder.ins().band(x_is_min, y_is_neg1);
                self.env
                    .trapnz(&mut self.builder, overflow, Trap::IntegerOverflow);
            }
        }
        let ins = self.builder.ins();
        let v = match op {
            DivOp::DivS => ins.sdiv(x, y),
            DivOp::DivU => ins.udiv(x, y),
            // Cranelift defines `srem` of `MIN % -1` as 0 without trapping.
            DivOp::RemS => ins.srem(x, y),
            DivOp::RemU => ins.urem(x, y),
        };
        self.stack.push(v);
        Ok(())
    }

    /// The trapping `trunc_f*` conversions to an integer of type `to`.
    pub(super) fn float_to_int(&mut self, to: Type, signed: bool) -> WasmResult<()> {
        let x = self.pop()?;
        let v = if self.env.tunables.signals_based_traps {
            if signed {
                self.builder.ins().fcvt_to_sint(to, x)
            } else {
                self.builder.ins().fcvt_to_uint(to, x)
            }
        } else {
            let from = self.builder.func.dfg.value_type(x);
            let is_nan = self.builder.ins().fcmp(FloatCC::Unordered, x, x);
            self.env
                .trapnz(&mut self.builder, is_nan, Trap::BadConversionToInteger);
            let (lower, upper) = conversion_bounds(from, to, signed);
            let lower = self.float_const(from, lower);
            let upper = self.float_const(from, upper);
            let too_low = self.builder.ins().fcmp(FloatCC::LessThanOrEqual, x, lower);
            let too_high = self
                .builder
                .ins()
                .fcmp(FloatCC::GreaterThanOrEqual, x, upper);
            let out = self.builder.ins().bor(too_low, too_high);
            self.env
                .trapnz(&mut self.builder, out, Trap::IntegerOverflow);
            if signed {
                self.builder.ins().fcvt_to_sint_sat(to, x)
            } else {
                self.builder.ins().fcvt_to_uint_sat(to, x)
            }
        };
        self.stack.push(v);
        Ok(())
    }

    fn float_const(&mut self, ty: Type, value: f64) -> Value {
        if ty == types::F32 {
            self.builder.ins().f32const(value as f32)
        } else {
            self.builder.ins().f64const(value)
        }
    }
}

/// Exclusive bounds: a truncating conversion of `x` is defined iff `lower < x < upper`. Each
/// bound is exactly representable in the source type, so the comparisons are exact.
fn conversion_bounds(from: Type, to: Type, signed: bool) -> (f64, f64) {
    let f32_src = from == types::F32;
    match (to == types::I64, signed) {
        (false, true) if f32_src => (-2147483904.0, 2147483648.0),
        (false, true) => (-2147483649.0, 2147483648.0),
        (false, false) => (-1.0, 4294967296.0),
        (true, true) if f32_src => (-9223373136366403584.0, 9223372036854775808.0),
        (true, true) => (-9223372036854777856.0, 9223372036854775808.0),
        (true, false) => (-1.0, 18446744073709551616.0),
    }
}
