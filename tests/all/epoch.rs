//! Epoch interruption: loops, loop-free call trees and start functions are stopped; deadline
//! callbacks can extend or stop execution; no deadline means no interruption.

use kiln::{Config, Engine, Instance, Module, Store, Trap, UpdateDeadline};

fn engine() -> Engine {
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).unwrap()
}

/// 40 levels, each calling the next twice: 2^40 calls, no loop anywhere.
fn call_tree() -> String {
    let mut wat = String::from("(module\n");
    for i in 0..40 {
        wat.push_str(&format!(
            "  (func $f{i} call $f{n} call $f{n})\n",
            n = i + 1
        ));
    }
    wat.push_str("  (func $f40)\n  (export \"run\" (func $f0)))\n");
    wat
}

fn assert_interrupt(err: &anyhow::Error) {
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::Interrupt),
        "{err:?}"
    );
}

#[test]
fn reached_deadline_interrupts_a_loop_and_the_store_stays_usable() {
    let engine = engine();
    let module = Module::new(
        &engine,
        r#"(module (func (export "spin") (loop (br 0))) (func (export "one") (result i32) i32.const 1))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance
        .get_typed_func::<(), ()>(&mut store, "spin")
        .unwrap();
    store.set_epoch_deadline(1);
    engine.increment_epoch();
    assert_interrupt(&spin.call(&mut store, ()).unwrap_err());
    store.set_epoch_deadline(1);
    let one = instance
        .get_typed_func::<(), i32>(&mut store, "one")
        .unwrap();
    assert_eq!(one.call(&mut store, ()).unwrap(), 1);
}

#[test]
fn another_thread_interrupts_a_running_loop() {
    let engine = engine();
    let module = Module::new(&engine, r#"(module (func (export "spin") (loop (br 0))))"#).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance
        .get_typed_func::<(), ()>(&mut store, "spin")
        .unwrap();
    store.set_epoch_deadline(1);
    let ticker = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            engine.increment_epoch();
        })
    };
    assert_interrupt(&spin.call(&mut store, ()).unwrap_err());
    ticker.join().unwrap();
}

#[test]
fn loop_free_call_tree_is_interrupted() {
    let engine = engine();
    let module = Module::new(&engine, call_tree()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<(), ()>(&mut store, "run")
        .unwrap();
    store.set_epoch_deadline(1);
    engine.increment_epoch();
    assert_interrupt(&run.call(&mut store, ()).unwrap_err());
}

#[test]
fn loop_in_start_function_is_interrupted() {
    let engine = engine();
    let module = Module::new(&engine, r#"(module (func $s (loop (br 0))) (start $s))"#).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(1);
    engine.increment_epoch();
    assert_interrupt(&Instance::new(&mut store, &module, &[]).unwrap_err());
}

#[test]
fn no_deadline_means_no_interruption() {
    let engine = engine();
    let module = Module::new(
        &engine,
        r#"(module (func (export "count") (param i32) (result i32)
             (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
             local.get 0))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    for _ in 0..10 {
        engine.increment_epoch();
    }
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let count = instance
        .get_typed_func::<i32, i32>(&mut store, "count")
        .unwrap();
    assert_eq!(count.call(&mut store, 100_000).unwrap(), 0);
}

#[test]
fn deadline_callback_extends_then_stops() {
    let engine = engine();
    let module = Module::new(&engine, r#"(module (func (export "spin") (loop (br 0))))"#).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance
        .get_typed_func::<(), ()>(&mut store, "spin")
        .unwrap();
    store.epoch_deadline_callback(|mut cx| {
        *cx.data_mut() += 1;
        if *cx.data() < 3 {
            // A deadline zero ticks from now: the very next check fires again.
            Ok(UpdateDeadline::Continue(0))
        } else {
            anyhow::bail!("stopped by the deadline callback")
        }
    });
    store.set_epoch_deadline(1);
    engine.increment_epoch();
    let err = spin.call(&mut store, ()).unwrap_err();
    assert!(
        format!("{err:?}").contains("stopped by the deadline callback"),
        "{err:?}"
    );
    assert_eq!(*store.data(), 3);
}
