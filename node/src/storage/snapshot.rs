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

use zk_proto::data::{Acl, StatPersisted};
use zk_proto::jute::{decode_vec, encode_vec, Writer};
use zk_proto::txn::FileHeader;
use zk_proto::{Jute, Reader};

use super::disk::Disk;
use crate::tree::{digest::DIGEST_VERSION, path, DataTree, Node, NodeMap};

pub const SNAP_MAGIC: i32 = 0x5a4b_534e; // "ZKSN"

/// What a snapshot holds.
pub struct SnapshotData {
    pub zxid: i64,
    pub nodes: NodeMap,
    pub sessions: BTreeMap<i64, i32>,
    pub digest: u64,
}

/// Serializes a snapshot to bytes.
pub fn encode(snap: &SnapshotData) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    FileHeader {
        magic: SNAP_MAGIC,
        version: 2,
        dbid: -1,
    }
    .encode(&mut out);
    out.put_i32(snap.sessions.len() as i32);
    for (id, to) in &snap.sessions {
        out.put_i64(*id);
        out.put_i32(*to);
    }
    // ACL lists are stored once, nodes refer to them by index (Apache's ACL cache).
    let mut acl_index: BTreeMap<&Vec<Acl>, i64> = BTreeMap::new();
    let mut order: Vec<&Vec<Acl>> = Vec::new();
    for (_, n) in snap.nodes.iter() {
        if !acl_index.contains_key(&n.acl) {
            acl_index.insert(&n.acl, order.len() as i64 + 1);
            order.push(&n.acl);
        }
    }
    out.put_i32(order.len() as i32);
    for (i, acl) in order.iter().enumerate() {
        out.put_i64(i as i64 + 1);
        encode_vec(acl, &mut out);
    }
    let mut stack: Vec<String> = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let Some(n) = snap.nodes.get(&p) else {
            continue;
        };
        let shown = if p == "/" { "" } else { p.as_str() };
        shown.to_string().encode(&mut out);
        n.data.encode(&mut out);
        out.put_i64(acl_index[&n.acl]);
        n.stat.encode(&mut out);
        for c in n.children.iter().rev() {
            stack.push(path::join(&p, c));
        }
    }
    "/".to_string().encode(&mut out);
    seal(&mut out);
    out.put_i64(snap.zxid);
    out.put_i32(DIGEST_VERSION);
    out.put_i64(snap.digest as i64);
    seal(&mut out);
    out
}

fn seal(out: &mut Vec<u8>) {
    let sum = adler2::adler32_slice(out);
    out.put_i64(sum as i64);
    "/".to_string().encode(out);
}

/// Why a snapshot is unusable.
#[derive(Debug, Clone)]
pub struct BadSnapshot(pub String);

/// Parses a snapshot, checking its seals. Returns the nodes, sessions and (if present) the
/// digest it recorded.
pub fn decode(
    bytes: &[u8],
) -> Result<(NodeMap, BTreeMap<i64, i32>, Option<(i64, u64)>), BadSnapshot> {
    let bad = |what: &str, e: String| BadSnapshot(format!("{what}: {e}"));
    let mut r = Reader::new(bytes);
    let head = FileHeader::decode(&mut r).map_err(|e| bad("header", e.to_string()))?;
    if head.magic != SNAP_MAGIC {
        return Err(BadSnapshot(format!(
            "bad magic {:#x}, expected ZKSN",
            head.magic
        )));
    }
    let n_sessions = r.i32().map_err(|e| bad("session count", e.to_string()))?;
    let mut sessions = BTreeMap::new();
    for _ in 0..n_sessions.max(0) {
        let id = r.i64().map_err(|e| bad("session", e.to_string()))?;
        let to = r.i32().map_err(|e| bad("session", e.to_string()))?;
        sessions.insert(id, to);
    }
    let n_acls = r.i32().map_err(|e| bad("acl map", e.to_string()))?;
    let mut acls: BTreeMap<i64, Vec<Acl>> = BTreeMap::new();
    for _ in 0..n_acls.max(0) {
        let idx = r.i64().map_err(|e| bad("acl map", e.to_string()))?;
        let list: Vec<Acl> = decode_vec(&mut r).map_err(|e| bad("acl map", e.to_string()))?;
        acls.insert(idx, list);
    }
    let mut nodes = NodeMap::default();
    loop {
        let p = String::decode(&mut r).map_err(|e| bad("node path", e.to_string()))?;
        if p == "/" {
            break;
        }
        let data = Option::<Vec<u8>>::decode(&mut r).map_err(|e| bad(&p, e.to_string()))?;
        let acl_ref = r.i64().map_err(|e| bad(&p, e.to_string()))?;
        let stat = StatPersisted::decode(&mut r).map_err(|e| bad(&p, e.to_string()))?;
        let acl = match acl_ref {
            -1 => Acl::open_unsafe(),
            i => acls
                .get(&i)
                .cloned()
                .ok_or_else(|| BadSnapshot(format!("node {p} refers to unknown ACL index {i}")))?,
        };
        let key = if p.is_empty() { "/".to_string() } else { p };
        if key != "/" {
            let parent = path::parent(&key)
                .ok_or_else(|| BadSnapshot(format!("node {key} has no parent path")))?;
            let Some(pn) = nodes.get_mut(parent) else {
                return Err(BadSnapshot(format!("node {key} comes before its parent")));
            };
            pn.children.insert(path::name(&key).to_string());
        }
        nodes.insert(
            key,
            Node {
                data,
                acl,
                stat,
                children: Default::default(),
            },
        );
    }
    let sealed_len = r.position();
    let sum = r.i64().map_err(|e| bad("seal", e.to_string()))?;
    if adler2::adler32_slice(&bytes[..sealed_len]) as i64 != sum {
        return Err(BadSnapshot(
            "checksum does not match (incomplete or damaged file)".into(),
        ));
    }
    let marker = String::decode(&mut r).map_err(|e| bad("seal", e.to_string()))?;
    if marker != "/" {
        return Err(BadSnapshot("seal marker missing".into()));
    }
    let digest = if r.remaining() >= 20 + 8 {
        let zxid = r.i64().map_err(|e| bad("digest", e.to_string()))?;
        let _version = r.i32().map_err(|e| bad("digest", e.to_string()))?;
        let d = r.i64().map_err(|e| bad("digest", e.to_string()))?;
        Some((zxid, d as u64))
    } else {
        None
    };
    Ok((nodes, sessions, digest))
}

/// Writes a snapshot file durably (write, fsync, fsync the directory). On failure (a full
/// disk) the partial file is removed, so it neither fills the disk further nor gets in the way
/// of recovery and purging.
pub fn write(disk: &dyn Disk, dir: &Path, snap: &SnapshotData) -> io::Result<PathBuf> {
    let bytes = encode(snap);
    let path = dir.join(format!("snapshot.{:x}", snap.zxid));
    let written = disk.create(&path).and_then(|mut f| {
        f.write_all(&bytes)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::txn::{CreateTxn, Txn, TxnHeader};

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
}
