//! Functions: calling wasm from the host (`Func::call`, `TypedFunc::call`), defining host
//! functions (`Func::new`, `Func::wrap`), and `Caller`, the view of the store a host function
//! gets when wasm calls it.
//!
//! Every call from the host goes through `invoke`: it sets the store's stack limit on the
//! outermost entry, arms trap handling, and enters the callee's array-call function through the
//! entry stub. Every host function is an array-call function (`host_array_call::<T>`) whose
//! vmctx is a `HostFuncCtx<T>`; wasm calls it through the engine's wasm-to-array trampoline.

#![allow(
    private_interfaces,
    reason = "WasmTy/WasmParams/WasmResults carry hidden raw conversions over the crate-private store"
)]

use crate::runtime::vm::call::{self, CallerVmctx, HostFunc};
use crate::runtime::vm::traphandlers::{RawBacktrace, UnwindReason};
use crate::runtime::vm::vmcontext::{FuncRef, ValRaw};
use crate::store::{FuncEntry, StoreInner, StoreOpaque, Stored};
use crate::trap::WasmBacktrace;
use crate::{AsContext, AsContextMut, Extern, StoreContext, StoreContextMut, Val, ValType};
use anyhow::{Result, bail};
use kiln_environ::FuncType;
use std::panic;
use std::sync::Arc;

/// A WebAssembly or host function, owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func(pub(crate) Stored);

/// A host function with its engine's wasm-to-host trampoline and type id looked up, ready to
/// become a `Func` of any store of that engine (see `InstancePre`).
pub(crate) struct PreparedHostFunc<T> {
    pub(crate) ty: Arc<FuncType>,
    type_index: u32,
    wasm_call: usize,
    func: HostFn<T>,
}

impl<T> Clone for PreparedHostFunc<T> {
    fn clone(&self) -> Self {
        PreparedHostFunc {
            ty: self.ty.clone(),
            type_index: self.type_index,
            wasm_call: self.wasm_call,
            func: self.func.clone(),
        }
    }
}

impl<T> PreparedHostFunc<T> {
    pub(crate) fn new(engine: &crate::Engine, ty: FuncType, func: HostFn<T>) -> Result<Self> {
        Ok(PreparedHostFunc {
            wasm_call: engine.host_trampoline(&ty)?,
            type_index: engine.type_id(&ty),
            ty: Arc::new(ty),
            func,
        })
    }
}

/// A host function as the runtime calls it (its callback gets the store, the calling instance
/// if called from wasm, and the raw arguments/results), with the entry made for the
/// callback's concrete type, so a call from wasm reaches the embedder's closure directly.
pub(crate) type HostFn<T> = crate::runtime::vm::call::HostCode<StoreInner<T>>;

impl Func {
    #[inline]
    pub(crate) fn func_ref(&self, store: &StoreOpaque) -> FuncRef {
        store.funcs[self.0.check(store)].func_ref
    }

    /// The `Func` for a raw funcref value, creating its entry on first sight.
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: usize) -> Option<Func> {
        let func_ref = FuncRef::from_raw(raw)?;
        if let Some(&i) = store.func_by_ref.get(&raw) {
            return Some(Func(store.stored(i)));
        }
        let ty = store.engine.type_of(func_ref.get().type_index);
        Some(Func::push(store, func_ref, ty))
    }

    fn push(store: &mut StoreOpaque, func_ref: FuncRef, ty: Arc<FuncType>) -> Func {
        let i = store.funcs.len();
        store.funcs.push(FuncEntry { func_ref, ty });
        store.func_by_ref.insert(func_ref.as_raw(), i);
        Func(store.stored(i))
    }

    /// Defines a host function with a dynamic signature. `func` receives the arguments and
    /// must fill `results` with values of the result types.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        let store = store.as_context_mut().0;
        Func::new_raw(store, ty.clone(), HostFn::new(dynamic_host_fn(ty, func)))
            .expect("host function trampoline")
    }

    /// Defines a host function from a Rust closure with typed parameters and results, such as
    /// `|a: i32, b: i32| a + b` or `|caller: Caller<'_, T>, x: f64| -> anyhow::Result<f64>`.
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let store = store.as_context_mut().0;
        let (ty, f) = func.into_host_fn();
        Func::new_raw(store, ty, f).expect("host function trampoline")
    }

    pub(crate) fn new_raw<T: 'static>(
        store: &mut StoreInner<T>,
        ty: FuncType,
        func: HostFn<T>,
    ) -> Result<Func> {
        let host = PreparedHostFunc::new(&store.opaque.engine, ty, func)?;
        Ok(Func::new_prepared(store, &host))
    }

    /// A store's function for a host function whose trampoline and type id are known.
    pub(crate) fn new_prepared<T: 'static>(
        store: &mut StoreInner<T>,
        prepared: &PreparedHostFunc<T>,
    ) -> Func {
        let PreparedHostFunc {
            ty,
            type_index,
            wasm_call,
            func,
        } = prepared;
        let host = HostFunc::new(store as *mut StoreInner<T>, *wasm_call, *type_index, func);
        let func_ref = host.func_ref();
        store.opaque.host_funcs.push(host);
        Func::push(&mut store.opaque, func_ref, ty.clone())
    }

    /// The function's type.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let store = &store.as_context().0.opaque;
        (*store.funcs[self.0.check(store)].ty).clone()
    }

    /// Calls the function with `params`, writing `results`. Checks that the arguments match
    /// the signature and that `results` has the right length.
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        let entry = &store.funcs[self.0.check(store)];
        let (ty, func_ref) = (&*entry.ty, entry.func_ref);
        if params.len() != ty.params.len() {
            bail!(
                "expected {} arguments, got {}",
                ty.params.len(),
                params.len()
            );
        }
        if results.len() != ty.results.len() {
            bail!(
                "expected {} results, got {}",
                ty.results.len(),
                results.len()
            );
        }
        let n = ty.params.len().max(ty.results.len());
        let mut inline = [ValRaw::default(); INLINE_VALS];
        let mut heap;
        let raw: &mut [ValRaw] = if n <= INLINE_VALS {
            &mut inline[..n.max(1)]
        } else {
            heap = vec![ValRaw::default(); n];
            &mut heap
        };
        for (i, (p, t)) in params.iter().zip(ty.params.iter()).enumerate() {
            p.check(*t, store)
                .map_err(|e| anyhow::anyhow!("argument {i}: {e}"))?;
            raw[i] = p.to_raw(store);
        }
        // The result types outlive the call without holding a borrow of the store: copied for
        // the usual few results (no reference count traffic), shared otherwise.
        let mut result_types = [ValType::I32; INLINE_VALS];
        let shared;
        let result_types: &[ValType] = if ty.results.len() <= INLINE_VALS {
            result_types[..ty.results.len()].copy_from_slice(&ty.results);
            &result_types[..ty.results.len()]
        } else {
            shared = entry.ty.clone();
            &shared.results
        };
        invoke(store, func_ref, raw)?;
        for (i, t) in result_types.iter().enumerate() {
            results[i] = Val::from_raw(store, raw[i], *t);
        }
        Ok(())
    }

    /// A typed view of this function; fails if `Params`/`Results` do not match its type.
    pub fn typed<Params: WasmParams, Results: WasmResults>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<Params, Results>> {
        let ty = self.ty(store);
        let want = FuncType::new(Params::valtypes(), Results::valtypes());
        if ty != want {
            bail!("type mismatch: function has type {ty}, not {want}");
        }
        Ok(TypedFunc {
            func: *self,
            _marker: std::marker::PhantomData,
        })
    }
}

/// Calls `func_ref` with `values` (sized max(params, results) of its type by the caller),
/// translating an abrupt exit into an error, or resuming a host panic.
pub(crate) fn invoke(
    store: &mut StoreOpaque,
    func_ref: FuncRef,
    values: &mut [ValRaw],
) -> Result<()> {
    let max_stack = store.engine.config().max_wasm_stack;
    match call::invoke(&mut store.vm_store_context, max_stack, func_ref, values) {
        Ok(()) => Ok(()),
        Err(unwound) => Err(unwound_error(unwound)),
    }
}

/// The error for a call that unwound: the trap or host error with its wasm backtrace (a host
/// panic resumes here). Out of line, so the successful call path stays small.
#[cold]
#[inline(never)]
fn unwound_error(unwound: Box<(UnwindReason, RawBacktrace)>) -> anyhow::Error {
    let (reason, raw_bt) = *unwound;
    let bt = WasmBacktrace::from_raw(&raw_bt);
    let err = match reason {
        UnwindReason::Trap(trap) => anyhow::Error::new(trap),
        UnwindReason::Host(e) => e,
        UnwindReason::Panic(p) => panic::resume_unwind(p),
    };
    if bt.frames().is_empty() {
        err
    } else {
        err.context(bt)
    }
}

pub(crate) fn dynamic_host_fn<T: 'static>(
    ty: FuncType,
    func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
) -> impl Fn(&mut StoreInner<T>, CallerVmctx, &mut [ValRaw]) -> Result<()> + Send + Sync + 'static {
    move |store: &mut StoreInner<T>, vmctx: CallerVmctx, raw: &mut [ValRaw]| {
        let mut caller = Caller {
            store,
            instance: vmctx.instance_index(),
        };
        let (np, nr) = (ty.params.len(), ty.results.len());
        // Parameters then results, on the stack for the usual small signatures.
        let mut inline = [Val::I32(0); INLINE_VALS];
        let mut heap;
        let vals: &mut [Val] = if np + nr <= INLINE_VALS {
            &mut inline[..np + nr]
        } else {
            heap = vec![Val::I32(0); np + nr];
            &mut heap
        };
        let store = &mut caller.store.opaque;
        for (i, t) in ty.params.iter().enumerate() {
            vals[i] = Val::from_raw(store, raw[i], *t);
        }
        for (i, t) in ty.results.iter().enumerate() {
            vals[np + i] = Val::default_for(*t);
        }
        let (params, results) = vals.split_at_mut(np);
        func(caller.reborrow(), params, results)?;
        let store = &caller.store.opaque;
        for (i, (r, t)) in results.iter().zip(ty.results.iter()).enumerate() {
            r.check(*t, store)
                .map_err(|e| anyhow::anyhow!("host function result {i}: {e}"))?;
            raw[i] = r.to_raw(store);
        }
        Ok(())
    }
}

/// Values kept on the stack (not allocated) by dynamic calls and typed calls.
const INLINE_VALS: usize = 8;

/// The store as seen by a host function called from wasm, plus the calling instance.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    pub(crate) instance: Option<usize>,
}

impl<T> Caller<'_, T> {
    fn reborrow(&mut self) -> Caller<'_, T> {
        Caller {
            store: self.store,
            instance: self.instance,
        }
    }

    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.store.data
    }

    /// The embedder data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }

    /// An export of the calling instance (for example its `memory`).
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.instance?;
        crate::instance::export_by_name(&mut self.store.opaque, instance, name)
    }

    /// The engine.
    pub fn engine(&self) -> &crate::Engine {
        &self.store.opaque.engine
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store)
    }
}
impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store)
    }
}
impl<'a, T> From<&'a Caller<'_, T>> for StoreContext<'a, T> {
    fn from(c: &'a Caller<'_, T>) -> Self {
        StoreContext(c.store)
    }
}
impl<'a, T> From<&'a mut Caller<'_, T>> for StoreContext<'a, T> {
    fn from(c: &'a mut Caller<'_, T>) -> Self {
        StoreContext(c.store)
    }
}
impl<'a, T> From<&'a mut Caller<'_, T>> for StoreContextMut<'a, T> {
    fn from(c: &'a mut Caller<'_, T>) -> Self {
        StoreContextMut(c.store)
    }
}

/// A Rust type that corresponds to a wasm value type.
pub trait WasmTy: Sized + Send + 'static {
    /// The wasm type.
    fn valtype() -> ValType;
    #[doc(hidden)]
    fn into_raw(self, store: &StoreOpaque) -> ValRaw;
    #[doc(hidden)]
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self;
}

macro_rules! wasm_ty_num {
    ($($t:ty => $vt:ident, $to:expr, $from:expr;)*) => {$(
        impl WasmTy for $t {
            fn valtype() -> ValType {
                ValType::$vt
            }
            #[inline]
            fn into_raw(self, _: &StoreOpaque) -> ValRaw {
                #[allow(clippy::redundant_closure_call, reason = "macro-supplied conversion")]
                ($to)(self)
            }
            #[inline]
            fn from_raw(_: &mut StoreOpaque, raw: ValRaw) -> Self {
                #[allow(clippy::redundant_closure_call, reason = "macro-supplied conversion")]
                ($from)(raw)
            }
        }
    )*};
}

wasm_ty_num! {
    i32 => I32, |v: i32| ValRaw::i32(v), |r: ValRaw| r.get_i32();
    u32 => I32, |v: u32| ValRaw::i32(v as i32), |r: ValRaw| r.get_i32() as u32;
    i64 => I64, |v: i64| ValRaw::i64(v), |r: ValRaw| r.get_i64();
    u64 => I64, |v: u64| ValRaw::i64(v as i64), |r: ValRaw| r.get_i64() as u64;
    f32 => F32, |v: f32| ValRaw::f32(v.to_bits()), |r: ValRaw| f32::from_bits(r.get_f32());
    f64 => F64, |v: f64| ValRaw::f64(v.to_bits()), |r: ValRaw| f64::from_bits(r.get_f64());
}

impl WasmTy for crate::V128 {
    fn valtype() -> ValType {
        ValType::V128
    }
    fn into_raw(self, _: &StoreOpaque) -> ValRaw {
        ValRaw::u128(self.as_u128())
    }
    fn from_raw(_: &mut StoreOpaque, raw: ValRaw) -> Self {
        crate::V128::new(raw.get_u128())
    }
}

impl WasmTy for Option<Func> {
    fn valtype() -> ValType {
        ValType::FUNCREF
    }
    fn into_raw(self, store: &StoreOpaque) -> ValRaw {
        ValRaw::reference(self.map_or(0, |f| f.func_ref(store).as_raw()))
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        Func::from_raw(store, raw.get_reference())
    }
}

impl WasmTy for Option<crate::ExternRef> {
    fn valtype() -> ValType {
        ValType::EXTERNREF
    }
    fn into_raw(self, store: &StoreOpaque) -> ValRaw {
        ValRaw::reference(self.map_or(0, |e| e.into_raw(store)))
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        crate::ExternRef::from_raw(store, raw.get_reference())
    }
}

/// The parameters of a typed function: `()`, one [`WasmTy`], or a tuple of them.
pub trait WasmParams: Send {
    /// How many values.
    #[doc(hidden)]
    const COUNT: usize;
    /// The wasm types.
    fn valtypes() -> Vec<ValType>;
    #[doc(hidden)]
    fn store_raw(self, store: &StoreOpaque, out: &mut [ValRaw]);
}

/// The results of a typed function: `()`, one [`WasmTy`], or a tuple of them.
pub trait WasmResults: Sized {
    /// How many values.
    #[doc(hidden)]
    const COUNT: usize;
    /// The wasm types.
    fn valtypes() -> Vec<ValType>;
    #[doc(hidden)]
    fn load_raw(store: &mut StoreOpaque, raw: &[ValRaw]) -> Self;
    #[doc(hidden)]
    fn store_raw(self, store: &StoreOpaque, out: &mut [ValRaw]);
}

impl<A: WasmTy> WasmParams for A {
    const COUNT: usize = 1;
    fn valtypes() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn store_raw(self, store: &StoreOpaque, out: &mut [ValRaw]) {
        out[0] = self.into_raw(store);
    }
}

impl<A: WasmTy> WasmResults for A {
    const COUNT: usize = 1;
    fn valtypes() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn load_raw(store: &mut StoreOpaque, raw: &[ValRaw]) -> Self {
        A::from_raw(store, raw[0])
    }
    fn store_raw(self, store: &StoreOpaque, out: &mut [ValRaw]) {
        out[0] = self.into_raw(store);
    }
}

macro_rules! tuples {
    ($($n:literal: ($($t:ident),*);)*) => {$(
        #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments, reason = "macro-generated")]
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            const COUNT: usize = $n;
            fn valtypes() -> Vec<ValType> {
                vec![$($t::valtype()),*]
            }
            fn store_raw(self, store: &StoreOpaque, out: &mut [ValRaw]) {
                let ($($t,)*) = self;
                let mut i = 0;
                $(out[i] = $t.into_raw(store); i += 1;)*
            }
        }

        #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments, clippy::unused_unit, reason = "macro-generated")]
        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            const COUNT: usize = $n;
            fn valtypes() -> Vec<ValType> {
                vec![$($t::valtype()),*]
            }
            fn load_raw(store: &mut StoreOpaque, raw: &[ValRaw]) -> Self {
                let mut i = 0;
                ($({ let v = $t::from_raw(store, raw[i]); i += 1; v },)*)
            }
            fn store_raw(self, store: &StoreOpaque, out: &mut [ValRaw]) {
                let ($($t,)*) = self;
                let mut i = 0;
                $(out[i] = $t.into_raw(store); i += 1;)*
            }
        }

        #[allow(non_snake_case, reason = "macro-generated")]
        impl<T: 'static, F, R, $($t: WasmTy),*> IntoFunc<T, ($($t,)*), R> for F
        where
            F: Fn($($t),*) -> R + Send + Sync + 'static,
            R: HostResult,
        {
            fn into_host_fn(self) -> (FuncType, HostFn<T>) {
                let ty = FuncType::new(<($($t,)*) as WasmParams>::valtypes(), R::valtypes());
                let f = move |store: &mut StoreInner<T>, _: CallerVmctx, raw: &mut [ValRaw]| -> Result<()> {
                    let args = <($($t,)*) as WasmResults>::load_raw(&mut store.opaque, raw);
                    let ($($t,)*) = args;
                    let r = (self)($($t),*).into_result()?;
                    r.store_raw(&store.opaque, raw);
                    Ok(())
                };
                (ty, HostFn::new(f))
            }
        }

        #[allow(non_snake_case, reason = "macro-generated")]
        impl<T: 'static, F, R, $($t: WasmTy),*> IntoFunc<T, (Caller<'static, T>, $($t,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($t),*) -> R + Send + Sync + 'static,
            R: HostResult,
        {
            fn into_host_fn(self) -> (FuncType, HostFn<T>) {
                let ty = FuncType::new(<($($t,)*) as WasmParams>::valtypes(), R::valtypes());
                let f = move |store: &mut StoreInner<T>, vmctx: CallerVmctx, raw: &mut [ValRaw]| -> Result<()> {
                    let instance = vmctx.instance_index();
                    let args = <($($t,)*) as WasmResults>::load_raw(&mut store.opaque, raw);
                    let ($($t,)*) = args;
                    let r = (self)(Caller { store: &mut *store, instance }, $($t),*).into_result()?;
                    r.store_raw(&store.opaque, raw);
                    Ok(())
                };
                (ty, HostFn::new(f))
            }
        }
    )*};
}

/// What a host closure may return: results, or `anyhow::Result` of results.
pub trait HostResult: Send {
    /// The results type.
    type Results: WasmResults;
    /// The result types.
    fn valtypes() -> Vec<ValType> {
        Self::Results::valtypes()
    }
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::Results>;
}

impl<R: WasmResults + Send> HostResult for R {
    type Results = R;
    fn into_result(self) -> Result<R> {
        Ok(self)
    }
}

impl<R: WasmResults + Send> HostResult for Result<R> {
    type Results = R;
    fn into_result(self) -> Result<R> {
        self
    }
}

/// A Rust closure usable as a host function (see [`Func::wrap`]).
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_host_fn(self) -> (FuncType, HostFn<T>);
}

tuples! {
    0: ();
    1: (A1);
    2: (A1, A2);
    3: (A1, A2, A3);
    4: (A1, A2, A3, A4);
    5: (A1, A2, A3, A4, A5);
    6: (A1, A2, A3, A4, A5, A6);
    7: (A1, A2, A3, A4, A5, A6, A7);
    8: (A1, A2, A3, A4, A5, A6, A7, A8);
    9: (A1, A2, A3, A4, A5, A6, A7, A8, A9);
    10: (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10);
}

/// A function with statically known parameter and result types: calls skip dynamic checks.
pub struct TypedFunc<Params, Results> {
    func: Func,
    _marker: std::marker::PhantomData<fn(Params) -> Results>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}

impl<Params: WasmParams, Results: WasmResults> TypedFunc<Params, Results> {
    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function.
    pub fn call(&self, mut store: impl AsContextMut, params: Params) -> Result<Results> {
        let store = &mut store.as_context_mut().0.opaque;
        let func_ref = self.func.func_ref(store);
        let n = Params::COUNT.max(Results::COUNT);
        let mut buf = [ValRaw::default(); INLINE_VALS];
        let mut heap;
        let raw: &mut [ValRaw] = if n <= buf.len() {
            &mut buf[..n.max(1)]
        } else {
            heap = vec![ValRaw::default(); n];
            &mut heap
        };
        params.store_raw(store, raw);
        invoke(store, func_ref, raw)?;
        Ok(Results::load_raw(store, raw))
    }
}
