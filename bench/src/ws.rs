//! Bench clients: real WebSockets to the stack, one reader and one writer task
//! each. Readers stamp every frame with its arrival time before anything else, so
//! the coordinator's own queueing never counts toward a latency.

use std::time::{Duration, Instant};

use circle_shared::protocol::ServerEvent;
use futures_util::SinkExt;
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::BenchError;
use crate::stats::Samples;

/// How long opening one socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// What a writer task sends.
#[derive(Debug)]
pub enum Out {
    Text(String),
    Close,
}

/// What a reader task saw.
#[derive(Debug)]
pub enum In {
    Event(ServerEvent),
    /// A frame that is not a server event.
    Garbage(String),
    /// The socket ended (close frame, error or EOF).
    Closed(String),
}

/// A frame from client `client`, stamped on arrival.
#[derive(Debug)]
pub struct Inbound {
    pub client: usize,
    pub at: Instant,
    pub what: In,
}

/// The sending half of one client.
#[derive(Debug, Clone)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Out>,
}

impl Conn {
    /// Queues a frame; false once the writer has gone.
    pub fn send(&self, out: Out) -> bool {
        self.tx.send(out).is_ok()
    }
}

fn client_config() -> WebSocketConfig {
    // Small buffers: ten thousand idle clients should not cost the bench much either.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

/// Opens one socket and starts its tasks; inbound frames go to `inbound`
/// (or nowhere when `None`: idle clients only hold their socket).
pub async fn open(
    url: &str,
    client: usize,
    inbound: Option<mpsc::UnboundedSender<Inbound>>,
) -> Result<Conn, BenchError> {
    let connect = tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true);
    let (socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| {
            BenchError::Connect(format!(
                "client {client}: no upgrade within {CONNECT_TIMEOUT:?}"
            ))
        })?
        .map_err(|e| BenchError::Connect(format!("client {client}: {e}")))?;
    let (mut sink, mut source) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let sent = match out {
                Out::Text(text) => sink.send(Message::text(text)).await,
                Out::Close => {
                    let _ = sink.close().await;
                    break;
                }
            };
            if sent.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let report = |what: In| {
            if let Some(inbound) = &inbound {
                let _ = inbound.send(Inbound {
                    client,
                    at: Instant::now(),
                    what,
                });
            }
        };
        let ending = loop {
            match source.next().await {
                Some(Ok(Message::Text(text))) => {
                    let at = Instant::now();
                    let what = match serde_json::from_str::<ServerEvent>(text.as_str()) {
                        Ok(ev) => In::Event(ev),
                        Err(_) => In::Garbage(text.as_str().chars().take(200).collect()),
                    };
                    if let Some(inbound) = &inbound {
                        let _ = inbound.send(Inbound { client, at, what });
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break format!("close frame {frame:?}");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "end of stream".to_owned(),
            }
        };
        report(In::Closed(ending));
    });
    Ok(Conn { tx })
}

/// Opens `n` sockets, at most `concurrency` handshakes at a time; their
/// connect latencies; the first failure aborts.
pub async fn open_many(
    url: &str,
    n: usize,
    concurrency: usize,
    inbound: Option<mpsc::UnboundedSender<Inbound>>,
) -> Result<(Vec<Conn>, Samples), BenchError> {
    let mut conns: Vec<Option<Conn>> = vec![None; n];
    let mut latency = Samples::default();
    let mut opened = stream::iter(0..n)
        .map(|i| {
            let inbound = inbound.clone();
            async move {
                let started = Instant::now();
                let conn = open(url, i, inbound).await;
                (i, started.elapsed(), conn)
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, took, conn)) = opened.next().await {
        conns[i] = Some(conn?);
        latency.push(took);
    }
    let conns = conns
        .into_iter()
        .map(|c| c.expect("every index was opened or the loop returned an error"))
        .collect();
    Ok((conns, latency))
}
