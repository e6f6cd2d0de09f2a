//! Wasm types as Kiln sees them: value types, function types, and the types of tables,
//! memories and globals. They are plain data, independent of wasmparser and Cranelift.

use std::fmt;

/// A WebAssembly value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WasmValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 128-bit vector.
    V128,
    /// A (nullable) reference.
    Ref(RefType),
}

/// A nullable reference type of Wasm 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefType {
    /// `funcref`
    Func,
    /// `externref`
    Extern,
}

impl WasmValType {
    /// `funcref`
    pub const FUNCREF: Self = WasmValType::Ref(RefType::Func);
    /// `externref`
    pub const EXTERNREF: Self = WasmValType::Ref(RefType::Extern);

    /// Converts a wasmparser value type, refusing types outside Kiln's feature set.
    pub fn from_wasmparser(ty: wasmparser::ValType) -> Option<Self> {
        Some(match ty {
            wasmparser::ValType::I32 => Self::I32,
            wasmparser::ValType::I64 => Self::I64,
            wasmparser::ValType::F32 => Self::F32,
            wasmparser::ValType::F64 => Self::F64,
            wasmparser::ValType::V128 => Self::V128,
            wasmparser::ValType::Ref(r) => Self::Ref(RefType::from_wasmparser(r)?),
        })
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, Self::Ref(_))
    }
}

impl RefType {
    /// Converts a wasmparser reference type; only `funcref` and `externref` are supported.
    pub fn from_wasmparser(ty: wasmparser::RefType) -> Option<Self> {
        if ty == wasmparser::RefType::FUNCREF {
            Some(Self::Func)
        } else if ty == wasmparser::RefType::EXTERNREF {
            Some(Self::Extern)
        } else {
            None
        }
    }
}

impl fmt::Display for WasmValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::I32 => f.write_str("i32"),
            Self::I64 => f.write_str("i64"),
            Self::F32 => f.write_str("f32"),
            Self::F64 => f.write_str("f64"),
            Self::V128 => f.write_str("v128"),
            Self::Ref(r) => r.fmt(f),
        }
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Func => f.write_str("funcref"),
            Self::Extern => f.write_str("externref"),
        }
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    /// Parameter types.
    pub params: Box<[WasmValType]>,
    /// Result types.
    pub results: Box<[WasmValType]>,
}

impl FuncType {
    /// Creates a function type.
    pub fn new(
        params: impl IntoIterator<Item = WasmValType>,
        results: impl IntoIterator<Item = WasmValType>,
    ) -> Self {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        if !self.params.is_empty() {
            f.write_str(" (param")?;
            for p in self.params.iter() {
                write!(f, " {p}")?;
            }
            f.write_str(")")?;
        }
        if !self.results.is_empty() {
            f.write_str(" (result")?;
            for r in self.results.iter() {
                write!(f, " {r}")?;
            }
            f.write_str(")")?;
        }
        f.write_str(")")
    }
}

/// The type of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableType {
    /// Element type.
    pub element: RefType,
    /// Minimum number of elements.
    pub minimum: u64,
    /// Maximum number of elements, if any.
    pub maximum: Option<u64>,
}

impl TableType {
    /// A table of `element`s with `minimum` elements and an optional `maximum`.
    pub fn new(element: RefType, minimum: u32, maximum: Option<u32>) -> TableType {
        TableType {
            element,
            minimum: minimum.into(),
            maximum: maximum.map(Into::into),
        }
    }
}

/// The type of a linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Minimum size in wasm pages.
    pub minimum: u64,
    /// Maximum size in wasm pages, if any.
    pub maximum: Option<u64>,
    /// Whether the memory is indexed by i64 (memory64).
    pub memory64: bool,
    /// Whether the memory is shared (threads).
    pub shared: bool,
}

/// The type of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalType {
    /// The value type.
    pub content: WasmValType,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}
