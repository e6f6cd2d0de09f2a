//! Smoke tests: every oracle on a few hundred pseudo-random inputs under plain `cargo test`.
//!
//! Inputs come from a fixed-seed generator, so a failure reproduces; the fuzz targets explore
//! the same oracles without bounds (`cargo +nightly fuzz run <target>` in `fuzz/`).

use crate::oracles;
use arbitrary::Unstructured;

/// xorshift64*: a tiny deterministic byte source.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Up to `max` random bytes.
    pub(crate) fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % (max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Runs `oracle` on `n` inputs of up to `max_len` bytes from `seed`.
///
/// `KILN_SMOKE_INPUTS=N` and `KILN_SMOKE_SEED=S` override the count and shift the seed, for a
/// longer run on the stable toolchain; `KILN_SMOKE_TRACE=1` prints each input's index and
/// saves it as `$TMPDIR/kiln-smoke-<index>.bin` (a file `cargo fuzz run` can replay).
fn run(
    n: usize,
    seed: u64,
    max_len: usize,
    oracle: fn(&mut Unstructured<'_>) -> arbitrary::Result<()>,
) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let n = env("KILN_SMOKE_INPUTS").map_or(n, |v| v as usize);
    let seed = seed.wrapping_add(env("KILN_SMOKE_SEED").unwrap_or(0).wrapping_mul(1000));
    let trace = std::env::var_os("KILN_SMOKE_TRACE").is_some();
    let mut rng = Rng::new(seed);
    let mut cases = 0;
    for i in 0..n {
        let data = rng.bytes(max_len);
        if trace {
            eprintln!("input {i}: {} bytes", data.len());
            let _ = std::fs::write(
                std::env::temp_dir().join(format!("kiln-smoke-{i}.bin")),
                &data,
            );
        }
        if oracle(&mut Unstructured::new(&data)).is_ok() {
            cases += 1;
        }
    }
    if trace {
        eprintln!("{cases} of {n} inputs made a test case");
    }
}

#[test]
fn compile() {
    run(300, 1, 8192, oracles::compile);
}

#[test]
fn instantiate() {
    run(300, 2, 8192, oracles::instantiate);
}

#[test]
fn differential() {
    run(300, 3, 8192, oracles::differential);
    if std::env::var_os("KILN_SMOKE_TRACE").is_some() {
        eprintln!("{:?}", oracles::stats());
    }
}

#[test]
fn wast() {
    // Each input is a whole spec script; the full suite runs in tests/wast.rs.
    run(24, 4, 64, oracles::wast);
}

#[test]
fn wasi_paths() {
    run(300, 5, 2048, oracles::wasi_paths);
    if std::env::var_os("KILN_SMOKE_TRACE").is_some() {
        eprintln!(
            "WASI calls (errno, success): {:?}",
            oracles::wasi_call_counts()
        );
    }
}

/// Replays one saved input (from `fuzz/artifacts/` or `KILN_SMOKE_TRACE`):
/// `KILN_REPLAY=<file> KILN_REPLAY_ORACLE=<oracle> cargo test -p kiln-fuzzing replay --
/// --ignored --nocapture`. For `differential` it also writes the generated module to
/// `<file>.wasm` and prints the engine configuration.
#[test]
#[ignore = "replays the input named by KILN_REPLAY"]
fn replay() {
    let path = std::env::var("KILN_REPLAY").expect("KILN_REPLAY names an input file");
    if path.ends_with(".wat") || path.ends_with(".wasm") {
        // A module to run differentially under the default configuration, zero arguments.
        let wasm = wat::parse_file(&path).expect("a module");
        let case = crate::oracles::differential::Case {
            kiln: crate::generators::KilnConfig::default_config(),
            wasm,
        };
        let result = crate::oracles::differential::run_case(&case, &mut Unstructured::new(&[]));
        eprintln!("{result:?}");
        return;
    }
    let oracle = std::env::var("KILN_REPLAY_ORACLE").unwrap_or_else(|_| "differential".into());
    if std::path::Path::new(&path).is_dir() {
        // A corpus: every input through the oracle, then what the differential compared.
        let mut inputs: Vec<_> = std::fs::read_dir(&path)
            .expect("read the corpus")
            .flatten()
            .map(|e| e.path())
            .collect();
        inputs.sort();
        let f = match oracle.as_str() {
            "compile" => oracles::compile,
            "instantiate" => oracles::instantiate,
            "wast" => oracles::wast,
            "wasi_paths" => oracles::wasi_paths,
            _ => oracles::differential,
        };
        for input in &inputs {
            let data = std::fs::read(input).expect("read an input");
            let _ = f(&mut Unstructured::new(&data));
        }
        eprintln!("{} inputs; {:?}", inputs.len(), oracles::stats());
        eprintln!(
            "WASI calls (errno, success): {:?}",
            oracles::wasi_call_counts()
        );
        return;
    }
    let data = std::fs::read(&path).expect("read the input");
    let mut u = Unstructured::new(&data);
    let result = match oracle.as_str() {
        "compile" => oracles::compile(&mut u),
        "instantiate" => oracles::instantiate(&mut u),
        "wast" => oracles::wast(&mut u),
        "wasi_paths" => oracles::wasi_paths(&mut u),
        _ => {
            let case = crate::oracles::differential::Case::generate(&mut u)
                .expect("the input makes a test case");
            eprintln!("{:?}", case.kiln);
            std::fs::write(format!("{path}.wasm"), &case.wasm).expect("write the module");
            crate::oracles::differential::run_case(&case, &mut u)
        }
    };
    eprintln!("{result:?}");
}
