//! The security headers every file of the page is served with, on AWS
//! (`functions/src/http_api.rs`) and locally (`infra/src/web.rs`): a strict
//! Content-Security-Policy (the page's own files only, no inline script or
//! style, no plugins, never framed, connections only to itself and the APIs),
//! `nosniff`, and no referrer (the page's address can hold an organiser key or
//! an access code).

/// The policy's fixed part; `connect-src` follows.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                      base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `scheme://host[:port]` of an absolute `http`, `https`, `ws` or `wss` URL;
/// `None` for anything else, or for one a policy can't carry safely.
pub fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https" | "ws" | "wss") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let safe = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    safe.then(|| &url[..scheme.len() + 3 + end])
}

/// The page's Content-Security-Policy, letting it connect to itself and to the
/// origins of `apis` (the HTTP API's and the WebSocket API's URLs).
pub fn content_security_policy<'a>(apis: impl IntoIterator<Item = &'a str>) -> String {
    let mut connect = vec!["'self'"];
    for origin in apis.into_iter().filter_map(origin) {
        if !connect.contains(&origin) {
            connect.push(origin);
        }
    }
    format!("{POLICY}; connect-src {}", connect.join(" "))
}

/// Puts the headers into `headers`, with `csp` as the policy (one a header
/// can't carry is left out, never sent garbled).
pub fn insert(headers: &mut http::HeaderMap, csp: &str) {
    if let Ok(csp) = http::HeaderValue::from_str(csp) {
        headers.insert(http::header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
}

/// Whether an `Accept-Encoding` header value accepts gzip: a `gzip` (or `*`)
/// coding whose quality is not zero (RFC 9110 §12.5.3).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let zero = parts.any(|p| {
            p.strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn origins_are_scheme_and_authority() {
        assert_eq!(
            origin("wss://k7.execute-api.eu-west-1.amazonaws.com/prod"),
            Some("wss://k7.execute-api.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            origin("ws://127.0.0.1:3000/ws"),
            Some("ws://127.0.0.1:3000")
        );
        assert_eq!(origin("http://[::1]:3000"), Some("http://[::1]:3000"));
        assert_eq!(origin("javascript://x"), None);
        assert_eq!(origin("https://a.example; script-src *"), None);
        assert_eq!(origin("https://"), None);
    }

    #[test]
    fn the_policy_connects_only_to_itself_and_the_apis() {
        let csp = content_security_policy([
            "https://api.example/prod",
            "wss://ws.example/prod",
            "https://api.example",
        ]);
        assert!(
            csp.ends_with("; connect-src 'self' https://api.example wss://ws.example"),
            "{csp}"
        );
        for directive in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} has {directive}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
