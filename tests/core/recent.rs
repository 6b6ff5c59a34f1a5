//! Recent rooms (the last five, for 10 minutes after each ended) and what a
//! member may do with them: block or report an earlier partner, one report
//! per reporter and room, capped excerpts, the organiser's paged reports and
//! counts per member, a resume that keeps them, and each action's cost.
//! Feedback and keep in touch are in `aftercare.rs`.

use std::time::Duration;

use circle_shared::db::Table;
use circle_shared::db::attr::opt_s;
use circle_shared::db::metrics::{DdbOp, MetricsSnapshot};
use circle_shared::organizer::reports::{MAX_EXCERPT_BYTES, REPORTS_PAGE};
use circle_shared::protocol::{ErrorCode, ServerEvent};
use circle_tests::{Created, Harness, Seen, member_secret};
use serde_json::{Value, json};

pub(crate) fn codes(h: &Harness, conn: &str) -> Vec<ErrorCode> {
    h.error_codes(conn)
}

pub(crate) fn last(h: &Harness, conn: &str) -> Option<ServerEvent> {
    h.gateway.events(conn).last().cloned()
}

pub(crate) async fn act(h: &Harness, conn: &str, frame: Value) {
    if matches!(
        frame["action"].as_str(),
        Some("block" | "report" | "leave_room")
    ) && let Some(room) = frame["room"].as_str()
    {
        h.gateway.note(conn, Seen::Left(room.to_owned()));
    }
    assert_eq!(h.send(conn, frame).await.status_code, 200);
}

pub(crate) fn mid(h: &Harness, c: &Created, n: usize) -> String {
    h.app.settings.hash_key.member_id(&c.id, &member_secret(n))
}

/// `me` (member 1) meets `n` new partners (members 2, 3, …) one after the
/// other, leaving each room with "Next" but the last; answers the rooms in
/// order and the partners' connections.
pub(crate) async fn rooms_with(
    h: &Harness,
    c: &Created,
    n: usize,
) -> (String, Vec<String>, Vec<String>) {
    let me = h.connect().await;
    h.join_as(&me, &c.code, "Me", &member_secret(1)).await;
    let (mut rooms, mut partners) = (Vec::new(), Vec::new());
    for i in 0..n {
        let p = h.connect().await;
        h.join_as(&p, &c.code, &format!("P{i}"), &member_secret(i + 2))
            .await;
        let room = h.current_room(&me).expect("paired with the newcomer");
        assert_eq!(h.current_room(&p).as_deref(), Some(room.as_str()));
        if i + 1 < n {
            h.leave(&me, &room, true).await;
        }
        rooms.push(room);
        partners.push(p);
    }
    (me, rooms, partners)
}

pub(crate) async fn view(h: &Harness, c: &Created) -> Value {
    let v = h
        .http(
            "GET",
            &format!("/groups/{}/organizer", c.code),
            None,
            Some(&c.key),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.body);
    v.body
}

/// Every report, following `reports_next` page by page.
async fn all_reports(h: &Harness, c: &Created) -> (Vec<Value>, usize) {
    let first = view(h, c).await;
    let mut reports: Vec<Value> = first["reports"].as_array().expect("reports").clone();
    let mut next = first["reports_next"].as_str().map(str::to_owned);
    let mut pages = 1;
    while let Some(after) = next {
        assert!(pages < 100, "paging ends");
        let page = h
            .http(
                "GET",
                &format!("/groups/{}/reports?after={after}", c.code),
                None,
                Some(&c.key),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        reports.extend(page.body["reports"].as_array().expect("reports").clone());
        next = page.body["reports_next"].as_str().map(str::to_owned);
        pages += 1;
    }
    (reports, pages)
}

#[tokio::test]
async fn block_or_report_an_earlier_partner_of_the_last_five() {
    let h = Harness::new().await;
    let c = h.circle("recent").await;
    let (me, rooms, partners) = rooms_with(&h, &c, 3).await;
    // In the third room now; the first partner can still be reported.
    act(
        &h,
        &me,
        json!({"action":"report","room":rooms[0],"reason":"rude"}),
    )
    .await;
    assert_eq!(
        last(&h, &me),
        Some(ServerEvent::Reported {
            room: rooms[0].clone()
        })
    );
    act(&h, &me, json!({"action":"block","room":rooms[1]})).await;
    assert_eq!(
        last(&h, &me),
        Some(ServerEvent::Blocked {
            room: rooms[1].clone()
        })
    );
    // Neither ended the room I am in now.
    assert_eq!(h.current_room(&me).as_deref(), Some(rooms[2].as_str()));
    assert!(codes(&h, &me).is_empty());
    let members = h.members().await;
    let blocked = &members[&mid(&h, &c, 1)].blocked;
    assert!(blocked.contains(&mid(&h, &c, 2)) && blocked.contains(&mid(&h, &c, 3)));
    assert!(!blocked.contains(&mid(&h, &c, 4)));
    let v = view(&h, &c).await;
    assert_eq!(v["reports"][0]["reported"]["name"], "P0");
    assert_eq!(v["reports"][0]["reported"]["member_id"], mid(&h, &c, 2));
    // The first partner can report me back from its side.
    act(
        &h,
        &partners[0],
        json!({"action":"report","room":rooms[0],"reason":"no"}),
    )
    .await;
    assert_eq!(all_reports(&h, &c).await.0.len(), 2);
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_sixth_room_pushes_out_the_oldest_and_the_current_room_counts() {
    let h = Harness::new().await;
    let c = h.circle("six").await;
    let (me, rooms, _) = rooms_with(&h, &c, 6).await;
    // In the sixth: it and the four before it are the five.
    act(&h, &me, json!({"action":"block","room":rooms[0]})).await;
    assert_eq!(codes(&h, &me), [ErrorCode::NotInRoom]);
    act(&h, &me, json!({"action":"block","room":rooms[1]})).await;
    assert_eq!(
        last(&h, &me),
        Some(ServerEvent::Blocked {
            room: rooms[1].clone()
        })
    );
    // The record never holds more than five ended rooms.
    let record = h
        .connection_records()
        .await
        .into_iter()
        .find(|r| r.connection_id == me)
        .expect("my record");
    assert!(record.recent.len() <= 5);
    assert_eq!(record.recent[0].room, rooms[4]);
}

#[tokio::test]
async fn an_entry_older_than_ten_minutes_is_refused_for_every_action() {
    let h = Harness::new().await;
    let c = h.circle("old").await;
    let (me, rooms, _) = rooms_with(&h, &c, 2).await;
    h.leave(&me, &rooms[1], false).await;
    h.clock.advance(Duration::from_secs(10 * 60 + 1));
    for frame in [
        json!({"action":"block","room":rooms[0]}),
        json!({"action":"report","room":rooms[1],"reason":"r"}),
        json!({"action":"feedback","room":rooms[1],"rating":"good"}),
        json!({"action":"keep_in_touch","room":rooms[1]}),
    ] {
        h.send(&me, frame).await;
    }
    assert_eq!(codes(&h, &me), [ErrorCode::NotInRoom; 4]);
}

#[tokio::test]
async fn a_repeat_report_answers_reported_and_stores_nothing() {
    let h = Harness::new().await;
    let c = h.circle("again").await;
    let (me, rooms, _) = rooms_with(&h, &c, 1).await;
    let report = json!({"action":"report","room":rooms[0],"reason":"rude"});
    act(&h, &me, report.clone()).await;
    let before = h.scan(Table::Groups).await.len();
    for _ in 0..3 {
        act(&h, &me, report.clone()).await;
        assert_eq!(
            last(&h, &me),
            Some(ServerEvent::Reported {
                room: rooms[0].clone()
            })
        );
    }
    assert!(codes(&h, &me).is_empty());
    assert_eq!(h.scan(Table::Groups).await.len(), before);
    let v = view(&h, &c).await;
    assert_eq!(v["reports"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        v["reported_counts"],
        json!([{"member_id": mid(&h, &c, 2), "name": "P0", "reports": 1}])
    );
}

#[tokio::test]
async fn an_excerpt_is_capped_in_total_bytes_keeping_the_newest() {
    let h = Harness::new().await;
    let c = h.circle("cap").await;
    let (me, rooms, _) = rooms_with(&h, &c, 1).await;
    let excerpt: Vec<Value> = (0..20)
        .map(|i| json!({"from":"partner","text":format!("{i:02}{}", "é".repeat(998))}))
        .collect();
    act(
        &h,
        &me,
        json!({"action":"report","room":rooms[0],"reason":"r","excerpt":excerpt}),
    )
    .await;
    let stored: Vec<String> = h
        .scan(Table::Groups)
        .await
        .iter()
        .filter_map(|i| opt_s(i, "excerpt"))
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].len() <= MAX_EXCERPT_BYTES, "{}", stored[0].len());
    let kept: Vec<Value> = serde_json::from_str(&stored[0]).expect("json");
    assert!(!kept.is_empty() && kept.len() < 20);
    assert_eq!(
        kept.last().map(|m| &m["text"]),
        excerpt.last().map(|m| &m["text"]),
        "the newest message is kept"
    );
}

#[tokio::test]
async fn paging_returns_every_report_and_a_flood_cannot_hide_one() {
    let h = Harness::new().await;
    let c = h.circle("flood").await;
    // A genuine report: Vic (9) reports Gus (8).
    let (vic, gus) = (h.connect().await, h.connect().await);
    h.join_as(&gus, &c.code, "Gus", &member_secret(8)).await;
    h.join_as(&vic, &c.code, "Vic", &member_secret(9)).await;
    let room = h.current_room(&vic).expect("paired");
    act(
        &h,
        &vic,
        json!({"action":"report","room":room,"reason":"genuine"}),
    )
    .await;
    // A flood: accomplices report the abuser (7) over and over, each with the
    // longest excerpt there is.
    let abuser = h.connect().await;
    let flood = 2 * REPORTS_PAGE as usize + 3;
    let excerpt: Vec<Value> = (0..20)
        .map(|_| json!({"from":"partner","text":"x".repeat(1000)}))
        .collect();
    for i in 0..flood {
        h.join_as(&abuser, &c.code, "Abe", &member_secret(7)).await;
        let acc = h.connect().await;
        h.join_as(&acc, &c.code, "Acc", &member_secret(100 + i))
            .await;
        let room = h.current_room(&acc).expect("paired with the abuser");
        act(
            &h,
            &acc,
            json!({"action":"report","room":room,"reason":"flood","excerpt":excerpt}),
        )
        .await;
    }
    let (reports, pages) = all_reports(&h, &c).await;
    assert_eq!(reports.len(), flood + 1);
    assert!(pages >= 3, "{pages} pages");
    assert!(reports.iter().any(|r| r["reason"] == "genuine"));
    let v = view(&h, &c).await;
    let counts = v["reported_counts"].as_array().expect("counts");
    assert_eq!(counts.len(), 2);
    assert_eq!(counts[0]["member_id"], mid(&h, &c, 7));
    assert_eq!(counts[0]["reports"], flood);
    assert_eq!(counts[1]["name"], "Gus");
    assert_eq!(counts[1]["reports"], 1);
    // A page stays small: 25 excerpts of at most 4 KiB.
    assert!(v.to_string().len() < 200_000, "{}", v.to_string().len());
    // A bad cursor is a bad request, without a key it is 401.
    let bad = format!("/groups/{}/reports?after=%3Cscript%3E", c.code);
    assert_eq!(h.http("GET", &bad, None, Some(&c.key)).await.status, 400);
    let open = format!("/groups/{}/reports", c.code);
    assert_eq!(h.http("GET", &open, None, None).await.status, 401);
}

#[tokio::test]
async fn a_resume_carries_the_recent_rooms_over() {
    let h = Harness::new().await;
    let c = h.circle("carry").await;
    let (me, rooms, _) = rooms_with(&h, &c, 2).await;
    let token = match h.join_rooms(&me).last() {
        Some(ServerEvent::JoinRoom { resume, .. }) => resume.clone(),
        other => panic!("{other:?}"),
    };
    h.disconnect(&me).await;
    let me2 = h.connect().await;
    act(
        &h,
        &me2,
        json!({"action":"resume","room":rooms[1],"token":token}),
    )
    .await;
    assert_eq!(h.current_room(&me2).as_deref(), Some(rooms[1].as_str()));
    act(
        &h,
        &me2,
        json!({"action":"report","room":rooms[0],"reason":"r"}),
    )
    .await;
    assert_eq!(
        last(&h, &me2),
        Some(ServerEvent::Reported {
            room: rooms[0].clone()
        })
    );
}

/// What `frame` from `conn` cost.
async fn cost_of(h: &Harness, conn: &str, frame: Value) -> MetricsSnapshot {
    let before = h.app.metrics.snapshot();
    act(h, conn, frame).await;
    h.app.metrics.snapshot().since(&before)
}

#[tokio::test]
async fn costs_of_the_recent_room_actions() {
    let h = Harness::new().await;
    let c = h.circle("cost").await;
    let (me, rooms, _) = rooms_with(&h, &c, 2).await;
    let (old, now) = (&rooms[0], &rooms[1]);
    let block = cost_of(&h, &me, json!({"action":"block","room":old})).await;
    let report = cost_of(&h, &me, json!({"action":"report","room":old,"reason":"r"})).await;
    let feedback = cost_of(
        &h,
        &me,
        json!({"action":"feedback","room":old,"rating":"good"}),
    )
    .await;
    let feedback_current = cost_of(
        &h,
        &me,
        json!({"action":"feedback","room":now,"rating":"good"}),
    )
    .await;
    let t = h.app.metrics.snapshot();
    let path = format!("/groups/{}/reports", c.code);
    assert_eq!(h.http("GET", &path, None, Some(&c.key)).await.status, 200);
    let paging = h.app.metrics.snapshot().since(&t);
    let t = h.app.metrics.snapshot();
    view(&h, &c).await;
    let organiser_view = h.app.metrics.snapshot().since(&t);
    let message = cost_of(
        &h,
        &me,
        json!({"action":"message","room":now,"message":"hi"}),
    )
    .await;
    // A leave when both records already hold five recent rooms.
    let c2 = h.circle("cost2").await;
    let (busy, busy_rooms, _) = rooms_with(&h, &c2, 6).await;
    let leave_full = cost_of(
        &h,
        &busy,
        json!({"action":"leave_room","room":busy_rooms[5]}),
    )
    .await;
    for (what, cost) in [
        ("block (recent room)", &block),
        ("report (recent room)", &report),
        ("feedback (recent room)", &feedback),
        ("feedback (current room)", &feedback_current),
        ("organiser reports page", &paging),
        ("organiser view", &organiser_view),
        ("message", &message),
        ("leave (5 recent rooms kept)", &leave_full),
    ] {
        println!("COST {what:<26} {cost}");
    }
    // A read, then one transaction (both blocks; plus the report and its count).
    assert_eq!(block.ddb_requests(), 2, "{block}");
    assert_eq!(report.ddb_requests(), 2, "{report}");
    assert_eq!(report.op(DdbOp::TransactWriteItems), 1);
    // A read, the mark, and the bucket's count.
    assert_eq!(feedback.ddb_requests(), 3, "{feedback}");
    assert_eq!(feedback.gateway_posts, 1);
    // The page: the per-address count, the circle, one Query.
    assert_eq!(paging.op(DdbOp::Query), 1, "{paging}");
    assert_eq!(message.ddb_requests(), 1);
    assert_eq!(message.ddb_writes(), 0);
    // Keeping five rooms adds no request to a leave.
    assert_eq!(leave_full.ddb_requests(), 2, "{leave_full}");
}
