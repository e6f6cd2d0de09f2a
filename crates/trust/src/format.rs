//! The signature data of the WebAssembly tool-conventions `Signatures.md` format, as encoded by
//! wasmsign2: parsing (strict and bounded) and encoding (byte-identical).
//!
//! ```text
//! SignatureData := version:varuint7 content_type:varuint7 hash_fn:varuint7
//!                  count:varuint32  count × (len:varuint32 SignedHashes[len])
//! SignedHashes  := n:varuint32 n × hash[32]  m:varuint32  m × (len:varuint32 Record[len])
//! Record        := key_id_len:varuint32 key_id  alg_id:u8  sig_len:varuint32 signature
//! ```
//!
//! Both the hash sets and the records are length-prefixed (the spec's table only says so for
//! the sets). Invariants of the parser: counts are checked against [`MAX_HASH_SETS`],
//! [`MAX_HASHES`] and [`MAX_SIGNATURES`] and against the bytes that remain before anything is
//! allocated; no length can read past its enclosing length; trailing bytes at any level are an
//! error. A record with an unknown algorithm id is kept undecoded (it is "not satisfied" at
//! verification, never an error), so that future algorithms do not break old verifiers.

use crate::Error;
use crate::reader::{Reader, write_length_prefixed, write_varuint32};

/// Name of the custom section that carries embedded signatures (first section of the module).
pub const SIGNATURE_SECTION: &str = "signature";
/// Name of the custom sections that end each signed part of a module (16 random bytes).
pub const DELIMITER_SECTION: &str = "signature_delimiter";
/// The only specification version.
pub const SPEC_VERSION: u8 = 0x01;
/// Content type: a WebAssembly module or component.
pub const CONTENT_TYPE_WASM: u8 = 0x01;
/// Hash function: SHA-256.
pub const HASH_SHA256: u8 = 0x01;
/// Signature algorithm: Ed25519 (RFC 8032, pure).
pub const ALG_ED25519: u8 = 0x01;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;
/// Most hash sets in one signature section (wasmsign2's limit).
pub const MAX_HASH_SETS: usize = 64;
/// Most hashes in one set (wasmsign2's limit).
pub const MAX_HASHES: usize = 64;
/// Most signature records for one set (wasmsign2's limit).
pub const MAX_SIGNATURES: usize = 256;
/// Prefix of every signed message.
pub const SIGNATURE_DOMAIN: &[u8] = b"wasmsig";

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The decoded payload of a `signature` section (or a detached signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureData {
    /// Specification version (always [`SPEC_VERSION`] once parsed).
    pub spec_version: u8,
    /// Content type (always [`CONTENT_TYPE_WASM`] once parsed).
    pub content_type: u8,
    /// Hash function (always [`HASH_SHA256`] once parsed).
    pub hash_fn: u8,
    /// The signed hash sets.
    pub sets: Vec<SignedHashes>,
}

/// A sequence of rolling hashes and the signatures over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHashes {
    /// `h_1 … h_n`: the rolling hash at each delimiter, then (unless the module ends with a
    /// delimiter) the hash of everything.
    pub hashes: Vec<Hash>,
    /// Signatures over [`SignedHashes::message`].
    pub signatures: Vec<SignatureRecord>,
}

/// One signature over a hash set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRecord {
    /// Optional key id: a lookup hint, never trusted.
    pub key_id: Option<Vec<u8>>,
    /// Algorithm id ([`ALG_ED25519`] or an unknown future one).
    pub alg_id: u8,
    /// For Ed25519 the 64-byte signature; for an unknown algorithm the undecoded bytes that
    /// follow the algorithm id (re-emitted verbatim when the data is encoded again).
    pub payload: Vec<u8>,
}

impl SignatureData {
    /// Empty signature data of the current version.
    pub fn new() -> SignatureData {
        SignatureData {
            spec_version: SPEC_VERSION,
            content_type: CONTENT_TYPE_WASM,
            hash_fn: HASH_SHA256,
            sets: Vec::new(),
        }
    }

    /// Parses signature data, rejecting unknown versions, content types and hash functions,
    /// counts above the limits, truncated or overlong fields and trailing bytes.
    pub fn parse(data: &[u8]) -> Result<SignatureData, Error> {
        let mut r = Reader::new(data);
        let spec_version = r.varuint7("specification version")?;
        if spec_version != SPEC_VERSION {
            return Err(Error::Unsupported(format!(
                "specification version {spec_version:#04x}"
            )));
        }
        let content_type = r.varuint7("content type")?;
        if content_type != CONTENT_TYPE_WASM {
            return Err(Error::Unsupported(format!(
                "content type {content_type:#04x}"
            )));
        }
        let hash_fn = r.varuint7("hash function")?;
        if hash_fn != HASH_SHA256 {
            return Err(Error::Unsupported(format!("hash function {hash_fn:#04x}")));
        }
        let count = r.varuint32("number of hash sets")? as usize;
        if count > MAX_HASH_SETS {
            return Err(r.error(format!(
                "{count} hash sets exceed the limit of {MAX_HASH_SETS}"
            )));
        }
        // Each set takes at least two bytes (its length and a count), so `count` is bounded by
        // the input as well as by the limit.
        if count > r.remaining() / 2 {
            return Err(r.error(format!("{count} hash sets cannot fit in the data")));
        }
        let mut sets = Vec::with_capacity(count);
        for _ in 0..count {
            let mut set = r.length_prefixed("hash set")?;
            sets.push(SignedHashes::parse(&mut set)?);
            set.finish("hash set")?;
        }
        r.finish("signature data")?;
        Ok(SignatureData {
            spec_version,
            content_type,
            hash_fn,
            sets,
        })
    }

    /// Encodes the data exactly as wasmsign2 does (minimal LEB128 everywhere).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.sets.len() > MAX_HASH_SETS {
            return Err(Error::Signing(format!(
                "{} hash sets exceed the limit of {MAX_HASH_SETS}",
                self.sets.len()
            )));
        }
        let mut out = Vec::new();
        write_varuint32(&mut out, u32::from(self.spec_version));
        write_varuint32(&mut out, u32::from(self.content_type));
        write_varuint32(&mut out, u32::from(self.hash_fn));
        write_varuint32(&mut out, self.sets.len() as u32);
        for set in &self.sets {
            write_length_prefixed(&mut out, &set.encode()?)?;
        }
        Ok(out)
    }
}

impl Default for SignatureData {
    fn default() -> Self {
        SignatureData::new()
    }
}

impl SignedHashes {
    fn parse(r: &mut Reader<'_>) -> Result<SignedHashes, Error> {
        let n = r.varuint32("number of hashes")? as usize;
        if n > MAX_HASHES {
            return Err(r.error(format!("{n} hashes exceed the limit of {MAX_HASHES}")));
        }
        if n * 32 > r.remaining() {
            return Err(r.error(format!(
                "{n} hashes need {} bytes but only {} remain",
                n * 32,
                r.remaining()
            )));
        }
        let mut hashes = Vec::with_capacity(n);
        for _ in 0..n {
            let mut h = [0; 32];
            h.copy_from_slice(r.bytes(32, "hash")?);
            hashes.push(h);
        }
        let m = r.varuint32("number of signatures")? as usize;
        if m > MAX_SIGNATURES {
            return Err(r.error(format!(
                "{m} signatures exceed the limit of {MAX_SIGNATURES}"
            )));
        }
        // A record takes at least three bytes: its length, an empty key id and the algorithm.
        if m > r.remaining() / 3 {
            return Err(r.error(format!("{m} signatures cannot fit in the hash set")));
        }
        let mut signatures = Vec::with_capacity(m);
        for _ in 0..m {
            let mut rec = r.length_prefixed("signature record")?;
            signatures.push(SignatureRecord::parse(&mut rec)?);
        }
        Ok(SignedHashes { hashes, signatures })
    }

    /// Encodes one set (without its length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.hashes.len() > MAX_HASHES {
            return Err(Error::Signing(format!(
                "{} hashes exceed the limit of {MAX_HASHES}",
                self.hashes.len()
            )));
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(Error::Signing(format!(
                "{} signatures exceed the limit of {MAX_SIGNATURES}",
                self.signatures.len()
            )));
        }
        let mut out = Vec::new();
        write_varuint32(&mut out, self.hashes.len() as u32);
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        write_varuint32(&mut out, self.signatures.len() as u32);
        for s in &self.signatures {
            write_length_prefixed(&mut out, &s.encode()?)?;
        }
        Ok(out)
    }

    /// The message the signatures are over:
    /// `"wasmsig" ‖ version ‖ content_type ‖ hash_fn ‖ h_1 ‖ … ‖ h_n`.
    pub fn message(&self) -> Vec<u8> {
        message(&self.hashes)
    }
}

/// The signed message for `hashes` (current version, Wasm content, SHA-256).
pub fn message(hashes: &[Hash]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNATURE_DOMAIN.len() + 3 + 32 * hashes.len());
    msg.extend_from_slice(SIGNATURE_DOMAIN);
    msg.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256]);
    for h in hashes {
        msg.extend_from_slice(h);
    }
    msg
}

impl SignatureRecord {
    fn parse(r: &mut Reader<'_>) -> Result<SignatureRecord, Error> {
        let key_id_len = r.varuint32("key id length")? as usize;
        let key_id = r.bytes(key_id_len, "key id")?;
        let alg_id = r.u8("algorithm id")?;
        let payload = if alg_id == ALG_ED25519 {
            let len = r.varuint32("signature length")? as usize;
            if len != ED25519_SIGNATURE_LEN {
                return Err(r.error(format!(
                    "an Ed25519 signature is {ED25519_SIGNATURE_LEN} bytes, not {len}"
                )));
            }
            let sig = r.bytes(len, "signature")?;
            r.finish("signature record")?;
            sig.to_vec()
        } else {
            r.rest().to_vec()
        };
        Ok(SignatureRecord {
            key_id: (key_id_len > 0).then(|| key_id.to_vec()),
            alg_id,
            payload,
        })
    }

    /// Encodes one record (without its length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        write_length_prefixed(&mut out, self.key_id.as_deref().unwrap_or_default())?;
        out.push(self.alg_id);
        if self.alg_id == ALG_ED25519 {
            write_length_prefixed(&mut out, &self.payload)?;
        } else {
            out.extend_from_slice(&self.payload);
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests;
