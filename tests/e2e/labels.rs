//! Labels end to end over real WebSockets and HTTP against the local stack: a
//! circle created with labels shows them, a join with a label outside them is
//! refused with `bad_request`, and two members of different labels get each
//! other's label in `join_room.match`.

use crate::ws_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_with_a_label_gets_the_partners_label_in_match() {
    let stack = start().await;
    let body = json!({"name":"Mentoring","description":"d","labels":["Mentor","Mentee"]});
    let r = http("POST", &format!("{}/groups", stack.http_url()), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = r.json()["access_code"].as_str().expect("a code").to_owned();
    let view = http("GET", &format!("{}/groups/{code}", stack.http_url()), None).await;
    assert_eq!(view.json()["labels"], json!(["Mentor", "Mentee"]));
    assert_eq!(view.json()["label_mode"], "across");

    let (mut ann, mut bob) = (Client::connect(&stack).await, Client::connect(&stack).await);
    ann.send(json!({"action":"join_group","access_code":code,"name":"Ann","label":"Boss"}))
        .await;
    ann.expect_error("bad_request").await;
    ann.send(json!({"action":"join_group","access_code":code,"name":"Ann","label":"Mentor"}))
        .await;
    ann.expect("waiting").await;
    bob.send(json!({"action":"join_group","access_code":code,"name":"Bob","label":"Mentee"}))
        .await;
    // Bob pairs at once (a `waiting` may come first if a claim had to retry).
    let to_bob = joined(&mut bob).await;
    let to_ann = ann.expect("join_room").await;
    assert_eq!(to_bob["match"]["name"], "Ann");
    assert_eq!(to_bob["match"]["label"], "Mentor");
    assert_eq!(to_ann["match"]["label"], "Mentee");
    stack.shutdown().await;
}
