//! `Linker<T>`: resolves imports by module and field name.
//!
//! Host functions defined on a linker are store-independent; each instantiation creates the
//! store's `Func` for them on first use.

use crate::func::{IntoFunc, PreparedHostFunc};
use crate::{AsContextMut, Caller, Engine, Extern, Func, Instance, Module, Val};
use anyhow::{Result, bail};
use kiln_environ::FuncType;
use std::collections::HashMap;
use std::sync::Arc;

use crate::func::HostFn;

enum Definition<T> {
    Extern(Extern),
    HostFunc(FuncType, HostFn<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::HostFunc(t, f) => Definition::HostFunc(t.clone(), f.clone()),
        }
    }
}

/// The error for an import no definition satisfies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownImportError {
    module: String,
    name: String,
}

impl UnknownImportError {
    /// The import's module name.
    pub fn module(&self) -> &str {
        &self.module
    }
    /// The import's field name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for UnknownImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown import: `{}::{}` has not been defined",
            self.module, self.name
        )
    }
}

impl std::error::Error for UnknownImportError {}

/// A module with its imports resolved by a [`Linker`] ([`Linker::instantiate_pre`]), ready to
/// instantiate in any store of the linker's engine. Cheap to clone.
pub struct InstancePre<T> {
    module: Module,
    defs: Arc<[Resolved<T>]>,
}

/// A resolved import.
enum Resolved<T> {
    Extern(Extern),
    Host(PreparedHostFunc<T>),
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            module: self.module.clone(),
            defs: self.defs.clone(),
        }
    }
}

impl<T: 'static> InstancePre<T> {
    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Instantiates the module in `store`. Definitions that are instances' exports must
    /// belong to `store`.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance> {
        let inner = store.as_context_mut().0;
        let mut imports = Vec::with_capacity(self.defs.len());
        for def in self.defs.iter() {
            imports.push(match def {
                Resolved::Extern(e) => *e,
                Resolved::Host(h) => Extern::Func(Func::new_prepared(inner, h)),
            });
        }
        crate::instance::instantiate(inner, &self.module, &imports)
    }
}

/// Named definitions used to satisfy imports.
pub struct Linker<T> {
    engine: Engine,
    map: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            map: HashMap::new(),
            allow_shadowing: false,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a new definition may replace an existing one with the same name.
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<()> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.map.contains_key(&key) {
            bail!("import of `{module}::{name}` defined twice");
        }
        self.map.insert(key, def);
        Ok(())
    }

    /// Defines `module::name` as `item`.
    pub fn define(
        &mut self,
        _store: impl crate::AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        self.insert(module, name, Definition::Extern(item.into()))?;
        Ok(self)
    }

    /// Defines `module::name` as a host function from a typed Rust closure.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let (ty, f) = func.into_host_fn();
        self.insert(module, name, Definition::HostFunc(ty, f))?;
        Ok(self)
    }

    /// Defines `module::name` as a host function with a dynamic signature.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let f = crate::func::dynamic_host_fn(ty.clone(), func);
        self.insert(module, name, Definition::HostFunc(ty, HostFn::new(f)))?;
        Ok(self)
    }

    /// Defines every export of `instance` under the module name `module`.
    pub fn instance(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        for (name, ext) in instance.exports(&mut store) {
            self.insert(module, &name, Definition::Extern(ext))?;
        }
        Ok(self)
    }

    /// The definition of `module::name`, as an `Extern` of `store`.
    pub fn get(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
    ) -> Option<Extern> {
        let def = self
            .map
            .get(&(module.to_string(), name.to_string()))?
            .clone();
        let store = store.as_context_mut().0;
        match def {
            Definition::Extern(e) => Some(e),
            Definition::HostFunc(ty, f) => Func::new_raw(store, ty, f).ok().map(Extern::Func),
        }
    }

    /// Instantiates `module`, resolving its imports from this linker.
    pub fn instantiate(
        &self,
        store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        self.instantiate_pre(module)?.instantiate(store)
    }

    /// Resolves `module`'s imports once, for any number of instantiations: the result
    /// instantiates without looking up names again. Host functions are checked against their
    /// imports' types here.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>> {
        if !Engine::same(&self.engine, module.engine()) {
            bail!("cross-`Engine` instantiation is not currently supported");
        }
        let mut defs = Vec::with_capacity(module.info().imports.len());
        for imp in module.imports() {
            let def = self
                .map
                .get(&(imp.module.to_string(), imp.name.to_string()))
                .ok_or_else(|| UnknownImportError {
                    module: imp.module.to_string(),
                    name: imp.name.to_string(),
                })?;
            if let (Definition::HostFunc(ty, _), crate::ExternType::Func(want)) = (def, &imp.ty)
                && ty != want
            {
                bail!(
                    "incompatible import type for `{}::{}`: expected function of type {want}, \
                     found function of type {ty}",
                    imp.module,
                    imp.name
                );
            }
            defs.push(match def {
                Definition::Extern(e) => Resolved::Extern(*e),
                Definition::HostFunc(ty, f) => {
                    Resolved::Host(PreparedHostFunc::new(&self.engine, ty.clone(), f.clone())?)
                }
            });
        }
        Ok(InstancePre {
            module: module.clone(),
            defs: defs.into(),
        })
    }

    /// The exported function `name` of module `module`, or its default export ("" or
    /// `_start`) when `name` is empty.
    pub fn get_default(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
    ) -> Result<Func> {
        for name in ["", "_start"] {
            if let Some(Extern::Func(f)) = self.get(&mut store, module, name) {
                return Ok(f);
            }
        }
        bail!("no default export in module `{module}`")
    }
}
