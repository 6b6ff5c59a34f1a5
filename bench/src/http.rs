//! A minimal HTTP/1.1 client for the stack's few JSON endpoints on loopback
//! (`POST /groups`, `GET /_local/metrics`): one request per connection.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

const TIMEOUT: Duration = Duration::from_secs(10);
/// No answer we read is anywhere near this.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// Sends one request and returns the status and the JSON body.
pub async fn request(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), BenchError> {
    exchange(addr, method, path, body, None).await
}

/// [`request`] with `Authorization: Bearer {key}` (the organiser's API).
pub async fn request_with_key(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<&Value>,
    key: &str,
) -> Result<(u16, Value), BenchError> {
    exchange(addr, method, path, body, Some(key)).await
}

async fn exchange(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> Result<(u16, Value), BenchError> {
    let fail = |reason: String| BenchError::Http {
        method,
        path: path.to_owned(),
        reason,
    };
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = key.map_or_else(String::new, |k| format!("Authorization: Bearer {k}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER as u64)
            .read_to_end(&mut raw)
            .await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| fail(format!("no answer within {TIMEOUT:?}")))?
        .map_err(|e| fail(e.to_string()))?;
    let (status, body) = parse_response(&raw).map_err(fail)?;
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| fail(format!("body is not JSON: {e}")))?
    };
    Ok((status, json))
}

/// Splits a whole HTTP/1.1 response into status and (de-chunked) body.
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "headers are not UTF-8")?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    if chunked {
        return Ok((status, dechunk(rest)?));
    }
    let body = match length {
        Some(n) if n <= rest.len() => rest[..n].to_vec(),
        Some(n) => return Err(format!("body cut short: {} of {n} bytes", rest.len())),
        None => rest.to_vec(),
    };
    Ok((status, body))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk header")?;
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let plain = b"HTTP/1.1 201 Created\r\ncontent-length: 7\r\n\r\n{\"a\":1}";
        assert_eq!(parse_response(plain), Ok((201, b"{\"a\":1}".to_vec())));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok((200, b"{\"a\":1}".to_vec())));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
