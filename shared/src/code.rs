//! Access codes: generated from a CSPRNG over an alphabet that reads aloud without
//! ambiguity, shown as `ABCDE-FGHJK`, matched ignoring case, spaces and dashes.

use rand::Rng;
use std::fmt;

/// Crockford-style alphabet: no 0/O, 1/I/L, and no U. 30 symbols.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 10 symbols of a 30-symbol alphabet: log2(30^10) ≈ 49 bits.
pub const CODE_LEN: usize = 10;

/// A canonical access code (upper case, no separators).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessCode(String);

impl AccessCode {
    /// A fresh random code. `rand::rng()` is a ChaCha CSPRNG seeded from the OS.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let code = (0..CODE_LEN)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        Self(code)
    }

    /// Normalises what a person typed: case, spaces and dashes don't matter.
    /// Returns `None` when it cannot be a code at all.
    pub fn parse(input: &str) -> Option<Self> {
        let canonical: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid = canonical.len() == CODE_LEN && canonical.bytes().all(|b| ALPHABET.contains(&b));
        valid.then_some(Self(canonical))
    }

    /// The storage key form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessCode {
    /// The readable form, `ABCDE-FGHJK`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = self.0.split_at(CODE_LEN / 2);
        write!(f, "{a}-{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_use_only_the_alphabet_and_round_trip() {
        for _ in 0..1000 {
            let code = AccessCode::generate();
            assert_eq!(code.as_str().len(), CODE_LEN);
            assert!(!code.as_str().contains(['0', 'O', '1', 'I', 'L', 'l']));
            assert_eq!(AccessCode::parse(&code.to_string()), Some(code.clone()));
            assert_eq!(AccessCode::parse(&code.as_str().to_lowercase()), Some(code));
        }
    }

    #[test]
    fn parse_ignores_case_spaces_and_dashes() {
        let want = AccessCode::parse("ABCDE-FGHJK").expect("valid code");
        for typed in [
            "abcde fghjk",
            " AbCdE--FgHjK ",
            "abcdefghjk",
            "AB CD EF GH JK",
        ] {
            assert_eq!(AccessCode::parse(typed).as_ref(), Some(&want), "{typed:?}");
        }
    }

    #[test]
    fn parse_rejects_wrong_length_and_ambiguous_symbols() {
        for bad in [
            "",
            "ABCDE",
            "ABCDE-FGHJKM",
            "ABCDE-FGHJ0",
            "ABCDE-FGHJI",
            "ABCDE-FGHJ!",
        ] {
            assert_eq!(AccessCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn codes_carry_at_least_40_bits() {
        let bits = (CODE_LEN as f64) * (ALPHABET.len() as f64).log2();
        assert!(bits >= 40.0, "{bits}");
    }
}
