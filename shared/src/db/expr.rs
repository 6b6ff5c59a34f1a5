//! Expressions: the `#name` aliases an expression uses, derived from its text
//! (`#name` stands for attribute `name`), and only the `:values` it uses
//! (DynamoDB refuses unused ones). Pure; the request builders on `Store` use it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::Item;

/// The `#name` aliases an expression uses, mapped to their attribute names.
pub(super) fn names_in(expressions: &[&str]) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for expr in expressions {
        let bytes = expr.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'#' {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                if end > start {
                    let name = &expr[start..end];
                    map.insert(format!("#{name}"), name.to_owned());
                }
                i = end;
            } else {
                i += 1;
            }
        }
    }
    (!map.is_empty()).then_some(map)
}

pub(super) fn values(vals: Vec<(&str, AttributeValue)>) -> Option<HashMap<String, AttributeValue>> {
    (!vals.is_empty()).then(|| vals.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Whether `expr` uses the placeholder `token` (`:a` is not in `:ab`).
fn mentions(expr: &str, token: &str) -> bool {
    expr.match_indices(token).any(|(i, _)| {
        !expr[i + token.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The values the expressions use (DynamoDB refuses unused ones), so callers
/// can pass a superset for expressions that vary.
pub(super) fn used_values(
    expressions: &[&str],
    vals: Vec<(&str, AttributeValue)>,
) -> Option<HashMap<String, AttributeValue>> {
    values(
        vals.into_iter()
            .filter(|(k, _)| expressions.iter().any(|e| mentions(e, k)))
            .collect(),
    )
}

/// The partition key value of an item key, for the hot-partition figure.
pub(super) fn partition_of(key: &Item) -> String {
    key.get("pk")
        .or_else(|| key.get("connection_id"))
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_expressions() {
        let names = names_in(&["SET #pid = :p, #st = :s", "#room_id = :r"]).expect("some");
        assert_eq!(names.len(), 3);
        assert_eq!(names["#room_id"], "room_id");
        assert!(names_in(&["a = :b"]).is_none());
        let used = used_values(
            &["SET #a = :a"],
            vec![
                (":a", AttributeValue::N("1".into())),
                (":ab", AttributeValue::N("2".into())),
            ],
        )
        .expect("some");
        assert_eq!(used.len(), 1);
    }
}
