//! `Instance`: instantiation (import checks, vmctx initialisation, segments, start function)
//! and export lookup.

use crate::func::{WasmParams, WasmResults};
use crate::module::ExternType;
use crate::runtime::vm::image::MemoryImage;
use crate::runtime::vm::instance::Instance as VmInstance;
use crate::runtime::vm::libcalls;
use crate::runtime::vm::memory::LinearMemory;
use crate::runtime::vm::table::Table as VmTable;
use crate::runtime::vm::vmcontext::ValRaw;
use crate::runtime::vm::vmstore::VMStore;
use crate::store::{StoreInner, StoreOpaque, Stored};
use crate::{AsContextMut, Extern, Func, Global, Memory, Module, Table, TypedFunc};
use anyhow::{Result, anyhow, bail};
use kiln_environ::{
    DataKind, DataSegment, ElemKind, EntityIndex, MemoryType, ModuleInfo, TableType, Trap,
};
use std::sync::Arc;

/// An instantiated module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instance(pub(crate) Stored);

impl Instance {
    /// Instantiates `module` with `imports` given in the module's import order.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        instantiate(store.as_context_mut().0, module, imports)
    }

    /// The export called `name`.
    pub fn get_export(&self, mut store: impl AsContextMut, name: &str) -> Option<Extern> {
        let store = &mut store.as_context_mut().0.opaque;
        let i = self.0.check(store);
        export_by_name(store, i, name)
    }

    /// Every export, in order.
    pub fn exports(&self, mut store: impl AsContextMut) -> Vec<(String, Extern)> {
        let store = &mut store.as_context_mut().0.opaque;
        let i = self.0.check(store);
        let info = store.instances[i].info.clone();
        info.module
            .exports
            .iter()
            .map(|e| (e.name.clone(), export(store, i, e.index)))
            .collect()
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContextMut, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported function `name` as a typed function.
    pub fn get_typed_func<Params: WasmParams, Results: WasmResults>(
        &self,
        mut store: impl AsContextMut,
        name: &str,
    ) -> Result<TypedFunc<Params, Results>> {
        let f = self
            .get_func(&mut store, name)
            .ok_or_else(|| anyhow!("failed to find function export `{name}`"))?;
        f.typed(&store)
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: impl AsContextMut, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContextMut, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContextMut, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }
}

pub(crate) fn export_by_name(
    store: &mut StoreOpaque,
    instance: usize,
    name: &str,
) -> Option<Extern> {
    let info = store.instances[instance].info.clone();
    let e = info.module.exports.iter().find(|e| e.name == name)?;
    Some(export(store, instance, e.index))
}

fn export(store: &mut StoreOpaque, instance: usize, index: EntityIndex) -> Extern {
    let inst = &store.instances[instance];
    match index {
        EntityIndex::Function(f) => {
            let func_ref = inst.func_ref(f).expect("exported functions escape");
            Extern::Func(Func::from_raw(store, func_ref.as_raw()).expect("non-null"))
        }
        EntityIndex::Memory(m) => Extern::Memory(Memory(store.stored(inst.memory_ids[m as usize]))),
        EntityIndex::Table(t) => Extern::Table(Table(store.stored(inst.table_ids[t as usize]))),
        EntityIndex::Global(g) => {
            if let Some(id) = inst.global_ids[g as usize] {
                return Extern::Global(Global(store.stored(id)));
            }
            let def = inst.global_ref(g);
            let ty = inst.info.module.globals[g as usize];
            let global = Global::push(store, def, ty);
            store.instances[instance].global_ids[g as usize] = Some(global.0.index);
            Extern::Global(global)
        }
    }
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("function of type {f}"),
        ExternType::Global(g) => format!(
            "global of type {}{}",
            if g.mutable { "mut " } else { "" },
            g.content
        ),
        ExternType::Table(t) => format!("table of {} with {} elements", t.element, t.minimum),
        ExternType::Memory(m) => format!("memory of {} pages", m.minimum),
    }
}

fn limits_match(actual_min: u64, actual_max: Option<u64>, min: u64, max: Option<u64>) -> bool {
    actual_min >= min
        && match max {
            None => true,
            Some(max) => actual_max.is_some_and(|a| a <= max),
        }
}

/// Checks that `ext` can satisfy import `index` of `module`. Functions compare engine-wide
/// type ids, so the common case allocates nothing.
fn check_import(
    store: &StoreOpaque,
    ext: &Extern,
    module: &Module,
    index: EntityIndex,
) -> Result<()> {
    let ok = match (ext, index) {
        (Extern::Func(f), EntityIndex::Function(i)) => {
            let m = module.info();
            let want = module.inner.runtime.type_ids[m.functions[i as usize] as usize];
            f.func_ref(store).get().type_index == want
        }
        (Extern::Global(g), EntityIndex::Global(i)) => {
            g.entry(store).ty == module.info().globals[i as usize]
        }
        (Extern::Table(t), EntityIndex::Table(i)) => {
            let ty = &module.info().tables[i as usize];
            let t = t.vm(store);
            t.ty().element == ty.element
                && limits_match(t.size(), t.ty().maximum, ty.minimum, ty.maximum)
        }
        (Extern::Memory(m), EntityIndex::Memory(i)) => {
            let ty = &module.info().memories[i as usize];
            let m = m.vm(store);
            m.ty().memory64 == ty.memory64
                && m.ty().shared == ty.shared
                && limits_match(m.pages(), m.ty().maximum, ty.minimum, ty.maximum)
        }
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let actual = match ext {
        Extern::Func(f) => ExternType::Func((*store.funcs[f.0.check(store)].ty).clone()),
        Extern::Global(g) => ExternType::Global(g.entry(store).ty),
        Extern::Table(t) => {
            let v = t.vm(store);
            ExternType::Table(kiln_environ::TableType {
                minimum: v.size(),
                ..v.ty()
            })
        }
        Extern::Memory(m) => {
            let v = m.vm(store);
            ExternType::Memory(kiln_environ::MemoryType {
                minimum: v.pages(),
                ..v.ty()
            })
        }
    };
    bail!(
        "incompatible import type: expected {}, found {}",
        describe(&module.entity_type(index)),
        describe(&actual)
    )
}

fn trap(t: Trap) -> anyhow::Error {
    anyhow::Error::new(t)
}

/// Fuel charged for initialising an active element segment: 1, plus 1 per element.
pub const FUEL_PER_ELEM_SEGMENT: u64 = 1;
/// Fuel charged for initialising an active data segment: 1, plus 1 per started 64 bytes.
pub const FUEL_PER_DATA_SEGMENT: u64 = 1;
/// See [`FUEL_PER_DATA_SEGMENT`].
pub const DATA_BYTES_PER_FUEL: u64 = 64;

pub(crate) fn instantiate<T: 'static>(
    inner: &mut StoreInner<T>,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance> {
    let vmstore: *mut dyn VMStore = inner as *mut StoreInner<T>;
    if !crate::Engine::same(&inner.opaque.engine, module.engine()) {
        bail!("cross-`Engine` instantiation is not currently supported");
    }
    let info = module.info();
    if imports.len() != info.imports.len() {
        bail!(
            "expected {} imports, found {}",
            info.imports.len(),
            imports.len()
        );
    }
    check_counts(inner, module)?;
    let store = &mut inner.opaque;
    for (ext, imp) in imports.iter().zip(info.imports.iter()) {
        check_import(store, ext, module, imp.index).map_err(|e| {
            anyhow!(
                "incompatible import type for `{}::{}`: {}",
                imp.module,
                imp.name,
                e.to_string()
                    .trim_start_matches("incompatible import type: ")
            )
        })?;
    }

    let runtime = Arc::clone(&module.inner.runtime);
    let engine = store.engine.clone();
    let pool = engine.inner.pool.as_ref();
    let index = store.instances.len();
    let ctx = &mut store.vm_store_context as *mut _;
    let epoch = engine.inner.epoch.as_ptr() as *const u64;
    let inst = VmInstance::new(
        runtime.clone(),
        vmstore,
        ctx,
        libcalls::builtins_array(),
        epoch,
        index,
        pool.map(|p| &p.instances),
    )?;
    store.instances.push(inst);
    let m = &runtime.module;

    // Imports.
    for (ext, imp) in imports.iter().zip(m.imports.iter()) {
        match (ext, imp.index) {
            (Extern::Func(f), EntityIndex::Function(i)) => {
                let src = f.func_ref(store);
                store.instances[index].set_imported_func(i, src);
            }
            (Extern::Table(t), EntityIndex::Table(i)) => {
                let ti = t.0.check(store);
                let inst = &mut store.instances[index];
                inst.set_table(i, &mut store.tables[ti]);
                inst.table_ids.push(ti);
            }
            (Extern::Memory(mem), EntityIndex::Memory(i)) => {
                let mi = mem.0.check(store);
                let inst = &mut store.instances[index];
                inst.set_memory(i, &mut store.memories[mi]);
                inst.memory_ids.push(mi);
            }
            (Extern::Global(g), EntityIndex::Global(i)) => {
                let gi = g.0.check(store);
                let def = store.globals[gi].def;
                let inst = &mut store.instances[index];
                inst.set_imported_global(i, def);
                inst.global_ids[i as usize] = Some(gi);
            }
            _ => unreachable!("import kinds were checked above"),
        }
    }

    // Function references of escaping defined functions.
    {
        let inst = &mut store.instances[index];
        let code = &runtime.code;
        for &f in &m.escaped_funcs {
            let def = (f - m.num_imported_funcs) as usize;
            let body = code.code().functions[def];
            let tramp = code.code().array_to_wasm_trampolines[def].ok_or_else(|| {
                anyhow!("internal error: no trampoline for escaping function {f}")
            })?;
            inst.init_func_ref(
                f,
                code.addr(body.start),
                code.addr(tramp.start),
                runtime.type_ids[m.functions[f as usize] as usize],
            );
        }
    }

    // Defined globals, in order (an initialiser may read earlier globals).
    for (i, init) in m.global_inits.iter().enumerate() {
        let g = m.num_imported_globals + i as u32;
        let inst = &store.instances[index];
        let v = inst.eval_const(init);
        inst.global_ref(g).set_raw(v);
    }

    // Defined tables.
    let tunables = inner.opaque.engine.config().tunables.clone();
    for (i, ty) in m
        .tables
        .iter()
        .enumerate()
        .skip(m.num_imported_tables as usize)
    {
        check_initial_table(inner, ty)?;
        let store = &mut inner.opaque;
        let init = match &m.table_inits[i - m.num_imported_tables as usize] {
            Some(e) => store.instances[index].eval_const(e).get_reference(),
            None => 0,
        };
        let t = match pool {
            Some(pool) => VmTable::new_pooled(*ty, init, &pool.tables)?,
            None => VmTable::new(*ty, init)?,
        };
        let handle = Table::push(store, t);
        let inst = &mut store.instances[index];
        inst.set_table(i as u32, &mut store.tables[handle.0.index]);
        inst.table_ids.push(handle.0.index);
    }

    // Defined memories, with their copy-on-write images when the engine uses them.
    let images = if engine.config().memory_init_cow {
        runtime.memory_images()
    } else {
        &[]
    };
    for (i, ty) in m
        .memories
        .iter()
        .enumerate()
        .skip(m.num_imported_memories as usize)
    {
        check_initial_memory(inner, ty)?;
        let store = &mut inner.opaque;
        let defined = i - m.num_imported_memories as usize;
        let mem = match pool {
            Some(pool) => {
                let image = images.get(defined).and_then(Option::as_ref);
                LinearMemory::new_pooled(*ty, &pool.memories, image)?
            }
            None => LinearMemory::new(*ty, &tunables)?,
        };
        let handle = Memory::push(store, mem);
        let inst = &mut store.instances[index];
        inst.set_memory(i as u32, &mut store.memories[handle.0.index]);
        inst.memory_ids.push(handle.0.index);
    }

    // Element segments, then data segments, in order; a failing one traps after the earlier
    // ones took effect.
    if let Err(e) = init_elements(inner, index, m) {
        // A pooled memory may still show the image of the instance its slot served before;
        // functions this instantiation stored in an imported table could read it, so it must
        // read as zero, as if no data segment had been applied.
        for &mem in &inner.opaque.instances[index].memories[m.num_imported_memories as usize..] {
            // SAFETY: memory pointers are live boxes owned by the store.
            unsafe { &mut *mem }.clear_image()?;
        }
        return Err(e);
    }
    init_data(inner, index, m, images)?;

    // The start function.
    let store = &mut inner.opaque;
    if let Some(start) = m.start {
        let func_ref = store.instances[index]
            .func_ref(start)
            .expect("start escapes");
        let mut raw = [ValRaw::default(); 1];
        crate::func::invoke(store, func_ref, &mut raw)?;
    }

    Ok(Instance(store.stored(index)))
}

/// Applies the element segments in order: active ones are copied (a failing one traps after
/// the earlier ones took effect) and dropped, declared ones dropped.
fn init_elements<T>(inner: &mut StoreInner<T>, index: usize, m: &ModuleInfo) -> Result<()> {
    for (i, seg) in m.elements.iter().enumerate() {
        if matches!(seg.kind, ElemKind::Active { .. }) {
            inner.consume_fuel(FUEL_PER_ELEM_SEGMENT + seg.items.len() as u64)?;
        }
        let inst = &mut inner.opaque.instances[index];
        match &seg.kind {
            ElemKind::Active { table, offset } => {
                let off = inst.eval_const(offset).get_i32() as u32 as u64;
                let len = seg.items.len() as u64;
                inst.table_init(*table, i as u32, off, 0, len)
                    .map_err(trap)?;
                inst.dropped_elems[i] = true;
            }
            ElemKind::Declared => inst.dropped_elems[i] = true,
            ElemKind::Passive => {}
        }
    }
    Ok(())
}

/// Fuel for initialising active data segment `seg`.
fn data_fuel(seg: &DataSegment) -> u64 {
    FUEL_PER_DATA_SEGMENT + (seg.data.len() as u64).div_ceil(DATA_BYTES_PER_FUEL)
}

/// Applies the active data segments in order, as if each were copied: a failing one traps
/// after the earlier ones took effect. When no segment can fail (all in bounds, and fuel
/// enough for all), a defined memory with an image gets it mapped instead of its segments
/// copied; otherwise every segment is copied, over zeroes.
fn init_data<T>(
    inner: &mut StoreInner<T>,
    index: usize,
    m: &ModuleInfo,
    images: &[Option<Arc<MemoryImage>>],
) -> Result<()> {
    let first_defined = m.num_imported_memories as usize;
    let inst = &inner.opaque.instances[index];
    let in_bounds = m.data.iter().all(|seg| match &seg.kind {
        DataKind::Active { memory, offset } => {
            let off = inst.eval_const(offset).get_i32() as u32 as u64;
            // SAFETY: memory pointers are live boxes owned by the store.
            let size = unsafe { &*inst.memories[*memory as usize] }.byte_size() as u64;
            off + seg.data.len() as u64 <= size
        }
        DataKind::Passive => true,
    });
    let fuel: u64 = m
        .data
        .iter()
        .filter(|seg| matches!(seg.kind, DataKind::Active { .. }))
        .map(data_fuel)
        .sum();
    let use_images = in_bounds && inner.fuel_would_last(fuel);
    let inst = &mut inner.opaque.instances[index];
    let mut imaged = vec![false; inst.memories.len()];
    for (d, image) in images.iter().enumerate() {
        let Some(image) = image else { continue };
        // Memory pointers are live boxes owned by the store, and nothing else refers to this
        // instance's fresh memories yet.
        // SAFETY: so this exclusive reference is the only one.
        let mem = unsafe { &mut *inst.memories[first_defined + d] };
        if use_images {
            mem.map_image(image)?;
            imaged[first_defined + d] = true;
        } else {
            mem.clear_image()?;
        }
    }
    for (i, seg) in m.data.iter().enumerate() {
        let DataKind::Active { memory, offset } = &seg.kind else {
            continue;
        };
        inner.consume_fuel(data_fuel(seg))?;
        let inst = &mut inner.opaque.instances[index];
        if !imaged[*memory as usize] {
            let off = inst.eval_const(offset).get_i32() as u32 as u64;
            inst.memory_init(*memory, i as u32, off, 0, seg.data.len() as u64)
                .map_err(trap)?;
        }
        inst.dropped_data[i] = true;
    }
    Ok(())
}

/// Refuses an instantiation that would take the store over its instance, table or memory
/// count limits.
fn check_counts<T>(inner: &mut StoreInner<T>, module: &Module) -> Result<()> {
    let m = module.info();
    let new_tables = m.tables.len() - m.num_imported_tables as usize;
    let new_memories = m.memories.len() - m.num_imported_memories as usize;
    let (instances, tables, memories) = (
        inner.opaque.instances.len(),
        inner.opaque.tables.len(),
        inner.opaque.memories.len(),
    );
    let Some(limiter) = inner.limiter_mut() else {
        return Ok(());
    };
    if instances + 1 > limiter.instances() {
        bail!(
            "resource limit exceeded: instance count too high at {} (limit {})",
            instances + 1,
            limiter.instances()
        );
    }
    if tables + new_tables > limiter.tables() {
        bail!(
            "resource limit exceeded: table count too high at {} (limit {})",
            tables + new_tables,
            limiter.tables()
        );
    }
    if memories + new_memories > limiter.memories() {
        bail!(
            "resource limit exceeded: memory count too high at {} (limit {})",
            memories + new_memories,
            limiter.memories()
        );
    }
    Ok(())
}

/// Asks the limiter whether a new memory of type `ty` may have its minimum size.
pub(crate) fn check_initial_memory<T>(inner: &mut StoreInner<T>, ty: &MemoryType) -> Result<()> {
    let Some(limiter) = inner.limiter_mut() else {
        return Ok(());
    };
    let page = kiln_environ::WASM_PAGE_SIZE;
    let bytes = |pages: u64| usize::try_from(pages.saturating_mul(page)).unwrap_or(usize::MAX);
    let desired = bytes(ty.minimum);
    if !limiter.memory_growing(0, desired, ty.maximum.map(bytes))? {
        bail!(
            "memory minimum size of {} pages ({desired} bytes) exceeds the store's memory limits",
            ty.minimum
        );
    }
    Ok(())
}

/// Asks the limiter whether a new table of type `ty` may have its minimum size.
pub(crate) fn check_initial_table<T>(inner: &mut StoreInner<T>, ty: &TableType) -> Result<()> {
    let Some(limiter) = inner.limiter_mut() else {
        return Ok(());
    };
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if !limiter.table_growing(0, size(ty.minimum), ty.maximum.map(size))? {
        bail!(
            "table minimum size of {} elements exceeds the store's table limits",
            ty.minimum
        );
    }
    Ok(())
}
