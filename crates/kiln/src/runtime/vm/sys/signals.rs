//! POSIX signal handling: turns SIGSEGV/SIGBUS/SIGILL/SIGFPE raised by compiled wasm into
//! traps, and passes every other signal of these kinds on to the handler installed before us.
//!
//! The handler runs on a per-thread alternate stack (allocated lazily on first entry into wasm)
//! so it works even when the fault is a stack overflow.

use std::sync::Once;

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

struct PrevHandlers([core::mem::MaybeUninit<libc::sigaction>; 4]);

// Written once inside `INSTALL` before our handler is registered, read-only afterwards.
static mut PREV: PrevHandlers = PrevHandlers([const { core::mem::MaybeUninit::uninit() }; 4]);
static INSTALL: Once = Once::new();

/// Installs the handlers once per process.
pub fn install() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` with a fully initialised struct; PREV is only written here,
            // under `Once`, before our handler can run.
            unsafe {
                let mut action: libc::sigaction = core::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                // SA_SIGINFO: we need the ucontext to read and rewrite registers.
                // SA_ONSTACK: run on the alternate stack, so stack overflows are handled.
                // SA_NODEFER: do not block the signal in the handler; we resume elsewhere and
                // a later trap on this thread must be delivered again.
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut action.sa_mask);
                let prev = &raw mut PREV;
                let slot = (*prev).0[i].as_mut_ptr();
                if libc::sigaction(sig, &action, slot) != 0 {
                    panic!("failed to install the handler for signal {sig}");
                }
            }
        }
    });
}

unsafe extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext for SA_SIGINFO handlers.
    let uc = unsafe { &mut *ctx.cast::<libc::ucontext_t>() };
    let gregs = &mut uc.uc_mcontext.gregs;
    let pc = gregs[libc::REG_RIP as usize] as usize;
    let fp = gregs[libc::REG_RBP as usize] as usize;
    // SAFETY: we are in a signal handler on the faulting thread, and rbp is its frame pointer.
    if let Some((pc, sp, fp)) = unsafe { super::super::traphandlers::handle_fault(pc, fp) } {
        gregs[libc::REG_RIP as usize] = pc as i64;
        gregs[libc::REG_RSP as usize] = sp as i64;
        gregs[libc::REG_RBP as usize] = fp as i64;
        return;
    }
    // Not ours: defer to whoever was installed before.
    let i = SIGNALS.iter().position(|&s| s == sig).unwrap_or(0);
    // SAFETY: PREV[i] was initialised by `install` before this handler was registered.
    unsafe {
        let prev = &raw const PREV;
        let prev = &*(*prev).0[i].as_ptr();
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                core::mem::transmute(prev.sa_sigaction);
            f(sig, info, ctx);
        } else if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
            // Restore the previous disposition; returning re-executes the faulting
            // instruction, which then gets the default action.
            libc::sigaction(sig, prev, core::ptr::null_mut());
        } else {
            let f: extern "C" fn(libc::c_int) = core::mem::transmute(prev.sa_sigaction);
            f(sig);
        }
    }
}

const ALT_STACK_SIZE: usize = 64 * 1024;

struct AltStack {
    mmap: Option<super::Mmap>,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if let Some(m) = &self.mmap {
            // SAFETY: disabling the alternate stack we installed, before unmapping it.
            unsafe {
                let mut ss: libc::stack_t = core::mem::zeroed();
                ss.ss_flags = libc::SS_DISABLE;
                let mut old: libc::stack_t = core::mem::zeroed();
                libc::sigaltstack(core::ptr::null(), &mut old);
                if old.ss_sp == m.as_ptr().add(super::page_size()).cast() {
                    libc::sigaltstack(&ss, core::ptr::null_mut());
                }
            }
        }
    }
}

thread_local! {
    static ALT_STACK: std::cell::RefCell<Option<AltStack>> = const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// Whether `lazy_per_thread_init` already ran on this thread: the check on every entry
    /// into wasm is one thread-local load.
    static ALT_STACK_READY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Makes sure this thread has an alternate signal stack big enough for our handler.
#[inline]
pub fn lazy_per_thread_init() {
    if !ALT_STACK_READY.with(|r| r.get()) {
        init_alt_stack();
    }
}

#[cold]
fn init_alt_stack() {
    // Set only once the thread has a usable stack: a failed attempt is retried next time.
    let ready = || ALT_STACK_READY.with(|r| r.set(true));
    ALT_STACK.with(|alt| {
        if alt.borrow().is_some() {
            ready();
            return;
        }
        // SAFETY: querying the current alternate stack.
        let mut old: libc::stack_t = unsafe { core::mem::zeroed() };
        // SAFETY: `old` is a valid out-pointer.
        unsafe { libc::sigaltstack(core::ptr::null(), &mut old) };
        if old.ss_flags & libc::SS_DISABLE == 0 && old.ss_size >= ALT_STACK_SIZE {
            *alt.borrow_mut() = Some(AltStack { mmap: None });
            ready();
            return;
        }
        let page = super::page_size();
        let Ok(mut mmap) = super::Mmap::reserve(ALT_STACK_SIZE + page) else {
            return;
        };
        // The first page stays inaccessible: a guard against overflowing the signal stack.
        if mmap.make_accessible(page, ALT_STACK_SIZE).is_err() {
            return;
        }
        // SAFETY: the new stack is a private mapping we keep alive in `ALT_STACK` until the
        // thread exits, when `AltStack::drop` disables it first.
        unsafe {
            let ss = libc::stack_t {
                ss_sp: mmap.as_ptr().add(page).cast(),
                ss_flags: 0,
                ss_size: ALT_STACK_SIZE,
            };
            libc::sigaltstack(&ss, core::ptr::null_mut());
        }
        *alt.borrow_mut() = Some(AltStack { mmap: Some(mmap) });
        ready();
    });
}
