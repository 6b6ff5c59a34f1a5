//! AWS-shaped identifiers (`connectionId`, `messageId`, `requestId`) and the
//! timestamp formats API Gateway uses.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh id shaped like API Gateway's, e.g. `L0SM9cOFvHcCIhw=`: 15 random
/// characters (about 89 bits) and a `=`. Letters and digits only, so it needs no
/// escaping beyond the `=`, which the SDK percent-encodes in paths.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    let mut id: String = (0..15)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    id.push('=');
    id
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `requestContext.requestTime`: `09/Feb/2024:18:11:43 +0000`.
pub fn request_time(ms: i64) -> String {
    at(ms).format("%d/%b/%Y:%H:%M:%S %z").to_string()
}

/// ISO 8601, as `@connections` GET answers (`2024-02-09T18:11:43.419Z`).
pub fn iso8601(ms: i64) -> String {
    at(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids() {
        let a = new_id();
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(a[..15].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, new_id());
    }

    #[test]
    fn timestamps_use_aws_formats() {
        assert_eq!(
            request_time(1_707_502_303_419),
            "09/Feb/2024:18:11:43 +0000"
        );
        assert_eq!(iso8601(1_707_502_303_419), "2024-02-09T18:11:43.419Z");
    }
}
