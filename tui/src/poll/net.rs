//! The two network requests zk-top makes: a four-letter word on the client port, and an HTTP/1.1
//! GET to the AdminServer. Both read at most [`REPLY_LEN_MAX`] bytes; the caller puts a timeout
//! around the whole poll.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A 3.8 `mntr` reply is about 20 KiB; anything far larger is not a ZooKeeper reply, and
/// reading it would only burn memory.
pub const REPLY_LEN_MAX: usize = 1 << 20;

/// Sends a four-letter word and returns everything the server writes before closing.
pub async fn four_letter(addr: &str, word: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(word.as_bytes()).await?;
    let bytes = read_bounded(&mut stream).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// An HTTP response: status code and decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// `GET base_url + path` over plain HTTP/1.1 with `Connection: close`.
/// `base_url` is `http://host:port` with an optional path prefix.
pub async fn http_get(base_url: &str, path: &str) -> io::Result<HttpResponse> {
    let (authority, prefix) = split_url(base_url)?;
    let mut stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET {prefix}{path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: zk-top\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let bytes = read_bounded(&mut stream).await?;
    parse_response(&bytes)
}

async fn read_bounded(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(4096);
    let mut limited = stream.take(REPLY_LEN_MAX as u64);
    limited.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// Splits `http://host:port/prefix` into `host:port` and `/prefix` (without a trailing `/`).
pub fn split_url(url: &str) -> io::Result<(&str, &str)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{url}: only http:// AdminServer URLs are supported"),
        )
    })?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority_with_port = if authority.contains(':') {
        authority
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{url}: AdminServer URL needs a port"),
        ));
    };
    Ok((authority_with_port, prefix.trim_end_matches('/')))
}

/// Parses a full HTTP/1.1 response, with or without chunked transfer encoding.
pub fn parse_response(bytes: &[u8]) -> io::Result<HttpResponse> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let head_end = find(bytes, b"\r\n\r\n").ok_or_else(|| invalid("truncated HTTP header"))?;
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    let body = &bytes[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad HTTP status line"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| invalid("bad chunked body"))?
    } else {
        body.to_vec()
    };
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = find(body, b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        let r = parse_response(plain).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{\"a\":1}"));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = parse_response(chunked).unwrap();
        assert_eq!(r.body, "{\"a\":1}");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(split_url("http://h:8080").unwrap(), ("h:8080", ""));
        assert_eq!(split_url("http://h:8080/zk/").unwrap(), ("h:8080", "/zk"));
        assert!(split_url("https://h:8080").is_err());
        assert!(split_url("http://h").is_err());
    }
}
