//! Circles in the store: creating one under a unique access code (rate limited
//! per source address), finding it by code, by stable id or by organiser key,
//! listing live ones, and changing, re-coding or re-rounding it.
//!
//! The circle item lives under its current code, so a join finds everything it
//! needs with one read; a pointer under the stable id finds the current code
//! (for timers, and for people who joined with a code since replaced). Every
//! change bumps `ver`, and a new code copies the item conditioned on `ver`, so
//! no change is lost to a concurrent re-code.

//!
//! `view.rs` is the circle as the HTTP API sees it (validation, views). The
//! protocol and the HTTP paths call a circle a "group" (`join_group`,
//! `/groups`); the code calls it a circle.

pub mod view;

use crate::app::App;
use crate::code::AccessCode;
use crate::db::attr::{b, n, opt_s, s};
use crate::db::keys;
use crate::db::{StoreError, Table, Tx};
use crate::model::{Circle, RoundState, random_id};
use crate::secrets::{domain, token};
use view::{CirclePatch, NewCircle};

/// Codes tried before giving up (a collision at 49 bits is already unheard of).
const CODE_ATTEMPTS: usize = 5;
/// Retries of a change that raced another change.
const CHANGE_ATTEMPTS: usize = 8;
/// How many circles `GET /groups` returns at most.
pub const LIST_LIMIT: usize = 200;

/// Why a circle was not created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CreateError {
    #[error("too many circles from this address; try again within the hour")]
    RateLimited,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new circle and the organiser key, which exists nowhere else after this.
#[derive(Debug, Clone)]
pub struct Created {
    pub circle: Circle,
    pub organizer_key: String,
}

/// Counts one creation against `addr` for this hour; refuses past the limit.
async fn count_creation(app: &App, addr: &str) -> Result<(), CreateError> {
    let now = app.now_secs();
    let hour = now.div_euclid(3600);
    let hash = app.settings.hash_key.hash(domain::ADDRESS, addr);
    let op = app.store.update_op(
        Table::Groups,
        keys::create_limit(&hash, hour),
        "ADD #n :one SET #expires_at = :exp",
        Some("attribute_not_exists(#n) OR #n < :max"),
        vec![
            (":one", n(1)),
            (":exp", n((hour + 1) * 3600)),
            (":max", n(i64::from(app.settings.limits.creates_per_hour))),
        ],
    );
    match app.store.update(op).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(CreateError::RateLimited),
        Err(err) => Err(err.into()),
    }
}

/// Creates a circle under a fresh code; the conditional put makes the code unique.
pub async fn create(
    app: &App,
    new: NewCircle,
    source_addr: Option<&str>,
) -> Result<Created, CreateError> {
    if let Some(addr) = source_addr {
        count_creation(app, addr).await?;
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

/// The circle an organiser key belongs to, if any.
pub async fn get_by_key(app: &App, organizer_key: &str) -> Result<Option<Circle>, StoreError> {
    let hash = app.settings.hash_key.hash(domain::ORGANIZER, organizer_key);
    let Some(index) = app
        .store
        .get(Table::Groups, keys::organizer(&hash), true)
        .await?
    else {
        return Ok(None);
    };
    match opt_s(&index, "cid") {
        Some(cid) => get_by_cid(app, &cid).await,
        None => Ok(None),
    }
}

/// Live circles, newest first, at most [`LIST_LIMIT`].
pub async fn list(app: &App) -> Result<Vec<Circle>, StoreError> {
    let items = app
        .store
        .scan(
            Table::Groups,
            Some((
                "#sk = :c AND begins_with(#pk, :p) AND #expires_at > :now",
                vec![
                    (":c", s(keys::CIRCLE_SK)),
                    (":p", s(keys::CODE_PREFIX)),
                    (":now", n(app.now_secs())),
                ],
            )),
            10 * LIST_LIMIT,
        )
        .await?;
    let mut circles = items
        .iter()
        .map(Circle::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    circles.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    circles.truncate(LIST_LIMIT);
    Ok(circles)
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

/// Changes name, description, rules or prompts.
pub async fn patch(app: &App, circle: Circle, patch: &CirclePatch) -> Result<Circle, StoreError> {
    change(app, circle, |c| {
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

/// Moves the circle to a fresh code. The old code answers "not found" from the
/// moment this commits; the stable id, the organiser key, the lobby and the
/// rooms are untouched.
pub async fn rotate(app: &App, mut circle: Circle) -> Result<Circle, StoreError> {
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
