//! Tests of load policies on engines: refusal before parsing, detached signatures, pins, and
//! that an allowed module compiles and runs.

use super::*;
use crate::trust::{self, KeyPair};
use crate::{Linker, Store};

const ANSWER: &[u8] = include_bytes!("../../../trust/tests/vectors/answer.wasm");
const SIGNED: &[u8] = include_bytes!("../../../trust/tests/vectors/signed.wasm");
const SIG: &[u8] = include_bytes!("../../../trust/tests/vectors/sig.bin");
const PK: &[u8] = include_bytes!("../../../trust/tests/vectors/pk.key");
const PK2: &[u8] = include_bytes!("../../../trust/tests/vectors/pk2.key");

fn engine(policy: LoadPolicy) -> Engine {
    let mut config = Config::new();
    config.load_policy(policy);
    Engine::new(&config).unwrap()
}

fn trusting(pk: &[u8]) -> Engine {
    engine(LoadPolicy::require_signature([PublicKey::parse(pk).unwrap()], 1).unwrap())
}

/// The decision inside a refusal.
#[track_caller]
fn refusal(e: anyhow::Error) -> trust::Decision {
    match e.downcast::<trust::Error>() {
        Ok(trust::Error::Refused(d)) => *d,
        other => panic!("not a refusal: {other:?}"),
    }
}

fn answer(module: &Module) -> i32 {
    let mut store = Store::new(module.engine(), ());
    let instance = Linker::new(module.engine())
        .instantiate(&mut store, module)
        .unwrap();
    let f = instance
        .get_typed_func::<(), i32>(&mut store, "answer")
        .unwrap();
    f.call(&mut store, ()).unwrap()
}

#[test]
fn signed_module_loads_and_runs() {
    let engine = trusting(PK);
    assert_eq!(answer(&Module::from_binary(&engine, SIGNED).unwrap()), 42);
    assert_eq!(answer(&Module::new(&engine, SIGNED).unwrap()), 42);
}

#[test]
fn refused_modules() {
    let engine = trusting(PK);
    let d = refusal(Module::from_binary(&engine, ANSWER).unwrap_err());
    assert!(d.reason.contains("not signed"), "{}", d.reason);
    let d = refusal(Module::new(&engine, "(module)").unwrap_err());
    assert!(
        d.reason.contains("not a WebAssembly binary"),
        "{}",
        d.reason
    );
    let d = refusal(Module::from_binary(&trusting(PK2), SIGNED).unwrap_err());
    assert!(d.reason.contains("no valid signature"), "{}", d.reason);
}

#[test]
fn refusal_comes_before_parsing() {
    // Not a valid module at all: the policy speaks first.
    let garbage = b"\0asm\x01\0\0\0\x0a\xff\xff\xff\xff\x0f";
    let e = Module::from_binary(&trusting(PK), garbage).unwrap_err();
    assert!(e.to_string().contains("refused by the load policy"), "{e}");
    // The same bytes, pinned, get past the policy and fail in the parser.
    let mut pins = PinSet::new();
    pins.insert(trust::sha256(garbage), "garbage");
    let e = Module::from_binary(&engine(LoadPolicy::new().with_pins(pins)), garbage).unwrap_err();
    assert!(e.downcast_ref::<trust::Error>().is_none(), "{e}");
}

#[test]
fn detached_signature() {
    let engine = trusting(PK);
    let m = Module::from_binary_with_signature(&engine, ANSWER, SIG).unwrap();
    assert_eq!(answer(&m), 42);
    let e = Module::from_binary_with_signature(&trusting(PK2), ANSWER, SIG).unwrap_err();
    refusal(e);
    let e = Module::from_binary_with_signature(&Engine::default(), ANSWER, SIG).unwrap_err();
    assert!(
        e.to_string().contains("needs an engine with a load policy"),
        "{e}"
    );
}

#[test]
fn files_are_named_in_decisions() {
    let dir = std::env::temp_dir().join(format!("kiln-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("answer.wasm");
    std::fs::write(&path, ANSWER).unwrap();
    let d = refusal(Module::from_file(&trusting(PK), &path).unwrap_err());
    assert_eq!(d.module, Some(path.display().to_string()));
    let m = Module::from_file_with_signature(&trusting(PK), &path, SIG).unwrap();
    assert_eq!(answer(&m), 42);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pins_and_no_policy() {
    let mut pins = PinSet::new();
    pins.insert(trust::sha256(ANSWER), "answer.wasm");
    let engine = engine(LoadPolicy::new().with_pins(pins));
    assert_eq!(answer(&Module::new(&engine, ANSWER).unwrap()), 42);
    let d = refusal(Module::new(&engine, SIGNED).unwrap_err());
    assert!(d.reason.contains("not in the pin file"), "{}", d.reason);
    assert!(engine.audit().is_some());
    // Without a policy nothing is checked.
    assert!(Engine::default().load_policy().is_none());
    assert!(Engine::default().audit().is_none());
    assert_eq!(
        answer(&Module::new(&Engine::default(), ANSWER).unwrap()),
        42
    );
}

#[test]
fn signing_with_a_fresh_key() {
    let key = KeyPair::generate().unwrap();
    let signed = trust::sign(ANSWER, &key, Some(&key.public().key_id())).unwrap();
    let engine = engine(LoadPolicy::require_signature([key.public()], 1).unwrap());
    assert_eq!(answer(&Module::new(&engine, &signed).unwrap()), 42);
}
