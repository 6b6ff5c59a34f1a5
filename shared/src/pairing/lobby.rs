//! Reading a circle's lobby at a bounded cost, and choosing whom to pair with.
//!
//! A lobby is spread over the circle's shards (partition keys); entries have
//! random sort keys. A shard is read a page at a time (strongly consistent,
//! `lobby_page` entries, about one read unit). When the first page is full, a
//! second page from a random point spreads concurrent joiners over the lobby.
//! Reading stops as soon as a never-met compatible waiter is in hand; only when
//! none is does it read on, since DESIGN.md's rules ("never-met first", "never
//! two compatible people waiting") are about the whole lobby. At rest a lobby
//! holds a waiter or two, so a join reads one page of one shard.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;

use crate::app::App;
use crate::keys;
use crate::model::{Circle, LobbyEntry, Member, random_id};
use crate::store::{QuerySpec, SkCond, StoreError, Table};

/// The joiner as the lobby rules see it.
#[derive(Debug, Clone)]
pub struct Seeker<'a> {
    pub conn: &'a str,
    pub mid: &'a str,
    /// The member record (history and blocks); `None` for a new member.
    pub member: Option<&'a Member>,
    pub avoid: Option<&'a str>,
    pub avoid_until: i64,
}

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
}

/// Whether two people may be paired now: different members, no block either way,
/// not just-left partners while the guard of either runs.
pub fn compatible(me: &Seeker<'_>, other: &LobbyEntry, now_ms: i64) -> bool {
    other.conn != me.conn
        && other.mid != me.mid
        && !me.member.is_some_and(|m| m.blocked.contains(&other.mid))
        && !(me.avoid == Some(other.mid.as_str()) && now_ms < me.avoid_until)
        && !(other.avoid.as_deref() == Some(me.mid) && now_ms < other.avoid_until)
}

/// Ranks compatible waiters: never met first, shuffled; then by when last met.
/// Among the never-met, those in `spread` (read from a random point of a big
/// lobby) come first, so concurrent joiners go for different waiters.
pub(crate) fn rank(
    seeker: &Seeker<'_>,
    mut candidates: Vec<LobbyEntry>,
    spread: &HashSet<String>,
) -> Vec<LobbyEntry> {
    candidates.shuffle(&mut rand::rng());
    let met = |e: &LobbyEntry| seeker.member.and_then(|m| m.last_met(&e.mid));
    // Stable sort keeps the shuffle among equals.
    candidates.sort_by_key(|e| match met(e) {
        None => (0, !spread.contains(&e.ticket), 0),
        Some(at) => (1, false, at),
    });
    candidates
}

async fn page(
    app: &App,
    cid: &str,
    shard: u32,
    sk: Option<SkCond>,
    start: Option<crate::store::Item>,
) -> Result<crate::store::Page, StoreError> {
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
            if out.has_never_met(seeker) {
                complete = false;
                break 'shards;
            }
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
#[cfg(test)]
pub(crate) fn test_entry(mid: &str) -> LobbyEntry {
    LobbyEntry {
        conn: format!("c-{mid}"),
        mid: mid.into(),
        name: mid.into(),
        ticket: format!("t-{mid}"),
        shard: 0,
        avoid: None,
        avoid_until: 0,
        seen: 0,
        since: 0,
        notice_after: 0,
        told: 0,
        expires_at: i64::MAX / 2000,
        fresh: false,
    }
}

#[cfg(test)]
mod tests {
    use super::test_entry as entry;
    use super::*;

    #[test]
    fn never_met_come_first_then_the_one_met_longest_ago() {
        let member = Member {
            mid: "me".into(),
            met: vec![("a".into(), 10), ("b".into(), 5), ("a".into(), 20)],
            ..Member::default()
        };
        let seeker = Seeker {
            conn: "c-me",
            mid: "me",
            member: Some(&member),
            avoid: None,
            avoid_until: 0,
        };
        for _ in 0..20 {
            let ranked = rank(
                &seeker,
                vec![entry("a"), entry("b"), entry("c"), entry("d")],
                &HashSet::new(),
            );
            let mids: Vec<&str> = ranked.iter().map(|e| e.mid.as_str()).collect();
            assert!(matches!(mids[..2], ["c", "d"] | ["d", "c"]), "{mids:?}");
            assert_eq!(mids[2..], ["b", "a"]);
        }
    }

    #[test]
    fn blocks_guards_and_oneself_are_incompatible() {
        let member = Member {
            mid: "me".into(),
            blocked: ["x".to_owned()].into(),
            ..Member::default()
        };
        let seeker = Seeker {
            conn: "c-me",
            mid: "me",
            member: Some(&member),
            avoid: Some("g"),
            avoid_until: 100,
        };
        assert!(!compatible(&seeker, &entry("x"), 0));
        assert!(!compatible(&seeker, &entry("g"), 50));
        assert!(compatible(&seeker, &entry("g"), 100));
        assert!(!compatible(&seeker, &entry("me"), 0));
        let mut other = entry("o");
        other.avoid = Some("me".into());
        other.avoid_until = 100;
        assert!(!compatible(&seeker, &other, 99));
        assert!(compatible(&seeker, &entry("o"), 0));
    }
}
