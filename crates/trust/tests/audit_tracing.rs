//! The audit trail's `tracing` events, in a test binary of its own.
//!
//! `tracing` caches per-callsite interest when a callsite is first hit. If another test thread in
//! the same process hits an audit callsite while this test installs its scoped subscriber, that
//! callsite can cache "never" and the event is lost (this failed CI once). Alone in its process,
//! with one test, nothing races the registration.

use kiln_trust::audit::{TARGET, capability_denied};
use kiln_trust::{Audit, CapabilityDenied, Decision, KeyPair, LoadPolicy, sign};
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

const ANSWER: &[u8] = include_bytes!("vectors/answer.wasm");

fn key(n: u8) -> KeyPair {
    KeyPair::from_seed(&[n; 32])
}

fn decision(allowed: bool) -> Decision {
    let a = key(1);
    let signed = sign(ANSWER, &a, None).unwrap();
    let p = LoadPolicy::require_signature([a.public()], 1).unwrap();
    let m = if allowed { &signed[..] } else { ANSWER };
    p.evaluate(m, None, Some("dir/\"odd\" name.wasm"))
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
