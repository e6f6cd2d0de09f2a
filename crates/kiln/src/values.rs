//! Values: `Val` for dynamic calls, `ExternRef` for host references, and their raw forms.

use crate::runtime::vm::vmcontext::ValRaw;
use crate::store::{StoreOpaque, Stored};
use crate::{AsContextMut, Func, StoreContext};
use std::any::Any;

pub use kiln_environ::{RefType, WasmValType as ValType};

/// A WebAssembly value.
#[derive(Debug, Clone, Copy)]
pub enum Val {
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `f32`, as its bits (so NaN payloads survive).
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `v128`
    V128(u128),
    /// `funcref` (`None` is null).
    FuncRef(Option<Func>),
    /// `externref` (`None` is null).
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
        }
    }

    /// The null reference of a reference type, or zero of a numeric type.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(RefType::Func) => Val::FuncRef(None),
            ValType::Ref(RefType::Extern) => Val::ExternRef(None),
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }
    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }
    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }
    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }
    /// The `v128`, if this is one.
    pub fn v128(&self) -> Option<V128> {
        match self {
            Val::V128(v) => Some(V128(*v)),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> ValRaw {
        match self {
            Val::I32(v) => ValRaw::i32(v),
            Val::I64(v) => ValRaw::i64(v),
            Val::F32(v) => ValRaw::f32(v),
            Val::F64(v) => ValRaw::f64(v),
            Val::V128(v) => ValRaw::u128(v),
            Val::FuncRef(f) => {
                ValRaw::reference(f.as_ref().map_or(0, |f| f.func_ref(store).as_raw()))
            }
            Val::ExternRef(e) => ValRaw::reference(e.map_or(0, |e| e.into_raw(store))),
        }
    }

    #[inline]
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: ValRaw, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.get_i32()),
            ValType::I64 => Val::I64(raw.get_i64()),
            ValType::F32 => Val::F32(raw.get_f32()),
            ValType::F64 => Val::F64(raw.get_f64()),
            ValType::V128 => Val::V128(raw.get_u128()),
            ValType::Ref(RefType::Func) => Val::FuncRef(Func::from_raw(store, raw.get_reference())),
            ValType::Ref(RefType::Extern) => {
                Val::ExternRef(ExternRef::from_raw(store, raw.get_reference()))
            }
        }
    }

    /// Checks that this value has type `ty` and belongs to `store`.
    #[inline]
    pub(crate) fn check(&self, ty: ValType, store: &StoreOpaque) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.ty() == ty,
            "type mismatch: expected {ty}, found {}",
            self.ty()
        );
        match self {
            Val::FuncRef(Some(f)) => {
                f.0.check(store);
            }
            Val::ExternRef(Some(e)) => {
                e.0.check(store);
            }
            _ => {}
        }
        Ok(())
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}
impl From<V128> for Val {
    fn from(v: V128) -> Val {
        Val::V128(v.0)
    }
}
impl From<Func> for Val {
    fn from(f: Func) -> Val {
        Val::FuncRef(Some(f))
    }
}

/// A `v128` value: 128 bits, lane 0 in the least significant bits (the little-endian byte
/// order of memory). Usable with [`TypedFunc`](crate::TypedFunc) and [`Func::wrap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct V128(u128);

impl V128 {
    /// The vector with bits `bits`.
    pub const fn new(bits: u128) -> V128 {
        V128(bits)
    }

    /// The 128 bits.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// The vector whose memory bytes are `bytes` (lane 0 first).
    pub const fn from_le_bytes(bytes: [u8; 16]) -> V128 {
        V128(u128::from_le_bytes(bytes))
    }

    /// The memory bytes of the vector (lane 0 first).
    pub const fn to_le_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }
}

impl From<u128> for V128 {
    fn from(bits: u128) -> V128 {
        V128(bits)
    }
}

impl From<V128> for u128 {
    fn from(v: V128) -> u128 {
        v.0
    }
}

/// A reference to a host value, passed through wasm as `externref`. It lives as long as its
/// store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExternRef(pub(crate) Stored);

impl ExternRef {
    /// Wraps `value` in a new reference owned by the store.
    pub fn new<T: Any + Send + Sync>(mut store: impl AsContextMut, value: T) -> ExternRef {
        let store = &mut store.as_context_mut().0.opaque;
        store.externrefs.push(Box::new(value));
        ExternRef(store.stored(store.externrefs.len() - 1))
    }

    /// The wrapped value.
    pub fn data<'a, T: 'a>(
        &self,
        store: impl Into<StoreContext<'a, T>>,
    ) -> &'a (dyn Any + Send + Sync) {
        let store = &store.into().0.opaque;
        &*store.externrefs[self.0.check(store)]
    }

    pub(crate) fn into_raw(self, store: &StoreOpaque) -> usize {
        self.0.check(store) + 1
    }

    pub(crate) fn from_raw(store: &StoreOpaque, raw: usize) -> Option<ExternRef> {
        if raw == 0 || raw > store.externrefs.len() {
            return None;
        }
        Some(ExternRef(store.stored(raw - 1)))
    }
}
