//! examples/otel_axum.rs, run as built (`cargo test` builds the examples): tokengate's
//! spans reach OpenTelemetry through `tracing-opentelemetry`, as the stdout exporter
//! prints them. A valid and a damaged token are sent, the example exits after the two
//! responses (`EXIT_AFTER_REQUESTS`), and its whole output is read back as spans.
//! `cargo test --test otel_example` alone does not rebuild the example: build it first
//! (`cargo build --example otel_axum`) or run the whole suite.

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::examples::{STARTUP, example_command};
use tokio::io::{AsyncBufReadExt, BufReader};

/// One span as the stdout exporter printed it.
#[derive(Debug, Default)]
struct ExportedSpan {
    name: String,
    trace_id: String,
    span_id: String,
    /// `None (root span)` for a root.
    parent: String,
    /// The span's own attributes, values unwrapped (`String(Owned("x"))` -> `x`).
    attributes: HashMap<String, String>,
    /// Its events: name and attributes.
    events: Vec<(String, HashMap<String, String>)>,
}

impl ExportedSpan {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// `String(Owned("x"))` -> `x`, `Bool(true)` -> `true`, `I64(200)` -> `200`.
fn unwrap_value(value: &str) -> String {
    if let (Some(start), Some(end)) = (value.find('"'), value.rfind('"')) {
        if start < end {
            return value[start + 1..end].to_owned();
        }
    }
    match (value.find('('), value.rfind(')')) {
        (Some(start), Some(end)) if start < end => value[start + 1..end].to_owned(),
        _ => value.to_owned(),
    }
}

/// The stdout exporter's text (opentelemetry-stdout 0.33's layout) as spans: a block per
/// `Span #n`, `\tKey : value` lines, `\t\t ->  key: value` attributes, then events.
fn parse_spans(output: &str) -> Vec<ExportedSpan> {
    let mut spans: Vec<ExportedSpan> = Vec::new();
    // Inside a `Span #n` block (not an export's `Spans` / `Resource` header).
    let mut in_span = false;
    let mut in_events = false;
    for line in output.lines() {
        if line.starts_with("Span #") {
            spans.push(ExportedSpan::default());
            (in_span, in_events) = (true, false);
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('\t') {
            // `Spans`, `Resource`, or the example's own lines.
            in_span = false;
            continue;
        }
        let Some(span) = spans.last_mut().filter(|_| in_span) else {
            continue;
        };
        let trimmed = line.trim();
        if let Some(attribute) = trimmed.strip_prefix("->") {
            let (key, value) = attribute.trim().split_once(": ").unwrap_or((attribute, ""));
            let (key, value) = (key.trim().to_owned(), unwrap_value(value));
            match span.events.last_mut() {
                Some((_, attributes)) if in_events => attributes.insert(key, value),
                _ => span.attributes.insert(key, value),
            };
            continue;
        }
        // Single-tab lines are the span's own fields (`\t\tName` is the scope's).
        if line.starts_with("\t\t") {
            continue;
        }
        if trimmed == "Events:" || trimmed == "Links:" {
            in_events = trimmed == "Events:";
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "Name" if in_events => span.events.push((value, HashMap::new())),
            "Name" => span.name = value,
            "TraceId" => span.trace_id = value,
            "SpanId" => span.span_id = value,
            "ParentSpanId" => span.parent = value,
            _ => {}
        }
    }
    spans
}

/// The JWT's payload claim `name`, as a string.
fn claim(token: &str, name: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT");
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    json[name].as_str().expect("a string claim").to_owned()
}

/// `token` with one character in the middle of its signature changed: a bad signature.
fn damage_signature(token: &str) -> String {
    let at = token.rfind('.').unwrap() + (token.len() - token.rfind('.').unwrap()) / 2;
    let replacement = if &token[at..=at] == "A" { "B" } else { "A" };
    format!("{}{replacement}{}", &token[..at], &token[at + 1..])
}

#[tokio::test]
async fn the_otel_example_exports_validation_and_key_fetch_spans() {
    let mut command = example_command("otel_axum");
    // The example's own default filter (`info,tokengate=debug`), not the developer's.
    command.env_remove("RUST_LOG");
    command.env("EXIT_AFTER_REQUESTS", "2");
    command.stderr(std::process::Stdio::inherit());
    let mut child = command.spawn().expect("spawn otel_axum");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let (base, token) = tokio::time::timeout(STARTUP, async {
        let (mut base, mut token) = (None, None);
        while base.is_none() || token.is_none() {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("otel_axum printed its address and token");
            if let Some(url) = line.strip_prefix("listening on ") {
                base = Some(url.to_owned());
            } else if let Some(jwt) = line.strip_prefix("token ") {
                token = Some(jwt.to_owned());
            }
        }
        (base.unwrap(), token.unwrap())
    })
    .await
    .expect("otel_axum started in time");
    let issuer = claim(&token, "iss");
    let subject = claim(&token, "sub");
    let damaged = damage_signature(&token);
    assert_ne!(damaged, token);

    let client = reqwest::Client::new();
    let valid = client
        .get(format!("{base}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(valid.status(), 200);
    let invalid = client
        .get(format!("{base}/me"))
        .bearer_auth(&damaged)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 401);
    drop(client);

    // After the second response the example shuts down and its provider flushes: read
    // everything it printed, up to its exit.
    let output = tokio::time::timeout(STARTUP, async {
        let mut output = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            output.push_str(&line);
            output.push('\n');
        }
        output
    })
    .await
    .expect("otel_axum exited after two requests");
    let status = tokio::time::timeout(STARTUP, child.wait())
        .await
        .expect("otel_axum exited")
        .unwrap();
    assert!(status.success(), "{status}");

    // Never a token (nor its signature) in the exported telemetry.
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !output.contains(signature),
        "a token in the spans:\n{output}"
    );

    let spans = parse_spans(&output);
    let named = |name: &'static str| spans.iter().filter(move |s| s.name == name);
    let validations: Vec<_> = named("tokengate.validate").collect();
    assert_eq!(validations.len(), 2, "{output}");
    let by_outcome = |outcome: &str| {
        let found: Vec<_> = validations
            .iter()
            .filter(|s| s.attribute("outcome") == Some(outcome))
            .collect();
        assert_eq!(found.len(), 1, "one {outcome} validation in\n{output}");
        *found[0]
    };
    let accepted = by_outcome("accepted");
    let rejected = by_outcome("rejected");

    assert_eq!(accepted.attribute("issuer"), Some(issuer.as_str()));
    assert_eq!(accepted.attribute("sub"), Some(subject.as_str()));
    assert_eq!(accepted.attribute("reason"), None);
    assert_eq!(accepted.attribute("cache_hit"), Some("false"));

    assert_eq!(rejected.attribute("issuer"), Some(issuer.as_str()));
    assert_eq!(rejected.attribute("reason"), Some("bad_signature"));
    assert_eq!(rejected.attribute("sub"), None);
    // The rejection's debug line is an event on its validation span.
    let (event, fields) = rejected
        .events
        .iter()
        .find(|(name, _)| name == "token rejected")
        .expect("the rejection event on the rejected validation");
    assert_eq!(
        fields.get("check").map(String::as_str),
        Some("bad_signature"),
        "{event}"
    );

    // The keys were fetched once, for the first validation, inside its span.
    let fetches: Vec<_> = named("tokengate.key_fetch").collect();
    assert_eq!(fetches.len(), 1, "{output}");
    let fetch = fetches[0];
    assert_eq!(fetch.attribute("issuer"), Some(issuer.as_str()));
    assert_eq!(fetch.attribute("result"), Some("ok"));
    assert!(
        fetch
            .attribute("url")
            .is_some_and(|url| url.starts_with(issuer.as_str())),
        "{fetch:?}"
    );
    assert_eq!(fetch.parent, accepted.span_id);
    assert_eq!(fetch.trace_id, accepted.trace_id);

    // Each validation is inside its request's span, whose status it decided.
    for (validation, status) in [(accepted, "200"), (rejected, "401")] {
        let request = named("http.request")
            .find(|s| s.span_id == validation.parent)
            .unwrap_or_else(|| panic!("no request span for {validation:?}"));
        assert_eq!(request.trace_id, validation.trace_id);
        assert_eq!(request.parent, "None (root span)");
        assert_eq!(request.attribute("http.response.status_code"), Some(status));
    }
    assert_ne!(
        accepted.trace_id, rejected.trace_id,
        "one trace per request"
    );
}
