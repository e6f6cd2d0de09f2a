//! Tests of signing: layout of the output, multiple signers, duplicates, rolling hashes.

use super::*;
use crate::testutil::*;
use crate::verify::{Coverage, verify};

#[test]
fn embedded_signature_is_first_and_content_is_untouched() {
    let kp = key(1);
    let signed = sign(ANSWER, &kp, None).unwrap();
    let layout = wasm::layout(&signed).unwrap();
    assert!(layout.embedded.is_some());
    assert_eq!(&signed[layout.content_start..], &ANSWER[HEADER_LEN..]);
    assert_eq!(&signed[..HEADER_LEN], &ANSWER[..HEADER_LEN]);
}

#[test]
fn second_signer_joins_the_same_set() {
    let (a, b) = (key(1), key(2));
    let once = sign(ANSWER, &a, Some(&a.public().key_id())).unwrap();
    let twice = sign(&once, &b, Some(&b.public().key_id())).unwrap();
    let data = SignatureData::parse(wasm::layout(&twice).unwrap().embedded.unwrap()).unwrap();
    assert_eq!(data.sets.len(), 1);
    assert_eq!(data.sets[0].signatures.len(), 2);
    let v = verify(&twice, None, &[a.public(), b.public()]).unwrap();
    assert_eq!(v.signers.len(), 2);
    // Content is still the original module's.
    let l = wasm::layout(&twice).unwrap();
    assert_eq!(&twice[l.content_start..], &ANSWER[HEADER_LEN..]);
}

#[test]
fn same_key_twice_is_refused() {
    let a = key(1);
    let once = sign(ANSWER, &a, None).unwrap();
    let e = sign(&once, &a, None).unwrap_err().to_string();
    assert!(e.contains("already signed by key"), "{e}");
    // With or without a key id, it is the same signature.
    assert!(sign(&once, &a, Some(&a.public().key_id())).is_err());
}

#[test]
fn different_layout_adds_a_set() {
    let (a, b) = (key(1), key(2));
    let once = sign(ANSWER, &a, None).unwrap();
    let mut extended = once.clone();
    extended.extend_from_slice(&custom("late", b"added after the first signature"));
    let twice = sign(&extended, &b, None).unwrap();
    let data = SignatureData::parse(wasm::layout(&twice).unwrap().embedded.unwrap()).unwrap();
    assert_eq!(data.sets.len(), 2);
    let v = verify(&twice, None, &[a.public(), b.public()]).unwrap();
    // Only b signed the module as it is now.
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].key, 1);
    assert_eq!(v.mismatched, 1);
}

#[test]
fn rolling_signature_has_one_hash_per_part() {
    let a = key(1);
    let signed = sign(&three_parts(), &a, None).unwrap();
    let data = SignatureData::parse(wasm::layout(&signed).unwrap().embedded.unwrap()).unwrap();
    assert_eq!(data.sets[0].hashes.len(), 3);
    let v = verify(&signed, None, &[a.public()]).unwrap();
    assert_eq!(v.signers[0].coverage, Coverage::Whole);
}

#[test]
fn detached_covers_everything_after_the_header() {
    let a = key(1);
    let sig = sign_detached(ANSWER, &a, None, None).unwrap();
    let v = verify(ANSWER, Some(&sig), &[a.public()]).unwrap();
    assert!(v.detached);
    assert_eq!(v.signers[0].coverage, Coverage::Whole);
    let b = key(2);
    let both = sign_detached(ANSWER, &b, None, Some(&sig)).unwrap();
    let v = verify(ANSWER, Some(&both), &[a.public(), b.public()]).unwrap();
    assert_eq!(v.signers.len(), 2);
}

#[test]
fn refuses_what_it_cannot_sign() {
    let a = key(1);
    let late = module(&[section(1, &[0]), custom("signature", b"x")]);
    assert!(
        sign(&late, &a, None)
            .unwrap_err()
            .to_string()
            .contains("not its first section")
    );
    assert!(sign(b"(module)", &a, None).is_err());
    let broken = module(&[section(1, &[0]), vec![3, 9]]);
    assert!(sign(&broken, &a, None).is_err());
    let bad_previous = module(&[custom("signature", &[2, 1, 1, 0]), section(1, &[0])]);
    assert!(matches!(
        sign(&bad_previous, &a, None),
        Err(Error::Unsupported(_))
    ));
    let too_many =
        wasm::add_delimiters(&module(&vec![custom("x", b""); 65]), |_| true, counter()).unwrap();
    assert!(
        sign(&too_many, &a, None)
            .unwrap_err()
            .to_string()
            .contains("65 parts")
    );
}

#[test]
fn crate_doc_example() {
    // The example in `lib.rs` (doctests are off for this crate).
    let key = KeyPair::from_seed(&[7; 32]);
    let module = b"\0asm\x01\0\0\0";
    let signed = sign(module, &key, Some(&key.public().key_id())).unwrap();
    let policy = crate::LoadPolicy::require_signature([key.public()], 1).unwrap();
    assert!(policy.evaluate(&signed, None, Some("m.wasm")).allowed);
    assert!(!policy.evaluate(module, None, Some("m.wasm")).allowed);
}
