//! The web page, embedded at build time by `build.rs` from `../web/`. A file that
//! was missing then is `None` here.

include!(concat!(env!("OUT_DIR"), "/page.rs"));

/// A static file of the page: its path, content type and body (if built in).
pub fn asset(path: &str) -> Option<(&'static str, Option<&'static str>)> {
    match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
        "/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "/style.css" => Some(("text/css; charset=utf-8", STYLE_CSS)),
        _ => None,
    }
}
