//! The web page, embedded at build time by `build.rs`: every `.html`, `.css`
//! and `.js` file under `../web/` (the page's ES modules in their folders
//! included), served by its path, as text or gzipped. A page that was missing
//! then is `None` here.

include!(concat!(env!("OUT_DIR"), "/page.rs"));

/// One file of the page: its text, and the same gzipped at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct File {
    /// The file as written.
    pub text: &'static str,
    /// The file gzipped (for a browser whose `Accept-Encoding` allows it).
    pub gzip: &'static [u8],
}

/// A static file of the page: its content type and body (`None`: the page
/// itself, missing at build time). `None` for a path that is no file of the page.
pub fn asset(path: &str) -> Option<(&'static str, Option<File>)> {
    if path == "/" || path == "/index.html" {
        let index = INDEX_HTML.map(|(text, gzip)| File { text, gzip });
        return Some(("text/html; charset=utf-8", index));
    }
    let rel = path.strip_prefix('/')?;
    let i = FILES.binary_search_by_key(&rel, |(p, ..)| p).ok()?;
    let (_, content_type, text, gzip) = FILES[i];
    Some((content_type, Some(File { text, gzip })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_is_served_by_its_path() {
        assert!(
            FILES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, for the binary search"
        );
        for (path, content_type, text, gzip) in FILES {
            let want = match path.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => "text/html; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                other => panic!("{path}: .{other:?} is not embedded"),
            };
            assert_eq!(*content_type, want, "{path}");
            assert_eq!(
                asset(&format!("/{path}")),
                Some((want, Some(File { text, gzip }))),
                "{path}"
            );
            let mut unzipped = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(*gzip), &mut unzipped)
                .expect("valid gzip");
            assert_eq!(unzipped, *text, "{path}: the gzip copy is the same file");
        }
    }

    #[test]
    fn the_page_is_at_the_root() {
        let index = INDEX_HTML.map(|(text, gzip)| File { text, gzip });
        assert_eq!(asset("/"), Some(("text/html; charset=utf-8", index)));
        assert_eq!(asset("/index.html"), asset("/"));
    }

    #[test]
    fn other_paths_are_no_file_of_the_page() {
        for path in [
            "",
            "/nope.js",
            "/config.json",
            "/groups",
            "/lib",
            "/lib/",
            "/../web/main.js",
            "/lib/../main.js",
            "//main.js",
            "main.js",
        ] {
            assert_eq!(asset(path), None, "{path}");
        }
    }

    /// Every module the page imports (and the entry point `index.html` loads)
    /// was embedded: a relative `from './x.js'` resolves to a file in `FILES`.
    #[test]
    fn every_import_of_the_page_is_embedded() {
        if INDEX_HTML.is_none() {
            return;
        }
        let resolve = |from: &str, target: &str| {
            let mut parts: Vec<&str> = from.split('/').collect();
            parts.pop();
            for part in target.split('/') {
                match part {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    p => parts.push(p),
                }
            }
            parts.join("/")
        };
        let quoted_after = |text: &'static str, marker: &str| -> Vec<&'static str> {
            text.split(marker)
                .skip(1)
                .filter_map(|rest| {
                    let quote = rest.chars().next().filter(|q| *q == '\'' || *q == '"')?;
                    rest[1..].split(quote).next()
                })
                .collect()
        };
        let mut checked = 0;
        for (path, _, body, _) in FILES {
            let targets = if path.ends_with(".html") {
                quoted_after(body, "<script type=\"module\" src=")
            } else if path.ends_with(".js") {
                // Module specifiers are relative (`./`, `../`) in this page.
                let mut targets = quoted_after(body, " from ");
                targets.retain(|t| t.starts_with('.'));
                targets
            } else {
                continue;
            };
            for target in targets {
                let target = target.strip_prefix("./").unwrap_or(target);
                let resolved = resolve(path, target);
                assert!(
                    asset(&format!("/{resolved}")).is_some(),
                    "{path} imports {target}, which was not embedded"
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "the page loads at least one module");
    }
}
