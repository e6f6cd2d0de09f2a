//! The function translator: one validated wasm body to one Cranelift IR function.
//!
//! ```text
//!   locals reader ──► validator.define_locals ──► Variables (params, zero-initialised locals)
//!   operators    ──► validator.op ──► FuncTranslator::operator ──► CLIF via FunctionBuilder
//!                                        │ value stack (SSA values)
//!                                        │ control stack (control.rs)
//!                                        └─► env.rs (vmctx, calls, tables, globals,
//!                                             builtins), trap.rs (trap emission),
//!                                             memory.rs, numeric.rs
//! ```
//!
//! Every operator is validated before it is translated, so the translator may rely on the
//! value stack having the right shape; it still never indexes or unwraps on that assumption
//! and reports an internal error instead. Code after an unconditional branch is validated but
//! not translated, until the `else` or `end` that makes it reachable again.

mod control;
mod env;
mod interrupts;
mod memory;
mod numeric;
mod simd;
mod trap;

use crate::abi::{self, POINTER};
use control::{Frame, FrameKind};
use cranelift_codegen::ir::{
    self, BlockArg, Function, GlobalValueData, InstBuilder, JumpTableData, SourceLoc, Type,
    UserFuncName, Value, condcodes::FloatCC, condcodes::IntCC, immediates::Ieee32,
    immediates::Ieee64, types,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use env::FuncEnv;
use kiln_environ::vmoffsets::record;
use kiln_environ::{
    BuiltinFunction, FunctionBodyInput, ModuleInfo, Trap, Tunables, VMOffsets, WasmError,
    WasmResult,
};
use memory::Extend;
use numeric::DivOp;
use wasmparser::{BlockType, FuncToValidate, Operator, ValidatorResources};

/// A translated function, ready for Cranelift.
pub(crate) struct TranslatedFunction {
    /// The IR.
    pub func: Function,
    /// The builtins it calls (their trampolines must be linked in).
    pub used_builtins: Vec<BuiltinFunction>,
}

pub(crate) fn internal(offset: u64, what: &str) -> WasmError {
    WasmError::new(offset, format!("internal error: {what}"))
}

pub(crate) fn unsupported(offset: u64, msg: &str) -> WasmError {
    WasmError::new(offset, msg)
}

/// The function index a body's validator is for.
pub(crate) fn body_func_index(input: &FunctionBodyInput<'_>) -> u32 {
    input.validator.index
}

/// Validates and translates one function body.
pub(crate) fn translate_function(
    isa: &dyn TargetIsa,
    module: &ModuleInfo,
    offsets: &VMOffsets,
    tunables: &Tunables,
    input: &FunctionBodyInput<'_>,
    fctx: &mut FunctionBuilderContext,
    allocs: &mut wasmparser::FuncValidatorAllocations,
) -> WasmResult<TranslatedFunction> {
    let body = &input.body;
    let start = body.range().start;
    let to_validate = FuncToValidate {
        resources: ValidatorResources::clone(&input.validator.resources),
        index: input.validator.index,
        ty: input.validator.ty,
        features: input.validator.features,
    };
    let mut validator = to_validate.into_validator(std::mem::take(allocs));
    let func_index = input.validator.index;
    let ty = module
        .types
        .get(input.validator.ty as usize)
        .ok_or_else(|| internal(start, "function type index out of range"))?;
    let sig = abi::wasm_signature(ty).map_err(|m| unsupported(start, m))?;

    let mut func =
        Function::with_name_signature(UserFuncName::user(abi::NAMESPACE_FUNC, func_index), sig);
    let mut builder = FunctionBuilder::new(&mut func, fctx);
    let entry = builder.create_block();
    builder.append_block_params_for_function_params(entry);
    builder.switch_to_block(entry);
    builder.seal_block(entry);
    builder.set_srcloc(SourceLoc::new(start as u32));
    let params = builder.block_params(entry).to_vec();
    let vmctx = params[0];

    let env = FuncEnv::new(
        module,
        offsets,
        tunables,
        vmctx,
        simd::SimdIsa::of(isa),
        env::SpectreGuards::of(isa),
    );
    let mut t = FuncTranslator {
        builder,
        env,
        stack: Vec::new(),
        control: Vec::new(),
        locals: Vec::new(),
        reachable: true,
        unreachable_depth: 0,
        interrupts: Default::default(),
    };
    t.env.offset = start;

    // Parameters, then declared locals (zero / null).
    for (&p, &val_ty) in params[2..].iter().zip(ty.params.iter()) {
        let ty = abi::value_type(val_ty).map_err(|m| unsupported(start, m))?;
        let var = t.builder.declare_var(ty);
        t.builder.def_var(var, p);
        t.locals.push((var, ty));
    }
    let mut locals = body.get_locals_reader()?;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, ty) = locals.read()?;
        validator.define_locals(offset, count, ty)?;
        let ty = abi::wasmparser_value_type(ty).map_err(|m| unsupported(offset, m))?;
        for _ in 0..count {
            let var = t.builder.declare_var(ty);
            let zero = t.zero(ty);
            t.builder.def_var(var, zero);
            t.locals.push((var, ty));
        }
    }

    t.stack_check()?;
    t.on_function_entry()?;

    // The function body is an implicit block whose results are the function's results.
    let results = ty
        .results
        .iter()
        .map(|&r| abi::value_type(r).map_err(|m| unsupported(start, m)))
        .collect::<WasmResult<Vec<_>>>()?;
    let next = t.block_with_params(&results);
    t.control.push(Frame {
        kind: FrameKind::Block,
        next,
        num_params: 0,
        num_results: results.len(),
        base: 0,
        next_reachable: false,
    });

    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        validator.op(offset, &op)?;
        t.env.offset = offset;
        t.builder.set_srcloc(SourceLoc::new(offset as u32));
        t.interrupts_before_op(&op);
        t.operator(&op)?;
        t.interrupts_after_op(&op);
    }
    reader.finish()?;
    if !t.control.is_empty() {
        return Err(internal(
            reader.original_position(),
            "unbalanced control stack",
        ));
    }

    *allocs = validator.into_allocations();
    let used_builtins = std::mem::take(&mut t.env.used_builtins);
    t.builder.seal_all_blocks();
    t.builder.finalize(isa.frontend_config());
    Ok(TranslatedFunction {
        func,
        used_builtins,
    })
}

/// The translation state of one function.
pub(crate) struct FuncTranslator<'m, 'f> {
    builder: FunctionBuilder<'f>,
    env: FuncEnv<'m>,
    /// The wasm value stack.
    stack: Vec<Value>,
    /// The wasm control stack.
    control: Vec<Frame>,
    /// Every local (parameters first) and its type.
    locals: Vec<(Variable, Type)>,
    /// Whether the current position can execute.
    reachable: bool,
    /// While unreachable: how many `block`/`loop`/`if` were opened since.
    unreachable_depth: u32,
    /// Fuel and epoch state (see `interrupts.rs`).
    interrupts: interrupts::Interrupts,
}

fn block_args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|&v| BlockArg::Value(v)).collect()
}

impl<'m, 'f> FuncTranslator<'m, 'f> {
    // ------------------------------------------------------------ hooks

    /// Hook at function entry, after the stack check: fuel and epoch checks.
    fn on_function_entry(&mut self) -> WasmResult<()> {
        self.interrupts_at_entry()
    }

    /// Hook at the start of every loop body: fuel and epoch checks.
    fn on_loop_header(&mut self) -> WasmResult<()> {
        self.interrupts_at_loop_header()
    }

    // ------------------------------------------------------------ stack helpers

    fn pop(&mut self) -> WasmResult<Value> {
        self.stack
            .pop()
            .ok_or_else(|| internal(self.env.offset, "value stack underflow"))
    }

    /// Pops two values; returns them in push order.
    fn pop2(&mut self) -> WasmResult<(Value, Value)> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    fn pop3(&mut self) -> WasmResult<(Value, Value, Value)> {
        let c = self.pop()?;
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b, c))
    }

    fn peek(&self) -> WasmResult<Value> {
        self.stack
            .last()
            .copied()
            .ok_or_else(|| internal(self.env.offset, "value stack underflow"))
    }

    /// The top `n` values, in push order.
    fn top(&self, n: usize) -> WasmResult<&[Value]> {
        let len = self.stack.len();
        if n > len {
            return Err(internal(self.env.offset, "value stack underflow"));
        }
        Ok(&self.stack[len - n..])
    }

    /// Pops `n` values, in push order.
    fn pop_n(&mut self, n: usize) -> WasmResult<Vec<Value>> {
        let len = self.stack.len();
        if n > len {
            return Err(internal(self.env.offset, "value stack underflow"));
        }
        Ok(self.stack.split_off(len - n))
    }

    fn unary(
        &mut self,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value) -> Value,
    ) -> WasmResult<()> {
        let x = self.pop()?;
        let v = f(&mut self.builder, x);
        self.stack.push(v);
        Ok(())
    }

    fn binary(
        &mut self,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value) -> Value,
    ) -> WasmResult<()> {
        let (x, y) = self.pop2()?;
        let v = f(&mut self.builder, x, y);
        self.stack.push(v);
        Ok(())
    }

    fn icmp(&mut self, cc: IntCC) -> WasmResult<()> {
        self.binary(|b, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(types::I32, c)
        })
    }

    fn fcmp(&mut self, cc: FloatCC) -> WasmResult<()> {
        self.binary(|b, x, y| {
            let c = b.ins().fcmp(cc, x, y);
            b.ins().uextend(types::I32, c)
        })
    }

    fn eqz(&mut self) -> WasmResult<()> {
        self.unary(|b, x| {
            let c = b.ins().icmp_imm_s(IntCC::Equal, x, 0);
            b.ins().uextend(types::I32, c)
        })
    }

    /// `extend{8,16,32}_s` within type `ty`.
    fn sign_extend_within(&mut self, ty: Type, from: Type) -> WasmResult<()> {
        self.unary(|b, x| {
            let narrow = b.ins().ireduce(from, x);
            b.ins().sextend(ty, narrow)
        })
    }

    fn zero(&mut self, ty: Type) -> Value {
        let ins = self.builder.ins();
        match ty {
            types::F32 => ins.f32const(Ieee32::with_bits(0)),
            types::F64 => ins.f64const(Ieee64::with_bits(0)),
            ty if ty.is_vector() => simd::zero(&mut self.builder, ty),
            _ => ins.iconst(ty, 0),
        }
    }

    fn block_with_params(&mut self, tys: &[Type]) -> ir::Block {
        let block = self.builder.create_block();
        for &ty in tys {
            self.builder.append_block_param(block, ty);
        }
        block
    }

    fn local(&self, index: u32) -> WasmResult<(Variable, Type)> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| internal(self.env.offset, "local index out of range"))
    }

    fn builtin(&mut self, b: BuiltinFunction, args: &[Value]) -> WasmResult<Value> {
        self.env
            .call_builtin(&mut self.builder, b, args)?
            .ok_or_else(|| internal(self.env.offset, "builtin without a result"))
    }

    fn builtin_void(&mut self, b: BuiltinFunction, args: &[Value]) -> WasmResult<()> {
        self.env.call_builtin(&mut self.builder, b, args)?;
        Ok(())
    }

    fn i32const(&mut self, v: u32) -> Value {
        self.builder.ins().iconst(types::I32, i64::from(v))
    }

    // ------------------------------------------------------------ prologue

    /// The stack-overflow check at function entry.
    fn stack_check(&mut self) -> WasmResult<()> {
        if self.env.tunables.signals_based_traps {
            // Cranelift's own prologue check, against a global value that loads
            // `vmctx.store_context.stack_limit`.
            let f = &mut self.builder.func;
            let vmctx = f.create_global_value(GlobalValueData::VMContext);
            let flags = f
                .dfg
                .mem_flags
                .insert(abi::readonly())
                .map_err(|_| internal(self.env.offset, "too many memory flags"))?;
            let store = f.create_global_value(GlobalValueData::Load {
                base: vmctx,
                offset: env::offset_imm(record::VMContextHeader::store_context).into(),
                global_type: POINTER,
                flags,
            });
            let trusted = f
                .dfg
                .mem_flags
                .insert(abi::trusted())
                .map_err(|_| internal(self.env.offset, "too many memory flags"))?;
            let limit = f.create_global_value(GlobalValueData::Load {
                base: store,
                offset: env::offset_imm(record::VMStoreContext::stack_limit).into(),
                global_type: POINTER,
                flags: trusted,
            });
            f.stack_limit = Some(limit);
        } else {
            let store = self.env.store_context(&mut self.builder);
            let limit = self.builder.ins().load(
                POINTER,
                abi::trusted(),
                store,
                env::offset_imm(record::VMStoreContext::stack_limit),
            );
            let sp = self.builder.ins().get_stack_pointer(POINTER);
            let over = self.builder.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
            self.env
                .trapnz(&mut self.builder, over, Trap::StackOverflow);
        }
        Ok(())
    }

    // ------------------------------------------------------------ control flow

    fn block_type(&self, bt: BlockType) -> WasmResult<(Vec<Type>, Vec<Type>)> {
        let offset = self.env.offset;
        let conv = |t: wasmparser::ValType| {
            abi::wasmparser_value_type(t).map_err(|m| unsupported(offset, m))
        };
        match bt {
            BlockType::Empty => Ok((vec![], vec![])),
            BlockType::Type(t) => Ok((vec![], vec![conv(t)?])),
            BlockType::FuncType(index) => {
                let ty = self
                    .env
                    .module
                    .types
                    .get(index as usize)
                    .ok_or_else(|| internal(offset, "block type index out of range"))?;
                let map = |ts: &[kiln_environ::WasmValType]| {
                    ts.iter()
                        .map(|&t| abi::value_type(t).map_err(|m| unsupported(offset, m)))
                        .collect::<WasmResult<Vec<_>>>()
                };
                Ok((map(&ty.params)?, map(&ty.results)?))
            }
        }
    }

    fn frame_mut(&mut self, depth: u32) -> WasmResult<&mut Frame> {
        let len = self.control.len();
        let i = len
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| internal(self.env.offset, "branch depth out of range"))?;
        Ok(&mut self.control[i])
    }

    fn push_frame(&mut self, kind: FrameKind, params: usize, results: &[Type]) -> WasmResult<()> {
        let next = self.block_with_params(results);
        self.push_frame_to(kind, params, next, results.len())
    }

    /// Pushes a frame whose `next` block (with one parameter per result) already exists.
    fn push_frame_to(
        &mut self,
        kind: FrameKind,
        params: usize,
        next: ir::Block,
        num_results: usize,
    ) -> WasmResult<()> {
        let base = self
            .stack
            .len()
            .checked_sub(params)
            .ok_or_else(|| internal(self.env.offset, "value stack underflow"))?;
        self.control.push(Frame {
            kind,
            next,
            num_params: params,
            num_results,
            base,
            next_reachable: false,
        });
        Ok(())
    }

    fn op_block(&mut self, bt: BlockType) -> WasmResult<()> {
        let (params, results) = self.block_type(bt)?;
        self.push_frame(FrameKind::Block, params.len(), &results)
    }

    fn op_loop(&mut self, bt: BlockType) -> WasmResult<()> {
        let (params, results) = self.block_type(bt)?;
        let header = self.block_with_params(&params);
        let args = block_args(self.top(params.len())?);
        self.builder.ins().jump(header, &args);
        self.builder.switch_to_block(header);
        let n = params.len();
        self.pop_n(n)?;
        let header_params = self.builder.block_params(header).to_vec();
        self.stack.extend(header_params);
        self.push_frame(FrameKind::Loop { header }, n, &results)?;
        self.on_loop_header()?;
        Ok(())
    }

    fn op_if(&mut self, bt: BlockType) -> WasmResult<()> {
        let cond = self.pop()?;
        let (params, results) = self.block_type(bt)?;
        let then_block = self.builder.create_block();
        let next = self.block_with_params(&results);
        // Without parameters or results the false edge can go straight to `next` until an
        // `else` shows up (see `FrameKind::If`).
        let else_block = if params.is_empty() && results.is_empty() {
            None
        } else {
            Some(self.builder.create_block())
        };
        let branch =
            self.builder
                .ins()
                .brif(cond, then_block, &[], else_block.unwrap_or(next), &[]);
        self.builder.switch_to_block(then_block);
        self.builder.seal_block(then_block);
        let saved = self.top(params.len())?.to_vec();
        self.push_frame_to(
            FrameKind::If {
                else_block,
                branch,
                else_seen: false,
                params: saved,
            },
            params.len(),
            next,
            results.len(),
        )
    }

    fn op_else(&mut self) -> WasmResult<()> {
        let offset = self.env.offset;
        let reachable = self.reachable;
        let top_results = {
            let frame = self
                .control
                .last()
                .ok_or_else(|| internal(offset, "else outside if"))?;
            if reachable {
                Some(block_args(self.top(frame.num_results)?))
            } else {
                None
            }
        };
        let frame = self
            .control
            .last_mut()
            .ok_or_else(|| internal(offset, "else outside if"))?;
        if let Some(args) = top_results {
            self.builder.ins().jump(frame.next, &args);
            frame.next_reachable = true;
        }
        let next = frame.next;
        let FrameKind::If {
            else_block,
            branch,
            else_seen,
            params,
        } = &mut frame.kind
        else {
            return Err(internal(offset, "else outside if"));
        };
        *else_seen = true;
        let else_block = match *else_block {
            Some(block) => block,
            None => {
                let block = self.builder.create_block();
                self.builder.change_jump_destination(*branch, next, block);
                *else_block = Some(block);
                block
            }
        };
        let params = params.clone();
        let base = frame.base;
        self.stack.truncate(base);
        self.stack.extend(params);
        self.builder.switch_to_block(else_block);
        self.builder.seal_block(else_block);
        self.reachable = true;
        Ok(())
    }

    fn op_end(&mut self) -> WasmResult<()> {
        let offset = self.env.offset;
        let mut frame = self
            .control
            .pop()
            .ok_or_else(|| internal(offset, "end outside a block"))?;
        if self.reachable {
            let args = block_args(self.top(frame.num_results)?);
            self.builder.ins().jump(frame.next, &args);
            frame.next_reachable = true;
        }
        match &frame.kind {
            FrameKind::If {
                else_block,
                else_seen: false,
                params,
                ..
            } => {
                // No `else`: the condition-false path passes the parameters through (the
                // validator checked that parameters and results agree).
                if let Some(else_block) = *else_block {
                    self.builder.switch_to_block(else_block);
                    self.builder.seal_block(else_block);
                    let args = block_args(params);
                    self.builder.ins().jump(frame.next, &args);
                }
                frame.next_reachable = true;
            }
            FrameKind::Loop { header } => self.builder.seal_block(*header),
            _ => {}
        }
        self.stack.truncate(frame.base);
        if frame.next_reachable {
            self.builder.switch_to_block(frame.next);
            self.builder.seal_block(frame.next);
            let results = self.builder.block_params(frame.next).to_vec();
            self.stack.extend(results);
            self.reachable = true;
            if self.control.is_empty() {
                // The end of the function body.
                let values = self.pop_n(frame.num_results)?;
                self.interrupts_before_return();
                self.builder.ins().return_(&values);
                self.reachable = false;
            }
        } else {
            self.reachable = false;
        }
        Ok(())
    }

    fn op_br(&mut self, depth: u32) -> WasmResult<()> {
        let (target, n) = self.frame_mut(depth)?.branch_target();
        let args = block_args(self.top(n)?);
        self.builder.ins().jump(target, &args);
        self.reachable = false;
        Ok(())
    }

    fn op_br_if(&mut self, depth: u32) -> WasmResult<()> {
        let cond = self.pop()?;
        let (target, n) = self.frame_mut(depth)?.branch_target();
        let args = block_args(self.top(n)?);
        let cont = self.builder.create_block();
        self.builder.ins().brif(cond, target, &args, cont, &[]);
        self.builder.switch_to_block(cont);
        self.builder.seal_block(cont);
        Ok(())
    }

    fn op_br_table(&mut self, table: &wasmparser::BrTable<'_>) -> WasmResult<()> {
        let index = self.pop()?;
        let mut depths = Vec::with_capacity(table.len() as usize);
        for d in table.targets() {
            depths.push(d?);
        }
        let default = table.default();
        let (_, arity) = self.frame_mut(default)?.branch_target();

        // Each distinct depth gets one Cranelift target. With values to pass, that target is
        // an edge block that jumps on with the (dominating) stack values.
        let mut edges: std::collections::HashMap<u32, ir::Block> = Default::default();
        let mut edge_order = Vec::new();
        let mut target_of = |t: &mut Self, depth: u32| -> WasmResult<ir::Block> {
            if let Some(&b) = edges.get(&depth) {
                return Ok(b);
            }
            let (target, _) = t.frame_mut(depth)?.branch_target();
            let block = if arity == 0 {
                target
            } else {
                let edge = t.builder.create_block();
                edge_order.push((edge, target));
                edge
            };
            edges.insert(depth, block);
            Ok(block)
        };
        let default_block = target_of(self, default)?;
        let mut calls = Vec::with_capacity(depths.len());
        for d in depths {
            let block = target_of(self, d)?;
            calls.push(self.builder.func.dfg.block_call(block, &[]));
        }
        let default_call = self.builder.func.dfg.block_call(default_block, &[]);
        let jt = self
            .builder
            .create_jump_table(JumpTableData::new(default_call, &calls));
        self.builder.ins().br_table(index, jt);

        if arity > 0 {
            let args = block_args(self.top(arity)?);
            for (edge, target) in edge_order {
                self.builder.switch_to_block(edge);
                self.builder.seal_block(edge);
                self.builder.ins().jump(target, &args);
            }
        }
        self.reachable = false;
        Ok(())
    }

    fn op_return(&mut self) -> WasmResult<()> {
        let n = self
            .control
            .first()
            .map(|f| f.num_results)
            .ok_or_else(|| internal(self.env.offset, "return outside the function"))?;
        let values = self.top(n)?.to_vec();
        self.interrupts_before_return();
        self.builder.ins().return_(&values);
        self.reachable = false;
        Ok(())
    }

    fn op_unreachable(&mut self) {
        self.env
            .trap(&mut self.builder, Trap::UnreachableCodeReached);
        self.reachable = false;
    }

    fn op_call(&mut self, func: u32) -> WasmResult<()> {
        let type_index = self
            .env
            .module
            .functions
            .get(func as usize)
            .copied()
            .ok_or_else(|| internal(self.env.offset, "function index out of range"))?;
        let n = self.param_count(type_index)?;
        let args = self.pop_n(n)?;
        let results = self.env.call(&mut self.builder, func, &args)?;
        self.stack.extend(results);
        Ok(())
    }

    fn op_call_indirect(&mut self, type_index: u32, table: u32) -> WasmResult<()> {
        let index = self.pop()?;
        let n = self.param_count(type_index)?;
        let args = self.pop_n(n)?;
        let results = self
            .env
            .call_indirect(&mut self.builder, type_index, table, index, &args)?;
        self.stack.extend(results);
        Ok(())
    }

    fn param_count(&self, type_index: u32) -> WasmResult<usize> {
        self.env
            .module
            .types
            .get(type_index as usize)
            .map(|t| t.params.len())
            .ok_or_else(|| internal(self.env.offset, "type index out of range"))
    }

    // ------------------------------------------------------------ dispatch

    /// Translates one (already validated) operator.
    fn operator(&mut self, op: &Operator<'_>) -> WasmResult<()> {
        if !self.reachable {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.unreachable_depth += 1;
                }
                Operator::Else if self.unreachable_depth == 0 => self.op_else()?,
                Operator::End if self.unreachable_depth == 0 => self.op_end()?,
                Operator::End => self.unreachable_depth -= 1,
                _ => {}
            }
            return Ok(());
        }
        self.reachable_operator(op)
    }

    fn reachable_operator(&mut self, op: &Operator<'_>) -> WasmResult<()> {
        use Operator as O;
        match *op {
            // Control.
            O::Unreachable => self.op_unreachable(),
            O::Nop => {}
            O::Block { blockty } => self.op_block(blockty)?,
            O::Loop { blockty } => self.op_loop(blockty)?,
            O::If { blockty } => self.op_if(blockty)?,
            O::Else => self.op_else()?,
            O::End => self.op_end()?,
            O::Br { relative_depth } => self.op_br(relative_depth)?,
            O::BrIf { relative_depth } => self.op_br_if(relative_depth)?,
            O::BrTable { ref targets } => self.op_br_table(targets)?,
            O::Return => self.op_return()?,
            O::Call { function_index } => self.op_call(function_index)?,
            O::CallIndirect {
                type_index,
                table_index,
            } => self.op_call_indirect(type_index, table_index)?,
            O::Drop => {
                self.pop()?;
            }
            O::Select | O::TypedSelect { .. } => {
                let (x, y, c) = self.pop3()?;
                let v = self.builder.ins().select(c, x, y);
                self.stack.push(v);
            }
            O::TypedSelectMulti { .. } => {
                return Err(unsupported(
                    self.env.offset,
                    "unsupported: multi-value select",
                ));
            }

            // Variables.
            O::LocalGet { local_index } => {
                let (var, _) = self.local(local_index)?;
                let v = self.builder.use_var(var);
                self.stack.push(v);
            }
            O::LocalSet { local_index } => {
                let (var, _) = self.local(local_index)?;
                let v = self.pop()?;
                self.builder.def_var(var, v);
            }
            O::LocalTee { local_index } => {
                let (var, _) = self.local(local_index)?;
                let v = self.peek()?;
                self.builder.def_var(var, v);
            }
            O::GlobalGet { global_index } => {
                let v = self.env.global_get(&mut self.builder, global_index)?;
                self.stack.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop()?;
                self.env.global_set(&mut self.builder, global_index, v)?;
            }

            // Memory.
            O::I32Load { memarg } => self.load(&memarg, types::I32, 4, Extend::None)?,
            O::I64Load { memarg } => self.load(&memarg, types::I64, 8, Extend::None)?,
            O::F32Load { memarg } => self.load(&memarg, types::F32, 4, Extend::None)?,
            O::F64Load { memarg } => self.load(&memarg, types::F64, 8, Extend::None)?,
            O::I32Load8S { memarg } => self.load(&memarg, types::I32, 1, Extend::Signed)?,
            O::I32Load8U { memarg } => self.load(&memarg, types::I32, 1, Extend::Unsigned)?,
            O::I32Load16S { memarg } => self.load(&memarg, types::I32, 2, Extend::Signed)?,
            O::I32Load16U { memarg } => self.load(&memarg, types::I32, 2, Extend::Unsigned)?,
            O::I64Load8S { memarg } => self.load(&memarg, types::I64, 1, Extend::Signed)?,
            O::I64Load8U { memarg } => self.load(&memarg, types::I64, 1, Extend::Unsigned)?,
            O::I64Load16S { memarg } => self.load(&memarg, types::I64, 2, Extend::Signed)?,
            O::I64Load16U { memarg } => self.load(&memarg, types::I64, 2, Extend::Unsigned)?,
            O::I64Load32S { memarg } => self.load(&memarg, types::I64, 4, Extend::Signed)?,
            O::I64Load32U { memarg } => self.load(&memarg, types::I64, 4, Extend::Unsigned)?,
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(&memarg, 4)?,
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(&memarg, 8)?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(&memarg, 1)?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(&memarg, 2)?,
            O::I64Store32 { memarg } => self.store(&memarg, 4)?,
            O::MemorySize { mem } => self.memory_size(mem)?,
            O::MemoryGrow { mem } => self.memory_grow(mem)?,
            O::MemoryCopy { dst_mem, src_mem } => {
                let (dst, src, len) = self.pop3()?;
                let (d, s) = (self.i32const(dst_mem), self.i32const(src_mem));
                self.builtin_void(BuiltinFunction::memory_copy, &[d, dst, s, src, len])?;
            }
            O::MemoryFill { mem } => {
                let (dst, val, len) = self.pop3()?;
                let m = self.i32const(mem);
                self.builtin_void(BuiltinFunction::memory_fill, &[m, dst, val, len])?;
            }
            O::MemoryInit { data_index, mem } => {
                let (dst, src, len) = self.pop3()?;
                let (m, d) = (self.i32const(mem), self.i32const(data_index));
                self.builtin_void(BuiltinFunction::memory_init, &[m, d, dst, src, len])?;
            }
            O::DataDrop { data_index } => {
                let d = self.i32const(data_index);
                self.builtin_void(BuiltinFunction::data_drop, &[d])?;
            }

            // Tables and references.
            O::TableGet { table } => {
                let index = self.pop()?;
                let v = self.env.table_get(&mut self.builder, table, index)?;
                self.stack.push(v);
            }
            O::TableSet { table } => {
                let (index, val) = self.pop2()?;
                self.env.table_set(&mut self.builder, table, index, val)?;
            }
            O::TableSize { table } => {
                let v = self.env.table_size(&mut self.builder, table)?;
                self.stack.push(v);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2()?;
                let t = self.i32const(table);
                let old = self.builtin(BuiltinFunction::table_grow, &[t, delta, init])?;
                let v = self.builder.ins().ireduce(types::I32, old);
                self.stack.push(v);
            }
            O::TableFill { table } => {
                let (dst, val, len) = self.pop3()?;
                let t = self.i32const(table);
                self.builtin_void(BuiltinFunction::table_fill, &[t, dst, val, len])?;
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let (dst, src, len) = self.pop3()?;
                let (d, s) = (self.i32const(dst_table), self.i32const(src_table));
                self.builtin_void(BuiltinFunction::table_copy, &[d, s, dst, src, len])?;
            }
            O::TableInit { elem_index, table } => {
                let (dst, src, len) = self.pop3()?;
                let (t, e) = (self.i32const(table), self.i32const(elem_index));
                self.builtin_void(BuiltinFunction::table_init, &[t, e, dst, src, len])?;
            }
            O::ElemDrop { elem_index } => {
                let e = self.i32const(elem_index);
                self.builtin_void(BuiltinFunction::elem_drop, &[e])?;
            }
            O::RefNull { .. } => {
                let v = self.builder.ins().iconst(POINTER, 0);
                self.stack.push(v);
            }
            O::RefIsNull => self.eqz()?,
            O::RefFunc { function_index } => {
                let v = self.env.ref_func(&mut self.builder, function_index)?;
                self.stack.push(v);
            }

            // Constants.
            O::I32Const { value } => {
                let v = self.builder.ins().iconst(types::I32, i64::from(value));
                self.stack.push(v);
            }
            O::I64Const { value } => {
                let v = self.builder.ins().iconst(types::I64, value);
                self.stack.push(v);
            }
            O::F32Const { value } => {
                let v = self.builder.ins().f32const(Ieee32::with_bits(value.bits()));
                self.stack.push(v);
            }
            O::F64Const { value } => {
                let v = self.builder.ins().f64const(Ieee64::with_bits(value.bits()));
                self.stack.push(v);
            }

            // Integer comparisons.
            O::I32Eqz | O::I64Eqz => self.eqz()?,
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal)?,
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual)?,
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan)?,
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan)?,
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan)?,
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan)?,
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual)?,
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual)?,
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual)?,
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual)?,

            // Float comparisons.
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal)?,
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual)?,
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan)?,
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan)?,
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual)?,
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual)?,

            // Integer arithmetic.
            O::I32Clz | O::I64Clz => self.unary(|b, x| b.ins().clz(x))?,
            O::I32Ctz | O::I64Ctz => self.unary(|b, x| b.ins().ctz(x))?,
            O::I32Popcnt | O::I64Popcnt => self.unary(|b, x| b.ins().popcnt(x))?,
            O::I32Add | O::I64Add => self.binary(|b, x, y| b.ins().iadd(x, y))?,
            O::I32Sub | O::I64Sub => self.binary(|b, x, y| b.ins().isub(x, y))?,
            O::I32Mul | O::I64Mul => self.binary(|b, x, y| b.ins().imul(x, y))?,
            O::I32DivS | O::I64DivS => self.divide(DivOp::DivS)?,
            O::I32DivU | O::I64DivU => self.divide(DivOp::DivU)?,
            O::I32RemS | O::I64RemS => self.divide(DivOp::RemS)?,
            O::I32RemU | O::I64RemU => self.divide(DivOp::RemU)?,
            O::I32And | O::I64And => self.binary(|b, x, y| b.ins().band(x, y))?,
            O::I32Or | O::I64Or => self.binary(|b, x, y| b.ins().bor(x, y))?,
            O::I32Xor | O::I64Xor => self.binary(|b, x, y| b.ins().bxor(x, y))?,
            // CLIF shifts and rotates take the amount modulo the bit width, as wasm does.
            O::I32Shl | O::I64Shl => self.binary(|b, x, y| b.ins().ishl(x, y))?,
            O::I32ShrS | O::I64ShrS => self.binary(|b, x, y| b.ins().sshr(x, y))?,
            O::I32ShrU | O::I64ShrU => self.binary(|b, x, y| b.ins().ushr(x, y))?,
            O::I32Rotl | O::I64Rotl => self.binary(|b, x, y| b.ins().rotl(x, y))?,
            O::I32Rotr | O::I64Rotr => self.binary(|b, x, y| b.ins().rotr(x, y))?,

            // Float arithmetic. Cranelift's fmin/fmax/nearest have wasm semantics; abs, neg
            // and copysign are bit operations.
            O::F32Abs | O::F64Abs => self.unary(|b, x| b.ins().fabs(x))?,
            O::F32Neg | O::F64Neg => self.unary(|b, x| b.ins().fneg(x))?,
            O::F32Ceil | O::F64Ceil => self.unary(|b, x| b.ins().ceil(x))?,
            O::F32Floor | O::F64Floor => self.unary(|b, x| b.ins().floor(x))?,
            O::F32Trunc | O::F64Trunc => self.unary(|b, x| b.ins().trunc(x))?,
            O::F32Nearest | O::F64Nearest => self.unary(|b, x| b.ins().nearest(x))?,
            O::F32Sqrt | O::F64Sqrt => self.unary(|b, x| b.ins().sqrt(x))?,
            O::F32Add | O::F64Add => self.binary(|b, x, y| b.ins().fadd(x, y))?,
            O::F32Sub | O::F64Sub => self.binary(|b, x, y| b.ins().fsub(x, y))?,
            O::F32Mul | O::F64Mul => self.binary(|b, x, y| b.ins().fmul(x, y))?,
            O::F32Div | O::F64Div => self.binary(|b, x, y| b.ins().fdiv(x, y))?,
            O::F32Min | O::F64Min => self.binary(|b, x, y| b.ins().fmin(x, y))?,
            O::F32Max | O::F64Max => self.binary(|b, x, y| b.ins().fmax(x, y))?,
            O::F32Copysign | O::F64Copysign => self.binary(|b, x, y| b.ins().fcopysign(x, y))?,

            // Conversions.
            O::I32WrapI64 => self.unary(|b, x| b.ins().ireduce(types::I32, x))?,
            O::I64ExtendI32S => self.unary(|b, x| b.ins().sextend(types::I64, x))?,
            O::I64ExtendI32U => self.unary(|b, x| b.ins().uextend(types::I64, x))?,
            O::I32TruncF32S | O::I32TruncF64S => self.float_to_int(types::I32, true)?,
            O::I32TruncF32U | O::I32TruncF64U => self.float_to_int(types::I32, false)?,
            O::I64TruncF32S | O::I64TruncF64S => self.float_to_int(types::I64, true)?,
            O::I64TruncF32U | O::I64TruncF64U => self.float_to_int(types::I64, false)?,
            O::I32TruncSatF32S | O::I32TruncSatF64S => {
                self.unary(|b, x| b.ins().fcvt_to_sint_sat(types::I32, x))?
            }
            O::I32TruncSatF32U | O::I32TruncSatF64U => {
                self.unary(|b, x| b.ins().fcvt_to_uint_sat(types::I32, x))?
            }
            O::I64TruncSatF32S | O::I64TruncSatF64S => {
                self.unary(|b, x| b.ins().fcvt_to_sint_sat(types::I64, x))?
            }
            O::I64TruncSatF32U | O::I64TruncSatF64U => {
                self.unary(|b, x| b.ins().fcvt_to_uint_sat(types::I64, x))?
            }
            O::F32ConvertI32S | O::F32ConvertI64S => {
                self.unary(|b, x| b.ins().fcvt_from_sint(types::F32, x))?
            }
            O::F32ConvertI32U | O::F32ConvertI64U => {
                self.unary(|b, x| b.ins().fcvt_from_uint(types::F32, x))?
            }
            O::F64ConvertI32S | O::F64ConvertI64S => {
                self.unary(|b, x| b.ins().fcvt_from_sint(types::F64, x))?
            }
            O::F64ConvertI32U | O::F64ConvertI64U => {
                self.unary(|b, x| b.ins().fcvt_from_uint(types::F64, x))?
            }
            O::F32DemoteF64 => self.unary(|b, x| b.ins().fdemote(types::F32, x))?,
            O::F64PromoteF32 => self.unary(|b, x| b.ins().fpromote(types::F64, x))?,
            O::I32ReinterpretF32 => self.reinterpret(types::I32)?,
            O::I64ReinterpretF64 => self.reinterpret(types::I64)?,
            O::F32ReinterpretI32 => self.reinterpret(types::F32)?,
            O::F64ReinterpretI64 => self.reinterpret(types::F64)?,

            // Sign extension.
            O::I32Extend8S => self.sign_extend_within(types::I32, types::I8)?,
            O::I32Extend16S => self.sign_extend_within(types::I32, types::I16)?,
            O::I64Extend8S => self.sign_extend_within(types::I64, types::I8)?,
            O::I64Extend16S => self.sign_extend_within(types::I64, types::I16)?,
            O::I64Extend32S => self.sign_extend_within(types::I64, types::I32)?,

            // SIMD and relaxed SIMD: `simd.rs`.
            ref other if is_simd_operator(other) => self.simd_operator(other)?,
            ref other => {
                return Err(WasmError::new(
                    self.env.offset,
                    format!("unsupported: operator {other:?}"),
                ));
            }
        }
        Ok(())
    }

    fn reinterpret(&mut self, to: Type) -> WasmResult<()> {
        self.unary(|b, x| b.ins().bitcast(to, ir::MemFlagsData::new(), x))
    }
}

macro_rules! define_is_simd_operator {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        /// Whether `op` belongs to the SIMD proposals.
        fn is_simd_operator(op: &Operator<'_>) -> bool {
            #[allow(unreachable_patterns, reason = "the macro lists every SIMD operator")]
            match op {
                $(Operator::$op { .. } => true,)*
                _ => false,
            }
        }
    };
}
wasmparser::for_each_visit_simd_operator!(define_is_simd_operator);
