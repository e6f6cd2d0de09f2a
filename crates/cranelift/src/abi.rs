//! The ABI pieces shared by the translator and the trampolines: value types, signatures,
//! memory-flag presets and the names used for relocations.
//!
//! Every wasm function has Cranelift's `Tail` convention and the signature
//! `(callee_vmctx, caller_vmctx, params…) -> results…` (see "ABI" in `ARCHITECTURE.md`).
//! Host-facing functions (array calls, builtins) use the target's default convention.

use cranelift_codegen::ir::{
    AbiParam, ArgumentPurpose, MemFlagsData, Signature, Type, UserExternalName, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use kiln_environ::{BuiltinFunction, BuiltinType, FuncType, WasmValType};

/// Relocation namespace of a wasm function; the index is its module function index.
pub(crate) const NAMESPACE_FUNC: u32 = 0;
/// Relocation namespace of a builtin trampoline; the index is `BuiltinFunction::index`.
pub(crate) const NAMESPACE_BUILTIN: u32 = 1;
/// Relocation namespace of a libcall stub; the index is `libcalls::index`.
pub(crate) const NAMESPACE_LIBCALL: u32 = 3;

/// The pointer type of every supported host.
pub(crate) const POINTER: Type = types::I64;

/// The Cranelift type of a wasm value. References are pointer-sized integers (0 is null);
/// a `v128` is an `I8X16` (operators bitcast it to the lane type they work on).
pub(crate) fn value_type(ty: WasmValType) -> Result<Type, &'static str> {
    match ty {
        WasmValType::I32 => Ok(types::I32),
        WasmValType::I64 => Ok(types::I64),
        WasmValType::F32 => Ok(types::F32),
        WasmValType::F64 => Ok(types::F64),
        WasmValType::Ref(_) => Ok(POINTER),
        WasmValType::V128 => Ok(types::I8X16),
    }
}

/// Converts a wasmparser value type (as found in locals and block types).
pub(crate) fn wasmparser_value_type(ty: wasmparser::ValType) -> Result<Type, &'static str> {
    let ty = WasmValType::from_wasmparser(ty).ok_or("unsupported: value type")?;
    value_type(ty)
}

/// The wasm calling convention's signature for `ty`.
pub(crate) fn wasm_signature(ty: &FuncType) -> Result<Signature, &'static str> {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params
        .push(AbiParam::special(POINTER, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(POINTER));
    for &p in ty.params.iter() {
        sig.params.push(AbiParam::new(value_type(p)?));
    }
    for &r in ty.results.iter() {
        sig.returns.push(AbiParam::new(value_type(r)?));
    }
    Ok(sig)
}

/// The convention the host's `extern "C"` functions use.
pub(crate) fn host_call_conv(isa: &dyn TargetIsa) -> CallConv {
    isa.default_call_conv()
}

/// The array calling convention:
/// `fn(callee_vmctx, caller_vmctx, values: *mut ValRaw, len: usize) -> bool`.
pub(crate) fn array_call_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(POINTER); 4]);
    sig.returns.push(AbiParam::new(types::I8));
    sig
}

fn builtin_type(ty: BuiltinType) -> Type {
    match ty {
        BuiltinType::I32 => types::I32,
        BuiltinType::I64 | BuiltinType::Pointer => types::I64,
    }
}

/// The signature of builtin `b` in `call_conv` (the builtin trampolines take the same
/// parameters as the builtin they forward to).
pub(crate) fn builtin_signature(b: BuiltinFunction, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for &p in b.params() {
        sig.params.push(AbiParam::new(builtin_type(p)));
    }
    if let Some(r) = b.result() {
        sig.returns.push(AbiParam::new(builtin_type(r)));
    }
    sig
}

/// The external name of wasm function `index`.
pub(crate) fn func_name(index: u32) -> UserExternalName {
    UserExternalName::new(NAMESPACE_FUNC, index)
}

/// The external name of the trampoline of builtin `b`.
pub(crate) fn builtin_name(b: BuiltinFunction) -> UserExternalName {
    UserExternalName::new(NAMESPACE_BUILTIN, b.index())
}

/// Flags for a load of a vmctx field that never changes while the instance lives.
pub(crate) fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Flags for a load of an immutable field reached through a pointer that was checked first
/// (e.g. a `VMFuncRef` after its null check): read-only, but not movable above the check.
pub(crate) fn readonly_guarded() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// Flags for an access to VM state that is always mapped but may change.
pub(crate) fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}
