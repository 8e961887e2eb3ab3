//! Snapshots, in Apache ZooKeeper 3.8's format ("CHECKED" stream: no compression).
//!
//! ```text
//! <dataDir>/version-2/snapshot.<last applied zxid, lowercase hex>
//!   FileHeader { int magic = "ZKSN", int version = 2, long dbid = -1 }
//!   int sessionCount; repeat { long sessionId; int timeoutMs }
//!   int aclMapSize;   repeat { long aclIndex; vector<ACL> }
//!   repeat, pre-order from the root:  ustring path ("" for the root)
//!                                     buffer data; long aclIndex; StatPersisted stat
//!   ustring "/"                                   end of nodes
//!   long adler32 of everything so far; ustring "/"        seal
//!   ZxidDigest { long zxid; int version = 2; long digest }
//!   long adler32 of everything so far; ustring "/"        second seal
//! ```
//! Ours are consistent (taken at one zxid), not fuzzy; Apache's loader accepts both.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zk_proto::data::{Acl, StatPersisted};
use zk_proto::jute::Writer;
use zk_proto::txn::FileHeader;
use zk_proto::{Jute, Reader};

use super::disk::Disk;
use crate::tree::digest::{node_digest, DIGEST_VERSION};
use crate::tree::{path, AclList, DataTree, FixedMap, Node, NodeMap};

pub const SNAP_MAGIC: i32 = 0x5a4b_534e; // "ZKSN"

/// What a snapshot holds.
#[derive(Debug, Clone)]
pub struct SnapshotData {
    pub zxid: i64,
    pub nodes: NodeMap,
    pub sessions: BTreeMap<i64, i32>,
    pub digest: u64,
}

/// Serializes a snapshot to bytes.
pub fn encode(snap: &SnapshotData) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    // Nothing is taken from the buffer, so a seal's checksum is over the buffer.
    encode_file(snap, &mut out, &mut |buf: &mut Vec<u8>, seal| {
        Ok(seal.then(|| adler2::adler32_slice(buf)))
    })
    .expect("writing to memory cannot fail");
    out
}

/// Where the encoder's bytes go: called with the buffer when it has grown past
/// [`FLUSH_AT`] (`seal: false`: the sink may take the bytes and clear the buffer) and at each
/// seal (`seal: true`: the sink returns the Adler-32 of every byte so far, the buffer's
/// included, and the encoder appends it).
type Sink<'a> = dyn FnMut(&mut Vec<u8>, bool) -> io::Result<Option<u32>> + 'a;

/// Bytes the encoder buffers before it hands them to the sink.
const FLUSH_AT: usize = 1 << 20;

/// Snapshot bytes written between syncs.
const SYNC_EVERY: usize = 8 << 20;

/// A whole snapshot file: header, database, seal, digest, seal.
fn encode_file(snap: &SnapshotData, out: &mut Vec<u8>, sink: &mut Sink) -> io::Result<()> {
    FileHeader {
        magic: SNAP_MAGIC,
        version: 2,
        dbid: -1,
    }
    .encode(out);
    encode_database(snap, out, sink)?;
    seal(out, sink)?;
    out.put_i64(snap.zxid);
    out.put_i32(DIGEST_VERSION);
    out.put_i64(snap.digest as i64);
    seal(out, sink)
}

/// The database as Apache's `SerializeUtils.serializeSnapshot` writes it: sessions, the ACL
/// cache, the nodes and the `"/"` that ends them. The same bytes go into a snapshot file (between
/// the header and the seals) and onto the quorum socket after a SNAP packet.
fn encode_database(snap: &SnapshotData, out: &mut Vec<u8>, sink: &mut Sink) -> io::Result<()> {
    out.put_i32(snap.sessions.len() as i32);
    for (id, to) in &snap.sessions {
        out.put_i64(*id);
        out.put_i32(*to);
    }
    // ACL lists are stored once, nodes refer to them by index (Apache's ACL cache). Nodes
    // share interned lists, so a list is found by its address first and by content only the
    // first time an address is seen.
    let mut by_ptr: FixedMap<*const Acl, i64> = FixedMap::default();
    let mut by_content: BTreeMap<&[Acl], i64> = BTreeMap::new();
    for (_, n) in snap.nodes.iter() {
        let ptr = n.acl.as_ptr();
        if by_ptr.contains_key(&ptr) {
            continue;
        }
        let next = by_content.len() as i64 + 1;
        let idx = *by_content.entry(&n.acl[..]).or_insert(next);
        by_ptr.insert(ptr, idx);
    }
    let mut order: Vec<(&[Acl], i64)> = by_content.into_iter().collect();
    order.sort_by_key(|(_, i)| *i);
    out.put_i32(order.len() as i32);
    for (acl, i) in &order {
        out.put_i64(*i);
        out.put_i32(acl.len() as i32);
        for a in acl.iter() {
            a.encode(out);
        }
    }
    let mut stack: Vec<&Arc<str>> = Vec::with_capacity(64);
    let root = snap.nodes.get_key_value("/");
    if let Some((k, _)) = root {
        stack.push(k);
    }
    while let Some(p) = stack.pop() {
        let Some(n) = snap.nodes.get(&**p) else {
            continue;
        };
        put_str(out, if &**p == "/" { "" } else { p });
        n.data.encode(out);
        out.put_i64(by_ptr[&n.acl.as_ptr()]);
        n.stat.encode(out);
        stack.extend(n.children.paths().rev());
        if out.len() >= FLUSH_AT {
            sink(out, false)?;
        }
    }
    put_str(out, "/");
    Ok(())
}

/// A jute `ustring` from a `&str` (no intermediate `String`).
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.put_i32(s.len() as i32);
    out.extend_from_slice(s.as_bytes());
}

fn seal(out: &mut Vec<u8>, sink: &mut Sink) -> io::Result<()> {
    let sum = sink(out, true)?.expect("a sink answers a seal with the checksum");
    out.put_i64(sum as i64);
    put_str(out, "/");
    Ok(())
}

/// Why a snapshot is unusable.
#[derive(Debug, Clone)]
pub struct BadSnapshot(pub String);

/// Parses a snapshot, checking its seals. Returns the nodes, sessions and (if present) the
/// digest it recorded.
pub fn decode(
    bytes: &[u8],
) -> Result<(NodeMap, BTreeMap<i64, i32>, Option<(i64, u64)>), BadSnapshot> {
    decode_from(&mut &bytes[..])
}

/// The bytes of a snapshot file's header (magic, version, dbid).
const FILE_HEADER_LEN: u64 = 16;

/// Reads a snapshot file a chunk at a time, as [`decode`] does a whole one: the file is never
/// in memory whole (a million znodes make ~200 MB of file), and its checksum is computed as
/// the chunks pass. A read error is reported as a bad snapshot naming the byte it reached.
#[allow(clippy::type_complexity)]
pub fn decode_from(
    r: &mut dyn io::Read,
) -> Result<(NodeMap, BTreeMap<i64, i32>, Option<(i64, u64)>), BadSnapshot> {
    let mut head = [0u8; FILE_HEADER_LEN as usize];
    r.read_exact(&mut head)
        .map_err(|e| BadSnapshot(format!("header: {e}")))?;
    let head_rec = FileHeader::decode(&mut Reader::new(&head))
        .map_err(|e| BadSnapshot(format!("header: {e}")))?;
    if head_rec.magic != SNAP_MAGIC {
        return Err(BadSnapshot(format!(
            "bad magic {:#x}, expected ZKSN",
            head_rec.magic
        )));
    }
    let mut adler = adler2::Adler32::new();
    adler.write_slice(&head);
    let mut dec = StreamDecoder::for_file(usize::MAX >> 1);
    let mut chunk = vec![0u8; 1 << 20];
    let mut read = FILE_HEADER_LEN;
    let (snap, mut tail) = loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => {
                return Err(BadSnapshot(format!(
                    "file ends at byte {read} inside the database (incomplete or damaged file)"
                )))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BadSnapshot(format!("read error at byte {read}: {e}"))),
        };
        read += n as u64;
        if let Some((snap, rest)) = dec.feed(&chunk[..n])? {
            adler.write_slice(&chunk[..n - rest]);
            break (snap, chunk[n - rest..n].to_vec());
        }
        adler.write_slice(&chunk[..n]);
    };
    drop(chunk);
    // What follows the database is small: seal, digest, seal.
    r.read_to_end(&mut tail)
        .map_err(|e| BadSnapshot(format!("read error in the seal: {e}")))?;
    let bad = |what: &str, e: String| BadSnapshot(format!("{what}: {e}"));
    let mut t = Reader::new(&tail);
    let sum = t.i64().map_err(|e| bad("seal", e.to_string()))?;
    if adler.checksum() as i64 != sum {
        return Err(BadSnapshot(
            "checksum does not match (incomplete or damaged file)".into(),
        ));
    }
    let marker = String::decode(&mut t).map_err(|e| bad("seal", e.to_string()))?;
    if marker != "/" {
        return Err(BadSnapshot("seal marker missing".into()));
    }
    let digest = if t.remaining() >= 20 + 8 {
        let zxid = t.i64().map_err(|e| bad("digest", e.to_string()))?;
        let _version = t.i32().map_err(|e| bad("digest", e.to_string()))?;
        let d = t.i64().map_err(|e| bad("digest", e.to_string()))?;
        Some((zxid, d as u64))
    } else {
        None
    };
    Ok((snap.nodes, snap.sessions, digest))
}

/// Adds a node read from a snapshot (file or stream) under its parent; returns its digest
/// contribution when `digest` is asked for (0 otherwise).
fn add_node(
    nodes: &mut NodeMap,
    acls: &BTreeMap<i64, AclList>,
    p: String,
    data: Option<Vec<u8>>,
    acl_ref: i64,
    stat: StatPersisted,
    digest: bool,
) -> Result<u64, BadSnapshot> {
    let acl = match acl_ref {
        -1 => Acl::open_unsafe().into(),
        i => acls
            .get(&i)
            .cloned()
            .ok_or_else(|| BadSnapshot(format!("node {p} refers to unknown ACL index {i}")))?,
    };
    let key: Arc<str> = if p.is_empty() { "/".into() } else { p.into() };
    if &*key != "/" {
        let parent = path::parent(&key)
            .ok_or_else(|| BadSnapshot(format!("node {key} has no parent path")))?;
        let Some(pn) = nodes.get_mut(parent) else {
            return Err(BadSnapshot(format!("node {key} comes before its parent")));
        };
        Arc::make_mut(pn).children.insert(key.clone());
    }
    let node = Node::new(data, acl, stat);
    if !digest {
        nodes.insert(key, Arc::new(node));
        return Ok(0);
    }
    let d = node_digest(&key, &node);
    // A repeated path replaces the node; keep the digest a sum over the nodes that remain.
    let before = nodes.insert(key.clone(), Arc::new(node));
    Ok(match before {
        Some(old) => d.wrapping_sub(node_digest(&key, &old)),
        None => d,
    })
}

/// Writes a snapshot file durably (write, fsync, fsync the directory). On failure (a full
/// disk) the partial file is removed, so it neither fills the disk further nor gets in the way
/// of recovery and purging.
pub fn write(disk: &dyn Disk, dir: &Path, snap: &SnapshotData) -> io::Result<PathBuf> {
    let path = dir.join(format!("snapshot.{:x}", snap.zxid));
    // Encoded and written a megabyte at a time: a million znodes would otherwise be ~200 MB
    // of buffer on top of the tree while the snapshot is taken.
    let written = disk.create(&path).and_then(|mut f| {
        let mut out = Vec::with_capacity(FLUSH_AT + (64 << 10));
        let mut adler = adler2::Adler32::new();
        let mut unsynced = 0;
        encode_file(snap, &mut out, &mut |buf: &mut Vec<u8>, seal| {
            adler.write_slice(buf);
            f.write_all(buf)?;
            // Synced as it goes: one fsync of a whole big snapshot at the end would put
            // hundreds of megabytes of writeback in front of the transaction log's next
            // fdatasync (one journal on ext4), a stall every client write would wait out.
            unsynced += buf.len();
            if unsynced >= SYNC_EVERY {
                f.sync()?;
                unsynced = 0;
            }
            buf.clear();
            Ok(seal.then(|| adler.checksum()))
        })?;
        f.write_all(&out)?;
        f.sync()
    });
    if let Err(e) = written {
        let _ = disk.remove(&path);
        return Err(e);
    }
    disk.sync_dir(dir)?;
    Ok(path)
}

/// Bytes a complete snapshot ends with: the final seal's `ustring "/"` (int 1, '/').
const SEAL_TAIL: [u8; 5] = [0, 0, 0, 1, b'/'];

/// True if the file ends with the seal, the check Apache's `SnapStream.isValidSnapshot` makes
/// before trusting a snapshot (it reads only the tail, so purging stays cheap for big files).
pub fn is_complete(disk: &dyn Disk, path: &Path) -> io::Result<bool> {
    let tail = disk.read_tail(path, 10)?;
    Ok(tail.len() >= 10 && tail[5..] == SEAL_TAIL)
}

/// Snapshot files in `dir`, newest first (compressed ones are not read; a warning is logged).
pub fn list(disk: &dyn Disk, dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let names = match disk.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for n in names {
        if n.ends_with(".gz") || n.ends_with(".snappy") {
            tracing::warn!(file = %dir.join(&n).display(), "compressed snapshots are not supported; ignoring this file");
            continue;
        }
        if let Some(z) = super::txnlog::parse_name(&n, "snapshot") {
            out.push((z, dir.join(n)));
        }
    }
    out.sort_by(|a, b| b.cmp(a));
    Ok(out)
}

/// Takes what a snapshot needs from a tree.
pub fn capture(tree: &DataTree, sessions: BTreeMap<i64, i32>) -> SnapshotData {
    SnapshotData {
        zxid: tree.last_zxid(),
        nodes: tree.nodes_snapshot(),
        sessions,
        digest: tree.digest(),
    }
}

/// The string Apache's leader writes after the database it streams behind a SNAP packet
/// (`LearnerHandler`), which the learner checks (`Learner.syncWithLeader`).
pub const SNAP_SIGNATURE: &str = "BenWasHere";

/// The bytes a leader writes on the quorum socket right after a SNAP packet, as Apache 3.8's
/// `LearnerHandler` does: `SerializeUtils.serializeSnapshot` (sessions, ACL cache, nodes, `"/"`)
/// then `ustring "BenWasHere"`. No file header, no checksum and no digest: the learner takes
/// the zxid from the SNAP packet.
pub fn encode_stream(snap: &SnapshotData) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    encode_database(snap, &mut out, &mut |_: &mut Vec<u8>, _| Ok(None))
        .expect("writing to memory cannot fail");
    SNAP_SIGNATURE.to_string().encode(&mut out);
    out
}

/// Reads the database a leader streams behind a SNAP packet ([`encode_stream`]'s format) as
/// the bytes arrive, one record (session, ACL list entry, node) at a time: the work is linear
/// in the stream's length however it is cut, and only an incomplete record is buffered.
///
/// The [`SnapshotData`] it returns has `zxid` 0 (the SNAP packet carries it: set it from there)
/// and `digest` computed from the nodes received (what [`DataTree::from_nodes`] would compute).
pub struct StreamDecoder {
    max_record: usize,
    /// Reading a snapshot file's database: it ends at the `"/"` after the nodes (no
    /// signature), and the digest is left to `DataTree::from_nodes`.
    file: bool,
    stage: Stage,
    /// An incomplete record, waiting for `need` bytes in all.
    buf: Vec<u8>,
    need: usize,
    /// Stream bytes consumed (complete records), for error messages.
    consumed: u64,
    sessions: BTreeMap<i64, i32>,
    acls: BTreeMap<i64, AclList>,
    nodes: NodeMap,
    digest: u64,
}

/// Where the decoder is in the stream.
enum Stage {
    SessionCount,
    Sessions {
        left: u32,
    },
    AclCount,
    /// Reading the next ACL map entry's index and list length.
    AclEntry {
        left: u32,
    },
    /// Reading the ACLs of the entry `idx`.
    AclItems {
        left: u32,
        idx: i64,
        items: u32,
        list: Vec<Acl>,
    },
    Nodes,
    Signature,
    Done,
    Failed(String),
}

/// Why one record could not be parsed (yet).
enum Halt {
    /// Complete only with this many bytes from the record's start.
    Need(usize),
    Bad(String),
}

/// A cursor over one record's bytes.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
    max: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Halt> {
        if self.b.len() - self.pos < n {
            return Err(Halt::Need(self.pos + n));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn i32(&mut self) -> Result<i32, Halt> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64, Halt> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    /// A length or count: -1 is null (`None`), other negatives and anything above the bound
    /// are errors.
    fn len(&mut self, what: &str) -> Result<Option<usize>, Halt> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(Halt::Bad(format!("{what} has negative length {n}"))),
            n if n as usize > self.max => Err(Halt::Bad(format!(
                "{what} has length {n}, above the limit of {} (jute.maxbuffer)",
                self.max
            ))),
            n => Ok(Some(n as usize)),
        }
    }
    /// A count of records that follow (Apache reads a negative one as 0). Bounded like a
    /// length, so that a stream out of step is refused at once instead of read for ever.
    fn count(&mut self, what: &str) -> Result<u32, Halt> {
        match self.i32()? {
            n if n as i64 > self.max as i64 => Err(Halt::Bad(format!(
                "{what} {n} is above the limit of {} (jute.maxbuffer)",
                self.max
            ))),
            n => Ok(n.max(0) as u32),
        }
    }
    fn buffer(&mut self, what: &str) -> Result<Option<Vec<u8>>, Halt> {
        match self.len(what)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }
    /// A `ustring`; null reads as "" (as everywhere in this codebase's jute).
    fn string(&mut self, what: &str) -> Result<String, Halt> {
        let bytes = self.buffer(what)?.unwrap_or_default();
        String::from_utf8(bytes).map_err(|_| Halt::Bad(format!("{what} is not valid UTF-8")))
    }
}

/// `StatPersisted` on the wire: 5 longs, 3 ints and a long.
const STAT_LEN: usize = 8 * 4 + 4 * 3 + 8 + 8;

impl StreamDecoder {
    /// `max_record`: the largest length any string, buffer or list in the stream may declare,
    /// and the largest session count and ACL map size (Apache's `jute.maxbuffer`, 1 MiB less
    /// 1 by default, is the natural value).
    pub fn new(max_record: usize) -> Self {
        StreamDecoder {
            max_record,
            file: false,
            stage: Stage::SessionCount,
            buf: Vec::new(),
            need: 0,
            consumed: 0,
            sessions: BTreeMap::new(),
            acls: BTreeMap::new(),
            nodes: NodeMap::default(),
            digest: 0,
        }
    }

    /// A decoder for the database inside a snapshot file (from the byte after the file
    /// header): it completes at the `"/"` that ends the nodes, and `feed` then returns how
    /// many bytes of its last slice follow the database (the seal).
    fn for_file(max_record: usize) -> Self {
        StreamDecoder {
            file: true,
            ..Self::new(max_record)
        }
    }

    /// Takes the next bytes from the socket. `Ok(None)`: the database is not complete yet.
    /// `Ok(Some((snapshot, n)))`: the signature ended in this slice and its last `n` bytes are
    /// what follows the stream (the next quorum packets), not consumed. An `Err` is final: the
    /// stream is not a database (or exceeds `max_record`); every later call returns it again.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<(SnapshotData, usize)>, BadSnapshot> {
        match &self.stage {
            Stage::Failed(e) => return Err(BadSnapshot(e.clone())),
            Stage::Done => {
                return Err(BadSnapshot(
                    "snapshot stream: bytes fed after the signature".into(),
                ))
            }
            _ => {}
        }
        let mut rest = bytes;
        loop {
            if !self.buf.is_empty() {
                // Complete the buffered record first, copying no more than it needs.
                let take = (self.need - self.buf.len()).min(rest.len());
                self.buf.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if self.buf.len() < self.need {
                    return Ok(None);
                }
                let buf = std::mem::take(&mut self.buf);
                match self.step(&buf) {
                    Ok(used) => {
                        debug_assert_eq!(used, buf.len());
                        self.buf = buf;
                        self.buf.clear();
                    }
                    Err(Halt::Need(n)) => {
                        self.buf = buf;
                        self.need = n;
                        continue;
                    }
                    Err(Halt::Bad(e)) => return Err(self.fail(e)),
                }
            } else {
                match self.step(rest) {
                    Ok(used) => rest = &rest[used..],
                    Err(Halt::Need(n)) => {
                        self.buf.extend_from_slice(rest);
                        self.need = n;
                        return Ok(None);
                    }
                    Err(Halt::Bad(e)) => return Err(self.fail(e)),
                }
            }
            if matches!(self.stage, Stage::Done) {
                let snap = SnapshotData {
                    zxid: 0,
                    nodes: std::mem::take(&mut self.nodes),
                    sessions: std::mem::take(&mut self.sessions),
                    digest: self.digest,
                };
                self.buf = Vec::new();
                return Ok(Some((snap, rest.len())));
            }
        }
    }

    fn fail(&mut self, e: String) -> BadSnapshot {
        let msg = if self.file {
            format!("database at byte {}: {e}", self.consumed + FILE_HEADER_LEN)
        } else {
            format!(
                "snapshot stream from the leader is not a valid database at byte {}: {e}",
                self.consumed
            )
        };
        self.stage = Stage::Failed(msg.clone());
        self.buf = Vec::new();
        BadSnapshot(msg)
    }

    /// Parses one record at the start of `b` and advances; returns the bytes it used. On
    /// `Need` nothing changes.
    fn step(&mut self, b: &[u8]) -> Result<usize, Halt> {
        let mut c = Cur {
            b,
            pos: 0,
            max: self.max_record,
        };
        let next = match &mut self.stage {
            Stage::SessionCount => match c.count("session count")? {
                0 => Stage::AclCount,
                n => Stage::Sessions { left: n },
            },
            Stage::Sessions { left } => {
                let id = c.i64()?;
                let timeout = c.i32()?;
                self.sessions.insert(id, timeout);
                match *left - 1 {
                    0 => Stage::AclCount,
                    left => Stage::Sessions { left },
                }
            }
            Stage::AclCount => match c.count("ACL map size")? {
                0 => Stage::Nodes,
                n => Stage::AclEntry { left: n },
            },
            Stage::AclEntry { left } => {
                let idx = c.i64()?;
                let items = c
                    .len("ACL list")?
                    .ok_or_else(|| Halt::Bad(format!("ACL list {idx} is null")))?;
                if items == 0 {
                    self.acls.insert(idx, Vec::new().into());
                    match *left - 1 {
                        0 => Stage::Nodes,
                        left => Stage::AclEntry { left },
                    }
                } else {
                    Stage::AclItems {
                        left: *left,
                        idx,
                        items: items as u32,
                        list: Vec::new(),
                    }
                }
            }
            Stage::AclItems {
                left,
                idx,
                items,
                list,
            } => {
                let perms = c.i32()?;
                let scheme = c.string("ACL scheme")?;
                let id = c.string("ACL id")?;
                list.push(Acl {
                    perms,
                    id: zk_proto::data::Id { scheme, id },
                });
                *items -= 1;
                if *items > 0 {
                    self.consumed += c.pos as u64;
                    return Ok(c.pos);
                }
                self.acls.insert(*idx, std::mem::take(list).into());
                match *left - 1 {
                    0 => Stage::Nodes,
                    left => Stage::AclEntry { left },
                }
            }
            Stage::Nodes => {
                let p = c.string("node path")?;
                if p == "/" && self.file {
                    Stage::Done
                } else if p == "/" {
                    Stage::Signature
                } else {
                    let data = c.buffer("node data")?;
                    let acl_ref = c.i64()?;
                    let stat = c.take(STAT_LEN)?;
                    let stat = StatPersisted::decode(&mut Reader::new(stat))
                        .map_err(|e| Halt::Bad(format!("node {p}: {e}")))?;
                    let d = add_node(
                        &mut self.nodes,
                        &self.acls,
                        p,
                        data,
                        acl_ref,
                        stat,
                        !self.file,
                    )
                    .map_err(|e| Halt::Bad(e.0))?;
                    self.digest = self.digest.wrapping_add(d);
                    Stage::Nodes
                }
            }
            Stage::Signature => {
                let sig = c.string("signature")?;
                if sig != SNAP_SIGNATURE {
                    let shown: String = sig.chars().take(40).collect();
                    return Err(Halt::Bad(format!(
                        "missing signature after the nodes: expected {SNAP_SIGNATURE:?}, got {shown:?}"
                    )));
                }
                Stage::Done
            }
            Stage::Done | Stage::Failed(_) => unreachable!("feed returns before stepping"),
        };
        self.stage = next;
        self.consumed += c.pos as u64;
        Ok(c.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::txn::{CreateTxn, Txn, TxnHeader};

    /// The file `write` streams a megabyte at a time is byte for byte what `encode` builds in
    /// memory (checksums included), for a tree several flushes long, and it reads back.
    #[test]
    fn streamed_file_equals_encoded_bytes() {
        let mut t = DataTree::new();
        for i in 0..30_000i64 {
            let hdr = TxnHeader {
                client_id: 1,
                cxid: 0,
                zxid: i + 1,
                time: 10,
                txn_type: 1,
            };
            let p = if i < 10 {
                format!("/n{i}")
            } else {
                format!("/n{}/{i}", i % 10)
            };
            let txn = Txn::Create(CreateTxn {
                path: p,
                data: Some(vec![i as u8; 100]),
                acl: if i % 3 == 0 {
                    Acl::read_unsafe()
                } else {
                    Acl::open_unsafe()
                },
                ephemeral: false,
                parent_cversion: -1,
            });
            assert_eq!(t.apply(&hdr, &txn, &mut Vec::new()).err, 0);
        }
        let snap = capture(&t, BTreeMap::from([(7, 30_000)]));
        let dir = tempfile::tempdir().unwrap();
        let path = write(&super::super::disk::FsDisk, dir.path(), &snap).unwrap();
        let file = std::fs::read(&path).unwrap();
        assert!(file.len() > 3 * FLUSH_AT, "{} bytes", file.len());
        assert_eq!(file, encode(&snap));
        let (nodes, sessions, digest) = decode(&file).unwrap();
        assert_eq!(nodes.len(), t.node_count());
        assert_eq!(sessions, snap.sessions);
        assert_eq!(digest, Some((snap.zxid, snap.digest)));
        // Read a chunk at a time, a file cut short or damaged is refused, not half loaded.
        let half = decode(&file[..file.len() / 2]).map(|(n, _, d)| (n.len(), d));
        let e = half.expect_err("half a file").0;
        assert!(e.contains("ends at byte"), "{e}");
        let mut bad = file.clone();
        bad[file.len() / 2] ^= 0x01;
        assert!(decode(&bad).is_err());
        // Cut inside the first seal (the digest and the last seal are 33 bytes after it).
        let cut = decode(&file[..file.len() - 40]).map(|(n, _, d)| (n.len(), d));
        let e = cut.expect_err("cut in the seal").0;
        assert!(e.contains("seal"), "{e}");
    }

    #[test]
    fn round_trip_keeps_nodes_sessions_and_digest() {
        let mut t = DataTree::new();
        for (i, p) in ["/a", "/a/b", "/c"].iter().enumerate() {
            let hdr = TxnHeader {
                client_id: 5,
                cxid: 0,
                zxid: i as i64 + 1,
                time: 10,
                txn_type: 1,
            };
            let txn = Txn::Create(CreateTxn {
                path: p.to_string(),
                data: Some(vec![1, 2]),
                acl: Acl::read_unsafe(),
                ephemeral: *p == "/c",
                parent_cversion: -1,
            });
            t.apply(&hdr, &txn, &mut Vec::new());
        }
        let snap = capture(&t, BTreeMap::from([(5, 4000)]));
        let bytes = encode(&snap);
        let (nodes, sessions, digest) = decode(&bytes).unwrap();
        let back = DataTree::from_nodes(nodes, 3);
        assert_eq!(back.digest(), t.digest());
        assert_eq!(digest, Some((3, t.digest())));
        assert_eq!(sessions, BTreeMap::from([(5, 4000)]));
        assert_eq!(back.get("/a/b"), t.get("/a/b"));
        assert_eq!(back.ephemerals_of(5).map(|s| s.len()), Some(1));
        let mut damaged = bytes.clone();
        damaged[40] ^= 1;
        assert!(decode(&damaged).is_err());
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
    }

    fn sample_tree() -> (DataTree, BTreeMap<i64, i32>) {
        let mut t = DataTree::new();
        let digest_acl = vec![Acl {
            perms: 31,
            id: zk_proto::data::Id {
                scheme: "digest".into(),
                id: "u:x8Rb1jsgT0wG7H3ikG2q3TKvV5M=".into(),
            },
        }];
        let nodes: Vec<(&str, Option<Vec<u8>>, Vec<Acl>, bool)> = vec![
            ("/a", Some(vec![1, 2]), Acl::read_unsafe(), false),
            ("/a/b", None, Acl::open_unsafe(), false),
            ("/a/b/c", Some(vec![7; 3000]), digest_acl.clone(), false),
            ("/e", Some(Vec::new()), vec![], true),
            ("/ünïcode", Some(b"x".to_vec()), digest_acl, false),
        ];
        for (i, (p, data, acl, eph)) in nodes.into_iter().enumerate() {
            let hdr = TxnHeader {
                client_id: 5,
                cxid: 0,
                zxid: i as i64 + 1,
                time: 10,
                txn_type: 1,
            };
            let txn = Txn::Create(CreateTxn {
                path: p.to_string(),
                data,
                acl,
                ephemeral: eph,
                parent_cversion: -1,
            });
            t.apply(&hdr, &txn, &mut Vec::new());
        }
        (t, BTreeMap::from([(5, 4000), (-3, 30000)]))
    }

    fn assert_same(a: &SnapshotData, b: &SnapshotData) {
        assert_eq!(a.sessions, b.sessions);
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.nodes.len(), b.nodes.len());
        for (p, n) in a.nodes.iter() {
            assert_eq!(b.nodes.get(p), Some(n), "{p}");
        }
    }

    /// The stream is the file's database part: the file minus its header and seals.
    #[test]
    fn stream_is_the_file_body_plus_the_signature() {
        let (t, sessions) = sample_tree();
        let snap = capture(&t, sessions);
        let file = encode(&snap);
        let stream = encode_stream(&snap);
        let sig = b"\0\0\0\x0aBenWasHere";
        assert!(stream.ends_with(sig));
        let body = &stream[..stream.len() - sig.len()];
        assert_eq!(&file[16..16 + body.len()], body);
        // What follows the body in the file is the first seal: checksum and "/".
        assert_eq!(file.len(), 16 + body.len() + 13 + 20 + 13);
    }

    #[test]
    fn stream_decodes_however_it_is_cut() {
        use rand::{Rng, SeedableRng};
        let (t, sessions) = sample_tree();
        let snap = capture(&t, sessions);
        let mut bytes = encode_stream(&snap);
        let stream_len = bytes.len();
        let after = b"\0\0\0\x08next packet and more";
        bytes.extend_from_slice(after);
        // In one piece, byte by byte, then in random pieces.
        let mut cuts: Vec<Vec<usize>> = vec![vec![bytes.len()], vec![1; bytes.len()]];
        for seed in 0..300u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let max = [2, 7, 64, 1000, 5000][seed as usize % 5];
            let mut sizes = Vec::new();
            let mut left = bytes.len();
            while left > 0 {
                // Empty slices too: a decoder must not mind them.
                let n = rng.gen_range(0..=max).min(left);
                sizes.push(n);
                left -= n;
            }
            cuts.push(sizes);
        }
        for sizes in cuts {
            let mut d = StreamDecoder::new(1 << 20);
            let mut pos = 0;
            let mut got = None;
            for n in sizes {
                let slice = &bytes[pos..pos + n];
                pos += n;
                if let Some((s, left)) = d.feed(slice).unwrap() {
                    got = Some((s, pos - left));
                    break;
                }
            }
            let (s, end) = got.expect("complete");
            assert_eq!(end, stream_len);
            assert_eq!(s.zxid, 0);
            assert_same(&snap, &s);
            // The digest is the tree's, so a follower can compare it with the leader's.
            assert_eq!(DataTree::from_nodes(s.nodes, 5).digest(), t.digest());
            assert!(d.feed(b"x").is_err());
        }
    }

    #[test]
    fn truncated_stream_waits_for_more() {
        let (t, sessions) = sample_tree();
        let bytes = encode_stream(&capture(&t, sessions));
        for cut in [0, 1, 3, 4, 17, bytes.len() / 2, bytes.len() - 1] {
            let mut d = StreamDecoder::new(1 << 20);
            assert!(d.feed(&bytes[..cut]).unwrap().is_none(), "cut {cut}");
            assert!(d.feed(&[]).unwrap().is_none());
            let (_, left) = d.feed(&bytes[cut..]).unwrap().expect("complete");
            assert_eq!(left, 0);
        }
    }

    #[test]
    fn garbage_and_oversized_records_are_clear_errors() {
        let (t, sessions) = sample_tree();
        let good = encode_stream(&capture(&t, sessions));
        let err = |bytes: &[u8], max: usize| {
            let mut d = StreamDecoder::new(max);
            let e = match d.feed(bytes) {
                Err(e) => e.0,
                Ok(r) => panic!("accepted: {:?}", r.map(|r| r.1)),
            };
            // Sticky.
            assert_eq!(d.feed(b"more").unwrap_err().0, e);
            e
        };
        // A wrong signature.
        let mut bad_sig = good.clone();
        let n = bad_sig.len();
        bad_sig[n - 1] = b'X';
        let e = err(&bad_sig, 1 << 20);
        assert!(e.contains("signature") && e.contains("BenWasHere"), "{e}");
        // A data length above the bound: refused before the bytes arrive.
        let e = err(&good[..good.len() / 2], 100);
        assert!(e.contains("above the limit of 100"), "{e}");
        // Text where the database should be: "GET " is a session count of 1195725856.
        let e = err(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1 << 20);
        assert!(
            e.contains(
                "not a valid database at byte 0: session count 1195725856 is above the limit"
            ),
            "{e}"
        );
        // A node before its parent.
        let mut orphan = Vec::new();
        orphan.put_i32(0);
        orphan.put_i32(0);
        "/x/y".to_string().encode(&mut orphan);
        orphan.put_buffer(None);
        orphan.put_i64(-1);
        StatPersisted::default().encode(&mut orphan);
        let e = err(&orphan, 1 << 20);
        assert!(e.contains("/x/y comes before its parent"), "{e}");
        // A negative ACL list length.
        let mut acl = Vec::new();
        acl.put_i32(0);
        acl.put_i32(1);
        acl.put_i64(1);
        acl.put_i32(-5);
        let e = err(&acl, 1 << 20);
        assert!(e.contains("negative length -5"), "{e}");
    }

    /// Large records fed a byte at a time: each is buffered once, not re-parsed per byte (a
    /// quadratic decoder would take minutes here).
    #[test]
    fn large_records_byte_by_byte_are_linear() {
        let mut nodes = NodeMap::default();
        let big_acl: Vec<Acl> = (0..20_000)
            .map(|i| Acl {
                perms: 1,
                id: zk_proto::data::Id {
                    scheme: "ip".into(),
                    id: format!("10.0.{}.{}", i / 256, i % 256),
                },
            })
            .collect();
        nodes.insert(
            "/".into(),
            Arc::new(Node::new(
                Some(vec![9; 1_000_000]),
                big_acl.into(),
                StatPersisted::default(),
            )),
        );
        let snap = SnapshotData {
            zxid: 0,
            digest: node_digest("/", &nodes["/"]),
            nodes,
            sessions: (0..50_000).map(|i| (i, 30_000)).collect(),
        };
        let bytes = encode_stream(&snap);
        assert!(bytes.len() > 1_900_000);
        let mut d = StreamDecoder::new(1 << 20);
        let t0 = std::time::Instant::now();
        let mut got = None;
        for (i, b) in bytes.iter().enumerate() {
            if let Some(r) = d.feed(std::slice::from_ref(b)).unwrap() {
                assert_eq!(i + 1, bytes.len());
                got = Some(r);
            }
        }
        let (back, left) = got.expect("complete");
        assert_eq!(left, 0);
        assert_same(&snap, &back);
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            t0.elapsed()
        );
    }
}
