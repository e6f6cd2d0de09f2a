//! Resource limits: growth bombs, huge initial sizes, instance counts, and the maximum wasm
//! stack. Each hostile module is stopped by the right limit with a message naming it, and the
//! store remains usable.

use kiln::{Config, Engine, Instance, Module, Store, StoreLimits, StoreLimitsBuilder, Trap};

const BOMBS: &str = r#"
(module
  (memory 1)
  (table 1 funcref)
  ;; grow by one page until refused; return the final size in pages
  (func (export "memory_bomb") (result i32)
    (loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    memory.size)
  ;; grow by 1000 elements until refused; return the final size
  (func (export "table_bomb") (result i32)
    (loop (br_if 0 (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))
    table.size)
  (func (export "one") (result i32) i32.const 1))
"#;

fn store_with(engine: &Engine, limits: StoreLimits) -> Store<StoreLimits> {
    let mut store = Store::new(engine, limits);
    store.limiter(|limits| limits);
    store
}

#[test]
fn memory_grow_bomb_stops_at_the_limit() {
    let engine = Engine::default();
    let module = Module::new(&engine, BOMBS).unwrap();
    let limits = StoreLimitsBuilder::new().memory_size(1 << 20).build();
    let mut store = store_with(&engine, limits);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let bomb = instance
        .get_typed_func::<(), i32>(&mut store, "memory_bomb")
        .unwrap();
    assert_eq!(bomb.call(&mut store, ()).unwrap(), 16); // 1 MiB = 16 pages
    let one = instance
        .get_typed_func::<(), i32>(&mut store, "one")
        .unwrap();
    assert_eq!(one.call(&mut store, ()).unwrap(), 1);
}

#[test]
fn memory_grow_bomb_traps_when_configured() {
    let engine = Engine::default();
    let module = Module::new(&engine, BOMBS).unwrap();
    let limits = StoreLimitsBuilder::new()
        .memory_size(1 << 20)
        .trap_on_grow_failure(true)
        .build();
    let mut store = store_with(&engine, limits);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let bomb = instance
        .get_typed_func::<(), i32>(&mut store, "memory_bomb")
        .unwrap();
    let err = bomb.call(&mut store, ()).unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("memory size limit of 1048576 bytes"),
        "{text}"
    );
    // The backtrace points into the module.
    assert!(
        err.downcast_ref::<kiln::WasmBacktrace>().is_some(),
        "{text}"
    );
}

#[test]
fn table_grow_bomb_stops_at_the_limit() {
    let engine = Engine::default();
    let module = Module::new(&engine, BOMBS).unwrap();
    let limits = StoreLimitsBuilder::new().table_elements(5000).build();
    let mut store = store_with(&engine, limits);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let bomb = instance
        .get_typed_func::<(), i32>(&mut store, "table_bomb")
        .unwrap();
    assert_eq!(bomb.call(&mut store, ()).unwrap(), 4001);
}

#[test]
fn table_grow_bomb_without_a_limiter_is_bounded() {
    // No limiter: the runtime's own cap on table elements still stops the bomb.
    let engine = Engine::default();
    let module = Module::new(&engine, BOMBS).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let bomb = instance
        .get_typed_func::<(), i32>(&mut store, "table_bomb")
        .unwrap();
    let size = bomb.call(&mut store, ()).unwrap();
    assert!(size > 0 && (size as u64) <= 10_000_000, "{size}");
}

#[test]
fn huge_initial_memory_is_refused() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module (memory 65536))").unwrap();
    let limits = StoreLimitsBuilder::new().memory_size(1 << 20).build();
    let mut store = store_with(&engine, limits);
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("memory minimum size of 65536 pages"),
        "{err}"
    );
    // The store is still usable.
    let small = Module::new(&engine, "(module (memory 1))").unwrap();
    Instance::new(&mut store, &small, &[]).unwrap();
}

#[test]
fn instance_count_is_limited() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module)").unwrap();
    let limits = StoreLimitsBuilder::new().instances(3).build();
    let mut store = store_with(&engine, limits);
    for _ in 0..3 {
        Instance::new(&mut store, &module, &[]).unwrap();
    }
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(err.to_string().contains("instance count too high"), "{err}");
}

#[test]
fn memory_count_is_limited() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module (memory 1))").unwrap();
    let limits = StoreLimitsBuilder::new().memories(1).build();
    let mut store = store_with(&engine, limits);
    Instance::new(&mut store, &module, &[]).unwrap();
    let err = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(err.to_string().contains("memory count too high"), "{err}");
}

#[test]
fn max_wasm_stack_is_configurable() {
    let wat = r#"(module
        (func $down (export "down") (param i32) (result i32)
          (if (result i32) (i32.eqz (local.get 0))
            (then (i32.const 0))
            (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1))))))))"#;
    let depth = |stack: usize| -> Result<i32, Trap> {
        let mut config = Config::new();
        config.max_wasm_stack(stack);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, wat).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let down = instance
            .get_typed_func::<i32, i32>(&mut store, "down")
            .unwrap();
        down.call(&mut store, 5_000)
            .map_err(|e| *e.downcast_ref::<Trap>().unwrap())
    };
    assert_eq!(depth(16 << 10), Err(Trap::StackOverflow));
    assert_eq!(depth(1 << 20), Ok(5_000));
}
