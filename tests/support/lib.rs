//! Test support for the core: the shared handlers running against the embedded
//! DynamoDB (dynoxide over loopback, through `aws-sdk-dynamodb`), a gateway that
//! records what each connection was sent (and can play a departed client, 410),
//! a timer queue driven by a hand-moved clock, and a checker for docs/design.md's
//! pairing invariants.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use circle_shared::clock::{Clock, ManualClock};
use circle_shared::db::keys::ENTRY_PREFIX;
use circle_shared::db::{Item, Table};
use circle_shared::embedded::EmbeddedDynamo;
use circle_shared::gateway::{Gateway, GatewayError};
use circle_shared::handlers::http::{HttpRequest, HttpResponse};
use circle_shared::model::{ConnState, Connection, LobbyEntry, Member};
use circle_shared::pairing::{Seeker, compatible};
use circle_shared::protocol::{ErrorCode, ServerEvent};
use circle_shared::timers::{Timer, TimerError, TimerQueue};
use circle_shared::{App, RateLimits, Settings, TableNames};
use serde_json::{Value, json};

/// What a connection saw, in order: frames from the server and its own actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Event(ServerEvent),
    /// The test (as the client) sent `leave_room`, `block` or `report` for this room.
    Left(String),
}

/// A gateway that records posts per connection; connections marked gone get 410.
#[derive(Debug, Default)]
pub struct RecordingGateway {
    log: Mutex<HashMap<String, Vec<Seen>>>,
    gone: Mutex<HashSet<String>>,
    closed: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
        .expect("no test thread panics while holding a test lock")
}

impl RecordingGateway {
    /// Everything `conn` saw so far.
    pub fn seen(&self, conn: &str) -> Vec<Seen> {
        lock(&self.log).get(conn).cloned().unwrap_or_default()
    }

    /// Just the server events `conn` got.
    pub fn events(&self, conn: &str) -> Vec<ServerEvent> {
        self.seen(conn)
            .into_iter()
            .filter_map(|s| match s {
                Seen::Event(e) => Some(e),
                Seen::Left(_) => None,
            })
            .collect()
    }

    pub fn note(&self, conn: &str, seen: Seen) {
        lock(&self.log)
            .entry(conn.to_owned())
            .or_default()
            .push(seen);
    }

    /// From now on `conn` answers 410 Gone, like a client whose socket vanished.
    pub fn mark_gone(&self, conn: &str) {
        lock(&self.gone).insert(conn.to_owned());
    }

    /// Whether the server closed `conn` (`@connections` DELETE).
    pub fn was_closed(&self, conn: &str) -> bool {
        lock(&self.closed).contains(conn)
    }

    pub fn all_connections(&self) -> Vec<String> {
        lock(&self.log).keys().cloned().collect()
    }
}

#[async_trait]
impl Gateway for RecordingGateway {
    async fn post(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        if lock(&self.gone).contains(connection_id) {
            return Err(GatewayError::Gone);
        }
        let event: ServerEvent =
            serde_json::from_str(frame).expect("the server only sends protocol events");
        self.note(connection_id, Seen::Event(event));
        Ok(())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), GatewayError> {
        lock(&self.closed).insert(connection_id.to_owned());
        self.mark_gone(connection_id);
        Ok(())
    }
}

/// A timer queue that only keeps timers; the test fires them by moving the clock.
#[derive(Debug, Default)]
pub struct RecordingTimers {
    pending: Mutex<Vec<Timer>>,
}

#[async_trait]
impl TimerQueue for RecordingTimers {
    async fn schedule(&self, timer: Timer) -> Result<(), TimerError> {
        lock(&self.pending).push(timer);
        Ok(())
    }
}

impl RecordingTimers {
    pub fn pending(&self) -> Vec<Timer> {
        lock(&self.pending).clone()
    }

    /// Takes the timers due at `now_ms`.
    fn take_due(&self, now_ms: i64) -> Vec<Timer> {
        let mut pending = lock(&self.pending);
        let (due, rest): (Vec<Timer>, Vec<Timer>) =
            pending.drain(..).partition(|t| t.due_ms() <= now_ms);
        *pending = rest;
        due
    }
}

/// A busy answer (`rate_limited`), which a client may send its action again for.
pub fn is_busy(event: &ServerEvent) -> bool {
    matches!(
        event,
        ServerEvent::Error {
            code: ErrorCode::RateLimited,
            ..
        }
    )
}

/// AWS's behaviour simulated in front of the store when `CIRCLE_AWS_SIM=1`
/// (the test command runs the concurrency suites and the chaos run so too).
pub fn aws_sim_from_env() -> Option<Arc<circle_shared::aws_sim::AwsSim>> {
    (std::env::var("CIRCLE_AWS_SIM").as_deref() == Ok("1")).then(|| {
        circle_shared::aws_sim::AwsSim::new(
            circle_shared::aws_sim::SimConfig::default(),
            Arc::new(circle_shared::clock::SystemClock),
        )
    })
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
static NEXT_PREFIX: AtomicU64 = AtomicU64::new(1);

/// A circle as the creator got it.
#[derive(Debug, Clone)]
pub struct Created {
    pub code: String,
    pub id: String,
    pub key: String,
    pub body: Value,
}

/// The core wired to a fresh pair of tables in an embedded DynamoDB.
pub struct Harness {
    pub dynamo: Arc<EmbeddedDynamo>,
    pub app: App,
    pub gateway: Arc<RecordingGateway>,
    pub clock: Arc<ManualClock>,
    pub timers: Arc<RecordingTimers>,
}

/// Settings for core tests: docs/design.md's, with the per-connection rate limits
/// raised (the hand-moved clock would otherwise never refill a bucket); the
/// rate-limit tests use [`RateLimits::default`] themselves.
pub fn test_settings() -> Settings {
    Settings {
        limits: RateLimits::default().scaled(1_000.0),
        ..Settings::default()
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_settings(test_settings()).await
    }

    pub async fn with_settings(settings: Settings) -> Self {
        let dynamo = Arc::new(
            EmbeddedDynamo::memory_with(aws_sim_from_env())
                .await
                .expect("embedded DynamoDB starts"),
        );
        Self::on(dynamo, settings).await
    }

    /// Fresh tables in an already running store (many property-test cases share one).
    pub async fn on(dynamo: Arc<EmbeddedDynamo>, settings: Settings) -> Self {
        let prefix = format!("t{}", NEXT_PREFIX.fetch_add(1, Ordering::Relaxed));
        let tables = TableNames::with_prefix(&prefix);
        dynamo
            .create_tables(&tables)
            .await
            .expect("tables are created");
        let gateway = Arc::new(RecordingGateway::default());
        let clock = Arc::new(ManualClock::starting_now());
        let timers = Arc::new(RecordingTimers::default());
        let app = App::new(
            dynamo.client(),
            tables,
            gateway.clone(),
            clock.clone(),
            settings,
        )
        .with_timers(timers.clone());
        Self {
            dynamo,
            app,
            gateway,
            clock,
            timers,
        }
    }

    /// An HTTP request through the shared handler.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> HttpResponse {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = key.map(|k| format!("Bearer {k}"));
        circle_shared::handlers::http::handle(
            &self.app,
            HttpRequest {
                method,
                path,
                body: body.as_bytes(),
                authorization: auth.as_deref(),
                source_ip: Some("198.51.100.7"),
                page_url: "http://127.0.0.1:3000/",
            },
        )
        .await
    }

    /// Creates a circle over the HTTP handler.
    pub async fn circle(&self, name: &str) -> Created {
        let body = json!({"name": name, "description": "a test circle", "rules": ["be kind"]});
        let res = self.http("POST", "/groups", Some(body), None).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let get = |k: &str| {
            res.body[k]
                .as_str()
                .unwrap_or_else(|| panic!("a created circle has {k}"))
                .to_owned()
        };
        Created {
            code: get("access_code"),
            id: get("id"),
            key: get("organizer_key"),
            body: res.body.clone(),
        }
    }

    /// Creates a circle and returns its access code.
    pub async fn group(&self, name: &str) -> String {
        self.circle(name).await.code
    }

    /// The stable id of the circle with this code.
    pub async fn cid(&self, code: &str) -> String {
        let code = circle_shared::code::AccessCode::parse(code).expect("a code the server made");
        circle_shared::circle::get(&self.app, &code, true)
            .await
            .expect("the circle can be read")
            .expect("the circle exists")
            .cid
    }

    /// A WebSocket event as API Gateway would deliver it.
    pub fn event(route: &str, conn: &str, body: Option<String>) -> ApiGatewayWebsocketProxyRequest {
        let event_type = match route {
            "$connect" => "CONNECT",
            "$disconnect" => "DISCONNECT",
            _ => "MESSAGE",
        };
        let raw = json!({
            "requestContext": {
                "routeKey": route,
                "eventType": event_type,
                "connectionId": conn,
                "domainName": "127.0.0.1",
                "stage": "local",
                "connectedAt": 0,
                "requestTimeEpoch": 0,
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": body,
            "isBase64Encoded": false,
        });
        serde_json::from_value(raw).expect("the test event has API Gateway's shape")
    }

    /// Opens a connection (`$connect`) and returns its id.
    pub async fn connect(&self) -> String {
        let conn = format!("conn{}=", NEXT_CONN.fetch_add(1, Ordering::Relaxed));
        let res =
            circle_shared::handlers::ws::handle(&self.app, Self::event("$connect", &conn, None))
                .await;
        assert_eq!(res.status_code, 200);
        conn
    }

    /// Sends a frame; the route is chosen from `action` like API Gateway does.
    pub async fn send(&self, conn: &str, frame: Value) -> ApiGatewayProxyResponse {
        let route = match frame.get("action").and_then(Value::as_str) {
            Some(a) if circle_shared::handlers::ws::ROUTES.contains(&a) && !a.starts_with('$') => {
                a.to_owned()
            }
            _ => "$default".to_owned(),
        };
        self.send_raw(conn, &route, frame.to_string()).await
    }

    pub async fn send_raw(&self, conn: &str, route: &str, body: String) -> ApiGatewayProxyResponse {
        // Boxed, as a Lambda runtime or the emulator's task holds it: a
        // test's own future stays small on the test thread's stack.
        Box::pin(circle_shared::handlers::ws::handle(
            &self.app,
            Self::event(route, conn, Some(body)),
        ))
        .await
    }

    /// Joins without a member secret (a fresh member, no history).
    pub async fn join(&self, conn: &str, code: &str, name: &str) {
        let res = self
            .send(
                conn,
                json!({"action": "join_group", "access_code": code, "name": name}),
            )
            .await;
        assert_eq!(res.status_code, 200);
    }

    /// Joins as the page does: a join refused for a busy moment
    /// (`rate_limited`) is sent again, up to 3 times, 1, 2 and 3 s later.
    /// Returns how many times it was sent again.
    pub async fn join_like_page(&self, conn: &str, code: &str, name: &str) -> u32 {
        let mut retries = 0;
        loop {
            let before = self.errors(conn).len();
            self.join(conn, code, name).await;
            let busy = self.errors(conn)[before..].iter().any(is_busy);
            if !busy || retries == 3 {
                return retries;
            }
            retries += 1;
            tokio::time::sleep(Duration::from_secs(retries.into())).await;
        }
    }

    /// Joins as the member whose secret is `member`.
    pub async fn join_as(&self, conn: &str, code: &str, name: &str, member: &str) {
        let res = self
            .send(
                conn,
                json!({"action": "join_group", "access_code": code, "name": name, "member": member}),
            )
            .await;
        assert_eq!(res.status_code, 200);
    }

    pub async fn leave(&self, conn: &str, room: &str, requeue: bool) -> ApiGatewayProxyResponse {
        self.gateway.note(conn, Seen::Left(room.to_owned()));
        self.send(
            conn,
            json!({"action": "leave_room", "room": room, "requeue": requeue}),
        )
        .await
    }

    pub async fn disconnect(&self, conn: &str) {
        let res = Box::pin(circle_shared::handlers::ws::handle(
            &self.app,
            Self::event("$disconnect", conn, None),
        ))
        .await;
        assert_eq!(res.status_code, 200);
    }

    /// Moves the clock and fires every timer that became due (and any those
    /// schedule that are due too).
    pub async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.fire_due().await;
    }

    pub async fn fire_due(&self) {
        for _ in 0..100 {
            let due = self.timers.take_due(self.clock.now_millis());
            if due.is_empty() {
                return;
            }
            for t in due {
                circle_shared::handlers::timer::fire(&self.app, &t)
                    .await
                    .expect("timers fire");
            }
        }
    }

    /// The room `conn` was last told about, if its last pairing event is a `join_room`.
    pub fn current_room(&self, conn: &str) -> Option<String> {
        let mut room = None;
        for seen in self.gateway.seen(conn) {
            match seen {
                Seen::Event(ServerEvent::JoinRoom { room: r, .. }) => room = Some(r),
                Seen::Event(
                    ServerEvent::PartnerLeft { room: r, .. }
                    | ServerEvent::RoundOver { room: r, .. },
                )
                | Seen::Left(r)
                    if room.as_ref() == Some(&r) =>
                {
                    room = None;
                }
                _ => {}
            }
        }
        room
    }

    pub fn join_rooms(&self, conn: &str) -> Vec<ServerEvent> {
        self.gateway
            .events(conn)
            .into_iter()
            .filter(|e| matches!(e, ServerEvent::JoinRoom { .. }))
            .collect()
    }

    pub fn errors(&self, conn: &str) -> Vec<ServerEvent> {
        self.gateway
            .events(conn)
            .into_iter()
            .filter(|e| matches!(e, ServerEvent::Error { .. }))
            .collect()
    }

    /// Every connection record, read straight from the table (expired ones too).
    pub async fn connection_records(&self) -> Vec<Connection> {
        connection_records(&self.app).await
    }

    /// Every lobby entry, by circle id.
    pub async fn lobby_entries(&self) -> BTreeMap<String, Vec<LobbyEntry>> {
        lobby_entries(&self.app).await
    }

    /// Every member record, by member id.
    pub async fn members(&self) -> HashMap<String, Member> {
        members(&self.app).await
    }

    /// Every item of a table (expired ones too).
    pub async fn scan(&self, table: Table) -> Vec<Item> {
        scan(&self.app, table).await
    }

    /// Checks docs/design.md's invariants on the settled state and on what every
    /// connection was told. Returns every violation found.
    pub async fn violations(&self) -> Vec<String> {
        let mut bad = state_violations(&self.app).await;
        let now_secs = self.clock.now_secs();
        let records: Vec<Connection> = self
            .connection_records()
            .await
            .into_iter()
            .filter(|c| !c.is_expired(now_secs))
            .collect();
        let by_id: HashMap<&str, &Connection> = records
            .iter()
            .map(|c| (c.connection_id.as_str(), c))
            .collect();
        let members = self.members().await;
        // 2. Never two join_room without a leave, partner_left or round_over in
        //    between, and what each client was told matches the stored room.
        for conn in self.gateway.all_connections() {
            let mut in_room: Option<String> = None;
            for seen in self.gateway.seen(&conn) {
                match seen {
                    Seen::Event(ServerEvent::JoinRoom {
                        room,
                        partner,
                        resumed,
                        ..
                    }) => {
                        if let Some(old) = &in_room
                            && !(resumed == Some(true) && *old == room)
                        {
                            bad.push(format!("{conn} got join_room {room} while still in {old}"));
                        }
                        if by_id.contains_key(partner.id.as_str())
                            || members.contains_key(&partner.id)
                        {
                            bad.push(format!(
                                "{conn} was shown a connection or member id as match.id"
                            ));
                        }
                        in_room = Some(room);
                    }
                    Seen::Event(
                        ServerEvent::PartnerLeft { room, .. } | ServerEvent::RoundOver { room, .. },
                    )
                    | Seen::Left(room)
                        if in_room.as_ref() == Some(&room) =>
                    {
                        in_room = None;
                    }
                    Seen::Event(ServerEvent::CircleClosed {} | ServerEvent::CircleEnded { .. }) => {
                        in_room = None;
                    }
                    _ => {}
                }
            }
            let stored = by_id
                .get(conn.as_str())
                .and_then(|c| c.room())
                .map(|r| r.room.clone());
            if let Some(stored) = stored
                && in_room.as_ref() != Some(&stored)
            {
                bad.push(format!(
                    "{conn} is stored in room {stored} but was told {in_room:?}"
                ));
            }
        }
        bad
    }

    pub async fn assert_invariants(&self) {
        let bad = self.violations().await;
        assert!(
            bad.is_empty(),
            "{} invariant violations:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}

/// Every item of a table (expired ones too).
pub async fn scan(app: &App, table: Table) -> Vec<Item> {
    app.store
        .scan(table, None, usize::MAX)
        .await
        .expect("scan works")
}

/// Every connection record, read straight from the table (expired ones too).
pub async fn connection_records(app: &App) -> Vec<Connection> {
    scan(app, Table::Connections)
        .await
        .iter()
        .map(|i| Connection::from_item(i).expect("connection records are well formed"))
        .collect()
}

/// Every lobby entry, by circle id.
pub async fn lobby_entries(app: &App) -> BTreeMap<String, Vec<LobbyEntry>> {
    let mut out: BTreeMap<String, Vec<LobbyEntry>> = BTreeMap::new();
    for item in scan(app, Table::Groups).await {
        let sk = text(&item, "sk");
        let pk = text(&item, "pk");
        if sk.starts_with(ENTRY_PREFIX) && pk.starts_with("L#") {
            let cid = pk.split('#').nth(1).unwrap_or_default().to_owned();
            out.entry(cid)
                .or_default()
                .push(LobbyEntry::from_item(&item).expect("lobby entries are well formed"));
        }
    }
    out
}

/// Every member record, by member id.
pub async fn members(app: &App) -> HashMap<String, Member> {
    scan(app, Table::Groups)
        .await
        .iter()
        .filter(|i| text(i, "pk").starts_with("M#"))
        .map(|i| {
            let m = Member::from_item(i).expect("member records are well formed");
            (m.mid.clone(), m)
        })
        .collect()
}

/// docs/design.md's invariants on the stored state of `app` (rooms mutual, the lobby
/// and waiting records one to one, no two compatible people waiting, no blocked
/// pair in a room), at `app`'s clock. Every violation found.
pub async fn state_violations(app: &App) -> Vec<String> {
    let now_secs = app.clock.now_secs();
    let now_ms = app.clock.now_millis();
    let cut = now_ms - App::ms(app.settings.presence_window);
    let mut bad = Vec::new();
    // Expired records count as absent (invariant 7), as on every read.
    let records: Vec<Connection> = connection_records(app)
        .await
        .into_iter()
        .filter(|c| !c.is_expired(now_secs))
        .collect();
    let by_id: HashMap<&str, &Connection> = records
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect();
    let entries = lobby_entries(app).await;
    let members = members(app).await;

    // 1. Rooms have exactly two members who name each other.
    let mut rooms: HashMap<&str, Vec<&Connection>> = HashMap::new();
    for c in &records {
        let r = match &c.state {
            ConnState::Paired { room, .. } | ConnState::Away { room, .. } => room,
            _ => continue,
        };
        rooms.entry(r.room.as_str()).or_default().push(c);
        let partner = by_id.get(r.partner.as_str()).and_then(|p| match &p.state {
            ConnState::Paired { room, .. } | ConnState::Away { room, .. } => Some(room),
            _ => None,
        });
        match partner {
            Some(pr)
                if pr.room == r.room
                    && pr.partner == c.connection_id
                    && pr.partner_pid == r.pid
                    && r.partner_pid == pr.pid
                    && pr.partner_mid == c.mid.clone().unwrap_or_default() => {}
            other => bad.push(format!(
                "{} in {} names {} whose side is {other:?}",
                c.connection_id, r.room, r.partner
            )),
        }
        if matches!(c.state, ConnState::Away { .. })
            && matches!(
                by_id.get(r.partner.as_str()).map(|p| &p.state),
                Some(ConnState::Paired {
                    partner_away_until: 0,
                    ..
                })
            )
        {
            bad.push(format!(
                "{} is away but its partner was not told",
                c.connection_id
            ));
        }
        if by_id.contains_key(r.pid.as_str()) || by_id.contains_key(r.partner_pid.as_str()) {
            bad.push(format!(
                "participant id of {} is a connection id",
                c.connection_id
            ));
        }
        if let (Some(mid), true) = (&c.mid, true)
            && let Some(m) = members.get(mid)
            && m.blocked.contains(&r.partner_mid)
        {
            bad.push(format!(
                "{} is in a room with a member it blocked",
                c.connection_id
            ));
        }
    }
    for (room, list) in &rooms {
        if list.len() != 2 {
            bad.push(format!("room {room} has {} members", list.len()));
        }
    }

    // Lobby entries and waiting records agree one to one.
    let mut waiting_entries: HashSet<(&str, &str)> = HashSet::new();
    for (cid, list) in &entries {
        for e in list {
            if e.expires_at <= now_secs {
                continue;
            }
            waiting_entries.insert((cid.as_str(), e.conn.as_str()));
            match by_id.get(e.conn.as_str()) {
                Some(Connection {
                    state: ConnState::Waiting { ticket, shard },
                    cid: Some(rc),
                    ..
                }) if rc == cid && *ticket == e.ticket && *shard == e.shard => {}
                other => bad.push(format!(
                    "lobby entry {} in {cid} but record is {:?}",
                    e.conn,
                    other.map(|c| &c.state)
                )),
            }
        }
    }
    for c in &records {
        if let (ConnState::Waiting { .. }, Some(cid)) = (&c.state, &c.cid)
            && !waiting_entries.contains(&(cid.as_str(), c.connection_id.as_str()))
        {
            bad.push(format!(
                "{} is waiting in {cid} without a lobby entry",
                c.connection_id
            ));
        }
    }

    // 3. No two compatible people left waiting in one circle (both present),
    //    judged when the later of the two last sought (its `seen`): a repeat
    //    guard that ran out since then is picked up by that waiter's next
    //    keep-alive, or by the join the page sends at `retry_at`.
    for (cid, list) in &entries {
        let live: Vec<&LobbyEntry> = list
            .iter()
            .filter(|e| e.expires_at > now_secs && e.seen >= cut)
            .collect();
        for (i, a) in live.iter().enumerate() {
            let seeker = Seeker {
                conn: &a.conn,
                mid: &a.mid,
                member: members.get(&a.mid),
                avoid: a.avoid.as_deref(),
                avoid_until: a.avoid_until,
                prefer: None,
            };
            for b in &live[i + 1..] {
                let blocked_by_b = members
                    .get(&b.mid)
                    .is_some_and(|m| m.blocked.contains(&a.mid));
                let at = a.seen.max(b.seen).min(now_ms);
                if compatible(&seeker, b, at) && !blocked_by_b {
                    bad.push(format!("{} and {} both wait in {cid}", a.conn, b.conn));
                }
            }
        }
    }
    bad
}

fn text(item: &Item, key: &str) -> String {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// A member secret for tests: `member-<n>` padded to 16+ characters.
pub fn member_secret(n: usize) -> String {
    format!("member-secret-{n:06}")
}

impl Harness {
    /// The codes of the `error` events `conn` got, in order.
    pub fn error_codes(&self, conn: &str) -> Vec<ErrorCode> {
        self.errors(conn)
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Error { code, .. } => Some(code),
                _ => None,
            })
            .collect()
    }
}

impl Harness {
    /// `GET /groups/{code}/organizer` with the circle's key: its JSON (asserting `200`).
    pub async fn organizer_view(&self, c: &Created) -> Value {
        let path = format!("/groups/{}/organizer", c.code);
        let r = self.http("GET", &path, None, Some(&c.key)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}
