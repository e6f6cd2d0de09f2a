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
//! builtin trampolines.

use crate::abi;
use crate::link::{CompiledFunction, Linker};
use crate::trampolines;
use crate::translate::{self, TranslatedFunction};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
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
        ] {
            flags
                .set(name, value)
                .map_err(|e| format!("cranelift setting `{name}`: {e}"))?;
        }
        let isa = cranelift_native::builder()
            .map_err(|e| format!("unsupported host: {e}"))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| format!("cranelift: {e}"))?;
        if isa.pointer_type() != abi::POINTER {
            return Err("only 64-bit hosts are supported".to_string());
        }
        Ok(CraneliftCompiler { isa })
    }

    fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// Compiles one IR function to machine code.
    fn codegen(&self, func: Function) -> Result<CompiledFunction, String> {
        let mut ctx = Context::for_function(func);
        let compiled = match ctx.compile(self.isa(), &mut ControlPlane::default()) {
            Ok(c) => c,
            Err(e) => {
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
        };
        // `compile` borrows the context; the function it compiled is `ctx.func`.
        let compiled = compiled.clone();
        CompiledFunction::new(&ctx.func, &compiled)
    }

    fn compile_body(
        &self,
        module: &ModuleInfo,
        offsets: &VMOffsets,
        tunables: &Tunables,
        input: &kiln_environ::FunctionBodyInput<'_>,
    ) -> Result<(CompiledFunction, Vec<BuiltinFunction>), CompileError> {
        let func_index = translate::body_func_index(input);
        let mut fctx = FunctionBuilderContext::new();
        let TranslatedFunction {
            func,
            used_builtins,
        } = translate::translate_function(self.isa(), module, offsets, tunables, input, &mut fctx)
            .map_err(|error| compile_error(module, func_index, error))?;
        let start = input.body.range().start;
        let compiled = self
            .codegen(func)
            .map_err(|m| compile_error(module, func_index, WasmError::new(start, m)))?;
        Ok((compiled, used_builtins))
    }
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

        let link_err =
            |m: String| compile_error(module, 0, WasmError::new(0, format!("link: {m}")));
        let mut linker = Linker::default();
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
        let mut linker = Linker::default();
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
            )
            .map_err(|e| compile_error(module, index, e))?;
            out.push(t.func.display().to_string());
        }
        Ok(out)
    }
}
