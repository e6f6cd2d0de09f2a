//! Tests of the header check, section framing, rolling hashes and delimiter insertion.

use super::*;
use crate::testutil::*;

#[test]
fn headers() {
    assert!(check_header(&MODULE_HEADER).is_ok());
    assert!(check_header(&COMPONENT_HEADER).is_ok());
    let cases: &[(&[u8], &str)] = &[
        (b"", "missing the `\\0asm` header"),
        (b"\0asm", "missing the `\\0asm` header"),
        (b"(module)", "text modules cannot carry signatures"),
        (b"\0asm\x02\0\0\0", "unknown version 02 00 00 00"),
    ];
    for (input, expected) in cases {
        let e = check_header(input).unwrap_err().to_string();
        assert!(e.starts_with("not a WebAssembly binary"), "{e}");
        assert!(e.contains(expected), "{e}");
    }
}

#[test]
fn sections_of_answer() {
    let s: Vec<Section> = sections(ANSWER, HEADER_LEN).map(Result::unwrap).collect();
    let ids: Vec<u8> = s.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 3, 7, 10, 0]);
    assert!(s[4].is_custom(ANSWER, "producers-note"));
    assert_eq!(s[4].custom_data(ANSWER), Some(&b"hello"[..]));
    assert_eq!(s[4].range.end, ANSWER.len());
}

#[test]
fn malformed_framing_is_an_error_then_stops() {
    let cases: &[(&[u8], &str)] = &[
        (&[1, 5, 0], "section extends past the end of the module"),
        (&[1], "bad section size"),
        (&[1, 0x80, 0x80, 0x80, 0x80, 0x80], "bad section size"),
        (
            &[0, 3, 9, b'a', b'b'],
            "custom section name extends past its section",
        ),
        (&[0, 0], "bad custom section name"),
    ];
    for (input, expected) in cases {
        let mut it = sections(input, 0);
        let e = it.next().unwrap().unwrap_err().to_string();
        assert!(e.contains(expected), "{input:?}: {e}");
        assert!(it.next().is_none());
    }
}

#[test]
fn layout_finds_only_a_first_signature_section() {
    let l = layout(ANSWER).unwrap();
    assert_eq!(l.embedded, None);
    assert_eq!(l.content_start, HEADER_LEN);

    let signed = module(&[custom("signature", b"DATA"), section(1, &[0])]);
    let l = layout(&signed).unwrap();
    assert_eq!(l.embedded, Some(&b"DATA"[..]));
    assert_eq!(&signed[l.content_start..], &section(1, &[0])[..]);

    let second = module(&[section(1, &[0]), custom("signature", b"DATA")]);
    assert_eq!(layout(&second).unwrap().embedded, None);

    // A malformed first section that is not custom is simply not a signature.
    let broken = module(&[vec![1, 0xff, 0xff]]);
    assert_eq!(layout(&broken).unwrap().embedded, None);
    let broken_custom = module(&[vec![0, 0xff, 0xff]]);
    assert!(layout(&broken_custom).is_err());

    // Only the first section is read: garbage after it does not matter here.
    let mut garbage = signed.clone();
    garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
    assert_eq!(layout(&garbage).unwrap().embedded, Some(&b"DATA"[..]));
}

#[test]
fn rolling_hashes() {
    let m = three_parts();
    let content = &m[HEADER_LEN..];
    let h = content_hashes(content);
    assert!(h.well_formed);
    assert!(!h.ends_with_delimiter);
    assert_eq!(h.sections, 5);
    assert_eq!(h.whole, sha256(content));
    assert_eq!(h.boundaries.len(), 2);
    for (end, hash) in &h.boundaries {
        assert_eq!(*hash, sha256(&content[..*end]));
        assert!(content[..*end].ends_with(&[1; 16]) || content[..*end].ends_with(&[2; 16]));
    }
    let to_sign = hashes_to_sign(content).unwrap();
    assert_eq!(to_sign.len(), 3);
    assert_eq!(to_sign[2], h.whole);

    // Ending with a delimiter: no extra final hash.
    let end = h.boundaries[1].0;
    let to_sign = hashes_to_sign(&content[..end]).unwrap();
    assert_eq!(to_sign, vec![h.boundaries[0].1, h.boundaries[1].1]);
}

#[test]
fn rolling_hashes_survive_bad_framing() {
    let mut content = three_parts()[HEADER_LEN..].to_vec();
    let good = content_hashes(&content).boundaries;
    content.extend_from_slice(&[5, 0x7f]);
    let h = content_hashes(&content);
    assert!(!h.well_formed);
    assert_eq!(h.boundaries, good);
    assert_eq!(h.whole, sha256(&content));
    assert!(hashes_to_sign(&content).is_err());
}

#[test]
fn delimiters_are_added_once_per_part() {
    let split = add_delimiters(ANSWER, |_| true, counter()).unwrap();
    let s: Vec<Section> = sections(&split, HEADER_LEN).map(Result::unwrap).collect();
    assert_eq!(s.len(), 10);
    for pair in s.chunks(2) {
        assert!(!pair[0].is_custom(&split, DELIMITER_SECTION));
        assert!(pair[1].is_custom(&split, DELIMITER_SECTION));
        assert_eq!(pair[1].custom_data(&split).unwrap().len(), DELIMITER_LEN);
    }
    // Splitting again adds nothing.
    assert_eq!(add_delimiters(&split, |_| true, counter()).unwrap(), split);
    // Only after the code section.
    let code = add_delimiters(ANSWER, |s| s.id == 10, counter()).unwrap();
    assert_eq!(code.len(), ANSWER.len() + delimiter(1).len());
    assert_eq!(content_hashes(&code[HEADER_LEN..]).boundaries.len(), 1);
}
