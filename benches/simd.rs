//! SIMD kernels against their scalar twins, both written in WAT and run by Kiln over 1 MiB:
//!
//! - `byte_scan`: count the bytes equal to a needle in a 1 MiB buffer (`i32.load8_u` and a
//!   compare per byte, against `i8x16.eq`, `i8x16.bitmask` and `i32.popcnt` per 16 bytes);
//! - `dot_f32`: the dot product of two 1 MiB arrays of `f32` (one multiply-add per element,
//!   against `f32x4.mul` and `f32x4.add` on four accumulators);
//! - `dot_i16`: the dot product of two 1 MiB arrays of `i16` (against `i32x4.dot_i16x8_s`).
//!
//! Each kernel also runs compiled for the baseline x86-64 CPU (SSE2 only, `-C
//! cranelift-has-*=false`), to show what the fallbacks cost. Every variant's result is checked
//! against a Rust computation before it is timed.
//!
//! Run with `cargo bench --bench simd`; criterion reports time per call and throughput.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln::{Config, Engine, Instance, Linker, Module, Store, TypedFunc};
use std::hint::black_box;

/// Bytes per input array.
const LEN: i32 = 1 << 20;

const KERNELS: &str = r#"(module
  ;; Two 1 MiB inputs: $a at 0, $b at 1 MiB.
  (memory (export "memory") 33)

  (func (export "byte_scan_scalar") (param $needle i32) (result i32)
    (local $i i32) (local $count i32)
    (loop $l
      (local.set $count
        (i32.add (local.get $count)
          (i32.eq (i32.load8_u (local.get $i)) (local.get $needle))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (i32.const 0x100000))))
    (local.get $count))

  (func (export "byte_scan_simd") (param $needle i32) (result i32)
    (local $i i32) (local $count i32) (local $n v128)
    (local.set $n (i8x16.splat (local.get $needle)))
    (loop $l
      (local.set $count
        (i32.add (local.get $count)
          (i32.popcnt (i8x16.bitmask (i8x16.eq (v128.load (local.get $i)) (local.get $n))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16)))
                          (i32.const 0x100000))))
    (local.get $count))

  (func (export "dot_f32_scalar") (result f32)
    (local $i i32) (local $sum f32)
    (loop $l
      (local.set $sum
        (f32.add (local.get $sum)
          (f32.mul (f32.load (local.get $i))
                   (f32.load offset=0x100000 (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4)))
                          (i32.const 0x100000))))
    (local.get $sum))

  (func (export "dot_f32_simd") (result f32)
    (local $i i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (loop $l
      (local.set $s0 (f32x4.add (local.get $s0)
        (f32x4.mul (v128.load (local.get $i)) (v128.load offset=0x100000 (local.get $i)))))
      (local.set $s1 (f32x4.add (local.get $s1)
        (f32x4.mul (v128.load offset=16 (local.get $i))
                   (v128.load offset=0x100010 (local.get $i)))))
      (local.set $s2 (f32x4.add (local.get $s2)
        (f32x4.mul (v128.load offset=32 (local.get $i))
                   (v128.load offset=0x100020 (local.get $i)))))
      (local.set $s3 (f32x4.add (local.get $s3)
        (f32x4.mul (v128.load offset=48 (local.get $i))
                   (v128.load offset=0x100030 (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 64)))
                          (i32.const 0x100000))))
    (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1))
                              (f32x4.add (local.get $s2) (local.get $s3))))
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
             (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))

  (func (export "dot_i16_scalar") (result i32)
    (local $i i32) (local $sum i32)
    (loop $l
      (local.set $sum
        (i32.add (local.get $sum)
          (i32.mul (i32.load16_s (local.get $i))
                   (i32.load16_s offset=0x100000 (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 2)))
                          (i32.const 0x100000))))
    (local.get $sum))

  (func (export "dot_i16_simd") (result i32)
    (local $i i32) (local $s0 v128) (local $s1 v128)
    (loop $l
      (local.set $s0 (i32x4.add (local.get $s0)
        (i32x4.dot_i16x8_s (v128.load (local.get $i))
                           (v128.load offset=0x100000 (local.get $i)))))
      (local.set $s1 (i32x4.add (local.get $s1)
        (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $i))
                           (v128.load offset=0x100010 (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 32)))
                          (i32.const 0x100000))))
    (local.set $s0 (i32x4.add (local.get $s0) (local.get $s1)))
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $s0)) (i32x4.extract_lane 1 (local.get $s0)))
             (i32.add (i32x4.extract_lane 2 (local.get $s0)) (i32x4.extract_lane 3 (local.get $s0)))))
)"#;

/// The inputs: pseudo-random bytes, reinterpreted as `f32` (small, finite) and `i16`.
fn inputs() -> (Vec<u8>, Vec<u8>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut a = Vec::with_capacity(LEN as usize);
    let mut b = Vec::with_capacity(LEN as usize);
    for _ in 0..LEN / 4 {
        // Multiples of 1/8 in [-1, 1): every product is a multiple of 1/64 and every partial
        // sum stays below 2^18, so the sums are exact in any order.
        let x = ((next() % 16) as f32 - 8.0) / 8.0;
        let y = ((next() % 16) as f32 - 8.0) / 8.0;
        a.extend_from_slice(&x.to_le_bytes());
        b.extend_from_slice(&y.to_le_bytes());
    }
    (a, b)
}

struct Kernels {
    store: Store<()>,
    byte_scan: [TypedFunc<i32, i32>; 2],
    dot_f32: [TypedFunc<(), f32>; 2],
    dot_i16: [TypedFunc<(), i32>; 2],
}

fn instantiate(config: &Config, a: &[u8], b: &[u8]) -> Kernels {
    let engine = Engine::new(config).expect("engine");
    let module = Module::new(&engine, KERNELS).expect("kernels compile");
    let mut store = Store::new(&engine, ());
    let instance: Instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let memory = instance.get_memory(&mut store, "memory").expect("memory");
    memory.write(&mut store, 0, a).expect("write a");
    memory.write(&mut store, LEN as usize, b).expect("write b");
    let mut f = |name: &str| instance.get_func(&mut store, name).expect(name);
    let (bs, bv, fs, fv, is, iv) = (
        f("byte_scan_scalar"),
        f("byte_scan_simd"),
        f("dot_f32_scalar"),
        f("dot_f32_simd"),
        f("dot_i16_scalar"),
        f("dot_i16_simd"),
    );
    Kernels {
        byte_scan: [bs.typed(&store).unwrap(), bv.typed(&store).unwrap()],
        dot_f32: [fs.typed(&store).unwrap(), fv.typed(&store).unwrap()],
        dot_i16: [is.typed(&store).unwrap(), iv.typed(&store).unwrap()],
        store,
    }
}

fn baseline() -> Config {
    let mut config = Config::new();
    for feature in [
        "has_sse3",
        "has_ssse3",
        "has_sse41",
        "has_sse42",
        "has_avx",
        "has_avx2",
        "has_fma",
        "has_avx512f",
        "has_avx512vl",
        "has_avx512dq",
        "has_avx512bitalg",
        "has_avx512vbmi",
        "has_popcnt",
        "has_bmi1",
        "has_bmi2",
        "has_lzcnt",
    ] {
        config.cranelift_flag_set(feature, "false");
    }
    config
}

fn bench(c: &mut Criterion) {
    let (a, b) = inputs();
    let needle = a[12345];
    let want_count = a.iter().filter(|&&x| x == needle).count() as i32;
    let floats = |v: &[u8]| -> Vec<f32> {
        v.chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let want_f32: f32 = floats(&a).iter().zip(floats(&b)).map(|(x, y)| x * y).sum();
    let shorts = |v: &[u8]| -> Vec<i32> {
        v.chunks(2)
            .map(|c| i32::from(i16::from_le_bytes(c.try_into().unwrap())))
            .collect()
    };
    let want_i16: i32 = shorts(&a)
        .iter()
        .zip(shorts(&b))
        .fold(0i32, |s, (x, y)| s.wrapping_add(x.wrapping_mul(y)));

    for (cpu, config) in [("host", Config::new()), ("baseline", baseline())] {
        let mut k = instantiate(&config, &a, &b);
        let store = &mut k.store;
        for f in &k.byte_scan {
            assert_eq!(f.call(&mut *store, i32::from(needle)).unwrap(), want_count);
        }
        for f in &k.dot_f32 {
            assert_eq!(f.call(&mut *store, ()).unwrap(), want_f32);
        }
        for f in &k.dot_i16 {
            assert_eq!(f.call(&mut *store, ()).unwrap(), want_i16);
        }

        for kernel in ["byte_scan", "dot_f32", "dot_i16"] {
            let mut group = c.benchmark_group(format!("{kernel}/{cpu}"));
            // Bytes read per call: one input for the scan, both for the dot products.
            let inputs = if kernel == "byte_scan" { 1 } else { 2 };
            group.throughput(Throughput::Bytes(inputs * LEN as u64));
            group.sample_size(30);
            for (i, variant) in ["scalar", "simd"].into_iter().enumerate() {
                group.bench_function(variant, |bench| match kernel {
                    "byte_scan" => bench.iter(|| {
                        k.byte_scan[i]
                            .call(&mut *store, black_box(i32::from(needle)))
                            .unwrap()
                    }),
                    "dot_f32" => bench.iter(|| k.dot_f32[i].call(&mut *store, ()).unwrap()),
                    _ => bench.iter(|| k.dot_i16[i].call(&mut *store, ()).unwrap()),
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
