//! A circle's labels (teams, "mentor"/"mentee", year groups) and how they steer
//! pairing: `across` prefers a partner of another label, `within` one of the
//! same label. Labels only reorder candidates; they never refuse a pairing.

/// Most labels a circle may have.
pub const MAX_LABELS: usize = 8;
/// Longest label, in characters.
pub const MAX_LABEL: usize = 40;

/// Whom a member with a label prefers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LabelMode {
    /// `across` (the default): someone of another label.
    #[default]
    Across,
    /// `within`: someone of the same label.
    Within,
}

impl LabelMode {
    /// The wire name: `across` or `within`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Across => "across",
            Self::Within => "within",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "across" => Some(Self::Across),
            "within" => Some(Self::Within),
            _ => None,
        }
    }

    /// Whether a pair with these labels is a preferred one (both labelled).
    pub fn prefers(self, a: Option<&str>, b: Option<&str>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a == b) == (self == Self::Within),
            _ => false,
        }
    }
}

/// A circle's labels: none (the default) or up to [`MAX_LABELS`], and the mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// The labels, in the organiser's order; empty: the circle has none.
    pub names: Vec<String>,
    /// Whom a member prefers.
    pub mode: LabelMode,
}

impl Labels {
    /// `label` if it is one of these labels.
    pub fn pick<'a>(&self, label: Option<&'a str>) -> Option<&'a str> {
        label.filter(|l| self.names.iter().any(|n| n == l))
    }

    /// The mode when the circle has labels; `None` when it has none.
    pub fn active(&self) -> Option<LabelMode> {
        (!self.names.is_empty()).then_some(self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn across_prefers_another_label_and_within_the_same() {
        let (a, b) = (Some("a"), Some("b"));
        assert!(LabelMode::Across.prefers(a, b));
        assert!(!LabelMode::Across.prefers(a, a));
        assert!(LabelMode::Within.prefers(a, a));
        assert!(!LabelMode::Within.prefers(a, b));
        assert!(!LabelMode::Within.prefers(a, None));
        assert!(!LabelMode::Across.prefers(None, b));
        let labels = Labels {
            names: vec!["a".into()],
            mode: LabelMode::Within,
        };
        assert_eq!(labels.pick(Some("a")), Some("a"));
        assert_eq!(labels.pick(Some("z")), None);
        assert_eq!(Labels::default().active(), None);
        assert_eq!(
            LabelMode::parse("within").map(LabelMode::as_str),
            Some("within")
        );
    }
}
