//! The `instantiate` oracle: a `wasm-smith` module (within Kiln's features, with limits) is
//! instantiated against dummy imports and every exported function is called on generated
//! arguments, with fuel. Everything must end in success, a clean trap, or (at instantiation
//! only) a resource-limit error: never a panic, crash, hang or a non-trap error from a call.

use super::{arbitrary_val, trap_of};
use crate::generators::{self, Features, KilnConfig, MAX_MEMORY_BYTES, MAX_TABLE_ELEMENTS};
use arbitrary::{Arbitrary, Result, Unstructured};
use kiln::{
    Engine, Extern, ExternType, Func, Global, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder, Table, Val,
};

/// Runs one `instantiate` input.
pub fn instantiate(u: &mut Unstructured<'_>) -> Result<()> {
    let kiln = KilnConfig::arbitrary(u)?;
    let mut config = kiln.to_config();
    config.consume_fuel(true);
    let engine = Engine::new(&config).expect("generated engine configuration is valid");
    let module_config = generators::module_config(u, Features::Kiln)?;
    let wasm = generators::module(u, module_config)?;
    let module = match Module::from_binary(&engine, &wasm) {
        Ok(m) => m,
        Err(e) => panic!("a valid module within Kiln's features failed to compile: {e:?}"),
    };

    let mut store = new_store(&engine);
    let mut linker = Linker::new(&engine);
    define_dummy_imports(&mut store, &mut linker, &module);
    store.set_fuel(generators::FUEL).expect("fuel is on");
    let instance = match linker.instantiate(&mut store, &module) {
        Ok(i) => i,
        // A trap in a segment or the start function, or a refused allocation.
        Err(_) => return Ok(()),
    };
    for (name, export) in instance.exports(&mut store) {
        match export {
            Extern::Func(f) => {
                let ty = f.ty(&store);
                let mut params = Vec::with_capacity(ty.params.len());
                for p in ty.params.iter() {
                    params.push(arbitrary_val(u, *p)?);
                }
                let mut results: Vec<Val> =
                    ty.results.iter().map(|t| Val::default_for(*t)).collect();
                store.set_fuel(generators::FUEL).expect("fuel is on");
                if let Err(e) = f.call(&mut store, &params, &mut results)
                    && trap_of(&e).is_none()
                {
                    panic!("calling export `{name}` failed with a non-trap error: {e:?}");
                }
                for (r, t) in results.iter().zip(ty.results.iter()) {
                    assert_eq!(r.ty(), *t, "export `{name}` returned a mistyped result");
                }
            }
            Extern::Memory(m) => {
                // The memory's bytes are all there and readable.
                let size = m.data_size(&store);
                assert_eq!(size as u64, m.size(&store) * 65536);
                assert!(size as u64 <= MAX_MEMORY_BYTES);
                let _ = m.data(&store).iter().fold(0u8, |a, b| a ^ b);
            }
            Extern::Table(t) => {
                let size = t.size(&store);
                assert!(size <= MAX_TABLE_ELEMENTS);
                for i in 0..size.min(100) {
                    assert!(t.get(&mut store, i).is_some());
                }
                assert!(t.get(&mut store, size).is_none());
            }
            Extern::Global(g) => {
                let ty = g.ty(&store);
                assert_eq!(g.get(&mut store).ty(), ty.content);
            }
        }
    }
    Ok(())
}

/// A store whose memories and tables may not grow beyond the generators' limits.
pub(crate) fn new_store(engine: &Engine) -> Store<StoreLimits> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(MAX_MEMORY_BYTES as usize)
        .table_elements(MAX_TABLE_ELEMENTS as usize)
        .build();
    let mut store = Store::new(engine, limits);
    store.limiter(|l| l);
    store
}

/// Defines every import of `module` with a dummy of the right type: functions return zeros
/// and nulls, globals hold zero or null, tables are null-filled, memories zeroed.
fn define_dummy_imports(
    store: &mut Store<StoreLimits>,
    linker: &mut Linker<StoreLimits>,
    module: &Module,
) {
    for import in module.imports() {
        let item: Extern = match import.ty {
            ExternType::Func(ty) => {
                let results = ty.results.clone();
                Func::new(&mut *store, ty, move |_, _, out| {
                    for (o, t) in out.iter_mut().zip(results.iter()) {
                        *o = Val::default_for(*t);
                    }
                    Ok(())
                })
                .into()
            }
            ExternType::Global(ty) => {
                match Global::new(&mut *store, ty, Val::default_for(ty.content)) {
                    Ok(g) => g.into(),
                    Err(_) => continue,
                }
            }
            ExternType::Table(ty) => {
                match Table::new(
                    &mut *store,
                    ty,
                    Val::default_for(kiln::ValType::Ref(ty.element)),
                ) {
                    Ok(t) => t.into(),
                    Err(_) => continue,
                }
            }
            ExternType::Memory(ty) => match Memory::new(&mut *store, ty) {
                Ok(m) => m.into(),
                Err(_) => continue,
            },
        };
        // A duplicate import name is defined once; later ones must have the same type or
        // instantiation fails cleanly.
        let _ = linker.define(&*store, import.module, import.name, item);
    }
}
