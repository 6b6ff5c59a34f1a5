//! Reading a circle's lobby at a bounded cost, and choosing whom to pair with.
//!
//! A lobby is spread over the circle's shards (partition keys); entries have
//! random sort keys. A shard is read a page at a time (strongly consistent,
//! `lobby_page` entries, about one read unit). When the first page is full, a
//! second page from a random point spreads concurrent joiners over the lobby.
//! Reading stops as soon as a never-met compatible waiter is in hand (in a
//! circle with labels, one of a preferred label, else after one more page);
//! only when none is does it read on, since the rules of `docs/design.md` ("never-met
//! first", "never two compatible people waiting") are about the whole lobby. At
//! rest a lobby holds a waiter or two, so a join reads one page of one shard.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;

use crate::app::App;
use crate::db::attr::{n, s};
use crate::db::keys;
use crate::db::{QuerySpec, SkCond, StoreError, Table, Tx};
use crate::model::{Circle, IDLE, LobbyEntry, random_id};
use crate::rules::matching::rank;
use crate::rules::matching::{Seeker, compatible};

/// What a read of the lobby found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    /// Compatible live waiters, best first: never met (in random order), then
    /// the one met longest ago.
    pub ranked: Vec<LobbyEntry>,
    /// Live waiters seen other than the seeker (compatible or not).
    pub others: Vec<LobbyEntry>,
    /// Entries not heard from within the presence window: to be removed.
    pub stale: Vec<LobbyEntry>,
    /// Whether every shard was read to the end.
    pub complete: bool,
    /// The seeker's own entry, if it was seen.
    pub mine: Option<LobbyEntry>,
}

impl Found {
    /// How many wait, the seeker included when `me_waiting`. Exact when the
    /// lobby was read to the end; a lower bound otherwise.
    pub fn count(&self, me_waiting: bool) -> u32 {
        u32::try_from(self.others.len() + usize::from(me_waiting)).unwrap_or(u32::MAX)
    }

    pub fn has_never_met(&self, seeker: &Seeker<'_>) -> bool {
        self.ranked
            .first()
            .is_some_and(|e| seeker.member.and_then(|m| m.last_met(&e.mid)).is_none())
    }

    /// Whether the best is never met and of a label the seeker prefers.
    fn has_preferred(&self, seeker: &Seeker<'_>) -> bool {
        self.has_never_met(seeker)
            && self
                .ranked
                .first()
                .is_some_and(|e| seeker.prefers(e.label.as_deref()))
    }
}

async fn page(
    app: &App,
    cid: &str,
    shard: u32,
    sk: Option<SkCond>,
    start: Option<crate::db::Item>,
) -> Result<crate::db::Page, StoreError> {
    let mut q = QuerySpec::partition(Table::Groups, "pk", keys::lobby_pk(cid, shard));
    q.sk = sk.or(Some(SkCond::BeginsWith(keys::ENTRY_PREFIX.to_owned())));
    q.limit = Some(app.settings.lobby_page.max(1));
    q.start = start;
    app.store.query(q).await
}

/// Reads the lobby (home shard first) until a never-met compatible waiter is
/// found or everything was read.
pub(crate) async fn find(
    app: &App,
    circle: &Circle,
    home: u32,
    seeker: &Seeker<'_>,
    skip: &HashSet<String>,
) -> Result<Found, StoreError> {
    let now = app.now_ms();
    let cut = now - App::ms(app.settings.presence_window);
    let mut shards: Vec<u32> = (0..circle.shards).filter(|s| *s != home).collect();
    shards.shuffle(&mut rand::rng());
    shards.insert(0, home.min(circle.shards.saturating_sub(1)));
    let mut seen: HashMap<String, LobbyEntry> = HashMap::new();
    let mut spread: HashSet<String> = HashSet::new();
    let mut complete = true;
    // With labels, a never-met waiter of another than a preferred label is
    // taken after one more page has been looked at for a preferred one.
    let mut looked_further = seeker.prefer.is_none();
    let mut out = Found::default();
    'shards: for shard in shards {
        let first = page(app, &circle.cid, shard, None, None).await?;
        let mut items = first.items;
        let mut next = first.next;
        if next.is_some() {
            // A big lobby: look at a random stretch too, so concurrent joiners
            // don't all go for the same few waiters.
            let r = format!("{}{}", keys::ENTRY_PREFIX, random_id(16));
            let random = page(app, &circle.cid, shard, Some(SkCond::AtLeast(r)), None).await?;
            for item in &random.items {
                if let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) {
                    spread.insert(sk.trim_start_matches(keys::ENTRY_PREFIX).to_owned());
                }
            }
            items.extend(random.items);
        }
        loop {
            for item in &items {
                let entry = LobbyEntry::from_item(item)?;
                if skip.contains(&entry.ticket) || seen.contains_key(&entry.ticket) {
                    continue;
                }
                seen.insert(entry.ticket.clone(), entry);
            }
            out.ranked = evaluate(seeker, &seen, &spread, now, cut, &mut out);
            if out.has_preferred(seeker) || (out.has_never_met(seeker) && looked_further) {
                complete = false;
                break 'shards;
            }
            looked_further |= out.has_never_met(seeker);
            match next.take() {
                Some(start) => {
                    let p = page(app, &circle.cid, shard, None, Some(start)).await?;
                    items = p.items;
                    next = p.next;
                }
                None => break,
            }
        }
    }
    out.complete = complete;
    Ok(out)
}

/// Sorts what was seen into stale entries, others and ranked candidates.
fn evaluate(
    seeker: &Seeker<'_>,
    seen: &HashMap<String, LobbyEntry>,
    spread: &HashSet<String>,
    now: i64,
    cut: i64,
    out: &mut Found,
) -> Vec<LobbyEntry> {
    out.stale.clear();
    out.others.clear();
    let mut candidates = Vec::new();
    for e in seen.values() {
        if e.conn == seeker.conn {
            out.mine = Some(e.clone());
            continue;
        }
        if e.seen < cut || e.expires_at * 1000 <= now {
            out.stale.push(e.clone());
            continue;
        }
        out.others.push(e.clone());
        if compatible(seeker, e, now) {
            candidates.push(e.clone());
        }
    }
    rank(seeker, candidates, spread)
}

/// A lobby entry for unit tests: member `mid` on connection `c-{mid}`.
/// A lobby entry by its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    pub conn: &'a str,
    pub shard: u32,
    pub ticket: &'a str,
}

impl<'a> From<&'a LobbyEntry> for EntryRef<'a> {
    fn from(e: &'a LobbyEntry) -> Self {
        Self {
            conn: &e.conn,
            shard: e.shard,
            ticket: &e.ticket,
        }
    }
}

/// Removes a lobby entry nobody should be paired with (not heard from within
/// the presence window, or whose record is no longer waiting under it), and
/// sets its record idle if it still waits under it: if that client is in fact
/// alive, its next keep-alive puts it back.
pub(crate) async fn remove_entry(app: &App, circle: &Circle, e: &EntryRef<'_>, seen: Option<i64>) {
    let (cond, values) = match seen {
        Some(seen) => ("#seen = :seen", vec![(":seen", n(seen))]),
        None => ("attribute_exists(#sk)", vec![]),
    };
    let mut tx = Tx::new();
    let entry = tx.delete(
        "the entry",
        app.store.delete_op(
            Table::Groups,
            keys::entry(&circle.cid, e.shard, e.ticket),
            Some(cond),
            values,
        ),
    );
    let record = tx.update(
        "its record",
        app.store.update_op(
            Table::Connections,
            keys::connection(e.conn),
            "SET #state = :idle REMOVE #ticket, #shard",
            Some("#state = :waiting AND #ticket = :t"),
            vec![
                (":idle", s(IDLE)),
                (":waiting", s(crate::model::WAITING)),
                (":t", s(e.ticket)),
            ],
        ),
    );
    if let Err(err) = app.store.transact(tx).await {
        if err.failed(record) && !err.failed(entry) {
            // The record is gone or moved on: the entry alone goes.
            let op = app.store.delete_op(
                Table::Groups,
                keys::entry(&circle.cid, e.shard, e.ticket),
                None,
                vec![],
            );
            let _ = app.store.delete(op).await;
        }
    } else {
        tracing::info!(waiter = %e.conn, "removed a lobby entry nobody may be paired with");
    }
}

/// Removes the stale entries a lobby read found.
pub(crate) async fn remove_stale(app: &App, circle: &Circle, found: &Found) {
    futures_util::future::join_all(
        found.stale.iter().map(|e| async move {
            remove_entry(app, circle, &EntryRef::from(e), Some(e.seen)).await
        }),
    )
    .await;
}
