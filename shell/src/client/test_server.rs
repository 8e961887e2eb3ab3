//! A scripted stand-in for a server, for tests of the session task: frames in and out, and the
//! handshake. Each test drives the rest of the conversation itself.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_proto::proto::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader};
use zk_proto::{frame, Jute, Reader};

/// The next frame's payload, or `None` once the client has gone.
pub async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut payload = vec![0; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).await.ok()?;
    Some(payload)
}

/// Sends one frame whose payload `fill` writes.
pub async fn write_frame(s: &mut TcpStream, fill: impl FnOnce(&mut Vec<u8>)) {
    s.write_all(&frame::build(fill)).await.expect("write");
}

/// Reads the ConnectRequest and accepts it as session 42 with `timeout_ms`.
pub async fn accept_session(s: &mut TcpStream, timeout_ms: i32) -> ConnectRequest {
    let payload = read_frame(s).await.expect("a handshake");
    let hello = ConnectRequest::from_bytes(&payload).expect("a connect request");
    let welcome = ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id: 42,
        passwd: vec![7; 16],
        read_only: hello.read_only.map(|_| false),
    };
    write_frame(s, |out| welcome.encode(out)).await;
    hello
}

/// The next request's header and body, or `None` once the client has gone.
pub async fn read_request(s: &mut TcpStream) -> Option<(RequestHeader, Vec<u8>)> {
    let payload = read_frame(s).await?;
    let mut r = Reader::new(&payload);
    let header = RequestHeader::decode(&mut r).expect("a request header");
    Some((header, r.rest().to_vec()))
}

/// Answers request `xid` with success and the body `fill` writes.
pub async fn reply(s: &mut TcpStream, xid: i32, fill: impl FnOnce(&mut Vec<u8>)) {
    let header = ReplyHeader {
        xid,
        zxid: 1,
        err: 0,
    };
    write_frame(s, |out| {
        header.encode(out);
        fill(out);
    })
    .await;
}
