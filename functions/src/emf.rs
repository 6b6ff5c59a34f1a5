//! One CloudWatch embedded-metric-format (EMF) line per invocation: what the
//! core counted while the invocation ran (the change in [`Metrics`]), in
//! namespace `Circle` with one dimension, `Function` (the binary's name).
//!
//! CloudWatch Logs turns the line into metrics by itself, with no API call
//! and no IAM right; the alarms and the dashboard in `template.yaml` read
//! them by these names. The line holds counts, a duration, the function's
//! name and the request id: nothing personal.
//!
//! [`Metrics`]: circle_shared::db::metrics::Metrics

use std::future::Future;
use std::time::Duration;

use circle_shared::App;
use circle_shared::db::metrics::MetricsSnapshot;
use serde_json::{Map, Value, json};
use tracing::Instrument;

/// The metrics' namespace.
pub const NAMESPACE: &str = "Circle";
/// The one dimension: the function's binary name.
pub const DIMENSION: &str = "Function";
/// The join latency metric, present only on a `join_group` invocation.
pub const JOIN_LATENCY: &str = "JoinLatencyMs";

/// The counters, by metric name, from one invocation's change in the core's metrics.
pub fn counts(delta: &MetricsSnapshot) -> [(&'static str, u64); 9] {
    [
        ("Pairings", delta.pairings),
        ("Waits", delta.waits),
        ("Retries", delta.retries),
        ("ConditionFailures", delta.conflicts),
        ("TransactionConflicts", delta.transaction_conflicts),
        ("Throttles", delta.throttled),
        ("Gone410", delta.gateway_gone),
        ("Reports", delta.reports),
        ("RateLimited", delta.rate_limited),
    ]
}

/// The EMF line (one JSON object) for an invocation of `function` at
/// `timestamp_ms` whose counters changed by `delta`; with `join_latency`, a
/// join took that long.
pub fn line(
    function: &str,
    request_id: &str,
    timestamp_ms: i64,
    delta: &MetricsSnapshot,
    join_latency: Option<Duration>,
) -> String {
    let mut definitions = Vec::new();
    let mut root = Map::new();
    for (name, value) in counts(delta) {
        definitions.push(json!({"Name": name, "Unit": "Count"}));
        root.insert(name.to_owned(), json!(value));
    }
    if let Some(latency) = join_latency {
        definitions.push(json!({"Name": JOIN_LATENCY, "Unit": "Milliseconds"}));
        root.insert(
            JOIN_LATENCY.to_owned(),
            json!(latency.as_secs_f64() * 1000.0),
        );
    }
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert(DIMENSION.to_owned(), json!(function));
    root.insert("RequestId".to_owned(), json!(request_id));
    Value::Object(root).to_string()
}

/// An invocation's span: every line logged inside it carries `request_id`.
/// At ERROR level, so that any `LOG_LEVEL` keeps it.
pub fn span(request_id: &str) -> tracing::Span {
    tracing::error_span!("invocation", request_id)
}

/// Runs one invocation's `work` in a span carrying its request id (so every
/// log line of it does), and answers its result with its EMF line. With
/// `timed_join`, the work is a join and its duration is `JoinLatencyMs`.
///
/// A Lambda instance runs one invocation at a time, so the change in the app's
/// counters is this invocation's alone.
pub async fn observe<T>(
    app: &App,
    function: &str,
    request_id: &str,
    timed_join: bool,
    work: impl Future<Output = T>,
) -> (T, String) {
    let span = span(request_id);
    let before = app.metrics.snapshot();
    let started = std::time::Instant::now();
    let out = work.instrument(span).await;
    let elapsed = started.elapsed();
    let delta = app.metrics.snapshot().since(&before);
    let latency = timed_join.then_some(elapsed);
    (
        out,
        line(function, request_id, app.now_ms(), &delta, latency),
    )
}

/// [`observe`], writing the line to stdout ([`emit`]).
pub async fn observed<T>(
    app: &App,
    function: &str,
    request_id: &str,
    timed_join: bool,
    work: impl Future<Output = T>,
) -> T {
    let (out, line) = observe(app, function, request_id, timed_join, work).await;
    emit(&line);
    out
}

/// Writes an EMF line to stdout, where Lambda sends it to CloudWatch Logs.
pub fn emit(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    // Nothing to do about a closed stdout; the invocation's answer matters more.
    let _ = writeln!(out, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_declares_every_metric_it_holds() {
        let delta = MetricsSnapshot {
            pairings: 2,
            rate_limited: 1,
            ..MetricsSnapshot::default()
        };
        let v: Value = serde_json::from_str(&line(
            "ws-join-group",
            "req-1",
            1_700_000_000_000,
            &delta,
            Some(Duration::from_millis(42)),
        ))
        .expect("JSON");
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("a list");
        assert_eq!(declared.len(), 10);
        for m in declared {
            let name = m["Name"].as_str().expect("a name");
            assert!(v[name].is_number(), "{name} has a value");
        }
        assert_eq!(v["Pairings"], 2);
        assert_eq!(v["RateLimited"], 1);
        assert_eq!(v["Waits"], 0);
        assert_eq!(v[JOIN_LATENCY], 42.0);
        let none = line("ws-message", "r", 0, &delta, None);
        assert!(!none.contains(JOIN_LATENCY));
    }
}
