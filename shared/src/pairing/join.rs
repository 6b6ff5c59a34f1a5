//! `$connect` and `join_group`: where a join starts. A join reads the circle,
//! its own record and its member record in one `BatchGetItem` (the member's key
//! is known up front when the client names the circle's id), works out who the
//! joiner is and where it was (`Prior`), and hands over to `seek.rs`.
//! "Next" (`requeue`) and a round's leftovers (`seek_for_round`) enter here too.

use super::member::{Joiner, anonymous_member, check_removed, load_member};
use super::ops::*;
use super::prior::Prior;
use super::seek::seek;
use crate::activity::{self, Tally};
use crate::app::App;
use crate::circle::{self, tombstone, tombstone::Ended};
use crate::code::AccessCode;
use crate::db::{Table, keys};
use crate::error::ActionError;
use crate::model::{Circle, ConnState, Connection, Member};
use crate::ratelimit::Kind;

/// `$connect`: a fresh idle record that expires after API Gateway's 2 h maximum.
pub async fn connect(app: &App, conn_id: &str) -> Result<(), ActionError> {
    let now_ms = app.now_ms();
    let ttl = i64::try_from(app.settings.connection_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let conn = Connection::new(conn_id, now_ms, now_ms.div_euclid(1000) + ttl);
    let op = app
        .store
        .put_op(Table::Connections, conn.to_item(), None, vec![]);
    app.store.put(op).await?;
    Ok(())
}

/// A `join_group` as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct JoinRequest<'a> {
    /// `access_code`, as typed.
    pub access_code: &'a str,
    /// The display name, already cleaned (trimmed, cut, "Anonymous" when blank).
    pub name: &'a str,
    /// The client's `member` secret, if it sent one (shape already checked).
    pub member: Option<&'a str>,
    /// The circle's stable id as the client believes it.
    pub circle: Option<&'a str>,
    /// `label`: one of the circle's labels (required when it has any).
    pub label: Option<&'a str>,
}

/// `join_group`: enter the circle's lobby, then get paired (or wait).
pub async fn join(app: &App, conn_id: &str, req: JoinRequest<'_>) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::Join).await?;
    let code = AccessCode::parse(req.access_code).ok_or(ActionError::CircleNotFound)?;
    let hinted = match (req.circle, req.member) {
        (Some(cid), Some(secret)) => {
            Some((cid.to_owned(), app.settings.hash_key.member_id(cid, secret)))
        }
        _ => None,
    };
    let mut wanted = vec![
        (Table::Groups, keys::circle(code.as_str()), true),
        (Table::Connections, keys::connection(conn_id), false),
    ];
    if let Some((cid, mid)) = &hinted {
        wanted.push((Table::Groups, keys::member(cid, mid), true));
    }
    let got = app.store.batch_get(&wanted).await?;
    let mut conn = parse_connection(app, got[1].as_ref())?.ok_or(ActionError::UnknownConnection)?;
    if conn.throttled_until > app.now_ms() {
        return Err(ActionError::RateLimited);
    }
    let circle = match got[0].as_ref() {
        Some(item) => {
            let c = Circle::from_item(item)?;
            if c.is_expired(app.now_secs()) {
                return Err(ActionError::CircleExpired);
            }
            c
        }
        // A code since replaced still works for whoever came in with it on
        // this connection: waiting, chatting, or between chats ("Find
        // someone new" after a partner left), unless the organiser evicted
        // its connections. A new connection can't use it: its tombstone says
        // what became of it.
        None => {
            let (live, tomb) = match (&conn.cid, &conn.code) {
                (Some(cid), Some(c)) if c == code.as_str() => tokio::try_join!(
                    circle::get_by_cid(app, cid),
                    tombstone::find(app, code.as_str())
                )?,
                _ => (None, tombstone::find(app, code.as_str()).await?),
            };
            match (live, tomb) {
                (Some(c), t) if !t.is_some_and(|t| t.evicted) => c,
                (_, Some(t)) if t.ended == Ended::CircleClosed => {
                    return Err(ActionError::CircleClosed);
                }
                (_, Some(_)) => return Err(ActionError::CodeChanged),
                (_, None) => return Err(ActionError::CircleNotFound),
            }
        }
    };
    let in_this_circle = conn.cid.as_deref() == Some(circle.cid.as_str());
    // Sitting out belongs to the circle it was chosen in: entering another
    // circle starts with it off.
    if conn.sitting_out && !in_this_circle {
        super::ops::stop_sitting_out(app, &conn).await?;
        conn.sitting_out = false;
    }
    let mid = match req.member {
        Some(secret) => app.settings.hash_key.member_id(&circle.cid, secret),
        None => match (&conn.mid, in_this_circle) {
            (Some(mid), true) => mid.clone(),
            _ => anonymous_member(),
        },
    };
    let member = match (&hinted, got.get(2)) {
        (Some((cid, hmid)), Some(item)) if *cid == circle.cid && *hmid == mid => {
            check_removed(item.as_ref().map(Member::from_item).transpose()?)?
        }
        _ if req.member.is_some() || in_this_circle => load_member(app, &circle.cid, &mid).await?,
        _ => None,
    };
    let prior = match Prior::of(&conn) {
        // Sitting out: nobody is paired; the answer says why (`sit_out` off pairs again).
        Some(_) if conn.sitting_out => return still_out(app, conn_id).await,
        Some(prior) => prior,
        // Already where a join leads: a keep-alive join that crossed the pairing.
        None if in_this_circle && matches!(conn.state, ConnState::Paired { .. }) => return Ok(()),
        None => return Err(ActionError::AlreadyInRoom),
    };
    let expires_at = conn.expires_at.min(circle.expires_at);
    let label = super::labels::of_join(&circle, &conn, in_this_circle, req.label)?;
    let joiner = Joiner {
        label,
        conn: conn_id.to_owned(),
        name: req.name.to_owned(),
        mid,
        member,
        avoid: conn.avoid.clone(),
        avoid_until: conn.avoid_until,
        code: code.as_str().to_owned(),
        expires_at,
    };
    let keep_alive = in_this_circle && matches!(conn.state, ConnState::Waiting { .. });
    // Boxed: the pairing loop is a large future, and every route that joins awaits it.
    Box::pin(seek(app, &circle, joiner, prior, keep_alive)).await?;
    if !in_this_circle {
        // A connection entering the circle (not a keep-alive), after the commit.
        let _ = activity::tally_until(app, &circle.cid, circle.expires_at, None, Tally::Join).await;
    }
    Ok(())
}

/// Goes back into the lobby of the circle a connection was just in ("Next"),
/// as the identity its record holds.
pub(crate) async fn requeue(app: &App, conn: &Connection) -> Result<(), ActionError> {
    let (Some(cid), Some(mid)) = (&conn.cid, &conn.mid) else {
        return Err(ActionError::NotInRoom);
    };
    if conn.sitting_out {
        return still_out(app, &conn.connection_id).await;
    }
    let circle = circle::get_by_cid(app, cid)
        .await?
        .ok_or(ActionError::CircleNotFound)?;
    let member = load_member(app, cid, mid).await?;
    let joiner = Joiner {
        label: super::labels::of_record(&circle, conn),
        conn: conn.connection_id.clone(),
        name: conn
            .name
            .clone()
            .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned()),
        mid: mid.clone(),
        member,
        avoid: conn.avoid.clone(),
        avoid_until: conn.avoid_until,
        code: conn
            .code
            .clone()
            .unwrap_or_else(|| circle.code.as_str().to_owned()),
        expires_at: conn.expires_at.min(circle.expires_at),
    };
    Box::pin(seek(app, &circle, joiner, Prior::Idle, false)).await
}

/// The answer to a `join_group` or "Next" while sitting out (`sit_out`):
/// nobody is paired.
async fn still_out(app: &App, conn_id: &str) -> Result<(), ActionError> {
    let out = crate::protocol::ServerEvent::SitOut { on: true };
    let _ = send(app, conn_id, &out).await;
    Ok(())
}

/// Puts someone a round left over into the lobby (pairing them if someone
/// compatible is already there).
pub(crate) async fn seek_for_round(
    app: &App,
    circle: &Circle,
    me: Joiner,
    prior: Prior,
) -> Result<(), ActionError> {
    Box::pin(seek(app, circle, me, prior, false)).await
}
