//! Executable code: mapped read-write, filled, then switched to read-execute. Never both
//! writable and executable.
//!
//! Every published code region is registered in a process-wide map so the signal handler and
//! the backtrace walker can find the trap table and address map for a PC.

use super::sys;
use kiln_environ::{CompiledCode, Trap};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// What a PC inside a code region maps back to.
#[derive(Debug, Default)]
pub struct CodeMetadata {
    /// Module name for backtraces.
    pub module_name: Option<String>,
    /// Wasm function index of each defined function (parallel to `CompiledCode::functions`);
    /// empty for trampoline-only regions.
    pub func_indices: Vec<u32>,
    /// Name-section name of each defined function, if it has one.
    pub func_names: Vec<Option<String>>,
}

/// A published region of machine code.
#[derive(Debug)]
pub struct CodeMemory {
    mmap: sys::Mmap,
    code: CompiledCode,
    meta: CodeMetadata,
}

impl CodeMemory {
    /// Copies `code.text` into fresh pages and makes them read+execute.
    pub fn publish(code: CompiledCode, meta: CodeMetadata) -> anyhow::Result<Arc<CodeMemory>> {
        let len = code.text.len().max(1);
        let mut mmap = sys::Mmap::accessible(len)?;
        mmap.as_mut_slice()[..code.text.len()].copy_from_slice(&code.text);
        mmap.make_executable()?;
        let mem = Arc::new(CodeMemory { mmap, code, meta });
        register(&mem);
        Ok(mem)
    }

    /// Address of the first byte of the text.
    pub fn text_start(&self) -> usize {
        self.mmap.as_ptr() as usize
    }

    /// Text length in bytes.
    pub fn text_len(&self) -> usize {
        self.code.text.len()
    }

    /// The compiled code's tables.
    pub fn code(&self) -> &CompiledCode {
        &self.code
    }

    /// Backtrace metadata.
    pub fn meta(&self) -> &CodeMetadata {
        &self.meta
    }

    /// Address of a location in the text.
    pub fn addr(&self, offset: u32) -> usize {
        self.text_start() + offset as usize
    }

    /// The trap recorded for exactly this PC, if any.
    pub fn lookup_trap(&self, pc: usize) -> Option<Trap> {
        let off = u32::try_from(pc.checked_sub(self.text_start())?).ok()?;
        let traps = &self.code.traps;
        let i = traps.binary_search_by_key(&off, |(o, _)| *o).ok()?;
        Some(traps[i].1)
    }

    /// The defined function (index into `functions`) containing this PC.
    pub fn lookup_function(&self, pc: usize) -> Option<usize> {
        let off = u32::try_from(pc.checked_sub(self.text_start())?).ok()?;
        if self.meta.func_indices.is_empty() {
            return None;
        }
        let funcs = &self.code.functions;
        let i = match funcs.binary_search_by_key(&off, |f| f.start) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        let f = funcs[i];
        (off < f.start + f.length).then_some(i)
    }

    /// The wasm byte offset of the instruction at this PC.
    pub fn lookup_wasm_offset(&self, pc: usize) -> Option<u32> {
        let off = u32::try_from(pc.checked_sub(self.text_start())?).ok()?;
        let map = &self.code.address_map;
        let i = match map.binary_search_by_key(&off, |(o, _)| *o) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        Some(map[i].1)
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        unregister(self.text_start());
    }
}

type Registry = BTreeMap<usize, (usize, std::sync::Weak<CodeMemory>)>;

static GLOBAL_CODE: RwLock<Registry> = RwLock::new(BTreeMap::new());

fn register(mem: &Arc<CodeMemory>) {
    let start = mem.text_start();
    let end = start + mem.mmap.len();
    let mut map = GLOBAL_CODE.write().unwrap_or_else(|e| e.into_inner());
    map.insert(start, (end, Arc::downgrade(mem)));
}

fn unregister(start: usize) {
    let mut map = GLOBAL_CODE.write().unwrap_or_else(|e| e.into_inner());
    map.remove(&start);
}

/// Finds the code region containing `pc`. Used by the signal handler: it takes only a read
/// lock, which a thread running wasm never holds for writing.
pub fn lookup_code(pc: usize) -> Option<Arc<CodeMemory>> {
    let map = GLOBAL_CODE.read().ok()?;
    let (_, (end, mem)) = map.range(..=pc).next_back()?;
    if pc >= *end {
        return None;
    }
    mem.upgrade()
}
