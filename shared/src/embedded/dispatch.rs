//! One DynamoDB JSON request run on the dynoxide [`Database`] in this process:
//! the operation named by `X-Amz-Target`, its body read into dynoxide's request
//! type, the answer (or DynamoDB's error) as JSON. This is what dynoxide's own
//! HTTP server does, without the server: that one can't be told to refuse
//! browsers or strangers (it answers CORS with `*` and takes any signature), so
//! the store is served by `embedded/front.rs` and reaches dynoxide only here.
//!
//! dynoxide's server also words the errors for malformed bodies a little more
//! like DynamoDB (it pre-checks field types); the stack's SDK clients never
//! send one.

use dynoxide::{Database, DynoxideError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `X-Amz-Target`'s prefix for DynamoDB's operations.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// And for DynamoDB Streams'.
const STREAMS_PREFIX: &str = "DynamoDBStreams_20120810.";

/// An answer: the HTTP status and DynamoDB's JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 200, or the error's status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl Reply {
    fn failed(err: &DynoxideError) -> Self {
        Self {
            status: err.status_code(),
            body: err.to_json(),
        }
    }
}

/// The operation an `X-Amz-Target` names, when it is one.
pub fn operation(target: &str) -> Option<&str> {
    target
        .strip_prefix(TARGET_PREFIX)
        .or_else(|| target.strip_prefix(STREAMS_PREFIX))
}

/// A serde failure as DynamoDB's error, as dynoxide classifies it: its own
/// readers mark the class (`VALIDATION:` …), and otherwise a missing or null
/// field is a validation error, a wrong JSON type a serialization error.
fn classify(msg: &str) -> DynoxideError {
    const MARKERS: [(&str, bool, bool); 5] = [
        ("SERIALIZATION_AS_READ:", false, true),
        ("VALIDATION_AS_READ:", true, true),
        ("SERIALIZATION:", false, false),
        ("VALIDATION_REQUEST:", true, false),
        ("VALIDATION:", true, false),
    ];
    let (text, validation) = MARKERS
        .iter()
        .find_map(|(marker, validation, as_read)| {
            let rest = msg.strip_prefix(marker)?;
            let rest = match rest.rsplit_once(" at line ") {
                Some((head, _)) if !as_read => head,
                _ => rest,
            };
            Some((rest.to_owned(), *validation))
        })
        .unwrap_or_else(|| {
            let validation = msg.contains("missing field")
                || msg.contains("unknown variant")
                || msg.contains("invalid type: null");
            (msg.to_owned(), validation)
        });
    if validation {
        DynoxideError::ValidationException(text)
    } else {
        DynoxideError::SerializationException(text)
    }
}

/// Reads the request, runs it, writes the answer.
fn call<Req: DeserializeOwned, Resp: Serialize>(
    body: &str,
    run: impl FnOnce(Req) -> dynoxide::Result<Resp>,
) -> Reply {
    let request = match serde_json::from_str::<Req>(body) {
        Ok(r) => r,
        Err(err) => return Reply::failed(&classify(&err.to_string())),
    };
    match run(request).and_then(|resp| {
        serde_json::to_string(&resp).map_err(|e| DynoxideError::InternalServerError(e.to_string()))
    }) {
        Ok(body) => Reply { status: 200, body },
        Err(err) => Reply::failed(&err),
    }
}

/// Runs operation `op` with this JSON body on `db`.
pub fn run(db: &Database, op: &str, body: &str) -> Reply {
    macro_rules! ops {
        ($($name:literal => $method:ident),* $(,)?) => {
            match op {
                $($name => call(body, |req| db.$method(req)),)*
                _ => Reply {
                    status: 400,
                    body: r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#
                        .to_owned(),
                },
            }
        };
    }
    ops! {
        "CreateTable" => create_table,
        "DeleteTable" => delete_table,
        "DescribeTable" => describe_table,
        "ListTables" => list_tables,
        "UpdateTable" => update_table,
        "PutItem" => put_item,
        "GetItem" => get_item,
        "DeleteItem" => delete_item,
        "UpdateItem" => update_item,
        "Query" => query,
        "Scan" => scan,
        "BatchGetItem" => batch_get_item,
        "BatchWriteItem" => batch_write_item,
        "TransactWriteItems" => transact_write_items,
        "TransactGetItems" => transact_get_items,
        "UpdateTimeToLive" => update_time_to_live,
        "DescribeTimeToLive" => describe_time_to_live,
        "ListStreams" => list_streams,
        "DescribeStream" => describe_stream,
        "GetShardIterator" => get_shard_iterator,
        "GetRecords" => get_records,
        "ExecuteStatement" => execute_statement,
        "ExecuteTransaction" => execute_transaction,
        "BatchExecuteStatement" => batch_execute_statement,
        "TagResource" => tag_resource,
        "UntagResource" => untag_resource,
        "ListTagsOfResource" => list_tags_of_resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_run_and_errors_are_dynamodbs() {
        let db = Database::memory().expect("in memory");
        let create = r#"{"TableName":"things","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
            "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
            "BillingMode":"PAY_PER_REQUEST"}"#;
        let created = run(&db, "CreateTable", create);
        assert_eq!(created.status, 200, "{}", created.body);
        let put = r#"{"TableName":"things","Item":{"pk":{"S":"a"}}}"#;
        assert_eq!(run(&db, "PutItem", put).status, 200);
        let conditional = r#"{"TableName":"things","Item":{"pk":{"S":"a"}},
            "ConditionExpression":"attribute_not_exists(pk)"}"#;
        let failed = run(&db, "PutItem", conditional);
        assert_eq!(failed.status, 400);
        assert!(
            failed.body.contains("ConditionalCheckFailedException"),
            "{}",
            failed.body
        );
        let get = run(
            &db,
            "GetItem",
            r#"{"TableName":"things","Key":{"pk":{"S":"a"}}}"#,
        );
        assert_eq!(get.status, 200);
        assert!(get.body.contains(r#""pk":{"S":"a"}"#), "{}", get.body);
        let missing = run(&db, "GetItem", r#"{"Key":{"pk":{"S":"a"}}}"#);
        assert!(
            missing.body.contains("ValidationException"),
            "{}",
            missing.body
        );
        let short = run(&db, "DescribeTable", r#"{"TableName":"t"}"#);
        assert!(
            short.body.contains("ValidationException") && !short.body.contains("VALIDATION:"),
            "{}",
            short.body
        );
        let unknown = run(&db, "Launch", "{}");
        assert!(unknown.body.contains("UnknownOperationException"));
    }

    #[test]
    fn targets_name_operations() {
        assert_eq!(operation("DynamoDB_20120810.Query"), Some("Query"));
        assert_eq!(
            operation("DynamoDBStreams_20120810.GetRecords"),
            Some("GetRecords")
        );
        assert_eq!(operation("Query"), None);
    }
}
