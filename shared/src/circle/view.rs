//! Circles as the HTTP API sees them: validating a new circle or a change to
//! one, and the views it answers with (the public one never shows the code in
//! listings; only the creator sees the organiser key, once).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::rfc3339_secs;
use crate::model::{Circle, LabelMode, Labels};
use crate::protocol::text::is_format;

/// Longest circle `name`, in characters.
pub const MAX_CIRCLE_NAME: usize = 80;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// Most `rules` a circle may have.
pub const MAX_RULES: usize = 20;
/// Longest rule, in characters.
pub const MAX_RULE: usize = 200;
/// Most `prompts` a circle may have.
pub const MAX_PROMPTS: usize = 50;
/// Longest prompt, in characters.
pub const MAX_PROMPT: usize = 200;

/// A request body field that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The offending field, e.g. `name`, `rules[2]` or `body`.
    pub field: String,
    /// What is wrong with it, e.g. "is required".
    pub message: String,
}

impl ValidationError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<super::labels::LabelError> for ValidationError {
    fn from(e: super::labels::LabelError) -> Self {
        Self::new(e.field, e.message)
    }
}

/// A validated `POST /groups` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCircle {
    /// Trimmed, 1 to [`MAX_CIRCLE_NAME`] characters.
    pub name: String,
    /// Trimmed, 1 to [`MAX_DESCRIPTION`] characters.
    pub description: String,
    /// At most [`MAX_RULES`], each trimmed and 1 to [`MAX_RULE`] characters; empty if not
    /// given.
    pub rules: Vec<String>,
    /// At most [`MAX_PROMPTS`], each trimmed and 1 to [`MAX_PROMPT`] characters; empty if not
    /// given (the default set is used).
    pub prompts: Vec<String>,
    /// `"listed": true`: `GET /groups` shows it. Circles are unlisted by default.
    pub listed: bool,
    /// `labels` and `label_mode` (see `circle/labels.rs`); none by default.
    pub labels: Labels,
}

/// A validated `PATCH /groups/{code}` body: the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CirclePatch {
    /// A new name, if given.
    pub name: Option<String>,
    /// A new description, if given.
    pub description: Option<String>,
    /// New rules (replacing the old ones), if given.
    pub rules: Option<Vec<String>>,
    /// New prompts (replacing the old ones), if given.
    pub prompts: Option<Vec<String>>,
    /// Listed or not from now on, if given.
    pub listed: Option<bool>,
    /// New labels (replacing the old ones; `[]`: none), if given.
    pub labels: Option<Vec<String>>,
    /// A new label mode, if given.
    pub label_mode: Option<LabelMode>,
}

fn object(body: &Value) -> Result<&Map<String, Value>, ValidationError> {
    match body {
        Value::Object(obj) => Ok(obj),
        _ => Err(ValidationError::new("body", "must be a JSON object")),
    }
}

fn text(
    obj: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match obj.get(field) {
        Some(Value::String(v)) => {
            // Members see the name and description: no format or bidi controls.
            let v: String = v.chars().filter(|c| !is_format(*c)).collect();
            let v = v.trim();
            let len = v.chars().count();
            if len == 0 {
                Err(ValidationError::new(field, "is required"))
            } else if len > max {
                Err(ValidationError::new(
                    field,
                    format!("must be at most {max} characters"),
                ))
            } else {
                Ok(Some(v.to_owned()))
            }
        }
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(ValidationError::new(field, "must be a string")),
    }
}

fn flag(obj: &Map<String, Value>, field: &str) -> Result<Option<bool>, ValidationError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ValidationError::new(field, "must be true or false")),
    }
}

fn strings(
    obj: &Map<String, Value>,
    field: &str,
    max_items: usize,
    max_chars: usize,
) -> Result<Option<Vec<String>>, ValidationError> {
    let items = match obj.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ValidationError::new(field, "must be a list of strings")),
    };
    if items.len() > max_items {
        return Err(ValidationError::new(
            field,
            format!("at most {max_items} {field}"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = format!("{field}[{i}]");
        let Value::String(s) = item else {
            return Err(ValidationError::new(name, "must be a string"));
        };
        let s: String = s.chars().filter(|c| !is_format(*c)).collect();
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new(name, "must not be blank"));
        }
        if s.chars().count() > max_chars {
            return Err(ValidationError::new(
                name,
                format!("must be at most {max_chars} characters"),
            ));
        }
        out.push(s.to_owned());
    }
    Ok(Some(out))
}

impl NewCircle {
    /// Validates a JSON body: `name` 1-80 chars, `description` 1-500 chars, `rules`
    /// an optional list of at most 20 non-blank strings of at most 200 chars,
    /// `prompts` likewise at most 50, `listed` an optional boolean.
    pub fn from_json(body: &Value) -> Result<Self, ValidationError> {
        let obj = object(body)?;
        let labels = super::labels::names(obj)?.unwrap_or_default();
        let label_mode = super::labels::mode(obj)?;
        if labels.is_empty() && label_mode.is_some() {
            return Err(ValidationError::new("label_mode", "needs labels"));
        }
        Ok(Self {
            labels: Labels {
                names: labels,
                mode: label_mode.unwrap_or_default(),
            },
            name: text(obj, "name", MAX_CIRCLE_NAME)?
                .ok_or_else(|| ValidationError::new("name", "is required"))?,
            description: text(obj, "description", MAX_DESCRIPTION)?
                .ok_or_else(|| ValidationError::new("description", "is required"))?,
            rules: strings(obj, "rules", MAX_RULES, MAX_RULE)?.unwrap_or_default(),
            prompts: strings(obj, "prompts", MAX_PROMPTS, MAX_PROMPT)?.unwrap_or_default(),
            listed: flag(obj, "listed")?.unwrap_or(false),
        })
    }
}

impl CirclePatch {
    /// Validates a change: any of the fields of a new circle, same limits; unknown
    /// fields are refused so a typo is not silently ignored.
    pub fn from_json(body: &Value) -> Result<Self, ValidationError> {
        let obj = object(body)?;
        if let Some(other) = obj.keys().find(|k| {
            !matches!(
                k.as_str(),
                "name" | "description" | "rules" | "prompts" | "listed" | "labels" | "label_mode"
            )
        }) {
            return Err(ValidationError::new(
                other.clone(),
                "can't be changed (name, description, rules, prompts, listed, labels, label_mode can)",
            ));
        }
        let patch = Self {
            name: text(obj, "name", MAX_CIRCLE_NAME)?,
            description: text(obj, "description", MAX_DESCRIPTION)?,
            rules: strings(obj, "rules", MAX_RULES, MAX_RULE)?,
            prompts: strings(obj, "prompts", MAX_PROMPTS, MAX_PROMPT)?,
            listed: flag(obj, "listed")?,
            labels: super::labels::names(obj)?,
            label_mode: super::labels::mode(obj)?,
        };
        if patch == Self::default() {
            return Err(ValidationError::new("body", "changes nothing"));
        }
        Ok(patch)
    }
}

/// A circle as the HTTP API shows it. `access_code` and `id` are left out of
/// listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircleView {
    /// The access code, as `ABCDE-FGHJK`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_code: Option<String>,
    /// The stable identity: survives a new code and lets nobody join.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// The circle's name.
    pub name: String,
    /// The circle's description.
    pub description: String,
    /// The organiser's rules, in order.
    pub rules: Vec<String>,
    /// The circle's own prompts (empty: the default set is used).
    #[serde(default)]
    pub prompts: Vec<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: three days after `created_at`.
    pub expires_at: String,
    /// Whether `GET /groups` shows it.
    #[serde(default)]
    pub listed: bool,
    /// The labels members choose from when they join (absent: none).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub labels: Vec<String>,
    /// `across` or `within`; absent when the circle has no labels.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label_mode: Option<String>,
}

impl CircleView {
    /// The full view, with `access_code` and `id`: for the creator, a lookup by code and the
    /// organiser.
    pub fn with_code(c: &Circle) -> Self {
        Self {
            access_code: Some(c.code.to_string()),
            id: Some(c.cid.clone()),
            ..Self::without_code(c)
        }
    }

    /// The public view, without `access_code` and `id`: for listings.
    pub fn without_code(c: &Circle) -> Self {
        Self {
            access_code: None,
            id: None,
            name: c.name.clone(),
            description: c.description.clone(),
            rules: c.rules.clone(),
            prompts: c.prompts.clone(),
            created_at: rfc3339_secs(c.created_at),
            expires_at: rfc3339_secs(c.expires_at),
            listed: c.listing.is_some(),
            labels: c.labels.names.clone(),
            label_mode: c.labels.active().map(|m| m.as_str().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_accepts_good_bodies_and_trims() {
        let g = NewCircle::from_json(
            &json!({"name":" Team ","description":"d","rules":[" be kind "],"prompts":["why?"]}),
        )
        .expect("valid");
        assert_eq!(g.name, "Team");
        assert_eq!(g.rules, vec!["be kind"]);
        assert_eq!(g.prompts, vec!["why?"]);
        let g =
            NewCircle::from_json(&json!({"name":"n","description":"d"})).expect("rules optional");
        assert!(g.rules.is_empty() && g.prompts.is_empty());
        assert!(!g.listed, "unlisted unless asked");
        let g = NewCircle::from_json(&json!({"name":"n","description":"d","listed":true}))
            .expect("listed");
        assert!(g.listed);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let long = |n: usize| "x".repeat(n);
        let cases = [
            (json!([]), "body"),
            (json!({"description":"d"}), "name"),
            (json!({"name":"  ","description":"d"}), "name"),
            (json!({"name":long(81),"description":"d"}), "name"),
            (json!({"name":5,"description":"d"}), "name"),
            (json!({"name":"n"}), "description"),
            (json!({"name":"n","description":long(501)}), "description"),
            (
                json!({"name":"n","description":"d","rules":"be kind"}),
                "rules",
            ),
            (
                json!({"name":"n","description":"d","rules":vec!["r"; 21]}),
                "rules",
            ),
            (
                json!({"name":"n","description":"d","rules":["ok", 3]}),
                "rules[1]",
            ),
            (
                json!({"name":"n","description":"d","rules":["ok", " "]}),
                "rules[1]",
            ),
            (
                json!({"name":"n","description":"d","rules":[long(201)]}),
                "rules[0]",
            ),
            (
                json!({"name":"n","description":"d","prompts":vec!["p"; 51]}),
                "prompts",
            ),
            (
                json!({"name":"n","description":"d","prompts":[long(201)]}),
                "prompts[0]",
            ),
            (
                json!({"name":"n","description":"d","listed":"yes"}),
                "listed",
            ),
        ];
        for (body, field) in cases {
            let err = NewCircle::from_json(&body).expect_err(&body.to_string());
            assert_eq!(err.field, field, "{body}");
        }
        assert!(
            NewCircle::from_json(&json!({"name":long(80),"description":long(500),
                "rules":vec![long(200); 20],"prompts":vec![long(200); 50]}))
            .is_ok()
        );
    }

    #[test]
    fn a_patch_changes_only_named_fields() {
        let p = CirclePatch::from_json(&json!({"name":"New"})).expect("valid");
        assert_eq!(p.name.as_deref(), Some("New"));
        assert!(p.rules.is_none() && p.listed.is_none());
        let p = CirclePatch::from_json(&json!({"listed":false})).expect("valid");
        assert_eq!(p.listed, Some(false));
        assert_eq!(
            CirclePatch::from_json(&json!({})).expect_err("empty").field,
            "body"
        );
        assert_eq!(
            CirclePatch::from_json(&json!({"access_code":"X"}))
                .expect_err("code")
                .field,
            "access_code"
        );
        assert_eq!(
            CirclePatch::from_json(&json!({"description":""}))
                .expect_err("blank")
                .field,
            "description"
        );
    }
}
