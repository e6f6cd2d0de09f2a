//! Entering wasm from the host, and leaving it abruptly on a trap — without `setjmp`/`longjmp`.
//!
//! `kiln_enter_wasm` is a small assembly stub. It saves the callee-saved registers in its own
//! frame, records its stack and frame pointers in a [`Landing`], and calls an array-call
//! function. On a normal return it returns that function's `bool`. On a trap, either the
//! signal handler rewrites the interrupted context (PC = `kiln_entry_landing`, SP and FP from
//! the `Landing`) and returns from the handler, or [`resume_to_landing`] sets SP/FP and jumps
//! there. The landing pad restores the callee-saved registers and returns `false`.
//!
//! Only wasm frames, Cranelift trampolines, and builtins that hold nothing with a destructor
//! ever lie between the stub and the point of a trap, so nothing is skipped that needed
//! dropping.

use super::vmcontext::ValRaw;
use core::ffi::c_void;

/// Where the entry stub saved its stack and frame pointers.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Landing {
    /// Stack pointer to resume with.
    pub sp: usize,
    /// Frame pointer to resume with.
    pub fp: usize,
}

#[cfg(all(target_arch = "x86_64", unix))]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl kiln_enter_wasm",
    ".type kiln_enter_wasm,@function",
    "kiln_enter_wasm:",
    // rdi = landing, rsi = array-call function, rdx = callee vmctx, rcx = caller vmctx,
    // r8 = values, r9 = len.
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    // 6 pushes after the return address: rsp is 8 mod 16; realign for the call.
    "sub rsp, 8",
    "mov [rdi], rsp",
    "mov [rdi + 8], rbp",
    "mov rax, rsi",
    "mov rdi, rdx",
    "mov rsi, rcx",
    "mov rdx, r8",
    "mov rcx, r9",
    "call rax",
    "movzx eax, al",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size kiln_enter_wasm, . - kiln_enter_wasm",
    ".p2align 4",
    ".globl kiln_entry_landing",
    ".type kiln_entry_landing,@function",
    "kiln_entry_landing:",
    // Entered with rsp/rbp as saved above; every other register is garbage.
    "xor eax, eax",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size kiln_entry_landing, . - kiln_entry_landing",
    ".p2align 4",
    ".globl kiln_resume_to_landing",
    ".type kiln_resume_to_landing,@function",
    "kiln_resume_to_landing:",
    // rdi = sp, rsi = fp.
    "mov rsp, rdi",
    "mov rbp, rsi",
    "jmp kiln_entry_landing",
    ".size kiln_resume_to_landing, . - kiln_resume_to_landing",
);

unsafe extern "C" {
    fn kiln_enter_wasm(
        landing: *mut Landing,
        func: super::vmcontext::ArrayCallFn,
        callee_vmctx: *mut c_void,
        caller_vmctx: *mut c_void,
        values: *mut ValRaw,
        len: usize,
    ) -> bool;
    fn kiln_entry_landing();
    fn kiln_resume_to_landing(sp: usize, fp: usize) -> !;
}

/// Calls `func` through the entry stub, returning `false` if a trap unwound to the landing.
///
/// # Safety
///
/// `func` must be an array-call function valid for `callee`/`caller` and `values[..len]`, and
/// `landing` must be registered as the current landing of this thread for the duration of the
/// call (see `traphandlers::catch_traps`).
pub unsafe fn enter(
    landing: *mut Landing,
    func: super::vmcontext::ArrayCallFn,
    callee: *mut c_void,
    caller: *mut c_void,
    values: *mut ValRaw,
    len: usize,
) -> bool {
    // SAFETY: forwarded caller obligations; the stub preserves every callee-saved register.
    unsafe { kiln_enter_wasm(landing, func, callee, caller, values, len) }
}

/// The address of the landing pad, for the signal handler.
pub fn landing_pc() -> usize {
    kiln_entry_landing as *const () as usize
}

/// Abandons the current wasm activation and resumes at the entry stub's landing pad.
///
/// # Safety
///
/// `landing` must be the landing of an entry stub that is live on this thread's stack, and
/// every frame above it must be a wasm frame, a trampoline, or a Rust frame holding nothing
/// that needs dropping.
pub unsafe fn resume_to_landing(landing: &Landing) -> ! {
    // SAFETY: forwarded caller obligations.
    unsafe { kiln_resume_to_landing(landing.sp, landing.fp) }
}
