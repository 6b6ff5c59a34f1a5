//! The local port's routes: the WebSocket API, `@connections`, the HTTP API,
//! `config.json`, the page, and the `/_local/*` tools. `@connections` and
//! `/_local/*` answer loopback callers only ([`management::loopback`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};

use crate::config::Limits;
use crate::{Shared, http_api, management, socket, web};

/// Every route, sharing `shared`.
pub(crate) fn router(shared: &Arc<Shared>, stage: &str, limits: &Limits) -> Router {
    let management_limit = DefaultBodyLimit::max(limits.max_message_bytes.saturating_mul(2));
    let connections = || {
        get(management::get)
            .post(management::post)
            .delete(management::delete)
            .layer(management_limit)
    };
    Router::new()
        .route("/ws", any(socket::upgrade))
        .route("/@connections/{id}", connections())
        // As on AWS: https://{api}.execute-api.{region}.amazonaws.com/{stage}/@connections/{id}
        .route(&format!("/{stage}/@connections/{{id}}"), connections())
        .route("/_local/connections/{id}/vanish", post(management::vanish))
        .route("/groups", any(http_api::groups))
        .route("/groups/{code}", any(http_api::groups))
        .route("/groups/{code}/{action}", any(http_api::groups))
        .route("/organizer", any(http_api::groups))
        .route("/prompts", any(http_api::groups))
        .route("/config.json", get(http_api::config))
        .route("/_local/metrics", get(http_api::metrics))
        .route(
            "/_local/metrics/hot_partition/reset",
            post(http_api::reset_hot_partition),
        )
        .fallback(get(web::serve))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(Arc::clone(shared))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    use axum::extract::connect_info::MockConnectInfo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::management::loopback;
    use crate::{Config, Stack};

    #[test]
    fn loopback_is_this_machine_only() {
        for ip in [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
        ] {
            assert!(loopback(ip), "{ip}");
        }
        for ip in [
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5)),
            IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()),
            IpAddr::V6("fe80::1".parse().expect("an address")),
        ] {
            assert!(!loopback(ip), "{ip}");
        }
    }

    /// One HTTP/1.1 request over a fresh connection; the raw answer.
    pub(crate) async fn raw_http(addr: SocketAddr, request: &str) -> String {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut out = Vec::new();
            stream.read_to_end(&mut out).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&out).into_owned())
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
            .await
            .expect("the answer comes in time")
            .expect("the exchange succeeds")
    }

    fn status(answer: &str) -> &str {
        answer.split(' ').nth(1).unwrap_or_default()
    }

    /// The stack's own router, served on a loopback port but told (the way
    /// axum's tests do) that every caller is `peer`: what a caller from
    /// another machine gets, without leaving 127.0.0.1.
    async fn as_if_from(stack: &Stack, peer: SocketAddr) -> SocketAddr {
        let app = router(&stack.shared, "local", &Limits::default()).layer(MockConnectInfo(peer));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    }

    #[tokio::test]
    async fn local_tools_and_connections_answer_loopback_callers_only() {
        let stack = Stack::start(Config::ephemeral()).await.expect("starts");
        let remote = as_if_from(&stack, SocketAddr::from(([192, 168, 1, 5], 40000))).await;
        let local = as_if_from(&stack, SocketAddr::from(([127, 0, 0, 1], 40000))).await;
        let requests = [
            "GET /_local/metrics",
            "POST /_local/metrics/hot_partition/reset",
            "POST /_local/connections/abc/vanish",
            "GET /@connections/abc",
            "POST /local/@connections/abc",
            "DELETE /@connections/abc",
        ];
        for request in requests {
            let raw = format!(
                "{request} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let answer = raw_http(remote, &raw).await;
            assert_eq!(status(&answer), "403", "{request} from afar: {answer}");
            let answer = raw_http(local, &raw).await;
            assert_ne!(status(&answer), "403", "{request} from here: {answer}");
        }
        let groups = raw_http(
            remote,
            "GET /groups/AAAAA-BBBBB HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(status(&groups), "404", "the public API answers anyone");
        stack.shutdown().await;
    }
}
