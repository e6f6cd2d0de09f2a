//! The `spectest` host module that spec scripts import.
//!
//! It matches the reference interpreter: no-op `print*` functions, four immutable globals
//! holding 666 (666.6 for floats), a funcref table of 10..20 elements and a memory of 1..2
//! pages. Every item is created in the script's store and defined on its linker.

use kiln::{
    Global, GlobalType, Linker, Memory, MemoryType, RefType, Store, Table, TableType, Val, ValType,
};

/// The bits of the `f32` 666.6 (`global_f32`).
pub const GLOBAL_F32_BITS: u32 = 0x4426_a666;
/// The bits of the `f64` 666.6 (`global_f64`).
pub const GLOBAL_F64_BITS: u64 = 0x4084_d4cc_cccc_cccd;

/// Defines every `spectest` item on `linker`, creating its globals, table and memory in
/// `store`.
pub fn link_spectest<T: 'static>(
    linker: &mut Linker<T>,
    store: &mut Store<T>,
) -> anyhow::Result<()> {
    linker.func_wrap("spectest", "print", || {})?;
    linker.func_wrap("spectest", "print_i32", |_: i32| {})?;
    linker.func_wrap("spectest", "print_i64", |_: i64| {})?;
    linker.func_wrap("spectest", "print_f32", |_: f32| {})?;
    linker.func_wrap("spectest", "print_f64", |_: f64| {})?;
    linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {})?;
    linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {})?;

    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(GLOBAL_F32_BITS)),
        ("global_f64", ValType::F64, Val::F64(GLOBAL_F64_BITS)),
    ];
    for (name, content, value) in globals {
        let ty = GlobalType {
            content,
            mutable: false,
        };
        let global = Global::new(&mut *store, ty, value)?;
        linker.define(&*store, "spectest", name, global)?;
    }

    let table_ty = TableType {
        element: RefType::Func,
        minimum: 10,
        maximum: Some(20),
    };
    let table = Table::new(&mut *store, table_ty, Val::FuncRef(None))?;
    linker.define(&*store, "spectest", "table", table)?;

    let memory_ty = MemoryType {
        minimum: 1,
        maximum: Some(2),
        memory64: false,
        shared: false,
    };
    let memory = Memory::new(&mut *store, memory_ty)?;
    linker.define(&*store, "spectest", "memory", memory)?;
    Ok(())
}
