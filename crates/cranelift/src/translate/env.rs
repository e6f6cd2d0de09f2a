//! The function environment: how translated code reaches the instance through its vmctx.
//!
//! Globals, tables, calls (direct, imported, indirect), `ref.func` and builtin calls all go
//! through here, so this file holds every vmctx offset the translator uses (memories are in
//! `memory.rs`). The layout comes from [`VMOffsets`] and `vmoffsets::record`.
//!
//! Two reviews required: a wrong offset or a missing check here is a sandbox escape.

use super::simd::SimdIsa;
use super::{internal, unsupported};
use crate::abi::{self, POINTER};
use cranelift_codegen::ir::{
    self, ExtFuncData, ExternalName, FuncRef, InstBuilder, SigRef, Value, condcodes::IntCC, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::FunctionBuilder;
use kiln_environ::vmoffsets::record;
use kiln_environ::{BuiltinFunction, ModuleInfo, Trap, Tunables, VMOffsets, WasmResult};
use std::collections::HashMap;

/// Per-function translation state that is not about the wasm value or control stacks.
pub(crate) struct FuncEnv<'m> {
    pub module: &'m ModuleInfo,
    pub offsets: &'m VMOffsets,
    pub tunables: &'m Tunables,
    /// This function's vmctx (the first parameter); valid everywhere since the entry block
    /// dominates every block.
    pub vmctx: Value,
    /// Byte offset of the operator being translated, for error messages.
    pub offset: u64,
    sigs: HashMap<u32, SigRef>,
    direct: HashMap<u32, FuncRef>,
    builtins: HashMap<BuiltinFunction, FuncRef>,
    /// Builtins this function calls, in first-use order.
    pub used_builtins: Vec<BuiltinFunction>,
    /// What the target offers the SIMD translation.
    pub simd: SimdIsa,
    /// Which bounds checks also stop misspeculation.
    pub spectre: SpectreGuards,
}

/// Which explicit bounds checks also guard against Spectre-style misspeculation: after the
/// check, the accessed address is chosen with `select_spectre_guard`, a conditional move the
/// CPU does not predict, so a mispredicted check still cannot read out of bounds. These are
/// Cranelift's shared settings `enable_heap_access_spectre_mitigation` and
/// `enable_table_access_spectre_mitigation` (on by default, and part of the artifact
/// fingerprint with every other setting).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpectreGuards {
    /// Linear-memory accesses that need an explicit check (none do with guard pages that cover
    /// every address).
    pub heap: bool,
    /// Table element accesses: `call_indirect`, `table.get`, `table.set`.
    pub table: bool,
}

impl SpectreGuards {
    pub fn of(isa: &dyn TargetIsa) -> Self {
        let flags = isa.flags();
        SpectreGuards {
            heap: flags.enable_heap_access_spectre_mitigation(),
            table: flags.enable_table_access_spectre_mitigation(),
        }
    }
}

impl<'m> FuncEnv<'m> {
    pub fn new(
        module: &'m ModuleInfo,
        offsets: &'m VMOffsets,
        tunables: &'m Tunables,
        vmctx: Value,
        simd: SimdIsa,
        spectre: SpectreGuards,
    ) -> Self {
        FuncEnv {
            module,
            offsets,
            tunables,
            vmctx,
            offset: 0,
            sigs: HashMap::new(),
            direct: HashMap::new(),
            builtins: HashMap::new(),
            used_builtins: Vec::new(),
            simd,
            spectre,
        }
    }

    /// Loads a pointer-sized field at `base + offset` of VM state that never changes.
    pub fn load_readonly(&self, b: &mut FunctionBuilder<'_>, base: Value, offset: u32) -> Value {
        b.ins()
            .load(POINTER, abi::readonly(), base, offset_imm(offset))
    }

    /// The `*mut VMStoreContext` of this instance.
    pub fn store_context(&self, b: &mut FunctionBuilder<'_>) -> Value {
        self.load_readonly(b, self.vmctx, record::VMContextHeader::store_context)
    }

    // ---------------------------------------------------------------- globals

    /// Where global `index` lives: (base pointer, offset), and whether it is immutable.
    fn global_addr(
        &self,
        b: &mut FunctionBuilder<'_>,
        index: u32,
    ) -> WasmResult<(Value, u32, ir::Type, bool)> {
        let g = self
            .module
            .globals
            .get(index as usize)
            .ok_or_else(|| internal(self.offset, "global index out of range"))?;
        let ty = abi::value_type(g.content).map_err(|m| unsupported(self.offset, m))?;
        if self.module.is_imported_global(index) {
            let ptr = self.load_readonly(b, self.vmctx, self.offsets.vmctx_imported_global(index));
            Ok((ptr, 0, ty, !g.mutable))
        } else {
            let defined = index - self.module.num_imported_globals;
            if defined >= self.offsets.num_defined_globals {
                return Err(internal(self.offset, "defined global index out of range"));
            }
            Ok((
                self.vmctx,
                self.offsets.vmctx_defined_global(defined),
                ty,
                !g.mutable,
            ))
        }
    }

    /// `global.get`.
    pub fn global_get(&self, b: &mut FunctionBuilder<'_>, index: u32) -> WasmResult<Value> {
        let (base, offset, ty, constant) = self.global_addr(b, index)?;
        let flags = if constant {
            abi::readonly()
        } else {
            abi::trusted()
        };
        Ok(b.ins().load(ty, flags, base, offset_imm(offset)))
    }

    /// `global.set`.
    pub fn global_set(
        &self,
        b: &mut FunctionBuilder<'_>,
        index: u32,
        val: Value,
    ) -> WasmResult<()> {
        let (base, offset, _, _) = self.global_addr(b, index)?;
        b.ins().store(abi::trusted(), val, base, offset_imm(offset));
        Ok(())
    }

    // ---------------------------------------------------------------- tables

    fn check_table(&self, index: u32) -> WasmResult<()> {
        if index < self.offsets.num_tables {
            Ok(())
        } else {
            Err(internal(self.offset, "table index out of range"))
        }
    }

    /// The `*mut VMTableDefinition` of table `index`.
    fn table_def(&self, b: &mut FunctionBuilder<'_>, index: u32) -> WasmResult<Value> {
        self.check_table(index)?;
        Ok(self.load_readonly(b, self.vmctx, self.offsets.vmctx_table(index)))
    }

    /// The current element count of table `index` (as i64).
    fn table_len(&self, b: &mut FunctionBuilder<'_>, def: Value) -> Value {
        b.ins().load(
            POINTER,
            abi::trusted(),
            def,
            offset_imm(record::VMTableDefinition::current_elements),
        )
    }

    /// The address of element `index` (an i32) of table `table`, after a bounds check that
    /// traps with `trap`. With the table Spectre guard, a misspeculated check yields the
    /// address of element 0 rather than one past the table.
    fn table_elem_addr(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        table: u32,
        index: Value,
        trap: Trap,
    ) -> WasmResult<Value> {
        let def = self.table_def(b, table)?;
        let len = self.table_len(b, def);
        let index = b.ins().uextend(types::I64, index);
        let oob = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.trapnz(b, oob, trap);
        let base = b.ins().load(
            POINTER,
            abi::trusted(),
            def,
            offset_imm(record::VMTableDefinition::base),
        );
        let scaled = b.ins().ishl_imm_u(index, 3);
        let elem = b.ins().iadd(base, scaled);
        Ok(if self.spectre.table {
            b.ins().select_spectre_guard(oob, base, elem)
        } else {
            elem
        })
    }

    /// `table.get`.
    pub fn table_get(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        table: u32,
        index: Value,
    ) -> WasmResult<Value> {
        let addr = self.table_elem_addr(b, table, index, Trap::TableOutOfBounds)?;
        Ok(b.ins().load(POINTER, abi::trusted(), addr, 0))
    }

    /// `table.set`.
    pub fn table_set(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        table: u32,
        index: Value,
        val: Value,
    ) -> WasmResult<()> {
        let addr = self.table_elem_addr(b, table, index, Trap::TableOutOfBounds)?;
        b.ins().store(abi::trusted(), val, addr, 0);
        Ok(())
    }

    /// `table.size`.
    pub fn table_size(&self, b: &mut FunctionBuilder<'_>, table: u32) -> WasmResult<Value> {
        let def = self.table_def(b, table)?;
        let len = self.table_len(b, def);
        Ok(b.ins().ireduce(types::I32, len))
    }

    // ---------------------------------------------------------------- calls

    /// The imported signature of type `type_index` in the current function.
    pub fn signature(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        type_index: u32,
    ) -> WasmResult<SigRef> {
        if let Some(&s) = self.sigs.get(&type_index) {
            return Ok(s);
        }
        let ty = self
            .module
            .types
            .get(type_index as usize)
            .ok_or_else(|| internal(self.offset, "type index out of range"))?;
        let sig = abi::wasm_signature(ty).map_err(|m| unsupported(self.offset, m))?;
        let s = b.import_signature(sig);
        self.sigs.insert(type_index, s);
        Ok(s)
    }

    fn func_type_index(&self, func: u32) -> WasmResult<u32> {
        self.module
            .functions
            .get(func as usize)
            .copied()
            .ok_or_else(|| internal(self.offset, "function index out of range"))
    }

    /// `call func`: returns the results.
    pub fn call(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        func: u32,
        args: &[Value],
    ) -> WasmResult<Vec<Value>> {
        let type_index = self.func_type_index(func)?;
        let sig = self.signature(b, type_index)?;
        let inst = if self.module.is_imported_func(func) {
            let rec = self.offsets.vmctx_imported_function(func);
            let code = self.load_readonly(b, self.vmctx, rec + record::VMFuncRef::wasm_call);
            let callee_vmctx = self.load_readonly(b, self.vmctx, rec + record::VMFuncRef::vmctx);
            let mut all = Vec::with_capacity(args.len() + 2);
            all.extend([callee_vmctx, self.vmctx]);
            all.extend_from_slice(args);
            b.ins().call_indirect(sig, code, &all)
        } else {
            let callee = match self.direct.get(&func) {
                Some(&f) => f,
                None => {
                    let name = b.func.declare_imported_user_function(abi::func_name(func));
                    let f = b.import_function(ExtFuncData {
                        name: ExternalName::User(name),
                        signature: sig,
                        colocated: true,
                        patchable: false,
                    });
                    self.direct.insert(func, f);
                    f
                }
            };
            let mut all = Vec::with_capacity(args.len() + 2);
            all.extend([self.vmctx, self.vmctx]);
            all.extend_from_slice(args);
            b.ins().call(callee, &all)
        };
        Ok(b.inst_results(inst).to_vec())
    }

    /// `call_indirect (type type_index) table`: `index` is the element index (i32).
    pub fn call_indirect(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        type_index: u32,
        table: u32,
        index: Value,
        args: &[Value],
    ) -> WasmResult<Vec<Value>> {
        let sig = self.signature(b, type_index)?;
        let addr = self.table_elem_addr(b, table, index, Trap::IndirectCallOutOfBounds)?;
        let func_ref = b.ins().load(POINTER, abi::trusted(), addr, 0);
        self.trapz(b, func_ref, Trap::IndirectCallToNull);

        let type_ids = self.load_readonly(b, self.vmctx, record::VMContextHeader::type_ids);
        let byte_offset = type_index
            .checked_mul(4)
            .and_then(|o| i32::try_from(o).ok())
            .ok_or_else(|| internal(self.offset, "type index too large"))?;
        let expected = b
            .ins()
            .load(types::I32, abi::readonly(), type_ids, byte_offset);
        let actual = b.ins().load(
            types::I32,
            abi::readonly_guarded(),
            func_ref,
            offset_imm(record::VMFuncRef::type_index),
        );
        let mismatch = b.ins().icmp(IntCC::NotEqual, expected, actual);
        self.trapnz(b, mismatch, Trap::BadSignature);

        let code = b.ins().load(
            POINTER,
            abi::readonly_guarded(),
            func_ref,
            offset_imm(record::VMFuncRef::wasm_call),
        );
        let callee_vmctx = b.ins().load(
            POINTER,
            abi::readonly_guarded(),
            func_ref,
            offset_imm(record::VMFuncRef::vmctx),
        );
        let mut all = Vec::with_capacity(args.len() + 2);
        all.extend([callee_vmctx, self.vmctx]);
        all.extend_from_slice(args);
        let inst = b.ins().call_indirect(sig, code, &all);
        Ok(b.inst_results(inst).to_vec())
    }

    /// `ref.func func`: the address of its `VMFuncRef`.
    pub fn ref_func(&self, b: &mut FunctionBuilder<'_>, func: u32) -> WasmResult<Value> {
        let offset = if self.module.is_imported_func(func) {
            self.offsets.vmctx_imported_function(func)
        } else {
            let slot = self
                .module
                .escape_slot
                .get(&func)
                .copied()
                .filter(|&s| s < self.offsets.num_escaped_funcs)
                .ok_or_else(|| internal(self.offset, "ref.func of a function without a slot"))?;
            self.offsets.vmctx_func_ref(slot)
        };
        Ok(b.ins().iadd_imm_u(self.vmctx, i64::from(offset)))
    }

    // ---------------------------------------------------------------- builtins

    /// Calls builtin `builtin` with `args` (the vmctx is prepended). An i32 argument where the
    /// builtin takes an i64 or a pointer is zero-extended.
    pub fn call_builtin(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        builtin: BuiltinFunction,
        args: &[Value],
    ) -> WasmResult<Option<Value>> {
        let callee = match self.builtins.get(&builtin) {
            Some(&f) => f,
            None => {
                let sig = b.import_signature(abi::builtin_signature(builtin, CallConv::Tail));
                let name = b
                    .func
                    .declare_imported_user_function(abi::builtin_name(builtin));
                let f = b.import_function(ExtFuncData {
                    name: ExternalName::User(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.builtins.insert(builtin, f);
                self.used_builtins.push(builtin);
                f
            }
        };
        let params = builtin.params();
        if params.len() != args.len() + 1 {
            return Err(internal(self.offset, "builtin called with the wrong arity"));
        }
        let mut all = Vec::with_capacity(params.len());
        all.push(self.vmctx);
        for (&arg, &ty) in args.iter().zip(&params[1..]) {
            let wide = !matches!(ty, kiln_environ::BuiltinType::I32);
            let arg = if wide && b.func.dfg.value_type(arg) == types::I32 {
                b.ins().uextend(types::I64, arg)
            } else {
                arg
            };
            all.push(arg);
        }
        let inst = b.ins().call(callee, &all);
        Ok(b.inst_results(inst).first().copied())
    }
}

/// Converts a vmctx offset to Cranelift's signed immediate. VM offsets are far below 2 GiB
/// (the vmctx is sized by counts that wasmparser limits), so this never saturates in practice.
pub(crate) fn offset_imm(offset: u32) -> i32 {
    i32::try_from(offset).unwrap_or(i32::MAX)
}
