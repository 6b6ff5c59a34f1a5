//! Rounds include everyone (docs/design.md Part 3): idle members between
//! chats are paired at a round change; `sit_out` leaves a member out of rounds
//! and the lobby until turned off; `round_ending` warns the members of a
//! round's rooms once, a round-minute before its end; every waiter hears the
//! same lobby count, and why nobody present can be paired yet.

use std::time::Duration;

use circle_shared::clock::rfc3339_millis;
use circle_shared::db::metrics::MetricsSnapshot;
use circle_shared::model::ConnState;
use circle_shared::protocol::{ServerEvent, WaitReason};
use circle_shared::timers::Timer;
use circle_tests::{Created, Harness, member_secret};

use crate::rounds::start_rounds;
use serde_json::json;

/// `n` members joined (and so paired two by two) in one circle.
async fn crowd(n: usize) -> (Harness, Created, Vec<String>) {
    let cr = crate::rounds::crowd(n).await;
    (cr.h, cr.c, cr.conns)
}

fn count(h: &Harness, conn: &str, pick: impl Fn(&ServerEvent) -> bool) -> usize {
    h.gateway.events(conn).iter().filter(|e| pick(e)).count()
}

async fn sit_out(h: &Harness, conn: &str, on: bool) {
    let res = h.send(conn, json!({"action":"sit_out","on":on})).await;
    assert_eq!(res.status_code, 200);
}

async fn state_of(h: &Harness, conn: &str) -> (ConnState, bool) {
    let rec = h
        .connection_records()
        .await
        .into_iter()
        .find(|r| r.connection_id == conn)
        .expect("a record");
    (rec.state, rec.sitting_out)
}

fn last_waiting(h: &Harness, conn: &str) -> Option<ServerEvent> {
    h.gateway
        .events(conn)
        .into_iter()
        .rfind(|e| matches!(e, ServerEvent::Waiting { .. }))
}

#[tokio::test]
async fn members_idle_between_chats_are_paired_at_the_next_round() {
    let (h, c, conns) = crowd(4).await;
    start_rounds(&h, &c, 5).await;
    // One room ends without "Next": both sides sit on the "chat ended" screen.
    let room = h.current_room(&conns[0]).expect("paired in round 1");
    h.leave(&conns[0], &room, false).await;
    let idle: Vec<&String> = conns
        .iter()
        .filter(|c| h.current_room(c).is_none())
        .collect();
    assert_eq!(idle.len(), 2);
    for c in &idle {
        assert_eq!(state_of(&h, c).await.0, ConnState::Idle);
    }
    let t0 = h.app.metrics.snapshot();
    h.advance(Duration::from_secs(5 * 60)).await;
    let with_idle = h.app.metrics.snapshot().since(&t0);
    for c in &conns {
        assert!(h.current_room(c).is_some(), "{c} is paired in round 2");
    }
    assert!(h.lobby_entries().await.values().all(Vec::is_empty));
    h.assert_invariants().await;
    // The same change with all four in rooms, for comparison.
    let t1 = h.app.metrics.snapshot();
    h.advance(Duration::from_secs(5 * 60)).await;
    let all_in_rooms = h.app.metrics.snapshot().since(&t1);
    report("a round change of 4, 2 of them idle", &with_idle);
    report("a round change of 4, all in rooms", &all_in_rooms);
}

#[tokio::test]
async fn a_member_sitting_out_is_left_out_until_they_come_back() {
    let (h, c, conns) = crowd(4).await;
    start_rounds(&h, &c, 5).await;
    let x = &conns[0];
    let t0 = h.app.metrics.snapshot();
    sit_out(&h, x, true).await;
    let cost_on = h.app.metrics.snapshot().since(&t0);
    assert_eq!(
        h.gateway.events(x).last(),
        Some(&ServerEvent::SitOut { on: true })
    );
    // The chat under way goes on; the round change leaves x out.
    assert!(h.current_room(x).is_some());
    h.advance(Duration::from_secs(5 * 60)).await;
    assert_eq!(h.current_room(x), None, "x sits round 2 out");
    assert_eq!(state_of(&h, x).await, (ConnState::Idle, true));
    let paired = conns.iter().filter(|c| h.current_room(c).is_some()).count();
    assert_eq!(paired, 2, "the other three: one pair and an odd one out");
    // A join while sitting out pairs nobody and says why.
    let before = h.gateway.events(x).len();
    h.join_as(x, &c.code, "p0", &member_secret(0)).await;
    assert_eq!(
        h.gateway.events(x)[before..],
        [ServerEvent::SitOut { on: true }]
    );
    assert!(
        h.lobby_entries()
            .await
            .values()
            .flatten()
            .all(|e| e.conn != *x),
        "never in the lobby while sitting out"
    );
    h.assert_invariants().await;

    // Back: straight into the lobby, where the odd one out waits.
    let t1 = h.app.metrics.snapshot();
    sit_out(&h, x, false).await;
    let cost_off = h.app.metrics.snapshot().since(&t1);
    assert!(
        h.gateway
            .events(x)
            .contains(&ServerEvent::SitOut { on: false })
    );
    assert!(h.current_room(x).is_some(), "paired with the waiting one");
    h.advance(Duration::from_secs(5 * 60)).await;
    for c in &conns {
        assert!(h.current_room(c).is_some(), "{c} is paired in round 3");
    }
    h.assert_invariants().await;
    report("sit_out on (in a room)", &cost_on);
    report("sit_out off (idle, pairs)", &cost_off);
    assert_eq!((cost_on.ddb_reads(), cost_on.ddb_writes()), (1, 1));
    assert_eq!(cost_on.gateway_posts, 1);
}

#[tokio::test]
async fn sitting_out_while_waiting_leaves_the_lobby() {
    let (h, c, conns) = crowd(1).await;
    let a = &conns[0];
    assert_eq!(h.lobby_entries().await.values().flatten().count(), 1);
    sit_out(&h, a, true).await;
    assert_eq!(state_of(&h, a).await, (ConnState::Idle, true));
    assert_eq!(h.lobby_entries().await.values().flatten().count(), 0);
    // Someone new arrives: nobody to pair with.
    let b = h.connect().await;
    h.join_as(&b, &c.code, "b", &member_secret(9)).await;
    assert_eq!(h.current_room(&b), None);
    h.assert_invariants().await;
    sit_out(&h, a, false).await;
    assert!(h.current_room(a).is_some() && h.current_room(&b).is_some());
    h.assert_invariants().await;
}

/// Sitting out belongs to its circle: entering another one starts with it off.
#[tokio::test]
async fn sitting_out_in_one_circle_does_not_follow_into_another() {
    let (h, _c, conns) = crowd(1).await;
    let a = &conns[0];
    sit_out(&h, a, true).await;
    assert_eq!(state_of(&h, a).await, (ConnState::Idle, true));
    let other = h.group("another").await;
    h.join_as(a, &other, "a", &member_secret(1)).await;
    let (state, sitting) = state_of(&h, a).await;
    assert!(matches!(state, ConnState::Waiting { .. }), "{state:?}");
    assert!(!sitting);
    assert_eq!(h.lobby_entries().await.values().flatten().count(), 1);
    h.assert_invariants().await;
}

#[tokio::test]
async fn sit_out_needs_a_join_and_a_boolean() {
    let h = Harness::new().await;
    let a = h.connect().await;
    for frame in [
        json!({"action":"sit_out","on":true}),
        json!({"action":"sit_out"}),
        json!({"action":"sit_out","on":"yes"}),
    ] {
        let before = h.errors(&a).len();
        let res = h.send(&a, frame.clone()).await;
        assert_eq!(res.status_code, 200, "{frame}");
        assert_eq!(h.errors(&a).len(), before + 1, "{frame}: an error");
    }
}

#[tokio::test]
async fn round_ending_warns_each_member_of_the_rounds_rooms_once() {
    let (h, c, conns) = crowd(6).await;
    start_rounds(&h, &c, 5).await;
    // One room ends early: its two are not in a room of the round any more.
    let room = h.current_room(&conns[0]).expect("paired");
    h.leave(&conns[0], &room, false).await;
    let ending = |e: &ServerEvent| matches!(e, ServerEvent::RoundEnding { .. });
    h.advance(Duration::from_secs(4 * 60 - 1)).await;
    assert!(conns.iter().all(|c| count(&h, c, ending) == 0), "not yet");
    let t0 = h.app.metrics.snapshot();
    h.advance(Duration::from_secs(1)).await;
    let cost = h.app.metrics.snapshot().since(&t0);
    let mut warned = 0;
    for c in &conns {
        let n = count(&h, c, ending);
        if h.current_room(c).is_some() {
            assert_eq!(n, 1, "{c} is warned once");
            let last = h.gateway.events(c).into_iter().rfind(|e| ending(e));
            match last {
                Some(ServerEvent::RoundEnding {
                    number: 1,
                    seconds_left: 60,
                    ends_at,
                }) => assert!(ends_at.ends_with('Z')),
                other => panic!("{other:?}"),
            }
            warned += 1;
        } else {
            assert_eq!(n, 0, "{c} is in no room of the round");
        }
    }
    assert_eq!(warned, 4);
    // The queue delivers the timer again: nobody hears it twice.
    let cid = h.cid(&c.code).await;
    let again = Timer::RoundEnding {
        cid,
        round: 1,
        due_ms: h.app.now_ms(),
    };
    circle_shared::handlers::timer::fire(&h.app, &again)
        .await
        .expect("fires");
    assert!(conns.iter().all(|c| count(&h, c, ending) <= 1));
    report("round_ending (4 members in rooms)", &cost);
    assert_eq!(cost.gateway_posts, 4, "one post per member in a room");
    assert_eq!(cost.ddb_writes(), 1, "the mark that makes it once");
    h.assert_invariants().await;
}

#[tokio::test]
async fn every_waiter_hears_the_same_count_and_why_they_wait() {
    let h = Harness::new().await;
    let c = h.circle("two").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join_as(&a, &c.code, "A", &member_secret(1)).await;
    h.join_as(&b, &c.code, "B", &member_secret(2)).await;
    let room = h.current_room(&a).expect("paired");
    // A presses Next; B, told the partner left, asks for someone new.
    h.leave(&a, &room, true).await;
    h.join_as(&b, &c.code, "B", &member_secret(2)).await;
    let guard = h.app.settings.repeat_guard;
    for w in [&a, &b] {
        match last_waiting(&h, w) {
            Some(ServerEvent::Waiting {
                waiting: 2,
                reason: Some(WaitReason::JustMet),
                retry_at: Some(at),
                ..
            }) => {
                // Fixed-width RFC 3339 times sort as text.
                let now = h.app.now_ms();
                let until = now + i64::try_from(guard.as_millis()).expect("ms");
                assert!(
                    at > rfc3339_millis(now) && at <= rfc3339_millis(until),
                    "{at}"
                );
            }
            other => panic!("{w}: {other:?}"),
        }
    }
    // When the guard ends, a keep-alive pairs them.
    h.clock.advance(guard + Duration::from_secs(1));
    h.join_as(&a, &c.code, "A", &member_secret(1)).await;
    assert!(h.current_room(&a).is_some() && h.current_room(&b).is_some());

    // People kept apart by a block: the reason says so, with no time.
    let room = h.current_room(&a).expect("paired again");
    let res = h
        .send(&a, json!({"action":"block","room":room,"requeue":true}))
        .await;
    assert_eq!(res.status_code, 200);
    h.join_as(&b, &c.code, "B", &member_secret(2)).await;
    for w in [&a, &b] {
        match last_waiting(&h, w) {
            Some(ServerEvent::Waiting {
                waiting: 2,
                reason: Some(WaitReason::Blocked),
                retry_at: None,
                group,
                ..
            }) => assert!(group.expires_at.is_some()),
            other => panic!("{w}: {other:?}"),
        }
    }
    h.assert_invariants().await;
}

fn report(what: &str, c: &MetricsSnapshot) {
    println!(
        "cost of {what}: {} reads, {} writes, {} posts",
        c.ddb_reads(),
        c.ddb_writes(),
        c.gateway_posts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_round_change_racing_sit_outs_and_leaves_keeps_every_invariant() {
    let (h, c, conns) = crowd(24).await;
    let h = std::sync::Arc::new(h);
    start_rounds(&h, &c, 5).await;
    // At once: the round ends, eight sit out, eight leave their rooms (idle).
    let mut tasks = Vec::new();
    {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            h.advance(Duration::from_secs(5 * 60)).await;
        }));
    }
    for (i, conn) in conns.iter().enumerate().take(16) {
        let (h, conn) = (h.clone(), conn.clone());
        tasks.push(tokio::spawn(async move {
            if i < 8 {
                sit_out(&h, &conn, true).await;
            } else if let Some(room) = h.current_room(&conn) {
                h.leave(&conn, &room, false).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("no panic");
    }
    h.assert_invariants().await;
    let sitting: Vec<&String> = conns.iter().take(8).collect();
    let entries = h.lobby_entries().await;
    for s in &sitting {
        let (state, on) = state_of(&h, s).await;
        assert!(on, "{s} sits out");
        assert!(
            !matches!(state, ConnState::Waiting { .. }),
            "{s} never waits"
        );
        assert!(entries.values().flatten().all(|e| e.conn != **s));
    }
    // The next round leaves them all out and pairs everyone else.
    h.advance(Duration::from_secs(5 * 60)).await;
    h.assert_invariants().await;
    for s in &sitting {
        assert_eq!(h.current_room(s), None, "{s} sits this round out");
    }
    for other in conns.iter().skip(8) {
        assert!(h.current_room(other).is_some(), "{other} is paired");
    }
}
