//! `LoadPolicy`: what a module must prove before its bytes reach the parser, and the
//! [`Decision`] taken for each module.
//!
//! A policy has up to two requirements, both of which must hold:
//! - **signatures**: at least `threshold` distinct trusted keys have a valid Ed25519 signature
//!   over the module. By default each counted signature must cover the *whole* module (the
//!   last hash of its set equals the hash of everything after the signature section); a
//!   signature covering only a prefix ending at a `signature_delimiter` counts only with
//!   [`LoadPolicy::allow_partial`]. Unknown algorithms never count, and are never errors.
//! - **pins**: the SHA-256 of the module's exact bytes is listed in a [`PinSet`].
//!
//! A policy with neither allows every module; its decisions are still audited. Every decision
//! of [`LoadPolicy::check`] is recorded through the policy's [`Audit`] before it is returned.

use crate::audit::Audit;
use crate::encoding::hex;
use crate::format::Hash;
use crate::keys::{KeyId, PublicKey};
use crate::pins::PinSet;
use crate::verify::{Coverage, verify};
use crate::wasm::sha256;
use crate::{Error, Signer};

/// The provenance requirements for loading a module.
#[derive(Debug, Clone, Default)]
pub struct LoadPolicy {
    signature: Option<SignatureRequirement>,
    allow_partial: bool,
    pins: Option<PinSet>,
    audit: Audit,
}

#[derive(Debug, Clone)]
struct SignatureRequirement {
    keys: Vec<PublicKey>,
    threshold: usize,
}

/// A description of a policy, as recorded with each decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicySummary {
    /// Whether signatures are required.
    pub require_signature: bool,
    /// How many distinct trusted keys must sign (0 when signatures are not required).
    pub threshold: usize,
    /// Key ids of the trusted keys.
    pub trusted: Vec<KeyId>,
    /// Whether a signature over a prefix of the module counts.
    pub allow_partial: bool,
    /// Number of pinned hashes, when pins are required.
    pub pins: Option<usize>,
}

impl std::fmt::Display for PolicySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.require_signature {
            let ids: Vec<String> = self.trusted.iter().map(KeyId::to_string).collect();
            parts.push(format!(
                "signed by {} of [{}], {}",
                self.threshold,
                ids.join(", "),
                if self.allow_partial {
                    "prefix allowed"
                } else {
                    "whole module"
                }
            ));
        }
        if let Some(n) = self.pins {
            parts.push(format!("pinned ({n} hashes)"));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// The outcome of applying a policy to one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The module's name (usually its path), if known.
    pub module: Option<String>,
    /// SHA-256 of the module's exact bytes.
    pub sha256: Hash,
    /// Size in bytes.
    pub size: usize,
    /// Trusted keys whose signatures counted toward the threshold.
    pub signers: Vec<KeyId>,
    /// The name of the matching pin, if pins were checked and one matched.
    pub pin: Option<String>,
    /// The policy applied.
    pub policy: PolicySummary,
    /// Whether the module may be loaded.
    pub allowed: bool,
    /// Why, in one lowercase sentence.
    pub reason: String,
}

impl Decision {
    /// "module `NAME`", or "module" when the name is unknown.
    pub fn subject(&self) -> String {
        match &self.module {
            Some(name) => format!("module `{name}`"),
            None => "module".to_string(),
        }
    }
}

impl LoadPolicy {
    /// A policy that allows every module (its decisions are still audited).
    pub fn new() -> LoadPolicy {
        LoadPolicy::default()
    }

    /// A policy requiring `threshold` of the distinct `keys` to sign the whole module.
    pub fn require_signature(
        keys: impl IntoIterator<Item = PublicKey>,
        threshold: usize,
    ) -> Result<LoadPolicy, Error> {
        LoadPolicy::new().with_signature(keys, threshold)
    }

    /// Adds the signature requirement: `threshold` of the distinct `keys` (duplicates count
    /// once) must sign. Fails when there is no key or the threshold is 0 or above the number of
    /// distinct keys.
    pub fn with_signature(
        mut self,
        keys: impl IntoIterator<Item = PublicKey>,
        threshold: usize,
    ) -> Result<LoadPolicy, Error> {
        let mut distinct: Vec<PublicKey> = Vec::new();
        for k in keys {
            if !distinct.contains(&k) {
                distinct.push(k);
            }
        }
        if distinct.is_empty() {
            return Err(Error::Policy(
                "requiring signatures needs a trusted key".into(),
            ));
        }
        if threshold == 0 || threshold > distinct.len() {
            return Err(Error::Policy(format!(
                "threshold {threshold} must be between 1 and the number of distinct trusted \
                 keys ({})",
                distinct.len()
            )));
        }
        self.signature = Some(SignatureRequirement {
            keys: distinct,
            threshold,
        });
        Ok(self)
    }

    /// Whether signatures covering only a prefix of the module (ending at a
    /// `signature_delimiter`) count. Off by default: such a module may have been truncated or
    /// had sections appended after signing.
    pub fn allow_partial(mut self, allow: bool) -> LoadPolicy {
        self.allow_partial = allow;
        self
    }

    /// Adds the pin requirement: the module's SHA-256 must be in `pins`.
    pub fn with_pins(mut self, pins: PinSet) -> LoadPolicy {
        self.pins = Some(pins);
        self
    }

    /// Sets where decisions are recorded (a `tracing` event is always emitted).
    pub fn with_audit(mut self, audit: Audit) -> LoadPolicy {
        self.audit = audit;
        self
    }

    /// The audit trail decisions are recorded to; also the place to record denied capability
    /// uses of modules loaded under this policy (see [`Audit::capability_denied`]).
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Whether the policy has a signature requirement.
    pub fn requires_signature(&self) -> bool {
        self.signature.is_some()
    }

    /// A description of the policy.
    pub fn summary(&self) -> PolicySummary {
        PolicySummary {
            require_signature: self.signature.is_some(),
            threshold: self.signature.as_ref().map_or(0, |s| s.threshold),
            trusted: self
                .signature
                .as_ref()
                .map(|s| s.keys.iter().map(PublicKey::key_id).collect())
                .unwrap_or_default(),
            allow_partial: self.allow_partial,
            pins: self.pins.as_ref().map(PinSet::len),
        }
    }

    /// Decides whether `module` (its exact bytes, before any parsing) may be loaded, using the
    /// embedded signature or `detached`. Records nothing.
    pub fn evaluate(&self, module: &[u8], detached: Option<&[u8]>, name: Option<&str>) -> Decision {
        let mut decision = Decision {
            module: name.map(str::to_string),
            sha256: sha256(module),
            size: module.len(),
            signers: Vec::new(),
            pin: None,
            policy: self.summary(),
            allowed: false,
            reason: String::new(),
        };
        let mut reasons = Vec::new();
        if let Some(pins) = &self.pins {
            match pins.lookup(&decision.sha256) {
                Some(pin) => {
                    decision.pin = Some(pin.name.clone());
                    reasons.push(if pin.name.is_empty() {
                        "pinned".to_string()
                    } else {
                        format!("pinned as `{}`", pin.name)
                    });
                }
                None => {
                    decision.reason = format!(
                        "module hash {} is not in the pin file",
                        hex(&decision.sha256)
                    );
                    return decision;
                }
            }
        }
        if let Some(req) = &self.signature {
            match self.check_signatures(req, module, detached, &mut decision) {
                Ok(reason) => reasons.push(reason),
                Err(reason) => {
                    decision.reason = reason;
                    return decision;
                }
            }
        }
        decision.allowed = true;
        decision.reason = if reasons.is_empty() {
            "no provenance requirement".to_string()
        } else {
            reasons.join("; ")
        };
        decision
    }

    /// Applies the signature requirement; `Ok` is the reason it holds, `Err` why it does not.
    fn check_signatures(
        &self,
        req: &SignatureRequirement,
        module: &[u8],
        detached: Option<&[u8]>,
        decision: &mut Decision,
    ) -> Result<String, String> {
        let v = verify(module, detached, &req.keys).map_err(|e| e.to_string())?;
        let (counted, prefix_only): (Vec<&Signer>, Vec<&Signer>) = v
            .signers
            .iter()
            .partition(|s| self.allow_partial || s.coverage == Coverage::Whole);
        decision.signers = counted.iter().map(|s| s.key_id).collect();
        let ids = |signers: &[&Signer]| {
            signers
                .iter()
                .map(|s| s.key_id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if counted.len() >= req.threshold {
            let mut reason = format!(
                "signed by {} of the {} required trusted keys ({})",
                counted.len(),
                req.threshold,
                ids(&counted)
            );
            // Signers are sorted by coverage, best first: the threshold-th one bounds what the
            // required number of keys vouch for together.
            match counted[req.threshold - 1].coverage {
                Coverage::Whole => reason.push_str(", whole module"),
                Coverage::Prefix { signed, total } => reason.push_str(&format!(
                    ", partial: the first {signed} of {total} bytes after the signature are \
                     signed, {} are not (partial signatures allowed)",
                    total - signed
                )),
            }
            if v.detached {
                reason.push_str(", detached signature");
            }
            return Ok(reason);
        }
        let mut reason = if counted.is_empty() {
            "no valid signature from a trusted key".to_string()
        } else {
            format!(
                "signed by only {} of the {} required trusted keys ({})",
                counted.len(),
                req.threshold,
                ids(&counted)
            )
        };
        if let Some(s) = prefix_only.first()
            && let Coverage::Prefix { signed, total } = s.coverage
        {
            reason.push_str(&format!(
                "; a signature by {} covers only a prefix ({signed} of {total} bytes, ending at \
                 a `signature_delimiter`): the module was truncated or extended after signing, \
                 and partial signatures are not allowed",
                ids(&prefix_only)
            ));
        }
        if v.mismatched > 0 {
            reason.push_str(
                "; a trusted key signed different content: the module was modified after signing",
            );
        }
        if v.budget_exhausted {
            reason.push_str(&format!(
                "; verification stopped after {} signature checks",
                crate::verify::MAX_VERIFICATIONS
            ));
        }
        if v.unknown_algorithms > 0 {
            reason.push_str(&format!(
                "; {} signatures use an unknown algorithm",
                v.unknown_algorithms
            ));
        }
        Err(reason)
    }

    /// Decides, records the decision (a `tracing` event and every audit sink), and returns it
    /// when the module may be loaded. A refusal is [`Error::Refused`]; a failure to write the
    /// audit log refuses the module too ([`Error::Audit`]).
    pub fn check(
        &self,
        module: &[u8],
        detached: Option<&[u8]>,
        name: Option<&str>,
    ) -> Result<Decision, Error> {
        let decision = self.evaluate(module, detached, name);
        self.audit.load(&decision)?;
        if decision.allowed {
            Ok(decision)
        } else {
            Err(Error::Refused(Box::new(decision)))
        }
    }
}

#[cfg(test)]
mod tests;
