//! [`CraneliftCompiler`]: the ISA and flags, and the pipeline of `compile_module`.
//!
//! ```text
//!   bodies ──rayon──► translate_function ──► Context::compile ──► CompiledFunction
//!   escaped funcs ──rayon──► array-to-wasm trampolines ──────────► CompiledFunction
//!   builtins used ──────────► builtin trampolines ───────────────► CompiledFunction
//!                                                    serial link ──► CompiledCode
//! ```
//!
//! Text order: defined functions (in index order), then array-to-wasm trampolines, then
//! builtin trampolines, then the libcall stubs the functions call (`libcalls.rs`).

use crate::abi;
use crate::libcalls;
use crate::link::{CompiledFunction, Linker};
use crate::trampolines;
use crate::translate::{self, TranslatedFunction};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable, SettingKind};
use cranelift_codegen::{CodegenError, Context};
use cranelift_frontend::FunctionBuilderContext;
use kiln_environ::{
    BuiltinFunction, CompileError, CompiledCode, Compiler, FuncType, ModuleInfo, ModuleTranslation,
    OptLevel, Tunables, VMOffsets, WasmError,
};
use rayon::prelude::*;

/// Compiles wasm to native code for the host with Cranelift.
pub struct CraneliftCompiler {
    isa: OwnedTargetIsa,
}

impl std::fmt::Debug for CraneliftCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CraneliftCompiler")
            .field("triple", &self.isa.triple().to_string())
            .finish()
    }
}

impl CraneliftCompiler {
    /// A compiler for the host with the settings of `tunables`.
    pub fn new(tunables: &Tunables) -> Result<Self, String> {
        let mut flags = settings::builder();
        let opt_level = match tunables.opt_level {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        };
        let verifier = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        for (name, value) in [
            ("opt_level", opt_level),
            ("preserve_frame_pointers", "true"),
            ("enable_probestack", "false"),
            ("enable_multi_ret_implicit_sret", "true"),
            ("enable_verifier", verifier),
            // Libcalls become PC-relative calls that the linker resolves to `libcalls.rs`.
            ("use_colocated_libcalls", "true"),
        ] {
            flags
                .set(name, value)
                .map_err(|e| format!("cranelift setting `{name}`: {e}"))?;
        }
        let flags = settings::Flags::new(flags);
        let host = || cranelift_native::builder().map_err(|e| format!("unsupported host: {e}"));
        let native = host()?;
        let mut builder = host()?;
        apply_cpu_features(&mut builder, &tunables.cpu_features)?;
        let isa = builder
            .finish(flags.clone())
            .map_err(|e| format!("cranelift: {e}"))?;
        let native = native
            .finish(flags)
            .map_err(|e| format!("cranelift: {e}"))?;
        check_host_supports(&*isa, &*native)?;
        if isa.pointer_type() != abi::POINTER {
            return Err("only 64-bit hosts are supported".to_string());
        }
        Ok(CraneliftCompiler { isa })
    }

    fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// Compiles one IR function to machine code, in this thread's reusable context.
    fn codegen(&self, func: Function) -> Result<CompiledFunction, String> {
        with_contexts(|cx| {
            let ctx = &mut cx.codegen;
            ctx.clear();
            ctx.func = func;
            if let Err(e) = ctx.compile(self.isa(), &mut ControlPlane::default()) {
                return Err(match e.inner {
                    CodegenError::ImplLimitExceeded | CodegenError::CodeTooLarge => {
                        "function too large to compile".to_string()
                    }
                    CodegenError::Verifier(errors) => {
                        format!("internal error: generated invalid code: {errors}")
                    }
                    other => format!("internal error: code generation failed: {other}"),
                });
            }
            let compiled = ctx
                .compiled_code()
                .ok_or("internal error: no compiled code")?;
            CompiledFunction::new(&ctx.func, compiled)
        })
    }

    fn compile_body(
        &self,
        module: &ModuleInfo,
        offsets: &VMOffsets,
        tunables: &Tunables,
        input: &kiln_environ::FunctionBodyInput<'_>,
    ) -> Result<(CompiledFunction, Vec<BuiltinFunction>), CompileError> {
        let func_index = translate::body_func_index(input);
        let translated = with_contexts(|cx| {
            // A translation that stopped early (invalid code, or a panic) leaves the builder
            // context mid-function; it can only be replaced.
            if cx.builder_in_use {
                cx.builder = FunctionBuilderContext::new();
            }
            cx.builder_in_use = true;
            let result = translate::translate_function(
                self.isa(),
                module,
                offsets,
                tunables,
                input,
                &mut cx.builder,
                &mut cx.validator,
            );
            cx.builder_in_use = result.is_err();
            result
        });
        let TranslatedFunction {
            func,
            used_builtins,
        } = translated.map_err(|error| compile_error(module, func_index, error))?;
        let start = input.body.range().start;
        let compiled = self
            .codegen(func)
            .map_err(|m| compile_error(module, func_index, WasmError::new(start, m)))?;
        Ok((compiled, used_builtins))
    }
}

/// The per-thread state compilation reuses from one function to the next, so the allocations
/// of the validator, the function builder and Cranelift's context are made once per thread
/// rather than once per function.
struct Contexts {
    validator: wasmparser::FuncValidatorAllocations,
    builder: FunctionBuilderContext,
    /// Whether `builder` may hold a half-built function.
    builder_in_use: bool,
    codegen: Context,
}

thread_local! {
    static CONTEXTS: std::cell::RefCell<Contexts> = std::cell::RefCell::new(Contexts {
        validator: Default::default(),
        builder: FunctionBuilderContext::new(),
        builder_in_use: false,
        codegen: Context::new(),
    });
}

/// Runs `f` with this thread's [`Contexts`]. `f` must not call `with_contexts` itself.
fn with_contexts<R>(f: impl FnOnce(&mut Contexts) -> R) -> R {
    CONTEXTS.with(|c| f(&mut c.borrow_mut()))
}

/// Applies target CPU feature settings (Cranelift target-setting names such as `has_sse41`)
/// over the detected host features. Only target settings are accepted: shared settings can
/// change what the sandbox relies on (frame pointers, probestack, ...).
fn apply_cpu_features(
    builder: &mut cranelift_codegen::isa::Builder,
    features: &[(String, String)],
) -> Result<(), String> {
    for (name, value) in features {
        let setting = builder.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<&str> = builder
                .iter()
                .filter(|s| matches!(s.kind, SettingKind::Bool))
                .map(|s| s.name)
                .collect();
            format!(
                "unknown target CPU feature `{name}`; known features are: {}",
                known.join(", ")
            )
        })?;
        let result = match (setting.kind, value.as_str()) {
            (SettingKind::Bool | SettingKind::Preset, "") => builder.enable(name),
            (SettingKind::Preset, "true") => builder.enable(name),
            (SettingKind::Preset, _) => {
                return Err(format!(
                    "invalid value `{value}` for target CPU preset `{name}`: a preset can only \
                     be enabled"
                ));
            }
            _ => builder.set(name, value),
        };
        result
            .map_err(|e| format!("invalid value `{value}` for target CPU feature `{name}`: {e}"))?;
    }
    Ok(())
}

/// Refuses settings that enable a CPU feature the host lacks: code using it would die with
/// SIGILL.
pub(crate) fn check_host_supports(
    isa: &dyn TargetIsa,
    native: &dyn TargetIsa,
) -> Result<(), String> {
    let native = native.isa_flags();
    for flag in isa.isa_flags() {
        if flag.as_bool() != Some(true) {
            continue;
        }
        let supported = native
            .iter()
            .any(|n| n.name == flag.name && n.as_bool() == Some(true));
        if !supported {
            return Err(format!(
                "target CPU feature `{}` is enabled but the host CPU does not support it",
                flag.name
            ));
        }
    }
    Ok(())
}

fn compile_error(module: &ModuleInfo, func_index: u32, error: WasmError) -> CompileError {
    CompileError {
        func_index,
        func_name: module.func_names.get(&func_index).cloned(),
        error,
    }
}

impl Compiler for CraneliftCompiler {
    fn compile_module(
        &self,
        translation: &ModuleTranslation<'_>,
        tunables: &Tunables,
    ) -> Result<CompiledCode, CompileError> {
        let module = &translation.module;
        let offsets = VMOffsets::new(module);
        let num_defined = translation.function_bodies.len();
        let num_imported = module.num_imported_funcs;

        let bodies = translation
            .function_bodies
            .par_iter()
            .map(|input| self.compile_body(module, &offsets, tunables, input))
            .collect::<Vec<_>>();
        // Report the first failing function in index order.
        let bodies = bodies.into_iter().collect::<Result<Vec<_>, _>>()?;

        let escaped = module
            .escaped_funcs
            .iter()
            .copied()
            .filter(|&f| f >= num_imported && ((f - num_imported) as usize) < num_defined)
            .collect::<Vec<_>>();
        let array_trampolines = escaped
            .par_iter()
            .map(|&f| {
                let err = |m: String| compile_error(module, f, WasmError::new(0, m));
                let ty = module
                    .functions
                    .get(f as usize)
                    .and_then(|&t| module.types.get(t as usize))
                    .ok_or_else(|| err("internal error: function type out of range".into()))?;
                let mut fctx = FunctionBuilderContext::new();
                let func = trampolines::array_to_wasm(self.isa(), f, ty, &mut fctx)
                    .map_err(|e| compile_error(module, f, e))?;
                let code = self.codegen(func).map_err(err)?;
                Ok((f, code))
            })
            .collect::<Result<Vec<_>, CompileError>>()?;

        let mut used = Vec::new();
        for (_, builtins) in &bodies {
            for &b in builtins {
                if !used.contains(&b) {
                    used.push(b);
                }
            }
        }
        used.sort_by_key(|b| b.index());
        let mut fctx = FunctionBuilderContext::new();
        let mut builtin_code = Vec::with_capacity(used.len());
        for &b in &used {
            let func = trampolines::builtin_trampoline(self.isa(), b, &mut fctx);
            let code = self.codegen(func).map_err(|m| {
                compile_error(module, 0, WasmError::new(0, format!("builtin `{b}`: {m}")))
            })?;
            builtin_code.push((b, code));
        }

        // Stubs for the libcalls the backend emitted (only without SSE4.1 or SSSE3).
        let mut libcalls_used: Vec<u32> = bodies
            .iter()
            .flat_map(|(code, _)| code.named_targets(abi::NAMESPACE_LIBCALL))
            .collect();
        libcalls_used.sort_unstable();
        libcalls_used.dedup();
        let mut libcall_code = Vec::with_capacity(libcalls_used.len());
        for &index in &libcalls_used {
            let err = |m: String| compile_error(module, 0, WasmError::new(0, m));
            let stub = libcalls::from_index(index)
                .and_then(|lc| libcalls::stub(self.isa(), lc, &mut fctx))
                .ok_or_else(|| err(format!("internal error: no stub for libcall {index}")))?;
            let code = self
                .codegen(stub)
                .map_err(|m| err(format!("libcall stub {index}: {m}")))?;
            if code.named_targets(abi::NAMESPACE_LIBCALL).next().is_some() {
                return Err(err(format!(
                    "internal error: libcall stub {index} calls a libcall"
                )));
            }
            libcall_code.push((index, code));
        }

        let link_err =
            |m: String| compile_error(module, 0, WasmError::new(0, format!("link: {m}")));
        let mut linker = Linker::with_alignment(self.isa().function_alignment().preferred);
        let mut functions = Vec::with_capacity(num_defined);
        for (i, (code, _)) in bodies.iter().enumerate() {
            let index = num_imported + i as u32;
            functions.push(
                linker
                    .push(code, Some((abi::NAMESPACE_FUNC, index)))
                    .map_err(link_err)?,
            );
        }
        let mut array_to_wasm_trampolines = vec![None; num_defined];
        for (f, code) in &array_trampolines {
            let loc = linker.push(code, None).map_err(link_err)?;
            array_to_wasm_trampolines[(f - num_imported) as usize] = Some(loc);
        }
        for (b, code) in &builtin_code {
            linker
                .push(code, Some((abi::NAMESPACE_BUILTIN, b.index())))
                .map_err(link_err)?;
        }
        for (index, code) in &libcall_code {
            linker
                .push(code, Some((abi::NAMESPACE_LIBCALL, *index)))
                .map_err(link_err)?;
        }
        let linked = linker.finish().map_err(link_err)?;
        Ok(CompiledCode {
            text: linked.text,
            functions,
            array_to_wasm_trampolines,
            traps: linked.traps,
            address_map: linked.address_map,
        })
    }

    fn compile_wasm_to_array_trampoline(
        &self,
        ty: &FuncType,
        _tunables: &Tunables,
    ) -> Result<CompiledCode, CompileError> {
        let err = |error: WasmError| CompileError {
            func_index: 0,
            func_name: Some(format!("wasm-to-array trampoline for {ty}")),
            error,
        };
        let mut fctx = FunctionBuilderContext::new();
        let func = trampolines::wasm_to_array(self.isa(), ty, &mut fctx).map_err(err)?;
        let code = self.codegen(func).map_err(|m| err(WasmError::new(0, m)))?;
        let mut linker = Linker::with_alignment(self.isa().function_alignment().preferred);
        let loc = linker
            .push(&code, None)
            .map_err(|m| err(WasmError::new(0, m)))?;
        let linked = linker.finish().map_err(|m| err(WasmError::new(0, m)))?;
        Ok(CompiledCode {
            text: linked.text,
            functions: vec![loc],
            array_to_wasm_trampolines: Vec::new(),
            traps: linked.traps,
            address_map: linked.address_map,
        })
    }

    fn target_description(&self) -> String {
        let mut s = format!("{}", self.isa.triple());
        for v in self.isa.flags().iter() {
            s.push_str(&format!(" {}={}", v.name, v.value_string()));
        }
        for v in self.isa.isa_flags() {
            s.push_str(&format!(" {}={}", v.name, v.value_string()));
        }
        s
    }
}

#[cfg(test)]
impl CraneliftCompiler {
    /// The CLIF of every defined function, before code generation (for tests).
    pub(crate) fn clif(
        &self,
        translation: &ModuleTranslation<'_>,
        tunables: &Tunables,
    ) -> Result<Vec<String>, CompileError> {
        let module = &translation.module;
        let offsets = VMOffsets::new(module);
        let mut out = Vec::new();
        for input in &translation.function_bodies {
            let index = translate::body_func_index(input);
            let mut fctx = FunctionBuilderContext::new();
            let t = translate::translate_function(
                self.isa(),
                module,
                &offsets,
                tunables,
                input,
                &mut fctx,
                &mut Default::default(),
            )
            .map_err(|e| compile_error(module, index, e))?;
            out.push(t.func.display().to_string());
        }
        Ok(out)
    }
}
