//! SIMD: every `v128` operator of Wasm 2.0 and of relaxed SIMD, as Cranelift vector IR.
//!
//! A `v128` is an `I8X16` wherever it is stored or passed: on the value stack, in locals,
//! block parameters, globals, call arguments and results. Each operator bitcasts its operands
//! to the lane type it works on (`I32X4`, `F64X2`, ...) and its result back to `I8X16`;
//! vector bitcasts cost nothing in machine code.
//!
//! Most operators map to one CLIF instruction with the spec's semantics (shift amounts are
//! taken modulo the lane width, `swizzle` zeroes out-of-range lanes, `fmin`/`fmax` propagate
//! NaN and order zeros, `nearest` rounds half to even). The rest are short sequences whose
//! shapes the x86-64 backend recognises (`dot` and `extadd_pairwise` become `pmaddwd`, `pmin`
//! and `pmax` become `minps`/`maxps`). Without SSE4.1 or SSSE3 the backend calls its rounding
//! and `pshufb` libcalls, which the linker resolves to Kiln's own stubs (`libcalls.rs`).
//!
//! Relaxed SIMD has two modes ([`Tunables::relaxed_simd_deterministic`]):
//!
//! - fast (default): the cheapest result the spec allows on this host, e.g. `pshufb` for
//!   `relaxed_swizzle`, `cvttps2dq` for `relaxed_trunc_s`, a fused multiply-add when the CPU
//!   has FMA, `blendv` for `relaxed_laneselect`, `minps`/`maxps` for `relaxed_min`/`max`;
//! - deterministic: the spec's deterministic profile, whose results are the same on every
//!   host: the non-relaxed instruction (`swizzle`, `trunc_sat`, `bitselect`, `fmin`/`fmax`,
//!   `q15mulr_sat`), an unfused multiply and add, and a signed dot product whose 16-bit pair
//!   sums wrap.
//!
//! [`Tunables::relaxed_simd_deterministic`]: kiln_environ::Tunables::relaxed_simd_deterministic

use super::FuncTranslator;
use super::memory::Extend;
use cranelift_codegen::ir::{
    ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value, condcodes::FloatCC,
    condcodes::IntCC, types,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilder;
use kiln_environ::WasmResult;
use wasmparser::{MemArg, Operator};

use types::{F32X4, F64X2, I8X16, I16X8, I32X4, I64X2};

/// What the target offers the SIMD translation, read once from the ISA.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SimdIsa {
    /// x86-64: the `x86_*` CLIF instructions and `minps`-style patterns are available.
    x86: bool,
    /// A fused multiply-add instruction (x86: AVX and FMA).
    native_fma: bool,
    /// `pshufb` (SSSE3).
    pshufb: bool,
    /// `pmulhrsw` (SSSE3).
    pmulhrsw: bool,
    /// `pmaddubsw` (SSSE3).
    pmaddubsw: bool,
    /// `blendv` for 8-, 32- and 64-bit lanes (SSE4.1).
    blendv: [bool; 3],
}

impl SimdIsa {
    /// The capabilities of `isa`.
    pub(crate) fn of(isa: &dyn TargetIsa) -> Self {
        let x86 = isa.triple().architecture == target_lexicon::Architecture::X86_64;
        SimdIsa {
            x86,
            native_fma: isa.has_native_fma(),
            pshufb: x86 && isa.has_x86_pshufb_lowering(),
            pmulhrsw: x86 && isa.has_x86_pmulhrsw_lowering(),
            pmaddubsw: x86 && isa.has_x86_pmaddubsw_lowering(),
            blendv: [
                isa.has_blendv_lowering(I8X16),
                isa.has_blendv_lowering(I32X4),
                isa.has_blendv_lowering(I64X2),
            ],
        }
    }

    fn blendv(&self, ty: Type) -> bool {
        match ty {
            I8X16 => self.blendv[0],
            I32X4 => self.blendv[1],
            I64X2 => self.blendv[2],
            _ => false,
        }
    }
}

/// Bitcasts vector `v` to vector type `ty` (lanes in little-endian order).
fn cast(b: &mut FunctionBuilder<'_>, ty: Type, v: Value) -> Value {
    if b.func.dfg.value_type(v) == ty {
        v
    } else {
        let flags = MemFlagsData::new().with_endianness(Endianness::Little);
        b.ins().bitcast(ty, flags, v)
    }
}

/// A vector constant of type `ty` from its 16 little-endian bytes.
fn vconst(b: &mut FunctionBuilder<'_>, ty: Type, bytes: [u8; 16]) -> Value {
    let c = b.func.dfg.constants.insert(ConstantData::from(&bytes[..]));
    b.ins().vconst(ty, c)
}

/// The all-zero `v128` of type `ty`.
pub(super) fn zero(b: &mut FunctionBuilder<'_>, ty: Type) -> Value {
    vconst(b, ty, [0; 16])
}

/// The lane types of wasm's integer shapes, by lane width in bytes.
fn int_shape(bytes: u8) -> Type {
    match bytes {
        1 => I8X16,
        2 => I16X8,
        4 => I32X4,
        _ => I64X2,
    }
}

/// The scalar type of a memory lane of `bytes` bytes.
fn int_lane(bytes: u8) -> Type {
    match bytes {
        1 => types::I8,
        2 => types::I16,
        4 => types::I32,
        _ => types::I64,
    }
}

/// How a `load*x*` instruction extends its lanes.
#[derive(Clone, Copy)]
enum ExtLoad {
    S8x8,
    U8x8,
    S16x4,
    U16x4,
    S32x2,
    U32x2,
}

impl<'f> FuncTranslator<'_, 'f> {
    // ------------------------------------------------------------ stack helpers

    /// Pops a `v128` as a vector of type `ty`.
    fn pop_vec(&mut self, ty: Type) -> WasmResult<Value> {
        let v = self.pop()?;
        Ok(cast(&mut self.builder, ty, v))
    }

    /// Pops two `v128`s (in push order) as vectors of type `ty`.
    fn pop_vec2(&mut self, ty: Type) -> WasmResult<(Value, Value)> {
        let b = self.pop_vec(ty)?;
        let a = self.pop_vec(ty)?;
        Ok((a, b))
    }

    /// Pops three `v128`s (in push order) as vectors of type `ty`.
    fn pop_vec3(&mut self, ty: Type) -> WasmResult<(Value, Value, Value)> {
        let c = self.pop_vec(ty)?;
        let (a, b) = self.pop_vec2(ty)?;
        Ok((a, b, c))
    }

    /// Pushes a vector as a `v128`.
    fn push_vec(&mut self, v: Value) {
        let v = cast(&mut self.builder, I8X16, v);
        self.stack.push(v);
    }

    fn vunary(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value) -> Value,
    ) -> WasmResult<()> {
        let a = self.pop_vec(ty)?;
        let v = f(&mut self.builder, a);
        self.push_vec(v);
        Ok(())
    }

    fn vbinary(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value) -> Value,
    ) -> WasmResult<()> {
        let (a, b) = self.pop_vec2(ty)?;
        let v = f(&mut self.builder, a, b);
        self.push_vec(v);
        Ok(())
    }

    fn vternary(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value, Value) -> Value,
    ) -> WasmResult<()> {
        let (a, b, c) = self.pop_vec3(ty)?;
        let v = f(&mut self.builder, a, b, c);
        self.push_vec(v);
        Ok(())
    }

    /// A lane-wise comparison; the result lanes are all ones or all zeros.
    fn vicmp(&mut self, ty: Type, cc: IntCC) -> WasmResult<()> {
        self.vbinary(ty, |b, x, y| b.ins().icmp(cc, x, y))
    }

    fn vfcmp(&mut self, ty: Type, cc: FloatCC) -> WasmResult<()> {
        self.vbinary(ty, |b, x, y| b.ins().fcmp(cc, x, y))
    }

    /// `*.all_true` over lanes of type `ty`.
    fn all_true(&mut self, ty: Type) -> WasmResult<()> {
        let a = self.pop_vec(ty)?;
        let t = self.builder.ins().vall_true(a);
        let v = self.builder.ins().uextend(types::I32, t);
        self.stack.push(v);
        Ok(())
    }

    /// `*.bitmask` over lanes of type `ty`.
    fn bitmask(&mut self, ty: Type) -> WasmResult<()> {
        let a = self.pop_vec(ty)?;
        let v = self.builder.ins().vhigh_bits(types::I32, a);
        self.stack.push(v);
        Ok(())
    }

    /// `*.shl`, `*.shr_s`, `*.shr_u`: CLIF shifts take the amount modulo the lane width, as
    /// the spec does.
    fn vshift(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value) -> Value,
    ) -> WasmResult<()> {
        let amount = self.pop()?;
        let a = self.pop_vec(ty)?;
        let v = f(&mut self.builder, a, amount);
        self.push_vec(v);
        Ok(())
    }

    /// `*.extend_{low,high}_*`: widens half of the lanes of `from`.
    fn widen(&mut self, from: Type, signed: bool, high: bool) -> WasmResult<()> {
        self.vunary(from, |b, a| widen(b, a, signed, high))
    }

    /// `*.extmul_{low,high}_*`: widens half of the lanes of both operands, then multiplies.
    fn extmul(&mut self, from: Type, signed: bool, high: bool) -> WasmResult<()> {
        self.vbinary(from, |b, x, y| {
            let x = widen(b, x, signed, high);
            let y = widen(b, y, signed, high);
            b.ins().imul(x, y)
        })
    }

    /// `*.extadd_pairwise_*`: adds adjacent lanes into lanes twice as wide.
    fn extadd_pairwise(&mut self, from: Type, signed: bool) -> WasmResult<()> {
        self.vunary(from, |b, a| {
            let lo = widen(b, a, signed, false);
            let hi = widen(b, a, signed, true);
            b.ins().iadd_pairwise(lo, hi)
        })
    }

    /// `*.splat` of a scalar of type `lane` (integers narrower than i32 are truncated).
    fn splat(&mut self, ty: Type, lane: Type) -> WasmResult<()> {
        let x = self.pop()?;
        let x = if self.builder.func.dfg.value_type(x) == lane {
            x
        } else {
            self.builder.ins().ireduce(lane, x)
        };
        let v = self.builder.ins().splat(ty, x);
        self.push_vec(v);
        Ok(())
    }

    /// `*.extract_lane`; `ext` widens an i8 or i16 lane to i32.
    fn extract_lane(&mut self, ty: Type, lane: u8, ext: Extend) -> WasmResult<()> {
        let a = self.pop_vec(ty)?;
        let x = self.builder.ins().extractlane(a, lane);
        let x = match ext {
            Extend::None => x,
            Extend::Signed => self.builder.ins().sextend(types::I32, x),
            Extend::Unsigned => self.builder.ins().uextend(types::I32, x),
        };
        self.stack.push(x);
        Ok(())
    }

    /// `*.replace_lane` (an i32 operand is truncated for i8 and i16 lanes).
    fn replace_lane(&mut self, ty: Type, lane: u8) -> WasmResult<()> {
        let x = self.pop()?;
        let a = self.pop_vec(ty)?;
        let lane_ty = ty.lane_type();
        let x = if self.builder.func.dfg.value_type(x) == lane_ty {
            x
        } else {
            self.builder.ins().ireduce(lane_ty, x)
        };
        let v = self.builder.ins().insertlane(a, x, lane);
        self.push_vec(v);
        Ok(())
    }

    // ------------------------------------------------------------ memory

    /// A scalar load of `bytes` bytes through the checked address path.
    fn load_lane_value(&mut self, memarg: &MemArg, bytes: u8) -> WasmResult<Value> {
        let (addr, flags) = self.memory_address(memarg, bytes)?;
        Ok(self.builder.ins().load(int_lane(bytes), flags, addr, 0))
    }

    /// `v128.load{8x8,16x4,32x2}_{s,u}`.
    fn load_extend(&mut self, memarg: &MemArg, kind: ExtLoad) -> WasmResult<()> {
        let (addr, flags) = self.memory_address(memarg, 8)?;
        let ins = self.builder.ins();
        let v = match kind {
            ExtLoad::S8x8 => ins.sload8x8(flags, addr, 0),
            ExtLoad::U8x8 => ins.uload8x8(flags, addr, 0),
            ExtLoad::S16x4 => ins.sload16x4(flags, addr, 0),
            ExtLoad::U16x4 => ins.uload16x4(flags, addr, 0),
            ExtLoad::S32x2 => ins.sload32x2(flags, addr, 0),
            ExtLoad::U32x2 => ins.uload32x2(flags, addr, 0),
        };
        self.push_vec(v);
        Ok(())
    }

    /// `v128.load{8,16,32,64}_splat`.
    fn load_splat(&mut self, memarg: &MemArg, bytes: u8) -> WasmResult<()> {
        let x = self.load_lane_value(memarg, bytes)?;
        let v = self.builder.ins().splat(int_shape(bytes), x);
        self.push_vec(v);
        Ok(())
    }

    /// `v128.load{32,64}_zero`.
    fn load_zero(&mut self, memarg: &MemArg, bytes: u8) -> WasmResult<()> {
        let x = self.load_lane_value(memarg, bytes)?;
        let v = self.builder.ins().scalar_to_vector(int_shape(bytes), x);
        self.push_vec(v);
        Ok(())
    }

    /// `v128.load{8,16,32,64}_lane`: the vector operand is above the address.
    fn load_lane(&mut self, memarg: &MemArg, bytes: u8, lane: u8) -> WasmResult<()> {
        let a = self.pop_vec(int_shape(bytes))?;
        let x = self.load_lane_value(memarg, bytes)?;
        let v = self.builder.ins().insertlane(a, x, lane);
        self.push_vec(v);
        Ok(())
    }

    /// `v128.store{8,16,32,64}_lane`.
    fn store_lane(&mut self, memarg: &MemArg, bytes: u8, lane: u8) -> WasmResult<()> {
        let a = self.pop_vec(int_shape(bytes))?;
        let (addr, flags) = self.memory_address(memarg, bytes)?;
        let x = self.builder.ins().extractlane(a, lane);
        self.builder.ins().store(flags, x, addr, 0);
        Ok(())
    }

    // ------------------------------------------------------------ relaxed helpers

    fn deterministic(&self) -> bool {
        self.env.tunables.relaxed_simd_deterministic
    }

    /// `relaxed_madd` (`negate`: `relaxed_nmadd`) on lanes of type `ty`.
    fn relaxed_madd(&mut self, ty: Type, negate: bool) -> WasmResult<()> {
        let fused = !self.deterministic() && self.env.simd.native_fma;
        self.vternary(ty, |b, x, y, z| {
            let x = if negate { b.ins().fneg(x) } else { x };
            if fused {
                b.ins().fma(x, y, z)
            } else {
                let p = b.ins().fmul(x, y);
                b.ins().fadd(p, z)
            }
        })
    }

    /// `relaxed_min` (`max`: `relaxed_max`) on lanes of type `ty`.
    fn relaxed_min_max(&mut self, ty: Type, max: bool) -> WasmResult<()> {
        if self.deterministic() || !self.env.simd.x86 {
            return self.vbinary(ty, |b, x, y| {
                if max {
                    b.ins().fmax(x, y)
                } else {
                    b.ins().fmin(x, y)
                }
            });
        }
        // `minps x, y` is `x < y ? x : y` and `maxps x, y` is `y < x ? x : y`: for NaNs and
        // zeros of opposite signs they return `y`, one of the results the spec allows.
        self.vbinary(ty, |b, x, y| {
            let m = if max {
                b.ins().fcmp(FloatCC::LessThan, y, x)
            } else {
                b.ins().fcmp(FloatCC::LessThan, x, y)
            };
            let m = cast(b, ty, m);
            b.ins().bitselect(m, x, y)
        })
    }

    /// `relaxed_laneselect` on lanes of type `ty`.
    fn relaxed_laneselect(&mut self, ty: Type) -> WasmResult<()> {
        let blend = !self.deterministic() && self.env.simd.blendv(ty);
        self.vternary(ty, |b, x, y, m| {
            if blend {
                b.ins().blendv(m, x, y)
            } else {
                b.ins().bitselect(m, x, y)
            }
        })
    }

    /// The 16-bit pair sums of `relaxed_dot_i8x16_i7x16_s`, as an `I16X8`.
    fn relaxed_dot_i16(&mut self, a: Value, b: Value) -> Value {
        if !self.deterministic() && self.env.simd.pmaddubsw {
            // Signed `a` times unsigned `b`, pair sums saturated.
            return self.builder.ins().x86_pmaddubsw(a, b);
        }
        // Signed times signed, pair sums wrapping: the deterministic profile.
        let lo = {
            let x = self.builder.ins().swiden_low(a);
            let y = self.builder.ins().swiden_low(b);
            self.builder.ins().imul(x, y)
        };
        let hi = {
            let x = self.builder.ins().swiden_high(a);
            let y = self.builder.ins().swiden_high(b);
            self.builder.ins().imul(x, y)
        };
        self.builder.ins().iadd_pairwise(lo, hi)
    }

    /// `trunc_sat_f64x2_{s,u}_zero`: two saturated conversions, then two zero lanes.
    fn trunc_sat_f64x2_zero(&mut self, signed: bool) -> WasmResult<()> {
        self.vunary(F64X2, |b, a| {
            let zeros = zero(b, I64X2);
            if signed {
                let x = b.ins().fcvt_to_sint_sat(I64X2, a);
                b.ins().snarrow(x, zeros)
            } else {
                let x = b.ins().fcvt_to_uint_sat(I64X2, a);
                b.ins().uunarrow(x, zeros)
            }
        })
    }

    // ------------------------------------------------------------ dispatch

    /// Translates one SIMD or relaxed-SIMD operator.
    pub(super) fn simd_operator(&mut self, op: &Operator<'_>) -> WasmResult<()> {
        use Operator as O;
        let det = self.deterministic();
        let isa = self.env.simd;
        match *op {
            // Memory.
            O::V128Load { memarg } => self.load(&memarg, I8X16, 16, Extend::None)?,
            O::V128Store { memarg } => self.store(&memarg, 16)?,
            O::V128Load8x8S { memarg } => self.load_extend(&memarg, ExtLoad::S8x8)?,
            O::V128Load8x8U { memarg } => self.load_extend(&memarg, ExtLoad::U8x8)?,
            O::V128Load16x4S { memarg } => self.load_extend(&memarg, ExtLoad::S16x4)?,
            O::V128Load16x4U { memarg } => self.load_extend(&memarg, ExtLoad::U16x4)?,
            O::V128Load32x2S { memarg } => self.load_extend(&memarg, ExtLoad::S32x2)?,
            O::V128Load32x2U { memarg } => self.load_extend(&memarg, ExtLoad::U32x2)?,
            O::V128Load8Splat { memarg } => self.load_splat(&memarg, 1)?,
            O::V128Load16Splat { memarg } => self.load_splat(&memarg, 2)?,
            O::V128Load32Splat { memarg } => self.load_splat(&memarg, 4)?,
            O::V128Load64Splat { memarg } => self.load_splat(&memarg, 8)?,
            O::V128Load32Zero { memarg } => self.load_zero(&memarg, 4)?,
            O::V128Load64Zero { memarg } => self.load_zero(&memarg, 8)?,
            O::V128Load8Lane { memarg, lane } => self.load_lane(&memarg, 1, lane)?,
            O::V128Load16Lane { memarg, lane } => self.load_lane(&memarg, 2, lane)?,
            O::V128Load32Lane { memarg, lane } => self.load_lane(&memarg, 4, lane)?,
            O::V128Load64Lane { memarg, lane } => self.load_lane(&memarg, 8, lane)?,
            O::V128Store8Lane { memarg, lane } => self.store_lane(&memarg, 1, lane)?,
            O::V128Store16Lane { memarg, lane } => self.store_lane(&memarg, 2, lane)?,
            O::V128Store32Lane { memarg, lane } => self.store_lane(&memarg, 4, lane)?,
            O::V128Store64Lane { memarg, lane } => self.store_lane(&memarg, 8, lane)?,

            // Constants, shuffles and lanes.
            O::V128Const { value } => {
                let v = vconst(&mut self.builder, I8X16, *value.bytes());
                self.stack.push(v);
            }
            O::I8x16Shuffle { lanes } => {
                let (a, b) = self.pop_vec2(I8X16)?;
                let mask = self
                    .builder
                    .func
                    .dfg
                    .immediates
                    .push(ConstantData::from(&lanes[..]));
                let v = self.builder.ins().shuffle(a, b, mask);
                self.push_vec(v);
            }
            O::I8x16Swizzle => self.vbinary(I8X16, |b, x, s| b.ins().swizzle(x, s))?,
            O::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, Extend::Signed)?,
            O::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, Extend::Unsigned)?,
            O::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, Extend::Signed)?,
            O::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, Extend::Unsigned)?,
            O::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, Extend::None)?,
            O::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, Extend::None)?,
            O::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, Extend::None)?,
            O::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, Extend::None)?,
            O::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane)?,
            O::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane)?,
            O::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane)?,
            O::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane)?,
            O::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane)?,
            O::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane)?,
            O::I8x16Splat => self.splat(I8X16, types::I8)?,
            O::I16x8Splat => self.splat(I16X8, types::I16)?,
            O::I32x4Splat => self.splat(I32X4, types::I32)?,
            O::I64x2Splat => self.splat(I64X2, types::I64)?,
            O::F32x4Splat => self.splat(F32X4, types::F32)?,
            O::F64x2Splat => self.splat(F64X2, types::F64)?,

            // Integer comparisons.
            O::I8x16Eq => self.vicmp(I8X16, IntCC::Equal)?,
            O::I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual)?,
            O::I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan)?,
            O::I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan)?,
            O::I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan)?,
            O::I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan)?,
            O::I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual)?,
            O::I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual)?,
            O::I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual)?,
            O::I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I16x8Eq => self.vicmp(I16X8, IntCC::Equal)?,
            O::I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual)?,
            O::I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan)?,
            O::I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan)?,
            O::I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan)?,
            O::I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan)?,
            O::I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual)?,
            O::I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual)?,
            O::I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual)?,
            O::I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I32x4Eq => self.vicmp(I32X4, IntCC::Equal)?,
            O::I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual)?,
            O::I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan)?,
            O::I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan)?,
            O::I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan)?,
            O::I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan)?,
            O::I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual)?,
            O::I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual)?,
            O::I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual)?,
            O::I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I64x2Eq => self.vicmp(I64X2, IntCC::Equal)?,
            O::I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual)?,
            O::I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan)?,
            O::I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan)?,
            O::I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual)?,
            O::I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual)?,

            // Float comparisons: `ne` is also true for unordered operands, the others false.
            O::F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal)?,
            O::F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual)?,
            O::F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan)?,
            O::F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan)?,
            O::F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual)?,
            O::F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual)?,
            O::F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal)?,
            O::F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual)?,
            O::F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan)?,
            O::F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan)?,
            O::F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual)?,
            O::F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual)?,

            // Bitwise.
            O::V128Not => self.vunary(I8X16, |b, x| b.ins().bnot(x))?,
            O::V128And => self.vbinary(I8X16, |b, x, y| b.ins().band(x, y))?,
            O::V128AndNot => self.vbinary(I8X16, |b, x, y| b.ins().band_not(x, y))?,
            O::V128Or => self.vbinary(I8X16, |b, x, y| b.ins().bor(x, y))?,
            O::V128Xor => self.vbinary(I8X16, |b, x, y| b.ins().bxor(x, y))?,
            O::V128Bitselect => self.vternary(I8X16, |b, x, y, c| b.ins().bitselect(c, x, y))?,
            O::V128AnyTrue => {
                let a = self.pop_vec(I8X16)?;
                let t = self.builder.ins().vany_true(a);
                let v = self.builder.ins().uextend(types::I32, t);
                self.stack.push(v);
            }

            // i8x16.
            O::I8x16Abs => self.vunary(I8X16, |b, x| b.ins().iabs(x))?,
            O::I8x16Neg => self.vunary(I8X16, |b, x| b.ins().ineg(x))?,
            O::I8x16Popcnt => self.vunary(I8X16, |b, x| b.ins().popcnt(x))?,
            O::I8x16AllTrue => self.all_true(I8X16)?,
            O::I8x16Bitmask => self.bitmask(I8X16)?,
            O::I8x16NarrowI16x8S => self.vbinary(I16X8, |b, x, y| b.ins().snarrow(x, y))?,
            O::I8x16NarrowI16x8U => self.vbinary(I16X8, |b, x, y| b.ins().unarrow(x, y))?,
            O::I8x16Shl => self.vshift(I8X16, |b, x, s| b.ins().ishl(x, s))?,
            O::I8x16ShrS => self.vshift(I8X16, |b, x, s| b.ins().sshr(x, s))?,
            O::I8x16ShrU => self.vshift(I8X16, |b, x, s| b.ins().ushr(x, s))?,
            O::I8x16Add => self.vbinary(I8X16, |b, x, y| b.ins().iadd(x, y))?,
            O::I8x16AddSatS => self.vbinary(I8X16, |b, x, y| b.ins().sadd_sat(x, y))?,
            O::I8x16AddSatU => self.vbinary(I8X16, |b, x, y| b.ins().uadd_sat(x, y))?,
            O::I8x16Sub => self.vbinary(I8X16, |b, x, y| b.ins().isub(x, y))?,
            O::I8x16SubSatS => self.vbinary(I8X16, |b, x, y| b.ins().ssub_sat(x, y))?,
            O::I8x16SubSatU => self.vbinary(I8X16, |b, x, y| b.ins().usub_sat(x, y))?,
            O::I8x16MinS => self.vbinary(I8X16, |b, x, y| b.ins().smin(x, y))?,
            O::I8x16MinU => self.vbinary(I8X16, |b, x, y| b.ins().umin(x, y))?,
            O::I8x16MaxS => self.vbinary(I8X16, |b, x, y| b.ins().smax(x, y))?,
            O::I8x16MaxU => self.vbinary(I8X16, |b, x, y| b.ins().umax(x, y))?,
            O::I8x16AvgrU => self.vbinary(I8X16, |b, x, y| b.ins().avg_round(x, y))?,

            // i16x8.
            O::I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise(I8X16, true)?,
            O::I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise(I8X16, false)?,
            O::I16x8Abs => self.vunary(I16X8, |b, x| b.ins().iabs(x))?,
            O::I16x8Neg => self.vunary(I16X8, |b, x| b.ins().ineg(x))?,
            O::I16x8Q15MulrSatS => self.vbinary(I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y))?,
            O::I16x8AllTrue => self.all_true(I16X8)?,
            O::I16x8Bitmask => self.bitmask(I16X8)?,
            O::I16x8NarrowI32x4S => self.vbinary(I32X4, |b, x, y| b.ins().snarrow(x, y))?,
            O::I16x8NarrowI32x4U => self.vbinary(I32X4, |b, x, y| b.ins().unarrow(x, y))?,
            O::I16x8ExtendLowI8x16S => self.widen(I8X16, true, false)?,
            O::I16x8ExtendHighI8x16S => self.widen(I8X16, true, true)?,
            O::I16x8ExtendLowI8x16U => self.widen(I8X16, false, false)?,
            O::I16x8ExtendHighI8x16U => self.widen(I8X16, false, true)?,
            O::I16x8Shl => self.vshift(I16X8, |b, x, s| b.ins().ishl(x, s))?,
            O::I16x8ShrS => self.vshift(I16X8, |b, x, s| b.ins().sshr(x, s))?,
            O::I16x8ShrU => self.vshift(I16X8, |b, x, s| b.ins().ushr(x, s))?,
            O::I16x8Add => self.vbinary(I16X8, |b, x, y| b.ins().iadd(x, y))?,
            O::I16x8AddSatS => self.vbinary(I16X8, |b, x, y| b.ins().sadd_sat(x, y))?,
            O::I16x8AddSatU => self.vbinary(I16X8, |b, x, y| b.ins().uadd_sat(x, y))?,
            O::I16x8Sub => self.vbinary(I16X8, |b, x, y| b.ins().isub(x, y))?,
            O::I16x8SubSatS => self.vbinary(I16X8, |b, x, y| b.ins().ssub_sat(x, y))?,
            O::I16x8SubSatU => self.vbinary(I16X8, |b, x, y| b.ins().usub_sat(x, y))?,
            O::I16x8Mul => self.vbinary(I16X8, |b, x, y| b.ins().imul(x, y))?,
            O::I16x8MinS => self.vbinary(I16X8, |b, x, y| b.ins().smin(x, y))?,
            O::I16x8MinU => self.vbinary(I16X8, |b, x, y| b.ins().umin(x, y))?,
            O::I16x8MaxS => self.vbinary(I16X8, |b, x, y| b.ins().smax(x, y))?,
            O::I16x8MaxU => self.vbinary(I16X8, |b, x, y| b.ins().umax(x, y))?,
            O::I16x8AvgrU => self.vbinary(I16X8, |b, x, y| b.ins().avg_round(x, y))?,
            O::I16x8ExtMulLowI8x16S => self.extmul(I8X16, true, false)?,
            O::I16x8ExtMulHighI8x16S => self.extmul(I8X16, true, true)?,
            O::I16x8ExtMulLowI8x16U => self.extmul(I8X16, false, false)?,
            O::I16x8ExtMulHighI8x16U => self.extmul(I8X16, false, true)?,

            // i32x4.
            O::I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise(I16X8, true)?,
            O::I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise(I16X8, false)?,
            O::I32x4Abs => self.vunary(I32X4, |b, x| b.ins().iabs(x))?,
            O::I32x4Neg => self.vunary(I32X4, |b, x| b.ins().ineg(x))?,
            O::I32x4AllTrue => self.all_true(I32X4)?,
            O::I32x4Bitmask => self.bitmask(I32X4)?,
            O::I32x4ExtendLowI16x8S => self.widen(I16X8, true, false)?,
            O::I32x4ExtendHighI16x8S => self.widen(I16X8, true, true)?,
            O::I32x4ExtendLowI16x8U => self.widen(I16X8, false, false)?,
            O::I32x4ExtendHighI16x8U => self.widen(I16X8, false, true)?,
            O::I32x4Shl => self.vshift(I32X4, |b, x, s| b.ins().ishl(x, s))?,
            O::I32x4ShrS => self.vshift(I32X4, |b, x, s| b.ins().sshr(x, s))?,
            O::I32x4ShrU => self.vshift(I32X4, |b, x, s| b.ins().ushr(x, s))?,
            O::I32x4Add => self.vbinary(I32X4, |b, x, y| b.ins().iadd(x, y))?,
            O::I32x4Sub => self.vbinary(I32X4, |b, x, y| b.ins().isub(x, y))?,
            O::I32x4Mul => self.vbinary(I32X4, |b, x, y| b.ins().imul(x, y))?,
            O::I32x4MinS => self.vbinary(I32X4, |b, x, y| b.ins().smin(x, y))?,
            O::I32x4MinU => self.vbinary(I32X4, |b, x, y| b.ins().umin(x, y))?,
            O::I32x4MaxS => self.vbinary(I32X4, |b, x, y| b.ins().smax(x, y))?,
            O::I32x4MaxU => self.vbinary(I32X4, |b, x, y| b.ins().umax(x, y))?,
            O::I32x4DotI16x8S => self.vbinary(I16X8, |b, x, y| {
                // Products of lanes 0..3 and 4..7, then sums of adjacent products (`pmaddwd`).
                let lo = {
                    let (x, y) = (b.ins().swiden_low(x), b.ins().swiden_low(y));
                    b.ins().imul(x, y)
                };
                let hi = {
                    let (x, y) = (b.ins().swiden_high(x), b.ins().swiden_high(y));
                    b.ins().imul(x, y)
                };
                b.ins().iadd_pairwise(lo, hi)
            })?,
            O::I32x4ExtMulLowI16x8S => self.extmul(I16X8, true, false)?,
            O::I32x4ExtMulHighI16x8S => self.extmul(I16X8, true, true)?,
            O::I32x4ExtMulLowI16x8U => self.extmul(I16X8, false, false)?,
            O::I32x4ExtMulHighI16x8U => self.extmul(I16X8, false, true)?,

            // i64x2.
            O::I64x2Abs => self.vunary(I64X2, |b, x| b.ins().iabs(x))?,
            O::I64x2Neg => self.vunary(I64X2, |b, x| b.ins().ineg(x))?,
            O::I64x2AllTrue => self.all_true(I64X2)?,
            O::I64x2Bitmask => self.bitmask(I64X2)?,
            O::I64x2ExtendLowI32x4S => self.widen(I32X4, true, false)?,
            O::I64x2ExtendHighI32x4S => self.widen(I32X4, true, true)?,
            O::I64x2ExtendLowI32x4U => self.widen(I32X4, false, false)?,
            O::I64x2ExtendHighI32x4U => self.widen(I32X4, false, true)?,
            O::I64x2Shl => self.vshift(I64X2, |b, x, s| b.ins().ishl(x, s))?,
            O::I64x2ShrS => self.vshift(I64X2, |b, x, s| b.ins().sshr(x, s))?,
            O::I64x2ShrU => self.vshift(I64X2, |b, x, s| b.ins().ushr(x, s))?,
            O::I64x2Add => self.vbinary(I64X2, |b, x, y| b.ins().iadd(x, y))?,
            O::I64x2Sub => self.vbinary(I64X2, |b, x, y| b.ins().isub(x, y))?,
            O::I64x2Mul => self.vbinary(I64X2, |b, x, y| b.ins().imul(x, y))?,
            O::I64x2ExtMulLowI32x4S => self.extmul(I32X4, true, false)?,
            O::I64x2ExtMulHighI32x4S => self.extmul(I32X4, true, true)?,
            O::I64x2ExtMulLowI32x4U => self.extmul(I32X4, false, false)?,
            O::I64x2ExtMulHighI32x4U => self.extmul(I32X4, false, true)?,

            // f32x4 and f64x2.
            O::F32x4Ceil => self.vunary(F32X4, |b, x| b.ins().ceil(x))?,
            O::F32x4Floor => self.vunary(F32X4, |b, x| b.ins().floor(x))?,
            O::F32x4Trunc => self.vunary(F32X4, |b, x| b.ins().trunc(x))?,
            O::F32x4Nearest => self.vunary(F32X4, |b, x| b.ins().nearest(x))?,
            O::F32x4Abs => self.vunary(F32X4, |b, x| b.ins().fabs(x))?,
            O::F32x4Neg => self.vunary(F32X4, |b, x| b.ins().fneg(x))?,
            O::F32x4Sqrt => self.vunary(F32X4, |b, x| b.ins().sqrt(x))?,
            O::F32x4Add => self.vbinary(F32X4, |b, x, y| b.ins().fadd(x, y))?,
            O::F32x4Sub => self.vbinary(F32X4, |b, x, y| b.ins().fsub(x, y))?,
            O::F32x4Mul => self.vbinary(F32X4, |b, x, y| b.ins().fmul(x, y))?,
            O::F32x4Div => self.vbinary(F32X4, |b, x, y| b.ins().fdiv(x, y))?,
            O::F32x4Min => self.vbinary(F32X4, |b, x, y| b.ins().fmin(x, y))?,
            O::F32x4Max => self.vbinary(F32X4, |b, x, y| b.ins().fmax(x, y))?,
            O::F32x4PMin => self.vbinary(F32X4, |b, x, y| pmin(b, F32X4, x, y))?,
            O::F32x4PMax => self.vbinary(F32X4, |b, x, y| pmax(b, F32X4, x, y))?,
            O::F64x2Ceil => self.vunary(F64X2, |b, x| b.ins().ceil(x))?,
            O::F64x2Floor => self.vunary(F64X2, |b, x| b.ins().floor(x))?,
            O::F64x2Trunc => self.vunary(F64X2, |b, x| b.ins().trunc(x))?,
            O::F64x2Nearest => self.vunary(F64X2, |b, x| b.ins().nearest(x))?,
            O::F64x2Abs => self.vunary(F64X2, |b, x| b.ins().fabs(x))?,
            O::F64x2Neg => self.vunary(F64X2, |b, x| b.ins().fneg(x))?,
            O::F64x2Sqrt => self.vunary(F64X2, |b, x| b.ins().sqrt(x))?,
            O::F64x2Add => self.vbinary(F64X2, |b, x, y| b.ins().fadd(x, y))?,
            O::F64x2Sub => self.vbinary(F64X2, |b, x, y| b.ins().fsub(x, y))?,
            O::F64x2Mul => self.vbinary(F64X2, |b, x, y| b.ins().fmul(x, y))?,
            O::F64x2Div => self.vbinary(F64X2, |b, x, y| b.ins().fdiv(x, y))?,
            O::F64x2Min => self.vbinary(F64X2, |b, x, y| b.ins().fmin(x, y))?,
            O::F64x2Max => self.vbinary(F64X2, |b, x, y| b.ins().fmax(x, y))?,
            O::F64x2PMin => self.vbinary(F64X2, |b, x, y| pmin(b, F64X2, x, y))?,
            O::F64x2PMax => self.vbinary(F64X2, |b, x, y| pmax(b, F64X2, x, y))?,

            // Conversions.
            O::I32x4TruncSatF32x4S => {
                self.vunary(F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x))?
            }
            O::I32x4TruncSatF32x4U => {
                self.vunary(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x))?
            }
            O::F32x4ConvertI32x4S => self.vunary(I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x))?,
            O::F32x4ConvertI32x4U => self.vunary(I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x))?,
            O::I32x4TruncSatF64x2SZero => self.trunc_sat_f64x2_zero(true)?,
            O::I32x4TruncSatF64x2UZero => self.trunc_sat_f64x2_zero(false)?,
            O::F64x2ConvertLowI32x4S => self.vunary(I32X4, |b, x| {
                let x = b.ins().swiden_low(x);
                b.ins().fcvt_from_sint(F64X2, x)
            })?,
            O::F64x2ConvertLowI32x4U => self.vunary(I32X4, |b, x| {
                let x = b.ins().uwiden_low(x);
                b.ins().fcvt_from_uint(F64X2, x)
            })?,
            O::F32x4DemoteF64x2Zero => self.vunary(F64X2, |b, x| b.ins().fvdemote(x))?,
            O::F64x2PromoteLowF32x4 => self.vunary(F32X4, |b, x| b.ins().fvpromote_low(x))?,

            // Relaxed SIMD.
            O::I8x16RelaxedSwizzle => {
                let pshufb = !det && isa.pshufb;
                self.vbinary(I8X16, |b, x, s| {
                    if pshufb {
                        // Indices 16..=127 select lane `index % 16` instead of zero.
                        b.ins().x86_pshufb(x, s)
                    } else {
                        b.ins().swizzle(x, s)
                    }
                })?
            }
            O::I32x4RelaxedTruncF32x4S => {
                let cvtt = !det && isa.x86;
                self.vunary(F32X4, |b, x| {
                    if cvtt {
                        // NaN and out-of-range lanes become i32::MIN.
                        b.ins().x86_cvtt2dq(I32X4, x)
                    } else {
                        b.ins().fcvt_to_sint_sat(I32X4, x)
                    }
                })?
            }
            O::I32x4RelaxedTruncF32x4U => {
                self.vunary(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x))?
            }
            O::I32x4RelaxedTruncF64x2SZero => {
                if !det && isa.x86 {
                    // `cvttpd2dq`: NaN and out-of-range lanes become i32::MIN.
                    self.vunary(F64X2, |b, x| {
                        let zeros = zero(b, I64X2);
                        let x = b.ins().x86_cvtt2dq(I64X2, x);
                        b.ins().snarrow(x, zeros)
                    })?
                } else {
                    self.trunc_sat_f64x2_zero(true)?
                }
            }
            O::I32x4RelaxedTruncF64x2UZero => self.trunc_sat_f64x2_zero(false)?,
            O::F32x4RelaxedMadd => self.relaxed_madd(F32X4, false)?,
            O::F32x4RelaxedNmadd => self.relaxed_madd(F32X4, true)?,
            O::F64x2RelaxedMadd => self.relaxed_madd(F64X2, false)?,
            O::F64x2RelaxedNmadd => self.relaxed_madd(F64X2, true)?,
            O::I8x16RelaxedLaneselect => self.relaxed_laneselect(I8X16)?,
            O::I16x8RelaxedLaneselect => self.relaxed_laneselect(I16X8)?,
            O::I32x4RelaxedLaneselect => self.relaxed_laneselect(I32X4)?,
            O::I64x2RelaxedLaneselect => self.relaxed_laneselect(I64X2)?,
            O::F32x4RelaxedMin => self.relaxed_min_max(F32X4, false)?,
            O::F32x4RelaxedMax => self.relaxed_min_max(F32X4, true)?,
            O::F64x2RelaxedMin => self.relaxed_min_max(F64X2, false)?,
            O::F64x2RelaxedMax => self.relaxed_min_max(F64X2, true)?,
            O::I16x8RelaxedQ15mulrS => {
                let pmulhrsw = !det && isa.pmulhrsw;
                self.vbinary(I16X8, |b, x, y| {
                    if pmulhrsw {
                        // i16::MIN * i16::MIN gives i16::MIN instead of i16::MAX.
                        b.ins().x86_pmulhrsw(x, y)
                    } else {
                        b.ins().sqmul_round_sat(x, y)
                    }
                })?
            }
            O::I16x8RelaxedDotI8x16I7x16S => {
                let (a, b) = self.pop_vec2(I8X16)?;
                let v = self.relaxed_dot_i16(a, b);
                self.push_vec(v);
            }
            O::I32x4RelaxedDotI8x16I7x16AddS => {
                let c = self.pop_vec(I32X4)?;
                let (a, b) = self.pop_vec2(I8X16)?;
                let dot = self.relaxed_dot_i16(a, b);
                let lo = self.builder.ins().swiden_low(dot);
                let hi = self.builder.ins().swiden_high(dot);
                let sums = self.builder.ins().iadd_pairwise(lo, hi);
                let v = self.builder.ins().iadd(sums, c);
                self.push_vec(v);
            }

            ref other => {
                return Err(super::unsupported(
                    self.env.offset,
                    &format!("unsupported: operator {other:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// Widens the low or high half of the lanes of `a`.
fn widen(b: &mut FunctionBuilder<'_>, a: Value, signed: bool, high: bool) -> Value {
    match (signed, high) {
        (true, false) => b.ins().swiden_low(a),
        (true, true) => b.ins().swiden_high(a),
        (false, false) => b.ins().uwiden_low(a),
        (false, true) => b.ins().uwiden_high(a),
    }
}

/// `pmin(x, y) = y < x ? y : x` (lowered to `minps y, x` on x86-64).
fn pmin(b: &mut FunctionBuilder<'_>, ty: Type, x: Value, y: Value) -> Value {
    let m = b.ins().fcmp(FloatCC::LessThan, y, x);
    let m = cast(b, ty, m);
    b.ins().bitselect(m, y, x)
}

/// `pmax(x, y) = x < y ? y : x` (lowered to `maxps y, x` on x86-64).
fn pmax(b: &mut FunctionBuilder<'_>, ty: Type, x: Value, y: Value) -> Value {
    let m = b.ins().fcmp(FloatCC::LessThan, x, y);
    let m = cast(b, ty, m);
    b.ins().bitselect(m, y, x)
}
