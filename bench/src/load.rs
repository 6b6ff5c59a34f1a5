//! The load run: N clients over G groups; a join burst; paired clients exchange M
//! messages each at a target aggregate rate; some pairs leave, some leave with
//! `requeue` ("next") and their partners join again; everyone disconnects. Every
//! phase is bounded in time and diffed against the stack's counters.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use circle_shared::protocol::ServerEvent;
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::BenchError;
use crate::report::PhaseReport;
use crate::stack::{StackMetrics, Target};
use crate::stats::{Samples, Summary};
use crate::ws::{self, Conn, In, Inbound, Out};

/// How often a phase re-checks whether it is done.
const TICK: Duration = Duration::from_millis(20);
/// Slack on the repeat guard's edges: the server's clock and ours differ a little.
const GUARD_SLACK: Duration = Duration::from_secs(1);
/// Invariant and error details kept for the report.
const MAX_DETAILS: usize = 20;

/// What the load run does.
#[derive(Debug, Clone, Serialize)]
pub struct LoadConfig {
    pub clients: usize,
    pub groups: usize,
    /// Messages each paired client sends.
    pub messages: usize,
    /// Aggregate messages per second over all senders.
    pub rate: f64,
    pub payload_bytes: usize,
    /// Share of pairs where one member leaves (no requeue).
    pub leave_fraction: f64,
    /// Share of pairs where one member leaves with requeue and the other joins again.
    pub next_fraction: f64,
    pub connect_concurrency: usize,
    /// Longest any one phase may take.
    #[serde(serialize_with = "secs")]
    pub phase_timeout: Duration,
    /// Silence required after a phase's goal is met, to catch late or extra events.
    #[serde(serialize_with = "secs")]
    pub quiet: Duration,
    /// The stack's repeat guard (`Settings::repeat_guard`, 30 s by default).
    #[serde(serialize_with = "secs")]
    pub repeat_guard: Duration,
    /// Labels per circle (0: none); client `i` joins with label `L{i % labels}`.
    pub labels: usize,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Debug, Clone, PartialEq)]
enum St {
    Idle,
    Joining,
    Waiting,
    InRoom { room: String, partner: usize },
}

#[derive(Debug, Clone, Copy)]
enum JoinKind {
    Burst,
    Requeue,
    Rejoin,
}

#[derive(Debug, Clone, Copy)]
struct Ended {
    partner: usize,
    at: Instant,
}

#[derive(Debug)]
struct Client {
    group: usize,
    st: St,
    /// When the pending join (or leave with requeue) was sent, for its latency.
    join_sent: Option<(Instant, JoinKind)>,
    last_join_at: Option<Instant>,
    /// Joins sent again after a busy answer, as the page does (up to 3).
    busy_retries: u8,
    last_partner: Option<Ended>,
    sent: u64,
    echoes: u64,
    from_partner: u64,
    closing: bool,
    closed: bool,
}

/// Errors the stack caused (all count toward failure).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Errors {
    pub total: u64,
    /// `error` events by code.
    pub by_code: BTreeMap<String, u64>,
    pub unexpected_closes: u64,
    pub garbage_frames: u64,
    /// Joins with neither `waiting` nor `join_room` by the phase's end.
    pub unanswered_joins: u64,
    /// Expected echoes or partner receipts that never came.
    pub lost_messages: u64,
    /// Partners never told of a leave.
    pub missing_partner_left: u64,
    /// Phases cut short by the phase timeout or the hard deadline.
    pub timeouts: Vec<String>,
    pub details: Vec<String>,
}

/// Broken pairing invariants.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Violations {
    pub total: u64,
    /// A second `join_room` without `leave_room`/`partner_left` between.
    pub double_matches: u64,
    /// Pairs of compatible clients of one group both left waiting.
    pub stranded_waiters: u64,
    /// Rooms whose two members disagree, a third member, a cross-group pair, a
    /// message or `partner_left` for a room the client is not in, a wrong sender.
    pub mismatched_rooms: u64,
    /// Paired again with the partner just left, within the repeat guard.
    pub repeat_partners: u64,
    /// `waiting` or `join_room` nobody asked for.
    pub unexpected_events: u64,
    pub details: Vec<String>,
}

/// The whole run's result.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub config: LoadConfig,
    pub duration_secs: f64,
    pub phases: Vec<PhaseReport>,
    pub latency: Latency,
    pub rates: Rates,
    pub outcome: Outcome,
    pub stack_memory: Memory,
    pub errors: Errors,
    pub violations: Violations,
    /// Cost per 1,000 chats from this run's per-action counts (join under contention).
    pub cost_per_1000_chats: Option<crate::cost::ChatCost>,
}

impl LoadReport {
    pub fn ok(&self) -> bool {
        self.errors.total == 0 && self.violations.total == 0
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// WebSocket handshake, `$connect` included.
    pub connect: Summary,
    /// `join_group` sent → `join_room` received, in the burst.
    pub join_to_join_room: Summary,
    /// `leave_room` with requeue sent → the next `join_room`.
    pub requeue_to_join_room: Summary,
    /// A partner's second `join_group` → `join_room`.
    pub rejoin_to_join_room: Summary,
    /// `message` sent → the sender's own echo.
    pub message_echo: Summary,
    /// `message` sent → the partner's copy.
    pub message_partner: Summary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Rates {
    /// First `join_group` to the last answer of the burst.
    pub join_burst_secs: f64,
    pub joins_per_sec: f64,
    /// DynamoDB requests per second the stack made during the burst.
    pub join_burst_ddb_requests_per_sec: f64,
    /// The busiest partition key over any one second of the burst (item
    /// operations per second), to compare with DynamoDB's per-partition limits.
    pub join_burst_hot_partition: Option<crate::stack::HotPartition>,
    pub messages_sent: u64,
    pub messages_per_sec_target: f64,
    pub messages_per_sec_achieved: f64,
    /// Frames received by clients per second in the message phase (echo + partner).
    pub deliveries_per_sec: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub paired_after_burst: u64,
    /// Joins sent again after a `rate_limited` (busy) answer, as the page
    /// does (at most 3 per client); not errors unless the last one fails too.
    pub busy_retries: u64,
    pub waiting_after_burst: u64,
    /// Groups with an odd number of members leave one waiter each.
    pub expected_waiting_after_burst: u64,
    pub rooms_formed: u64,
    pub final_paired: u64,
    pub final_waiting: u64,
    pub final_idle: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    pub rss_bytes_start: u64,
    pub rss_bytes_end: u64,
    pub peak_rss_bytes: u64,
}

#[derive(Default)]
struct Lat {
    join: Samples,
    requeue: Samples,
    rejoin: Samples,
    echo: Samples,
    partner: Samples,
}

struct Run<'a> {
    cfg: &'a LoadConfig,
    target: &'a Target,
    deadline: Instant,
    base: Instant,
    conns: Vec<Conn>,
    clients: Vec<Client>,
    codes: Vec<String>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    lat: Lat,
    errors: Errors,
    busy_retries: u64,
    violations: Violations,
    /// Room id → the clients that were told they are in it.
    rooms: HashMap<String, Vec<usize>>,
    phases: Vec<PhaseReport>,
    last_event: Instant,
    last_answer: Instant,
    deliveries: u64,
}

impl<'a> Run<'a> {
    fn new(
        cfg: &'a LoadConfig,
        target: &'a Target,
        deadline: Instant,
        conns: Vec<Conn>,
        codes: Vec<String>,
        inbound: mpsc::UnboundedReceiver<Inbound>,
    ) -> Self {
        Run {
            cfg,
            target,
            deadline,
            base: Instant::now(),
            conns,
            clients: (0..cfg.clients)
                .map(|i| Client {
                    group: i % cfg.groups,
                    st: St::Idle,
                    join_sent: None,
                    last_join_at: None,
                    busy_retries: 0,
                    last_partner: None,
                    sent: 0,
                    echoes: 0,
                    from_partner: 0,
                    closing: false,
                    closed: false,
                })
                .collect(),
            codes,
            inbound,
            lat: Lat::default(),
            errors: Errors::default(),
            busy_retries: 0,
            violations: Violations::default(),
            rooms: HashMap::new(),
            phases: Vec::new(),
            last_event: Instant::now(),
            last_answer: Instant::now(),
            deliveries: 0,
        }
    }
}

fn name(i: usize) -> String {
    format!("b{i}")
}

fn client_of(name: &str) -> Option<usize> {
    name.strip_prefix('b')?.parse().ok()
}

fn note(details: &mut Vec<String>, what: String) {
    tracing::warn!("{what}");
    if details.len() < MAX_DETAILS {
        details.push(what);
    }
}

/// Runs the whole load scenario against `target`.
pub async fn run(
    cfg: &LoadConfig,
    target: &Target,
    deadline: Instant,
) -> Result<LoadReport, BenchError> {
    if cfg.clients < 2 || cfg.groups == 0 {
        return Err(BenchError::Usage(
            "a load run needs at least 2 clients and 1 group".into(),
        ));
    }
    let started = Instant::now();
    let mut codes = Vec::with_capacity(cfg.groups);
    for g in 0..cfg.groups {
        let labels: Vec<String> = (0..cfg.labels).map(|l| format!("L{l}")).collect();
        let name = format!("bench group {g}");
        codes.push(target.create_group(&name, &labels).await?);
    }
    tracing::info!(groups = codes.len(), "groups created");

    let first = target.metrics().await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tracing::info!(clients = cfg.clients, "opening sockets");
    let t = Instant::now();
    let (conns, connect_latency) = ws::open_many(
        &target.ws_url(),
        cfg.clients,
        cfg.connect_concurrency,
        Some(tx),
    )
    .await?;
    let after_connect = target.metrics().await?;
    let mut run = Run::new(cfg, target, deadline, conns, codes, rx);
    run.phases.push(PhaseReport::new(
        "connect",
        cfg.clients as u64,
        t.elapsed(),
        &first,
        &after_connect,
    ));

    let mut rates = Rates::default();
    let mut outcome = Outcome::default();
    let mut cut_short = false;

    // Join burst.
    target.reset_hot_partition().await?;
    let (before, began) = (after_connect, Instant::now());
    for i in 0..cfg.clients {
        run.send_join(i, JoinKind::Burst);
    }
    let done = run.wait_until("join burst", |r| r.settled()).await;
    let burst_secs = run
        .last_answer
        .saturating_duration_since(began)
        .as_secs_f64();
    let after = run
        .finish_phase("join (burst)", cfg.clients as u64, began, &before)
        .await?;
    rates.join_burst_secs = burst_secs;
    rates.join_burst_hot_partition = target.hot_partition().await?;
    rates.joins_per_sec = if burst_secs > 0.0 {
        cfg.clients as f64 / burst_secs
    } else {
        0.0
    };
    rates.join_burst_ddb_requests_per_sec = if burst_secs > 0.0 {
        after.metrics.since(&before.metrics).ddb_requests() as f64 / burst_secs
    } else {
        0.0
    };
    run.count_unanswered();
    run.check_rooms();
    outcome.paired_after_burst = run.count(|s| matches!(s, St::InRoom { .. }));
    outcome.waiting_after_burst = run.count(|s| *s == St::Waiting);
    outcome.expected_waiting_after_burst = (0..cfg.groups)
        .filter(|g| run.clients.iter().filter(|c| c.group == *g).count() % 2 == 1)
        .count() as u64;
    cut_short |= !done;

    // Messages.
    let before = after;
    if !cut_short && cfg.messages > 0 {
        let began = Instant::now();
        let (sent, send_secs) = run.messages().await;
        let deliver_secs = run
            .last_event
            .saturating_duration_since(began)
            .as_secs_f64();
        run.finish_phase("message", sent, began, &before).await?;
        rates.messages_sent = sent;
        rates.messages_per_sec_target = cfg.rate;
        rates.messages_per_sec_achieved = if send_secs > 0.0 {
            sent.saturating_sub(1) as f64 / send_secs
        } else {
            0.0
        };
        rates.deliveries_per_sec = if deliver_secs > 0.0 {
            run.deliveries as f64 / deliver_secs
        } else {
            0.0
        };
        run.count_lost_messages();
        cut_short |= Instant::now() >= deadline;
    }

    // Leaves: some plain, some "next" (requeue) whose partners then join again.
    if !cut_short {
        let mut pairs = run.pairs();
        pairs.shuffle(&mut rand::rng());
        let n_leave = ((pairs.len() as f64) * cfg.leave_fraction).round() as usize;
        let n_next = (((pairs.len() as f64) * cfg.next_fraction).round() as usize)
            .min(pairs.len() - n_leave.min(pairs.len()));
        let n_leave = n_leave.min(pairs.len());
        let (leaving, rest) = pairs.split_at(n_leave);
        let nexting = &rest[..n_next];
        if !leaving.is_empty() {
            cut_short |= !run.leave_phase(leaving, false).await?;
        }
        if !nexting.is_empty() && !cut_short {
            cut_short |= !run.leave_phase(nexting, true).await?;
            if !cut_short {
                let before = run.target.metrics().await?;
                let began = Instant::now();
                for (_, partner, _) in nexting {
                    run.send_join(*partner, JoinKind::Rejoin);
                }
                run.wait_until("rejoin", |r| r.settled()).await;
                run.finish_phase("join (rejoin)", nexting.len() as u64, began, &before)
                    .await?;
                run.count_unanswered();
            }
        }
    }
    run.check_rooms();
    run.count_stranded();
    outcome.rooms_formed = run.rooms.len() as u64;
    outcome.busy_retries = run.busy_retries;
    outcome.final_paired = run.count(|s| matches!(s, St::InRoom { .. }));
    outcome.final_waiting = run.count(|s| *s == St::Waiting);
    outcome.final_idle = run.count(|s| *s == St::Idle);

    // Everyone hangs up.
    let last = run.disconnect_all().await?;
    let memory = Memory {
        rss_bytes_start: first.rss_bytes,
        rss_bytes_end: last.rss_bytes,
        peak_rss_bytes: last.peak_rss_bytes,
    };
    if Instant::now() >= deadline {
        run.errors.timeouts.push("hard deadline".into());
    }
    run.errors.total = run.errors.by_code.values().sum::<u64>()
        + run.errors.unexpected_closes
        + run.errors.garbage_frames
        + run.errors.unanswered_joins
        + run.errors.lost_messages
        + run.errors.missing_partner_left
        + run.errors.timeouts.len() as u64;
    let v = &mut run.violations;
    v.total = v.double_matches
        + v.stranded_waiters
        + v.mismatched_rooms
        + v.repeat_partners
        + v.unexpected_events;
    let cost_per_1000_chats = crate::cost::from_phases(&run.phases).map(|c| {
        crate::cost::per_thousand_chats(&c, &crate::cost::ASSUMPTIONS, &crate::cost::PRICES)
    });
    Ok(LoadReport {
        cost_per_1000_chats,
        config: cfg.clone(),
        duration_secs: started.elapsed().as_secs_f64(),
        phases: run.phases,
        latency: Latency {
            connect: connect_latency.summary(),
            join_to_join_room: run.lat.join.summary(),
            requeue_to_join_room: run.lat.requeue.summary(),
            rejoin_to_join_room: run.lat.rejoin.summary(),
            message_echo: run.lat.echo.summary(),
            message_partner: run.lat.partner.summary(),
        },
        rates,
        outcome,
        stack_memory: memory,
        errors: run.errors,
        violations: run.violations,
    })
}

impl Run<'_> {
    fn count(&self, pred: impl Fn(&St) -> bool) -> u64 {
        self.clients.iter().filter(|c| pred(&c.st)).count() as u64
    }

    fn send(&mut self, i: usize, frame: serde_json::Value) {
        if !self.conns[i].send(Out::Text(frame.to_string())) {
            self.errors.unexpected_closes += 1;
            note(
                &mut self.errors.details,
                format!("client {i}: socket gone before sending"),
            );
        }
    }

    /// `join_group` for client `i`, with its label when circles have labels.
    fn join_frame(&self, i: usize, code: &str) -> serde_json::Value {
        let mut frame = json!({"action": "join_group", "access_code": code, "name": name(i)});
        if self.cfg.labels > 0 {
            frame["label"] = json!(format!("L{}", i % self.cfg.labels));
        }
        frame
    }

    fn send_join(&mut self, i: usize, kind: JoinKind) {
        let code = self.codes[self.clients[i].group].clone();
        let now = Instant::now();
        let c = &mut self.clients[i];
        c.st = St::Joining;
        c.join_sent = Some((now, kind));
        c.last_join_at = Some(now);
        self.send(i, self.join_frame(i, &code));
    }

    /// Processes frames until `done` holds and the stack has been quiet for
    /// `quiet`; false when the phase timeout or the deadline came first.
    async fn wait_until(&mut self, phase: &str, done: impl Fn(&Self) -> bool) -> bool {
        let end = (Instant::now() + self.cfg.phase_timeout).min(self.deadline);
        loop {
            if done(self) && self.last_event.elapsed() >= self.cfg.quiet {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                let why = if now >= self.deadline {
                    "hard deadline"
                } else {
                    "phase timeout"
                };
                note(
                    &mut self.errors.details,
                    format!("{phase}: {why} before the phase settled"),
                );
                self.errors.timeouts.push(format!("{phase}: {why}"));
                return false;
            }
            self.pump(TICK.min(end - now)).await;
        }
    }

    /// Handles frames for up to `wait`.
    async fn pump(&mut self, wait: Duration) {
        if let Ok(Some(inb)) = tokio::time::timeout(wait, self.inbound.recv()).await {
            self.handle(inb);
            // Take whatever else is already queued without waiting.
            while let Ok(inb) = self.inbound.try_recv() {
                self.handle(inb);
            }
        }
    }

    async fn finish_phase(
        &mut self,
        name: &str,
        actions: u64,
        began: Instant,
        before: &StackMetrics,
    ) -> Result<StackMetrics, BenchError> {
        let after = self.target.metrics().await?;
        let phase = PhaseReport::new(name, actions, began.elapsed(), before, &after);
        tracing::info!(phase = name, actions, secs = phase.secs, "phase done");
        self.phases.push(phase);
        Ok(after)
    }

    fn handle(&mut self, inb: Inbound) {
        let i = inb.client;
        self.last_event = inb.at;
        match inb.what {
            In::Closed(reason) => {
                let c = &mut self.clients[i];
                c.closed = true;
                if !c.closing {
                    self.errors.unexpected_closes += 1;
                    note(
                        &mut self.errors.details,
                        format!("client {i}: socket closed: {reason}"),
                    );
                }
            }
            In::Garbage(text) => {
                self.errors.garbage_frames += 1;
                note(
                    &mut self.errors.details,
                    format!("client {i}: not a server event: {text}"),
                );
            }
            In::Event(ev) => self.on_event(i, inb.at, ev),
        }
    }

    fn violation(&mut self, kind: fn(&mut Violations) -> &mut u64, what: String) {
        *kind(&mut self.violations) += 1;
        note(&mut self.violations.details, what);
    }

    fn on_event(&mut self, i: usize, at: Instant, ev: ServerEvent) {
        match ev {
            ServerEvent::Waiting { .. } => {
                if self.clients[i].st == St::Joining {
                    self.clients[i].st = St::Waiting;
                    self.last_answer = at;
                } else if self.clients[i].st == St::Waiting {
                    // A lobby-count notice: a waiter hears the count again
                    // when it changed, at most once every 5 s (docs/design.md).
                } else {
                    let st = format!("{:?}", self.clients[i].st);
                    self.violation(
                        |v| &mut v.unexpected_events,
                        format!("client {i}: `waiting` while {st}"),
                    );
                }
            }
            ServerEvent::JoinRoom {
                room,
                user,
                partner,
                ..
            } => {
                self.last_answer = at;
                match &self.clients[i].st {
                    St::InRoom { room: old, .. } => {
                        let old = old.clone();
                        self.violation(
                            |v| &mut v.double_matches,
                            format!("client {i}: join_room {room} while still in {old}"),
                        );
                    }
                    St::Idle => self.violation(
                        |v| &mut v.unexpected_events,
                        format!("client {i}: join_room {room} without a join"),
                    ),
                    St::Joining | St::Waiting => {}
                }
                if user != name(i) {
                    self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("client {i}: join_room names the user {user:?}"),
                    );
                }
                let p = client_of(&partner.name).filter(|p| *p < self.clients.len() && *p != i);
                let Some(p) = p else {
                    self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("client {i}: paired with unknown {:?}", partner.name),
                    );
                    self.clients[i].st = St::Idle;
                    return;
                };
                if self.clients[p].group != self.clients[i].group {
                    self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("client {i}: paired with {p} of another group"),
                    );
                }
                if let Some(e) = self.clients[i].last_partner
                    && e.partner == p
                    && at + GUARD_SLACK < e.at + self.cfg.repeat_guard
                {
                    self.violation(
                        |v| &mut v.repeat_partners,
                        format!("client {i}: paired with {p} again within the repeat guard"),
                    );
                }
                let members = self.rooms.entry(room.clone()).or_default();
                members.push(i);
                if members.len() > 2 {
                    let members = members.clone();
                    self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("room {room} has members {members:?}"),
                    );
                }
                let c = &mut self.clients[i];
                if let Some((sent, kind)) = c.join_sent.take() {
                    let took = at.saturating_duration_since(sent);
                    match kind {
                        JoinKind::Burst => self.lat.join.push(took),
                        JoinKind::Requeue => self.lat.requeue.push(took),
                        JoinKind::Rejoin => self.lat.rejoin.push(took),
                    }
                }
                c.st = St::InRoom { room, partner: p };
            }
            ServerEvent::Message { room, body, .. } => {
                self.deliveries += 1;
                let (in_room, partner) = match &self.clients[i].st {
                    St::InRoom { room: r, partner } => (*r == room, *partner),
                    _ => (false, usize::MAX),
                };
                if !in_room {
                    self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("client {i}: message for room {room} it is not in"),
                    );
                    return;
                }
                let sender = body.get("c").and_then(|v| v.as_u64()).map(|c| c as usize);
                let ts = body.get("ts").and_then(|v| v.as_u64());
                let latency = ts.map(|ts| {
                    let now = u64::try_from(at.saturating_duration_since(self.base).as_micros())
                        .unwrap_or(u64::MAX);
                    now.saturating_sub(ts)
                });
                match sender {
                    Some(s) if s == i => {
                        self.clients[i].echoes += 1;
                        if let Some(us) = latency {
                            self.lat.echo.push_micros(us);
                        }
                    }
                    Some(s) if s == partner => {
                        self.clients[i].from_partner += 1;
                        if let Some(us) = latency {
                            self.lat.partner.push_micros(us);
                        }
                    }
                    other => self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("client {i}: message in {room} from {other:?}, not {partner}"),
                    ),
                }
            }
            ServerEvent::PartnerLeft { room, .. } => match &self.clients[i].st {
                St::InRoom { room: r, partner } if *r == room => {
                    let partner = *partner;
                    let c = &mut self.clients[i];
                    c.last_partner = Some(Ended { partner, at });
                    c.st = St::Idle;
                }
                st => {
                    let st = format!("{st:?}");
                    self.violation(
                        |v| &mut v.mismatched_rooms,
                        format!("client {i}: partner_left for {room} while {st}"),
                    );
                }
            },
            ServerEvent::Error {
                code: circle_shared::protocol::ErrorCode::RateLimited,
                ..
            } if self.clients[i].st == St::Joining && self.clients[i].busy_retries < 3 => {
                // A busy moment: the page sends its join again; so do we.
                self.clients[i].busy_retries += 1;
                self.busy_retries += 1;
                let code = self.codes[self.clients[i].group].clone();
                self.send(i, self.join_frame(i, &code));
            }
            ServerEvent::Error { code, message } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{code:?}"));
                *self.errors.by_code.entry(code.clone()).or_default() += 1;
                note(
                    &mut self.errors.details,
                    format!("client {i}: error {code}: {message}"),
                );
                let c = &mut self.clients[i];
                if c.st == St::Joining {
                    // The join failed; it will not be answered.
                    c.st = St::Idle;
                    c.join_sent = None;
                }
            }
            // Part 2 events this run does not provoke, or that need no bookkeeping
            // (a partner's seat held while its socket closes at the end).
            ServerEvent::PartnerAway { .. }
            | ServerEvent::PartnerBack { .. }
            | ServerEvent::Blocked { .. }
            | ServerEvent::Reported { .. }
            | ServerEvent::Round(_)
            | ServerEvent::RoundOver { .. }
            | ServerEvent::RoundEnding { .. }
            | ServerEvent::SitOut { .. }
            | ServerEvent::CircleClosed {}
            | ServerEvent::Feedback { .. }
            | ServerEvent::KeepInTouch { .. }
            | ServerEvent::Contact { .. }
            | ServerEvent::Announcement { .. }
            | ServerEvent::CircleEnded { .. } => {}
        }
    }

    /// Whether two clients may be paired (not each other's last partner within
    /// the guard, judged at the later of their joins).
    fn compatible(&self, a: usize, b: usize) -> bool {
        let later = self.clients[a]
            .last_join_at
            .max(self.clients[b].last_join_at);
        let guarded = |x: usize, y: usize| {
            self.clients[x].last_partner.is_some_and(|e| {
                e.partner == y
                    && later.is_none_or(|j| j < e.at + self.cfg.repeat_guard + GUARD_SLACK)
            })
        };
        !guarded(a, b) && !guarded(b, a)
    }

    /// Pairs of compatible clients of one group that both wait.
    fn stranded(&self) -> Vec<(usize, usize)> {
        let mut waiting: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, c) in self.clients.iter().enumerate() {
            if c.st == St::Waiting {
                waiting.entry(c.group).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for list in waiting.values() {
            for (k, a) in list.iter().enumerate() {
                for b in &list[k + 1..] {
                    if self.compatible(*a, *b) {
                        out.push((*a, *b));
                    }
                }
            }
        }
        out
    }

    /// Nobody mid-join and no two compatible waiters in a group.
    fn settled(&self) -> bool {
        !self.clients.iter().any(|c| c.st == St::Joining) && self.stranded().is_empty()
    }

    fn count_unanswered(&mut self) {
        for i in 0..self.clients.len() {
            if self.clients[i].st == St::Joining {
                self.errors.unanswered_joins += 1;
                note(
                    &mut self.errors.details,
                    format!("client {i}: join unanswered"),
                );
                self.clients[i].st = St::Idle;
                self.clients[i].join_sent = None;
            }
        }
    }

    fn count_stranded(&mut self) {
        for (a, b) in self.stranded() {
            let g = self.clients[a].group;
            self.violation(
                |v| &mut v.stranded_waiters,
                format!("clients {a} and {b} both wait in group {g}"),
            );
        }
    }

    /// Both members of every room name each other and the same room.
    fn check_rooms(&mut self) {
        for i in 0..self.clients.len() {
            if let St::InRoom { room, partner } = &self.clients[i].st {
                let ok = matches!(&self.clients[*partner].st,
                    St::InRoom { room: r, partner: q } if r == room && *q == i);
                if !ok {
                    let what = format!(
                        "client {i} is in {room} with {partner}, who is {:?}",
                        self.clients[*partner].st
                    );
                    self.violation(|v| &mut v.mismatched_rooms, what);
                }
            }
        }
    }

    /// Current rooms as (member, other member, room), each once.
    fn pairs(&self) -> Vec<(usize, usize, String)> {
        self.clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.st {
                St::InRoom { room, partner } if i < *partner => Some((i, *partner, room.clone())),
                _ => None,
            })
            .collect()
    }

    /// Every paired client sends `messages`, round-robin, paced to the aggregate
    /// rate; then waits for every echo and partner copy. (sent, send window secs)
    async fn messages(&mut self) -> (u64, f64) {
        let senders: Vec<(usize, String)> = self
            .clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.st {
                St::InRoom { room, .. } => Some((i, room.clone())),
                _ => None,
            })
            .collect();
        let total = senders.len() * self.cfg.messages;
        let interval = Duration::from_secs_f64(1.0 / self.cfg.rate.max(0.001));
        let payload = "x".repeat(self.cfg.payload_bytes);
        tracing::info!(total, rate = self.cfg.rate, "sending messages");
        let start = Instant::now() + Duration::from_millis(10);
        let end = (start + interval * total as u32 + self.cfg.phase_timeout).min(self.deadline);
        let mut next = 0usize;
        let mut last_send = start;
        while next < total {
            let now = Instant::now();
            if now >= end {
                self.errors
                    .timeouts
                    .push("message sending: phase timeout or deadline".into());
                break;
            }
            let due = start + interval * next as u32;
            if due <= now {
                // Send everything that is due (we may have fallen behind a little).
                while next < total && start + interval * next as u32 <= now {
                    let (i, room) = &senders[next % senders.len()];
                    let seq = next / senders.len();
                    let ts = u64::try_from(Instant::now().duration_since(self.base).as_micros())
                        .unwrap_or(u64::MAX);
                    let frame = json!({
                        "action": "message", "room": room, "message": payload,
                        "id": format!("{i}-{seq}"), "c": i, "ts": ts,
                    });
                    let i = *i;
                    self.send(i, frame);
                    self.clients[i].sent += 1;
                    next += 1;
                }
                last_send = Instant::now();
            } else {
                self.pump(due - now).await;
            }
        }
        let sent = next as u64;
        let window = last_send.saturating_duration_since(start).as_secs_f64();
        self.wait_until("message delivery", |r| r.all_delivered())
            .await;
        (sent, window)
    }

    fn all_delivered(&self) -> bool {
        self.clients.iter().all(|c| match &c.st {
            St::InRoom { partner, .. } => {
                c.echoes >= c.sent && c.from_partner >= self.clients[*partner].sent
            }
            _ => true,
        })
    }

    fn count_lost_messages(&mut self) {
        let mut lost = 0;
        for c in &self.clients {
            if let St::InRoom { partner, .. } = &c.st {
                lost += c.sent.saturating_sub(c.echoes);
                lost += self.clients[*partner].sent.saturating_sub(c.from_partner);
            }
        }
        if lost > 0 {
            note(
                &mut self.errors.details,
                format!("{lost} messages never arrived"),
            );
        }
        self.errors.lost_messages += lost;
    }

    /// One member of each pair leaves (with `requeue`: goes back to the lobby);
    /// waits until every partner was told. False when cut short.
    async fn leave_phase(
        &mut self,
        pairs: &[(usize, usize, String)],
        requeue: bool,
    ) -> Result<bool, BenchError> {
        let before = self.target.metrics().await?;
        let began = Instant::now();
        for (leaver, partner, room) in pairs {
            let now = Instant::now();
            let c = &mut self.clients[*leaver];
            c.last_partner = Some(Ended {
                partner: *partner,
                at: now,
            });
            if requeue {
                c.st = St::Joining;
                c.join_sent = Some((now, JoinKind::Requeue));
                c.last_join_at = Some(now);
            } else {
                c.st = St::Idle;
            }
            self.send(
                *leaver,
                json!({"action": "leave_room", "room": room, "requeue": requeue}),
            );
        }
        let partners: Vec<usize> = pairs.iter().map(|(_, p, _)| *p).collect();
        let told = |r: &Self| {
            partners
                .iter()
                .all(|p| !matches!(r.clients[*p].st, St::InRoom { .. }))
        };
        let phase = if requeue { "leave+requeue" } else { "leave" };
        let done = if requeue {
            self.wait_until(phase, |r| told(r) && r.settled()).await
        } else {
            self.wait_until(phase, told).await
        };
        for p in &partners {
            if let St::InRoom { room, .. } = &self.clients[*p].st
                && pairs.iter().any(|(_, q, r)| q == p && r == room)
            {
                self.errors.missing_partner_left += 1;
                note(
                    &mut self.errors.details,
                    format!("client {p}: never told its partner left {room}"),
                );
            }
        }
        if requeue {
            self.count_unanswered();
        }
        self.finish_phase(phase, pairs.len() as u64, began, &before)
            .await?;
        Ok(done)
    }

    /// Closes every socket, then waits until the stack has run every
    /// `$disconnect` (no sockets left, counters still for a while).
    async fn disconnect_all(&mut self) -> Result<StackMetrics, BenchError> {
        let before = self.target.metrics().await?;
        let began = Instant::now();
        let n = self.clients.len();
        for i in 0..n {
            self.clients[i].closing = true;
            self.conns[i].send(Out::Close);
        }
        let end =
            (Instant::now() + self.cfg.phase_timeout).min(self.deadline + Duration::from_secs(10));
        // Our side first: every reader reports its end.
        while Instant::now() < end && self.clients.iter().any(|c| !c.closed) {
            self.pump(TICK).await;
        }
        // Then the stack's: sockets gone and the counters still.
        let mut last = self.target.metrics().await?;
        let mut still_since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            while let Ok(inb) = self.inbound.try_recv() {
                self.handle(inb);
            }
            let now = self.target.metrics().await?;
            if now.metrics != last.metrics || now.connections > 0 {
                still_since = Instant::now();
            }
            last = now;
            if still_since.elapsed() >= Duration::from_millis(500) {
                break;
            }
            if Instant::now() >= end {
                self.errors.timeouts.push(format!(
                    "disconnect: {} sockets still open",
                    last.connections
                ));
                break;
            }
        }
        let phase = PhaseReport::new("disconnect", n as u64, began.elapsed(), &before, &last);
        self.phases.push(phase);
        Ok(last)
    }
}

/// The stdout table.
pub fn print(report: &LoadReport) {
    let c = &report.config;
    println!(
        "\n== circle-bench load: {} clients, {} groups, {} messages each at {} msg/s, {:.0}% leave, {:.0}% next ==",
        c.clients,
        c.groups,
        c.messages,
        c.rate,
        c.leave_fraction * 100.0,
        c.next_fraction * 100.0
    );
    println!(
        "\n{:<26} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "n", "p50", "p90", "p99", "max", "mean"
    );
    let l = &report.latency;
    for (what, s) in [
        ("connect (+$connect)", &l.connect),
        ("join -> join_room", &l.join_to_join_room),
        ("requeue -> join_room", &l.requeue_to_join_room),
        ("rejoin -> join_room", &l.rejoin_to_join_room),
        ("message -> echo", &l.message_echo),
        ("message -> partner", &l.message_partner),
    ] {
        println!(
            "{:<26} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            what, s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.mean_ms
        );
    }
    let r = &report.rates;
    println!(
        "\nrates: join burst {:.3} s ({:.0} joins/s, {:.0} DynamoDB req/s); messages {} sent at {:.0}/s (target {:.0}), {:.0} deliveries/s",
        r.join_burst_secs,
        r.joins_per_sec,
        r.join_burst_ddb_requests_per_sec,
        r.messages_sent,
        r.messages_per_sec_achieved,
        r.messages_per_sec_target,
        r.deliveries_per_sec
    );
    if let Some(h) = &r.join_burst_hot_partition {
        println!(
            "hottest partition in the burst: {} item operations/s on one `{}` key (DynamoDB's per-partition limits: 3,000 RCU/s, 1,000 WCU/s)",
            h.ops_per_sec, h.kind
        );
    }
    let o = &report.outcome;
    println!(
        "outcome: after burst {} paired, {} waiting (expected {}); {} rooms formed; at the end {} paired, {} waiting, {} idle",
        o.paired_after_burst,
        o.waiting_after_burst,
        o.expected_waiting_after_burst,
        o.rooms_formed,
        o.final_paired,
        o.final_waiting,
        o.final_idle
    );
    let m = &report.stack_memory;
    println!(
        "stack RSS: start {:.1} MB, end {:.1} MB, peak {:.1} MB",
        mb(m.rss_bytes_start),
        mb(m.rss_bytes_end),
        mb(m.peak_rss_bytes)
    );
    crate::report::print_phases(&report.phases);
    if let Some(c) = &report.cost_per_1000_chats {
        crate::cost::print(c);
    }
    let e = &report.errors;
    println!(
        "\nerrors: {} (error events {:?}, unexpected closes {}, garbage {}, unanswered joins {}, lost messages {}, missing partner_left {}, timeouts {:?})",
        e.total,
        e.by_code,
        e.unexpected_closes,
        e.garbage_frames,
        e.unanswered_joins,
        e.lost_messages,
        e.missing_partner_left,
        e.timeouts
    );
    let v = &report.violations;
    println!(
        "invariant violations: {} (double matches {}, stranded waiters {}, mismatched rooms {}, repeat partners {}, unexpected events {})",
        v.total,
        v.double_matches,
        v.stranded_waiters,
        v.mismatched_rooms,
        v.repeat_partners,
        v.unexpected_events
    );
    for d in e.details.iter().chain(&v.details) {
        println!("  - {d}");
    }
    println!(
        "result: {} in {:.1} s",
        if report.ok() { "OK" } else { "FAILED" },
        report.duration_secs
    );
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use circle_shared::protocol::Participant;

    fn config() -> LoadConfig {
        LoadConfig {
            clients: 4,
            groups: 2,
            messages: 1,
            rate: 1.0,
            payload_bytes: 1,
            leave_fraction: 0.0,
            next_fraction: 0.0,
            connect_concurrency: 1,
            phase_timeout: Duration::from_secs(1),
            quiet: Duration::ZERO,
            repeat_guard: Duration::from_secs(30),
            labels: 0,
        }
    }

    fn run<'a>(cfg: &'a LoadConfig, target: &'a Target) -> Run<'a> {
        let (_tx, rx) = mpsc::unbounded_channel();
        let mut run = Run::new(
            cfg,
            target,
            Instant::now() + Duration::from_secs(60),
            Vec::new(),
            vec!["A".into(), "B".into()],
            rx,
        );
        for c in &mut run.clients {
            c.st = St::Joining;
            c.join_sent = Some((Instant::now(), JoinKind::Burst));
            c.last_join_at = Some(Instant::now());
        }
        run
    }

    fn join_room(room: &str, me: usize, partner: usize) -> ServerEvent {
        ServerEvent::JoinRoom {
            room: room.into(),
            user: name(me),
            partner: Participant {
                name: name(partner),
                id: "p".into(),
                label: None,
            },
            prompt: "p?".into(),
            resume: "t".into(),
            ends_at: None,
            seconds_left: None,
            resumed: None,
        }
    }

    fn target() -> Target {
        Target {
            addr: "127.0.0.1:1".parse().expect("an address"),
            pid: None,
        }
    }

    #[test]
    fn a_consistent_pairing_passes() {
        let (cfg, t) = (config(), target());
        let mut r = run(&cfg, &t);
        let now = Instant::now();
        r.on_event(0, now, join_room("r1", 0, 2));
        r.on_event(2, now, join_room("r1", 2, 0));
        r.on_event(
            1,
            now,
            ServerEvent::Waiting {
                group: circle_shared::protocol::CircleInfo {
                    name: "g".into(),
                    description: "d".into(),
                    rules: vec![],
                    expires_at: None,
                },
                waiting: 1,
                round: None,
                reason: None,
                retry_at: None,
            },
        );
        r.clients[3].st = St::Idle;
        r.check_rooms();
        assert!(r.settled());
        assert_eq!(r.violations.details, Vec::<String>::new());
        assert_eq!(r.lat.join.len(), 2);
    }

    #[test]
    fn double_matches_mismatches_and_stranded_waiters_are_caught() {
        let (cfg, t) = (config(), target());
        let mut r = run(&cfg, &t);
        let now = Instant::now();
        r.on_event(0, now, join_room("r1", 0, 2));
        r.on_event(0, now, join_room("r2", 0, 2));
        assert_eq!(r.violations.double_matches, 1);
        // Client 1 is of group 1, client 0 of group 0.
        r.on_event(1, now, join_room("r3", 1, 0));
        r.check_rooms();
        assert!(r.violations.mismatched_rooms >= 2, "{:?}", r.violations);
        // A message for a room the client is not in.
        let before = r.violations.mismatched_rooms;
        r.on_event(
            2,
            now,
            ServerEvent::Message {
                room: "r9".into(),
                from: Participant {
                    name: name(0),
                    id: "p".into(),
                    label: None,
                },
                sent_at: String::new(),
                body: serde_json::Map::new(),
            },
        );
        assert_eq!(r.violations.mismatched_rooms, before + 1);
        // Two compatible waiters of group 1 (clients 1 and 3).
        r.clients[1].st = St::Waiting;
        r.clients[3].st = St::Waiting;
        assert_eq!(r.stranded(), vec![(1, 3)]);
        // Unless they just left each other: the repeat guard keeps them apart.
        r.clients[1].last_partner = Some(Ended {
            partner: 3,
            at: Instant::now(),
        });
        assert!(r.stranded().is_empty());
    }
}
