//! Provenance on the command line: `kiln keygen`, `kiln sign`, `kiln verify`, and the options
//! of `kiln run` that refuse a module before it is parsed ([`ProvenanceArgs`]).
//!
//! Keys and signatures are wasmsign2's: `kiln sign` output is byte-identical to
//! `wasmsign2 sign` for the same key and module. Public keys may be wasmsign2 compact files,
//! PEM/DER, or OpenSSH `ssh-ed25519` lines (a file with several lines gives several keys).
//! See `docs/security.md` for the trust model.

use anyhow::{Context, Result, bail};
use kiln::trust::{self, JsonLinesFile, KeyPair, LoadPolicy, PinSet, PublicKey};
use kiln::{Config, Engine, Module};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Largest detached signature file read (the format's limits keep real ones far below).
const MAX_SIGNATURE_FILE_LEN: u64 = 16 << 20;

/// Arguments of `kiln keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenCommand {
    /// Where to write the public key (wasmsign2 compact format, 33 bytes).
    #[arg(long = "public-key", value_name = "PK")]
    public_key: PathBuf,

    /// Where to write the secret key (wasmsign2 compact key pair, 65 bytes, mode 0600).
    #[arg(long = "secret-key", value_name = "SK")]
    secret_key: PathBuf,
}

impl KeygenCommand {
    /// Generates a key pair; existing files are never overwritten.
    pub fn execute(self) -> Result<ExitCode> {
        for path in [&self.public_key, &self.secret_key] {
            if path.exists() {
                bail!("{} already exists; not overwriting a key", path.display());
            }
        }
        let key = KeyPair::generate()?;
        write_new(&self.secret_key, &key.to_compact(), true)?;
        write_new(&self.public_key, &key.public().to_compact(), false)?;
        println!(
            "key id {}: public key {}, secret key {}",
            key.public().key_id(),
            self.public_key.display(),
            self.secret_key.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Arguments of `kiln sign`.
#[derive(clap::Args, Debug)]
pub struct SignCommand {
    /// The secret key (wasmsign2 key pair, or a PKCS#8 Ed25519 key in PEM or DER).
    #[arg(long = "secret-key", value_name = "SK")]
    secret_key: PathBuf,

    /// The matching public key: its key id is stored with the signature.
    #[arg(long = "public-key", value_name = "PK")]
    public_key: Option<PathBuf>,

    /// Write the signature to SIG (detached) and leave the module unchanged.
    #[arg(long = "signature-file", value_name = "SIG")]
    signature_file: Option<PathBuf>,

    /// Where to write the signed module (default: IN, replaced).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,

    /// The module to sign (binary).
    #[arg(value_name = "IN")]
    input: PathBuf,
}

impl SignCommand {
    /// Signs the module, embedded (a `signature` section first) or detached.
    pub fn execute(self) -> Result<ExitCode> {
        let key = KeyPair::from_file(&self.secret_key)?;
        let key_id = match &self.public_key {
            Some(path) => {
                let pk = one_key(path)?;
                if pk != key.public() {
                    bail!(
                        "{} is not the public key of {}",
                        path.display(),
                        self.secret_key.display()
                    );
                }
                Some(pk.key_id())
            }
            None => None,
        };
        let module = read(&self.input)?;
        let what = format!("{}", self.input.display());
        if let Some(sig_path) = &self.signature_file {
            let sig = trust::sign_detached(&module, &key, key_id.as_ref(), None)
                .with_context(|| format!("failed to sign {what}"))?;
            write_replacing(sig_path, &sig)?;
            if let Some(out) = &self.output {
                write_replacing(out, &module)?;
            }
            println!(
                "signed {what} with key {}: detached signature in {}",
                key.public().key_id(),
                sig_path.display()
            );
        } else {
            let signed = trust::sign(&module, &key, key_id.as_ref())
                .with_context(|| format!("failed to sign {what}"))?;
            let out = self.output.as_ref().unwrap_or(&self.input);
            write_replacing(out, &signed)?;
            println!(
                "signed {what} with key {}: {}",
                key.public().key_id(),
                out.display()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Arguments of `kiln verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyCommand {
    /// A trusted public key (compact, PEM, DER or OpenSSH; repeatable).
    #[arg(long = "public-key", value_name = "PK", required = true)]
    public_keys: Vec<PathBuf>,

    /// How many distinct trusted keys must have signed.
    #[arg(long, value_name = "K", default_value_t = 1)]
    threshold: usize,

    /// A detached signature of IN (instead of the embedded one).
    #[arg(long = "signature-file", value_name = "SIG")]
    signature_file: Option<PathBuf>,

    /// Accept a signature covering only a prefix of IN (ending at a `signature_delimiter`).
    #[arg(long)]
    allow_partial: bool,

    /// The module to verify.
    #[arg(value_name = "IN")]
    input: PathBuf,
}

impl VerifyCommand {
    /// Verifies; exits 0 and prints why when valid, fails with the reason otherwise.
    pub fn execute(self) -> Result<ExitCode> {
        let keys = read_keys(&self.public_keys)?;
        let policy =
            LoadPolicy::require_signature(keys, self.threshold)?.allow_partial(self.allow_partial);
        let module = read(&self.input)?;
        let sig = self
            .signature_file
            .as_deref()
            .map(read_signature)
            .transpose()?;
        let name = self.input.display().to_string();
        let d = policy.evaluate(&module, sig.as_deref(), Some(&name));
        if !d.allowed {
            bail!("{name} is not validly signed: {}", d.reason);
        }
        println!("valid: {}", d.reason);
        Ok(ExitCode::SUCCESS)
    }
}

/// The provenance options of `kiln run`: the module is refused before it is parsed unless it
/// satisfies them. Every decision goes to the audit log, if one is given.
#[derive(clap::Args, Debug, Default)]
pub struct ProvenanceArgs {
    /// Refuse the module unless it is signed by trusted keys (`--trust`).
    #[arg(long)]
    require_signature: bool,

    /// A trusted public key (compact, PEM, DER or OpenSSH; repeatable).
    #[arg(long = "trust", value_name = "PK", requires = "require_signature")]
    trust: Vec<PathBuf>,

    /// How many distinct trusted keys must have signed (default 1).
    #[arg(long, value_name = "K", requires = "require_signature")]
    trust_threshold: Option<usize>,

    /// A detached signature of the module.
    #[arg(long, value_name = "SIG", requires = "require_signature")]
    signature_file: Option<PathBuf>,

    /// Accept a signature covering only a prefix of the module.
    #[arg(long, requires = "require_signature")]
    allow_partial_signature: bool,

    /// Refuse the module unless its SHA-256 is listed in FILE (`SHA256HEX  NAME` lines, as
    /// written by `sha256sum`; repeatable).
    #[arg(long = "pin", value_name = "FILE")]
    pins: Vec<PathBuf>,

    /// Append every load decision to FILE as JSON lines (see `docs/security.md`).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
}

impl ProvenanceArgs {
    /// `config` with the load policy the options ask for (unchanged without any).
    pub fn configure(&self, mut config: Config) -> Result<Config> {
        if !self.require_signature && self.pins.is_empty() && self.audit_log.is_none() {
            return Ok(config);
        }
        let mut policy = LoadPolicy::new();
        if self.require_signature {
            if self.trust.is_empty() {
                bail!("`--require-signature` needs at least one `--trust PK`");
            }
            policy = policy
                .with_signature(read_keys(&self.trust)?, self.trust_threshold.unwrap_or(1))?
                .allow_partial(self.allow_partial_signature);
        }
        if !self.pins.is_empty() {
            let mut all = PinSet::new();
            for path in &self.pins {
                for pin in PinSet::from_file(path)?.iter() {
                    all.insert(pin.sha256, pin.name.clone());
                }
            }
            policy = policy.with_pins(all);
        }
        if let Some(path) = &self.audit_log {
            let sink = JsonLinesFile::open(path)?;
            policy = policy.with_audit(trust::Audit::new().with_sink(Arc::new(sink)));
        }
        config.load_policy(policy);
        Ok(config)
    }

    /// Loads the module at `path` under the engine's load policy, with the detached signature
    /// if one was given.
    pub fn load(&self, engine: &Engine, path: &Path) -> Result<Module> {
        match &self.signature_file {
            Some(sig) => Module::from_file_with_signature(engine, path, &read_signature(sig)?),
            None => Module::from_file(engine, path),
        }
    }
}

/// Every public key in `paths` (a file may hold several OpenSSH keys).
fn read_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for path in paths {
        keys.extend(PublicKey::from_file(path)?);
    }
    Ok(keys)
}

/// The one public key in `path`.
fn one_key(path: &Path) -> Result<PublicKey> {
    match PublicKey::from_file(path)?.as_slice() {
        [one] => Ok(*one),
        keys => bail!(
            "{} holds {} public keys, expected one",
            path.display(),
            keys.len()
        ),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))
}

fn read_signature(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SIGNATURE_FILE_LEN + 1).read_to_end(&mut bytes))
        .with_context(|| format!("failed to read {}", path.display()))?;
    if bytes.len() as u64 > MAX_SIGNATURE_FILE_LEN {
        bail!(
            "{} is larger than {MAX_SIGNATURE_FILE_LEN} bytes",
            path.display()
        );
    }
    Ok(bytes)
}

/// Writes a new file (never replacing one); `secret` files are readable by the owner only.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("failed to write {}", path.display()))
}

/// Replaces `path` with `bytes` atomically (a temporary file beside it, then a rename).
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kiln-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("failed to write {}", path.display()))
}
