//! `Module`: a validated, compiled module, shareable across stores of its engine.

use crate::Engine;
use crate::artifact;
use crate::runtime::vm::code_memory::{CodeMemory, CodeMetadata};
use crate::runtime::vm::instance::ModuleRuntimeInfo;
use anyhow::{Context, Result};
use kiln_environ::{
    CompiledCode, EntityIndex, FuncType, GlobalType, MemoryType, ModuleInfo, TableType, VMOffsets,
};
use std::path::Path;
use std::sync::Arc;

/// A compiled WebAssembly module. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    pub(crate) runtime: Arc<ModuleRuntimeInfo>,
    /// The module binary, kept for `serialize`.
    wasm: Arc<[u8]>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A global.
    Global(GlobalType),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
}

/// One import of a module.
#[derive(Debug, Clone)]
pub struct ImportType<'a> {
    /// Module name.
    pub module: &'a str,
    /// Field name.
    pub name: &'a str,
    /// The expected type.
    pub ty: ExternType,
}

/// One export of a module.
#[derive(Debug, Clone)]
pub struct ExportType<'a> {
    /// Export name.
    pub name: &'a str,
    /// The type.
    pub ty: ExternType,
}

impl Module {
    /// Compiles a module from its binary or text (`.wat`) form.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let bytes = bytes.as_ref();
        if artifact::is_artifact(bytes) {
            return Module::deserialize(engine, bytes);
        }
        crate::policy::check_load(engine, bytes, None, None)?;
        let wasm = wat::parse_bytes(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        Module::compile(engine, &wasm)
    }

    /// Compiles a module from a file holding its binary or text form.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        if artifact::is_artifact(&bytes) {
            return Module::deserialize(engine, &bytes)
                .with_context(|| format!("failed to load {}", path.display()));
        }
        crate::policy::check_load(engine, &bytes, None, Some(path))?;
        let wasm = wat::parse_bytes(&bytes).map_err(|mut e| {
            e.set_path(path);
            anyhow::anyhow!("{e}")
        })?;
        Module::compile(engine, &wasm)
            .with_context(|| format!("failed to compile {}", path.display()))
    }

    /// Validates and compiles a module binary.
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        if artifact::is_artifact(wasm) {
            return Module::deserialize(engine, wasm);
        }
        crate::policy::check_load(engine, wasm, None, None)?;
        Module::compile(engine, wasm)
    }

    /// Validates and compiles a module binary whose bytes passed the engine's load policy,
    /// through the compile cache when the engine has one.
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        if engine.config().cache.is_some() {
            return crate::cache::get_or_compile(engine, wasm);
        }
        let (info, code) = compile_code(engine, wasm)?;
        Module::from_parts(engine, wasm.into(), info, code)
    }

    /// Publishes compiled code for `info` and builds the module.
    pub(crate) fn from_parts(
        engine: &Engine,
        wasm: Arc<[u8]>,
        module: ModuleInfo,
        code: CompiledCode,
    ) -> Result<Module> {
        let num_imported = module.num_imported_funcs;
        let func_indices: Vec<u32> = (0..module.num_defined_funcs())
            .map(|i| i + num_imported)
            .collect();
        let meta = CodeMetadata {
            module_name: module.name.clone(),
            func_names: func_indices
                .iter()
                .map(|i| module.func_names.get(i).cloned())
                .collect(),
            func_indices,
        };
        let code = CodeMemory::publish(code, meta)?;
        if engine.config().profiler == crate::ProfilingStrategy::PerfMap {
            crate::profiling::perf_map_add(&code);
        }
        let type_ids = module.types.iter().map(|t| engine.type_id(t)).collect();
        let offsets = VMOffsets::new(&module);
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                runtime: Arc::new(ModuleRuntimeInfo {
                    module,
                    offsets,
                    type_ids,
                    code,
                    memory_images: std::sync::OnceLock::new(),
                }),
                wasm,
            }),
        })
    }

    /// This module as an authenticated precompiled artifact (what `kiln compile` writes),
    /// keyed by the engine's artifact key.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let engine = self.engine();
        let key = engine.artifact_key()?;
        Ok(artifact::write(
            engine.fingerprint(),
            &self.inner.wasm,
            self.inner.runtime.code.code(),
            &key,
        ))
    }

    /// Loads a precompiled artifact made by an engine with the same settings. The artifact's
    /// MAC is checked with the engine's artifact key before anything else, so a modified
    /// artifact, or one made with another key, is refused before any of it is parsed or made
    /// executable; a different Kiln version, target, setting or feature set is refused with an
    /// error naming it. The engine's load policy applies to the module it was compiled from.
    pub fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        let key = engine.artifact_key()?;
        artifact::verify(bytes, &key)?;
        Module::from_artifact(engine, bytes)
    }

    /// Like [`Module::deserialize`], reading the artifact from `path`.
    pub fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        Module::deserialize(engine, &bytes)
            .with_context(|| format!("failed to load {}", path.display()))
    }

    /// Loads a precompiled artifact WITHOUT checking that it was made with this engine's
    /// artifact key.
    ///
    /// # Safety
    ///
    /// The artifact's machine code runs in this process with no further checks: the caller
    /// must know the bytes were produced by `Engine::precompile`/`Module::serialize` of a
    /// trusted Kiln and not modified since. Structure, fingerprint and source hash are still
    /// checked.
    pub unsafe fn deserialize_unauthenticated(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        Module::from_artifact(engine, bytes)
    }

    fn from_artifact(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        let a = artifact::parse(bytes)?;
        crate::policy::check_load(engine, a.wasm, None, None)?;
        Module::from_parsed_artifact(engine, a)
    }

    /// Loads a compile-cache entry for `wasm`, whose bytes the caller already passed through
    /// the load policy: the entry is authenticated and must hold exactly `wasm`, so the policy
    /// is not asked (and audited) twice.
    pub(crate) fn from_cache_entry(engine: &Engine, bytes: &[u8], wasm: &[u8]) -> Result<Module> {
        artifact::verify(bytes, &engine.artifact_key()?)?;
        let a = artifact::parse(bytes)?;
        if a.wasm != wasm {
            anyhow::bail!("compile cache entry holds another module");
        }
        Module::from_parsed_artifact(engine, a)
    }

    fn from_parsed_artifact(engine: &Engine, a: artifact::Artifact<'_>) -> Result<Module> {
        artifact::check_fingerprint(a.fingerprint, engine.fingerprint())?;
        let translation = kiln_environ::translate_module(a.wasm, engine.config().wasm_features())?;
        let info = translation.module;
        if a.code.functions.len() != info.num_defined_funcs() as usize
            || a.code.array_to_wasm_trampolines.len() != a.code.functions.len()
        {
            anyhow::bail!("precompiled artifact's code does not match its module's functions");
        }
        Module::from_parts(engine, a.wasm.into(), info, a.code)
    }

    /// Checks that `bytes` is a valid module binary, without compiling it.
    pub fn validate(engine: &Engine, wasm: &[u8]) -> Result<()> {
        let translation = kiln_environ::translate_module(wasm, engine.config().wasm_features())?;
        let mut allocs = wasmparser::FuncValidatorAllocations::default();
        for body in translation.function_bodies {
            let mut v = body.validator.into_validator(allocs);
            v.validate(&body.body)
                .map_err(kiln_environ::WasmError::from)?;
            allocs = v.into_allocations();
        }
        Ok(())
    }

    /// The engine this module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.info().name.as_deref()
    }

    pub(crate) fn info(&self) -> &ModuleInfo {
        &self.inner.runtime.module
    }

    pub(crate) fn entity_type(&self, index: EntityIndex) -> ExternType {
        let m = self.info();
        match index {
            EntityIndex::Function(f) => ExternType::Func(m.func_type(f).clone()),
            EntityIndex::Table(t) => ExternType::Table(m.tables[t as usize]),
            EntityIndex::Memory(i) => ExternType::Memory(m.memories[i as usize]),
            EntityIndex::Global(g) => ExternType::Global(m.globals[g as usize]),
        }
    }

    /// The imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType<'_>> + '_ {
        self.info().imports.iter().map(|i| ImportType {
            module: &i.module,
            name: &i.name,
            ty: self.entity_type(i.index),
        })
    }

    /// The exports, in order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType<'_>> + '_ {
        self.info().exports.iter().map(|e| ExportType {
            name: &e.name,
            ty: self.entity_type(e.index),
        })
    }

    /// Size in bytes of the compiled machine code.
    pub fn code_size(&self) -> usize {
        self.inner.runtime.code.text_len()
    }
}

/// Validates and compiles `wasm` without publishing the code.
pub(crate) fn compile_code(engine: &Engine, wasm: &[u8]) -> Result<(ModuleInfo, CompiledCode)> {
    let features = engine.config().wasm_features();
    let translation = kiln_environ::translate_module(wasm, features)?;
    let tunables = &engine.config().tunables;
    let code = engine
        .inner
        .compiler
        .compile_module(&translation, tunables)?;
    Ok((translation.module, code))
}
