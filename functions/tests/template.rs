//! What cfn-lint can't know about `template.yaml`: that it matches this code. The
//! WebSocket API's protocol and route selection, every route wired to the function
//! whose binary serves it, the tables' keys and TTL equal to
//! `circle_shared::db::tables`, and each function's IAM rights exactly what it uses.
//! `template/operations.rs` checks what an operator relies on: logs, alarms, the
//! dashboard. (What SAM renders from it is `infra/scripts/sam_translate_check.py`.)

#[path = "template/operations.rs"]
mod operations;
mod support;

use std::collections::{BTreeMap, BTreeSet};

use circle_functions::{FUNCTIONS, HTTP_API_BINARY, TIMER_BINARY};
use circle_shared::db::tables::{CONNECTIONS, GROUPS, TableDef};
use circle_shared::handlers::ws::ROUTES;
use serde_norway::Value;

fn template() -> Value {
    let path = support::root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml exists at the workspace root");
    serde_norway::from_str(&text).expect("template.yaml parses, CloudFormation tags included")
}

/// A key of a mapping.
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(key)
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .try_fold(v, |v, k| get(v, k))
        .unwrap_or_else(|| panic!("missing {}", path.join(".")))
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

/// A list of strings.
fn texts(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {v:?}"))
        .iter()
        .map(text)
        .collect()
}

/// `!Tag value` or `{Fn::Long: value}` as (tag, value).
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            let short = k.strip_prefix("Fn::").unwrap_or(k);
            (k.starts_with("Fn::") || k == "Ref").then(|| (short.to_owned(), v))
        }
        _ => None,
    }
}

/// The logical id a `!Ref X` names.
fn ref_target(v: &Value) -> Option<&str> {
    match intrinsic(v)? {
        (tag, value) if tag == "Ref" => value.as_str(),
        _ => None,
    }
}

/// The resource a `!GetAtt X.Arn` / `!GetAtt [X, Arn]` names.
fn getatt_arn(v: &Value) -> Option<&str> {
    let (tag, value) = intrinsic(v)?;
    if tag != "GetAtt" {
        return None;
    }
    match value {
        Value::String(s) => s.strip_suffix(".Arn"),
        Value::Sequence(parts) if parts.len() == 2 && parts[1].as_str() == Some("Arn") => {
            parts[0].as_str()
        }
        _ => None,
    }
}

/// The string of a `!Sub "..."`.
fn sub_text(v: &Value) -> Option<&str> {
    match intrinsic(v)? {
        (tag, Value::String(s)) if tag == "Sub" => Some(s),
        _ => None,
    }
}

/// The `${...}` references of a `!Sub` string.
fn sub_refs(s: &str) -> Vec<&str> {
    s.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(r, _)| r))
        .collect()
}

fn resources(t: &Value) -> BTreeMap<String, &Value> {
    at(t, &["Resources"])
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .map(|(k, v)| (text(k).to_owned(), v))
        .collect()
}

fn of_type<'a>(t: &'a Value, kind: &str) -> BTreeMap<String, &'a Value> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| get(r, "Type").and_then(Value::as_str) == Some(kind))
        .collect()
}

fn props(r: &Value) -> &Value {
    at(r, &["Properties"])
}

/// The one WebSocket API's logical id.
fn websocket_api(t: &Value) -> String {
    let apis = of_type(t, "AWS::ApiGatewayV2::Api");
    assert_eq!(apis.len(), 1, "exactly one ApiGatewayV2 API");
    let (id, api) = apis.into_iter().next().expect("one API");
    assert_eq!(text(at(props(api), &["ProtocolType"])), "WEBSOCKET");
    assert_eq!(
        text(at(props(api), &["RouteSelectionExpression"])),
        "$request.body.action"
    );
    id
}

/// The function whose binary is `bin`, by logical id.
fn function_of_binary(t: &Value, bin: &str) -> String {
    let found: Vec<String> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| {
            get(f, "Metadata")
                .and_then(|m| get(m, "BuildProperties"))
                .and_then(|b| get(b, "Binary"))
                .and_then(Value::as_str)
                == Some(bin)
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one function builds binary {bin}: {found:?}"
    );
    found.into_iter().next().expect("one function")
}

#[test]
fn the_websocket_api_selects_routes_by_action() {
    websocket_api(&template());
}

#[test]
fn every_route_is_wired_to_the_function_whose_binary_serves_it() {
    let t = template();
    let api = websocket_api(&t);
    let res = resources(&t);
    let routes = of_type(&t, "AWS::ApiGatewayV2::Route");
    let keys: BTreeSet<&str> = routes
        .values()
        .map(|r| text(at(props(r), &["RouteKey"])))
        .collect();
    assert_eq!(
        keys,
        ROUTES.into_iter().collect::<BTreeSet<_>>(),
        "the template declares exactly the handled routes"
    );
    assert_eq!(
        FUNCTIONS.map(|(r, _)| r),
        ROUTES,
        "FUNCTIONS covers every route"
    );

    for (route_id, route) in &routes {
        let p = props(route);
        let key = text(at(p, &["RouteKey"]));
        assert_eq!(
            ref_target(at(p, &["ApiId"])),
            Some(api.as_str()),
            "{route_id} belongs to the WebSocket API"
        );
        let target =
            sub_text(at(p, &["Target"])).unwrap_or_else(|| panic!("{route_id}: Target is a !Sub"));
        let integration_id = target
            .strip_prefix("integrations/${")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{route_id}: Target is integrations/${{Integration}}"));
        let integration = props(
            res.get(integration_id)
                .unwrap_or_else(|| panic!("{integration_id} exists")),
        );
        assert_eq!(ref_target(at(integration, &["ApiId"])), Some(api.as_str()));
        assert_eq!(text(at(integration, &["IntegrationType"])), "AWS_PROXY");
        let uri = sub_text(at(integration, &["IntegrationUri"])).expect("IntegrationUri is a !Sub");
        let functions: Vec<&str> = sub_refs(uri)
            .into_iter()
            .filter_map(|r| r.strip_suffix(".Arn"))
            .collect();

        let bin = FUNCTIONS
            .iter()
            .find(|(r, _)| *r == key)
            .map(|(_, b)| *b)
            .expect("every route has a binary");
        let function = function_of_binary(&t, bin);
        assert_eq!(
            functions,
            [function.as_str()],
            "route {key} invokes {function} ({bin})"
        );
        let source = support::root()
            .join("functions/src/bin")
            .join(format!("{bin}.rs"));
        assert!(
            source.is_file(),
            "the binary {bin} exists at {}",
            source.display()
        );

        // API Gateway may invoke it, for this route only.
        let permitted = of_type(&t, "AWS::Lambda::Permission")
            .into_values()
            .any(|perm| {
                let p = props(perm);
                let arn = get(p, "SourceArn").and_then(sub_text).unwrap_or_default();
                ref_target(at(p, &["FunctionName"])) == Some(function.as_str())
                    && text(at(p, &["Principal"])) == "apigateway.amazonaws.com"
                    && text(at(p, &["Action"])) == "lambda:InvokeFunction"
                    && arn.contains(&format!("${{{api}}}/"))
                    && arn.ends_with(&format!("/{key}"))
            });
        assert!(
            permitted,
            "a Lambda permission lets API Gateway invoke {function} for {key}"
        );
    }

    let stages = of_type(&t, "AWS::ApiGatewayV2::Stage");
    assert_eq!(stages.len(), 1);
    let stage = stages.values().next().expect("one stage");
    assert_eq!(at(props(stage), &["AutoDeploy"]).as_bool(), Some(true));
    for limit in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        at(props(stage), &["DefaultRouteSettings", limit]);
    }
    let depends: BTreeSet<&str> = at(stage, &["DependsOn"])
        .as_sequence()
        .expect("a list")
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        depends,
        routes.keys().map(String::as_str).collect(),
        "the first deployment has every route"
    );
}

#[test]
fn every_binary_is_a_function_on_arm64_al2023() {
    let t = template();
    let globals = at(&t, &["Globals", "Function"]);
    let bins: BTreeSet<String> = std::fs::read_dir(support::root().join("functions/src/bin"))
        .expect("functions/src/bin exists")
        .map(|e| e.expect("a readable entry").path())
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|(_, b)| (*b).to_owned())
        .chain([HTTP_API_BINARY.to_owned(), TIMER_BINARY.to_owned()])
        .collect();
    assert_eq!(bins, expected, "one binary per function, no strays");
    for bin in &bins {
        let id = function_of_binary(&t, bin);
        let f = resources(&t)[&id];
        assert_eq!(
            text(at(f, &["Metadata", "BuildMethod"])),
            "rust-cargolambda"
        );
        let prop = |key: &str| {
            get(props(f), key)
                .or_else(|| get(globals, key))
                .unwrap_or_else(|| panic!("{id}.{key}"))
        };
        assert_eq!(text(prop("Runtime")), "provided.al2023");
        assert_eq!(text(prop("Handler")), "bootstrap");
        assert_eq!(
            prop("Architectures")
                .as_sequence()
                .map(|a| a.iter().map(text).collect::<Vec<_>>()),
            Some(vec!["arm64"])
        );
        let code_uri = text(prop("CodeUri")).trim_end_matches('/');
        assert!(
            support::root().join(code_uri).join("Cargo.toml").is_file(),
            "CodeUri points at the functions crate"
        );
    }
}

fn check_table(t: &Value, def: &TableDef) {
    let table = resources(t)
        .get(def.logical)
        .copied()
        .unwrap_or_else(|| panic!("{} exists", def.logical));
    assert_eq!(text(at(table, &["Type"])), "AWS::DynamoDB::Table");
    let p = props(table);
    assert_eq!(text(at(p, &["BillingMode"])), "PAY_PER_REQUEST");
    let schema: Vec<(&str, &str)> = at(p, &["KeySchema"])
        .as_sequence()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| (text(at(k, &["AttributeName"])), text(at(k, &["KeyType"]))))
        .collect();
    let mut expected = vec![(def.hash_key, "HASH")];
    expected.extend(def.range_key.map(|r| (r, "RANGE")));
    assert_eq!(schema, expected, "{} keys match the code", def.logical);
    let attrs: BTreeSet<(&str, &str)> = at(p, &["AttributeDefinitions"])
        .as_sequence()
        .expect("AttributeDefinitions is a list")
        .iter()
        .map(|a| {
            (
                text(at(a, &["AttributeName"])),
                text(at(a, &["AttributeType"])),
            )
        })
        .collect();
    let expected_attrs: BTreeSet<(&str, &str)> = expected
        .iter()
        .map(|(name, _)| (*name, "S"))
        .chain(def.index.map(|i| (i.hash_key, "S")))
        .chain(def.index.map(|i| (i.range_key, "S")))
        .collect();
    assert_eq!(
        attrs, expected_attrs,
        "{}: only the (string) keys are declared",
        def.logical
    );
    assert!(
        get(p, "LocalSecondaryIndexes").is_none(),
        "no local indexes: the code uses none"
    );
    match (def.index, get(p, "GlobalSecondaryIndexes")) {
        (None, None) => {}
        (Some(index), Some(list)) => {
            let list = list
                .as_sequence()
                .expect("GlobalSecondaryIndexes is a list");
            assert_eq!(list.len(), 1, "{}: one index, as the code", def.logical);
            let gsi = &list[0];
            assert_eq!(text(at(gsi, &["IndexName"])), index.name);
            let schema: Vec<(&str, &str)> = at(gsi, &["KeySchema"])
                .as_sequence()
                .expect("a list")
                .iter()
                .map(|k| (text(at(k, &["AttributeName"])), text(at(k, &["KeyType"]))))
                .collect();
            assert_eq!(
                schema,
                [(index.hash_key, "HASH"), (index.range_key, "RANGE")],
                "{} index keys match the code",
                def.logical
            );
            assert_eq!(text(at(gsi, &["Projection", "ProjectionType"])), "ALL");
        }
        (code, template) => panic!(
            "{}: the code's index {code:?} and the template's {template:?} differ",
            def.logical
        ),
    }
    assert_eq!(
        text(at(p, &["TimeToLiveSpecification", "AttributeName"])),
        def.ttl_attribute
    );
    assert_eq!(
        at(p, &["TimeToLiveSpecification", "Enabled"]).as_bool(),
        Some(true)
    );
}

#[test]
fn tables_match_the_code() {
    let t = template();
    check_table(&t, &GROUPS);
    check_table(&t, &CONNECTIONS);
}

/// (action, resource) pairs a function's inline policies allow; resources by
/// logical table id or `@connections`.
fn rights(t: &Value, function: &str, api: &str) -> BTreeSet<(String, String)> {
    let f = resources(t)[function];
    let mut out = BTreeSet::new();
    for policy in at(props(f), &["Policies"])
        .as_sequence()
        .expect("Policies is a list")
    {
        for statement in at(policy, &["Statement"])
            .as_sequence()
            .expect("Statement is a list")
        {
            assert_eq!(text(at(statement, &["Effect"])), "Allow");
            let resource = at(statement, &["Resource"]);
            let target = if let Some(res) = getatt_arn(resource) {
                res.to_owned()
            } else if let Some(secret) = ref_target(resource) {
                // `!Ref` of a secret is its ARN.
                secret.to_owned()
            } else {
                let arn = sub_text(resource)
                    .unwrap_or_else(|| panic!("{function}: resource {resource:?}"));
                let connections = |method: &str| {
                    format!(
                        "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api}}}/${{StageName}}/{method}/@connections/*"
                    )
                };
                if arn == connections("POST") {
                    "@connections".to_owned()
                } else if arn == connections("DELETE") {
                    "DELETE @connections".to_owned()
                } else if let Some((table, index)) = [CONNECTIONS.logical, GROUPS.logical]
                    .into_iter()
                    .find_map(|t| Some((t, arn.strip_prefix(&format!("${{{t}.Arn}}/index/"))?)))
                {
                    format!("{table}/index/{index}")
                } else {
                    panic!("{function}: {arn} is neither this API's @connections nor an index")
                }
            };
            for action in at(statement, &["Action"])
                .as_sequence()
                .expect("Action is a list")
            {
                let action = text(action);
                assert!(!action.contains('*'), "{function}: no wildcard actions");
                out.insert((action.to_owned(), target.clone()));
            }
        }
    }
    out
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect()
}

#[test]
fn each_function_gets_only_the_rights_it_uses() {
    let t = template();
    let api = websocket_api(&t);
    let (g, c, post) = (GROUPS.logical, CONNECTIONS.logical, "@connections");
    let index = format!("{c}/index/by_circle");
    let listed = format!("{g}/index/listed");
    let manage = ("execute-api:ManageConnections", post);
    let close = ("execute-api:ManageConnections", "DELETE @connections");
    let timers = ("sqs:SendMessage", "TimerQueue");
    // What circle_shared does per route: reads and conditional writes (single,
    // batched, and in TransactWriteItems, which IAM checks per item action) and posts.
    let own_record = [
        ("dynamodb:GetItem", c),
        ("dynamodb:UpdateItem", c),
        ("dynamodb:DeleteItem", c),
    ];
    // Joining: the circle, members, lobby, counters (and held seats, for resume).
    let circle_items = [
        ("dynamodb:GetItem", g),
        ("dynamodb:Query", g),
        ("dynamodb:PutItem", g),
        ("dynamodb:UpdateItem", g),
        ("dynamodb:DeleteItem", g),
    ];
    // Joins, leaves, blocks, reports and messages are rate limited: a
    // connection that keeps going over is closed.
    let joins: Vec<_> = own_record
        .iter()
        .chain(&circle_items)
        .copied()
        .chain([manage, close])
        .collect();
    // Round changes and organiser actions: the circle's connections by index too.
    let rounds: Vec<(&str, &str)> = own_record
        .iter()
        .chain(&circle_items)
        .copied()
        .chain([
            ("dynamodb:BatchGetItem", g),
            ("dynamodb:Query", index.as_str()),
            timers,
            manage,
        ])
        .collect();
    let mut expected: [(&str, Vec<(&str, &str)>); 8] = [
        // The record, and the source address's socket counters.
        (
            "ws-connect",
            vec![
                ("dynamodb:PutItem", c),
                ("dynamodb:GetItem", g),
                ("dynamodb:UpdateItem", g),
            ],
        ),
        (
            "ws-disconnect",
            own_record
                .iter()
                .copied()
                .chain([
                    ("dynamodb:PutItem", g),
                    ("dynamodb:UpdateItem", g),
                    ("dynamodb:DeleteItem", g),
                    timers,
                    manage,
                ])
                .collect(),
        ),
        (
            "ws-join-group",
            joins
                .iter()
                .copied()
                .chain([("dynamodb:BatchGetItem", g), ("dynamodb:BatchGetItem", c)])
                .collect(),
        ),
        (
            "ws-message",
            own_record
                .iter()
                .copied()
                .chain([
                    ("dynamodb:GetItem", g),
                    ("dynamodb:PutItem", g),
                    ("dynamodb:DeleteItem", g),
                    manage,
                    close,
                ])
                .collect(),
        ),
        // "next" with requeue can start a matchmaker run.
        (
            "ws-leave-room",
            joins
                .iter()
                .copied()
                .chain([("dynamodb:BatchGetItem", g), timers])
                .collect(),
        ),
        ("ws-default", vec![manage]),
        ("timer", rounds.clone()),
        (
            "http-api",
            rounds
                .iter()
                .copied()
                .chain([
                    ("dynamodb:Query", listed.as_str()),
                    ("dynamodb:BatchWriteItem", g),
                    ("dynamodb:BatchWriteItem", c),
                    close,
                ])
                .collect(),
        ),
    ];
    // The functions that hash read the hash key's secret, and only they.
    for (bin, want) in &mut expected {
        if HASHING.contains(bin) {
            want.push(READ_HASH_KEY);
        }
    }
    for (bin, want) in expected {
        let function = function_of_binary(&t, bin);
        assert_eq!(
            rights(&t, &function, &api),
            set(&want),
            "{function} ({bin})"
        );
    }
}

#[test]
fn each_routes_function_timeout_is_the_one_the_emulator_applies() {
    let t = template();
    let global = at(&t, &["Globals", "Function", "Timeout"])
        .as_u64()
        .expect("a number");
    for (route, bin) in FUNCTIONS {
        let function = function_of_binary(&t, bin);
        let secs = get(props(resources(&t)[&function]), "Timeout")
            .and_then(Value::as_u64)
            .unwrap_or(global);
        assert_eq!(
            std::time::Duration::from_secs(secs),
            circle_shared::handlers::timeouts::route_timeout(route),
            "{route} ({function})"
        );
    }
}

#[test]
fn timers_run_on_an_sqs_queue_read_by_the_timer_function() {
    let t = template();
    let queue = resources(&t)["TimerQueue"];
    assert_eq!(text(at(queue, &["Type"])), "AWS::SQS::Queue");
    let timer = function_of_binary(&t, TIMER_BINARY);
    let f = props(resources(&t)[&timer]);
    let events: Vec<&Value> = at(f, &["Events"])
        .as_mapping()
        .expect("Events is a mapping")
        .values()
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(text(at(events[0], &["Type"])), "SQS");
    assert_eq!(
        getatt_arn(at(events[0], &["Properties", "Queue"])),
        Some("TimerQueue")
    );
    // A failed timer goes back to the queue alone, not with its whole batch.
    assert_eq!(
        at(events[0], &["Properties", "FunctionResponseTypes"])
            .as_sequence()
            .map(|s| s.iter().map(text).collect::<Vec<_>>()),
        Some(vec!["ReportBatchItemFailures"])
    );
    let timeout = at(f, &["Timeout"]).as_u64().expect("a number");
    let visibility = at(props(queue), &["VisibilityTimeout"])
        .as_u64()
        .expect("a number");
    // Lambda refuses a queue that hides a message for less than the function
    // may run; any longer is how late a failed timer is tried again.
    assert!(
        visibility >= timeout,
        "VisibilityTimeout {visibility} s covers the timer function's {timeout} s"
    );
    assert!(
        visibility <= 60,
        "a failed timer is retried within a minute, not after {visibility} s"
    );
    let batch = at(events[0], &["Properties", "BatchSize"])
        .as_u64()
        .expect("a number");
    assert!(
        (1..=2).contains(&batch),
        "a call takes few timers, so they fit its timeout: {batch}"
    );
    assert!(
        usize::try_from(batch).is_ok_and(|b| b <= circle_functions::timer_function::MAX_IN_FLIGHT),
        "a call's timers all fire at once, so it lasts as long as its slowest"
    );
    // Timers that keep failing end in the dead-letter queue (which is alarmed:
    // operations::the_dead_letter_queue_is_alarmed).
    assert_eq!(
        getatt_arn(at(props(queue), &["RedrivePolicy", "deadLetterTargetArn"])),
        Some("TimerDeadLetterQueue")
    );
    // Every function that schedules timers is told where the queue is.
    for bin in [
        "ws-disconnect",
        "ws-leave-room",
        HTTP_API_BINARY,
        TIMER_BINARY,
    ] {
        let id = function_of_binary(&t, bin);
        let env = at(props(resources(&t)[&id]), &["Environment", "Variables"]);
        assert_eq!(
            ref_target(at(env, &["TIMER_QUEUE_URL"])),
            Some("TimerQueue"),
            "{bin}"
        );
    }
}

/// The binaries whose code hashes (`HashKey` in circle_shared): member ids
/// and resume tokens when they pair (join, leave with `requeue`, a round's
/// end, a round started by the organiser), organiser keys (HTTP API), source
/// addresses (the socket counters of `$connect` and `$disconnect`, the HTTP
/// API's limits). `message` and `$default` hash nothing.
const HASHING: [&str; 6] = [
    "ws-connect",
    "ws-disconnect",
    "ws-join-group",
    "ws-leave-room",
    TIMER_BINARY,
    HTTP_API_BINARY,
];
/// The right to read the hash key, on that one secret.
const READ_HASH_KEY: (&str, &str) = ("secretsmanager:GetSecretValue", "HashKeySecret");

#[test]
fn stored_hashes_are_keyed_by_a_generated_secret_read_only_where_needed() {
    let t = template();
    let secret = resources(&t)["HashKeySecret"];
    assert_eq!(text(at(secret, &["Type"])), "AWS::SecretsManager::Secret");
    at(props(secret), &["GenerateSecretString", "PasswordLength"]);
    // Never the key itself in an environment (GetFunctionConfiguration shows it).
    let globals = at(&t, &["Globals", "Function", "Environment", "Variables"]);
    assert!(get(globals, "HASH_KEY").is_none());
    assert!(get(globals, "HASH_KEY_SECRET_ARN").is_none());
    let binaries = FUNCTIONS
        .iter()
        .map(|(_, bin)| *bin)
        .chain([HTTP_API_BINARY, TIMER_BINARY])
        .collect::<BTreeSet<_>>();
    for bin in binaries {
        let id = function_of_binary(&t, bin);
        let env = get(props(resources(&t)[&id]), "Environment").and_then(|e| get(e, "Variables"));
        let var = |name: &str| env.and_then(|e| get(e, name));
        assert!(var("HASH_KEY").is_none(), "{bin}: no HASH_KEY");
        let arn = var(circle_functions::aws::HASH_KEY_SECRET_ARN).and_then(ref_target);
        if HASHING.contains(&bin) {
            assert_eq!(arn, Some("HashKeySecret"), "{bin} reads the hash key");
        } else {
            assert_eq!(arn, None, "{bin} hashes nothing: no hash key");
        }
    }
}

#[test]
fn functions_are_configured_for_their_api() {
    let t = template();
    let api = websocket_api(&t);
    let env = |function: &str, key: &str| -> Option<String> {
        let f = resources(&t)[function];
        let v = get(props(f), "Environment")
            .and_then(|e| get(e, "Variables"))
            .and_then(|v| get(v, key))?;
        Some(
            sub_text(v)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{v:?}")),
        )
    };
    let endpoint = format!(
        "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{StageName}}"
    );
    for (route, bin) in FUNCTIONS
        .into_iter()
        .chain([("http", HTTP_API_BINARY), ("timer", TIMER_BINARY)])
    {
        let function = function_of_binary(&t, bin);
        if route != circle_shared::handlers::ws::CONNECT {
            assert_eq!(
                env(&function, "CONNECTIONS_ENDPOINT"),
                Some(endpoint.clone()),
                "{function}"
            );
        }
    }
    let http = function_of_binary(&t, HTTP_API_BINARY);
    assert_eq!(
        env(&http, "WS_URL"),
        Some(endpoint.replacen("https://", "wss://", 1))
    );
    let connect = function_of_binary(&t, "ws-connect");
    assert!(
        env(&connect, "ALLOWED_ORIGINS").is_some(),
        "$connect checks the page's origin"
    );

    let globals = at(&t, &["Globals", "Function", "Environment", "Variables"]);
    assert_eq!(
        ref_target(at(globals, &["GROUPS_TABLE"])),
        Some(GROUPS.logical)
    );
    assert_eq!(
        ref_target(at(globals, &["CONNECTIONS_TABLE"])),
        Some(CONNECTIONS.logical)
    );
    assert_eq!(ref_target(at(globals, &["LOG_LEVEL"])), Some("LogLevel"));

    // The HTTP API serves the group endpoints and the page.
    let events = at(props(resources(&t)[&http]), &["Events"])
        .as_mapping()
        .expect("Events is a mapping");
    let routes: BTreeSet<(&str, &str)> = events
        .values()
        .map(|e| {
            assert_eq!(text(at(e, &["Type"])), "HttpApi");
            (
                text(at(e, &["Properties", "Method"])),
                text(at(e, &["Properties", "Path"])),
            )
        })
        .collect();
    let want = [
        ("POST", "/groups"),
        ("GET", "/groups"),
        ("GET", "/groups/{code}"),
        ("PATCH", "/groups/{code}"),
        ("DELETE", "/groups/{code}"),
        ("GET", "/groups/{code}/organizer"),
        ("GET", "/organizer"),
        ("GET", "/groups/{code}/reports"),
        ("POST", "/groups/{code}/code"),
        ("POST", "/groups/{code}/remove"),
        ("POST", "/groups/{code}/rounds"),
        ("DELETE", "/groups/{code}/rounds"),
        ("GET", "/groups/{code}/qr"),
        ("GET", "/groups/{code}/activity.csv"),
        ("POST", "/groups/{code}/announce"),
        ("GET", "/prompts"),
        ("GET", "/"),
        ("GET", "/{file+}"),
    ];
    assert_eq!(routes, want.into_iter().collect());
    // Every route is public, and says so: the API's default authorizer (IAM)
    // closes a route added without `Auth: {Authorizer: NONE}`, and SAM CLI
    // asks no "has no authentication. Is this okay?" for declared routes.
    for (name, e) in events {
        assert_eq!(
            text(at(e, &["Properties", "Auth", "Authorizer"])),
            "NONE",
            "HttpApi event {name:?} is declared public"
        );
    }
    let http_apis = of_type(&t, "AWS::Serverless::HttpApi");
    assert_eq!(http_apis.len(), 1);
    let api = props(http_apis.values().next().expect("one"));
    assert_eq!(text(at(api, &["Auth", "DefaultAuthorizer"])), "AWS_IAM");
    assert_eq!(
        at(api, &["Auth", "EnableIamAuthorizer"]).as_bool(),
        Some(true)
    );
    let methods: BTreeSet<&str> = want.iter().map(|(m, _)| *m).collect();
    check_cors(at(api, &["CorsConfiguration"]), &methods);
}

/// SAM takes an intrinsic in an HttpApi's `CorsConfiguration` as the whole
/// configuration (aws/serverless-application-model#1515), so the `!If` must be
/// the whole of it, each branch complete: `AllowedOrigins` split, or `*`.
fn check_cors(cors: &Value, methods: &BTreeSet<&str>) {
    let (tag, branches) = intrinsic(cors).expect("CorsConfiguration is an !If");
    assert_eq!(tag, "If", "the whole CorsConfiguration is the !If");
    let branches = branches.as_sequence().expect("[condition, then, else]");
    assert_eq!(branches.len(), 3);
    assert_eq!(text(&branches[0]), "HasAllowedOrigins");
    for (i, branch) in branches[1..].iter().enumerate() {
        let keys: BTreeSet<&str> = branch
            .as_mapping()
            .unwrap_or_else(|| panic!("CORS branch {i} is a mapping, got {branch:?}"))
            .keys()
            .map(text)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["AllowOrigins", "AllowMethods", "AllowHeaders", "MaxAge"]),
            "CORS branch {i} is complete"
        );
        let list =
            |key: &str| -> BTreeSet<&str> { texts(at(branch, &[key])).into_iter().collect() };
        assert_eq!(&list("AllowMethods"), methods, "every route's method");
        assert!(
            list("AllowHeaders").is_superset(&BTreeSet::from(["content-type", "authorization"])),
            "the page's JSON bodies and the organiser's key"
        );
    }
    let (split, args) = intrinsic(at(&branches[1], &["AllowOrigins"])).expect("!Split");
    assert_eq!(split, "Split");
    assert_eq!(
        ref_target(&args.as_sequence().expect("[delimiter, list]")[1]),
        Some("AllowedOrigins")
    );
    assert_eq!(texts(at(&branches[2], &["AllowOrigins"])), ["*"]);
}

#[test]
fn parameters_and_outputs_are_there() {
    let t = template();
    for p in [
        "StageName",
        "LogLevel",
        "AllowedOrigins",
        "WebSocketRateLimit",
        "WebSocketBurstLimit",
        "LobbyShards",
        "AlarmEmail",
    ] {
        at(&t, &["Parameters", p]);
    }
    for (o, target) in [
        ("TimerQueueUrl", "TimerQueue"),
        ("TimerDeadLetterQueueUrl", "TimerDeadLetterQueue"),
        ("AlarmTopicArn", "AlarmTopic"),
    ] {
        assert_eq!(ref_target(at(&t, &["Outputs", o, "Value"])), Some(target));
    }
    let dashboard = sub_text(at(&t, &["Outputs", "DashboardUrl", "Value"])).expect("a !Sub");
    assert!(dashboard.starts_with("https://") && dashboard.ends_with("${Dashboard}"));
    for o in ["WebSocketUrl", "ConnectionsUrl", "HttpApiUrl", "PageUrl"] {
        let value = sub_text(at(&t, &["Outputs", o, "Value"]))
            .unwrap_or_else(|| panic!("Outputs.{o} is a !Sub"));
        assert!(
            value.starts_with("wss://") || value.starts_with("https://"),
            "{o} is a URL"
        );
    }
}
