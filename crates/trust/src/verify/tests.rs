//! Tests of verification: key ids as hints, unknown algorithms, rolling and partial coverage,
//! the truncation attack, and mutated modules.

use super::*;
use crate::format::{SignatureRecord, message};
use crate::sign::sign;
use crate::testutil::*;
use crate::wasm::custom_section;

fn embedded(signed: &[u8]) -> SignatureData {
    SignatureData::parse(wasm::layout(signed).unwrap().embedded.unwrap()).unwrap()
}

/// `signed` with its signature section replaced by `data`.
fn with_data(signed: &[u8], data: &SignatureData) -> Vec<u8> {
    let l = wasm::layout(signed).unwrap();
    [
        &signed[..HEADER_LEN],
        &custom_section("signature", &data.encode().unwrap()).unwrap()[..],
        &signed[l.content_start..],
    ]
    .concat()
}

#[test]
fn unsigned_and_not_wasm() {
    assert!(matches!(
        verify(ANSWER, None, &[key(1).public()]),
        Err(Error::NotSigned)
    ));
    assert!(matches!(
        verify(b"(module)", None, &[]),
        Err(Error::NotWasm(_))
    ));
}

#[test]
fn wrong_key_id_hint_is_skipped_but_unknown_ids_are_tried() {
    let (a, b) = (key(1), key(2));
    // Signed by a, but labelled with b's key id: never tried against a when b is trusted too.
    let mislabelled = sign(ANSWER, &a, Some(&b.public().key_id())).unwrap();
    let v = verify(&mislabelled, None, &[a.public(), b.public()]).unwrap();
    assert!(v.signers.is_empty());
    // A key id that matches no trusted key is only a hint: every key is tried.
    let custom_id = sign(ANSWER, &a, Some(&crate::KeyId([0xee; 12]))).unwrap();
    let v = verify(&custom_id, None, &[b.public(), a.public()]).unwrap();
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].key, 1);
    assert_eq!(v.signers[0].key_id, a.public().key_id());
}

#[test]
fn unknown_algorithm_is_not_satisfied_and_not_an_error() {
    let a = key(1);
    let signed = sign(ANSWER, &a, None).unwrap();
    let mut data = embedded(&signed);
    data.sets[0].signatures[0].alg_id = 0x42;
    let v = verify(&with_data(&signed, &data), None, &[a.public()]).unwrap();
    assert!(v.signers.is_empty());
    assert_eq!(v.unknown_algorithms, 1);
    // Next to a valid Ed25519 record, an unknown one changes nothing.
    let mut data = embedded(&signed);
    data.sets[0].signatures.insert(
        0,
        SignatureRecord {
            key_id: None,
            alg_id: 0x02,
            payload: vec![0x80, 0x01, 0xaa],
        },
    );
    let v = verify(&with_data(&signed, &data), None, &[a.public()]).unwrap();
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.unknown_algorithms, 1);
}

#[test]
fn invalid_signature_bytes_do_not_verify() {
    let a = key(1);
    let signed = sign(ANSWER, &a, None).unwrap();
    let mut data = embedded(&signed);
    data.sets[0].signatures[0].payload[10] ^= 1;
    assert!(
        verify(&with_data(&signed, &data), None, &[a.public()])
            .unwrap()
            .signers
            .is_empty()
    );
    // A hash set that does not match the content counts as "mismatched".
    let mut data = embedded(&signed);
    data.sets[0].hashes[0][0] ^= 1;
    data.sets[0].signatures[0].payload = a.sign(&message(&data.sets[0].hashes)).to_vec();
    let v = verify(&with_data(&signed, &data), None, &[a.public()]).unwrap();
    assert!(v.signers.is_empty());
    assert_eq!(v.mismatched, 1);
}

#[test]
fn truncation_at_a_delimiter_is_only_a_prefix() {
    let a = key(1);
    let signed = sign(&three_parts(), &a, None).unwrap();
    let l = wasm::layout(&signed).unwrap();
    let content = &signed[l.content_start..];
    let boundaries = wasm::content_hashes(content).boundaries;
    assert_eq!(
        verify(&signed, None, &[a.public()]).unwrap().signers[0].coverage,
        Coverage::Whole
    );
    for (end, _) in &boundaries {
        // Cut right after a delimiter: every remaining byte is covered by a signed hash, but
        // not by the last one.
        let truncated = &signed[..l.content_start + end];
        let v = verify(truncated, None, &[a.public()]).unwrap();
        assert_eq!(
            v.signers[0].coverage,
            Coverage::Prefix {
                signed: *end,
                total: *end
            }
        );
    }
    // Cut inside a part: what precedes the last complete part is still a signed prefix.
    let cut = &signed[..l.content_start + boundaries[0].0 + 3];
    let v = verify(cut, None, &[a.public()]).unwrap();
    assert_eq!(
        v.signers[0].coverage,
        Coverage::Prefix {
            signed: boundaries[0].0,
            total: boundaries[0].0 + 3
        }
    );
    // Cut inside the first part: nothing matches.
    let cut = &signed[..l.content_start + boundaries[0].0 - 3];
    let v = verify(cut, None, &[a.public()]).unwrap();
    assert!(v.signers.is_empty());
    assert_eq!(v.mismatched, 1);
}

#[test]
fn appended_sections_leave_a_signed_prefix() {
    let a = key(1);
    // Signed with a delimiter after every section, as wasmsign2 `--split` does.
    let split = wasm::add_delimiters(ANSWER, |_| true, counter()).unwrap();
    let signed = sign(&split, &a, None).unwrap();
    let mut extended = signed.clone();
    extended.extend_from_slice(&custom("debug", b"unsigned"));
    let v = verify(&extended, None, &[a.public()]).unwrap();
    let total = extended.len() - wasm::layout(&extended).unwrap().content_start;
    assert_eq!(
        v.signers[0].coverage,
        Coverage::Prefix {
            signed: total - custom("debug", b"unsigned").len(),
            total
        }
    );
}

#[test]
fn best_coverage_per_key_and_sorted_signers() {
    let (a, b) = (key(1), key(2));
    let m = three_parts();
    let signed_a = sign(&m, &a, None).unwrap();
    let signed_ab = sign(&signed_a, &b, None).unwrap();
    let v = verify(&signed_ab, None, &[b.public(), a.public(), b.public()]).unwrap();
    // Duplicate keys in the list are reported once per index.
    assert_eq!(
        v.signers.iter().map(|s| s.key).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(v.signers.iter().all(|s| s.coverage == Coverage::Whole));
}

#[test]
fn mutated_modules_never_panic() {
    use crate::format::tests::{Rng, mutate};
    let a = key(1);
    let signed = sign(&three_parts(), &a, Some(&a.public().key_id())).unwrap();
    let keys = [a.public(), key(2).public()];
    let mut rng = Rng(7);
    let mut whole = 0;
    for _ in 0..3_000 {
        let mut m = signed.clone();
        mutate(&mut rng, &mut m);
        if let Ok(v) = verify(&m, None, &keys)
            && v.signers.iter().any(|s| s.coverage == Coverage::Whole)
        {
            whole += 1;
            // Whole coverage means the content is exactly what was signed.
            let l = wasm::layout(&m).unwrap();
            assert_eq!(&m[l.content_start..], &three_parts()[HEADER_LEN..]);
        }
    }
    assert!(whole > 0);
}

#[test]
fn junk_records_cost_bounded_time() {
    let a = key(1);
    let signed = sign(ANSWER, &a, None).unwrap();
    let mut data = embedded(&signed);
    // 64 sets of 256 junk records without key ids, tried against two keys: 32768 checks
    // without the budget.
    let junk = SignatureRecord {
        key_id: None,
        alg_id: crate::format::ALG_ED25519,
        payload: key(9).sign(b"junk").to_vec(),
    };
    let set = data.sets[0].clone();
    data.sets = vec![
        crate::SignedHashes {
            hashes: set.hashes.clone(),
            signatures: vec![junk; 256],
        };
        64
    ];
    let m = with_data(&signed, &data);
    let start = std::time::Instant::now();
    let v = verify(&m, None, &[key(2).public(), key(3).public()]).unwrap();
    assert!(v.budget_exhausted);
    assert!(v.signers.is_empty());
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // A valid signature placed first is still found.
    data.sets[0].signatures[0] = set.signatures[0].clone();
    let v = verify(&with_data(&signed, &data), None, &[a.public()]).unwrap();
    assert_eq!(v.signers.len(), 1);
}
