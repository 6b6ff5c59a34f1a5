//! A room between two people: its ids, resume tokens, prompt and round
//! (`NewRoom`), each side's record and `join_room` event, the member-record
//! side of a meeting (`member_met`), and the counters added after a pairing
//! commits (`add_stats`, never inside the pairing transaction).

use aws_sdk_dynamodb::types::Update;
use rand::Rng;

use super::labels::Share;
use super::ops::backoff;
use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::db::attr::{n, s, strings};
use crate::db::{Table, keys};
use crate::model::{Circle, Member, Room, random_id};
use crate::protocol::{Participant, ServerEvent};
use crate::secrets::{domain, token};

/// A member's history keeps this many meetings; older ones are dropped when the
/// member next joins, so a join's read stays about one read unit.
pub const MET_CAP: usize = 200;

/// A fresh room between two people: ids, resume tokens, a prompt, the round.
pub(crate) struct NewRoom {
    pub room: String,
    pub pids: [String; 2],
    pub tokens: [String; 2],
    pub prompt: String,
    pub round: u32,
    pub ends_at: i64,
}

impl NewRoom {
    pub(crate) fn new(app: &App, circle: &Circle) -> Self {
        let round = circle.live_round(app.now_ms());
        Self {
            room: random_id(20),
            pids: [random_id(12), random_id(12)],
            tokens: [token(22), token(22)],
            prompt: crate::prompts::pick(&circle.prompts),
            round: round.map_or(0, |r| r.number),
            ends_at: round.map_or(0, |r| r.ends_at),
        }
    }

    /// Side `i`'s record of the room (its partner is side `1 - i`).
    pub(crate) fn side(
        &self,
        app: &App,
        i: usize,
        partner: &str,
        partner_name: &str,
        partner_mid: &str,
    ) -> Room {
        Room {
            room: self.room.clone(),
            pid: self.pids[i].clone(),
            partner: partner.to_owned(),
            partner_name: partner_name.to_owned(),
            partner_pid: self.pids[1 - i].clone(),
            partner_mid: partner_mid.to_owned(),
            resume_hash: app.settings.hash_key.hash(domain::RESUME, &self.tokens[i]),
            prompt: self.prompt.clone(),
            round: self.round,
            ends_at: self.ends_at,
        }
    }

    /// The `join_room` event for side `i`; `partner_label` in a circle with labels.
    pub(crate) fn event(
        &self,
        app: &App,
        i: usize,
        user: &str,
        partner_name: &str,
        partner_label: Option<&str>,
    ) -> ServerEvent {
        ServerEvent::JoinRoom {
            room: self.room.clone(),
            user: user.to_owned(),
            partner: Participant {
                name: partner_name.to_owned(),
                id: self.pids[1 - i].clone(),
                label: partner_label.map(str::to_owned),
            },
            prompt: self.prompt.clone(),
            resume: self.tokens[i].clone(),
            ends_at: (self.ends_at > 0).then(|| rfc3339_millis(self.ends_at)),
            seconds_left: (self.ends_at > 0)
                .then(|| (self.ends_at - app.now_ms()).max(0).div_euclid(1000)),
            resumed: None,
        }
    }
}

/// The member-record side of a pairing: the meeting goes into its history, on
/// the condition that the member is not removed and has no block with the other.
#[allow(clippy::too_many_arguments)]
pub(crate) fn member_met(
    app: &App,
    cid: &str,
    mid: &str,
    other_mid: &str,
    known: Option<&Member>,
    expires_at: i64,
    conn: Option<&str>,
) -> Update {
    let now_s = app.now_secs();
    let met = Member::met_entry(other_mid, now_s);
    let mut values = vec![(":exp", n(expires_at)), (":other", s(other_mid))];
    let mut set = "#expires_at = :exp".to_owned();
    if let Some(c) = conn {
        set.push_str(", #conn = :conn");
        values.push((":conn", s(c)));
    }
    let cond = match known {
        None => "attribute_not_exists(#sk)".to_owned(),
        Some(m) if m.met.len() >= MET_CAP => {
            // Keep the newest meetings only; conditioned on the list as read.
            let keep = m.met.len() + 1 - MET_CAP;
            let list: Vec<String> = m.met[keep..]
                .iter()
                .map(|(mid, at)| Member::met_entry(mid, *at))
                .chain(std::iter::once(met.clone()))
                .collect();
            set.push_str(", #met = :full");
            values.push((":full", strings(list)));
            values.push((":len", n(m.met.len() as i64)));
            "attribute_exists(#sk) AND attribute_not_exists(#removed) AND NOT contains(#blocked, :other) AND size(#met) = :len".to_owned()
        }
        Some(_) => "attribute_exists(#sk) AND attribute_not_exists(#removed) AND NOT contains(#blocked, :other)".to_owned(),
    };
    if !set.contains("#met") {
        set.push_str(", #met = list_append(if_not_exists(#met, :empty), :m)");
        values.push((":empty", strings(Vec::<String>::new())));
        values.push((":m", strings(vec![met])));
    }
    app.store.update_op(
        Table::Groups,
        keys::member(cid, mid),
        &format!("SET {set}"),
        Some(&cond),
        values,
    )
}

/// Counts chats started and new members on a random counter shard, after
/// the change they count committed: a plain `ADD`, never inside a pairing
/// transaction (every pairing of the circle would contend for the shards), and
/// retried on a conflict or a throttle so the organiser's figures stay exact.
/// The chats are also counted in the circle's activity bucket, at the same time.
pub(crate) async fn add_stats(app: &App, circle: &Circle, chats: i64, members: i64) {
    add_counts(app, circle, chats, members, Share::default()).await;
}

/// [`add_stats`], with the chats' share across and within labels (`lx`, `lw`
/// on the same counter shard, in the same write).
pub(crate) async fn add_counts(app: &App, circle: &Circle, chats: i64, members: i64, share: Share) {
    tokio::join!(
        add_counters(app, circle, chats, members, share),
        crate::activity::count_chats(app, circle, chats)
    );
}

async fn add_counters(app: &App, circle: &Circle, chats: i64, members: i64, share: Share) {
    app.metrics
        .count_pairings(u64::try_from(chats).unwrap_or(0));
    if chats == 0 && members == 0 {
        return;
    }
    for attempt in 1..=app.settings.max_attempts {
        let shard = rand::rng().random_range(0..keys::STATS_SHARDS);
        let op = app.store.update_op(
            Table::Groups,
            keys::stats(&circle.cid, shard),
            if share == Share::default() {
                "ADD #chats :c, #members :m SET #expires_at = :exp"
            } else {
                "ADD #chats :c, #members :m, #lx :x, #lw :w SET #expires_at = :exp"
            },
            None,
            vec![
                (":c", n(chats)),
                (":m", n(members)),
                (":x", n(share.across)),
                (":w", n(share.within)),
                (":exp", n(circle.expires_at)),
            ],
        );
        match app.store.update(op).await {
            Ok(()) => return,
            Err(err) if err.is_retryable() => backoff(app, attempt).await,
            Err(err) => {
                tracing::warn!(error = %err, "a circle's counters could not be updated");
                return;
            }
        }
    }
    tracing::warn!("a circle's counters stayed busy; this count is lost");
}
