//! What a DynamoDB request touches, as `--aws-sim` sees it: the items a write
//! or transaction holds (for `TransactionConflict`) and the partitions it
//! charges (for per-partition throughput), read straight from the request's
//! JSON. Pure: no I/O, no clock.
//!
//! Capacity is estimated before the request runs, as DynamoDB's admission does
//! for items of up to 1 KB (a write) or 4 KB (a read): 1 WCU per written item,
//! 1 RCU per strongly consistent read (0.5 eventually consistent), twice that
//! inside a transaction. A Query is charged what its response says it consumed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::db::tables::{CONNECTIONS, GROUPS};

/// One item, by table and primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub String);

/// Capacity a request charges one partition before it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// `table/partition-key-value` (or `table/index/value` for an index).
    pub partition: String,
    /// Read capacity units.
    pub read_units: f64,
    /// Write capacity units.
    pub write_units: f64,
}

/// What one request touches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Touch {
    /// Items it writes, in the request's order (a transaction's positions).
    pub writes: Vec<ItemId>,
    /// Capacity charged before it runs, per partition.
    pub charges: Vec<Charge>,
    /// A Query: its partition, charged after the response by what it consumed.
    pub query_partition: Option<String>,
}

/// What a Query is admitted for before its response tells what it consumed.
pub const QUERY_ADMIT_UNITS: f64 = 0.5;

/// The key attributes of every table (hash keys, then range keys).
fn key_attrs() -> [&'static str; 3] {
    [
        GROUPS.hash_key,
        CONNECTIONS.hash_key,
        match GROUPS.range_key {
            Some(k) => k,
            None => "sk",
        },
    ]
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .values()
            .next()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// The item id and partition of a key (or a whole item) of `table`.
fn locate(table: &str, item: &Value) -> Option<(ItemId, String)> {
    let map = item.as_object()?;
    let [pk, conn, sk] = key_attrs();
    let hash = map.get(pk).or_else(|| map.get(conn))?;
    let mut key: BTreeMap<&str, String> = BTreeMap::new();
    for attr in [pk, conn, sk] {
        if let Some(v) = map.get(attr) {
            key.insert(attr, scalar(v));
        }
    }
    let id = key
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let partition = format!("{table}/{}", scalar(hash));
    Some((ItemId(format!("{table}/{id}")), partition))
}

fn table_of(v: &Value) -> &str {
    v.get("TableName").and_then(Value::as_str).unwrap_or("")
}

fn consistent(v: &Value) -> bool {
    v.get("ConsistentRead").and_then(Value::as_bool) == Some(true)
}

fn read_units(consistent: bool) -> f64 {
    if consistent { 1.0 } else { 0.5 }
}

/// Adds one item of a request: its charge and, for a write, its hold.
fn add(t: &mut Touch, table: &str, item: Option<&Value>, held: bool, read: f64, write: f64) {
    if let Some((id, partition)) = item.and_then(|i| locate(table, i)) {
        if held {
            t.writes.push(id);
        }
        t.charges.push(Charge {
            partition,
            read_units: read,
            write_units: write,
        });
    }
}

/// The entries of an object-valued field (`RequestItems`), or none.
fn entries<'a>(v: &'a Value, field: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    v.get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// Reads what `op` (the `X-Amz-Target` operation) with body `body` touches.
pub fn touch(op: &str, body: &Value) -> Touch {
    let mut t = Touch::default();
    let table = table_of(body);
    match op {
        "GetItem" => {
            let units = read_units(consistent(body));
            add(&mut t, table, body.get("Key"), false, units, 0.0);
        }
        "PutItem" => add(&mut t, table, body.get("Item"), true, 0.0, 1.0),
        "UpdateItem" | "DeleteItem" => add(&mut t, table, body.get("Key"), true, 0.0, 1.0),
        "TransactWriteItems" => {
            for entry in body
                .get("TransactItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some((kind, inner)) = entry.as_object().and_then(|m| m.iter().next()) else {
                    continue;
                };
                let item = inner.get("Key").or_else(|| inner.get("Item"));
                // A condition check holds its item too, and reads it.
                let (read, write) = if kind == "ConditionCheck" {
                    (2.0, 0.0)
                } else {
                    (0.0, 2.0)
                };
                add(&mut t, table_of(inner), item, true, read, write);
            }
        }
        "BatchGetItem" => {
            for (table, spec) in entries(body, "RequestItems") {
                let units = read_units(consistent(spec));
                for key in spec
                    .get("Keys")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    add(&mut t, table, Some(key), false, units, 0.0);
                }
            }
        }
        "BatchWriteItem" => {
            for (table, requests) in entries(body, "RequestItems") {
                for r in requests.as_array().into_iter().flatten() {
                    let item = r
                        .pointer("/PutRequest/Item")
                        .or_else(|| r.pointer("/DeleteRequest/Key"));
                    // Not held: a batch's writes are not refused by holds here.
                    add(&mut t, table, item, false, 0.0, 1.0);
                }
            }
        }
        "Query" => {
            // Circle's queries name their partition `:pk` (store.rs).
            if let Some(v) = body.pointer("/ExpressionAttributeValues/:pk") {
                let table = match body.get("IndexName").and_then(Value::as_str) {
                    Some(index) => format!("{table}/{index}"),
                    None => table.to_owned(),
                };
                let partition = format!("{table}/{}", scalar(v));
                // Admitted for the least a Query costs; the rest after it ran.
                t.charges.push(Charge {
                    partition: partition.clone(),
                    read_units: QUERY_ADMIT_UNITS,
                    write_units: 0.0,
                });
                t.query_partition = Some(partition);
            }
        }
        _ => {}
    }
    t
}

/// The capacity units a response says it consumed (`ReturnConsumedCapacity`).
pub fn consumed_units(response: &Value) -> f64 {
    let one = |c: &Value| {
        c.get("CapacityUnits")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    match response.get("ConsumedCapacity") {
        Some(Value::Array(list)) => list.iter().map(one).sum(),
        Some(c) => one(c),
        None => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_transaction_holds_each_item_in_order_and_charges_double() {
        let body = json!({"TransactItems": [
            {"Delete": {"TableName": "g", "Key": {"pk": {"S": "L#c#0"}, "sk": {"S": "E#t"}}}},
            {"Update": {"TableName": "c", "Key": {"connection_id": {"S": "a"}}}},
            {"Put": {"TableName": "g", "Item": {"pk": {"S": "M#c"}, "sk": {"S": "m"}, "x": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": "c", "Key": {"connection_id": {"S": "b"}}}}
        ]});
        let t = touch("TransactWriteItems", &body);
        assert_eq!(
            t.writes,
            vec![
                ItemId("g/pk=L#c#0&sk=E#t".into()),
                ItemId("c/connection_id=a".into()),
                ItemId("g/pk=M#c&sk=m".into()),
                ItemId("c/connection_id=b".into()),
            ]
        );
        assert_eq!(t.charges[0].partition, "g/L#c#0");
        assert_eq!(t.charges[0].write_units, 2.0);
        assert_eq!(t.charges[3].read_units, 2.0);
    }

    #[test]
    fn reads_charge_their_partitions_and_queries_wait_for_the_response() {
        let get = json!({"TableName": "c", "Key": {"connection_id": {"S": "a"}}});
        let t = touch("GetItem", &get);
        assert!(t.writes.is_empty());
        assert_eq!(t.charges[0].read_units, 0.5);
        let q = json!({"TableName": "g", "IndexName": "i", "ExpressionAttributeValues": {":pk": {"S": "L#c#0"}}});
        assert_eq!(
            touch("Query", &q).query_partition.as_deref(),
            Some("g/i/L#c#0")
        );
        assert_eq!(
            consumed_units(&json!({"ConsumedCapacity": {"CapacityUnits": 1.5}})),
            1.5
        );
    }
}
