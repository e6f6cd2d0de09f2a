//! Calls across the host/wasm boundary: entering an array-call function with trap handling
//! armed and the store's stack limit set, and the array-call entry of host functions.

use super::entry;
use super::instance::Instance;
use super::traphandlers::{self, RawBacktrace, UnwindReason};
use super::vmcontext::{
    ArrayCallFn, FuncRef, VMFuncRef, VMHostFuncContext, VMStoreContext, ValRaw,
};
use core::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

/// Calls `func` with `values` (arguments in, results out; `values.len()` must be at least
/// max(params, results) of its type, which callers check against the function's type).
/// Sets the stack limit on the outermost entry and restores the store context afterwards.
pub fn invoke(
    ctx: &mut VMStoreContext,
    max_wasm_stack: usize,
    func: FuncRef,
    values: &mut [ValRaw],
) -> Result<(), Box<(UnwindReason, RawBacktrace)>> {
    let (prev_limit, prev_exit_fp) = (ctx.stack_limit, ctx.last_wasm_exit_fp);
    if prev_limit == 0 {
        let here = &values as *const _ as usize;
        ctx.stack_limit = here.saturating_sub(max_wasm_stack);
    }
    let ctx_ptr: *mut VMStoreContext = ctx;
    let f = func.get();
    // `func` is a live record (FuncRef invariant) whose `array_call` is an array-call function
    // for its `vmctx`; `values` is large enough (caller's obligation, checked against the
    // function type); the landing is registered by `catch_traps`.
    // SAFETY: those three facts are `entry::enter`'s contract.
    let result = unsafe {
        let array_call: ArrayCallFn = core::mem::transmute(f.array_call);
        traphandlers::catch_traps(ctx_ptr, |landing| {
            entry::enter(
                landing,
                array_call,
                f.vmctx,
                core::ptr::null_mut(),
                values.as_mut_ptr(),
                values.len(),
            )
        })
    };
    // SAFETY: `ctx_ptr` came from `ctx`, still exclusively borrowed by us.
    unsafe {
        (*ctx_ptr).stack_limit = prev_limit;
        (*ctx_ptr).last_wasm_exit_fp = prev_exit_fp;
    }
    result
}

/// The callback of a host function: gets the store (`S`), the calling instance's index in
/// its store (if called from wasm), and the raw arguments/results.
pub type HostCallback<S> =
    dyn Fn(&mut S, CallerVmctx, &mut [ValRaw]) -> anyhow::Result<()> + Send + Sync;

/// Who called a host function: the calling instance's vmctx, or null when the host called it.
/// Only meaningful during that call; the instance index is looked up only if asked for, so
/// host functions that do not take a `Caller` pay nothing for it.
#[derive(Clone, Copy)]
pub struct CallerVmctx(*mut c_void);

impl CallerVmctx {
    /// The calling instance's index in its store, if wasm made the call.
    pub fn instance_index(self) -> Option<usize> {
        if self.0.is_null() {
            return None;
        }
        // A non-null caller vmctx is a live instance of the store whose host function is
        // running (the array-call contract), and this value does not outlive that call.
        // SAFETY: so the vmctx's back pointer leads to that live instance.
        Some(unsafe { Instance::from_vmctx(self.0.cast()) }.store_index)
    }
}

/// A host callback together with the array-call entry that reaches it.
///
/// The entry is `host_array_call::<S, F>`, made for the callback's concrete type `F`, so the
/// callback is inlined into its entry: the trampoline's indirect call to the entry is the only
/// dynamic call on the way. The two are only ever made together, by [`HostCode::new`].
pub struct HostCode<S> {
    callback: Arc<HostCallback<S>>,
    array_call: ArrayCallFn,
}

impl<S> Clone for HostCode<S> {
    fn clone(&self) -> Self {
        HostCode {
            callback: self.callback.clone(),
            array_call: self.array_call,
        }
    }
}

impl<S: 'static> HostCode<S> {
    /// The code of a host function whose callback is `f`.
    pub fn new<F>(f: F) -> Self
    where
        F: Fn(&mut S, CallerVmctx, &mut [ValRaw]) -> anyhow::Result<()> + Send + Sync + 'static,
    {
        HostCode {
            callback: Arc::new(f),
            array_call: host_array_call::<S, F>,
        }
    }
}

/// A host function's context: what its `VMFuncRef::vmctx` points to. `header` stays first
/// (the wasm-to-array trampoline reads `array_call` from it).
#[repr(C)]
pub struct HostFunc<S> {
    header: VMHostFuncContext,
    func_ref: VMFuncRef,
    store: *mut S,
    /// Only `header.array_call` (and `func_ref.array_call`) may call it: they are the entry
    /// made for its concrete type.
    callback: Arc<HostCallback<S>>,
}

// SAFETY: `store` points to the store that owns this context; it moves with the store.
unsafe impl<S> Send for HostFunc<S> {}

impl<S: 'static> HostFunc<S> {
    /// Creates a host function owned by the store at `store`, whose wasm-facing entry is the
    /// engine's trampoline `wasm_call` for its type.
    pub fn new(
        store: *mut S,
        wasm_call: usize,
        type_index: u32,
        code: &HostCode<S>,
    ) -> Box<HostFunc<S>> {
        let array_call = code.array_call;
        let mut f = Box::new(HostFunc {
            header: VMHostFuncContext {
                magic: kiln_environ::vmoffsets::VM_HOST_FUNC_MAGIC,
                _pad: 0,
                array_call: array_call as *mut c_void,
            },
            func_ref: VMFuncRef {
                wasm_call: wasm_call as *mut c_void,
                array_call: array_call as *mut c_void,
                vmctx: core::ptr::null_mut(),
                type_index,
                _pad: 0,
            },
            store,
            callback: code.callback.clone(),
        });
        let me: *mut HostFunc<S> = &mut *f;
        f.func_ref.vmctx = me.cast();
        f
    }

    /// The function's record. Valid while the box (owned by the store) lives.
    pub fn func_ref(&self) -> FuncRef {
        // The record is inside this boxed context, which the store keeps until it is dropped.
        // SAFETY: so it satisfies `FuncRef`'s invariant.
        unsafe { FuncRef::new(&self.func_ref).expect("non-null") }
    }
}

/// The array-call entry of host functions whose callback has type `F`.
///
/// # Safety
///
/// `callee_vmctx` must be a `HostFunc<S>` made from a [`HostCode`] whose callback has type
/// `F`, `values` must hold `len >= max(params, results)` values, and `caller_vmctx` must be
/// null or the vmctx of a live instance of the same store.
unsafe extern "C" fn host_array_call<S, F>(
    callee_vmctx: *mut c_void,
    caller_vmctx: *mut c_void,
    values: *mut ValRaw,
    len: usize,
) -> bool
where
    F: Fn(&mut S, CallerVmctx, &mut [ValRaw]) -> anyhow::Result<()> + Send + Sync + 'static,
{
    // The store outlives its host functions, and while a host function runs, the embedder's
    // exclusive borrow of the store is lent to us through the call chain (nothing else
    // touches the store until we return).
    // SAFETY: that, and the function's contract above, make these three references valid.
    let (ctx, store, values) = unsafe {
        let ctx = &*callee_vmctx.cast::<HostFunc<S>>();
        (
            ctx,
            &mut *ctx.store,
            core::slice::from_raw_parts_mut(values, len),
        )
    };
    let caller = CallerVmctx(caller_vmctx);
    let callback = Arc::as_ptr(&ctx.callback) as *const F;
    // `HostCode::new` paired this entry with an `Arc<F>`, so the erased pointer's data is an
    // `F`. It lives in this boxed context, which its store frees only when the store itself
    // is dropped, and the callback cannot drop the store (it gets `&mut S`); nothing else
    // refers to the callback mutably.
    // SAFETY: so `callback` is a valid `F` for the whole call.
    let callback = unsafe { &*callback };
    let result = panic::catch_unwind(AssertUnwindSafe(|| callback(store, caller, values)));
    let reason = match result {
        Ok(Ok(())) => return true,
        Ok(Err(e)) => UnwindReason::Host(e),
        Err(p) => UnwindReason::Panic(p),
    };
    traphandlers::record_host_unwind(reason);
    false
}
