//! The front end: files from the `web/` directory and its folders (the page's ES
//! modules: `main.js`, `lib/dom.js`, `screens/chat.js`, …), read from disk on each
//! request (so edits show on reload), or a placeholder page when there is none;
//! gzipped for a browser that accepts it, as the function on AWS serves it.
//! Every answer carries the page's security headers (a strict CSP, `nosniff`,
//! no referrer; [`circle_shared::headers`]), as on AWS.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::Shared;

/// Where the page comes from.
#[derive(Debug, Clone)]
pub struct Site {
    pub dir: Option<PathBuf>,
}

impl Site {
    /// `explicit`, else `./web`, else the repository's `web/` next to this crate.
    pub fn locate(explicit: Option<&Path>) -> Self {
        let candidates = match explicit {
            Some(p) => vec![p.to_path_buf()],
            None => vec![
                PathBuf::from("web"),
                Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("web"),
            ],
        };
        Self {
            dir: candidates.into_iter().find(|d| d.is_dir()),
        }
    }
}

const PLACEHOLDER: &str = "<!doctype html><meta charset=utf-8><title>Circle</title>\
<h1>Circle</h1><p>The local stack is running, but no <code>web/</code> directory was found. \
The HTTP API is at <code>/groups</code> and the WebSocket API at <code>/ws</code>.</p>";

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A request path as a relative file path, refusing anything that could leave the
/// directory (`..`, absolute parts, backslashes, hidden files).
fn relative(path: &str) -> Option<PathBuf> {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    if path.contains('\\') || path.contains('%') {
        return None;
    }
    let rel = PathBuf::from(path);
    let safe = rel.components().all(|c| match c {
        Component::Normal(s) => !s.to_string_lossy().starts_with('.'),
        _ => false,
    });
    safe.then_some(rel)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

/// `GET /` and any other path no route claims.
pub(crate) async fn serve(
    State(state): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(circle_shared::headers::accepts_gzip);
    let mut response = file(&state, &uri, gzip).await;
    circle_shared::headers::insert(response.headers_mut(), &state.page_csp);
    response
}

/// `bytes` gzipped, as the function on AWS serves the page; `None` if that
/// failed (the file goes out as it is).
fn gzipped(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).ok()?;
    gz.finish().ok()
}

/// The file at `uri`'s path (gzipped if `gzip`), the placeholder, or a 404.
async fn file(state: &Shared, uri: &Uri, gzip: bool) -> Response {
    let Some(dir) = &state.site.dir else {
        return if uri.path() == "/" {
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                PLACEHOLDER,
            )
                .into_response()
        } else {
            not_found()
        };
    };
    let Some(rel) = relative(uri.path()) else {
        return not_found();
    };
    let path = dir.join(&rel);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut response = match gzip.then(|| gzipped(&bytes)).flatten() {
                Some(zipped) => ([(header::CONTENT_ENCODING, "gzip")], zipped).into_response(),
                None => bytes.into_response(),
            };
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            response
        }
        Err(_) if uri.path() == "/" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            PLACEHOLDER,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_file_of_the_page_has_the_security_headers() {
        let config = crate::Config {
            public_url: Some("https://circle.example".to_owned()),
            ..crate::Config::ephemeral()
        };
        let stack = crate::Stack::start(config).await.expect("starts");
        for path in ["/", "/main.js", "/style.css", "/nope.js"] {
            let uri: Uri = path.parse().expect("a path");
            let response = serve(State(Arc::clone(&stack.shared)), HeaderMap::new(), uri).await;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
            let csp = header("content-security-policy");
            for directive in [
                "default-src 'self'",
                "connect-src 'self' https://circle.example wss://circle.example",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
            ] {
                assert!(csp.contains(directive), "{path}: {csp} has {directive}");
            }
        }
        stack.shutdown().await;
    }

    /// A browser that accepts gzip gets the file gzipped, and the same file.
    #[tokio::test]
    async fn the_page_is_gzipped_for_a_browser_that_accepts_it() {
        let stack = crate::Stack::start(crate::Config::ephemeral())
            .await
            .expect("starts");
        let Some(dir) = stack.shared.site.dir.clone() else {
            stack.shutdown().await;
            return;
        };
        let text = std::fs::read(dir.join("main.js")).expect("web/main.js");
        let mut accept = HeaderMap::new();
        accept.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        let uri: Uri = "/main.js".parse().expect("a path");
        let response = serve(State(Arc::clone(&stack.shared)), accept, uri).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        assert!(body.len() < text.len(), "gzip is smaller");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
            .expect("valid gzip");
        assert_eq!(unzipped, text);
        stack.shutdown().await;
    }

    #[test]
    fn paths_stay_inside_the_directory() {
        assert_eq!(relative("/"), Some(PathBuf::from("index.html")));
        assert_eq!(relative("/main.js"), Some(PathBuf::from("main.js")));
        assert_eq!(relative("/lib/dom.js"), Some(PathBuf::from("lib/dom.js")));
        assert_eq!(
            relative("/screens/chat.js"),
            Some(PathBuf::from("screens/chat.js"))
        );
        assert_eq!(relative("/img/"), Some(PathBuf::from("img/index.html")));
        for bad in [
            "/../secret",
            "/a/../../b",
            "/lib/../main.js",
            "/lib/.hidden.js",
            "/.git/config",
            "/a\\b",
            "/%2e%2e/x",
        ] {
            assert_eq!(relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn modules_in_folders_are_javascript() {
        for path in ["main.js", "lib/dom.js", "session/socket.js"] {
            assert_eq!(
                content_type(Path::new(path)),
                "text/javascript; charset=utf-8",
                "{path}"
            );
        }
        assert_eq!(
            content_type(Path::new("style.css")),
            "text/css; charset=utf-8"
        );
    }
}
