//! Who may use the embedded DynamoDB: the stack's own SDK clients and nobody
//! else. Every store gets credentials of its own ([`Access`], random per run
//! unless given), and a request is served only when
//!
//! - it carries no `Origin` and no `Sec-Fetch-*` header (only browsers send
//!   them: a web page never reaches the store, and no CORS is ever answered),
//! - and it is signed with SigV4 under those credentials: the access key id
//!   must match and the signature is verified in full (canonical request,
//!   HMAC-SHA256 chain), so a request with a fake signature, or none, is
//!   refused with DynamoDB's own error (`UnrecognizedClientException`,
//!   `InvalidSignatureException`, `MissingAuthenticationTokenException`).
//!
//! The request's age is not checked (AWS refuses one signed more than 15
//! minutes ago): on a loopback port nobody can capture one to replay.

use std::fmt;

use axum::http::{HeaderMap, Method, Uri};
use ring::{digest, hmac};

use crate::secrets::{hex, unhex};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The credentials a store accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Access {
    key_id: String,
    secret: String,
}

/// Why credentials were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The access key id is empty or holds a character SigV4 can't carry.
    #[error("an access key id is 1–128 letters, digits, '-' or '_'")]
    KeyId,
    /// The secret is empty.
    #[error("the secret access key must not be empty")]
    Secret,
}

impl Access {
    /// Fresh random credentials (20 and 40 characters from a CSPRNG).
    pub fn random() -> Self {
        Self {
            key_id: crate::secrets::token(20),
            secret: crate::secrets::token(40),
        }
    }

    /// These credentials, for a store other processes must reach too (Lambda
    /// binaries under `cargo lambda watch`).
    pub fn new(key_id: &str, secret: &str) -> Result<Self, AccessError> {
        let key_ok = (1..=128).contains(&key_id.len())
            && key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !key_ok {
            return Err(AccessError::KeyId);
        }
        if secret.is_empty() {
            return Err(AccessError::Secret);
        }
        Ok(Self {
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The access key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// As the SDK takes them.
    pub fn credentials(&self) -> aws_sdk_dynamodb::config::Credentials {
        aws_sdk_dynamodb::config::Credentials::new(
            &self.key_id,
            &self.secret,
            None,
            None,
            "circle-embedded",
        )
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It came from a browser (`Origin` or `Sec-Fetch-*`).
    Browser,
    /// Authentication is missing or incomplete: dynoxide's own DynamoDB error body.
    Incomplete(String),
    /// Signed in the query string (presigned): not served.
    QueryString,
    /// Not `AWS4-HMAC-SHA256` with a well-formed credential scope.
    Malformed,
    /// Another access key id.
    UnknownKey,
    /// The right key id, a wrong signature.
    BadSignature,
}

impl Refusal {
    /// The HTTP status and DynamoDB's JSON error body for it.
    pub(crate) fn answer(&self) -> (u16, String) {
        let (status, kind, message) = match self {
            Refusal::Incomplete(body) => return (400, body.clone()),
            Refusal::Browser => (
                403,
                "AccessDeniedException",
                "the embedded DynamoDB serves the local stack only; browser requests are refused",
            ),
            Refusal::QueryString => (
                400,
                "InvalidSignatureException",
                "only requests signed in the Authorization header are served",
            ),
            Refusal::Malformed => (
                400,
                "IncompleteSignatureException",
                "the Authorization header is not a well-formed AWS4-HMAC-SHA256 signature",
            ),
            Refusal::UnknownKey => (
                400,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Refusal::BadSignature => (
                400,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method.",
            ),
        };
        let body = serde_json::json!({
            "__type": format!("com.amazon.coral.service#{kind}"),
            "message": message,
        });
        (status, body.to_string())
    }

    /// A short name for logs.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Refusal::Browser => "browser",
            Refusal::Incomplete(_) => "unsigned",
            Refusal::QueryString => "query-string signature",
            Refusal::Malformed => "malformed signature",
            Refusal::UnknownKey => "unknown access key",
            Refusal::BadSignature => "bad signature",
        }
    }
}

/// Whether a browser sent this: `Origin` on every cross-origin (and every
/// non-GET) request, `Sec-Fetch-*` on every request of current browsers.
pub(crate) fn from_browser(headers: &HeaderMap) -> bool {
    headers.contains_key("origin")
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("sec-fetch-"))
}

/// Whether this request was signed with `access`'s credentials.
pub(crate) fn check_signature(
    access: &Access,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let material = dynoxide::auth_material::AuthMaterial {
        authorization,
        query: uri.query().unwrap_or(""),
        has_date_header: headers.contains_key("x-amz-date") || headers.contains_key("date"),
    };
    if let Some(body) = dynoxide::auth_material::validate(material) {
        return Err(Refusal::Incomplete(body));
    }
    let Some(authorization) = authorization else {
        return Err(Refusal::QueryString);
    };
    let auth = Authorization::parse(authorization).ok_or(Refusal::Malformed)?;
    if auth.key_id != access.key_id {
        return Err(Refusal::UnknownKey);
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Malformed)?;
    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    let scope_ok = amz_date.len() == 16
        && amz_date.get(..8) == Some(auth.date)
        && signed.contains(&"host")
        && signed.contains(&"x-amz-date");
    if !scope_ok {
        return Err(Refusal::Malformed);
    }
    let canonical = canonical_request(method, uri, headers, &signed, auth.signed_headers, body)
        .ok_or(Refusal::Malformed)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let key = signing_key_bytes(&access.secret, auth.date, auth.region, auth.service);
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_ref());
    let signature = unhex(auth.signature).ok_or(Refusal::BadSignature)?;
    hmac::verify(&key, to_sign.as_bytes(), &signature).map_err(|_| Refusal::BadSignature)
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(header: &'a str) -> Option<Self> {
        let rest = header.strip_prefix(ALGORITHM)?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            match part.trim().split_once('=')? {
                ("Credential", v) => credential = Some(v),
                ("SignedHeaders", v) => signed_headers = Some(v),
                ("Signature", v) => signature = Some(v),
                _ => return None,
            }
        }
        let mut scope = credential?.split('/');
        let (key_id, date, region, service) =
            (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
        let well_formed = scope.next() == Some("aws4_request")
            && scope.next().is_none()
            && !key_id.is_empty()
            && date.len() == 8
            && date.bytes().all(|b| b.is_ascii_digit());
        well_formed.then_some(Self {
            key_id,
            date,
            region,
            service,
            signed_headers: signed_headers?,
            signature: signature?,
        })
    }
}

/// SigV4's canonical request; `None` when a signed header is absent or not text.
fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed: &[&str],
    signed_headers: &str,
    body: &[u8],
) -> Option<String> {
    let mut out = format!("{method}\n{}\n", canonical_path(uri.path()));
    let mut query: Vec<(&str, &str)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    query.sort_unstable();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&query.join("&"));
    out.push('\n');
    for name in signed {
        let mut values = Vec::new();
        for value in headers.get_all(*name) {
            let value = value.to_str().ok()?;
            values.push(value.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        if values.is_empty() {
            return None;
        }
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    out.push_str(&format!(
        "\n{signed_headers}\n{}",
        hex(digest::digest(&digest::SHA256, body).as_ref())
    ));
    Some(out)
}

/// The path encoded once more, as SigV4 wants it for every service but S3.
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SigV4's derived signing key: HMAC-SHA256 down date, region, service.
fn signing_key_bytes(secret: &str, date: &str, region: &str, service: &str) -> hmac::Tag {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    step(k_service.as_ref(), "aws4_request")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// AWS's documented example of a derived signing key.
    #[test]
    fn the_signing_key_is_derived_as_aws_documents() {
        let key = signing_key_bytes(EXAMPLE_SECRET, "20120215", "us-east-1", "iam");
        assert_eq!(
            hex(key.as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    fn example(signature: &str, key_id: &str) -> (Method, Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        headers.insert("host", "iam.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={key_id}/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature={signature}"
            )
            .parse()
            .unwrap(),
        );
        let uri: Uri = "/?Action=ListUsers&Version=2010-05-08".parse().unwrap();
        (Method::GET, uri, headers)
    }

    /// AWS's documented example request (IAM `ListUsers`, signed on
    /// 2015-08-30) verifies; a changed signature, key id, header or body doesn't.
    #[test]
    fn signatures_are_verified_as_aws_computes_them() {
        const GOOD: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        let access = Access::new("AKIDEXAMPLE", EXAMPLE_SECRET).expect("valid");
        let (method, uri, headers) = example(GOOD, "AKIDEXAMPLE");
        assert_eq!(
            check_signature(&access, &method, &uri, &headers, b""),
            Ok(())
        );
        assert_eq!(
            check_signature(&access, &method, &uri, &headers, b"{}"),
            Err(Refusal::BadSignature),
            "the body is signed"
        );
        let mut moved = headers.clone();
        moved.insert("host", "127.0.0.1:8000".parse().unwrap());
        assert_eq!(
            check_signature(&access, &method, &uri, &moved, b""),
            Err(Refusal::BadSignature),
            "signed headers are signed"
        );
        let (_, _, forged) = example(&"0".repeat(64), "AKIDEXAMPLE");
        assert_eq!(
            check_signature(&access, &method, &uri, &forged, b""),
            Err(Refusal::BadSignature)
        );
        let (_, _, other) = example(GOOD, "OTHERKEY");
        assert_eq!(
            check_signature(&access, &method, &uri, &other, b""),
            Err(Refusal::UnknownKey)
        );
        let wrong_secret = Access::new("AKIDEXAMPLE", "another-secret").expect("valid");
        assert_eq!(
            check_signature(&wrong_secret, &method, &uri, &headers, b""),
            Err(Refusal::BadSignature)
        );
        let mut unsigned = headers.clone();
        unsigned.remove("authorization");
        assert!(matches!(
            check_signature(&access, &method, &uri, &unsigned, b""),
            Err(Refusal::Incomplete(body)) if body.contains("MissingAuthenticationTokenException")
        ));
    }

    #[test]
    fn an_authorization_header_parses() {
        let auth = Authorization::parse(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00ff",
        )
        .expect("well formed");
        assert_eq!(auth.key_id, "AKID");
        assert_eq!(auth.date, "20260101");
        assert_eq!(auth.region, "us-east-1");
        assert_eq!(auth.service, "dynamodb");
        assert_eq!(auth.signed_headers, "host;x-amz-date");
        assert_eq!(auth.signature, "00ff");
        for bad in [
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb, SignedHeaders=host, Signature=0",
            "AWS4-HMAC-SHA512 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            "AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            "AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=0",
        ] {
            assert_eq!(Authorization::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn browsers_are_known_by_their_headers() {
        let mut headers = HeaderMap::new();
        assert!(!from_browser(&headers));
        headers.insert("origin", "https://evil.example".parse().unwrap());
        assert!(from_browser(&headers));
        let mut headers = HeaderMap::new();
        headers.insert("sec-fetch-mode", "no-cors".parse().unwrap());
        assert!(from_browser(&headers));
    }

    #[test]
    fn credentials_are_checked_and_the_secret_never_printed() {
        assert_eq!(Access::new("", "s"), Err(AccessError::KeyId));
        assert_eq!(Access::new("a/b", "s"), Err(AccessError::KeyId));
        assert_eq!(Access::new("key", ""), Err(AccessError::Secret));
        let access = Access::new("key", "very-secret").expect("valid");
        assert!(!format!("{access:?}").contains("very-secret"));
        assert_ne!(Access::random(), Access::random());
    }

    #[test]
    fn paths_are_encoded_once_more() {
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("/a b/%2F"), "/a%20b/%252F");
    }
}
