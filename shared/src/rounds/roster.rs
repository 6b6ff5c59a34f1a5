//! The round-robin roster fixed when rounds start, kept as one item per circle.

use crate::app::App;
use crate::db::attr::{n, opt_n, opt_s, s, string_list, strings};
use crate::db::{StoreError, Table, keys};
use crate::model::Circle;
pub(super) use crate::rules::schedule::Roster;

pub(super) async fn load_roster(app: &App, cid: &str) -> Result<Option<Roster>, StoreError> {
    let item = app
        .store
        .get(Table::Groups, keys::roster(cid), true)
        .await?;
    Ok(item.map(|i| Roster {
        mids: string_list(&i, "mids"),
        base: u32::try_from(opt_n(&i, "base").unwrap_or(1)).unwrap_or(1),
        on_schedule: opt_n(&i, "sched").unwrap_or(0) == 1,
        sat_out: opt_s(&i, "sat_out"),
    }))
}

pub(super) async fn save_roster(
    app: &App,
    circle: &Circle,
    roster: &Roster,
) -> Result<(), StoreError> {
    let mut item = keys::roster(&circle.cid);
    item.extend([
        ("mids".into(), strings(roster.mids.clone())),
        ("base".into(), n(i64::from(roster.base))),
        ("sched".into(), n(i64::from(roster.on_schedule))),
        ("expires_at".into(), n(circle.expires_at)),
    ]);
    if let Some(m) = &roster.sat_out {
        item.insert("sat_out".into(), s(m));
    }
    app.store
        .put(app.store.put_op(Table::Groups, item, None, vec![]))
        .await
}
