//! One client connection: framing, four-letter words, decoding; the core does the rest.
//! A connection is closed when the client closes it, when a frame is malformed or too large,
//! or when the core drops its sending half (after closeSession, an unknown opcode, a failed
//! auth, a session moved elsewhere, or a client that does not read its replies).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use zk_proto::frame::{self, FrameError};
use zk_proto::proto::{ConnectRequest, RequestHeader};
use zk_proto::{Jute, OpCode, Reader, Request};

use super::core::{ToCore, CONN_OUT_CAP};
use super::fourlw;
use crate::config::Config;
use crate::tree::ConnId;

/// How long a new connection may stay silent before it is closed (Apache's sessionless
/// connection timeout is 10 s).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Initial read buffer; grows up to one maximal frame.
const READ_BUF: usize = 64 * 1024;

pub async fn run(
    mut stream: TcpStream,
    addr: SocketAddr,
    conn: ConnId,
    cfg: Arc<Config>,
    core: mpsc::Sender<ToCore>,
) {
    let _ = stream.set_nodelay(true);
    match handshake(&mut stream, addr, conn, &cfg, &core).await {
        Ok(Some(rx)) => {
            serve(&mut stream, addr, conn, &cfg, &core, rx).await;
            let _ = core.send(ToCore::Closed { conn }).await;
        }
        Ok(None) => {}
        Err(reason) => tracing::info!(%addr, "closing connection: {reason}"),
    }
    let _ = stream.shutdown().await;
}

/// Reads the first frame: a four-letter word (answered here, then `None`) or a ConnectRequest
/// (passed to the core, which answers through the returned channel).
async fn handshake(
    stream: &mut TcpStream,
    addr: SocketAddr,
    conn: ConnId,
    cfg: &Config,
    core: &mpsc::Sender<ToCore>,
) -> Result<Option<mpsc::Receiver<Vec<u8>>>, String> {
    let mut head = [0u8; 4];
    tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut head))
        .await
        .map_err(|_| "no request within 10 s".to_string())?
        .map_err(|e| format!("read failed: {e}"))?;
    if fourlw::is_known(&head) {
        let cmd = String::from_utf8_lossy(&head).to_string();
        let (tx, rx) = oneshot::channel();
        let text = match core
            .send(ToCore::FourLetter {
                cmd,
                addr,
                reply: tx,
            })
            .await
        {
            Ok(()) => rx.await.ok(),
            Err(_) => None,
        };
        let text = text.unwrap_or_else(|| format!("{}\n", fourlw::NOT_SERVING));
        let _ = stream.write_all(text.as_bytes()).await;
        return Ok(None);
    }
    let len = i32::from_be_bytes(head);
    if len < 0 || len as usize > cfg.jute_max_buffer {
        return Err(format!(
            "frame length {len} is outside 0..={} (jute.maxbuffer)",
            cfg.jute_max_buffer
        ));
    }
    let mut body = vec![0u8; len as usize];
    tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut body))
        .await
        .map_err(|_| "connect request not completed within 10 s".to_string())?
        .map_err(|e| format!("read failed: {e}"))?;
    let req =
        ConnectRequest::from_bytes(&body).map_err(|e| format!("malformed connect request: {e}"))?;
    let (tx, rx) = mpsc::channel(CONN_OUT_CAP);
    core.send(ToCore::Connect {
        conn,
        addr,
        req,
        out: tx,
    })
    .await
    .map_err(|_| "server is shutting down".to_string())?;
    Ok(Some(rx))
}

/// Reads request frames and writes what the core sends, until either side ends.
async fn serve(
    stream: &mut TcpStream,
    addr: SocketAddr,
    conn: ConnId,
    cfg: &Config,
    core: &mpsc::Sender<ToCore>,
    mut out: mpsc::Receiver<Vec<u8>>,
) {
    let (mut rd, mut wr) = stream.split();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BUF);
    let mut chunk = vec![0u8; READ_BUF];
    loop {
        tokio::select! {
            biased;
            msg = out.recv() => {
                let Some(first) = msg else { return };
                // Write everything queued in one go: fewer syscalls under pipelining.
                let mut batch = first;
                while let Ok(more) = out.try_recv() {
                    batch.extend_from_slice(&more);
                    if batch.len() > 1 << 20 { break; }
                }
                if wr.write_all(&batch).await.is_err() { return; }
            }
            n = rd.read(&mut chunk) => {
                let n = match n { Ok(0) | Err(_) => return, Ok(n) => n };
                buf.extend_from_slice(&chunk[..n]);
                if let Err(reason) = drain_frames(&mut buf, conn, cfg, core).await {
                    tracing::info!(%addr, "closing connection: {reason}");
                    return;
                }
            }
        }
    }
}

/// Decodes every complete frame in `buf` and hands it to the core.
async fn drain_frames(
    buf: &mut Vec<u8>,
    conn: ConnId,
    cfg: &Config,
    core: &mpsc::Sender<ToCore>,
) -> Result<(), String> {
    let mut consumed = 0;
    loop {
        let (used, payload) = match frame::parse(&buf[consumed..], cfg.jute_max_buffer) {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(FrameError::TooLarge { len, max }) => {
                return Err(format!("frame length {len} exceeds jute.maxbuffer ({max})"))
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut r = Reader::new(payload);
        let hdr =
            RequestHeader::decode(&mut r).map_err(|e| format!("malformed request header: {e}"))?;
        let op = OpCode(hdr.op);
        let body = Request::decode(op, &mut r);
        core.send(ToCore::Request {
            conn,
            xid: hdr.xid,
            op,
            body,
        })
        .await
        .map_err(|_| "server is shutting down".to_string())?;
        consumed += used;
    }
    buf.drain(..consumed);
    Ok(())
}
