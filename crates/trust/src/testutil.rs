//! Helpers shared by the unit tests: small modules built section by section, the vector keys.

use crate::keys::KeyPair;
use crate::reader::write_varuint32;
use crate::wasm::{DELIMITER_LEN, MODULE_HEADER, custom_section};

/// The interop vector `answer.wasm`: type, function, export, code, and a custom section.
pub(crate) const ANSWER: &[u8] = include_bytes!("../tests/vectors/answer.wasm");

/// The vector key pair `sk.key`.
pub(crate) fn vector_key() -> KeyPair {
    KeyPair::parse(include_bytes!("../tests/vectors/sk.key")).unwrap()
}

/// A deterministic key pair numbered `n`.
pub(crate) fn key(n: u8) -> KeyPair {
    KeyPair::from_seed(&[n; 32])
}

/// A non-custom section.
pub(crate) fn section(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![id];
    write_varuint32(&mut v, payload.len() as u32);
    v.extend_from_slice(payload);
    v
}

/// A custom section.
pub(crate) fn custom(name: &str, data: &[u8]) -> Vec<u8> {
    custom_section(name, data).unwrap()
}

/// A delimiter whose payload is `n` repeated.
pub(crate) fn delimiter(n: u8) -> Vec<u8> {
    custom("signature_delimiter", &[n; DELIMITER_LEN])
}

/// A module made of `sections`.
pub(crate) fn module(sections: &[Vec<u8>]) -> Vec<u8> {
    let mut v = MODULE_HEADER.to_vec();
    for s in sections {
        v.extend_from_slice(s);
    }
    v
}

/// A module in three parts separated by delimiters, the last part unterminated:
/// `[type] [delim] [custom "a"] [delim] [custom "b"]`.
pub(crate) fn three_parts() -> Vec<u8> {
    module(&[
        section(1, &[0]),
        delimiter(1),
        custom("a", b"first extension"),
        delimiter(2),
        custom("b", b"second extension"),
    ])
}

/// Counter-based delimiter payloads for `add_delimiters`.
pub(crate) fn counter() -> impl FnMut() -> Result<[u8; DELIMITER_LEN], crate::Error> {
    let mut n = 0u8;
    move || {
        n += 1;
        Ok([n; DELIMITER_LEN])
    }
}
