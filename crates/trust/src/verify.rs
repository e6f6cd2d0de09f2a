//! Verification: which of a list of keys signed which part of a module.
//!
//! ```text
//! module ─► header check ─► signature data (embedded first section, or detached)
//!                │                 │ parse (bounded, strict)
//!                ▼                 ▼
//!        content hashes     per set: message = "wasmsig" ‖ 01 01 01 ‖ h_1…h_n
//!   (whole + rolling at     per record: Ed25519 (strict) against candidate keys
//!    each delimiter)                 │
//!                └───────► coverage per (key, set): Whole if h_n == hash(content),
//!                          Prefix if some h_i == rolling hash at a delimiter
//! ```
//!
//! This module only reports; the policy (threshold, whether a prefix is enough) is decided by
//! [`crate::LoadPolicy`]. A module cut at a delimiter yields `Prefix` coverage even though its
//! hash is among the signed ones — that is the truncation attack wasmsign2's simple
//! verification accepts, and why whole coverage is required by default.
//!
//! Key ids are hints: a record whose key id is the default id of some trusted key is tried
//! against those keys only; any other record is tried against every key. Unknown algorithm ids
//! are counted and skipped. At most [`MAX_VERIFICATIONS`] Ed25519 checks are made per module,
//! so a signature section stuffed with junk records costs bounded time; records beyond the
//! budget are not satisfied (which can only make a module fail, never pass).

use crate::Error;
use crate::format::{ALG_ED25519, SignatureData};
use crate::keys::{KeyId, PublicKey};
use crate::wasm::{self, HEADER_LEN};

/// Most Ed25519 verifications made for one module (about 0.2 s of CPU time).
pub const MAX_VERIFICATIONS: usize = 4096;

/// How much of the content a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coverage {
    /// A prefix ending at a `signature_delimiter`: `signed` of the content's `total` bytes.
    Prefix {
        /// Bytes of content covered.
        signed: usize,
        /// Bytes of content in the module.
        total: usize,
    },
    /// Everything after the signature section (or after the header, when detached).
    Whole,
}

/// A key that produced a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Index of the key in the list given to [`verify`].
    pub key: usize,
    /// The key's default id.
    pub key_id: KeyId,
    /// The best coverage among the sets this key validly signed.
    pub coverage: Coverage,
}

/// The result of checking a module's signatures against a list of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Keys with at least one valid signature over a hash set that matches the content, best
    /// coverage first.
    pub signers: Vec<Signer>,
    /// Whether the signature data came from a detached signature.
    pub detached: bool,
    /// Bytes of signed content (after the signature section, or after the header).
    pub content_len: usize,
    /// Signature records skipped because their algorithm is unknown.
    pub unknown_algorithms: usize,
    /// Valid signatures from the keys over hashes that match neither the whole content nor a
    /// prefix of it (a signature of some other module, or of a modified one).
    pub mismatched: usize,
    /// Whether records were left unchecked because [`MAX_VERIFICATIONS`] was reached.
    pub budget_exhausted: bool,
}

/// Checks the signatures of `module` (embedded, or `detached`) against `keys`.
///
/// Errors: not a WebAssembly binary, not signed, malformed or unsupported signature data. A
/// module with signatures from no key, or over other content, is `Ok` with no signers.
pub fn verify(
    module: &[u8],
    detached: Option<&[u8]>,
    keys: &[PublicKey],
) -> Result<Verification, Error> {
    let layout = wasm::layout(module)?;
    let (sig, content) = match (detached, layout.embedded) {
        (Some(d), _) => (d, &module[HEADER_LEN..]),
        (None, Some(e)) => (e, &module[layout.content_start..]),
        (None, None) => return Err(Error::NotSigned),
    };
    let data = SignatureData::parse(sig)?;
    let hashes = wasm::content_hashes(content);
    let key_ids: Vec<KeyId> = keys.iter().map(PublicKey::key_id).collect();

    let mut best: Vec<Option<Coverage>> = vec![None; keys.len()];
    let mut unknown_algorithms = 0;
    let mut mismatched = 0;
    let mut budget = MAX_VERIFICATIONS;
    let mut budget_exhausted = false;
    for set in &data.sets {
        let coverage = if set.hashes.last() == Some(&hashes.whole) {
            Some(Coverage::Whole)
        } else {
            hashes
                .boundaries
                .iter()
                .rev()
                .find(|(_, h)| set.hashes.contains(h))
                .map(|(end, _)| Coverage::Prefix {
                    signed: *end,
                    total: content.len(),
                })
        };
        let message = set.message();
        let mut signed_by = vec![false; keys.len()];
        for record in &set.signatures {
            if record.alg_id != ALG_ED25519 {
                unknown_algorithms += 1;
                continue;
            }
            let hinted = record
                .key_id
                .as_deref()
                .is_some_and(|id| key_ids.iter().any(|k| k.0 == id));
            for (i, key) in keys.iter().enumerate() {
                if signed_by[i] {
                    continue;
                }
                if hinted && record.key_id.as_deref() != Some(&key_ids[i].0[..]) {
                    continue;
                }
                if budget == 0 {
                    budget_exhausted = true;
                    break;
                }
                budget -= 1;
                if key.verify(&message, &record.payload) {
                    signed_by[i] = true;
                    if coverage.is_none() {
                        mismatched += 1;
                    }
                }
            }
        }
        if let Some(c) = coverage {
            for (i, signed) in signed_by.iter().enumerate() {
                if *signed && best[i].is_none_or(|b| c > b) {
                    best[i] = Some(c);
                }
            }
        }
    }
    let mut signers: Vec<Signer> = best
        .iter()
        .enumerate()
        .filter_map(|(key, c)| {
            c.map(|coverage| Signer {
                key,
                key_id: key_ids[key],
                coverage,
            })
        })
        .collect();
    signers.sort_by(|a, b| b.coverage.cmp(&a.coverage).then(a.key.cmp(&b.key)));
    Ok(Verification {
        signers,
        detached: detached.is_some(),
        content_len: content.len(),
        unknown_algorithms,
        mismatched,
        budget_exhausted,
    })
}

#[cfg(test)]
mod tests;
