//! Script values: turning `(i32.const 1)`-style arguments into [`Val`]s, and matching results
//! against expected patterns (`nan:canonical`, per-lane v128 patterns, `ref.extern N`, ...).
//!
//! Floats are compared by bits, so `-0.0` differs from `0.0` and NaN payloads matter unless the
//! script asks for a NaN pattern. `ref.extern N` is a host reference wrapping the `u32` `N`.

use anyhow::{Result, bail};
use kiln::{ExternRef, Store, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// The kind of null reference a `ref.null` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NullKind {
    Func,
    Extern,
}

fn null_kind(ty: &HeapType<'_>) -> Result<NullKind> {
    match ty {
        HeapType::Abstract { shared: false, ty } => match ty {
            AbstractHeapType::Func | AbstractHeapType::NoFunc => Ok(NullKind::Func),
            AbstractHeapType::Extern | AbstractHeapType::NoExtern => Ok(NullKind::Extern),
            other => bail!("unsupported reference type `{other:?}`"),
        },
        other => bail!("unsupported reference type `{other:?}`"),
    }
}

/// Converts a script argument to a value in `store`.
pub(crate) fn arg_to_val<T>(store: &mut Store<T>, arg: &WastArg<'_>) -> Result<Val> {
    let WastArg::Core(arg) = arg else {
        bail!("component-model arguments are not supported");
    };
    Ok(match arg {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(ty) => match null_kind(ty)? {
            NullKind::Func => Val::FuncRef(None),
            NullKind::Extern => Val::ExternRef(None),
        },
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef::new(&mut *store, *n))),
        WastArgCore::RefHost(_) => bail!("`ref.host` arguments are not supported"),
    })
}

/// Checks `actual` against the expected results; the error describes the first mismatch.
pub(crate) fn match_results<T>(
    store: &Store<T>,
    actual: &[Val],
    expected: &[WastRet<'_>],
) -> Result<()> {
    if actual.len() != expected.len() {
        bail!(
            "expected {} results, got {}: {}",
            expected.len(),
            actual.len(),
            format_vals(store, actual)
        );
    }
    for (i, (v, e)) in actual.iter().zip(expected).enumerate() {
        let WastRet::Core(e) = e else {
            bail!("component-model results are not supported");
        };
        if !matches_ret(store, v, e)? {
            let which = if actual.len() == 1 {
                String::new()
            } else {
                format!(" (result {i})")
            };
            bail!(
                "result mismatch{which}: expected {}, got {}",
                format_ret(e),
                format_val(store, v)
            );
        }
    }
    Ok(())
}

fn matches_ret<T>(store: &Store<T>, v: &Val, e: &WastRetCore<'_>) -> Result<bool> {
    Ok(match (e, v) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(p), Val::F32(a)) => f32_matches(p, *a),
        (WastRetCore::F64(p), Val::F64(a)) => f64_matches(p, *a),
        (WastRetCore::V128(p), Val::V128(a)) => v128_matches(p, *a),
        (WastRetCore::RefNull(ty), v) => {
            let kind = ty.as_ref().map(null_kind).transpose()?;
            match v {
                Val::FuncRef(None) => kind.is_none_or(|k| k == NullKind::Func),
                Val::ExternRef(None) => kind.is_none_or(|k| k == NullKind::Extern),
                _ => false,
            }
        }
        (WastRetCore::RefExtern(n), Val::ExternRef(Some(r))) => match n {
            None => true,
            Some(n) => r.data(store).downcast_ref::<u32>() == Some(n),
        },
        // The index in `(ref.func $f)` is not checked: a function reference has no index
        // outside its module.
        (WastRetCore::RefFunc(_), Val::FuncRef(r)) => r.is_some(),
        (WastRetCore::Either(alternatives), v) => {
            for alt in alternatives {
                if matches_ret(store, v, alt)? {
                    return Ok(true);
                }
            }
            false
        }
        (
            WastRetCore::RefHost(_)
            | WastRetCore::RefAny
            | WastRetCore::RefEq
            | WastRetCore::RefArray
            | WastRetCore::RefStruct
            | WastRetCore::RefI31
            | WastRetCore::RefI31Shared,
            _,
        ) => bail!("unsupported expected result {}", format_ret(e)),
        _ => false,
    })
}

const F32_ARITHMETIC_NAN: u32 = 0x7fc0_0000;
const F64_ARITHMETIC_NAN: u64 = 0x7ff8_0000_0000_0000;

/// Whether `bits` is the canonical NaN (either sign) of `f32`.
pub fn is_canonical_nan_f32(bits: u32) -> bool {
    bits & 0x7fff_ffff == F32_ARITHMETIC_NAN
}

/// Whether `bits` is an arithmetic NaN (quiet bit set, either sign) of `f32`.
pub fn is_arithmetic_nan_f32(bits: u32) -> bool {
    bits & F32_ARITHMETIC_NAN == F32_ARITHMETIC_NAN
}

/// Whether `bits` is the canonical NaN (either sign) of `f64`.
pub fn is_canonical_nan_f64(bits: u64) -> bool {
    bits & 0x7fff_ffff_ffff_ffff == F64_ARITHMETIC_NAN
}

/// Whether `bits` is an arithmetic NaN (quiet bit set, either sign) of `f64`.
pub fn is_arithmetic_nan_f64(bits: u64) -> bool {
    bits & F64_ARITHMETIC_NAN == F64_ARITHMETIC_NAN
}

fn f32_matches(p: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match p {
        NanPattern::CanonicalNan => is_canonical_nan_f32(bits),
        NanPattern::ArithmeticNan => is_arithmetic_nan_f32(bits),
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(p: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match p {
        NanPattern::CanonicalNan => is_canonical_nan_f64(bits),
        NanPattern::ArithmeticNan => is_arithmetic_nan_f64(bits),
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// The `N`-byte lanes of a vector, lowest lane first.
fn lanes<const N: usize>(v: u128) -> impl Iterator<Item = [u8; N]> {
    let bytes = v.to_le_bytes();
    (0..16 / N).map(move |i| {
        let mut lane = [0; N];
        lane.copy_from_slice(&bytes[i * N..(i + 1) * N]);
        lane
    })
}

fn v128_matches(p: &V128Pattern, v: u128) -> bool {
    match p {
        V128Pattern::I8x16(e) => lanes::<1>(v)
            .zip(e)
            .all(|(a, e)| i8::from_le_bytes(a) == *e),
        V128Pattern::I16x8(e) => lanes::<2>(v)
            .zip(e)
            .all(|(a, e)| i16::from_le_bytes(a) == *e),
        V128Pattern::I32x4(e) => lanes::<4>(v)
            .zip(e)
            .all(|(a, e)| i32::from_le_bytes(a) == *e),
        V128Pattern::I64x2(e) => lanes::<8>(v)
            .zip(e)
            .all(|(a, e)| i64::from_le_bytes(a) == *e),
        V128Pattern::F32x4(e) => lanes::<4>(v)
            .zip(e)
            .all(|(a, e)| f32_matches(e, u32::from_le_bytes(a))),
        V128Pattern::F64x2(e) => lanes::<8>(v)
            .zip(e)
            .all(|(a, e)| f64_matches(e, u64::from_le_bytes(a))),
    }
}

/// Formats values for a failure message.
pub(crate) fn format_vals<T>(store: &Store<T>, vals: &[Val]) -> String {
    if vals.is_empty() {
        return "nothing".to_string();
    }
    vals.iter()
        .map(|v| format_val(store, v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats one value the way a script writes it, with float bits.
pub(crate) fn format_val<T>(store: &Store<T>, v: &Val) -> String {
    match v {
        Val::I32(v) => format!("i32.const {v}"),
        Val::I64(v) => format!("i64.const {v}"),
        Val::F32(b) => format!("f32.const {} (0x{b:08x})", f32::from_bits(*b)),
        Val::F64(b) => format!("f64.const {} (0x{b:016x})", f64::from_bits(*b)),
        Val::V128(v) => format!("v128.const 0x{v:032x}"),
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(r)) => match r.data(store).downcast_ref::<u32>() {
            Some(n) => format!("ref.extern {n}"),
            None => "ref.extern (host value)".to_string(),
        },
    }
}

fn format_f32(p: &NanPattern<wast::token::F32>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{} (0x{:08x})", f32::from_bits(v.bits), v.bits),
    }
}

fn format_f64(p: &NanPattern<wast::token::F64>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{} (0x{:016x})", f64::from_bits(v.bits), v.bits),
    }
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

/// Formats an expected result for a failure message.
fn format_ret(e: &WastRetCore<'_>) -> String {
    match e {
        WastRetCore::I32(v) => format!("i32.const {v}"),
        WastRetCore::I64(v) => format!("i64.const {v}"),
        WastRetCore::F32(p) => format!("f32.const {}", format_f32(p)),
        WastRetCore::F64(p) => format!("f64.const {}", format_f64(p)),
        WastRetCore::V128(p) => match p {
            V128Pattern::I8x16(l) => format!("v128.const i8x16 {}", join(l, |x| x.to_string())),
            V128Pattern::I16x8(l) => format!("v128.const i16x8 {}", join(l, |x| x.to_string())),
            V128Pattern::I32x4(l) => format!("v128.const i32x4 {}", join(l, |x| x.to_string())),
            V128Pattern::I64x2(l) => format!("v128.const i64x2 {}", join(l, |x| x.to_string())),
            V128Pattern::F32x4(l) => format!("v128.const f32x4 {}", join(l, format_f32)),
            V128Pattern::F64x2(l) => format!("v128.const f64x2 {}", join(l, format_f64)),
        },
        WastRetCore::RefNull(None) => "ref.null".to_string(),
        WastRetCore::RefNull(Some(ty)) => match null_kind(ty) {
            Ok(NullKind::Func) => "ref.null func".to_string(),
            Ok(NullKind::Extern) => "ref.null extern".to_string(),
            Err(_) => format!("ref.null {ty:?}"),
        },
        WastRetCore::RefExtern(None) => "ref.extern".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefHost(n) => format!("ref.host {n}"),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::RefAny => "ref.any".to_string(),
        WastRetCore::RefEq => "ref.eq".to_string(),
        WastRetCore::RefArray => "ref.array".to_string(),
        WastRetCore::RefStruct => "ref.struct".to_string(),
        WastRetCore::RefI31 => "ref.i31".to_string(),
        WastRetCore::RefI31Shared => "ref.i31_shared".to_string(),
        WastRetCore::Either(alts) => {
            let alts: Vec<String> = alts.iter().map(format_ret).collect();
            format!("either({})", alts.join(" | "))
        }
    }
}

#[cfg(test)]
mod tests;
