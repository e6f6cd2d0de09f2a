//! `kiln wast`: run `.wast` spec scripts and report their counts.
//!
//! Prints one line per file (`i32.wast: 460 passed, 0 failed`) followed by its recorded
//! failures, then a final line `N passed, M failed` with the totals over every file. The exit
//! status is non-zero if any directive failed or any file could not be read or parsed.

use crate::EngineArgs;
use anyhow::Result;
use kiln::Engine;
use kiln_wast::WastContext;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kiln wast`.
#[derive(clap::Args, Debug)]
pub struct WastCommand {
    #[command(flatten)]
    engine: EngineArgs,

    /// The scripts to run.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

impl WastCommand {
    /// Runs the command.
    pub fn execute(self) -> Result<ExitCode> {
        let config = self.engine.config()?;
        let engine = Engine::new(&config)?;
        let (mut passed, mut failed, mut errors) = (0, 0, 0);
        for path in &self.files {
            // Each script gets its own store, linker and `spectest` instance.
            let outcome = WastContext::with_engine(&engine).and_then(|mut cx| cx.run_file(path));
            match outcome {
                Ok(outcome) => {
                    passed += outcome.passed();
                    failed += outcome.failed();
                    println!("{outcome}");
                }
                Err(e) => {
                    errors += 1;
                    println!("{}: error: {e:#}", path.display());
                }
            }
        }
        if errors > 0 {
            println!("{errors} files could not be run");
        }
        println!("{passed} passed, {failed} failed");
        Ok(if failed == 0 && errors == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}
