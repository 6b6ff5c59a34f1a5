//! Real concurrency against the embedded DynamoDB: a thousand simultaneous joins
//! into one group, and a mixed run of joins, leaves and disconnects across many
//! groups, each checked against DESIGN.md's invariants once everything settles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use circle_shared::protocol::ServerEvent;
use circle_tests::Harness;
use rand::Rng;

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn a_thousand_simultaneous_joins_make_exactly_five_hundred_rooms() {
    multi_thread().block_on(async {
        let h = Arc::new(Harness::new().await);
        let code = h.group("burst").await;
        let mut conns = Vec::new();
        for _ in 0..1000 {
            conns.push(h.connect().await);
        }
        let before = h.app.metrics.snapshot();
        let start = Instant::now();
        let barrier = Arc::new(tokio::sync::Barrier::new(conns.len()));
        let tasks: Vec<_> = conns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (h, code, c, barrier) = (h.clone(), code.clone(), c.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    h.join(&c, &code, &format!("p{i}")).await;
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("join task ends without panic");
        }
        let elapsed = start.elapsed();
        let cost = h.app.metrics.snapshot().since(&before);
        println!("BURST 1000 joins in {elapsed:?}: {cost}");
        println!(
            "BURST per join: {:.2} DynamoDB requests, {:.2} conflicts",
            cost.ddb_requests() as f64 / 1000.0,
            cost.conflicts as f64 / 1000.0
        );

        let records = h.connection_records().await;
        let rooms: std::collections::HashSet<String> = records
            .iter()
            .filter_map(|c| c.room().map(|r| r.room.clone()))
            .collect();
        assert_eq!(rooms.len(), 500, "exactly 500 rooms");
        assert!(h.lobby_entries().await.is_empty(), "nobody stranded");
        for c in &conns {
            let joins = h.join_rooms(c);
            assert_eq!(joins.len(), 1, "{c} told exactly once: {joins:?}");
            assert!(h.errors(c).is_empty(), "{c}: {:?}", h.errors(c));
        }
        // Each pair was told the same room and each other's names.
        for c in &conns {
            let ServerEvent::JoinRoom {
                room,
                user,
                partner,
                ..
            } = &h.join_rooms(c)[0]
            else {
                unreachable!("join_rooms only returns join_room");
            };
            let rec = records
                .iter()
                .find(|r| &r.connection_id == c)
                .expect("record");
            let mine = rec.room().expect("paired");
            assert_eq!(&mine.room, room);
            let ServerEvent::JoinRoom {
                room: their_room,
                user: their_user,
                partner: their_partner,
                ..
            } = &h.join_rooms(&mine.partner)[0]
            else {
                unreachable!("join_rooms only returns join_room");
            };
            assert_eq!(their_room, room);
            assert_eq!(&their_partner.name, user);
            assert_eq!(&partner.name, their_user);
        }
        h.assert_invariants().await;
    });
}

#[test]
fn a_mixed_run_settles_into_a_consistent_state() {
    multi_thread().block_on(async {
        let h = Arc::new(Harness::new().await);
        let mut groups = Vec::new();
        for g in 0..8 {
            groups.push(h.group(&format!("mixed{g}")).await);
        }
        let groups = Arc::new(groups);
        let before = h.app.metrics.snapshot();
        let start = Instant::now();
        let tasks: Vec<_> = (0..160)
            .map(|i| {
                let (h, groups) = (h.clone(), groups.clone());
                tokio::spawn(async move {
                    let mut rng_seed: u64 = rand::rng().random();
                    let mut next = move |n: u64| {
                        rng_seed = rng_seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (rng_seed >> 33) % n
                    };
                    let conn = h.connect().await;
                    let group = &groups[next(groups.len() as u64) as usize];
                    // A bounded script of random actions with random pauses.
                    for _ in 0..(3 + next(6)) {
                        tokio::time::sleep(Duration::from_millis(next(8))).await;
                        match (h.current_room(&conn), next(10)) {
                            (Some(room), 0..=3) => {
                                h.leave(&conn, &room, true).await;
                            }
                            (Some(room), 4..=5) => {
                                h.leave(&conn, &room, false).await;
                            }
                            (Some(room), 6..=7) => {
                                h.send(&conn, serde_json::json!({"action":"message","room":room,"message":"hi"}))
                                    .await;
                            }
                            (Some(_), _) => {
                                h.disconnect(&conn).await;
                                return;
                            }
                            (None, 0..=7) => h.join(&conn, group, &format!("m{i}")).await,
                            (None, _) => {
                                h.disconnect(&conn).await;
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("client task ends without panic");
        }
        let cost = h.app.metrics.snapshot().since(&before);
        println!("MIXED 160 clients over 8 groups in {:?}: {cost}", start.elapsed());
        for c in h.gateway.all_connections() {
            for e in h.errors(&c) {
                if let ServerEvent::Error { code, message } = e {
                    assert_ne!(code, circle_shared::protocol::ErrorCode::Internal, "{c}: {message}");
                    assert_ne!(code, circle_shared::protocol::ErrorCode::RateLimited, "{c}: {message}");
                }
            }
        }
        h.assert_invariants().await;
    });
}
