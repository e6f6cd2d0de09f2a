//! Tests of load policies: thresholds, whole versus partial coverage, the truncation attack,
//! pins, and what each decision says.

use super::*;
use crate::testutil::*;
use crate::{PinSet, sign, wasm};

fn policy(keys: &[&crate::KeyPair], threshold: usize) -> LoadPolicy {
    LoadPolicy::require_signature(keys.iter().map(|k| k.public()), threshold).unwrap()
}

#[test]
fn whole_module_signature() {
    let a = key(1);
    let signed = sign(ANSWER, &a, Some(&a.public().key_id())).unwrap();
    let d = policy(&[&a], 1).evaluate(&signed, None, Some("m.wasm"));
    assert!(d.allowed, "{}", d.reason);
    assert_eq!(d.signers, vec![a.public().key_id()]);
    assert_eq!(d.module.as_deref(), Some("m.wasm"));
    assert_eq!(d.size, signed.len());
    assert_eq!(d.sha256, crate::sha256(&signed));
    assert!(d.reason.contains("whole module"), "{}", d.reason);
    assert!(d.reason.contains(&a.public().key_id().to_string()));
}

#[test]
fn refusals_and_their_reasons() {
    let (a, b) = (key(1), key(2));
    let signed_by_b = sign(ANSWER, &b, None).unwrap();
    let mut modified = sign(ANSWER, &a, None).unwrap();
    let last = modified.len() - 1;
    modified[last] ^= 1;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("unsigned", ANSWER.to_vec(), "module is not signed"),
        ("text", b"(module)".to_vec(), "not a WebAssembly binary"),
        (
            "untrusted signer",
            signed_by_b,
            "no valid signature from a trusted key",
        ),
        ("modified", modified, "modified after signing"),
        (
            "malformed",
            module(&[custom("signature", &[1, 1, 1, 5]), section(1, &[0])]),
            "malformed signature data",
        ),
        (
            "unsupported",
            module(&[custom("signature", &[1, 1, 9, 0]), section(1, &[0])]),
            "unsupported signature data: hash function 0x09",
        ),
    ];
    for (name, m, expected) in cases {
        let d = policy(&[&a], 1).evaluate(&m, None, None);
        assert!(!d.allowed, "{name}");
        assert!(d.reason.contains(expected), "{name}: {}", d.reason);
        assert!(!d.reason.ends_with('.'));
    }
}

#[test]
fn two_signers_threshold_two() {
    let (a, b, c) = (key(1), key(2), key(3));
    let by_a = sign(ANSWER, &a, Some(&a.public().key_id())).unwrap();
    let by_ab = sign(&by_a, &b, Some(&b.public().key_id())).unwrap();
    let two_of_three = policy(&[&a, &b, &c], 2);
    let d = two_of_three.evaluate(&by_ab, None, None);
    assert!(d.allowed, "{}", d.reason);
    assert_eq!(d.signers.len(), 2);
    assert!(
        d.reason.starts_with("signed by 2 of the 2 required"),
        "{}",
        d.reason
    );
    let d = two_of_three.evaluate(&by_a, None, None);
    assert!(!d.allowed);
    assert!(
        d.reason.contains("signed by only 1 of the 2 required"),
        "{}",
        d.reason
    );
    // The same key listed twice is one key: a threshold of 2 cannot be met by it.
    let e = LoadPolicy::require_signature([a.public(), a.public()], 2).unwrap_err();
    assert!(e.to_string().contains("distinct trusted keys (1)"), "{e}");
    // A module signed twice by the same key (two layouts) still counts once.
    let mut ext = by_a.clone();
    ext.extend_from_slice(&custom("x", b""));
    assert!(!policy(&[&a, &b], 2).evaluate(&ext, None, None).allowed);
}

#[test]
fn bad_policies() {
    let a = key(1);
    assert!(LoadPolicy::require_signature([], 1).is_err());
    assert!(LoadPolicy::require_signature([a.public()], 0).is_err());
    assert!(LoadPolicy::require_signature([a.public()], 2).is_err());
}

#[test]
fn truncated_module_is_refused_unless_partial_is_allowed() {
    let a = key(1);
    let signed = sign(&three_parts(), &a, None).unwrap();
    let l = wasm::layout(&signed).unwrap();
    let first = wasm::content_hashes(&signed[l.content_start..]).boundaries[0].0;
    let truncated = &signed[..l.content_start + first];

    let strict = policy(&[&a], 1);
    assert!(strict.evaluate(&signed, None, None).allowed);
    let d = strict.evaluate(truncated, None, None);
    assert!(!d.allowed);
    assert!(d.reason.contains("covers only a prefix"), "{}", d.reason);
    assert!(d.reason.contains("truncated or extended"), "{}", d.reason);
    assert!(d.signers.is_empty());

    let lenient = policy(&[&a], 1).allow_partial(true);
    let d = lenient.evaluate(truncated, None, None);
    assert!(d.allowed, "{}", d.reason);
    assert!(d.reason.contains("partial"), "{}", d.reason);
    assert!(d.policy.allow_partial);
}

#[test]
fn partial_signatures_with_two_signers() {
    let (a, b) = (key(1), key(2));
    let split = wasm::add_delimiters(ANSWER, |_| true, counter()).unwrap();
    let signed = sign(&sign(&split, &a, None).unwrap(), &b, None).unwrap();
    let mut extended = signed.clone();
    extended.extend_from_slice(&custom("debug", b"added later"));
    assert!(policy(&[&a, &b], 2).evaluate(&signed, None, None).allowed);
    assert!(!policy(&[&a, &b], 2).evaluate(&extended, None, None).allowed);
    let d = policy(&[&a, &b], 2)
        .allow_partial(true)
        .evaluate(&extended, None, None);
    assert!(d.allowed, "{}", d.reason);
    let unsigned = custom("debug", b"added later").len();
    assert!(
        d.reason.contains(&format!(", {unsigned} are not")),
        "{}",
        d.reason
    );
}

#[test]
fn pins() {
    let mut pins = PinSet::new();
    pins.insert(crate::sha256(ANSWER), "answer.wasm");
    let p = LoadPolicy::new().with_pins(pins.clone());
    let d = p.evaluate(ANSWER, None, None);
    assert!(d.allowed);
    assert_eq!(d.pin.as_deref(), Some("answer.wasm"));
    assert_eq!(d.reason, "pinned as `answer.wasm`");
    let other = module(&[section(1, &[0])]);
    let d = p.evaluate(&other, None, None);
    assert!(!d.allowed);
    assert!(d.reason.contains("is not in the pin file"), "{}", d.reason);
    assert!(
        d.reason
            .contains(&crate::encoding::hex(&crate::sha256(&other)))
    );

    // Pins and signatures together: both must hold.
    let a = key(1);
    let both = policy(&[&a], 1).with_pins(pins);
    let d = both.evaluate(ANSWER, None, None);
    assert!(
        !d.allowed && d.reason.contains("not signed"),
        "{}",
        d.reason
    );
    let signed = sign(ANSWER, &a, None).unwrap();
    let d = both.evaluate(&signed, None, None);
    assert!(
        !d.allowed && d.reason.contains("not in the pin file"),
        "{}",
        d.reason
    );
    let mut pinned_signed = PinSet::new();
    pinned_signed.insert(crate::sha256(&signed), "");
    let d = policy(&[&a], 1)
        .with_pins(pinned_signed)
        .evaluate(&signed, None, None);
    assert!(d.allowed);
    assert!(d.reason.starts_with("pinned; signed by 1"), "{}", d.reason);
}

#[test]
fn empty_policy_allows_everything() {
    let d = LoadPolicy::new().evaluate(b"anything", None, None);
    assert!(d.allowed);
    assert_eq!(d.reason, "no provenance requirement");
    assert_eq!(d.policy.to_string(), "none");
}

#[test]
fn summary() {
    let (a, b) = (key(1), key(2));
    let mut pins = PinSet::new();
    pins.insert([0; 32], "x");
    let p = policy(&[&a, &b], 2).with_pins(pins);
    let s = p.summary();
    assert!(s.require_signature);
    assert_eq!(s.threshold, 2);
    assert_eq!(s.trusted, vec![a.public().key_id(), b.public().key_id()]);
    assert_eq!(s.pins, Some(1));
    assert_eq!(
        s.to_string(),
        format!(
            "signed by 2 of [{}, {}], whole module; pinned (1 hashes)",
            a.public().key_id(),
            b.public().key_id()
        )
    );
}

#[test]
fn check_refuses_with_the_decision() {
    let a = key(1);
    match policy(&[&a], 1).check(ANSWER, None, Some("answer.wasm")) {
        Err(crate::Error::Refused(d)) => {
            assert!(!d.allowed);
            assert_eq!(d.module.as_deref(), Some("answer.wasm"));
        }
        other => panic!("{other:?}"),
    }
    let e = policy(&[&a], 1)
        .check(ANSWER, None, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("module refused by the load policy: module is not signed"),
        "{e}"
    );
    let e = policy(&[&a], 1)
        .check(ANSWER, None, Some("dir/answer.wasm"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("module `dir/answer.wasm` refused by the load policy: module is not signed"),
        "{e}"
    );
    let signed = sign(ANSWER, &a, None).unwrap();
    assert!(policy(&[&a], 1).check(&signed, None, None).is_ok());
}

#[test]
fn detached_signature_policy() {
    let a = key(1);
    let sig = crate::sign_detached(ANSWER, &a, None, None).unwrap();
    let d = policy(&[&a], 1).evaluate(ANSWER, Some(&sig), None);
    assert!(d.allowed);
    assert!(d.reason.contains("detached"), "{}", d.reason);
    let d = policy(&[&a], 1).evaluate(ANSWER, Some(&sig[..sig.len() - 1]), None);
    assert!(!d.allowed);
}
