//! Measures a running `circle-local`'s memory with many idle WebSocket
//! connections: reads `/_local/metrics` (RSS from `/proc/self/status`), opens N
//! sockets, waits until the stack counts them all, reads it again, closes them.
//!
//! ```text
//! ulimit -n 20000
//! cargo run --release -p circle-local -- --memory --port 3999 &
//! cargo run --release -p circle-local --example idle_connections -- 127.0.0.1:3999 10000
//! ```
//! (`infra/scripts/measure.sh` does all of it.)

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sockets opened at once.
const CONCURRENCY: usize = 256;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `GET /_local/metrics` over a bare HTTP/1.0 request.
async fn metrics(authority: &str) -> Result<Value, Error> {
    let mut stream = TcpStream::connect(authority).await?;
    let request = format!("GET /_local/metrics HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8(response)?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .ok_or("no HTTP body")?;
    Ok(serde_json::from_str(body)?)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let authority = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let count: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let url = format!("ws://{authority}/ws");

    let before = metrics(&authority).await?;
    let base_connections = before["connections"].as_u64().unwrap_or(0) as usize;
    let idle_rss = before["rss_bytes"].as_u64().unwrap_or(0);
    println!(
        "idle: rss {:.1} MiB (peak {:.1} MiB), {} connections",
        mib(idle_rss),
        mib(before["peak_rss_bytes"].as_u64().unwrap_or(0)),
        base_connections
    );

    let began = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..count)
        .map(|_| {
            let url = url.clone();
            async move {
                tokio_tungstenite::connect_async(url)
                    .await
                    .map(|(ws, _)| ws)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut sockets = Vec::with_capacity(count);
    let mut failures = 0usize;
    for r in results {
        match r {
            Ok(ws) => sockets.push(ws),
            Err(err) => {
                if failures == 0 {
                    eprintln!("first failure: {err}");
                }
                failures += 1;
            }
        }
    }
    println!(
        "opened {} sockets in {:.2} s ({failures} failed)",
        sockets.len(),
        began.elapsed().as_secs_f64()
    );

    // The stack registers a socket before its 101, so this is quick; bounded anyway.
    let mut after = metrics(&authority).await?;
    for _ in 0..100 {
        if after["connections"].as_u64().unwrap_or(0) as usize >= base_connections + sockets.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = metrics(&authority).await?;
    }
    let rss = after["rss_bytes"].as_u64().unwrap_or(0);
    let open = after["connections"].as_u64().unwrap_or(0);
    println!(
        "with {open} connections: rss {:.1} MiB (peak {:.1} MiB); {:.1} KiB per connection over idle",
        mib(rss),
        mib(after["peak_rss_bytes"].as_u64().unwrap_or(0)),
        (rss.saturating_sub(idle_rss)) as f64 / 1024.0 / (open.max(1) as f64)
    );

    drop(sockets);
    Ok(())
}
