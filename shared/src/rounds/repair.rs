//! A round change: end every open room of the circle (each once), tell
//! everyone, plan the pairs (`rules::schedule`) of everyone present (waiting,
//! just out of a room, or idle between chats; not those sitting out), pair
//! them, and put the odd ones out through the lobby.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::StreamExt;

use super::FAN_OUT;
use super::roster::{Roster, load_roster, save_roster};
use crate::app::App;
use crate::db::{StoreError, Table, Tx, keys};
use crate::error::ActionError;
use crate::model::{Circle, ConnState, Connection, Member};
use crate::pairing::{self, Identity, Joiner, NewRoom, Prior};
use crate::presence;
use crate::protocol::ServerEvent;
use crate::rules::schedule::{arrange, plan};

/// Someone in a round change: a connection that was waiting, idle, or whose room just ended.
#[derive(Debug, Clone)]
struct Person {
    conn: Connection,
    prior: Prior,
}

impl Person {
    fn mid(&self) -> &str {
        self.conn.mid.as_deref().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.conn
            .name
            .as_deref()
            .unwrap_or(crate::protocol::ANONYMOUS)
    }
}

/// Ends every open room of the circle and pairs everyone present for the
/// circle's current round.
pub(super) async fn repair(app: &App, circle: &Circle, first: bool) -> Result<(), ActionError> {
    let conns = presence::connections(app, &circle.cid).await?;
    let mut notices: Vec<(String, ServerEvent)> = Vec::new();
    let mut people: Vec<Person> = Vec::new();
    let by_id: HashMap<&str, &Connection> = conns
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect();

    // End every open room: each once, from a side still connected.
    let mut ended = BTreeSet::new();
    let mut endings = Vec::new();
    for c in &conns {
        if let ConnState::Paired {
            room,
            partner_away_until,
        } = &c.state
            && ended.insert(room.room.clone())
        {
            endings.push((c, room.clone(), *partner_away_until > 0));
        }
    }
    let jobs: Vec<_> = endings
        .into_iter()
        .map(|(c, room, away)| async move {
            let mut tx = Tx::new();
            pairing::end_both(app, &mut tx, c, &room, away);
            let result = app.store.transact(tx).await;
            (c, room, away, result)
        })
        .collect();
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .buffer_unordered(FAN_OUT)
        .collect()
        .await;
    for (c, room, away, result) in results {
        if let Err(err) = result {
            tracing::info!(error = %err, room = %room.room, "a room changed before its round ended");
            continue;
        }
        let number = if first { 0 } else { room.round };
        let over = ServerEvent::RoundOver {
            room: room.room.clone(),
            number,
        };
        notices.push((c.connection_id.clone(), over.clone()));
        people.push(Person {
            conn: c.clone(),
            prior: Prior::Idle,
        });
        if !away && let Some(p) = by_id.get(room.partner.as_str()) {
            notices.push((p.connection_id.clone(), over));
            people.push(Person {
                conn: (*p).clone(),
                prior: Prior::Idle,
            });
        }
    }
    for c in &conns {
        match &c.state {
            ConnState::Waiting { ticket, shard } => people.push(Person {
                conn: c.clone(),
                prior: Prior::Waiting {
                    ticket: ticket.clone(),
                    entry: Some((circle.cid.clone(), *shard)),
                },
            }),
            // Between chats (the "chat ended" screen): paired like everyone.
            ConnState::Idle if c.mid.is_some() => people.push(Person {
                conn: c.clone(),
                prior: Prior::Idle,
            }),
            _ => {}
        }
    }
    // Those sitting out are left out (their rooms still end). A record read
    // before `sit_out` committed is refused by its pairing's condition.
    people.retain(|p| !p.conn.sitting_out);
    // A connection is one person, however the index listed it (a room seen
    // from both sides, or a stale copy of a record that changed meanwhile).
    let mut seen_conns = HashSet::new();
    people.retain(|p| seen_conns.insert(p.conn.connection_id.clone()));
    // Everyone connected hears the round start, after their room's end.
    let info = pairing::round_info(app, &circle.round);
    for c in &conns {
        notices.push((c.connection_id.clone(), ServerEvent::Round(info.clone())));
    }
    broadcast(app, notices).await;

    // Plan the pairs.
    let members = load_members(app, circle, &people).await?;
    let mut roster = match load_roster(app, &circle.cid).await? {
        Some(r) if !first => r,
        _ => Roster {
            mids: {
                let mut m: Vec<String> = people.iter().map(|p| p.mid().to_owned()).collect();
                m.sort();
                m.dedup();
                arrange(m, &members)
            },
            base: circle.round.number,
            on_schedule: true,
            sat_out: None,
        },
    };
    let mids: Vec<&str> = people.iter().map(Person::mid).collect();
    let (pairs, left, scheduled) = {
        let labels: Vec<Option<&str>> = people
            .iter()
            .map(|p| circle.labels.pick(p.conn.label.as_deref()))
            .collect();
        let round_labels = circle.labels.active().map(|m| (m, labels.as_slice()));
        plan(&mids, &members, &roster, circle.round.number, round_labels)
    };
    roster.on_schedule &= scheduled;
    roster.sat_out = left.first().map(|i| people[*i].mid().to_owned());
    save_roster(app, circle, &roster).await?;

    // Pair them, then put the odd ones out in the lobby.
    let jobs: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| pair_two(app, circle, &people[a], &people[b], &members))
        .collect();
    let paired: Vec<bool> = futures_util::stream::iter(jobs)
        .buffered(FAN_OUT)
        .collect()
        .await;
    // A pair whose records changed since they were read (a leave, a drop, a
    // stale index entry) is not lost for the round: both go through the lobby
    // like the odd one out, which re-reads their records.
    let mut left = left;
    for (&(a, b), ok) in pairs.iter().zip(&paired) {
        if !ok {
            left.extend([a, b]);
        }
    }
    tracing::info!(
        cid = %circle.cid,
        round = circle.round.number,
        people = people.len(),
        pairs = paired.iter().filter(|ok| **ok).count(),
        "round paired"
    );
    for i in left {
        let p = &people[i];
        let joiner = Joiner {
            label: pairing::label_of_record(circle, &p.conn),
            conn: p.conn.connection_id.clone(),
            name: p.name().to_owned(),
            mid: p.mid().to_owned(),
            member: members.get(p.mid()).cloned(),
            avoid: None,
            avoid_until: 0,
            code: p
                .conn
                .code
                .clone()
                .unwrap_or_else(|| circle.code.as_str().to_owned()),
            expires_at: p.conn.expires_at.min(circle.expires_at),
        };
        if let Err(err) = pairing::seek_for_round(app, circle, joiner, p.prior.clone()).await {
            tracing::info!(error = %err, "odd one out could not wait");
        }
    }
    Ok(())
}

async fn load_members(
    app: &App,
    circle: &Circle,
    people: &[Person],
) -> Result<HashMap<String, Member>, StoreError> {
    let keys: Vec<_> = people
        .iter()
        .map(|p| (Table::Groups, keys::member(&circle.cid, p.mid()), true))
        .collect();
    let mut out = HashMap::new();
    for chunk in keys.chunks(100) {
        for item in app.store.batch_get(chunk).await?.into_iter().flatten() {
            let m = Member::from_item(&item)?;
            out.insert(m.mid.clone(), m);
        }
    }
    Ok(out)
}

/// Pairs two people for a round in one transaction and tells them. `false` if
/// either moved on meanwhile (they are then left to ordinary pairing).
async fn pair_two(
    app: &App,
    circle: &Circle,
    a: &Person,
    b: &Person,
    members: &HashMap<String, Member>,
) -> bool {
    let room = NewRoom::new(app, circle);
    let side_a = room.side(app, 0, &b.conn.connection_id, b.name(), b.mid());
    let side_b = room.side(app, 1, &a.conn.connection_id, a.name(), a.mid());
    let identity = |p: &'_ Person| -> (String, i64) {
        (
            p.conn
                .code
                .clone()
                .unwrap_or_else(|| circle.code.as_str().to_owned()),
            p.conn.expires_at.min(circle.expires_at),
        )
    };
    fn label<'p>(circle: &Circle, p: &'p Person) -> Option<&'p str> {
        circle.labels.pick(p.conn.label.as_deref())
    }
    let (code_a, exp_a) = identity(a);
    let (code_b, exp_b) = identity(b);
    let who_a = Identity {
        cid: &circle.cid,
        code: &code_a,
        mid: a.mid(),
        name: a.name(),
        expires_at: exp_a,
        circle_expires_at: circle.expires_at,
        label: None,
    };
    let who_b = Identity {
        cid: &circle.cid,
        code: &code_b,
        mid: b.mid(),
        name: b.name(),
        expires_at: exp_b,
        circle_expires_at: circle.expires_at,
        label: None,
    };
    let (cond_a, vals_a) = a.prior.condition();
    let (cond_b, vals_b) = b.prior.condition();
    let mut tx = Tx::new();
    let op = pairing::to_paired(app, &a.conn.connection_id, &who_a, &side_a, cond_a, vals_a);
    tx.update("a's record", op);
    let op = pairing::to_paired(app, &b.conn.connection_id, &who_b, &side_b, cond_b, vals_b);
    tx.update("b's record", op);
    for (me, other) in [(a, b), (b, a)] {
        let known = members.get(me.mid());
        let op = pairing::member_met(
            app,
            &circle.cid,
            me.mid(),
            other.mid(),
            known,
            circle.expires_at,
            None,
        );
        tx.update("a member", op);
    }
    for p in [a, b] {
        p.prior.exit_lobby(app, &mut tx, false);
    }
    if let Err(err) = app.store.transact(tx).await {
        tracing::info!(error = %err, "a round pair changed before it could be paired");
        return false;
    }
    let _ = futures_util::future::join3(
        pairing::send(
            app,
            &a.conn.connection_id,
            &room.event(app, 0, a.name(), b.name(), label(circle, b)),
        ),
        pairing::send(
            app,
            &b.conn.connection_id,
            &room.event(app, 1, b.name(), a.name(), label(circle, a)),
        ),
        pairing::add_counts(
            app,
            circle,
            1,
            0,
            pairing::Share::of(label(circle, a), label(circle, b)),
        ),
    )
    .await;
    true
}

/// Sends events, many at once.
pub(super) async fn broadcast(app: &App, events: impl IntoIterator<Item = (String, ServerEvent)>) {
    let jobs: Vec<_> = events
        .into_iter()
        .map(|(conn, event)| async move { pairing::send(app, &conn, &event).await })
        .collect();
    futures_util::stream::iter(jobs)
        .buffer_unordered(FAN_OUT)
        .collect::<Vec<_>>()
        .await;
}
