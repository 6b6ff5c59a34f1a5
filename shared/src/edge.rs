//! Limits per source address at the API's edge: circles created per hour,
//! HTTP API requests per minute, and WebSockets open at once.
//!
//! They are counted in DynamoDB, never in the process: a Lambda instance keeps
//! nothing another instance would see, and one client's requests land on many.
//! Each count is one conditional `UpdateItem` on a counter item keyed by a keyed
//! hash of the address (domain `source-address`; the address itself is never
//! stored) and by its window, so a new window starts from nothing and an old one
//! is just never read again; every counter expires with its window.
//!
//! Sockets are counted per epoch of [`Settings::connection_ttl`](crate::Settings)
//! (2 h 15 min, longer than any socket lives): `$connect` counts the socket in
//! the epoch it opened in, `$disconnect` takes it off that same counter, and the
//! cap holds the sockets of this epoch and the one before (older ones are all
//! closed). `$disconnect` is best effort on AWS; a socket whose `$disconnect`
//! never came stops counting once the next epoch ends, so a lost decrement can't
//! lock an address out for good.

use crate::app::App;
use crate::db::attr::{n, opt_n};
use crate::db::{Item, StoreError, Table, keys};
use crate::secrets::domain;

/// One more in the counter `key` (which expires at `expires_at`), unless it
/// holds `max` already: `Ok(false)`, counted as rate limited.
async fn count(app: &App, key: Item, expires_at: i64, max: i64) -> Result<bool, StoreError> {
    let op = app.store.update_op(
        Table::Groups,
        key,
        "ADD #n :one SET #expires_at = :exp",
        Some("attribute_not_exists(#n) OR #n < :max"),
        vec![(":one", n(1)), (":exp", n(expires_at)), (":max", n(max))],
    );
    match app.store.update(op).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => {
            app.metrics.count_rate_limited();
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

fn address_hash(app: &App, addr: &str) -> String {
    app.settings.hash_key.hash(domain::ADDRESS, addr)
}

/// Counts a circle created from `addr` this hour; `false` past
/// `creates_per_hour`. One `UpdateItem`.
pub async fn count_creation(app: &App, addr: &str) -> Result<bool, StoreError> {
    let hour = app.now_secs().div_euclid(3600);
    let key = keys::create_limit(&address_hash(app, addr), hour);
    let max = i64::from(app.settings.limits.creates_per_hour);
    count(app, key, (hour + 1) * 3600, max).await
}

/// Counts an HTTP API request from `addr` this minute. `Ok(None)`: go on;
/// `Ok(Some(secs))`: over `requests_per_minute`, try again in `secs`. One
/// `UpdateItem` (none when the limit is 0: off).
pub async fn count_request(app: &App, addr: &str) -> Result<Option<u64>, StoreError> {
    let max = app.settings.limits.requests_per_minute;
    if max == 0 {
        return Ok(None);
    }
    let now = app.now_secs();
    let minute = now.div_euclid(60);
    let key = keys::request_count(&address_hash(app, addr), minute);
    if count(app, key, (minute + 1) * 60, i64::from(max)).await? {
        Ok(None)
    } else {
        Ok(Some(u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60)))
    }
}

/// The epoch (of `connection_ttl`) a socket opened at `connected_at_ms` is
/// counted in, and that length in seconds.
fn epoch_of(app: &App, connected_at_ms: i64) -> (i64, i64) {
    let len = i64::try_from(app.settings.connection_ttl.as_secs())
        .unwrap_or(i64::MAX / 4)
        .max(1);
    (connected_at_ms.div_euclid(1000).div_euclid(len), len)
}

/// `$connect` from `addr`: counts the socket, or `Ok(false)` when the address
/// already has `max_sockets_per_address` open. A `GetItem` of the previous
/// epoch's counter (eventually consistent: it only ever goes down) and one
/// conditional `UpdateItem`; nothing when the cap is 0 (off).
pub async fn open_socket(app: &App, addr: &str, connected_at_ms: i64) -> Result<bool, StoreError> {
    let max = app.settings.limits.max_sockets_per_address;
    if max == 0 {
        return Ok(true);
    }
    let hash = address_hash(app, addr);
    let (epoch, len) = epoch_of(app, connected_at_ms);
    let now = app.now_secs();
    let earlier = app
        .store
        .get(Table::Groups, keys::socket_count(&hash, epoch - 1), false)
        .await?
        .filter(|item| opt_n(item, "expires_at").is_some_and(|exp| exp > now))
        .and_then(|item| opt_n(&item, "n"))
        .unwrap_or(0);
    let room = i64::from(max) - earlier.max(0);
    if room <= 0 {
        app.metrics.count_rate_limited();
        return Ok(false);
    }
    // Sockets of this epoch may still be open until the next one ends.
    count(
        app,
        keys::socket_count(&hash, epoch),
        (epoch + 2) * len,
        room,
    )
    .await
}

/// `$disconnect` (or a `$connect` that failed after counting): takes the socket
/// off the counter it was counted in. One conditional `UpdateItem`.
pub async fn close_socket(app: &App, addr: &str, connected_at_ms: i64) -> Result<(), StoreError> {
    if app.settings.limits.max_sockets_per_address == 0 {
        return Ok(());
    }
    let (epoch, _) = epoch_of(app, connected_at_ms);
    let op = app.store.update_op(
        Table::Groups,
        keys::socket_count(&address_hash(app, addr), epoch),
        "ADD #n :minus",
        Some("#n > :zero"),
        vec![(":minus", n(-1)), (":zero", n(0))],
    );
    match app.store.update(op).await {
        // Not counted (the cap was off, or the counter is gone): nothing to take off.
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err),
    }
}
