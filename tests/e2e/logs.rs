//! Nothing personal in the logs at any level: the local stack runs in a child
//! process (this test binary again, running only [`stack_for_the_log_check`])
//! that logs as the Lambdas do (`circle_functions::logging::init`: JSON lines
//! on stdout, `LOG_LEVEL`, here `trace`; the SDK's, the wire's and the
//! embedded store's targets capped at info, as `circle-local` caps them too),
//! and its output is captured while a scenario runs from another loopback
//! address (127.0.0.2): a listed circle, two joins with distinctive names and
//! member secrets, messages, a dropped socket and a resume, a report with a
//! reason and an excerpt, the organiser's view. No access code, organiser key,
//! name, message, reason, excerpt, resume token, member secret or client
//! address may appear in what it logged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use circle_local::Config;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpSocket;
use tokio_tungstenite::MaybeTlsStream;

use crate::ws_support::{Client, WAIT, http_from, joined};

/// Set in the child: run the stack instead of the check.
const CHILD: &str = "CIRCLE_LOGS_CHILD";
/// The child's stdout line that gives the stack's base URL.
const READY: &str = "circle-logs-stack";
/// Where the scenario's requests come from: not the stack's own address.
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The child's part: the stack, logging as the Lambdas do, until the parent
/// closes stdin (or two minutes pass). Without [`CHILD`] it does nothing.
#[tokio::test]
async fn stack_for_the_log_check() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    circle_functions::logging::init();
    let stack = circle_local::Stack::start(Config::ephemeral())
        .await
        .expect("the local stack starts");
    println!("\n{READY} {}", stack.http_url());
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::io::stdin().read_to_end(&mut rest),
    )
    .await;
    stack.shutdown().await;
}

/// One HTTP request from [`CLIENT_IP`]: status and JSON body.
async fn http(method: &str, url: &str, body: Option<&Value>, key: Option<&str>) -> (u16, Value) {
    let bearer = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    let body = body.map(Value::to_string).unwrap_or_default();
    let answer = http_from(Some(IpAddr::V4(CLIENT_IP)), method, url, &headers, &body).await;
    let json = serde_json::from_str(&answer.text).unwrap_or(Value::Null);
    (answer.status, json)
}

/// A WebSocket from [`CLIENT_IP`].
async fn connect(http_url: &str) -> Client {
    let addr: SocketAddr = http_url
        .trim_start_matches("http://")
        .parse()
        .expect("the stack listens on an IP address");
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(CLIENT_IP), 0))
        .expect("127.0.0.2 is a loopback address");
    let stream = tokio::time::timeout(WAIT, socket.connect(addr))
        .await
        .expect("connects in time")
        .expect("connects");
    let url = format!("{}/ws", http_url.replacen("http://", "ws://", 1));
    let (ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)),
    )
    .await
    .expect("the handshake ends in time")
    .expect("the upgrade succeeds");
    Client { ws }
}

/// Every personal string the scenario sent or got, by what it is.
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    fn add(&mut self, what: &'static str, value: impl Into<String>) {
        self.0.push((what, value.into()));
    }
}

/// The scenario against the stack at `base`; what must never be logged.
async fn scenario(base: &str) -> Secrets {
    let mut secrets = Secrets(Vec::new());
    let (ann, bob) = ("Zephyrine Quillfeather", "Bartholomew Inkwhistle");
    let (ann_secret, bob_secret) = ("memberSecretZebraAnn01", "memberSecretYakBob0002");
    secrets.add("a display name", ann);
    secrets.add("a display name", bob);
    secrets.add("a member secret", ann_secret);
    secrets.add("a member secret", bob_secret);
    secrets.add("the client's address", CLIENT_IP.to_string());

    let body = json!({"name": "Nightjar Society", "description": "Quokka walks",
                      "rules": ["Be kind"], "listed": true});
    let (status, circle) = http("POST", &format!("{base}/groups"), Some(&body), None).await;
    assert_eq!(status, 201, "{circle}");
    let code = circle["access_code"].as_str().expect("a code").to_owned();
    let key = circle["organizer_key"].as_str().expect("a key").to_owned();
    secrets.add("the access code", code.clone());
    secrets.add("the access code", code.replace('-', ""));
    secrets.add("the organiser key", key.clone());
    assert_eq!(
        http("GET", &format!("{base}/groups/{code}"), None, None)
            .await
            .0,
        200
    );
    assert_eq!(
        http("GET", &format!("{base}/groups?limit=5"), None, None)
            .await
            .0,
        200
    );

    let mut a = connect(base).await;
    a.join_as(&circle, ann, ann_secret).await;
    a.expect("waiting").await;
    let mut b = connect(base).await;
    b.join_as(&circle, bob, bob_secret).await;
    let joined_b = joined(&mut b).await;
    let joined_a = a.expect("join_room").await;
    let room = joined_a["room"].as_str().expect("a room").to_owned();
    assert_eq!(joined_b["room"], room.as_str());
    let token = joined_a["resume"]
        .as_str()
        .expect("a resume token")
        .to_owned();
    secrets.add("a resume token", token.clone());
    secrets.add(
        "a resume token",
        joined_b["resume"].as_str().expect("a resume token"),
    );

    for (from, text) in [(&mut a, "message Pangolin"), (&mut b, "message Okapi")] {
        from.send(json!({"action": "message", "room": room, "message": text}))
            .await;
        secrets.add("a message", text);
    }
    for _ in 0..2 {
        a.expect("message").await;
        b.expect("message").await;
    }

    // Ann's socket drops; she takes her seat back from a new one.
    drop(a);
    b.expect("partner_away").await;
    let mut a = connect(base).await;
    a.send(json!({"action": "resume", "room": room, "token": token}))
        .await;
    a.expect("join_room").await;
    b.expect("partner_back").await;

    let (reason, excerpt) = ("reason Axolotl", "excerpt Narwhal");
    secrets.add("a report's reason", reason);
    secrets.add("a report's excerpt", excerpt);
    b.send(json!({"action": "report", "room": room, "reason": reason,
                  "excerpt": [{"from": "partner", "text": excerpt,
                               "sent_at": "2026-01-01T00:00:00Z"}]}))
        .await;
    b.expect("reported").await;
    a.expect("partner_left").await;

    let (status, view) = http(
        "GET",
        &format!("{base}/groups/{code}/organizer"),
        None,
        Some(&key),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["reports"][0]["reason"], reason,
        "the report was stored"
    );
    assert_eq!(
        http("GET", &format!("{base}/organizer"), None, Some(&key))
            .await
            .0,
        200
    );
    secrets
}

#[tokio::test]
async fn nothing_personal_is_logged_at_trace() {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--exact",
            "logs::stack_for_the_log_check",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("LOG_LEVEL", "trace")
        .env_remove("CIRCLE_AWS_SIM")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the child starts");
    // Every line the child writes: its logs, and the line giving the URL.
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let logs = tokio::spawn(async move {
        let mut url_tx = Some(url_tx);
        let mut all = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix(READY)
                && let Some(tx) = url_tx.take()
            {
                let _ = tx.send(url.trim().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let base = tokio::time::timeout(Duration::from_secs(60), url_rx)
        .await
        .expect("the child's stack comes up in time")
        .expect("the child tells its URL before it ends");

    let secrets = scenario(&base).await;

    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the child stops in time")
        .expect("the child is waited for");
    assert!(status.success(), "the child's stack ran cleanly: {status}");
    let logs = tokio::time::timeout(WAIT, logs)
        .await
        .expect("its output ends")
        .expect("the reader ran");

    // It really logged at trace, the handlers included.
    assert!(
        logs.lines()
            .any(|l| l.contains("\"TRACE\"") && l.contains("transaction")),
        "no trace lines from the handlers:\n{logs}"
    );
    let leaks: Vec<String> = secrets
        .0
        .iter()
        .flat_map(|(what, value)| {
            logs.lines()
                .filter(|line| line.contains(value.as_str()))
                .map(move |line| format!("{what} ({value}) in: {line}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "personal data logged:\n{}",
        leaks.join("\n")
    );
}
