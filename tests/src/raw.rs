//! A raw ZooKeeper wire client over TCP, built on `zk-proto`, for the exchanges an ordinary
//! client hides: the order of a watch event relative to the reply of the write that caused it,
//! header zxids, null vs empty data, raw multi results, clients without the read-only byte,
//! unknown opcodes, malformed frames.
//!
//! It does nothing behind the caller's back: no pings, no reconnects, no watch bookkeeping.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_proto::jute::{Jute, Reader, Writer};
use zk_proto::ops::xid;
use zk_proto::proto::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent};
use zk_proto::{OpCode, Request};

/// Largest frame this client accepts from a server (a 1 MB znode plus headers fits easily).
const FRAME_LEN_MAX: usize = 16 << 20;
/// How long [`RawClient::call`] waits for the reply to its request.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The fields of a `ConnectRequest`.
#[derive(Debug, Clone)]
pub struct ConnectOpts {
    pub timeout_ms: i32,
    /// 0 asks for a new session.
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub last_zxid_seen: i64,
    /// `None` sends no read-only byte, as a client older than 3.4 does.
    pub read_only: Option<bool>,
}

impl Default for ConnectOpts {
    fn default() -> Self {
        ConnectOpts {
            timeout_ms: 10_000,
            session_id: 0,
            passwd: vec![0; 16],
            last_zxid_seen: 0,
            read_only: Some(false),
        }
    }
}

/// The framed `ConnectRequest` for `opts`.
pub fn connect_frame(opts: &ConnectOpts) -> Vec<u8> {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: opts.last_zxid_seen,
        timeout_ms: opts.timeout_ms,
        session_id: opts.session_id,
        passwd: opts.passwd.clone(),
        read_only: opts.read_only,
    };
    frame(&req.to_bytes())
}

/// A framed request: header with `xid` and `op`, then `body`.
pub fn request_frame(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut payload = RequestHeader { xid, op }.to_bytes();
    payload.extend_from_slice(body);
    frame(&payload)
}

/// `payload` with its 4-byte length prefix.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.put_i32(payload.len() as i32);
    out.put_bytes(payload);
    out
}

/// One thing read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A frame with xid -1: a watch notification.
    Event {
        zxid: i64,
        err: i32,
        event: WatcherEvent,
    },
    /// Any other frame: the reply header, the opcode of the request this client sent with that
    /// xid (if any), and the raw body.
    Reply {
        xid: i32,
        zxid: i64,
        err: i32,
        op: Option<OpCode>,
        body: Vec<u8>,
    },
    /// A frame that could not even be split into a header (fewer than 16 bytes, or a bad event).
    Garbled(Vec<u8>),
    /// The server closed the connection (EOF or reset).
    Closed,
}

/// A raw connection to a ZooKeeper server.
#[derive(Debug)]
pub struct RawClient {
    stream: TcpStream,
    /// Bytes read but not yet framed.
    buf: Vec<u8>,
    next_xid: i32,
    /// Requests sent and not yet answered, in order: (xid, opcode).
    pending: VecDeque<(i32, OpCode)>,
    /// Set once EOF was seen.
    closed: bool,
    /// From the handshake; 0 before it or when the server refused the session.
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout_ms: i32,
    /// Highest zxid seen in a reply header, as a real client tracks it for reconnects.
    pub last_zxid: i64,
}

impl RawClient {
    /// Opens a TCP connection and sends nothing.
    pub async fn connect_tcp(addr: SocketAddr) -> Result<RawClient> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .with_context(|| format!("connect to {addr}: timed out"))?
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            stream,
            buf: Vec::new(),
            next_xid: 1,
            pending: VecDeque::new(),
            closed: false,
            session_id: 0,
            passwd: Vec::new(),
            timeout_ms: 0,
            last_zxid: 0,
        })
    }

    /// Connects and performs the handshake. Fails if the server closes without answering or
    /// refuses the session (timeout 0).
    pub async fn connect(addr: SocketAddr, opts: &ConnectOpts) -> Result<RawClient> {
        let mut c = RawClient::connect_tcp(addr).await?;
        match c.handshake(opts).await? {
            Some(resp) if resp.timeout_ms > 0 => Ok(c),
            Some(resp) => bail!("server refused the session: {resp:?}"),
            None => bail!("server closed the connection during the handshake"),
        }
    }

    /// Sends a `ConnectRequest` and reads the `ConnectResponse`; `None` when the server closed
    /// the connection without one.
    pub async fn handshake(&mut self, opts: &ConnectOpts) -> Result<Option<ConnectResponse>> {
        self.write_bytes(&connect_frame(opts)).await?;
        self.read_connect_response().await
    }

    /// Reads the `ConnectResponse` to a handshake written by hand (see [`connect_frame`]).
    pub async fn read_connect_response(&mut self) -> Result<Option<ConnectResponse>> {
        let Some(frame) = self.read_frame(CALL_TIMEOUT).await? else {
            bail!("no ConnectResponse within {CALL_TIMEOUT:?}");
        };
        let Some(frame) = frame else {
            return Ok(None);
        };
        let resp = ConnectResponse::from_bytes(&frame)
            .with_context(|| format!("decode ConnectResponse ({} bytes)", frame.len()))?;
        self.session_id = resp.session_id;
        self.passwd = resp.passwd.clone();
        self.timeout_ms = resp.timeout_ms;
        Ok(Some(resp))
    }

    /// Writes `payload` with its 4-byte length prefix.
    pub async fn write_frame(&mut self, payload: &[u8]) -> Result<()> {
        self.write_bytes(&frame(payload)).await
    }

    /// Writes bytes as they are (no framing). A write that fails because the server already
    /// closed the connection (reset, broken pipe) is not an error: the next read reports
    /// [`Incoming::Closed`], which is what the caller needs to see. Servers differ only in how
    /// quickly they close, e.g. during a frame over jute.maxbuffer.
    pub async fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let res = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        }
        .await;
        match res {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e).context("write to server"),
        }
    }

    /// The xid the next ordinary request gets.
    pub fn peek_xid(&self) -> i32 {
        self.next_xid
    }

    /// Sends a typed request; returns its xid (ping -2, auth -4, setWatches -8, others counted
    /// from 1).
    pub async fn send(&mut self, req: &Request) -> Result<i32> {
        let x = match req {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            Request::SetWatches(_) | Request::SetWatches2(_) => xid::SET_WATCHES,
            _ => self.take_xid(),
        };
        let mut body = Vec::new();
        req.encode_body(&mut body);
        self.send_op(x, req.op().0, &body).await?;
        Ok(x)
    }

    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// Sends a header with any xid and opcode and any body bytes.
    pub async fn send_op(&mut self, xid: i32, op: i32, body: &[u8]) -> Result<()> {
        self.expect_reply(xid, OpCode(op));
        self.write_bytes(&request_frame(xid, op, body)).await
    }

    /// Records that a request with `xid` and `op` was sent by hand (e.g. pipelined with the
    /// handshake through [`RawClient::write_bytes`]), so its reply body can be decoded.
    pub fn expect_reply(&mut self, xid: i32, op: OpCode) {
        self.pending.push_back((xid, op));
    }

    /// Sends an arbitrary opcode with the next ordinary xid; returns the xid.
    pub async fn send_any(&mut self, op: i32, body: &[u8]) -> Result<i32> {
        let x = self.take_xid();
        self.send_op(x, op, body).await?;
        Ok(x)
    }

    /// Sends `req` and reads until its reply (or the connection closes). Watch events that arrive
    /// first are returned before the reply, in arrival order.
    pub async fn call(&mut self, req: &Request) -> Result<Vec<Incoming>> {
        let x = self.send(req).await?;
        self.read_until_reply(x).await
    }

    /// Like [`RawClient::call`] for an arbitrary opcode and body.
    pub async fn call_any(&mut self, op: i32, body: &[u8]) -> Result<Vec<Incoming>> {
        let x = self.send_any(op, body).await?;
        self.read_until_reply(x).await
    }

    /// Reads until the reply with `xid` or until the connection closes.
    pub async fn read_until_reply(&mut self, xid: i32) -> Result<Vec<Incoming>> {
        let mut out = Vec::new();
        loop {
            let Some(inc) = self.recv(CALL_TIMEOUT).await? else {
                bail!("no reply to xid {xid} within {CALL_TIMEOUT:?}; got so far: {out:?}");
            };
            let done = match &inc {
                Incoming::Reply { xid: x, .. } => *x == xid,
                Incoming::Closed => true,
                _ => false,
            };
            out.push(inc);
            if done {
                return Ok(out);
            }
        }
    }

    /// Reads everything that arrives until nothing more comes for `quiet` (or the connection
    /// closes).
    pub async fn drain(&mut self, quiet: Duration) -> Result<Vec<Incoming>> {
        let mut out = Vec::new();
        while let Some(inc) = self.recv(quiet).await? {
            let closed = inc == Incoming::Closed;
            out.push(inc);
            if closed {
                break;
            }
        }
        Ok(out)
    }

    /// Waits up to `timeout` for the next frame; `Ok(None)` when nothing arrived.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Option<Incoming>> {
        let Some(frame) = self.read_frame(timeout).await? else {
            return Ok(None);
        };
        let Some(frame) = frame else {
            return Ok(Some(Incoming::Closed));
        };
        Ok(Some(self.classify(frame)))
    }

    /// Waits until the server closes the connection, discarding nothing: returns what arrived
    /// before the close. Fails if the connection is still open after `timeout`.
    pub async fn expect_closed(&mut self, timeout: Duration) -> Result<Vec<Incoming>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await? {
                None => bail!("connection still open after {timeout:?}; got {out:?}"),
                Some(Incoming::Closed) => return Ok(out),
                Some(other) => out.push(other),
            }
        }
    }

    /// Sends closeSession and reads until the reply and the close.
    pub async fn close_session(&mut self) -> Result<Vec<Incoming>> {
        let mut out = self.call(&Request::CloseSession).await?;
        if out.last() != Some(&Incoming::Closed) {
            out.extend(self.drain(Duration::from_secs(5)).await?);
        }
        Ok(out)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn classify(&mut self, frame: Vec<u8>) -> Incoming {
        let mut r = Reader::new(&frame);
        let Ok(h) = ReplyHeader::decode(&mut r) else {
            return Incoming::Garbled(frame);
        };
        if h.xid == xid::NOTIFICATION {
            return match WatcherEvent::decode(&mut r) {
                Ok(event) => Incoming::Event {
                    zxid: h.zxid,
                    err: h.err,
                    event,
                },
                Err(_) => Incoming::Garbled(frame),
            };
        }
        if h.zxid > self.last_zxid {
            self.last_zxid = h.zxid;
        }
        let op = self
            .pending
            .iter()
            .position(|(x, _)| *x == h.xid)
            .and_then(|i| self.pending.remove(i))
            .map(|(_, op)| op);
        Incoming::Reply {
            xid: h.xid,
            zxid: h.zxid,
            err: h.err,
            op,
            body: r.rest().to_vec(),
        }
    }

    /// `Ok(None)`: timeout. `Ok(Some(None))`: EOF. `Ok(Some(Some(payload)))`: a frame.
    async fn read_frame(&mut self, timeout: Duration) -> Result<Option<Option<Vec<u8>>>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.buf.len() >= 4 {
                let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                if len < 0 || len as usize > FRAME_LEN_MAX {
                    bail!("server sent frame length {len}");
                }
                let len = len as usize;
                if self.buf.len() >= 4 + len {
                    let payload = self.buf[4..4 + len].to_vec();
                    self.buf.drain(..4 + len);
                    return Ok(Some(Some(payload)));
                }
            }
            if self.closed {
                return Ok(Some(None));
            }
            let mut chunk = vec![0u8; 64 * 1024];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await;
            match read {
                Err(_) => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    // A reset counts as a close: the server dropped us either way.
                    self.closed = true;
                    if self.buf.is_empty() {
                        return Ok(Some(None));
                    }
                    if self.buf.len() < 4 {
                        self.buf.clear();
                        return Ok(Some(None));
                    }
                    let len =
                        i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                    if len < 0 || self.buf.len() < 4 + len as usize {
                        // A partial frame before the close: drop it.
                        self.buf.clear();
                        return Ok(Some(None));
                    }
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
