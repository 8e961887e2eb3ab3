//! The engine's working state for one run in one direction, and the reading and writing
//! helpers every phase shares: connecting a side, reading many nodes at once, walking a
//! subtree, creating nodes in multis sized under jute.maxbuffer, and the event collector
//! that turns the source's persistent-recursive watch into a set of pending paths.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use futures::StreamExt;
use tokio::sync::mpsc;
use zk_proto::proto::{CreateRequest, DeleteRequest};
use zk_proto::{Acl, ErrorCode, MultiOp, OpCode, Stat};

use crate::client::{Client, ClientEvent, ClientOptions, Error, Event, SessionState};

use super::acl::{fence_acl, Identity};
use super::checkpoint::{acl_from_text, acl_text, Checkpoint};
use super::paths::{join, PathMap};
use super::plan::{AclPolicy, ConflictPolicy, CopyOptions, EphemeralPolicy, Side};
use super::progress::{checkpoint_gate, Control, Progress, Sink};
use super::MigrateError;

/// Requests in flight at once when reading or writing many single nodes: enough to fill the
/// pipe, few enough that a huge batch does not queue tens of thousands of futures.
pub const PARALLEL: usize = 512;
/// Watch events buffered between the session task and the collector. Past this the client
/// drops events and counts them, and the next reconciliation sweep recovers what they said.
pub const EVENTS_QUEUE_LEN: usize = 65_536;
/// Bytes of node data a copy batch holds in memory at most before it is written.
pub const BATCH_READ_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// The throwaway child used to raise a parent's sequential counter.
pub const PUMP_NAME: &str = "zkfleet-migrate-pump";
/// Create+delete pairs per multi when carrying a counter.
const PUMP_PAIRS_PER_MULTI: usize = 500;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One connected cluster.
#[derive(Clone)]
pub struct Endpoint {
    pub side: Side,
    pub client: Client,
    pub identity: Identity,
}

/// Connects to one side with its credentials; `events` receives its watch notifications.
pub async fn connect(
    side: &Side,
    events: Option<mpsc::Sender<ClientEvent>>,
) -> Result<Endpoint, MigrateError> {
    let opts = ClientOptions {
        label: Some(side.label.clone()),
        events,
        auth: side.auth.clone(),
        ..ClientOptions::default()
    };
    let client = Client::connect(&side.connect, opts)
        .await
        .map_err(|e| MigrateError::Connect {
            side: side.label.clone(),
            error: e.to_string(),
        })?;
    // whoAmI is 3.7+; an older server just leaves the address unknown.
    let ip = match client.who_am_i().await {
        Ok(ids) => ids
            .into_iter()
            .find(|c| c.auth_scheme == "ip")
            .map(|c| c.user),
        Err(_) => None,
    };
    Ok(Endpoint {
        side: side.clone(),
        identity: Identity::from_auth(&side.auth, ip),
        client,
    })
}

/// A node as read: data, stat (aversion from the ACL reply) and ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRead {
    pub data: Option<Vec<u8>>,
    pub stat: Stat,
    pub acl: Vec<Acl>,
}

impl NodeRead {
    pub fn len(&self) -> u64 {
        self.data.as_ref().map_or(0, |d| d.len() as u64)
    }
}

/// The stored sequential counter of a node (the number of child creations), from the
/// client-visible cversion: visible = 2 × stored − numChildren (DataNode.copyStat).
pub fn stored_counter(stat: &Stat) -> i64 {
    (i64::from(stat.cversion) + i64::from(stat.num_children)) / 2
}

/// Reads data and ACL of many nodes, pipelined; `None` for nodes that do not exist.
pub async fn read_nodes(client: &Client, paths: &[String]) -> Result<Vec<Option<NodeRead>>, Error> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(PARALLEL) {
        let replies = join_all(chunk.iter().map(|p| async move {
            let (d, a) = futures::join!(client.get_data(p, false), client.get_acl(p));
            (d, a)
        }))
        .await;
        for (d, a) in replies {
            match (d, a) {
                (Ok(d), Ok((acl, astat))) => {
                    let mut stat = d.stat;
                    stat.aversion = astat.aversion;
                    out.push(Some(NodeRead {
                        data: d.data,
                        stat,
                        acl,
                    }))
                }
                (Err(e), _) | (_, Err(e)) if e.is(ErrorCode::NO_NODE) => out.push(None),
                (Err(e), _) | (_, Err(e)) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Children of many nodes with their stats, pipelined; `None` for nodes that do not exist.
pub async fn list_nodes(
    client: &Client,
    paths: &[String],
) -> Result<Vec<Option<(Vec<String>, Stat)>>, Error> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(PARALLEL) {
        for r in join_all(chunk.iter().map(|p| client.get_children(p, false))).await {
            match r {
                Ok(mut c) => {
                    c.children.sort();
                    out.push(Some((c.children, c.stat)))
                }
                Err(e) if e.is(ErrorCode::NO_NODE) => out.push(None),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// A subtree as stats and child names, read breadth-first.
#[derive(Debug, Default)]
pub struct Walked {
    pub nodes: BTreeMap<String, (Stat, Vec<String>)>,
    /// Nodes the migrator may not list, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// Walks `root` breadth-first, keeping the nodes `keep` accepts (and not descending into
/// the others). A missing root is an empty walk; a node the migrator may not read is listed
/// in `unreadable` and not descended into.
pub async fn walk(
    client: &Client,
    root: &str,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Walked, Error> {
    let mut w = Walked::default();
    let mut level = vec![root.to_string()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for chunk in level.chunks(PARALLEL) {
            let replies = join_all(chunk.iter().map(|p| client.get_children(p, false))).await;
            for (path, r) in chunk.iter().zip(replies) {
                match r {
                    Ok(mut c) => {
                        c.children.retain(|n| keep(&join(path, n)));
                        c.children.sort();
                        next.extend(c.children.iter().map(|n| join(path, n)));
                        w.nodes.insert(path.clone(), (c.stat, c.children));
                    }
                    Err(e) if e.is(ErrorCode::NO_NODE) => {}
                    Err(e) if e.is(ErrorCode::NO_AUTH) => w
                        .unreadable
                        .push((path.clone(), "no READ permission".into())),
                    Err(e) => return Err(e),
                }
            }
        }
        level = next;
    }
    Ok(w)
}

/// One create of a copy batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
}

impl Create {
    /// Bytes this create adds to a multi request (MultiHeader + CreateRequest).
    pub fn encoded_len(&self) -> usize {
        let acl: usize = self
            .acl
            .iter()
            .map(|a| 4 + 4 + a.id.scheme.len() + 4 + a.id.id.len())
            .sum();
        9 + 4 + self.path.len() + 4 + self.data.as_ref().map_or(0, Vec::len) + 4 + acl + 4
    }

    fn op(&self) -> MultiOp {
        MultiOp::Create {
            op: OpCode::CREATE,
            req: CreateRequest {
                path: self.path.clone(),
                data: self.data.clone(),
                acl: self.acl.clone(),
                flags: 0,
            },
        }
    }
}

/// Request framing around a multi's operations (length, header, terminator), in bytes.
const MULTI_OVERHEAD: usize = 4 + 8 + 9;

/// Splits creates into consecutive multis of at most `bytes_max` bytes and `ops_max`
/// operations. A create larger than the budget goes alone.
pub fn split_multis(
    creates: &[Create],
    bytes_max: usize,
    ops_max: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = MULTI_OVERHEAD;
    for (i, c) in creates.iter().enumerate() {
        let len = c.encoded_len();
        if i > start && (bytes + len > bytes_max || i - start >= ops_max) {
            out.push(start..i);
            start = i;
            bytes = MULTI_OVERHEAD;
        }
        bytes += len;
    }
    if start < creates.len() {
        out.push(start..creates.len());
    }
    out
}

/// Creates nodes as multis, `in_flight` at a time. A multi that fails is retried one create
/// at a time; the creates that still fail are returned with their error (the caller turns
/// NodeExists into an update).
pub async fn create_batched(
    client: &Client,
    creates: &[Create],
    opts: &CopyOptions,
) -> Vec<(usize, Error)> {
    let ranges = split_multis(creates, opts.batch_bytes_max, opts.batch_ops_max);
    let results: Vec<(std::ops::Range<usize>, Result<(), Error>)> =
        futures::stream::iter(ranges.into_iter().map(|r| async move {
            let ops: Vec<MultiOp> = creates[r.clone()].iter().map(Create::op).collect();
            let res = if ops.len() == 1 {
                let c = &creates[r.start];
                client
                    .create(
                        &c.path,
                        c.data.clone(),
                        c.acl.clone(),
                        zk_proto::CreateMode::Persistent,
                        None,
                    )
                    .await
                    .map(|_| ())
            } else {
                client.multi(ops).await.map(|_| ())
            };
            (r, res)
        }))
        .buffer_unordered(opts.multis_in_flight.max(1))
        .collect()
        .await;
    let mut failed = Vec::new();
    for (r, res) in results {
        match res {
            Ok(()) => {}
            Err(e) if r.len() == 1 => failed.push((r.start, e)),
            Err(_) => {
                let singles = join_all(r.clone().map(|i| {
                    let c = &creates[i];
                    async move {
                        let res = client
                            .create(
                                &c.path,
                                c.data.clone(),
                                c.acl.clone(),
                                zk_proto::CreateMode::Persistent,
                                None,
                            )
                            .await;
                        (i, res)
                    }
                }))
                .await;
                failed.extend(
                    singles
                        .into_iter()
                        .filter_map(|(i, r)| r.err().map(|e| (i, e))),
                );
            }
        }
    }
    failed.sort_by_key(|(i, _)| *i);
    failed
}

/// Raises `parent`'s sequential counter by `pairs` with create+delete pairs of a throwaway
/// child inside multis (each pair adds one child creation; reference §5.5).
pub async fn pump_counter(client: &Client, parent: &str, pairs: u64) -> Result<(), Error> {
    let child = join(parent, PUMP_NAME);
    let mut left = pairs;
    while left > 0 {
        let n = left.min(PUMP_PAIRS_PER_MULTI as u64) as usize;
        let mut ops = Vec::with_capacity(2 * n);
        for _ in 0..n {
            ops.push(MultiOp::Create {
                op: OpCode::CREATE,
                req: CreateRequest {
                    path: child.clone(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 0,
                },
            });
            ops.push(MultiOp::Delete(DeleteRequest {
                path: child.clone(),
                version: -1,
            }));
        }
        client.multi(ops).await?;
        left -= n as u64;
    }
    Ok(())
}

/// Deletes `root` and everything below it on `client`, deepest first, except the paths
/// in `keep` (and so their ancestors). Returns how many nodes were deleted.
pub async fn delete_tree(
    client: &Client,
    root: &str,
    keep: &BTreeSet<String>,
) -> Result<u64, Error> {
    let w = walk(client, root, &|_| true).await?;
    let mut paths: Vec<&String> = w.nodes.keys().filter(|p| !keep.contains(*p)).collect();
    paths.sort_by_key(|p| std::cmp::Reverse(super::paths::depth(p)));
    let mut deleted = 0;
    let mut i = 0;
    while i < paths.len() {
        let d = super::paths::depth(paths[i]);
        let mut j = i;
        while j < paths.len() && super::paths::depth(paths[j]) == d {
            j += 1;
        }
        for chunk in paths[i..j].chunks(PARALLEL) {
            for r in join_all(chunk.iter().map(|p| client.delete(p, -1))).await {
                match r {
                    Ok(()) => deleted += 1,
                    Err(e) if e.is(ErrorCode::NO_NODE) || e.is(ErrorCode::NOT_EMPTY) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        i = j;
    }
    Ok(deleted)
}

/// What the collector has seen since the engine last looked.
#[derive(Debug, Default)]
pub struct Collected {
    /// Changed source paths, in arrival order (duplicates included).
    pub paths: Vec<String>,
    /// The session reconnected (events may have been lost in between).
    pub reconnected: bool,
    /// The session expired: the watch is gone with it.
    pub expired: bool,
}

/// Turns the watch notifications of the source session into changed paths. The engine
/// drains it itself (no task in between), so after a read whose reply carries zxid Z has
/// returned, every event of a transaction up to Z is already in the queue (a server sends a
/// notification before any reply that reflects its change; reference §7.6).
pub struct Collector {
    rx: mpsc::Receiver<ClientEvent>,
    map: PathMap,
    was_disconnected: bool,
    /// An event taken by [`Collector::wait`], not yet drained.
    early: Option<ClientEvent>,
    /// Node events seen in all.
    pub events: u64,
}

impl Collector {
    pub fn new(rx: mpsc::Receiver<ClientEvent>, map: PathMap) -> Collector {
        Collector {
            rx,
            map,
            was_disconnected: false,
            early: None,
            events: 0,
        }
    }

    /// Waits until an event is queued, at most `limit` (the idle catch-up's pause, cut short
    /// by the next change).
    pub async fn wait(&mut self, limit: Duration) {
        if self.early.is_some() {
            return;
        }
        if let Ok(Some(ev)) = tokio::time::timeout(limit, self.rx.recv()).await {
            self.early = Some(ev);
        }
    }

    /// Everything queued so far.
    pub fn drain(&mut self) -> Collected {
        let mut c = Collected::default();
        let early = self.early.take();
        let queued = std::iter::from_fn(|| self.rx.try_recv().ok());
        for ev in early.into_iter().chain(queued) {
            match ev.event {
                Event::Node(n) => {
                    if self.map.covers(&n.path) {
                        self.events += 1;
                        c.paths.push(n.path);
                    }
                }
                Event::State(SessionState::Disconnected | SessionState::Connecting) => {
                    self.was_disconnected = true
                }
                Event::State(SessionState::Connected) if self.was_disconnected => {
                    self.was_disconnected = false;
                    c.reconnected = true;
                }
                Event::State(SessionState::Expired | SessionState::Closed) => c.expired = true,
                Event::State(_) => {}
            }
        }
        c
    }
}

/// What the catch-up last recorded about a source node it applied (for the sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub mzxid: i64,
    pub pzxid: i64,
    pub aversion: i32,
}

/// How often the marks are written to disk at most (besides when a run returns). Marks
/// that are a little old after a SIGKILL only cost a closer look at the nodes changed since.
pub const MARKS_SAVE_EVERY: Duration = Duration::from_secs(5);

/// `<checkpoint>.marks`: one line per applied source node, `mzxid pzxid aversion path`
/// (hex, hex, decimal; the path last, as it may hold spaces but no line breaks).
pub fn marks_path(checkpoint: &std::path::Path) -> PathBuf {
    let mut name = checkpoint.as_os_str().to_owned();
    name.push(".marks");
    PathBuf::from(name)
}

fn save_marks(path: &std::path::Path, marks: &HashMap<String, Mark>) -> Result<(), MigrateError> {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(marks.len() * 48);
    for (p, m) in marks {
        let _ = writeln!(text, "{:x} {:x} {} {p}", m.mzxid, m.pzxid, m.aversion);
    }
    super::checkpoint::write_atomic(path, text.as_bytes())
}

/// The marks written by an earlier run; an unreadable line is skipped (its node is then
/// compared in full).
pub fn load_marks(path: &std::path::Path) -> HashMap<String, Mark> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(4, ' ');
            let mzxid = i64::from_str_radix(it.next()?, 16).ok()?;
            let pzxid = i64::from_str_radix(it.next()?, 16).ok()?;
            let aversion = it.next()?.parse().ok()?;
            let path = it.next()?.to_string();
            Some((
                path,
                Mark {
                    mzxid,
                    pzxid,
                    aversion,
                },
            ))
        })
        .collect()
}

impl Mark {
    pub fn of(stat: &Stat) -> Mark {
        Mark {
            mzxid: stat.mzxid,
            pzxid: stat.pzxid,
            aversion: stat.aversion,
        }
    }
}

/// Which way a run copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Source to destination, as planned.
    Forward,
    /// Back from the destination to the fenced source after cutover.
    Reverse,
}

/// The state of one run.
pub struct Engine {
    pub direction: Direction,
    pub map: PathMap,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub acl_policy: AclPolicy,
    /// False when ACLs are not carried (a reverse catch-up after a replaced or remapped
    /// ACL policy).
    pub acl_carry: bool,
    pub ephemerals: EphemeralPolicy,
    pub conflicts: ConflictPolicy,
    pub copy: CopyOptions,
    pub reconcile_interval: Duration,
    /// Destination paths this run must not delete (nor write, under `conflicts = "skip"`).
    pub preexisting: BTreeSet<String>,
    /// Source ephemerals seen (left out under the skip policy).
    pub ephemeral_paths: BTreeSet<String>,
    /// Destination ephemerals met where the source has nothing: left alone, and not counted
    /// as children when counters are compared.
    pub dst_ephemerals: BTreeSet<String>,
    pub ck: Checkpoint,
    pub ck_path: PathBuf,
    pub sink: Sink,
    pub control: Control,
    pub collector: Option<Collector>,
    /// Changed source paths not yet applied, with when they were first seen (ms since the
    /// run started).
    pub pending: BTreeMap<String, u64>,
    /// Events the source client had dropped when last looked at.
    pub events_dropped_seen: u64,
    pub marks: HashMap<String, Mark>,
    /// Marks changed since they were last written to disk.
    pub marks_dirty: bool,
    pub last_marks_save: Instant,
    /// Child names of frontier entries, read with the node (copy only).
    pub listings: HashMap<String, Vec<String>>,
    /// The migrator's own ACL entry on a fenced destination (reverse direction only).
    pub dst_fence_entry: Option<Acl>,
    /// A verification beside a running migrator: never writes the checkpoint.
    pub read_only: bool,
    pub started: Instant,
    pub last_save: Instant,
}

impl Engine {
    pub fn save(&mut self) -> Result<(), MigrateError> {
        self.save_with(false)
    }

    /// Writes the checkpoint and the marks, whatever their age (before a run returns).
    pub fn flush(&mut self) -> Result<(), MigrateError> {
        self.save_with(true)
    }

    fn save_with(&mut self, force: bool) -> Result<(), MigrateError> {
        if self.read_only {
            return Ok(());
        }
        if self.direction == Direction::Forward {
            self.ck.ephemerals = self.ephemeral_paths.clone();
        }
        self.last_save = Instant::now();
        self.ck.save(&self.ck_path, now_ms())?;
        let due = force || self.last_marks_save.elapsed() >= MARKS_SAVE_EVERY;
        if self.direction == Direction::Forward && self.marks_dirty && due {
            save_marks(&marks_path(&self.ck_path), &self.marks)?;
            self.marks_dirty = false;
            self.last_marks_save = Instant::now();
        }
        Ok(())
    }

    /// Records what was applied for a source node.
    pub fn set_mark(&mut self, src: &str, mark: Mark) {
        self.marks.insert(src.to_string(), mark);
        self.marks_dirty = true;
    }

    /// Forgets a mark: the node must be compared again by the next sweep.
    pub fn drop_mark(&mut self, src: &str) {
        if self.marks.remove(src).is_some() {
            self.marks_dirty = true;
        }
    }

    /// Writes the checkpoint, then honours pause and stop. True when the run should stop.
    pub async fn gate(&mut self) -> Result<bool, MigrateError> {
        self.save()?;
        let sink = self.sink.clone();
        Ok(checkpoint_gate(&mut self.control, &sink).await)
    }

    /// Queues a source path for the catch-up.
    pub fn queue(&mut self, src: String) {
        let at = self.started.elapsed().as_millis() as u64;
        self.pending.entry(src).or_insert(at);
    }

    /// Moves what the watch reported into `pending`. True when events may have been lost
    /// (a reconnect, or the client dropped some), which calls for a sweep.
    pub fn collect_events(&mut self) -> Result<bool, MigrateError> {
        let Some(collector) = self.collector.as_mut() else {
            return Ok(false);
        };
        let got = collector.drain();
        self.ck.catch_up.events = collector.events;
        if got.expired {
            return Err(MigrateError::Failed(format!(
                "the session on {} expired, and its watch with it; run again to continue",
                self.src.side.label
            )));
        }
        for p in got.paths {
            self.queue(p);
        }
        let dropped = self.src.client.events_dropped();
        let lost = got.reconnected || dropped > self.events_dropped_seen;
        self.events_dropped_seen = dropped;
        Ok(lost)
    }

    pub fn emit(&self, p: Progress) {
        (self.sink)(p)
    }

    pub fn note(&mut self, text: String) {
        self.ck.note(text.clone());
        self.emit(Progress::Note { text });
    }

    pub fn warn(&mut self, text: String) {
        self.ck.note(format!("warning: {text}"));
        self.emit(Progress::Warning { text });
    }

    /// The ACL a source node really has: under a forward fence, the original one.
    pub fn source_acl(&self, path: &str, read: &[Acl]) -> Vec<Acl> {
        if self.direction == Direction::Forward {
            if let Some(orig) = self.ck.fence.as_ref().and_then(|f| f.originals.get(path)) {
                return acl_from_text(orig);
            }
        }
        read.to_vec()
    }

    /// The ACL a destination node is meant to have: on a fenced destination (reverse), the
    /// one the fence will restore.
    pub fn destination_acl(&self, path: &str, read: &[Acl]) -> Vec<Acl> {
        if self.direction == Direction::Reverse {
            if let Some(orig) = self.ck.fence.as_ref().and_then(|f| f.originals.get(path)) {
                return acl_from_text(orig);
            }
        }
        read.to_vec()
    }

    /// The ACL to write on the destination for a wanted ACL (fenced in reverse, with the
    /// wanted one remembered for rollback).
    pub fn acl_to_write(&mut self, path: &str, wanted: &[Acl]) -> Vec<Acl> {
        match (&self.dst_fence_entry, self.ck.fence.as_mut()) {
            (Some(entry), Some(fence)) => {
                fence.originals.insert(path.to_string(), acl_text(wanted));
                fence.applied.insert(path.to_string());
                fence_acl(wanted, Some(entry))
            }
            _ => wanted.to_vec(),
        }
    }

    /// The destination ACL for a source node, by policy, in the source's order (compare
    /// with [`canonical`](super::acl::canonical)).
    pub fn wanted_acl(&self, src_path: &str, read: &[Acl]) -> Vec<Acl> {
        super::acl::transform(&self.acl_policy, &self.source_acl(src_path, read))
    }

    /// True when a source node is left out as an ephemeral.
    pub fn skips(&self, stat: &Stat) -> bool {
        stat.ephemeral_owner != 0 && self.ephemerals == EphemeralPolicy::Skip
    }

    /// True when the destination path must not be written.
    pub fn untouchable(&self, dst_path: &str) -> bool {
        self.conflicts == ConflictPolicy::Skip && self.preexisting.contains(dst_path)
    }

    /// Records a destination path the migrator could not write.
    pub fn block(&mut self, path: &str, e: &Error) {
        if let Some(src) = self.map.to_source(path) {
            self.drop_mark(&src);
        }
        if !self.ck.blocked.contains_key(path) {
            self.warn(format!(
                "cannot write {path} on {}: {e}",
                self.dst.side.label
            ));
        }
        self.ck.blocked.insert(path.to_string(), e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(path: &str, data: usize) -> Create {
        Create {
            path: path.into(),
            data: Some(vec![0; data]),
            acl: Acl::open_unsafe(),
        }
    }

    #[test]
    fn multis_stay_under_the_byte_budget_and_big_nodes_go_alone() {
        let creates = vec![
            create("/a", 100_000),
            create("/b", 100_000),
            create("/c", 500_000),
            create("/d", 10),
            create("/e", 10),
        ];
        let r = split_multis(&creates, 256 * 1024, 1000);
        assert_eq!(r, vec![0..2, 2..3, 3..5]);
        for range in &r {
            let bytes: usize = creates[range.clone()].iter().map(Create::encoded_len).sum();
            assert!(range.len() == 1 || bytes + MULTI_OVERHEAD <= 256 * 1024);
        }
        let many: Vec<Create> = (0..25).map(|i| create(&format!("/n{i}"), 1)).collect();
        assert_eq!(
            split_multis(&many, 1 << 20, 10),
            vec![0..10, 10..20, 20..25]
        );
    }

    #[test]
    fn stored_counter_undoes_the_visible_cversion() {
        // Five creates, three deletes: stored 5, visible 2*5-2 = 8... with 2 children.
        let stat = Stat {
            cversion: 8,
            num_children: 2,
            ..Stat::default()
        };
        assert_eq!(stored_counter(&stat), 5);
        // Reference §5.1 experiment: cversion 9, numChildren 3 → next suffix 6.
        let stat = Stat {
            cversion: 9,
            num_children: 3,
            ..Stat::default()
        };
        assert_eq!(stored_counter(&stat), 6);
    }
}
