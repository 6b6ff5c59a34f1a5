//! Labels: `labels` and `label_mode` on a circle (validated, shown), `label`
//! on `join_group` (one of them, required), `join_room.match.label`, ranking
//! by label through the store (`across`, `within`; labels reorder, never
//! refuse), the organiser's `label_share`, and what labels cost a join.

use std::time::Duration;

use circle_shared::db::metrics::DdbOp;
use circle_shared::protocol::{ErrorCode, ServerEvent};
use circle_tests::{Harness, Seen};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A circle with these labels and mode; returns (code, organiser key).
async fn labelled(h: &Harness, labels: &[&str], mode: &str) -> (String, String) {
    let body = json!({"name":"Teams","description":"d","labels":labels,"label_mode":mode});
    let res = h.http("POST", "/groups", Some(body), None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let get = |k: &str| res.body[k].as_str().expect(k).to_owned();
    (get("access_code"), get("organizer_key"))
}

async fn join(h: &Harness, conn: &str, code: &str, name: &str, label: Option<&str>) {
    let mut frame = json!({"action":"join_group","access_code":code,"name":name});
    if let Some(l) = label {
        frame["label"] = json!(l);
    }
    assert_eq!(h.send(conn, frame).await.status_code, 200);
}

fn partner_label(h: &Harness, conn: &str) -> Option<String> {
    match h.join_rooms(conn).pop() {
        Some(ServerEvent::JoinRoom { partner, .. }) => partner.label,
        _ => panic!("{conn} was paired"),
    }
}

fn last_error(h: &Harness, conn: &str) -> (ErrorCode, String) {
    match h.errors(conn).pop() {
        Some(ServerEvent::Error { code, message, .. }) => (code, message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn labels_are_validated_on_create_and_patch_and_shown() {
    let h = Harness::new().await;
    let long = "x".repeat(41);
    for (extra, field) in [
        (json!({"labels": vec!["a"; 9]}), "labels"),
        (json!({"labels": ["a", long]}), "labels[1]"),
        (json!({"labels": ["a", "  "]}), "labels[1]"),
        (json!({"labels": ["Team", " team "]}), "labels[1]"),
        (
            json!({"labels": ["a", "b"], "label_mode": "sideways"}),
            "label_mode",
        ),
        (json!({"label_mode": "within"}), "label_mode"),
    ] {
        let mut body = json!({"name":"n","description":"d"});
        body.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        let res = h.http("POST", "/groups", Some(body.clone()), None).await;
        assert_eq!(res.status, 400, "{body}: {}", res.body);
        assert!(res.body.to_string().contains(field), "{body}: {}", res.body);
    }
    let (code, key) = labelled(&h, &[" Mentor ", "Men\u{200B}tee"], "within").await;
    let view = h.http("GET", &format!("/groups/{code}"), None, None).await;
    assert_eq!(view.body["labels"], json!(["Mentor", "Mentee"]));
    assert_eq!(view.body["label_mode"], "within");
    let path = format!("/groups/{code}");
    let bad = h
        .http(
            "PATCH",
            &path,
            Some(json!({"labels": vec!["a"; 9]})),
            Some(&key),
        )
        .await;
    assert_eq!(bad.status, 400);
    let ok = h
        .http(
            "PATCH",
            &path,
            Some(json!({"labels": ["A", "B", "C"], "label_mode": "across"})),
            Some(&key),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let view = h.http("GET", &path, None, None).await;
    assert_eq!(view.body["labels"], json!(["A", "B", "C"]));
    assert_eq!(view.body["label_mode"], "across");
    // Without labels: neither key.
    let plain = h.group("plain").await;
    let view = h.http("GET", &format!("/groups/{plain}"), None, None).await;
    assert!(view.body.get("labels").is_none() && view.body.get("label_mode").is_none());
}

#[tokio::test]
async fn a_join_names_one_of_the_circles_labels() {
    let h = Harness::new().await;
    let (code, _) = labelled(&h, &["A", "B"], "across").await;
    let a = h.connect().await;
    join(&h, &a, &code, "Ann", Some("Z")).await;
    let (err, message) = last_error(&h, &a);
    assert_eq!(err, ErrorCode::BadRequest);
    assert!(message.contains("label"), "{message}");
    join(&h, &a, &code, "Ann", None).await;
    assert_eq!(last_error(&h, &a).0, ErrorCode::BadRequest, "required");
    assert!(h.lobby_entries().await.values().all(Vec::is_empty));
    // A circle without labels ignores one.
    let plain = h.group("plain").await;
    let (b, c) = (h.connect().await, h.connect().await);
    join(&h, &b, &plain, "Bo", Some("A")).await;
    join(&h, &c, &plain, "Cy", None).await;
    assert_eq!(partner_label(&h, &c), None);
    h.assert_invariants().await;
}

/// Two waiters who blocked each other, of labels A and B, both waiting in a
/// circle of `mode`; returns (harness, code, a's conn, b's conn).
async fn two_waiters(mode: &str) -> (Harness, String, String, String) {
    let h = Harness::new().await;
    let (code, _) = labelled(&h, &["A", "B"], mode).await;
    let (a, b) = (h.connect().await, h.connect().await);
    join(&h, &a, &code, "Ann", Some("A")).await;
    join(&h, &b, &code, "Bob", Some("B")).await;
    let room = h.current_room(&a).expect("a and b paired");
    assert_eq!(partner_label(&h, &a).as_deref(), Some("B"));
    assert_eq!(partner_label(&h, &b).as_deref(), Some("A"));
    h.send(&a, json!({"action":"block","room":room})).await;
    h.gateway.note(&a, Seen::Left(room));
    join(&h, &a, &code, "Ann", Some("A")).await;
    join(&h, &b, &code, "Bob", Some("B")).await;
    assert_eq!(
        h.lobby_entries()
            .await
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        2
    );
    (h, code, a, b)
}

/// A joiner of label A, with waiters of A and B: in `mode` it is paired with
/// the waiter of label `chosen`. Ranking shuffles equals, so several rounds:
/// a coin toss can't pass it.
async fn joiner_of_a_gets(mode: &str, chosen: &str) {
    for _ in 0..6 {
        let (h, code, a, b) = two_waiters(mode).await;
        let j = h.connect().await;
        join(&h, &j, &code, "Jo", Some("A")).await;
        assert_eq!(partner_label(&h, &j).as_deref(), Some(chosen));
        let waiter = if chosen == "A" { &a } else { &b };
        assert!(
            h.current_room(waiter).is_some(),
            "the {chosen} waiter was chosen"
        );
        h.assert_invariants().await;
    }
}

#[tokio::test]
async fn across_pairs_a_joiner_with_another_label_first() {
    joiner_of_a_gets("across", "B").await;
}

#[tokio::test]
async fn within_pairs_a_joiner_with_its_own_label_first() {
    joiner_of_a_gets("within", "A").await;
}

#[tokio::test]
async fn nobody_waits_for_a_label_while_a_compatible_never_met_member_waits() {
    let h = Harness::new().await;
    let (code, key) = labelled(&h, &["A", "B"], "across").await;
    let (a, j) = (h.connect().await, h.connect().await);
    join(&h, &a, &code, "Ann", Some("A")).await;
    join(&h, &j, &code, "Jo", Some("A")).await;
    assert!(
        h.current_room(&j).is_some(),
        "paired within rather than waiting"
    );
    assert_eq!(partner_label(&h, &j).as_deref(), Some("A"));
    h.assert_invariants().await;
    // The organiser sees the share: one chat within, none across.
    let view = h
        .http(
            "GET",
            &format!("/groups/{code}/organizer"),
            None,
            Some(&key),
        )
        .await;
    assert_eq!(view.body["label_share"], json!({"across": 0, "within": 1}));
    let plain = h.circle("plain").await;
    let view = h
        .http(
            "GET",
            &format!("/groups/{}/organizer", plain.code),
            None,
            Some(&plain.key),
        )
        .await;
    assert_eq!(view.body.get("label_share"), None::<&Value>);
}

#[tokio::test]
async fn next_keeps_the_label() {
    let (h, code, a, b) = two_waiters("across").await;
    let _ = (a, b);
    let j = h.connect().await;
    join(&h, &j, &code, "Jo", Some("A")).await;
    let room = h.current_room(&j).expect("paired");
    // "Next": back to the lobby with the same label, paired with the A waiter.
    h.leave(&j, &room, true).await;
    assert_eq!(partner_label(&h, &j).as_deref(), Some("A"));
    h.assert_invariants().await;
}

#[tokio::test]
async fn labels_cost_a_pairing_nothing_more() {
    async fn pair_cost(labels: bool) -> (u64, u64, u64) {
        let h = Harness::new().await;
        let code = if labels {
            labelled(&h, &["A", "B"], "across").await.0
        } else {
            h.group("plain").await
        };
        let (a, b) = (h.connect().await, h.connect().await);
        let label = labels.then_some("A");
        join(&h, &a, &code, "Ann", label).await;
        let before = h.app.metrics.snapshot();
        join(&h, &b, &code, "Bob", labels.then_some("B")).await;
        let pair = h.app.metrics.snapshot().since(&before);
        assert!(h.current_room(&b).is_some());
        (
            pair.ddb_requests(),
            pair.op(DdbOp::TransactWriteItems),
            pair.gateway_posts,
        )
    }
    let plain = pair_cost(false).await;
    let with = pair_cost(true).await;
    println!(
        "COST join (pairs) without labels {plain:?}, with labels {with:?} (requests, transactions, posts)"
    );
    assert_eq!(plain, with, "labels add no request to a pairing");
}

// ---- Property-based sequences in a circle with labels ------------------------

#[derive(Debug, Clone)]
enum Op {
    Join { who: usize, label: usize },
    Leave { who: usize, requeue: bool },
    Disconnect { who: usize },
    AdvanceClock { secs: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6usize, 0..3usize).prop_map(|(who, label)| Op::Join { who, label }),
        3 => (0..6usize, any::<bool>()).prop_map(|(who, requeue)| Op::Leave { who, requeue }),
        1 => (0..6usize).prop_map(|who| Op::Disconnect { who }),
        1 => (1..40u64).prop_map(|secs| Op::AdvanceClock { secs }),
    ]
}

/// Joins, leaves, "Next" and drops in a circle with labels keep every
/// invariant: in particular nobody waits beside a compatible waiter, whatever
/// their labels (labels reorder, never refuse).
async fn run_labelled(mode: &str, ops: Vec<Op>) -> Result<(), String> {
    let h = Harness::new().await;
    let (code, _) = labelled(&h, &["A", "B", "C"], mode).await;
    let mut conns = Vec::new();
    for _ in 0..6 {
        conns.push(h.connect().await);
    }
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Join { who, label } => {
                let label = ["A", "B", "C"][*label];
                join(&h, &conns[*who], &code, &format!("u{who}"), Some(label)).await;
            }
            Op::Leave { who, requeue } => {
                let room = h
                    .current_room(&conns[*who])
                    .unwrap_or_else(|| "none".into());
                h.leave(&conns[*who], &room, *requeue).await;
            }
            Op::Disconnect { who } => {
                h.disconnect(&conns[*who]).await;
                conns[*who] = h.connect().await;
            }
            Op::AdvanceClock { secs } => h.clock.advance(Duration::from_secs(*secs)),
        }
        let bad = h.violations().await;
        if !bad.is_empty() {
            return Err(format!("after step {step} {op:?}: {}", bad.join("; ")));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 64, .. ProptestConfig::default() })]
    #[test]
    fn random_sequences_with_labels_keep_the_invariants(
        within in any::<bool>(),
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let mode = if within { "within" } else { "across" };
        let result = rt.block_on(run_labelled(mode, ops));
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}
