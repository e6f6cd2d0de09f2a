//! `Engine`: the compiler, settings, and engine-wide state (the type registry, host-function
//! trampolines) shared by every store and module.

use crate::Config;
use crate::runtime::vm::code_memory::{CodeMemory, CodeMetadata};
use anyhow::Result;
use kiln_environ::{Compiler, FuncType};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

/// The compilation environment and settings shared by modules and stores. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) config: Config,
    pub(crate) compiler: Box<dyn Compiler>,
    types: RwLock<TypeRegistry>,
    host_trampolines: Mutex<HashMap<u32, (Arc<CodeMemory>, usize)>>,
    pub(crate) epoch: AtomicU64,
    fingerprint: std::sync::OnceLock<String>,
    artifact_key: std::sync::OnceLock<Result<crate::ArtifactKey, String>>,
    pub(crate) cache_stats: crate::cache::Stats,
    /// The pooling allocator, with `InstanceAllocationStrategy::Pooling`.
    pub(crate) pool: Option<crate::runtime::vm::pool::PoolingAllocator>,
}

#[derive(Default)]
struct TypeRegistry {
    ids: HashMap<FuncType, u32>,
    types: Vec<Arc<FuncType>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&Config::default()).expect("the default configuration is valid")
    }
}

impl Engine {
    /// Creates an engine with `config`.
    pub fn new(config: &Config) -> Result<Engine> {
        let compiler = kiln_cranelift::CraneliftCompiler::new(&config.tunables)
            .map_err(|e| anyhow::anyhow!("failed to create the compiler: {e}"))?;
        // Handlers are installed even without signals-based traps: they only act on faults in
        // registered wasm code and pass everything else on.
        crate::runtime::vm::sys::signals::install();
        let pool = match &config.allocation {
            crate::config::InstanceAllocationStrategy::OnDemand => None,
            crate::config::InstanceAllocationStrategy::Pooling(p) => {
                Some(crate::runtime::vm::pool::PoolingAllocator::new(
                    p.limits.clone(),
                    config.tunables.memory_reservation,
                    config.tunables.memory_guard_size,
                )?)
            }
        };
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                compiler: Box::new(compiler),
                types: RwLock::new(TypeRegistry::default()),
                host_trampolines: Mutex::new(HashMap::new()),
                epoch: AtomicU64::new(0),
                fingerprint: std::sync::OnceLock::new(),
                artifact_key: std::sync::OnceLock::new(),
                cache_stats: Default::default(),
                pool,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether two handles refer to the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// Advances the engine's epoch by one. Callable from any thread; stores whose deadline is
    /// reached are interrupted at their next function entry or loop header.
    pub fn increment_epoch(&self) {
        self.inner
            .epoch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The engine's current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Everything that makes code compiled by this engine differ from another engine's, as
    /// `name=value` lines: the Kiln version, the target and every code generator setting, every
    /// tunable, and the enabled wasm features. Precompiled artifacts record it.
    pub fn fingerprint(&self) -> &str {
        self.inner.fingerprint.get_or_init(|| {
            let mut lines = vec![
                format!("kiln-version={}", env!("CARGO_PKG_VERSION")),
                format!("abi={}", kiln_environ::vmoffsets::ABI_VERSION),
            ];
            let target = self.inner.compiler.target_description();
            let mut tokens = target.split_whitespace();
            if let Some(triple) = tokens.next() {
                lines.push(format!("target={triple}"));
            }
            for t in tokens {
                match t.split_once('=') {
                    Some((k, v)) => lines.push(format!("cranelift.{k}={v}")),
                    None => lines.push(format!("cranelift.{t}=")),
                }
            }
            for (k, v) in self.config().tunables.fingerprint() {
                lines.push(format!("{k}={v}"));
            }
            lines.push(format!("wasm-features={:?}", self.config().wasm_features()));
            lines.join("\n")
        })
    }

    /// The key that authenticates this engine's precompiled artifacts and cache entries
    /// (loaded, or created, on first use).
    pub fn artifact_key(&self) -> anyhow::Result<crate::ArtifactKey> {
        use crate::config::ArtifactKeySource;
        self.inner
            .artifact_key
            .get_or_init(|| {
                let r = match &self.config().artifact_key {
                    ArtifactKeySource::Key(k) => Ok(k.clone()),
                    ArtifactKeySource::File(p) => crate::ArtifactKey::load_or_create(p),
                    ArtifactKeySource::Default => crate::ArtifactKey::default_path()
                        .and_then(|p| crate::ArtifactKey::load_or_create(&p)),
                };
                r.map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(anyhow::Error::msg)
    }

    /// Compiles `wasm` (binary or text) into an authenticated precompiled artifact, as
    /// `kiln compile` writes it; load it with [`Module::deserialize`](crate::Module::deserialize).
    pub fn precompile(&self, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
        crate::policy::check_load(self, wasm, None, None)?;
        let wasm = wat::parse_bytes(wasm).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (_, code) = crate::module::compile_code(self, &wasm)?;
        let key = self.artifact_key()?;
        Ok(crate::artifact::write(
            self.fingerprint(),
            &wasm,
            &code,
            &key,
        ))
    }

    /// Counts of the compile cache's hits, misses and refused (tampered or foreign) entries
    /// since this engine was created.
    pub fn cache_stats(&self) -> crate::CacheStats {
        self.inner.cache_stats.snapshot()
    }

    /// A description of the compilation target and settings.
    pub fn target_description(&self) -> String {
        self.inner.compiler.target_description()
    }

    /// The engine-wide id of a function type.
    pub(crate) fn type_id(&self, ty: &FuncType) -> u32 {
        if let Some(id) = self.inner.types.read().unwrap().ids.get(ty) {
            return *id;
        }
        let mut reg = self.inner.types.write().unwrap();
        if let Some(id) = reg.ids.get(ty) {
            return *id;
        }
        let id = reg.types.len() as u32;
        reg.types.push(Arc::new(ty.clone()));
        reg.ids.insert(ty.clone(), id);
        id
    }

    /// The function type of an engine-wide id.
    pub(crate) fn type_of(&self, id: u32) -> Arc<FuncType> {
        self.inner.types.read().unwrap().types[id as usize].clone()
    }

    /// The compiled wasm-to-array trampoline for host functions of type `ty`.
    pub(crate) fn host_trampoline(&self, ty: &FuncType) -> Result<usize> {
        let id = self.type_id(ty);
        let mut map = self.inner.host_trampolines.lock().unwrap();
        if let Some((_, addr)) = map.get(&id) {
            return Ok(*addr);
        }
        let code = self
            .inner
            .compiler
            .compile_wasm_to_array_trampoline(ty, &self.inner.config.tunables)?;
        let start = code.functions[0].start;
        let mem = CodeMemory::publish(code, CodeMetadata::default())?;
        let addr = mem.addr(start);
        map.insert(id, (mem, addr));
        Ok(addr)
    }
}
