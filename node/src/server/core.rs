//! The core task: owns the tree, the sessions and the connections' ordering state, and carries
//! out the pipeline in order: prep a write → hand it to the log → when the log says it is
//! durable, apply it, fire watches, answer. Reads are answered from the tree, but never ahead of
//! the same connection's earlier writes (FIFO client order): a read that arrives while that
//! connection has a write in flight waits behind it.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use zk_proto::ops::{watcher_type, xid};
use zk_proto::proto::*;
use zk_proto::request::MultiOp;
use zk_proto::txn::{Txn, TxnHeader};
use zk_proto::{
    frame, perms, DecodeError, ErrorCode, Id, Jute, MultiResult, OpCode, Request, Response,
};

use super::prep::{Origin as PrepOrigin, Prep, PrepConfig, SessionTxn};
use super::stats::{ConnStats, Stats};
use crate::config::Config;
use crate::storage::disk::Disk;
use crate::storage::{snapshot, LogCmd, LogFailure, LogStats};
use crate::tree::{acl, kind_of, ConnId, DataTree, Mode, NodeKind, Notification};

/// Frames waiting to be written to one client. A client that lets this many pile up is not
/// reading; it is disconnected rather than letting the server's memory grow without bound.
pub const CONN_OUT_CAP: usize = 16 * 1024;

/// What the connection tasks and the 4lw handlers send the core.
pub enum ToCore {
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        req: ConnectRequest,
        out: mpsc::Sender<Vec<u8>>,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: OpCode,
        body: Result<Option<Request>, DecodeError>,
    },
    Closed {
        conn: ConnId,
    },
    /// A four-letter word; the core answers with the text to write.
    FourLetter {
        cmd: String,
        /// The asking connection, which Apache lists in `stat`/`cons`/`dump`.
        addr: SocketAddr,
        reply: oneshot::Sender<String>,
    },
    /// Runs a function on the core task, with the core's state: how the admin HTTP server and
    /// the metrics endpoint read statistics without sharing locks with the pipeline.
    Inspect(Box<dyn FnOnce(&mut Core) + Send>),
}

/// Why a transaction is in flight: who to answer when it is applied.
#[derive(Debug)]
pub(crate) enum Origin {
    Client {
        conn: ConnId,
        xid: i32,
        op: OpCode,
        start: Instant,
    },
    NewSession {
        conn: ConnId,
        timeout_ms: i32,
        read_only: Option<bool>,
    },
    Expire,
    Reaper,
    /// Proposed for another server's client (ensemble): applied, answered elsewhere.
    Remote,
}

pub(crate) struct InFlight {
    pub(crate) hdr: TxnHeader,
    pub(crate) txn: Txn,
    pub(crate) origin: Origin,
}

/// A request of one connection waiting for its turn.
pub(crate) enum Pending {
    /// A write of this connection, in flight with this zxid.
    Write(i64),
    /// A read (or a bodiless request) queued behind a write.
    Read {
        xid: i32,
        op: OpCode,
        body: Result<Option<Request>, DecodeError>,
        start: Instant,
    },
}

/// Per-connection state the core keeps.
pub(crate) struct Conn {
    pub(crate) out: mpsc::Sender<Vec<u8>>,
    pub(crate) addr: SocketAddr,
    pub(crate) session: Option<i64>,
    /// Identities for ACL checks: `ip:<addr>` from the start, then what `auth` adds.
    pub(crate) ids: Vec<Id>,
    pub(crate) pending: VecDeque<Pending>,
    /// Requests that arrived before the session was established.
    pub(crate) early: VecDeque<(i32, OpCode, Result<Option<Request>, DecodeError>, Instant)>,
    pub(crate) received: u64,
    pub(crate) sent: u64,
    pub(crate) last_zxid: i64,
    pub(crate) last_op: &'static str,
    /// Latency and last-answer statistics for `cons` and the AdminServer; reset by `crst`.
    pub(crate) stats: ConnStats,
}

pub(crate) struct Session {
    pub(crate) timeout_ms: i32,
    pub(crate) conn: Option<ConnId>,
    /// Monotonic ms (since the core started) at which the session expires, on a tick boundary.
    pub(crate) deadline_ms: u64,
    pub(crate) closing: bool,
}

/// The core state.
pub struct Core {
    pub(crate) cfg: Arc<Config>,
    pub(crate) tree: DataTree,
    pub(crate) prep: Prep,
    pub(crate) sessions: BTreeMap<i64, Session>,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    pub(crate) in_flight: VecDeque<InFlight>,
    pub(crate) log_tx: mpsc::Sender<LogCmd>,
    /// Group-commit counters of the log task (for `mntr` and the admin server).
    #[allow(dead_code)]
    pub(crate) log_stats: Arc<LogStats>,
    /// Where snapshots go, and the disk they go through.
    pub(crate) disk: Arc<dyn Disk>,
    /// Transactions applied since the last snapshot, and the count that triggers the next
    /// (Apache: snapCount/2 + random(snapCount/2), so servers do not snapshot in step).
    pub(crate) since_snapshot: u64,
    pub(crate) snapshot_at: u64,
    /// A snapshot is being written; the next waits for it.
    pub(crate) snapshot_running: Arc<std::sync::atomic::AtomicBool>,
    /// The last refused-write error, while the disk refuses writes.
    pub(crate) write_error: Option<String>,
    pub(crate) next_session_id: i64,
    pub(crate) started: Instant,
    /// Containers/TTL nodes whose delete is in flight, so the reaper does not ask twice.
    pub(crate) reaping: BTreeSet<String>,
    pub(crate) stats: Stats,
    /// The ensemble driver state; `None` on a standalone server.
    pub(crate) member: Option<Box<super::member::Member>>,
    /// Peer events to handle once the current one is done (learners parked until we led).
    pub(crate) pending_net: VecDeque<super::peers::NetEvent>,
    /// Set when the node cannot go on keeping its promises (an ensemble barrier failed).
    pub(crate) fatal_error: Option<String>,
}

pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn reply_frame(xid: i32, zxid: i64, err: i32, body: Option<&Response>) -> Vec<u8> {
    frame::build(|out| {
        ReplyHeader { xid, zxid, err }.encode(out);
        if err == 0 {
            if let Some(b) = body {
                b.encode(out);
            }
        }
    })
}

impl Core {
    pub fn new(
        cfg: Arc<Config>,
        tree: DataTree,
        sessions: BTreeMap<i64, i32>,
        log_tx: mpsc::Sender<LogCmd>,
        log_stats: Arc<LogStats>,
        disk: Arc<dyn Disk>,
    ) -> Core {
        let last = tree.last_zxid();
        let started = Instant::now();
        // Sessions recovered from disk get a full timeout to reconnect, as in Apache.
        let sessions = sessions
            .into_iter()
            .map(|(id, timeout_ms)| {
                let deadline_ms =
                    (timeout_ms.max(0) as u64).div_ceil(cfg.tick_ms as u64) * cfg.tick_ms as u64;
                (
                    id,
                    Session {
                        timeout_ms,
                        conn: None,
                        deadline_ms,
                        closing: false,
                    },
                )
            })
            .collect();
        let snapshot_at = next_snapshot_at(cfg.snap_count);
        Core {
            log_stats,
            disk,
            since_snapshot: 0,
            snapshot_at,
            snapshot_running: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            write_error: None,
            next_session_id: zk_proto::session::initial_session_id(cfg.server_id, wall_ms()),
            cfg,
            tree,
            prep: Prep::new(last),
            sessions,
            conns: BTreeMap::new(),
            in_flight: VecDeque::new(),
            log_tx,
            started,
            reaping: BTreeSet::new(),
            stats: Stats::default(),
            member: None,
            pending_net: VecDeque::new(),
            fatal_error: None,
        }
    }

    /// Runs until shutdown or until the log fails. An ensemble member also takes the peer
    /// network's events (`net`) and ticks its Zab core; `fatal` hears why it stopped, if it had to.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<ToCore>,
        mut durable: watch::Receiver<i64>,
        mut failures: mpsc::Receiver<LogFailure>,
        mut shutdown: watch::Receiver<bool>,
        mut net: Option<mpsc::Receiver<super::peers::NetEvent>>,
        fatal: Option<watch::Sender<Option<String>>>,
    ) {
        let tick = std::time::Duration::from_millis(self.cfg.tick_ms as u64 / 2 + 1);
        let mut ticker = tokio::time::interval(tick);
        let reap_every =
            std::time::Duration::from_millis(self.cfg.container_check_interval_ms as u64);
        let mut reaper = tokio::time::interval_at(Instant::now() + reap_every, reap_every);
        let zab_every = std::time::Duration::from_millis(super::member::ZAB_TICK_MS);
        let mut zab_ticker = tokio::time::interval(zab_every);
        zab_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let member = self.member.is_some();
        if member {
            self.drive().await;
        }
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                changed = durable.changed() => {
                    if changed.is_err() {
                        tracing::error!("transaction log stopped; refusing to serve writes");
                        break;
                    }
                    let upto = *durable.borrow_and_update();
                    if member {
                        self.zab_step(crate::zab::Event::Persisted { zxid: zk_proto::Zxid(upto) }).await;
                    } else {
                        self.on_durable(upto).await;
                    }
                }
                Some(f) = failures.recv() => {
                    if member {
                        self.fatal(format!("the transaction log cannot write: {}", f.error));
                    } else {
                        self.on_log_failure(f).await
                    }
                }
                Some(ev) = async { match net.as_mut() { Some(n) => n.recv().await, None => None } } => {
                    self.on_net(ev).await;
                }
                msg = rx.recv() => match msg {
                    Some(m) => self.on_message(m).await,
                    None => break,
                },
                _ = zab_ticker.tick(), if member => self.zab_step(crate::zab::Event::Tick).await,
                _ = ticker.tick() => if self.may_expire() { self.expire_sessions().await },
                _ = reaper.tick() => if self.may_expire() { self.reap_containers().await },
            }
            while let Some(ev) = self.pending_net.pop_front() {
                self.on_net(ev).await;
            }
            if member {
                self.drive().await;
            }
            if let Some(e) = self.fatal_error.take() {
                if let Some(f) = &fatal {
                    let _ = f.send(Some(e));
                }
                break;
            }
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn deadline_for(&self, timeout_ms: i32) -> u64 {
        let tick = self.cfg.tick_ms as u64;
        let t = self.now_ms() + timeout_ms.max(0) as u64;
        t.div_ceil(tick) * tick
    }

    async fn on_message(&mut self, msg: ToCore) {
        match msg {
            ToCore::Connect {
                conn,
                addr,
                req,
                out,
            } => self.on_connect(conn, addr, req, out).await,
            ToCore::Request {
                conn,
                xid,
                op,
                body,
            } => {
                let start = Instant::now();
                self.stats.packets_received += 1;
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                c.received += 1;
                if c.session.is_none() {
                    c.early.push_back((xid, op, body, start));
                    return;
                }
                self.on_request(conn, xid, op, body, start).await;
            }
            ToCore::Closed { conn } => self.drop_conn(conn),
            ToCore::FourLetter { cmd, addr, reply } => {
                let text = super::fourlw::answer_for(self, &cmd, Some(addr));
                let _ = reply.send(text);
            }
            ToCore::Inspect(f) => f(self),
        }
    }

    // ---- connections and sessions ----

    async fn on_connect(
        &mut self,
        conn: ConnId,
        addr: SocketAddr,
        req: ConnectRequest,
        out: mpsc::Sender<Vec<u8>>,
    ) {
        self.stats.packets_received += 1;
        self.stats.connection_requests += 1;
        if self.member_not_serving() {
            // Apache closes connections while its server is not running (electing, syncing).
            tracing::debug!(%addr, "refusing session: this server is not serving (no leader yet)");
            return;
        }
        if req.last_zxid_seen > self.tree.last_zxid() {
            // The client has seen newer state than ours: close without an answer so it tries
            // another server (Apache does the same).
            tracing::info!(%addr, client_zxid = %format!("{:#x}", req.last_zxid_seen),
                our_zxid = %format!("{:#x}", self.tree.last_zxid()),
                "refusing session: client has seen a newer zxid than this server");
            return;
        }
        self.conns.insert(
            conn,
            Conn {
                out,
                addr,
                session: None,
                ids: vec![Id::new("ip", &addr.ip().to_string())],
                pending: VecDeque::new(),
                early: VecDeque::new(),
                received: 1,
                sent: 0,
                last_zxid: 0,
                last_op: "NA",
                stats: ConnStats::default(),
            },
        );
        let timeout = req.timeout_ms.clamp(
            self.cfg.session_timeout_ms_min as i32,
            self.cfg.session_timeout_ms_max as i32,
        );
        if req.session_id == 0 {
            let id = self.next_session_id;
            self.next_session_id += 1;
            if self.is_learner() {
                let origin = Origin::NewSession {
                    conn,
                    timeout_ms: timeout,
                    read_only: req.read_only,
                };
                if !self.forward(
                    id,
                    0,
                    OpCode::CREATE_SESSION,
                    timeout.to_be_bytes().to_vec(),
                    Vec::new(),
                    origin,
                ) {
                    self.close_conn(conn);
                }
                return;
            }
            let (hdr, txn) = self.prep.prepare_session(
                &self.tree,
                id,
                SessionTxn::Create {
                    timeout_ms: timeout,
                },
                wall_ms(),
            );
            self.submit(
                hdr,
                txn,
                Origin::NewSession {
                    conn,
                    timeout_ms: timeout,
                    read_only: req.read_only,
                },
            )
            .await;
            return;
        }
        let id = req.session_id;
        let valid = req.passwd == zk_proto::session::password(id)
            && self.sessions.get(&id).is_some_and(|s| !s.closing);
        if !valid {
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: req.read_only.map(|_| false),
            };
            self.send(conn, frame::build(|o| resp.encode(o)));
            self.close_conn(conn);
            return;
        }
        self.bind_session(conn, id, timeout, req.read_only);
    }

    /// Attaches a session to a connection (closing any other connection holding it) and sends
    /// the ConnectResponse; then runs the requests that arrived meanwhile.
    fn bind_session(&mut self, conn: ConnId, id: i64, timeout_ms: i32, read_only: Option<bool>) {
        let deadline = self.deadline_for(timeout_ms);
        let previous = match self.sessions.get_mut(&id) {
            Some(s) => {
                s.timeout_ms = timeout_ms;
                s.deadline_ms = deadline;
                s.conn.replace(conn)
            }
            None => {
                self.sessions.insert(
                    id,
                    Session {
                        timeout_ms,
                        conn: Some(conn),
                        deadline_ms: deadline,
                        closing: false,
                    },
                );
                None
            }
        };
        if let Some(old) = previous.filter(|o| *o != conn) {
            self.close_conn(old);
        }
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: id,
            passwd: zk_proto::session::password(id).to_vec(),
            read_only: read_only.map(|_| false),
        };
        self.send(conn, frame::build(|o| resp.encode(o)));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(id);
        }
        self.member_touched(id, timeout_ms);
    }

    pub(crate) fn touch(&mut self, session: i64) {
        let deadline = match self.sessions.get(&session) {
            Some(s) => self.deadline_for(s.timeout_ms),
            None => return,
        };
        let mut timeout = 0;
        if let Some(s) = self.sessions.get_mut(&session) {
            s.deadline_ms = deadline;
            timeout = s.timeout_ms;
        }
        self.member_touched(session, timeout);
    }

    pub(crate) fn drop_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.tree.watches.remove_conn(conn);
            if let Some(s) = c.session.and_then(|id| self.sessions.get_mut(&id)) {
                if s.conn == Some(conn) {
                    s.conn = None;
                }
            }
        }
    }

    /// Closes a connection: dropping its sender makes its task flush what is queued and close
    /// the socket.
    pub(crate) fn close_conn(&mut self, conn: ConnId) {
        self.drop_conn(conn);
    }

    pub(crate) fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let len = frame.len();
        match c.out.try_send(frame) {
            Ok(()) => {
                c.sent += 1;
                self.stats.packets_sent += 1;
                self.stats.record_sent(len);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(addr = %c.addr, "closing connection: client is not reading its replies ({CONN_OUT_CAP} frames queued)");
                self.close_conn(conn);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.drop_conn(conn),
        }
    }

    fn notify(&mut self, notes: Vec<Notification>) {
        for n in notes {
            let f = frame::build(|o| {
                ReplyHeader {
                    xid: xid::NOTIFICATION,
                    zxid: -1,
                    err: 0,
                }
                .encode(o);
                n.event.encode(o);
            });
            self.send(n.conn, f);
        }
    }

    async fn expire_sessions(&mut self) {
        let now = self.now_ms();
        let expired: Vec<i64> = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.closing && s.deadline_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            tracing::info!(session = %format!("{id:#x}"), "session expired");
            if let Some(s) = self.sessions.get_mut(&id) {
                s.closing = true;
            }
            let (hdr, txn) =
                self.prep
                    .prepare_session(&self.tree, id, SessionTxn::Close, wall_ms());
            self.submit(hdr, txn, Origin::Expire).await;
        }
    }

    async fn reap_containers(&mut self) {
        let now = wall_ms();
        let mut candidates = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.get(p) {
                if n.children.is_empty() && n.stat.cversion > 0 {
                    candidates.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls() {
            if let Some(n) = self.tree.get(p) {
                if let NodeKind::Ttl(ttl) = kind_of(n.stat.ephemeral_owner) {
                    if n.children.is_empty() && ttl != 0 && now - n.stat.mtime > ttl {
                        candidates.push(p.clone());
                    }
                }
            }
        }
        for p in candidates {
            if !self.reaping.insert(p.clone()) {
                continue;
            }
            let (hdr, txn) = self.prep.prepare_delete_container(&self.tree, &p, now);
            self.submit(hdr, txn, Origin::Reaper).await;
        }
    }

    // ---- requests ----

    async fn on_request(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: OpCode,
        body: Result<Option<Request>, DecodeError>,
        start: Instant,
    ) {
        let Some(session) = self.conns.get(&conn).and_then(|c| c.session) else {
            return;
        };
        self.touch(session);
        // createSession (-10) from a client: Apache's prep fails to read its body and logs an
        // error txn (MarshallingError, one zxid), keeping the connection.
        let body = if op == OpCode::CREATE_SESSION {
            Err(DecodeError::invalid(
                "createSession",
                "not a client operation",
            ))
        } else {
            body
        };
        let is_write = match &body {
            Ok(Some(r)) => r.is_write(),
            Ok(None) => false,
            // An undecodable write still consumes a zxid in Apache (prep logs an error txn).
            Err(_) => is_write_op(op),
        };
        if let Ok(Some(Request::Auth(a))) = &body {
            self.on_auth(conn, xid, a);
            return;
        }
        if let Ok(Some(Request::Sync(p))) = &body {
            if self.is_learner() {
                // A learner's sync goes through the leader (zab: SYNC after every commit).
                let path = p.path.clone();
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pending.push_back(Pending::Write(-1));
                }
                if !self.forward_sync(conn, session, xid, path, start) {
                    self.close_conn(conn);
                }
                return;
            }
        }
        if is_write {
            self.on_write(conn, session, xid, op, body, start).await;
            return;
        }
        let c = self.conns.get_mut(&conn).expect("checked above");
        if c.pending.is_empty() {
            self.answer_read(conn, xid, op, body, start);
        } else {
            c.pending.push_back(Pending::Read {
                xid,
                op,
                body,
                start,
            });
        }
    }

    async fn on_write(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: OpCode,
        body: Result<Option<Request>, DecodeError>,
        start: Instant,
    ) {
        let ids = self
            .conns
            .get(&conn)
            .map(|c| c.ids.clone())
            .unwrap_or_default();
        if self.is_learner() {
            let mut bytes = Vec::new();
            match &body {
                Ok(Some(Request::CloseSession)) => {
                    if let Some(s) = self.sessions.get_mut(&session) {
                        s.closing = true;
                    }
                }
                Ok(Some(r)) => r.encode_body(&mut bytes),
                _ => {}
            }
            if let Some(c) = self.conns.get_mut(&conn) {
                c.pending.push_back(Pending::Write(-1));
            }
            let origin = Origin::Client {
                conn,
                xid,
                op,
                start,
            };
            // A body that did not decode reaches the leader as an opcode nothing decodes,
            // so its prep logs the same MarshallingError txn a standalone server would.
            let fwd_op = if body.is_err() { OpCode::ERROR } else { op };
            if !self.forward(session, xid, fwd_op, bytes, ids, origin) {
                self.close_conn(conn);
            }
            return;
        }
        let (hdr, txn) = match body {
            Ok(Some(Request::CloseSession)) => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.closing = true;
                }
                let (mut hdr, txn) =
                    self.prep
                        .prepare_session(&self.tree, session, SessionTxn::Close, wall_ms());
                hdr.cxid = xid;
                (hdr, txn)
            }
            Ok(Some(req)) => {
                let origin = PrepOrigin {
                    session_id: session,
                    xid,
                    ids: &ids,
                };
                let cfg = PrepConfig {
                    extended_types_enabled: self.cfg.extended_types_enabled,
                };
                self.prep.prepare(&self.tree, cfg, &origin, &req, wall_ms())
            }
            _ => {
                let zxid = self.prep.next_zxid();
                let hdr = TxnHeader {
                    client_id: session,
                    cxid: xid,
                    zxid,
                    time: wall_ms(),
                    txn_type: OpCode::ERROR.0,
                };
                (
                    hdr,
                    Txn::Error(zk_proto::txn::ErrorTxn {
                        err: ErrorCode::MARSHALLING_ERROR.0,
                    }),
                )
            }
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pending.push_back(Pending::Write(hdr.zxid));
        }
        self.submit(
            hdr,
            txn,
            Origin::Client {
                conn,
                xid,
                op,
                start,
            },
        )
        .await;
    }

    pub(crate) async fn submit(&mut self, hdr: TxnHeader, txn: Txn, origin: Origin) {
        if self.member.is_some() {
            if let Err(f) = self.propose(InFlight { hdr, txn, origin }) {
                self.refuse(*f);
            }
            return;
        }
        self.in_flight.push_back(InFlight {
            hdr: hdr.clone(),
            txn: txn.clone(),
            origin,
        });
        if self.log_tx.send(LogCmd::Append(hdr, txn)).await.is_err() {
            tracing::error!("transaction log task has stopped");
        }
    }

    /// Auth is handled at once, not queued behind writes (Apache answers it on the I/O thread).
    /// The reply echoes the request's xid (the Java client uses -4, other clients do not).
    fn on_auth(&mut self, conn: ConnId, xid: i32, a: &AuthPacket) {
        let super_digest = self.cfg.super_digest.clone();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let ok = match a.scheme.as_str() {
            "digest" => {
                let id = acl::digest_id(&String::from_utf8_lossy(&a.auth));
                if super_digest.as_deref() == Some(id.as_str()) {
                    push_unique(&mut c.ids, Id::new("super", ""));
                }
                push_unique(&mut c.ids, Id::new("digest", &id));
                true
            }
            "ip" => true,
            _ => false,
        };
        let err = if ok { 0 } else { ErrorCode::AUTH_FAILED.0 };
        self.send(conn, reply_frame(xid, 0, err, None));
        if !ok {
            self.stats.auth_failed += 1;
            tracing::warn!(scheme = %a.scheme, "authentication failed: unknown scheme; closing connection");
            self.close_conn(conn);
        }
    }

    // ---- apply ----

    async fn on_durable(&mut self, upto: i64) {
        while self.in_flight.front().is_some_and(|f| f.hdr.zxid <= upto) {
            let f = self.in_flight.pop_front().expect("front exists");
            self.apply(f).await;
        }
    }

    pub(crate) async fn apply(&mut self, f: InFlight) {
        if let Txn::CreateSession(c) = &f.txn {
            // Sessions are replicated state: every server learns of every session.
            if !matches!(f.origin, Origin::NewSession { .. })
                && !self.sessions.contains_key(&f.hdr.client_id)
            {
                let deadline_ms = self.deadline_for(c.timeout_ms);
                self.sessions.insert(
                    f.hdr.client_id,
                    Session {
                        timeout_ms: c.timeout_ms,
                        conn: None,
                        deadline_ms,
                        closing: false,
                    },
                );
            }
        }
        let mut notes = Vec::new();
        self.stats.record_write_namespace(&f.txn);
        let rc = self.tree.apply(&f.hdr, &f.txn, &mut notes);
        self.stats.record_digest(f.hdr.zxid, self.tree.digest());
        self.prep.applied(f.hdr.zxid);
        self.write_error = None;
        self.since_snapshot += 1;
        if self.since_snapshot >= self.snapshot_at {
            self.start_snapshot().await;
        }
        self.notify(notes);
        if let Txn::CloseSession(_) = &f.txn {
            if let Some(s) = self.sessions.remove(&f.hdr.client_id) {
                let origin_conn = match f.origin {
                    Origin::Client { conn, .. } => Some(conn),
                    _ => None,
                };
                if let Some(c) = s.conn.filter(|c| Some(*c) != origin_conn) {
                    self.close_conn(c);
                }
            }
        }
        if let Txn::DeleteContainer(d) = &f.txn {
            self.reaping.remove(&d.path);
        }
        if matches!(f.origin, Origin::Reaper) {
            if let Txn::Error(_) = &f.txn {
                self.reaping.clear();
            }
        }
        match f.origin {
            Origin::Client {
                conn,
                xid,
                op,
                start,
            } => {
                self.answer_write(conn, xid, op, &f.hdr, &f.txn, rc, start);
                self.drain_reads(conn);
            }
            Origin::NewSession {
                conn,
                timeout_ms,
                read_only,
            } => {
                if self.conns.contains_key(&conn) {
                    self.bind_session(conn, f.hdr.client_id, timeout_ms, read_only);
                    self.run_early(conn).await;
                } else {
                    // The client left before its session was created; the session stays
                    // until it expires, as in Apache.
                    let deadline = self.deadline_for(timeout_ms);
                    self.sessions.insert(
                        f.hdr.client_id,
                        Session {
                            timeout_ms,
                            conn: None,
                            deadline_ms: deadline,
                            closing: false,
                        },
                    );
                }
            }
            Origin::Expire | Origin::Reaper | Origin::Remote => {}
        }
    }

    /// Runs the requests a client pipelined behind its ConnectRequest, in order.
    async fn run_early(&mut self, conn: ConnId) {
        let early: Vec<_> = match self.conns.get_mut(&conn) {
            Some(c) => c.early.drain(..).collect(),
            None => return,
        };
        for (xid, op, body, start) in early {
            self.on_request(conn, xid, op, body, start).await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_write(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: OpCode,
        hdr: &TxnHeader,
        txn: &Txn,
        rc: crate::tree::TxnResult,
        start: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Some(Pending::Write(z)) = c.pending.front() {
            debug_assert!(*z == hdr.zxid || *z == -1);
            c.pending.pop_front();
        }
        c.last_zxid = hdr.zxid;
        c.last_op = op.name();
        let zxid = self.tree.last_zxid();
        let (err, body) = if let Txn::Error(e) = txn {
            (e.err, None)
        } else {
            (0, Some(write_response(op, &rc)))
        };
        self.record_answer(conn, xid, zxid, start, true);
        self.send(conn, reply_frame(xid, zxid, err, body.as_ref()));
        if op == OpCode::CLOSE_SESSION {
            self.close_conn(conn);
        }
    }

    pub(crate) fn drain_reads(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.pending.front() {
                Some(Pending::Read { .. }) => {}
                _ => return,
            }
            let Some(Pending::Read {
                xid,
                op,
                body,
                start,
            }) = c.pending.pop_front()
            else {
                return;
            };
            self.answer_read(conn, xid, op, body, start);
        }
    }

    // ---- storage ----

    /// Takes a snapshot in the background: an O(1) copy of the tree now, written on a blocking
    /// thread while writes go on. The log rolls to a new segment so old ones can be purged.
    async fn start_snapshot(&mut self) {
        use std::sync::atomic::Ordering;
        if self.snapshot_running.swap(true, Ordering::SeqCst) {
            return;
        }
        self.since_snapshot = 0;
        self.snapshot_at = next_snapshot_at(self.cfg.snap_count);
        let _ = self.log_tx.send(LogCmd::Roll).await;
        let sessions = self
            .sessions
            .iter()
            .map(|(id, s)| (*id, s.timeout_ms))
            .collect();
        let data = snapshot::capture(&self.tree, sessions);
        let disk = self.disk.clone();
        let dir = self.cfg.data_dir.join("version-2");
        let running = self.snapshot_running.clone();
        tokio::task::spawn_blocking(move || {
            let t0 = std::time::Instant::now();
            match snapshot::write(disk.as_ref(), &dir, &data) {
                Ok(p) => {
                    tracing::info!(file = %p.display(), nodes = data.nodes.len(), ms = t0.elapsed().as_millis() as u64, "snapshot written")
                }
                Err(e) => {
                    tracing::error!(dir = %dir.display(), "cannot write snapshot: {e}; the transaction log still has everything, so no data is at risk")
                }
            }
            running.store(false, Ordering::SeqCst);
        });
    }

    /// The log could not write (a full disk): refuse every write not yet durable, forget what
    /// prep assumed about them, and let the log accept appends again. Reads go on.
    async fn on_log_failure(&mut self, f: LogFailure) {
        let mut failed = Vec::new();
        while self
            .in_flight
            .back()
            .is_some_and(|x| x.hdr.zxid > f.durable_zxid)
        {
            failed.push(self.in_flight.pop_back().expect("back exists"));
        }
        failed.reverse();
        self.prep.reset(f.durable_zxid.max(self.tree.last_zxid()));
        self.write_error = Some(f.error.clone());
        for x in failed {
            self.refuse(x);
        }
        let _ = self.log_tx.send(LogCmd::Resume).await;
    }

    fn refuse(&mut self, x: InFlight) {
        match x.origin {
            Origin::Client {
                conn,
                xid,
                op: _,
                start: _,
            } => {
                if let Txn::CloseSession(_) = x.txn {
                    if let Some(s) = self.sessions.get_mut(&x.hdr.client_id) {
                        s.closing = false;
                    }
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    if let Some(Pending::Write(_)) = c.pending.front() {
                        c.pending.pop_front();
                    }
                }
                let zxid = self.tree.last_zxid();
                self.send(
                    conn,
                    reply_frame(xid, zxid, ErrorCode::SYSTEM_ERROR.0, None),
                );
                self.drain_reads(conn);
            }
            Origin::NewSession { conn, .. } => self.close_conn(conn),
            Origin::Expire => {
                if let Some(s) = self.sessions.get_mut(&x.hdr.client_id) {
                    s.closing = false;
                }
            }
            Origin::Reaper => self.reaping.clear(),
            Origin::Remote => {}
        }
    }

    // ---- reads ----

    fn answer_read(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: OpCode,
        body: Result<Option<Request>, DecodeError>,
        start: Instant,
    ) {
        let zxid = self.tree.last_zxid();
        let req = match body {
            Ok(Some(r)) => r,
            Ok(None) => {
                tracing::info!(
                    op = op.0,
                    "unknown opcode; closing connection as Apache does"
                );
                self.send(conn, reply_frame(xid, -1, ErrorCode::UNIMPLEMENTED.0, None));
                self.close_conn(conn);
                return;
            }
            Err(e) => {
                tracing::debug!(%e, op = op.0, "malformed request body");
                self.send(
                    conn,
                    reply_frame(xid, zxid, ErrorCode::MARSHALLING_ERROR.0, None),
                );
                return;
            }
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.last_op = op.name();
        }
        let (reply_zxid, result) = match &req {
            Request::Sasl(_) => (0, Ok(Response::Sasl(SaslRequest { token: None }))),
            Request::SetWatches(w) => {
                let mut notes = Vec::new();
                self.tree.set_watches(
                    conn,
                    w.relative_zxid,
                    &w.data_watches,
                    &w.exist_watches,
                    &w.child_watches,
                    &[],
                    &[],
                    &mut notes,
                );
                self.notify(notes);
                (zxid, Ok(Response::Empty))
            }
            Request::SetWatches2(w) => {
                let mut notes = Vec::new();
                self.tree.set_watches(
                    conn,
                    w.relative_zxid,
                    &w.data_watches,
                    &w.exist_watches,
                    &w.child_watches,
                    &w.persistent_watches,
                    &w.persistent_recursive_watches,
                    &mut notes,
                );
                self.notify(notes);
                (zxid, Ok(Response::Empty))
            }
            Request::MultiRead(ops) => {
                let (err, body) = multi_read(&self.tree, &self.ids(conn), ops);
                self.record_answer(conn, xid, zxid, start, false);
                // The one reply Apache sends with both an error and a body.
                let f = frame::build(|out| {
                    ReplyHeader { xid, zxid, err }.encode(out);
                    body.encode(out);
                });
                self.send(conn, f);
                return;
            }
            _ => (zxid, self.read(conn, &req)),
        };
        if let Ok(resp) = &result {
            self.stats.record_read_namespace(&req, resp);
        }
        self.record_answer(conn, xid, reply_zxid, start, false);
        let f = match result {
            Ok(body) => reply_frame(xid, reply_zxid, 0, Some(&body)),
            Err(e) => reply_frame(xid, reply_zxid, e.0, None),
        };
        self.send(conn, f);
    }

    fn ids(&self, conn: ConnId) -> Vec<Id> {
        self.conns
            .get(&conn)
            .map(|c| c.ids.clone())
            .unwrap_or_default()
    }

    fn read(&mut self, conn: ConnId, req: &Request) -> Result<Response, ErrorCode> {
        let ids = self.ids(conn);
        let t = &mut self.tree;
        match req {
            Request::Ping => Ok(Response::Empty),
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BAD_ARGUMENTS);
                }
                if r.watch {
                    t.watches.data.add(&r.path, conn, Mode::Standard);
                }
                t.get(&r.path)
                    .map(|n| Response::Stat(n.client_stat()))
                    .ok_or(ErrorCode::NO_NODE)
            }
            Request::GetData(r) => {
                let resp = get_data(t, &r.path, &ids)?;
                if r.watch {
                    t.watches.data.add(&r.path, conn, Mode::Standard);
                }
                Ok(Response::GetData(resp))
            }
            Request::GetAcl(r) => {
                let n = t.get(&r.path).ok_or(ErrorCode::NO_NODE)?;
                if !acl::check(&n.acl, perms::READ | perms::ADMIN, &ids) {
                    return Err(ErrorCode::NO_AUTH);
                }
                let shown = if acl::check(&n.acl, perms::ADMIN, &ids) {
                    n.acl.to_vec()
                } else {
                    acl::mask_digests(&n.acl)
                };
                Ok(Response::GetAcl(GetAclResponse {
                    acl: shown,
                    stat: n.client_stat(),
                }))
            }
            Request::GetChildren(r) | Request::GetChildren2(r) => {
                let n = t.get(&r.path).ok_or(ErrorCode::NO_NODE)?;
                if !acl::check(&n.acl, perms::READ, &ids) {
                    return Err(ErrorCode::NO_AUTH);
                }
                let children: Vec<String> = n.children.names().map(str::to_string).collect();
                let stat = n.client_stat();
                if r.watch {
                    t.watches.child.add(&r.path, conn, Mode::Standard);
                }
                Ok(if matches!(req, Request::GetChildren(_)) {
                    Response::GetChildren(GetChildrenResponse { children })
                } else {
                    Response::GetChildren2(GetChildren2Response { children, stat })
                })
            }
            Request::Sync(r) => Ok(Response::Sync(PathRequest {
                path: r.path.clone(),
            })),
            Request::GetAllChildrenNumber(r) => {
                let n = t.get(&r.path).ok_or(ErrorCode::NO_NODE)?;
                if !acl::check(&n.acl, perms::READ, &ids) {
                    return Err(ErrorCode::NO_AUTH);
                }
                Ok(Response::GetAllChildrenNumber(
                    GetAllChildrenNumberResponse {
                        // Apache counts keys under `path + "/"`; for "" that includes "/".
                        total_number: if r.path.is_empty() {
                            t.descendant_count("/") as i32 + 1
                        } else {
                            t.descendant_count(&r.path) as i32
                        },
                    },
                ))
            }
            Request::GetEphemerals(r) => {
                let session = self.conns.get(&conn).and_then(|c| c.session).unwrap_or(0);
                let prefix = r.path.trim();
                let all = self
                    .tree
                    .ephemerals_of(session)
                    .cloned()
                    .unwrap_or_default();
                let ephemerals = all
                    .into_iter()
                    .filter(|p| {
                        prefix.is_empty() || prefix == "/" || p.starts_with(r.path.as_str())
                    })
                    .collect();
                Ok(Response::GetEphemerals(GetEphemeralsResponse {
                    ephemerals,
                }))
            }
            Request::AddWatch(r) => {
                match r.mode {
                    0 => t.watches.add_persistent(&r.path, conn, false),
                    1 => t.watches.add_persistent(&r.path, conn, true),
                    _ => return Err(ErrorCode::MARSHALLING_ERROR),
                }
                Ok(Response::AddWatch(ErrorResponse { err: 0 }))
            }
            Request::CheckWatches(r) => watches_op(t, conn, &r.path, r.watcher_type, false),
            Request::RemoveWatches(r) => watches_op(t, conn, &r.path, r.watcher_type, true),
            Request::WhoAmI => Ok(Response::WhoAmI(WhoAmIResponse {
                client_info: acl::java_set_order(&ids).iter().map(client_info).collect(),
            })),
            _ => Err(ErrorCode::MARSHALLING_ERROR),
        }
    }

    // ---- introspection for 4lw / admin ----

    /// This server's place in its ensemble; `None` for a standalone server.
    pub(crate) fn ensemble_view(&self) -> Option<super::ensemble::EnsembleView> {
        let mut v = self.member_view()?;
        v.quorum_size = self.cfg.servers.iter().filter(|s| !s.observer).count() / 2 + 1;
        Some(v)
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.in_flight.len() + self.conns.values().map(|c| c.pending.len()).sum::<usize>()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.cfg
    }

    pub(crate) fn uptime_ms(&self) -> u64 {
        self.now_ms()
    }

    /// One line per connection for `stat`/`cons`: (addr, received, sent, session, last zxid, last op).
    pub(crate) fn connection_lines(
        &self,
    ) -> Vec<(SocketAddr, u64, u64, Option<i64>, i64, &'static str, usize)> {
        self.conns
            .values()
            .map(|c| {
                (
                    c.addr,
                    c.received,
                    c.sent,
                    c.session,
                    c.last_zxid,
                    c.last_op,
                    c.pending.len(),
                )
            })
            .collect()
    }

    pub(crate) fn session_timeout(&self, id: i64) -> Option<i32> {
        self.sessions.get(&id).map(|s| s.timeout_ms)
    }

    pub(crate) fn conn_session(&self, conn: ConnId) -> Option<i64> {
        self.conns.get(&conn).and_then(|c| c.session)
    }

    /// Latency statistics of an answered request: server-wide (read or update) and for its
    /// connection, whose last zxid becomes the reply's (Apache's `lzxid`).
    pub(crate) fn record_answer(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        start: Instant,
        update: bool,
    ) {
        let took = start.elapsed();
        if update {
            self.stats.record_update(took);
        } else {
            self.stats.record_read(took);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.record(xid, took);
            c.last_zxid = zxid;
        }
    }

    /// `crst`: Apache's `ServerCnxn.resetStats` on every connection.
    pub(crate) fn reset_conn_stats(&mut self) {
        for c in self.conns.values_mut() {
            c.last_op = "NA";
            c.last_zxid = -1;
            c.stats.reset();
            c.received = 0;
            c.sent = 0;
        }
    }
}

/// Apache spreads snapshots: after snapCount/2 + random(0, snapCount/2) transactions.
fn next_snapshot_at(snap_count: u64) -> u64 {
    use rand::Rng;
    let half = (snap_count / 2).max(1);
    half + rand::thread_rng().gen_range(0..half)
}

fn push_unique(ids: &mut Vec<Id>, id: Id) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

fn client_info(id: &Id) -> ClientInfo {
    let user = match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or("").to_string(),
        _ => id.id.clone(),
    };
    ClientInfo {
        auth_scheme: id.scheme.clone(),
        user,
    }
}

/// multiRead: each op on its own (a failure is that op's result). A write op inside is a
/// MarshallingError, and Apache still sends the results gathered so far as the body.
fn multi_read(t: &DataTree, ids: &[Id], ops: &[MultiOp]) -> (i32, Response) {
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let res = match op {
            MultiOp::GetData(r) => get_data(t, &r.path, ids).map(|d| MultiResult::GetData {
                data: d.data,
                stat: d.stat,
            }),
            MultiOp::GetChildren(r) => match t.get(&r.path) {
                None => Err(ErrorCode::NO_NODE),
                Some(n) if !acl::check(&n.acl, perms::READ, ids) => Err(ErrorCode::NO_AUTH),
                Some(n) => Ok(MultiResult::GetChildren {
                    children: n.children.names().map(str::to_string).collect(),
                }),
            },
            _ => return (ErrorCode::MARSHALLING_ERROR.0, Response::Multi(results)),
        };
        results.push(res.unwrap_or_else(|e| MultiResult::Error { err: e.0 }));
    }
    (0, Response::Multi(results))
}

fn get_data(t: &DataTree, p: &str, ids: &[Id]) -> Result<GetDataResponse, ErrorCode> {
    let n = t.get(p).ok_or(ErrorCode::NO_NODE)?;
    if !acl::check(&n.acl, perms::READ, ids) {
        return Err(ErrorCode::NO_AUTH);
    }
    Ok(GetDataResponse {
        data: n.data.clone(),
        stat: n.client_stat(),
    })
}

/// checkWatches / removeWatches, as 3.8 answers them. Watcher types other than 1..3 are a
/// MarshallingError (3.9's types 4 and 5 do not exist in 3.8; type Any removes persistent
/// watches too).
///
/// 3.8 quirk, kept so clients cannot tell us apart: checkWatches answers yes when *any*
/// connection watches the path in that table, not only the asking one (`WatchManager.
/// containsWatcher` looks at the path's watcher set, not at the watcher). removeWatches only
/// removes the asking connection's own watches.
fn watches_op(
    t: &mut DataTree,
    conn: ConnId,
    p: &str,
    wtype: i32,
    remove: bool,
) -> Result<Response, ErrorCode> {
    let w = &mut t.watches;
    let found = match (wtype, remove) {
        (watcher_type::CHILDREN, false) => w.child.has_path(p),
        (watcher_type::DATA, false) => w.data.has_path(p),
        (watcher_type::ANY, false) => w.child.has_path(p) || w.data.has_path(p),
        (watcher_type::CHILDREN, true) => w.child.remove(p, conn),
        (watcher_type::DATA, true) => w.data.remove(p, conn),
        (watcher_type::ANY, true) => {
            let a = w.child.remove(p, conn);
            let b = w.data.remove(p, conn);
            a || b
        }
        _ => return Err(ErrorCode::MARSHALLING_ERROR),
    };
    if found {
        Ok(Response::Empty)
    } else {
        Err(ErrorCode::NO_WATCHER)
    }
}

fn is_write_op(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::CREATE
            | OpCode::CREATE2
            | OpCode::CREATE_CONTAINER
            | OpCode::CREATE_TTL
            | OpCode::DELETE
            | OpCode::SET_DATA
            | OpCode::SET_ACL
            | OpCode::CHECK
            | OpCode::MULTI
            | OpCode::RECONFIG
            | OpCode::DELETE_CONTAINER
            | OpCode::CLOSE_SESSION
            | OpCode::CREATE_SESSION
    )
}

/// The reply body of an applied write.
fn write_response(op: OpCode, rc: &crate::tree::TxnResult) -> Response {
    let stat = rc.stat.clone().unwrap_or_default();
    match op {
        OpCode::CREATE => Response::Create(CreateResponse {
            path: rc.path.clone(),
        }),
        OpCode::CREATE2 | OpCode::CREATE_CONTAINER | OpCode::CREATE_TTL => {
            Response::Create2(Create2Response {
                path: rc.path.clone(),
                stat,
            })
        }
        OpCode::SET_DATA | OpCode::SET_ACL => Response::Stat(stat),
        OpCode::MULTI => Response::Multi(rc.multi.iter().map(multi_result).collect()),
        _ => Response::Empty,
    }
}

fn multi_result(r: &crate::tree::TxnResult) -> MultiResult {
    let stat = r.stat.clone().unwrap_or_default();
    match OpCode(r.txn_type) {
        OpCode::CREATE => MultiResult::Create {
            path: r.path.clone(),
        },
        OpCode::CREATE2 | OpCode::CREATE_CONTAINER | OpCode::CREATE_TTL => MultiResult::Create2 {
            path: r.path.clone(),
            stat,
        },
        OpCode::DELETE | OpCode::DELETE_CONTAINER => MultiResult::Delete,
        OpCode::SET_DATA => MultiResult::SetData { stat },
        OpCode::CHECK => MultiResult::Check,
        _ => MultiResult::Error { err: r.err },
    }
}
