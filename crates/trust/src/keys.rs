//! Ed25519 keys: [`PublicKey`], [`KeyPair`] and their [`KeyId`], read from every format the
//! tooling around WebAssembly signatures uses.
//!
//! - wasmsign2's compact format: a public key is `0x01 ‖ pk` (33 bytes), a key pair is
//!   `0x81 ‖ seed ‖ pk` (65 bytes);
//! - PEM (`PUBLIC KEY`, `PRIVATE KEY`) and DER: RFC 8410 SubjectPublicKeyInfo and PKCS#8;
//! - OpenSSH public keys (`ssh-ed25519 AAAA… comment`), one or more per file (an
//!   `authorized_keys` file or a GitHub `.keys` page); lines of other key types are skipped.
//!
//! A key id is wasmsign2's default: `HMAC-SHA256(key = pk, msg = "key_id")[..12]`. It is a
//! lookup hint only; trust always comes from the public key itself.

use crate::Error;
use crate::encoding::{self, base64_decode, hex, pem_decode};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// Compact-format tag of a public key.
pub const PUBLIC_KEY_TAG: u8 = 0x01;
/// Compact-format tag of a key pair.
pub const KEY_PAIR_TAG: u8 = 0x81;
/// Largest key file read (keys are tiny; `.keys` pages with many keys stay well below).
pub const MAX_KEY_FILE_LEN: u64 = 1 << 20;

/// wasmsign2's default key identifier: the first 12 bytes of an HMAC of the public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 12]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl PublicKey {
    /// A public key from its 32 bytes; fails on bytes that are not a curve point.
    pub fn from_raw(bytes: &[u8; 32]) -> Result<PublicKey, Error> {
        VerifyingKey::from_bytes(bytes)
            .map(|key| PublicKey { key })
            .map_err(|_| Error::Key("not a valid Ed25519 public key".into()))
    }

    /// The 32 raw bytes.
    pub fn to_raw(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// wasmsign2's compact form, `0x01 ‖ pk`.
    pub fn to_compact(&self) -> [u8; 33] {
        let mut out = [0; 33];
        out[0] = PUBLIC_KEY_TAG;
        out[1..].copy_from_slice(self.key.as_bytes());
        out
    }

    /// PEM (`PUBLIC KEY`, RFC 8410).
    pub fn to_pem(&self) -> String {
        encoding::pem_encode("PUBLIC KEY", &encoding::spki_encode(self.key.as_bytes()))
    }

    /// OpenSSH `authorized_keys` form, without a comment.
    pub fn to_openssh(&self) -> String {
        let mut blob = Vec::with_capacity(51);
        for part in [b"ssh-ed25519".as_slice(), self.key.as_bytes()] {
            blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
            blob.extend_from_slice(part);
        }
        format!("ssh-ed25519 {}", encoding::base64_encode(&blob))
    }

    /// The default key id.
    pub fn key_id(&self) -> KeyId {
        KeyId(key_id(self.key.as_bytes()))
    }

    /// Verifies a signature with RFC 8032's strict rules (canonical encodings, no small-order
    /// keys). `signature` must be 64 bytes.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match Signature::from_slice(signature) {
            Ok(sig) => self.key.verify_strict(message, &sig).is_ok(),
            Err(_) => false,
        }
    }

    /// Parses every public key in `bytes`: compact, DER, PEM, or OpenSSH lines (several keys
    /// possible). Fails when no key is found or a key is malformed.
    pub fn parse_all(bytes: &[u8]) -> Result<Vec<PublicKey>, Error> {
        if bytes.len() == 33 && bytes[0] == PUBLIC_KEY_TAG {
            let raw: [u8; 32] = bytes[1..].try_into().expect("32 bytes");
            return Ok(vec![PublicKey::from_raw(&raw)?]);
        }
        if bytes.len() == 65 && bytes[0] == KEY_PAIR_TAG {
            return Err(Error::Key(
                "this is a secret key (key pair); use the public key file".into(),
            ));
        }
        if bytes.first() == Some(&encoding::tag::SEQUENCE) {
            return Ok(vec![PublicKey::from_raw(&encoding::spki_ed25519(bytes)?)?]);
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::Key("unrecognized public key format".into()))?;
        if text.contains("-----BEGIN ") {
            let (label, der) = pem_decode(text)?;
            if label != "PUBLIC KEY" {
                return Err(Error::Key(format!(
                    "expected a `PUBLIC KEY` PEM block, found `{label}`"
                )));
            }
            return Ok(vec![PublicKey::from_raw(&encoding::spki_ed25519(&der)?)?]);
        }
        let keys = parse_openssh(text)?;
        if keys.is_empty() {
            return Err(Error::Key(
                "unrecognized public key format (expected wasmsign2 compact, PEM, DER or an \
                 `ssh-ed25519` line)"
                    .into(),
            ));
        }
        Ok(keys)
    }

    /// Parses exactly one public key.
    pub fn parse(bytes: &[u8]) -> Result<PublicKey, Error> {
        let keys = PublicKey::parse_all(bytes)?;
        match keys.as_slice() {
            [one] => Ok(*one),
            _ => Err(Error::Key(format!(
                "expected one public key, found {}",
                keys.len()
            ))),
        }
    }

    /// Reads every public key in a file (see [`PublicKey::parse_all`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Vec<PublicKey>, Error> {
        let path = path.as_ref();
        PublicKey::parse_all(&read_key_file(path)?).map_err(|e| in_file(path, e))
    }
}

/// Reads the `ssh-ed25519` keys of an OpenSSH public key file (options before the key type, as
/// in `authorized_keys`, are allowed; other key types are skipped).
fn parse_openssh(text: &str) -> Result<Vec<PublicKey>, Error> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_ascii_whitespace();
        if !words.any(|w| w == "ssh-ed25519") {
            continue;
        }
        let bad = |m: &str| Error::Key(format!("line {}: {m}", n + 1));
        let b64 = words
            .next()
            .ok_or_else(|| bad("`ssh-ed25519` without a key"))?;
        let blob = base64_decode(b64).map_err(|e| bad(&strip_prefix(&e)))?;
        let mut rest = blob.as_slice();
        let mut field = || -> Option<&[u8]> {
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let value = rest.get(4..4usize.checked_add(len)?)?;
            rest = &rest[4 + len..];
            Some(value)
        };
        let kind = field().ok_or_else(|| bad("truncated key blob"))?;
        let raw = field().ok_or_else(|| bad("truncated key blob"))?;
        if kind != b"ssh-ed25519" || raw.len() != 32 || !rest.is_empty() {
            return Err(bad("malformed `ssh-ed25519` key blob"));
        }
        keys.push(PublicKey::from_raw(raw.try_into().expect("32 bytes"))?);
    }
    Ok(keys)
}

/// An Ed25519 key pair (secret key). The secret is wiped from memory when dropped.
#[derive(Clone)]
pub struct KeyPair {
    key: SigningKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({})", self.public().key_id())
    }
}

impl KeyPair {
    /// A fresh key pair from the operating system's random number generator.
    pub fn generate() -> Result<KeyPair, Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        let kp = KeyPair::from_seed(&seed);
        seed.fill(0);
        Ok(kp)
    }

    /// The key pair of a 32-byte seed (RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> KeyPair {
        KeyPair {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// wasmsign2's compact form, `0x81 ‖ seed ‖ pk`.
    pub fn to_compact(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(65);
        out.push(KEY_PAIR_TAG);
        out.extend_from_slice(&self.key.to_bytes());
        out.extend_from_slice(self.public().key.as_bytes());
        out
    }

    /// Signs `message` (pure Ed25519, deterministic).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Parses a key pair: compact (`0x81 ‖ seed ‖ pk`, the public half must match), or a PKCS#8
    /// Ed25519 private key in DER or PEM (`PRIVATE KEY`).
    pub fn parse(bytes: &[u8]) -> Result<KeyPair, Error> {
        let (seed, public) = if bytes.len() == 65 && bytes[0] == KEY_PAIR_TAG {
            let seed: [u8; 32] = bytes[1..33].try_into().expect("32 bytes");
            let pk: [u8; 32] = bytes[33..].try_into().expect("32 bytes");
            (seed, Some(pk))
        } else if bytes.len() == 33 && bytes[0] == PUBLIC_KEY_TAG {
            return Err(Error::Key(
                "this is a public key; signing needs the secret key".into(),
            ));
        } else if bytes.first() == Some(&encoding::tag::SEQUENCE) {
            encoding::pkcs8_ed25519(bytes)?
        } else {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::Key("unrecognized secret key format".into()))?;
            let (label, der) = pem_decode(text)?;
            if label != "PRIVATE KEY" {
                return Err(Error::Key(format!(
                    "expected a `PRIVATE KEY` PEM block, found `{label}`"
                )));
            }
            encoding::pkcs8_ed25519(&der)?
        };
        let kp = KeyPair::from_seed(&seed);
        if let Some(pk) = public
            && pk != kp.public().to_raw()
        {
            return Err(Error::Key(
                "the public half of the key pair does not match its secret key".into(),
            ));
        }
        Ok(kp)
    }

    /// Reads a key pair from a file (see [`KeyPair::parse`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<KeyPair, Error> {
        let path = path.as_ref();
        KeyPair::parse(&read_key_file(path)?).map_err(|e| in_file(path, e))
    }
}

/// `HMAC-SHA256(key = pk, msg = "key_id")[..12]`.
fn key_id(pk: &[u8; 32]) -> [u8; 12] {
    hmac_sha256(pk, b"key_id")[..12]
        .try_into()
        .expect("12 bytes")
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`; a key longer than the 64-byte block is hashed
/// first, as the RFC says. Used for wasmsign2 key ids and for Kiln's artifact MACs.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= block[i];
        opad[i] ^= block[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, Error> {
    let read = || -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(MAX_KEY_FILE_LEN + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = read().map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })?;
    if bytes.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(Error::Read {
            path: path.display().to_string(),
            source: std::io::Error::other(format!("larger than {MAX_KEY_FILE_LEN} bytes")),
        });
    }
    Ok(bytes)
}

/// Names the file in a key error.
fn in_file(path: &Path, e: Error) -> Error {
    Error::Key(format!("{}: {}", path.display(), strip_prefix(&e)))
}

/// The message of an `Error::Key` without its `invalid key: ` prefix, for nesting.
fn strip_prefix(e: &Error) -> String {
    match e {
        Error::Key(m) => m.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hmac_tests {
    use super::hmac_sha256;
    use crate::encoding::hex;

    #[test]
    fn rfc4231_vectors() {
        // Case 2: a key shorter than the block.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
