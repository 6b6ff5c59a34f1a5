//! The organiser's live roster: who is connected to the circle now and what
//! each is doing. Built from the connections the organiser view already reads
//! (the `by_circle` index, one Query per presence shard, no Scan), so it costs
//! no request of its own.

use serde::Serialize;

use crate::clock::rfc3339_millis;
use crate::model::{ConnState, Connection};

/// People listed at most (`present_total` counts them all).
pub const PRESENT_SHOWN: usize = 1_000;

/// What someone present is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresentState {
    /// In a room.
    Chatting,
    /// In the lobby.
    Waiting,
    /// In a room whose socket dropped; the seat is held for a resume.
    Away,
    /// Connected, in no room and no lobby (e.g. on "chat ended").
    Idle,
    /// Connected and sitting rounds out (`sit_out`).
    SittingOut,
}

/// One person present.
#[derive(Debug, Clone, Serialize)]
pub struct Present {
    /// Display name.
    pub name: String,
    /// Member id, as `POST /groups/{code}/remove` takes it.
    pub member_id: String,
    /// What they are doing now.
    pub state: PresentState,
    /// When this connection was opened (RFC 3339, UTC, milliseconds).
    pub since: String,
}

/// The state of a connection as the roster shows it.
pub fn state_of(c: &Connection) -> PresentState {
    match &c.state {
        ConnState::Paired { .. } => PresentState::Chatting,
        ConnState::Waiting { .. } => PresentState::Waiting,
        ConnState::Away { .. } => PresentState::Away,
        // Out of the lobby by choice (`sit_out`): rounds leave it alone.
        ConnState::Idle if c.sitting_out => PresentState::SittingOut,
        ConnState::Idle => PresentState::Idle,
    }
}

/// The roster from the circle's connections: at most [`PRESENT_SHOWN`], in a
/// stable order (state, then the longest connected first), and the total.
pub fn present(conns: &[Connection]) -> (Vec<Present>, usize) {
    let mut listed: Vec<(&Connection, PresentState)> = conns
        .iter()
        .filter(|c| c.mid.is_some())
        .map(|c| (c, state_of(c)))
        .collect();
    let total = listed.len();
    listed.sort_by(|(a, sa), (b, sb)| {
        sa.cmp(sb)
            .then(a.connected_at.cmp(&b.connected_at))
            .then(a.connection_id.cmp(&b.connection_id))
    });
    let shown = listed
        .into_iter()
        .take(PRESENT_SHOWN)
        .map(|(c, state)| Present {
            name: c
                .name
                .clone()
                .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned()),
            member_id: c.mid.clone().unwrap_or_default(),
            state,
            since: rfc3339_millis(c.connected_at),
        })
        .collect();
    (shown, total)
}
