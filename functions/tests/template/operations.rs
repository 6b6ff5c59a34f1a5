//! What an operator relies on in `template.yaml`: a log group per function with a
//! retention, a `LogLevel` the release build honours, alarms on function errors,
//! throttles, the timer dead-letter queue and TransactionConflicts (notifying one
//! topic, and an email if given), and a dashboard over all of them.

use std::collections::{BTreeMap, BTreeSet};

use circle_functions::emf;
use circle_shared::db::metrics::MetricsSnapshot;
use serde_norway::Value;

use super::{
    at, get, intrinsic, of_type, props, ref_target, resources, sub_refs, sub_text, template, text,
    texts,
};

/// The metrics the functions write in CloudWatch embedded metric format
/// (`circle_functions::emf`): the counters and the join latency.
fn circle_metrics() -> Vec<&'static str> {
    emf::counts(&MetricsSnapshot::default())
        .map(|(name, _)| name)
        .into_iter()
        .chain([emf::JOIN_LATENCY])
        .collect()
}

fn functions(t: &Value) -> BTreeSet<String> {
    of_type(t, "AWS::Serverless::Function")
        .into_keys()
        .collect()
}

/// `!GetAtt X.Attr` / `!GetAtt [X, Attr]` as (X, Attr).
fn getatt(v: &Value) -> Option<(&str, &str)> {
    let (tag, value) = intrinsic(v)?;
    if tag != "GetAtt" {
        return None;
    }
    match value {
        Value::String(s) => s.split_once('.'),
        Value::Sequence(parts) if parts.len() == 2 => {
            Some((parts[0].as_str()?, parts[1].as_str()?))
        }
        _ => None,
    }
}

#[test]
fn each_function_logs_to_its_own_log_group_with_a_retention() {
    let t = template();
    let res = resources(&t);
    assert!(
        get(at(&t, &["Globals", "Function"]), "LoggingConfig").is_none(),
        "no log group shared by all functions (`sam logs` would print each line once per function)"
    );
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for function in functions(&t) {
        let group = ref_target(at(props(res[&function]), &["LoggingConfig", "LogGroup"]))
            .unwrap_or_else(|| panic!("{function}: LoggingConfig.LogGroup is a !Ref"))
            .to_owned();
        let g = res
            .get(&group)
            .unwrap_or_else(|| panic!("{function}: {group} exists"));
        assert_eq!(text(at(g, &["Type"])), "AWS::Logs::LogGroup");
        let days = at(props(g), &["RetentionInDays"]).as_u64();
        assert!(
            days.is_some_and(|d| (1..=30).contains(&d)),
            "{group} keeps logs a bounded time: {days:?}"
        );
        let name = sub_text(at(props(g), &["LogGroupName"])).expect("LogGroupName is a !Sub");
        assert!(
            name.contains("${AWS::StackName}") && name.ends_with(&format!("/{function}")),
            "{group}'s name says its stack and function: {name}"
        );
        if let Some(other) = groups.insert(group.clone(), function.clone()) {
            panic!("{function} and {other} share {group}");
        }
    }
    let unused: Vec<String> = of_type(&t, "AWS::Logs::LogGroup")
        .into_keys()
        .filter(|g| !groups.contains_key(g))
        .collect();
    assert!(
        unused.is_empty(),
        "log groups no function writes to: {unused:?}"
    );
}

#[test]
fn log_level_offers_only_what_the_release_build_logs() {
    let manifest = std::fs::read_to_string(super::support::root().join("functions/Cargo.toml"))
        .expect("functions/Cargo.toml");
    let max = manifest
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("tracing ") || l.trim_start().starts_with("tracing=")
        })
        .find_map(|l| l.split("release_max_level_").nth(1))
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_alphabetic())
                .next()
                .unwrap_or_default()
        })
        .expect("the functions' tracing sets release_max_level_*");
    let levels = ["error", "warn", "info", "debug", "trace"];
    let cut = levels
        .iter()
        .position(|l| *l == max)
        .unwrap_or_else(|| panic!("release_max_level_{max} is a level"));
    let t = template();
    let param = at(&t, &["Parameters", "LogLevel"]);
    let allowed = texts(at(param, &["AllowedValues"]));
    assert_eq!(
        allowed,
        levels[..=cut],
        "LogLevel offers the levels the release build keeps (release_max_level_{max})"
    );
    assert!(allowed.contains(&text(at(param, &["Default"]))));
}

/// The alarm resources, by logical id.
fn alarms(t: &Value) -> BTreeMap<String, &Value> {
    of_type(t, "AWS::CloudWatch::Alarm")
}

#[test]
fn function_errors_and_throttles_are_alarmed_over_every_function() {
    let t = template();
    let all = alarms(&t);
    for (alarm, metric) in [
        ("FunctionErrorsAlarm", "Errors"),
        ("FunctionThrottlesAlarm", "Throttles"),
    ] {
        let p = props(all.get(alarm).unwrap_or_else(|| panic!("{alarm} exists")));
        let metrics = at(p, &["Metrics"])
            .as_sequence()
            .expect("Metrics is a list");
        let (sums, stats): (Vec<&Value>, Vec<&Value>) =
            metrics.iter().partition(|m| get(m, "Expression").is_some());
        assert_eq!(sums.len(), 1, "{alarm}: one expression");
        assert_eq!(
            text(at(sums[0], &["Expression"])),
            "SUM(FILL(METRICS(), 0))"
        );
        assert_eq!(at(sums[0], &["ReturnData"]).as_bool(), Some(true));
        assert!(
            stats.len() <= 10,
            "{alarm}: CloudWatch allows 10 metrics per alarm"
        );
        let covered: BTreeSet<String> = stats
            .iter()
            .map(|m| {
                assert_eq!(at(m, &["ReturnData"]).as_bool(), Some(false));
                let stat = at(m, &["MetricStat"]);
                assert_eq!(text(at(stat, &["Stat"])), "Sum");
                let metric_def = at(stat, &["Metric"]);
                assert_eq!(text(at(metric_def, &["Namespace"])), "AWS/Lambda");
                assert_eq!(text(at(metric_def, &["MetricName"])), metric, "{alarm}");
                let dims = at(metric_def, &["Dimensions"])
                    .as_sequence()
                    .expect("a list");
                assert_eq!(dims.len(), 1);
                assert_eq!(text(at(&dims[0], &["Name"])), "FunctionName");
                ref_target(at(&dims[0], &["Value"]))
                    .expect("the function by !Ref")
                    .to_owned()
            })
            .collect();
        assert_eq!(covered, functions(&t), "{alarm} covers every function");
        fires_at(p, "GreaterThanOrEqualToThreshold", 1, alarm);
    }
}

/// The alarm's comparison and threshold.
fn fires_at(p: &Value, comparison: &str, threshold: u64, what: &str) {
    assert_eq!(text(at(p, &["ComparisonOperator"])), comparison, "{what}");
    assert_eq!(at(p, &["Threshold"]).as_u64(), Some(threshold), "{what}");
}

#[test]
fn the_dead_letter_queue_is_alarmed() {
    let t = template();
    let found: Vec<&Value> = alarms(&t)
        .into_values()
        .map(props)
        .filter(|p| {
            get(p, "Namespace").and_then(Value::as_str) == Some("AWS/SQS")
                && get(p, "Dimensions")
                    .and_then(Value::as_sequence)
                    .is_some_and(|d| {
                        d.iter().any(|d| {
                            text(at(d, &["Name"])) == "QueueName"
                                && getatt(at(d, &["Value"]))
                                    == Some(("TimerDeadLetterQueue", "QueueName"))
                        })
                    })
        })
        .collect();
    assert_eq!(found.len(), 1, "one alarm on the timer dead-letter queue");
    let p = found[0];
    assert_eq!(
        text(at(p, &["MetricName"])),
        "ApproximateNumberOfMessagesVisible"
    );
    fires_at(p, "GreaterThanThreshold", 0, "at its first message");
}

#[test]
fn transaction_conflicts_are_alarmed_from_the_functions_metrics() {
    let t = template();
    let all = alarms(&t);
    let p = props(
        all.get("TransactionConflictsAlarm")
            .expect("the alarm exists"),
    );
    let metrics = at(p, &["Metrics"]).as_sequence().expect("a list");
    assert_eq!(metrics.len(), 1);
    assert!(circle_metrics().contains(&"TransactionConflicts"));
    assert_eq!(
        text(at(&metrics[0], &["Expression"])),
        format!(
            "SELECT SUM(TransactionConflicts) FROM SCHEMA({}, {})",
            emf::NAMESPACE,
            emf::DIMENSION
        ),
        "all functions' TransactionConflicts, as the functions write them"
    );
    assert_eq!(at(&metrics[0], &["ReturnData"]).as_bool(), Some(true));
}

#[test]
fn alarms_notify_the_topic_and_the_optional_email() {
    let t = template();
    let all = alarms(&t);
    assert_eq!(
        all.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "FunctionErrorsAlarm",
            "FunctionThrottlesAlarm",
            "TimerDeadLetterAlarm",
            "TransactionConflictsAlarm",
        ])
    );
    for (id, alarm) in &all {
        for actions in ["AlarmActions", "OKActions"] {
            let targets: Vec<Option<&str>> = at(props(alarm), &[actions])
                .as_sequence()
                .expect("a list")
                .iter()
                .map(ref_target)
                .collect();
            assert_eq!(targets, [Some("AlarmTopic")], "{id}.{actions}");
        }
    }
    let res = resources(&t);
    assert_eq!(text(at(res["AlarmTopic"], &["Type"])), "AWS::SNS::Topic");
    let sub = res["AlarmEmailSubscription"];
    assert_eq!(text(at(sub, &["Condition"])), "HasAlarmEmail");
    assert_eq!(text(at(props(sub), &["Protocol"])), "email");
    assert_eq!(
        ref_target(at(props(sub), &["Endpoint"])),
        Some("AlarmEmail")
    );
    assert_eq!(
        ref_target(at(props(sub), &["TopicArn"])),
        Some("AlarmTopic")
    );
    assert_eq!(text(at(&t, &["Parameters", "AlarmEmail", "Default"])), "");
    // HasAlarmEmail: !Not [!Equals [!Ref AlarmEmail, ""]]
    let (not, inner) = intrinsic(at(&t, &["Conditions", "HasAlarmEmail"])).expect("!Not");
    let (equals, args) = intrinsic(&inner.as_sequence().expect("[x]")[0]).expect("!Equals");
    let args = args.as_sequence().expect("[a, b]");
    assert_eq!((not.as_str(), equals.as_str()), ("Not", "Equals"));
    assert_eq!(ref_target(&args[0]), Some("AlarmEmail"));
    assert_eq!(text(&args[1]), "");
}

#[test]
fn the_dashboard_shows_every_function_alarm_and_metric() {
    let t = template();
    let res = resources(&t);
    let dashboards = of_type(&t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body = sub_text(at(
        props(dashboards.values().next().expect("one")),
        &["DashboardBody"],
    ))
    .expect("DashboardBody is a !Sub");
    // Every ${X} names a resource, parameter or pseudo parameter (${!x} is a literal).
    let parameters = at(&t, &["Parameters"]).as_mapping().expect("a mapping");
    for r in sub_refs(body).into_iter().filter(|r| !r.starts_with('!')) {
        let id = r.split('.').next().unwrap_or(r);
        assert!(
            r.starts_with("AWS::") || res.contains_key(id) || parameters.contains_key(id),
            "${{{r}}} in the dashboard names nothing in the template"
        );
    }
    // It is JSON once substituted.
    let mut json = String::new();
    let mut rest = body;
    while let Some((before, after)) = rest.split_once("${") {
        let (r, after) = after.split_once('}').expect("closed ${");
        json.push_str(before);
        json.push_str(
            r.strip_prefix('!')
                .map_or("X".to_owned(), |lit| format!("${{{lit}}}"))
                .as_str(),
        );
        rest = after;
    }
    json.push_str(rest);
    let dashboard: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("the dashboard body is JSON: {e}"));
    let widgets = dashboard["widgets"].as_array().expect("widgets");
    let alarm_widget = widgets
        .iter()
        .find(|w| w["type"] == "alarm")
        .expect("an alarm status widget");
    assert_eq!(
        alarm_widget["properties"]["alarms"]
            .as_array()
            .map(Vec::len),
        Some(alarms(&t).len())
    );
    for alarm in alarms(&t).keys() {
        assert!(
            body.contains(&format!("${{{alarm}.Arn}}")),
            "the dashboard shows {alarm}"
        );
    }
    for function in functions(&t) {
        for metric in ["Errors", "Throttles", "Invocations", "Duration"] {
            let row =
                format!("[\"AWS/Lambda\", \"{metric}\", \"FunctionName\", \"${{{function}}}\"");
            assert!(
                body.contains(&row),
                "the dashboard shows {function}'s {metric}"
            );
        }
    }
    for metric in circle_metrics() {
        let (namespace, dimension) = (emf::NAMESPACE, emf::DIMENSION);
        let search = format!("SEARCH('{{{namespace},{dimension}}} MetricName=\\\"{metric}\\\"'");
        assert!(
            body.contains(&search),
            "the dashboard shows Circle's {metric}"
        );
    }
    for queue in ["TimerQueue", "TimerDeadLetterQueue"] {
        assert!(
            body.contains(&format!("${{{queue}.QueueName}}")),
            "the dashboard shows {queue}"
        );
    }
}
