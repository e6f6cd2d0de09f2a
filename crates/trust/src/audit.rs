//! The audit trail: every load decision, and every capability a sandboxed module was denied.
//!
//! Each event is emitted as a `tracing` event with target `kiln::audit` (`INFO` for allowed
//! loads, `WARN` for refusals and denied capabilities) and written to every [`AuditSink`] of
//! the [`Audit`], such as a [`JsonLinesFile`] (`kiln run --audit-log FILE`). One event is one
//! JSON object on one line:
//!
//! ```text
//! {"time_ms":1767225600000,"event":"load","module":"app.wasm","sha256":"…","size":193,
//!  "signers":["7fb4a1c5714a575dd1f5c9ab"],"pin":null,"policy":{"require_signature":true,
//!  "threshold":1,"trusted":["7fb4…"],"allow_partial":false,"pins":null},
//!  "verdict":"allow","reason":"signed by 1 of the 1 required trusted keys (…), whole module"}
//! {"time_ms":…,"event":"capability_denied","module":"app.wasm","capability":"path_open",
//!  "resource":"/etc/passwd","reason":"path outside the preopened directories"}
//! ```
//!
//! **Hook for capability denials** (WASI): when a host implementation refuses a guest's use of
//! a capability (a path outside the preopens, a write to a read-only directory, …), call
//! [`Audit::capability_denied`] on the `Audit` of the module's load policy (`kiln` exposes it
//! as `Engine::audit`), or [`capability_denied`] when there is none: that still emits the
//! `tracing` event. `kiln-wasi` does this for every call it refuses with `perm` or
//! `notcapable`.

use crate::Error;
use crate::encoding::hex;
use crate::policy::{Decision, PolicySummary};
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// `tracing` target of audit events.
pub const TARGET: &str = "kiln::audit";

/// A guest's use of a capability that the host refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityDenied {
    /// The module (usually its path), if known.
    pub module: Option<String>,
    /// The capability or host function, e.g. `path_open`.
    pub capability: String,
    /// What it was used on, e.g. the path.
    pub resource: String,
    /// Why it was refused, e.g. `path outside the preopened directories`.
    pub reason: String,
}

/// An audited event.
#[derive(Debug, Clone, Copy)]
pub enum AuditEvent<'a> {
    /// A load decision.
    Load(&'a Decision),
    /// A refused capability use.
    CapabilityDenied(&'a CapabilityDenied),
}

impl AuditEvent<'_> {
    /// The event as one line of JSON (no trailing newline), stamped with `time_ms` (milliseconds
    /// since the Unix epoch).
    pub fn to_json(&self, time_ms: u128) -> String {
        let mut o = JsonObject::new();
        o.raw("time_ms", &time_ms.to_string());
        match self {
            AuditEvent::Load(d) => {
                o.str("event", "load");
                o.opt_str("module", d.module.as_deref());
                o.str("sha256", &hex(&d.sha256));
                o.raw("size", &d.size.to_string());
                o.raw("signers", &json_str_array(d.signers.iter()));
                o.opt_str("pin", d.pin.as_deref());
                o.raw("policy", &policy_json(&d.policy));
                o.str("verdict", if d.allowed { "allow" } else { "deny" });
                o.str("reason", &d.reason);
            }
            AuditEvent::CapabilityDenied(c) => {
                o.str("event", "capability_denied");
                o.opt_str("module", c.module.as_deref());
                o.str("capability", &c.capability);
                o.str("resource", &c.resource);
                o.str("reason", &c.reason);
            }
        }
        o.finish()
    }

    /// Emits the `tracing` event.
    fn trace(&self) {
        match self {
            AuditEvent::Load(d) => {
                let module = d.module.as_deref().unwrap_or("");
                let sha256 = hex(&d.sha256);
                let signers = d
                    .signers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                if d.allowed {
                    tracing::info!(target: TARGET, event = "load", module, sha256, size = d.size,
                        signers, policy = %d.policy, verdict = "allow", reason = %d.reason);
                } else {
                    tracing::warn!(target: TARGET, event = "load", module, sha256, size = d.size,
                        signers, policy = %d.policy, verdict = "deny", reason = %d.reason);
                }
            }
            AuditEvent::CapabilityDenied(c) => {
                tracing::warn!(target: TARGET, event = "capability_denied",
                    module = c.module.as_deref().unwrap_or(""), capability = %c.capability,
                    resource = %c.resource, reason = %c.reason);
            }
        }
    }
}

/// Somewhere audit events go.
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Records one event.
    fn record(&self, event: &AuditEvent<'_>) -> io::Result<()>;
}

/// Appends events as JSON lines to a file.
#[derive(Debug)]
pub struct JsonLinesFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonLinesFile {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<JsonLinesFile, Error> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::Read {
                path: path.display().to_string(),
                source,
            })?;
        Ok(JsonLinesFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AuditSink for JsonLinesFile {
    fn record(&self, event: &AuditEvent<'_>) -> io::Result<()> {
        let mut line = event.to_json(now_ms());
        line.push('\n');
        // One `write_all` of a whole line to an `O_APPEND` file keeps lines from interleaving.
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}

/// Where audit events are recorded: always a `tracing` event, plus every sink. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    sinks: Vec<Arc<dyn AuditSink>>,
}

impl Audit {
    /// An audit trail with no sink (`tracing` events only).
    pub fn new() -> Audit {
        Audit::default()
    }

    /// Adds a sink.
    pub fn with_sink(mut self, sink: Arc<dyn AuditSink>) -> Audit {
        self.sinks.push(sink);
        self
    }

    /// Records `event`: emits the `tracing` event, then writes every sink. Fails on the first
    /// sink that fails.
    pub fn record(&self, event: &AuditEvent<'_>) -> Result<(), Error> {
        event.trace();
        for sink in &self.sinks {
            sink.record(event).map_err(Error::Audit)?;
        }
        Ok(())
    }

    /// Records a load decision.
    pub fn load(&self, decision: &Decision) -> Result<(), Error> {
        self.record(&AuditEvent::Load(decision))
    }

    /// Records a refused capability use (the hook for WASI and other host APIs).
    pub fn capability_denied(&self, denied: &CapabilityDenied) -> Result<(), Error> {
        self.record(&AuditEvent::CapabilityDenied(denied))
    }
}

/// Emits the `tracing` event of a refused capability use when no [`Audit`] is at hand.
pub fn capability_denied(denied: &CapabilityDenied) {
    AuditEvent::CapabilityDenied(denied).trace();
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn policy_json(p: &PolicySummary) -> String {
    let mut o = JsonObject::new();
    o.raw("require_signature", &p.require_signature.to_string());
    o.raw("threshold", &p.threshold.to_string());
    o.raw("trusted", &json_str_array(p.trusted.iter()));
    o.raw("allow_partial", &p.allow_partial.to_string());
    o.raw(
        "pins",
        &p.pins.map_or("null".to_string(), |n| n.to_string()),
    );
    o.finish()
}

fn json_str_array<T: fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = items.map(|i| json_string(&i.to_string())).collect();
    format!("[{}]", items.join(","))
}

/// A JSON object written field by field.
struct JsonObject {
    out: String,
}

impl JsonObject {
    fn new() -> JsonObject {
        JsonObject {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push_str(&json_string(key));
        self.out.push(':');
    }

    fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.out.push_str(json);
    }

    fn str(&mut self, key: &str, value: &str) {
        self.raw(key, &json_string(value));
    }

    fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// `s` as a JSON string literal (RFC 8259): quotes, backslashes and control characters escaped;
/// everything else, including non-ASCII, kept as UTF-8.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
