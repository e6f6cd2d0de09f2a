//! `kiln run`: instantiate a module and call one of its functions.
//!
//! With `--invoke NAME` the arguments after the module are parsed by the function's parameter
//! types and each result is printed on its own line. Without it, the module's default export
//! (`_start`, or the empty name) is called if there is one. Imports are not provided yet
//! (WASI comes later), so a module with imports fails with the first missing `module::name`.

use crate::EngineArgs;
use anyhow::{Context, Result, bail};
use kiln::{Engine, Extern, Linker, Module, Store, Val, ValType};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kiln run`.
#[derive(clap::Args, Debug)]
pub struct RunCommand {
    #[command(flatten)]
    engine: EngineArgs,

    /// Call the exported function NAME instead of the default export (`_start`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,

    /// The module to run, binary (`.wasm`) or text (`.wat`).
    #[arg(value_name = "FILE")]
    module: PathBuf,

    /// Arguments of the invoked function. `--invoke NAME` may also come first here.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

impl RunCommand {
    /// Runs the command.
    pub fn execute(mut self) -> Result<ExitCode> {
        self.take_trailing_invoke()?;
        let config = self.engine.config()?;
        let engine = Engine::new(&config)?;
        let path = &self.module;
        let module = Module::from_file(&engine, path)?;
        let mut store = Store::new(&engine, ());
        let linker = Linker::new(&engine);
        let instance = linker
            .instantiate(&mut store, &module)
            .with_context(|| format!("failed to instantiate {}", path.display()))?;

        let (name, func) = match &self.invoke {
            Some(name) => match instance.get_export(&mut store, name) {
                Some(Extern::Func(f)) => (name.clone(), f),
                Some(other) => bail!("export `{name}` is a {}, not a function", other.kind()),
                None => bail!("{} has no export named `{name}`", path.display()),
            },
            None => {
                let default = ["_start", ""]
                    .into_iter()
                    .find_map(|n| instance.get_func(&mut store, n).map(|f| (n.to_string(), f)));
                match default {
                    Some(found) => found,
                    None if self.args.is_empty() => return Ok(ExitCode::SUCCESS),
                    None => bail!(
                        "{} has no `_start` export to pass arguments to; use `--invoke NAME`",
                        path.display()
                    ),
                }
            }
        };

        let ty = func.ty(&store);
        if self.invoke.is_some() && self.args.len() != ty.params.len() {
            bail!(
                "function `{name}` has type {ty} and takes {} arguments, but {} were given",
                ty.params.len(),
                self.args.len()
            );
        }
        let params = if self.invoke.is_some() {
            self.args
                .iter()
                .zip(ty.params.iter())
                .enumerate()
                .map(|(i, (arg, ty))| {
                    parse_arg(arg, *ty).with_context(|| format!("argument {} of `{name}`", i + 1))
                })
                .collect::<Result<Vec<_>>>()?
        } else if ty.params.is_empty() {
            Vec::new()
        } else {
            bail!("the default export `{name}` takes parameters; use `--invoke NAME ARGS...`");
        };
        let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
        func.call(&mut store, &params, &mut results)
            .with_context(|| format!("failed to invoke `{name}`"))?;
        for v in &results {
            println!("{}", format_val(v));
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Moves a `--invoke NAME` written right after the module out of the program arguments.
    fn take_trailing_invoke(&mut self) -> Result<()> {
        let Some(first) = self.args.first() else {
            return Ok(());
        };
        let name = if first == "--invoke" {
            match self.args.get(1) {
                Some(name) => {
                    let name = name.clone();
                    self.args.drain(..2);
                    name
                }
                None => bail!("`--invoke` needs a function name"),
            }
        } else if let Some(name) = first.strip_prefix("--invoke=") {
            let name = name.to_string();
            self.args.remove(0);
            name
        } else {
            return Ok(());
        };
        if self.invoke.is_some() {
            bail!("`--invoke` given twice");
        }
        self.invoke = Some(name);
        Ok(())
    }
}

/// Parses a command-line argument as a value of type `ty`.
fn parse_arg(arg: &str, ty: ValType) -> Result<Val> {
    let bad = || anyhow::anyhow!("invalid {ty} `{arg}`");
    Ok(match ty {
        ValType::I32 => Val::I32(
            parse_int(
                arg,
                |s, r| i32::from_str_radix(s, r).ok(),
                |s, r| u32::from_str_radix(s, r).ok().map(|u| u as i32),
            )
            .ok_or_else(bad)?,
        ),
        ValType::I64 => Val::I64(
            parse_int(
                arg,
                |s, r| i64::from_str_radix(s, r).ok(),
                |s, r| u64::from_str_radix(s, r).ok().map(|u| u as i64),
            )
            .ok_or_else(bad)?,
        ),
        ValType::F32 => Val::F32(arg.parse::<f32>().map_err(|_| bad())?.to_bits()),
        ValType::F64 => Val::F64(arg.parse::<f64>().map_err(|_| bad())?.to_bits()),
        ValType::V128 => {
            let hex = arg.strip_prefix("0x").ok_or_else(bad)?;
            Val::V128(u128::from_str_radix(hex, 16).map_err(|_| bad())?)
        }
        ValType::Ref(_) => bail!("cannot pass a {ty} from the command line"),
    })
}

/// Parses a decimal or `0x` integer, signed or in the unsigned range of the same width
/// (`4294967295` is the i32 `-1`).
fn parse_int<T>(
    arg: &str,
    signed: impl Fn(&str, u32) -> Option<T>,
    unsigned: impl Fn(&str, u32) -> Option<T>,
) -> Option<T> {
    let (negative, digits) = match arg.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let (digits, radix) = match digits.strip_prefix("0x") {
        Some(hex) => (hex, 16),
        None => (digits, 10),
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    if negative {
        signed(&format!("-{digits}"), radix)
    } else {
        signed(digits, radix).or_else(|| unsigned(digits, radix))
    }
}

/// Formats a result: integers in decimal, floats with Rust's default formatting.
fn format_val(v: &Val) -> String {
    match v {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(v) => format!("0x{v:032x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "<funcref>".to_string(),
        Val::ExternRef(Some(_)) => "<externref>".to_string(),
    }
}

#[cfg(test)]
mod tests;
