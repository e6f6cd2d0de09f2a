//! `kiln run`: run a WASI command, initialise a reactor and call one of its exports, or call
//! an export of any module.
//!
//! The guest gets WASI preview1 (and preview0) with only what the options grant: the
//! arguments after the module (with `argv[0]` the module path or `--argv0`), `--env`
//! variables, the host's stdio, and `--dir` preopens (`HOST[::GUEST][::ro]`, read-only with
//! `::ro`). Without `--invoke`, a command's `_start` (or the default export `""`) runs, and a
//! reactor's `_initialize`. With `--invoke NAME`, `_initialize` runs first if exported, then
//! NAME is called with the arguments after the module parsed by its parameter types, and each
//! result is printed on its own line.
//!
//! Exit status: the guest's `proc_exit(n)` becomes the process's status (`n & 0xff`, as for a
//! POSIX `exit`, except that a non-zero status whose low byte is 0 is 1); a trap prints the
//! message and wasm backtrace to stderr and exits with 134 (like an abort); other errors
//! (unknown imports name `module::name`) exit with 1.

use crate::EngineArgs;
use anyhow::{Context, Result, bail};
use kiln::{Engine, Extern, Func, Linker, Module, Store, Trap, Val, ValType};
use kiln_wasi::{DirPerms, I32Exit, WasiCtx, WasiCtxBuilder};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit status of a run that ended in a trap (128 + SIGABRT, as Wasmtime does).
const TRAP_EXIT_STATUS: u8 = 134;

/// Arguments of `kiln run`.
#[derive(clap::Args, Debug)]
pub struct RunCommand {
    #[command(flatten)]
    engine: EngineArgs,

    #[command(flatten)]
    provenance: crate::trust::ProvenanceArgs,

    #[command(flatten)]
    precompiled: crate::compile::PrecompiledArgs,

    /// Call the exported function NAME instead of the default export (`_start`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,

    /// Give the guest the host directory HOST, named GUEST (default: HOST as written);
    /// with `::ro` it is read-only. Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST][::ro]")]
    dirs: Vec<String>,

    /// Wasmtime's older spelling of a preopen: `--mapdir GUEST::HOST` is
    /// `--dir HOST::GUEST`.
    #[arg(long = "mapdir", value_name = "GUEST::HOST", hide = true)]
    mapdirs: Vec<String>,

    /// Set the guest environment variable NAME to VALUE, or to the host's value of NAME when
    /// no VALUE is given. Nothing else is inherited. Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    envs: Vec<String>,

    /// The program name the guest sees as `argv[0]` (default: the module path).
    #[arg(long, value_name = "NAME")]
    argv0: Option<String>,

    /// WASI setting KEY[=VALUE] (repeatable, or comma-separated): inherit-env[=y|n] (give the
    /// guest the whole host environment), tcplisten=ADDR (a listening TCP socket for
    /// `sock_accept`, after the preopened directories).
    #[arg(short = 'S', long = "wasi", value_name = "KEY[=VALUE][,...]")]
    wasi: Vec<String>,

    /// The module to run, binary (`.wasm`) or text (`.wat`).
    #[arg(value_name = "FILE")]
    module: PathBuf,

    /// Arguments of the program (or of the invoked function). `--invoke NAME` may also come
    /// first here.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// A `--dir` argument.
#[derive(Debug, PartialEq, Eq)]
struct DirArg {
    host: String,
    guest: String,
    perms: DirPerms,
}

/// Parses `HOST[::GUEST][::ro|::rw]`.
fn parse_dir(arg: &str) -> Result<DirArg> {
    let mut parts: Vec<&str> = arg.split("::").collect();
    let mut perms = DirPerms::ReadWrite;
    if parts.len() == 3 {
        perms = match parts.pop() {
            Some("ro") => DirPerms::ReadOnly,
            Some("rw") => DirPerms::ReadWrite,
            _ => bail!("invalid `--dir {arg}`: the third part must be `ro` or `rw`"),
        };
    }
    let (host, guest) = match parts.as_slice() {
        [host] => (*host, *host),
        [host, guest] => (*host, *guest),
        _ => bail!("invalid `--dir {arg}`: expected HOST[::GUEST][::ro]"),
    };
    if host.is_empty() || guest.is_empty() {
        bail!("invalid `--dir {arg}`: empty directory name");
    }
    Ok(DirArg {
        host: host.to_string(),
        guest: guest.to_string(),
        perms,
    })
}

/// The `-S` settings.
#[derive(Debug, Default)]
struct WasiOptions {
    inherit_env: bool,
    tcplisten: Vec<String>,
}

fn parse_wasi_options(args: &[String]) -> Result<WasiOptions> {
    let mut opts = WasiOptions::default();
    for item in args.iter().flat_map(|a| a.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (item, None),
        };
        match key {
            "inherit-env" => {
                opts.inherit_env = match value {
                    None | Some("y" | "yes" | "true") => true,
                    Some("n" | "no" | "false") => false,
                    Some(v) => bail!("invalid value `{v}` for `-S inherit-env`: expected y or n"),
                }
            }
            "tcplisten" => match value {
                Some(addr) if !addr.is_empty() => opts.tcplisten.push(addr.to_string()),
                _ => bail!("`-S tcplisten` needs an address, as in `-S tcplisten=127.0.0.1:8080`"),
            },
            _ => bail!("unknown WASI setting `-S {key}`: expected inherit-env or tcplisten"),
        }
    }
    Ok(opts)
}

impl RunCommand {
    /// Runs the command.
    pub fn execute(mut self) -> Result<ExitCode> {
        self.take_trailing_invoke()?;
        let config = self.provenance.configure(self.engine.config()?)?;
        let config = self.precompiled.configure(&self.engine, config)?;
        let engine = Engine::new(&config)?;
        let path = &self.module;
        // Refused here, before parsing, unless the provenance options are satisfied. A
        // precompiled artifact is authenticated first (see `Module::deserialize`).
        let module: Module = match self.precompiled.load_unauthenticated(&engine, path)? {
            Some(m) => m,
            None => self.provenance.load(&engine, path)?,
        };
        let wasi = self.wasi_ctx(&engine)?;
        let wasm_opts = self.engine.wasm_options()?;
        let state = RunState {
            wasi,
            limits: wasm_opts.store_limits(),
            wasm_opts,
        };
        let mut store = Store::new(&engine, state);
        let wasm_opts = store.data().wasm_opts.clone();
        wasm_opts.configure_store(&mut store, |s| &mut s.limits)?;
        let mut linker: Linker<RunState> = Linker::new(&engine);
        kiln_wasi::add_to_linker(&mut linker, |s: &mut RunState| &mut s.wasi)?;

        let instance = match linker.instantiate(&mut store, &module) {
            Ok(i) => i,
            Err(e) => {
                let e = wasm_opts.explain(e);
                return finish(Err(
                    e.context(format!("failed to instantiate {}", path.display()))
                ));
            }
        };

        let exports: Vec<String> = module.exports().map(|e| e.name.to_string()).collect();
        let has = |name: &str| exports.iter().any(|e| e == name);
        let is_command = has("_start");

        // A reactor is initialised before anything else is called.
        if !is_command && has("_initialize") {
            let init = instance
                .get_func(&mut store, "_initialize")
                .context("`_initialize` is not a function")?;
            if let Err(e) = call(&mut store, init, &[], &mut []) {
                return finish(Err(e.context("failed to invoke `_initialize`")));
            }
        }

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
                    // A reactor (or a module without entry point) has nothing more to run.
                    None => return Ok(ExitCode::SUCCESS),
                }
            }
        };

        let ty = func.ty(&store);
        let params = if self.invoke.is_some() {
            if self.args.len() != ty.params.len() {
                bail!(
                    "function `{name}` has type {ty} and takes {} arguments, but {} were given",
                    ty.params.len(),
                    self.args.len()
                );
            }
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
        match call(&mut store, func, &params, &mut results) {
            Ok(()) => {
                if self.invoke.is_some() {
                    for v in &results {
                        println!("{}", format_val(v));
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => finish(Err(e.context(format!("failed to invoke `{name}`")))),
        }
    }

    /// The guest's WASI context from the options. Refused capability uses go to the audit log
    /// of the engine's load policy (`--audit-log`), if there is one.
    fn wasi_ctx(&self, engine: &Engine) -> Result<WasiCtx> {
        let opts = parse_wasi_options(&self.wasi)?;
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdio();
        b.audit_module_name(self.module.display().to_string());
        if let Some(audit) = engine.audit() {
            b.audit(audit.clone());
        }
        let argv0 = match &self.argv0 {
            Some(a) => a.clone(),
            None => self.module.display().to_string(),
        };
        b.arg(argv0);
        if self.invoke.is_none() {
            b.args(self.args.iter().cloned());
        }
        if opts.inherit_env {
            b.inherit_env();
        }
        for e in &self.envs {
            match e.split_once('=') {
                Some((k, v)) => {
                    if k.is_empty() {
                        bail!("invalid `--env {e}`: empty variable name");
                    }
                    b.env(k, v);
                }
                None => {
                    if let Ok(v) = std::env::var(e) {
                        b.env(e.as_str(), v);
                    }
                }
            }
        }
        for d in &self.dirs {
            let d = parse_dir(d)?;
            b.preopened_dir(&d.host, d.guest, d.perms)?;
        }
        for m in &self.mapdirs {
            let Some((guest, host)) = m.split_once("::") else {
                bail!("invalid `--mapdir {m}`: expected GUEST::HOST");
            };
            b.preopened_dir(host, guest, DirPerms::ReadWrite)?;
        }
        for addr in &opts.tcplisten {
            let l = std::net::TcpListener::bind(addr)
                .with_context(|| format!("failed to listen on {addr}"))?;
            b.preopened_listener(l);
        }
        Ok(b.build())
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

/// Calls `func`; stdout is flushed afterwards so output ordering survives an exit.
fn call(
    store: &mut Store<RunState>,
    func: Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    let r = func
        .call(&mut *store, params, results)
        .map_err(|e| store.data().wasm_opts.explain(e));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    r
}

/// Turns the outcome of running guest code into the exit status: `proc_exit` is not an error,
/// a trap is reported here (message and backtrace) with status 134, anything else goes back
/// to `main`.
fn finish(r: Result<()>) -> Result<ExitCode> {
    let e = match r {
        Ok(()) => return Ok(ExitCode::SUCCESS),
        Err(e) => e,
    };
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        let code = exit.0;
        let status = (code & 0xff) as u8;
        let status = if status == 0 && code != 0 { 1 } else { status };
        return Ok(ExitCode::from(status));
    }
    // A trap, or a host function failing while wasm runs (a bad pointer passed to WASI):
    // both carry a wasm backtrace.
    if e.downcast_ref::<Trap>().is_some() || e.downcast_ref::<kiln::WasmBacktrace>().is_some() {
        eprintln!("Error: {e:?}");
        return Ok(ExitCode::from(TRAP_EXIT_STATUS));
    }
    Err(e)
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

/// What a `kiln run` store holds: the guest's WASI context, and the `-W` limits (the store's
/// limiter, when any limit was given).
struct RunState {
    wasi: WasiCtx,
    limits: Option<kiln::StoreLimits>,
    wasm_opts: crate::opts::WasmOptions,
}
