//! kiln-wast: runs `.wast` scripts (the WebAssembly spec testsuite's format) against Kiln.
//!
//! A [`WastContext`] owns one engine, one store and one linker for a script, so modules
//! registered with `register` can be imported by later modules, as in the reference
//! interpreter. The `spectest` host module is defined up front ([`link_spectest`]).
//!
//! Every directive of a script runs, even after failures: each one counts as passed or failed
//! in the [`Outcome`], which also keeps the first failure messages with their `line:column`.
//! Only a script that does not parse is an error. A panic inside Kiln while running a
//! directive is caught and counted as that directive's failure, so one bug cannot hide the
//! rest of the results.
//!
//! ```no_run
//! let mut cx = kiln_wast::WastContext::new(&kiln::Config::default())?;
//! let outcome = cx.run_file("i32.wast".as_ref())?;
//! println!("{} passed, {} failed", outcome.passed(), outcome.failed());
//! # Ok::<(), anyhow::Error>(())
//! ```

#![forbid(unsafe_code)]

mod spectest;
mod values;

use anyhow::{Context, Result, anyhow, bail};
use kiln::{Config, Engine, Extern, Instance, Linker, Module, Store, Trap, Val};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, Wat};

pub use spectest::{GLOBAL_F32_BITS, GLOBAL_F64_BITS, link_spectest};
pub use values::{
    is_arithmetic_nan_f32, is_arithmetic_nan_f64, is_canonical_nan_f32, is_canonical_nan_f64,
};

/// How many failure messages an [`Outcome`] keeps; later failures are only counted.
pub const MAX_RECORDED_FAILURES: usize = 20;

/// Passed and failed counts of one directive kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Directives that did what the script expects.
    pub passed: usize,
    /// Directives that did not.
    pub failed: usize,
}

/// One failed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the directive.
    pub line: usize,
    /// 1-based column of the directive.
    pub column: usize,
    /// The directive's keyword, such as `assert_return`.
    pub directive: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.column, self.directive, self.message
        )
    }
}

/// The result of running one script.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The script's file name, as given to [`WastContext::run_buffer`].
    pub filename: String,
    /// Counts per directive keyword (`module`, `assert_return`, `assert_trap`, ...).
    pub directives: BTreeMap<&'static str, Counts>,
    /// The first [`MAX_RECORDED_FAILURES`] failures, in script order.
    pub failures: Vec<Failure>,
}

impl Outcome {
    /// Directives that passed.
    pub fn passed(&self) -> usize {
        self.directives.values().map(|c| c.passed).sum()
    }

    /// Directives that failed.
    pub fn failed(&self) -> usize {
        self.directives.values().map(|c| c.failed).sum()
    }

    /// Whether every directive passed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }

    fn record(&mut self, directive: &'static str, line: usize, column: usize, result: Result<()>) {
        let counts = self.directives.entry(directive).or_default();
        match result {
            Ok(()) => counts.passed += 1,
            Err(e) => {
                counts.failed += 1;
                if self.failures.len() < MAX_RECORDED_FAILURES {
                    self.failures.push(Failure {
                        line,
                        column,
                        directive,
                        message: one_line(&format!("{e:#}")),
                    });
                }
            }
        }
    }
}

impl fmt::Display for Outcome {
    /// `name: N passed, M failed`, then one line per recorded failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} passed, {} failed",
            self.filename,
            self.passed(),
            self.failed()
        )?;
        for failure in &self.failures {
            write!(f, "\n  {}:{failure}", self.filename)?;
        }
        let unrecorded = self.failed().saturating_sub(self.failures.len());
        if unrecorded > 0 {
            write!(f, "\n  ... and {unrecorded} more failures")?;
        }
        Ok(())
    }
}

/// Runs `.wast` scripts: one store, linker and set of named instances per context.
pub struct WastContext {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    /// The most recently instantiated module, the target of unnamed `invoke`/`get`/`register`.
    current: Option<Instance>,
    /// Instances of modules written with an id, such as `(module $M ...)`.
    instances: HashMap<String, Instance>,
    /// Modules from `(module definition $M ...)`.
    definitions: HashMap<String, Module>,
    /// The last `module definition`, the default of `module instance`.
    last_definition: Option<Module>,
}

impl WastContext {
    /// A context with a new engine built from `config`.
    pub fn new(config: &Config) -> Result<Self> {
        let engine = Engine::new(config).context("failed to create the engine")?;
        Self::with_engine(&engine)
    }

    /// A context whose modules compile with `engine` (an engine can be shared by contexts).
    pub fn with_engine(engine: &Engine) -> Result<Self> {
        let mut store = Store::new(engine, ());
        let mut linker = Linker::new(engine);
        linker.allow_shadowing(true);
        link_spectest(&mut linker, &mut store).context("failed to define the `spectest` module")?;
        Ok(WastContext {
            engine: engine.clone(),
            store,
            linker,
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
        })
    }

    /// Reads and runs the script at `path`.
    pub fn run_file(&mut self, path: &Path) -> Result<Outcome> {
        let contents = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        self.run_buffer(&path.display().to_string(), &contents)
    }

    /// Runs every directive of the script `contents`; `filename` names it in messages.
    /// Fails only if the script does not parse.
    pub fn run_buffer(&mut self, filename: &str, contents: &str) -> Result<Outcome> {
        let parse_error = |mut e: wast::Error| {
            e.set_path(Path::new(filename));
            e.set_text(contents);
            anyhow!("failed to parse {filename}: {e}")
        };
        let mut lexer = Lexer::new(contents);
        // `names.wast` uses bidirectional-override characters in export names on purpose.
        lexer.allow_confusing_unicode(true);
        let buf = ParseBuffer::new_with_lexer(lexer).map_err(parse_error)?;
        let wast = parser::parse::<Wast<'_>>(&buf).map_err(parse_error)?;

        let mut outcome = Outcome {
            filename: filename.to_string(),
            ..Outcome::default()
        };
        for directive in wast.directives {
            let (line, column) = directive.span().linecol_in(contents);
            let kind = directive_name(&directive);
            let result = catch_unwind(AssertUnwindSafe(|| self.run_directive(directive)))
                .unwrap_or_else(|payload| Err(anyhow!("panicked: {}", panic_message(&payload))));
            outcome.record(kind, line + 1, column + 1, result);
        }
        Ok(outcome)
    }

    fn run_directive(&mut self, directive: WastDirective<'_>) -> Result<()> {
        match directive {
            WastDirective::Module(mut wat) => {
                // A failed module leaves no current instance, so that later invokes fail
                // instead of running against an older module.
                self.current = None;
                let name = wat.name();
                let module = self.compile(&mut wat)?;
                let instance = self.instantiate(&module)?;
                self.name_instance(name, instance);
                Ok(())
            }
            WastDirective::ModuleDefinition(mut wat) => {
                let name = wat.name();
                let module = self.compile(&mut wat)?;
                if let Some(name) = name {
                    self.definitions
                        .insert(name.name().to_string(), module.clone());
                }
                self.last_definition = Some(module);
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                self.current = None;
                let module = match module {
                    Some(id) => self
                        .definitions
                        .get(id.name())
                        .cloned()
                        .ok_or_else(|| anyhow!("unknown module definition `${}`", id.name()))?,
                    None => self
                        .last_definition
                        .clone()
                        .ok_or_else(|| anyhow!("no module definition to instantiate"))?,
                };
                let inst = self.instantiate(&module)?;
                self.name_instance(instance, inst);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module)?;
                self.linker
                    .instance(&mut self.store, name, instance)
                    .with_context(|| format!("failed to register `{name}`"))?;
                Ok(())
            }
            WastDirective::Invoke(invoke) => {
                self.invoke(&invoke)?;
                Ok(())
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self.execute(exec)?;
                values::match_results(&self.store, &actual, &results)
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let result = self.execute(exec);
                self.expect_trap(result, message)
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let result = self.invoke(&call);
                self.expect_trap(result, message)
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            } => self.expect_compile_error(&mut module, message, "invalid"),
            WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => self.expect_compile_error(&mut module, message, "malformed"),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let module = self.compile(&mut QuoteWat::Wat(module))?;
                match self.linker.instantiate(&mut self.store, &module) {
                    Ok(_) => {
                        bail!("expected a link error ({message:?}), but instantiation succeeded")
                    }
                    Err(e) => match find_trap(&e) {
                        Some(trap) => bail!(
                            "expected a link error ({message:?}), but instantiation trapped: {trap}"
                        ),
                        None => Ok(()),
                    },
                }
            }
            other => bail!("unsupported directive `{}`", directive_name(&other)),
        }
    }

    /// Encodes and compiles a module of the script.
    fn compile(&mut self, wat: &mut QuoteWat<'_>) -> Result<Module> {
        if let QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..) = wat {
            bail!("components are not supported");
        }
        let bytes = wat
            .encode()
            .map_err(|e| anyhow!("failed to parse the module text: {}", e.message()))?;
        Module::from_binary(&self.engine, &bytes).context("failed to compile the module")
    }

    fn instantiate(&mut self, module: &Module) -> Result<Instance> {
        self.linker
            .instantiate(&mut self.store, module)
            .context("failed to instantiate the module")
    }

    /// Makes `instance` the current one, and remembers it under `name` if it has one.
    fn name_instance(&mut self, name: Option<Id<'_>>, instance: Instance) {
        if let Some(name) = name {
            self.instances.insert(name.name().to_string(), instance);
        }
        self.current = Some(instance);
    }

    /// The instance named `id`, or the current one.
    fn instance(&self, id: Option<Id<'_>>) -> Result<Instance> {
        match id {
            Some(id) => self
                .instances
                .get(id.name())
                .copied()
                .ok_or_else(|| anyhow!("unknown module `${}`", id.name())),
            None => self
                .current
                .ok_or_else(|| anyhow!("no module is instantiated")),
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>> {
        let instance = self.instance(invoke.module)?;
        let name = invoke.name;
        let func = match instance.get_export(&mut self.store, name) {
            Some(Extern::Func(f)) => f,
            Some(other) => bail!("export `{name}` is a {}, not a function", other.kind()),
            None => bail!("no export named `{name}`"),
        };
        let args = invoke
            .args
            .iter()
            .map(|a| values::arg_to_val(&mut self.store, a))
            .collect::<Result<Vec<_>>>()?;
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
        func.call(&mut self.store, &args, &mut results)?;
        Ok(results)
    }

    /// Runs what an assertion checks: a call, the instantiation of a module, or a global read.
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<Val>> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Wat(wat) => {
                let module = self.compile(&mut QuoteWat::Wat(wat))?;
                self.instantiate(&module)?;
                Ok(Vec::new())
            }
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module)?;
                match instance.get_export(&mut self.store, global) {
                    Some(Extern::Global(g)) => Ok(vec![g.get(&mut self.store)]),
                    Some(other) => bail!("export `{global}` is a {}, not a global", other.kind()),
                    None => bail!("no export named `{global}`"),
                }
            }
        }
    }

    fn expect_trap(&self, result: Result<Vec<Val>>, expected: &str) -> Result<()> {
        match result {
            Ok(vals) => bail!(
                "expected trap {expected:?}, got {}",
                values::format_vals(&self.store, &vals)
            ),
            Err(e) => match find_trap(&e) {
                Some(trap) if trap_message_matches(&trap.to_string(), expected) => Ok(()),
                Some(trap) => bail!(
                    "expected trap {expected:?}, got trap {:?}",
                    trap.to_string()
                ),
                None => bail!("expected trap {expected:?}, got error: {e:#}"),
            },
        }
    }

    fn expect_compile_error(
        &mut self,
        wat: &mut QuoteWat<'_>,
        message: &str,
        what: &str,
    ) -> Result<()> {
        match self.compile(wat) {
            Ok(_) => bail!("expected a {what} module ({message:?}), but it compiled"),
            Err(_) => Ok(()),
        }
    }
}

/// The trap at the root of `e`, if it is one.
fn find_trap(e: &anyhow::Error) -> Option<&Trap> {
    e.chain().find_map(|c| c.downcast_ref::<Trap>())
}

/// Whether a trap's message satisfies the message an assertion expects: the expected text is
/// a substring, except that the spec writes some messages with details Kiln does not report
/// (`uninitialized element 2` for an `uninitialized element` trap).
pub fn trap_message_matches(actual: &str, expected: &str) -> bool {
    if actual.contains(expected) {
        return true;
    }
    const DETAILED: &[&str] = &["uninitialized element", "undefined element"];
    DETAILED
        .iter()
        .any(|prefix| expected.starts_with(prefix) && actual.contains(prefix))
        || (expected == "uninitialized" && actual.contains("uninitialized element"))
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap {
            exec: WastExecute::Wat(_),
            ..
        } => "assert_uninstantiable",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

/// Joins the lines of a message (a trap's backtrace spans several) with single spaces, so
/// that every failure prints on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

#[cfg(test)]
mod tests;
