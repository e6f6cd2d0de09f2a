//! Small, strict codecs for key files: hex, base64 (RFC 4648, standard alphabet), PEM armor,
//! and the few DER shapes of Ed25519 keys (RFC 8410 SubjectPublicKeyInfo and PKCS#8).
//!
//! Everything here reads untrusted text or bytes: lengths are checked before slicing, and
//! anything unexpected is an error rather than a guess.

use crate::Error;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses exactly 32 bytes of hex (either case).
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Decodes standard base64; ASCII whitespace is skipped, `=` padding is optional but may only
/// end the input.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, Error> {
    let bad = |m: &str| Error::Key(format!("bad base64: {m}"));
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = 0;
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return Err(bad("data after padding"));
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(bad(&format!("unexpected character {:?}", c as char))),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 || padding > 2 {
        return Err(bad("truncated input"));
    }
    Ok(out)
}

/// Encodes standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Finds the first PEM block in `text`: returns its label and decoded contents.
pub fn pem_decode(text: &str) -> Result<(String, Vec<u8>), Error> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| Error::Key("no PEM `-----BEGIN` line".into()))?;
    let rest = &text[begin + 11..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| Error::Key("unterminated PEM `-----BEGIN` line".into()))?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body
        .find(&end_marker)
        .ok_or_else(|| Error::Key(format!("no `{end_marker}` line")))?;
    Ok((label.to_string(), base64_decode(&body[..body_end])?))
}

/// Wraps `der` in PEM armor with `label`, 64 characters per line.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// A DER reader: tag-length-value elements with definite lengths of at most two bytes (every
/// Ed25519 key structure is tiny).
pub(crate) struct Der<'a> {
    data: &'a [u8],
}

impl<'a> Der<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Der<'a> {
        Der { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Peeks at the next tag.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads an element with tag `tag` and returns its contents.
    pub(crate) fn element(&mut self, tag: u8, what: &str) -> Result<&'a [u8], Error> {
        let bad = |m: &str| Error::Key(format!("bad DER {what}: {m}"));
        let (&t, rest) = self.data.split_first().ok_or_else(|| bad("missing"))?;
        if t != tag {
            return Err(bad(&format!("expected tag {tag:#04x}, found {t:#04x}")));
        }
        let (&l, rest) = rest.split_first().ok_or_else(|| bad("missing length"))?;
        let (len, rest) = match l {
            0..=0x7f => (usize::from(l), rest),
            0x81 => match rest.split_first() {
                Some((&n, rest)) if n >= 0x80 => (usize::from(n), rest),
                _ => return Err(bad("non-minimal or missing length")),
            },
            0x82 => match rest {
                [a, b, rest @ ..] if *a != 0 => ((usize::from(*a) << 8) | usize::from(*b), rest),
                _ => return Err(bad("non-minimal or missing length")),
            },
            _ => return Err(bad("unsupported length form")),
        };
        if len > rest.len() {
            return Err(bad("length past the end of the data"));
        }
        let (contents, rest) = rest.split_at(len);
        self.data = rest;
        Ok(contents)
    }
}

/// DER tags used by Ed25519 keys.
pub(crate) mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
}

/// The encoded OID 1.3.101.112 (id-Ed25519, RFC 8410).
pub(crate) const ED25519_OID: &[u8] = &[0x2b, 0x65, 0x70];

/// Reads an `AlgorithmIdentifier` and checks that it is Ed25519 without parameters.
pub(crate) fn ed25519_algorithm(der: &mut Der<'_>) -> Result<(), Error> {
    let mut alg = Der::new(der.element(tag::SEQUENCE, "algorithm identifier")?);
    let oid = alg.element(tag::OID, "algorithm")?;
    if oid != ED25519_OID || !alg.is_empty() {
        return Err(Error::Key("not an Ed25519 key".into()));
    }
    Ok(())
}

/// Parses an RFC 8410 SubjectPublicKeyInfo holding an Ed25519 key.
pub fn spki_ed25519(der: &[u8]) -> Result<[u8; 32], Error> {
    let mut outer = Der::new(der);
    let mut spki = Der::new(outer.element(tag::SEQUENCE, "SubjectPublicKeyInfo")?);
    if !outer.is_empty() {
        return Err(Error::Key("trailing bytes after the public key".into()));
    }
    ed25519_algorithm(&mut spki)?;
    let bits = spki.element(tag::BIT_STRING, "public key")?;
    if !spki.is_empty() {
        return Err(Error::Key("trailing fields in SubjectPublicKeyInfo".into()));
    }
    match bits {
        [0, key @ ..] if key.len() == 32 => Ok(key.try_into().expect("32 bytes")),
        _ => Err(Error::Key("an Ed25519 public key is 32 bytes".into())),
    }
}

/// Encodes an Ed25519 public key as a SubjectPublicKeyInfo.
pub fn spki_encode(pk: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(pk);
    der
}

/// Parses a PKCS#8 (RFC 5958 v1 or v2) Ed25519 private key; returns the 32-byte seed and, for
/// v2, the embedded public key.
pub fn pkcs8_ed25519(der: &[u8]) -> Result<([u8; 32], Option<[u8; 32]>), Error> {
    let mut outer = Der::new(der);
    let mut info = Der::new(outer.element(tag::SEQUENCE, "PrivateKeyInfo")?);
    if !outer.is_empty() {
        return Err(Error::Key("trailing bytes after the private key".into()));
    }
    let version = info.element(tag::INTEGER, "version")?;
    if version != [0] && version != [1] {
        return Err(Error::Key("unsupported PKCS#8 version".into()));
    }
    ed25519_algorithm(&mut info)?;
    let wrapped = info.element(tag::OCTET_STRING, "private key")?;
    let mut inner = Der::new(wrapped);
    let seed = inner.element(tag::OCTET_STRING, "Ed25519 private key")?;
    if !inner.is_empty() || seed.len() != 32 {
        return Err(Error::Key("an Ed25519 private key is 32 bytes".into()));
    }
    let mut public = None;
    // Optional `[0] attributes` and `[1] publicKey` (v2).
    if info.peek_tag() == Some(0xa0) {
        info.element(0xa0, "attributes")?;
    }
    if info.peek_tag() == Some(0x81) {
        match info.element(0x81, "public key")? {
            [0, key @ ..] if key.len() == 32 => public = Some(key.try_into().expect("32 bytes")),
            _ => return Err(Error::Key("an Ed25519 public key is 32 bytes".into())),
        }
    }
    if !info.is_empty() {
        return Err(Error::Key("trailing fields in PrivateKeyInfo".into()));
    }
    Ok((seed.try_into().expect("32 bytes"), public))
}

#[cfg(test)]
pub(crate) mod tests;
