//! The DataTree: znodes, their `Stat`, ACLs, the ephemeral/container/TTL bookkeeping, and the
//! watch index. It applies committed transactions, deterministically: no clock, no RNG, no I/O.
//! Time comes in the transaction header; the caller decides when a transaction is committed.

pub mod acl;
pub mod digest;
pub mod java;
pub mod path;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use zk_proto::ops::{event_type, keeper_state};
use zk_proto::proto::WatcherEvent;
use zk_proto::txn::{Txn, TxnHeader};
use zk_proto::{Acl, ErrorCode, Stat, StatPersisted};

pub use watch::{ConnId, Mode, WatchManager};

/// A fixed (unseeded) hasher, so iteration order is the same on every run and every server.
/// Paths come from clients, but a HAMT degrades gracefully under collisions (deeper levels,
/// then a collision node), so a keyed hash buys nothing worth its cost here.
pub type FixedHasher = BuildHasherDefault<rustc_hash::FxHasher>;

/// A std map with the fixed hasher.
pub type FixedMap<K, V> = HashMap<K, V, FixedHasher>;

/// The node map: a persistent (structurally shared) B-tree, so a snapshot is an O(1) clone
/// taken on the core task and written on another thread while writes go on.
///
/// Keys and nodes are behind `Arc`s so that an entry is 24 bytes: copying a B-tree leaf (the
/// first write to it after a snapshot clone) copies pointers, not nodes, and the key is
/// shared with the parent's [`Children`], so a path is stored once. A B-tree rather than a
/// hash trie: the trie's fixed-width chunks, mostly empty at the leaves, cost more than a
/// znode's data (measured with `examples/tree_memory.rs`: 497 against 399 bytes per znode).
/// Its ordered iteration also makes snapshot loading and from_nodes sequential.
pub type NodeMap = imbl::GenericOrdMap<Arc<str>, Arc<Node>, imbl::shared_ptr::DefaultSharedPtr>;

/// An ACL list as nodes hold it: shared by every node with the same list (Apache's ACL cache
/// does the same with reference-counted longs), so a million nodes with the open ACL hold one.
pub type AclList = Arc<[Acl]>;

/// The stored owner of a container node.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// TTL nodes store `0xFF << 56 | ttl_ms` as their owner.
const TTL_TAG: i64 = 0xFFu8 as i64;
/// The largest TTL Apache accepts (40 bits of milliseconds).
pub const TTL_MAX_MS: i64 = (1 << 40) - 1;

/// What kind of node an owner value describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

pub fn kind_of(owner: i64) -> NodeKind {
    if owner == 0 {
        NodeKind::Persistent
    } else if owner == CONTAINER_OWNER {
        NodeKind::Container
    } else if (owner >> 56) & 0xff == TTL_TAG {
        NodeKind::Ttl(owner & TTL_MAX_MS)
    } else {
        NodeKind::Ephemeral(owner)
    }
}

pub fn ttl_owner(ttl_ms: i64) -> i64 {
    (TTL_TAG << 56) | (ttl_ms & TTL_MAX_MS)
}

/// One znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `None` for a node created with a null buffer (getData answers length -1).
    pub data: Option<Vec<u8>>,
    pub acl: AclList,
    pub stat: StatPersisted,
    pub children: Children,
}

/// A node's children, held as their full paths (the same `Arc`s the node map's keys are), in
/// name order: every child path is the parent's path, `/`, and the name, so ordering by path
/// is ordering by name. Boxed, because most nodes are leaves: an empty set is one null
/// pointer, which keeps a [`Node`] (with its `Arc` counts) at 128 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::box_collection)] // on purpose: 8 bytes in every node instead of 24
pub struct Children(Option<Box<BTreeSet<Arc<str>>>>);

impl Children {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Child names in order (what getChildren answers).
    pub fn names(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.paths().map(|p| path::name(p))
    }

    /// Child paths in name order.
    pub fn paths(&self) -> impl DoubleEndedIterator<Item = &Arc<str>> + '_ {
        self.0.iter().flat_map(|s| s.iter())
    }

    /// True if the child with this full path exists.
    pub fn contains_path(&self, child_path: &str) -> bool {
        self.0.as_ref().is_some_and(|s| s.contains(child_path))
    }

    pub(crate) fn insert(&mut self, child_path: Arc<str>) {
        self.0
            .get_or_insert_with(Default::default)
            .insert(child_path);
    }

    pub(crate) fn remove(&mut self, child_path: &str) {
        if let Some(s) = self.0.as_mut() {
            s.remove(child_path);
            if s.is_empty() {
                self.0 = None;
            }
        }
    }
}

// A node, with the two counts of its `Arc`, fills a 128-byte allocation exactly.
const _: () = assert!(std::mem::size_of::<Node>() == 112);

impl Node {
    pub fn new(data: Option<Vec<u8>>, acl: AclList, stat: StatPersisted) -> Node {
        Node {
            data,
            acl,
            stat,
            children: Children::default(),
        }
    }

    /// The client-visible Stat: `cversion` is `2 × stored − numChildren` (so it moves on child
    /// deletes too), and containers and TTL nodes show owner 0.
    pub fn client_stat(&self) -> Stat {
        let s = &self.stat;
        let n = self.children.len() as i32;
        let owner = match kind_of(s.ephemeral_owner) {
            NodeKind::Container | NodeKind::Ttl(_) => 0,
            _ => s.ephemeral_owner,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: s.pzxid,
        }
    }
}

/// The outcome of applying one transaction (one sub-transaction of a multi has its own).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnResult {
    /// The opcode the result reports as (the txn type, or -1 for an error).
    pub txn_type: i32,
    pub err: i32,
    pub path: String,
    pub stat: Option<Stat>,
    pub multi: Vec<TxnResult>,
}

/// A watch notification for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub conn: ConnId,
    pub event: WatcherEvent,
}

/// The tree of znodes.
#[derive(Debug)]
pub struct DataTree {
    nodes: NodeMap,
    /// Sum of the node digests (Apache's AdHash of CRC32s), kept up to date on every change.
    digest: u64,
    /// session id → paths of its ephemerals.
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    pub watches: WatchManager,
    last_zxid: i64,
    /// Sum of path lengths and data lengths, as Apache's `approximateDataSize`.
    data_size: u64,
    /// Every distinct ACL list in use, shared by the nodes that carry it.
    acls: AclCache,
}

/// Interns ACL lists. Lists no node uses any more are dropped when the cache has doubled since
/// it was last pruned, so a workload of ever-new ACLs cannot grow it without bound.
#[derive(Debug, Default)]
pub struct AclCache {
    lists: HashSet<AclList, FixedHasher>,
    prune_at: usize,
}

impl AclCache {
    /// The shared list equal to `acl`.
    pub fn intern(&mut self, acl: &[Acl]) -> AclList {
        if let Some(a) = self.lists.get(acl) {
            return a.clone();
        }
        if self.lists.len() >= self.prune_at.max(64) {
            self.lists.retain(|a| Arc::strong_count(a) > 1);
            self.prune_at = self.lists.len() * 2;
        }
        let a: AclList = acl.into();
        self.lists.insert(a.clone());
        a
    }

    /// Interns a list that is already shared (a snapshot's ACL map).
    pub fn intern_shared(&mut self, acl: &AclList) -> AclList {
        if let Some(a) = self.lists.get(&acl[..]) {
            return a.clone();
        }
        self.lists.insert(acl.clone());
        acl.clone()
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// A fresh tree with `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, exactly
    /// as Apache creates them (zero stats; config is world-readable only, aversion -1).
    pub fn new() -> DataTree {
        let mut t = DataTree {
            nodes: NodeMap::default(),
            digest: 0,
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            watches: WatchManager::default(),
            last_zxid: 0,
            data_size: 0,
            acls: AclCache::default(),
        };
        let empty = || Some(Vec::new());
        let open = t.acls.intern(&Acl::open_unsafe());
        t.insert_raw(
            "/",
            Node::new(empty(), open.clone(), StatPersisted::default()),
        );
        for p in ["/zookeeper", "/zookeeper/quota"] {
            t.insert_raw(
                p,
                Node::new(empty(), open.clone(), StatPersisted::default()),
            );
        }
        let config_stat = StatPersisted {
            aversion: -1,
            ..Default::default()
        };
        let read = t.acls.intern(&Acl::read_unsafe());
        t.insert_raw("/zookeeper/config", Node::new(empty(), read, config_stat));
        t
    }

    /// Raises the last processed zxid without a transaction: a new leader starts its epoch at
    /// `epoch << 32` (Apache's `setlastProcessedZxid` at the end of `Leader.lead`'s start-up).
    pub fn raise_last_zxid(&mut self, zxid: i64) {
        self.last_zxid = self.last_zxid.max(zxid);
    }

    /// Writes the ensemble's membership into `/zookeeper/config`, outside any transaction, as
    /// every Apache member does at start (`ZKDatabase.initConfigInZKDatabase`): the
    /// `server.N=...` lines and `version=<hex>`, Stat version -1, mzxid the config version,
    /// mtime now.
    pub fn set_config_node(&mut self, data: Vec<u8>, config_version: i64, now_ms: i64) {
        let old_len = self
            .get("/zookeeper/config")
            .and_then(|n| n.data.as_ref())
            .map_or(0, |d| d.len());
        let new_len = data.len();
        self.update("/zookeeper/config", |n| {
            n.data = Some(data);
            n.stat.version = -1;
            n.stat.mzxid = config_version;
            n.stat.mtime = now_ms;
        });
        self.data_size = (self.data_size + new_len as u64).saturating_sub(old_len as u64);
    }

    fn insert_raw(&mut self, p: &str, node: Node) {
        let key: Arc<str> = p.into();
        if let Some(parent) = path::parent(p).and_then(|pp| self.nodes.get_mut(pp)) {
            Arc::make_mut(parent).children.insert(key.clone());
        }
        self.data_size += (p.len() + node.data.as_ref().map_or(0, |d| d.len())) as u64;
        self.digest = self.digest.wrapping_add(digest::node_digest(p, &node));
        self.nodes.insert(key, Arc::new(node));
    }

    /// Mutates one node, keeping the tree digest in step. `None` if the node does not exist.
    /// A node a snapshot still shares is copied first (its children set included: once per
    /// node per snapshot).
    fn update<R>(&mut self, p: &str, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        let node = Arc::make_mut(self.nodes.get_mut(p)?);
        let before = digest::node_digest(p, node);
        let r = f(node);
        let after = digest::node_digest(p, node);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        Some(r)
    }

    /// The tree digest (Apache's `zookeeper.digest`): comparable with Apache's TxnDigest and
    /// snapshot digest for the same tree.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// A structurally shared copy of every node, for a snapshot taken while writes go on.
    pub fn nodes_snapshot(&self) -> NodeMap {
        self.nodes.clone()
    }

    /// Rebuilds a tree from snapshot nodes: the indexes (ephemerals, containers, TTLs), the
    /// data size and the digest are recomputed from the nodes.
    pub fn from_nodes(nodes: NodeMap, last_zxid: i64) -> DataTree {
        let mut t = DataTree {
            nodes: NodeMap::default(),
            digest: 0,
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            watches: WatchManager::default(),
            last_zxid,
            data_size: 0,
            acls: AclCache::default(),
        };
        for (p, n) in nodes.iter() {
            t.index_node(p, n.stat.ephemeral_owner);
            t.data_size += (p.len() + n.data.as_ref().map_or(0, |d| d.len())) as u64;
            t.digest = t.digest.wrapping_add(digest::node_digest(p, n));
            t.acls.intern_shared(&n.acl);
        }
        t.nodes = nodes;
        t
    }

    fn index_node(&mut self, p: &str, owner: i64) {
        match kind_of(owner) {
            NodeKind::Container => {
                self.containers.insert(p.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(p.to_string());
            }
            NodeKind::Ephemeral(s) => {
                self.ephemerals.entry(s).or_default().insert(p.to_string());
            }
            NodeKind::Persistent => {}
        }
    }

    /// Looks a node up. `""` is the root too: Apache stores the root under both keys, so a
    /// read of `""` finds it (writes validate their paths and never get here with `""`).
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes
            .get(if path.is_empty() { "/" } else { path })
            .map(|n| &**n)
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    pub fn set_last_zxid(&mut self, zxid: i64) {
        self.last_zxid = zxid;
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    pub fn ephemerals_of(&self, session: i64) -> Option<&BTreeSet<String>> {
        self.ephemerals.get(&session)
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    pub fn ephemerals(&self) -> &BTreeMap<i64, BTreeSet<String>> {
        &self.ephemerals
    }

    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// Every descendant of `path` (not the node itself), as getAllChildrenNumber counts them.
    pub fn descendant_count(&self, path: &str) -> usize {
        let Some(node) = self.nodes.get(path) else {
            return 0;
        };
        node.children
            .paths()
            .map(|c| 1 + self.descendant_count(c))
            .sum()
    }

    /// Applies a committed transaction. Notifications for the watches it fires are appended to
    /// `out` in the order Apache sends them.
    pub fn apply(&mut self, hdr: &TxnHeader, txn: &Txn, out: &mut Vec<Notification>) -> TxnResult {
        let rc = self.apply_one(hdr, txn, out);
        if hdr.zxid > self.last_zxid {
            self.last_zxid = hdr.zxid;
        }
        rc
    }

    fn apply_one(&mut self, hdr: &TxnHeader, txn: &Txn, out: &mut Vec<Notification>) -> TxnResult {
        let mut rc = TxnResult {
            txn_type: txn.op().0,
            ..Default::default()
        };
        let zxid = hdr.zxid;
        let res: Result<(), ErrorCode> = match txn {
            Txn::Create(t) | Txn::Create2(t) => {
                let owner = if t.ephemeral { hdr.client_id } else { 0 };
                rc.path = t.path.clone();
                self.create_node(&t.path, &t.data, &t.acl, owner, t.parent_cversion, hdr, out)
                    .map(|s| rc.stat = Some(s))
            }
            Txn::CreateContainer(t) => {
                rc.path = t.path.clone();
                self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    CONTAINER_OWNER,
                    t.parent_cversion,
                    hdr,
                    out,
                )
                .map(|s| rc.stat = Some(s))
            }
            Txn::CreateTtl(t) => {
                rc.path = t.path.clone();
                self.create_node(
                    &t.path,
                    &t.data,
                    &t.acl,
                    ttl_owner(t.ttl),
                    t.parent_cversion,
                    hdr,
                    out,
                )
                .map(|s| rc.stat = Some(s))
            }
            Txn::Delete(t) | Txn::DeleteContainer(t) => {
                rc.path = t.path.clone();
                self.delete_node(&t.path, zxid, out)
            }
            Txn::SetData(t) => {
                rc.path = t.path.clone();
                self.set_data(&t.path, &t.data, t.version, zxid, hdr.time, out)
                    .map(|s| rc.stat = Some(s))
            }
            Txn::SetAcl(t) => {
                rc.path = t.path.clone();
                self.set_acl(&t.path, &t.acl, t.version)
                    .map(|s| rc.stat = Some(s))
            }
            Txn::Check(t) => {
                rc.path = t.path.clone();
                Ok(())
            }
            Txn::CreateSession(_) => Ok(()),
            Txn::CloseSession(t) => {
                self.kill_session(
                    hdr.client_id,
                    t.as_ref().map(|t| &t.paths_to_delete[..]),
                    zxid,
                    out,
                );
                Ok(())
            }
            Txn::Error(e) => Err(ErrorCode(e.err)),
            Txn::Multi(txns) => {
                rc.multi = self.apply_multi(hdr, txns, out);
                Ok(())
            }
        };
        if let Err(e) = res {
            rc.err = e.0;
            if !matches!(txn, Txn::Error(_)) {
                // A committed txn that cannot be applied means prep and apply disagree.
                tracing::warn!(zxid = %format!("{zxid:#x}"), err = %e, "transaction failed to apply");
            }
            rc.txn_type = -1;
        }
        rc
    }

    /// A multi either has no error sub-txn, and every sub-txn applies, or it has one, and then
    /// nothing applies: results are 0 before the failing op, its code, then -2.
    fn apply_multi(
        &mut self,
        hdr: &TxnHeader,
        txns: &[Txn],
        out: &mut Vec<Notification>,
    ) -> Vec<TxnResult> {
        let failed = txns.iter().any(|t| matches!(t, Txn::Error(_)));
        if !failed {
            return txns.iter().map(|t| self.apply_one(hdr, t, out)).collect();
        }
        let mut post_failed = false;
        txns.iter()
            .map(|t| {
                let err = match t {
                    Txn::Error(e) => {
                        post_failed = true;
                        e.err
                    }
                    _ if post_failed => ErrorCode::RUNTIME_INCONSISTENCY.0,
                    _ => 0,
                };
                TxnResult {
                    txn_type: -1,
                    err,
                    ..Default::default()
                }
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        p: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        hdr: &TxnHeader,
        out: &mut Vec<Notification>,
    ) -> Result<Stat, ErrorCode> {
        let parent_path = path::parent(p).ok_or(ErrorCode::NO_NODE)?;
        let zxid = hdr.zxid;
        match self.nodes.get(parent_path) {
            None => return Err(ErrorCode::NO_NODE),
            Some(parent) if parent.children.contains_path(p) => return Err(ErrorCode::NODE_EXISTS),
            Some(_) => {}
        }
        let key: Arc<str> = p.into();
        let child = key.clone();
        self.update(parent_path, |parent| {
            let cv = if parent_cversion == -1 {
                parent.stat.cversion + 1
            } else {
                parent_cversion
            };
            // Replaying a log over a fuzzy snapshot may see a create twice; never move back.
            if cv > parent.stat.cversion {
                parent.stat.cversion = cv;
                parent.stat.pzxid = zxid;
            }
            parent.children.insert(child);
        });
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: hdr.time,
            mtime: hdr.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let node = Node::new(data.clone(), self.acls.intern(acl), stat);
        let client_stat = node.client_stat();
        self.data_size += (p.len() + data.as_ref().map_or(0, |d| d.len())) as u64;
        self.digest = self.digest.wrapping_add(digest::node_digest(p, &node));
        self.nodes.insert(key, Arc::new(node));
        self.index_node(p, owner);
        self.fire(
            &Fire::Data,
            p,
            event_type::NODE_CREATED,
            &BTreeSet::new(),
            out,
        );
        self.fire(
            &Fire::Child,
            parent_path,
            event_type::NODE_CHILDREN_CHANGED,
            &BTreeSet::new(),
            out,
        );
        Ok(client_stat)
    }

    fn delete_node(
        &mut self,
        p: &str,
        zxid: i64,
        out: &mut Vec<Notification>,
    ) -> Result<(), ErrorCode> {
        let parent_path = path::parent(p).ok_or(ErrorCode::NO_NODE)?;
        let node = self.nodes.remove(p).ok_or(ErrorCode::NO_NODE)?;
        self.digest = self.digest.wrapping_sub(digest::node_digest(p, &node));
        self.data_size = self
            .data_size
            .saturating_sub((p.len() + node.data.as_ref().map_or(0, |d| d.len())) as u64);
        self.update(parent_path, |parent| {
            parent.children.remove(p);
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        });
        match kind_of(node.stat.ephemeral_owner) {
            NodeKind::Container => {
                self.containers.remove(p);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(p);
            }
            NodeKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(p);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            NodeKind::Persistent => {}
        }
        let fired = self.fire(
            &Fire::Data,
            p,
            event_type::NODE_DELETED,
            &BTreeSet::new(),
            out,
        );
        self.fire(&Fire::Child, p, event_type::NODE_DELETED, &fired, out);
        self.fire(
            &Fire::Child,
            parent_path,
            event_type::NODE_CHILDREN_CHANGED,
            &BTreeSet::new(),
            out,
        );
        Ok(())
    }

    fn set_data(
        &mut self,
        p: &str,
        data: &Option<Vec<u8>>,
        version: i32,
        zxid: i64,
        time: i64,
        out: &mut Vec<Notification>,
    ) -> Result<Stat, ErrorCode> {
        let (old_len, stat) = self
            .update(p, |node| {
                let old_len = node.data.as_ref().map_or(0, |d| d.len()) as u64;
                node.data = data.clone();
                node.stat.mtime = time;
                node.stat.mzxid = zxid;
                node.stat.version = version;
                (old_len, node.client_stat())
            })
            .ok_or(ErrorCode::NO_NODE)?;
        self.data_size =
            self.data_size.saturating_sub(old_len) + data.as_ref().map_or(0, |d| d.len()) as u64;
        self.fire(
            &Fire::Data,
            p,
            event_type::NODE_DATA_CHANGED,
            &BTreeSet::new(),
            out,
        );
        Ok(stat)
    }

    fn set_acl(&mut self, p: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let acl = self.acls.intern(acl);
        self.update(p, |node| {
            node.acl = acl;
            node.stat.aversion = version;
            node.client_stat()
        })
        .ok_or(ErrorCode::NO_NODE)
    }

    /// Deletes a closed session's ephemerals: the listed paths (3.6+ logs them), or all of the
    /// session's ephemerals for an older txn without the list.
    fn kill_session(
        &mut self,
        session: i64,
        paths: Option<&[String]>,
        zxid: i64,
        out: &mut Vec<Notification>,
    ) {
        let owned = self.ephemerals.remove(&session).unwrap_or_default();
        let list: Vec<String> = match paths {
            Some(p) => p.to_vec(),
            None => owned.iter().cloned().collect(),
        };
        for p in list {
            let is_owned = self
                .nodes
                .get(p.as_str())
                .is_some_and(|n| n.stat.ephemeral_owner == session);
            if is_owned {
                let _ = self.delete_node(&p, zxid, out);
            }
        }
    }

    fn fire(
        &mut self,
        table: &Fire,
        p: &str,
        etype: i32,
        suppress: &BTreeSet<ConnId>,
        out: &mut Vec<Notification>,
    ) -> BTreeSet<ConnId> {
        let t = match table {
            Fire::Data => &mut self.watches.data,
            Fire::Child => &mut self.watches.child,
        };
        let conns = t.trigger(p, etype, suppress);
        for c in &conns {
            out.push(Notification {
                conn: *c,
                event: WatcherEvent {
                    event_type: etype,
                    state: keeper_state::SYNC_CONNECTED,
                    path: p.to_string(),
                },
            });
        }
        conns
    }

    /// Re-registers watches after a reconnect (`setWatches`/`setWatches2`): fires at once what
    /// changed since `rel_zxid`, registers the rest.
    #[allow(clippy::too_many_arguments)]
    pub fn set_watches(
        &mut self,
        conn: ConnId,
        rel_zxid: i64,
        data: &[String],
        exist: &[String],
        child: &[String],
        persistent: &[String],
        recursive: &[String],
        out: &mut Vec<Notification>,
    ) {
        let send = |p: &str, etype: i32, out: &mut Vec<Notification>| {
            out.push(Notification {
                conn,
                event: WatcherEvent {
                    event_type: etype,
                    state: keeper_state::SYNC_CONNECTED,
                    path: p.to_string(),
                },
            })
        };
        for p in data {
            match self.nodes.get(p.as_str()) {
                None => send(p, event_type::NODE_DELETED, out),
                Some(n) if n.stat.mzxid > rel_zxid => send(p, event_type::NODE_DATA_CHANGED, out),
                Some(_) => self.watches.data.add(p, conn, Mode::Standard),
            }
        }
        for p in exist {
            match self.nodes.get(p.as_str()) {
                Some(_) => send(p, event_type::NODE_CREATED, out),
                None => self.watches.data.add(p, conn, Mode::Standard),
            }
        }
        for p in child {
            match self.nodes.get(p.as_str()) {
                None => send(p, event_type::NODE_DELETED, out),
                Some(n) if n.stat.pzxid > rel_zxid => {
                    send(p, event_type::NODE_CHILDREN_CHANGED, out)
                }
                Some(_) => self.watches.child.add(p, conn, Mode::Standard),
            }
        }
        for p in persistent {
            self.watches.add_persistent(p, conn, false);
        }
        for p in recursive {
            self.watches.add_persistent(p, conn, true);
        }
    }

    /// Every node, for snapshots and digests: (path, node), in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(p, n)| (&**p, &**n))
    }
}

enum Fire {
    Data,
    Child,
}

#[cfg(test)]
mod tests;
