//! The stack under test: its address, its `/_local/metrics`, its groups, and
//! (with `--spawn-stack`) the `circle-local` process itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::BenchError;
use crate::http;

pub use circle_shared::db::metrics::HotPartition;
/// The stack's counters, as `/_local/metrics` serves them.
pub use circle_shared::db::metrics::MetricsSnapshot as Counters;

/// `GET /_local/metrics`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct StackMetrics {
    pub metrics: Counters,
    #[serde(default)]
    pub rss_bytes: u64,
    #[serde(default)]
    pub peak_rss_bytes: u64,
    #[serde(default)]
    pub connections: u64,
    /// CPU time (user + system) the stack process has used, when we know its PID.
    #[serde(default)]
    pub stack_cpu_secs: Option<f64>,
    /// CPU time this benchmark process has used.
    #[serde(default)]
    pub bench_cpu_secs: Option<f64>,
    /// What `--aws-sim` did (all zero when it is off).
    #[serde(default)]
    pub aws_sim: SimCounts,
}

/// The stack's `aws_sim` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCounts {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub transaction_conflicts: u64,
    #[serde(default)]
    pub throttles: u64,
    #[serde(default)]
    pub cold_starts: u64,
}

impl SimCounts {
    /// The change since `earlier`.
    pub fn since(&self, earlier: &SimCounts) -> SimCounts {
        SimCounts {
            enabled: self.enabled,
            transaction_conflicts: self
                .transaction_conflicts
                .saturating_sub(earlier.transaction_conflicts),
            throttles: self.throttles.saturating_sub(earlier.throttles),
            cold_starts: self.cold_starts.saturating_sub(earlier.cold_starts),
        }
    }
}

/// User + system CPU seconds of a process, from `/proc/{pid}/stat` ("self" for us).
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields we want follow its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some((utime + stime) / 100.0)
}

/// Where the stack listens.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The stack's PID when we started it (for its CPU time).
    pub pid: Option<u32>,
}

impl Target {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `GET /_local/metrics` as JSON.
    async fn metrics_json(&self) -> Result<Value, BenchError> {
        let path = "/_local/metrics";
        match http::request(self.addr, "GET", path, None).await? {
            (200, body) => Ok(body),
            (status, _) => Err(BenchError::BadAnswer {
                path: path.into(),
                reason: format!("status {status}"),
            }),
        }
    }

    /// Reads `/_local/metrics`.
    pub async fn metrics(&self) -> Result<StackMetrics, BenchError> {
        let path = "/_local/metrics";
        let body = self.metrics_json().await?;
        let mut m: StackMetrics =
            serde_json::from_value(body).map_err(|e| BenchError::BadAnswer {
                path: path.into(),
                reason: e.to_string(),
            })?;
        m.stack_cpu_secs = self.pid.and_then(|pid| cpu_secs(&pid.to_string()));
        m.bench_cpu_secs = cpu_secs("self");
        Ok(m)
    }

    /// Starts a new hot-partition measurement on the stack.
    pub async fn reset_hot_partition(&self) -> Result<(), BenchError> {
        let path = "/_local/metrics/hot_partition/reset";
        match http::request(self.addr, "POST", path, None).await? {
            (204, _) => Ok(()),
            (status, _) => Err(BenchError::BadAnswer {
                path: path.into(),
                reason: format!("status {status}"),
            }),
        }
    }

    /// The busiest partition key-second since the last reset (`None` from a
    /// stack too old to count it).
    pub async fn hot_partition(&self) -> Result<Option<HotPartition>, BenchError> {
        let body = self.metrics_json().await?;
        Ok(body
            .get("hot_partition")
            .and_then(|h| serde_json::from_value(h.clone()).ok()))
    }

    /// `POST /groups` (with `labels` if any); the new group's access code.
    pub async fn create_group(&self, name: &str, labels: &[String]) -> Result<String, BenchError> {
        let mut body = json!({
            "name": name,
            "description": "circle-bench load group",
            "rules": ["be kind"],
        });
        if !labels.is_empty() {
            body["labels"] = json!(labels);
        }
        let (status, answer) = http::request(self.addr, "POST", "/groups", Some(&body)).await?;
        match (status, answer.get("access_code").and_then(Value::as_str)) {
            (201, Some(code)) => Ok(code.to_owned()),
            _ => Err(BenchError::BadAnswer {
                path: "/groups".into(),
                reason: format!("status {status}, body {answer}"),
            }),
        }
    }
}

/// A `circle-local` this process started; stopped by its PID.
pub struct SpawnedStack {
    child: Child,
    pub target: Target,
    pub binary: PathBuf,
}

/// `circle-local` next to this binary, else in the release, else the debug target dir.
pub fn find_stack_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let target = dir.parent()?;
    [
        dir.join("circle-local"),
        target.join("release").join("circle-local"),
        target.join("debug").join("circle-local"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

impl SpawnedStack {
    /// Starts `binary --memory --port 0 {extra}`, logging to `log`, and waits for its address.
    pub async fn start(binary: &Path, log: &Path, extra: &[String]) -> Result<Self, BenchError> {
        let log_file = std::fs::File::create(log)?;
        let mut child = Command::new(binary)
            .args(["--memory", "--port", "0"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("CIRCLE_STACK_LOG").unwrap_or("warn".into()),
            )
            // Every client is on 127.0.0.1: no per-address socket cap.
            .env("MAX_SOCKETS_PER_ADDRESS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Spawn(format!("{}: {e}", binary.display())))?;
        let stdout = child
            .stdout
            .take()
            .expect("stdout was set to piped just above");
        let mut lines = BufReader::new(stdout).lines();
        let find_addr = async {
            while let Some(line) = lines.next_line().await? {
                tracing::debug!(line, "stack");
                if let Some(addr) = parse_http_api_line(&line) {
                    return Ok(Some(addr));
                }
            }
            Ok::<_, std::io::Error>(None)
        };
        let addr = match tokio::time::timeout(Duration::from_secs(60), find_addr).await {
            Ok(Ok(Some(addr))) => addr,
            Ok(Ok(None)) => {
                return Err(BenchError::Spawn(format!(
                    "it exited before printing its address; see {}",
                    log.display()
                )));
            }
            Ok(Err(e)) => return Err(BenchError::Spawn(e.to_string())),
            Err(_) => return Err(BenchError::Spawn("no address within 60 s".into())),
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(line, "stack");
            }
        });
        let pid = child.id();
        tracing::info!(%addr, pid, binary = %binary.display(), "stack started");
        Ok(Self {
            child,
            target: Target { addr, pid },
            binary: binary.to_owned(),
        })
    }

    /// SIGTERM by PID, then SIGKILL if it has not exited within 10 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
                Ok(_) => {
                    tracing::info!(pid, "stack stopped");
                    return;
                }
                Err(_) => tracing::warn!(pid, "stack ignored SIGTERM; killing it"),
            }
        }
        let _ = self.child.kill().await;
    }
}

/// `  HTTP API      http://127.0.0.1:PORT/groups` → the address.
fn parse_http_api_line(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("HTTP API")?.trim();
    let rest = rest.strip_prefix("http://")?;
    rest.split('/').next()?.parse().ok()
}

/// The soft limit on open files, from `/proc/self/limits`.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use circle_shared::db::metrics::DdbOp;

    #[test]
    fn reads_the_banner_and_metrics() {
        assert_eq!(
            parse_http_api_line("  HTTP API      http://127.0.0.1:4567/groups"),
            Some("127.0.0.1:4567".parse().expect("an address"))
        );
        assert_eq!(parse_http_api_line("  page  http://127.0.0.1:1/"), None);
        let m: StackMetrics = serde_json::from_str(
            r#"{"metrics":{"ops":[1,2,3,4,5,6,7,8,9],"conflicts":0,"read_units":1.5,"write_units":2.0,
               "gateway_posts":3,"gateway_gone":0,"gateway_deletes":0},"rss_bytes":10,"peak_rss_bytes":20,"connections":2}"#,
        )
        .expect("the stack's metrics shape");
        assert_eq!(m.metrics.op(DdbOp::GetItem), 1);
        assert_eq!(m.metrics.ddb_writes(), 2 + 3 + 4 + 7 + 9);
        assert_eq!(m.metrics.ddb_reads(), 1 + 5 + 6 + 8);
        assert!(cpu_secs("self").is_some());
    }
}
