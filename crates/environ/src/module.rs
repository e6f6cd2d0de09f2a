//! The module IR and the translation from bytes to it.
//!
//! [`translate_module`] validates every section with `wasmparser::Validator` and records what
//! the compiler and the runtime need in a [`ModuleInfo`]. Function bodies are not validated
//! here: each comes with its `FuncToValidate`, which the compiler runs while translating the
//! body (in parallel, one function per task).
//!
//! Index spaces follow the spec: imports first, then definitions. "Defined" indices count
//! from the first definition (`func_index - num_imported_funcs`).

use crate::types::{FuncType, GlobalType, MemoryType, RefType, TableType, WasmValType};
use crate::{WasmError, WasmResult};
use std::collections::HashMap;
use wasmparser::{
    FuncToValidate, FunctionBody, Operator, Parser, Payload, Validator, ValidatorResources,
    WasmFeatures,
};

/// The WebAssembly features Kiln validates against: Wasm 2.0 (MVP, mutable globals,
/// sign extension, non-trapping float-to-int, multi-value, bulk memory, reference types and
/// 128-bit SIMD), plus relaxed SIMD (part of Wasm 3.0).
pub fn wasm_features() -> WasmFeatures {
    WasmFeatures::WASM2 | WasmFeatures::RELAXED_SIMD
}

/// Something a module imports or exports, by index in its index space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityIndex {
    /// A function.
    Function(u32),
    /// A table.
    Table(u32),
    /// A memory.
    Memory(u32),
    /// A global.
    Global(u32),
}

/// An import.
#[derive(Debug, Clone)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What the import defines in this module's index spaces.
    pub index: EntityIndex,
}

/// An export.
#[derive(Debug, Clone)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub index: EntityIndex,
}

/// One operation of a constant expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConstOp {
    /// `i32.const`
    I32Const(i32),
    /// `i64.const`
    I64Const(i64),
    /// `f32.const` (bits)
    F32Const(u32),
    /// `f64.const` (bits)
    F64Const(u64),
    /// `v128.const`
    V128Const(u128),
    /// `ref.null`
    RefNull(RefType),
    /// `ref.func`
    RefFunc(u32),
    /// `global.get`
    GlobalGet(u32),
    /// `i32.add`
    I32Add,
    /// `i32.sub`
    I32Sub,
    /// `i32.mul`
    I32Mul,
    /// `i64.add`
    I64Add,
    /// `i64.sub`
    I64Sub,
    /// `i64.mul`
    I64Mul,
}

/// A validated constant expression, evaluated by the runtime at instantiation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstExpr {
    /// The operations, in order, without the final `end`.
    pub ops: Box<[ConstOp]>,
}

impl ConstExpr {
    fn parse(expr: &wasmparser::ConstExpr<'_>) -> WasmResult<Self> {
        let mut ops = Vec::new();
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let offset = reader.original_position();
            let op = reader.read()?;
            ops.push(match op {
                Operator::I32Const { value } => ConstOp::I32Const(value),
                Operator::I64Const { value } => ConstOp::I64Const(value),
                Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
                Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
                Operator::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
                Operator::RefNull { hty } => {
                    let ty = wasmparser::RefType::new(true, hty)
                        .and_then(RefType::from_wasmparser)
                        .ok_or_else(|| WasmError::new(offset, "unsupported reference type"))?;
                    ConstOp::RefNull(ty)
                }
                Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
                Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
                Operator::I32Add => ConstOp::I32Add,
                Operator::I32Sub => ConstOp::I32Sub,
                Operator::I32Mul => ConstOp::I32Mul,
                Operator::I64Add => ConstOp::I64Add,
                Operator::I64Sub => ConstOp::I64Sub,
                Operator::I64Mul => ConstOp::I64Mul,
                Operator::End => break,
                _ => {
                    return Err(WasmError::new(
                        offset,
                        "constant expression required: unsupported operator",
                    ));
                }
            });
        }
        Ok(ConstExpr { ops: ops.into() })
    }

    /// The functions this expression references with `ref.func`.
    fn referenced_funcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.ops.iter().filter_map(|op| match op {
            ConstOp::RefFunc(f) => Some(*f),
            _ => None,
        })
    }
}

/// Where an element segment goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ElemKind {
    /// Used by `table.init` only.
    Passive,
    /// Copied into a table at instantiation, then dropped.
    Active {
        /// The table.
        table: u32,
        /// Offset of the first element.
        offset: ConstExpr,
    },
    /// Only declares function references; dropped at instantiation.
    Declared,
}

/// The items of an element segment.
#[derive(Debug, Clone, PartialEq)]
pub enum ElemItems {
    /// Function indices (each a non-null funcref).
    Functions(Box<[u32]>),
    /// Constant expressions producing references.
    Exprs(Box<[ConstExpr]>),
}

impl ElemItems {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ElemItems::Functions(f) => f.len(),
            ElemItems::Exprs(e) => e.len(),
        }
    }

    /// Whether the segment is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element segment.
#[derive(Debug, Clone, PartialEq)]
pub struct ElemSegment {
    /// Kind.
    pub kind: ElemKind,
    /// Reference type of the items.
    pub ty: RefType,
    /// Items.
    pub items: ElemItems,
}

/// Where a data segment goes.
#[derive(Debug, Clone, PartialEq)]
pub enum DataKind {
    /// Used by `memory.init` only.
    Passive,
    /// Copied into a memory at instantiation, then dropped.
    Active {
        /// The memory.
        memory: u32,
        /// Offset of the first byte.
        offset: ConstExpr,
    },
}

/// A data segment.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSegment {
    /// Kind.
    pub kind: DataKind,
    /// The bytes.
    pub data: Box<[u8]>,
}

/// Everything about a module except its function bodies.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// The type section (index = type index).
    pub types: Vec<FuncType>,
    /// The type index of every function, imported ones first.
    pub functions: Vec<u32>,
    /// How many of `functions` are imports.
    pub num_imported_funcs: u32,
    /// Every table's type, imported ones first.
    pub tables: Vec<TableType>,
    /// Initialiser of each defined table (index = defined table index); `None` means null.
    pub table_inits: Vec<Option<ConstExpr>>,
    /// How many of `tables` are imports.
    pub num_imported_tables: u32,
    /// Every memory's type, imported ones first.
    pub memories: Vec<MemoryType>,
    /// How many of `memories` are imports.
    pub num_imported_memories: u32,
    /// Every global's type, imported ones first.
    pub globals: Vec<GlobalType>,
    /// Initialiser of each defined global (index = defined global index).
    pub global_inits: Vec<ConstExpr>,
    /// How many of `globals` are imports.
    pub num_imported_globals: u32,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Exports, in order.
    pub exports: Vec<Export>,
    /// The start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<ElemSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// The module's name from the name section.
    pub name: Option<String>,
    /// Function names from the name section.
    pub func_names: HashMap<u32, String>,
    /// Functions whose reference can leave the module (exports, element segments, `ref.func`
    /// in constant expressions, the start function), in first-seen order; their `VMFuncRef`s live in the vmctx.
    /// Imported functions are never listed: their `VMFuncRef` is the import record itself.
    pub escaped_funcs: Vec<u32>,
    /// For every defined function that escapes, its slot in `escaped_funcs`.
    pub escape_slot: HashMap<u32, u32>,
}

impl ModuleInfo {
    /// The signature of function `index`.
    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.functions[index as usize] as usize]
    }

    /// Whether function `index` is imported.
    pub fn is_imported_func(&self, index: u32) -> bool {
        index < self.num_imported_funcs
    }

    /// Number of defined functions.
    pub fn num_defined_funcs(&self) -> u32 {
        self.functions.len() as u32 - self.num_imported_funcs
    }

    /// Whether global `index` is imported.
    pub fn is_imported_global(&self, index: u32) -> bool {
        index < self.num_imported_globals
    }

    /// Whether table `index` is imported.
    pub fn is_imported_table(&self, index: u32) -> bool {
        index < self.num_imported_tables
    }

    /// Whether memory `index` is imported.
    pub fn is_imported_memory(&self, index: u32) -> bool {
        index < self.num_imported_memories
    }

    /// A printable name for function `index`: its name-section name, or `<wasm function N>`.
    pub fn func_display_name(&self, index: u32) -> String {
        match self.func_names.get(&index) {
            Some(n) => n.clone(),
            None => format!("<wasm function {index}>"),
        }
    }

    fn escape(&mut self, func: u32) {
        if func < self.num_imported_funcs || self.escape_slot.contains_key(&func) {
            return;
        }
        self.escape_slot
            .insert(func, self.escaped_funcs.len() as u32);
        self.escaped_funcs.push(func);
    }
}

/// One function body waiting to be compiled.
pub struct FunctionBodyInput<'data> {
    /// The body's bytes (locals and operators).
    pub body: FunctionBody<'data>,
    /// The validator to run over the body while translating it.
    pub validator: FuncToValidate<ValidatorResources>,
}

/// The result of [`translate_module`].
pub struct ModuleTranslation<'data> {
    /// The module description.
    pub module: ModuleInfo,
    /// Bodies of the defined functions, in order.
    pub function_bodies: Vec<FunctionBodyInput<'data>>,
    /// The whole module binary.
    pub wasm: &'data [u8],
}

fn unsupported(offset: u64, what: &str) -> WasmError {
    WasmError::new(offset, format!("unsupported: {what}"))
}

fn val_type(ty: wasmparser::ValType, offset: u64) -> WasmResult<WasmValType> {
    WasmValType::from_wasmparser(ty).ok_or_else(|| unsupported(offset, "value type"))
}

fn func_type(ty: &wasmparser::FuncType, offset: u64) -> WasmResult<FuncType> {
    let params = ty
        .params()
        .iter()
        .map(|t| val_type(*t, offset))
        .collect::<WasmResult<Box<[_]>>>()?;
    let results = ty
        .results()
        .iter()
        .map(|t| val_type(*t, offset))
        .collect::<WasmResult<Box<[_]>>>()?;
    Ok(FuncType { params, results })
}

fn table_type(ty: &wasmparser::TableType, offset: u64) -> WasmResult<TableType> {
    if ty.table64 || ty.shared {
        return Err(unsupported(offset, "64-bit or shared table"));
    }
    Ok(TableType {
        element: RefType::from_wasmparser(ty.element_type)
            .ok_or_else(|| unsupported(offset, "table element type"))?,
        minimum: ty.initial,
        maximum: ty.maximum,
    })
}

fn memory_type(ty: &wasmparser::MemoryType, offset: u64) -> WasmResult<MemoryType> {
    if ty.page_size_log2.is_some_and(|p| p != 16) {
        return Err(unsupported(offset, "custom page sizes"));
    }
    Ok(MemoryType {
        minimum: ty.initial,
        maximum: ty.maximum,
        memory64: ty.memory64,
        shared: ty.shared,
    })
}

fn global_type(ty: &wasmparser::GlobalType, offset: u64) -> WasmResult<GlobalType> {
    if ty.shared {
        return Err(unsupported(offset, "shared global"));
    }
    Ok(GlobalType {
        content: val_type(ty.content_type, offset)?,
        mutable: ty.mutable,
    })
}

/// Validates `wasm` (all sections except function bodies, which come back unvalidated with
/// their validators) and translates it into a [`ModuleTranslation`].
pub fn translate_module(wasm: &[u8], features: WasmFeatures) -> WasmResult<ModuleTranslation<'_>> {
    let mut validator = Validator::new_with_features(features);
    let mut module = ModuleInfo::default();
    let mut function_bodies = Vec::new();

    // The binary reader's own feature set decides encodings (for example whether a memory
    // index may be a multi-byte LEB); it must match the validator's, not default to "all".
    let mut parser = Parser::new(0);
    parser.set_features(features);
    for payload in parser.parse_all(wasm) {
        let payload = payload?;
        let valid = validator.payload(&payload)?;
        match payload {
            Payload::Version {
                encoding, range, ..
            } if encoding != wasmparser::Encoding::Module => {
                return Err(unsupported(range.start, "components"));
            }
            Payload::TypeSection(reader) => {
                let offset = reader.range().start;
                for ty in reader.into_iter_err_on_gc_types() {
                    module.types.push(func_type(&ty?, offset)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports_with_offsets() {
                    let (offset, import) = import?;

                    let index = match import.ty {
                        wasmparser::TypeRef::Func(ty) | wasmparser::TypeRef::FuncExact(ty) => {
                            module.functions.push(ty);
                            module.num_imported_funcs += 1;
                            EntityIndex::Function(module.functions.len() as u32 - 1)
                        }
                        wasmparser::TypeRef::Table(ty) => {
                            module.tables.push(table_type(&ty, offset)?);
                            module.num_imported_tables += 1;
                            EntityIndex::Table(module.tables.len() as u32 - 1)
                        }
                        wasmparser::TypeRef::Memory(ty) => {
                            module.memories.push(memory_type(&ty, offset)?);
                            module.num_imported_memories += 1;
                            EntityIndex::Memory(module.memories.len() as u32 - 1)
                        }
                        wasmparser::TypeRef::Global(ty) => {
                            module.globals.push(global_type(&ty, offset)?);
                            module.num_imported_globals += 1;
                            EntityIndex::Global(module.globals.len() as u32 - 1)
                        }
                        wasmparser::TypeRef::Tag(_) => return Err(unsupported(offset, "tags")),
                    };
                    module.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        index,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    module.functions.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                let offset = reader.range().start;
                for table in reader {
                    let table = table?;
                    module.tables.push(table_type(&table.ty, offset)?);
                    module.table_inits.push(match table.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(e) => Some(ConstExpr::parse(&e)?),
                    });
                }
            }
            Payload::MemorySection(reader) => {
                let offset = reader.range().start;
                for memory in reader {
                    module.memories.push(memory_type(&memory?, offset)?);
                }
            }
            Payload::TagSection(reader) => return Err(unsupported(reader.range().start, "tags")),
            Payload::GlobalSection(reader) => {
                let offset = reader.range().start;
                for global in reader {
                    let global = global?;
                    module.globals.push(global_type(&global.ty, offset)?);
                    let init = ConstExpr::parse(&global.init_expr)?;
                    for f in init.referenced_funcs().collect::<Vec<_>>() {
                        module.escape(f);
                    }
                    module.global_inits.push(init);
                }
            }
            Payload::ExportSection(reader) => {
                let offset = reader.range().start;
                for export in reader {
                    let export = export?;
                    let index = match export.kind {
                        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                            module.escape(export.index);
                            EntityIndex::Function(export.index)
                        }
                        wasmparser::ExternalKind::Table => EntityIndex::Table(export.index),
                        wasmparser::ExternalKind::Memory => EntityIndex::Memory(export.index),
                        wasmparser::ExternalKind::Global => EntityIndex::Global(export.index),
                        wasmparser::ExternalKind::Tag => return Err(unsupported(offset, "tags")),
                    };
                    module.exports.push(Export {
                        name: export.name.to_string(),
                        index,
                    });
                }
            }
            Payload::StartSection { func, .. } => {
                // The runtime calls the start function through its array-call trampoline.
                module.escape(func);
                module.start = Some(func);
            }
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let elem = elem?;
                    let offset = elem.range.start;
                    let kind = match elem.kind {
                        wasmparser::ElementKind::Passive => ElemKind::Passive,
                        wasmparser::ElementKind::Declared => ElemKind::Declared,
                        wasmparser::ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => ElemKind::Active {
                            table: table_index.unwrap_or(0),
                            offset: ConstExpr::parse(&offset_expr)?,
                        },
                    };
                    let (ty, items) = match elem.items {
                        wasmparser::ElementItems::Functions(funcs) => {
                            let funcs = funcs.into_iter().collect::<Result<Box<[u32]>, _>>()?;
                            for f in funcs.iter() {
                                module.escape(*f);
                            }
                            (RefType::Func, ElemItems::Functions(funcs))
                        }
                        wasmparser::ElementItems::Expressions(ty, exprs) => {
                            let ty = RefType::from_wasmparser(ty)
                                .ok_or_else(|| unsupported(offset, "element type"))?;
                            let mut items = Vec::new();
                            for e in exprs {
                                let e = ConstExpr::parse(&e?)?;
                                for f in e.referenced_funcs().collect::<Vec<_>>() {
                                    module.escape(f);
                                }
                                items.push(e);
                            }
                            (ty, ElemItems::Exprs(items.into()))
                        }
                    };
                    module.elements.push(ElemSegment { kind, ty, items });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    let kind = match data.kind {
                        wasmparser::DataKind::Passive => DataKind::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => DataKind::Active {
                            memory: memory_index,
                            offset: ConstExpr::parse(&offset_expr)?,
                        },
                    };
                    module.data.push(DataSegment {
                        kind,
                        data: data.data.into(),
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let validator = match valid {
                    wasmparser::ValidPayload::Func(v, _) => v,
                    _ => {
                        return Err(WasmError::new(
                            body.range().start,
                            "internal error: code entry without validator",
                        ));
                    }
                };
                function_bodies.push(FunctionBodyInput { body, validator });
            }
            Payload::CustomSection(reader) => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    // A malformed name section is not an error (the spec says custom
                    // sections are ignored); we keep whatever parsed.
                    let _ = parse_names(&mut module, names);
                }
            }
            _ => {}
        }
    }

    Ok(ModuleTranslation {
        module,
        function_bodies,
        wasm,
    })
}

fn parse_names(
    module: &mut ModuleInfo,
    names: wasmparser::NameSectionReader<'_>,
) -> wasmparser::Result<()> {
    for name in names {
        match name? {
            wasmparser::Name::Module { name, .. } => module.name = Some(name.to_string()),
            wasmparser::Name::Function(map) => {
                for naming in map {
                    let naming = naming?;
                    module
                        .func_names
                        .insert(naming.index, naming.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(wasm: &[u8]) -> WasmResult<ModuleTranslation<'_>> {
        translate_module(wasm, wasm_features())
    }

    #[test]
    fn rejects_bad_magic_with_offset() {
        let err = translate(b"\0asx\x01\0\0\0").err().unwrap();
        assert_eq!(err.offset, 0);
        assert!(err.message.contains("magic"), "{err}");
    }

    #[test]
    fn reserved_memory_index_must_be_one_zero_byte() {
        // `memory.grow` with its reserved byte encoded as a two-byte LEB zero: valid with
        // multi-memory, malformed in Wasm 2.0 ("zero byte expected").
        let wasm = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x05\x03\x01\0\0\
                     \x0a\x0a\x01\x08\0\x41\0\x40\x80\0\x1a\x0b";
        let t = translate(wasm).unwrap();
        let body = &t.function_bodies[0];
        let mut reader = body.body.get_operators_reader().unwrap();
        let err = loop {
            match reader.read() {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(err.message().contains("zero byte expected"), "{err}");
    }

    #[test]
    fn overlong_memory_limit_is_malformed() {
        let wasm = b"\0asm\x01\0\0\0\x05\x08\x01\0\x82\x80\x80\x80\x80\0";
        let err = translate(wasm).err().unwrap();
        assert!(
            err.message.contains("integer representation too long"),
            "{err}"
        );
    }

    #[test]
    fn empty_module() {
        let t = translate(b"\0asm\x01\0\0\0").unwrap();
        assert!(t.module.functions.is_empty());
        assert!(t.function_bodies.is_empty());
    }
}
