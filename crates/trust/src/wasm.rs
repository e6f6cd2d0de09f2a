//! The little of the WebAssembly binary format that provenance needs: the 8-byte header, the
//! section framing (id, size, custom-section name), the embedded `signature` section, and the
//! rolling hashes at `signature_delimiter` sections.
//!
//! This is deliberately not a parser: section payloads other than custom-section names are
//! never looked at, so verification runs before any untrusted bytes reach `wasmparser` or the
//! compiler. Every size is checked against the bytes that remain.

use crate::Error;
use crate::format::{DELIMITER_SECTION, Hash, SIGNATURE_SECTION};
use crate::reader::write_varuint32;
use sha2::{Digest, Sha256};
use std::ops::Range;

/// Header of a core module: `\0asm` and version 1.
pub const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/// Header of a component: `\0asm`, version 0x0d, layer 1.
pub const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
/// Length of the header.
pub const HEADER_LEN: usize = 8;
/// Length of a `signature_delimiter` payload.
pub const DELIMITER_LEN: usize = 16;

/// Checks the 8-byte module or component header.
pub fn check_header(module: &[u8]) -> Result<(), Error> {
    match module.get(..HEADER_LEN) {
        Some(h) if h == MODULE_HEADER || h == COMPONENT_HEADER => Ok(()),
        Some(h) if h[..4] == MODULE_HEADER[..4] => Err(Error::NotWasm(format!(
            "unknown version {:02x} {:02x} {:02x} {:02x}",
            h[4], h[5], h[6], h[7]
        ))),
        _ => Err(Error::NotWasm(
            "missing the `\\0asm` header (text modules cannot carry signatures)".into(),
        )),
    }
}

/// One section, located in the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Section id (0 for custom sections).
    pub id: u8,
    /// The whole section: id byte, size and payload.
    pub range: Range<usize>,
    /// The payload (after the size).
    pub payload: Range<usize>,
    /// For a custom section, the range of its name.
    pub name: Option<Range<usize>>,
}

impl Section {
    /// Whether this is a custom section named `name`.
    pub fn is_custom(&self, module: &[u8], name: &str) -> bool {
        matches!(&self.name, Some(r) if &module[r.clone()] == name.as_bytes())
    }

    /// For a custom section, the bytes after the name.
    pub fn custom_data<'a>(&self, module: &'a [u8]) -> Option<&'a [u8]> {
        self.name.as_ref().map(|n| &module[n.end..self.payload.end])
    }
}

/// Iterates over the sections of `module` starting at `offset`. Stops after the first error.
pub fn sections(module: &[u8], offset: usize) -> Sections<'_> {
    Sections {
        module,
        pos: offset,
        failed: false,
    }
}

/// Iterator returned by [`sections`].
#[derive(Debug)]
pub struct Sections<'a> {
    module: &'a [u8],
    pos: usize,
    failed: bool,
}

impl Iterator for Sections<'_> {
    type Item = Result<Section, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.module.len() {
            return None;
        }
        let r = read_section(self.module, self.pos);
        match &r {
            Ok(s) => self.pos = s.range.end,
            Err(_) => self.failed = true,
        }
        Some(r)
    }
}

fn read_section(module: &[u8], start: usize) -> Result<Section, Error> {
    let err = |message: &str, offset| Error::MalformedModule {
        message: message.to_string(),
        offset,
    };
    let id = module[start];
    let (size, after) =
        read_leb(module, start + 1).ok_or_else(|| err("bad section size", start + 1))?;
    let end = after
        .checked_add(size as usize)
        .filter(|e| *e <= module.len())
        .ok_or_else(|| err("section extends past the end of the module", start))?;
    let name = if id == 0 {
        let (len, name_start) =
            read_leb(&module[..end], after).ok_or_else(|| err("bad custom section name", after))?;
        let name_end = name_start
            .checked_add(len as usize)
            .filter(|e| *e <= end)
            .ok_or_else(|| err("custom section name extends past its section", after))?;
        Some(name_start..name_end)
    } else {
        None
    };
    Ok(Section {
        id,
        range: start..end,
        payload: after..end,
        name,
    })
}

/// Reads a `varuint32` at `pos`; returns the value and the offset after it.
fn read_leb(bytes: &[u8], mut pos: usize) -> Option<(u32, usize)> {
    let mut result: u32 = 0;
    for i in 0..5 {
        let byte = *bytes.get(pos)?;
        pos += 1;
        if i == 4 && byte & 0xf0 != 0 {
            return None;
        }
        result |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((result, pos));
        }
    }
    None
}

/// Where the signature and the signed content of a module are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout<'a> {
    /// The payload of the first section if it is a `signature` custom section.
    pub embedded: Option<&'a [u8]>,
    /// Offset of the first byte covered by an embedded signature: after the header and the
    /// `signature` section, if any.
    pub content_start: usize,
}

/// Checks the header and finds an embedded signature (the first section, if it is a custom
/// section named `signature`). Nothing beyond the first section is read.
pub fn layout(module: &[u8]) -> Result<Layout<'_>, Error> {
    check_header(module)?;
    // Only a custom section can carry the signature; any other first section is left to the
    // parser, however malformed.
    if module.get(HEADER_LEN) != Some(&0) {
        return Ok(Layout {
            embedded: None,
            content_start: HEADER_LEN,
        });
    }
    if let Some(first) = sections(module, HEADER_LEN).next() {
        let first = first?;
        if first.is_custom(module, SIGNATURE_SECTION) {
            return Ok(Layout {
                embedded: first.custom_data(module),
                content_start: first.range.end,
            });
        }
    }
    Ok(Layout {
        embedded: None,
        content_start: HEADER_LEN,
    })
}

/// The hashes of signed content (everything after the signature section or header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHashes {
    /// SHA-256 of all the content.
    pub whole: Hash,
    /// The rolling hash after each `signature_delimiter` section: `(end offset in the content,
    /// hash of content[..end])`, in order. Collected while the section framing is well-formed.
    pub boundaries: Vec<(usize, Hash)>,
    /// Whether the section framing was well-formed to the end.
    pub well_formed: bool,
    /// Whether the last section is a delimiter.
    pub ends_with_delimiter: bool,
    /// Number of sections in the content (while well-formed).
    pub sections: usize,
}

/// Hashes `content` (section bytes, without the module header) in one pass: the rolling hash at
/// each delimiter and the hash of everything. Malformed framing is not an error here: hashing
/// continues over the raw bytes and `well_formed` is false.
pub fn content_hashes(content: &[u8]) -> ContentHashes {
    let mut hasher = Sha256::new();
    let mut boundaries = Vec::new();
    let mut well_formed = true;
    let mut ends_with_delimiter = false;
    let mut sections_seen = 0;
    let mut hashed = 0;
    for s in sections(content, 0) {
        let Ok(s) = s else {
            well_formed = false;
            break;
        };
        sections_seen += 1;
        hasher.update(&content[s.range.clone()]);
        hashed = s.range.end;
        ends_with_delimiter = s.is_custom(content, DELIMITER_SECTION);
        if ends_with_delimiter {
            boundaries.push((hashed, hasher.clone().finalize().into()));
        }
    }
    hasher.update(&content[hashed..]);
    ContentHashes {
        whole: hasher.finalize().into(),
        boundaries,
        well_formed,
        ends_with_delimiter,
        sections: sections_seen,
    }
}

/// The hash sequence a signer signs for `content`: each delimiter's rolling hash, then the hash
/// of everything unless the content ends with a delimiter. Fails on malformed framing.
pub fn hashes_to_sign(content: &[u8]) -> Result<Vec<Hash>, Error> {
    for s in sections(content, 0) {
        s?;
    }
    let h = content_hashes(content);
    let mut out: Vec<Hash> = h.boundaries.iter().map(|(_, h)| *h).collect();
    if !h.ends_with_delimiter {
        out.push(h.whole);
    }
    Ok(out)
}

/// Encodes a custom section.
pub fn custom_section(name: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    write_varuint32(&mut payload, name.len() as u32);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let size = u32::try_from(payload.len())
        .map_err(|_| Error::Signing("custom section larger than 4 GiB".into()))?;
    let mut out = Vec::with_capacity(payload.len() + 6);
    out.push(0);
    write_varuint32(&mut out, size);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Inserts a `signature_delimiter` section after every section for which `after` returns true
/// (and which is not already followed by a delimiter), so that a signature over the result
/// covers each part with its own rolling hash (wasmsign2's `split`). `random` supplies the 16
/// bytes of each delimiter. An embedded signature section is kept first and unchanged.
pub fn add_delimiters(
    module: &[u8],
    mut after: impl FnMut(&Section) -> bool,
    mut random: impl FnMut() -> Result<[u8; DELIMITER_LEN], Error>,
) -> Result<Vec<u8>, Error> {
    let layout = layout(module)?;
    let mut out = module[..layout.content_start].to_vec();
    let all: Vec<Section> = sections(module, layout.content_start).collect::<Result<_, _>>()?;
    for (i, s) in all.iter().enumerate() {
        out.extend_from_slice(&module[s.range.clone()]);
        let is_delimiter = s.is_custom(module, DELIMITER_SECTION);
        let next_is_delimiter = all
            .get(i + 1)
            .is_some_and(|n| n.is_custom(module, DELIMITER_SECTION));
        if !is_delimiter && !next_is_delimiter && after(s) {
            out.extend_from_slice(&custom_section(DELIMITER_SECTION, &random()?)?);
        }
    }
    Ok(out)
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests;
