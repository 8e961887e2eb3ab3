//! A minimal HTTP/1.1 server for the AdminServer and the Prometheus endpoint: `GET`/`HEAD`,
//! keep-alive, bounded headers, bounded connections, idle timeout. Nothing else is needed by
//! `curl`, Prometheus or zk-top, and it keeps hyper's compile time out of the node.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// Largest request head accepted. Real requests are a few hundred bytes; more is not HTTP we
/// want to parse.
const HEAD_MAX: usize = 16 * 1024;

/// Largest request body skipped over (we never read bodies; GET has none).
const BODY_MAX: usize = 64 * 1024;

/// Concurrent HTTP connections per listener. Monitoring polls are few; the bound keeps a
/// misbehaving scraper from exhausting file descriptors the client port needs.
const CONNECTIONS_MAX: usize = 64;

/// A connection idle this long is closed (Apache's `admin.idleTimeout` default, 30 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The decoded path, without the query.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: Option<&'static str>, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    pub fn not_found() -> Response {
        Response::new(404, Some("text/plain;charset=utf-8"), "Not Found\n")
    }

    pub fn method_not_allowed() -> Response {
        Response::new(
            405,
            Some("text/plain;charset=utf-8"),
            "HTTP method not allowed\n",
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Accepts connections until `shutdown` turns true, answering each request with `handler`.
pub async fn serve<H, F>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
    handler: H,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let handler = Arc::new(handler);
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("{name}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("{name}: {CONNECTIONS_MAX} connections open; refusing another");
            drop(stream);
            continue;
        };
        let (handler, shutdown) = (handler.clone(), shutdown.clone());
        tokio::spawn(async move {
            connection(stream, handler.as_ref(), shutdown).await;
            drop(permit);
        });
    }
}

async fn connection<H, F>(mut stream: TcpStream, handler: &H, mut shutdown: watch::Receiver<bool>)
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        if *shutdown.borrow() {
            return;
        }
        // An idle keep-alive connection ends at shutdown or after the idle timeout.
        let read = tokio::time::timeout(IDLE_TIMEOUT, read_head(&mut stream, &mut buf));
        let head = tokio::select! {
            _ = shutdown.changed() => return,
            r = read => match r {
                Ok(Ok(Some(h))) => h,
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return,
            },
        };
        let parsed = parse_head(&buf[..head]);
        buf.drain(..head);
        let (req, keep_alive, body_len) = match parsed {
            Ok(x) => x,
            Err(status) => {
                let r = Response::new(status, Some("text/plain;charset=utf-8"), "Bad Request\n");
                let _ = write_response(&mut stream, &r, false, false).await;
                return;
            }
        };
        if body_len > BODY_MAX {
            let r = Response::new(413, Some("text/plain;charset=utf-8"), "Payload Too Large\n");
            let _ = write_response(&mut stream, &r, false, false).await;
            return;
        }
        if skip_body(&mut stream, &mut buf, body_len).await.is_err() {
            return;
        }
        let head_only = req.method == "HEAD";
        let resp = match req.method.as_str() {
            "GET" | "HEAD" => handler(req).await,
            _ => Response::method_not_allowed(),
        };
        if write_response(&mut stream, &resp, keep_alive, head_only)
            .await
            .is_err()
            || !keep_alive
        {
            return;
        }
    }
}

/// Reads until the end of a request head; returns its length (including the blank line), or
/// `None` at a clean end of stream.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            return Ok(Some(i + 4));
        }
        if buf.len() > HEAD_MAX {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn skip_body(stream: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> std::io::Result<()> {
    let have = len.min(buf.len());
    buf.drain(..have);
    let mut left = len - have;
    let mut chunk = [0u8; 2048];
    while left > 0 {
        let n = stream.read(&mut chunk[..left.min(2048)]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        left -= n;
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a request head: (request, keep-alive, body length) or the status to answer.
pub fn parse_head(head: &[u8]) -> Result<(Request, bool, usize), u16> {
    let text = std::str::from_utf8(head).map_err(|_| 400u16)?;
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or(400u16)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return Err(400);
    }
    let mut keep_alive = version == "HTTP/1.1";
    let mut body_len = 0usize;
    for h in lines.filter(|l| !l.is_empty()) {
        let (name, value) = h.split_once(':').ok_or(400u16)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| 400u16)?;
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are not worth supporting for a monitoring endpoint.
            return Err(400);
        }
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect();
    Ok((
        Request {
            method: method.to_string(),
            path: percent_decode(path),
            query,
        },
        keep_alive,
        body_len,
    ))
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn write_response(
    stream: &mut TcpStream,
    r: &Response,
    keep_alive: bool,
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    if let Some(ct) = r.content_type {
        out.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    out.push_str("Server: zk-node\r\n");
    if !keep_alive {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&r.body);
    }
    stream.write_all(&bytes).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_lines() {
        let (r, ka, len) =
            parse_head(b"GET /commands/stmk?traceMask=12&x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/commands/stmk");
        assert_eq!(
            r.query,
            vec![
                ("traceMask".into(), "12".into()),
                ("x".into(), String::new())
            ]
        );
        assert!(ka);
        assert_eq!(len, 0);
        let (_, ka, len) = parse_head(b"POST /x HTTP/1.0\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert!(!ka);
        assert_eq!(len, 5);
        assert_eq!(parse_head(b"GARBAGE\r\n\r\n").unwrap_err(), 400);
        assert_eq!(parse_head(b"GET / HTTP/2\r\n\r\n").unwrap_err(), 400);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%2Fb+c%zz%4"), "/a/b c%zz%4");
    }
}
