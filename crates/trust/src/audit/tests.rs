//! Tests of the audit trail: JSON escaping and layout, the JSON-lines file, the `tracing`
//! events, and failing sinks refusing loads.

use super::*;
use crate::testutil::*;
use crate::{LoadPolicy, sign};
use std::sync::Mutex as StdMutex;

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

/// A captured event: level, target, and fields as strings.
type Captured = (tracing::Level, String, Vec<(String, String)>);

/// A `tracing` subscriber that keeps every event's fields.
#[derive(Default)]
struct Capture {
    events: StdMutex<Vec<Captured>>,
}

struct Fields(Vec<(String, String)>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let m = event.metadata();
        self.events
            .lock()
            .unwrap()
            .push((*m.level(), m.target().to_string(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn decisions_are_tracing_events() {
    let capture = Arc::new(Capture::default());
    let dispatch = tracing::Dispatch::from(capture.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        Audit::new().load(&decision(true)).unwrap();
        Audit::new().load(&decision(false)).unwrap();
        capability_denied(&CapabilityDenied {
            module: None,
            capability: "path_open".into(),
            resource: "../x".into(),
            reason: "outside".into(),
        });
    });
    let events = capture.events.lock().unwrap();
    assert_eq!(events.len(), 3);
    let field = |i: usize, name: &str| -> String {
        events[i]
            .2
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no field {name} in {:?}", events[i]))
    };
    assert_eq!(events[0].0, tracing::Level::INFO);
    assert_eq!(events[0].1, TARGET);
    assert_eq!(field(0, "verdict"), "allow");
    assert_eq!(field(0, "module"), "dir/\"odd\" name.wasm");
    assert_eq!(field(0, "signers"), key(1).public().key_id().to_string());
    assert_eq!(field(0, "size"), decision(true).size.to_string());
    assert!(field(0, "policy").starts_with("signed by 1 of ["));
    assert_eq!(events[1].0, tracing::Level::WARN);
    assert_eq!(field(1, "verdict"), "deny");
    assert!(field(1, "reason").contains("not signed"));
    assert_eq!(field(2, "event"), "capability_denied");
    assert_eq!(field(2, "resource"), "../x");
}
