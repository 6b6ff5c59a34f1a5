//! Validating a circle's `labels` and `label_mode` in `POST /groups` and
//! `PATCH /groups/{code}`: at most 8 labels, each trimmed, without Unicode
//! format characters (as names), 1 to 40 characters, distinct ignoring case;
//! the mode `across` (the default) or `within`.

use serde_json::{Map, Value};

use crate::model::{LabelMode, MAX_LABEL, MAX_LABELS};
use crate::protocol::text::strip_format;

/// A bad `labels` or `label_mode` (the HTTP API answers it as a
/// `ValidationError`, `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct LabelError {
    /// `labels`, `labels[i]` or `label_mode`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl LabelError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `labels` as given: `None` when absent or `null`; `[]` clears them.
pub(crate) fn names(obj: &Map<String, Value>) -> Result<Option<Vec<String>>, LabelError> {
    let items = match obj.get("labels") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(LabelError::new("labels", "must be a list of strings")),
    };
    if items.len() > MAX_LABELS {
        return Err(LabelError::new(
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("labels[{i}]");
        let Value::String(raw) = item else {
            return Err(LabelError::new(field, "must be a string"));
        };
        let label = strip_format(raw);
        let label = label.trim();
        if label.is_empty() {
            return Err(LabelError::new(field, "must not be blank"));
        }
        if label.chars().count() > MAX_LABEL {
            return Err(LabelError::new(
                field,
                format!("must be at most {MAX_LABEL} characters"),
            ));
        }
        if out.iter().any(|l| l.to_lowercase() == label.to_lowercase()) {
            return Err(LabelError::new(field, "is given twice"));
        }
        out.push(label.to_owned());
    }
    Ok(Some(out))
}

/// `label_mode` as given: `None` when absent or `null`.
pub(crate) fn mode(obj: &Map<String, Value>) -> Result<Option<LabelMode>, LabelError> {
    match obj.get("label_mode") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(m)) => LabelMode::parse(m)
            .map(Some)
            .ok_or_else(|| LabelError::new("label_mode", "must be \"across\" or \"within\"")),
        Some(_) => Err(LabelError::new(
            "label_mode",
            "must be \"across\" or \"within\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn labels_are_trimmed_stripped_and_checked() {
        let got = names(&obj(json!({"labels":[" Mentor ", "Men\u{200B}tee"]})));
        assert_eq!(got, Ok(Some(vec!["Mentor".into(), "Mentee".into()])));
        for (labels, field) in [
            (json!(vec!["x"; 9]), "labels"),
            (json!(["a", "x".repeat(41)]), "labels[1]"),
            (json!(["a", " \u{200B} "]), "labels[1]"),
            (json!(["Team", "team"]), "labels[1]"),
            (json!(["a", 3]), "labels[1]"),
            (json!("a"), "labels"),
        ] {
            let err = names(&obj(json!({ "labels": labels }))).expect_err("bad");
            assert_eq!(err.field, field);
        }
        assert!(names(&obj(json!({"labels": vec!["y".repeat(40); 1]}))).is_ok());
        assert_eq!(
            mode(&obj(json!({"label_mode":"within"}))),
            Ok(Some(LabelMode::Within))
        );
        assert!(mode(&obj(json!({"label_mode":"sideways"}))).is_err());
        assert!(mode(&obj(json!({"label_mode":1}))).is_err());
    }
}

/// The share of chats across and within labels, for the organiser of a circle
/// with labels (`label_share`): counts only, summed over the counter shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LabelShare {
    /// Chats between members of different labels.
    pub across: i64,
    /// Chats between members of the same label.
    pub within: i64,
}

impl LabelShare {
    /// Adds a counter shard's `lx` and `lw`.
    pub fn add(&mut self, stats: &crate::db::Item) {
        self.across += crate::db::attr::opt_n(stats, "lx").unwrap_or(0);
        self.within += crate::db::attr::opt_n(stats, "lw").unwrap_or(0);
    }
}
