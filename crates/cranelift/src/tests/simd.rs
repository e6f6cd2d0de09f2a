//! SIMD unit tests: the shape of translated `v128` code, relaxed-SIMD modes, target CPU
//! feature settings, and the libcall stubs used without SSE4.1 and SSSE3.

use super::{clif, compile_with, explicit};
use crate::CraneliftCompiler;
use kiln_environ::{Compiler, Tunables};

/// The x86-64 features above SSE2, all off: the baseline CPU.
const ABOVE_SSE2: &[&str] = &[
    "has_sse3",
    "has_ssse3",
    "has_cmpxchg16b",
    "has_sse41",
    "has_sse42",
    "has_avx",
    "has_avx2",
    "has_fma",
    "has_avx_vnni",
    "has_avx512bitalg",
    "has_avx512dq",
    "has_avx512vl",
    "has_avx512vbmi",
    "has_avx512f",
    "has_avx512vnni",
    "has_popcnt",
    "has_bmi1",
    "has_bmi2",
    "has_lzcnt",
];

fn baseline() -> Tunables {
    Tunables {
        cpu_features: ABOVE_SSE2
            .iter()
            .map(|f| (f.to_string(), "false".to_string()))
            .collect(),
        ..Tunables::default()
    }
}

fn deterministic() -> Tunables {
    Tunables {
        relaxed_simd_deterministic: true,
        ..Tunables::default()
    }
}

/// The end of the last defined function in the text; anything after it is trampolines and
/// libcall stubs.
fn functions_end(code: &kiln_environ::CompiledCode) -> usize {
    code.functions
        .iter()
        .map(|f| (f.start + f.length) as usize)
        .max()
        .unwrap_or(0)
}

#[test]
fn v128_values_live_in_locals_params_results_and_globals() {
    let wat = r#"(module
        (global $g (mut v128) (v128.const i32x4 1 2 3 4))
        (func $f (param v128 i32) (result v128 v128)
            (local $l v128)
            local.get 0 local.set $l
            local.get $l
            global.get $g
            local.get 1 select
            local.get $l
            (block (param v128) (result v128) i32x4.neg))
        (func (export "g") (param v128) (result v128)
            local.get 0 i32.const 1 call $f i32x4.add))"#;
    for t in [Tunables::default(), explicit(), baseline()] {
        compile_with(wat, &t).unwrap();
    }
    // A v128 local starts as an all-zero vector, and the signature uses `i8x16`.
    let text = clif(wat, &Tunables::default()).join("\n");
    assert!(text.contains("i8x16"), "{text}");
    assert!(
        text.contains("const0 = 0x00000000000000000000000000000000"),
        "{text}"
    );
}

#[test]
fn simd_memory_accesses_share_the_scalar_bounds_checks() {
    let wat = r#"(module (memory 1)
        (func (param i32 v128) (result v128)
            local.get 0 v128.load offset=16
            local.get 0 local.get 1 v128.load32_lane offset=4 3
            i32x4.add
            local.get 0 local.get 1 v128.store64_lane 1
            local.get 0 v128.load16_splat
            i16x8.add
            local.get 0 v128.load64_zero
            i64x2.add
            local.get 0 v128.load8x8_s
            i16x8.add))"#;
    let checks = |t: &Tunables| clif(wat, t).join("\n").matches("icmp ugt").count();
    // Inside the 4 GiB reservation + guard, no check; without signals, one per access.
    assert_eq!(checks(&Tunables::default()), 0);
    assert_eq!(checks(&explicit()), 6);
    // The explicit check covers the whole access: offset 16 + 16 bytes.
    let text = clif(wat, &explicit()).join("\n");
    assert!(text.contains("iconst.i64 32"), "{text}");
    for t in [Tunables::default(), explicit(), baseline()] {
        compile_with(wat, &t).unwrap();
    }
    // An offset beyond any 32-bit memory traps unconditionally.
    let far = r#"(module (memory 1)
        (func (param i32) (result v128) local.get 0 v128.load offset=0xfffffff8))"#;
    for t in [Tunables::default(), explicit()] {
        let text = clif(far, &t).join("\n");
        assert!(!text.contains("icmp ugt"), "{text}");
        compile_with(far, &t).unwrap();
    }
}

#[test]
fn baseline_cpu_uses_libcall_stubs_and_the_host_does_not() {
    let round = r#"(module
        (func (param v128 f32 f64) (result v128 f32 f64)
            local.get 0 f32x4.ceil f64x2.floor f32x4.trunc f64x2.nearest
            local.get 1 f32.nearest
            local.get 2 f64.trunc))"#;
    let shuffle = r#"(module
        (func (param v128 v128) (result v128)
            local.get 0 local.get 1 i8x16.swizzle))"#;
    for wat in [round, shuffle] {
        let code = compile_with(wat, &baseline()).unwrap();
        assert!(
            code.text.len() > functions_end(&code),
            "no stubs for\n{wat}"
        );
        if std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
        {
            let code = compile_with(wat, &Tunables::default()).unwrap();
            assert_eq!(code.text.len(), functions_end(&code), "stubs for\n{wat}");
        }
    }
    let compiler = CraneliftCompiler::new(&baseline()).unwrap();
    let d = compiler.target_description();
    assert!(d.contains("has_sse41=false"), "{d}");
    assert!(d.contains("has_ssse3=false"), "{d}");
}

#[test]
fn relaxed_simd_modes() {
    let wat = r#"(module
        (func (param v128 v128 v128) (result v128)
            local.get 0 local.get 1 i8x16.relaxed_swizzle
            local.get 1 local.get 2 f32x4.relaxed_madd
            local.get 1 local.get 2 i8x16.relaxed_laneselect
            local.get 1 f32x4.relaxed_min
            i32x4.relaxed_trunc_f32x4_s
            local.get 1 i16x8.relaxed_q15mulr_s
            local.get 1 local.get 2 i32x4.relaxed_dot_i8x16_i7x16_add_s))"#;
    // Deterministic: only instructions with one defined result.
    let text = clif(wat, &deterministic()).join("\n");
    for forbidden in ["x86_", "fma", "blendv"] {
        assert!(!text.contains(forbidden), "found `{forbidden}` in\n{text}");
    }
    for expected in ["swizzle", "fmin", "fcvt_to_sint_sat", "sqmul_round_sat"] {
        assert!(text.contains(expected), "no `{expected}` in\n{text}");
    }
    // Fast, on a host with SSSE3: the x86 instructions.
    if std::arch::is_x86_feature_detected!("ssse3") {
        let text = clif(wat, &Tunables::default()).join("\n");
        for expected in ["x86_pshufb", "x86_cvtt2dq", "x86_pmulhrsw", "x86_pmaddubsw"] {
            assert!(text.contains(expected), "no `{expected}` in\n{text}");
        }
    }
    for t in [Tunables::default(), deterministic(), baseline(), explicit()] {
        compile_with(wat, &t).unwrap();
    }
    // The mode is part of the code's identity.
    assert_ne!(Tunables::default(), deterministic());
}

#[test]
fn cpu_feature_settings_are_checked() {
    let with = |features: &[(&str, &str)]| {
        CraneliftCompiler::new(&Tunables {
            cpu_features: features
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Tunables::default()
        })
    };
    let err = with(&[("has_sse9", "false")]).unwrap_err();
    assert!(
        err.contains("unknown target CPU feature `has_sse9`"),
        "{err}"
    );
    assert!(err.contains("has_sse41"), "{err}");
    // Shared code generator settings are not CPU features.
    let err = with(&[("preserve_frame_pointers", "false")]).unwrap_err();
    assert!(err.contains("unknown target CPU feature"), "{err}");
    let err = with(&[("has_avx", "maybe")]).unwrap_err();
    assert!(err.contains("invalid value `maybe`"), "{err}");
    let err = with(&[("sse42", "false")]).unwrap_err();
    assert!(err.contains("preset"), "{err}");
    // Turning features off is always allowed; later settings win.
    with(&[("has_avx", "false"), ("has_sse41", "false")]).unwrap();
    with(&[("baseline", "")]).unwrap();
    if std::arch::is_x86_feature_detected!("avx2") {
        with(&[("has_avx2", "false"), ("has_avx2", "true")]).unwrap();
    }
}

#[test]
fn enabling_a_feature_the_host_lacks_is_an_error() {
    // Pretend the host lacks AVX2: a compiler that enables it must be refused.
    let build = |avx2: &str| {
        let mut b = cranelift_native::builder().unwrap();
        cranelift_codegen::settings::Configurable::set(&mut b, "has_avx2", avx2).unwrap();
        let flags = cranelift_codegen::settings::Flags::new(cranelift_codegen::settings::builder());
        b.finish(flags).unwrap()
    };
    let (host, wanted) = (build("false"), build("true"));
    let err = crate::compiler::check_host_supports(&*wanted, &*host).unwrap_err();
    assert_eq!(
        err,
        "target CPU feature `has_avx2` is enabled but the host CPU does not support it"
    );
    crate::compiler::check_host_supports(&*host, &*host).unwrap();
    crate::compiler::check_host_supports(&*host, &*wanted).unwrap();
}

#[test]
fn every_simd_operator_compiles_in_every_configuration() {
    // One module per spec file would repeat `tests/wast.rs`; this checks the relaxed and
    // conversion operators whose lowering depends most on the CPU.
    let wat = r#"(module
        (func (param v128 v128 v128) (result v128)
            local.get 0 i32x4.trunc_sat_f64x2_s_zero
            local.get 0 i32x4.trunc_sat_f64x2_u_zero i32x4.add
            local.get 0 i32x4.trunc_sat_f32x4_u i32x4.add
            local.get 0 f64x2.convert_low_i32x4_u f64x2.add
            local.get 0 f32x4.demote_f64x2_zero f64x2.promote_low_f32x4 f64x2.add
            local.get 0 i32x4.relaxed_trunc_f64x2_s_zero i32x4.add
            local.get 0 i32x4.relaxed_trunc_f64x2_u_zero i32x4.add
            local.get 1 local.get 2 f64x2.relaxed_nmadd
            local.get 1 local.get 2 i16x8.relaxed_laneselect
            local.get 1 local.get 2 i64x2.relaxed_laneselect
            local.get 1 f64x2.relaxed_max
            local.get 1 i16x8.relaxed_dot_i8x16_i7x16_s
            i8x16.popcnt i64x2.abs
            local.get 1 i64x2.mul
            local.get 1 i64x2.gt_s
            i64x2.bitmask i8x16.splat
            local.get 1 i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31))"#;
    for t in [Tunables::default(), explicit(), baseline(), deterministic()] {
        compile_with(wat, &t).unwrap();
    }
}
