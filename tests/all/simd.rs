//! SIMD through the embedding API: `v128` in typed and dynamic calls, host functions,
//! globals and tables; code for the baseline CPU against the host's, bit for bit; relaxed
//! SIMD's two modes; target CPU feature settings; multi-memory SIMD accesses.

use kiln::{
    Config, Engine, Func, FuncType, Global, GlobalType, Instance, Linker, Module, Store, V128, Val,
    ValType,
};

/// The x86-64 CPU features above SSE2.
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

fn baseline_config() -> Config {
    let mut config = Config::new();
    for f in ABOVE_SSE2 {
        config.cranelift_flag_set(f, "false");
    }
    config
}

/// Engines for the default, explicit-checks and baseline-CPU configurations.
fn engines() -> Vec<Engine> {
    let mut explicit = Config::new();
    explicit
        .memory_reservation(0)
        .memory_guard_size(0)
        .signals_based_traps(false);
    vec![
        Engine::default(),
        Engine::new(&explicit).unwrap(),
        Engine::new(&baseline_config()).unwrap(),
    ]
}

fn i32x4(lanes: [i32; 4]) -> V128 {
    let mut bytes = [0; 16];
    for (i, l) in lanes.iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&l.to_le_bytes());
    }
    V128::from_le_bytes(bytes)
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn v128(&mut self) -> V128 {
        V128::new(u128::from(self.next()) << 64 | u128::from(self.next()))
    }
}

#[test]
fn v128_through_typed_and_dynamic_calls() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (func (export "add") (param v128 v128) (result v128)
                    local.get 0 local.get 1 i32x4.add)
                (func (export "split") (param v128) (result i32 v128 i32)
                    (local $zero v128)
                    local.get 0 i32x4.extract_lane 0
                    local.get $zero
                    local.get 0 i32x4.extract_lane 3))"#,
        )?;
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
        let add = instance.get_typed_func::<(V128, V128), V128>(&mut store, "add")?;
        let sum = add.call(&mut store, (i32x4([1, 2, 3, -4]), i32x4([10, 20, 30, 40])))?;
        assert_eq!(sum, i32x4([11, 22, 33, 36]));
        let split = instance.get_typed_func::<V128, (i32, V128, i32)>(&mut store, "split")?;
        assert_eq!(
            split.call(&mut store, i32x4([7, 8, 9, 10]))?,
            (7, V128::new(0), 10)
        );
        // The same through `Val`.
        let add = instance.get_func(&mut store, "add").unwrap();
        let mut results = [Val::I32(0)];
        add.call(
            &mut store,
            &[Val::V128(1 << 96), i32x4([5, 0, 0, 1]).into()],
            &mut results,
        )?;
        assert_eq!(results[0].v128(), Some(i32x4([5, 0, 0, 2])));
        assert_eq!(results[0].ty(), ValType::V128);
        // A wrong argument type is an error, not a crash.
        let err = add
            .call(&mut store, &[Val::I32(1), Val::V128(0)], &mut results)
            .unwrap_err();
        assert!(err.to_string().contains("type mismatch"), "{err}");
        assert!(
            instance
                .get_typed_func::<(i64, i64), V128>(&mut store, "add")
                .is_err()
        );
    }
    Ok(())
}

#[test]
fn host_functions_take_and_return_v128() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (import "host" "reverse" (func $reverse (param v128) (result v128)))
                (import "host" "halves" (func $halves (param i32 v128) (result v128 v128)))
                (func (export "run") (param v128) (result v128)
                    local.get 0 call $reverse
                    i32.const 3 local.get 0 call $halves
                    i64x2.add
                    i64x2.add))"#,
        )?;
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker.func_wrap("host", "reverse", |v: V128| {
            let mut b = v.to_le_bytes();
            b.reverse();
            V128::from_le_bytes(b)
        })?;
        let halves = Func::new(
            &mut store,
            FuncType::new(
                [ValType::I32, ValType::V128],
                [ValType::V128, ValType::V128],
            ),
            |_, args, results| {
                let k = args[0].i32().unwrap() as u128;
                let v = args[1].v128().unwrap().as_u128();
                results[0] = Val::V128((v & u128::from(u64::MAX)) * k);
                results[1] = Val::V128(v >> 64 << 64);
                Ok(())
            },
        );
        linker.define(&store, "host", "halves", halves)?;
        let instance = linker.instantiate(&mut store, &module)?;
        let run = instance.get_typed_func::<V128, V128>(&mut store, "run")?;
        let x = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10_u128;
        let lo = |v: u128| v as u64;
        let hi = |v: u128| (v >> 64) as u64;
        let rev = x.swap_bytes();
        let a = (x & u128::from(u64::MAX)) * 3;
        let b = x >> 64 << 64;
        let want_lo = lo(rev).wrapping_add(lo(a)).wrapping_add(lo(b));
        let want_hi = hi(rev).wrapping_add(hi(a)).wrapping_add(hi(b));
        let got = run.call(&mut store, V128::new(x))?.as_u128();
        assert_eq!((lo(got), hi(got)), (want_lo, want_hi));
    }
    Ok(())
}

#[test]
fn v128_globals_imported_and_exported() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (import "host" "g" (global $g (mut v128)))
                (global $own (export "own") (mut v128) (v128.const i32x4 1 2 3 4))
                (global (export "konst") v128 (v128.const i64x2 -1 7))
                (func (export "bump")
                    global.get $g global.get $own i32x4.add global.set $g
                    global.get $own i32.const 100 i32x4.splat i32x4.mul global.set $own))"#,
        )?;
        let mut store = Store::new(&engine, ());
        let ty = GlobalType {
            content: ValType::V128,
            mutable: true,
        };
        let g = Global::new(&mut store, ty, Val::V128(i32x4([10, 20, 30, 40]).as_u128()))?;
        let mut linker = Linker::new(&engine);
        linker.define(&store, "host", "g", g)?;
        let instance = linker.instantiate(&mut store, &module)?;
        let bump = instance.get_typed_func::<(), ()>(&mut store, "bump")?;
        bump.call(&mut store, ())?;
        assert_eq!(g.get(&mut store).v128(), Some(i32x4([11, 22, 33, 44])));
        let own = instance.get_global(&mut store, "own").unwrap();
        assert_eq!(
            own.get(&mut store).v128(),
            Some(i32x4([100, 200, 300, 400]))
        );
        own.set(&mut store, Val::V128(0))?;
        g.set(&mut store, Val::V128(5))?;
        bump.call(&mut store, ())?;
        assert_eq!(g.get(&mut store).v128(), Some(V128::new(5)));
        let konst = instance.get_global(&mut store, "konst").unwrap();
        assert_eq!(
            konst.get(&mut store).v128().unwrap().as_u128(),
            (7u128 << 64) | u128::from(u64::MAX)
        );
        assert!(konst.set(&mut store, Val::V128(0)).is_err());
        assert!(own.set(&mut store, Val::I32(0)).is_err());
    }
    Ok(())
}

#[test]
fn call_indirect_with_v128_signatures() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (type $vv (func (param v128) (result v128)))
                (type $vi (func (param v128) (result i32)))
                (table 3 funcref)
                (elem (i32.const 0) $neg $abs $sum)
                (func $neg (type $vv) local.get 0 i32x4.neg)
                (func $abs (type $vv) local.get 0 i32x4.abs)
                (func $sum (type $vi)
                    local.get 0 i32x4.extract_lane 0 local.get 0 i32x4.extract_lane 1 i32.add)
                (func (export "call") (param v128 i32) (result v128)
                    local.get 0 local.get 1 call_indirect (type $vv)))"#,
        )?;
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
        let call = instance.get_typed_func::<(V128, i32), V128>(&mut store, "call")?;
        let x = i32x4([1, -2, 3, i32::MIN]);
        assert_eq!(call.call(&mut store, (x, 0))?, i32x4([-1, 2, -3, i32::MIN]));
        assert_eq!(call.call(&mut store, (x, 1))?, i32x4([1, 2, 3, i32::MIN]));
        let err = call.call(&mut store, (x, 2)).unwrap_err();
        assert!(
            format!("{err:?}").contains("indirect call type mismatch"),
            "{err:?}"
        );
        let err = call.call(&mut store, (x, 3)).unwrap_err();
        assert!(format!("{err:?}").contains("undefined element"), "{err:?}");
    }
    Ok(())
}

#[test]
fn simd_accesses_past_the_end_trap() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module (memory 1)
                (func (export "load") (param i32) (result v128) local.get 0 v128.load)
                (func (export "lane") (param i32) (result v128)
                    local.get 0 v128.const i64x2 0 0 v128.load64_lane 1)
                (func (export "store") (param i32)
                    local.get 0 v128.const i64x2 -1 -1 v128.store))"#,
        )?;
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
        let load = instance.get_typed_func::<i32, V128>(&mut store, "load")?;
        let lane = instance.get_typed_func::<i32, V128>(&mut store, "lane")?;
        let st = instance.get_typed_func::<i32, ()>(&mut store, "store")?;
        st.call(&mut store, 65536 - 16)?;
        assert_eq!(load.call(&mut store, 65536 - 16)?, V128::new(u128::MAX));
        assert_eq!(
            lane.call(&mut store, 65536 - 8)?,
            V128::new(u128::MAX << 64)
        );
        for (what, result) in [
            ("load", load.call(&mut store, 65536 - 15).map(|_| ())),
            ("lane", lane.call(&mut store, 65536 - 7).map(|_| ())),
            ("store", st.call(&mut store, 65536 - 1)),
            ("load", load.call(&mut store, -1).map(|_| ())),
        ] {
            let err = result.unwrap_err();
            assert!(
                format!("{err:?}").contains("out of bounds memory access"),
                "{what}: {err:?}"
            );
        }
    }
    Ok(())
}

/// Rounding, shuffles and lane operations whose baseline code goes through Kiln's libcall
/// stubs or SSE2 fallbacks.
const FALLBACKS: &str = r#"(module
    (func (export "f32") (param f32) (result f32 f32 f32 f32)
        local.get 0 f32.ceil local.get 0 f32.floor local.get 0 f32.trunc local.get 0 f32.nearest)
    (func (export "f64") (param f64) (result f64 f64 f64 f64)
        local.get 0 f64.ceil local.get 0 f64.floor local.get 0 f64.trunc local.get 0 f64.nearest)
    (func (export "f32x4") (param v128) (result v128 v128 v128 v128)
        local.get 0 f32x4.ceil local.get 0 f32x4.floor
        local.get 0 f32x4.trunc local.get 0 f32x4.nearest)
    (func (export "f64x2") (param v128) (result v128 v128 v128 v128)
        local.get 0 f64x2.ceil local.get 0 f64x2.floor
        local.get 0 f64x2.trunc local.get 0 f64x2.nearest)
    (func (export "bytes") (param v128 v128) (result v128 v128 v128 v128)
        local.get 0 local.get 1 i8x16.swizzle
        local.get 0 local.get 1 i8x16.shuffle 3 17 0 31 9 9 12 20 5 1 30 2 16 7 8 25
        local.get 0 i8x16.popcnt
        local.get 0 local.get 1 i16x8.q15mulr_sat_s)
    (func (export "ints") (param v128 v128) (result v128 v128 v128 v128 i32)
        local.get 0 local.get 1 i64x2.gt_s
        local.get 0 local.get 1 i32x4.min_s
        local.get 0 local.get 1 i16x8.narrow_i32x4_u
        local.get 0 local.get 1 i32x4.dot_i16x8_s
        local.get 0 i8x16.bitmask)
    (func (export "convert") (param v128) (result v128 v128 v128 v128)
        local.get 0 i32x4.trunc_sat_f32x4_u
        local.get 0 i32x4.trunc_sat_f64x2_u_zero
        local.get 0 f32x4.convert_i32x4_u
        local.get 0 f64x2.convert_low_i32x4_u))"#;

/// Interesting f32 bit patterns: zeros, halves, the 2^23 boundary, extremes, NaNs.
fn f32_cases(rng: &mut Rng) -> Vec<u32> {
    let mut v: Vec<u32> = [
        0.0f32,
        0.5,
        1.5,
        2.5,
        0.49999997,
        1.0,
        8388607.5,
        8388608.0,
        8388609.0,
        16777215.0,
        1e30,
        1e-40,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::INFINITY,
        3.7,
        1.0 / 3.0,
    ]
    .iter()
    .flat_map(|x| [x.to_bits(), (-x).to_bits()])
    .collect();
    v.extend([
        0x7fc0_0000,
        0xffc0_0000,
        0x7f80_0001,
        0xffa0_0123,
        0x7fc1_2345,
    ]);
    v.extend((0..200).map(|_| rng.next() as u32));
    v.extend((0..200).map(|_| (rng.next() as f32 % 1e7 / 7.0).to_bits()));
    v
}

/// Interesting f64 bit patterns.
fn f64_cases(rng: &mut Rng) -> Vec<u64> {
    let mut v: Vec<u64> = [
        0.0f64,
        0.5,
        1.5,
        2.5,
        0.49999999999999994,
        4503599627370495.5,
        4503599627370496.0,
        4503599627370497.0,
        9007199254740991.0,
        1e300,
        5e-324,
        f64::MAX,
        f64::INFINITY,
        3.7,
        1.0 / 3.0,
    ]
    .iter()
    .flat_map(|x| [x.to_bits(), (-x).to_bits()])
    .collect();
    v.extend([
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001,
        0xfff4_0000_0000_0abc,
    ]);
    v.extend((0..200).map(|_| rng.next()));
    v.extend((0..200).map(|_| (rng.next() as f64 % 1e16 / 7.0).to_bits()));
    v
}

/// The results of calling `name` with `args`, as raw bits.
fn call_bits(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> Vec<u128> {
    let func = instance.get_func(&mut *store, name).unwrap();
    let n = func.ty(&*store).results.len();
    let mut results = vec![Val::I32(0); n];
    func.call(&mut *store, args, &mut results).unwrap();
    results
        .iter()
        .map(|r| match r {
            Val::I32(v) => *v as u32 as u128,
            Val::I64(v) => *v as u64 as u128,
            Val::F32(v) => u128::from(*v),
            Val::F64(v) => u128::from(*v),
            Val::V128(v) => *v,
            other => panic!("unexpected result {other:?}"),
        })
        .collect()
}

#[test]
fn baseline_cpu_matches_the_host_bit_for_bit() -> anyhow::Result<()> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let f32s = f32_cases(&mut rng);
    let f64s = f64_cases(&mut rng);
    let mut calls: Vec<(&str, Vec<Val>)> = Vec::new();
    for &x in &f32s {
        calls.push(("f32", vec![Val::F32(x)]));
    }
    for &x in &f64s {
        calls.push(("f64", vec![Val::F64(x)]));
    }
    for c in f32s.chunks(4) {
        let v = c
            .iter()
            .enumerate()
            .fold(0u128, |v, (i, &x)| v | u128::from(x) << (32 * i));
        calls.push(("f32x4", vec![Val::V128(v)]));
        calls.push(("convert", vec![Val::V128(v)]));
    }
    for c in f64s.chunks(2) {
        let v = c
            .iter()
            .enumerate()
            .fold(0u128, |v, (i, &x)| v | u128::from(x) << (64 * i));
        calls.push(("f64x2", vec![Val::V128(v)]));
        calls.push(("convert", vec![Val::V128(v)]));
    }
    for _ in 0..300 {
        let (a, b) = (rng.v128().as_u128(), rng.v128().as_u128());
        // Also indices in and near 0..16 for swizzle.
        let small = b & 0x1f1f_1f1f_1f1f_1f1f_1f1f_1f1f_1f1f_1f1f;
        for b in [b, small] {
            calls.push(("bytes", vec![Val::V128(a), Val::V128(b)]));
            calls.push(("ints", vec![Val::V128(a), Val::V128(b)]));
        }
    }

    let run = |engine: &Engine| -> anyhow::Result<Vec<Vec<u128>>> {
        let module = Module::new(engine, FALLBACKS)?;
        let mut store = Store::new(engine, ());
        let instance = Linker::new(engine).instantiate(&mut store, &module)?;
        Ok(calls
            .iter()
            .map(|(name, args)| call_bits(&mut store, &instance, name, args))
            .collect())
    };
    let host = run(&Engine::default())?;
    let baseline = run(&Engine::new(&baseline_config())?)?;
    for (i, (h, b)) in host.iter().zip(&baseline).enumerate() {
        assert_eq!(h, b, "{} {:x?}", calls[i].0, calls[i].1);
    }
    // Spot checks against Rust's own rounding.
    for &x in &f32s {
        let f = f32::from_bits(x);
        let got = &host[calls
            .iter()
            .position(|(n, a)| *n == "f32" && matches!(a[0], Val::F32(b) if b == x))
            .unwrap()];
        let want = [f.ceil(), f.floor(), f.trunc(), f.round_ties_even()];
        for (g, w) in got.iter().zip(want) {
            let g = f32::from_bits(*g as u32);
            if w.is_nan() {
                assert!(g.is_nan() && g.to_bits() & 0x0040_0000 != 0, "{f}: {g}");
            } else {
                assert_eq!(g.to_bits(), w.to_bits(), "{f}");
            }
        }
    }
    Ok(())
}

const RELAXED: &str = r#"(module
    (func (export "swizzle") (param v128 v128) (result v128)
        local.get 0 local.get 1 i8x16.relaxed_swizzle)
    (func (export "trunc") (param v128) (result v128 v128 v128 v128)
        local.get 0 i32x4.relaxed_trunc_f32x4_s local.get 0 i32x4.relaxed_trunc_f32x4_u
        local.get 0 i32x4.relaxed_trunc_f64x2_s_zero local.get 0 i32x4.relaxed_trunc_f64x2_u_zero)
    (func (export "madd") (param v128 v128 v128) (result v128 v128 v128 v128)
        local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd
        local.get 0 local.get 1 local.get 2 f32x4.relaxed_nmadd
        local.get 0 local.get 1 local.get 2 f64x2.relaxed_madd
        local.get 0 local.get 1 local.get 2 f64x2.relaxed_nmadd)
    (func (export "select") (param v128 v128 v128) (result v128 v128 v128 v128)
        local.get 0 local.get 1 local.get 2 i8x16.relaxed_laneselect
        local.get 0 local.get 1 local.get 2 i16x8.relaxed_laneselect
        local.get 0 local.get 1 local.get 2 i32x4.relaxed_laneselect
        local.get 0 local.get 1 local.get 2 i64x2.relaxed_laneselect)
    (func (export "minmax") (param v128 v128) (result v128 v128 v128 v128)
        local.get 0 local.get 1 f32x4.relaxed_min local.get 0 local.get 1 f32x4.relaxed_max
        local.get 0 local.get 1 f64x2.relaxed_min local.get 0 local.get 1 f64x2.relaxed_max)
    (func (export "ints") (param v128 v128 v128) (result v128 v128 v128)
        local.get 0 local.get 1 i16x8.relaxed_q15mulr_s
        local.get 0 local.get 1 i16x8.relaxed_dot_i8x16_i7x16_s
        local.get 0 local.get 1 local.get 2 i32x4.relaxed_dot_i8x16_i7x16_add_s))"#;

fn relaxed_calls(rng: &mut Rng) -> Vec<(&'static str, Vec<Val>)> {
    let special = [
        0u128,
        u128::MAX,
        // f32 lanes: NaN, -0, +0, 1e10; f64 lanes: NaN, -0.
        0x4f95_02f9_0000_0000_8000_0000_7fc0_0000,
        0x8000_0000_0000_0000_7ff8_0000_0000_0000,
        // i16 lanes of i16::MIN, i8 lanes of -128.
        0x8000_8000_8000_8000_8080_8080_8080_8080,
    ];
    let mut calls = Vec::new();
    for i in 0..400u32 {
        let mut pick = || {
            if rng.next().is_multiple_of(4) {
                special[(rng.next() % special.len() as u64) as usize]
            } else {
                rng.v128().as_u128()
            }
        };
        let (a, b, c) = (pick(), pick(), pick());
        let v = |x: u128| Val::V128(x);
        calls.push(("swizzle", vec![v(a), v(b)]));
        calls.push(("trunc", vec![v(a)]));
        calls.push(("madd", vec![v(a), v(b), v(c)]));
        calls.push(("select", vec![v(a), v(b), v(c)]));
        calls.push(("minmax", vec![v(a), v(b)]));
        calls.push(("ints", vec![v(a), v(b), v(c)]));
        if i.is_multiple_of(2) {
            calls.push(("minmax", vec![v(b), v(a)]));
        }
    }
    calls
}

#[test]
fn relaxed_simd_deterministic_mode_is_the_same_on_every_cpu() -> anyhow::Result<()> {
    let calls = relaxed_calls(&mut Rng(0x9e37_79b9_7f4a_7c15));
    let run = |config: &mut Config| -> anyhow::Result<Vec<Vec<u128>>> {
        let engine = Engine::new(config.relaxed_simd_deterministic(true))?;
        let module = Module::new(&engine, RELAXED)?;
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
        Ok(calls
            .iter()
            .map(|(name, args)| call_bits(&mut store, &instance, name, args))
            .collect())
    };
    let host = run(&mut Config::new())?;
    let baseline = run(&mut baseline_config())?;
    let mut no_fma = Config::new();
    no_fma.cranelift_flag_set("has_fma", "false");
    let no_fma = run(&mut no_fma)?;
    for (i, ((h, b), n)) in host.iter().zip(&baseline).zip(&no_fma).enumerate() {
        assert_eq!(h, b, "{} {:x?}", calls[i].0, calls[i].1);
        assert_eq!(h, n, "{} {:x?}", calls[i].0, calls[i].1);
    }
    Ok(())
}

#[test]
fn relaxed_simd_modes_differ_where_the_spec_allows() -> anyhow::Result<()> {
    let results = |deterministic: bool| -> anyhow::Result<(V128, f32)> {
        let mut config = Config::new();
        config.relaxed_simd_deterministic(deterministic);
        let engine = Engine::new(&config)?;
        let module = Module::new(&engine, RELAXED)?;
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
        let swizzle = instance.get_typed_func::<(V128, V128), V128>(&mut store, "swizzle")?;
        let madd = instance
            .get_typed_func::<(V128, V128, V128), (V128, V128, V128, V128)>(&mut store, "madd")?;
        // Indices 0x11 (out of range), 0x80 (top bit set) and 1.
        let s = swizzle.call(
            &mut store,
            (i32x4([0x0403_0201, 0, 0, 0]), V128::new(0x01_80_11)),
        )?;
        // (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24 exactly, and 0 when the product is rounded.
        let x = f32::from_bits(0x3f80_0800);
        let c = -f32::from_bits(0x3f80_1000);
        let splat =
            |f: f32| V128::new(u128::from(f.to_bits()) * 0x0000_0001_0000_0001_0000_0001_0000_0001);
        let (m, ..) = madd.call(&mut store, (splat(x), splat(x), splat(c)))?;
        Ok((s, f32::from_bits(m.as_u128() as u32)))
    };
    let (swizzle, madd) = results(true)?;
    assert_eq!(swizzle.as_u128() & 0xff_ffff, 0x02_00_00);
    assert_eq!(madd, 0.0);
    let (swizzle, madd) = results(false)?;
    if std::arch::is_x86_feature_detected!("ssse3") {
        // `pshufb`: index 0x11 selects lane 1.
        assert_eq!(swizzle.as_u128() & 0xff_ffff, 0x02_00_02);
    }
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx") {
        assert_eq!(madd, f32::from_bits(0x3380_0000));
    }
    Ok(())
}

#[test]
fn cpu_feature_settings_are_checked_by_engine_new() {
    let err = |config: &Config| format!("{:#}", Engine::new(config).unwrap_err());
    let mut c = Config::new();
    c.cranelift_flag_set("has_sse5", "true");
    assert!(
        err(&c).contains("unknown target CPU feature `has_sse5`"),
        "{}",
        err(&c)
    );
    let mut c = Config::new();
    c.cranelift_flag_set("opt_level", "none");
    assert!(
        err(&c).contains("unknown target CPU feature `opt_level`"),
        "{}",
        err(&c)
    );
    let mut c = Config::new();
    c.cranelift_flag_set("has_avx", "yes please");
    assert!(err(&c).contains("invalid value"), "{}", err(&c));
    // Enabling what the host has is fine; later settings win.
    if std::arch::is_x86_feature_detected!("sse4.1") {
        let mut c = Config::new();
        c.cranelift_flag_set("has_sse41", "false")
            .cranelift_flag_enable("has_sse41");
        let engine = Engine::new(&c).unwrap();
        assert!(engine.target_description().contains("has_sse41=true"));
    }
}

#[test]
fn multi_memory_simd_accesses() -> anyhow::Result<()> {
    let wat = r#"(module
        (memory $a 1)
        (memory $b 1 1)
        (data (memory $b) (i32.const 16) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
        (func (export "copy") (param i32 i32)
            local.get 0 local.get 1 v128.load $b v128.store $a)
        (func (export "get") (param i32) (result v128) local.get 0 v128.load $a)
        (func (export "lane") (param i32) (result v128)
            local.get 0 v128.const i64x2 0 0 v128.load32_lane $b 2))"#;
    // Wasm 2.0 has one memory.
    let err = Module::new(&Engine::default(), wat).unwrap_err();
    assert!(format!("{err:#}").contains("multiple memories"), "{err:#}");
    for engine in engines() {
        let mut config = engine.config().clone();
        let engine = Engine::new(config.wasm_multi_memory(true))?;
        let module = Module::new(&engine, wat)?;
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
        let copy = instance.get_typed_func::<(i32, i32), ()>(&mut store, "copy")?;
        let get = instance.get_typed_func::<i32, V128>(&mut store, "get")?;
        let lane = instance.get_typed_func::<i32, V128>(&mut store, "lane")?;
        copy.call(&mut store, (100, 16))?;
        let want = V128::from_le_bytes(std::array::from_fn(|i| i as u8 + 1));
        assert_eq!(get.call(&mut store, 100)?, want);
        assert_eq!(lane.call(&mut store, 20)?, V128::new(0x0807_0605 << 64));
        // Memory $b is one page and cannot grow: its own bound applies.
        let err = lane.call(&mut store, 65533).unwrap_err();
        assert!(format!("{err:?}").contains("out of bounds memory access"));
    }
    Ok(())
}
