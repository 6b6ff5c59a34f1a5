//! Test support for the core: the shared handlers running against the embedded
//! DynamoDB (dynoxide over loopback, through `aws-sdk-dynamodb`), a gateway that
//! records what each connection was sent (and can play a departed client, 410),
//! a hand-driven clock, and a checker for DESIGN.md's pairing invariants.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use circle_shared::clock::{Clock, ManualClock};
use circle_shared::code::AccessCode;
use circle_shared::embedded::EmbeddedDynamo;
use circle_shared::gateway::{Gateway, GatewayError};
use circle_shared::model::{ConnState, Connection, LobbyEntry, WAIT_PREFIX};
use circle_shared::pairing::compatible;
use circle_shared::protocol::ServerEvent;
use circle_shared::{App, Settings, TableNames};
use serde_json::{Value, json};

/// What a connection saw, in order: frames from the server and its own actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Event(ServerEvent),
    /// The test (as the client) sent `leave_room` for this room.
    Left(String),
}

/// A gateway that records posts per connection; connections marked gone get 410.
#[derive(Debug, Default)]
pub struct RecordingGateway {
    log: Mutex<HashMap<String, Vec<Seen>>>,
    gone: Mutex<HashSet<String>>,
}

impl RecordingGateway {
    fn lock_log(&self) -> MutexGuard<'_, HashMap<String, Vec<Seen>>> {
        self.log
            .lock()
            .expect("no test thread panics while holding the log")
    }

    /// Everything `conn` saw so far.
    pub fn seen(&self, conn: &str) -> Vec<Seen> {
        self.lock_log().get(conn).cloned().unwrap_or_default()
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
        self.lock_log()
            .entry(conn.to_owned())
            .or_default()
            .push(seen);
    }

    /// From now on `conn` answers 410 Gone, like a client whose socket vanished.
    pub fn mark_gone(&self, conn: &str) {
        self.gone
            .lock()
            .expect("no test thread panics while holding gone")
            .insert(conn.to_owned());
    }

    pub fn all_connections(&self) -> Vec<String> {
        self.lock_log().keys().cloned().collect()
    }
}

#[async_trait]
impl Gateway for RecordingGateway {
    async fn post(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        if self
            .gone
            .lock()
            .expect("no test thread panics while holding gone")
            .contains(connection_id)
        {
            return Err(GatewayError::Gone);
        }
        let event: ServerEvent =
            serde_json::from_str(frame).expect("the server only sends protocol events");
        self.note(connection_id, Seen::Event(event));
        Ok(())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), GatewayError> {
        self.mark_gone(connection_id);
        Ok(())
    }
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
static NEXT_PREFIX: AtomicU64 = AtomicU64::new(1);

/// The core wired to a fresh pair of tables in an embedded DynamoDB.
pub struct Harness {
    pub dynamo: Arc<EmbeddedDynamo>,
    pub app: App,
    pub gateway: Arc<RecordingGateway>,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_settings(Settings::default()).await
    }

    pub async fn with_settings(settings: Settings) -> Self {
        let dynamo = Arc::new(
            EmbeddedDynamo::memory()
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
        let app = App::new(
            dynamo.client(),
            tables,
            gateway.clone(),
            clock.clone(),
            settings,
        );
        Self {
            dynamo,
            app,
            gateway,
            clock,
        }
    }

    /// Creates a circle over the HTTP handler and returns its access code.
    pub async fn group(&self, name: &str) -> String {
        let body =
            json!({"name": name, "description": "a test circle", "rules": ["be kind"]}).to_string();
        let res =
            circle_shared::handlers::http::handle(&self.app, "POST", "/groups", body.as_bytes())
                .await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body["access_code"]
            .as_str()
            .expect("a created group has a code")
            .to_owned()
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
            Some(a @ ("join_group" | "message" | "leave_room")) => a.to_owned(),
            _ => "$default".to_owned(),
        };
        self.send_raw(conn, &route, frame.to_string()).await
    }

    pub async fn send_raw(&self, conn: &str, route: &str, body: String) -> ApiGatewayProxyResponse {
        circle_shared::handlers::ws::handle(&self.app, Self::event(route, conn, Some(body))).await
    }

    pub async fn join(&self, conn: &str, code: &str, name: &str) {
        let res = self
            .send(
                conn,
                json!({"action": "join_group", "access_code": code, "name": name}),
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
        let res =
            circle_shared::handlers::ws::handle(&self.app, Self::event("$disconnect", conn, None))
                .await;
        assert_eq!(res.status_code, 200);
    }

    /// The room `conn` was last told about, if its last pairing event is a `join_room`.
    pub fn current_room(&self, conn: &str) -> Option<String> {
        let mut room = None;
        for seen in self.gateway.seen(conn) {
            match seen {
                Seen::Event(ServerEvent::JoinRoom { room: r, .. }) => room = Some(r),
                Seen::Event(ServerEvent::PartnerLeft { room: r, .. }) | Seen::Left(r)
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
        self.scan(&self.app.store.tables.connections)
            .await
            .iter()
            .map(|i| Connection::from_item(i).expect("connection records are well formed"))
            .collect()
    }

    /// Every lobby entry, by group code.
    pub async fn lobby_entries(&self) -> BTreeMap<String, Vec<LobbyEntry>> {
        let mut out: BTreeMap<String, Vec<LobbyEntry>> = BTreeMap::new();
        for item in self.scan(&self.app.store.tables.groups).await {
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sk.starts_with(WAIT_PREFIX) {
                let pk = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                out.entry(pk)
                    .or_default()
                    .push(LobbyEntry::from_item(&item).expect("lobby entries are well formed"));
            }
        }
        out
    }

    async fn scan(&self, table: &str) -> Vec<circle_shared::store::Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .app
                .store
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("scan works");
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return items,
            }
        }
    }

    /// Checks DESIGN.md's invariants on the settled state and on what every
    /// connection was told. Returns every violation found.
    pub async fn violations(&self) -> Vec<String> {
        let now_secs = self.clock.now_secs();
        let now_ms = self.clock.now_millis();
        let mut bad = Vec::new();
        // Expired records count as absent (invariant 7), as on every read.
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
        let entries = self.lobby_entries().await;

        // 1. Rooms have exactly two members who name each other.
        let mut rooms: HashMap<&str, Vec<&Connection>> = HashMap::new();
        for c in &records {
            if let ConnState::Paired(r) = &c.state {
                rooms.entry(r.room.as_str()).or_default().push(c);
                match by_id.get(r.partner.as_str()).and_then(|p| p.room()) {
                    Some(pr)
                        if pr.room == r.room
                            && pr.partner == c.connection_id
                            && pr.partner_pid == r.pid
                            && r.partner_pid == pr.pid
                            && pr.group == r.group => {}
                    other => bad.push(format!(
                        "{} in {} names {} whose side is {other:?}",
                        c.connection_id, r.room, r.partner
                    )),
                }
                if by_id.contains_key(r.pid.as_str()) || by_id.contains_key(r.partner_pid.as_str())
                {
                    bad.push(format!(
                        "participant id of {} is a connection id",
                        c.connection_id
                    ));
                }
            }
        }
        for (room, members) in &rooms {
            if members.len() != 2 {
                bad.push(format!("room {room} has {} members", members.len()));
            }
        }

        // Lobby entries and waiting records agree one to one.
        let mut waiting_entries: HashSet<(&str, &str)> = HashSet::new();
        for (code, list) in &entries {
            for e in list {
                if e.expires_at <= now_secs {
                    continue;
                }
                waiting_entries.insert((code.as_str(), e.connection_id.as_str()));
                match by_id.get(e.connection_id.as_str()).map(|c| &c.state) {
                    Some(ConnState::Waiting { group, ticket })
                        if group == code && *ticket == e.ticket => {}
                    other => bad.push(format!(
                        "lobby entry {} in {code} but record is {other:?}",
                        e.connection_id
                    )),
                }
            }
        }
        for c in &records {
            if let ConnState::Waiting { group, .. } = &c.state
                && !waiting_entries.contains(&(group.as_str(), c.connection_id.as_str()))
            {
                bad.push(format!(
                    "{} is waiting in {group} without a lobby entry",
                    c.connection_id
                ));
            }
        }

        // 3. No two compatible people left waiting in one group.
        for (code, list) in &entries {
            let live: Vec<&LobbyEntry> = list.iter().filter(|e| e.expires_at > now_secs).collect();
            for (i, a) in live.iter().enumerate() {
                for b in &live[i + 1..] {
                    if compatible(
                        &a.connection_id,
                        a.avoid.as_deref(),
                        a.avoid_until,
                        &b.connection_id,
                        b.avoid.as_deref(),
                        b.avoid_until,
                        now_ms,
                    ) {
                        bad.push(format!(
                            "{} and {} both wait in {code}",
                            a.connection_id, b.connection_id
                        ));
                    }
                }
            }
        }

        // 2. Never two join_room without a leave or partner_left in between, and
        //    what each client was told matches the stored room.
        for conn in self.gateway.all_connections() {
            let mut in_room: Option<String> = None;
            for seen in self.gateway.seen(&conn) {
                match seen {
                    Seen::Event(ServerEvent::JoinRoom { room, partner, .. }) => {
                        if let Some(old) = &in_room {
                            bad.push(format!("{conn} got join_room {room} while still in {old}"));
                        }
                        if by_id.contains_key(partner.id.as_str()) {
                            bad.push(format!("{conn} was shown a connection id as match.id"));
                        }
                        in_room = Some(room);
                    }
                    Seen::Event(ServerEvent::PartnerLeft { room, .. }) | Seen::Left(room)
                        if in_room.as_ref() == Some(&room) =>
                    {
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

    pub fn code(code: &str) -> AccessCode {
        AccessCode::parse(code).expect("a code the server made")
    }
}
