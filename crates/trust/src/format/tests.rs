//! Tests of the signature data parser and encoder: a table of malformed inputs with the error
//! each must produce, round trips, and a mutation fuzzer that must never panic.

use super::*;
use crate::reader::write_varuint32;

fn leb(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    write_varuint32(&mut v, n);
    v
}

/// `bytes` with a varuint32 length prefix.
fn lp(bytes: &[u8]) -> Vec<u8> {
    let mut v = leb(bytes.len() as u32);
    v.extend_from_slice(bytes);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn ed_record(key_id: &[u8]) -> Vec<u8> {
    cat(&[&lp(key_id), &[ALG_ED25519], &lp(&[0x5a; 64])])
}

fn set(hashes: &[[u8; 32]], records: &[Vec<u8>]) -> Vec<u8> {
    let mut v = leb(hashes.len() as u32);
    for h in hashes {
        v.extend_from_slice(h);
    }
    v.extend(leb(records.len() as u32));
    for r in records {
        v.extend(lp(r));
    }
    v
}

fn data(sets: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256];
    v.extend(leb(sets.len() as u32));
    for s in sets {
        v.extend(lp(s));
    }
    v
}

/// A valid signature section with two sets, key ids, and an unknown-algorithm record.
fn sample() -> Vec<u8> {
    let unknown = cat(&[&lp(b""), &[0x7f], &lp(&[1, 2, 3])]);
    data(&[
        set(&[[1; 32]], &[ed_record(&[9; 12]), ed_record(b"")]),
        set(&[[2; 32], [3; 32]], &[unknown, ed_record(&[8; 3])]),
    ])
}

#[track_caller]
fn check_err(input: &[u8], expected: &str) {
    match SignatureData::parse(input) {
        Ok(d) => panic!("parsed {input:02x?} as {d:?}, expected `{expected}`"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(expected),
                "`{msg}` does not contain `{expected}`"
            );
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }
}

#[test]
fn valid_sample_parses_and_round_trips() {
    let bytes = sample();
    let d = SignatureData::parse(&bytes).unwrap();
    assert_eq!(d.sets.len(), 2);
    assert_eq!(d.sets[0].hashes, vec![[1; 32]]);
    assert_eq!(d.sets[0].signatures[0].key_id, Some(vec![9; 12]));
    assert_eq!(d.sets[0].signatures[1].key_id, None);
    assert_eq!(d.sets[1].hashes.len(), 2);
    assert_eq!(d.sets[1].signatures[0].alg_id, 0x7f);
    assert_eq!(d.sets[1].signatures[0].payload, vec![3, 1, 2, 3]);
    assert_eq!(d.encode().unwrap(), bytes);
}

#[test]
fn empty_set_list_is_valid() {
    let d = SignatureData::parse(&data(&[])).unwrap();
    assert!(d.sets.is_empty());
    assert_eq!(d, SignatureData::new());
}

#[test]
fn message_layout() {
    let m = message(&[[0xaa; 32], [0xbb; 32]]);
    assert_eq!(&m[..10], b"wasmsig\x01\x01\x01");
    assert_eq!(m.len(), 10 + 64);
    assert_eq!(m[10], 0xaa);
    assert_eq!(m[42], 0xbb);
}

#[test]
fn malformed_table() {
    let good_set = set(&[[1; 32]], &[ed_record(b"")]);
    let over_limit_sets = cat(&[&[1, 1, 1], &leb(65)]);
    let too_many_hashes = data(&[cat(&[&leb(65), &[0; 64 * 32]])]);
    let too_many_sigs = data(&[cat(&[&leb(0), &leb(257), &[3; 257 * 3]])]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "empty",
            vec![],
            "unexpected end of data reading specification version",
        ),
        ("version only", vec![1], "reading content type"),
        (
            "version 2",
            vec![2, 1, 1, 0],
            "unsupported signature data: specification version 0x02",
        ),
        (
            "version not 7-bit",
            vec![0x81, 0, 1, 1, 0],
            "does not fit in 7 bits",
        ),
        ("content type 2", vec![1, 2, 1, 0], "content type 0x02"),
        ("hash fn 2", vec![1, 1, 2, 0], "hash function 0x02"),
        ("no set count", vec![1, 1, 1], "reading number of hash sets"),
        (
            "65 sets",
            over_limit_sets,
            "65 hash sets exceed the limit of 64",
        ),
        (
            "count > data",
            vec![1, 1, 1, 3, 0, 0],
            "3 hash sets cannot fit",
        ),
        (
            "leb too long",
            vec![1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0],
            "longer than 5 bytes",
        ),
        (
            "leb over 32 bits",
            vec![1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x1f],
            "does not fit in 32 bits",
        ),
        (
            "set past end",
            cat(&[&[1, 1, 1, 1], &leb(200), &[0; 10]]),
            "hash set needs 200 bytes",
        ),
        (
            "trailing byte",
            cat(&[&data(std::slice::from_ref(&good_set)), &[0]]),
            "1 trailing bytes after signature data",
        ),
        (
            "trailing in set",
            data(&[cat(&[&good_set, &[0]])]),
            "trailing bytes after hash set",
        ),
        (
            "65 hashes",
            too_many_hashes,
            "65 hashes exceed the limit of 64",
        ),
        (
            "hashes past set",
            data(&[cat(&[&leb(2), &[0; 40]])]),
            "2 hashes need 64 bytes",
        ),
        (
            "no sig count",
            data(&[cat(&[&leb(1), &[0; 32]])]),
            "reading number of signatures",
        ),
        (
            "257 signatures",
            too_many_sigs,
            "257 signatures exceed the limit of 256",
        ),
        (
            "sigs cannot fit",
            data(&[cat(&[&leb(0), &leb(3), &[0; 5]])]),
            "3 signatures cannot fit",
        ),
        (
            "record past set",
            data(&[cat(&[&leb(0), &leb(1), &leb(80), &[0; 4]])]),
            "signature record needs 80 bytes",
        ),
        (
            "key id past record",
            data(&[set(&[], &[cat(&[&leb(20), &[0; 3]])])]),
            "key id needs 20 bytes",
        ),
        (
            "no algorithm",
            data(&[set(&[], &[lp(b""), ed_record(b"")])]),
            "reading algorithm id",
        ),
        (
            "short ed25519",
            data(&[set(&[], &[cat(&[&lp(b""), &[ALG_ED25519], &lp(&[0; 63])])])]),
            "an Ed25519 signature is 64 bytes, not 63",
        ),
        (
            "ed25519 past record",
            data(&[set(
                &[],
                &[cat(&[&lp(b""), &[ALG_ED25519], &leb(64), &[0; 10]])],
            )]),
            "signature needs 64 bytes",
        ),
        (
            "trailing in record",
            data(&[set(&[], &[cat(&[&ed_record(b""), &[0]])])]),
            "trailing bytes after signature record",
        ),
        (
            "huge key id length",
            data(&[set(
                &[],
                &[cat(&[&[0xff, 0xff, 0xff, 0xff, 0x0f], &[0; 4]])],
            )]),
            "key id needs 4294967295 bytes",
        ),
    ];
    for (name, input, expected) in cases {
        let r = std::panic::catch_unwind(|| check_err(&input, expected));
        assert!(r.is_ok(), "case `{name}` failed");
    }
}

#[test]
fn error_offsets_point_into_the_data() {
    let bytes = data(&[set(&[], &[cat(&[&lp(b""), &[ALG_ED25519], &lp(&[0; 63])])])]);
    match SignatureData::parse(&bytes) {
        Err(Error::Malformed { offset, .. }) => assert!(offset < bytes.len() && offset > 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn encode_enforces_limits() {
    let mut d = SignatureData::new();
    d.sets = vec![
        SignedHashes {
            hashes: vec![],
            signatures: vec![],
        };
        65
    ];
    assert!(d.encode().is_err());
    d.sets = vec![SignedHashes {
        hashes: vec![[0; 32]; 65],
        signatures: vec![],
    }];
    assert!(d.encode().is_err());
}

/// A small deterministic PRNG (xorshift64*), so the fuzz cases are reproducible.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Applies one to three random edits that stress lengths and counts.
pub(crate) fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..=rng.below(3) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xff][rng.below(7)];
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                input.remove(rng.below(len));
            }
            4 => input.truncate(rng.below(len + 1)),
            5 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(5);
                input.splice(i..i, std::iter::repeat_n(0xff, n));
            }
            _ => {
                let extra = rng.below(8);
                input.extend((0..extra).map(|_| rng.next() as u8));
            }
        }
    }
}

#[test]
fn mutated_signature_data_never_panics() {
    let seed = sample();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..30_000 {
        let mut input = seed.clone();
        mutate(&mut rng, &mut input);
        if let Ok(d) = SignatureData::parse(&input) {
            parsed += 1;
            // Whatever parses re-encodes to something that parses to the same value.
            let again = SignatureData::parse(&d.encode().unwrap()).unwrap();
            assert_eq!(again, d);
        }
    }
    // Some mutations (a changed hash or signature byte) keep the data valid.
    assert!(parsed > 100, "{parsed}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let mut input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Start most inputs with a valid header so the fuzzer reaches the counts.
        if rng.below(4) != 0 {
            input.splice(0..0, [1, 1, 1]);
        }
        let _ = SignatureData::parse(&input);
    }
}
