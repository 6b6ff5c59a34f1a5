//! The parts server events are made of: the circle as a waiter sees it, a
//! room's participant, a round, and the reasons (`partner_left`, `waiting`,
//! `circle_ended`). Re-exported by `protocol`.

use serde::{Deserialize, Serialize};

/// The group as a member sees it in the lobby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircleInfo {
    /// `name`: the circle's name.
    pub name: String,
    /// `description`: the circle's description.
    pub description: String,
    /// `rules`: the organiser's rules, in order.
    pub rules: Vec<String>,
    /// `expires_at`: when the circle ends (RFC 3339, UTC), as `GET /groups/{code}` gives it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires_at: Option<String>,
}

/// Someone in a room: display name and an opaque per-room id (never a connection id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// `name`: the display name.
    pub name: String,
    /// `id`: the participant id, per room and per side.
    pub id: String,
    /// `label`: the label they chose, in a circle with labels (`join_room.match` only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
}

/// A round as members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundInfo {
    /// `number`: the round under way (1, 2, ...); 0 in a `round` event means rounds stopped.
    pub number: u32,
    /// `minutes`: the round's length in minutes; absent when rounds stopped.
    pub minutes: Option<u32>,
    /// RFC 3339.
    pub ends_at: Option<String>,
    /// Seconds to `ends_at` when sent, so clients need not trust their clocks.
    pub seconds_left: Option<i64>,
}

/// Why a partner is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    /// `left`: the partner left, blocked, reported or was removed (which one is never told).
    Left,
    /// `disconnected`: the partner's socket dropped and the resume grace ran out.
    Disconnected,
}

/// Why a waiter is not paired with anyone present (`waiting.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// `just_met`: the only others are people just met (the repeat guard),
    /// until `retry_at`.
    JustMet,
    /// `blocked`: the only others are people a block keeps apart from the waiter;
    /// pairing happens when someone new arrives.
    Blocked,
}

/// Why a circle ended (`circle_ended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `closed`: the organiser closed it.
    Closed,
    /// `expired`: it reached its end.
    Expired,
}
