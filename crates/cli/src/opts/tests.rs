//! Unit tests for `-O` parsing.

use super::*;

#[track_caller]
fn check(args: &[&str], expected: EngineOptions) {
    assert_eq!(EngineOptions::parse(args).unwrap(), expected);
}

#[track_caller]
fn check_err(args: &[&str], needle: &str) {
    let err = EngineOptions::parse(args).unwrap_err().to_string();
    assert!(err.contains(needle), "`{err}` does not contain `{needle}`");
}

#[test]
fn empty() {
    check(&[], EngineOptions::default());
}

#[test]
fn each_key() {
    check(
        &["opt-level=0"],
        EngineOptions {
            opt_level: Some(OptLevel::None),
            ..Default::default()
        },
    );
    check(
        &["opt-level=s"],
        EngineOptions {
            opt_level: Some(OptLevel::SpeedAndSize),
            ..Default::default()
        },
    );
    check(
        &["memory-reservation=4GiB"],
        EngineOptions {
            memory_reservation: Some(4 << 30),
            ..Default::default()
        },
    );
    check(
        &["signals-based-traps=n"],
        EngineOptions {
            signals_based_traps: Some(false),
            ..Default::default()
        },
    );
}

#[test]
fn comma_separated_and_repeated() {
    check(
        &[
            "memory-reservation=0,memory-guard-size=0",
            "signals-based-traps=n",
            "opt-level=2",
        ],
        EngineOptions {
            opt_level: Some(OptLevel::Speed),
            memory_reservation: Some(0),
            memory_guard_size: Some(0),
            signals_based_traps: Some(false),
        },
    );
    // The last setting of a key wins.
    check(
        &["opt-level=0", "opt-level=s"],
        EngineOptions {
            opt_level: Some(OptLevel::SpeedAndSize),
            ..Default::default()
        },
    );
}

#[test]
fn errors() {
    check_err(&["bogus=1"], "unknown option `-O bogus`");
    check_err(&["bogus=1"], "memory-guard-size=BYTES");
    check_err(&["opt-level"], "needs a value");
    check_err(&["opt-level=3"], "invalid value `3` for `-O opt-level`");
    check_err(&["signals-based-traps=maybe"], "expected y or n");
    check_err(&["memory-reservation=lots"], "invalid value `lots`");
}

#[test]
fn byte_sizes() {
    assert_eq!(parse_bytes("0").unwrap(), 0);
    assert_eq!(parse_bytes("65536").unwrap(), 65536);
    assert_eq!(parse_bytes("0x10000").unwrap(), 65536);
    assert_eq!(parse_bytes("64KiB").unwrap(), 65536);
    assert_eq!(parse_bytes("64k").unwrap(), 65536);
    assert_eq!(parse_bytes("32MiB").unwrap(), 32 << 20);
    assert_eq!(parse_bytes("4GiB").unwrap(), 4 << 30);
    assert_eq!(parse_bytes("4G").unwrap(), 4 << 30);
    assert_eq!(parse_bytes("1_000").unwrap(), 1000);
    assert!(parse_bytes("").is_err());
    assert!(parse_bytes("GiB").is_err());
    assert!(parse_bytes("4XB").is_err());
    assert!(parse_bytes("99999999999TiB").is_err());
    assert!(parse_bytes("0xzz").is_err());
}

#[test]
fn codegen_cranelift_settings() {
    let opts = CodegenOptions::parse(&[
        "cranelift-has-sse41=false,cranelift-has_avx2",
        "cranelift-has-popcnt = true",
    ])
    .unwrap();
    assert_eq!(
        opts.cranelift,
        vec![
            ("has_sse41".to_string(), Some("false".to_string())),
            ("has_avx2".to_string(), None),
            ("has_popcnt".to_string(), Some("true".to_string())),
        ]
    );
    for bad in ["opt-level=2", "cranelift-", "has-sse41=false"] {
        let err = CodegenOptions::parse(&[bad]).unwrap_err().to_string();
        assert!(err.contains("unknown option `-C"), "{bad}: {err}");
    }
    // A feature Cranelift does not know is refused when the engine is created.
    let mut config = Config::new();
    CodegenOptions::parse(&["cranelift-has-sse9=true"])
        .unwrap()
        .apply(&mut config);
    let err = kiln::Engine::new(&config).unwrap_err();
    assert!(
        format!("{err:#}").contains("unknown target CPU feature `has_sse9`"),
        "{err:#}"
    );
}

#[test]
fn wasm_options_parse_wasmtime_spellings() {
    let o = WasmOptions::parse(&[
        "fuel=1_000,timeout=1.5s",
        "max-memory-size=64MiB",
        "max-table-elements=10,max-instances=2,max-tables=3,max-memories=4",
        "max-wasm-stack=1MiB,trap-on-grow-failure",
    ])
    .unwrap();
    assert_eq!(o.fuel, Some(1000));
    assert_eq!(o.timeout, Some(std::time::Duration::from_millis(1500)));
    assert_eq!(o.max_memory_size, Some(64 << 20));
    assert_eq!(o.max_table_elements, Some(10));
    assert_eq!(o.max_instances, Some(2));
    assert_eq!(o.max_tables, Some(3));
    assert_eq!(o.max_memories, Some(4));
    assert_eq!(o.max_wasm_stack, Some(1 << 20));
    assert_eq!(o.trap_on_grow_failure, Some(true));
    assert!(o.store_limits().is_some());
    assert!(
        WasmOptions::parse(&["fuel=1"])
            .unwrap()
            .store_limits()
            .is_none()
    );
}

#[test]
fn wasm_options_reject_bad_values_with_the_key() {
    let err = WasmOptions::parse(&["fuel=lots"]).unwrap_err().to_string();
    assert!(err.contains("`-W fuel`"), "{err}");
    let err = WasmOptions::parse(&["timeout=soon"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`-W timeout`"), "{err}");
    let err = WasmOptions::parse(&["nope=1"]).unwrap_err().to_string();
    assert!(err.contains("unknown option `-W nope`"), "{err}");
}

#[test]
fn durations() {
    use std::time::Duration;
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
    assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
    assert_eq!(parse_duration("10us").unwrap(), Duration::from_micros(10));
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("1fortnight").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn wasm_simd_and_multi_memory_keys() {
    let opts = WasmOptions::parse(&["relaxed-simd-deterministic,multi-memory=n"]).unwrap();
    assert_eq!(opts.relaxed_simd_deterministic, Some(true));
    assert_eq!(opts.multi_memory, Some(false));
    let err = WasmOptions::parse(&["relaxed-simd-deterministic=maybe"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("-W relaxed-simd-deterministic"), "{err}");
    let err = WasmOptions::parse(&["simd-please"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("relaxed-simd-deterministic=y|n"), "{err}");
}
