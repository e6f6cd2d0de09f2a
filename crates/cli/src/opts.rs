//! Engine options shared by `kiln run` and `kiln wast`, with Wasmtime's spellings:
//! `-O opt-level=2`, `-O memory-reservation=4GiB`, `-O memory-guard-size=0x10000`,
//! `-O signals-based-traps=n`, or several at once, `-O a=b,c=d`.
//!
//! Parsing is separate from [`kiln::Config`] so it can be tested without an engine; an unknown
//! key or a bad value is an error that names it and lists what is accepted.

use anyhow::{Result, bail};
use kiln::{Config, OptLevel};

/// The `-O` keys, with a description of their values.
pub const KEYS: &[(&str, &str)] = &[
    ("opt-level", "0|1|2|s"),
    ("memory-reservation", "BYTES"),
    ("memory-guard-size", "BYTES"),
    ("signals-based-traps", "y|n"),
];

/// Engine settings given on the command line; `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// `opt-level`
    pub opt_level: Option<OptLevel>,
    /// `memory-reservation`
    pub memory_reservation: Option<u64>,
    /// `memory-guard-size`
    pub memory_guard_size: Option<u64>,
    /// `signals-based-traps`
    pub signals_based_traps: Option<bool>,
}

impl EngineOptions {
    /// Parses every `-O` argument, in order; a later setting of a key wins.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Self> {
        let mut opts = EngineOptions::default();
        for arg in args {
            for item in arg.as_ref().split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                opts.set(item)?;
            }
        }
        Ok(opts)
    }

    fn set(&mut self, item: &str) -> Result<()> {
        let Some((key, value)) = item.split_once('=') else {
            bail!("option `-O {item}` needs a value: `-O {item}=VALUE`");
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |expected: &str| {
            anyhow::anyhow!("invalid value `{value}` for `-O {key}`: expected {expected}")
        };
        match key {
            "opt-level" => {
                self.opt_level = Some(match value {
                    "0" => OptLevel::None,
                    "1" | "2" => OptLevel::Speed,
                    "s" => OptLevel::SpeedAndSize,
                    _ => return Err(bad("0, 1, 2 or s")),
                })
            }
            "memory-reservation" => {
                self.memory_reservation =
                    Some(parse_bytes(value).map_err(|_| bad("a size in bytes, such as 4GiB"))?)
            }
            "memory-guard-size" => {
                self.memory_guard_size =
                    Some(parse_bytes(value).map_err(|_| bad("a size in bytes, such as 32MiB"))?)
            }
            "signals-based-traps" => {
                self.signals_based_traps = Some(parse_bool(value).ok_or_else(|| bad("y or n"))?)
            }
            _ => {
                let valid: Vec<String> = KEYS.iter().map(|(k, v)| format!("{k}={v}")).collect();
                bail!(
                    "unknown option `-O {key}`; valid options are: {}",
                    valid.join(", ")
                )
            }
        }
        Ok(())
    }

    /// A configuration with these settings over the defaults.
    pub fn config(&self) -> Config {
        let mut config = Config::new();
        if let Some(level) = self.opt_level {
            config.cranelift_opt_level(level);
        }
        if let Some(bytes) = self.memory_reservation {
            config.memory_reservation(bytes);
        }
        if let Some(bytes) = self.memory_guard_size {
            config.memory_guard_size(bytes);
        }
        if let Some(enable) = self.signals_based_traps {
            config.signals_based_traps(enable);
        }
        config
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Parses a byte count: decimal (`65536`, `1_000`), hex (`0x10000`), or a number with a
/// suffix `K`/`M`/`G`/`T` (powers of 1024, optionally spelled `KiB`, `KB`, ...).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let s = s.trim().replace('_', "");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return Ok(u64::from_str_radix(hex, 16)?);
    }
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    if number.is_empty() {
        bail!("`{s}` is not a size in bytes");
    }
    let number: u64 = number.parse()?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => bail!("unknown size suffix `{suffix}`"),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| anyhow::anyhow!("`{s}` bytes does not fit in 64 bits"))
}

/// Code generator settings given with `-C`, Wasmtime's spellings. Only
/// `cranelift-<setting>[=<value>]` is accepted: it sets a target CPU feature of Cranelift
/// (`-C cranelift-has-sse41=false`, `-C cranelift-has-avx2`); dashes in the setting name
/// become underscores, and a setting without a value is enabled. `Engine::new` refuses unknown
/// features and features the host CPU lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodegenOptions {
    /// Cranelift settings in order: name (with underscores) and value (`None`: enable).
    pub cranelift: Vec<(String, Option<String>)>,
}

impl CodegenOptions {
    /// Parses every `-C` argument, in order.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Self> {
        let mut opts = CodegenOptions::default();
        for arg in args {
            for item in arg.as_ref().split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                let (key, value) = match item.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().to_string())),
                    None => (item, None),
                };
                let Some(name) = key.strip_prefix("cranelift-").filter(|n| !n.is_empty()) else {
                    bail!(
                        "unknown option `-C {key}`; valid options are: cranelift-<setting>[=<value>], \
                         such as cranelift-has-sse41=false"
                    );
                };
                opts.cranelift.push((name.replace('-', "_"), value));
            }
        }
        Ok(opts)
    }

    /// Applies these settings to `config`.
    pub fn apply(&self, config: &mut Config) {
        for (name, value) in &self.cranelift {
            match value {
                Some(value) => config.cranelift_flag_set(name, value),
                None => config.cranelift_flag_enable(name),
            };
        }
    }
}

#[cfg(test)]
mod tests;
