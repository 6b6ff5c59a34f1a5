//! Real concurrency against the embedded DynamoDB: a thousand simultaneous joins
//! into one group, and a mixed run of joins, leaves and disconnects across many
//! groups, each checked against docs/design.md's invariants once everything settles.

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
                    h.join_like_page(&c, &code, &format!("p{i}")).await
                })
            })
            .collect();
        let mut retries = 0;
        for t in tasks {
            retries += t.await.expect("join task ends without panic");
        }
        let elapsed = start.elapsed();
        let cost = h.app.metrics.snapshot().since(&before);
        println!("BURST 1000 joins in {elapsed:?}: {cost}");
        println!(
            "BURST per join: {:.2} DynamoDB requests, {:.2} conflicts, {:.3} transaction conflicts, {} throttled; {retries} joins sent again",
            cost.ddb_requests() as f64 / 1000.0,
            cost.conflicts as f64 / 1000.0,
            cost.transaction_conflicts as f64 / 1000.0,
            cost.throttled,
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
            // Only a busy moment the client retried, as the page does, may show.
            let errors: Vec<_> = h
                .errors(c)
                .into_iter()
                .filter(|e| !circle_tests::is_busy(e))
                .collect();
            assert!(errors.is_empty(), "{c}: {errors:?}");
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

/// `n` members joining one circle at once (`lobby_shards` shards), each with a
/// random block list seeded first. Returns the harness, connections and blocks.
async fn burst_with_blocks(
    n: usize,
    shards: u32,
    block_chance: f64,
) -> (
    Arc<Harness>,
    Vec<String>,
    Vec<std::collections::HashSet<usize>>,
) {
    use circle_shared::db::Table;
    use circle_shared::db::attr::{n as num, ss, strings};
    let settings = circle_shared::Settings {
        lobby_shards: shards,
        ..circle_tests::test_settings()
    };
    let h = Arc::new(Harness::with_settings(settings).await);
    let c = h.circle("blocks").await;
    let mid = |i: usize| {
        h.app
            .settings
            .hash_key
            .member_id(&c.id, &circle_tests::member_secret(i))
    };
    // Blocks are symmetric, as `block` makes them.
    let mut blocks: Vec<std::collections::HashSet<usize>> = vec![Default::default(); n];
    let mut rng = rand::rng();
    for a in 0..n {
        for b in a + 1..n {
            if rng.random_bool(block_chance) {
                blocks[a].insert(b);
                blocks[b].insert(a);
            }
        }
    }
    for (i, list) in blocks.iter().enumerate() {
        let mut set = "SET #met = :empty, #expires_at = :exp".to_owned();
        let mut values = vec![
            (":empty", strings(Vec::<String>::new())),
            (":exp", num(i64::MAX / 4000)),
        ];
        if !list.is_empty() {
            set.push_str(" ADD #blocked :b");
            values.push((":b", ss(list.iter().map(|j| mid(*j)))));
        }
        let op = h.app.store.update_op(
            Table::Groups,
            circle_shared::db::keys::member(&c.id, &mid(i)),
            &set,
            None,
            values,
        );
        h.app.store.update(op).await.expect("seeded");
    }
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(h.connect().await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = conns
        .iter()
        .enumerate()
        .map(|(i, conn)| {
            let (h, code, id, conn, barrier) =
                (h.clone(), c.code.clone(), c.id.clone(), conn.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let res = h
                    .send(
                        &conn,
                        serde_json::json!({"action":"join_group","access_code":code,"name":format!("p{i}"),
                            "member":circle_tests::member_secret(i),"circle":id}),
                    )
                    .await;
                assert_eq!(res.status_code, 200);
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join task ends without panic");
    }
    (h, conns, blocks)
}

#[test]
fn a_burst_of_members_with_block_lists_never_pairs_a_blocked_pair() {
    multi_thread().block_on(async {
        let (h, conns, blocks) = burst_with_blocks(200, 1, 0.05).await;
        let index: std::collections::HashMap<&str, usize> = conns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let records = h.connection_records().await;
        let mut rooms = 0;
        for r in &records {
            if let Some(room) = r.room() {
                rooms += 1;
                let (a, b) = (
                    index[r.connection_id.as_str()],
                    index[room.partner.as_str()],
                );
                assert!(
                    !blocks[a].contains(&b),
                    "{a} and {b} blocked each other but were paired"
                );
            }
        }
        for c in &conns {
            assert!(h.errors(c).is_empty(), "{c}: {:?}", h.errors(c));
        }
        println!(
            "BLOCKS 200 members, {} blocked pairs: {} in rooms, {} waiting",
            blocks.iter().map(|b| b.len()).sum::<usize>() / 2,
            rooms,
            h.lobby_entries()
                .await
                .values()
                .map(Vec::len)
                .sum::<usize>()
        );
        // Invariants 1-8, including: no two compatible people left waiting.
        h.assert_invariants().await;
    });
}

#[test]
fn a_burst_into_a_sharded_lobby_keeps_the_invariants() {
    multi_thread().block_on(async {
        let (h, conns, _) = burst_with_blocks(200, 4, 0.0).await;
        let paired = h
            .connection_records()
            .await
            .iter()
            .filter(|r| r.room().is_some())
            .count();
        assert_eq!(paired, conns.len(), "everyone paired: {paired}");
        h.assert_invariants().await;
    });
}

/// The simulation's rules, one by one, through the real SDK client (its own
/// retries off, so each refusal is seen as DynamoDB sends it).
mod aws_sim {
    use std::sync::Arc;
    use std::time::Duration;

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    use circle_shared::TableNames;
    use circle_shared::aws_sim::{AwsSim, Latency, SimConfig};
    use circle_shared::clock::ManualClock;
    use circle_shared::embedded::EmbeddedDynamo;

    async fn stack(
        config: SimConfig,
    ) -> (
        Arc<AwsSim>,
        Arc<ManualClock>,
        EmbeddedDynamo,
        Client,
        String,
    ) {
        let clock = Arc::new(ManualClock::new(0));
        let sim = AwsSim::new(
            SimConfig {
                dynamo_latency: Latency::NONE,
                ..config
            },
            clock.clone(),
        );
        let dynamo = EmbeddedDynamo::memory_with(Some(sim.clone()))
            .await
            .expect("the store starts");
        let names = TableNames::with_prefix("sim");
        dynamo.create_tables(&names).await.expect("tables");
        let conf = aws_sdk_dynamodb::config::Builder::from(&dynamo.sdk_config())
            .endpoint_url(dynamo.endpoint())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        (
            sim,
            clock,
            dynamo,
            Client::from_conf(conf),
            names.connections,
        )
    }

    fn item(id: &str) -> std::collections::HashMap<String, AttributeValue> {
        [("connection_id".to_owned(), AttributeValue::S(id.to_owned()))].into()
    }

    async fn transact(client: &Client, table: &str, ids: &[&str]) -> Result<(), String> {
        let items = ids
            .iter()
            .map(|id| {
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(table)
                            .set_item(Some(item(id)))
                            .build()
                            .expect("put"),
                    )
                    .build()
            })
            .collect();
        match client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(err) => Err(match err.into_service_error() {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => e
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect::<Vec<_>>()
                    .join(","),
                other => format!("{:?}", aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&other)),
            }),
        }
    }

    async fn put(client: &Client, table: &str, id: &str) -> Result<(), String> {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item(id)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or("?")
                    .to_owned()
            })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_overlapping_transactions_on_one_item_exactly_one_fails() {
        let (sim, _, _dynamo, client, table) = stack(SimConfig::default()).await;
        let pause = sim.pause_commits().await;
        let first = {
            let (client, table) = (client.clone(), table.clone());
            tokio::spawn(async move { transact(&client, &table, &["a", "b"]).await })
        };
        // The first holds its items, in flight until the pause ends.
        sim.held_at_least(2).await;
        let second = transact(&client, &table, &["c", "b"]).await;
        assert_eq!(second, Err("None,TransactionConflict".to_owned()));
        drop(pause);
        assert_eq!(first.await.expect("no panic"), Ok(()));
        assert_eq!(sim.snapshot().transaction_conflicts, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_during_a_transaction_fails_and_the_same_write_after_it_succeeds() {
        let (sim, _, _dynamo, client, table) = stack(SimConfig::default()).await;
        let pause = sim.pause_commits().await;
        let tx = {
            let (client, table) = (client.clone(), table.clone());
            tokio::spawn(async move { transact(&client, &table, &["a", "b"]).await })
        };
        sim.held_at_least(2).await;
        assert_eq!(
            put(&client, &table, "b").await,
            Err("TransactionConflictException".to_owned())
        );
        assert_eq!(
            put(&client, &table, "z").await,
            Ok(()),
            "other items are free"
        );
        drop(pause);
        assert_eq!(tx.await.expect("no panic"), Ok(()));
        assert_eq!(put(&client, &table, "b").await, Ok(()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_throttled_partition_recovers() {
        let (sim, clock, _dynamo, client, table) = stack(SimConfig {
            partition_wcu: 5.0,
            burst_secs: 1.0,
            ..SimConfig::default()
        })
        .await;
        for _ in 0..5 {
            assert_eq!(put(&client, &table, "hot").await, Ok(()));
        }
        assert_eq!(
            put(&client, &table, "hot").await,
            Err("ProvisionedThroughputExceededException".to_owned())
        );
        assert_eq!(
            put(&client, &table, "cold").await,
            Ok(()),
            "another partition"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(put(&client, &table, "hot").await, Ok(()));
        assert_eq!(sim.snapshot().throttles, 1);
    }
}
