//! The `differential` oracle: Kiln against the `wasmi` interpreter.
//!
//! A `wasm-smith` module (Kiln's deterministic features: Wasm 2.0 with SIMD, no relaxed SIMD,
//! no imports, NaNs canonicalised by `wasm-smith` so every float result is bit-exact) is
//! instantiated in both engines, and every exported function is called, in export order, on
//! the same generated arguments. After each call the results or trap, every exported global,
//! every exported memory (size and bytes) and every exported table (size and which elements
//! are null) must agree. Kiln's configuration (opt level, guard pages or explicit checks,
//! baseline CPU) is random too.
//!
//! Behaviour the spec leaves to the implementation ends a test case without a verdict: running
//! out of fuel (the two engines count differently), stack exhaustion (depths differ), and
//! refused resource allocations. NaN results compare as NaNs (any payload), which only matters
//! for NaNs a module builds from bits.

use crate::generators::{self, FUEL, Features, KilnConfig, MAX_MEMORY_BYTES, MAX_TABLE_ELEMENTS};
use arbitrary::{Arbitrary, Result, Unstructured};
use kiln::{Engine, ExternType, Module, Trap, Val, ValType};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of what the differential oracle compared, for reports (`stats`).
static COUNTS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
const CASES: usize = 0;
const INSTANTIATED: usize = 1;
const SAME_VALUES: usize = 2;
const SAME_TRAPS: usize = 3;
const NO_VERDICT: usize = 4;

fn count(what: usize) {
    COUNTS[what].fetch_add(1, Ordering::Relaxed);
}

/// What the oracle has compared in this process so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Test cases run (module compiled by both engines).
    pub cases: u64,
    /// Test cases both engines instantiated.
    pub instantiated: u64,
    /// Calls whose results (and state afterwards) agreed.
    pub same_values: u64,
    /// Calls that trapped alike (and state afterwards agreed).
    pub same_traps: u64,
    /// Steps that ended a test case without a verdict (fuel, stack, resources).
    pub no_verdict: u64,
}

/// What the oracle has compared in this process so far.
pub fn stats() -> Stats {
    let get = |i: usize| COUNTS[i].load(Ordering::Relaxed);
    Stats {
        cases: get(CASES),
        instantiated: get(INSTANTIATED),
        same_values: get(SAME_VALUES),
        same_traps: get(SAME_TRAPS),
        no_verdict: get(NO_VERDICT),
    }
}

/// What one call (or instantiation) came to, in engine-neutral terms.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Returned these values.
    Values(Vec<Value>),
    /// Trapped, with this class of trap.
    Trap(TrapClass),
    /// Ran out of fuel or stack, or a resource was refused: implementation-defined.
    Exhausted(String),
}

/// A value, with references reduced to whether they are null.
#[derive(Debug, Clone)]
pub enum Value {
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `f32` bits.
    F32(u32),
    /// `f64` bits.
    F64(u64),
    /// `v128` bits.
    V128(u128),
    /// A reference; `true` if null.
    Ref(bool),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F32(a), Value::F32(b)) => {
                a == b || (f32::from_bits(*a).is_nan() && f32::from_bits(*b).is_nan())
            }
            (Value::F64(a), Value::F64(b)) => {
                a == b || (f64::from_bits(*a).is_nan() && f64::from_bits(*b).is_nan())
            }
            (Value::V128(a), Value::V128(b)) => a == b,
            (Value::Ref(a), Value::Ref(b)) => a == b,
            _ => false,
        }
    }
}

/// Traps grouped so that both engines' vocabularies map onto the same classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapClass {
    /// `unreachable`
    Unreachable,
    /// Out-of-bounds memory access.
    MemoryOutOfBounds,
    /// Out-of-bounds table access, including `call_indirect` past the table's end (wasmi
    /// reports both as one trap).
    TableOutOfBounds,
    /// `call_indirect` to a null element.
    IndirectCallToNull,
    /// `call_indirect` signature mismatch.
    BadSignature,
    /// Integer overflow (division or float-to-int conversion).
    IntegerOverflow,
    /// Integer division by zero.
    IntegerDivisionByZero,
    /// NaN to integer conversion.
    BadConversionToInteger,
    /// Null reference.
    NullReference,
}

fn kiln_outcome(result: anyhow::Result<Vec<Val>>) -> Outcome {
    match result {
        Ok(vals) => Outcome::Values(vals.iter().map(kiln_value).collect()),
        Err(e) => match e.downcast_ref::<Trap>() {
            Some(t) => match t {
                Trap::UnreachableCodeReached => Outcome::Trap(TrapClass::Unreachable),
                Trap::MemoryOutOfBounds => Outcome::Trap(TrapClass::MemoryOutOfBounds),
                Trap::TableOutOfBounds | Trap::IndirectCallOutOfBounds => {
                    Outcome::Trap(TrapClass::TableOutOfBounds)
                }
                Trap::IndirectCallToNull => Outcome::Trap(TrapClass::IndirectCallToNull),
                Trap::BadSignature => Outcome::Trap(TrapClass::BadSignature),
                Trap::IntegerOverflow => Outcome::Trap(TrapClass::IntegerOverflow),
                Trap::IntegerDivisionByZero => Outcome::Trap(TrapClass::IntegerDivisionByZero),
                Trap::BadConversionToInteger => Outcome::Trap(TrapClass::BadConversionToInteger),
                Trap::NullReference => Outcome::Trap(TrapClass::NullReference),
                Trap::StackOverflow
                | Trap::OutOfFuel
                | Trap::Interrupt
                | Trap::AllocationTooLarge => Outcome::Exhausted(format!("kiln: {t}")),
            },
            None => panic!("Kiln failed with a non-trap error: {e:?}"),
        },
    }
}

fn kiln_value(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(*x),
        Val::F64(x) => Value::F64(*x),
        Val::V128(x) => Value::V128(*x),
        Val::FuncRef(r) => Value::Ref(r.is_none()),
        Val::ExternRef(r) => Value::Ref(r.is_none()),
    }
}

fn wasmi_outcome(result: std::result::Result<Vec<wasmi::Val>, wasmi::Error>) -> Outcome {
    use wasmi::TrapCode as T;
    match result {
        Ok(vals) => Outcome::Values(vals.iter().map(wasmi_value).collect()),
        Err(e) => match e.as_trap_code() {
            Some(T::UnreachableCodeReached) => Outcome::Trap(TrapClass::Unreachable),
            Some(T::MemoryOutOfBounds) => Outcome::Trap(TrapClass::MemoryOutOfBounds),
            Some(T::TableOutOfBounds) => Outcome::Trap(TrapClass::TableOutOfBounds),
            Some(T::IndirectCallToNull) => Outcome::Trap(TrapClass::IndirectCallToNull),
            Some(T::BadSignature) => Outcome::Trap(TrapClass::BadSignature),
            Some(T::IntegerOverflow) => Outcome::Trap(TrapClass::IntegerOverflow),
            Some(T::IntegerDivisionByZero) => Outcome::Trap(TrapClass::IntegerDivisionByZero),
            Some(T::BadConversionToInteger) => Outcome::Trap(TrapClass::BadConversionToInteger),
            Some(t @ (T::StackOverflow | T::OutOfFuel | T::GrowthOperationLimited)) => {
                Outcome::Exhausted(format!("wasmi: {t:?}"))
            }
            _ => Outcome::Exhausted(format!("wasmi: {e}")),
        },
    }
}

fn wasmi_value(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::I32(*x),
        wasmi::Val::I64(x) => Value::I64(*x),
        wasmi::Val::F32(x) => Value::F32(x.to_bits()),
        wasmi::Val::F64(x) => Value::F64(x.to_bits()),
        wasmi::Val::V128(x) => Value::V128(x.as_u128()),
        wasmi::Val::FuncRef(r) => Value::Ref(r.is_null()),
        wasmi::Val::ExternRef(r) => Value::Ref(r.is_null()),
    }
}

fn to_wasmi(v: &Val) -> wasmi::Val {
    match v {
        Val::I32(x) => wasmi::Val::I32(*x),
        Val::I64(x) => wasmi::Val::I64(*x),
        Val::F32(x) => wasmi::Val::F32(wasmi::F32::from_bits(*x)),
        Val::F64(x) => wasmi::Val::F64(wasmi::F64::from_bits(*x)),
        Val::V128(x) => wasmi::Val::V128(wasmi::V128::from(*x)),
        Val::FuncRef(_) => wasmi::Val::default(wasmi::ValType::FuncRef),
        Val::ExternRef(_) => wasmi::Val::default(wasmi::ValType::ExternRef),
    }
}

fn wasmi_default(ty: ValType) -> wasmi::Val {
    to_wasmi(&Val::default_for(ty))
}

/// The engine-neutral outcome of both engines on one step, or `None` if the test case must
/// stop without a verdict.
fn agree(what: &str, kiln: Outcome, wasmi: Outcome) -> bool {
    match (&kiln, &wasmi) {
        (Outcome::Exhausted(_), _) | (_, Outcome::Exhausted(_)) => {
            count(NO_VERDICT);
            false
        }
        (Outcome::Trap(a), Outcome::Trap(b)) if a == b => {
            count(SAME_TRAPS);
            true
        }
        (Outcome::Values(a), Outcome::Values(b)) if a == b => {
            count(SAME_VALUES);
            true
        }
        _ => panic!("{what}: Kiln and wasmi disagree\n  kiln:  {kiln:?}\n  wasmi: {wasmi:?}"),
    }
}

/// The module and engine configuration of one differential test case.
pub struct Case {
    /// Kiln's engine configuration.
    pub kiln: KilnConfig,
    /// The module binary.
    pub wasm: Vec<u8>,
}

impl Case {
    /// A case from the input.
    pub fn generate(u: &mut Unstructured<'_>) -> Result<Case> {
        let kiln = KilnConfig::arbitrary(u)?;
        let mut config = generators::module_config(u, Features::Deterministic)?;
        config.max_imports = 0;
        config.min_imports = 0;
        config.canonicalize_nans = true;
        // Exports are what the oracle observes: export every function, global, memory and
        // table so that a wrong result cannot hide.
        config.export_everything = true;
        let wasm = generators::module(u, config)?;
        Ok(Case { kiln, wasm })
    }
}

/// Runs one `differential` input.
pub fn differential(u: &mut Unstructured<'_>) -> Result<()> {
    let case = Case::generate(u)?;
    run_case(&case, u)
}

/// Runs `case`, drawing call arguments from `u`.
pub fn run_case(case: &Case, u: &mut Unstructured<'_>) -> Result<()> {
    let mut config = case.kiln.to_config();
    config.consume_fuel(true);
    let engine = Engine::new(&config).expect("generated engine configuration is valid");
    let module = match Module::from_binary(&engine, &case.wasm) {
        Ok(m) => m,
        Err(e) => panic!("a valid module within Kiln's features failed to compile: {e:?}"),
    };

    let mut wconfig = wasmi::Config::default();
    wconfig
        .consume_fuel(true)
        .wasm_simd(true)
        .wasm_relaxed_simd(false)
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false);
    let wengine = wasmi::Engine::new(&wconfig);
    let Ok(wmodule) = wasmi::Module::new(&wengine, &case.wasm) else {
        // wasmi's own limits (not a Kiln finding).
        return Ok(());
    };

    count(CASES);
    let mut store = super::instantiate::new_store(&engine);
    store.set_fuel(FUEL).expect("fuel is on");
    let wlimits = wasmi::StoreLimitsBuilder::new()
        .memory_size(MAX_MEMORY_BYTES as usize)
        .table_elements(MAX_TABLE_ELEMENTS as usize)
        .build();
    let mut wstore = wasmi::Store::new(&wengine, wlimits);
    wstore.limiter(|l| l);
    wstore.set_fuel(FUEL).expect("fuel is on");

    let linker = kiln::Linker::new(&engine);
    let instance = linker.instantiate(&mut store, &module);
    let wlinker = wasmi::Linker::new(&wengine);
    let winstance = wlinker.instantiate_and_start(&mut wstore, &wmodule);
    let (instance, winstance) = match (instance, winstance) {
        (Ok(i), Ok(w)) => (i, w),
        (i, w) => {
            let k = match i {
                Ok(_) => Outcome::Values(Vec::new()),
                Err(e) if e.downcast_ref::<Trap>().is_some() => kiln_outcome(Err(e)),
                Err(e) => Outcome::Exhausted(format!("kiln: {e:#}")),
            };
            let w = match w {
                Ok(_) => Outcome::Values(Vec::new()),
                Err(e) => wasmi_outcome(Err(e)),
            };
            agree("instantiation", k, w);
            return Ok(());
        }
    };

    count(INSTANTIATED);
    let exports: Vec<(String, ExternType)> = module
        .exports()
        .map(|e| (e.name.to_string(), e.ty.clone()))
        .collect();
    for (name, ty) in &exports {
        let ExternType::Func(fty) = ty else { continue };
        let mut params = Vec::with_capacity(fty.params.len());
        for p in fty.params.iter() {
            params.push(super::arbitrary_val(u, *p)?);
        }
        let wparams: Vec<wasmi::Val> = params.iter().map(to_wasmi).collect();

        let f = instance
            .get_func(&mut store, name)
            .expect("exported function");
        let mut results: Vec<Val> = fty.results.iter().map(|t| Val::default_for(*t)).collect();
        store.set_fuel(FUEL).expect("fuel is on");
        let k = kiln_outcome(
            f.call(&mut store, &params, &mut results)
                .map(|()| results.clone()),
        );

        let wf = winstance
            .get_func(&wstore, name)
            .expect("exported function");
        let mut wresults: Vec<wasmi::Val> = fty.results.iter().map(|t| wasmi_default(*t)).collect();
        wstore.set_fuel(FUEL).expect("fuel is on");
        let w = wasmi_outcome(
            wf.call(&mut wstore, &wparams, &mut wresults)
                .map(|()| wresults.clone()),
        );
        if !agree(&format!("call of `{name}`"), k, w) {
            return Ok(());
        }
        compare_state(&exports, &instance, &mut store, &winstance, &wstore);
    }
    Ok(())
}

/// Exported globals, memories and tables agree.
fn compare_state<T: 'static, W>(
    exports: &[(String, ExternType)],
    instance: &kiln::Instance,
    store: &mut kiln::Store<T>,
    winstance: &wasmi::Instance,
    wstore: &wasmi::Store<W>,
) {
    for (name, ty) in exports {
        match ty {
            ExternType::Func(_) => {}
            ExternType::Global(_) => {
                let k = kiln_value(
                    &instance
                        .get_global(&mut *store, name)
                        .unwrap()
                        .get(&mut *store),
                );
                let w = wasmi_value(&winstance.get_global(wstore, name).unwrap().get(wstore));
                assert_eq!(k, w, "exported global `{name}` differs");
            }
            ExternType::Memory(_) => {
                let k = instance.get_memory(&mut *store, name).unwrap();
                let w = winstance.get_memory(wstore, name).unwrap();
                let (k, w) = (k.data(&*store), w.data(wstore));
                assert_eq!(
                    k.len(),
                    w.len(),
                    "exported memory `{name}` has another size"
                );
                if k != w {
                    let at = k.iter().zip(w).position(|(a, b)| a != b).unwrap();
                    panic!(
                        "exported memory `{name}` differs at byte {at:#x}: kiln {:#04x}, wasmi {:#04x}",
                        k[at], w[at]
                    );
                }
            }
            ExternType::Table(_) => {
                let k = instance.get_table(&mut *store, name).unwrap();
                let w = winstance.get_table(wstore, name).unwrap();
                let size = k.size(&*store);
                assert_eq!(
                    size,
                    w.size(wstore),
                    "exported table `{name}` has another size"
                );
                for i in 0..size {
                    let kn = match k.get(&mut *store, i) {
                        Some(Val::FuncRef(r)) => r.is_none(),
                        Some(Val::ExternRef(r)) => r.is_none(),
                        other => panic!("table element {i} of `{name}` is {other:?}"),
                    };
                    let wn = match w.get(wstore, i).expect("in bounds") {
                        wasmi::Val::FuncRef(r) => r.is_null(),
                        wasmi::Val::ExternRef(r) => r.is_null(),
                        other => panic!("wasmi table element {i} of `{name}` is {other:?}"),
                    };
                    assert_eq!(
                        kn, wn,
                        "element {i} of exported table `{name}` differs in nullness"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(wat: &str) -> Case {
        Case {
            kiln: KilnConfig::default_config(),
            wasm: wat::parse_str(wat).unwrap(),
        }
    }

    /// wasmi 2.0.0 traps "integer divide by zero" here although the divisor is `select`ed to
    /// be 0x20000000 (found by this oracle; the reason the oracle uses wasmi 1.1). Kiln and
    /// wasmi 1.1 both return `ctz(0) % 0x20000000 = 32`.
    #[test]
    fn select_guarded_remainder_agrees() {
        let wat = r#"
            (module
              (func (export "f") (result i32) (local i32 i32)
                local.get 0
                i32.ctz
                i32.const 0x20000000
                i32.const 0
                local.get 1
                i32.eqz
                select
                i32.rem_u))"#;
        let before = stats().same_values;
        run_case(&case(wat), &mut Unstructured::new(&[])).unwrap();
        assert!(stats().same_values > before);
        let engine = Engine::default();
        let module = Module::new(&engine, wat).unwrap();
        let mut store = kiln::Store::new(&engine, ());
        let instance = kiln::Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let f = instance.get_typed_func::<(), i32>(&mut store, "f").unwrap();
        assert_eq!(f.call(&mut store, ()).unwrap(), 32);
    }

    /// A real difference is reported: a module whose export differs between engines cannot
    /// be built, so check `agree` directly.
    #[test]
    #[should_panic(expected = "Kiln and wasmi disagree")]
    fn a_difference_is_a_finding() {
        agree(
            "call of `f`",
            Outcome::Values(vec![Value::I32(1)]),
            Outcome::Values(vec![Value::I32(2)]),
        );
    }

    /// NaNs compare as NaNs; everything else bit for bit.
    #[test]
    fn nans_compare_as_nans() {
        assert_eq!(Value::F32(0x7fc0_0000), Value::F32(0xffc0_0001));
        assert_eq!(
            Value::F64(0x7ff8_0000_0000_0000),
            Value::F64(0x7ff0_0000_0000_0001)
        );
        assert_ne!(Value::F32(0x8000_0000), Value::F32(0));
        assert_ne!(Value::V128(1), Value::V128(2));
    }

    /// Fuel and stack exhaustion end a test case without a verdict.
    #[test]
    fn exhaustion_is_no_verdict() {
        assert!(!agree(
            "call",
            Outcome::Exhausted("kiln: fuel".into()),
            Outcome::Values(vec![])
        ));
        assert!(!agree(
            "call",
            Outcome::Trap(TrapClass::Unreachable),
            Outcome::Exhausted("wasmi: StackOverflow".into())
        ));
        let wat = r#"(module (func (export "spin") (loop (br 0))))"#;
        run_case(&case(wat), &mut Unstructured::new(&[])).unwrap();
    }
}
