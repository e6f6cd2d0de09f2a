//! The `compile` oracle: validation and compilation never panic, hang or crash, and Kiln
//! accepts exactly the modules the reference validator accepts.
//!
//! Inputs are raw bytes (binary or text), `wasm-smith` modules within Kiln's features (which
//! must compile), `wasm-smith` modules with every feature `wasm-smith` knows (which must be
//! accepted or rejected exactly as `wasmparser` with Kiln's feature set decides), and valid
//! modules with a few bytes mutated.

use crate::generators::{self, Features, KilnConfig};
use arbitrary::{Arbitrary, Result, Unstructured};
use kiln::{Engine, Module};

/// Runs one `compile` input.
pub fn compile(u: &mut Unstructured<'_>) -> Result<()> {
    let kiln = KilnConfig::arbitrary(u)?;
    let engine = Engine::new(&kiln.to_config()).expect("generated engine configuration is valid");
    match u.int_in_range(0..=3u8)? {
        0 => {
            // Raw bytes: binary or text, anything goes; only the absence of a panic counts.
            let bytes = u.bytes(u.len())?;
            let compiled = Module::new(&engine, bytes);
            if bytes.starts_with(b"\0asm") {
                check_agreement(&engine, bytes, compiled.is_ok());
            }
        }
        1 => {
            let config = generators::module_config(u, Features::Kiln)?;
            let wasm = generators::module(u, config)?;
            if let Err(e) = Module::from_binary(&engine, &wasm) {
                panic!("a valid module within Kiln's features failed to compile: {e:?}");
            }
        }
        2 => {
            // Every wasm-smith feature: proposals Kiln lacks must be rejected cleanly.
            let config = wasm_smith::Config::arbitrary(u)?;
            let mut config = config;
            config.max_funcs = config.max_funcs.min(40);
            config.max_instructions = config.max_instructions.min(400);
            config.max_types = config.max_types.min(50);
            let wasm = generators::module(u, config)?;
            let compiled = Module::from_binary(&engine, &wasm);
            check_agreement(&engine, &wasm, compiled.is_ok());
        }
        _ => {
            let config = generators::module_config(u, Features::Kiln)?;
            let mut wasm = generators::module(u, config)?;
            let edits = u.int_in_range(1..=4u8)?;
            for _ in 0..edits {
                if wasm.is_empty() {
                    break;
                }
                let at = u.choose_index(wasm.len())?;
                match u.int_in_range(0..=2u8)? {
                    0 => wasm[at] = u.arbitrary()?,
                    1 => {
                        wasm.remove(at);
                    }
                    _ => wasm.insert(at, u.arbitrary()?),
                }
            }
            let compiled = Module::from_binary(&engine, &wasm);
            check_agreement(&engine, &wasm, compiled.is_ok());
        }
    }
    Ok(())
}

/// Kiln compiles `wasm` if and only if `wasmparser`, with Kiln's features, validates it;
/// `Module::validate` agrees too.
fn check_agreement(engine: &Engine, wasm: &[u8], compiled: bool) {
    let features = kiln_environ::wasm_features();
    let reference = wasmparser::Validator::new_with_features(features).validate_all(wasm);
    assert_eq!(
        compiled,
        reference.is_ok(),
        "Kiln {} a module that wasmparser {} ({:?})",
        if compiled { "compiled" } else { "rejected" },
        if reference.is_ok() {
            "validates"
        } else {
            "rejects"
        },
        reference.err(),
    );
    let validated = Module::validate(engine, wasm);
    assert_eq!(
        validated.is_ok(),
        compiled,
        "Module::validate and compilation disagree ({validated:?})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_holds_for_valid_and_invalid_modules() {
        let engine = Engine::default();
        let empty = b"\0asm\x01\0\0\0";
        check_agreement(&engine, empty, Module::from_binary(&engine, empty).is_ok());
        let bad = b"\0asm\x02\0\0\0";
        check_agreement(&engine, bad, Module::from_binary(&engine, bad).is_ok());
    }

    #[test]
    #[should_panic(expected = "Kiln rejected a module that wasmparser validates")]
    fn a_rejected_valid_module_is_a_finding() {
        check_agreement(&Engine::default(), b"\0asm\x01\0\0\0", false);
    }

    /// Proposals outside Kiln's feature set are rejected cleanly, not compiled.
    #[test]
    fn unsupported_proposals_are_rejected() {
        let engine = Engine::default();
        for wat in [
            r#"(module (func (return_call 0)))"#,
            r#"(module (memory i64 1))"#,
            r#"(module (memory 1 1 shared))"#,
            r#"(module (tag))"#,
        ] {
            let wasm = wat::parse_str(wat).unwrap();
            assert!(Module::from_binary(&engine, &wasm).is_err(), "{wat}");
            check_agreement(&engine, &wasm, false);
        }
    }
}
