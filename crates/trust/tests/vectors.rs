//! Interop with wasmsign2 0.2.6: the test vectors in `vectors/` (a test key pair and modules it
//! signed) verify, fail and are reproduced byte for byte exactly as the reference says.

use kiln_trust::{
    Coverage, Error, KeyPair, LoadPolicy, PublicKey, SignatureData, encoding::hex, sha256, sign,
    sign_detached, verify,
};

fn vector(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pk() -> PublicKey {
    PublicKey::parse(&vector("pk.key")).unwrap()
}

fn pk2() -> PublicKey {
    PublicKey::parse(&vector("pk2.key")).unwrap()
}

fn sk() -> KeyPair {
    KeyPair::parse(&vector("sk.key")).unwrap()
}

/// Whether `module` (with `detached`) satisfies "signed by `key`, whole module".
fn valid(module: &[u8], detached: Option<&[u8]>, key: PublicKey) -> bool {
    let policy = LoadPolicy::require_signature([key], 1).unwrap();
    policy.evaluate(module, detached, None).allowed
}

#[test]
fn reference_values() {
    assert_eq!(
        hex(&pk().to_compact()),
        "019ff6dc4088ad76b73604a341e97a38cf0fcd794411e56cb711e6d3c307b97308"
    );
    assert_eq!(pk().key_id().to_string(), "7fb4a1c5714a575dd1f5c9ab");
    assert_eq!(sk().public(), pk());
    let answer = vector("answer.wasm");
    assert_eq!(
        hex(&sha256(&answer[8..])),
        "d5738f4fa8bc47294dec20184c899563c674f2315bbf4c6d1e0c9228a3f28089"
    );
}

#[test]
fn signed_modules_verify_with_pk_and_fail_with_pk2() {
    for name in ["signed.wasm", "signed_nokid.wasm"] {
        let m = vector(name);
        assert!(valid(&m, None, pk()), "{name} with pk.key");
        assert!(!valid(&m, None, pk2()), "{name} with pk2.key");
        let v = verify(&m, None, &[pk2(), pk()]).unwrap();
        assert_eq!(v.signers.len(), 1, "{name}");
        assert_eq!(v.signers[0].key, 1);
        assert_eq!(v.signers[0].coverage, Coverage::Whole);
    }
}

#[test]
fn tampered_fails() {
    let m = vector("tampered.wasm");
    assert!(!valid(&m, None, pk()));
    let d = LoadPolicy::require_signature([pk()], 1)
        .unwrap()
        .evaluate(&m, None, None);
    assert!(!d.allowed);
    assert!(d.signers.is_empty());
}

#[test]
fn detached_signature_verifies_answer() {
    let answer = vector("answer.wasm");
    let sig = vector("sig.bin");
    assert!(valid(&answer, Some(&sig), pk()));
    assert!(!valid(&answer, Some(&sig), pk2()));
    // Without the detached signature the module is unsigned.
    assert!(!valid(&answer, None, pk()));
    assert!(matches!(
        verify(&answer, None, &[pk()]),
        Err(Error::NotSigned)
    ));
    // The detached signature is the payload of `signed.wasm`'s signature section.
    let signed = vector("signed.wasm");
    let payload_end = signed.len() - (answer.len() - 8);
    assert_eq!(&signed[payload_end - sig.len()..payload_end], &sig[..]);
}

#[test]
fn detached_layout_matches_reference() {
    let sig = vector("sig.bin");
    assert_eq!(sig.len(), 119);
    assert_eq!(&sig[..6], &[0x01, 0x01, 0x01, 0x01, 0x72, 0x01]);
    let data = SignatureData::parse(&sig).unwrap();
    assert_eq!(data.sets.len(), 1);
    assert_eq!(
        hex(&data.sets[0].hashes[0]),
        "d5738f4fa8bc47294dec20184c899563c674f2315bbf4c6d1e0c9228a3f28089"
    );
    let rec = &data.sets[0].signatures[0];
    assert_eq!(
        hex(rec.key_id.as_deref().unwrap()),
        "7fb4a1c5714a575dd1f5c9ab"
    );
    assert_eq!(rec.payload.len(), 64);
    assert_eq!(data.encode().unwrap(), sig);
}

#[test]
fn unsigned_module_fails() {
    let answer = vector("answer.wasm");
    let d = LoadPolicy::require_signature([pk()], 1).unwrap().evaluate(
        &answer,
        None,
        Some("answer.wasm"),
    );
    assert!(!d.allowed);
    assert!(d.reason.contains("not signed"), "{}", d.reason);
}

#[test]
fn signing_reproduces_wasmsign2_byte_for_byte() {
    let answer = vector("answer.wasm");
    let with_id = sign(&answer, &sk(), Some(&pk().key_id())).unwrap();
    assert_eq!(with_id, vector("signed.wasm"));
    let without_id = sign(&answer, &sk(), None).unwrap();
    assert_eq!(without_id, vector("signed_nokid.wasm"));
    let detached = sign_detached(&answer, &sk(), Some(&pk().key_id()), None).unwrap();
    assert_eq!(detached, vector("sig.bin"));
}
