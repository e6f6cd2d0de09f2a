//! Unit tests: small modules through the whole compiler, and the shape of the generated IR.

mod simd;

use crate::CraneliftCompiler;
use kiln_environ::{
    CompileError, CompiledCode, Compiler, FuncType, Trap, Tunables, WasmValType, translate_module,
    wasm_features,
};

fn explicit() -> Tunables {
    Tunables {
        memory_reservation: 0,
        memory_guard_size: 0,
        signals_based_traps: false,
        ..Tunables::default()
    }
}

fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("test module parses")
}

#[track_caller]
fn compile_with(wat: &str, tunables: &Tunables) -> Result<CompiledCode, CompileError> {
    let bytes = wasm(wat);
    let translation = translate_module(&bytes, wasm_features()).expect("module validates");
    let compiler = CraneliftCompiler::new(tunables).expect("host compiler");
    compiler.compile_module(&translation, tunables)
}

#[track_caller]
fn compile(wat: &str) -> CompiledCode {
    compile_with(wat, &Tunables::default()).expect("module compiles")
}

#[track_caller]
fn clif(wat: &str, tunables: &Tunables) -> Vec<String> {
    let bytes = wasm(wat);
    let translation = translate_module(&bytes, wasm_features()).expect("module validates");
    let compiler = CraneliftCompiler::new(tunables).expect("host compiler");
    compiler
        .clif(&translation, tunables)
        .expect("module translates")
}

#[test]
fn division_is_in_the_trap_table() {
    let wat = r#"(module (func (param i32 i32) (result i32)
        local.get 0 local.get 1 i32.div_s))"#;
    for t in [Tunables::default(), explicit()] {
        let code = compile_with(wat, &t).unwrap();
        assert!(!code.traps.is_empty(), "{t:?}");
        assert!(code.traps.windows(2).all(|w| w[0].0 <= w[1].0));
        let f = code.functions[0];
        assert!(
            code.traps
                .iter()
                .any(|&(off, _)| off >= f.start && off < f.start + f.length)
        );
    }
    let code = compile(wat);
    assert!(
        code.traps
            .iter()
            .any(|&(_, t)| t == Trap::IntegerDivisionByZero)
    );
}

#[test]
fn address_map_points_into_the_module() {
    let wat = r#"(module (func (param i32) (result i32)
        local.get 0 i32.const 1 i32.add i32.const 3 i32.mul))"#;
    let bytes = wasm(wat);
    let code = compile(wat);
    assert!(!code.address_map.is_empty());
    assert!(code.address_map.windows(2).all(|w| w[0].0 <= w[1].0));
    for &(pc, loc) in &code.address_map {
        assert!((pc as usize) < code.text.len());
        assert!((loc as usize) < bytes.len(), "{loc:#x}");
    }
}

#[test]
fn invalid_body_names_function_and_offset() {
    // Function 1 (after one import) pushes an i64 where an i32 result is expected.
    let wat = r#"(module
        (import "m" "f" (func))
        (func $ok (result i32) i32.const 1)
        (func $bad (result i32) i64.const 1))"#;
    let bytes = wasm(wat);
    let translation = translate_module(&bytes, wasm_features()).unwrap();
    let compiler = CraneliftCompiler::new(&Tunables::default()).unwrap();
    let err = compiler
        .compile_module(&translation, &Tunables::default())
        .unwrap_err();
    assert_eq!(err.func_index, 2);
    assert_eq!(err.func_name.as_deref(), Some("bad"));
    assert!(err.error.message.contains("type mismatch"), "{err}");
    // The error is at the function's final `end`, the last byte of its body.
    let body = &translation.function_bodies[1].body;
    assert_eq!(err.error.offset, body.range().end as u64 - 1, "{err}");
    assert!(err.to_string().contains("`bad` (index 2)"), "{err}");
}

#[test]
fn a_failed_translation_leaves_the_thread_able_to_compile() {
    // Compilation reuses per-thread contexts; one pool thread sees both modules, the first
    // of which stops translating half-way through a function.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let bad = "(module (func (result i32) (block (result i32) i32.const 1 i64.const 2)))";
        assert!(compile_with(bad, &Tunables::default()).is_err());
        let code = compile("(module (func (export \"f\") (result i32) i32.const 7))");
        assert_eq!(code.functions.len(), 1);
    });
}

#[test]
fn array_to_wasm_trampolines_for_escaping_functions_only() {
    let code = compile(
        r#"(module
            (import "m" "f" (func))
            (func $a (export "a") (param i32) (result i32) local.get 0)
            (func $b)
            (func $c (param f64 i64) (result f32 i32 i64) f32.const 1 i32.const 2 i64.const 3)
            (table 1 funcref) (elem (i32.const 0) $c))"#,
    );
    assert_eq!(code.functions.len(), 3);
    assert_eq!(code.array_to_wasm_trampolines.len(), 3);
    assert!(code.array_to_wasm_trampolines[0].is_some());
    assert!(code.array_to_wasm_trampolines[1].is_none());
    assert!(code.array_to_wasm_trampolines[2].is_some());
    for loc in code
        .functions
        .iter()
        .chain(code.array_to_wasm_trampolines.iter().flatten())
    {
        assert_eq!(loc.start % 16, 0);
        assert!(loc.length > 0);
        assert!((loc.start + loc.length) as usize <= code.text.len());
    }
}

#[test]
fn wasm_to_array_trampolines_compile() {
    use WasmValType::*;
    let compiler = CraneliftCompiler::new(&Tunables::default()).unwrap();
    let many = vec![I64; 40];
    let sigs = [
        FuncType::new([], []),
        FuncType::new([I32, I64, F32, F64], [F64]),
        FuncType::new([WasmValType::FUNCREF], [WasmValType::EXTERNREF, I32]),
        FuncType::new(many.clone(), many),
        FuncType::new([V128, I32, V128], [V128, V128]),
    ];
    for ty in &sigs {
        let code = compiler
            .compile_wasm_to_array_trampoline(ty, &Tunables::default())
            .unwrap();
        assert_eq!(code.functions.len(), 1);
        assert_eq!(code.functions[0].start, 0);
        assert!(code.functions[0].length as usize <= code.text.len());
    }
}

#[test]
fn target_description_names_triple_and_flags() {
    let compiler = CraneliftCompiler::new(&Tunables::default()).unwrap();
    let d = compiler.target_description();
    assert!(
        d.starts_with(&target_lexicon::Triple::host().architecture.to_string()),
        "{d}"
    );
    assert!(d.contains("opt_level=speed"), "{d}");
    assert!(d.contains("preserve_frame_pointers=true"), "{d}");
    let none = CraneliftCompiler::new(&Tunables {
        opt_level: kiln_environ::OptLevel::None,
        ..Tunables::default()
    })
    .unwrap();
    assert_ne!(none.target_description(), d);
}

#[test]
fn builtin_trampolines_are_linked_after_the_functions() {
    let code = compile(
        r#"(module (memory 1)
            (func (param i32) (result i32) local.get 0 memory.grow)
            (func (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill))"#,
    );
    let end = code
        .functions
        .iter()
        .map(|f| f.start + f.length)
        .max()
        .unwrap();
    assert!(code.text.len() > end as usize, "no builtin trampolines");
}

const EVERY_TRAP: &str = r#"(module
    (type $t (func (param i32) (result i32)))
    (memory 1)
    (table 2 funcref)
    (func $f (type $t) local.get 0)
    (func (param i32 i64 f32 f64) (result i32)
        local.get 0 local.get 0 i32.div_s drop
        local.get 1 local.get 1 i64.rem_u drop
        local.get 2 i32.trunc_f32_s drop
        local.get 3 i64.trunc_f64_u drop
        local.get 0 i32.load offset=12 drop
        local.get 0 local.get 1 i64.store32
        local.get 0 table.get 0 drop
        local.get 0 local.get 0 call_indirect (type $t) drop
        local.get 0 if unreachable end
        i32.const 0))"#;

#[test]
fn explicit_mode_never_relies_on_faults() {
    let text = clif(EVERY_TRAP, &explicit()).join("\n");
    for forbidden in [
        "trapz",
        "trapnz",
        "stack_limit",
        "fcvt_to_sint.i",
        "fcvt_to_uint.i",
    ] {
        assert!(!text.contains(forbidden), "found `{forbidden}` in\n{text}");
    }
    // Every `trap` follows a call to the `trap` builtin's trampoline.
    let traps = text.matches(" trap ").count() + text.matches(" trap user").count();
    assert!(traps > 0);
    assert!(text.contains("get_stack_pointer"), "{text}");
    assert!(text.contains("fcvt_to_sint_sat"), "{text}");
    // The signals configuration checks nothing it can leave to the guard region.
    let signals = clif(EVERY_TRAP, &Tunables::default()).join("\n");
    assert!(signals.contains("stack_limit"), "{signals}");
    assert!(signals.contains("trapz"), "{signals}");
}

#[test]
fn bounds_checks_follow_the_tunables() {
    let wat = r#"(module (memory 1 1) (func (param i32) (result i32) local.get 0 i32.load))"#;
    let count_checks = |t: &Tunables| clif(wat, t).join("\n").matches("icmp ugt").count();
    assert_eq!(count_checks(&Tunables::default()), 0);
    assert_eq!(count_checks(&explicit()), 1);
    // Signals on but a small reservation: explicit check, trapping in place.
    let small = Tunables {
        memory_reservation: 1 << 20,
        ..Tunables::default()
    };
    assert_eq!(count_checks(&small), 1);
    // An offset past the guard region needs a check even with a 4 GiB reservation.
    let far = r#"(module (memory 1) (func (param i32) (result i32) local.get 0 i32.load offset=0xffff0000))"#;
    let c = clif(far, &Tunables::default()).join("\n");
    assert!(c.contains("icmp ugt"), "{c}");
    // The base of a memory that cannot move is read-only and movable.
    let c = clif(wat, &Tunables::default()).join("\n");
    assert!(c.contains("readonly can_move"), "{c}");
}

#[test]
fn control_flow_and_multi_value_compile() {
    for t in [Tunables::default(), explicit()] {
        compile_with(
            r#"(module
                (func $swap (param i32 i64) (result i64 i32) local.get 1 local.get 0)
                (func (param i32) (result i32)
                    (block $out (result i32)
                        local.get 0
                        (loop $l (param i32) (result i32)
                            local.get 0
                            br_table $l $out $l))
                    i32.const 1 i64.const 2 call $swap drop drop
                    i32.const 5 i32.add)
                (func (param i32) (result i32 i32)
                    i32.const 1 i32.const 2
                    local.get 0
                    if (param i32 i32) (result i32 i32)
                        i32.add i32.const 0
                    end
                    br 0)
                (func (param i32) (result i32)
                    local.get 0
                    (if (then unreachable (block (result i32) i32.const 0 i32.const 1 br_if 0) drop))
                    (block (result i32) i32.const 7 local.get 0 br_if 0 drop i32.const 8)
                    local.get 0
                    i32.add))"#,
            &t,
        )
        .unwrap();
    }
}

#[test]
fn dump_clif_for_review() {
    if std::env::var_os("KILN_DUMP_CLIF").is_some() {
        for t in [Tunables::default(), explicit()] {
            for f in clif(EVERY_TRAP, &t) {
                println!("{f}");
            }
        }
    }
}

#[test]
fn offsets_beyond_any_memory_trap_unconditionally() {
    let wat = r#"(module (memory 1)
        (func (param i32) (result i32)
            local.get 0 i32.load offset=0xfffffffd
            local.get 0 i32.add
            local.get 0 i64.load offset=0xffffffff i32.wrap_i64 i32.add))"#;
    for t in [Tunables::default(), explicit()] {
        let text = clif(wat, &t).join("\n");
        assert!(!text.contains("icmp ugt"), "{text}");
        compile_with(wat, &t).unwrap();
    }
}

#[test]
fn if_without_else_branches_straight_to_its_end() {
    let blocks = |wat: &str| {
        let text = clif(wat, &Tunables::default()).join("\n");
        text.lines()
            .filter(|l| l.trim_start().starts_with("block"))
            .count()
    };
    // entry, `then`, the `if`'s end, the function's end: no jump-only `else` block.
    let no_else = r#"(module (global $g (mut i32) (i32.const 0))
        (func (param i32) (if (local.get 0) (then (global.set $g (i32.const 1))))))"#;
    assert_eq!(blocks(no_else), 4);
    // An `else` still gets its block, and the false edge reaches it, not the end.
    let with_else = r#"(module (global $g (mut i32) (i32.const 0))
        (func (param i32)
            (if (local.get 0)
                (then (global.set $g (i32.const 1)))
                (else (global.set $g (i32.const 2))))))"#;
    let text = clif(with_else, &Tunables::default()).join("\n");
    assert_eq!(blocks(with_else), 5, "{text}");
    assert!(text.contains("brif v2, block2, block4"), "{text}");
    // With parameters the `else` block is made up front, as before.
    let params = r#"(module
        (func (param i32) (result i32)
            (local.get 0) (local.get 0)
            (if (param i32) (result i32) (then (i32.const 1) (i32.add)))))"#;
    assert_eq!(blocks(params), 5);
}

#[test]
fn explicit_bounds_checks_carry_spectre_guards() {
    let count = |wat: &str, t: &Tunables, what: &str| clif(wat, t).join("\n").matches(what).count();
    // Memory: one guard per explicit check, none where guard pages make the check unneeded.
    let mem = r#"(module (memory 1)
        (func (param i32) (result i32)
            (i32.store offset=8 (local.get 0) (i32.const 1))
            (i32.load (local.get 0))))"#;
    assert_eq!(count(mem, &explicit(), "icmp ugt"), 2);
    assert_eq!(count(mem, &explicit(), "select_spectre_guard"), 2);
    assert_eq!(count(mem, &Tunables::default(), "select_spectre_guard"), 0);
    // Signals on but a small reservation: the check traps in place, and is guarded too.
    let small = Tunables {
        memory_reservation: 1 << 20,
        ..Tunables::default()
    };
    assert_eq!(count(mem, &small, "select_spectre_guard"), 2);
    // Tables: every element access is checked, and every check is guarded.
    let tables = r#"(module (table $t 2 funcref) (type $f (func))
        (func (param i32)
            (call_indirect (type $f) (local.get 0))
            (table.set $t (local.get 0) (table.get $t (local.get 0)))))"#;
    for t in [Tunables::default(), explicit()] {
        assert_eq!(count(tables, &t, "icmp uge"), 3);
        assert_eq!(count(tables, &t, "select_spectre_guard"), 3);
    }
}
