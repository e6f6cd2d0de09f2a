//! WASI end to end through the embedding API: the C guests in `tests/guests/` (built by
//! `tests/guests/build.sh`; the `.wasm` files are committed) and WAT modules, each run with a
//! `WasiCtx` built for it, checked for exit status, captured stdout/stderr and filesystem
//! effects.
//!
//! Known failures: none. Every guest checks its own assertions and exits with 99 naming the
//! failed line, which `run` shows.

use kiln::{Engine, Linker, Module, Store};
use kiln_wasi::{
    DirPerms, Errno, I32Exit, MemoryInputPipe, MemoryOutputPipe, WasiClocks, WasiCtx,
    WasiCtxBuilder,
};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

fn guest(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fresh, empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kiln-wasi")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug)]
struct Outcome {
    /// The exit status (0 when `_start` returned), or the trap's message.
    status: Result<i32, String>,
    stdout: String,
    stderr: String,
}

/// Runs the command module `wasm` with a context from `setup` (stdout and stderr captured).
fn run(wasm: &[u8], setup: impl FnOnce(&mut WasiCtxBuilder)) -> Outcome {
    let module = Module::new(engine(), wasm).expect("compile");
    let mut linker: Linker<WasiCtx> = Linker::new(engine());
    kiln_wasi::add_to_linker(&mut linker, |cx| cx).unwrap();
    let out = MemoryOutputPipe::new();
    let err = MemoryOutputPipe::new();
    let mut b = WasiCtxBuilder::new();
    b.stdout(out.clone()).stderr(err.clone());
    setup(&mut b);
    let mut store = Store::new(engine(), b.build());
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .expect("_start");
    let status = match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(format!("{e:?}")),
        },
    };
    Outcome {
        status,
        stdout: String::from_utf8_lossy(&out.contents()).into_owned(),
        stderr: String::from_utf8_lossy(&err.contents()).into_owned(),
    }
}

#[track_caller]
fn check_ok(o: &Outcome, stdout: &str) {
    assert_eq!(o.status, Ok(0), "stderr: {}", o.stderr);
    assert_eq!(o.stdout, stdout, "stderr: {}", o.stderr);
}

// ---- C guests ----

#[test]
fn files_directories_links_readdir() {
    let dir = scratch("fs");
    let sandbox = dir.join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let o = run(&guest("fs"), |b| {
        b.preopened_dir(&sandbox, "sandbox", DirPerms::ReadWrite)
            .unwrap();
    });
    check_ok(&o, "fs ok\n");
    // The guest removes everything it made.
    assert_eq!(std::fs::read_dir(&sandbox).unwrap().count(), 0);
}

#[test]
fn escape_attempts_are_refused() {
    let dir = scratch("escape");
    std::fs::write(dir.join("outside.txt"), "secret\n").unwrap();
    std::fs::create_dir(dir.join("sandbox")).unwrap();
    std::fs::create_dir_all(dir.join("ro/sub")).unwrap();
    std::fs::write(dir.join("ro/file.txt"), "read only\n").unwrap();
    let o = run(&guest("escape"), |b| {
        b.preopened_dir(dir.join("sandbox"), "sandbox", DirPerms::ReadWrite)
            .unwrap();
        b.preopened_dir(dir.join("ro"), "ro", DirPerms::ReadOnly)
            .unwrap();
    });
    check_ok(&o, "escape ok\n");
    // Nothing outside the writable preopen changed.
    assert_eq!(
        std::fs::read_to_string(dir.join("outside.txt")).unwrap(),
        "secret\n"
    );
    let mut top: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["outside.txt", "ro", "sandbox"]);
    let mut ro: Vec<_> = std::fs::read_dir(dir.join("ro"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    ro.sort();
    assert_eq!(ro, ["file.txt", "sub"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("ro/file.txt")).unwrap(),
        "read only\n"
    );
    assert_eq!(std::fs::read_dir(dir.join("sandbox")).unwrap().count(), 0);
}

#[test]
fn poll_oneoff_clocks_and_stdin() {
    let dir = scratch("poll");
    let o = run(&guest("poll"), |b| {
        b.stdin(MemoryInputPipe::new("ping\n"));
        b.preopened_dir(&dir, "sandbox", DirPerms::ReadWrite)
            .unwrap();
    });
    check_ok(&o, "poll ok\n");
}

#[test]
fn clocks_random_stdio_renumber_sockets() {
    let dir = scratch("misc");
    let o = run(&guest("misc"), |b| {
        b.preopened_dir(&dir, "sandbox", DirPerms::ReadWrite)
            .unwrap();
        b.random(|buf: &mut [u8]| buf.fill(0xAB));
    });
    check_ok(&o, "misc ok\n");
}

#[test]
fn args_env_and_exit_status() {
    let o = run(&guest("args_env"), |b| {
        b.args(["args_env", "7", "two words"]);
        b.env("GREETING", "hi there").env("EMPTY", "");
    });
    assert_eq!(o.status, Ok(7), "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "arg 0: args_env\narg 1: 7\narg 2: two words\nenv: GREETING=hi there\nenv: EMPTY=\n\
         greeting: hi there\n"
    );
    assert_eq!(o.stderr, "to stderr\n");

    // Nothing is inherited by default.
    let o = run(&guest("args_env"), |_| {});
    assert_eq!(o.status, Ok(0));
    assert_eq!(o.stdout, "");
}

#[test]
fn copy_a_file_inside_a_preopen() {
    let dir = scratch("copy");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("in.bin"), &data).unwrap();
    let o = run(&guest("copy"), |b| {
        b.args(["copy", "/data/in.bin", "/data/out.bin"]);
        b.preopened_dir(&dir, "/data", DirPerms::ReadWrite).unwrap();
    });
    check_ok(&o, "copied 100000 bytes\n");
    assert_eq!(std::fs::read(dir.join("out.bin")).unwrap(), data);

    // Into a read-only preopen it fails, and nothing is written.
    let o = run(&guest("copy"), |b| {
        b.args(["copy", "/data/in.bin", "/data/again.bin"]);
        b.preopened_dir(&dir, "/data", DirPerms::ReadOnly).unwrap();
    });
    assert_eq!(o.status, Ok(1));
    assert!(o.stderr.contains("Operation not permitted"), "{}", o.stderr);
    assert!(!dir.join("again.bin").exists());
}

#[test]
fn cpp_streams_clocks_and_random_device() {
    let dir = scratch("cpp");
    std::fs::write(
        dir.join("in.txt"),
        "the cat and the dog and the bird\nthe end\n",
    )
    .unwrap();
    let o = run(&guest("wordfreq"), |b| {
        b.args(["wordfreq", "/w/in.txt", "/w/out.txt"]);
        b.preopened_dir(&dir, "/w", DirPerms::ReadWrite).unwrap();
    });
    check_ok(&o, "6 distinct words, top: the (4)\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "the 4\nand 2\nbird 1\ncat 1\ndog 1\nend 1\n"
    );
}

#[test]
fn sockets_on_a_preopened_listener() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"hello").unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    });
    let o = run(&guest("sock"), |b| {
        b.preopened_listener(listener);
    });
    check_ok(&o, "received hello\nsock ok\n");
    assert_eq!(client.join().unwrap(), "HELLO");
}

// ---- WAT guests ----

fn wat(src: &str) -> Vec<u8> {
    wat::parse_str(src).unwrap()
}

#[test]
fn proc_exit_ends_the_guest_not_the_host() {
    let m = wat(r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 3)) unreachable))"#);
    for _ in 0..2 {
        assert_eq!(run(&m, |_| {}).status, Ok(3));
    }
}

#[test]
fn bad_pointers_trap() {
    let write = |iovs: u32, nwritten: u32| {
        wat(&format!(
            r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\10\00\00\00\02\00\00\00hi")
            (func (export "_start") (drop (call $w (i32.const 1) (i32.const {iovs}) (i32.const 1) (i32.const {nwritten})))))"#
        ))
    };
    let o = run(&write(0, 8), |_| {});
    assert_eq!(o.status, Ok(0));
    let o = run(&write(0, 65536), |_| {});
    let msg = o.status.unwrap_err();
    assert!(
        msg.contains("in func wasi_snapshot_preview1::fd_write"),
        "{msg}"
    );
    assert!(msg.contains("out of bounds"), "{msg}");
    let msg = run(&write(0, 9), |_| {}).status.unwrap_err();
    assert!(msg.contains("misaligned"), "{msg}");
    let msg = run(&write(65532, 8), |_| {}).status.unwrap_err();
    assert!(msg.contains("out of bounds"), "{msg}");
    // An iovec whose buffer runs past the end of memory.
    let m = wat(r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "\f0\ff\00\00\00\01\00\00")
        (func (export "_start") (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#);
    let msg = run(&m, |_| {}).status.unwrap_err();
    assert!(msg.contains("out of bounds"), "{msg}");
    // A huge iovec count.
    let m = wat(r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "_start") (drop (call $w (i32.const 1) (i32.const 0) (i32.const -1) (i32.const 8)))))"#);
    assert!(run(&m, |_| {}).status.is_err());
}

/// Runs `body` (which leaves an i32 errno on the stack) in a module importing `imports`, and
/// returns the errno, which `_start` passes to `proc_exit`.
fn errno_of(imports: &str, data: &str, body: &str, setup: impl FnOnce(&mut WasiCtxBuilder)) -> i32 {
    let m = wat(&format!(
        r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        {imports}
        (memory (export "memory") 1)
        {data}
        (func (export "_start") (call $exit {body})))"#
    ));
    let o = run(&m, setup);
    o.status.unwrap_or_else(|e| panic!("trapped: {e}"))
}

#[test]
fn errno_results_are_not_traps() {
    let open = r#"(import "wasi_snapshot_preview1" "path_open"
        (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#;
    let dir = scratch("errno");
    // Invalid UTF-8 in a path is ilseq.
    let e = errno_of(
        open,
        r#"(data (i32.const 0) "\ff\fe")"#,
        "(call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 2) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16))",
        |b| {
            b.preopened_dir(&dir, "d", DirPerms::ReadWrite).unwrap();
        },
    );
    assert_eq!(e, i32::from(Errno::Ilseq.raw()));
    // An interior NUL is inval.
    let e = errno_of(
        open,
        r#"(data (i32.const 0) "a\00b")"#,
        "(call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16))",
        |b| {
            b.preopened_dir(&dir, "d", DirPerms::ReadWrite).unwrap();
        },
    );
    assert_eq!(e, i32::from(Errno::Inval.raw()));
    // Unknown lookup flags are inval; a bad descriptor badf.
    let e = errno_of(
        open,
        r#"(data (i32.const 0) "a")"#,
        "(call $open (i32.const 3) (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16))",
        |b| {
            b.preopened_dir(&dir, "d", DirPerms::ReadWrite).unwrap();
        },
    );
    assert_eq!(e, i32::from(Errno::Inval.raw()));
    let e = errno_of(
        open,
        r#"(data (i32.const 0) "a")"#,
        "(call $open (i32.const 9) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16))",
        |_| {},
    );
    assert_eq!(e, i32::from(Errno::Badf.raw()));
}

#[test]
fn missing_memory_export_is_an_error() {
    let m = wat(r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (func (export "_start") (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#);
    let msg = run(&m, |_| {}).status.unwrap_err();
    assert!(msg.contains("exports no memory"), "{msg}");
}

#[test]
fn hello_wat_and_args() {
    let m = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.wat"))
        .unwrap();
    check_ok(&run(&m, |_| {}), "Hello, world!\n");
    // args_get/args_sizes_get from WAT: print argv[1].
    let m = wat(r#"(module
        (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "args_get" (func $get (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (drop (call $sizes (i32.const 0) (i32.const 4)))
          (drop (call $get (i32.const 16) (i32.const 64)))
          ;; iovec at 8: argv[1], length = argv_buf_size - len(argv[0]) - 2 (two NULs)
          (i32.store (i32.const 8) (i32.load (i32.const 20)))
          (i32.store (i32.const 12) (i32.sub (i32.load (i32.const 4)) (i32.const 4)))
          (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0)))))"#);
    check_ok(
        &run(&m, |b| {
            b.args(["ab", "xyz"]);
        }),
        "xyz",
    );
}

#[test]
fn preview0_layouts() {
    let dir = scratch("p0");
    // wasi_unstable: whence cur=0 end=1 set=2, a 56-byte filestat, a 56-byte clock subscription.
    let m = wat(r#"(module
        (import "wasi_unstable" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (import "wasi_unstable" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_unstable" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
        (import "wasi_unstable" "fd_filestat_get" (func $stat (param i32 i32) (result i32)))
        (import "wasi_unstable" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
        (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "f.txt")
        (data (i32.const 16) "\20\00\00\00\05\00\00\00")
        (data (i32.const 32) "hello")
        (func $check (param i32) (if (i32.eqz (local.get 0)) (then unreachable)))
        (func (export "_start")
          (local $fd i32)
          (call $check (i32.eqz (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 5)
            (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 8))))
          (local.set $fd (i32.load (i32.const 8)))
          (call $check (i32.eqz (call $w (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 12))))
          ;; whence 2 is SET in preview0
          (call $check (i32.eqz (call $seek (local.get $fd) (i64.const 1) (i32.const 2) (i32.const 64))))
          (call $check (i64.eq (i64.load (i32.const 64)) (i64.const 1)))
          ;; whence 1 is END
          (call $check (i32.eqz (call $seek (local.get $fd) (i64.const 0) (i32.const 1) (i32.const 64))))
          (call $check (i64.eq (i64.load (i32.const 64)) (i64.const 5)))
          ;; filestat: nlink (u32) at 20, size at 24, and nothing written past 56
          (i64.store (i32.const 184) (i64.const -1))
          (call $check (i32.eqz (call $stat (local.get $fd) (i32.const 128))))
          (call $check (i32.eq (i32.load (i32.const 148)) (i32.const 1)))
          (call $check (i64.eq (i64.load (i32.const 152)) (i64.const 5)))
          (call $check (i64.eq (i64.load (i32.const 184)) (i64.const -1)))
          ;; a clock subscription: userdata 77, tag 0, identifier at 16, id at 24, timeout at 32
          (i64.store (i32.const 256) (i64.const 77))
          (i32.store8 (i32.const 264) (i32.const 0))
          (i32.store (i32.const 280) (i32.const 1))
          (i64.store (i32.const 288) (i64.const 1000000))
          (call $check (i32.eqz (call $poll (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 600))))
          (call $check (i32.eq (i32.load (i32.const 600)) (i32.const 1)))
          (call $check (i64.eq (i64.load (i32.const 512)) (i64.const 77)))
          (call $exit (i32.const 0))))"#);
    let o = run(&m, |b| {
        b.preopened_dir(&dir, "d", DirPerms::ReadWrite).unwrap();
    });
    assert_eq!(o.status, Ok(0), "{o:?}");
    assert_eq!(std::fs::read_to_string(dir.join("f.txt")).unwrap(), "hello");
}

#[test]
fn injected_clocks() {
    struct Fixed;
    impl WasiClocks for Fixed {
        fn now(&self, id: u32) -> Result<u64, Errno> {
            match id {
                0 => Ok(1_700_000_000_000_000_000),
                1 => Ok(42),
                _ => Err(Errno::Notsup),
            }
        }
        fn resolution(&self, _id: u32) -> Result<u64, Errno> {
            Ok(1000)
        }
    }
    let get = r#"(import "wasi_snapshot_preview1" "clock_time_get" (func $t (param i32 i64 i32) (result i32)))"#;
    let body = |id: u32| {
        format!(
            "(if (result i32) (i32.eqz (call $t (i32.const {id}) (i64.const 1) (i32.const 8))) (then (i32.wrap_i64 (i64.load (i32.const 8)))) (else (i32.const -1)))"
        )
    };
    assert_eq!(
        errno_of(get, "", &body(1), |b| {
            b.clocks(Fixed);
        }),
        42
    );
    let e = errno_of(
        get,
        "",
        "(call $t (i32.const 2) (i64.const 1) (i32.const 8))",
        |b| {
            b.clocks(Fixed);
        },
    );
    assert_eq!(e, i32::from(Errno::Notsup.raw()));
}

/// Every WASI function called many times with arbitrary arguments (wild and in-bounds
/// pointers, odd flags, huge lengths) returns an errno or traps, and never panics or crashes
/// the host. `poll_oneoff` (arbitrary timeouts would sleep) and `fd_allocate` (would really
/// allocate disk space) are left out; the preopen is a scratch directory.
#[test]
fn no_panics_on_arbitrary_arguments() {
    const SIGS: &[(&str, &str)] = &[
        ("args_get", "ii"),
        ("args_sizes_get", "ii"),
        ("environ_get", "ii"),
        ("environ_sizes_get", "ii"),
        ("clock_res_get", "ii"),
        ("clock_time_get", "iIi"),
        ("fd_advise", "iIIi"),
        ("fd_close", "i"),
        ("fd_datasync", "i"),
        ("fd_fdstat_get", "ii"),
        ("fd_fdstat_set_flags", "ii"),
        ("fd_fdstat_set_rights", "iII"),
        ("fd_filestat_get", "ii"),
        ("fd_filestat_set_size", "iI"),
        ("fd_filestat_set_times", "iIIi"),
        ("fd_pread", "iiiIi"),
        ("fd_prestat_get", "ii"),
        ("fd_prestat_dir_name", "iii"),
        ("fd_pwrite", "iiiIi"),
        ("fd_read", "iiii"),
        ("fd_readdir", "iiiIi"),
        ("fd_renumber", "ii"),
        ("fd_seek", "iIii"),
        ("fd_sync", "i"),
        ("fd_tell", "ii"),
        ("fd_write", "iiii"),
        ("path_create_directory", "iii"),
        ("path_filestat_get", "iiiii"),
        ("path_filestat_set_times", "iiiiIIi"),
        ("path_link", "iiiiiii"),
        ("path_open", "iiiiiIIii"),
        ("path_readlink", "iiiiii"),
        ("path_remove_directory", "iii"),
        ("path_rename", "iiiiii"),
        ("path_symlink", "iiiii"),
        ("path_unlink_file", "iii"),
        ("proc_raise", "i"),
        ("sched_yield", ""),
        ("random_get", "ii"),
        ("sock_accept", "iii"),
        ("sock_recv", "iiiiii"),
        ("sock_send", "iiiii"),
        ("sock_shutdown", "ii"),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let dir = scratch("arbitrary");
    for &(name, params) in SIGS {
        let wat_params: Vec<&str> = params
            .chars()
            .map(|c| if c == 'i' { "i32" } else { "i64" })
            .collect();
        let gets: String = (0..params.len())
            .map(|i| format!("(local.get {i}) "))
            .collect();
        let src = format!(
            r#"(module
              (import "wasi_snapshot_preview1" "{name}" (func $f (param {p}) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "a/b\00../x/\ff.")
              (func (export "go") (param {p}) (result i32) {gets} call $f))"#,
            p = wat_params.join(" "),
        );
        let module = Module::new(engine(), wat(&src)).unwrap();
        let mut linker: Linker<WasiCtx> = Linker::new(engine());
        kiln_wasi::add_to_linker(&mut linker, |cx| cx).unwrap();
        let mut b = WasiCtxBuilder::new();
        b.args(["a", "b"]).env("K", "V");
        b.preopened_dir(&dir, "d", DirPerms::ReadWrite).unwrap();
        let mut store = Store::new(engine(), b.build());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let go = instance.get_func(&mut store, "go").unwrap();
        for _ in 0..500 {
            let args: Vec<kiln::Val> = params
                .chars()
                .map(|c| {
                    let r = next();
                    let v = match r % 6 {
                        0 => r >> 40,                 // anything
                        1 => (r >> 8) % 8,            // small: descriptors, flags, enums
                        2 => ((r >> 8) % 8192) * 8,   // an aligned pointer in memory
                        3 => (r >> 8) % 16,           // a short length
                        4 => u64::MAX - (r >> 8) % 4, // -1, -2, ...
                        _ => 65536 - (r >> 8) % 64,   // around the end of memory
                    };
                    if c == 'i' {
                        kiln::Val::I32(v as i32)
                    } else {
                        kiln::Val::I64(v as i64)
                    }
                })
                .collect();
            let mut result = [kiln::Val::I32(0)];
            // Ok (an errno) or Err (a trap) are both fine; a panic fails the test.
            if go.call(&mut store, &args, &mut result).is_ok() {
                let errno = result[0].i32().unwrap();
                assert!((0..=76).contains(&errno), "{name} returned {errno}");
            }
        }
    }
}

/// Collects the capability denials it is given.
#[derive(Debug, Default)]
struct Denials(std::sync::Mutex<Vec<kiln::trust::audit::CapabilityDenied>>);

impl kiln::trust::audit::AuditSink for Denials {
    fn record(&self, event: &kiln::trust::audit::AuditEvent<'_>) -> std::io::Result<()> {
        if let kiln::trust::audit::AuditEvent::CapabilityDenied(d) = event {
            self.0.lock().unwrap().push((*d).clone());
        }
        Ok(())
    }
}

#[test]
fn refused_capabilities_are_audited() {
    let (open, mkdir) = (
        r#"(import "wasi_snapshot_preview1" "path_open"
            (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#,
        r#"(import "wasi_snapshot_preview1" "path_create_directory"
            (func $mkdir (param i32 i32 i32) (result i32)))"#,
    );
    let dir = scratch("audit");
    std::fs::create_dir(dir.join("ro")).unwrap();
    let sink = std::sync::Arc::new(Denials::default());
    let audit = kiln::trust::Audit::new().with_sink(sink.clone());
    let setup = |b: &mut WasiCtxBuilder| {
        b.preopened_dir(dir.join("ro"), "ro", DirPerms::ReadOnly)
            .unwrap();
        b.audit(audit.clone()).audit_module_name("guest.wasm");
    };
    // An escape (`perm`), a change to a read-only preopen (`perm`), and an error that is no
    // refusal (`noent`, not recorded).
    let data = r#"(data (i32.const 16) "../secret") (data (i32.const 32) "made")
                  (data (i32.const 48) "missing")"#;
    let escape = "(call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100))";
    assert_eq!(errno_of(open, data, escape, setup), 63);
    let made = "(call $mkdir (i32.const 3) (i32.const 32) (i32.const 4))";
    assert_eq!(errno_of(mkdir, data, made, setup), 63);
    let missing = "(call $open (i32.const 3) (i32.const 0) (i32.const 48) (i32.const 7) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100))";
    assert_eq!(errno_of(open, data, missing, setup), 44);
    // A right stdin does not hold.
    let rights = r#"(import "wasi_snapshot_preview1" "fd_fdstat_set_rights"
        (func $rights (param i32 i64 i64) (result i32)))"#;
    let widen = "(call $rights (i32.const 0) (i64.const -1) (i64.const 0))";
    assert_eq!(errno_of(rights, "", widen, setup), 76);

    let denials = sink.0.lock().unwrap().clone();
    let seen: Vec<(&str, &str)> = denials
        .iter()
        .map(|d| (d.capability.as_str(), d.resource.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("path_open", "../secret"),
            ("path_create_directory", "made"),
            ("fd_fdstat_set_rights", "fd 0"),
        ]
    );
    assert!(
        denials
            .iter()
            .all(|d| d.module.as_deref() == Some("guest.wasm"))
    );
    assert!(
        denials[0]
            .reason
            .contains("outside the preopened directories")
    );
    assert!(denials[2].reason.contains("lacks the right"));
}
