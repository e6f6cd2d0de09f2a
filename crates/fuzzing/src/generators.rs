//! Generators: `wasm-smith` module configurations and Kiln engine configurations.
//!
//! Module configurations start from `wasm-smith`'s swarm configuration (its `Arbitrary` impl
//! picks maximums and turns features on and off at random) and then clamp it to Kiln's feature
//! set and to sizes that keep one fuzz input fast.

use arbitrary::{Arbitrary, Result, Unstructured};
use kiln::{Config, OptLevel};

/// The x86-64 CPU features above SSE2 that Cranelift may use; a "baseline" configuration
/// turns them all off so the fallback lowerings (and SIMD libcalls) get fuzzed too.
pub const ABOVE_SSE2: &[&str] = &[
    "has_sse3",
    "has_ssse3",
    "has_cmpxchg16b",
    "has_sse41",
    "has_sse42",
    "has_avx",
    "has_avx2",
    "has_fma",
    "has_avx_vnni",
    "has_avx512bitalg",
    "has_avx512dq",
    "has_avx512vl",
    "has_avx512vbmi",
    "has_avx512f",
    "has_avx512vnni",
    "has_popcnt",
    "has_bmi1",
    "has_bmi2",
    "has_lzcnt",
];

/// The largest linear memory (bytes) generated modules declare, and the most any memory
/// may grow to at run time (the store limit of `instantiate` and `differential`).
pub const MAX_MEMORY_BYTES: u64 = 16 << 20;

/// The most table elements generated modules declare or grow to at run time.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000;

/// Fuel each exported-function call (and instantiation) gets.
pub const FUEL: u64 = 100_000;

/// Which module features a generated module may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Features {
    /// Everything Kiln implements: Wasm 2.0 (incl. SIMD) and relaxed SIMD.
    Kiln,
    /// Kiln's features minus relaxed SIMD, whose results legitimately differ between
    /// implementations (used by the differential oracle).
    Deterministic,
}

/// A `wasm-smith` configuration: a swarm configuration clamped to `features` and to small
/// sizes.
pub fn module_config(u: &mut Unstructured<'_>, features: Features) -> Result<wasm_smith::Config> {
    let mut c = wasm_smith::Config::arbitrary(u)?;
    // Proposals Kiln does not implement.
    c.threads_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.gc_enabled = false;
    c.exceptions_enabled = false;
    c.memory64_enabled = false;
    c.tail_call_enabled = false;
    c.extended_const_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.wide_arithmetic_enabled = false;
    c.compact_imports_enabled = false;
    c.custom_descriptors_enabled = false;
    c.multibyte_array_access_enabled = false;
    c.acquire_release_atomics_enabled = false;
    c.max_memories = c.max_memories.min(1);
    if features == Features::Deterministic {
        c.relaxed_simd_enabled = false;
    }
    if !c.simd_enabled {
        c.relaxed_simd_enabled = false;
    }
    // Sizes: big enough to be interesting, small enough for thousands of inputs a second.
    c.max_types = c.max_types.min(50);
    c.max_imports = c.max_imports.min(20);
    c.max_funcs = c.max_funcs.min(40);
    c.max_globals = c.max_globals.min(30);
    c.max_exports = c.max_exports.min(30);
    c.max_element_segments = c.max_element_segments.min(20);
    c.max_elements = c.max_elements.min(100);
    c.max_data_segments = c.max_data_segments.min(20);
    c.max_instructions = c.max_instructions.min(400);
    c.max_tables = c.max_tables.min(5);
    c.max_table_elements = c.max_table_elements.min(MAX_TABLE_ELEMENTS);
    c.max_memory32_bytes = c.max_memory32_bytes.min(MAX_MEMORY_BYTES);
    c.max_type_size = c.max_type_size.min(100);
    Ok(c)
}

/// A module for `config`, as bytes.
pub fn module(u: &mut Unstructured<'_>, config: wasm_smith::Config) -> Result<Vec<u8>> {
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}

/// How linear-memory accesses are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// The default: a 4 GiB reservation with a 32 MiB guard; faults become traps.
    Guard,
    /// A small reservation and guard: some checks elided, others explicit, memories move.
    SmallGuard {
        /// `Config::memory_reservation`.
        reservation: u64,
        /// `Config::memory_guard_size`.
        guard: u64,
    },
    /// No reservation, no guard, no signals: every trap is an explicit branch.
    Explicit,
}

/// A Kiln engine configuration chosen at random.
#[derive(Debug, Clone)]
pub struct KilnConfig {
    /// Cranelift's optimisation level.
    pub opt_level: OptLevel,
    /// Memory bounds-check strategy.
    pub bounds: Bounds,
    /// Compile for the x86-64 baseline (SSE2 only).
    pub baseline_cpu: bool,
    /// `Config::relaxed_simd_deterministic`.
    pub relaxed_deterministic: bool,
}

impl<'a> Arbitrary<'a> for KilnConfig {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let opt_level = *u.choose(&[OptLevel::None, OptLevel::Speed, OptLevel::SpeedAndSize])?;
        let bounds = match u.int_in_range(0..=2u8)? {
            0 => Bounds::Guard,
            1 => Bounds::SmallGuard {
                reservation: *u.choose(&[0, 1 << 16, 1 << 20, 1 << 24])?,
                guard: *u.choose(&[0, 1 << 12, 1 << 16, 1 << 20])?,
            },
            _ => Bounds::Explicit,
        };
        Ok(KilnConfig {
            opt_level,
            bounds,
            baseline_cpu: u.ratio(1, 4)?,
            relaxed_deterministic: u.arbitrary()?,
        })
    }
}

impl KilnConfig {
    /// The default engine configuration (guard pages, optimised).
    pub fn default_config() -> Self {
        KilnConfig {
            opt_level: OptLevel::Speed,
            bounds: Bounds::Guard,
            baseline_cpu: false,
            relaxed_deterministic: false,
        }
    }

    /// The `kiln::Config` this describes (fuel off; oracles that run code turn it on).
    pub fn to_config(&self) -> Config {
        let mut config = Config::new();
        config.cranelift_opt_level(self.opt_level);
        match self.bounds {
            Bounds::Guard => {}
            Bounds::SmallGuard { reservation, guard } => {
                config
                    .memory_reservation(reservation)
                    .memory_guard_size(guard);
            }
            Bounds::Explicit => {
                config
                    .memory_reservation(0)
                    .memory_guard_size(0)
                    .signals_based_traps(false);
            }
        }
        if self.baseline_cpu {
            for feature in ABOVE_SSE2 {
                config.cranelift_flag_set(feature, "false");
            }
        }
        config.relaxed_simd_deterministic(self.relaxed_deterministic);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every clamped configuration yields modules that Kiln's validator accepts.
    #[test]
    fn generated_modules_use_only_kiln_features() {
        let features = wasmparser::WasmFeatures::WASM2 | wasmparser::WasmFeatures::RELAXED_SIMD;
        let mut rng = crate::smoke::Rng::new(7);
        for _ in 0..100 {
            let data = rng.bytes(4096);
            let mut u = Unstructured::new(&data);
            let Ok(config) = module_config(&mut u, Features::Kiln) else {
                continue;
            };
            let Ok(wasm) = module(&mut u, config) else {
                continue;
            };
            wasmparser::Validator::new_with_features(features)
                .validate_all(&wasm)
                .expect("generated module is valid Wasm 2.0 + relaxed SIMD");
        }
    }
}
