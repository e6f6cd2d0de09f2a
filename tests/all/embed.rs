//! Embedding: host functions, shared memory, typed and dynamic calls, globals and tables.

use kiln::{Caller, Config, Engine, Extern, Func, Linker, Memory, MemoryType, Module, Store, Val};

fn engines() -> Vec<Engine> {
    let mut explicit = Config::new();
    explicit
        .memory_reservation(0)
        .memory_guard_size(0)
        .signals_based_traps(false);
    vec![Engine::default(), Engine::new(&explicit).unwrap()]
}

#[test]
fn host_memory_shared_with_wasm() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"
            (module
              (import "host" "log" (func $log (param i32 i32)))
              (import "host" "mem" (memory 1))
              (func (export "greet") (result i32)
                ;; write "hello" at 16, ask the host to log it, return the byte at 0
                (i32.store8 (i32.const 16) (i32.const 104))
                (i32.store8 (i32.const 17) (i32.const 101))
                (i32.store8 (i32.const 18) (i32.const 108))
                (i32.store8 (i32.const 19) (i32.const 108))
                (i32.store8 (i32.const 20) (i32.const 111))
                (call $log (i32.const 16) (i32.const 5))
                (i32.load8_u (i32.const 0))))
            "#,
        )?;
        let mut store = Store::new(&engine, Vec::<String>::new());
        let memory = Memory::new(
            &mut store,
            MemoryType {
                minimum: 1,
                maximum: None,
                memory64: false,
                shared: false,
            },
        )?;
        memory.write(&mut store, 0, &[42])?;
        let mut linker = Linker::new(&engine);
        linker.func_wrap(
            "host",
            "log",
            move |mut caller: Caller<'_, Vec<String>>, ptr: i32, len: i32| {
                let bytes = memory.data(&caller)[ptr as usize..][..len as usize].to_vec();
                caller.data_mut().push(String::from_utf8(bytes)?);
                Ok(())
            },
        )?;
        linker.define(&store, "host", "mem", memory)?;
        let instance = linker.instantiate(&mut store, &module)?;
        let greet = instance.get_typed_func::<(), i32>(&mut store, "greet")?;
        assert_eq!(greet.call(&mut store, ())?, 42);
        assert_eq!(store.data(), &["hello".to_string()]);
        let mut buf = [0u8; 5];
        memory.read(&store, 16, &mut buf)?;
        assert_eq!(&buf, b"hello");
        // Growing from the host is visible to wasm and vice versa.
        assert_eq!(memory.grow(&mut store, 1)?, 1);
        assert_eq!(memory.size(&store), 2);
    }
    Ok(())
}

#[test]
fn caller_reaches_exported_memory() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"
            (module
              (import "host" "sum" (func $sum (param i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 8) "\01\02\03\04")
              (func (export "run") (result i32)
                (call $sum (i32.const 8) (i32.const 4))))
            "#,
        )?;
        let mut store = Store::new(&engine, 0u32);
        let mut linker = Linker::new(&engine);
        linker.func_wrap(
            "host",
            "sum",
            |mut caller: Caller<'_, u32>, ptr: i32, len: i32| -> anyhow::Result<i32> {
                let mem = caller
                    .get_export("memory")
                    .and_then(Extern::into_memory)
                    .ok_or_else(|| anyhow::anyhow!("no memory"))?;
                let bytes = &mem.data(&caller)[ptr as usize..][..len as usize];
                let s: i32 = bytes.iter().map(|b| i32::from(*b)).sum();
                *caller.data_mut() += 1;
                Ok(s)
            },
        )?;
        let instance = linker.instantiate(&mut store, &module)?;
        let run = instance.get_typed_func::<(), i32>(&mut store, "run")?;
        assert_eq!(run.call(&mut store, ())?, 10);
        assert_eq!(*store.data(), 1);
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        assert_eq!(&memory.data(&store)[8..12], &[1, 2, 3, 4]);
    }
    Ok(())
}

#[test]
fn dynamic_calls_globals_and_multi_value() -> anyhow::Result<()> {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"
            (module
              (global $g (export "g") (mut i64) (i64.const 7))
              (func (export "swap") (param i32 f64) (result f64 i32)
                local.get 1 local.get 0)
              (func (export "bump") (result i64)
                (global.set $g (i64.add (global.get $g) (i64.const 1)))
                global.get $g))
            "#,
        )?;
        let mut store = Store::new(&engine, ());
        let instance = kiln::Instance::new(&mut store, &module, &[])?;
        let swap = instance.get_func(&mut store, "swap").unwrap();
        let mut results = [Val::I32(0), Val::I32(0)];
        swap.call(&mut store, &[Val::I32(3), Val::from(2.5f64)], &mut results)?;
        assert_eq!(results[0].f64(), Some(2.5));
        assert_eq!(results[1].i32(), Some(3));
        // A wrong argument type is an error, not a crash.
        assert!(
            swap.call(&mut store, &[Val::I64(3), Val::from(2.5f64)], &mut results)
                .is_err()
        );
        let bump = instance.get_typed_func::<(), i64>(&mut store, "bump")?;
        assert_eq!(bump.call(&mut store, ())?, 8);
        let g = instance.get_global(&mut store, "g").unwrap();
        assert_eq!(g.get(&mut store).i64(), Some(8));
        g.set(&mut store, Val::I64(100))?;
        assert_eq!(bump.call(&mut store, ())?, 101);
    }
    Ok(())
}

#[test]
fn host_func_called_from_host_and_through_table() -> anyhow::Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let double = Func::wrap(&mut store, |x: i32| x * 2);
    assert_eq!(double.typed::<i32, i32>(&store)?.call(&mut store, 21)?, 42);
    let module = Module::new(
        &engine,
        r#"
        (module
          (import "" "f" (func $f (param i32) (result i32)))
          (table 1 funcref)
          (elem (i32.const 0) $f)
          (type $t (func (param i32) (result i32)))
          (func (export "call") (param i32) (result i32)
            (call_indirect (type $t) (local.get 0) (i32.const 0))))
        "#,
    )?;
    let instance = kiln::Instance::new(&mut store, &module, &[double.into()])?;
    let call = instance.get_typed_func::<i32, i32>(&mut store, "call")?;
    assert_eq!(call.call(&mut store, 5)?, 10);
    Ok(())
}

#[test]
fn host_funcs_of_one_closure_type_keep_their_own_captures() -> anyhow::Result<()> {
    // Every host function built from one closure type shares one array-call entry; each
    // must still reach its own captured state, whether typed, dynamic or from a linker.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let adder = |n: i32| move |x: i32| x + n;
    let dynamic = |n: i32| {
        move |_: Caller<'_, ()>, p: &[Val], r: &mut [Val]| {
            r[0] = Val::I32(p[0].i32().unwrap_or(0) * n);
            Ok(())
        }
    };
    let ty = kiln::FuncType::new([kiln::ValType::I32], [kiln::ValType::I32]);
    let mut linker = Linker::new(&engine);
    linker.func_wrap("h", "add100", adder(100))?;
    linker.func_new("h", "mul3", ty.clone(), dynamic(3))?;
    let funcs = [
        Func::wrap(&mut store, adder(1)),
        Func::wrap(&mut store, adder(2)),
        Func::new(&mut store, ty.clone(), dynamic(10)),
        Func::new(&mut store, ty, dynamic(20)),
    ];
    let module = Module::new(
        &engine,
        r#"
        (module
          (import "h" "a1" (func $a1 (param i32) (result i32)))
          (import "h" "a2" (func $a2 (param i32) (result i32)))
          (import "h" "m10" (func $m10 (param i32) (result i32)))
          (import "h" "m20" (func $m20 (param i32) (result i32)))
          (import "h" "add100" (func $a100 (param i32) (result i32)))
          (import "h" "mul3" (func $m3 (param i32) (result i32)))
          (func (export "all") (param i32) (result i32)
            (call $m3 (call $a100 (call $m20 (call $m10 (call $a2 (call $a1 (local.get 0)))))))))
        "#,
    )?;
    for (name, f) in ["a1", "a2", "m10", "m20"].into_iter().zip(funcs) {
        linker.define(&store, "h", name, f)?;
    }
    let instance = linker.instantiate(&mut store, &module)?;
    let all = instance.get_typed_func::<i32, i32>(&mut store, "all")?;
    // ((0 + 1 + 2) * 10 * 20 + 100) * 3
    assert_eq!(all.call(&mut store, 0)?, 2_100);
    Ok(())
}

#[test]
fn unknown_import_names_module_and_field() {
    let engine = Engine::default();
    let module = Module::new(&engine, r#"(module (import "env" "missing" (func)))"#).unwrap();
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown import: `env::missing` has not been defined"
    );
}

#[test]
fn invalid_module_error_names_offset() {
    let engine = Engine::default();
    let err = Module::new(&engine, b"\0asm\x01\0\0\0\x01\x04\x01\x60\x00").unwrap_err();
    assert!(err.to_string().contains("at offset 0x"), "{err}");
}

#[test]
fn perf_map_replaces_a_stale_file_then_appends() {
    // A map left by an earlier process with this pid must not name our code.
    let path = format!("/tmp/perf-{}.map", std::process::id());
    std::fs::write(&path, "dead 1 stale::function\n").unwrap();
    let mut config = Config::new();
    config.profiler(kiln::ProfilingStrategy::PerfMap);
    let engine = Engine::new(&config).unwrap();
    Module::new(&engine, "(module (func))").unwrap();
    Module::new(&engine, "(module (func) (func))").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!text.contains("stale"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| l.contains(" wasm[")), "{text}");
}
