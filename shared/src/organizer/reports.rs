//! Reports that can't be buried: one report per (reporter, room) under a
//! deterministic key written with a conditional put (a repeat stores
//! nothing), an excerpt capped in total bytes, a count per reported member
//! kept with an `ADD` (never a scan), and the organiser's reports read a page
//! at a time.

use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::db::attr::{n, opt_n, opt_s, s};
use crate::db::{Item, QuerySpec, Slot, StoreError, Table, Tx, keys};
use crate::protocol::ExcerptItem;

/// Reports on one page of the organiser's view.
pub const REPORTS_PAGE: i32 = 25;
/// Reported members listed with their counts, at most.
pub const COUNTS_SHOWN: usize = 100;
/// Count items read to find the most reported (one per reported member: a
/// circle has far fewer members than this).
const COUNTS_READ: usize = 100_000;
/// An excerpt's cap, in bytes of its JSON: the newest messages that fit are kept.
pub const MAX_EXCERPT_BYTES: usize = 4096;
/// A page cursor longer than this is refused.
const MAX_CURSOR: usize = 200;

/// Someone a report names.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// Member id, as `POST /groups/{code}/remove` takes it.
    pub member_id: String,
}

/// A report as the organiser sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    /// The report item's sort key (`{room}#{reporter's pid}`).
    pub id: String,
    /// When it was made (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// The reporter's `reason`.
    pub reason: String,
    /// Exactly as the reporter's client sent it (cut to the newest messages
    /// that fit [`MAX_EXCERPT_BYTES`]).
    pub excerpt: Value,
    /// Who reported.
    pub reporter: Person,
    /// Whom the report is about.
    pub reported: Person,
}

/// How many reports name one member.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReportedCount {
    /// The reported member's id.
    pub member_id: String,
    /// Its name in the latest report.
    pub name: String,
    /// Reports naming it (one per reporter and room).
    pub reports: i64,
}

/// One page of reports: `GET /groups/{code}/reports?after=…`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportsPage {
    /// The reports of this page, newest first.
    pub reports: Vec<ReportView>,
    /// The cursor of the next page (`?after=`), `None` on the last.
    pub reports_next: Option<String>,
}

/// The newest messages of `excerpt` whose JSON fits [`MAX_EXCERPT_BYTES`],
/// in their order; a single message too long for it is cut at a character.
pub fn cap_excerpt(excerpt: &[ExcerptItem]) -> Vec<ExcerptItem> {
    let size = |e: &ExcerptItem| serde_json::to_string(e).map_or(usize::MAX, |j| j.len() + 1);
    let mut kept = Vec::new();
    let mut total = 2;
    for item in excerpt.iter().rev() {
        let bytes = size(item);
        if total + bytes <= MAX_EXCERPT_BYTES {
            total += bytes;
            kept.push(item.clone());
            continue;
        }
        if kept.is_empty() {
            // Even the newest alone is too long: cut its text to fit (JSON
            // escapes at most 6 bytes per character).
            let room = MAX_EXCERPT_BYTES.saturating_sub(total + size(&empty(item))) / 6;
            let mut cut = empty(item);
            cut.text = item.text.chars().take(room).collect();
            kept.push(cut);
        }
        break;
    }
    kept.reverse();
    kept
}

fn empty(item: &ExcerptItem) -> ExcerptItem {
    ExcerptItem {
        text: String::new(),
        ..item.clone()
    }
}

/// A report to store: who reports whom, in which room (and side of it).
pub(crate) struct NewReport<'a> {
    pub cid: &'a str,
    pub room: &'a str,
    /// The reporter's per-room id: with the room, the report's key.
    pub pid: &'a str,
    pub reason: &'a str,
    pub excerpt: &'a [ExcerptItem],
    pub reporter_name: &'a str,
    pub reporter_mid: &'a str,
    pub reported_name: &'a str,
    pub reported_mid: &'a str,
    pub expires_at: i64,
}

/// Adds the report (only if this reporter has not reported this room: the
/// slot returned fails otherwise) and its count to `tx`.
pub(crate) fn add(app: &App, tx: &mut Tx, r: &NewReport<'_>) -> Slot {
    let now = app.now_ms();
    let excerpt = serde_json::to_string(&cap_excerpt(r.excerpt)).expect("excerpt items serialize");
    let mut item = keys::report(r.cid, r.room, r.pid);
    item.extend([
        ("at".into(), n(now)),
        ("reason".into(), s(r.reason)),
        ("excerpt".into(), s(excerpt)),
        ("reporter_name".into(), s(r.reporter_name)),
        ("reporter_mid".into(), s(r.reporter_mid)),
        ("reported_name".into(), s(r.reported_name)),
        ("reported_mid".into(), s(r.reported_mid)),
        ("expires_at".into(), n(r.expires_at)),
    ]);
    let slot = tx.put(
        "report",
        app.store.put_op(
            Table::Groups,
            item,
            Some("attribute_not_exists(#sk)"),
            vec![],
        ),
    );
    tx.update(
        "report count",
        app.store.update_op(
            Table::Groups,
            keys::report_count(r.cid, r.reported_mid),
            "ADD #reports :one SET #name = :name, #expires_at = :exp",
            None,
            vec![
                (":one", n(1)),
                (":name", s(r.reported_name)),
                (":exp", n(r.expires_at)),
            ],
        ),
    );
    slot
}

fn view_of(r: &Item) -> ReportView {
    let get = |k: &str| opt_s(r, k).unwrap_or_default();
    ReportView {
        id: get("sk"),
        at: rfc3339_millis(opt_n(r, "at").unwrap_or(0)),
        reason: get("reason"),
        excerpt: serde_json::from_str(&get("excerpt")).unwrap_or(Value::Array(vec![])),
        reporter: Person {
            name: get("reporter_name"),
            member_id: get("reporter_mid"),
        },
        reported: Person {
            name: get("reported_name"),
            member_id: get("reported_mid"),
        },
    }
}

/// Whether `after` is a cursor this module could have given.
pub fn valid_cursor(after: &str) -> bool {
    !after.is_empty()
        && after.len() <= MAX_CURSOR
        && after
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// One page of a circle's reports (one Query): the first, or the one after
/// the cursor `after`. Each page is sorted newest first.
pub async fn page(app: &App, cid: &str, after: Option<&str>) -> Result<ReportsPage, StoreError> {
    let mut q = QuerySpec::partition(Table::Groups, "pk", keys::reports_pk(cid));
    q.consistent = false;
    q.limit = Some(REPORTS_PAGE);
    // A cursor is the last sort key with `#` as `.` (safe in a query string).
    q.start = after.map(|c| keys::report_at(cid, &c.replace('.', "#")));
    let got = app.store.query(q).await?;
    let mut items: Vec<&Item> = got.items.iter().collect();
    items.sort_by_key(|r| std::cmp::Reverse(opt_n(r, "at").unwrap_or(0)));
    Ok(ReportsPage {
        reports: items.into_iter().map(view_of).collect(),
        reports_next: got
            .next
            .as_ref()
            .and_then(|k| opt_s(k, "sk"))
            .map(|sk| sk.replace('#', ".")),
    })
}

/// The reported members with their counts, most reported first (at most
/// [`COUNTS_SHOWN`]). Every count item is read (one Query page holds
/// thousands of these small items), so no number of reported members can push
/// the most reported one out of the list.
pub async fn counts(app: &App, cid: &str) -> Result<Vec<ReportedCount>, StoreError> {
    let mut q = QuerySpec::partition(Table::Groups, "pk", keys::report_counts_pk(cid));
    q.consistent = false;
    let items = app.store.query_all(q, COUNTS_READ).await?;
    let mut counts: Vec<ReportedCount> = items
        .iter()
        .map(|i| ReportedCount {
            member_id: opt_s(i, "sk").unwrap_or_default(),
            name: opt_s(i, "name").unwrap_or_default(),
            reports: opt_n(i, "reports").unwrap_or(0),
        })
        .collect();
    counts.sort_by(|a, b| b.reports.cmp(&a.reports).then(a.name.cmp(&b.name)));
    counts.truncate(COUNTS_SHOWN);
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ExcerptFrom;

    fn msg(text: &str) -> ExcerptItem {
        ExcerptItem {
            from: ExcerptFrom::Partner,
            text: text.into(),
            sent_at: String::new(),
        }
    }

    #[test]
    fn excerpts_keep_the_newest_messages_that_fit() {
        let long: Vec<_> = (0..20)
            .map(|i| msg(&format!("{i}{}", "x".repeat(999))))
            .collect();
        let kept = cap_excerpt(&long);
        let bytes = serde_json::to_string(&kept).expect("json").len();
        assert!(bytes <= MAX_EXCERPT_BYTES, "{bytes}");
        assert_eq!(kept.last(), long.last());
        assert!(kept.len() < long.len());
        let huge = [msg(&"\u{1}".repeat(5000))];
        let cut = cap_excerpt(&huge);
        assert!(serde_json::to_string(&cut).expect("json").len() <= MAX_EXCERPT_BYTES);
        let small = [msg("hi"), msg("there")];
        assert_eq!(cap_excerpt(&small), small);
    }
}
