//! Idle connections: open K sockets that send nothing and read the stack's memory.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::BenchError;
use crate::report::PhaseReport;
use crate::stack::Target;
use crate::stats::Summary;
use crate::ws::{self, Out};

#[derive(Debug, Clone, Serialize)]
pub struct IdleConfig {
    pub connections: usize,
    pub concurrency: usize,
    /// How long all sockets stay open before memory is read.
    pub hold_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub config: IdleConfig,
    pub open_secs: f64,
    pub connect: Summary,
    /// Sockets the stack counted while all were open.
    pub stack_connections: u64,
    pub rss_bytes_before: u64,
    pub rss_bytes_with_all_open: u64,
    pub peak_rss_bytes: u64,
    pub rss_bytes_after_close: u64,
    pub bytes_per_connection: f64,
    pub connect_phase: PhaseReport,
    pub disconnect_phase: PhaseReport,
    pub ok: bool,
}

/// Opens, holds and closes `connections` idle sockets.
pub async fn run(
    cfg: &IdleConfig,
    target: &Target,
    deadline: Instant,
) -> Result<IdleReport, BenchError> {
    let before = target.metrics().await?;
    let began = Instant::now();
    tracing::info!(connections = cfg.connections, "opening idle sockets");
    let (conns, connect) =
        ws::open_many(&target.ws_url(), cfg.connections, cfg.concurrency, None).await?;
    let open_secs = began.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(cfg.hold_secs)).await;
    let held = target.metrics().await?;
    let connect_phase = PhaseReport::new(
        "connect (idle)",
        cfg.connections as u64,
        began.elapsed(),
        &before,
        &held,
    );
    tracing::info!(
        rss_mb = held.rss_bytes / (1024 * 1024),
        sockets = held.connections,
        "all sockets open"
    );

    let began = Instant::now();
    for c in &conns {
        c.send(Out::Close);
    }
    drop(conns);
    let end = (Instant::now() + Duration::from_secs(120)).min(deadline + Duration::from_secs(10));
    let mut last = target.metrics().await?;
    let mut still_since = Instant::now();
    let mut ok = true;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = target.metrics().await?;
        if now.metrics != last.metrics || now.connections > 0 {
            still_since = Instant::now();
        }
        last = now;
        if still_since.elapsed() >= Duration::from_millis(600) {
            break;
        }
        if Instant::now() >= end {
            tracing::warn!(
                open = last.connections,
                "sockets still open at the deadline"
            );
            ok = false;
            break;
        }
    }
    let disconnect_phase = PhaseReport::new(
        "disconnect (idle)",
        cfg.connections as u64,
        began.elapsed(),
        &held,
        &last,
    );
    ok &= held.connections as usize >= cfg.connections;
    Ok(IdleReport {
        config: cfg.clone(),
        open_secs,
        connect: connect.summary(),
        stack_connections: held.connections,
        rss_bytes_before: before.rss_bytes,
        rss_bytes_with_all_open: held.rss_bytes,
        peak_rss_bytes: last.peak_rss_bytes,
        rss_bytes_after_close: last.rss_bytes,
        bytes_per_connection: (held.rss_bytes as f64 - before.rss_bytes as f64)
            / cfg.connections.max(1) as f64,
        connect_phase,
        disconnect_phase,
        ok,
    })
}

pub fn print(r: &IdleReport) {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "\n== circle-bench idle: {} sockets ==",
        r.config.connections
    );
    println!(
        "opened in {:.2} s (connect p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms); stack counted {} sockets",
        r.open_secs, r.connect.p50_ms, r.connect.p99_ms, r.connect.max_ms, r.stack_connections
    );
    println!(
        "stack RSS: before {:.1} MB, all open {:.1} MB ({:.1} KB per socket), peak {:.1} MB, after close {:.1} MB",
        mb(r.rss_bytes_before),
        mb(r.rss_bytes_with_all_open),
        r.bytes_per_connection / 1024.0,
        mb(r.peak_rss_bytes),
        mb(r.rss_bytes_after_close)
    );
    crate::report::print_phases(&[r.connect_phase.clone(), r.disconnect_phase.clone()]);
    println!("result: {}", if r.ok { "OK" } else { "FAILED" });
}
