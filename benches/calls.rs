//! Calls across the host/wasm boundary: host→wasm calls of an `(i32) -> i32` export, typed
//! (`TypedFunc`) and dynamic (`Func::call`), and wasm→host calls of a typed (`func_wrap`) and
//! a dynamic (`func_new`) host function, 1000 per iteration. Module in
//! `benches/common/modules.rs`; `bench/peers/wasmtime-bench/benches/calls.rs` measures the same
//! for Wasmtime.
//!
//! Run with `cargo bench --bench calls`.

#[path = "common/modules.rs"]
mod modules;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln::{Engine, FuncType, Linker, Module, Store, Val, ValType};
use std::hint::black_box;
use std::time::Duration;

fn calls(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(&engine, modules::CALLS_WAT).unwrap();
    let mut linker: Linker<()> = Linker::new(&engine);
    linker
        .func_wrap("host", "typed", |x: i32| x.wrapping_add(1))
        .unwrap();
    linker
        .func_new(
            "host",
            "dynamic",
            FuncType::new([ValType::I32], [ValType::I32]),
            |_, params, results| {
                results[0] = Val::I32(params[0].i32().unwrap_or(0).wrapping_add(1));
                Ok(())
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let add1 = instance
        .get_typed_func::<i32, i32>(&mut store, "add1")
        .unwrap();
    let add1_dynamic = instance.get_func(&mut store, "add1").unwrap();
    let typed_loop = instance
        .get_typed_func::<i32, i32>(&mut store, "call_typed_loop")
        .unwrap();
    let dynamic_loop = instance
        .get_typed_func::<i32, i32>(&mut store, "call_dynamic_loop")
        .unwrap();

    let mut group = c.benchmark_group("calls");
    group.bench_function("host_to_wasm/typed", |b| {
        let mut x = 0;
        b.iter(|| x = add1.call(&mut store, black_box(x)).unwrap())
    });
    group.bench_function("host_to_wasm/dynamic", |b| {
        let mut results = [Val::I32(0)];
        let mut x = 0;
        b.iter(|| {
            add1_dynamic
                .call(&mut store, &[Val::I32(black_box(x))], &mut results)
                .unwrap();
            x = results[0].i32().unwrap_or(0);
        })
    });
    group.bench_function("wasm_to_host/typed", |b| {
        let mut x = 0;
        b.iter(|| x = typed_loop.call(&mut store, black_box(x)).unwrap())
    });
    group.bench_function("wasm_to_host/dynamic", |b| {
        let mut x = 0;
        b.iter(|| x = dynamic_loop.call(&mut store, black_box(x)).unwrap())
    });
    group.finish();
    assert_eq!(modules::HOST_CALLS_PER_LOOP, 1000);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = calls
}
criterion_main!(benches);
