//! The modules the instantiation and call benchmarks use, shared by Kiln's benches
//! (`benches/instantiate.rs`, `benches/calls.rs`) and the Wasmtime peer's
//! (`bench/peers/wasmtime-bench`), so both runtimes measure the same bytes.

#![allow(dead_code, reason = "each bench uses only some of these")]

/// `(module)`.
pub fn empty() -> Vec<u8> {
    b"\0asm\x01\0\0\0".to_vec()
}

/// Size of the data segment in [`data_1mib`].
pub const DATA_SIZE: usize = 1 << 20;

/// A module with one memory of 17 pages and one active data segment of 1 MiB of pseudo-random
/// bytes at offset 1024, exporting the memory as `memory`.
pub fn data_1mib() -> Vec<u8> {
    let mut data = Vec::with_capacity(DATA_SIZE);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < DATA_SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    // Memory section: one memory, minimum 17 pages, no maximum.
    section(&mut m, 5, &[1, 0x00, 17]);
    // Export section: "memory" -> memory 0.
    let mut exports = vec![1];
    name(&mut exports, "memory");
    exports.extend_from_slice(&[0x02, 0]);
    section(&mut m, 7, &exports);
    // Data section: one active segment for memory 0 at (i32.const 1024).
    let mut seg = vec![1, 0x00, 0x41];
    seg.extend_from_slice(&leb_s(1024));
    seg.push(0x0b);
    seg.extend_from_slice(&leb_u(DATA_SIZE as u64));
    seg.extend_from_slice(&data);
    section(&mut m, 11, &seg);
    m
}

/// A WASI "Hello, world!" compiled from C with wasi-libc (`examples/hello.wasm`).
pub fn wasi_hello() -> Vec<u8> {
    include_bytes!("../../examples/hello.wasm").to_vec()
}

/// How many host calls one call of `call_typed_loop` / `call_dynamic_loop` makes.
pub const HOST_CALLS_PER_LOOP: i32 = 1000;

/// The call benchmarks' module, in the text format.
///
/// - `add1: (i32) -> i32` returns its argument plus one (host→wasm calls);
/// - `call_typed_loop: (i32) -> i32` calls the import `host.typed` (an `(i32) -> i32` host
///   function defined from a typed closure) [`HOST_CALLS_PER_LOOP`] times, threading the value
///   through, and returns it;
/// - `call_dynamic_loop` does the same with `host.dynamic` (defined from an untyped closure over
///   a slice of values).
pub const CALLS_WAT: &str = r#"
(module
  (import "host" "typed" (func $typed (param i32) (result i32)))
  (import "host" "dynamic" (func $dynamic (param i32) (result i32)))
  (func (export "add1") (param i32) (result i32)
    local.get 0
    i32.const 1
    i32.add)
  (func (export "call_typed_loop") (param $x i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $x (call $typed (local.get $x)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    local.get $x)
  (func (export "call_dynamic_loop") (param $x i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $x (call $dynamic (local.get $x)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    local.get $x))
"#;

fn section(m: &mut Vec<u8>, id: u8, payload: &[u8]) {
    m.push(id);
    m.extend_from_slice(&leb_u(payload.len() as u64));
    m.extend_from_slice(payload);
}

fn name(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&leb_u(s.len() as u64));
    out.extend_from_slice(s.as_bytes());
}

fn leb_u(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn leb_s(mut n: i64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if (n == 0 && b & 0x40 == 0) || (n == -1 && b & 0x40 != 0) {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}
