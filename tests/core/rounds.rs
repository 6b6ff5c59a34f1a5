//! Rounds and prompts (docs/design.md Part 2): the organiser starts timed rounds;
//! at each end (the timer, on a hand-moved clock) every room ends with
//! `round_over` and everyone is paired again, meeting new people first.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use circle_shared::protocol::{RoundInfo, ServerEvent};
use circle_tests::{Created, Harness, member_secret};
use serde_json::json;

/// `n` members of one circle, joined in turn (so paired two by two).
pub(crate) struct Crowd {
    pub(crate) h: Harness,
    pub(crate) c: Created,
    pub(crate) conns: Vec<String>,
}

pub(crate) async fn crowd(n: usize) -> Crowd {
    let h = Harness::new().await;
    let c = h.circle("rounds").await;
    let mut conns = Vec::new();
    for i in 0..n {
        let conn = h.connect().await;
        h.join_as(&conn, &c.code, &format!("p{i}"), &member_secret(i))
            .await;
        conns.push(conn);
    }
    Crowd { h, c, conns }
}

/// The organiser starts rounds of `minutes`: round 1 begins.
pub(crate) async fn start_rounds(h: &Harness, c: &Created, minutes: u32) {
    let res = h
        .http(
            "POST",
            &format!("/groups/{}/rounds", c.code),
            Some(json!({ "minutes": minutes })),
            Some(&c.key),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["round"]["number"], 1);
}

impl Crowd {
    async fn start(&self, minutes: u32) {
        start_rounds(&self.h, &self.c, minutes).await;
    }

    /// Who each connection is paired with now (by connection).
    fn partners(&self) -> HashMap<String, String> {
        let mut by_room: HashMap<String, Vec<String>> = HashMap::new();
        for c in &self.conns {
            if let Some(room) = self.h.current_room(c) {
                by_room.entry(room).or_default().push(c.clone());
            }
        }
        let mut out = HashMap::new();
        for pair in by_room.values() {
            assert_eq!(pair.len(), 2, "{pair:?}");
            out.insert(pair[0].clone(), pair[1].clone());
            out.insert(pair[1].clone(), pair[0].clone());
        }
        out
    }

    fn events(&self, conn: &str, pick: impl Fn(&ServerEvent) -> bool) -> usize {
        self.h
            .gateway
            .events(conn)
            .iter()
            .filter(|e| pick(e))
            .count()
    }

    async fn end_round(&self) {
        self.h.advance(Duration::from_secs(5 * 60)).await;
    }
}

fn pair_key(a: &str, b: &str) -> (String, String) {
    if a < b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

#[tokio::test]
async fn twenty_members_go_through_rounds_meeting_new_people() {
    let cr = crowd(20).await;
    let before_rounds = cr.partners();
    assert_eq!(
        before_rounds.len(),
        20,
        "everyone chats before rounds start"
    );
    let mut met: HashSet<(String, String)> =
        before_rounds.iter().map(|(a, b)| pair_key(a, b)).collect();

    cr.start(5).await;
    for c in &cr.conns {
        // Rooms from before rounds ended with round_over 0, then round 1 began.
        assert_eq!(
            cr.events(c, |e| matches!(e, ServerEvent::RoundOver { number: 0, .. })),
            1
        );
        assert_eq!(
            cr.events(c, |e| matches!(
                e,
                ServerEvent::Round(RoundInfo { number: 1, .. })
            )),
            1
        );
        match cr.h.join_rooms(c).last() {
            Some(ServerEvent::JoinRoom {
                ends_at,
                seconds_left,
                prompt,
                ..
            }) => {
                assert!(
                    ends_at.is_some() && seconds_left == &Some(300),
                    "{ends_at:?} {seconds_left:?}"
                );
                assert!(!prompt.is_empty());
            }
            other => panic!("{c}: {other:?}"),
        }
    }
    let mut previous = cr.partners();
    assert_eq!(previous.len(), 20);
    for (a, b) in &previous {
        assert!(!met.contains(&pair_key(a, b)), "round 1 pairs new people");
        // Both members of a room share the prompt.
        let prompt = |c: &str| match cr.h.join_rooms(c).last() {
            Some(ServerEvent::JoinRoom { prompt, .. }) => prompt.clone(),
            _ => unreachable!(),
        };
        assert_eq!(prompt(a), prompt(b));
    }
    cr.h.assert_invariants().await;

    for round in 2..=4u32 {
        met.extend(previous.iter().map(|(a, b)| pair_key(a, b)));
        cr.end_round().await;
        let now = cr.partners();
        assert_eq!(now.len(), 20, "round {round}: everyone paired");
        for (a, b) in &now {
            assert!(
                !met.contains(&pair_key(a, b)),
                "round {round}: {a} met {b} before"
            );
        }
        for c in &cr.conns {
            assert_eq!(
                cr.events(
                    c,
                    |e| matches!(e, ServerEvent::RoundOver { number, .. } if *number == round - 1)
                ),
                1,
                "{c}: round {} ended",
                round - 1
            );
            assert_eq!(
                cr.events(c, |e| matches!(e, ServerEvent::Round(RoundInfo { number, .. }) if *number == round)),
                1
            );
        }
        cr.h.assert_invariants().await;
        previous = now;
    }

    // Stopping rounds stops re-pairing: rooms go on as ordinary chats.
    let stopped =
        cr.h.http(
            "DELETE",
            &format!("/groups/{}/rounds", cr.c.code),
            None,
            Some(&cr.c.key),
        )
        .await;
    assert_eq!(stopped.status, 200);
    assert_eq!(stopped.body["round"]["active"], false);
    for c in &cr.conns {
        assert!(matches!(
            cr.h.gateway.events(c).last(),
            Some(ServerEvent::Round(RoundInfo { number: 0, .. }))
        ));
    }
    cr.end_round().await;
    assert_eq!(cr.partners(), previous, "no re-pairing after the stop");
    cr.h.assert_invariants().await;
}

#[tokio::test]
async fn a_stable_even_circle_meets_everyone_exactly_once_in_n_minus_1_rounds() {
    // Members chat before rounds start; only meetings within rounds count.
    for n in [6usize, 8] {
        let h = Harness::new().await;
        let c = h.circle("robin").await;
        let mut conns = Vec::new();
        for i in 0..n {
            let conn = h.connect().await;
            conns.push(conn);
            let _ = i;
        }
        for (i, conn) in conns.iter().enumerate() {
            h.join_as(conn, &c.code, &format!("p{i}"), &member_secret(i))
                .await;
        }
        let cr = Crowd { h, c, conns };
        cr.start(5).await;
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for round in 1..n {
            let p = cr.partners();
            assert_eq!(p.len(), n, "round {round}: everyone paired");
            for (a, b) in &p {
                if a < b {
                    assert!(
                        seen.insert(pair_key(a, b)),
                        "round {round}: {a} and {b} met twice"
                    );
                }
            }
            cr.end_round().await;
        }
        assert_eq!(seen.len(), n * (n - 1) / 2, "everyone met everyone");
        cr.h.assert_invariants().await;
    }
}

#[tokio::test]
async fn an_odd_member_waits_and_is_paired_first_next_round() {
    let cr = crowd(5).await;
    cr.start(5).await;
    let p = cr.partners();
    assert_eq!(p.len(), 4);
    let odd = cr
        .conns
        .iter()
        .find(|c| !p.contains_key(*c))
        .expect("one sits out")
        .clone();
    let lobby: Vec<String> =
        cr.h.lobby_entries()
            .await
            .into_values()
            .flatten()
            .map(|e| e.conn)
            .collect();
    assert_eq!(
        lobby,
        std::slice::from_ref(&odd),
        "the odd one waits in the lobby"
    );
    cr.h.assert_invariants().await;
    cr.end_round().await;
    assert!(
        cr.partners().contains_key(&odd),
        "the odd one is paired next round"
    );
    cr.h.assert_invariants().await;
}

#[tokio::test]
async fn someone_arriving_mid_round_is_paired_until_the_rounds_end() {
    let cr = crowd(4).await;
    cr.start(10).await;
    cr.h.clock.advance(Duration::from_secs(4 * 60));
    let (x, y) = (cr.h.connect().await, cr.h.connect().await);
    cr.h.join_as(&x, &cr.c.code, "X", &member_secret(50)).await;
    cr.h.join_as(&y, &cr.c.code, "Y", &member_secret(51)).await;
    // The waiter learns about the round under way.
    assert!(matches!(
        cr.h.gateway.events(&x).first(),
        Some(ServerEvent::Waiting {
            round: Some(RoundInfo { number: 1, .. }),
            ..
        })
    ));
    match cr.h.join_rooms(&y).last() {
        Some(ServerEvent::JoinRoom { seconds_left, .. }) => assert_eq!(*seconds_left, Some(6 * 60)),
        other => panic!("{other:?}"),
    }
    cr.h.advance(Duration::from_secs(6 * 60)).await;
    assert!(
        cr.h.gateway
            .events(&y)
            .iter()
            .any(|e| matches!(e, ServerEvent::RoundOver { number: 1, .. }))
    );
    cr.h.assert_invariants().await;
}

#[tokio::test]
async fn round_lengths_are_checked() {
    let cr = crowd(2).await;
    for bad in [
        json!({"minutes": 1}),
        json!({"minutes": 31}),
        json!({"minutes": "5"}),
        json!({}),
    ] {
        let res =
            cr.h.http(
                "POST",
                &format!("/groups/{}/rounds", cr.c.code),
                Some(bad),
                Some(&cr.c.key),
            )
            .await;
        assert_eq!(
            (res.status, res.body["field"].clone()),
            (400, json!("minutes"))
        );
    }
}
