//! The compile cache: compiled modules stored as authenticated precompiled artifacts, so the
//! second load of a module skips compilation.
//!
//! Entries are content-addressed by (SHA-256 of the module, SHA-256 of the engine fingerprint)
//! and authenticated with the engine's artifact key exactly like `kiln compile` output: an
//! entry that fails authentication (modified, truncated, or written with another user's key)
//! is refused, counted, and replaced by a fresh compilation. Writers create a uniquely named
//! temporary file and rename it into place, so concurrent runs never see a partial entry. After
//! each write the least recently used entries are removed until the cache fits its size bound.

use crate::{Engine, Module, artifact};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of an engine's compile-cache use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules loaded from the cache.
    pub hits: u64,
    /// Modules compiled because no entry existed.
    pub misses: u64,
    /// Entries refused (failed authentication, or did not parse) and recompiled.
    pub refused: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    refused: AtomicU64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// Where the cache entry for `wasm` compiled by `engine` lives.
pub fn entry_path(engine: &Engine, dir: &Path, wasm: &[u8]) -> PathBuf {
    let module = artifact::hex(&artifact::sha256(wasm));
    let settings = artifact::hex(&artifact::sha256(engine.fingerprint().as_bytes()));
    dir.join(format!("{module}-{}.kwasm", &settings[..16]))
}

/// Loads `wasm` from the cache, or compiles it and stores the result.
pub(crate) fn get_or_compile(engine: &Engine, wasm: &[u8]) -> Result<Module> {
    let config = engine.config().cache.clone().expect("cache enabled");
    let stats = &engine.inner.cache_stats;
    // Without an artifact key (for example an unwritable home directory) there is no
    // authenticated cache: compile as if it were off rather than fail.
    let Ok(key) = engine.artifact_key() else {
        stats.misses.fetch_add(1, Ordering::Relaxed);
        let (info, code) = crate::module::compile_code(engine, wasm)?;
        return Module::from_parts(engine, wasm.into(), info, code);
    };
    let path = entry_path(engine, &config.dir, wasm);
    if let Ok(bytes) = std::fs::read(&path) {
        match Module::from_cache_entry(engine, &bytes, wasm) {
            Ok(module) => {
                stats.hits.fetch_add(1, Ordering::Relaxed);
                // Mark as recently used for eviction; failure only affects eviction order.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                return Ok(module);
            }
            Err(_) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    } else {
        stats.misses.fetch_add(1, Ordering::Relaxed);
    }
    let (info, code) = crate::module::compile_code(engine, wasm)?;
    let bytes = artifact::write(engine.fingerprint(), wasm, &code, &key);
    // A cache that cannot be written is not an error: the module still loads.
    let _ = store(&config.dir, &path, &bytes).and_then(|()| evict(&config.dir, config.max_size));
    Module::from_parts(engine, wasm.into(), info, code)
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("failed to create the cache directory {}", dir.display()))?;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("failed to write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

/// Removes least recently used entries until the cache holds at most `max_size` bytes.
fn evict(dir: &Path, max_size: u64) -> Result<()> {
    let mut entries = Vec::new();
    let mut total = 0u64;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        if !name.to_string_lossy().ends_with(".kwasm") {
            continue;
        }
        let meta = e.metadata()?;
        total += meta.len();
        let used = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        entries.push((used, meta.len(), e.path()));
    }
    if total <= max_size {
        return Ok(());
    }
    entries.sort();
    for (_, len, path) in entries {
        if total <= max_size {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
    Ok(())
}
