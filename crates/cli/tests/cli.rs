//! End-to-end tests of the `kiln` binary on the small modules and scripts in `fixtures/`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `kiln` with `args`, where `@name` stands for the path of fixture `name`.
fn kiln(args: &[&str]) -> Output {
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix('@') {
            Some(name) => fixture(name).display().to_string(),
            None => a.to_string(),
        })
        .collect();
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(&args)
        // Keep Rust backtraces out of the error output being checked.
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("failed to start kiln")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn check_ok(args: &[&str], expected_stdout: &str) {
    let o = kiln(args);
    assert!(o.status.success(), "kiln {args:?} failed: {}", stderr(&o));
    assert_eq!(stdout(&o), expected_stdout, "kiln {args:?}");
}

#[track_caller]
fn check_err(args: &[&str], needles: &[&str]) -> Output {
    let o = kiln(args);
    assert!(
        !o.status.success(),
        "kiln {args:?} succeeded: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(err.starts_with("Error: "), "{err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "`{needle}` not in stderr of kiln {args:?}:\n{err}"
        );
    }
    o
}

#[test]
fn run_invoke_after_module() {
    check_ok(&["run", "@add.wat", "--invoke", "add", "2", "3"], "5\n");
}

#[test]
fn run_invoke_before_module() {
    check_ok(&["run", "--invoke", "add", "@add.wat", "2", "3"], "5\n");
    check_ok(&["run", "@add.wat", "--invoke=add", "2", "3"], "5\n");
}

#[test]
fn run_negative_and_wide_args() {
    check_ok(&["run", "@add.wat", "--invoke", "add", "-2", "-3"], "-5\n");
    check_ok(
        &["run", "@add.wat", "--invoke", "add", "4294967295", "1"],
        "0\n",
    );
    check_ok(
        &[
            "run",
            "@add.wat",
            "--invoke",
            "add64",
            "9223372036854775807",
            "-1",
        ],
        "9223372036854775806\n",
    );
}

#[test]
fn run_floats_and_multiple_results() {
    check_ok(&["run", "@add.wat", "--invoke", "halve", "3"], "1.5\n1.5\n");
    check_ok(
        &["run", "@add.wat", "--invoke", "halve", "-inf"],
        "-inf\n1.5\n",
    );
    check_ok(
        &["run", "@add.wat", "--invoke", "halve", "nan"],
        "NaN\n1.5\n",
    );
}

#[test]
fn run_with_engine_options() {
    let args = [
        "run",
        "-O",
        "opt-level=0",
        "-O",
        "memory-reservation=0,memory-guard-size=0,signals-based-traps=n",
        "@add.wat",
        "--invoke",
        "add",
        "20",
        "22",
    ];
    check_ok(&args, "42\n");
}

#[test]
fn run_bad_engine_option() {
    check_err(
        &["run", "-O", "turbo=y", "@add.wat"],
        &["unknown option `-O turbo`", "opt-level=0|1|2|s"],
    );
}

#[test]
fn run_bad_arguments() {
    check_err(
        &["run", "@add.wat", "--invoke", "add", "1"],
        &["takes 2 arguments, but 1 were given"],
    );
    check_err(
        &["run", "@add.wat", "--invoke", "add", "1", "x"],
        &["argument 2 of `add`", "invalid i32 `x`"],
    );
    check_err(
        &["run", "@add.wat", "--invoke", "nope"],
        &["no export named `nope`"],
    );
}

#[test]
fn run_trap_prints_message_and_backtrace() {
    let o = check_err(
        &["run", "@trap.wat", "--invoke", "outer"],
        &[
            "unreachable",
            "wasm backtrace",
            "die",
            "failed to invoke `outer`",
        ],
    );
    let err = stderr(&o);
    // Innermost frame first.
    let die = err.find("!die").expect("frame of `die`");
    let outer = err.find("!outer").expect("frame of `outer`");
    assert!(die < outer, "{err}");
}

#[test]
fn run_default_export() {
    check_ok(&["run", "@start.wat"], "");
}

#[test]
fn run_missing_import() {
    check_err(&["run", "@imports.wat"], &["env::missing"]);
}

#[test]
fn run_missing_file() {
    check_err(&["run", "@nonexistent.wasm"], &["failed to read"]);
}

#[test]
fn wast_passing_script() {
    let o = kiln(&["wast", "@pass.wast"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("pass.wast: 4 passed, 0 failed"), "{out}");
    assert_eq!(out.lines().last(), Some("4 passed, 0 failed"), "{out}");
}

#[test]
fn wast_failing_script() {
    let o = kiln(&["wast", "@pass.wast", "@fail.wast"]);
    let out = stdout(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("fail.wast: 2 passed, 1 failed"), "{out}");
    assert!(
        out.contains(
            "fail.wast:6:2: assert_return: result mismatch: expected i32.const 2, got i32.const 1"
        ),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("6 passed, 1 failed"), "{out}");
}

#[test]
fn wast_explicit_bounds_checks() {
    let o = kiln(&[
        "wast",
        "-O",
        "signals-based-traps=n,memory-reservation=0",
        "@pass.wast",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn inspect_lists_exports_and_sizes() {
    let o = kiln(&["inspect", "@add.wat"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("add: func (param i32 i32) (result i32)"),
        "{out}"
    );
    assert!(
        out.contains("functions: 3 (0 imported, 3 defined)"),
        "{out}"
    );
    assert!(out.contains("imports (0):"), "{out}");
    let o = kiln(&["inspect", "@imports.wat"]);
    assert!(stdout(&o).contains("env::missing: func"), "{}", stdout(&o));
}

#[test]
fn version() {
    let o = kiln(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("kiln "), "{}", stdout(&o));
}

#[test]
fn run_binary_module() {
    let wasm = wat::parse_file(fixture("add.wat")).expect("fixture parses");
    let path = std::env::temp_dir().join(format!("kiln-cli-test-{}.wasm", std::process::id()));
    std::fs::write(&path, wasm).expect("write the module");
    let path_str = path.display().to_string();
    let o = kiln(&["run", &path_str, "--invoke", "add", "40", "2"]);
    let _ = std::fs::remove_file(&path);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");
}

#[test]
fn run_simd_on_the_baseline_cpu() {
    let round = ["@simd.wat", "--invoke", "round", "2.5", "-3.5"];
    let swizzle = [
        "@simd.wat",
        "--invoke",
        "swizzle",
        "0x0f0e0d0c0b0a09080706050403020100",
        "0x00ff10010203040506070809f00a0b0c",
    ];
    let expected_round = "3\n-4\n2\n-3\n";
    let expected_swizzle = "0x000000010203040506070809000a0b0c\n";
    check_ok(&[&["run"][..], &round].concat(), expected_round);
    check_ok(&[&["run"][..], &swizzle].concat(), expected_swizzle);
    let baseline = [
        "run",
        "-C",
        "cranelift-has-sse41=false,cranelift-has-ssse3=false",
        "-C",
        "cranelift-has-sse42=false,cranelift-has-avx=false,cranelift-has-avx2=false",
        "-Ccranelift-has_avx512f=false",
    ];
    check_ok(&[&baseline[..], &round].concat(), expected_round);
    check_ok(&[&baseline[..], &swizzle].concat(), expected_swizzle);
}

#[test]
fn run_bad_codegen_option() {
    check_err(
        &["run", "-C", "cranelift-has-sse9=false", "@simd.wat"],
        &["unknown target CPU feature `has_sse9`"],
    );
    check_err(
        &["run", "-C", "opt-level=2", "@simd.wat"],
        &["unknown option `-C opt-level`"],
    );
}

#[test]
fn run_relaxed_simd_deterministic() {
    // relaxed_swizzle with index 0x11: lane 1 with `pshufb`, zero when deterministic.
    let args = |extra: &[&'static str]| {
        let mut a = vec!["run"];
        a.extend_from_slice(extra);
        a.extend([
            "@simd.wat",
            "--invoke",
            "relaxed_swizzle",
            "0x0f0e0d0c0b0a09080706050403020100",
            "0x00000000000000000000000000000011",
        ]);
        a
    };
    check_ok(
        &args(&["-W", "relaxed-simd-deterministic"]),
        "0x00000000000000000000000000000000\n",
    );
    check_ok(
        &args(&[
            "-W",
            "relaxed-simd-deterministic=y",
            "-C",
            "cranelift-has-ssse3=false",
        ]),
        "0x00000000000000000000000000000000\n",
    );
}

#[test]
fn profile_perfmap_names_compiled_functions() {
    let child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "run",
            "--cache",
            "off",
            "--profile",
            "perfmap",
            "--invoke",
            "add",
        ])
        .arg(fixture("add.wat"))
        .args(["1", "2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("failed to start kiln");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let map = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let text = std::fs::read_to_string(&map).unwrap();
    std::fs::remove_file(&map).unwrap();
    let line = text.lines().next().expect("a line per function");
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 3, "{line}");
    assert!(usize::from_str_radix(fields[0], 16).is_ok(), "{line}");
    assert!(usize::from_str_radix(fields[1], 16).unwrap() > 0, "{line}");
    assert!(fields[2].starts_with("wasm["), "{line}");
    let o = kiln(&["run", "--profile", "bogus", "@add.wat"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("perfmap"), "{}", stderr(&o));
}
