//! Groups: validating a new circle, creating it under a unique access code,
//! reading it back, and listing live circles without their codes.

use aws_sdk_dynamodb::operation::{put_item::PutItemOutput, scan::ScanOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;
use crate::clock::rfc3339_secs;
use crate::code::AccessCode;
use crate::metrics::DdbOp;
use crate::model::{GROUP_SK, Group};
use crate::store::attr::s;
use crate::store::{Item, StoreError};

pub const MAX_GROUP_NAME: usize = 80;
pub const MAX_DESCRIPTION: usize = 500;
pub const MAX_RULES: usize = 20;
pub const MAX_RULE: usize = 200;
/// Codes tried before giving up (a collision at 49 bits is already unheard of).
const CODE_ATTEMPTS: usize = 5;
/// How many groups `GET /groups` returns at most.
pub const LIST_LIMIT: usize = 200;

/// A request body field that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A validated `POST /groups` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    pub rules: Vec<String>,
}

impl NewGroup {
    /// Validates a JSON body: `name` 1-80 chars, `description` 1-500 chars, `rules`
    /// an optional list of at most 20 non-blank strings of at most 200 chars.
    pub fn from_json(body: &Value) -> Result<Self, ValidationError> {
        let Value::Object(obj) = body else {
            return Err(ValidationError::new("body", "must be a JSON object"));
        };
        let text = |field: &str, max: usize| -> Result<String, ValidationError> {
            match obj.get(field) {
                Some(Value::String(v)) => {
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
                        Ok(v.to_owned())
                    }
                }
                None | Some(Value::Null) => Err(ValidationError::new(field, "is required")),
                Some(_) => Err(ValidationError::new(field, "must be a string")),
            }
        };
        let name = text("name", MAX_GROUP_NAME)?;
        let description = text("description", MAX_DESCRIPTION)?;
        let rules = match obj.get("rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > MAX_RULES {
                    return Err(ValidationError::new(
                        "rules",
                        format!("at most {MAX_RULES} rules"),
                    ));
                }
                let mut rules = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let field = format!("rules[{i}]");
                    let Value::String(rule) = item else {
                        return Err(ValidationError::new(field, "must be a string"));
                    };
                    let rule = rule.trim();
                    if rule.is_empty() {
                        return Err(ValidationError::new(field, "must not be blank"));
                    }
                    if rule.chars().count() > MAX_RULE {
                        return Err(ValidationError::new(
                            field,
                            format!("must be at most {MAX_RULE} characters"),
                        ));
                    }
                    rules.push(rule.to_owned());
                }
                rules
            }
            Some(_) => return Err(ValidationError::new("rules", "must be a list of strings")),
        };
        Ok(Self {
            name,
            description,
            rules,
        })
    }
}

/// A group as the HTTP API shows it. `access_code` is left out of listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_code: Option<String>,
    pub name: String,
    pub description: String,
    pub rules: Vec<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: three days after `created_at`.
    pub expires_at: String,
}

impl GroupView {
    pub fn with_code(g: &Group) -> Self {
        Self {
            access_code: Some(g.code.to_string()),
            ..Self::without_code(g)
        }
    }

    pub fn without_code(g: &Group) -> Self {
        Self {
            access_code: None,
            name: g.name.clone(),
            description: g.description.clone(),
            rules: g.rules.clone(),
            created_at: rfc3339_secs(g.created_at),
            expires_at: rfc3339_secs(g.expires_at),
        }
    }
}

fn group_key(code: &AccessCode) -> Item {
    Item::from([("pk".into(), s(code.as_str())), ("sk".into(), s(GROUP_SK))])
}

/// Creates a group under a fresh code; the conditional put makes the code unique.
pub async fn create(app: &App, new: NewGroup) -> Result<Group, StoreError> {
    let now = app.now_secs();
    let ttl = i64::try_from(app.settings.group_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    for _ in 0..CODE_ATTEMPTS {
        let group = Group {
            code: AccessCode::generate(),
            name: new.name.clone(),
            description: new.description.clone(),
            rules: new.rules.clone(),
            created_at: now,
            expires_at: now + ttl,
        };
        let result = app
            .store
            .client
            .put_item()
            .table_name(&app.store.tables.groups)
            .set_item(Some(group.to_item()))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match app
            .store
            .settle(DdbOp::PutItem, result, PutItemOutput::consumed_capacity)
        {
            Ok(_) => return Ok(group),
            Err(StoreError::ConditionFailed) => {
                tracing::warn!("access code collision; drawing another");
            }
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Other(
        "could not find a free access code".into(),
    ))
}

/// The live group with this code, if any (an expired group is absent).
pub async fn get(app: &App, code: &AccessCode) -> Result<Option<Group>, StoreError> {
    let item = app
        .store
        .get_item(&app.store.tables.groups, group_key(code), false)
        .await?;
    let Some(item) = item else {
        return Ok(None);
    };
    let group = Group::from_item(&item)?;
    Ok((!group.is_expired(app.now_secs())).then_some(group))
}

/// Live groups, newest first, at most [`LIST_LIMIT`].
pub async fn list(app: &App) -> Result<Vec<Group>, StoreError> {
    let now = app.now_secs();
    let mut groups = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let result = app
            .store
            .client
            .scan()
            .table_name(&app.store.tables.groups)
            .filter_expression("sk = :g AND expires_at > :now")
            .expression_attribute_values(":g", s(GROUP_SK))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .set_exclusive_start_key(start.take())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = app
            .store
            .settle(DdbOp::Scan, result, ScanOutput::consumed_capacity)?;
        for item in out.items() {
            groups.push(Group::from_item(item)?);
        }
        match out.last_evaluated_key() {
            Some(k) if groups.len() < 10 * LIST_LIMIT => start = Some(k.clone()),
            _ => break,
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.created_at));
    groups.truncate(LIST_LIMIT);
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_accepts_good_bodies_and_trims() {
        let g =
            NewGroup::from_json(&json!({"name":" Team ","description":"d","rules":[" be kind "]}))
                .expect("valid");
        assert_eq!(g.name, "Team");
        assert_eq!(g.rules, vec!["be kind"]);
        let g =
            NewGroup::from_json(&json!({"name":"n","description":"d"})).expect("rules optional");
        assert!(g.rules.is_empty());
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
        ];
        for (body, field) in cases {
            let err = NewGroup::from_json(&body).expect_err(&body.to_string());
            assert_eq!(err.field, field, "{body}");
        }
        assert!(
            NewGroup::from_json(
                &json!({"name":long(80),"description":long(500),"rules":vec![long(200); 20]})
            )
            .is_ok()
        );
    }
}
