//! Unit tests of the runner: message matching, and small scripts run end to end.

use super::*;

#[test]
fn trap_messages() {
    assert!(trap_message_matches(
        "out of bounds memory access",
        "out of bounds memory access"
    ));
    assert!(trap_message_matches(
        "uninitialized element",
        "uninitialized element 2"
    ));
    assert!(trap_message_matches(
        "uninitialized element",
        "uninitialized"
    ));
    assert!(trap_message_matches(
        "undefined element",
        "undefined element"
    ));
    assert!(!trap_message_matches("unreachable", "integer overflow"));
    assert!(!trap_message_matches(
        "integer overflow",
        "uninitialized element 2"
    ));
}

fn run(script: &str) -> Outcome {
    let mut cx = WastContext::new(&Config::default()).expect("engine");
    cx.run_buffer("test.wast", script).expect("script parses")
}

#[test]
fn parse_error_is_an_error() {
    let mut cx = WastContext::new(&Config::default()).expect("engine");
    let err = cx.run_buffer("bad.wast", "(module").unwrap_err();
    assert!(err.to_string().contains("bad.wast"), "{err}");
}

#[test]
fn passing_script() {
    let outcome = run(r#"
        (module $m
          (func (export "add") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add)
          (func (export "div") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.div_s)
          (func (export "nan") (result f32) f32.const nan)
          (global (export "g") i32 (i32.const 7)))
        (assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 5))
        (assert_return (invoke $m "nan") (f32.const nan:canonical))
        (assert_return (get "g") (i32.const 7))
        (assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
        (register "m" $m)
        (module (import "m" "add" (func (param i32 i32) (result i32))))
        (assert_invalid (module (func (result i32))) "type mismatch")
        (assert_malformed (module quote "(func") "unexpected end")
        (assert_unlinkable (module (import "m" "nope" (func))) "unknown import")
    "#);
    assert!(outcome.is_success(), "{outcome}");
    assert_eq!(outcome.passed(), 10);
    assert_eq!(outcome.directives["assert_return"].passed, 3);
}

#[test]
fn failures_are_counted_and_located() {
    let outcome = run(r#"(module (func (export "one") (result i32) i32.const 1))
(assert_return (invoke "one") (i32.const 2))
(assert_trap (invoke "one") "unreachable")
(assert_return (invoke "missing"))
(assert_invalid (module (func (result i32) i32.const 0)) "type mismatch")
(assert_return (invoke "one") (i32.const 1))
"#);
    assert_eq!(outcome.passed(), 2, "{outcome}");
    assert_eq!(outcome.failed(), 4, "{outcome}");
    let first = &outcome.failures[0];
    assert_eq!((first.line, first.column), (2, 2));
    assert_eq!(first.directive, "assert_return");
    assert!(
        first
            .message
            .contains("expected i32.const 2, got i32.const 1"),
        "{first}"
    );
}

#[test]
fn spectest_imports() {
    let outcome = run(r#"
        (module
          (import "spectest" "print_i32" (func (param i32)))
          (import "spectest" "global_i32" (global i32))
          (import "spectest" "global_f64" (global f64))
          (import "spectest" "table" (table 10 funcref))
          (import "spectest" "memory" (memory 1 2))
          (func (export "g") (result i32) global.get 0)
          (func (export "f") (result f64) global.get 1)
          (func (export "p") i32.const 1 call 0))
        (assert_return (invoke "g") (i32.const 666))
        (assert_return (invoke "f") (f64.const 666.6))
        (invoke "p")
    "#);
    assert!(outcome.is_success(), "{outcome}");
}

#[test]
fn externref_round_trip() {
    let outcome = run(r#"
        (module (func (export "id") (param externref) (result externref) local.get 0))
        (assert_return (invoke "id" (ref.extern 3)) (ref.extern 3))
        (assert_return (invoke "id" (ref.null extern)) (ref.null extern))
    "#);
    assert!(outcome.is_success(), "{outcome}");
    let outcome = run(r#"
        (module (func (export "id") (param externref) (result externref) local.get 0))
        (assert_return (invoke "id" (ref.extern 3)) (ref.extern 4))
    "#);
    assert_eq!(outcome.failed(), 1, "{outcome}");
}

#[test]
fn trap_in_assert_return_is_one_line() {
    let outcome = run(r#"
        (module (func (export "die") (result i32) unreachable))
        (assert_return (invoke "die") (i32.const 0))
    "#);
    assert_eq!(outcome.failed(), 1, "{outcome}");
    let message = &outcome.failures[0].message;
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("unreachable"), "{message}");
}

#[test]
fn module_definitions_and_instances() {
    let outcome = run(r#"
        (module definition $D (func (export "f") (result i32) i32.const 9))
        (module instance $I1 $D)
        (module instance $I2 $D)
        (assert_return (invoke $I1 "f") (i32.const 9))
        (assert_return (invoke $I2 "f") (i32.const 9))
        (assert_return (invoke "f") (i32.const 9))
    "#);
    assert!(outcome.is_success(), "{outcome}");
}

#[test]
fn uninstantiable_module() {
    let outcome = run(r#"
        (assert_trap (module (func $f unreachable) (start $f)) "unreachable")
        (assert_trap (module (func $f nop) (start $f)) "unreachable")
    "#);
    assert_eq!(
        outcome.directives["assert_uninstantiable"].passed, 1,
        "{outcome}"
    );
    assert_eq!(
        outcome.directives["assert_uninstantiable"].failed, 1,
        "{outcome}"
    );
}

#[test]
fn malformed_binary_never_panics() {
    let outcome = run(r#"
        (assert_malformed (module binary "\00asm\01\00\00\00\01\ff\ff\ff\ff\0f") "length out of bounds")
        (assert_malformed (module binary "") "unexpected end")
        (assert_malformed (module quote "(module (func (i32.const 1 2)))") "unexpected token")
    "#);
    assert!(outcome.is_success(), "{outcome}");
}
