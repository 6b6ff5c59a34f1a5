//! JSON logs on stdout (CloudWatch picks them up), filtered by `LOG_LEVEL`.

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

/// Installs the JSON subscriber; a second call is a no-op.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let spec = std::env::var("LOG_LEVEL").ok();
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(json)
        .with(filter(spec.as_deref()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

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
