//! The fields of `feedback` and `keep_in_touch`: a rating, and a contact line.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ProtocolError;

/// Longest `keep_in_touch` contact line, in characters.
pub const MAX_CONTACT_CHARS: usize = 200;

/// A `feedback` rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// `good`.
    Good,
    /// `meh`.
    Meh,
}

/// `rating`: `good` or `meh`.
pub(super) fn rating(obj: &Map<String, Value>) -> Result<Rating, ProtocolError> {
    match obj.get("rating").and_then(Value::as_str) {
        Some("good") => Ok(Rating::Good),
        Some("meh") => Ok(Rating::Meh),
        _ => Err(ProtocolError::Invalid {
            field: "rating",
            message: "must be \"good\" or \"meh\"",
        }),
    }
}

/// `contact` (already trimmed, absent or blank: empty): at most
/// [`MAX_CONTACT_CHARS`], without format characters.
pub(super) fn contact(raw: Option<String>) -> Result<String, ProtocolError> {
    let raw = raw.unwrap_or_default();
    if raw.chars().count() > MAX_CONTACT_CHARS {
        return Err(ProtocolError::Invalid {
            field: "contact",
            message: "must be at most 200 characters",
        });
    }
    Ok(super::text::strip_format(&raw).trim().to_owned())
}
