//! Traps: messages, backtraces, and the store staying usable afterwards.

use kiln::{Config, Engine, Instance, Linker, Module, Store, Trap};

fn engines() -> Vec<Engine> {
    let mut explicit = Config::new();
    explicit
        .memory_reservation(0)
        .memory_guard_size(0)
        .signals_based_traps(false);
    vec![Engine::default(), Engine::new(&explicit).unwrap()]
}

const MODULE: &str = r#"
(module $m
  (memory 1)
  (func $die (export "die") unreachable)
  (func $oob (export "oob") (result i32) (i32.load (i32.const 70000)))
  (func $div (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $recurse (export "recurse") (call $recurse))
  (func (export "nested") (call $die))
  (func (export "ok") (result i32) (i32.const 7)))
"#;

fn trap_of(err: &anyhow::Error) -> Trap {
    *err.downcast_ref::<Trap>()
        .unwrap_or_else(|| panic!("not a trap: {err:?}"))
}

#[test]
fn traps_are_caught_and_the_store_keeps_working() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(&engine, MODULE)?;
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        let ok = instance.get_typed_func::<(), i32>(&mut store, "ok")?;
        let die = instance.get_typed_func::<(), ()>(&mut store, "die")?;
        let oob = instance.get_typed_func::<(), i32>(&mut store, "oob")?;
        let div = instance.get_typed_func::<(i32, i32), i32>(&mut store, "div")?;
        let recurse = instance.get_typed_func::<(), ()>(&mut store, "recurse")?;

        for _ in 0..3 {
            assert_eq!(
                trap_of(&die.call(&mut store, ()).unwrap_err()),
                Trap::UnreachableCodeReached
            );
            assert_eq!(ok.call(&mut store, ())?, 7);
            assert_eq!(
                trap_of(&oob.call(&mut store, ()).unwrap_err()),
                Trap::MemoryOutOfBounds
            );
            assert_eq!(
                trap_of(&div.call(&mut store, (1, 0)).unwrap_err()),
                Trap::IntegerDivisionByZero
            );
            assert_eq!(
                trap_of(&div.call(&mut store, (i32::MIN, -1)).unwrap_err()),
                Trap::IntegerOverflow
            );
            assert_eq!(div.call(&mut store, (7, 2))?, 3);
            assert_eq!(
                trap_of(&recurse.call(&mut store, ()).unwrap_err()),
                Trap::StackOverflow
            );
            assert_eq!(ok.call(&mut store, ())?, 7);
        }
    }
    Ok(())
}

#[test]
fn trap_backtrace_names_functions_and_offsets() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(&engine, MODULE)?;
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        let nested = instance.get_typed_func::<(), ()>(&mut store, "nested")?;
        let err = nested.call(&mut store, ()).unwrap_err();
        let bt = err
            .downcast_ref::<kiln::WasmBacktrace>()
            .expect("a backtrace is attached");
        let names: Vec<_> = bt.frames().iter().map(|f| f.func_name()).collect();
        assert_eq!(names, [Some("die"), None]);
        assert_eq!(bt.frames()[1].func_index(), 4);
        assert!(bt.frames().iter().all(|f| f.module_name() == Some("m")));
        assert!(bt.frames().iter().all(|f| f.module_offset().is_some()));
        let text = format!("{err:?}");
        assert!(
            text.contains("error while executing at wasm backtrace:"),
            "{text}"
        );
        assert!(text.contains("m!die"), "{text}");
        assert!(text.contains("m!<wasm function 4>"), "{text}");
        assert!(text.contains("unreachable"), "{text}");
    }
    Ok(())
}

#[test]
fn host_errors_and_panics_propagate() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                 (import "" "fail" (func $fail))
                 (import "" "boom" (func $boom))
                 (func (export "fail") (call $fail))
                 (func (export "boom") (call $boom))
                 (func (export "ok") (result i32) i32.const 1))"#,
        )?;
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker.func_wrap("", "fail", || -> anyhow::Result<()> {
            anyhow::bail!("host says no")
        })?;
        linker.func_wrap("", "boom", || -> () { panic!("host panicked") })?;
        let instance = linker.instantiate(&mut store, &module)?;
        let fail = instance.get_typed_func::<(), ()>(&mut store, "fail")?;
        let err = fail.call(&mut store, ()).unwrap_err();
        assert!(format!("{err:?}").contains("host says no"), "{err:?}");
        let boom = instance.get_typed_func::<(), ()>(&mut store, "boom")?;
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = boom.call(&mut store, ());
        }));
        assert!(panicked.is_err());
        let ok = instance.get_typed_func::<(), i32>(&mut store, "ok")?;
        assert_eq!(ok.call(&mut store, ())?, 1);
    }
    Ok(())
}

#[test]
fn faults_outside_wasm_are_not_swallowed() {
    // A trap in one store must not leave handler state behind that would make a later
    // unrelated call misbehave: run many traps on several threads.
    let engine = Engine::default();
    let module = Module::new(&engine, MODULE).unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let engine = engine.clone();
            let module = module.clone();
            std::thread::spawn(move || {
                let mut store = Store::new(&engine, ());
                let instance = Instance::new(&mut store, &module, &[]).unwrap();
                let oob = instance
                    .get_typed_func::<(), i32>(&mut store, "oob")
                    .unwrap();
                for _ in 0..200 {
                    assert!(oob.call(&mut store, ()).is_err());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
