//! The builtins compiled code calls (see `kiln_environ::BuiltinFunction`), and the array that
//! `vmctx.builtins` points to.
//!
//! Each builtin does its work in safe code returning `Result<_, Trap>`; on error it raises the
//! trap, which never returns. At that point it holds nothing that needs dropping.

use super::instance::Instance;
use super::traphandlers;
use super::vmstore::{VMStore, grow_memory, grow_table};
use core::ffi::c_void;
use kiln_environ::{BuiltinFunction, Trap};
use std::sync::OnceLock;

fn instance<'a>(vmctx: *mut c_void) -> &'a mut Instance {
    // SAFETY: compiled code passes its own live vmctx, and while a builtin runs nothing else
    // uses the instance.
    unsafe { Instance::from_vmctx(vmctx.cast()) }
}

fn check(r: Result<(), Trap>) {
    if let Err(trap) = r {
        // SAFETY: called from a builtin invoked by compiled code through a builtin trampoline;
        // our frames hold no values with destructors.
        unsafe { traphandlers::raise_trap(trap) }
    }
}

/// The store of the instance owning `vmctx`, and the instance's `ids[index]`.
fn store_and_id<'a>(
    vmctx: *mut c_void,
    ids: impl FnOnce(&Instance) -> usize,
) -> (&'a mut dyn VMStore, usize) {
    let inst = instance(vmctx);
    let id = ids(inst);
    let store = inst.store_ptr();
    // SAFETY: the store outlives its instances; while a builtin runs, the embedder's
    // exclusive borrow of the store is lent to wasm, and the instance reference above is no
    // longer used.
    (unsafe { &mut *store }, id)
}

/// Raises an error from the store (a limiter's or deadline callback's) as the call's error.
fn raise_error(error: anyhow::Error) -> ! {
    // SAFETY: called from a builtin invoked by compiled code; the error moves into the
    // thread's unwind record, and nothing else here needs dropping.
    unsafe { traphandlers::raise(Some(traphandlers::UnwindReason::Host(error))) }
}

extern "C" fn memory_grow(vmctx: *mut c_void, memory: u32, delta: u64) -> u64 {
    let (store, id) = store_and_id(vmctx, |i| i.memory_ids[memory as usize]);
    match grow_memory(store, id, delta) {
        Ok(Some(old)) => old,
        Ok(None) => u64::MAX,
        Err(e) => raise_error(e),
    }
}

extern "C" fn memory_fill(vmctx: *mut c_void, memory: u32, dst: u64, val: u32, len: u64) {
    let inst = instance(vmctx);
    // SAFETY: as above.
    let mem = unsafe { &mut *inst.memories[memory as usize] };
    check((|| {
        let end = dst.checked_add(len).ok_or(Trap::MemoryOutOfBounds)?;
        if end > mem.byte_size() as u64 {
            return Err(Trap::MemoryOutOfBounds);
        }
        mem.data_mut()[dst as usize..end as usize].fill(val as u8);
        Ok(())
    })());
}

extern "C" fn memory_copy(
    vmctx: *mut c_void,
    dst_mem: u32,
    dst: u64,
    src_mem: u32,
    src: u64,
    len: u64,
) {
    let inst = instance(vmctx);
    let dm = inst.memories[dst_mem as usize];
    let sm = inst.memories[src_mem as usize];
    check((|| {
        // SAFETY: both are live memories of the store; we only read their sizes here.
        let (dsize, ssize) = unsafe { ((*dm).byte_size() as u64, (*sm).byte_size() as u64) };
        let dend = dst.checked_add(len).ok_or(Trap::MemoryOutOfBounds)?;
        let send = src.checked_add(len).ok_or(Trap::MemoryOutOfBounds)?;
        if dend > dsize || send > ssize {
            return Err(Trap::MemoryOutOfBounds);
        }
        // SAFETY: both ranges were checked to lie inside their memories' accessible bytes;
        // `copy` allows overlap (same memory).
        unsafe {
            let d = (*dm).vmdef();
            let s = (*sm).vmdef();
            core::ptr::copy(
                (*s).base.cast::<u8>().add(src as usize),
                (*d).base.cast::<u8>().add(dst as usize),
                len as *const () as usize,
            );
        }
        Ok(())
    })());
}

extern "C" fn memory_init(
    vmctx: *mut c_void,
    memory: u32,
    data: u32,
    dst: u64,
    src: u32,
    len: u32,
) {
    let inst = instance(vmctx);
    check(inst.memory_init(memory, data, dst, src.into(), len.into()));
}

extern "C" fn data_drop(vmctx: *mut c_void, data: u32) {
    instance(vmctx).dropped_data[data as usize] = true;
}

extern "C" fn table_grow(vmctx: *mut c_void, table: u32, delta: u64, init: *mut c_void) -> u64 {
    let (store, id) = store_and_id(vmctx, |i| i.table_ids[table as usize]);
    match grow_table(store, id, delta, init as usize) {
        Ok(Some(old)) => old,
        Ok(None) => u64::MAX,
        Err(e) => raise_error(e),
    }
}

extern "C" fn new_epoch(vmctx: *mut c_void) -> u64 {
    let (store, _) = store_and_id(vmctx, |_| 0);
    match store.new_epoch() {
        Ok(deadline) => deadline,
        Err(e) => raise_error(e),
    }
}

extern "C" fn table_fill(vmctx: *mut c_void, table: u32, dst: u64, val: *mut c_void, len: u64) {
    let inst = instance(vmctx);
    // SAFETY: as above.
    let t = unsafe { &mut *inst.tables[table as usize] };
    let ok = t.fill(dst, val as usize, len);
    check(if ok {
        Ok(())
    } else {
        Err(Trap::TableOutOfBounds)
    });
}

extern "C" fn table_copy(
    vmctx: *mut c_void,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) {
    let inst = instance(vmctx);
    let dt = inst.tables[dst_table as usize];
    let st = inst.tables[src_table as usize];
    check((|| {
        // SAFETY: live tables of the store; sizes only.
        let (dsize, ssize) = unsafe { ((*dt).size(), (*st).size()) };
        let dend = dst.checked_add(len).ok_or(Trap::TableOutOfBounds)?;
        let send = src.checked_add(len).ok_or(Trap::TableOutOfBounds)?;
        if dend > dsize || send > ssize {
            return Err(Trap::TableOutOfBounds);
        }
        // SAFETY: ranges checked above; `copy` handles overlap when both are the same table.
        unsafe {
            let s = (*st).elements().as_ptr().add(src as usize);
            let d = (*dt).elements_mut().as_mut_ptr().add(dst as usize);
            core::ptr::copy(s, d, len as usize);
        }
        Ok(())
    })());
}

extern "C" fn table_init(vmctx: *mut c_void, table: u32, elem: u32, dst: u64, src: u32, len: u32) {
    let inst = instance(vmctx);
    check(inst.table_init(table, elem, dst, src.into(), len.into()));
}

extern "C" fn elem_drop(vmctx: *mut c_void, elem: u32) {
    instance(vmctx).dropped_elems[elem as usize] = true;
}

extern "C" fn trap(_vmctx: *mut c_void, code: u32) {
    let trap = u8::try_from(code)
        .ok()
        .and_then(Trap::from_u8)
        .unwrap_or(Trap::UnreachableCodeReached);
    check(Err(trap));
}

extern "C" fn raise(_vmctx: *mut c_void) {
    // SAFETY: called by a wasm-to-array trampoline after the host function recorded its
    // reason; nothing here needs dropping.
    unsafe { traphandlers::raise(None) }
}

/// The builtin array, in `BuiltinFunction` order.
pub fn builtins_array() -> *const usize {
    static ARRAY: OnceLock<Box<[usize]>> = OnceLock::new();
    ARRAY
        .get_or_init(|| {
            BuiltinFunction::ALL
                .iter()
                .map(|b| match b {
                    BuiltinFunction::memory_grow => memory_grow as *const () as usize,
                    BuiltinFunction::memory_fill => memory_fill as *const () as usize,
                    BuiltinFunction::memory_copy => memory_copy as *const () as usize,
                    BuiltinFunction::memory_init => memory_init as *const () as usize,
                    BuiltinFunction::data_drop => data_drop as *const () as usize,
                    BuiltinFunction::table_grow => table_grow as *const () as usize,
                    BuiltinFunction::table_fill => table_fill as *const () as usize,
                    BuiltinFunction::table_copy => table_copy as *const () as usize,
                    BuiltinFunction::table_init => table_init as *const () as usize,
                    BuiltinFunction::elem_drop => elem_drop as *const () as usize,
                    BuiltinFunction::trap => trap as *const () as usize,
                    BuiltinFunction::raise => raise as *const () as usize,
                    BuiltinFunction::new_epoch => new_epoch as *const () as usize,
                })
                .collect()
        })
        .as_ptr()
}
