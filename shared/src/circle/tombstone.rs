//! What became of a code that no longer admits anyone: replaced by a new code
//! (`code_changed`) or its circle closed (`circle_closed`). A tombstone holds
//! the code's keyed hash as its key, that word, whether the connections that
//! came in with it were evicted, and the circle's original end as its TTL:
//! no name, no id, no code. A closed circle's organiser key index stays as a
//! tombstone too (`closed`, without `cid`), so the organiser link says
//! "closed" rather than "wrong key".

use aws_sdk_dynamodb::types::Put;

use crate::app::App;
use crate::db::attr::{b, n, opt_b, opt_n, opt_s, s};
use crate::db::{StoreError, Table, keys};
use crate::secrets::domain;

/// What became of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The organiser replaced it with a new code.
    CodeChanged,
    /// The organiser closed the circle.
    CircleClosed,
}

impl Ended {
    /// The protocol's word for it (`error` code, HTTP `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodeChanged => "code_changed",
            Self::CircleClosed => "circle_closed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "code_changed" => Some(Self::CodeChanged),
            "circle_closed" => Some(Self::CircleClosed),
            _ => None,
        }
    }
}

/// A live tombstone as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// What became of the code.
    pub ended: Ended,
    /// Whether the connections that came in with it were closed (`evict`).
    pub evicted: bool,
}

/// The put that leaves a tombstone for `code` (normalised, as
/// `AccessCode::as_str`), expiring at the circle's original end.
pub fn put_op(app: &App, code: &str, ended: Ended, evicted: bool, expires_at: i64) -> Put {
    let hash = app.settings.hash_key.hash(domain::CODE, code);
    let mut item = keys::tombstone(&hash);
    item.extend([
        ("why".into(), s(ended.as_str())),
        ("expires_at".into(), n(expires_at)),
    ]);
    if evicted {
        item.insert("ev".into(), b(true));
    }
    app.store.put_op(Table::Groups, item, None, vec![])
}

/// The tombstone of `code`, if one is live (one strongly consistent read).
pub async fn find(app: &App, code: &str) -> Result<Option<Tombstone>, StoreError> {
    let hash = app.settings.hash_key.hash(domain::CODE, code);
    let Some(item) = app
        .store
        .get(Table::Groups, keys::tombstone(&hash), true)
        .await?
    else {
        return Ok(None);
    };
    // TTL deletion runs late: an item past its end is gone already.
    if opt_n(&item, "expires_at").unwrap_or(0) <= app.now_secs() {
        return Ok(None);
    }
    Ok(opt_s(&item, "why")
        .and_then(|w| Ended::parse(&w))
        .map(|ended| Tombstone {
            ended,
            evicted: opt_b(&item, "ev").unwrap_or(false),
        }))
}

/// The organiser key index of a closed circle: only `closed` and the TTL.
pub fn closed_key_op(app: &App, organizer_hash: &str, expires_at: i64) -> Put {
    let mut item = keys::organizer(organizer_hash);
    item.extend([
        ("closed".into(), b(true)),
        ("expires_at".into(), n(expires_at)),
    ]);
    app.store.put_op(Table::Groups, item, None, vec![])
}

/// Whether an organiser key index item is a closed circle's tombstone.
pub fn is_closed_key(app: &App, item: &crate::db::Item) -> bool {
    opt_b(item, "closed").unwrap_or(false)
        && opt_n(item, "expires_at").unwrap_or(0) > app.now_secs()
}
