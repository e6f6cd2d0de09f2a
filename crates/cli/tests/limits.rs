//! `kiln run` with Wasmtime's `-W` limit flags against hostile modules: each is stopped by the
//! right limit, the error names that limit, and the exit status is non-zero.

use std::path::PathBuf;
use std::process::{Command, Output};

fn module(name: &str, wat: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.wat"));
    std::fs::write(&path, wat).unwrap();
    path
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("kiln runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SPIN: &str = r#"(module (func (export "spin") (loop (br 0))))"#;

#[test]
fn fuel_stops_an_infinite_loop() {
    let m = module("spin-fuel", SPIN);
    let o = kiln(&[
        "run",
        "-W",
        "fuel=10000",
        m.to_str().unwrap(),
        "--invoke",
        "spin",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("all fuel consumed by WebAssembly"), "{e}");
    assert!(e.contains("-W fuel=10000"), "{e}");
}

#[test]
fn timeout_stops_an_infinite_loop() {
    let m = module("spin-timeout", SPIN);
    let o = kiln(&[
        "run",
        "-W",
        "timeout=100ms",
        m.to_str().unwrap(),
        "--invoke",
        "spin",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("interrupt"), "{e}");
    assert!(e.contains("-W timeout"), "{e}");
}

#[test]
fn timeout_stops_a_loop_in_the_start_function() {
    let m = module(
        "start-loop",
        r#"(module (func $s (loop (br 0))) (start $s))"#,
    );
    let o = kiln(&["run", "-W", "timeout=50ms", m.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("interrupt") && e.contains("-W timeout"), "{e}");
}

#[test]
fn timeout_stops_a_loop_free_call_tree() {
    let mut wat = String::from("(module\n");
    for i in 0..40 {
        wat.push_str(&format!(
            "  (func $f{i} call $f{n} call $f{n})\n",
            n = i + 1
        ));
    }
    wat.push_str("  (func $f40)\n  (export \"run\" (func $f0)))\n");
    let m = module("call-tree", &wat);
    let o = kiln(&[
        "run",
        "-W",
        "timeout=100ms",
        m.to_str().unwrap(),
        "--invoke",
        "run",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("interrupt"), "{}", stderr(&o));
}

#[test]
fn unbounded_recursion_exhausts_the_stack() {
    let m = module("recurse", r#"(module (func $r (export "r") (call $r)))"#);
    let o = kiln(&[
        "run",
        "-W",
        "max-wasm-stack=64KiB",
        m.to_str().unwrap(),
        "--invoke",
        "r",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("call stack exhausted"), "{e}");
    assert!(e.contains("max-wasm-stack=65536"), "{e}");
}

const BOMBS: &str = r#"
(module
  (memory 1)
  (table 1 funcref)
  (func (export "memory_bomb") (result i32)
    (loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    memory.size)
  (func (export "table_bomb") (result i32)
    (loop (br_if 0 (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))
    table.size))
"#;

#[test]
fn memory_grow_bomb_is_capped() {
    let m = module("bombs-mem", BOMBS);
    let path = m.to_str().unwrap();
    let o = kiln(&[
        "run",
        "-W",
        "max-memory-size=1MiB",
        path,
        "--invoke",
        "memory_bomb",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "16");
    let o = kiln(&[
        "run",
        "-W",
        "max-memory-size=1MiB,trap-on-grow-failure=y",
        path,
        "--invoke",
        "memory_bomb",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("memory size limit of 1048576 bytes"), "{e}");
    assert!(e.contains("-W max-memory-size"), "{e}");
}

#[test]
fn table_grow_bomb_is_capped() {
    let m = module("bombs-table", BOMBS);
    let o = kiln(&[
        "run",
        "-W",
        "max-table-elements=5000",
        m.to_str().unwrap(),
        "--invoke",
        "table_bomb",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "4001");
}

#[test]
fn huge_initial_memory_is_refused() {
    let m = module("huge", r#"(module (memory 65536) (func (export "f")))"#);
    let o = kiln(&[
        "run",
        "-W",
        "max-memory-size=16MiB",
        m.to_str().unwrap(),
        "--invoke",
        "f",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("memory minimum size of 65536 pages"), "{e}");
    assert!(e.contains("-W max-memory-size"), "{e}");
}

#[test]
fn instance_limit_is_enforced() {
    let m = module("one-instance", r#"(module (func (export "f")))"#);
    let o = kiln(&[
        "run",
        "-W",
        "max-instances=0",
        m.to_str().unwrap(),
        "--invoke",
        "f",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("instance count too high") && e.contains("-W max-instances"),
        "{e}"
    );
}

#[test]
fn unknown_w_option_lists_the_valid_ones() {
    let m = module("plain", r#"(module (func (export "f")))"#);
    let o = kiln(&["run", "-W", "bogus=1", m.to_str().unwrap(), "--invoke", "f"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("unknown option `-W bogus`") && e.contains("fuel=N"),
        "{e}"
    );
}
