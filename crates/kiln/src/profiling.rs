//! Describing compiled code to external profilers (`Config::profiler`).
//!
//! `PerfMap`: one line per compiled function, `START SIZE NAME` in hex, in
//! `/tmp/perf-<pid>.map` (replaced by the process's first module, appended to after), the
//! file Linux `perf report` reads to name JIT code. Names are `wasm[MODULE]::NAME` with the
//! name section's name, or `function[INDEX]` without one.

use crate::runtime::vm::code_memory::CodeMemory;
use std::io::Write;
use std::sync::Mutex;

/// Serialises appends from modules published on several threads; `true` once this process
/// has written its map.
static PERF_MAP: Mutex<bool> = Mutex::new(false);

/// Appends `code`'s functions to this process's perf map. Failures are ignored: profiling
/// support never stops a module from loading.
pub(crate) fn perf_map_add(code: &CodeMemory) {
    let meta = code.meta();
    let module = meta.module_name.as_deref().unwrap_or("");
    let mut text = String::new();
    for (i, loc) in code.code().functions.iter().enumerate() {
        let index = meta.func_indices.get(i).copied().unwrap_or(i as u32);
        let name = match meta.func_names.get(i).and_then(Option::as_deref) {
            Some(n) => n.to_string(),
            None => format!("function[{index}]"),
        };
        // perf's parser splits on spaces; keep names to one word.
        let name = name.replace(char::is_whitespace, "_");
        text.push_str(&format!(
            "{:x} {:x} wasm[{module}]::{name}\n",
            code.addr(loc.start),
            loc.length
        ));
    }
    let mut written = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
    let path = format!("/tmp/perf-{}.map", std::process::id());
    // The first write replaces the file: one left by an earlier process with the same pid
    // would name code that is not ours.
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if *written {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    if let Ok(mut f) = options.open(path)
        && f.write_all(text.as_bytes()).is_ok()
    {
        *written = true;
    }
}
