//! Kiln's own implementations of the Cranelift libcalls the x86-64 backend emits when the
//! target CPU lacks an instruction: `ceil`/`floor`/`trunc`/`nearest` (scalar and per vector
//! lane) without SSE4.1's `roundss`/`roundsd`, and `pshufb` (used by `shuffle`, `swizzle`,
//! `popcnt`, ...) without SSSE3.
//!
//! The compiler sets Cranelift's `use_colocated_libcalls`, so a libcall is a PC-relative call
//! with a relocation against its `LibCall` name. The linker resolves it to the stub built
//! here, appended to the same text: the code keeps no absolute address and never calls out of
//! Kiln's text. Each stub is a pure function of its arguments (it touches only its own stack
//! frame) and is built from instructions that need neither SSE4.1 nor SSSE3, so stubs never
//! call libcalls themselves. Any other libcall is refused with an error when linking.
//!
//! Rounding uses the classic "magic number" method: for `|x| < 2^23` (f32) or `2^52` (f64),
//! `(|x| + 2^p) - 2^p` is `|x|` rounded to the nearest integer, ties to even, because the
//! sum's unit in the last place is 1 and the default rounding mode is round-to-nearest-even.
//! `ceil`, `floor` and `trunc` adjust that integer by one where it overshoots, and the result
//! takes the sign of `x` (so `ceil(-0.5)` is `-0`). Larger magnitudes and infinities are
//! already integers and are returned as they are; a NaN is returned quieted.

use cranelift_codegen::ir::{
    Function, InstBuilder, LibCall, MemFlagsData, StackSlotData, StackSlotKind, Type, UserFuncName,
    Value, condcodes::FloatCC, condcodes::IntCC, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use crate::abi::{self, POINTER};

/// The libcalls Kiln implements, in the order of their relocation indices.
const SUPPORTED: &[LibCall] = &[
    LibCall::CeilF32,
    LibCall::CeilF64,
    LibCall::FloorF32,
    LibCall::FloorF64,
    LibCall::TruncF32,
    LibCall::TruncF64,
    LibCall::NearestF32,
    LibCall::NearestF64,
    LibCall::X86Pshufb,
];

/// The relocation index of `libcall`, if Kiln implements it.
pub(crate) fn index(libcall: LibCall) -> Option<u32> {
    SUPPORTED
        .iter()
        .position(|&l| l == libcall)
        .and_then(|i| u32::try_from(i).ok())
}

/// The libcall with relocation index `index`.
pub(crate) fn from_index(index: u32) -> Option<LibCall> {
    SUPPORTED.get(index as usize).copied()
}

/// The calling convention Cranelift uses for libcalls on `isa`.
fn call_conv(isa: &dyn TargetIsa) -> CallConv {
    CallConv::for_libcall(isa.flags(), CallConv::triple_default(isa.triple()))
}

/// The rounding a stub performs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Ceil,
    Floor,
    Trunc,
    Nearest,
}

/// The stub implementing `libcall`, or `None` if Kiln does not implement it.
pub(crate) fn stub(
    isa: &dyn TargetIsa,
    libcall: LibCall,
    fctx: &mut FunctionBuilderContext,
) -> Option<Function> {
    let index = index(libcall)?;
    let sig = libcall.signature(call_conv(isa), POINTER);
    let mut func =
        Function::with_name_signature(UserFuncName::user(abi::NAMESPACE_LIBCALL, index), sig);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let result = match libcall {
        LibCall::CeilF32 => round(&mut b, types::F32, params[0], Rounding::Ceil),
        LibCall::CeilF64 => round(&mut b, types::F64, params[0], Rounding::Ceil),
        LibCall::FloorF32 => round(&mut b, types::F32, params[0], Rounding::Floor),
        LibCall::FloorF64 => round(&mut b, types::F64, params[0], Rounding::Floor),
        LibCall::TruncF32 => round(&mut b, types::F32, params[0], Rounding::Trunc),
        LibCall::TruncF64 => round(&mut b, types::F64, params[0], Rounding::Trunc),
        LibCall::NearestF32 => round(&mut b, types::F32, params[0], Rounding::Nearest),
        LibCall::NearestF64 => round(&mut b, types::F64, params[0], Rounding::Nearest),
        LibCall::X86Pshufb => pshufb(&mut b, params[0], params[1]),
        _ => return None,
    };
    b.ins().return_(&[result]);
    b.finalize(isa.frontend_config());
    Some(func)
}

fn float_const(b: &mut FunctionBuilder<'_>, ty: Type, value: f64) -> Value {
    if ty == types::F32 {
        b.ins().f32const(value as f32)
    } else {
        b.ins().f64const(value)
    }
}

/// Rounds `x` (of type `ty`) to an integral value.
fn round(b: &mut FunctionBuilder<'_>, ty: Type, x: Value, mode: Rounding) -> Value {
    // 2^(mantissa bits): every float of at least this magnitude is an integer.
    let magic = float_const(
        b,
        ty,
        if ty == types::F32 {
            8388608.0
        } else {
            4503599627370496.0
        },
    );
    let one = float_const(b, ty, 1.0);
    let a = b.ins().fabs(x);
    let sum = b.ins().fadd(a, magic);
    // |x| rounded to the nearest integer, ties to even (exact when |x| < magic).
    let r = b.ins().fsub(sum, magic);
    let t = match mode {
        Rounding::Nearest => r,
        Rounding::Trunc => {
            // floor(|x|): one less where rounding went up.
            let over = b.ins().fcmp(FloatCC::GreaterThan, r, a);
            let less = b.ins().fsub(r, one);
            b.ins().select(over, less, r)
        }
        Rounding::Ceil | Rounding::Floor => {
            let s = b.ins().fcopysign(r, x);
            if mode == Rounding::Ceil {
                let under = b.ins().fcmp(FloatCC::LessThan, s, x);
                let more = b.ins().fadd(s, one);
                b.ins().select(under, more, s)
            } else {
                let over = b.ins().fcmp(FloatCC::GreaterThan, s, x);
                let less = b.ins().fsub(s, one);
                b.ins().select(over, less, s)
            }
        }
    };
    let small_result = b.ins().fcopysign(t, x);
    // Large magnitudes and infinities are integral already; NaNs come back quieted.
    let is_nan = b.ins().fcmp(FloatCC::Unordered, x, x);
    let quieted = b.ins().fadd(x, x);
    let large_result = b.ins().select(is_nan, quieted, x);
    let small = b.ins().fcmp(FloatCC::LessThan, a, magic);
    b.ins().select(small, small_result, large_result)
}

/// `pshufb src, mask`: lane `i` is 0 if `mask[i]` has its top bit set, else
/// `src[mask[i] & 15]`. Built from byte loads and stores on the stub's own stack frame.
fn pshufb(b: &mut FunctionBuilder<'_>, src: Value, mask: Value) -> Value {
    let slot = |b: &mut FunctionBuilder<'_>| {
        b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 4))
    };
    let (src_slot, mask_slot, out_slot) = (slot(b), slot(b), slot(b));
    b.ins().stack_store(POINTER, src, src_slot, 0);
    b.ins().stack_store(POINTER, mask, mask_slot, 0);
    let src_addr = b.ins().stack_addr(POINTER, src_slot, 0);
    let flags = MemFlagsData::new().with_notrap();
    let zero = b.ins().iconst(types::I8, 0);
    for i in 0..16u8 {
        let m = b
            .ins()
            .stack_load(POINTER, types::I8, mask_slot, i32::from(i));
        let index = b.ins().band_imm_u(m, 15);
        let index = b.ins().uextend(POINTER, index);
        let addr = b.ins().iadd(src_addr, index);
        let byte = b.ins().load(types::I8, flags, addr, 0);
        let clear = b.ins().icmp_imm_s(IntCC::SignedLessThan, m, 0);
        let lane = b.ins().select(clear, zero, byte);
        b.ins().stack_store(POINTER, lane, out_slot, i32::from(i));
    }
    b.ins().stack_load(POINTER, types::I8X16, out_slot, 0)
}
