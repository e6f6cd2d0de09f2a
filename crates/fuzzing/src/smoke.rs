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
}

#[test]
fn wast() {
    // Each input is a whole spec script; the full suite runs in tests/wast.rs.
    run(24, 4, 64, oracles::wast);
}

#[test]
fn wasi_paths() {
    run(300, 5, 2048, oracles::wasi_paths);
}
