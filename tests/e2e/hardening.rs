//! The local stack hardened, black box: its embedded DynamoDB refuses a web
//! page (a cross-origin request, CORS preflight included) and any request not
//! signed with the run's own credentials, while the stack keeps working;
//! organiser links and `config.json` use the configured public URL whatever
//! `Host` says; the data directory is owner-only.

use serde_json::{Value, json};

use crate::ws_support::*;

const FAKE_SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKEFAKE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// A `Scan` of the circles sent to `endpoint` by hand, with `extra` headers.
async fn scan(endpoint: &str, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", "DynamoDB_20120810.Scan"),
    ];
    headers.extend_from_slice(extra);
    let body = json!({"TableName": "circle-groups"}).to_string();
    http_with_headers("POST", endpoint, &headers, &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_dynamodb_refuses_web_pages_and_strangers() {
    let stack = start().await;
    let created = create_circle(&stack, "Hardened").await;
    let code = created["access_code"].as_str().expect("a code").to_owned();
    let endpoint = format!("{}/", stack.dynamo_endpoint());
    let fake = [
        ("x-amz-date", "20260101T000000Z"),
        ("authorization", FAKE_SIGNATURE),
    ];

    // A web page's preflight: refused, and no CORS header.
    let preflight = http_with_headers(
        "OPTIONS",
        &endpoint,
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,x-amz-target,content-type",
            ),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status, 403, "the preflight is refused");
    assert!(
        preflight
            .headers
            .keys()
            .all(|h| !h.as_str().starts_with("access-control-")),
        "no CORS header: {:?}",
        preflight.headers
    );

    // A cross-origin Scan with a fake signature, as a page would send it; the
    // same from a local process (no Origin); and unsigned.
    let cross_origin = [&[("origin", "https://evil.example")], &fake[..]].concat();
    for (extra, status, error) in [
        (&cross_origin[..], 403, "AccessDeniedException"),
        (&fake[..], 400, "UnrecognizedClientException"),
        (&[][..], 400, "MissingAuthenticationTokenException"),
    ] {
        let answer = scan(&endpoint, extra).await;
        assert_eq!(answer.status, status, "{extra:?}: {}", answer.text);
        assert!(answer.text.contains(error), "{extra:?}: {}", answer.text);
        assert!(!answer.text.contains(&code), "no circle leaks");
        assert!(answer.headers.get("access-control-allow-origin").is_none());
    }

    // The real SDK, properly signed, with credentials that are not this run's.
    let stranger = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&circle_shared::app::local_sdk_config())
            .endpoint_url(stack.dynamo_endpoint())
            .build(),
    );
    let err = stranger
        .scan()
        .table_name("circle-groups")
        .send()
        .await
        .expect_err("a stranger's Scan is refused");
    let code_of = err.into_service_error();
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&code_of),
        Some("UnrecognizedClientException")
    );

    // The stack itself still reads and writes through it.
    let answer = http("GET", &format!("{}/groups/{code}", stack.http_url()), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["name"], "Hardened");
    let mut a = Client::connect(&stack).await;
    a.send(json!({"action": "join_group", "access_code": code, "name": "Ann"}))
        .await;
    a.expect("waiting").await;
    stack.shutdown().await;
}

/// A circle created, and `config.json` read, with `Host: evil.example`; the
/// organiser link and the config.
async fn as_evil_host(stack: &circle_local::Stack) -> (String, Value) {
    let evil = [
        ("host", "evil.example"),
        ("content-type", "application/json"),
    ];
    let body = json!({"name": "Hosted", "description": "d"}).to_string();
    let base = stack.http_url();
    let created = http_with_headers("POST", &format!("{base}/groups"), &evil, &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let link = created.json()["organizer_url"]
        .as_str()
        .expect("an organiser link")
        .to_owned();
    let config = http_with_headers("GET", &format!("{base}/config.json"), &evil, "").await;
    assert_eq!(config.status, 200, "{}", config.text);
    (link, config.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_config_use_the_public_url_whatever_host_says() {
    let stack = start_with(|c| c.public_url = Some("https://circle.example".to_owned())).await;
    let (link, config) = as_evil_host(&stack).await;
    assert!(
        link.starts_with("https://circle.example/#organizer="),
        "{link}"
    );
    assert_eq!(
        config,
        json!({"http_url": "https://circle.example", "ws_url": "wss://circle.example/ws"})
    );
    stack.shutdown().await;

    // By default, the listen address.
    let stack = start().await;
    let (link, config) = as_evil_host(&stack).await;
    assert!(
        link.starts_with(&format!("{}/#organizer=", stack.http_url())),
        "{link}"
    );
    assert_eq!(
        config,
        json!({"http_url": stack.http_url(), "ws_url": stack.ws_url()})
    );
    stack.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let root =
        std::env::temp_dir().join(format!("circle-e2e-{}", circle_shared::secrets::token(12)));
    let dir = root.join(".circle");
    let stack = start_with(|c| c.storage = circle_local::Storage::Dir(dir.clone())).await;
    create_circle(&stack, "On disk").await;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&dir), 0o700, "the directory");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("listed") {
        let path = entry.expect("an entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert!(dir.join("circle.db").exists() && dir.join("hash.key").exists());
    assert!(files >= 2, "circle.db and hash.key at least");
    stack.shutdown().await;
    std::fs::remove_dir_all(&root).expect("cleaned up");
}
