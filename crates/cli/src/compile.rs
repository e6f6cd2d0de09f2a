//! `kiln compile` (write an authenticated precompiled artifact), `kiln settings` (what the
//! engine compiles for, and where the artifact key and the compile cache live), and the
//! options `kiln run` takes for precompiled artifacts and the compile cache.

use crate::EngineArgs;
use anyhow::{Context, Result, bail};
use clap::Args;
use kiln::{ArtifactKey, Engine, Module};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `kiln compile [OPTIONS] IN -o OUT`
#[derive(Args, Debug)]
pub struct CompileCommand {
    #[command(flatten)]
    engine: EngineArgs,

    /// Where to write the artifact (default: the input with the extension `.kwasm`).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,

    /// The module to compile (`.wasm` or `.wat`).
    #[arg(value_name = "IN")]
    input: PathBuf,
}

impl CompileCommand {
    /// Runs the command.
    pub fn execute(self) -> Result<ExitCode> {
        let engine = Engine::new(&self.engine.config()?)?;
        let bytes = std::fs::read(&self.input)
            .with_context(|| format!("failed to read {}", self.input.display()))?;
        if kiln::is_artifact(&bytes) {
            bail!("{} is already a precompiled artifact", self.input.display());
        }
        let artifact = engine
            .precompile(&bytes)
            .with_context(|| format!("failed to compile {}", self.input.display()))?;
        let output = self
            .output
            .unwrap_or_else(|| self.input.with_extension("kwasm"));
        std::fs::write(&output, artifact)
            .with_context(|| format!("failed to write {}", output.display()))?;
        Ok(ExitCode::SUCCESS)
    }
}

/// `kiln settings`
#[derive(Args, Debug)]
pub struct SettingsCommand {
    #[command(flatten)]
    engine: EngineArgs,
}

impl SettingsCommand {
    /// Runs the command.
    pub fn execute(self) -> Result<ExitCode> {
        let engine = Engine::new(&self.engine.config()?)?;
        println!("Settings that bind precompiled artifacts (name=value):");
        for line in engine.fingerprint().lines() {
            println!("  {line}");
        }
        match ArtifactKey::default_path() {
            Ok(p) => println!("Artifact key: {}", p.display()),
            Err(e) => println!("Artifact key: unavailable ({e})"),
        }
        match default_cache_dir() {
            Ok(p) => println!(
                "Compile cache: {} (used by `kiln run` unless --cache=off)",
                p.display()
            ),
            Err(e) => println!("Compile cache: unavailable ({e})"),
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The per-user cache directory: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else
/// `$HOME/.cache/kiln`.
pub fn default_cache_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KILN_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p).join("kiln"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("cannot locate the compile cache: neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("kiln"))
}

/// `kiln run`'s options for precompiled artifacts and the compile cache.
#[derive(Args, Debug, Clone, Default)]
pub struct PrecompiledArgs {
    /// Run a precompiled artifact even if it was not made with this user's artifact key.
    /// Its machine code runs unchecked: only for artifacts from a source you trust.
    #[arg(long = "allow-unauthenticated-precompiled")]
    allow_unauthenticated: bool,

    /// Use the compile cache: `on` (the default for `kiln run`) or `off` (also `-C cache=n`).
    #[arg(long = "cache", value_name = "on|off")]
    cache: Option<String>,

    /// The compile cache's directory (default: see `kiln settings`).
    #[arg(long = "cache-dir", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

impl PrecompiledArgs {
    /// Enables the compile cache on `config`, unless `--cache=off` or `-C cache=n` said not to.
    pub fn configure(&self, engine: &EngineArgs, mut config: kiln::Config) -> Result<kiln::Config> {
        let flag = match self.cache.as_deref() {
            None => None,
            Some("on" | "y" | "yes" | "true") => Some(true),
            Some("off" | "n" | "no" | "false") => Some(false),
            Some(other) => bail!("invalid value `{other}` for `--cache`: expected on or off"),
        };
        let enabled = flag.or(engine.codegen_options()?.cache).unwrap_or(true);
        if enabled {
            let dir = match &self.cache_dir {
                Some(d) => d.clone(),
                None => default_cache_dir()?,
            };
            config.cache_dir(Some(dir));
        }
        Ok(config)
    }

    /// Loads `path` if it is a precompiled artifact and `--allow-unauthenticated-precompiled`
    /// was given; otherwise `None` (the normal, authenticated path applies).
    #[expect(
        unsafe_code,
        reason = "the one place the CLI loads an unauthenticated artifact, on the user's explicit request"
    )]
    pub fn load_unauthenticated(&self, engine: &Engine, path: &Path) -> Result<Option<Module>> {
        if !self.allow_unauthenticated {
            return Ok(None);
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        if !kiln::is_artifact(&bytes) {
            return Ok(None);
        }
        // The user asked for this with --allow-unauthenticated-precompiled, whose help says
        // the artifact's code runs unchecked.
        // SAFETY: the caller's obligation (trusting the artifact) is the user's explicit choice.
        let module = unsafe { Module::deserialize_unauthenticated(engine, &bytes) }
            .with_context(|| format!("failed to load {}", path.display()))?;
        Ok(Some(module))
    }
}
