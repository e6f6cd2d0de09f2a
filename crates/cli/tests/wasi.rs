//! `kiln run` on WASI programs, end to end: the examples, the C guests of `crates/wasi/tests/
//! guests` (committed `.wasm` files), `--dir`/`--env`/`--argv0`, exit statuses, traps, unknown
//! imports, reactors, and `poll_oneoff` on the real stdin of the process.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn guest(name: &str) -> String {
    root()
        .join("crates/wasi/tests/guests")
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kiln-cli-wasi")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn kiln() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.env("RUST_BACKTRACE", "0").env("RUST_LIB_BACKTRACE", "0");
    c
}

fn run(args: &[&str]) -> Output {
    kiln()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("failed to start kiln")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn check(o: &Output, status: i32, stdout: &str) {
    assert_eq!(o.status.code(), Some(status), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), stdout, "stderr: {}", text(&o.stderr));
}

#[test]
fn hello_examples() {
    let wasm = root().join("examples/hello.wasm").display().to_string();
    let wat = root().join("examples/hello.wat").display().to_string();
    check(&run(&["run", &wasm]), 0, "Hello, world!\n");
    check(&run(&["run", &wat]), 0, "Hello, world!\n");
    check(&run(&["run", &wasm, "Kiln"]), 0, "Hello, Kiln!\n");
    // `run` is the default subcommand, as with Wasmtime.
    check(&run(&[&wasm, "you"]), 0, "Hello, you!\n");
}

#[test]
fn copy_inside_a_preopen() {
    let dir = scratch("copy");
    std::fs::write(dir.join("in.txt"), "some text\n".repeat(1000)).unwrap();
    let d = format!("{}::/data", dir.display());
    let o = run(&[
        "run",
        "--dir",
        &d,
        &guest("copy"),
        "/data/in.txt",
        "/data/out.txt",
    ]);
    check(&o, 0, "copied 10000 bytes\n");
    assert_eq!(
        std::fs::read(dir.join("out.txt")).unwrap(),
        std::fs::read(dir.join("in.txt")).unwrap()
    );

    // A read-only preopen refuses the write; a path outside every preopen is not found.
    let ro = format!("{}::/data::ro", dir.display());
    let o = run(&[
        "run",
        "--dir",
        &ro,
        &guest("copy"),
        "/data/in.txt",
        "/data/new.txt",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("Operation not permitted"), "{o:?}");
    assert!(!dir.join("new.txt").exists());
    let o = run(&[
        "run",
        "--dir",
        &d,
        &guest("copy"),
        "/data/../in.txt",
        "/data/x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["run", &guest("copy"), "/etc/hostname", "/tmp/x"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn mapdir_is_dir_reversed() {
    let dir = scratch("mapdir");
    std::fs::write(dir.join("a.txt"), "abc").unwrap();
    let m = format!("/m::{}", dir.display());
    let o = run(&[
        "run",
        "--mapdir",
        &m,
        &guest("copy"),
        "/m/a.txt",
        "/m/b.txt",
    ]);
    check(&o, 0, "copied 3 bytes\n");
    assert_eq!(std::fs::read_to_string(dir.join("b.txt")).unwrap(), "abc");
}

#[test]
fn host_dir_name_is_the_guest_name_by_default() {
    let dir = scratch("samename");
    std::fs::write(dir.join("a.txt"), "abc").unwrap();
    let host = dir.display().to_string();
    let src = format!("{host}/a.txt");
    let dst = format!("{host}/b.txt");
    let o = run(&["--dir", &host, &guest("copy"), &src, &dst]);
    check(&o, 0, "copied 3 bytes\n");
    assert_eq!(std::fs::read_to_string(dir.join("b.txt")).unwrap(), "abc");
}

#[test]
fn args_env_argv0_and_exit_status() {
    let o = kiln()
        .args([
            "run",
            "--env",
            "GREETING=hello",
            "--env",
            "FROM_HOST",
            "--env",
            "NOT_SET_ANYWHERE",
            "--argv0",
            "prog",
            &guest("args_env"),
            "42",
            "--flag",
        ])
        .env("FROM_HOST", "inherited")
        .env("SECRET", "must not leak")
        .output()
        .unwrap();
    check(
        &o,
        42,
        "arg 0: prog\narg 1: 42\narg 2: --flag\nenv: GREETING=hello\nenv: FROM_HOST=inherited\n\
         greeting: hello\n",
    );
    assert_eq!(text(&o.stderr), "to stderr\n");
    // Exit statuses follow POSIX `exit`: the low byte, and never 0 for a non-zero status.
    assert_eq!(
        run(&["run", &guest("args_env"), "3"]).status.code(),
        Some(3)
    );
    assert_eq!(
        run(&["run", &guest("args_env"), "256"]).status.code(),
        Some(1)
    );
    assert_eq!(
        run(&["run", &guest("args_env"), "257"]).status.code(),
        Some(1)
    );
    // -S inherit-env gives the whole host environment.
    let o = kiln()
        .args(["run", "-S", "inherit-env", &guest("args_env")])
        .env("SECRET", "now visible")
        .output()
        .unwrap();
    assert!(text(&o.stdout).contains("env: SECRET=now visible\n"));
}

#[test]
fn proc_exit_from_wat() {
    let dir = scratch("exit");
    let m = dir.join("exit.wat");
    std::fs::write(
        &m,
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (i32.const 17))))"#,
    )
    .unwrap();
    check(&run(&["run", &m.display().to_string()]), 17, "");
}

#[test]
fn trap_prints_message_and_backtrace() {
    let dir = scratch("trap");
    let m = dir.join("trap.wat");
    std::fs::write(
        &m,
        r#"(module $m
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (func $die unreachable)
            (func (export "_start") (call $die)))"#,
    )
    .unwrap();
    let o = run(&["run", &m.display().to_string()]);
    assert_eq!(o.status.code(), Some(134));
    let err = text(&o.stderr);
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("wasm backtrace"), "{err}");
    assert!(err.contains("m!die"), "{err}");
    assert!(err.contains("unreachable"), "{err}");

    // A bad pointer passed to WASI is a trap too, naming the function.
    let m = dir.join("badptr.wat");
    std::fs::write(
        &m,
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "_start") (drop (call $w (i32.const 1) (i32.const 70000) (i32.const 1) (i32.const 0)))))"#,
    )
    .unwrap();
    let o = run(&["run", &m.display().to_string()]);
    assert_eq!(o.status.code(), Some(134));
    let err = text(&o.stderr);
    assert!(err.contains("wasi_snapshot_preview1::fd_write"), "{err}");
    assert!(err.contains("out of bounds"), "{err}");
}

#[test]
fn unknown_import_is_named() {
    let dir = scratch("unknown");
    let m = dir.join("unknown.wat");
    std::fs::write(
        &m,
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "env" "host_thing" (func))
            (func (export "_start")))"#,
    )
    .unwrap();
    let o = run(&["run", &m.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("env::host_thing"), "{err}");
    // A WASI function name that does not exist is unknown too.
    std::fs::write(
        &m,
        r#"(module
            (import "wasi_snapshot_preview1" "no_such_call" (func))
            (func (export "_start")))"#,
    )
    .unwrap();
    let err = text(&run(&["run", &m.display().to_string()]).stderr);
    assert!(
        err.contains("wasi_snapshot_preview1::no_such_call"),
        "{err}"
    );
}

#[test]
fn reactor_initialize_then_invoke() {
    let dir = scratch("reactor");
    let m = dir.join("reactor.wat");
    std::fs::write(
        &m,
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (global $base (mut i32) (i32.const 0))
            (data (i32.const 0) "\10\00\00\00\05\00\00\00")
            (data (i32.const 16) "init\n")
            (func (export "_initialize")
              (global.set $base (i32.const 100))
              (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
            (func (export "add") (param i32) (result i32)
              (i32.add (global.get $base) (local.get 0))))"#,
    )
    .unwrap();
    let m = m.display().to_string();
    check(&run(&["run", "--invoke", "add", &m, "5"]), 0, "init\n105\n");
    check(&run(&["run", &m, "--invoke", "add", "-1"]), 0, "init\n99\n");
    // Without --invoke a reactor is only initialised.
    check(&run(&["run", &m]), 0, "init\n");
}

#[test]
fn poll_on_the_process_stdin() {
    // Data then end of input: the guest sees 5 bytes, then a hangup.
    let dir = scratch("poll");
    let d = format!("{}::sandbox", dir.display());
    let mut child = kiln()
        .args(["run", "--dir", &d, &guest("poll")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"ping\n").unwrap();
    let o = child.wait_with_output().unwrap();
    check(&o, 0, "poll ok\n");

    // An open pipe with no data: the timeout wins; then data makes stdin ready.
    let mut child = kiln()
        .args(["run", &guest("poll_wait")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "timeout\n");
    stdin.write_all(b"data\n").unwrap();
    stdin.flush().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(rest, "ready\ndata\n");
}

/// The host directory the escape guest expects: `outside.txt` beside a writable preopen
/// `sandbox` and a read-only `ro`. Returns it with the two `--dir` values.
fn escape_fixture(name: &str) -> (PathBuf, String, String) {
    let dir = scratch(name);
    std::fs::write(dir.join("outside.txt"), "secret\n").unwrap();
    std::fs::create_dir(dir.join("sandbox")).unwrap();
    std::fs::create_dir_all(dir.join("ro/sub")).unwrap();
    std::fs::write(dir.join("ro/file.txt"), "read only\n").unwrap();
    let sb = format!("{}::sandbox", dir.join("sandbox").display());
    let ro = format!("{}::ro::ro", dir.join("ro").display());
    (dir, sb, ro)
}

#[test]
fn all_guests_run_under_the_cli() {
    // The escape guest through the CLI: two preopens, one read-only.
    let (dir, sb, ro) = escape_fixture("escape");
    let o = run(&["run", "--dir", &sb, "--dir", &ro, &guest("escape")]);
    check(&o, 0, "escape ok\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("outside.txt")).unwrap(),
        "secret\n"
    );
    let fs = scratch("fs");
    let d = format!("{}::sandbox", fs.display());
    check(&run(&["run", "--dir", &d, &guest("fs")]), 0, "fs ok\n");
}

#[test]
fn refused_capabilities_go_to_the_audit_log() {
    let (dir, sb, ro) = escape_fixture("audit-escape");
    let log = dir.join("audit.jsonl").display().to_string();
    let wasm = guest("escape");
    let o = run(&[
        "run",
        "--audit-log",
        &log,
        "--dir",
        &sb,
        "--dir",
        &ro,
        &wasm,
    ]);
    check(&o, 0, "escape ok\n");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("\"event\":\"load\""), "{}", lines[0]);
    let denied: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .filter(|l| l.contains("\"event\":\"capability_denied\""))
        .collect();
    // Every line after the load decision is a refusal the guest was given.
    assert_eq!(denied.len(), lines.len() - 1, "{text}");
    for want in [
        "\"capability\":\"path_open\",\"resource\":\"../outside.txt\"",
        "\"capability\":\"path_open\",\"resource\":\"/etc/passwd\"",
        "\"capability\":\"path_rename\",\"resource\":\"../outside.txt -> stolen\"",
        "\"capability\":\"path_unlink_file\",\"resource\":\"file.txt\"",
    ] {
        assert!(
            denied.iter().any(|l| l.contains(want)),
            "no {want} in {text}"
        );
    }
    assert!(
        denied
            .iter()
            .all(|l| l.contains(&format!("\"module\":\"{wasm}\""))),
        "{text}"
    );
}

#[test]
fn bad_dir_and_wasi_options() {
    let wasm = root().join("examples/hello.wasm").display().to_string();
    let o = run(&["run", "--dir", "/definitely/not/here", &wasm]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/definitely/not/here"));
    let o = run(&["run", "--dir", "a::b::xx", &wasm]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["run", "-S", "nonsense", &wasm]);
    assert!(text(&o.stderr).contains("unknown WASI setting"));
}
