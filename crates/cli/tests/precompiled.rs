//! `kiln compile`, `kiln run app.kwasm`, the compile cache, and `kiln settings`. Every test
//! uses its own artifact key and cache directory (`KILN_ARTIFACT_KEY`, `KILN_CACHE_DIR`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WAT: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#;

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir =
            std::env::temp_dir().join(format!("kiln-precompiled-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.wat"), WAT).unwrap();
        Env { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    fn kiln_with_key(&self, key: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .current_dir(&self.dir)
            .env("KILN_ARTIFACT_KEY", self.path(key))
            .env("KILN_CACHE_DIR", self.path("cache"))
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .output()
            .expect("kiln runs")
    }

    fn kiln(&self, args: &[&str]) -> Output {
        self.kiln_with_key("artifact.key", args)
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn compile_then_run_the_artifact() {
    let env = Env::new("roundtrip");
    let o = env.kiln(&["compile", "m.wat", "-o", "m.kwasm"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = env.kiln(&["run", "m.kwasm", "--invoke", "add", "2", "3"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "5\n");
    // The default output name.
    let o = env.kiln(&["compile", "m.wat"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(env.path("m.kwasm").exists());
}

#[test]
fn foreign_or_tampered_artifacts_are_refused() {
    let env = Env::new("foreign");
    assert!(
        env.kiln(&["compile", "m.wat", "-o", "m.kwasm"])
            .status
            .success()
    );
    // Another user's key.
    let o = env.kiln_with_key(
        "other.key",
        &["run", "m.kwasm", "--invoke", "add", "2", "3"],
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("failed authentication"), "{}", err(&o));
    // ... unless the user explicitly accepts unauthenticated code.
    let o = env.kiln_with_key(
        "other.key",
        &[
            "run",
            "--allow-unauthenticated-precompiled",
            "m.kwasm",
            "--invoke",
            "add",
            "2",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "5\n");
    // A flipped byte.
    let mut bytes = std::fs::read(env.path("m.kwasm")).unwrap();
    let n = bytes.len();
    bytes[n / 3] ^= 0x10;
    std::fs::write(env.path("bad.kwasm"), &bytes).unwrap();
    let o = env.kiln(&["run", "bad.kwasm", "--invoke", "add", "2", "3"]);
    assert!(!o.status.success());
    assert!(err(&o).contains("failed authentication"), "{}", err(&o));
}

#[test]
fn setting_mismatch_names_the_setting() {
    let env = Env::new("mismatch");
    assert!(
        env.kiln(&["compile", "-O", "opt-level=0", "m.wat", "-o", "m.kwasm"])
            .status
            .success()
    );
    let o = env.kiln(&["run", "m.kwasm", "--invoke", "add", "2", "3"]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("opt_level` is none in the artifact but speed in this engine"),
        "{}",
        err(&o)
    );
    let o = env.kiln(&[
        "run",
        "-O",
        "opt-level=0",
        "m.kwasm",
        "--invoke",
        "add",
        "2",
        "3",
    ]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn run_uses_the_cache_by_default_and_can_be_told_not_to() {
    let env = Env::new("cache");
    let cache = env.path("cache");
    let o = env.kiln(&["run", "m.wat", "--invoke", "add", "2", "3"]);
    assert!(o.status.success(), "{}", err(&o));
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let first = std::fs::read(&entries[0]).unwrap();
    // A tampered entry is refused and replaced; the run still gives the right answer.
    let mut bad = first.clone();
    bad[first.len() / 2] ^= 1;
    std::fs::write(&entries[0], &bad).unwrap();
    let o = env.kiln(&["run", "m.wat", "--invoke", "add", "2", "3"]);
    assert_eq!(out(&o), "5\n", "{}", err(&o));
    assert_eq!(
        std::fs::read(&entries[0]).unwrap(),
        first,
        "entry rewritten"
    );
    // Disabled: no entry is written.
    std::fs::remove_dir_all(&cache).unwrap();
    for flags in [["--cache", "off"], ["-C", "cache=n"]] {
        let mut args = vec!["run"];
        args.extend(flags);
        args.extend(["m.wat", "--invoke", "add", "2", "3"]);
        let o = env.kiln(&args);
        assert_eq!(out(&o), "5\n", "{}", err(&o));
        assert!(cache_entries(&cache).is_empty());
    }
    // --cache-dir picks the directory.
    let o = env.kiln(&[
        "run",
        "--cache-dir",
        "elsewhere",
        "m.wat",
        "--invoke",
        "add",
        "2",
        "3",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(cache_entries(&env.path("elsewhere")).len(), 1);
}

#[test]
fn concurrent_runs_share_the_cache() {
    let env = Env::new("concurrent");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_kiln"))
                .args(["run", "m.wat", "--invoke", "add", "20", "22"])
                .current_dir(&env.dir)
                .env("KILN_ARTIFACT_KEY", env.path("artifact.key"))
                .env("KILN_CACHE_DIR", env.path("cache"))
                .output()
        })
        .collect();
    for c in children {
        let o = c.unwrap();
        assert_eq!(out(&o), "42\n", "{}", err(&o));
    }
    assert_eq!(cache_entries(&env.path("cache")).len(), 1);
}

#[test]
fn settings_show_the_key_and_cache_locations() {
    let env = Env::new("settings");
    let o = env.kiln(&["settings"]);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains(&format!(
            "Artifact key: {}",
            env.path("artifact.key").display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("Compile cache: {}", env.path("cache").display())),
        "{text}"
    );
    assert!(
        text.contains("target=") && text.contains("opt-level="),
        "{text}"
    );
}
