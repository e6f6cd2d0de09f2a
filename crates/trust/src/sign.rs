//! Signing, byte-compatible with wasmsign2: embedded (a `signature` custom section first in
//! the module) or detached (the same bytes in their own file).
//!
//! The signer hashes the content (everything after the signature section, or after the header
//! when detached) with rolling hashes at each `signature_delimiter` and signs
//! `"wasmsig" ‖ 01 ‖ 01 ‖ 01 ‖ h_1 ‖ … ‖ h_n`. Signing an already-signed module adds a record to
//! the set with the same hashes, or a new set; the same key signing the same hashes twice is an
//! error. Section bytes are copied verbatim, never re-encoded.

use crate::format::{ALG_ED25519, SIGNATURE_SECTION, SignatureData, SignatureRecord, SignedHashes};
use crate::keys::{KeyId, KeyPair};
use crate::wasm::{self, HEADER_LEN};
use crate::{Error, format};

/// Signs `module` and returns it with the signature embedded as its first section. An existing
/// embedded signature is kept and the new signature is added to it.
pub fn sign(module: &[u8], key: &KeyPair, key_id: Option<&KeyId>) -> Result<Vec<u8>, Error> {
    let layout = wasm::layout(module)?;
    let content = &module[layout.content_start..];
    reject_misplaced_signature(module, layout.content_start)?;
    let previous = match layout.embedded {
        Some(data) => SignatureData::parse(data)?,
        None => SignatureData::new(),
    };
    let data = add_signature(previous, content, key, key_id)?;
    let section = wasm::custom_section(SIGNATURE_SECTION, &data.encode()?)?;
    let mut out = Vec::with_capacity(HEADER_LEN + section.len() + content.len());
    out.extend_from_slice(&module[..HEADER_LEN]);
    out.extend_from_slice(&section);
    out.extend_from_slice(content);
    Ok(out)
}

/// Signs `module` and returns a detached signature: the payload a `signature` section would
/// have, covering everything after the 8-byte header. `previous` is an existing detached
/// signature of the same module to add to.
pub fn sign_detached(
    module: &[u8],
    key: &KeyPair,
    key_id: Option<&KeyId>,
    previous: Option<&[u8]>,
) -> Result<Vec<u8>, Error> {
    wasm::check_header(module)?;
    let previous = match previous {
        Some(data) => SignatureData::parse(data)?,
        None => SignatureData::new(),
    };
    add_signature(previous, &module[HEADER_LEN..], key, key_id)?.encode()
}

/// A `signature` section anywhere but first would be silently dropped by some tools and is
/// ambiguous; refuse to sign such a module.
fn reject_misplaced_signature(module: &[u8], content_start: usize) -> Result<(), Error> {
    for s in wasm::sections(module, content_start) {
        if s?.is_custom(module, SIGNATURE_SECTION) {
            return Err(Error::Signing(
                "the module has a `signature` section that is not its first section".into(),
            ));
        }
    }
    Ok(())
}

fn add_signature(
    mut data: SignatureData,
    content: &[u8],
    key: &KeyPair,
    key_id: Option<&KeyId>,
) -> Result<SignatureData, Error> {
    let hashes = wasm::hashes_to_sign(content)?;
    if hashes.len() > format::MAX_HASHES {
        return Err(Error::Signing(format!(
            "{} parts exceed the limit of {} hashes",
            hashes.len(),
            format::MAX_HASHES
        )));
    }
    let signature = key.sign(&format::message(&hashes));
    let record = SignatureRecord {
        key_id: key_id.map(|id| id.0.to_vec()),
        alg_id: ALG_ED25519,
        payload: signature.to_vec(),
    };
    match data.sets.iter_mut().find(|s| s.hashes == hashes) {
        Some(set) => {
            // Ed25519 is deterministic: the same key over the same hashes gives the same bytes.
            if set
                .signatures
                .iter()
                .any(|r| r.alg_id == ALG_ED25519 && r.payload == record.payload)
            {
                return Err(Error::Signing(format!(
                    "the module is already signed by key {}",
                    key.public().key_id()
                )));
            }
            set.signatures.push(record);
        }
        None => data.sets.push(SignedHashes {
            hashes,
            signatures: vec![record],
        }),
    }
    Ok(data)
}

#[cfg(test)]
mod tests;
