//! The pooling instance allocator, copy-on-write memory images and `InstancePre`: reused slots
//! start fresh, limits are enforced with clear errors, and an image gives exactly the contents
//! copying the data segments would, including when instantiation fails half-way.

use kiln::{
    Config, Engine, Extern, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
    Store, Table, TableType, Val, ValType,
};

/// Data at 0 and in a second page; `peek` reads a byte, `poke` writes one, `grow` grows.
const DATA: &str = r#"
(module
  (memory (export "memory") 2 4)
  (data (i32.const 0) "hello")
  (data (i32.const 70000) "world")
  (data (i32.const 2) "LL")
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
"#;

fn pooled(configure: impl FnOnce(&mut PoolingAllocationConfig)) -> Engine {
    let mut pool = PoolingAllocationConfig::new();
    configure(&mut pool);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).unwrap()
}

/// The engines every image test runs on: on demand and pooled, with and without images.
fn engines() -> Vec<(&'static str, Engine)> {
    let mut no_cow = Config::new();
    no_cow.memory_init_cow(false);
    let mut pooled_no_cow = Config::new();
    pooled_no_cow
        .memory_init_cow(false)
        .allocation_strategy(InstanceAllocationStrategy::pooling());
    vec![
        ("on-demand", Engine::default()),
        ("on-demand, no image", Engine::new(&no_cow).unwrap()),
        (
            "pooled",
            pooled(|p| {
                p.total_memories(1);
            }),
        ),
        ("pooled, no image", Engine::new(&pooled_no_cow).unwrap()),
    ]
}

fn peek(store: &mut Store<()>, instance: kiln::Instance, at: i32) -> i32 {
    let f = instance
        .get_typed_func::<i32, i32>(&mut *store, "peek")
        .unwrap();
    f.call(store, at).unwrap()
}

#[test]
fn every_instance_starts_from_the_data_segments() {
    for (name, engine) in engines() {
        let module = Module::new(&engine, DATA).unwrap();
        let linker = Linker::new(&engine);
        let pre = linker.instantiate_pre(&module).unwrap();
        for round in 0..4 {
            let mut store = Store::new(&engine, ());
            let instance = pre.instantiate(&mut store).unwrap();
            let bytes: Vec<i32> = (0..6).map(|i| peek(&mut store, instance, i)).collect();
            assert_eq!(bytes, [104, 101, 76, 76, 111, 0], "{name}, round {round}");
            assert_eq!(peek(&mut store, instance, 70000), 119, "{name}");
            assert_eq!(peek(&mut store, instance, 100_000), 0, "{name}");
            // Dirty the image, the zero pages and grown memory; the next round must not see it.
            let poke = instance
                .get_typed_func::<(i32, i32), ()>(&mut store, "poke")
                .unwrap();
            let grow = instance
                .get_typed_func::<i32, i32>(&mut store, "grow")
                .unwrap();
            assert_eq!(grow.call(&mut store, 1).unwrap(), 2, "{name}");
            for at in [0, 1, 4096, 70001, 100_000, 140_000] {
                poke.call(&mut store, (at, 0x5a)).unwrap();
                assert_eq!(peek(&mut store, instance, at), 0x5a, "{name}");
            }
            let memory = instance.get_memory(&mut store, "memory").unwrap();
            assert_eq!(memory.data_size(&store), 3 * 65536, "{name}");
        }
    }
}

#[test]
fn two_live_instances_do_not_share_pages() {
    for (name, engine) in engines() {
        if name == "pooled" {
            continue; // one memory slot
        }
        let module = Module::new(&engine, DATA).unwrap();
        let mut store = Store::new(&engine, ());
        let a = kiln::Instance::new(&mut store, &module, &[]).unwrap();
        let b = kiln::Instance::new(&mut store, &module, &[]).unwrap();
        let poke = a
            .get_typed_func::<(i32, i32), ()>(&mut store, "poke")
            .unwrap();
        poke.call(&mut store, (0, 1)).unwrap();
        assert_eq!(peek(&mut store, a, 0), 1, "{name}");
        assert_eq!(peek(&mut store, b, 0), 104, "{name}");
    }
}

/// Element segment 0 puts `$read` (which reads memory byte 0) into the imported table at 0;
/// segment 1 writes at 5, out of bounds when the table has fewer than 6 elements, so that
/// instantiation fails after `$read` escaped, before any data segment was applied.
const HALF_FAILING: &str = r#"
(module
  (import "env" "table" (table 1 funcref))
  (memory 1)
  (data (i32.const 0) "h")
  (func $read (result i32) (i32.load8_u (i32.const 0)))
  (elem (i32.const 0) $read)
  (elem (i32.const 5) $read))
"#;

#[test]
fn a_failed_instantiation_shows_no_data() {
    for (name, engine) in engines() {
        let module = Module::new(&engine, HALF_FAILING).unwrap();
        let mut store = Store::new(&engine, ());
        // First a successful instance, so a pooled slot keeps the image mapped.
        {
            let mut store = Store::new(&engine, ());
            let big = Table::new(
                &mut store,
                TableType::new(kiln::RefType::Func, 10, None),
                Val::FuncRef(None),
            )
            .unwrap();
            kiln::Instance::new(&mut store, &module, &[Extern::Table(big)]).unwrap();
        }
        let small = Table::new(
            &mut store,
            TableType::new(kiln::RefType::Func, 1, None),
            Val::FuncRef(None),
        )
        .unwrap();
        let err = kiln::Instance::new(&mut store, &module, &[Extern::Table(small)]).unwrap_err();
        assert!(
            format!("{err:#}").contains("out of bounds table access"),
            "{name}: {err:#}"
        );
        let Some(Val::FuncRef(Some(read))) = small.get(&mut store, 0) else {
            panic!("{name}: $read was not stored");
        };
        let mut result = [Val::I32(-1)];
        read.call(&mut store, &[], &mut result).unwrap();
        assert_eq!(
            result[0].i32().unwrap(),
            0,
            "{name}: data applied by a failed instantiation"
        );
    }
}

#[test]
fn fuel_for_data_segments_does_not_depend_on_images() {
    let mut remaining = Vec::new();
    for cow in [true, false] {
        let mut config = Config::new();
        config.consume_fuel(true).memory_init_cow(cow);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, DATA).unwrap();
        let mut store = Store::new(&engine, ());
        store.set_fuel(1000).unwrap();
        kiln::Instance::new(&mut store, &module, &[]).unwrap();
        remaining.push(store.get_fuel().unwrap());
        // Too little fuel for the three segments: out of fuel, and no image applied either.
        let mut store = Store::new(&engine, ());
        store.set_fuel(4).unwrap();
        let err = kiln::Instance::new(&mut store, &module, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("fuel"), "{err:#}");
    }
    assert_eq!(remaining[0], remaining[1]);
    assert_eq!(remaining[0], 1000 - 6);
}

#[test]
fn pool_limits_are_enforced_and_slots_come_back() {
    let engine = pooled(|p| {
        p.total_core_instances(2).total_memories(2).total_tables(2);
    });
    let module = Module::new(&engine, DATA).unwrap();
    let mut stores: Vec<Store<()>> = Vec::new();
    for _ in 0..2 {
        let mut store = Store::new(&engine, ());
        kiln::Instance::new(&mut store, &module, &[]).unwrap();
        stores.push(store);
    }
    let mut store = Store::new(&engine, ());
    let err = kiln::Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("maximum concurrent core instance limit of 2 reached"),
        "{err:#}"
    );
    // Memories run out independently of instances.
    let empty = Module::new(&engine, "(module)").unwrap();
    drop(stores.pop());
    let mut other = Store::new(&engine, ());
    kiln::Instance::new(&mut other, &empty, &[]).unwrap();
    let err = kiln::Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("maximum concurrent core instance limit of 2 reached"),
        "{err:#}"
    );
    drop(other);
    kiln::Instance::new(&mut store, &module, &[]).unwrap();
    // A thousand more instantiations reuse the two slots.
    drop(store);
    for _ in 0..1000 {
        let mut store = Store::new(&engine, ());
        kiln::Instance::new(&mut store, &module, &[]).unwrap();
    }
}

#[test]
fn pooled_memories_and_tables_stay_within_their_slots() {
    let engine = pooled(|p| {
        p.max_memory_size(3 << 16).table_elements(100);
    });
    let module = Module::new(&engine, DATA).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = kiln::Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance
        .get_typed_func::<i32, i32>(&mut store, "grow")
        .unwrap();
    assert_eq!(grow.call(&mut store, 1).unwrap(), 2);
    assert_eq!(
        grow.call(&mut store, 1).unwrap(),
        -1,
        "beyond max_memory_size"
    );

    let big = Module::new(&engine, "(module (memory 4))").unwrap();
    let err = kiln::Instance::new(&mut store, &big, &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("exceeds the pooling allocator's max_memory_size"),
        "{err:#}"
    );

    let tables = Module::new(
        &engine,
        r#"(module
             (table $t 10 funcref)
             (func $f)
             (elem (i32.const 3) $f)
             (func (export "grow") (param i32) (result i32)
               (table.grow $t (ref.null func) (local.get 0)))
             (func (export "is_null") (param i32) (result i32)
               (ref.is_null (table.get $t (local.get 0)))))"#,
    )
    .unwrap();
    for _ in 0..3 {
        let mut store = Store::new(&engine, ());
        let i = kiln::Instance::new(&mut store, &tables, &[]).unwrap();
        let grow = i.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
        let is_null = i.get_typed_func::<i32, i32>(&mut store, "is_null").unwrap();
        let nulls: Vec<i32> = (0..10)
            .map(|e| is_null.call(&mut store, e).unwrap())
            .collect();
        assert_eq!(nulls, [1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
        assert_eq!(grow.call(&mut store, 90).unwrap(), 10);
        assert_eq!(
            grow.call(&mut store, 1).unwrap(),
            -1,
            "beyond table_elements"
        );
        assert_eq!(is_null.call(&mut store, 99).unwrap(), 1);
    }
    let err = kiln::Instance::new(
        &mut Store::new(&engine, ()),
        &Module::new(&engine, "(module (table 101 funcref))").unwrap(),
        &[],
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("table_elements of 100"),
        "{err:#}"
    );
}

#[test]
fn instance_pre_resolves_once_and_checks_early() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "double" (func $d (param i32) (result i32)))
             (func (export "run") (param i32) (result i32) (call $d (local.get 0))))"#,
    )
    .unwrap();
    let mut linker: Linker<u32> = Linker::new(&engine);
    let err = linker.instantiate_pre(&module).err().unwrap();
    assert!(
        err.downcast_ref::<kiln::UnknownImportError>().is_some(),
        "{err:#}"
    );
    linker
        .func_wrap(
            "host",
            "double",
            |mut caller: kiln::Caller<'_, u32>, x: i32| {
                *caller.data_mut() += 1;
                x * 2
            },
        )
        .unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    for n in 0..3 {
        let mut store = Store::new(&engine, 0u32);
        let i = pre.instantiate(&mut store).unwrap();
        let run = i.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
        assert_eq!(run.call(&mut store, n).unwrap(), 2 * n);
        assert_eq!(*store.data(), 1);
    }

    let mut wrong: Linker<u32> = Linker::new(&engine);
    wrong
        .func_new(
            "host",
            "double",
            kiln::FuncType::new([ValType::I64], [ValType::I64]),
            |_, _, _| Ok(()),
        )
        .unwrap();
    let err = wrong.instantiate_pre(&module).err().unwrap();
    assert!(
        format!("{err:#}").contains("incompatible import type for `host::double`"),
        "{err:#}"
    );
}
