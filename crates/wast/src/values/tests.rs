//! Unit tests for NaN patterns and lane splitting.

use super::*;

#[test]
fn f32_nan_patterns() {
    assert!(is_canonical_nan_f32(0x7fc0_0000));
    assert!(is_canonical_nan_f32(0xffc0_0000));
    assert!(!is_canonical_nan_f32(0x7fc0_0001));
    assert!(is_arithmetic_nan_f32(0x7fc0_0001));
    assert!(is_arithmetic_nan_f32(0xffff_ffff));
    // A signalling NaN is not arithmetic.
    assert!(!is_arithmetic_nan_f32(0x7f80_0001));
    assert!(!is_arithmetic_nan_f32(0x7f80_0000));
}

#[test]
fn f64_nan_patterns() {
    assert!(is_canonical_nan_f64(0x7ff8_0000_0000_0000));
    assert!(is_canonical_nan_f64(0xfff8_0000_0000_0000));
    assert!(!is_canonical_nan_f64(0x7ff8_0000_0000_0001));
    assert!(is_arithmetic_nan_f64(0x7ff8_0000_0000_0001));
    assert!(!is_arithmetic_nan_f64(0x7ff0_0000_0000_0001));
}

#[test]
fn lanes_are_little_endian() {
    let v = u128::from_le_bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    let l: Vec<i32> = lanes::<4>(v).map(i32::from_le_bytes).collect();
    assert_eq!(l, [1, 2, 3, 4]);
    assert!(v128_matches(&V128Pattern::I32x4([1, 2, 3, 4]), v));
    assert!(!v128_matches(&V128Pattern::I32x4([4, 3, 2, 1]), v));
    assert!(v128_matches(
        &V128Pattern::I64x2([0x0000_0002_0000_0001, 0x0000_0004_0000_0003]),
        v
    ));
}
