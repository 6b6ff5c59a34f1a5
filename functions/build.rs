//! Embeds the web page into the HTTP API function: every `.html`, `.css` and
//! `.js` file under `../web/` (walked recursively, sorted by path, so the list
//! never goes stale as modules are added or moved). A missing `web/` (or
//! `index.html`) doesn't break the build: the function answers 404 for it, and
//! the build reruns when anything under `web/` changes. Each file is also kept
//! gzipped (best compression, done once here), for browsers that accept it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The kinds of file embedded: (extension, content type).
const KINDS: [(&str, &str); 3] = [
    ("html", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
];

/// Every embeddable file under `dir`, as (path from `web/` with `/`, content
/// type, absolute path). Hidden files and folders are skipped.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, &'static str, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), out);
        } else if let Some((_, content_type)) = KINDS
            .iter()
            .find(|(ext, _)| path.extension().and_then(|e| e.to_str()) == Some(ext))
            && let Ok(abs) = path.canonicalize()
            && abs.is_file()
        {
            out.push((rel, content_type, abs));
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let web = manifest_dir.join("..").join("web");
    // A directory is scanned recursively for changes.
    println!("cargo::rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    walk(&web, "", &mut files);
    files.sort_by(|a, b| a.0.cmp(&b.0));

    let mut code = String::from(
        "/// Every `.html`, `.css` and `.js` file under `web/` at build time, sorted by\n\
         /// path: (path from `web/`, content type, text, the text gzipped).\n\
         pub const FILES: &[(&str, &str, &str, &[u8])] = &[\n",
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (i, (rel, content_type, abs)) in files.iter().enumerate() {
        let text = std::fs::read(abs).expect("a file just listed is readable");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&text).expect("writing to a Vec cannot fail");
        let gz_path = out_dir.join(format!("page-{i}.gz"));
        std::fs::write(&gz_path, gz.finish().expect("gzip into a Vec cannot fail"))
            .expect("OUT_DIR is writable");
        writeln!(
            code,
            "    ({rel:?}, {content_type:?}, include_str!({:?}), include_bytes!({:?})),",
            abs.display().to_string(),
            gz_path.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    let index = match files.iter().position(|(rel, _, _)| rel == "index.html") {
        Some(i) => format!("Some((FILES[{i}].2, FILES[{i}].3))"),
        None => {
            println!(
                "cargo::warning=web/index.html is missing; the HTTP API function will answer 404 for the page"
            );
            "None".to_owned()
        }
    };
    writeln!(
        code,
        "/// `web/index.html` (text, gzipped), if it existed at build time.\npub const INDEX_HTML: Option<(&str, &[u8])> = {index};"
    )
    .expect("writing to a String cannot fail");
    std::fs::write(out_dir.join("page.rs"), code).expect("OUT_DIR is writable");
}
