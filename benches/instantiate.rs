//! Instantiation: an empty module, a module with a 1 MiB data segment, and a WASI hello world
//! (`benches/common/modules.rs`), each with the on-demand and the pooling allocator, on one
//! thread and on two at once. One iteration creates a store, instantiates through an
//! `InstancePre` and drops the store. `bench/peers/wasmtime-bench/benches/instantiate.rs`
//! measures the same for Wasmtime.
//!
//! Run with `cargo bench --bench instantiate` (or `python3 bench/run.py`, which pairs the
//! figures with Wasmtime's).

#[path = "common/modules.rs"]
mod modules;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store,
};
use kiln_wasi::{WasiCtx, WasiCtxBuilder};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn engine(pooled: bool) -> Engine {
    let mut config = Config::new();
    if pooled {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(100)
            .total_memories(100)
            .total_tables(100);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).unwrap()
}

/// Store data: nothing, or a WASI context granting nothing.
trait Data: Sized + 'static {
    fn new() -> Self;
    fn linker(engine: &Engine) -> Linker<Self>;
}

impl Data for () {
    fn new() -> Self {}
    fn linker(engine: &Engine) -> Linker<()> {
        Linker::new(engine)
    }
}

impl Data for WasiCtx {
    fn new() -> Self {
        WasiCtxBuilder::new().build()
    }
    fn linker(engine: &Engine) -> Linker<WasiCtx> {
        let mut linker = Linker::new(engine);
        kiln_wasi::add_to_linker_preview1(&mut linker, |cx| cx).unwrap();
        linker
    }
}

fn instantiate_once<T: Data>(engine: &Engine, pre: &InstancePre<T>) {
    let mut store = Store::new(engine, T::new());
    black_box(pre.instantiate(&mut store).unwrap());
}

fn bench_module<T: Data + Send>(c: &mut Criterion, name: &str, wasm: &[u8]) {
    let mut group = c.benchmark_group("instantiate");
    for (strategy, pooled) in [("on-demand", false), ("pooled", true)] {
        let engine = engine(pooled);
        let module = Module::new(&engine, wasm).unwrap();
        let pre = T::linker(&engine).instantiate_pre(&module).unwrap();
        group.bench_function(format!("{name}/{strategy}/1-thread"), |b| {
            b.iter(|| instantiate_once(&engine, &pre))
        });
        group.bench_function(format!("{name}/{strategy}/2-threads"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| {
                            for _ in 0..iters {
                                instantiate_once(&engine, &pre);
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn instantiate(c: &mut Criterion) {
    bench_module::<()>(c, "empty", &modules::empty());
    bench_module::<()>(c, "data_1mib", &modules::data_1mib());
    bench_module::<WasiCtx>(c, "wasi_hello", &modules::wasi_hello());
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = instantiate
}
criterion_main!(benches);
