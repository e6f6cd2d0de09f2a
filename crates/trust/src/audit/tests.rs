//! Tests of the audit trail: JSON escaping and layout, the JSON-lines file, and failing sinks
//! refusing loads. The `tracing` events are tested in `tests/audit_tracing.rs`, alone in their
//! process.

use super::*;
use crate::testutil::*;
use crate::{LoadPolicy, sign};

#[test]
fn json_string_escapes() {
    let cases = [
        ("plain", "\"plain\""),
        ("a\"b", "\"a\\\"b\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("line\nfeed\r\t", "\"line\\nfeed\\r\\t\""),
        ("\u{0}\u{1f}\u{7f}", "\"\\u0000\\u001f\\u007f\""),
        ("ünï €", "\"ünï €\""),
        ("\u{2028}", "\"\\u2028\""),
    ];
    for (input, expected) in cases {
        assert_eq!(json_string(input), expected, "{input:?}");
    }
}

fn decision(allowed: bool) -> Decision {
    let a = key(1);
    let signed = sign(ANSWER, &a, None).unwrap();
    let p = LoadPolicy::require_signature([a.public()], 1).unwrap();
    let m = if allowed { &signed[..] } else { ANSWER };
    p.evaluate(m, None, Some("dir/\"odd\" name.wasm"))
}

#[test]
fn load_event_json() {
    let d = decision(true);
    let id = key(1).public().key_id();
    let json = AuditEvent::Load(&d).to_json(1234);
    let expected = format!(
        "{{\"time_ms\":1234,\"event\":\"load\",\"module\":\"dir/\\\"odd\\\" name.wasm\",\
         \"sha256\":\"{}\",\"size\":{},\"signers\":[\"{id}\"],\"pin\":null,\
         \"policy\":{{\"require_signature\":true,\"threshold\":1,\"trusted\":[\"{id}\"],\
         \"allow_partial\":false,\"pins\":null}},\"verdict\":\"allow\",\"reason\":{}}}",
        hex(&d.sha256),
        d.size,
        json_string(&d.reason)
    );
    assert_eq!(json, expected);
    let denied = AuditEvent::Load(&decision(false)).to_json(0);
    assert!(denied.contains("\"signers\":[]"), "{denied}");
    assert!(
        denied.contains("\"verdict\":\"deny\",\"reason\":\"module is not signed"),
        "{denied}"
    );
}

#[test]
fn capability_event_json() {
    let c = CapabilityDenied {
        module: None,
        capability: "path_open".into(),
        resource: "/etc/passwd".into(),
        reason: "path outside the preopened directories".into(),
    };
    assert_eq!(
        AuditEvent::CapabilityDenied(&c).to_json(5),
        "{\"time_ms\":5,\"event\":\"capability_denied\",\"module\":null,\
         \"capability\":\"path_open\",\"resource\":\"/etc/passwd\",\
         \"reason\":\"path outside the preopened directories\"}"
    );
}

#[test]
fn json_lines_file_appends_one_line_per_event() {
    let path = std::env::temp_dir().join(format!("kiln-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = Audit::new().with_sink(Arc::new(JsonLinesFile::open(&path).unwrap()));
    audit.load(&decision(true)).unwrap();
    audit.load(&decision(false)).unwrap();
    // Reopening appends.
    let audit = Audit::new().with_sink(Arc::new(JsonLinesFile::open(&path).unwrap()));
    audit
        .capability_denied(&CapabilityDenied {
            module: Some("m".into()),
            capability: "fd_write".into(),
            resource: "ro/file".into(),
            reason: "read-only directory".into(),
        })
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("\"verdict\":\"allow\""));
    assert!(lines[1].contains("\"verdict\":\"deny\""));
    assert!(lines[2].contains("\"event\":\"capability_denied\""));
    for l in lines {
        assert!(l.starts_with("{\"time_ms\":") && l.ends_with('}'), "{l}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[derive(Debug)]
struct FailingSink;

impl AuditSink for FailingSink {
    fn record(&self, _: &AuditEvent<'_>) -> io::Result<()> {
        Err(io::Error::other("disk full"))
    }
}

#[test]
fn a_failing_sink_refuses_the_load() {
    let a = key(1);
    let signed = sign(ANSWER, &a, None).unwrap();
    let p = LoadPolicy::require_signature([a.public()], 1)
        .unwrap()
        .with_audit(Audit::new().with_sink(Arc::new(FailingSink)));
    assert!(matches!(p.check(&signed, None, None), Err(Error::Audit(_))));
}
