//! The one place the DynamoDB tables are defined: names, keys, TTL attribute.
//! Tests, the local stack and the template checks all read these definitions.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::StoreError;

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Everything of a circle: the circle, members, lobby, reports, counters.
    Groups,
    /// One record per WebSocket connection.
    Connections,
}

/// A table's shape. Every key attribute is a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// The logical name, used for the template resource and env var.
    pub logical: &'static str,
    /// The partition key attribute.
    pub hash_key: &'static str,
    /// The sort key attribute, if the table has one.
    pub range_key: Option<&'static str>,
    /// Epoch-seconds attribute DynamoDB's TTL deletes by.
    pub ttl_attribute: &'static str,
    /// A global secondary index (all attributes projected), if any.
    pub index: Option<IndexDef>,
}

/// A global secondary index: name and keys (strings), every attribute projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    /// The index's name.
    pub name: &'static str,
    /// The index's partition key attribute.
    pub hash_key: &'static str,
    /// The index's sort key attribute.
    pub range_key: &'static str,
}

impl TableDef {
    /// Whether `attribute` is one of the table's own keys.
    pub fn is_key(&self, attribute: &str) -> bool {
        self.hash_key == attribute || self.range_key == Some(attribute)
    }
}

/// Circles and everything of theirs: the circle, its lobby shards, members,
/// reports and counters, each kind in partitions of its own (see [`crate::db::keys`]).
/// The sparse `listed` index holds only listed circles (`lk`, `lt`), so
/// `GET /groups` is one Query whatever else the table holds.
pub const GROUPS: TableDef = TableDef {
    logical: "GroupsTable",
    hash_key: "pk",
    range_key: Some("sk"),
    ttl_attribute: "expires_at",
    index: Some(IndexDef {
        name: super::keys::LISTED_INDEX,
        hash_key: "lk",
        range_key: "lt",
    }),
};

/// One item per WebSocket connection: its state (idle, waiting, paired, away) and
/// room. The `by_circle` index lists a circle's connections (for round notices,
/// the organiser's counts, removal and closing), sharded so a big circle has no
/// hot index partition.
pub const CONNECTIONS: TableDef = TableDef {
    logical: "ConnectionsTable",
    hash_key: "connection_id",
    range_key: None,
    ttl_attribute: "expires_at",
    index: Some(IndexDef {
        name: super::keys::BY_CIRCLE_INDEX,
        hash_key: "ck",
        range_key: "connection_id",
    }),
};

/// Physical table names (from config on AWS, fixed or per-test locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// The groups table: circles and everything of theirs ([`GROUPS`]).
    pub groups: String,
    /// The connections table ([`CONNECTIONS`]).
    pub connections: String,
}

impl TableNames {
    /// `{prefix}-groups` and `{prefix}-connections`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            groups: format!("{prefix}-groups"),
            connections: format!("{prefix}-connections"),
        }
    }

    /// From `GROUPS_TABLE` and `CONNECTIONS_TABLE`, defaulting to the `circle-` names.
    pub fn from_env() -> Self {
        let default = Self::with_prefix("circle");
        Self {
            groups: std::env::var("GROUPS_TABLE").unwrap_or(default.groups),
            connections: std::env::var("CONNECTIONS_TABLE").unwrap_or(default.connections),
        }
    }

    /// Each physical name with its table's definition, groups first.
    pub fn pairs(&self) -> [(&str, &TableDef); 2] {
        [(&self.groups, &GROUPS), (&self.connections, &CONNECTIONS)]
    }
}

/// Creates both tables (PAY_PER_REQUEST, TTL on) unless they exist already.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    for (name, def) in names.pairs() {
        let mut req = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(def.hash_key, KeyType::Hash))
            .attribute_definitions(attr(def.hash_key));
        if let Some(range) = def.range_key {
            req = req
                .key_schema(key(range, KeyType::Range))
                .attribute_definitions(attr(range));
        }
        if let Some(index) = def.index {
            req = req.attribute_definitions(attr(index.hash_key));
            if !def.is_key(index.range_key) {
                req = req.attribute_definitions(attr(index.range_key));
            }
            req = req.global_secondary_indexes(gsi(&index));
        }
        match req.send().await {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                add_missing_index(client, name, def).await?;
                continue;
            }
            Err(err) => return Err(StoreError::from_sdk(err)),
        }
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(def.ttl_attribute)
                    .build()
                    .expect("enabled and attribute_name are set"),
            )
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
    }
    Ok(())
}

/// A table made before its index existed (an older local data file) gets it.
async fn add_missing_index(client: &Client, name: &str, def: &TableDef) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{CreateGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate};
    let Some(index) = def.index else {
        return Ok(());
    };
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    let has = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .any(|i| i.index_name() == Some(index.name));
    if has {
        return Ok(());
    }
    tracing::info!(table = name, index = index.name, "adding a missing index");
    client
        .update_table()
        .table_name(name)
        .attribute_definitions(attr(index.hash_key))
        .attribute_definitions(attr(index.range_key))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create({
                    let gsi = gsi(&index);
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name(index.name)
                        .set_key_schema(Some(gsi.key_schema().to_vec()))
                        .set_projection(gsi.projection().cloned())
                        .build()
                        .expect("index name, keys and projection are set")
                })
                .build(),
        )
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(())
}

/// An index as `CreateTable` declares it: its keys, every attribute projected.
fn gsi(index: &IndexDef) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key(index.hash_key, KeyType::Hash))
        .key_schema(key(index.range_key, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("index name and key schema are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("attribute_name and key_type are set")
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute_name and attribute_type are set")
}
