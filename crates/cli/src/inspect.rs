//! `kiln inspect`: print a module's imports, exports (with types) and sizes.
//!
//! The module is validated and compiled, so the report also gives the size of the generated
//! machine code beside the size of the wasm function bodies.

use anyhow::{Context, Result};
use kiln::{Engine, ExternType, Module};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kiln inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectCommand {
    /// The module, binary (`.wasm`) or text (`.wat`).
    #[arg(value_name = "FILE")]
    module: PathBuf,
}

impl InspectCommand {
    /// Runs the command.
    pub fn execute(self) -> Result<ExitCode> {
        let path = &self.module;
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        let wasm = wat::parse_bytes(&bytes).map_err(|mut e| {
            e.set_path(path);
            anyhow::anyhow!("{e}")
        })?;
        let translation = kiln_environ::translate_module(&wasm, kiln_environ::wasm_features())
            .with_context(|| format!("failed to validate {}", path.display()))?;
        let info = &translation.module;
        let body_bytes: u64 = translation
            .function_bodies
            .iter()
            .map(|b| b.body.range().end - b.body.range().start)
            .sum();

        let engine = Engine::default();
        let module = Module::from_binary(&engine, &wasm)
            .with_context(|| format!("failed to compile {}", path.display()))?;

        println!("module: {}", path.display());
        if let Some(name) = module.name() {
            println!("name: {name}");
        }
        println!("imports ({}):", module.imports().len());
        for import in module.imports() {
            println!(
                "  {}::{}: {}",
                import.module,
                import.name,
                describe(&import.ty)
            );
        }
        println!("exports ({}):", module.exports().len());
        for export in module.exports() {
            println!("  {}: {}", export.name, describe(&export.ty));
        }
        println!("sizes:");
        println!("  module: {} bytes", wasm.len());
        println!(
            "  functions: {} ({} imported, {} defined)",
            info.functions.len(),
            info.num_imported_funcs,
            info.num_defined_funcs()
        );
        println!("  code: {body_bytes} bytes of function bodies");
        println!("  machine code: {} bytes", module.code_size());
        println!(
            "  tables: {}, memories: {}, globals: {}, element segments: {}, data segments: {}",
            info.tables.len(),
            info.memories.len(),
            info.globals.len(),
            info.elements.len(),
            info.data.len()
        );
        Ok(ExitCode::SUCCESS)
    }
}

fn limits(min: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{min}..{max}"),
        None => format!("{min}.."),
    }
}

/// Describes an import or export type, such as `func (param i32) (result i32)` or
/// `memory 1..2 pages`.
fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => {
            let s = f.to_string();
            // `FuncType` displays as `(func ...)`; drop the parentheses for a flat listing.
            s.strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or(&s)
                .to_string()
        }
        ExternType::Global(g) => format!(
            "global {}{}",
            if g.mutable { "mut " } else { "" },
            g.content
        ),
        ExternType::Table(t) => format!("table {} {}", t.element, limits(t.minimum, t.maximum)),
        ExternType::Memory(m) => format!(
            "memory {} pages{}{}",
            limits(m.minimum, m.maximum),
            if m.memory64 { ", 64-bit" } else { "" },
            if m.shared { ", shared" } else { "" }
        ),
    }
}
