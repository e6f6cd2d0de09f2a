//! Pinned module hashes: a file of `SHA256HEX  NAME` lines, as `sha256sum` writes them.
//!
//! A module is pinned when the SHA-256 of its exact bytes (the file as read, before any
//! parsing) is listed. The name is informational: it is reported in decisions and the audit
//! log, but a hash matches whatever the module's file is called. Blank lines and lines starting
//! with `#` are ignored; `sha256sum`'s binary marker (`*NAME`) is accepted.

use crate::Error;
use crate::encoding::{hex, parse_hex32};
use crate::format::Hash;
use std::path::Path;

/// Largest pin file read.
pub const MAX_PIN_FILE_LEN: u64 = 16 << 20;

/// One pinned hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// SHA-256 of the module's bytes.
    pub sha256: Hash,
    /// The name given in the pin file (may be empty).
    pub name: String,
}

/// A set of pinned hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinSet {
    pins: Vec<Pin>,
}

impl PinSet {
    /// An empty set (pins nothing).
    pub fn new() -> PinSet {
        PinSet::default()
    }

    /// Adds a pin.
    pub fn insert(&mut self, sha256: Hash, name: impl Into<String>) {
        self.pins.push(Pin {
            sha256,
            name: name.into(),
        });
    }

    /// Parses the text of a pin file.
    pub fn parse(text: &str) -> Result<PinSet, Error> {
        let mut set = PinSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| Error::Pin {
                line: n + 1,
                message,
            };
            let (digest, name) = match line.split_once(|c: char| c.is_ascii_whitespace()) {
                Some((d, rest)) => (d, rest.trim_start()),
                None => (line, ""),
            };
            let digest = digest.strip_prefix("sha256:").unwrap_or(digest);
            let sha256 = parse_hex32(digest).ok_or_else(|| {
                bad(format!(
                    "expected 64 hex digits of SHA-256, found `{}`",
                    digest.chars().take(80).collect::<String>()
                ))
            })?;
            let name = name.strip_prefix('*').unwrap_or(name);
            set.insert(sha256, name);
        }
        Ok(set)
    }

    /// Reads and parses a pin file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PinSet, Error> {
        use std::io::Read;
        let path = path.as_ref();
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_PIN_FILE_LEN + 1).read_to_string(&mut text))
            .map_err(|source| Error::Read {
                path: path.display().to_string(),
                source,
            })?;
        if text.len() as u64 > MAX_PIN_FILE_LEN {
            return Err(Error::Read {
                path: path.display().to_string(),
                source: std::io::Error::other(format!("larger than {MAX_PIN_FILE_LEN} bytes")),
            });
        }
        PinSet::parse(&text)
    }

    /// The pin for `sha256`, if any.
    pub fn lookup(&self, sha256: &Hash) -> Option<&Pin> {
        self.pins.iter().find(|p| &p.sha256 == sha256)
    }

    /// Number of pins.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether the set pins nothing.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// The pins, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Pin> {
        self.pins.iter()
    }

    /// The file form: one `hex  name` line per pin.
    pub fn to_text(&self) -> String {
        self.pins
            .iter()
            .map(|p| format!("{}  {}\n", hex(&p.sha256), p.name))
            .collect()
    }
}

#[cfg(test)]
mod tests;
