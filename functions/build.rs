//! Embeds the web page (`../web/index.html`, `app.js`, `style.css`) into the HTTP
//! API function. A file that is missing at build time becomes `None` (the function
//! answers 404 for it) instead of breaking the build, and the build reruns as soon
//! as it appears.

use std::fmt::Write as _;
use std::path::PathBuf;

/// (constant name, file under `web/`).
const ASSETS: [(&str, &str); 3] = [
    ("INDEX_HTML", "index.html"),
    ("APP_JS", "app.js"),
    ("STYLE_CSS", "style.css"),
];

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let web = manifest_dir.join("..").join("web");
    println!("cargo::rerun-if-changed={}", web.display());
    let mut code = String::new();
    for (constant, file) in ASSETS {
        let path = web.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let value = match path.canonicalize() {
            Ok(abs) if abs.is_file() => {
                format!("Some(include_str!({:?}))", abs.display().to_string())
            }
            _ => {
                println!(
                    "cargo::warning=web/{file} is missing; the HTTP API function will answer 404 for it"
                );
                "None".to_owned()
            }
        };
        writeln!(code, "/// `web/{file}`, if it existed at build time.\npub const {constant}: Option<&str> = {value};")
            .expect("writing to a String cannot fail");
    }
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("page.rs");
    std::fs::write(&out, code).expect("OUT_DIR is writable");
}
