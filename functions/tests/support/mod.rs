//! Shared by the tests and the smoke backend example: the sample events, a gateway
//! that records what it is asked to post, and seeding the group the events join.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use circle_shared::code::AccessCode;
use circle_shared::db::attr::{n, s};
use circle_shared::db::keys;
use circle_shared::model::{Circle, RoundState};
use circle_shared::{Gateway, GatewayError, TableNames};
use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The text of `events/{name}`.
pub fn event_text(name: &str) -> String {
    let path = root().join("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The access code the sample `join_group` event asks for.
pub fn sample_access_code() -> AccessCode {
    let event: Value =
        serde_json::from_str(&event_text("ws-join-group.json")).expect("the join event is JSON");
    let body = event["body"]
        .as_str()
        .expect("the join event has a text body");
    let body: Value = serde_json::from_str(body).expect("the join event's body is JSON");
    let code = body["access_code"]
        .as_str()
        .expect("the join event names an access code");
    AccessCode::parse(code).expect("the sample access code is well formed")
}

/// The organiser key of the sample circle (`events/http-organizer.json` sends it).
pub const SAMPLE_ORGANIZER_KEY: &str = "sample-organizer-key-0123456789abcdef";

/// A fixed hash key, so the sample organiser key can be seeded hashed.
pub fn sample_hash_key() -> circle_shared::secrets::HashKey {
    circle_shared::secrets::HashKey::new(b"events-test-hash-key".to_vec())
}

/// Puts a live circle under the sample access code, as `POST /groups` would.
pub async fn seed_sample_group(app: &circle_shared::App, now_secs: i64) {
    let (client, tables): (&aws_sdk_dynamodb::Client, &TableNames) =
        (&app.store.client, &app.store.tables);
    let circle = Circle {
        code: sample_access_code(),
        cid: "samplecircle0001".into(),
        name: "Book club".into(),
        description: "Talk about what you are reading, one to one.".into(),
        rules: vec!["Be kind".into()],
        prompts: vec![],
        created_at: now_secs,
        expires_at: now_secs + 3 * 24 * 3600,
        organizer_hash: app.settings.hash_key.hash(
            circle_shared::secrets::domain::ORGANIZER,
            SAMPLE_ORGANIZER_KEY,
        ),
        shards: 1,
        ver: 1,
        round: RoundState::default(),
        listing: None,
        labels: Default::default(),
    };
    let mut pointer = keys::pointer(&circle.cid);
    pointer.extend([
        ("code".into(), s(circle.code.as_str())),
        ("expires_at".into(), n(circle.expires_at)),
    ]);
    for item in [circle.to_item(), pointer] {
        client
            .put_item()
            .table_name(&tables.groups)
            .set_item(Some(item))
            .send()
            .await
            .expect("the embedded store accepts the sample circle");
    }
}

/// Records every post instead of sending it.
#[derive(Debug, Default)]
pub struct Recorder {
    posts: Mutex<Vec<(String, Value)>>,
}

impl Recorder {
    /// Takes what was posted so far: (connection id, event).
    pub fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(
            &mut *self
                .posts
                .lock()
                .expect("no test thread panicked holding the lock"),
        )
    }
}

#[async_trait]
impl Gateway for Recorder {
    async fn post(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        let event = serde_json::from_str(frame).expect("server frames are JSON");
        self.posts
            .lock()
            .expect("no test thread panicked holding the lock")
            .push((connection_id.to_owned(), event));
        Ok(())
    }

    async fn delete(&self, _: &str) -> Result<(), GatewayError> {
        Ok(())
    }
}
