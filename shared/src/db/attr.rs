//! Items and their attributes: the `Item` type and the constructors and
//! readers every record's `to_item`/`from_item` uses.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number.
pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A boolean.
pub fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

/// A string set (DynamoDB refuses empty sets; callers never pass one).
pub fn ss(v: impl IntoIterator<Item = String>) -> AttributeValue {
    AttributeValue::Ss(v.into_iter().collect())
}

/// A list of strings.
pub fn strings(v: impl IntoIterator<Item = String>) -> AttributeValue {
    AttributeValue::L(v.into_iter().map(AttributeValue::S).collect())
}

/// A string attribute, if present.
pub fn opt_s(item: &Item, key: &str) -> Option<String> {
    match item.get(key) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A string attribute, or `Corrupt`.
pub fn req_s(item: &Item, key: &str) -> Result<String, StoreError> {
    opt_s(item, key).ok_or_else(|| StoreError::Corrupt(format!("missing string attribute {key}")))
}

/// A number attribute, if present and an integer.
pub fn opt_n(item: &Item, key: &str) -> Option<i64> {
    match item.get(key) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// A number attribute, or `Corrupt`.
pub fn req_n(item: &Item, key: &str) -> Result<i64, StoreError> {
    opt_n(item, key).ok_or_else(|| StoreError::Corrupt(format!("missing number attribute {key}")))
}

/// A boolean attribute, if present.
pub fn opt_b(item: &Item, key: &str) -> Option<bool> {
    match item.get(key) {
        Some(AttributeValue::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// The strings of a list attribute (empty when absent).
pub fn string_list(item: &Item, key: &str) -> Vec<String> {
    match item.get(key) {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    }
}

/// The members of a string-set attribute (empty when absent).
pub fn string_set(item: &Item, key: &str) -> BTreeSet<String> {
    match item.get(key) {
        Some(AttributeValue::Ss(set)) => set.iter().cloned().collect(),
        _ => BTreeSet::new(),
    }
}
