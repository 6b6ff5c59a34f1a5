//! Rounds at scale: N members of one circle, the organiser starts timed
//! rounds, and the server ends every room at `ends_at` and pairs everyone
//! again, R times. Reports the fan-out (posts per second while a round
//! re-pairs, time until everyone is in a room again) and the DynamoDB and
//! `@connections` cost per member per round; fails on a member paired twice
//! at once, a member not paired in a round (N even), or a repeat meeting.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use circle_shared::protocol::ServerEvent;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::BenchError;
use crate::http;
use crate::stack::Target;
use crate::ws::{self, In, Out};

#[derive(Debug, Clone, Serialize)]
pub struct RoundsConfig {
    pub clients: usize,
    pub rounds: u32,
    pub connect_concurrency: usize,
    /// Longest the whole session may take.
    pub timeout: Duration,
    /// Labels of the circle (0: none); client `i` joins with `L{i % labels}`.
    pub labels: usize,
}

/// One round as the clients saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundRow {
    pub number: u32,
    /// First `round` event to the last `join_room` of the round.
    pub repair_secs: f64,
    pub paired: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundsReport {
    pub clients: usize,
    pub expected_rounds: u32,
    pub rounds: Vec<RoundRow>,
    pub posts_per_member_round: f64,
    pub ddb_requests_per_member_round: f64,
    pub read_units_per_member_round: f64,
    pub write_units_per_member_round: f64,
    /// `@connections` posts per second over the re-pairing spans.
    pub posts_per_sec_while_repairing: f64,
    pub stack_cpu_secs: Option<f64>,
    /// Refusals over the rounds: `TransactionConflict`s and throttles the
    /// core received, and what `--aws-sim` refused and cold-started.
    pub transaction_conflicts: u64,
    pub throttled: u64,
    pub aws_sim: crate::stack::SimCounts,
    pub double_rooms: u64,
    pub repeat_meetings: u64,
    pub unpaired: u64,
    pub errors: Vec<String>,
}

impl RoundsReport {
    pub fn ok(&self) -> bool {
        self.double_rooms == 0
            && self.repeat_meetings == 0
            && self.unpaired == 0
            && self.errors.is_empty()
            && self.rounds.len() == self.expected_rounds as usize
    }
}

/// `POST /groups`: (access code, organiser key).
async fn create(
    target: &Target,
    labels: usize,
) -> Result<(String, String, Option<String>), BenchError> {
    let mut body =
        json!({"name": "bench rounds", "description": "circle-bench rounds", "rules": ["be kind"]});
    if labels > 0 {
        body["labels"] = json!((0..labels).map(|l| format!("L{l}")).collect::<Vec<_>>());
    }
    let (status, answer) = http::request(target.addr, "POST", "/groups", Some(&body)).await?;
    let field = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
    match (status, field("access_code"), field("organizer_key")) {
        (201, Some(code), Some(key)) => Ok((code, key, field("id"))),
        _ => Err(BenchError::BadAnswer {
            path: "/groups".into(),
            reason: format!("status {status}, body {answer}"),
        }),
    }
}

pub async fn run(cfg: &RoundsConfig, target: &Target) -> Result<RoundsReport, BenchError> {
    let deadline = Instant::now() + cfg.timeout;
    let (code, key, cid) = create(target, cfg.labels).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (conns, _) = ws::open_many(
        &target.ws_url(),
        cfg.clients,
        cfg.connect_concurrency,
        Some(tx),
    )
    .await?;
    let mut report = RoundsReport {
        clients: cfg.clients,
        expected_rounds: cfg.rounds,
        ..RoundsReport::default()
    };
    for (i, c) in conns.iter().enumerate() {
        let mut frame = json!({"action": "join_group", "access_code": code, "name": format!("p{i}"),
            "member": format!("bench-member-{i:08}"), "circle": cid});
        if cfg.labels > 0 {
            frame["label"] = json!(format!("L{}", i % cfg.labels));
        }
        c.send(Out::Text(frame.to_string()));
    }
    // The joins settle (everyone in a room, one waiting when N is odd) before
    // the rounds start: a join still pairing when the round reads the circle
    // keeps its room through round 1 (see the closing note).
    let mut room: Vec<Option<String>> = vec![None; cfg.clients];
    while (room.iter().filter(|r| r.is_some()).count()) < cfg.clients / 2 * 2 {
        let Ok(Some(inb)) = tokio::time::timeout_at(deadline.into(), rx.recv()).await else {
            return Err(BenchError::BadAnswer {
                path: "join_group".into(),
                reason: "joins unanswered".into(),
            });
        };
        if let In::Event(ServerEvent::JoinRoom { room: r, .. }) = inb.what {
            room[inb.client] = Some(r);
        }
    }
    let before = target.metrics().await?;
    let path = format!("/groups/{code}/rounds");
    let auth_post = http::request_with_key(
        target.addr,
        "POST",
        &path,
        Some(&json!({"minutes": 2})),
        &key,
    )
    .await?;
    if auth_post.0 != 200 {
        return Err(BenchError::BadAnswer {
            path,
            reason: format!("status {}", auth_post.0),
        });
    }
    // A room belongs to the round whose `ends_at` it carries; a client's
    // `join_room` may arrive before its own `round` event.
    let mut round_ends: HashMap<String, u32> = HashMap::new();
    let mut unplaced: Vec<(usize, String, String, Instant)> = Vec::new();
    let mut started: HashMap<u32, Instant> = HashMap::new();
    let mut last_pair: HashMap<u32, Instant> = HashMap::new();
    let mut paired: HashMap<u32, u64> = HashMap::new();
    let mut met: HashSet<(usize, usize)> = HashSet::new();
    let name_of = |v: &str| v.strip_prefix('p').and_then(|n| n.parse::<usize>().ok());
    let expected = (cfg.clients / 2 * 2) as u64;
    let mut place = |report: &mut RoundsReport,
                     round_ends: &HashMap<String, u32>,
                     unplaced: &mut Vec<(usize, String, String, Instant)>| {
        unplaced.retain(|(i, ends, partner, at)| {
            let Some(&n) = round_ends.get(ends) else {
                return true;
            };
            if n <= cfg.rounds {
                *paired.entry(n).or_default() += 1;
                let last = last_pair.entry(n).or_insert(*at);
                *last = (*last).max(*at);
                if let Some(j) = name_of(partner)
                    && *i < j
                    && !met.insert((*i, j))
                {
                    report.repeat_meetings += 1;
                }
            }
            false
        });
        paired.get(&cfg.rounds).copied().unwrap_or(0) >= expected
    };
    loop {
        let Ok(Some(inb)) = tokio::time::timeout_at(deadline.into(), rx.recv()).await else {
            report
                .errors
                .push(format!("timed out; paired per round: {paired:?}"));
            break;
        };
        let i = inb.client;
        match inb.what {
            In::Event(ServerEvent::Round(info)) if info.number > 0 => {
                started.entry(info.number).or_insert(inb.at);
                if let Some(ends) = info.ends_at {
                    round_ends.insert(ends, info.number);
                }
                if info.number > cfg.rounds {
                    break;
                }
            }
            In::Event(ServerEvent::JoinRoom {
                room: r,
                partner,
                ends_at,
                ..
            }) => {
                if room[i].is_some() {
                    report.double_rooms += 1;
                }
                room[i] = Some(r);
                if let Some(ends) = ends_at {
                    unplaced.push((i, ends, partner.name, inb.at));
                }
            }
            In::Event(ServerEvent::RoundOver { .. } | ServerEvent::PartnerLeft { .. }) => {
                room[i] = None
            }
            In::Event(ServerEvent::Error { code, message }) => {
                report
                    .errors
                    .push(format!("client {i}: {code:?} {message}"));
            }
            In::Closed(why) => report.errors.push(format!("client {i} closed: {why}")),
            _ => {}
        }
        if place(&mut report, &round_ends, &mut unplaced) {
            break;
        }
    }
    if let Some((_, ends, _, _)) = unplaced.first() {
        report.errors.push(format!(
            "{} rooms of no known round (ends_at {ends}; rounds end {:?})",
            unplaced.len(),
            round_ends
        ));
    }
    let after = target.metrics().await?;
    let _ = http::request_with_key(target.addr, "DELETE", &path, None, &key).await;
    for c in &conns {
        c.send(Out::Close);
    }
    let cost = after.metrics.since(&before.metrics);
    let member_rounds = (cfg.clients as f64) * f64::from(cfg.rounds);
    report.posts_per_member_round = cost.gateway_posts as f64 / member_rounds;
    report.ddb_requests_per_member_round = cost.ddb_requests() as f64 / member_rounds;
    report.read_units_per_member_round = cost.read_units / member_rounds;
    report.write_units_per_member_round = cost.write_units / member_rounds;
    report.transaction_conflicts = cost.transaction_conflicts;
    report.throttled = cost.throttled;
    report.aws_sim = after.aws_sim.since(&before.aws_sim);
    report.stack_cpu_secs = after
        .stack_cpu_secs
        .zip(before.stack_cpu_secs)
        .map(|(a, b)| a - b);
    let mut repairing = 0.0;
    for n in 1..=cfg.rounds {
        let secs = match (started.get(&n), last_pair.get(&n)) {
            (Some(s), Some(l)) => l.saturating_duration_since(*s).as_secs_f64(),
            _ => 0.0,
        };
        repairing += secs;
        let got = paired.get(&n).copied().unwrap_or(0);
        if got < expected {
            report.unpaired += expected - got;
        }
        report.rounds.push(RoundRow {
            number: n,
            repair_secs: secs,
            paired: got,
        });
    }
    if repairing > 0.0 {
        report.posts_per_sec_while_repairing = cost.gateway_posts as f64 / repairing;
    }
    Ok(report)
}

pub fn print(r: &RoundsReport) {
    println!(
        "\n== circle-bench rounds: {} members, {} rounds ==",
        r.clients,
        r.rounds.len()
    );
    for row in &r.rounds {
        println!(
            "round {}: {} paired, everyone in a room {:.3} s after the round began",
            row.number, row.paired, row.repair_secs
        );
    }
    println!(
        "per member per round: {:.2} posts, {:.2} DynamoDB requests ({:.2} RCU, {:.2} WCU); {:.0} posts/s while re-pairing; stack CPU {}",
        r.posts_per_member_round,
        r.ddb_requests_per_member_round,
        r.read_units_per_member_round,
        r.write_units_per_member_round,
        r.posts_per_sec_while_repairing,
        r.stack_cpu_secs
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.2} s")),
    );
    println!(
        "refusals: {} TransactionConflicts, {} throttled (core); aws-sim {}: {} throttles, {} cold starts",
        r.transaction_conflicts,
        r.throttled,
        if r.aws_sim.enabled { "on" } else { "off" },
        r.aws_sim.throttles,
        r.aws_sim.cold_starts
    );
    println!(
        "double rooms {}, repeat meetings {}, unpaired {}, errors {:?}",
        r.double_rooms, r.repeat_meetings, r.unpaired, r.errors
    );
    println!("result: {}", if r.ok() { "OK" } else { "FAILED" });
}
