//! The `kiln` command-line tool: `kiln run`, `kiln wast`, `kiln inspect`, and the provenance
//! commands `kiln keygen`, `kiln sign` and `kiln verify` (`trust.rs`).
//!
//! Options follow Wasmtime's conventions: engine settings are `-O key=value`, options come
//! before the module, and what follows the module belongs to the program. `kiln run` also
//! accepts `--invoke NAME` right after the module (`kiln run m.wat --invoke add 2 3`).
//!
//! `unsafe` is denied in this crate; the one exception is loading a precompiled artifact that
//! failed authentication when the user explicitly passes `--allow-unauthenticated-precompiled`
//! (`compile.rs`).
//!
//! Errors print as `Error: ` followed by the error with its causes (for a trap: the trap
//! message and the wasm backtrace), and the exit status is 1.

#![deny(unsafe_code)]

mod compile;
mod inspect;
mod opts;
mod run;
mod trust;
mod wast;

use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "kiln",
    version,
    about = "Kiln, a secure and fast WebAssembly runtime",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WebAssembly module (`.wasm` or `.wat`).
    Run(Box<run::RunCommand>),
    /// Run `.wast` spec test scripts.
    Wast(wast::WastCommand),
    /// Print a module's imports, exports and sizes.
    Inspect(inspect::InspectCommand),
    /// Generate an Ed25519 key pair for signing modules.
    Keygen(trust::KeygenCommand),
    /// Sign a module (embedded signature, or detached with `--signature-file`).
    Sign(trust::SignCommand),
    /// Verify a module's signatures against trusted public keys.
    Verify(trust::VerifyCommand),
    /// Compile a module into an authenticated precompiled artifact (`.kwasm`).
    Compile(compile::CompileCommand),
    /// Print the settings that bind precompiled artifacts, and where the artifact key and the
    /// compile cache live.
    Settings(compile::SettingsCommand),
}

/// Engine options common to the commands that compile and run code.
#[derive(Args, Debug, Clone, Default)]
struct EngineArgs {
    /// Engine setting KEY=VALUE (repeatable, or comma-separated): opt-level=0|1|2|s,
    /// memory-reservation=BYTES, memory-guard-size=BYTES, signals-based-traps=y|n.
    #[arg(short = 'O', long = "optimize", value_name = "KEY=VALUE[,...]")]
    optimize: Vec<String>,
    /// Code generator setting (repeatable, or comma-separated): cranelift-<setting>[=<value>]
    /// sets a target CPU feature, e.g. cranelift-has-sse41=false.
    #[arg(short = 'C', long = "codegen", value_name = "KEY[=VALUE][,...]")]
    codegen: Vec<String>,
    /// WebAssembly runtime setting KEY=VALUE (repeatable, or comma-separated): fuel=N,
    /// timeout=DURATION, max-memory-size=BYTES, max-table-elements=N, max-instances=N,
    /// max-tables=N, max-memories=N, max-wasm-stack=BYTES, trap-on-grow-failure=y|n,
    /// relaxed-simd-deterministic=y|n, multi-memory=y|n.
    #[arg(short = 'W', long = "wasm", value_name = "KEY=VALUE[,...]")]
    wasm: Vec<String>,
    /// Profiling support: `perfmap` writes `/tmp/perf-<pid>.map` so `perf` can name compiled
    /// wasm functions.
    #[arg(long = "profile", value_name = "STRATEGY")]
    profile: Option<ProfileArg>,
}

/// A `--profile` strategy.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ProfileArg {
    /// `/tmp/perf-<pid>.map`, read by Linux `perf`.
    Perfmap,
}

impl EngineArgs {
    fn config(&self) -> anyhow::Result<kiln::Config> {
        let mut config = opts::EngineOptions::parse(&self.optimize)?.config();
        opts::CodegenOptions::parse(&self.codegen)?.apply(&mut config);
        self.wasm_options()?.apply_to_config(&mut config);
        if self.profile == Some(ProfileArg::Perfmap) {
            config.profiler(kiln::ProfilingStrategy::PerfMap);
        }
        Ok(config)
    }

    fn codegen_options(&self) -> anyhow::Result<opts::CodegenOptions> {
        opts::CodegenOptions::parse(&self.codegen)
    }

    fn wasm_options(&self) -> anyhow::Result<opts::WasmOptions> {
        opts::WasmOptions::parse(&self.wasm)
    }
}

/// The command line with `run` inserted when the first argument names no subcommand, so
/// `kiln app.wasm` and `kiln --dir . app.wasm` run the module, as with Wasmtime.
fn args_with_default_subcommand() -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let cmd = Cli::command();
        let known = cmd
            .get_subcommands()
            .any(|s| s.get_name() == first || s.get_all_aliases().any(|a| a == first));
        let top_level = ["help", "-h", "--help", "-V", "--version"].contains(&first);
        if !known && !top_level {
            args.insert(1, "run".into());
        }
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(args_with_default_subcommand());
    let result = match cli.command {
        Command::Run(cmd) => cmd.execute(),
        Command::Wast(cmd) => cmd.execute(),
        Command::Inspect(cmd) => cmd.execute(),
        Command::Keygen(cmd) => cmd.execute(),
        Command::Sign(cmd) => cmd.execute(),
        Command::Verify(cmd) => cmd.execute(),
        Command::Compile(cmd) => cmd.execute(),
        Command::Settings(cmd) => cmd.execute(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::FAILURE
        }
    }
}
