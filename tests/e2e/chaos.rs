//! A chaos run against the local stack with a connection's frames handled
//! concurrently (as Lambda may): 200 clients over 10 circles joining, chatting,
//! leaving and pressing "Next", with sockets killed mid-join, mid-chat and
//! mid-leave, some vanishing without a close and some resuming. After it
//! settles: invariants 1-8 hold, every surviving member's view of its room is
//! what is stored (so it was told what happened to its partner), nobody is in a
//! room with a vanished member, and no record outlives its TTL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ws_support::*;
use circle_shared::db::Table;
use circle_shared::model::ConnState;
use rand::Rng;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 200;
const CIRCLES: usize = 10;
const STEPS: usize = 14;
const GRACE: Duration = Duration::from_millis(1500);
const IDLE: Duration = Duration::from_secs(8);

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    kills_mid_join: u64,
    kills_mid_chat: u64,
    kills_mid_leave: u64,
    vanishes: u64,
    resumes: u64,
    resumed: u64,
    joins: u64,
    messages: u64,
    leaves: u64,
}

/// What a client believes, from what it was told.
#[derive(Debug, Clone, PartialEq)]
enum View {
    Idle,
    Waiting,
    InRoom {
        room: String,
        token: String,
        /// The partner's socket dropped; the page waits for it (no sending).
        away: bool,
    },
}

struct Outcome {
    /// A client still connected at the end: its socket, connection id and view.
    survivor: Option<(Client, String, View)>,
    vanished: Vec<String>,
    counts: Counts,
    failures: Vec<String>,
}

fn apply(view: &mut View, ev: &Value, failures: &mut Vec<String>, who: usize) {
    match ev["event"].as_str() {
        Some("waiting") => {
            if !matches!(view, View::InRoom { .. }) {
                *view = View::Waiting;
            }
        }
        Some("join_room") => {
            *view = View::InRoom {
                room: ev["room"].as_str().unwrap_or_default().to_owned(),
                token: ev["resume"].as_str().unwrap_or_default().to_owned(),
                away: false,
            }
        }
        Some(kind @ ("partner_away" | "partner_back")) => {
            if let View::InRoom { room, away, .. } = view
                && ev["room"] == room.as_str()
            {
                *away = kind == "partner_away";
            }
        }
        Some("partner_left") => {
            if matches!(view, View::InRoom { room, .. } if ev["room"] == room.as_str()) {
                *view = View::Idle;
            }
        }
        Some("message" | "error" | "blocked" | "reported") => {}
        None => failures.push(format!("client {who}: a failed integration: {ev}")),
        other => failures.push(format!("client {who}: unexpected {other:?}: {ev}")),
    }
}

async fn scan_groups(stack: &circle_local::Stack) -> Vec<circle_shared::db::Item> {
    circle_tests::scan(stack.app(), Table::Groups).await
}

fn pk(item: &circle_shared::db::Item) -> String {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

async fn connect(stack: &circle_local::Stack, tag: &str) -> (Client, String) {
    let client = Client::try_connect(&stack.ws_url(), &[("user-agent", tag)])
        .await
        .expect("the stack accepts the socket");
    let id = stack
        .connection_with_user_agent(tag)
        .expect("the new connection is registered");
    (client, id)
}

/// Reads what arrives within `window` into the view.
async fn listen(
    c: &mut Client,
    view: &mut View,
    window: Duration,
    failures: &mut Vec<String>,
    who: usize,
) {
    let until = Instant::now() + window;
    while let Some(ev) = c
        .event_within(until.saturating_duration_since(Instant::now()))
        .await
    {
        apply(view, &ev, failures, who);
    }
}

/// Runs the script, then keeps a surviving socket alive (pings count as
/// activity) and keeps reading until `stop` turns true.
async fn client(
    stack: Arc<circle_local::Stack>,
    who: usize,
    circle: Value,
    done: Arc<std::sync::atomic::AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Outcome {
    let mut outcome = client_script(stack, who, circle).await;
    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if let Some((c, _, view)) = &mut outcome.survivor {
        loop {
            if *stop.borrow_and_update() {
                break;
            }
            tokio::select! {
                _ = stop.changed() => continue,
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    c.send_raw(Message::Ping(Vec::new().into())).await;
                    while let Some(ev) = c.event_within(Duration::from_millis(1)).await {
                        apply(view, &ev, &mut outcome.failures, who);
                    }
                }
            }
        }
        while let Some(ev) = c.event_within(Duration::from_millis(200)).await {
            apply(view, &ev, &mut outcome.failures, who);
        }
    }
    outcome
}

async fn client_script(stack: Arc<circle_local::Stack>, who: usize, circle: Value) -> Outcome {
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let mut vanished = Vec::new();
    let mut generation = 0;
    let member = format!("chaos-member-{who:06}");
    let (mut c, mut id) = connect(&stack, &format!("chaos-{who}-{generation}")).await;
    let mut view = View::Idle;
    let pause = |n: u64| Duration::from_millis(rand::rng().random_range(5..n));
    for _ in 0..STEPS {
        let roll: u32 = rand::rng().random_range(0..100);
        match view.clone() {
            View::Idle | View::Waiting => {
                if roll < 6 && view == View::Idle {
                    // Killed mid-join: the frame is sent, the socket dropped at once.
                    c.join_as(&circle, "p", &member).await;
                    counts.kills_mid_join += 1;
                    drop(c);
                    return Outcome {
                        survivor: None,
                        vanished,
                        counts,
                        failures,
                    };
                }
                if roll < 9 {
                    counts.vanishes += 1;
                    assert!(stack.vanish(&id));
                    vanished.push(id);
                    drop(c);
                    return Outcome {
                        survivor: None,
                        vanished,
                        counts,
                        failures,
                    };
                }
                // A join, or the waiting page's keep-alive.
                counts.joins += 1;
                c.join_as(&circle, "p", &member).await;
            }
            // Like the page: while the partner reconnects, just wait.
            View::InRoom { away: true, .. } => {}
            View::InRoom { room, token, .. } => {
                if roll < 40 {
                    counts.messages += 1;
                    c.send(json!({"action":"message","room":room,"message":"hi"}))
                        .await;
                } else if roll < 52 {
                    counts.leaves += 1;
                    c.send(json!({"action":"leave_room","room":room,"requeue": roll.is_multiple_of(2)}))
                        .await;
                    view = View::Idle;
                } else if roll < 56 {
                    // Killed mid-leave.
                    counts.kills_mid_leave += 1;
                    c.send(json!({"action":"leave_room","room":room,"requeue":true}))
                        .await;
                    drop(c);
                    return Outcome {
                        survivor: None,
                        vanished,
                        counts,
                        failures,
                    };
                } else if roll < 66 {
                    // Killed mid-chat (a tunnel); half come back and resume.
                    counts.kills_mid_chat += 1;
                    drop(c);
                    if !roll.is_multiple_of(2) {
                        return Outcome {
                            survivor: None,
                            vanished,
                            counts,
                            failures,
                        };
                    }
                    tokio::time::sleep(pause(GRACE.as_millis() as u64 / 2)).await;
                    generation += 1;
                    (c, id) = connect(&stack, &format!("chaos-{who}-{generation}")).await;
                    counts.resumes += 1;
                    c.send(json!({"action":"resume","room":room,"token":token}))
                        .await;
                    view = View::Idle;
                    let ev = c.event().await;
                    match ev["event"].as_str() {
                        Some("join_room") if ev["resumed"] == true => {
                            counts.resumed += 1;
                            apply(&mut view, &ev, &mut failures, who);
                        }
                        // The partner left meanwhile, or ended the room.
                        Some("error") if ev["code"] == "not_in_room" => {}
                        _ => failures.push(format!("client {who}: resume answered {ev}")),
                    }
                } else if roll < 69 {
                    counts.vanishes += 1;
                    assert!(stack.vanish(&id));
                    vanished.push(id);
                    drop(c);
                    return Outcome {
                        survivor: None,
                        vanished,
                        counts,
                        failures,
                    };
                }
            }
        }
        listen(&mut c, &mut view, pause(120), &mut failures, who).await;
    }
    Outcome {
        survivor: Some((c, id, view)),
        vanished,
        counts,
        failures,
    }
}

#[test]
fn chaos_settles_into_a_consistent_state() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let started = Instant::now();
        let stack = Arc::new(
            start_with(|c| {
                c.limits.concurrent_frames = true;
                c.limits.idle_timeout = IDLE;
                c.settings.resume_grace = GRACE;
                c.settings.limits = c.settings.limits.scaled(100.0);
            })
            .await,
        );
        let mut circles = Vec::new();
        for i in 0..CIRCLES {
            circles.push(create_circle(&stack, &format!("chaos {i}")).await);
        }
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|who| {
                let (stack, circle) = (stack.clone(), circles[who % CIRCLES].clone());
                tokio::spawn(client(stack, who, circle, done.clone(), stopped.clone()))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while done.load(std::sync::atomic::Ordering::SeqCst) < CLIENTS {
            assert!(Instant::now() < deadline, "the scripts end in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let scripts_took = started.elapsed();
        // Settle: held seats run out (their timers end the rooms), vanished
        // clients reach the idle timeout; survivors keep their sockets alive.
        let settle_from = Instant::now();
        let deadline = settle_from + Duration::from_secs(30);
        loop {
            let live: HashSet<String> = stack.connection_ids().into_iter().collect();
            let seats = scan_groups(&stack)
                .await
                .iter()
                .filter(|i| pk(i).starts_with("AWAY#"))
                .count();
            let away_records = circle_tests::connection_records(stack.app())
                .await
                .iter()
                .filter(|c| matches!(c.state, ConnState::Away { .. }) || !live.contains(&c.connection_id))
                .count();
            if settle_from.elapsed() > GRACE.max(IDLE) + Duration::from_secs(1) && seats == 0 && away_records == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the stack settles in time ({seats} seats held)");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stop.send(true).expect("the clients listen");
        let mut survivors: Vec<(usize, Client, String, View)> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut counts = Counts::default();
        let mut vanished: HashSet<String> = HashSet::new();
        for (who, t) in tasks.into_iter().enumerate() {
            let o = t.await.expect("a client script ends without panic");
            failures.extend(o.failures);
            vanished.extend(o.vanished);
            let c = &mut counts;
            c.kills_mid_join += o.counts.kills_mid_join;
            c.kills_mid_chat += o.counts.kills_mid_chat;
            c.kills_mid_leave += o.counts.kills_mid_leave;
            c.vanishes += o.counts.vanishes;
            c.resumes += o.counts.resumes;
            c.resumed += o.counts.resumed;
            c.joins += o.counts.joins;
            c.messages += o.counts.messages;
            c.leaves += o.counts.leaves;
            if let Some((client, id, view)) = o.survivor {
                survivors.push((who, client, id, view));
            }
        }
        for id in &vanished {
            assert!(!stack.connection_ids().contains(id), "vanished {id} ended at the idle timeout");
        }

        // Invariants 1-8 on what is stored.
        failures.extend(circle_tests::state_violations(stack.app()).await);
        let live: HashSet<String> = stack.connection_ids().into_iter().collect();
        let records: HashMap<String, circle_shared::model::Connection> =
            circle_tests::connection_records(stack.app())
                .await
                .into_iter()
                .map(|c| (c.connection_id.clone(), c))
                .collect();
        // Every survivor was told what happened: its view is what is stored.
        for (who, _, id, view) in &survivors {
            let stored = records.get(id).map(|r| &r.state);
            let agrees = match (view, stored) {
                (View::InRoom { room, .. }, Some(ConnState::Paired { room: r, .. })) => {
                    r.room == *room
                }
                (View::InRoom { .. }, _) => false,
                (_, Some(ConnState::Paired { .. } | ConnState::Away { .. })) => false,
                _ => true,
            };
            if !agrees {
                failures.push(format!("client {who} believes {view:?}, stored {stored:?}"));
            }
        }
        // Nobody is in a room with a vanished (or any gone) member; no seat is held.
        for r in records.values() {
            match &r.state {
                ConnState::Paired { room, .. } if !live.contains(&room.partner) => failures.push(format!(
                    "{} is in a room with {}, who is gone",
                    r.connection_id, room.partner
                )),
                ConnState::Away { .. } => failures.push(format!("{} still holds a seat", r.connection_id)),
                _ => {}
            }
        }
        // No record outlives its TTL: after a sweep, only live connections have
        // records, only live waiters have lobby entries, and everything expires.
        stack.sweep_ttl().await.expect("the sweep runs");
        for id in records.keys() {
            if !live.contains(id) {
                failures.push(format!("the record of {id} outlived its connection"));
            }
        }
        for item in scan_groups(&stack).await {
            if !item.contains_key("expires_at") {
                failures.push(format!("{} has no TTL", pk(&item)));
            }
            if pk(&item).starts_with("L#") {
                let conn = item["conn"].as_s().expect("an entry names its connection");
                if !live.contains(conn) {
                    failures.push(format!("a lobby entry of {conn}, who is gone"));
                }
            }
        }
        let metrics = stack.app().metrics.snapshot();
        println!(
            "CHAOS {CLIENTS} clients over {CIRCLES} circles in {scripts_took:?} (+{:?} to settle): {counts:?}; \
             {} survivors; {metrics}; aws_sim {:?}",
            settle_from.elapsed(),
            survivors.len(),
            stack.aws_sim()
        );
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
        assert!(counts.kills_mid_join > 0 && counts.kills_mid_chat > 0 && counts.vanishes > 0);
        // Resumes were tried; whether one succeeds depends on the script's dice
        // and the machine's speed (a partner who stays through the grace), so
        // it is counted, not asserted: core/resume.rs and e2e/part2.rs check a
        // resume that must succeed, and every answer above was checked.
        assert!(counts.resumes > 0, "some resumes are tried: {counts:?}");
        for (_, c, _, _) in survivors {
            drop(c);
        }
        if let Ok(stack) = Arc::try_unwrap(stack) {
            stack.shutdown().await;
        }
    });
}
