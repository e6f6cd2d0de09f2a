//! Precompiled artifacts and the compile cache: round trips, precise mismatch errors, and
//! authentication (a flipped byte anywhere, or another user's key, is refused).

use kiln::{ArtifactKey, Config, Engine, Instance, Module, OptLevel, Store};
use std::path::PathBuf;

const WAT: &str = r#"(module $m
  (memory 1)
  (data (i32.const 16) "kiln")
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "peek") (result i32) (i32.load8_u (i32.const 17)))
  (func (export "die") unreachable))"#;

fn key(b: u8) -> ArtifactKey {
    ArtifactKey::from_bytes([b; 32])
}

fn engine_with(key_byte: u8, f: impl FnOnce(&mut Config)) -> Engine {
    let mut c = Config::new();
    c.artifact_key(key(key_byte));
    f(&mut c);
    Engine::new(&c).unwrap()
}

fn check_runs(engine: &Engine, module: &Module) {
    let mut store = Store::new(engine, ());
    let i = Instance::new(&mut store, module, &[]).unwrap();
    let fib = i.get_typed_func::<i32, i32>(&mut store, "fib").unwrap();
    assert_eq!(fib.call(&mut store, 20).unwrap(), 6765);
    let peek = i.get_typed_func::<(), i32>(&mut store, "peek").unwrap();
    assert_eq!(peek.call(&mut store, ()).unwrap(), i32::from(b'i'));
    // Trap tables and address maps survive: the backtrace names the function.
    let die = i.get_typed_func::<(), ()>(&mut store, "die").unwrap();
    let err = die.call(&mut store, ()).unwrap_err();
    let bt = err.downcast_ref::<kiln::WasmBacktrace>().unwrap();
    assert_eq!(bt.frames()[0].module_name(), Some("m"));
    assert!(bt.frames()[0].module_offset().is_some());
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-artifacts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn round_trip() {
    let engine = engine_with(1, |_| {});
    let bytes = engine.precompile(WAT.as_bytes()).unwrap();
    assert!(kiln::is_artifact(&bytes));
    let module = Module::deserialize(&engine, &bytes).unwrap();
    check_runs(&engine, &module);
    // serialize of a compiled module, and loading through Module::new / from_file.
    let compiled = Module::new(&engine, WAT).unwrap();
    let again = compiled.serialize().unwrap();
    check_runs(&engine, &Module::new(&engine, &again).unwrap());
    let dir = temp_dir("roundtrip");
    let path = dir.join("m.kwasm");
    std::fs::write(&path, &again).unwrap();
    check_runs(&engine, &Module::from_file(&engine, &path).unwrap());
    check_runs(&engine, &Module::deserialize_file(&engine, &path).unwrap());
}

#[test]
fn setting_mismatches_are_refused_with_a_precise_message() {
    let bytes = engine_with(1, |_| {}).precompile(WAT.as_bytes()).unwrap();
    type Configure = Box<dyn Fn(&mut Config)>;
    let cases: [(&str, Configure); 4] = [
        (
            "opt_level",
            Box::new(|c: &mut Config| {
                c.cranelift_opt_level(OptLevel::None);
            }),
        ),
        (
            "memory-reservation",
            Box::new(|c: &mut Config| {
                c.memory_reservation(0);
            }),
        ),
        (
            "consume-fuel",
            Box::new(|c: &mut Config| {
                c.consume_fuel(true);
            }),
        ),
        (
            "wasm-features",
            Box::new(|c: &mut Config| {
                c.wasm_multi_memory(true);
            }),
        ),
    ];
    for (setting, configure) in cases {
        let other = engine_with(1, |c| configure(c));
        let err = format!("{:#}", Module::deserialize(&other, &bytes).unwrap_err());
        // The first differing line is named; for the opt level that is Cranelift's own
        // `cranelift.opt_level` setting.
        assert!(err.contains(&format!("{setting}` is")), "{setting}: {err}");
        assert!(err.contains("in the artifact but"), "{err}");
    }
}

#[test]
fn version_mismatch_is_refused() {
    let engine = engine_with(1, |_| {});
    let mut bytes = engine.precompile(WAT.as_bytes()).unwrap();
    // Rewrite the recorded version (same length) and re-authenticate, as a different Kiln
    // version holding the same key would have written it.
    let version = format!("kiln-version={}", env!("CARGO_PKG_VERSION"));
    let at = bytes
        .windows(version.len())
        .position(|w| w == version.as_bytes())
        .unwrap();
    let digits = at + "kiln-version=".len();
    bytes[digits] = if bytes[digits] == b'9' { b'8' } else { b'9' };
    let body = bytes.len() - 32;
    let mac = key(1).mac(&bytes[..body]);
    bytes[body..].copy_from_slice(&mac);
    let err = format!("{:#}", Module::deserialize(&engine, &bytes).unwrap_err());
    assert!(err.contains("`kiln-version` is"), "{err}");
}

#[test]
fn a_flipped_byte_anywhere_is_refused() {
    let engine = engine_with(1, |_| {});
    let bytes = engine.precompile(WAT.as_bytes()).unwrap();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let err = match Module::deserialize(&engine, &t) {
            Ok(_) => panic!("flipped byte {i} of {} accepted", bytes.len()),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("failed authentication") || err.contains("bad magic"),
            "byte {i}: {err}"
        );
    }
}

#[test]
fn another_users_key_is_refused_unless_explicitly_unsafe() {
    let bytes = engine_with(1, |_| {}).precompile(WAT.as_bytes()).unwrap();
    let other = engine_with(2, |_| {});
    let err = format!("{:#}", Module::deserialize(&other, &bytes).unwrap_err());
    assert!(err.contains("another user's artifact key"), "{err}");
    // SAFETY: the bytes were just produced by a trusted engine in this test.
    let module = unsafe { Module::deserialize_unauthenticated(&other, &bytes) }.unwrap();
    check_runs(&other, &module);
}

#[test]
fn the_key_file_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("keyfile");
    let path = dir.join("sub").join("artifact.key");
    let mut c = Config::new();
    c.artifact_key_file(&path);
    let engine = Engine::new(&c).unwrap();
    let bytes = engine.precompile(WAT.as_bytes()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read(&path).unwrap().len(), 32);
    // A second engine with the same key file loads what the first wrote.
    let mut c2 = Config::new();
    c2.artifact_key_file(&path);
    let engine2 = Engine::new(&c2).unwrap();
    Module::deserialize(&engine2, &bytes).unwrap();
}

fn cached_engine(key_byte: u8, dir: &std::path::Path) -> Engine {
    engine_with(key_byte, |c| {
        c.cache_dir(Some(dir.to_path_buf()));
    })
}

#[test]
fn cache_hits_and_refuses_tampered_or_foreign_entries() {
    let dir = temp_dir("cache");
    let a = cached_engine(1, &dir);
    check_runs(&a, &Module::new(&a, WAT).unwrap());
    assert_eq!(a.cache_stats().misses, 1);
    let b = cached_engine(1, &dir);
    check_runs(&b, &Module::new(&b, WAT).unwrap());
    assert_eq!((b.cache_stats().hits, b.cache_stats().refused), (1, 0));

    // Another user's key: refused, recompiled, and replaced by an entry under that key.
    let c = cached_engine(2, &dir);
    check_runs(&c, &Module::new(&c, WAT).unwrap());
    assert_eq!(c.cache_stats().refused, 1);

    // A flipped byte in the entry: refused and recompiled.
    let entry = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "kwasm"))
        .unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x80;
    std::fs::write(&entry, &bytes).unwrap();
    let d = cached_engine(2, &dir);
    check_runs(&d, &Module::new(&d, WAT).unwrap());
    assert_eq!(d.cache_stats().refused, 1);
    let e = cached_engine(2, &dir);
    Module::new(&e, WAT).unwrap();
    assert_eq!(e.cache_stats().hits, 1, "the refused entry was rewritten");
}

#[test]
fn concurrent_runs_share_the_cache() {
    let dir = temp_dir("concurrent");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let engine = cached_engine(1, &dir);
                let module = Module::new(&engine, WAT).unwrap();
                check_runs(&engine, &module);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "one entry, no temporary files left: {names:?}"
    );
    let engine = cached_engine(1, &dir);
    Module::new(&engine, WAT).unwrap();
    assert_eq!(engine.cache_stats().hits, 1);
}

#[test]
fn cache_is_bounded() {
    let dir = temp_dir("bounded");
    let engine = engine_with(1, |c| {
        c.cache_dir(Some(dir.clone())).cache_max_size(20_000);
    });
    for i in 0..8 {
        let wat = format!("(module (func (export \"f\") (result i32) i32.const {i}))");
        Module::new(&engine, wat).unwrap();
    }
    let total: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total <= 20_000, "{total}");
}

#[test]
fn cache_without_a_usable_key_still_compiles() {
    let dir = temp_dir("nokey");
    // The key path's parent is a file, so the key can be neither read nor created.
    std::fs::write(dir.join("file"), b"").unwrap();
    let mut c = Config::new();
    c.artifact_key_file(dir.join("file").join("artifact.key"))
        .cache_dir(Some(dir.join("cache")));
    let engine = Engine::new(&c).unwrap();
    check_runs(&engine, &Module::new(&engine, WAT).unwrap());
    assert!(engine.precompile(WAT.as_bytes()).is_err());
}

/// Counts audit events.
#[derive(Debug, Default)]
struct Count(std::sync::atomic::AtomicUsize);

impl kiln::trust::AuditSink for Count {
    fn record(&self, _: &kiln::trust::AuditEvent<'_>) -> std::io::Result<()> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn a_cache_hit_is_one_policy_decision() {
    // Regression: a cache hit used to re-run the load policy on the cached module, so one
    // load wrote two audit records.
    let dir = temp_dir("audit");
    let wasm = wat::parse_str(WAT).unwrap();
    let mut pins = kiln::trust::PinSet::new();
    pins.insert(kiln::trust::sha256(&wasm), "m.wasm");
    let count = std::sync::Arc::new(Count::default());
    let policy = kiln::LoadPolicy::new()
        .with_pins(pins)
        .with_audit(kiln::trust::Audit::new().with_sink(count.clone()));
    let engine = engine_with(1, |c| {
        c.cache_dir(Some(dir.clone())).load_policy(policy);
    });
    Module::from_binary(&engine, &wasm).unwrap();
    Module::from_binary(&engine, &wasm).unwrap();
    assert_eq!(engine.cache_stats().hits, 1);
    assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 2);
}
