//! Precompiled artifacts (`.kwasm`): a compiled module in one file, bound to the engine that
//! made it and authenticated so that loading it is safe.
//!
//! ```text
//!   0   magic  b"\0kwasm\0\x01"            (never a wasm module: those start "\0asm")
//!   8   format version              u32
//!   12  section count               u32
//!   16  [offset u64, length u64] × 5   sections, in this order:
//!         fingerprint   lines of `name=value`: Kiln version, target, every codegen setting,
//!                       every `Tunables` field, the wasm features
//!         source hash   SHA-256 of the wasm module the artifact was compiled from
//!         wasm          that module's bytes (rebuilds the module IR without compiling; a load
//!                       policy checks them; data segments come from here)
//!         tables        function and trampoline locations, trap table, address map
//!         text          the machine code, at a page-aligned file offset so it can be mapped
//!   end-32  HMAC-SHA256 over every byte before it, keyed by the per-user artifact key
//! ```
//!
//! Loading verifies the MAC over the whole file before reading any other field, so a
//! tampered artifact (or one made with another user's key) is refused before any byte of it is
//! parsed, let alone mapped executable. Every offset, length and count is bounded by the file
//! size before use.

use anyhow::{Context, Result, anyhow, bail};
use kiln_environ::{CompiledCode, FunctionLoc, Trap};
use std::path::{Path, PathBuf};

/// The first bytes of every artifact.
pub const MAGIC: &[u8; 8] = b"\0kwasm\0\x01";
const FORMAT_VERSION: u32 = 1;
const SECTIONS: usize = 5;
const HEADER_LEN: usize = 16 + SECTIONS * 16;
const MAC_LEN: usize = 32;
const TEXT_ALIGN: usize = 4096;

/// Whether `bytes` look like a precompiled artifact (by their magic).
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The secret that authenticates artifacts: 32 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ArtifactKey([u8; 32]);

impl std::fmt::Debug for ArtifactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArtifactKey(..)")
    }
}

impl ArtifactKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ArtifactKey(bytes)
    }

    /// The per-user default location: `$KILN_ARTIFACT_KEY` if set, else
    /// `$XDG_CONFIG_HOME/kiln/artifact.key`, else `$HOME/.config/kiln/artifact.key`.
    pub fn default_path() -> Result<PathBuf> {
        if let Some(p) = std::env::var_os("KILN_ARTIFACT_KEY") {
            return Ok(PathBuf::from(p));
        }
        let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).context(
                    "cannot locate the artifact key: neither XDG_CONFIG_HOME nor HOME is set",
                )?;
                PathBuf::from(home).join(".config")
            }
        };
        Ok(config.join("kiln").join("artifact.key"))
    }

    /// Reads the key at `path`, creating it (32 random bytes, mode 0600, parent directories
    /// 0700) if it does not exist yet. Safe when several processes race to create it.
    pub fn load_or_create(path: &Path) -> Result<ArtifactKey> {
        match std::fs::read(path) {
            Ok(bytes) => return Self::parse(&bytes, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("failed to read the artifact key {}", path.display())
                });
            }
        }
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        let mut key = [0u8; 32];
        random_bytes(&mut key)?;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                f.write_all(&key).with_context(|| {
                    format!("failed to write the artifact key {}", path.display())
                })?;
                Ok(ArtifactKey(key))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let bytes = std::fs::read(path).with_context(|| {
                    format!("failed to read the artifact key {}", path.display())
                })?;
                Self::parse(&bytes, path)
            }
            Err(e) => Err(e)
                .with_context(|| format!("failed to create the artifact key {}", path.display())),
        }
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<ArtifactKey> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            anyhow!(
                "the artifact key {} is {} bytes long, expected 32",
                path.display(),
                bytes.len()
            )
        })?;
        Ok(ArtifactKey(key))
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        kiln_trust::hmac_sha256(&self.0, data)
    }
}

fn random_bytes(out: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(out))
        .context("failed to read random bytes from /dev/urandom")
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    kiln_trust::sha256(bytes)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parts of an artifact.
pub struct Artifact<'a> {
    /// `name=value` lines describing the engine that compiled it.
    pub fingerprint: &'a str,
    /// The source module.
    pub wasm: &'a [u8],
    /// The compiled code and its tables.
    pub code: CompiledCode,
}

/// Writes an artifact, authenticated with `key`.
pub fn write(fingerprint: &str, wasm: &[u8], code: &CompiledCode, key: &ArtifactKey) -> Vec<u8> {
    let tables = encode_tables(code);
    let mut out = Vec::with_capacity(
        HEADER_LEN
            + fingerprint.len()
            + wasm.len()
            + tables.len()
            + code.text.len()
            + TEXT_ALIGN
            + MAC_LEN,
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(SECTIONS as u32).to_le_bytes());
    out.resize(HEADER_LEN, 0);
    let source_hash = sha256(wasm);
    let mut sections = [(0u64, 0u64); SECTIONS];
    for (i, part) in [fingerprint.as_bytes(), &source_hash, wasm, &tables]
        .into_iter()
        .enumerate()
    {
        sections[i] = (out.len() as u64, part.len() as u64);
        out.extend_from_slice(part);
    }
    out.resize(out.len().next_multiple_of(TEXT_ALIGN), 0);
    sections[4] = (out.len() as u64, code.text.len() as u64);
    out.extend_from_slice(&code.text);
    for (i, (off, len)) in sections.iter().enumerate() {
        let at = 16 + i * 16;
        out[at..at + 8].copy_from_slice(&off.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
    }
    let mac = key.mac(&out);
    out.extend_from_slice(&mac);
    out
}

/// Checks the MAC of `bytes` under `key`. This is the first thing done with an artifact's bytes.
pub fn verify(bytes: &[u8], key: &ArtifactKey) -> Result<()> {
    if !is_artifact(bytes) {
        bail!("not a precompiled kiln artifact (bad magic)");
    }
    if bytes.len() < HEADER_LEN + MAC_LEN {
        bail!("precompiled artifact is truncated ({} bytes)", bytes.len());
    }
    let (body, mac) = bytes.split_at(bytes.len() - MAC_LEN);
    let expected = key.mac(body);
    // Constant-time comparison.
    let diff = expected
        .iter()
        .zip(mac)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        bail!(
            "precompiled artifact failed authentication: it was modified, or made with another user's artifact key"
        );
    }
    Ok(())
}

/// Parses an artifact whose MAC was verified (or, for the explicitly unsafe path, not). Never
/// panics: every offset and length is checked against the file.
pub fn parse(bytes: &[u8]) -> Result<Artifact<'_>> {
    if !is_artifact(bytes) {
        bail!("not a precompiled kiln artifact (bad magic)");
    }
    if bytes.len() < HEADER_LEN + MAC_LEN {
        bail!("precompiled artifact is truncated ({} bytes)", bytes.len());
    }
    let body = &bytes[..bytes.len() - MAC_LEN];
    let version = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        bail!(
            "precompiled artifact has format version {version}, this kiln reads version {FORMAT_VERSION}"
        );
    }
    let count = u32::from_le_bytes(body[12..16].try_into().expect("4 bytes"));
    if count as usize != SECTIONS {
        bail!("precompiled artifact has {count} sections, expected {SECTIONS}");
    }
    let mut parts: [&[u8]; SECTIONS] = [&[]; SECTIONS];
    for (i, part) in parts.iter_mut().enumerate() {
        let at = 16 + i * 16;
        let off = u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        let len = u64::from_le_bytes(body[at + 8..at + 16].try_into().expect("8 bytes"));
        let range = usize::try_from(off)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?))
            .filter(|r| r.start >= HEADER_LEN && r.end <= body.len())
            .ok_or_else(|| anyhow!("precompiled artifact section {i} lies outside the file"))?;
        *part = &body[range];
    }
    let fingerprint =
        std::str::from_utf8(parts[0]).context("precompiled artifact fingerprint is not UTF-8")?;
    let source_hash: [u8; 32] = parts[1]
        .try_into()
        .map_err(|_| anyhow!("precompiled artifact source hash is not 32 bytes"))?;
    let wasm = parts[2];
    if sha256(wasm) != source_hash {
        bail!("precompiled artifact's embedded module does not match its source hash");
    }
    let mut code = decode_tables(parts[3])?;
    code.text = parts[4].to_vec();
    check_tables(&code)?;
    Ok(Artifact {
        fingerprint,
        wasm,
        code,
    })
}

/// Compares an artifact's fingerprint with the engine's, naming the first difference.
pub fn check_fingerprint(artifact: &str, engine: &str) -> Result<()> {
    if artifact == engine {
        return Ok(());
    }
    let parse = |s: &str| -> Vec<(String, String)> {
        s.lines()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect()
    };
    let (a, e) = (parse(artifact), parse(engine));
    for (key, value) in &e {
        match a.iter().find(|(k, _)| k == key) {
            None => bail!(
                "precompiled artifact is incompatible with this engine: it does not record `{key}` (this engine: {value})"
            ),
            Some((_, av)) if av != value => bail!(
                "precompiled artifact is incompatible with this engine: `{key}` is {av} in the artifact but {value} in this engine"
            ),
            _ => {}
        }
    }
    if let Some((key, value)) = a.iter().find(|(k, _)| !e.iter().any(|(ek, _)| ek == k)) {
        bail!(
            "precompiled artifact is incompatible with this engine: it records `{key}` = {value}, which this engine does not have"
        );
    }
    bail!("precompiled artifact is incompatible with this engine")
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn encode_tables(code: &CompiledCode) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(&mut out, code.functions.len() as u32);
    for f in &code.functions {
        put_u32(&mut out, f.start);
        put_u32(&mut out, f.length);
    }
    put_u32(&mut out, code.array_to_wasm_trampolines.len() as u32);
    for t in &code.array_to_wasm_trampolines {
        match t {
            Some(f) => {
                out.push(1);
                put_u32(&mut out, f.start);
                put_u32(&mut out, f.length);
            }
            None => out.push(0),
        }
    }
    put_u32(&mut out, code.traps.len() as u32);
    for (off, trap) in &code.traps {
        put_u32(&mut out, *off);
        out.push(*trap as u8);
    }
    put_u32(&mut out, code.address_map.len() as u32);
    for (off, wasm) in &code.address_map {
        put_u32(&mut out, *off);
        put_u32(&mut out, *wasm);
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8> {
        let (&b, rest) = self
            .0
            .split_first()
            .context("precompiled artifact tables are truncated")?;
        self.0 = rest;
        Ok(b)
    }
    fn u32(&mut self) -> Result<u32> {
        if self.0.len() < 4 {
            bail!("precompiled artifact tables are truncated");
        }
        let (b, rest) = self.0.split_at(4);
        self.0 = rest;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    /// A count of items of `item_size` bytes each, bounded by what is left.
    fn count(&mut self, item_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item_size) > self.0.len() {
            bail!("precompiled artifact tables claim {n} entries, more than the file holds");
        }
        Ok(n)
    }
}

fn decode_tables(bytes: &[u8]) -> Result<CompiledCode> {
    let mut r = Reader(bytes);
    let mut code = CompiledCode::default();
    let n = r.count(8)?;
    for _ in 0..n {
        code.functions.push(FunctionLoc {
            start: r.u32()?,
            length: r.u32()?,
        });
    }
    let n = r.count(1)?;
    for _ in 0..n {
        code.array_to_wasm_trampolines.push(match r.u8()? {
            0 => None,
            1 => Some(FunctionLoc {
                start: r.u32()?,
                length: r.u32()?,
            }),
            t => bail!("precompiled artifact tables: bad trampoline tag {t}"),
        });
    }
    let n = r.count(5)?;
    for _ in 0..n {
        let off = r.u32()?;
        let code_byte = r.u8()?;
        let trap = Trap::from_u8(code_byte)
            .ok_or_else(|| anyhow!("precompiled artifact tables: unknown trap code {code_byte}"))?;
        code.traps.push((off, trap));
    }
    let n = r.count(8)?;
    for _ in 0..n {
        code.address_map.push((r.u32()?, r.u32()?));
    }
    if !r.0.is_empty() {
        bail!(
            "precompiled artifact tables have {} trailing bytes",
            r.0.len()
        );
    }
    Ok(code)
}

/// Checks that every location lies inside the text and the tables are sorted, as the runtime
/// assumes.
fn check_tables(code: &CompiledCode) -> Result<()> {
    let len = code.text.len() as u64;
    let inside = |f: &FunctionLoc| u64::from(f.start) + u64::from(f.length) <= len;
    if !code.functions.iter().all(inside)
        || !code.array_to_wasm_trampolines.iter().flatten().all(inside)
    {
        bail!("precompiled artifact: a function lies outside the code");
    }
    if !code.functions.windows(2).all(|w| w[0].start <= w[1].start)
        || !code.traps.windows(2).all(|w| w[0].0 <= w[1].0)
        || !code.address_map.windows(2).all(|w| w[0].0 <= w[1].0)
    {
        bail!("precompiled artifact: tables are not sorted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> ArtifactKey {
        ArtifactKey::from_bytes([b; 32])
    }

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        // RFC 4231 test case 2 uses the 4-byte key "Jefe"; our keys are 32 bytes, so check
        // the construction with the RFC's key zero-padded, which HMAC defines as equivalent.
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(b"Jefe");
        let mac = ArtifactKey::from_bytes(k).mac(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn round_trip_and_tamper() {
        let code = CompiledCode {
            text: vec![0xc3; 100],
            functions: vec![FunctionLoc {
                start: 0,
                length: 10,
            }],
            array_to_wasm_trampolines: vec![Some(FunctionLoc {
                start: 16,
                length: 10,
            })],
            traps: vec![(3, Trap::UnreachableCodeReached)],
            address_map: vec![(0, 20), (5, 22)],
        };
        let bytes = write("kiln-version=1\nx=y", b"\0asm\x01\0\0\0", &code, &key(1));
        verify(&bytes, &key(1)).unwrap();
        let a = parse(&bytes).unwrap();
        assert_eq!(a.fingerprint, "kiln-version=1\nx=y");
        assert_eq!(a.code.text, code.text);
        assert_eq!(a.code.traps, code.traps);
        // Another key, or any flipped byte, is refused.
        assert!(verify(&bytes, &key(2)).is_err());
        for i in (0..bytes.len()).step_by(7) {
            let mut t = bytes.clone();
            t[i] ^= 0x40;
            assert!(verify(&t, &key(1)).is_err(), "flip at {i} accepted");
        }
        // Truncations never panic.
        for n in 0..bytes.len() {
            assert!(verify(&bytes[..n], &key(1)).is_err());
            let _ = parse(&bytes[..n]);
        }
    }

    #[test]
    fn fingerprint_mismatch_names_the_setting() {
        let err = check_fingerprint("a=1\nb=2", "a=1\nb=3")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`b` is 2 in the artifact but 3 in this engine"),
            "{err}"
        );
    }
}
