//! Tests of pin file parsing.

use super::*;

const H1: &str = "d5738f4fa8bc47294dec20184c899563c674f2315bbf4c6d1e0c9228a3f28089";
const H2: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn sha256sum_format_and_variants() {
    let text = format!(
        "# pinned modules\n\n{H1}  answer.wasm\n{}  *bin mode.wasm\nsha256:{H2}\n  {H2}\tspaced.wasm  \n",
        H1.to_uppercase()
    );
    let pins = PinSet::parse(&text).unwrap();
    assert_eq!(pins.len(), 4);
    let names: Vec<&str> = pins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["answer.wasm", "bin mode.wasm", "", "spaced.wasm"]);
    let h1 = parse_hex32(H1).unwrap();
    assert_eq!(pins.lookup(&h1).unwrap().name, "answer.wasm");
    assert!(pins.lookup(&[9; 32]).is_none());
    assert_eq!(PinSet::parse(&pins.to_text()).unwrap(), pins);
}

#[test]
fn bad_lines_are_reported_with_their_number() {
    let cases = [
        (
            "nothex  a.wasm",
            1,
            "expected 64 hex digits of SHA-256, found `nothex`",
        ),
        (
            &format!("{H1}  a\n\n{}  b", &H1[1..]),
            3,
            "expected 64 hex digits",
        ),
        (&format!("{H1}0  a"), 1, "expected 64 hex digits"),
    ];
    for (text, line, expected) in cases {
        match PinSet::parse(text) {
            Err(Error::Pin { line: l, message }) => {
                assert_eq!(l, line, "{text}");
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(PinSet::parse("").unwrap().is_empty());
}
