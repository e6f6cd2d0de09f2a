//! Linking: compiled functions concatenated into one position-independent text.
//!
//! Each function starts at the target's preferred function alignment (32 bytes on x86-64, so
//! loops sit where Cranelift laid them out relative to 32-byte fetch and branch boundaries;
//! at least 16). Calls between functions of the text
//! (colocated wasm calls, builtin trampolines, and the libcall stubs of `libcalls.rs`) are the
//! only relocations the translator produces; they are PC-relative and resolved in place, so
//! the text needs no loader. Any other relocation is an error: it would mean an absolute
//! address slipped into the code.
//!
//! Trap offsets and source locations are rebased from function-relative to text-relative.

use crate::abi;
use crate::libcalls;
use crate::traps;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::{ExternalName, Function};
use cranelift_codegen::{CompiledCode, FinalizedRelocTarget};
use kiln_environ::{FunctionLoc, Trap};
use std::collections::HashMap;

/// What a relocation points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Symbol {
    /// A name in one of the namespaces of `abi.rs`.
    Named { namespace: u32, index: u32 },
    /// An offset inside the function that holds the relocation.
    Local(u32),
}

/// A relocation inside one function.
#[derive(Clone, Debug)]
pub(crate) struct FuncReloc {
    offset: u32,
    kind: Reloc,
    target: Symbol,
    addend: i64,
}

/// The machine code of one function with its metadata, offsets relative to its start.
#[derive(Clone, Debug, Default)]
pub(crate) struct CompiledFunction {
    pub code: Vec<u8>,
    relocs: Vec<FuncReloc>,
    traps: Vec<(u32, Trap)>,
    srclocs: Vec<(u32, u32)>,
}

impl CompiledFunction {
    /// Collects what linking needs from Cranelift's output for `func`.
    pub fn new(func: &Function, compiled: &CompiledCode) -> Result<Self, String> {
        let buffer = &compiled.buffer;
        let mut relocs = Vec::new();
        for r in buffer.relocs() {
            let target = match &r.target {
                FinalizedRelocTarget::Func(offset) => Symbol::Local(*offset),
                FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                    let name = func
                        .params
                        .user_named_funcs()
                        .get(*name)
                        .ok_or("relocation against an undeclared name")?;
                    Symbol::Named {
                        namespace: name.namespace,
                        index: name.index,
                    }
                }
                FinalizedRelocTarget::ExternalName(ExternalName::LibCall(libcall)) => {
                    Symbol::Named {
                        namespace: abi::NAMESPACE_LIBCALL,
                        index: libcalls::index(*libcall)
                            .ok_or_else(|| format!("unsupported libcall {libcall}"))?,
                    }
                }
                FinalizedRelocTarget::ExternalName(other) => {
                    return Err(format!("unsupported relocation target {other:?}"));
                }
            };
            relocs.push(FuncReloc {
                offset: r.offset,
                kind: r.kind,
                target,
                addend: r.addend,
            });
        }
        let mut trap_list = Vec::new();
        for t in buffer.traps() {
            let trap = traps::from_cranelift(t.code)
                .ok_or_else(|| format!("unexpected trap code {}", t.code))?;
            trap_list.push((t.offset, trap));
        }
        let mut srclocs: Vec<(u32, u32)> = Vec::new();
        for s in buffer.get_srclocs_sorted() {
            if s.loc.is_default() || s.start == s.end {
                continue;
            }
            if srclocs.last().is_some_and(|&(_, loc)| loc == s.loc.bits()) {
                continue;
            }
            srclocs.push((s.start, s.loc.bits()));
        }
        Ok(CompiledFunction {
            code: buffer.data().to_vec(),
            relocs,
            traps: trap_list,
            srclocs,
        })
    }
}

impl CompiledFunction {
    /// The indices of the names in `namespace` this function's relocations refer to.
    pub fn named_targets(&self, namespace: u32) -> impl Iterator<Item = u32> + '_ {
        self.relocs.iter().filter_map(move |r| match r.target {
            Symbol::Named {
                namespace: n,
                index,
            } if n == namespace => Some(index),
            _ => None,
        })
    }
}

/// Builds one text out of many functions.
#[derive(Default)]
pub(crate) struct Linker {
    /// Alignment of each function's start; 16 when unset (0).
    alignment: usize,
    text: Vec<u8>,
    symbols: HashMap<(u32, u32), u32>,
    pending: Vec<(u32, FuncReloc)>,
    traps: Vec<(u32, Trap)>,
    address_map: Vec<(u32, u32)>,
}

/// What linking produces.
pub(crate) struct LinkedText {
    pub text: Vec<u8>,
    pub traps: Vec<(u32, Trap)>,
    pub address_map: Vec<(u32, u32)>,
}

impl Linker {
    /// A linker aligning functions to `alignment` bytes (a power of two; at least 16 is used).
    pub fn with_alignment(alignment: u32) -> Linker {
        Linker {
            alignment: (alignment as usize).max(16),
            ..Linker::default()
        }
    }

    /// Appends `f`; if `name` is given, relocations against it resolve to this copy.
    pub fn push(
        &mut self,
        f: &CompiledFunction,
        name: Option<(u32, u32)>,
    ) -> Result<FunctionLoc, String> {
        let padded = self.text.len().next_multiple_of(self.alignment.max(16));
        self.text.resize(padded, 0);
        let start = u32::try_from(padded).map_err(|_| "code section larger than 4 GiB")?;
        let length = u32::try_from(f.code.len()).map_err(|_| "function larger than 4 GiB")?;
        start
            .checked_add(length)
            .ok_or("code section larger than 4 GiB")?;
        self.text.extend_from_slice(&f.code);
        if let Some(name) = name {
            self.symbols.insert(name, start);
        }
        for r in &f.relocs {
            self.pending.push((start, r.clone()));
        }
        self.traps
            .extend(f.traps.iter().map(|&(off, trap)| (start + off, trap)));
        self.address_map
            .extend(f.srclocs.iter().map(|&(off, loc)| (start + off, loc)));
        Ok(FunctionLoc { start, length })
    }

    /// Resolves every relocation and returns the text with its tables.
    pub fn finish(mut self) -> Result<LinkedText, String> {
        for (start, r) in std::mem::take(&mut self.pending) {
            let target = match r.target {
                Symbol::Local(offset) => start + offset,
                Symbol::Named { namespace, index } => *self
                    .symbols
                    .get(&(namespace, index))
                    .ok_or_else(|| describe_missing(namespace, index))?,
            };
            let at = start + r.offset;
            match r.kind {
                Reloc::X86CallPCRel4 | Reloc::X86PCRel4 => {
                    let delta = i64::from(target) + r.addend - i64::from(at);
                    let delta =
                        i32::try_from(delta).map_err(|_| "call displacement out of range")?;
                    let at = at as usize;
                    let slot = self
                        .text
                        .get_mut(at..at + 4)
                        .ok_or("relocation outside the code")?;
                    slot.copy_from_slice(&delta.to_le_bytes());
                }
                other => return Err(format!("unsupported relocation kind {other:?}")),
            }
        }
        self.traps.sort_by_key(|&(off, _)| off);
        self.address_map.sort_by_key(|&(off, _)| off);
        Ok(LinkedText {
            text: self.text,
            traps: self.traps,
            address_map: self.address_map,
        })
    }
}

fn describe_missing(namespace: u32, index: u32) -> String {
    match namespace {
        abi::NAMESPACE_FUNC => format!("call to function {index}, which has no code"),
        abi::NAMESPACE_BUILTIN => format!("call to builtin {index}, which has no trampoline"),
        abi::NAMESPACE_LIBCALL => format!("call to libcall {index}, which has no stub"),
        _ => format!("relocation against unknown name {namespace}:{index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_to(namespace: u32, index: u32) -> CompiledFunction {
        // call rel32; ret
        CompiledFunction {
            code: vec![0xe8, 0, 0, 0, 0, 0xc3],
            relocs: vec![FuncReloc {
                offset: 1,
                kind: Reloc::X86CallPCRel4,
                target: Symbol::Named { namespace, index },
                addend: -4,
            }],
            traps: vec![(5, Trap::StackOverflow)],
            srclocs: vec![(0, 7)],
        }
    }

    #[test]
    fn resolves_calls_in_place() {
        let mut linker = Linker::default();
        let a = linker.push(&call_to(0, 1), Some((0, 0))).unwrap();
        let b = linker.push(&call_to(0, 0), Some((0, 1))).unwrap();
        assert_eq!((a.start, b.start), (0, 16));
        let linked = linker.finish().unwrap();
        let disp = |at: usize| i32::from_le_bytes(linked.text[at..at + 4].try_into().unwrap());
        // From the end of the call instruction (offset 5) to function b at 16.
        assert_eq!(disp(1), 16 - 5);
        assert_eq!(disp(17), -21);
        assert_eq!(
            linked.traps,
            vec![(5, Trap::StackOverflow), (21, Trap::StackOverflow)]
        );
        assert_eq!(linked.address_map, vec![(0, 7), (16, 7)]);
    }

    #[test]
    fn rejects_missing_symbols_and_absolute_relocations() {
        let mut linker = Linker::default();
        linker.push(&call_to(1, 3), None).unwrap();
        let err = linker.finish().err().unwrap();
        assert!(err.contains("builtin 3"), "{err}");

        let mut abs = call_to(0, 0);
        abs.relocs[0].kind = Reloc::Abs8;
        let mut linker = Linker::default();
        linker.push(&abs, Some((0, 0))).unwrap();
        let err = linker.finish().err().unwrap();
        assert!(err.contains("unsupported relocation"), "{err}");
    }
}
