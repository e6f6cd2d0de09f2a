//! Instantiation latency in Wasmtime: the peer of `benches/instantiate.rs` in the Kiln root,
//! which it mirrors bench for bench (same criterion group, same ids, same module bytes from
//! `benches/common/modules.rs`).
//!
//! What is measured, per bench id `<module>/<strategy>/<threads>`:
//! - module: `empty`, `data_1mib` (one 1 MiB active data segment) or `wasi_hello` (a C hello
//!   world importing WASI preview1);
//! - strategy: `on-demand` (`Config::default()`) or `pooled` (the pooling instance allocator
//!   with 100 core instances, memories and tables, everything else default, which includes
//!   copy-on-write memory initialization);
//! - threads: `1-thread` (one instantiation per iteration) or `2-threads` (two threads sharing
//!   the engine and `InstancePre`, each doing the same number of iterations with their own
//!   stores; the figure is the wall time divided by the iterations of one thread, i.e. the
//!   latency of one instantiation while the other core does the same).
//!
//! One iteration creates a `Store` (with a fresh `WasiP1Ctx` that inherits nothing for
//! `wasi_hello`, `()` otherwise), instantiates through an `InstancePre` built once outside the
//! timing, and drops the store. `_start` is never called.

#[path = "../../../../benches/common/modules.rs"]
#[allow(dead_code, reason = "the shared file also defines the calls module")]
mod modules;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The two allocation strategies, by bench-id name.
fn engines() -> anyhow::Result<Vec<(&'static str, Engine)>> {
    let on_demand = Engine::new(&Config::default())?;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(100)
        .total_memories(100)
        .total_tables(100);
    let mut config = Config::default();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let pooled = Engine::new(&config)?;
    Ok(vec![("on-demand", on_demand), ("pooled", pooled)])
}

/// Benches `<module>/<strategy>/1-thread` and `<module>/<strategy>/2-threads` for one
/// `InstancePre`; `data` makes a store's data.
fn bench_pre<T: Send + 'static>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    engine: &Engine,
    pre: &InstancePre<T>,
    data: impl Fn() -> T + Sync,
) {
    let once = || {
        let mut store = Store::new(engine, data());
        let instance = pre.instantiate(&mut store).expect("instantiation failed");
        black_box(instance);
        drop(store);
    };
    group.bench_function(format!("{id}/1-thread"), |b| b.iter(once));
    group.bench_function(format!("{id}/2-threads"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters {
                            once();
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
}

fn instantiate(c: &mut Criterion) {
    let engines = engines().expect("engine configuration rejected");
    let mut group = c.benchmark_group("instantiate");

    for (name, bytes) in [
        ("empty", modules::empty()),
        ("data_1mib", modules::data_1mib()),
    ] {
        for (strategy, engine) in &engines {
            let module = Module::new(engine, &bytes).expect("module rejected");
            let linker = Linker::<()>::new(engine);
            let pre = linker
                .instantiate_pre(&module)
                .expect("instantiate_pre failed");
            bench_pre(
                &mut group,
                &format!("{name}/{strategy}"),
                engine,
                &pre,
                || (),
            );
        }
    }

    let hello = modules::wasi_hello();
    for (strategy, engine) in &engines {
        let module = Module::new(engine, &hello).expect("wasi_hello rejected");
        let mut linker = Linker::<WasiP1Ctx>::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx)
            .expect("adding WASI preview1 to the linker failed");
        let pre = linker
            .instantiate_pre(&module)
            .expect("instantiate_pre failed");
        bench_pre(
            &mut group,
            &format!("wasi_hello/{strategy}"),
            engine,
            &pre,
            || WasiCtxBuilder::new().build_p1(),
        );
    }

    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = instantiate
}
criterion_main!(benches);
