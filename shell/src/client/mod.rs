//! An asynchronous ZooKeeper client on `zk-proto` and tokio.
//!
//! [`Client`] is a cheap handle (clone it freely) to one session. A background task
//! ([`session`]) owns the connection: it picks hosts in random order, negotiates the timeout,
//! pings at a third of it, moves to the next host when a connection breaks while keeping the
//! session (session id + password, then credentials, then setWatches2), and pipelines every
//! request. Paths given to and returned by the client are relative to the chroot.
//!
//! Watch notifications and session state changes are sent to the channel given in
//! [`ClientOptions::events`]; see [`event_channel`].
//!
//! A load generator that wants many requests in flight without paying a task and a channel
//! round trip for each runs a [`Pipeline`] on the session ([`Client::run_pipeline`]).

mod connect_string;
mod error;
mod events;
mod pipeline;
mod session;
#[cfg(test)]
mod test_server;
mod watches;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use zk_proto::ops::add_watch_mode;
use zk_proto::proto::*;
use zk_proto::{Acl, CreateMode, ErrorCode, MultiOp, MultiResult, OpCode, Request, Response};
use zk_proto::{Stat, Zxid};

pub use connect_string::{to_client_path, to_server_path, ConnectString, DEFAULT_PORT};
pub use error::Error;
pub use events::{ClientEvent, Event, EventType, NodeEvent, SessionState};
pub use pipeline::{Pipeline, PipelineOp};
pub use watches::{WatchKind, WatchSet};

use session::{Call, Msg, Session};

/// Events waiting for their reader. A watch storm (a recursive watch over a busy subtree) can
/// produce thousands of events a second; this holds a few seconds of them for a reader that
/// draws them between commands. When it is full, further events are counted and dropped rather
/// than stalling the session task, which must keep answering requests.
pub const EVENTS_CAPACITY: usize = 4096;
/// Requests queued for the session task. Callers wait when it is full (back pressure); the
/// task itself also caps what it has in flight.
const CALLS_CAPACITY: usize = 1024;

/// The path of the dynamic configuration node, outside any chroot.
pub const CONFIG_NODE: &str = "/zookeeper/config";

/// A bounded channel for [`ClientOptions::events`], of [`EVENTS_CAPACITY`].
pub fn event_channel() -> (mpsc::Sender<ClientEvent>, mpsc::Receiver<ClientEvent>) {
    mpsc::channel(EVENTS_CAPACITY)
}

/// How to open a session.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requested session timeout; the server clamps it to [2, 20] ticks. Default 30 000 ms
    /// (zkCli's default).
    pub session_timeout_ms: i32,
    /// How long [`Client::connect`] waits for the first session. Default 15 s.
    pub connect_timeout: Duration,
    /// Tag put on every event of this client. Default: the connect string.
    pub label: Option<String>,
    /// Where events go; `None` drops them.
    pub events: Option<mpsc::Sender<ClientEvent>>,
    /// Credentials (`scheme`, `credentials`) added right after the session starts.
    pub auth: Vec<(String, String)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            session_timeout_ms: 30_000,
            connect_timeout: Duration::from_secs(15),
            label: None,
            events: None,
            auth: Vec::new(),
        }
    }
}

/// What the session looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub state: SessionState,
    /// 0 until the first handshake.
    pub session_id: i64,
    /// The negotiated timeout.
    pub timeout_ms: i32,
    /// `host:port` of the server the session is attached to, while connected.
    pub server: Option<String>,
}

/// State shared by the handles and the session task.
pub(crate) struct Shared {
    pub info: watch::Sender<SessionInfo>,
    pub watches: Mutex<WatchSet>,
    last_zxid: AtomicI64,
    pub events_dropped: AtomicU64,
    last_error: Mutex<String>,
}

impl Shared {
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Relaxed)
    }

    pub fn observe_zxid(&self, zxid: i64) {
        self.last_zxid.fetch_max(zxid, Ordering::Relaxed);
    }

    pub fn set_last_error(&self, e: String) {
        *self.last_error.lock().expect("last error lock") = e;
    }
}

/// A successful reply: the body and the zxid in its header (the server's last processed zxid
/// when it answered; for a read, the state it read from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub zxid: Zxid,
    pub response: Response,
}

/// A node's data as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// `None` when the node was created with null data.
    pub data: Option<Vec<u8>>,
    pub stat: Stat,
    /// The zxid the server had processed when it answered.
    pub zxid: Zxid,
}

/// A node's children as read (names, not paths, in the server's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Children {
    pub children: Vec<String>,
    pub stat: Stat,
    pub zxid: Zxid,
}

/// A handle to one session.
#[derive(Clone)]
pub struct Client {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    close_tx: Arc<watch::Sender<bool>>,
    connect: ConnectString,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.connect)
    }
}

impl Client {
    /// Opens a session and waits until a server has accepted it.
    pub async fn connect(connect: &str, opts: ClientOptions) -> Result<Client, Error> {
        let cs = ConnectString::parse(connect)?;
        let client = Client::start(cs, &opts);
        let waited = tokio::time::timeout(opts.connect_timeout, client.wait_connected()).await;
        match waited {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let last = client.shared.last_error.lock().expect("lock").clone();
                client.close_tx.send_replace(true);
                return Err(Error::ConnectTimeout {
                    hosts: client.connect.hosts.join(","),
                    last: if last.is_empty() {
                        "timed out".into()
                    } else {
                        last
                    },
                });
            }
        }
        // Credentials go first, so no request of the caller can run without them.
        for (scheme, creds) in &opts.auth {
            client.add_auth(scheme, creds.clone().into_bytes()).await?;
        }
        Ok(client)
    }

    fn start(cs: ConnectString, opts: &ClientOptions) -> Client {
        let (tx, rx) = mpsc::channel(CALLS_CAPACITY);
        let (close_tx, close_rx) = watch::channel(false);
        let (info, _) = watch::channel(SessionInfo {
            state: SessionState::Connecting,
            session_id: 0,
            timeout_ms: 0,
            server: None,
        });
        let shared = Arc::new(Shared {
            info,
            watches: Mutex::new(WatchSet::default()),
            last_zxid: AtomicI64::new(0),
            events_dropped: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
        });
        let events = opts.events.clone().unwrap_or_else(|| mpsc::channel(1).0);
        let session = Session {
            hosts: cs.shuffled_hosts(),
            chroot: cs.chroot.clone(),
            label: opts.label.clone().unwrap_or_else(|| cs.to_string()).into(),
            requested_timeout_ms: opts.session_timeout_ms,
            rx,
            close_rx,
            events,
            shared: shared.clone(),
            host_next: 0,
            session_id: 0,
            passwd: Vec::new(),
            timeout_ms: 0,
            auths: Vec::new(),
            xid: 0,
            pipelines: Default::default(),
        };
        tokio::spawn(session.run());
        Client {
            tx,
            shared,
            close_tx: Arc::new(close_tx),
            connect: cs,
        }
    }

    /// Waits until the session is connected; fails if it is closed or expired first.
    pub async fn wait_connected(&self) -> Result<(), Error> {
        let mut rx = self.shared.info.subscribe();
        let info = rx
            .wait_for(|i| {
                matches!(
                    i.state,
                    SessionState::Connected | SessionState::Closed | SessionState::Expired
                )
            })
            .await
            .map_err(|_| Error::Closed)?
            .clone();
        match info.state {
            SessionState::Connected => Ok(()),
            SessionState::Expired => Err(Error::SessionExpired),
            _ => Err(Error::Closed),
        }
    }

    /// Closes the session (ephemerals go away) and waits for the task to finish.
    pub async fn close(&self) {
        self.close_tx.send_replace(true);
        let mut rx = self.shared.info.subscribe();
        let _ = rx
            .wait_for(|i| matches!(i.state, SessionState::Closed | SessionState::Expired))
            .await;
    }

    pub fn info(&self) -> SessionInfo {
        self.shared.info.borrow().clone()
    }

    /// A receiver that sees every change of [`SessionInfo`].
    pub fn subscribe(&self) -> watch::Receiver<SessionInfo> {
        self.shared.info.subscribe()
    }

    pub fn session_id(&self) -> i64 {
        self.shared.info.borrow().session_id
    }

    /// The highest zxid seen in any reply.
    pub fn last_zxid(&self) -> Zxid {
        Zxid(self.shared.last_zxid())
    }

    /// Events dropped because the event channel was full.
    pub fn events_dropped(&self) -> u64 {
        self.shared.events_dropped.load(Ordering::Relaxed)
    }

    /// The watches this session holds (server paths).
    pub fn watches(&self) -> WatchSet {
        self.shared.watches.lock().expect("watch set lock").clone()
    }

    pub fn connect_string(&self) -> &ConnectString {
        &self.connect
    }

    pub fn chroot(&self) -> Option<&str> {
        self.connect.chroot.as_deref()
    }

    fn server_path(&self, path: &str) -> String {
        to_server_path(self.chroot(), path)
    }

    fn terminal_error(&self) -> Error {
        match self.info().state {
            SessionState::Expired => Error::SessionExpired,
            _ => Error::Closed,
        }
    }

    /// Sends one request and waits for its reply. `path` is the client path, for errors.
    async fn call(&self, request: Request, path: Option<&str>) -> Result<Reply, Error> {
        self.call_with(request, path, None, None).await
    }

    async fn call_with(
        &self,
        request: Request,
        path: Option<&str>,
        watch: Option<(WatchKind, String)>,
        unwatch: Option<(String, i32)>,
    ) -> Result<Reply, Error> {
        let (reply, rx) = oneshot::channel();
        let call = Call {
            request,
            path: path.map(str::to_string),
            watch,
            unwatch,
            reply,
        };
        if self.tx.send(Msg::Call(call)).await.is_err() {
            return Err(self.terminal_error());
        }
        rx.await.unwrap_or_else(|_| Err(self.terminal_error()))
    }

    /// Sends any request as is (paths must already be server paths).
    pub async fn request(&self, request: Request) -> Result<Reply, Error> {
        self.call(request, None).await
    }

    /// Runs `pipeline` on this session and hands it back when it is done: the session task
    /// itself asks it for a request whenever fewer than `depth` of its requests are in flight,
    /// writes every request it gets in one turn with one write, and hands it each reply in
    /// order (see [`Pipeline`]). It is done once it has nothing more to send and its last reply
    /// arrived, or when the session ends. Other requests share the connection meanwhile;
    /// pipelines run one after another.
    pub async fn run_pipeline<P: Pipeline>(&self, depth: usize, pipeline: P) -> P {
        let (running, done) = pipeline::Running::new(pipeline);
        let queued = pipeline::Queued {
            pipeline: Box::new(running),
            depth: depth.max(1),
        };
        if let Err(mpsc::error::SendError(Msg::Pipeline(mut q))) =
            self.tx.send(Msg::Pipeline(queued)).await
        {
            let now = std::time::Instant::now();
            pipeline::end_one(&mut q, &self.terminal_error(), now);
        }
        done.await
            .expect("a pipeline is handed back when the session task drops it")
    }

    /// Adds credentials to the session; they are re-sent on every reconnect.
    pub async fn add_auth(&self, scheme: &str, auth: Vec<u8>) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Auth {
            scheme: scheme.to_string(),
            auth,
            reply,
        };
        if self.tx.send(msg).await.is_err() {
            return Err(self.terminal_error());
        }
        rx.await.unwrap_or_else(|_| Err(self.terminal_error()))
    }

    /// Creates a node and returns its actual path (sequential suffix included) and stat.
    /// Containers use createContainer, TTL modes createTTL with `ttl_ms`, the rest create2.
    pub async fn create(
        &self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl_ms: Option<i64>,
    ) -> Result<(String, Stat), Error> {
        let request = create_request(self.server_path(path), data, acl, mode, ttl_ms);
        let reply = self.call(request, Some(path)).await?;
        match reply.response {
            Response::Create2(r) => Ok((self.client_path(&r.path), r.stat)),
            Response::Create(r) => Ok((self.client_path(&r.path), Stat::default())),
            other => Err(unexpected(other)),
        }
    }

    fn client_path(&self, server_path: &str) -> String {
        to_client_path(self.chroot(), server_path)
    }

    /// Deletes a node; `version` -1 means any.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), Error> {
        let request = Request::Delete(DeleteRequest {
            path: self.server_path(path),
            version,
        });
        self.call(request, Some(path)).await.map(|_| ())
    }

    /// The node's stat, or `None` if it does not exist. With `watch`, a missing node is watched
    /// for creation.
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>, Error> {
        let sp = self.server_path(path);
        let w = watch.then(|| (WatchKind::Data, sp.clone()));
        let request = Request::Exists(PathWatchRequest { path: sp, watch });
        match self.call_with(request, Some(path), w, None).await {
            Ok(Reply {
                response: Response::Stat(stat),
                ..
            }) => Ok(Some(stat)),
            Ok(other) => Err(unexpected(other.response)),
            Err(e) if e.is(ErrorCode::NO_NODE) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn get_data(&self, path: &str, watch: bool) -> Result<NodeData, Error> {
        let sp = self.server_path(path);
        let w = watch.then(|| (WatchKind::Data, sp.clone()));
        let request = Request::GetData(PathWatchRequest { path: sp, watch });
        let reply = self.call_with(request, Some(path), w, None).await?;
        match reply.response {
            Response::GetData(r) => Ok(NodeData {
                data: r.data,
                stat: r.stat,
                zxid: reply.zxid,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces a node's data; `version` -1 means any.
    pub async fn set_data(
        &self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
    ) -> Result<Stat, Error> {
        let request = Request::SetData(SetDataRequest {
            path: self.server_path(path),
            data,
            version,
        });
        stat_of(self.call(request, Some(path)).await?)
    }

    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat), Error> {
        let request = Request::GetAcl(PathRequest {
            path: self.server_path(path),
        });
        match self.call(request, Some(path)).await?.response {
            Response::GetAcl(r) => Ok((r.acl, r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces a node's ACL; `version` (the expected aversion) -1 means any.
    pub async fn set_acl(&self, path: &str, acl: Vec<Acl>, version: i32) -> Result<Stat, Error> {
        let request = Request::SetAcl(SetAclRequest {
            path: self.server_path(path),
            acl,
            version,
        });
        stat_of(self.call(request, Some(path)).await?)
    }

    /// Children names and the node's stat (getChildren2).
    pub async fn get_children(&self, path: &str, watch: bool) -> Result<Children, Error> {
        let sp = self.server_path(path);
        let w = watch.then(|| (WatchKind::Child, sp.clone()));
        let request = Request::GetChildren2(PathWatchRequest { path: sp, watch });
        let reply = self.call_with(request, Some(path), w, None).await?;
        match reply.response {
            Response::GetChildren2(r) => Ok(Children {
                children: r.children,
                stat: r.stat,
                zxid: reply.zxid,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// Waits until the connected server has caught up with the leader as of now.
    pub async fn sync(&self, path: &str) -> Result<Zxid, Error> {
        let request = Request::Sync(PathRequest {
            path: self.server_path(path),
        });
        Ok(self.call(request, Some(path)).await?.zxid)
    }

    /// Runs write operations atomically. On failure the error names the operation that failed.
    pub async fn multi(&self, ops: Vec<MultiOp>) -> Result<Vec<MultiResult>, Error> {
        let client_paths: Vec<(OpCode, String)> =
            ops.iter().map(|o| (o.op(), o.path().to_string())).collect();
        let ops = ops.into_iter().map(|o| self.chroot_op(o)).collect();
        let reply = self.call(Request::Multi(ops), None).await?;
        let Response::Multi(results) = reply.response else {
            return Err(unexpected(reply.response));
        };
        if let Some((i, code)) = first_multi_error(&results) {
            let (op, path) = client_paths
                .get(i)
                .cloned()
                .unwrap_or((OpCode::MULTI, "?".into()));
            return Err(Error::Keeper {
                code,
                op,
                path: Some(path),
            });
        }
        Ok(results
            .into_iter()
            .map(|r| self.unchroot_result(r))
            .collect())
    }

    /// Runs reads (getData / getChildren) in one request; each result stands alone.
    pub async fn multi_read(&self, ops: Vec<MultiOp>) -> Result<Vec<MultiResult>, Error> {
        let ops = ops.into_iter().map(|o| self.chroot_op(o)).collect();
        let reply = self.call(Request::MultiRead(ops), None).await?;
        match reply.response {
            Response::Multi(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    fn chroot_op(&self, op: MultiOp) -> MultiOp {
        let fix = |p: &mut String| *p = self.server_path(p);
        let mut op = op;
        match &mut op {
            MultiOp::Create { req, .. } => fix(&mut req.path),
            MultiOp::CreateTtl(r) => fix(&mut r.path),
            MultiOp::Delete(r) => fix(&mut r.path),
            MultiOp::SetData(r) => fix(&mut r.path),
            MultiOp::Check(r) => fix(&mut r.path),
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => fix(&mut r.path),
        }
        op
    }

    fn unchroot_result(&self, r: MultiResult) -> MultiResult {
        match r {
            MultiResult::Create { path } => MultiResult::Create {
                path: self.client_path(&path),
            },
            MultiResult::Create2 { path, stat } => MultiResult::Create2 {
                path: self.client_path(&path),
                stat,
            },
            other => other,
        }
    }

    /// Adds a persistent (optionally recursive) watch; it survives reconnects.
    pub async fn add_watch(&self, path: &str, recursive: bool) -> Result<(), Error> {
        let sp = self.server_path(path);
        let (mode, kind) = if recursive {
            (
                add_watch_mode::PERSISTENT_RECURSIVE,
                WatchKind::PersistentRecursive,
            )
        } else {
            (add_watch_mode::PERSISTENT, WatchKind::Persistent)
        };
        let w = Some((kind, sp.clone()));
        let request = Request::AddWatch(AddWatchRequest { path: sp, mode });
        self.call_with(request, Some(path), w, None)
            .await
            .map(|_| ())
    }

    /// Removes this session's watches of `watcher_type` (see `zk_proto::ops::watcher_type`).
    pub async fn remove_watches(&self, path: &str, watcher_type: i32) -> Result<(), Error> {
        let sp = self.server_path(path);
        let un = Some((sp.clone(), watcher_type));
        let request = Request::RemoveWatches(WatchesRequest {
            path: sp,
            watcher_type,
        });
        self.call_with(request, Some(path), None, un)
            .await
            .map(|_| ())
    }

    /// Forgets watches locally without telling the server (`removewatches -l`).
    pub fn remove_watches_locally(&self, path: &str, watcher_type: i32) {
        let sp = self.server_path(path);
        self.shared
            .watches
            .lock()
            .expect("watch set lock")
            .on_removed(&sp, watcher_type);
    }

    /// Paths of this session's ephemerals under `prefix`.
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let request = Request::GetEphemerals(PathRequest {
            path: self.server_path(prefix),
        });
        match self.call(request, Some(prefix)).await?.response {
            Response::GetEphemerals(r) => {
                Ok(r.ephemerals.iter().map(|p| self.client_path(p)).collect())
            }
            other => Err(unexpected(other)),
        }
    }

    /// Number of descendants of `path` (not counting itself).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32, Error> {
        let request = Request::GetAllChildrenNumber(PathRequest {
            path: self.server_path(path),
        });
        match self.call(request, Some(path)).await?.response {
            Response::GetAllChildrenNumber(r) => Ok(r.total_number),
            other => Err(unexpected(other)),
        }
    }

    /// The identities the server associates with this session.
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>, Error> {
        match self.call(Request::WhoAmI, None).await?.response {
            Response::WhoAmI(r) => Ok(r.client_info),
            other => Err(unexpected(other)),
        }
    }

    /// The ensemble's dynamic configuration (`/zookeeper/config`, ignoring the chroot).
    pub async fn get_config(&self, watch: bool) -> Result<NodeData, Error> {
        let w = watch.then(|| (WatchKind::Data, CONFIG_NODE.to_string()));
        let request = Request::GetData(PathWatchRequest {
            path: CONFIG_NODE.to_string(),
            watch,
        });
        let reply = self.call_with(request, Some(CONFIG_NODE), w, None).await?;
        match reply.response {
            Response::GetData(r) => Ok(NodeData {
                data: r.data,
                stat: r.stat,
                zxid: reply.zxid,
            }),
            other => Err(unexpected(other)),
        }
    }
}

fn create_request(
    path: String,
    data: Option<Vec<u8>>,
    acl: Vec<Acl>,
    mode: CreateMode,
    ttl_ms: Option<i64>,
) -> Request {
    if mode.is_ttl() {
        return Request::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags: mode as i32,
            ttl: ttl_ms.unwrap_or(0),
        });
    }
    let op = if mode.is_container() {
        OpCode::CREATE_CONTAINER
    } else {
        OpCode::CREATE2
    };
    Request::Create {
        op,
        req: CreateRequest {
            path,
            data,
            acl,
            flags: mode as i32,
        },
    }
}

/// The index and code of the operation that made a multi fail (not the -2 "rolled back" ones).
pub fn first_multi_error(results: &[MultiResult]) -> Option<(usize, ErrorCode)> {
    results.iter().enumerate().find_map(|(i, r)| match r {
        MultiResult::Error { err } if *err != 0 && *err != ErrorCode::RUNTIME_INCONSISTENCY.0 => {
            Some((i, ErrorCode(*err)))
        }
        _ => None,
    })
}

fn stat_of(reply: Reply) -> Result<Stat, Error> {
    match reply.response {
        Response::Stat(s) => Ok(s),
        other => Err(unexpected(other)),
    }
}

fn unexpected(r: Response) -> Error {
    Error::Protocol(format!("unexpected reply {r:?}"))
}
