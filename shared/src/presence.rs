//! Who is connected to a circle: the connections table's `by_circle` index,
//! read shard by shard. Eventually consistent (an index read is): used for
//! notices to everyone (rounds, closing), the organiser's counts and removal,
//! never to decide a pairing.

use crate::app::App;
use crate::db::keys::{self, BY_CIRCLE_INDEX, PRESENCE_SHARDS};
use crate::db::{QuerySpec, StoreError, Table};
use crate::model::Connection;

/// Most connections read per circle (a bound, not a product limit).
pub const MAX_CONNECTIONS: usize = 200_000;

/// Every live connection that joined the circle `cid`.
pub async fn connections(app: &App, cid: &str) -> Result<Vec<Connection>, StoreError> {
    read(app, cid, false).await
}

/// Every connection that joined the circle `cid`, those whose TTL is up
/// included (a connection's TTL is at most its circle's end, so at the end
/// they all are): for telling them the circle ended.
pub async fn connections_at_end(app: &App, cid: &str) -> Result<Vec<Connection>, StoreError> {
    read(app, cid, true).await
}

async fn read(app: &App, cid: &str, with_expired: bool) -> Result<Vec<Connection>, StoreError> {
    let reads = (0..PRESENCE_SHARDS).map(|k| {
        let mut q = QuerySpec::partition(Table::Connections, "ck", format!("{cid}#{k}"));
        q.index = Some(BY_CIRCLE_INDEX);
        q.consistent = false;
        app.store.query_all(q, MAX_CONNECTIONS)
    });
    let now = app.now_secs();
    let mut out = Vec::new();
    for items in futures_util::future::try_join_all(reads).await? {
        for item in items {
            let conn = Connection::from_item(&item)?;
            if (with_expired || !conn.is_expired(now)) && conn.cid.as_deref() == Some(cid) {
                out.push(conn);
            }
        }
    }
    Ok(out)
}

/// The `by_circle` key a connection has in `cid` (re-exported for tests).
pub fn key(cid: &str, conn_id: &str) -> String {
    keys::presence_key(cid, conn_id)
}
