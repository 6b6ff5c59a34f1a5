//! The live WebSocket connections by id: what `@connections` reaches, and what a
//! clean shutdown closes and waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use crate::event::ConnectionInfo;

/// Frames queued for a client by `@connections` POST.
pub const OUTBOX_CAPACITY: usize = 256;

/// A frame for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Text(String),
    Binary(Vec<u8>),
}

/// Why the server closes a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    pub code: u16,
    pub reason: String,
}

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the connection is gone")]
    Gone,
    #[error("the connection's outbox is full")]
    Full,
}

/// One live connection as the gateway sees it.
#[derive(Debug)]
pub struct Connection {
    pub info: ConnectionInfo,
    last_active_ms: AtomicI64,
    outbox: mpsc::Sender<Outbound>,
    close: Mutex<Option<CloseRequest>>,
    close_signal: Notify,
    /// The client vanished without a close (a test switch): posts still "succeed".
    vanished: AtomicBool,
    vanish_signal: Notify,
}

impl Connection {
    /// A connection and the receiving end of its outbox.
    pub fn new(info: ConnectionInfo) -> (Arc<Self>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        let conn = Arc::new(Self {
            last_active_ms: AtomicI64::new(info.connected_at_ms),
            info,
            outbox: tx,
            close: Mutex::new(None),
            close_signal: Notify::new(),
            vanished: AtomicBool::new(false),
            vanish_signal: Notify::new(),
        });
        (conn, rx)
    }

    pub fn id(&self) -> &str {
        &self.info.connection_id
    }

    pub fn last_active_ms(&self) -> i64 {
        self.last_active_ms.load(Ordering::Relaxed)
    }

    pub fn touch(&self, now_ms: i64) {
        self.last_active_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Makes the client vanish as a phone that lost its network does on AWS:
    /// nothing reaches it or comes from it any more, yet `@connections` keeps
    /// accepting posts for it until the idle timeout ends the connection.
    pub fn vanish(&self) {
        self.vanished.store(true, Ordering::SeqCst);
        self.vanish_signal.notify_one();
    }

    pub fn is_vanished(&self) -> bool {
        self.vanished.load(Ordering::SeqCst)
    }

    /// Resolves once the client vanished.
    pub async fn vanished(&self) {
        while !self.is_vanished() {
            self.vanish_signal.notified().await;
        }
    }

    /// Queues a frame without waiting (a vanished client's frames are dropped,
    /// as the gateway's are into a dead network).
    pub fn send(&self, frame: Outbound) -> Result<(), SendError> {
        if self.is_vanished() {
            return Ok(());
        }
        self.outbox.try_send(frame).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Gone,
        })
    }

    /// Asks the connection's task to close the socket; the first request wins.
    pub fn request_close(&self, code: u16, reason: &str) {
        let mut slot = lock(&self.close);
        if slot.is_none() {
            *slot = Some(CloseRequest {
                code,
                reason: reason.to_owned(),
            });
        }
        drop(slot);
        self.close_signal.notify_one();
    }

    /// Resolves once a close was requested, with the request.
    pub async fn close_requested(&self) -> CloseRequest {
        loop {
            if let Some(req) = lock(&self.close).clone() {
                return req;
            }
            self.close_signal.notified().await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds sound data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connections by id, plus a count of connection tasks still running.
#[derive(Debug)]
pub struct Registry {
    map: Mutex<HashMap<String, Arc<Connection>>>,
    tasks: watch::Sender<usize>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            tasks: watch::Sender::new(0),
        }
    }
}

impl Registry {
    pub fn insert(&self, conn: Arc<Connection>) {
        lock(&self.map).insert(conn.id().to_owned(), conn);
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Connection>> {
        lock(&self.map).remove(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        lock(&self.map).get(id).cloned()
    }

    /// The id of an open connection that `pick` picks.
    pub fn find(&self, pick: impl Fn(&Connection) -> bool) -> Option<String> {
        lock(&self.map)
            .values()
            .find(|c| pick(c))
            .map(|c| c.id().to_owned())
    }

    /// The ids of every open connection.
    pub fn ids(&self) -> Vec<String> {
        lock(&self.map).keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks every connection to close.
    pub fn close_all(&self, code: u16, reason: &str) {
        let conns: Vec<Arc<Connection>> = lock(&self.map).values().cloned().collect();
        for conn in conns {
            conn.request_close(code, reason);
        }
    }

    /// Counts a connection task until the guard drops.
    pub fn task_guard(self: &Arc<Self>) -> TaskGuard {
        self.tasks.send_modify(|n| *n += 1);
        TaskGuard {
            registry: Arc::clone(self),
        }
    }

    /// Waits until no connection task runs, giving up when none ends for `stall`
    /// or after `cap` in all; whether they all ended.
    pub async fn wait_for_tasks(&self, stall: Duration, cap: Duration) -> bool {
        let mut rx = self.tasks.subscribe();
        let deadline = tokio::time::Instant::now() + cap;
        loop {
            if *rx.borrow_and_update() == 0 {
                return true;
            }
            let until = deadline.min(tokio::time::Instant::now() + stall);
            match tokio::time::timeout_at(until, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }
}

/// See [`Registry::task_guard`].
#[derive(Debug)]
pub struct TaskGuard {
    registry: Arc<Registry>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.registry
            .tasks
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}
