//! Unit tests of `protocol`: parsing client frames and the JSON of server events.

use super::*;
use serde_json::json;

#[test]
fn join_group_trims_and_defaults_the_name() {
    let a = ClientAction::parse(r#"{"action":"join_group","access_code":" ab ","name":"  Ann  "}"#);
    assert_eq!(
        a,
        Ok(ClientAction::JoinGroup {
            access_code: "ab".into(),
            name: "Ann".into(),
            member: None,
            circle: None,
            label: None,
        })
    );
    for frame in [
        r#"{"action":"join_group","access_code":"x"}"#,
        r#"{"action":"join_group","access_code":"x","name":"   "}"#,
        r#"{"action":"join_group","access_code":"x","name":null}"#,
    ] {
        let ClientAction::JoinGroup { name, .. } = ClientAction::parse(frame).expect(frame) else {
            panic!("{frame} is a join");
        };
        assert_eq!(name, ANONYMOUS);
    }
    let long = "é".repeat(100);
    let frame = json!({"action":"join_group","access_code":"x","name":long}).to_string();
    let ClientAction::JoinGroup { name, .. } = ClientAction::parse(&frame).expect("long name")
    else {
        panic!("is a join");
    };
    assert_eq!(name.chars().count(), MAX_NAME_CHARS);
}

#[test]
fn malformed_frames_are_typed_errors() {
    let cases = [
        ("not json", ProtocolError::NotJson),
        ("[1,2]", ProtocolError::NotAnObject),
        ("{}", ProtocolError::MissingAction),
        (
            r#"{"action":7}"#,
            ProtocolError::WrongType {
                field: "action",
                expected: "a string",
            },
        ),
        (
            r#"{"action":"dance"}"#,
            ProtocolError::UnknownAction("dance".into()),
        ),
        (
            r#"{"action":"join_group"}"#,
            ProtocolError::MissingField("access_code"),
        ),
        (
            r#"{"action":"join_group","access_code":" "}"#,
            ProtocolError::MissingField("access_code"),
        ),
        (
            r#"{"action":"join_group","access_code":5}"#,
            ProtocolError::WrongType {
                field: "access_code",
                expected: "a string",
            },
        ),
        (
            r#"{"action":"join_group","access_code":"x","name":[]}"#,
            ProtocolError::WrongType {
                field: "name",
                expected: "a string",
            },
        ),
        (
            r#"{"action":"message"}"#,
            ProtocolError::MissingField("room"),
        ),
        (
            r#"{"action":"leave_room","room":"r","requeue":"yes"}"#,
            ProtocolError::WrongType {
                field: "requeue",
                expected: "true or false",
            },
        ),
    ];
    for (frame, want) in cases {
        assert_eq!(ClientAction::parse(frame), Err(want), "{frame}");
    }
}

#[test]
fn message_keeps_extra_keys_and_drops_reserved_ones() {
    let frame = r#"{"action":"message","room":"r1","message":"hi","id":3,"typing":false,"from":{"name":"spoof"},"sent_at":"x","event":"join_room"}"#;
    let ClientAction::Message { room, body } = ClientAction::parse(frame).expect("valid") else {
        panic!("is a message");
    };
    assert_eq!(room, "r1");
    assert_eq!(
        Value::Object(body),
        json!({"message":"hi","id":3,"typing":false})
    );
}

#[test]
fn events_serialize_as_designed() {
    let ev = ServerEvent::JoinRoom {
        room: "r".into(),
        user: "Ann".into(),
        partner: Participant {
            name: "Bob".into(),
            id: "p2".into(),
            label: None,
        },
        prompt: "Why?".into(),
        resume: "tok".into(),
        ends_at: None,
        seconds_left: None,
        resumed: None,
    };
    assert_eq!(
        serde_json::to_value(&ev).expect("serializes"),
        json!({"event":"join_room","room":"r","user":"Ann","match":{"name":"Bob","id":"p2"},
               "prompt":"Why?","resume":"tok"})
    );
    assert_eq!(
        serde_json::to_value(ServerEvent::CircleClosed {}).expect("serializes"),
        json!({"event":"circle_closed"})
    );
    assert_eq!(
        serde_json::to_value(ServerEvent::Round(RoundInfo {
            number: 2,
            minutes: Some(5),
            ends_at: Some("t".into()),
            seconds_left: Some(300)
        }))
        .expect("serializes"),
        json!({"event":"round","number":2,"minutes":5,"ends_at":"t","seconds_left":300})
    );
    let mut body = Map::new();
    body.insert("message".into(), json!("hi"));
    let ev = ServerEvent::Message {
        room: "r".into(),
        from: Participant {
            name: "Ann".into(),
            id: "p1".into(),
            label: None,
        },
        sent_at: "2026-01-01T00:00:00.000Z".into(),
        body,
    };
    let v = serde_json::to_value(&ev).expect("serializes");
    assert_eq!(
        v,
        json!({"event":"message","room":"r","from":{"name":"Ann","id":"p1"},"sent_at":"2026-01-01T00:00:00.000Z","message":"hi"})
    );
    assert_eq!(
        serde_json::from_value::<ServerEvent>(v).expect("round trips"),
        ev
    );
    let err = ServerEvent::error(ErrorCode::NotInRoom, "nope");
    assert_eq!(
        serde_json::to_value(&err).expect("serializes"),
        json!({"event":"error","code":"not_in_room","message":"nope"})
    );
}

#[test]
fn sit_out_takes_a_boolean_and_its_events_are_as_documented() {
    assert_eq!(
        ClientAction::parse(r#"{"action":"sit_out","on":true}"#),
        Ok(ClientAction::SitOut { on: true })
    );
    assert_eq!(
        ClientAction::parse(r#"{"action":"sit_out","on":false}"#),
        Ok(ClientAction::SitOut { on: false })
    );
    assert_eq!(
        ClientAction::parse(r#"{"action":"sit_out"}"#),
        Err(ProtocolError::MissingField("on"))
    );
    assert!(matches!(
        ClientAction::parse(r#"{"action":"sit_out","on":1}"#),
        Err(ProtocolError::WrongType { field: "on", .. })
    ));
    assert_eq!(
        serde_json::to_value(ServerEvent::SitOut { on: true }).expect("serializes"),
        json!({"event":"sit_out","on":true})
    );
    assert_eq!(
        serde_json::to_value(ServerEvent::RoundEnding {
            number: 2,
            ends_at: "t".into(),
            seconds_left: 60,
        })
        .expect("serializes"),
        json!({"event":"round_ending","number":2,"ends_at":"t","seconds_left":60})
    );
    let waiting = ServerEvent::Waiting {
        group: CircleInfo {
            name: "n".into(),
            description: "d".into(),
            rules: vec![],
            expires_at: Some("e".into()),
        },
        waiting: 2,
        round: None,
        reason: Some(crate::protocol::WaitReason::JustMet),
        retry_at: Some("r".into()),
    };
    assert_eq!(
        serde_json::to_value(&waiting).expect("serializes"),
        json!({"event":"waiting","group":{"name":"n","description":"d","rules":[],"expires_at":"e"},
               "waiting":2,"reason":"just_met","retry_at":"r"})
    );
}
