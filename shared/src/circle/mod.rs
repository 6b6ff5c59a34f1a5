//! Circles in the store: creating one under a unique access code (rate limited
//! per source address), finding it by code, by stable id or by organiser key,
//! listing the live listed ones, and changing, re-coding or re-rounding it.
//!
//! The circle item lives under its current code, so a join finds everything it
//! needs with one read; a pointer under the stable id finds the current code
//! (for timers, and for people who joined with a code since replaced). Every
//! change bumps `ver`, and a new code copies the item conditioned on `ver`, so
//! no change is lost to a concurrent re-code.
//!
//! Circles are unlisted unless created (or changed) with `listed`. Only a
//! listed circle's item carries the keys of the groups table's sparse `listed`
//! index, so `GET /groups` is one Query of that index, newest first, a page at
//! a time: its cost follows the page, never the table.

//!
//! `view.rs` is the circle as the HTTP API sees it (validation, views), and
//! `labels.rs` checks its labels. The
//! protocol and the HTTP paths call a circle a "group" (`join_group`,
//! `/groups`); the code calls it a circle.

pub mod labels;
pub mod tombstone;
pub mod view;

use crate::app::App;
use crate::code::AccessCode;
use crate::db::attr::{b, n, opt_s, s};
use crate::db::keys;
use crate::db::{QuerySpec, SkCond, StoreError, Table, Tx};
use crate::model::{Circle, RoundState, random_id};
use crate::secrets::{domain, token};
use view::{CirclePatch, NewCircle};

/// Codes tried before giving up (a collision at 49 bits is already unheard of).
const CODE_ATTEMPTS: usize = 5;
/// Retries of a change that raced another change.
const CHANGE_ATTEMPTS: usize = 8;
/// How many circles one page of `GET /groups` holds at most (and by default).
pub const LIST_PAGE: usize = 50;

/// Why a circle was not created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CreateError {
    /// This source address already created `creates_per_hour` circles this hour.
    #[error("too many circles from this address; try again within the hour")]
    RateLimited,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new circle and the organiser key, which exists nowhere else after this.
#[derive(Debug, Clone)]
pub struct Created {
    /// The circle as stored.
    pub circle: Circle,
    /// The organiser key in clear; only its keyed hash is stored.
    pub organizer_key: String,
}

/// A listed circle's place in the `listed` index (a fresh random tag each time
/// it is listed).
fn new_listing(expires_at: i64) -> String {
    keys::listing_key(expires_at, &random_id(8))
}

/// Creates a circle under a fresh code; the conditional put makes the code unique.
pub async fn create(
    app: &App,
    new: NewCircle,
    source_addr: Option<&str>,
) -> Result<Created, CreateError> {
    if let Some(addr) = source_addr
        && !crate::edge::count_creation(app, addr).await?
    {
        return Err(CreateError::RateLimited);
    }
    let now = app.now_secs();
    let ttl = i64::try_from(app.settings.circle_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let organizer_key = token(32);
    let organizer_hash = app
        .settings
        .hash_key
        .hash(domain::ORGANIZER, &organizer_key);
    let cid = random_id(16);
    for _ in 0..CODE_ATTEMPTS {
        let circle = Circle {
            code: AccessCode::generate(),
            cid: cid.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            rules: new.rules.clone(),
            prompts: new.prompts.clone(),
            created_at: now,
            expires_at: now + ttl,
            organizer_hash: organizer_hash.clone(),
            shards: app.settings.lobby_shards.clamp(1, 64),
            ver: 1,
            round: RoundState::default(),
            listing: new.listed.then(|| new_listing(now + ttl)),
            labels: new.labels.clone(),
        };
        let mut pointer = keys::pointer(&cid);
        pointer.extend([
            ("code".into(), s(circle.code.as_str())),
            ("expires_at".into(), n(circle.expires_at)),
        ]);
        let mut org = keys::organizer(&organizer_hash);
        org.extend([
            ("cid".into(), s(&cid)),
            ("expires_at".into(), n(circle.expires_at)),
        ]);
        let mut tx = Tx::new();
        let by_code = tx.put(
            "circle by code",
            app.store.put_op(
                Table::Groups,
                circle.to_item(),
                Some("attribute_not_exists(#pk)"),
                vec![],
            ),
        );
        tx.put(
            "pointer",
            app.store.put_op(Table::Groups, pointer, None, vec![]),
        );
        tx.put(
            "organiser key",
            app.store.put_op(Table::Groups, org, None, vec![]),
        );
        match app.store.transact(tx).await {
            Ok(()) => {
                // At its end, everyone still connected is told (`circle_ended`).
                app.schedule(crate::timers::Timer::CircleEnd {
                    cid: circle.cid.clone(),
                    due_ms: circle.expires_at.saturating_mul(1000),
                })
                .await;
                return Ok(Created {
                    circle,
                    organizer_key,
                });
            }
            Err(err) if err.failed(by_code) => {
                tracing::warn!("access code collision; drawing another");
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(StoreError::Other("could not find a free access code".into()).into())
}

/// The live circle with this code, if any (an expired circle is absent).
pub async fn get(
    app: &App,
    code: &AccessCode,
    consistent: bool,
) -> Result<Option<Circle>, StoreError> {
    let item = app
        .store
        .get(Table::Groups, keys::circle(code.as_str()), consistent)
        .await?;
    live(app, item.as_ref())
}

/// A circle from its item, unless absent or expired.
pub fn live(app: &App, item: Option<&crate::db::Item>) -> Result<Option<Circle>, StoreError> {
    let Some(item) = item else {
        return Ok(None);
    };
    let circle = Circle::from_item(item)?;
    Ok((!circle.is_expired(app.now_secs())).then_some(circle))
}

/// The live circle with this stable id, whatever its code now.
pub async fn get_by_cid(app: &App, cid: &str) -> Result<Option<Circle>, StoreError> {
    for _ in 0..CHANGE_ATTEMPTS {
        let Some(pointer) = app
            .store
            .get(Table::Groups, keys::pointer(cid), true)
            .await?
        else {
            return Ok(None);
        };
        let Some(code) = opt_s(&pointer, "code").and_then(|c| AccessCode::parse(&c)) else {
            return Err(StoreError::Corrupt(format!(
                "circle pointer {cid} has no code"
            )));
        };
        match get(app, &code, true).await? {
            Some(c) if c.cid == cid => return Ok(Some(c)),
            // Re-coded between the two reads: follow the pointer again.
            _ => continue,
        }
    }
    Ok(None)
}

/// What an organiser key opens.
#[derive(Debug, Clone)]
pub enum ByKey {
    /// A live circle.
    Live(Box<Circle>),
    /// A circle since closed (until its original end).
    Closed,
    /// Nothing: a wrong key, or a circle long gone.
    Unknown,
}

/// The circle an organiser key belongs to, if any, or that it was closed.
pub async fn get_by_key(app: &App, organizer_key: &str) -> Result<ByKey, StoreError> {
    let hash = app.settings.hash_key.hash(domain::ORGANIZER, organizer_key);
    let Some(index) = app
        .store
        .get(Table::Groups, keys::organizer(&hash), true)
        .await?
    else {
        return Ok(ByKey::Unknown);
    };
    if tombstone::is_closed_key(app, &index) {
        return Ok(ByKey::Closed);
    }
    Ok(match opt_s(&index, "cid") {
        Some(cid) => get_by_cid(app, &cid)
            .await?
            .map_or(ByKey::Unknown, |c| ByKey::Live(Box::new(c))),
        None => ByKey::Unknown,
    })
}

/// One page of listed circles, newest first.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The circles of this page.
    pub circles: Vec<Circle>,
    /// Where the next page starts (`after`), when there is one: the last
    /// circle's `listed` index sort key, which holds its expiry and a random
    /// tag, never a code or an id.
    pub next: Option<String>,
}

/// Whether `cursor` could be a [`Listing::next`]: ten digits, a dot, a tag.
pub fn valid_cursor(cursor: &str) -> bool {
    cursor.split_once('.').is_some_and(|(secs, tag)| {
        secs.len() == 10
            && secs.bytes().all(|b| b.is_ascii_digit())
            && (1..=16).contains(&tag.len())
            && tag.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The live listed circles, newest first: `limit` (1 to [`LIST_PAGE`]) of them
/// after the cursor `after` (a previous page's `next`). One Query of the
/// sparse `listed` index (eventually consistent, as every index read); its key
/// condition leaves out the expired, so it reads only what it returns plus at
/// most two items (the one that tells there is a next page, and the cursor's).
pub async fn list(app: &App, after: Option<&str>, limit: usize) -> Result<Listing, StoreError> {
    let limit = limit.clamp(1, LIST_PAGE);
    // Expiring after now; `listing_key(t, "")` sorts before every key of second `t`.
    let low = keys::listing_key(app.now_secs() + 1, "");
    let high = after.map_or_else(|| "~".to_owned(), str::to_owned);
    if high < low {
        return Ok(Listing::default());
    }
    let mut q = QuerySpec::partition(Table::Groups, "lk", keys::LISTED.to_owned());
    q.index = Some(keys::LISTED_INDEX);
    q.sk_name = "lt";
    q.sk = Some(SkCond::Between(low, high));
    q.forward = false;
    q.consistent = false;
    // One more than the page, to know whether there is a next; and the
    // cursor's own item, which `BETWEEN` includes.
    let extra = 1 + usize::from(after.is_some());
    q.limit = i32::try_from(limit + extra).ok();
    let page = app.store.query(q).await?;
    let mut circles = Vec::with_capacity(limit);
    let mut more = page.next.is_some();
    for item in &page.items {
        let Some(circle) = live(app, Some(item))? else {
            continue;
        };
        if circle.listing.is_none() || circle.listing.as_deref() == after {
            continue;
        }
        if circles.len() == limit {
            more = true;
            break;
        }
        circles.push(circle);
    }
    let next = if more {
        circles.last().and_then(|c| c.listing.clone())
    } else {
        None
    };
    Ok(Listing { circles, next })
}

/// Applies `change` to the circle and stores it if nobody changed it meanwhile;
/// re-reads and tries again if someone did. Returns the stored circle.
async fn change(
    app: &App,
    mut circle: Circle,
    change: impl Fn(&mut Circle),
) -> Result<Circle, StoreError> {
    for _ in 0..CHANGE_ATTEMPTS {
        let mut next = circle.clone();
        change(&mut next);
        next.ver = circle.ver + 1;
        let op = app.store.put_op(
            Table::Groups,
            next.to_item(),
            Some("#ver = :v"),
            vec![(":v", n(circle.ver))],
        );
        match app.store.put(op).await {
            Ok(()) => return Ok(next),
            Err(StoreError::ConditionFailed) => {
                circle = match get_by_cid(app, &circle.cid).await? {
                    Some(c) => c,
                    None => return Err(StoreError::ConditionFailed),
                };
            }
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Throttled)
}

/// Changes name, description, rules, prompts or whether it is listed (a listed
/// circle's item carries the `listed` index's keys; an unlisted one's has none).
pub async fn patch(app: &App, circle: Circle, patch: &CirclePatch) -> Result<Circle, StoreError> {
    change(app, circle, |c| {
        match patch.listed {
            Some(true) if c.listing.is_none() => c.listing = Some(new_listing(c.expires_at)),
            Some(false) => c.listing = None,
            _ => {}
        }
        if let Some(v) = &patch.name {
            c.name = v.clone();
        }
        if let Some(v) = &patch.description {
            c.description = v.clone();
        }
        if let Some(v) = &patch.rules {
            c.rules = v.clone();
        }
        if let Some(v) = &patch.prompts {
            c.prompts = v.clone();
        }
        if let Some(v) = &patch.labels {
            c.labels.names = v.clone();
        }
        if let Some(m) = patch.label_mode {
            c.labels.mode = m;
        }
    })
    .await
}

/// Sets the round state, but only from the state the caller saw (`expected`),
/// so two timers or an organiser and a timer can't both move a round on.
/// `Ok(None)`: someone else moved it first.
pub async fn set_round(
    app: &App,
    circle: &Circle,
    expected: &RoundState,
    round: RoundState,
) -> Result<Option<Circle>, StoreError> {
    let op = app.store.update_op(
        Table::Groups,
        keys::circle(circle.code.as_str()),
        "SET #rnd = :rnd, #rmin = :rmin, #rends = :rends, #ron = :ron ADD #ver :one",
        Some("#rnd = :ernd AND #ron = :eron AND #rends = :erends"),
        vec![
            (":rnd", n(i64::from(round.number))),
            (":rmin", n(i64::from(round.minutes))),
            (":rends", n(round.ends_at)),
            (":ron", b(round.active)),
            (":one", n(1)),
            (":ernd", n(i64::from(expected.number))),
            (":eron", b(expected.active)),
            (":erends", n(expected.ends_at)),
        ],
    );
    match app.store.update(op).await {
        Ok(()) => Ok(Some(Circle {
            round,
            ver: circle.ver + 1,
            ..circle.clone()
        })),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Moves the circle to a fresh code. From the moment this commits, the old
/// code answers `code_changed` (a tombstone of its hash, until the circle's
/// end) to anyone new; the stable id, the organiser key, the lobby and the
/// rooms are untouched. `evicted`: the tombstone also says the old code's
/// connections are being closed, so none of them may use it again.
pub async fn rotate(app: &App, mut circle: Circle, evicted: bool) -> Result<Circle, StoreError> {
    for _ in 0..CHANGE_ATTEMPTS {
        let mut next = circle.clone();
        next.code = AccessCode::generate();
        next.ver = circle.ver + 1;
        let mut tx = Tx::new();
        tx.put(
            "circle by new code",
            app.store.put_op(
                Table::Groups,
                next.to_item(),
                Some("attribute_not_exists(#pk)"),
                vec![],
            ),
        );
        let old = tx.delete(
            "circle by old code",
            app.store.delete_op(
                Table::Groups,
                keys::circle(circle.code.as_str()),
                Some("#ver = :v"),
                vec![(":v", n(circle.ver))],
            ),
        );
        tx.update(
            "pointer",
            app.store.update_op(
                Table::Groups,
                keys::pointer(&circle.cid),
                "SET #code = :code",
                None,
                vec![(":code", s(next.code.as_str()))],
            ),
        );
        tx.put(
            "old code's tombstone",
            tombstone::put_op(
                app,
                circle.code.as_str(),
                tombstone::Ended::CodeChanged,
                evicted,
                circle.expires_at,
            ),
        );
        match app.store.transact(tx).await {
            Ok(()) => return Ok(next),
            Err(err) if err.failed(old) => {
                circle = match get_by_cid(app, &circle.cid).await? {
                    Some(c) => c,
                    None => return Err(StoreError::ConditionFailed),
                };
            }
            Err(err) if err.is_retryable() => {}
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Throttled)
}
