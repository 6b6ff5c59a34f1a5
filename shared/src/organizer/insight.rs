//! What the organiser learns without records, and what they can say to
//! everyone: the circle's feedback and activity over time (the view's
//! `feedback` and `activity`, and `GET /groups/{code}/activity.csv`), and
//! announcements (`POST /groups/{code}/announce`).
//!
//! Activity is read with one Query of the circle's `A#{cid}` partition
//! ([`crate::activity`]). An announcement is one conditional `UpdateItem`
//! (at most one per [`ANNOUNCE_EVERY`] per circle, across every instance),
//! the `by_circle` index's Queries for who is connected, and one post each.

use serde::Serialize;

use crate::activity::{self, Activity, RoundFeedback};
use crate::app::App;
use crate::clock::{rfc3339_millis, rfc3339_secs};
use crate::db::attr::n;
use crate::db::{StoreError, Table, keys};
use crate::model::Circle;
use crate::pairing;
use crate::presence;
use crate::protocol::ServerEvent;

/// The longest announcement, in characters.
pub const ANNOUNCE_MAX_CHARS: usize = 280;
/// At most one announcement per circle this often (milliseconds).
pub const ANNOUNCE_EVERY_MS: i64 = 10_000;
/// [`ANNOUNCE_EVERY_MS`] in seconds, for `Retry-After`.
pub const ANNOUNCE_EVERY: u64 = 10;
/// Posts of one announcement in flight at once.
const POSTS_AT_ONCE: usize = 64;
/// The CSV's header line.
pub const CSV_HEADER: &str = "at,joins,chats,good,meh";

/// The circle's feedback: counts only, never who rated whom.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedbackView {
    /// `good` ratings over the circle's life.
    pub good: u64,
    /// `meh` ratings over the circle's life.
    pub meh: u64,
    /// Per round (rounds with a rating only), lowest first.
    pub rounds: Vec<RoundFeedback>,
}

/// One 5-minute bucket of the organiser's `activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    /// The bucket's start (RFC 3339, UTC, seconds).
    pub at: String,
    /// Joins in the bucket.
    pub joins: u64,
    /// Rooms made in the bucket.
    pub chats: u64,
    /// `good` ratings in the bucket.
    pub good: u64,
    /// `meh` ratings in the bucket.
    pub meh: u64,
}

/// The circle's activity as the organiser sees it: every 5-minute bucket from
/// the circle's start (or its first count) to now (or its end), empty ones
/// included, and the feedback.
pub async fn read(
    app: &App,
    circle: &Circle,
) -> Result<(FeedbackView, Vec<ActivityRow>), StoreError> {
    let stored = activity::read(app, &circle.cid).await?;
    Ok(shape(app, circle, &stored))
}

fn shape(app: &App, circle: &Circle, stored: &Activity) -> (FeedbackView, Vec<ActivityRow>) {
    let (good, meh) = stored.feedback();
    let last = app.now_secs().min(circle.expires_at - 1);
    let rows = stored
        .filled(circle.created_at, last)
        .into_iter()
        .map(|b| ActivityRow {
            at: rfc3339_secs(b.start),
            joins: b.joins,
            chats: b.chats,
            good: b.good,
            meh: b.meh,
        })
        .collect();
    let feedback = FeedbackView {
        good,
        meh,
        rounds: stored.rounds.clone(),
    };
    (feedback, rows)
}

/// The activity as CSV: [`CSV_HEADER`], then one line per bucket (`at` in
/// ISO 8601, UTC), CRLF line ends as RFC 4180 has them.
pub fn csv(rows: &[ActivityRow]) -> String {
    let mut out = String::with_capacity(32 * (rows.len() + 1));
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}\r\n",
            r.at, r.joins, r.chats, r.good, r.meh
        ));
    }
    out
}

/// Why an announcement was not sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnnounceError {
    /// Blank, or over [`ANNOUNCE_MAX_CHARS`].
    #[error("text must be 1 to 280 characters, not blank")]
    BadText,
    /// Another announcement went out less than 10 s ago.
    #[error("one announcement per 10 seconds; try again in a moment")]
    TooSoon,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The announcement's text as sent: control and format characters dropped,
/// trimmed; `None` when blank or too long.
pub fn clean_text(text: &str) -> Option<String> {
    let text = crate::protocol::text::strip_format(text).trim().to_owned();
    let chars = text.chars().count();
    (chars > 0 && chars <= ANNOUNCE_MAX_CHARS).then_some(text)
}

/// Sends `announcement` {`text`, `at`} to everyone connected to the circle,
/// at most once per 10 s per circle: a conditional `UpdateItem` on the
/// circle's `ANNOUNCE` item decides, so two organiser tabs (or two Lambda
/// instances) can't both send. Returns how many sockets it reached.
pub async fn announce(app: &App, circle: &Circle, text: &str) -> Result<usize, AnnounceError> {
    let text = clean_text(text).ok_or(AnnounceError::BadText)?;
    let now = app.now_ms();
    let op = app.store.update_op(
        Table::Groups,
        keys::announce_limit(&circle.cid),
        "SET #ann = :next, #expires_at = :exp",
        Some("attribute_not_exists(#ann) OR #ann <= :now"),
        vec![
            (":next", n(now + ANNOUNCE_EVERY_MS)),
            (":now", n(now)),
            (":exp", n(circle.expires_at)),
        ],
    );
    match app.store.update(op).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(AnnounceError::TooSoon),
        Err(err) => return Err(err.into()),
    }
    let conns = presence::connections(app, &circle.cid).await?;
    let event = ServerEvent::Announcement {
        text,
        at: rfc3339_millis(now),
    };
    let mut sent = 0;
    for batch in conns.chunks(POSTS_AT_ONCE) {
        let posts = batch
            .iter()
            .map(|c| pairing::send(app, &c.connection_id, &event));
        sent += futures_util::future::join_all(posts)
            .await
            .iter()
            .filter(|r| r.is_ok())
            .count();
    }
    tracing::info!(connections = conns.len(), sent, "announcement sent");
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cleaned_and_bounded() {
        assert_eq!(clean_text("  Hi all \u{202E}"), Some("Hi all".into()));
        assert_eq!(clean_text("   "), None);
        assert_eq!(clean_text("\u{200B}"), None);
        assert!(clean_text(&"é".repeat(280)).is_some());
        assert!(clean_text(&"é".repeat(281)).is_none());
    }

    #[test]
    fn csv_has_the_header_and_a_line_per_bucket() {
        let rows = [ActivityRow {
            at: "2026-12-04T10:05:00Z".into(),
            joins: 3,
            chats: 1,
            good: 1,
            meh: 0,
        }];
        assert_eq!(
            csv(&rows),
            "at,joins,chats,good,meh\r\n2026-12-04T10:05:00Z,3,1,1,0\r\n"
        );
    }
}
