//! JSON logs on stdout (CloudWatch picks them up), filtered by `LOG_LEVEL`;
//! the SDK's, the runtime's and the wire's targets
//! ([`circle_shared::logs::QUIET_TARGETS`]) at info or quieter whatever it
//! says. Each invocation's lines carry its request id (the `invocation` span,
//! [`crate::emf::observe`]).

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The filter when `LOG_LEVEL` is unset or unreadable.
pub const DEFAULT_FILTER: &str = "info";

/// Parses `LOG_LEVEL`: a level (`info`) or per-target directives
/// (`debug,aws_smithy_runtime=info`). Anything else means [`DEFAULT_FILTER`].
pub fn filter(spec: Option<&str>) -> Targets {
    spec.map(str::trim)
        .filter(|s| well_formed(s))
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// The second filter every line passes: [`QUIET_TARGETS`] at info at most,
/// everything else as the first filter says.
///
/// [`QUIET_TARGETS`]: circle_shared::logs::QUIET_TARGETS
pub fn quiet() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(circle_shared::logs::directives())
}

/// Every comma-separated directive is `level` or `module::path=level`.
fn well_formed(spec: &str) -> bool {
    !spec.is_empty()
        && spec.split(',').all(|directive| {
            let (target, level) = match directive.split_once('=') {
                Some((target, level)) => (Some(target.trim()), level),
                None => (None, directive),
            };
            level.trim().parse::<LevelFilter>().is_ok()
                && target.is_none_or(|t| {
                    !t.is_empty()
                        && t.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                })
        })
}

/// The JSON subscriber for the filter `spec`, writing to `writer`.
pub fn subscriber<W>(spec: Option<&str>, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer);
    tracing_subscriber::registry()
        .with(json)
        .with(filter(spec))
        .with(quiet())
}

/// Installs the JSON subscriber on stdout for `LOG_LEVEL`; a second call is a no-op.
pub fn init() {
    let spec = std::env::var("LOG_LEVEL").ok();
    let _ = tracing::subscriber::set_global_default(subscriber(spec.as_deref(), std::io::stdout));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    use std::sync::{Arc, Mutex};

    /// Lines written, for a test's subscriber.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn json(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().expect("not poisoned").clone();
            String::from_utf8(bytes)
                .expect("UTF-8")
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect()
        }
    }

    /// Logs what the SDK, the runtime and the wire would at every level, and
    /// one line of ours, inside an invocation's span; answers the lines.
    fn log_everything(spec: &str) -> Vec<serde_json::Value> {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = subscriber(Some(spec), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let _invocation = crate::emf::span("req-42").entered();
            tracing::event!(target: "aws_smithy_runtime::client", Level::TRACE, "a request body");
            tracing::event!(target: "aws_smithy_runtime::client", Level::DEBUG, "a request");
            tracing::event!(target: "aws_smithy_runtime::client", Level::INFO, "kept");
            tracing::event!(target: "lambda_runtime::layers", Level::TRACE, "a raw event");
            tracing::event!(target: "hyper_util::client", Level::DEBUG, "bytes");
            tracing::event!(target: "circle_shared::pairing", Level::DEBUG, "ours");
        });
        lines.json()
    }

    #[test]
    fn the_sdk_stays_at_info_whatever_log_level_says() {
        let lines = log_everything("trace,aws_smithy_runtime=trace,lambda_runtime=trace");
        let messages: Vec<&str> = lines
            .iter()
            .map(|l| l["fields"]["message"].as_str().expect("a message"))
            .collect();
        assert_eq!(messages, ["kept", "ours"]);
        // Each line carries the invocation's request id.
        for line in &lines {
            assert_eq!(line["span"]["request_id"], "req-42", "{line}");
        }
        // Quieter than info stays quieter.
        let warn = log_everything("warn");
        assert!(warn.is_empty(), "{warn:?}");
        // The filters alone, for every quiet target.
        let (asked, quiet) = (filter(Some("trace")), quiet());
        for target in circle_shared::logs::QUIET_TARGETS {
            let enabled = |level: &Level| {
                asked.would_enable(target, level) && quiet.would_enable(target, level)
            };
            assert!(enabled(&Level::INFO), "{target} keeps info");
            assert!(!enabled(&Level::DEBUG), "{target} at debug");
        }
    }

    #[test]
    fn log_level_accepts_levels_and_directives() {
        assert!(filter(Some("debug")).would_enable("circle_shared", &Level::DEBUG));
        assert!(!filter(None).would_enable("circle_shared", &Level::DEBUG));
        let mixed = filter(Some("debug,aws_smithy_runtime=warn"));
        assert!(mixed.would_enable("circle_shared::pairing", &Level::DEBUG));
        assert!(!mixed.would_enable("aws_smithy_runtime::client", &Level::INFO));
        for bad in ["not a filter !!", "", "loud", "a b=debug"] {
            let f = filter(Some(bad));
            assert!(
                f.would_enable("x", &Level::INFO) && !f.would_enable("x", &Level::DEBUG),
                "{bad:?}"
            );
        }
    }
}
