//! Call overhead in Wasmtime: the peer of `benches/calls.rs` in the Kiln root, which it mirrors
//! bench for bench (same criterion group, same ids, same module from
//! `benches/common/modules.rs`).
//!
//! What is measured (one store and one instance, created outside the timing, default `Config`):
//! - `host_to_wasm/typed`: one call of the export `add1: (i32) -> i32` through a
//!   `TypedFunc<i32, i32>` per iteration;
//! - `host_to_wasm/dynamic`: the same call through `Func::call` with a `Val` slice and a
//!   preallocated results slice;
//! - `wasm_to_host/typed`: one typed call of `call_typed_loop`, which makes
//!   `HOST_CALLS_PER_LOOP` wasm→host round trips to a host function defined by
//!   `Linker::func_wrap` from a typed closure;
//! - `wasm_to_host/dynamic`: one typed call of `call_dynamic_loop`, the same with a host
//!   function defined by `Linker::func_new` from an untyped closure over `Val` slices.

#[path = "../../../../benches/common/modules.rs"]
#[allow(
    dead_code,
    reason = "the shared file also defines the instantiation modules"
)]
mod modules;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmtime::{Engine, FuncType, Instance, Linker, Module, Store, Val, ValType};

fn setup() -> anyhow::Result<(Store<()>, Instance)> {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(modules::CALLS_WAT)?)?;
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("host", "typed", |x: i32| x.wrapping_add(1))?;
    let ty = FuncType::new(&engine, [ValType::I32], [ValType::I32]);
    linker.func_new("host", "dynamic", ty, |_, params, results| {
        results[0] = Val::I32(params[0].unwrap_i32().wrapping_add(1));
        Ok(())
    })?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module)?;
    Ok((store, instance))
}

fn calls(c: &mut Criterion) {
    let (mut store, instance) = setup().expect("setting up the calls module failed");
    let mut group = c.benchmark_group("calls");

    let add1 = instance
        .get_typed_func::<i32, i32>(&mut store, "add1")
        .expect("export add1");
    let mut x = 0i32;
    group.bench_function("host_to_wasm/typed", |b| {
        b.iter(|| {
            x = add1.call(&mut store, black_box(x)).expect("add1 trapped");
        })
    });
    black_box(x);

    let add1 = instance.get_func(&mut store, "add1").expect("export add1");
    let mut results = [Val::I32(0)];
    let mut x = 0i32;
    group.bench_function("host_to_wasm/dynamic", |b| {
        b.iter(|| {
            add1.call(&mut store, &[Val::I32(black_box(x))], &mut results)
                .expect("add1 trapped");
            x = results[0].unwrap_i32();
        })
    });
    black_box(x);

    for kind in ["typed", "dynamic"] {
        let f = instance
            .get_typed_func::<i32, i32>(&mut store, &format!("call_{kind}_loop"))
            .expect("export call_*_loop");
        // Outside the timing: one loop call really makes HOST_CALLS_PER_LOOP host calls.
        let once = f.call(&mut store, 0).expect("call loop trapped");
        assert_eq!(once, modules::HOST_CALLS_PER_LOOP, "call_{kind}_loop");
        let mut x = 0i32;
        group.bench_function(format!("wasm_to_host/{kind}"), |b| {
            b.iter(|| {
                x = f.call(&mut store, black_box(x)).expect("call loop trapped");
            })
        });
        black_box(x);
    }

    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = calls
}
criterion_main!(benches);
