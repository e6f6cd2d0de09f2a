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

/// The `-W` keys (WebAssembly runtime settings), with a description of their values.
pub const WASM_KEYS: &[(&str, &str)] = &[
    ("fuel", "N"),
    ("timeout", "DURATION"),
    ("max-memory-size", "BYTES"),
    ("max-table-elements", "N"),
    ("max-instances", "N"),
    ("max-tables", "N"),
    ("max-memories", "N"),
    ("max-wasm-stack", "BYTES"),
    ("trap-on-grow-failure", "y|n"),
    ("relaxed-simd-deterministic", "y|n"),
    ("multi-memory", "y|n"),
];

/// Runtime settings given with `-W`, Wasmtime's spellings; `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WasmOptions {
    /// `fuel`: enable fuel metering and give the store this much.
    pub fuel: Option<u64>,
    /// `timeout`: interrupt execution after this long (epochs plus a ticker thread).
    pub timeout: Option<std::time::Duration>,
    /// `max-memory-size`: the most bytes any one linear memory may have.
    pub max_memory_size: Option<u64>,
    /// `max-table-elements`: the most elements any one table may have.
    pub max_table_elements: Option<u64>,
    /// `max-instances`: the most instances a store may hold.
    pub max_instances: Option<u64>,
    /// `max-tables`: the most tables a store may hold.
    pub max_tables: Option<u64>,
    /// `max-memories`: the most memories a store may hold.
    pub max_memories: Option<u64>,
    /// `max-wasm-stack`: the most bytes of stack wasm may use.
    pub max_wasm_stack: Option<u64>,
    /// `trap-on-grow-failure`: trap instead of returning -1 when growth is refused.
    pub trap_on_grow_failure: Option<bool>,
    /// `relaxed-simd-deterministic`: relaxed SIMD gives the same results on every host.
    pub relaxed_simd_deterministic: Option<bool>,
    /// `multi-memory`: allow several memories per module.
    pub multi_memory: Option<bool>,
}

impl WasmOptions {
    /// Parses every `-W` argument, in order; a later setting of a key wins.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Self> {
        let mut opts = WasmOptions::default();
        for arg in args {
            for item in arg.as_ref().split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    opts.set(item)?;
                }
            }
        }
        Ok(opts)
    }

    fn set(&mut self, item: &str) -> Result<()> {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            // A bare boolean key means "yes", as in Wasmtime (`-W trap-on-grow-failure`).
            None => (item, "y"),
        };
        let bad = |expected: &str| {
            anyhow::anyhow!("invalid value `{value}` for `-W {key}`: expected {expected}")
        };
        let count = || -> Result<u64> {
            value
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| bad("a non-negative integer"))
        };
        match key {
            "fuel" => self.fuel = Some(count()?),
            "timeout" => {
                self.timeout = Some(
                    parse_duration(value)
                        .map_err(|_| bad("a duration such as 1s, 500ms, 2m or 1.5s"))?,
                )
            }
            "max-memory-size" => {
                self.max_memory_size =
                    Some(parse_bytes(value).map_err(|_| bad("a size in bytes, such as 64MiB"))?)
            }
            "max-table-elements" => self.max_table_elements = Some(count()?),
            "max-instances" => self.max_instances = Some(count()?),
            "max-tables" => self.max_tables = Some(count()?),
            "max-memories" => self.max_memories = Some(count()?),
            "max-wasm-stack" => {
                self.max_wasm_stack =
                    Some(parse_bytes(value).map_err(|_| bad("a size in bytes, such as 1MiB"))?)
            }
            "trap-on-grow-failure" => {
                self.trap_on_grow_failure = Some(parse_bool(value).ok_or_else(|| bad("y or n"))?)
            }
            "relaxed-simd-deterministic" => {
                self.relaxed_simd_deterministic =
                    Some(parse_bool(value).ok_or_else(|| bad("y or n"))?)
            }
            "multi-memory" => {
                self.multi_memory = Some(parse_bool(value).ok_or_else(|| bad("y or n"))?)
            }
            _ => {
                let valid: Vec<String> =
                    WASM_KEYS.iter().map(|(k, v)| format!("{k}={v}")).collect();
                bail!(
                    "unknown option `-W {key}`; valid options are: {}",
                    valid.join(", ")
                )
            }
        }
        Ok(())
    }
}

impl WasmOptions {
    /// Applies the engine-level settings: fuel metering, epoch interruption (for a timeout),
    /// the maximum wasm stack, relaxed SIMD's mode and multi-memory.
    pub fn apply_to_config(&self, config: &mut Config) {
        if self.fuel.is_some() {
            config.consume_fuel(true);
        }
        if self.timeout.is_some() {
            config.epoch_interruption(true);
        }
        if let Some(bytes) = self.max_wasm_stack {
            config.max_wasm_stack(usize::try_from(bytes).unwrap_or(usize::MAX));
        }
        if let Some(enable) = self.relaxed_simd_deterministic {
            config.relaxed_simd_deterministic(enable);
        }
        if let Some(enable) = self.multi_memory {
            config.wasm_multi_memory(enable);
        }
    }

    /// The store limits these options ask for, if any.
    pub fn store_limits(&self) -> Option<kiln::StoreLimits> {
        let any = self.max_memory_size.is_some()
            || self.max_table_elements.is_some()
            || self.max_instances.is_some()
            || self.max_tables.is_some()
            || self.max_memories.is_some()
            || self.trap_on_grow_failure.is_some();
        if !any {
            return None;
        }
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let mut b = kiln::StoreLimitsBuilder::new();
        if let Some(n) = self.max_memory_size {
            b = b.memory_size(size(n));
        }
        if let Some(n) = self.max_table_elements {
            b = b.table_elements(size(n));
        }
        if let Some(n) = self.max_instances {
            b = b.instances(size(n));
        }
        if let Some(n) = self.max_tables {
            b = b.tables(size(n));
        }
        if let Some(n) = self.max_memories {
            b = b.memories(size(n));
        }
        if let Some(t) = self.trap_on_grow_failure {
            b = b.trap_on_grow_failure(t);
        }
        Some(b.build())
    }

    /// Applies the store-level settings: fuel, the limiter (reached through `limits`), and a
    /// timeout (a deadline of one epoch tick, and a thread that ticks once the time is up).
    pub fn configure_store<T: 'static>(
        &self,
        store: &mut kiln::Store<T>,
        limits: fn(&mut T) -> &mut Option<kiln::StoreLimits>,
    ) -> Result<()> {
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel)?;
        }
        if self.store_limits().is_some() {
            store.limiter(move |data| match limits(data) {
                Some(l) => l as &mut dyn kiln::ResourceLimiter,
                None => unreachable!("limits were installed with the limiter"),
            });
        }
        if let Some(timeout) = self.timeout {
            store.set_epoch_deadline(1);
            let engine = store.engine().clone();
            std::thread::spawn(move || {
                std::thread::sleep(timeout);
                engine.increment_epoch();
            });
        }
        Ok(())
    }

    /// Adds which `-W` limit stopped the guest to an error, when one did.
    pub fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        match err.downcast_ref::<kiln::Trap>() {
            Some(kiln::Trap::OutOfFuel) => match self.fuel {
                Some(n) => err.context(format!("the guest ran out of fuel (-W fuel={n})")),
                None => err,
            },
            Some(kiln::Trap::Interrupt) => match self.timeout {
                Some(t) => err.context(format!(
                    "the guest was interrupted after {t:?} (-W timeout)"
                )),
                None => err,
            },
            Some(kiln::Trap::StackOverflow) => match self.max_wasm_stack {
                Some(n) => err.context(format!(
                    "the guest exhausted its stack (-W max-wasm-stack={n})"
                )),
                None => err,
            },
            _ => {
                let text = format!("{err:#}");
                if text.contains("memory size limit") {
                    err.context("stopped by -W max-memory-size")
                } else if text.contains("table elements limit") {
                    err.context("stopped by -W max-table-elements")
                } else if text.contains("exceeds the store's memory limits") {
                    err.context("refused by -W max-memory-size")
                } else if text.contains("exceeds the store's table limits") {
                    err.context("refused by -W max-table-elements")
                } else if text.contains("instance count too high") {
                    err.context("refused by -W max-instances")
                } else if text.contains("memory count too high") {
                    err.context("refused by -W max-memories")
                } else if text.contains("table count too high") {
                    err.context("refused by -W max-tables")
                } else {
                    err
                }
            }
        }
    }
}

/// Parses a duration: a number with a unit `ns`, `us`, `ms`, `s`, `m` or `h` (`1s`, `500ms`,
/// `1.5s`); a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let s = s.trim();
    let unit_start = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(unit_start);
    let number: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{s}` is not a duration"))?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => bail!("unknown duration unit `{unit}`"),
    };
    if !seconds.is_finite() || !(0.0..=1e12).contains(&seconds) {
        bail!("`{s}` is not a valid duration");
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
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
    /// `-C cache=y|n`: whether `kiln run` uses the compile cache.
    pub cache: Option<bool>,
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
                if key == "cache" {
                    let v = value.as_deref().unwrap_or("y");
                    opts.cache = Some(parse_bool(v).ok_or_else(|| {
                        anyhow::anyhow!("invalid value `{v}` for `-C cache`: expected y or n")
                    })?);
                    continue;
                }
                let Some(name) = key.strip_prefix("cranelift-").filter(|n| !n.is_empty()) else {
                    bail!(
                        "unknown option `-C {key}`; valid options are: cache=y|n, \
                         cranelift-<setting>[=<value>], such as cranelift-has-sse41=false"
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
