//! The `wasi_paths` oracle: generated path strings and symlink layouts against the
//! `kiln-wasi` capability layer. Whatever the guest does through its one preopened directory,
//! nothing outside that directory may be read, listed, stat'ed, created, changed or removed.
//!
//! Layout of one test case, in a fresh directory `base` under the system temp directory:
//!
//! ```text
//! base/up1/sibling            a file next to the preopen's parent
//! base/up1/up2/outside/       a directory beside the preopen, holding
//!              s3cr3t_outside a file whose contents are a per-run marker
//!              dir/           an empty directory
//! base/up1/up2/sandbox/       the preopen (fd 3), filled with generated directories, files
//!                             and symlinks whose targets point inside, outside, up, or at
//!                             absolute host paths
//! ```
//!
//! The guest (a small WAT module) runs a generated sequence of `path_open`, `fd_read`,
//! `fd_readdir`, `fd_write`, `path_filestat_get`, `fd_filestat_get`, `path_create_directory`,
//! `path_remove_directory`, `path_unlink_file`, `path_symlink`, `path_link`, `path_rename` and
//! `path_readlink`, on paths built from `..`, `.`, empty components, absolute prefixes, the
//! host's own absolute paths, link names, NULs and invalid UTF-8, and on directory
//! descriptors it opened itself. Findings:
//!
//! - any byte the guest read, or any directory entry it listed, reveals the outside file's
//!   marker or name;
//! - a `filestat` names the device and inode of anything outside the preopen;
//! - anything under `base` outside the preopen changed, or a name only the guest can create
//!   (`kzq_*`) appeared in `base`'s ancestors;
//! - a WASI call trapped (the guest's pointers are all valid) or the host panicked.

use arbitrary::{Result, Unstructured};
use kiln::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};
use kiln_wasi::{DirPerms, WasiCtx, WasiCtxBuilder};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The guest: one export per WASI call, with paths at `PATH_A` and `PATH_B`.
const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get"
    (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory"
    (func $path_remove_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink"
    (func $path_readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0x10: result fd / byte count; 0x20: iovec; 0x40: "guest-data"; 0x100: path A;
  ;; 0x400: path B; 0x800: filestat; 0x1000..0x2000: read buffer.
  (data (i32.const 0x40) "guest-data")
  (func (export "open") (param $dir i32) (param $dirflags i32) (param $len i32) (param $oflags i32)
    (param $rights i64) (param $fdflags i32) (result i32)
    (call $path_open (local.get $dir) (local.get $dirflags) (i32.const 0x100) (local.get $len)
      (local.get $oflags) (local.get $rights) (local.get $rights) (local.get $fdflags)
      (i32.const 0x10)))
  (func (export "read") (param $fd i32) (result i32)
    (i32.store (i32.const 0x20) (i32.const 0x1000))
    (i32.store (i32.const 0x24) (i32.const 0x1000))
    (call $fd_read (local.get $fd) (i32.const 0x20) (i32.const 1) (i32.const 0x10)))
  (func (export "write") (param $fd i32) (result i32)
    (i32.store (i32.const 0x20) (i32.const 0x40))
    (i32.store (i32.const 0x24) (i32.const 10))
    (call $fd_write (local.get $fd) (i32.const 0x20) (i32.const 1) (i32.const 0x10)))
  (func (export "close") (param $fd i32) (result i32)
    (call $fd_close (local.get $fd)))
  (func (export "readdir") (param $fd i32) (result i32)
    (call $fd_readdir (local.get $fd) (i32.const 0x1000) (i32.const 0x1000) (i64.const 0)
      (i32.const 0x10)))
  (func (export "fstat") (param $fd i32) (result i32)
    (call $fd_filestat_get (local.get $fd) (i32.const 0x800)))
  (func (export "stat") (param $dir i32) (param $flags i32) (param $len i32) (result i32)
    (call $path_filestat_get (local.get $dir) (local.get $flags) (i32.const 0x100) (local.get $len)
      (i32.const 0x800)))
  (func (export "mkdir") (param $dir i32) (param $len i32) (result i32)
    (call $path_create_directory (local.get $dir) (i32.const 0x100) (local.get $len)))
  (func (export "rmdir") (param $dir i32) (param $len i32) (result i32)
    (call $path_remove_directory (local.get $dir) (i32.const 0x100) (local.get $len)))
  (func (export "unlink") (param $dir i32) (param $len i32) (result i32)
    (call $path_unlink_file (local.get $dir) (i32.const 0x100) (local.get $len)))
  (func (export "symlink") (param $len_a i32) (param $dir i32) (param $len_b i32) (result i32)
    (call $path_symlink (i32.const 0x100) (local.get $len_a) (local.get $dir) (i32.const 0x400)
      (local.get $len_b)))
  (func (export "link") (param $dir_a i32) (param $flags i32) (param $len_a i32) (param $dir_b i32)
    (param $len_b i32) (result i32)
    (call $path_link (local.get $dir_a) (local.get $flags) (i32.const 0x100) (local.get $len_a)
      (local.get $dir_b) (i32.const 0x400) (local.get $len_b)))
  (func (export "rename") (param $dir_a i32) (param $len_a i32) (param $dir_b i32) (param $len_b i32)
    (result i32)
    (call $path_rename (local.get $dir_a) (i32.const 0x100) (local.get $len_a) (local.get $dir_b)
      (i32.const 0x400) (local.get $len_b)))
  (func (export "readlink") (param $dir i32) (param $len i32) (result i32)
    (call $path_readlink (local.get $dir) (i32.const 0x100) (local.get $len) (i32.const 0x1000)
      (i32.const 0x1000) (i32.const 0x10)))
)
"#;

/// WASI calls made: `[failed with an errno, succeeded]`.
static CALLS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// WASI calls made by this oracle in this process: (failed with an errno, succeeded).
pub fn call_counts() -> (u64, u64) {
    (
        CALLS[0].load(Ordering::Relaxed),
        CALLS[1].load(Ordering::Relaxed),
    )
}

const PATH_A: usize = 0x100;
const PATH_B: usize = 0x400;
const PATH_MAX: usize = 0x300;
const FILESTAT: usize = 0x800;
const BUF: usize = 0x1000;
const BUF_LEN: usize = 0x1000;

/// The name of the outside file; no generated path component contains it.
const SECRET_NAME: &str = "s3cr3t_outside";

/// Components generated paths are made of. Names the guest can create start with `kzq_`.
const COMPONENTS: &[&str] = &[
    ".", "..", "..", "", "kzq_a", "kzq_b", "kzq_dir", "link", "link2", "link3", "outside", "up2",
    "up1", "sandbox", "dir", "file", "sub",
];

fn engine_and_module() -> &'static (Engine, Module) {
    static CACHE: OnceLock<(Engine, Module)> = OnceLock::new();
    CACHE.get_or_init(|| {
        let engine = Engine::default();
        let module = Module::new(&engine, GUEST).expect("the guest compiles");
        (engine, module)
    })
}

/// A fresh directory for one test case; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kiln-fuzz-wasi-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One entry of a snapshot: file contents, symlink target, or a directory.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
    Other,
}

/// Everything under `root`, except the subtree at `skip`, without following symlinks.
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path == skip {
                continue;
            }
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let entry = if meta.is_dir() {
                todo.push(path.clone());
                Entry::Dir
            } else if meta.file_type().is_symlink() {
                Entry::Link(fs::read_link(&path).unwrap_or_default())
            } else if meta.is_file() {
                Entry::File(fs::read(&path).unwrap_or_default())
            } else {
                Entry::Other
            };
            out.insert(path, entry);
        }
    }
    out
}

/// Names starting with `kzq_` directly in `dir`.
fn guest_names_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.starts_with("kzq_"))
                .collect()
        })
        .unwrap_or_default()
}

/// A generated path: components, absolute prefixes, host paths, odd bytes.
fn gen_path(u: &mut Unstructured<'_>, host_paths: &[String]) -> Result<Vec<u8>> {
    let mut path = Vec::new();
    match u.int_in_range(0..=9u8)? {
        0 => path.push(b'/'),
        1 => path.extend_from_slice(u.choose(host_paths)?.as_bytes()),
        _ => {}
    }
    // Mostly short paths (which exist more often), sometimes long ones.
    let n = if u.ratio(3, 4)? {
        u.int_in_range(1..=3u8)?
    } else {
        u.int_in_range(0..=8u8)?
    };
    for i in 0..n {
        if i > 0 || path.last().is_some_and(|b| *b != b'/') {
            path.push(b'/');
        }
        path.extend_from_slice(u.choose(COMPONENTS)?.as_bytes());
    }
    match u.int_in_range(0..=15u8)? {
        0 => path.push(b'/'),
        1 => path.push(0),
        2 => path.push(0xff),
        3 => {
            let at = u.int_in_range(0..=path.len())?;
            path.insert(at, 0);
        }
        _ => {}
    }
    path.truncate(PATH_MAX);
    Ok(path)
}

struct Guest {
    store: Store<WasiCtx>,
    memory: Memory,
    instance: Instance,
}

impl Guest {
    fn func<P: kiln::WasmParams, R: kiln::WasmResults>(&mut self, name: &str) -> TypedFunc<P, R> {
        self.instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .expect("guest export")
    }

    /// Calls an export; a trap is a finding (the guest's pointers are all valid).
    fn call<P: kiln::WasmParams>(&mut self, name: &str, params: P) -> i32 {
        let f = self.func::<P, i32>(name);
        match f.call(&mut self.store, params) {
            Ok(errno) => {
                CALLS[usize::from(errno == 0)].fetch_add(1, Ordering::Relaxed);
                errno
            }
            Err(e) => panic!("WASI call `{name}` trapped on valid pointers: {e:?}"),
        }
    }

    fn set_path(&mut self, at: usize, path: &[u8]) -> i32 {
        self.memory
            .write(&mut self.store, at, path)
            .expect("path fits");
        path.len() as i32
    }

    fn word(&self, at: usize) -> u32 {
        let d = self.memory.data(&self.store);
        u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
    }

    fn clear_buffer(&mut self) {
        self.memory.data_mut(&mut self.store)[BUF..BUF + BUF_LEN].fill(0);
        self.memory.data_mut(&mut self.store)[FILESTAT..FILESTAT + 64].fill(0);
    }
}

/// Runs one `wasi_paths` input.
pub fn wasi_paths(u: &mut Unstructured<'_>) -> Result<()> {
    let scratch = Scratch::new();
    let base = scratch.0.clone();
    let up1 = base.join("up1");
    let up2 = up1.join("up2");
    let outside = up2.join("outside");
    let sandbox = up2.join("sandbox");
    fs::create_dir_all(outside.join("dir")).unwrap();
    fs::create_dir_all(&sandbox).unwrap();
    let marker = format!("KILN-FUZZ-MARKER-{}", u64::from_le_bytes(*b"kilnsecr"));
    fs::write(outside.join(SECRET_NAME), &marker).unwrap();
    fs::write(up1.join("sibling"), &marker).unwrap();

    // Host paths a guest might try to name directly.
    let host_paths: Vec<String> = [&base, &up1, &up2, &outside, &sandbox]
        .iter()
        .map(|p| p.display().to_string())
        .collect();

    // The sandbox's initial contents.
    let mut dirs = vec![sandbox.clone()];
    for _ in 0..u.int_in_range(0..=8u8)? {
        let parent = u.choose(&dirs)?.clone();
        let name = *u.choose(&["dir", "sub", "file", "link", "link2", "link3", "kzq_a"])?;
        let path = parent.join(name);
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match u.int_in_range(0..=3u8)? {
            0 => {
                fs::create_dir(&path).unwrap();
                dirs.push(path);
            }
            1 => fs::write(&path, b"inside").unwrap(),
            _ => {
                let target: String = match u.int_in_range(0..=9u8)? {
                    0 => "../outside".into(),
                    1 => format!("../outside/{SECRET_NAME}"),
                    2 => "..".into(),
                    3 => "../../..".into(),
                    4 => outside.display().to_string(),
                    5 => outside.join(SECRET_NAME).display().to_string(),
                    6 => "/".into(),
                    7 => ".".into(),
                    _ => String::from_utf8_lossy(&gen_path(u, &host_paths)?).into_owned(),
                };
                let _ = std::os::unix::fs::symlink(target.trim_end_matches('\0'), &path);
            }
        }
    }

    // Identities (device, inode) of everything outside the sandbox the guest must not stat.
    let mut forbidden = HashSet::new();
    for p in [&base, &up1, &up2, &outside, &outside.join("dir")] {
        let m = fs::metadata(p).unwrap();
        forbidden.insert((m.dev(), m.ino()));
    }
    for p in [outside.join(SECRET_NAME), up1.join("sibling")] {
        let m = fs::metadata(&p).unwrap();
        forbidden.insert((m.dev(), m.ino()));
    }
    let before = snapshot(&base, &sandbox);
    let ancestors: Vec<PathBuf> = base.ancestors().skip(1).map(Path::to_path_buf).collect();
    let names_before: Vec<Vec<String>> = ancestors.iter().map(|a| guest_names_in(a)).collect();

    let (engine, module) = engine_and_module();
    let mut linker: Linker<WasiCtx> = Linker::new(engine);
    kiln_wasi::add_to_linker(&mut linker, |cx| cx).expect("WASI links");
    let ctx = WasiCtxBuilder::new()
        .preopened_dir(&sandbox, "/sandbox", DirPerms::ReadWrite)
        .expect("preopen")
        .build();
    let mut store = Store::new(engine, ctx);
    let instance = linker
        .instantiate(&mut store, module)
        .expect("instantiate guest");
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    let mut g = Guest {
        store,
        memory,
        instance,
    };

    let mut fds: Vec<i32> = vec![3];
    let ops = u.int_in_range(1..=16u8)?;
    for _ in 0..ops {
        let dir = if u.ratio(1, 8)? {
            u.int_in_range(0..=12)?
        } else {
            *u.choose(&fds)?
        };
        let a = gen_path(u, &host_paths)?;
        let la = g.set_path(PATH_A, &a);
        g.clear_buffer();
        match u.int_in_range(0..=11u8)? {
            0 | 1 => {
                let dirflags = u.int_in_range(0..=1)?;
                // Mostly the combinations programs use, sometimes anything.
                let oflags = if u.ratio(2, 3)? {
                    *u.choose(&[0, 1, 2, 1 | 4, 1 | 8, 8])?
                } else {
                    u.int_in_range(0..=15)?
                };
                let fdflags = if u.ratio(1, 4)? {
                    u.int_in_range(0..=31)?
                } else {
                    0
                };
                let rights = if u.ratio(3, 4)? {
                    kiln_wasi::rights::ALL as i64
                } else {
                    u.arbitrary()?
                };
                if g.call("open", (dir, dirflags, la, oflags, rights, fdflags)) == 0 {
                    let fd = g.word(0x10) as i32;
                    fds.push(fd);
                    // Whatever it is, it must be inside.
                    if g.call("fstat", fd) == 0 {
                        check_filestat(&g, &forbidden, &a);
                    }
                    g.clear_buffer();
                    if g.call("read", fd) == 0 {
                        let n = g.word(0x10) as usize;
                        check_bytes(&g, n.min(BUF_LEN), &marker, &a);
                    }
                    g.clear_buffer();
                    if g.call("readdir", fd) == 0 {
                        let n = g.word(0x10) as usize;
                        check_bytes(&g, n.min(BUF_LEN), &marker, &a);
                    }
                    if u.ratio(1, 3)? {
                        g.call("write", fd);
                    }
                }
            }
            2 => {
                if g.call("stat", (dir, u.int_in_range(0..=1)?, la)) == 0 {
                    check_filestat(&g, &forbidden, &a);
                }
            }
            3 => {
                g.call("mkdir", (dir, la));
            }
            4 => {
                g.call("rmdir", (dir, la));
            }
            5 => {
                g.call("unlink", (dir, la));
            }
            6 => {
                let b = gen_path(u, &host_paths)?;
                let lb = g.set_path(PATH_B, &b);
                g.call("symlink", (la, dir, lb));
            }
            7 => {
                let b = gen_path(u, &host_paths)?;
                let lb = g.set_path(PATH_B, &b);
                let dir_b = *u.choose(&fds)?;
                g.call("link", (dir, u.int_in_range(0..=1)?, la, dir_b, lb));
            }
            8 => {
                let b = gen_path(u, &host_paths)?;
                let lb = g.set_path(PATH_B, &b);
                let dir_b = *u.choose(&fds)?;
                g.call("rename", (dir, la, dir_b, lb));
            }
            9 => {
                g.call("readlink", (dir, la));
            }
            10 => {
                // Close a descriptor the guest opened (closing the preopen would end the
                // test case early).
                if fds.len() > 1 {
                    let fd = fds[1 + u.choose_index(fds.len() - 1)?];
                    if g.call("close", fd) == 0 {
                        fds.retain(|f| *f != fd);
                    }
                }
            }
            _ => {
                let fd = *u.choose(&fds)?;
                if g.call("readdir", fd) == 0 {
                    let n = g.word(0x10) as usize;
                    check_bytes(&g, n.min(BUF_LEN), &marker, &a);
                }
            }
        }
    }
    drop(g);

    let after = snapshot(&base, &sandbox);
    if before != after {
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        panic!("the guest changed files outside its preopen: {changed:?}");
    }
    for (a, names) in ancestors.iter().zip(&names_before) {
        let now = guest_names_in(a);
        assert_eq!(&now, names, "the guest created entries in {}", a.display());
    }
    Ok(())
}

fn check_bytes(g: &Guest, n: usize, marker: &str, path: &[u8]) {
    let d = &g.memory.data(&g.store)[BUF..BUF + n];
    let has = |needle: &[u8]| d.windows(needle.len()).any(|w| w == needle);
    assert!(
        !has(marker.as_bytes()),
        "the guest read an outside file's contents through {:?}",
        String::from_utf8_lossy(path)
    );
    assert!(
        !has(SECRET_NAME.as_bytes()),
        "the guest listed an outside directory through {:?}",
        String::from_utf8_lossy(path)
    );
}

fn check_filestat(g: &Guest, forbidden: &HashSet<(u64, u64)>, path: &[u8]) {
    let d = &g.memory.data(&g.store)[FILESTAT..FILESTAT + 16];
    let dev = u64::from_le_bytes(d[0..8].try_into().unwrap());
    let ino = u64::from_le_bytes(d[8..16].try_into().unwrap());
    assert!(
        !forbidden.contains(&(dev, ino)),
        "the guest stat'ed an outside file through {:?}",
        String::from_utf8_lossy(path)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot sees a changed file, a new entry and a retargeted symlink, and skips the
    /// sandbox.
    #[test]
    fn snapshot_sees_changes_outside_the_sandbox() {
        let scratch = Scratch::new();
        let base = &scratch.0;
        let sandbox = base.join("sandbox");
        fs::create_dir_all(&sandbox).unwrap();
        fs::write(base.join("f"), "one").unwrap();
        std::os::unix::fs::symlink("a", base.join("l")).unwrap();
        let before = snapshot(base, &sandbox);
        fs::write(sandbox.join("inside"), "ignored").unwrap();
        assert_eq!(before, snapshot(base, &sandbox));
        fs::write(base.join("f"), "two").unwrap();
        assert_ne!(before, snapshot(base, &sandbox));
        fs::write(base.join("f"), "one").unwrap();
        fs::remove_file(base.join("l")).unwrap();
        std::os::unix::fs::symlink("b", base.join("l")).unwrap();
        assert_ne!(before, snapshot(base, &sandbox));
    }

    /// Paths respect the guest's buffer and use the component alphabet.
    #[test]
    fn generated_paths_fit_and_never_name_the_secret() {
        let mut rng = crate::smoke::Rng::new(9);
        for _ in 0..500 {
            let data = rng.bytes(256);
            let mut u = Unstructured::new(&data);
            let Ok(p) = gen_path(&mut u, &["/host/outside".to_string()]) else {
                continue;
            };
            assert!(p.len() <= PATH_MAX);
            assert!(!String::from_utf8_lossy(&p).contains(SECRET_NAME));
        }
    }
}
