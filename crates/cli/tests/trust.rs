//! End-to-end tests of `kiln keygen`, `kiln sign`, `kiln verify` and the provenance options of
//! `kiln run`, on the wasmsign2 interop vectors in `crates/trust/tests/vectors/`.

use kiln::trust::{self, KeyPair, wasm};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vector(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trust/tests/vectors")
        .join(name)
        .display()
        .to_string()
}

fn read_vector(name: &str) -> Vec<u8> {
    std::fs::read(vector(name)).unwrap()
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-cli-trust-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Runs `kiln` with `args`, where `@name` stands for the vector `name`.
fn kiln(args: &[&str]) -> Output {
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix('@') {
            Some(name) => vector(name),
            None => a.to_string(),
        })
        .collect();
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(&args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("failed to start kiln")
}

/// `a` followed by `b`.
fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    [a, b].concat()
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = kiln(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "kiln {args:?} failed: {stderr}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
fn fails(args: &[&str], needles: &[&str]) -> String {
    let o = kiln(args);
    assert!(
        !o.status.success(),
        "kiln {args:?} succeeded: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.starts_with("Error: "), "{err}");
    for n in needles {
        assert!(
            err.contains(n),
            "`{n}` not in stderr of kiln {args:?}:\n{err}"
        );
    }
    err
}

#[test]
fn verify_vectors() {
    for m in ["@signed.wasm", "@signed_nokid.wasm"] {
        let out = ok(&["verify", "--public-key", "@pk.key", m]);
        assert!(
            out.starts_with("valid: signed by 1 of the 1 required trusted keys (7fb4a1c5714a575dd1f5c9ab), whole module"),
            "{out}"
        );
        fails(
            &["verify", "--public-key", "@pk2.key", m],
            &["is not validly signed: no valid signature from a trusted key"],
        );
    }
    fails(
        &["verify", "--public-key", "@pk.key", "@tampered.wasm"],
        &["tampered.wasm is not validly signed"],
    );
    fails(
        &["verify", "--public-key", "@pk.key", "@answer.wasm"],
        &["module is not signed"],
    );
    let out = ok(&[
        "verify",
        "--public-key",
        "@pk.key",
        "--signature-file",
        "@sig.bin",
        "@answer.wasm",
    ]);
    assert!(out.contains("detached signature"), "{out}");
    fails(
        &[
            "verify",
            "--public-key",
            "@pk2.key",
            "--signature-file",
            "@sig.bin",
            "@answer.wasm",
        ],
        &["no valid signature"],
    );
    // Either key may sign: 1 of 2.
    ok(&[
        "verify",
        "--public-key",
        "@pk2.key",
        "--public-key",
        "@pk.key",
        "@signed.wasm",
    ]);
    fails(
        &[
            "verify",
            "--public-key",
            "@pk.key",
            "--threshold",
            "2",
            "@signed.wasm",
        ],
        &["threshold 2 must be between 1 and the number of distinct trusted keys (1)"],
    );
}

#[test]
fn sign_reproduces_the_vectors() {
    let dir = scratch("sign");
    let with_id = path(&dir, "with_id.wasm");
    ok(&[
        "sign",
        "--secret-key",
        "@sk.key",
        "--public-key",
        "@pk.key",
        "-o",
        &with_id,
        "@answer.wasm",
    ]);
    assert_eq!(std::fs::read(&with_id).unwrap(), read_vector("signed.wasm"));
    let no_id = path(&dir, "no_id.wasm");
    let out = ok(&[
        "sign",
        "--secret-key",
        "@sk.key",
        "-o",
        &no_id,
        "@answer.wasm",
    ]);
    assert!(out.contains("with key 7fb4a1c5714a575dd1f5c9ab"), "{out}");
    assert_eq!(
        std::fs::read(&no_id).unwrap(),
        read_vector("signed_nokid.wasm")
    );
    let sig = path(&dir, "sig.bin");
    ok(&[
        "sign",
        "--secret-key",
        "@sk.key",
        "--public-key",
        "@pk.key",
        "--signature-file",
        &sig,
        "@answer.wasm",
    ]);
    assert_eq!(std::fs::read(&sig).unwrap(), read_vector("sig.bin"));
    // Without -o the module is signed in place.
    let in_place = path(&dir, "in_place.wasm");
    std::fs::copy(vector("answer.wasm"), &in_place).unwrap();
    ok(&[
        "sign",
        "--secret-key",
        "@sk.key",
        "--public-key",
        "@pk.key",
        &in_place,
    ]);
    assert_eq!(
        std::fs::read(&in_place).unwrap(),
        read_vector("signed.wasm")
    );
    // Signing twice with the same key is refused; a mismatched public key too.
    fails(
        &["sign", "--secret-key", "@sk.key", &in_place],
        &["already signed by key 7fb4a1c5714a575dd1f5c9ab"],
    );
    fails(
        &[
            "sign",
            "--secret-key",
            "@sk.key",
            "--public-key",
            "@pk2.key",
            "@answer.wasm",
        ],
        &["pk2.key is not the public key of"],
    );
    fails(
        &["sign", "--secret-key", "@pk.key", "@answer.wasm"],
        &["this is a public key"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keygen_sign_verify_two_signers() {
    let dir = scratch("keygen");
    let [pk_a, sk_a, pk_b, sk_b] = ["a.pk", "a.sk", "b.pk", "b.sk"].map(|n| path(&dir, n));
    let out = ok(&["keygen", "--public-key", &pk_a, "--secret-key", &sk_a]);
    assert!(out.starts_with("key id "), "{out}");
    ok(&["keygen", "--public-key", &pk_b, "--secret-key", &sk_b]);
    assert_eq!(std::fs::read(&pk_a).unwrap().len(), 33);
    assert_eq!(std::fs::read(&sk_a).unwrap().len(), 65);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sk_a).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    fails(
        &[
            "keygen",
            "--public-key",
            &path(&dir, "new.pk"),
            "--secret-key",
            &sk_a,
        ],
        &["already exists; not overwriting a key"],
    );

    let m = path(&dir, "m.wasm");
    std::fs::copy(vector("answer.wasm"), &m).unwrap();
    ok(&["sign", "--secret-key", &sk_a, "--public-key", &pk_a, &m]);
    let two = [
        "verify",
        "--public-key",
        &pk_a,
        "--public-key",
        &pk_b,
        "--threshold",
        "2",
    ];
    fails(
        &[&two[..], &[m.as_str()]].concat(),
        &["signed by only 1 of the 2 required trusted keys"],
    );
    ok(&["sign", "--secret-key", &sk_b, "--public-key", &pk_b, &m]);
    let out = ok(&[&two[..], &[m.as_str()]].concat());
    assert!(
        out.starts_with("valid: signed by 2 of the 2 required"),
        "{out}"
    );
    // The same key given twice is still one key.
    fails(
        &[
            "verify",
            "--public-key",
            &pk_a,
            "--public-key",
            &pk_a,
            "--threshold",
            "2",
            &m,
        ],
        &["distinct trusted keys (1)"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_module_fails_unless_partial_is_allowed() {
    let dir = scratch("partial");
    let key = KeyPair::parse(&read_vector("sk.key")).unwrap();
    let mut n = 0u8;
    let split = wasm::add_delimiters(
        &read_vector("answer.wasm"),
        |_| true,
        || {
            n += 1;
            Ok([n; 16])
        },
    )
    .unwrap();
    let signed = trust::sign(&split, &key, None).unwrap();
    let full = path(&dir, "full.wasm");
    std::fs::write(&full, &signed).unwrap();
    // Drop the last part (the custom section and its delimiter).
    let l = wasm::layout(&signed).unwrap();
    let cut = wasm::content_hashes(&signed[l.content_start..]).boundaries[3].0;
    let truncated = path(&dir, "truncated.wasm");
    std::fs::write(&truncated, &signed[..l.content_start + cut]).unwrap();

    ok(&["verify", "--public-key", "@pk.key", &full]);
    fails(
        &["verify", "--public-key", "@pk.key", &truncated],
        &["covers only a prefix", "partial signatures are not allowed"],
    );
    let out = ok(&[
        "verify",
        "--public-key",
        "@pk.key",
        "--allow-partial",
        &truncated,
    ]);
    assert!(out.contains("partial"), "{out}");
    // `kiln run` refuses it the same way, and runs it when partial signatures are allowed
    // (the truncated module still has its code).
    fails(
        &[
            "run",
            "--require-signature",
            "--trust",
            "@pk.key",
            &truncated,
            "--invoke",
            "answer",
        ],
        &["covers only a prefix"],
    );
    let out = ok(&[
        "run",
        "--require-signature",
        "--trust",
        "@pk.key",
        "--allow-partial-signature",
        &truncated,
        "--invoke",
        "answer",
    ]);
    assert_eq!(out, "42\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_requires_a_signature() {
    let run = ["run", "--require-signature", "--trust", "@pk.key"];
    assert_eq!(
        ok(&cat(&run, &["@signed.wasm", "--invoke", "answer"])),
        "42\n"
    );
    assert_eq!(
        ok(&cat(&run, &["@signed_nokid.wasm", "--invoke", "answer"])),
        "42\n"
    );
    assert_eq!(
        ok(&cat(
            &run,
            &[
                "--signature-file",
                "@sig.bin",
                "@answer.wasm",
                "--invoke",
                "answer"
            ]
        )),
        "42\n"
    );
    fails(
        &cat(&run, &["@answer.wasm", "--invoke", "answer"]),
        &["answer.wasm` refused by the load policy: module is not signed"],
    );
    fails(
        &cat(&run, &["@tampered.wasm", "--invoke", "answer"]),
        &["tampered.wasm` refused by the load policy"],
    );
    fails(
        &[
            "run",
            "--require-signature",
            "--trust",
            "@pk2.key",
            "@signed.wasm",
        ],
        &["no valid signature from a trusted key"],
    );
    fails(
        &["run", "--require-signature", "@signed.wasm"],
        &["needs at least one `--trust PK`"],
    );
    // Without --require-signature the other options are rejected by the argument parser.
    let o = kiln(&["run", "--trust", "@pk.key", "@signed.wasm"]);
    assert!(!o.status.success());
}

#[test]
fn run_refuses_before_parsing() {
    let dir = scratch("garbage");
    // A file no parser would accept: the refusal names the policy, not a parse error.
    let garbage = path(&dir, "garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f").unwrap();
    let err = fails(
        &["run", "--require-signature", "--trust", "@pk.key", &garbage],
        &["refused by the load policy: module is not signed"],
    );
    assert!(!err.contains("failed to compile"), "{err}");
    let text = path(&dir, "m.wat");
    std::fs::write(&text, "(module)").unwrap();
    fails(
        &["run", "--require-signature", "--trust", "@pk.key", &text],
        &[
            "not a WebAssembly binary",
            "text modules cannot carry signatures",
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_with_pins_and_audit_log() {
    let dir = scratch("pins");
    let pins = path(&dir, "pins.txt");
    let answer_hash = trust::encoding::hex(&trust::sha256(&read_vector("answer.wasm")));
    std::fs::write(
        &pins,
        format!("# allowed modules\n{answer_hash}  answer.wasm\n"),
    )
    .unwrap();
    let log = path(&dir, "audit.jsonl");
    let run = ["run", "--pin", &pins, "--audit-log", &log];
    assert_eq!(
        ok(&cat(&run, &["@answer.wasm", "--invoke", "answer"])),
        "42\n"
    );
    fails(
        &cat(&run, &["@signed.wasm", "--invoke", "answer"]),
        &["is not in the pin file"],
    );
    // Pins and signatures together.
    fails(
        &cat(
            &run,
            &["--require-signature", "--trust", "@pk.key", "@answer.wasm"],
        ),
        &["module is not signed"],
    );
    let bad_pins = path(&dir, "bad.txt");
    std::fs::write(&bad_pins, "abc  x.wasm\n").unwrap();
    fails(
        &["run", "--pin", &bad_pins, "@answer.wasm"],
        &["invalid pin file: line 1"],
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("\"event\":\"load\""), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("\"sha256\":\"{answer_hash}\"")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("\"size\":61,"), "{}", lines[0]);
    assert!(lines[0].contains("\"pin\":\"answer.wasm\""), "{}", lines[0]);
    assert!(lines[0].contains("\"verdict\":\"allow\""), "{}", lines[0]);
    assert!(lines[1].contains("\"verdict\":\"deny\""), "{}", lines[1]);
    assert!(lines[1].contains("not in the pin file"), "{}", lines[1]);
    assert!(
        lines[2].contains("\"require_signature\":true"),
        "{}",
        lines[2]
    );
    assert!(
        lines[2].contains("\"trusted\":[\"7fb4a1c5714a575dd1f5c9ab\"]"),
        "{}",
        lines[2]
    );

    // An audit log alone records decisions without enforcing anything.
    let log2 = path(&dir, "only.jsonl");
    ok(&[
        "run",
        "--audit-log",
        &log2,
        "@signed.wasm",
        "--invoke",
        "answer",
    ]);
    let text = std::fs::read_to_string(&log2).unwrap();
    assert!(
        text.contains("\"reason\":\"no provenance requirement\""),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn other_key_formats() {
    let dir = scratch("formats");
    let pk = trust::PublicKey::parse(&read_vector("pk.key")).unwrap();
    let pem = path(&dir, "pk.pem");
    std::fs::write(&pem, pk.to_pem()).unwrap();
    let ssh = path(&dir, "keys");
    let other = KeyPair::from_seed(&[5; 32]).public();
    std::fs::write(
        &ssh,
        format!(
            "{} other\n{} me@host\n",
            other.to_openssh(),
            pk.to_openssh()
        ),
    )
    .unwrap();
    ok(&["verify", "--public-key", &pem, "@signed.wasm"]);
    ok(&["verify", "--public-key", &ssh, "@signed.wasm"]);
    ok(&[
        "run",
        "--require-signature",
        "--trust",
        &ssh,
        "@signed.wasm",
    ]);
    fails(
        &[
            "sign",
            "--secret-key",
            "@sk.key",
            "--public-key",
            &ssh,
            "@answer.wasm",
        ],
        &["holds 2 public keys, expected one"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
