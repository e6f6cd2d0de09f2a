//! Catching traps: the per-thread record of the active wasm entry, raising a trap from a
//! builtin or host call, the signal-handler half, and capturing the wasm backtrace.
//!
//! While wasm runs on a thread, `CURRENT` points to a [`CallThreadState`] on the stack of the
//! Rust frame that entered wasm. A trap (fault, builtin or host error) records its reason and
//! backtrace there and resumes at that entry's landing pad; `catch_traps` then returns the
//! reason. Entries nest (host → wasm → host → wasm): each keeps a pointer to the previous one.

use super::code_memory::lookup_code;
use super::entry::{self, Landing};
use super::vmcontext::VMStoreContext;
use kiln_environ::Trap;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};

/// At most this many wasm frames are captured in a backtrace.
pub const MAX_BACKTRACE_FRAMES: usize = 32;

/// The PCs of the wasm frames active at a trap, innermost first. Fixed size, so capturing
/// one in a signal handler does not allocate.
#[derive(Clone, Copy)]
pub struct RawBacktrace {
    pcs: [usize; MAX_BACKTRACE_FRAMES],
    len: usize,
}

impl Default for RawBacktrace {
    fn default() -> Self {
        RawBacktrace {
            pcs: [0; MAX_BACKTRACE_FRAMES],
            len: 0,
        }
    }
}

impl RawBacktrace {
    /// The captured PCs, innermost first.
    pub fn pcs(&self) -> &[usize] {
        &self.pcs[..self.len]
    }

    /// Walks the frame-pointer chain from a wasm frame at (`pc`, `fp`) while PCs lie in wasm
    /// functions. Stops at the first PC outside wasm code (a trampoline or the host).
    ///
    /// # Safety
    ///
    /// `fp` must be the frame pointer of the frame executing `pc`, and if `pc` is in wasm code,
    /// every frame up the chain until a non-wasm PC must be a Cranelift frame with a frame
    /// pointer (`[fp]` = caller's fp, `[fp + 8]` = return address).
    pub unsafe fn capture(mut pc: usize, mut fp: usize) -> Self {
        let mut bt = RawBacktrace::default();
        while bt.len < MAX_BACKTRACE_FRAMES {
            let Some(code) = lookup_code(pc) else { break };
            if code.lookup_function(pc).is_none() {
                break;
            }
            bt.pcs[bt.len] = pc;
            bt.len += 1;
            if fp == 0 {
                break;
            }
            // SAFETY: per the contract, `fp` is a Cranelift frame pointer of a wasm function,
            // so these two words are its saved frame pointer and return address.
            unsafe {
                pc = *((fp + 8) as *const usize);
                fp = *(fp as *const usize);
            }
        }
        bt
    }
}

/// Why a wasm activation ended abruptly.
pub enum UnwindReason {
    /// A wasm trap.
    Trap(Trap),
    /// A host function returned an error.
    Host(anyhow::Error),
    /// A host function panicked; the panic resumes once back in the host.
    Panic(Box<dyn Any + Send>),
}

/// The record of one entry into wasm on this thread.
pub struct CallThreadState {
    landing: UnsafeCell<Landing>,
    unwind: UnsafeCell<Option<UnwindReason>>,
    /// Set with the unwind reason (`None` until then, so entering wasm writes one word, not a
    /// whole backtrace).
    backtrace: UnsafeCell<Option<RawBacktrace>>,
    store_ctx: *mut VMStoreContext,
    prev: *const CallThreadState,
}

thread_local! {
    static CURRENT: Cell<*const CallThreadState> = const { Cell::new(core::ptr::null()) };
}

/// The innermost active entry on this thread, or null.
fn current() -> *const CallThreadState {
    CURRENT.with(|c| c.get())
}

/// Runs `f` (which must call into wasm through `entry::enter` with the landing it is given)
/// with this thread's trap handling armed. Returns the reason and backtrace if a trap unwound
/// to the landing.
pub fn catch_traps(
    store_ctx: *mut VMStoreContext,
    f: impl FnOnce(*mut Landing) -> bool,
) -> Result<(), Box<(UnwindReason, RawBacktrace)>> {
    super::sys::signals::lazy_per_thread_init();
    let state = CallThreadState {
        landing: UnsafeCell::new(Landing::default()),
        unwind: UnsafeCell::new(None),
        backtrace: UnsafeCell::new(None),
        store_ctx,
        prev: current(),
    };
    CURRENT.with(|c| c.set(&state));
    let ok = f(state.landing.get());
    CURRENT.with(|c| c.set(state.prev));
    if ok {
        return Ok(());
    }
    Err(unwound(state))
}

/// The reason and backtrace a trap left in `state`. Out of line: the common, successful
/// return stays small.
#[cold]
#[inline(never)]
fn unwound(state: CallThreadState) -> Box<(UnwindReason, RawBacktrace)> {
    let reason = state
        .unwind
        .into_inner()
        .unwrap_or(UnwindReason::Trap(Trap::UnreachableCodeReached));
    let backtrace = state.backtrace.into_inner().unwrap_or_default();
    Box::new((reason, backtrace))
}

/// Records the error of a host function called from wasm, to be raised by the `raise`
/// builtin once the host function has returned `false`.
pub fn record_host_unwind(reason: UnwindReason) {
    let state = current();
    if state.is_null() {
        // Host function called directly from the host: the caller reports the error itself.
        return;
    }
    // SAFETY: `state` is the live innermost entry of this thread (set by `catch_traps`, whose
    // frame is below us on this stack), and only this thread touches it.
    unsafe { *(*state).unwind.get() = Some(reason) };
}

/// Raises `trap` from a builtin called by compiled code. Never returns.
///
/// # Safety
///
/// Must be called from a builtin invoked by compiled code on this thread (so a builtin
/// trampoline recorded `last_wasm_exit_fp`), and the caller must hold nothing that needs
/// dropping.
pub unsafe fn raise_trap(trap: Trap) -> ! {
    // SAFETY: forwarded.
    unsafe { raise(Some(UnwindReason::Trap(trap))) }
}

/// Raises the reason a host function recorded (or `reason`), capturing the backtrace from
/// `last_wasm_exit_fp`. Never returns.
///
/// # Safety
///
/// As for [`raise_trap`].
pub unsafe fn raise(reason: Option<UnwindReason>) -> ! {
    let state = current();
    if state.is_null() {
        // A builtin can only run under an entry; reaching this is a Kiln bug, and unwinding
        // anywhere else would be unsound.
        std::process::abort();
    }
    // SAFETY: `state` is the live innermost entry of this thread (see `record_host_unwind`).
    let state = unsafe { &*state };
    // SAFETY: `store_ctx` outlives the entry; compiled code stored the frame pointer of the
    // trampoline that called us, whose saved fp/return address lead into wasm frames.
    unsafe {
        let exit_fp = (*state.store_ctx).last_wasm_exit_fp;
        let bt = if exit_fp == 0 {
            RawBacktrace::default()
        } else {
            let pc = *((exit_fp + 8) as *const usize);
            let fp = *(exit_fp as *const usize);
            RawBacktrace::capture(pc, fp)
        };
        *state.backtrace.get() = Some(bt);
        if let Some(reason) = reason {
            *state.unwind.get() = Some(reason);
        }
        entry::resume_to_landing(&*state.landing.get())
    }
}

/// The signal-handler half: if this thread is running wasm and `pc` is a trapping instruction
/// of compiled code, records the trap and returns the (pc, sp, fp) to resume at.
///
/// # Safety
///
/// Must only be called from a signal handler on the thread that received the signal, with
/// `fp` the frame pointer of the interrupted context.
pub unsafe fn handle_fault(pc: usize, fp: usize) -> Option<(usize, usize, usize)> {
    let state = current();
    if state.is_null() {
        return None;
    }
    let code = lookup_code(pc)?;
    let trap = code.lookup_trap(pc)?;
    drop(code);
    // SAFETY: the state is live (see `record_host_unwind`); `pc`/`fp` describe the faulting
    // wasm frame, per our contract.
    unsafe {
        let state = &*state;
        *state.backtrace.get() = Some(RawBacktrace::capture(pc, fp));
        *state.unwind.get() = Some(UnwindReason::Trap(trap));
        let landing = &*state.landing.get();
        Some((entry::landing_pc(), landing.sp, landing.fp))
    }
}
