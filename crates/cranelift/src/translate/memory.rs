//! Linear-memory accesses: address computation and bounds checks.
//!
//! Two reviews required: this file decides which wasm loads and stores may touch host memory.
//!
//! For memory `m`, the base address is `vmctx.memory_bases[m]` (one read-only, hoistable load)
//! when [`Tunables::memory_may_move`] is false, since such a memory never moves; otherwise the
//! code loads `def = vmctx.memories[m]` (never changes), then `def.base`. When a check is
//! needed it loads `def.current_length`. An access of `size` bytes at `index + offset`:
//!
//! - needs no check when [`Tunables::can_elide_bounds_check`] says the guard region covers
//!   every possible address; the load/store then carries `HEAP_OUT_OF_BOUNDS`, and a fault
//!   becomes `MemoryOutOfBounds` through the trap table;
//! - otherwise traps with `MemoryOutOfBounds` unless `index + offset + size <= current_length`,
//!   computed in 64 bits (for a 32-bit memory this cannot overflow: `index < 2^32`,
//!   `offset < 2^32`; for a 64-bit memory the addition's carry also traps). When
//!   `offset + size` alone exceeds the largest possible memory the access is an unconditional
//!   trap.
//!
//! The address is then `base + index + offset`; after an explicit check, and with the heap
//! Spectre guard on (`FuncEnv::spectre`), it is replaced by null when the check failed, with
//! `select_spectre_guard`, so a mispredicted check cannot read out of bounds even
//! speculatively. Every scalar and SIMD access (including
//! `v128.load*_lane`, `*_splat` and `*_zero`) goes through [`FuncTranslator::memory_address`].

use super::FuncTranslator;
use super::env::offset_imm;
use crate::abi::{self, POINTER};
use cranelift_codegen::ir::{
    InstBuilder, MemFlagsData, TrapCode, Type, Value, condcodes::IntCC, types,
};
use kiln_environ::vmoffsets::record;
use kiln_environ::{BuiltinFunction, MemoryType, Trap, WasmResult};
use wasmparser::MemArg;

/// How a load widens its value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extend {
    /// A full-width load.
    None,
    /// Sign-extend the loaded bytes.
    Signed,
    /// Zero-extend the loaded bytes.
    Unsigned,
}

impl FuncTranslator<'_, '_> {
    fn memory_type(&self, memory: u32) -> WasmResult<MemoryType> {
        if memory >= self.env.offsets.num_memories {
            return Err(super::internal(
                self.env.offset,
                "memory index out of range",
            ));
        }
        self.env
            .module
            .memories
            .get(memory as usize)
            .copied()
            .ok_or_else(|| super::internal(self.env.offset, "memory index out of range"))
    }

    /// The `*mut VMMemoryDefinition` of `memory`.
    fn memory_def(&mut self, memory: u32) -> Value {
        let off = self.env.offsets.vmctx_memory(memory);
        self.env
            .load_readonly(&mut self.builder, self.env.vmctx, off)
    }

    fn memory_len(&mut self, def: Value) -> Value {
        self.builder.ins().load(
            POINTER,
            abi::trusted(),
            def,
            offset_imm(record::VMMemoryDefinition::current_length),
        )
    }

    /// Pops the index operand and returns the checked host address of an access of `size`
    /// bytes, with the flags the access must carry.
    pub(super) fn memory_address(
        &mut self,
        memarg: &MemArg,
        size: u8,
    ) -> WasmResult<(Value, MemFlagsData)> {
        let index = self.pop()?;
        let wasmparser::MemArgTarget::Memory(memory) = memarg.target else {
            return Err(super::unsupported(
                self.env.offset,
                "unsupported: GC array access",
            ));
        };
        let ty = self.memory_type(memory)?;
        let base = if self.env.tunables.memory_may_move(&ty) {
            // Reloaded through the definition, which growth updates.
            let def = self.memory_def(memory);
            self.builder.ins().load(
                POINTER,
                abi::trusted(),
                def,
                offset_imm(record::VMMemoryDefinition::base),
            )
        } else {
            // Never changes: the copy in the vmctx, one read-only load that can be hoisted.
            let off = self.env.offsets.vmctx_memory_base(memory);
            self.env
                .load_readonly(&mut self.builder, self.env.vmctx, off)
        };
        let index = if ty.memory64 {
            index
        } else {
            self.builder.ins().uextend(types::I64, index)
        };
        let offset = memarg.offset;
        let size = u64::from(size);
        let flags = MemFlagsData::new().with_trap_code(Some(TrapCode::HEAP_OUT_OF_BOUNDS));

        // The condition of an explicit check, for the Spectre guard.
        let mut checked = None;
        if !self
            .env
            .tunables
            .can_elide_bounds_check(ty.memory64, offset, size)
        {
            let def = self.memory_def(memory);
            let len = self.memory_len(def);
            // The largest possible memory: 2^32 bytes for a 32-bit memory.
            let max_len = if ty.memory64 {
                i64::MAX as u64
            } else {
                1 << 32
            };
            match offset.checked_add(size) {
                Some(end) if end <= max_len => {
                    let end_const = self.builder.ins().iconst(types::I64, end as i64);
                    let oob = if ty.memory64 {
                        let (sum, carry) = self.builder.ins().uadd_overflow(index, end_const);
                        let past = self
                            .builder
                            .ins()
                            .icmp(IntCC::UnsignedGreaterThan, sum, len);
                        self.builder.ins().bor(past, carry)
                    } else {
                        // index < 2^32 and end < 2^33, so the sum fits in 64 bits.
                        let sum = self.builder.ins().iadd(index, end_const);
                        self.builder
                            .ins()
                            .icmp(IntCC::UnsignedGreaterThan, sum, len)
                    };
                    self.env
                        .trapnz(&mut self.builder, oob, Trap::MemoryOutOfBounds);
                    checked = Some(oob);
                }
                _ => {
                    // offset + size exceeds any possible memory (e.g. `offset=0xffffffff` on
                    // a 32-bit memory): always out of bounds. Trap, then keep translating in a
                    // block nothing reaches.
                    self.env.trap(&mut self.builder, Trap::MemoryOutOfBounds);
                    let dead = self.builder.create_block();
                    self.builder.switch_to_block(dead);
                    self.builder.seal_block(dead);
                }
            }
        }

        let addr = self.builder.ins().iadd(base, index);
        let addr = if offset == 0 {
            addr
        } else {
            // `offset` fits in i64 here: either it was checked above, or (elided checks) it is
            // within reservation + guard.
            self.builder.ins().iadd_imm_u(addr, offset as i64)
        };
        let addr = match checked {
            Some(oob) if self.env.spectre.heap => {
                let null = self.builder.ins().iconst(POINTER, 0);
                self.builder.ins().select_spectre_guard(oob, null, addr)
            }
            _ => addr,
        };
        Ok((addr, flags))
    }

    /// A load of `size` bytes producing a value of type `ty`.
    pub(super) fn load(
        &mut self,
        memarg: &MemArg,
        ty: Type,
        size: u8,
        ext: Extend,
    ) -> WasmResult<()> {
        let (addr, flags) = self.memory_address(memarg, size)?;
        let ins = self.builder.ins();
        let v = match (size, ext) {
            (1, Extend::Signed) => ins.sload8(ty, flags, addr, 0),
            (1, _) => ins.uload8(ty, flags, addr, 0),
            (2, Extend::Signed) => ins.sload16(ty, flags, addr, 0),
            (2, _) => ins.uload16(ty, flags, addr, 0),
            (4, Extend::Signed) if ty == types::I64 => ins.sload32(flags, addr, 0),
            (4, Extend::Unsigned) if ty == types::I64 => ins.uload32(flags, addr, 0),
            _ => ins.load(ty, flags, addr, 0),
        };
        self.stack.push(v);
        Ok(())
    }

    /// A store of the low `size` bytes of the popped value.
    pub(super) fn store(&mut self, memarg: &MemArg, size: u8) -> WasmResult<()> {
        let val = self.pop()?;
        let (addr, flags) = self.memory_address(memarg, size)?;
        let full = self.builder.func.dfg.value_type(val).bytes();
        let ins = self.builder.ins();
        match size {
            1 => ins.istore8(flags, val, addr, 0),
            2 => ins.istore16(flags, val, addr, 0),
            4 if full == 8 => ins.istore32(flags, val, addr, 0),
            _ => ins.store(flags, val, addr, 0),
        };
        Ok(())
    }

    /// `memory.size`.
    pub(super) fn memory_size(&mut self, memory: u32) -> WasmResult<()> {
        let ty = self.memory_type(memory)?;
        let def = self.memory_def(memory);
        let len = self.memory_len(def);
        let pages = self.builder.ins().ushr_imm_u(len, 16);
        let v = if ty.memory64 {
            pages
        } else {
            self.builder.ins().ireduce(types::I32, pages)
        };
        self.stack.push(v);
        Ok(())
    }

    /// `memory.grow`.
    pub(super) fn memory_grow(&mut self, memory: u32) -> WasmResult<()> {
        let ty = self.memory_type(memory)?;
        let delta = self.pop()?;
        let index = self.builder.ins().iconst(types::I32, i64::from(memory));
        let old = self.builtin(BuiltinFunction::memory_grow, &[index, delta])?;
        let v = if ty.memory64 {
            old
        } else {
            self.builder.ins().ireduce(types::I32, old)
        };
        self.stack.push(v);
        Ok(())
    }
}
