//! Load policies: provenance checks on a module's bytes before they reach the parser.
//!
//! A [`LoadPolicy`] (from `kiln-trust`, re-exported as [`crate::trust`]) set with
//! [`Config::load_policy`] applies to every module an engine built from that configuration
//! loads: [`Module::new`], [`Module::from_file`] and [`Module::from_binary`] hand the raw bytes
//! (binary or text, exactly as given) to the policy first, and parse them only if it allows
//! them. Every decision is recorded through the policy's audit trail. A detached signature goes
//! with the module: [`Module::from_binary_with_signature`], [`Module::from_file_with_signature`].
//!
//! ```no_run
//! use kiln::{Config, Engine, LoadPolicy, Module, PublicKey};
//!
//! # fn main() -> anyhow::Result<()> {
//! let mut config = Config::new();
//! config.load_policy(LoadPolicy::require_signature(PublicKey::from_file("pk.key")?, 1)?);
//! let engine = Engine::new(&config)?;
//! let _module = Module::from_file(&engine, "app.wasm")?; // refused unless signed by pk.key
//! # Ok(())
//! # }
//! ```

use crate::{Config, Engine, Module};
use anyhow::{Context, Result, bail};
use kiln_trust::Audit;
use std::path::Path;
use std::sync::Arc;

pub use kiln_trust::{LoadPolicy, PinSet, PublicKey};

impl Config {
    /// Checks every module's bytes against `policy` before parsing them: signatures by trusted
    /// keys (k of n, whole module unless partial signatures are allowed) and/or pinned hashes.
    /// A module that does not satisfy it fails to load with
    /// [`trust::Error::Refused`](crate::trust::Error::Refused). No policy by default.
    pub fn load_policy(&mut self, policy: LoadPolicy) -> &mut Self {
        self.load_policy = Some(Arc::new(policy));
        self
    }
}

impl Engine {
    /// The load policy modules of this engine are checked against, if any.
    pub fn load_policy(&self) -> Option<&LoadPolicy> {
        self.config().load_policy.as_deref()
    }

    /// The audit trail of the engine's load policy. Host APIs (WASI) record the capability uses
    /// they refuse here with [`Audit::capability_denied`]; without a policy, use
    /// [`trust::audit::capability_denied`](crate::trust::audit::capability_denied), which
    /// emits the `tracing` event only.
    pub fn audit(&self) -> Option<&Audit> {
        self.load_policy().map(LoadPolicy::audit)
    }
}

impl Module {
    /// Like [`Module::from_binary`], with a detached signature (the payload of a `signature`
    /// section, as `kiln sign --signature-file` writes it) for the engine's load policy. Fails
    /// if the engine has no load policy.
    pub fn from_binary_with_signature(
        engine: &Engine,
        wasm: &[u8],
        signature: &[u8],
    ) -> Result<Module> {
        require_policy(engine)?;
        check_load(engine, wasm, Some(signature), None)?;
        Module::compile(engine, wasm)
    }

    /// Like [`Module::from_file`], with a detached signature for the engine's load policy.
    /// Fails if the engine has no load policy.
    pub fn from_file_with_signature(
        engine: &Engine,
        path: impl AsRef<Path>,
        signature: &[u8],
    ) -> Result<Module> {
        let path = path.as_ref();
        require_policy(engine)?;
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        check_load(engine, &bytes, Some(signature), Some(path))?;
        let wasm = wat::parse_bytes(&bytes).map_err(|mut e| {
            e.set_path(path);
            anyhow::anyhow!("{e}")
        })?;
        Module::compile(engine, &wasm)
            .with_context(|| format!("failed to compile {}", path.display()))
    }
}

fn require_policy(engine: &Engine) -> Result<()> {
    if engine.load_policy().is_none() {
        bail!("a detached signature needs an engine with a load policy to check it against");
    }
    Ok(())
}

/// Applies the engine's load policy, if any, to a module's raw bytes (before `wat` or
/// `wasmparser` see them) and records the decision.
pub(crate) fn check_load(
    engine: &Engine,
    bytes: &[u8],
    detached: Option<&[u8]>,
    path: Option<&Path>,
) -> Result<()> {
    if let Some(policy) = engine.load_policy() {
        let name = path.map(|p| p.display().to_string());
        policy.check(bytes, detached, name.as_deref())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
