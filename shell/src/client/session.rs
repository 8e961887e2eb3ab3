//! The session task: one tokio task per [`Client`](super::Client) that owns the TCP connection,
//! establishes and re-establishes the session, writes requests, matches replies to them in
//! order, sends pings, and delivers watch events.
//!
//! Replies come back in request order on one connection (reference §3), so the in-flight
//! requests are a FIFO and a reply must match its head. Ping (-2) and auth (-4) replies are
//! outside that FIFO; notifications (-1) can come at any time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, timeout, Instant};
use zk_proto::jute::{Jute, Reader};
use zk_proto::ops::xid;
use zk_proto::proto::{
    AuthPacket, ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent,
};
use zk_proto::{frame, ErrorCode, OpCode, Request, Response, Zxid};

use super::connect_string::to_client_path;
use super::events::{ClientEvent, Event, EventType, NodeEvent, SessionState};
use super::pipeline::{self, PipelineOp, Pipelines, Queued, Sink};
use super::watches::{downgrade, WatchKind};
use super::{Error, Reply, Shared};

/// Replies can be larger than requests (getChildren of a node with 300k children); the Java
/// client's 1 MiB cap makes such nodes unreadable, so this client allows far more.
const REPLY_FRAME_LEN_MAX: usize = 64 * 1024 * 1024;
/// Requests written but not yet answered on one connection. Past this the task stops taking
/// new requests until replies arrive, so a fast caller cannot grow memory without bound.
const IN_FLIGHT_MAX: usize = 4096;
/// Bytes buffered for the socket before the task stops taking new requests.
const OUT_BUF_MAX: usize = 4 * 1024 * 1024;
/// Queued requests taken at once into one write, so the task still gets to read replies (and
/// to let go of the socket's buffer) between batches.
const WRITE_BATCH_MAX: usize = 256;
/// How long `close` waits for the server to confirm closeSession.
const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause after a full pass over every host failed, doubling up to the cap.
const RETRY_PAUSE_MIN: Duration = Duration::from_millis(100);
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);
/// A host gets at least this long to answer the handshake.
const CONNECT_TIMEOUT_MIN: Duration = Duration::from_millis(500);

/// A message from a client handle to the task.
pub(crate) enum Msg {
    Call(Call),
    Auth {
        scheme: String,
        auth: Vec<u8>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// A pipeline to run ([`Client::run_pipeline`](super::Client::run_pipeline)).
    Pipeline(Queued),
}

/// One request on its way to the server, with what to do with its reply.
pub(crate) struct Call {
    pub request: Request,
    /// The client path, for error messages.
    pub path: Option<String>,
    /// A watch to record on success: kind and server path.
    pub watch: Option<(WatchKind, String)>,
    /// For removeWatches: the server path and watcher type to forget on success.
    pub unwatch: Option<(String, i32)>,
    pub reply: oneshot::Sender<Result<Reply, Error>>,
}

struct Pending {
    xid: i32,
    op: OpCode,
    path: Option<String>,
    watch: Option<(WatchKind, String)>,
    unwatch: Option<(String, i32)>,
    reply: ReplyTo,
}

/// Who gets a reply.
enum ReplyTo {
    /// The task itself (setWatches, closeSession): nobody waits.
    Task,
    Caller(oneshot::Sender<Result<Reply, Error>>),
    /// The front pipeline of [`Session::pipelines`].
    Pipeline,
}

/// Why a connection ended.
enum Ended {
    Lost(String),
    Closed,
}

/// The session's state that outlives connections.
pub(crate) struct Session {
    pub hosts: Vec<String>,
    pub chroot: Option<String>,
    pub label: Arc<str>,
    pub requested_timeout_ms: i32,
    pub rx: mpsc::Receiver<Msg>,
    pub close_rx: watch::Receiver<bool>,
    pub events: mpsc::Sender<ClientEvent>,
    pub shared: Arc<Shared>,
    pub host_next: usize,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout_ms: i32,
    /// Credentials the server accepted, re-sent after every reconnect.
    pub auths: Vec<(String, Vec<u8>)>,
    pub xid: i32,
    pub pipelines: Pipelines,
}

/// One live TCP connection with its buffers and in-flight requests.
struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    pending: VecDeque<Pending>,
    auth_pending: VecDeque<(String, Vec<u8>, Option<oneshot::Sender<Result<(), Error>>>)>,
    last_send: Instant,
    last_recv: Instant,
}

impl Session {
    /// Runs until the session is closed or expires.
    pub async fn run(mut self) {
        let mut last_error = String::new();
        loop {
            let conn = match self.connect_any(&mut last_error).await {
                Found::Conn(conn) => conn,
                Found::Expired => return self.finish(SessionState::Expired),
                Found::Closed => return self.finish(SessionState::Closed),
            };
            match self.serve(conn).await {
                Ended::Lost(why) => {
                    last_error = why;
                    self.set_state(SessionState::Disconnected, None);
                }
                Ended::Closed => return self.finish(SessionState::Closed),
            }
        }
    }

    fn finish(mut self, state: SessionState) {
        self.set_state(state, None);
        self.rx.close();
        let err = if state == SessionState::Expired {
            Error::SessionExpired
        } else {
            Error::Closed
        };
        self.pipelines.end(&err);
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Call(c) => drop(c.reply.send(Err(err.clone()))),
                Msg::Auth { reply, .. } => drop(reply.send(Err(err.clone()))),
                Msg::Pipeline(mut q) => pipeline::end_one(&mut q, &err, std::time::Instant::now()),
            }
        }
    }

    fn set_state(&self, state: SessionState, server: Option<String>) {
        self.shared.info.send_modify(|i| {
            i.state = state;
            i.session_id = self.session_id;
            i.timeout_ms = self.timeout_ms;
            i.server = server;
        });
        self.emit(Event::State(state));
    }

    /// Events go out with `try_send`: the task must never wait on a slow reader, because the
    /// reader may itself be waiting for a reply this task has to deliver.
    fn emit(&self, event: Event) {
        let ev = ClientEvent {
            label: self.label.clone(),
            event,
        };
        if self.events.try_send(ev).is_err() {
            self.shared
                .events_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn closing(&self) -> bool {
        *self.close_rx.borrow() || self.rx.is_closed()
    }

    /// Tries the hosts in turn until one accepts the session, says it expired, or the client
    /// is closed.
    async fn connect_any(&mut self, last_error: &mut String) -> Found {
        let mut pause = RETRY_PAUSE_MIN;
        loop {
            for _ in 0..self.hosts.len() {
                if self.closing() {
                    return Found::Closed;
                }
                self.pipelines
                    .settle_disconnected(std::time::Instant::now());
                let host = self.hosts[self.host_next % self.hosts.len()].clone();
                self.host_next = (self.host_next + 1) % self.hosts.len();
                let mut close_rx = self.close_rx.clone();
                let attempt = tokio::select! {
                    r = self.handshake(&host) => r,
                    _ = closed(&mut close_rx) => return Found::Closed,
                };
                match attempt {
                    Ok(conn) => return Found::Conn(conn),
                    Err(HandshakeError::Expired) => return Found::Expired,
                    Err(HandshakeError::Failed(why)) => {
                        *last_error = format!("{host}: {why}");
                        self.shared.set_last_error(last_error.clone());
                    }
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_PAUSE_MAX);
        }
    }

    fn connect_timeout(&self) -> Duration {
        let timeout_ms = if self.timeout_ms > 0 {
            self.timeout_ms
        } else {
            self.requested_timeout_ms
        };
        let per_host = Duration::from_millis(timeout_ms as u64) / self.hosts.len() as u32;
        per_host.max(CONNECT_TIMEOUT_MIN)
    }

    async fn handshake(&mut self, host: &str) -> Result<Conn, HandshakeError> {
        let limit = self.connect_timeout();
        let stream = timeout(limit, TcpStream::connect(host))
            .await
            .map_err(|_| HandshakeError::Failed("connect timed out".into()))?
            .map_err(|e| HandshakeError::Failed(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut conn = Conn::new(rd, wr);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.shared.last_zxid(),
            timeout_ms: self.requested_timeout_ms,
            session_id: self.session_id,
            passwd: self.password_for_connect(),
            read_only: Some(false),
        };
        conn.out = frame::build(|out| req.encode(out));
        let resp = timeout(limit, conn.handshake_reply())
            .await
            .map_err(|_| HandshakeError::Failed("no answer to the handshake".into()))?
            .map_err(HandshakeError::Failed)?;
        if resp.timeout_ms <= 0 {
            return Err(HandshakeError::Expired);
        }
        self.session_id = resp.session_id;
        self.passwd = resp.passwd;
        self.timeout_ms = resp.timeout_ms;
        self.set_state(SessionState::Connected, Some(host.to_string()));
        self.prime(&mut conn);
        Ok(conn)
    }

    fn password_for_connect(&self) -> Vec<u8> {
        if self.passwd.is_empty() {
            vec![0; 16]
        } else {
            self.passwd.clone()
        }
    }

    /// After a handshake: credentials, then watches, before any queued request (the order of
    /// the Java client's `primeConnection`).
    fn prime(&mut self, conn: &mut Conn) {
        for (scheme, auth) in self.auths.clone() {
            conn.push_auth(scheme, auth, None);
        }
        let watches = self.shared.watches.lock().expect("watch set lock").clone();
        if watches.is_empty() {
            return;
        }
        let v2 = watches.needs_v2();
        for batch in watches.set_watches2(self.shared.last_zxid()) {
            let (op, request) = if v2 {
                (OpCode::SET_WATCHES2, Request::SetWatches2(batch))
            } else {
                (OpCode::SET_WATCHES, Request::SetWatches(downgrade(batch)))
            };
            conn.push(
                xid::SET_WATCHES,
                op,
                &request,
                Pending::internal(xid::SET_WATCHES, op),
            );
        }
    }

    fn next_xid(&mut self) -> i32 {
        next_xid(&mut self.xid)
    }

    /// Serves one connection until it breaks, the client closes, or the session expires.
    async fn serve(&mut self, mut conn: Conn) -> Ended {
        let timeout_ms = self.timeout_ms as u64;
        let ping_every = Duration::from_millis(timeout_ms / 3);
        let read_timeout = Duration::from_millis(timeout_ms * 2 / 3);
        let mut close_rx = self.close_rx.clone();
        let closing = closed(&mut close_rx);
        tokio::pin!(closing);
        // One timer for pings and for the read timeout. Sends and receives only move their
        // deadlines later, so the timer is left alone on the way (resetting it for every
        // request would cost more than the request); when it fires it checks what is due and
        // is set again.
        let next_timer = |c: &Conn| (c.last_send + ping_every).min(c.last_recv + read_timeout);
        let timer = sleep_until(next_timer(&conn));
        tokio::pin!(timer);
        self.fill_pipelines(&mut conn);
        loop {
            let can_take = conn.pending.len() < IN_FLIGHT_MAX && conn.out.len() < OUT_BUF_MAX;
            tokio::select! {
                biased;
                _ = &mut closing => return self.close(conn).await,
                n = conn.rd.read_buf(&mut conn.inbuf) => match n {
                    Ok(0) => return self.lost(conn, "server closed the connection"),
                    Ok(_) => {
                        let now = std::time::Instant::now();
                        conn.last_recv = Instant::from_std(now);
                        if let Err(why) = self.on_bytes(&mut conn, now) {
                            return self.lost(conn, &why);
                        }
                        self.fill_pipelines(&mut conn);
                    }
                    Err(e) => return self.lost(conn, &e.to_string()),
                },
                w = conn.wr.write(&conn.out), if !conn.out.is_empty() => match w {
                    Ok(n) => { conn.out.drain(..n); conn.last_send = Instant::now(); }
                    Err(e) => return self.lost(conn, &e.to_string()),
                },
                msg = self.rx.recv(), if can_take => match msg {
                    Some(msg) => {
                        self.on_msg(&mut conn, msg);
                        self.take_queued(&mut conn);
                        // Callers just handed their replies are likely about to send again:
                        // let them run first, so that one write carries their requests too.
                        tokio::task::yield_now().await;
                        self.take_queued(&mut conn);
                        self.fill_pipelines(&mut conn);
                    }
                    None => return self.close(conn).await,
                },
                _ = &mut timer => {
                    let now = Instant::now();
                    if now >= conn.last_recv + read_timeout {
                        return self.lost(conn, "server stopped answering");
                    }
                    if now >= conn.last_send + ping_every {
                        conn.push_ping();
                        conn.last_send = now;
                    }
                    timer.as_mut().reset(next_timer(&conn));
                }
            }
        }
    }

    /// Encodes what the pipelines have to send now.
    fn fill_pipelines(&mut self, conn: &mut Conn) {
        if self.pipelines.is_empty() {
            return;
        }
        let mut sink = PipelineSink {
            conn,
            xid: &mut self.xid,
            chroot: self.chroot.as_deref(),
        };
        self.pipelines.fill(std::time::Instant::now(), &mut sink);
    }

    fn lost(&mut self, conn: Conn, why: &str) -> Ended {
        conn.fail_all(&mut self.pipelines);
        Ended::Lost(why.to_string())
    }

    /// Takes the requests already queued behind the one just taken, so that one write carries
    /// them all: with many callers pipelining, a write (and on loopback the receiver's TCP
    /// work, which the sender pays for) per request would cost more than the requests.
    fn take_queued(&mut self, conn: &mut Conn) {
        for _ in 0..WRITE_BATCH_MAX {
            if conn.pending.len() >= IN_FLIGHT_MAX || conn.out.len() >= OUT_BUF_MAX {
                return;
            }
            match self.rx.try_recv() {
                Ok(msg) => self.on_msg(conn, msg),
                Err(_) => return,
            }
        }
    }

    fn on_msg(&mut self, conn: &mut Conn, msg: Msg) {
        match msg {
            Msg::Call(call) => {
                let xid = self.next_xid();
                let op = call.request.op();
                let pending = Pending {
                    xid,
                    op,
                    path: call.path,
                    watch: call.watch,
                    unwatch: call.unwatch,
                    reply: ReplyTo::Caller(call.reply),
                };
                conn.push(xid, op, &call.request, pending);
            }
            Msg::Auth {
                scheme,
                auth,
                reply,
            } => conn.push_auth(scheme, auth, Some(reply)),
            Msg::Pipeline(q) => self.pipelines.push(q),
        }
    }

    /// Handles every complete frame in the input buffer, read at `now`.
    fn on_bytes(&mut self, conn: &mut Conn, now: std::time::Instant) -> Result<(), String> {
        // The frames are handled in place: the buffer is taken out of `conn` meanwhile.
        let inbuf = std::mem::take(&mut conn.inbuf);
        let mut used = 0;
        let handled = loop {
            let parsed = match frame::parse(&inbuf[used..], REPLY_FRAME_LEN_MAX) {
                Ok(p) => p,
                Err(e) => break Err(e.to_string()),
            };
            let Some((len, payload)) = parsed else {
                break Ok(());
            };
            used += len;
            if let Err(e) = self.on_frame(conn, payload, now) {
                break Err(e);
            }
        };
        conn.inbuf = inbuf;
        conn.inbuf.drain(..used);
        handled
    }

    fn on_frame(
        &mut self,
        conn: &mut Conn,
        payload: &[u8],
        now: std::time::Instant,
    ) -> Result<(), String> {
        let mut r = Reader::new(payload);
        let header = ReplyHeader::decode(&mut r).map_err(|e| e.to_string())?;
        if header.zxid > 0 {
            self.shared.observe_zxid(header.zxid);
        }
        match header.xid {
            xid::NOTIFICATION => self.on_notification(&header, &mut r),
            xid::PING => Ok(()),
            xid::AUTH => self.on_auth_reply(conn, &header),
            _ => self.on_reply(conn, &header, &mut r, now),
        }
    }

    fn on_notification(&mut self, header: &ReplyHeader, r: &mut Reader<'_>) -> Result<(), String> {
        let ev = WatcherEvent::decode(r).map_err(|e| e.to_string())?;
        self.shared
            .watches
            .lock()
            .expect("watch set lock")
            .on_event(ev.event_type, &ev.path);
        self.emit(Event::Node(NodeEvent {
            event_type: EventType::from_wire(ev.event_type),
            path: to_client_path(self.chroot.as_deref(), &ev.path),
            zxid: (header.zxid >= 0).then_some(Zxid(header.zxid)),
        }));
        Ok(())
    }

    fn on_auth_reply(&mut self, conn: &mut Conn, header: &ReplyHeader) -> Result<(), String> {
        let Some((scheme, auth, reply)) = conn.auth_pending.pop_front() else {
            return Err("auth reply without an auth request".into());
        };
        if header.err == 0 {
            if !self.auths.iter().any(|(s, a)| *s == scheme && *a == auth) {
                self.auths.push((scheme, auth));
            }
            reply.map(|r| r.send(Ok(())));
        } else {
            self.emit(Event::State(SessionState::AuthFailed));
            reply.map(|r| r.send(Err(Error::AuthFailed { scheme })));
        }
        Ok(())
    }

    fn on_reply(
        &mut self,
        conn: &mut Conn,
        header: &ReplyHeader,
        r: &mut Reader<'_>,
        now: std::time::Instant,
    ) -> Result<(), String> {
        let Some(p) = conn.pending.pop_front() else {
            return Err(format!("reply xid {} with nothing in flight", header.xid));
        };
        if p.xid != header.xid {
            return Err(format!("reply xid {} but expected {}", header.xid, p.xid));
        }
        let code = ErrorCode(header.err);
        if let ReplyTo::Pipeline = p.reply {
            let result = if code.is_ok() {
                pipeline::check_reply(p.op, r).map_err(Error::from)
            } else {
                Err(Error::Keeper {
                    code,
                    op: p.op,
                    path: None,
                })
            };
            self.pipelines.reply(result, now);
            return Ok(());
        }
        let result = if code.is_ok() {
            Response::decode(p.op, r).map_err(Error::from)
        } else {
            Err(Error::Keeper {
                code,
                op: p.op,
                path: p.path.clone(),
            })
        };
        self.record_watch(&p, code);
        if let ReplyTo::Caller(reply) = p.reply {
            let zxid = Zxid(header.zxid);
            let _ = reply.send(result.map(|response| Reply { zxid, response }));
        }
        Ok(())
    }

    /// Keeps the client's watch table in step with the server's after a reply.
    fn record_watch(&self, p: &Pending, code: ErrorCode) {
        let mut watches = self.shared.watches.lock().expect("watch set lock");
        if let Some((kind, path)) = &p.watch {
            match (*kind, code) {
                (WatchKind::Data, ErrorCode::NO_NODE) if p.op == OpCode::EXISTS => {
                    watches.add(WatchKind::Exist, path)
                }
                (kind, ErrorCode::OK) => watches.add(kind, path),
                _ => {}
            }
        }
        if let (Some((path, kind)), true) = (&p.unwatch, code.is_ok()) {
            watches.on_removed(path, *kind);
        }
    }

    /// Sends closeSession and waits a little for its reply.
    async fn close(&mut self, mut conn: Conn) -> Ended {
        let xid = self.next_xid();
        let op = OpCode::CLOSE_SESSION;
        conn.push(xid, op, &Request::CloseSession, Pending::internal(xid, op));
        let _ = timeout(CLOSE_REPLY_TIMEOUT, conn.drain_until_closed()).await;
        conn.fail_all(&mut self.pipelines);
        Ended::Closed
    }
}

fn next_xid(xid: &mut i32) -> i32 {
    *xid = if *xid >= i32::MAX - 1 { 1 } else { *xid + 1 };
    *xid
}

/// Puts pipeline requests on a connection.
struct PipelineSink<'a> {
    conn: &'a mut Conn,
    xid: &'a mut i32,
    chroot: Option<&'a str>,
}

impl Sink for PipelineSink<'_> {
    fn has_room(&self) -> bool {
        self.conn.pending.len() < IN_FLIGHT_MAX && self.conn.out.len() < OUT_BUF_MAX
    }

    fn send(&mut self, op: &PipelineOp<'_>) {
        let xid = next_xid(self.xid);
        let code = op.op();
        let out = &mut self.conn.out;
        let at = begin_frame(out);
        RequestHeader { xid, op: code.0 }.encode(out);
        op.encode_body(self.chroot, out);
        end_frame(out, at);
        self.conn.pending.push_back(Pending {
            reply: ReplyTo::Pipeline,
            ..Pending::internal(xid, code)
        });
    }
}

/// Starts a frame at the end of `out`: a length prefix to fill in by [`end_frame`].
fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

fn end_frame(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// Resolves once `close` was asked for. The guard `wait_for` returns is dropped here, inside,
/// because it cannot be held across an await of the (Send) session task.
async fn closed(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

enum HandshakeError {
    Failed(String),
    /// The server answered with timeout 0: the session is gone.
    Expired,
}

/// What looking for a server ended with.
enum Found {
    Conn(Conn),
    Expired,
    Closed,
}

impl Pending {
    fn internal(xid: i32, op: OpCode) -> Pending {
        Pending {
            xid,
            op,
            path: None,
            watch: None,
            unwatch: None,
            reply: ReplyTo::Task,
        }
    }
}

impl Conn {
    fn new(rd: OwnedReadHalf, wr: OwnedWriteHalf) -> Conn {
        let now = Instant::now();
        Conn {
            rd,
            wr,
            inbuf: Vec::with_capacity(64 * 1024),
            out: Vec::new(),
            pending: VecDeque::new(),
            auth_pending: VecDeque::new(),
            last_send: now,
            last_recv: now,
        }
    }

    /// Writes the ConnectRequest already in `out` and reads the ConnectResponse.
    async fn handshake_reply(&mut self) -> Result<ConnectResponse, String> {
        self.wr
            .write_all(&self.out)
            .await
            .map_err(|e| e.to_string())?;
        self.out.clear();
        loop {
            if let Some((len, payload)) =
                frame::parse(&self.inbuf, REPLY_FRAME_LEN_MAX).map_err(|e| e.to_string())?
            {
                let resp = ConnectResponse::decode(&mut Reader::new(payload))
                    .map_err(|e| e.to_string())?;
                self.inbuf.drain(..len);
                return Ok(resp);
            }
            let n = self
                .rd
                .read_buf(&mut self.inbuf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("server closed the connection during the handshake".into());
            }
        }
    }

    fn push(&mut self, xid: i32, op: OpCode, request: &Request, pending: Pending) {
        let at = begin_frame(&mut self.out);
        RequestHeader { xid, op: op.0 }.encode(&mut self.out);
        request.encode_body(&mut self.out);
        end_frame(&mut self.out, at);
        self.pending.push_back(pending);
    }

    fn push_auth(
        &mut self,
        scheme: String,
        auth: Vec<u8>,
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    ) {
        let packet = AuthPacket {
            auth_type: 0,
            scheme: scheme.clone(),
            auth: auth.clone(),
        };
        let frame = frame::build(|out| {
            RequestHeader {
                xid: xid::AUTH,
                op: OpCode::AUTH.0,
            }
            .encode(out);
            packet.encode(out);
        });
        self.out.extend_from_slice(&frame);
        self.auth_pending.push_back((scheme, auth, reply));
    }

    fn push_ping(&mut self) {
        let frame = frame::build(|out| {
            RequestHeader {
                xid: xid::PING,
                op: OpCode::PING.0,
            }
            .encode(out)
        });
        self.out.extend_from_slice(&frame);
    }

    /// Flushes `out` and reads until the server closes the socket (after closeSession).
    async fn drain_until_closed(&mut self) {
        if self.wr.write_all(&self.out).await.is_err() {
            return;
        }
        self.out.clear();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.rd.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    }

    /// Fails every request still waiting for a reply on this connection.
    fn fail_all(self, pipelines: &mut Pipelines) {
        let now = std::time::Instant::now();
        for p in self.pending {
            let err = Error::ConnectionLoss { op: p.op };
            match p.reply {
                ReplyTo::Task => {}
                ReplyTo::Caller(reply) => drop(reply.send(Err(err))),
                ReplyTo::Pipeline => pipelines.reply(Err(err), now),
            }
        }
        for (_, _, reply) in self.auth_pending {
            let op = OpCode::AUTH;
            reply.map(|r| r.send(Err(Error::ConnectionLoss { op })));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;
    use tokio::time::{timeout, Instant};
    use zk_proto::ops::xid;

    use super::super::test_server::{accept_session, read_request, reply};
    use super::super::{Client, ClientOptions, SessionState};

    /// With a 1.5 s session timeout the client pings every 500 ms and gives a connection up
    /// after 1 s without a byte from the server.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_sessions_ping_and_a_silent_server_loses_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            accept_session(&mut s, 1500).await;
            let until = Instant::now() + Duration::from_millis(1800);
            let mut pings = 0;
            while let Ok(Some((h, _))) = tokio::time::timeout_at(until, read_request(&mut s)).await
            {
                assert_eq!(h.xid, xid::PING, "only pings from an idle session");
                pings += 1;
                reply(&mut s, h.xid, |_| {}).await;
            }
            // Silence from now on: the client must give up and come back.
            let silent = Instant::now();
            let (mut again, _) = listener.accept().await.unwrap();
            let waited = silent.elapsed();
            let hello = accept_session(&mut again, 1500).await;
            (pings, waited, hello.session_id, s, again)
        });
        let opts = ClientOptions {
            session_timeout_ms: 1500,
            ..Default::default()
        };
        let client = Client::connect(&addr.to_string(), opts)
            .await
            .expect("connect");
        let (pings, waited, session_id, _s, _again) = timeout(Duration::from_secs(10), server)
            .await
            .expect("the client came back")
            .unwrap();
        assert!((2..=4).contains(&pings), "{pings} pings in 1.8 s");
        assert!(
            waited < Duration::from_millis(2500),
            "gave up after {waited:?}"
        );
        assert_eq!(session_id, 42, "the session is resumed");
        let mut info = client.subscribe();
        let connected = info.wait_for(|i| i.state == SessionState::Connected);
        timeout(Duration::from_secs(5), connected)
            .await
            .expect("connected again")
            .unwrap();
    }
}
