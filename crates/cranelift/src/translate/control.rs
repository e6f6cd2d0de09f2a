//! The control stack: wasm's structured control flow mapped onto Cranelift blocks.
//!
//! Each `block`, `loop` and `if` pushes a [`Frame`]. Wasm block results become parameters of
//! the frame's `next` block (where `end` continues); loop parameters become parameters of the
//! loop's `header` block. Values on the wasm stack at an `if` dominate both arms, so the
//! `then` and `else` blocks take no parameters; the `if` keeps its parameter values to reset
//! the stack at `else`.
//!
//! A block is sealed once all its predecessors are known: the arms of an `if` and the
//! continuation of a `br_if` at once, `next` at `end`, a loop header at the loop's `end`.

use cranelift_codegen::ir::{Block, Inst, Value};

/// What kind of construct a frame is.
pub(crate) enum FrameKind {
    /// A `block`, or the function body itself (the outermost frame).
    Block,
    /// A `loop`; branches go back to `header`.
    Loop { header: Block },
    /// An `if`: `else_block` runs when the condition is zero. `params` are the values the
    /// `else` arm starts with.
    ///
    /// An `if` without parameters or results makes no `else` block up front: its `brif`
    /// (`branch`) sends the false edge straight to `next`, and only an `else` retargets that
    /// edge to a fresh block. Most `if`s have no `else`, and the jump-only block would be
    /// work for every later pass.
    If {
        else_block: Option<Block>,
        branch: Inst,
        else_seen: bool,
        params: Vec<Value>,
    },
}

/// One entry of the control stack.
pub(crate) struct Frame {
    pub kind: FrameKind,
    /// Where execution continues after `end`; its parameters are the frame's results.
    pub next: Block,
    pub num_params: usize,
    pub num_results: usize,
    /// Height of the value stack below the frame's parameters.
    pub base: usize,
    /// Whether some branch (or a fall-through) reaches `next`.
    pub next_reachable: bool,
}

impl Frame {
    /// The block a branch to this frame jumps to, and how many values it carries.
    pub fn branch_target(&mut self) -> (Block, usize) {
        match self.kind {
            FrameKind::Loop { header } => (header, self.num_params),
            _ => {
                self.next_reachable = true;
                (self.next, self.num_results)
            }
        }
    }
}
