//! Trampolines: the glue between the wasm calling convention and the host's.
//!
//! - *Array-to-wasm* (one per escaping defined function): host convention,
//!   `fn(callee_vmctx, caller_vmctx, values: *mut ValRaw, len) -> bool`. Loads the arguments
//!   from `values[i]` (16 bytes apart, value at offset 0), calls the function directly,
//!   stores the results into `values[i]` and returns 1.
//! - *Wasm-to-array* (one per host-function signature): wasm convention. Stores its own frame
//!   pointer in `VMStoreContext::last_wasm_exit_fp` (through the caller's vmctx), spills the
//!   arguments into a stack `ValRaw` array of `max(params, results)` entries, calls
//!   `VMHostFuncContext::array_call` of the callee vmctx with that array and its length, and if
//!   the call returns 0 calls the `raise` builtin with the caller vmctx (it never returns).
//!   Otherwise it loads and returns the results.
//! - *Builtin trampolines* (one per builtin a module uses): the wasm `Tail` convention with the
//!   builtin's own parameters (vmctx first) and result. Each stores its own frame pointer in
//!   `VMStoreContext::last_wasm_exit_fp`, loads `vmctx.builtins[index]` and calls it with the
//!   host convention. Translated code calls them by the name `(NAMESPACE_BUILTIN, index)`.
//!
//! The frame pointer stored in `last_wasm_exit_fp` is the trampoline's own (frame pointers are
//! always kept): the saved frame pointer and return address above it belong to the calling
//! wasm function, which is where a backtrace starts.

use crate::abi::{self, POINTER};
use crate::translate::internal;
use cranelift_codegen::ir::{
    ExtFuncData, ExternalName, Function, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind,
    UserFuncName, Value, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_environ::vmoffsets::{VAL_RAW_SIZE, record};
use kiln_environ::{BuiltinFunction, FuncType, Trap, WasmError};

/// Namespace of trampoline function names (only used in their IR names).
const NAMESPACE_TRAMPOLINE: u32 = 2;

fn val_raw_offset(i: usize) -> Result<i32, WasmError> {
    i32::try_from(i)
        .ok()
        .and_then(|i| i.checked_mul(VAL_RAW_SIZE as i32))
        .ok_or_else(|| internal(0, "too many values for the array calling convention"))
}

/// Flags for accesses to the `ValRaw` array: always valid, not necessarily 16-aligned.
fn val_raw_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

fn unsupported(msg: &str) -> WasmError {
    WasmError::new(0, msg)
}

/// Stores the current frame pointer in `vmctx.store_context.last_wasm_exit_fp`.
fn save_exit_fp(b: &mut FunctionBuilder<'_>, vmctx: Value) {
    let store = b.ins().load(
        POINTER,
        abi::readonly(),
        vmctx,
        record::VMContextHeader::store_context as i32,
    );
    let fp = b.ins().get_frame_pointer(POINTER);
    b.ins().store(
        abi::trusted(),
        fp,
        store,
        record::VMStoreContext::last_wasm_exit_fp as i32,
    );
}

/// Loads the host pointer of builtin `builtin` through `vmctx.builtins`.
fn builtin_pointer(b: &mut FunctionBuilder<'_>, vmctx: Value, builtin: BuiltinFunction) -> Value {
    let array = b.ins().load(
        POINTER,
        abi::readonly(),
        vmctx,
        record::VMContextHeader::builtins as i32,
    );
    let offset = i32::try_from(builtin.index() * 8).unwrap_or(i32::MAX);
    b.ins().load(POINTER, abi::readonly(), array, offset)
}

/// The array-to-wasm trampoline of defined function `func_index` of type `ty`.
pub(crate) fn array_to_wasm(
    isa: &dyn TargetIsa,
    func_index: u32,
    ty: &FuncType,
    fctx: &mut FunctionBuilderContext,
) -> Result<Function, WasmError> {
    let wasm_sig = abi::wasm_signature(ty).map_err(unsupported)?;
    let host_sig = abi::array_call_signature(abi::host_call_conv(isa));
    let mut func = Function::with_name_signature(
        UserFuncName::user(NAMESPACE_TRAMPOLINE, func_index),
        host_sig,
    );
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let &[callee_vmctx, caller_vmctx, values, _len] = b.block_params(entry) else {
        return Err(internal(0, "array-call signature has the wrong arity"));
    };

    let mut args = vec![callee_vmctx, caller_vmctx];
    for (i, &p) in ty.params.iter().enumerate() {
        let t = abi::value_type(p).map_err(unsupported)?;
        args.push(b.ins().load(t, val_raw_flags(), values, val_raw_offset(i)?));
    }
    let sig = b.import_signature(wasm_sig);
    let name = b
        .func
        .declare_imported_user_function(abi::func_name(func_index));
    let callee = b.import_function(ExtFuncData {
        name: ExternalName::User(name),
        signature: sig,
        colocated: true,
        patchable: false,
    });
    let call = b.ins().call(callee, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins()
            .store(val_raw_flags(), r, values, val_raw_offset(i)?);
    }
    let ok = b.ins().iconst(types::I8, 1);
    b.ins().return_(&[ok]);
    b.finalize(isa.frontend_config());
    Ok(func)
}

/// The wasm-to-array trampoline for host functions of type `ty`.
pub(crate) fn wasm_to_array(
    isa: &dyn TargetIsa,
    ty: &FuncType,
    fctx: &mut FunctionBuilderContext,
) -> Result<Function, WasmError> {
    let wasm_sig = abi::wasm_signature(ty).map_err(unsupported)?;
    let host_conv = abi::host_call_conv(isa);
    let mut func =
        Function::with_name_signature(UserFuncName::user(NAMESPACE_TRAMPOLINE, u32::MAX), wasm_sig);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let [callee_vmctx, caller_vmctx] = params[..2] else {
        return Err(internal(0, "wasm signature has the wrong arity"));
    };

    save_exit_fp(&mut b, caller_vmctx);

    let len = ty.params.len().max(ty.results.len());
    let slot_size = u32::try_from(len.max(1))
        .ok()
        .and_then(|n| n.checked_mul(VAL_RAW_SIZE))
        .ok_or_else(|| internal(0, "too many values for the array calling convention"))?;
    let slot = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        slot_size,
        4,
    ));
    let values = b.ins().stack_addr(POINTER, slot, 0);
    for (i, &p) in params[2..].iter().enumerate() {
        b.ins()
            .store(val_raw_flags(), p, values, val_raw_offset(i)?);
    }

    let array_call = b.ins().load(
        POINTER,
        abi::readonly(),
        callee_vmctx,
        record::VMHostFuncContext::array_call as i32,
    );
    let array_sig = b.import_signature(abi::array_call_signature(host_conv));
    let len = b.ins().iconst(POINTER, len as i64);
    let call = b.ins().call_indirect(
        array_sig,
        array_call,
        &[callee_vmctx, caller_vmctx, values, len],
    );
    let ok = b.inst_results(call)[0];

    let fail = b.create_block();
    b.set_cold_block(fail);
    let done = b.create_block();
    b.ins().brif(ok, done, &[], fail, &[]);

    b.switch_to_block(fail);
    b.seal_block(fail);
    let raise = builtin_pointer(&mut b, caller_vmctx, BuiltinFunction::raise);
    let raise_sig = b.import_signature(abi::builtin_signature(BuiltinFunction::raise, host_conv));
    b.ins().call_indirect(raise_sig, raise, &[caller_vmctx]);
    // `raise` never returns.
    b.ins()
        .trap(crate::traps::to_cranelift(Trap::UnreachableCodeReached));

    b.switch_to_block(done);
    b.seal_block(done);
    let mut results = Vec::with_capacity(ty.results.len());
    for (i, &r) in ty.results.iter().enumerate() {
        let t = abi::value_type(r).map_err(unsupported)?;
        results.push(b.ins().load(t, val_raw_flags(), values, val_raw_offset(i)?));
    }
    b.ins().return_(&results);
    b.finalize(isa.frontend_config());
    Ok(func)
}

/// The trampoline through which compiled code calls `builtin`.
pub(crate) fn builtin_trampoline(
    isa: &dyn TargetIsa,
    builtin: BuiltinFunction,
    fctx: &mut FunctionBuilderContext,
) -> Function {
    let host_conv = abi::host_call_conv(isa);
    let mut func = Function::with_name_signature(
        UserFuncName::user(abi::NAMESPACE_BUILTIN, builtin.index()),
        abi::builtin_signature(builtin, CallConv::Tail),
    );
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let args = b.block_params(entry).to_vec();
    // Every builtin takes the vmctx first (see `BuiltinFunction::params`).
    let vmctx = args[0];
    save_exit_fp(&mut b, vmctx);
    let callee = builtin_pointer(&mut b, vmctx, builtin);
    let sig = b.import_signature(abi::builtin_signature(builtin, host_conv));
    let call = b.ins().call_indirect(sig, callee, &args);
    let results = b.inst_results(call).to_vec();
    b.ins().return_(&results);
    b.finalize(isa.frontend_config());
    func
}
