//! `Config`: every engine-wide setting.

use kiln_environ::{OptLevel, Tunables};

/// Global configuration for an [`Engine`](crate::Engine).
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) tunables: Tunables,
    pub(crate) max_wasm_stack: usize,
    /// Provenance checks on every module's bytes before parsing (see `policy.rs`).
    pub(crate) load_policy: Option<std::sync::Arc<crate::LoadPolicy>>,
    /// Whether modules may have several memories (the multi-memory proposal).
    pub(crate) multi_memory: bool,
    /// Where the key that authenticates precompiled artifacts comes from.
    pub(crate) artifact_key: ArtifactKeySource,
    /// The compile cache, if enabled.
    pub(crate) cache: Option<CacheConfig>,
    /// How instances, memories and tables get their memory.
    pub(crate) allocation: InstanceAllocationStrategy,
    /// Whether data segments become copy-on-write memory images.
    pub(crate) memory_init_cow: bool,
    /// How compiled code is described to profilers.
    pub(crate) profiler: ProfilingStrategy,
}

/// How compiled code is made visible to external profilers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProfilingStrategy {
    /// Not at all (the default).
    #[default]
    None,
    /// Each compiled function's address range and name appended to `/tmp/perf-<pid>.map`,
    /// the file Linux `perf` reads to name JIT code.
    PerfMap,
}

/// How instances, memories and tables get their memory.
#[derive(Debug, Clone, Default)]
pub enum InstanceAllocationStrategy {
    /// Each is allocated (and its address space reserved) when it is created, and freed with
    /// its store. The default.
    #[default]
    OnDemand,
    /// Slots reserved once, when the engine is created, and reused: instantiation makes no
    /// large mapping and frees none, at the price of fixed limits.
    Pooling(PoolingAllocationConfig),
}

impl InstanceAllocationStrategy {
    /// The pooling strategy with the default limits.
    pub fn pooling() -> Self {
        InstanceAllocationStrategy::Pooling(PoolingAllocationConfig::default())
    }
}

/// Limits of the pooling allocator. The defaults (Wasmtime's): 1000 instances, memories and
/// tables alive at once, memories up to 4 GiB, tables up to 20,000 elements, and 1 MiB of
/// instance state (vmctx) per instance.
#[derive(Debug, Clone, Default)]
pub struct PoolingAllocationConfig {
    pub(crate) limits: crate::runtime::vm::pool::PoolLimits,
}

impl PoolingAllocationConfig {
    /// A configuration with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most instances alive at once across the engine's stores.
    pub fn total_core_instances(&mut self, count: u32) -> &mut Self {
        self.limits.total_core_instances = count;
        self
    }

    /// The most defined memories alive at once across the engine's stores.
    pub fn total_memories(&mut self, count: u32) -> &mut Self {
        self.limits.total_memories = count;
        self
    }

    /// The most defined tables alive at once across the engine's stores.
    pub fn total_tables(&mut self, count: u32) -> &mut Self {
        self.limits.total_tables = count;
        self
    }

    /// The largest size, in bytes, a pooled memory may have (initially or by growing).
    pub fn max_memory_size(&mut self, bytes: usize) -> &mut Self {
        self.limits.max_memory_size = bytes;
        self
    }

    /// The most elements a pooled table may have.
    pub fn table_elements(&mut self, elements: usize) -> &mut Self {
        self.limits.table_elements = elements;
        self
    }

    /// The largest instance state (vmctx), in bytes, a pooled instance may have.
    pub fn max_core_instance_size(&mut self, bytes: usize) -> &mut Self {
        self.limits.max_core_instance_size = bytes;
        self
    }
}

/// Where an engine's artifact key comes from.
#[derive(Debug, Clone)]
pub(crate) enum ArtifactKeySource {
    /// The per-user key file (`ArtifactKey::default_path`), created on first use.
    Default,
    /// A key file at this path, created on first use.
    File(std::path::PathBuf),
    /// This key.
    Key(crate::ArtifactKey),
}

/// The compile cache's settings.
#[derive(Debug, Clone)]
pub(crate) struct CacheConfig {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) max_size: u64,
}

/// The default bound on the compile cache's size: 1 GiB.
pub const DEFAULT_CACHE_MAX_SIZE: u64 = 1 << 30;

impl Default for Config {
    fn default() -> Self {
        Config {
            tunables: Tunables::default(),
            max_wasm_stack: 512 * 1024,
            load_policy: None,
            multi_memory: false,
            artifact_key: ArtifactKeySource::Default,
            cache: None,
            allocation: InstanceAllocationStrategy::OnDemand,
            memory_init_cow: true,
            profiler: ProfilingStrategy::None,
        }
    }
}

impl Config {
    /// The default configuration: optimised code, 4 GiB reservations with a 32 MiB guard and
    /// signals-based traps, 512 KiB of wasm stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cranelift's optimisation level.
    pub fn cranelift_opt_level(&mut self, level: OptLevel) -> &mut Self {
        self.tunables.opt_level = level;
        self
    }

    /// Bytes of address space reserved per linear memory. A memory that fits in its
    /// reservation never moves; 4 GiB (the default) lets 32-bit memories skip bounds checks.
    pub fn memory_reservation(&mut self, bytes: u64) -> &mut Self {
        self.tunables.memory_reservation = bytes;
        self
    }

    /// Bytes of inaccessible guard region after each linear memory.
    pub fn memory_guard_size(&mut self, bytes: u64) -> &mut Self {
        self.tunables.memory_guard_size = bytes;
        self
    }

    /// Whether hardware faults may signal traps. With `false`, every trap condition is an
    /// explicit check in the generated code.
    pub fn signals_based_traps(&mut self, enable: bool) -> &mut Self {
        self.tunables.signals_based_traps = enable;
        self
    }

    /// Whether wasm meters fuel (see `Store::set_fuel` and `docs/fuel.md`). Off by default.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Self {
        self.tunables.consume_fuel = enable;
        self
    }

    /// Whether wasm checks the engine's epoch against the store's deadline at function entry
    /// and loop headers (see `Engine::increment_epoch`, `Store::set_epoch_deadline`). Off by
    /// default.
    pub fn epoch_interruption(&mut self, enable: bool) -> &mut Self {
        self.tunables.epoch_interruption = enable;
        self
    }

    /// Whether modules may define and import more than one memory and name a memory in
    /// memory instructions (the multi-memory proposal, part of Wasm 3.0). Off by default:
    /// Wasm 2.0 allows one memory.
    pub fn wasm_multi_memory(&mut self, enable: bool) -> &mut Self {
        self.multi_memory = enable;
        self
    }

    /// The WebAssembly features modules are validated against.
    pub(crate) fn wasm_features(&self) -> wasmparser::WasmFeatures {
        let mut features = kiln_environ::wasm_features();
        features.set(wasmparser::WasmFeatures::MULTI_MEMORY, self.multi_memory);
        features
    }

    /// Whether relaxed-SIMD instructions give the spec's deterministic results, the same on
    /// every host (`true`), or the fastest results this host's CPU allows (`false`, the
    /// default). Deterministic mode computes `relaxed_madd` unfused, `relaxed_swizzle` as
    /// `swizzle`, `relaxed_trunc` as `trunc_sat`, `relaxed_laneselect` as `bitselect`,
    /// `relaxed_min`/`max` as `min`/`max`, `relaxed_q15mulr` saturating, and the relaxed dot
    /// products as signed products with wrapping 16-bit sums.
    pub fn relaxed_simd_deterministic(&mut self, enable: bool) -> &mut Self {
        self.tunables.relaxed_simd_deterministic = enable;
        self
    }

    /// Sets a target CPU feature of the code generator by its Cranelift name, over the
    /// features detected on the host; `value` is `"true"` or `"false"`. For example
    /// `cranelift_flag_set("has_sse41", "false")` compiles code that runs without SSE4.1
    /// (slower, same results). Settings apply in order when the [`Engine`](crate::Engine) is
    /// created; `Engine::new` fails for an unknown name, a non-CPU setting, or a feature the
    /// host CPU does not have (code using it would crash).
    pub fn cranelift_flag_set(&mut self, name: &str, value: &str) -> &mut Self {
        self.tunables
            .cpu_features
            .push((name.to_string(), value.to_string()));
        self
    }

    /// Enables a target CPU feature or preset (such as `has_avx2` or `sse42`) by its Cranelift
    /// name; see [`Config::cranelift_flag_set`].
    pub fn cranelift_flag_enable(&mut self, name: &str) -> &mut Self {
        self.tunables
            .cpu_features
            .push((name.to_string(), String::new()));
        self
    }

    /// Authenticate precompiled artifacts (and cache entries) with the key in this file
    /// instead of the per-user default; the file is created (mode 0600) on first use.
    pub fn artifact_key_file(&mut self, path: impl Into<std::path::PathBuf>) -> &mut Self {
        self.artifact_key = ArtifactKeySource::File(path.into());
        self
    }

    /// Authenticate precompiled artifacts (and cache entries) with this key.
    pub fn artifact_key(&mut self, key: crate::ArtifactKey) -> &mut Self {
        self.artifact_key = ArtifactKeySource::Key(key);
        self
    }

    /// Enables the compile cache in `dir` (`None` disables it, the default): compiling a module
    /// an engine with the same settings compiled before loads the authenticated artifact
    /// instead. Entries are bounded by [`Config::cache_max_size`].
    pub fn cache_dir(&mut self, dir: Option<std::path::PathBuf>) -> &mut Self {
        let max_size = self
            .cache
            .as_ref()
            .map_or(DEFAULT_CACHE_MAX_SIZE, |c| c.max_size);
        self.cache = dir.map(|dir| CacheConfig { dir, max_size });
        self
    }

    /// The most bytes the compile cache keeps (least recently used entries go first).
    pub fn cache_max_size(&mut self, bytes: u64) -> &mut Self {
        if let Some(c) = &mut self.cache {
            c.max_size = bytes;
        }
        self
    }

    /// How instances, memories and tables get their memory: on demand (the default) or from
    /// a pool reserved when the engine is created.
    pub fn allocation_strategy(&mut self, strategy: InstanceAllocationStrategy) -> &mut Self {
        self.allocation = strategy;
        self
    }

    /// Whether a memory's data segments are laid out once per module into an in-memory file
    /// that instantiation maps copy-on-write (on by default), instead of copying the bytes
    /// into every instance. Used only where it gives the same result: every segment of the
    /// memory has a constant offset and fits its minimum size.
    pub fn memory_init_cow(&mut self, enable: bool) -> &mut Self {
        self.memory_init_cow = enable;
        self
    }

    /// How compiled code is described to external profilers (none by default).
    pub fn profiler(&mut self, strategy: ProfilingStrategy) -> &mut Self {
        self.profiler = strategy;
        self
    }

    /// The most stack, in bytes, wasm may use before "call stack exhausted".
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }
}
