//! The cost of interruption: the same compute-heavy wasm run with no checks, with epoch
//! interruption, and with fuel metering (see `docs/fuel.md` for the figures and how to read
//! them).
//!
//! Run with `cargo bench --bench interrupts`.

use criterion::{Criterion, criterion_group, criterion_main};
use kiln::{Config, Engine, Instance, Module, Store, TypedFunc};

const WAT: &str = r#"
(module
  (memory 1)
  ;; Recursive calls: call-heavy.
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else
        (i32.add
          (call $fib (i32.sub (local.get 0) (i32.const 1)))
          (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  ;; A tight loop: loop-heavy (xorshift over a counter, with a memory store per iteration).
  (func (export "loop") (param $n i32) (result i32)
    (local $x i32)
    (local.set $x (i32.const 2463534242))
    (loop $l
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (i32.store (i32.and (local.get $n) (i32.const 0xfffc)) (local.get $x))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    local.get $x))
"#;

enum Mode {
    None,
    Epochs,
    Fuel,
}

fn setup(mode: &Mode) -> (Store<()>, TypedFunc<i32, i32>, TypedFunc<i32, i32>) {
    let mut config = Config::new();
    match mode {
        Mode::None => {}
        Mode::Epochs => {
            config.epoch_interruption(true);
        }
        Mode::Fuel => {
            config.consume_fuel(true);
        }
    }
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, WAT).unwrap();
    let mut store = Store::new(&engine, ());
    match mode {
        Mode::None => {}
        Mode::Epochs => store.set_epoch_deadline(u64::MAX / 2),
        Mode::Fuel => store.set_fuel(u64::MAX / 2).unwrap(),
    }
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let fib = instance.get_typed_func(&mut store, "fib").unwrap();
    let lp = instance.get_typed_func(&mut store, "loop").unwrap();
    (store, fib, lp)
}

fn bench(c: &mut Criterion) {
    for (name, mode) in [
        ("none", Mode::None),
        ("epochs", Mode::Epochs),
        ("fuel", Mode::Fuel),
    ] {
        let (mut store, fib, lp) = setup(&mode);
        c.bench_function(&format!("fib25/{name}"), |b| {
            b.iter(|| fib.call(&mut store, std::hint::black_box(25)).unwrap())
        });
        c.bench_function(&format!("loop10M/{name}"), |b| {
            b.iter(|| {
                lp.call(&mut store, std::hint::black_box(10_000_000))
                    .unwrap()
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
