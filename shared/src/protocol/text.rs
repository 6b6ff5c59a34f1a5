//! Names as people see them: Unicode format and bidi controls (general
//! category Cf: zero-width spaces and joiners, U+202A–U+202E overrides,
//! U+2066–U+2069 isolates, U+FEFF, the soft hyphen, ...) are dropped, so a
//! name can't read reversed or pass for another. The category comes from the
//! `unicode-general-category` crate, not a hand-kept table.

use unicode_general_category::{GeneralCategory, get_general_category};

/// Whether `c` is a format character (Unicode general category Cf).
pub fn is_format(c: char) -> bool {
    get_general_category(c) == GeneralCategory::Format
}

/// `s` without control (Cc) and format (Cf) characters.
pub fn strip_format(s: &str) -> String {
    s.chars()
        .filter(|&c| !c.is_control() && !is_format(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_bidi_controls_go() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}',
            '\u{2060}', '\u{2064}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{00AD}',
        ] {
            assert!(is_format(c), "{:04x}", c as u32);
        }
        assert_eq!(strip_format("A\u{202E}li\u{200B}ce\u{2066}"), "Alice");
        assert_eq!(strip_format("Zoë 李 🙂"), "Zoë 李 🙂");
        assert_eq!(strip_format("a\u{7}b"), "ab");
    }
}
