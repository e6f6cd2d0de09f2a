//! `Module`: a validated, compiled module, shareable across stores of its engine.

use crate::Engine;
use crate::runtime::vm::code_memory::{CodeMemory, CodeMetadata};
use crate::runtime::vm::instance::ModuleRuntimeInfo;
use anyhow::{Context, Result};
use kiln_environ::{
    EntityIndex, FuncType, GlobalType, MemoryType, ModuleInfo, TableType, VMOffsets,
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
        crate::policy::check_load(engine, bytes, None, None)?;
        let wasm = wat::parse_bytes(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        Module::compile(engine, &wasm)
    }

    /// Compiles a module from a file holding its binary or text form.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
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
        crate::policy::check_load(engine, wasm, None, None)?;
        Module::compile(engine, wasm)
    }

    /// Validates and compiles a module binary whose bytes passed the engine's load policy.
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        let features = engine.config().wasm_features();
        let translation = kiln_environ::translate_module(wasm, features)?;
        let tunables = &engine.config().tunables;
        let code = engine
            .inner
            .compiler
            .compile_module(&translation, tunables)?;
        let module = translation.module;
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
                }),
            }),
        })
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
