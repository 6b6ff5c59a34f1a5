//! After a chat, on the current or a recent room: one-tap feedback (counted
//! once per side, never who rated whom) and keep in touch (both sides, one
//! side only, both at once, expiry, never shown to the organiser).

use std::time::Duration;

use circle_shared::activity;
use circle_shared::db::Table;
use circle_shared::db::attr::opt_s;
use circle_shared::protocol::{ErrorCode, ServerEvent};
use circle_tests::Harness;
use serde_json::json;

use crate::recent::{act, codes, last, mid, rooms_with, view};

#[tokio::test]
async fn feedback_counts_once_per_side_per_room_and_refuses_bad_input() {
    let h = Harness::new().await;
    let c = h.circle("fb").await;
    let (me, rooms, partners) = rooms_with(&h, &c, 1).await;
    let room = &rooms[0];
    let fb = |rating: &str| json!({"action":"feedback","room":room,"rating":rating});
    act(&h, &me, fb("good")).await;
    assert_eq!(
        last(&h, &me),
        Some(ServerEvent::Feedback { room: room.clone() })
    );
    act(&h, &me, fb("meh")).await;
    assert_eq!(
        last(&h, &me),
        Some(ServerEvent::Feedback { room: room.clone() })
    );
    h.leave(&partners[0], room, false).await;
    // After the room ended: still once.
    act(&h, &me, fb("good")).await;
    act(&h, &partners[0], fb("meh")).await;
    act(&h, &partners[0], fb("meh")).await;
    assert_eq!(
        activity::read(&h.app, &c.id)
            .await
            .expect("read")
            .feedback(),
        (1, 1)
    );
    h.send(&me, fb("great")).await;
    h.send(&me, json!({"action":"feedback","room":room})).await;
    h.send(
        &me,
        json!({"action":"feedback","room":"nope","rating":"good"}),
    )
    .await;
    assert_eq!(
        codes(&h, &me),
        [
            ErrorCode::BadRequest,
            ErrorCode::BadRequest,
            ErrorCode::NotInRoom
        ]
    );
}

#[tokio::test]
async fn no_record_links_a_rating_to_a_person() {
    let h = Harness::new().await;
    let c = h.circle("anon").await;
    let (me, rooms, partners) = rooms_with(&h, &c, 2).await;
    act(
        &h,
        &me,
        json!({"action":"feedback","room":rooms[0],"rating":"good"}),
    )
    .await;
    act(
        &h,
        &partners[1],
        json!({"action":"feedback","room":rooms[1],"rating":"meh"}),
    )
    .await;
    let people: Vec<String> = (1..=3)
        .map(|n| mid(&h, &c, n))
        .chain(["Me", "P0", "P1"].map(str::to_owned))
        .chain(rooms.iter().cloned())
        .chain([me.clone(), partners[0].clone(), partners[1].clone()])
        .collect();
    let mut counted = 0;
    for table in [Table::Groups, Table::Connections] {
        for item in h.scan(table).await {
            let text = format!("{item:?}");
            let rates = ["g", "mh"].iter().any(|a| item.contains_key(*a))
                || text.contains("\"good\"")
                || text.contains("\"meh\"");
            if rates {
                counted += 1;
                for who in &people {
                    assert!(
                        !text.contains(who.as_str()),
                        "{who} beside a rating: {text}"
                    );
                }
            }
            let pk = opt_s(&item, "pk").unwrap_or_default();
            if pk.starts_with("FB#") {
                // A mark that a side rated: no rating, no member, no name.
                let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
                keys.sort_unstable();
                assert_eq!(keys, ["expires_at", "pk", "sk"]);
            }
        }
    }
    assert!(counted > 0, "the counts are stored");
}

fn contacts(h: &Harness, conn: &str) -> Vec<String> {
    h.gateway
        .events(conn)
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Contact { contact, .. } => Some(contact),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn keep_in_touch_from_both_sides_exchanges_the_lines_once() {
    let h = Harness::new().await;
    let c = h.circle("kit").await;
    let (me, rooms, partners) = rooms_with(&h, &c, 1).await;
    let (room, p) = (&rooms[0], &partners[0]);
    let before = h.app.metrics.snapshot();
    act(
        &h,
        &me,
        json!({"action":"keep_in_touch","room":room,"contact":"me@example.org"}),
    )
    .await;
    let first = h.app.metrics.snapshot().since(&before);
    assert_eq!(
        last(&h, &me),
        Some(ServerEvent::KeepInTouch { room: room.clone() })
    );
    assert!(contacts(&h, &me).is_empty() && contacts(&h, p).is_empty());
    // Never shown to the organiser.
    assert!(!view(&h, &c).await.to_string().contains("me@example.org"));
    h.leave(p, room, false).await;
    let before = h.app.metrics.snapshot();
    act(
        &h,
        p,
        json!({"action":"keep_in_touch","room":room,"contact":"p0 on signal"}),
    )
    .await;
    let second = h.app.metrics.snapshot().since(&before);
    assert_eq!(contacts(&h, &me), ["p0 on signal"]);
    assert_eq!(contacts(&h, p), ["me@example.org"]);
    // Sent again: answered, never delivered twice.
    for conn in [&me, p] {
        act(
            &h,
            conn,
            json!({"action":"keep_in_touch","room":room,"contact":"again"}),
        )
        .await;
    }
    assert_eq!(contacts(&h, &me).len(), 1);
    assert_eq!(contacts(&h, p).len(), 1);
    // Held only until delivered: no line is stored any more.
    let stored = format!("{:?}", h.scan(Table::Groups).await);
    assert!(!stored.contains("me@example.org") && !stored.contains("p0 on signal"));
    println!("COST keep_in_touch (first side)  {first}");
    println!("COST keep_in_touch (second side) {second}");
    assert_eq!(first.ddb_requests(), 2, "{first}");
    assert_eq!(second.ddb_requests(), 3, "{second}");
    assert_eq!(first.gateway_posts, 1);
    assert_eq!(second.gateway_posts, 3);
}

#[tokio::test]
async fn keep_in_touch_from_one_side_only_delivers_nothing_and_expires() {
    let h = Harness::new().await;
    let c = h.circle("kit1").await;
    let (me, rooms, partners) = rooms_with(&h, &c, 1).await;
    let room = &rooms[0];
    act(
        &h,
        &me,
        json!({"action":"keep_in_touch","room":room,"contact":"mine"}),
    )
    .await;
    // Ten minutes later its timer has removed the line from the table (not
    // left to TTL); the other side asks too: nothing is exchanged.
    let lines = |items: Vec<circle_shared::db::Item>| {
        items
            .iter()
            .filter(|i| opt_s(i, "pk").is_some_and(|pk| pk.starts_with("K#")))
            .flat_map(|i| i.keys().filter(|k| k.starts_with("s_")).cloned())
            .count()
    };
    assert_eq!(lines(h.scan(Table::Groups).await), 1, "the line is held");
    h.advance(Duration::from_secs(10 * 60 + 1)).await;
    assert_eq!(
        lines(h.scan(Table::Groups).await),
        0,
        "forgotten at 10 minutes"
    );
    act(
        &h,
        &partners[0],
        json!({"action":"keep_in_touch","room":room,"contact":"theirs"}),
    )
    .await;
    assert!(contacts(&h, &me).is_empty() && contacts(&h, &partners[0]).is_empty());
    // Every held line expires within 10 minutes of its last write.
    let now_s = h.app.now_secs();
    for item in h.scan(Table::Groups).await {
        if opt_s(&item, "pk").is_some_and(|pk| pk.starts_with("K#")) {
            let exp = circle_shared::db::attr::opt_n(&item, "expires_at").expect("a TTL");
            assert!(exp <= now_s + 600, "{exp} vs {now_s}");
        }
    }
    // A contact that is too long is refused.
    h.send(
        &me,
        json!({"action":"keep_in_touch","room":room,"contact":"x".repeat(201)}),
    )
    .await;
    assert_eq!(codes(&h, &me), [ErrorCode::BadRequest]);
}

#[tokio::test]
async fn keep_in_touch_from_both_at_once_is_delivered_exactly_once() {
    for round in 0..5 {
        let h = Harness::new().await;
        let c = h.circle("kit2").await;
        let (me, rooms, partners) = rooms_with(&h, &c, 1).await;
        let room = &rooms[0];
        let (a, b) = tokio::join!(
            h.send(
                &me,
                json!({"action":"keep_in_touch","room":room,"contact":"A"})
            ),
            h.send(
                &partners[0],
                json!({"action":"keep_in_touch","room":room,"contact":"B"})
            ),
        );
        assert_eq!((a.status_code, b.status_code), (200, 200));
        assert_eq!(contacts(&h, &me), ["B"], "round {round}");
        assert_eq!(contacts(&h, &partners[0]), ["A"], "round {round}");
    }
}

#[tokio::test]
async fn closing_the_circle_deletes_every_mark_line_report_and_count() {
    let h = Harness::new().await;
    let c = h.circle("close").await;
    let (me, rooms, partners) = rooms_with(&h, &c, 1).await;
    let room = &rooms[0];
    act(
        &h,
        &me,
        json!({"action":"feedback","room":room,"rating":"good"}),
    )
    .await;
    act(
        &h,
        &me,
        json!({"action":"keep_in_touch","room":room,"contact":"held"}),
    )
    .await;
    act(
        &h,
        &partners[0],
        json!({"action":"report","room":room,"reason":"r"}),
    )
    .await;
    let path = format!("/groups/{}", c.code);
    assert_eq!(
        h.http("DELETE", &path, None, Some(&c.key)).await.status,
        204
    );
    for item in h.scan(Table::Groups).await {
        let pk = opt_s(&item, "pk").unwrap_or_default();
        assert!(
            !["FB#", "K#", "RN#", "R#"].iter().any(|p| pk.starts_with(p)),
            "{pk} outlived the circle"
        );
    }
}
