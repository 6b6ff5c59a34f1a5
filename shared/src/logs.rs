//! The dependencies whose logs stay at info or quieter whatever the log filter
//! (`LOG_LEVEL` on AWS, `RUST_LOG` locally) asks for.
//!
//! At debug and trace they print what passes through them: the AWS SDK and
//! smithy every request and response (items with access codes, names,
//! messages, reports and tokens), the Lambda runtime every raw event, hyper,
//! h2, rustls and tungstenite the bytes on the wire, the embedded DynamoDB
//! every request body. Circle's own targets keep the level asked for; they
//! log no personal data at any level.

/// Target prefixes (a log target matches when it starts with one) kept at
/// info or quieter: `functions/src/logging.rs` and the local stack's logging
/// set up a filter from these beside the one asked for.
pub const QUIET_TARGETS: [&str; 17] = [
    "aws_sdk",
    "aws_smithy",
    "aws_runtime",
    "aws_sigv4",
    "aws_config",
    "aws_credential_types",
    "aws_types",
    "lambda_runtime",
    "hyper",
    "h2",
    "rustls",
    "tungstenite",
    "tokio_tungstenite",
    "dynoxide",
    "rusqlite",
    "axum",
    "tower",
];

/// The most each of [`QUIET_TARGETS`] may log: info. A filter made of these
/// beside the one asked for (both must let a line through) keeps them there.
pub fn directives() -> impl Iterator<Item = (&'static str, tracing::level_filters::LevelFilter)> {
    QUIET_TARGETS
        .into_iter()
        .map(|target| (target, tracing::level_filters::LevelFilter::INFO))
}

/// Whether `target` is one of [`QUIET_TARGETS`].
pub fn is_quiet(target: &str) -> bool {
    QUIET_TARGETS
        .iter()
        .any(|prefix| target.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_runtime_and_wire_targets_are_quiet() {
        for target in [
            "aws_sdk_dynamodb::operation",
            "aws_smithy_runtime::client::orchestrator",
            "lambda_runtime::layers::api_response",
            "hyper_util::client::legacy",
            "tungstenite::protocol",
            "dynoxide::server",
        ] {
            assert!(is_quiet(target), "{target}");
        }
        assert!(!is_quiet("circle_shared::pairing"));
        assert!(!is_quiet("circle_functions::emf"));
    }
}
