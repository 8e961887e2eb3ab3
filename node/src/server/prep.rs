//! Prep: turns a write request into a transaction, validating it against the tree plus the
//! changes already proposed and not yet applied ("outstanding changes"), exactly in the order
//! Apache's `PrepRequestProcessor` checks things, so the same error wins.
//!
//! Deterministic: the caller supplies the zxid and the time.

use std::collections::{BTreeSet, VecDeque};

use zk_proto::request::MultiOp;
use zk_proto::txn::*;
use zk_proto::{perms, Acl, CreateMode, ErrorCode, Id, OpCode, Request, StatPersisted};

use crate::tree::{
    acl, kind_of, path, ttl_owner, AclList, DataTree, FixedMap, NodeKind, CONTAINER_OWNER,
    TTL_MAX_MS,
};

/// What prep knows about a path: the tree's node, or a change not yet applied.
#[derive(Debug, Clone)]
struct ChangeRecord {
    /// The zxid of the txn that made this change.
    zxid: i64,
    /// `None`: the node is deleted by an outstanding txn.
    stat: Option<StatPersisted>,
    child_count: i32,
    acl: AclList,
}

/// Everything prep needs from the request's origin.
pub struct Origin<'a> {
    pub session_id: i64,
    pub xid: i32,
    /// The connection's identities (ip, digest, super).
    pub ids: &'a [Id],
}

/// Server settings prep depends on.
#[derive(Debug, Clone, Copy)]
pub struct PrepConfig {
    pub extended_types_enabled: bool,
}

/// Outstanding changes and the zxid counter.
#[derive(Debug, Default)]
pub struct Prep {
    outstanding: FixedMap<String, ChangeRecord>,
    /// (zxid, path) in proposal order, to drop records once their txn is applied.
    order: VecDeque<(i64, String)>,
    /// During a multi: the records it replaced, to restore them if an op fails.
    saved: Option<Vec<(String, Option<ChangeRecord>)>>,
    last_zxid: i64,
}

type PResult<T> = Result<T, ErrorCode>;

impl Prep {
    pub fn new(last_zxid: i64) -> Prep {
        Prep {
            last_zxid,
            ..Default::default()
        }
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Allocates the next zxid. Every write consumes one, successful or not.
    pub fn next_zxid(&mut self) -> i64 {
        self.last_zxid += 1;
        self.last_zxid
    }

    /// Forgets the changes of every txn up to `zxid`, now that the tree has them.
    pub fn applied(&mut self, zxid: i64) {
        while let Some((z, _)) = self.order.front() {
            if *z > zxid {
                break;
            }
            let (z, p) = self.order.pop_front().expect("front exists");
            if self.outstanding.get(&p).is_some_and(|r| r.zxid == z) {
                self.outstanding.remove(&p);
            }
        }
    }

    /// Forgets every outstanding change and restarts the zxid counter after `zxid` (the last
    /// durable one), after the log refused what came after it.
    pub fn reset(&mut self, zxid: i64) {
        self.outstanding.clear();
        self.order.clear();
        self.saved = None;
        self.last_zxid = zxid;
    }

    pub fn outstanding_len(&self) -> usize {
        self.outstanding.len()
    }

    fn record(&self, tree: &DataTree, p: &str) -> PResult<ChangeRecord> {
        if let Some(r) = self.outstanding.get(p) {
            return match r.stat {
                Some(_) => Ok(r.clone()),
                None => Err(ErrorCode::NO_NODE),
            };
        }
        let n = tree.get(p).ok_or(ErrorCode::NO_NODE)?;
        Ok(ChangeRecord {
            zxid: n.stat.mzxid,
            stat: Some(n.stat.clone()),
            child_count: n.children.len() as i32,
            acl: n.acl.clone(),
        })
    }

    fn add_change(&mut self, p: &str, rec: ChangeRecord) {
        if let Some(saved) = self.saved.as_mut() {
            if !saved.iter().any(|(sp, _)| sp == p) {
                saved.push((p.to_string(), self.outstanding.get(p).cloned()));
            }
        }
        self.order.push_back((rec.zxid, p.to_string()));
        self.outstanding.insert(p.to_string(), rec);
    }

    /// Prepares a write. Returns the header and the txn; a failed request becomes an error txn
    /// (header type -1) that still consumes its zxid, as in Apache.
    pub fn prepare(
        &mut self,
        tree: &DataTree,
        cfg: PrepConfig,
        origin: &Origin<'_>,
        req: &Request,
        now_ms: i64,
    ) -> (TxnHeader, Txn) {
        let zxid = self.next_zxid();
        let mut hdr = TxnHeader {
            client_id: origin.session_id,
            cxid: origin.xid,
            zxid,
            time: now_ms,
            txn_type: req.op().0,
        };
        let res = match req {
            // A multi refused as a whole (a read op inside) is an error txn, logged with the
            // error type: a multi header over an error body cannot be read back (by recovery,
            // or by a learner receiving the proposal).
            Request::Multi(ops) => match self.prep_multi(tree, cfg, origin, ops, &hdr) {
                Txn::Error(e) => Err(ErrorCode(e.err)),
                txn => Ok(txn),
            },
            _ => self.prep_single(tree, cfg, origin, req, &hdr),
        };
        match res {
            Ok(txn) => (hdr, txn),
            Err(e) => {
                hdr.txn_type = OpCode::ERROR.0;
                (hdr, Txn::Error(ErrorTxn { err: e.0 }))
            }
        }
    }

    /// Prepares a session-level txn issued by the server itself.
    pub fn prepare_session(
        &mut self,
        tree: &DataTree,
        session_id: i64,
        txn_kind: SessionTxn,
        now_ms: i64,
    ) -> (TxnHeader, Txn) {
        let zxid = self.next_zxid();
        let (op, txn) = match txn_kind {
            SessionTxn::Create { timeout_ms } => (
                OpCode::CREATE_SESSION,
                Txn::CreateSession(CreateSessionTxn { timeout_ms }),
            ),
            SessionTxn::Close => (
                OpCode::CLOSE_SESSION,
                self.prep_close_session(tree, session_id, zxid),
            ),
        };
        let hdr = TxnHeader {
            client_id: session_id,
            cxid: 0,
            zxid,
            time: now_ms,
            txn_type: op.0,
        };
        (hdr, txn)
    }

    /// Prepares the container/TTL reaper's delete (session 0).
    pub fn prepare_delete_container(
        &mut self,
        tree: &DataTree,
        p: &str,
        now_ms: i64,
    ) -> (TxnHeader, Txn) {
        let zxid = self.next_zxid();
        let mut hdr = TxnHeader {
            client_id: 0,
            cxid: 0,
            zxid,
            time: now_ms,
            txn_type: OpCode::DELETE_CONTAINER.0,
        };
        match self.prep_delete_container(tree, p, zxid) {
            Ok(txn) => (hdr, txn),
            Err(e) => {
                hdr.txn_type = OpCode::ERROR.0;
                (hdr, Txn::Error(ErrorTxn { err: e.0 }))
            }
        }
    }

    fn prep_single(
        &mut self,
        tree: &DataTree,
        cfg: PrepConfig,
        origin: &Origin<'_>,
        req: &Request,
        hdr: &TxnHeader,
    ) -> PResult<Txn> {
        let zxid = hdr.zxid;
        match req {
            Request::Create { op, req } => self.prep_create(
                tree, cfg, origin, *op, &req.path, &req.data, &req.acl, req.flags, -1, hdr,
            ),
            Request::CreateTtl(r) => self.prep_create(
                tree,
                cfg,
                origin,
                OpCode::CREATE_TTL,
                &r.path,
                &r.data,
                &r.acl,
                r.flags,
                r.ttl,
                hdr,
            ),
            Request::Delete(r) => self.prep_delete(tree, origin, &r.path, r.version, zxid),
            Request::SetData(r) => {
                self.prep_set_data(tree, origin, &r.path, &r.data, r.version, hdr)
            }
            Request::SetAcl(r) => self.prep_set_acl(tree, origin, &r.path, &r.acl, r.version, zxid),
            Request::Check(r) => self.prep_check(tree, origin, &r.path, r.version),
            Request::Reconfig(_) => Err(ErrorCode::RECONFIG_DISABLED),
            // A client cannot send deleteContainer: Apache decodes the whole frame as the path,
            // which never validates.
            Request::DeleteContainer(_) => Err(ErrorCode::BAD_ARGUMENTS),
            _ => Err(ErrorCode::MARSHALLING_ERROR),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn prep_create(
        &mut self,
        tree: &DataTree,
        cfg: PrepConfig,
        origin: &Origin<'_>,
        op: OpCode,
        req_path: &str,
        data: &Option<Vec<u8>>,
        acl_in: &[Acl],
        flags: i32,
        ttl: i64,
        hdr: &TxnHeader,
    ) -> PResult<Txn> {
        let mode = CreateMode::from_flags(flags).ok_or(ErrorCode::BAD_ARGUMENTS)?;
        if mode.is_ttl() && !cfg.extended_types_enabled {
            return Err(ErrorCode::UNIMPLEMENTED);
        }
        let ttl_ok = if mode.is_ttl() {
            ttl > 0 && ttl <= TTL_MAX_MS
        } else {
            ttl < 0
        };
        if !ttl_ok {
            return Err(ErrorCode::BAD_ARGUMENTS);
        }
        if !req_path.contains('/') || req_path.contains('\0') {
            return Err(ErrorCode::BAD_ARGUMENTS);
        }
        let parent_path = path::parent(req_path).ok_or(ErrorCode::BAD_ARGUMENTS)?;
        let acl_list = acl::fixup(acl_in, origin.ids).ok_or(ErrorCode::INVALID_ACL)?;
        let parent = self.record(tree, parent_path)?;
        if !acl::check(&parent.acl, perms::CREATE, origin.ids) {
            return Err(ErrorCode::NO_AUTH);
        }
        let pstat = parent.stat.clone().expect("record() returns live nodes");
        let mut p = req_path.to_string();
        if mode.is_sequential() {
            p.push_str(&seq_suffix(pstat.cversion));
        }
        path::validate(&p).map_err(|_| ErrorCode::BAD_ARGUMENTS)?;
        if self.record(tree, &p).is_ok() {
            return Err(ErrorCode::NODE_EXISTS);
        }
        if matches!(kind_of(pstat.ephemeral_owner), NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::NO_CHILDREN_FOR_EPHEMERALS);
        }
        let new_cversion = pstat.cversion.wrapping_add(1);
        let txn = match op {
            OpCode::CREATE_CONTAINER => Txn::CreateContainer(CreateContainerTxn {
                path: p.clone(),
                data: data.clone(),
                acl: acl_list.clone(),
                parent_cversion: new_cversion,
            }),
            OpCode::CREATE_TTL => Txn::CreateTtl(CreateTtlTxn {
                path: p.clone(),
                data: data.clone(),
                acl: acl_list.clone(),
                parent_cversion: new_cversion,
                ttl,
            }),
            _ => {
                let t = CreateTxn {
                    path: p.clone(),
                    data: data.clone(),
                    acl: acl_list.clone(),
                    ephemeral: mode.is_ephemeral(),
                    parent_cversion: new_cversion,
                };
                if op == OpCode::CREATE2 {
                    Txn::Create2(t)
                } else {
                    Txn::Create(t)
                }
            }
        };
        // The owner the tree will store, which follows the txn type (the opcode), not the flags.
        let owner = match &txn {
            Txn::CreateContainer(_) => CONTAINER_OWNER,
            Txn::CreateTtl(_) => ttl_owner(ttl),
            Txn::Create(t) | Txn::Create2(t) if t.ephemeral => origin.session_id,
            _ => 0,
        };
        let mut pst = pstat;
        pst.cversion = new_cversion;
        pst.pzxid = hdr.zxid;
        self.add_change(
            parent_path,
            ChangeRecord {
                zxid: hdr.zxid,
                stat: Some(pst),
                child_count: parent.child_count + 1,
                acl: parent.acl,
            },
        );
        let stat = StatPersisted {
            czxid: hdr.zxid,
            mzxid: hdr.zxid,
            ctime: hdr.time,
            mtime: hdr.time,
            ephemeral_owner: owner,
            pzxid: hdr.zxid,
            ..Default::default()
        };
        self.add_change(
            &p,
            ChangeRecord {
                zxid: hdr.zxid,
                stat: Some(stat),
                child_count: 0,
                acl: acl_list.into(),
            },
        );
        Ok(txn)
    }

    fn parent_and_validate(p: &str) -> PResult<&str> {
        if !p.contains('/') || p.contains('\0') || is_special(p) {
            return Err(ErrorCode::BAD_ARGUMENTS);
        }
        path::parent(p).ok_or(ErrorCode::BAD_ARGUMENTS)
    }

    fn prep_delete(
        &mut self,
        tree: &DataTree,
        origin: &Origin<'_>,
        p: &str,
        version: i32,
        zxid: i64,
    ) -> PResult<Txn> {
        let parent_path = Self::parent_and_validate(p)?;
        let parent = self.record(tree, parent_path)?;
        if !acl::check(&parent.acl, perms::DELETE, origin.ids) {
            return Err(ErrorCode::NO_AUTH);
        }
        let node = self.record(tree, p)?;
        let nstat = node.stat.as_ref().expect("live");
        check_version(nstat.version, version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NOT_EMPTY);
        }
        self.record_delete(parent, parent_path, p, zxid);
        Ok(Txn::Delete(DeleteTxn {
            path: p.to_string(),
        }))
    }

    fn prep_delete_container(&mut self, tree: &DataTree, p: &str, zxid: i64) -> PResult<Txn> {
        let parent_path = Self::parent_and_validate(p)?;
        let node = self.record(tree, p)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NOT_EMPTY);
        }
        let owner = node.stat.as_ref().expect("live").ephemeral_owner;
        if matches!(kind_of(owner), NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::BAD_VERSION);
        }
        let parent = self.record(tree, parent_path)?;
        self.record_delete(parent, parent_path, p, zxid);
        Ok(Txn::DeleteContainer(DeleteTxn {
            path: p.to_string(),
        }))
    }

    fn record_delete(&mut self, parent: ChangeRecord, parent_path: &str, p: &str, zxid: i64) {
        let mut pst = parent.stat.clone().expect("live");
        pst.pzxid = zxid;
        self.add_change(
            parent_path,
            ChangeRecord {
                zxid,
                stat: Some(pst),
                child_count: parent.child_count - 1,
                acl: parent.acl,
            },
        );
        self.add_change(
            p,
            ChangeRecord {
                zxid,
                stat: None,
                child_count: -1,
                acl: AclList::from([]),
            },
        );
    }

    fn prep_set_data(
        &mut self,
        tree: &DataTree,
        origin: &Origin<'_>,
        p: &str,
        data: &Option<Vec<u8>>,
        version: i32,
        hdr: &TxnHeader,
    ) -> PResult<Txn> {
        path::validate(p).map_err(|_| ErrorCode::BAD_ARGUMENTS)?;
        let mut node = self.record(tree, p)?;
        if !acl::check(&node.acl, perms::WRITE, origin.ids) {
            return Err(ErrorCode::NO_AUTH);
        }
        let st = node.stat.as_mut().expect("live");
        let new_version = check_version(st.version, version)?;
        st.version = new_version;
        st.mtime = hdr.time;
        st.mzxid = hdr.zxid;
        node.zxid = hdr.zxid;
        self.add_change(p, node);
        Ok(Txn::SetData(SetDataTxn {
            path: p.to_string(),
            data: data.clone(),
            version: new_version,
        }))
    }

    fn prep_set_acl(
        &mut self,
        tree: &DataTree,
        origin: &Origin<'_>,
        p: &str,
        acl_in: &[Acl],
        version: i32,
        zxid: i64,
    ) -> PResult<Txn> {
        path::validate(p).map_err(|_| ErrorCode::BAD_ARGUMENTS)?;
        let acl_list = acl::fixup(acl_in, origin.ids).ok_or(ErrorCode::INVALID_ACL)?;
        let mut node = self.record(tree, p)?;
        if !acl::check(&node.acl, perms::ADMIN, origin.ids) {
            return Err(ErrorCode::NO_AUTH);
        }
        let st = node.stat.as_mut().expect("live");
        let new_version = check_version(st.aversion, version)?;
        st.aversion = new_version;
        node.zxid = zxid;
        node.acl = acl_list.as_slice().into();
        self.add_change(p, node);
        Ok(Txn::SetAcl(SetAclTxn {
            path: p.to_string(),
            acl: acl_list,
            version: new_version,
        }))
    }

    fn prep_check(
        &mut self,
        tree: &DataTree,
        origin: &Origin<'_>,
        p: &str,
        version: i32,
    ) -> PResult<Txn> {
        path::validate(p).map_err(|_| ErrorCode::BAD_ARGUMENTS)?;
        let node = self.record(tree, p)?;
        if !acl::check(&node.acl, perms::READ, origin.ids) {
            return Err(ErrorCode::NO_AUTH);
        }
        let v = check_version(node.stat.as_ref().expect("live").version, version)?;
        Ok(Txn::Check(CheckVersionTxn {
            path: p.to_string(),
            version: v,
        }))
    }

    /// A multi is one txn: every op is prepared in order against the changes of the ops before
    /// it; at the first failure the rest become RuntimeInconsistency and the multi's own changes
    /// are rolled back.
    fn prep_multi(
        &mut self,
        tree: &DataTree,
        cfg: PrepConfig,
        origin: &Origin<'_>,
        ops: &[MultiOp],
        hdr: &TxnHeader,
    ) -> Txn {
        if ops.iter().any(MultiOp::is_read) {
            return Txn::Error(ErrorTxn {
                err: ErrorCode::MARSHALLING_ERROR.0,
            });
        }
        self.saved = Some(Vec::new());
        let mut failed = false;
        let mut txns = Vec::with_capacity(ops.len());
        for op in ops {
            if failed {
                txns.push(Txn::Error(ErrorTxn {
                    err: ErrorCode::RUNTIME_INCONSISTENCY.0,
                }));
                continue;
            }
            match self.prep_multi_op(tree, cfg, origin, op, hdr) {
                Ok(t) => txns.push(t),
                Err(e) => {
                    failed = true;
                    txns.push(Txn::Error(ErrorTxn { err: e.0 }));
                    self.rollback(hdr.zxid);
                }
            }
        }
        self.saved = None;
        Txn::Multi(txns)
    }

    fn prep_multi_op(
        &mut self,
        tree: &DataTree,
        cfg: PrepConfig,
        origin: &Origin<'_>,
        op: &MultiOp,
        hdr: &TxnHeader,
    ) -> PResult<Txn> {
        match op {
            // Inside a multi the create opcode follows the flags (Apache's `Op.create`): a
            // container mode makes createContainer, a TTL mode createTTL, anything else create.
            MultiOp::Create { req, .. } => {
                let mode = CreateMode::from_flags(req.flags).unwrap_or(CreateMode::Persistent);
                let effective = if mode.is_ttl() {
                    return Err(ErrorCode::MARSHALLING_ERROR);
                } else if mode.is_container() {
                    OpCode::CREATE_CONTAINER
                } else {
                    OpCode::CREATE
                };
                self.prep_create(
                    tree, cfg, origin, effective, &req.path, &req.data, &req.acl, req.flags, -1,
                    hdr,
                )
            }
            MultiOp::CreateTtl(r) => {
                let mode = CreateMode::from_flags(r.flags).unwrap_or(CreateMode::Persistent);
                let (effective, ttl) = if mode.is_ttl() {
                    (OpCode::CREATE_TTL, r.ttl)
                } else if mode.is_container() {
                    (OpCode::CREATE_CONTAINER, -1)
                } else {
                    (OpCode::CREATE, -1)
                };
                self.prep_create(
                    tree, cfg, origin, effective, &r.path, &r.data, &r.acl, r.flags, ttl, hdr,
                )
            }
            MultiOp::Delete(r) => self.prep_delete(tree, origin, &r.path, r.version, hdr.zxid),
            MultiOp::SetData(r) => {
                self.prep_set_data(tree, origin, &r.path, &r.data, r.version, hdr)
            }
            MultiOp::Check(r) => self.prep_check(tree, origin, &r.path, r.version),
            MultiOp::GetData(_) | MultiOp::GetChildren(_) => Err(ErrorCode::MARSHALLING_ERROR),
        }
    }

    fn rollback(&mut self, zxid: i64) {
        let saved = self.saved.take().unwrap_or_default();
        for (p, prev) in saved.into_iter().rev() {
            match prev {
                Some(r) => {
                    self.outstanding.insert(p, r);
                }
                None => {
                    self.outstanding.remove(&p);
                }
            }
        }
        self.order.retain(|(z, _)| *z != zxid);
        self.saved = Some(Vec::new());
    }

    /// closeSession deletes the session's ephemerals: those in the tree, adjusted by changes
    /// still outstanding (created or deleted by txns not yet applied).
    fn prep_close_session(&mut self, tree: &DataTree, session: i64, zxid: i64) -> Txn {
        let mut es: BTreeSet<String> = tree.ephemerals_of(session).cloned().unwrap_or_default();
        for (p, r) in self.outstanding.iter() {
            match &r.stat {
                None => {
                    es.remove(p);
                }
                Some(s) if s.ephemeral_owner == session => {
                    es.insert(p.clone());
                }
                Some(_) => {}
            }
        }
        // Apache iterates a cloned java.util.HashSet of the session's ephemerals, filled in
        // creation order; the deletes, and so the watch events, follow that order.
        let mut by_creation: Vec<(i64, String)> = es
            .into_iter()
            .map(|p| (tree.get(&p).map_or(i64::MAX, |n| n.stat.czxid), p))
            .collect();
        by_creation.sort();
        let ordered = crate::tree::java::cloned_hash_set_order(
            by_creation.into_iter().map(|(_, p)| p).collect(),
        );
        for p in &ordered {
            if let Some(parent_path) = path::parent(p) {
                if let Ok(parent) = self.record(tree, parent_path) {
                    self.record_delete(parent, parent_path, p, zxid);
                }
            }
        }
        Txn::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: ordered,
        }))
    }
}

/// A session-level txn the server issues on its own.
#[derive(Debug, Clone, Copy)]
pub enum SessionTxn {
    Create { timeout_ms: i32 },
    Close,
}

/// Version -1 means any; returns the next version.
fn check_version(current: i32, expected: i32) -> PResult<i32> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BAD_VERSION);
    }
    Ok(current.wrapping_add(1))
}

/// Java's `String.format("%010d", n)`: ten digits, zero padded; a negative number is `-` plus
/// nine digits.
pub fn seq_suffix(n: i32) -> String {
    if n < 0 {
        format!("-{:09}", (n as i64).unsigned_abs())
    } else {
        format!("{n:010}")
    }
}

/// `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config` cannot be deleted.
pub fn is_special(p: &str) -> bool {
    matches!(
        p,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_suffix_like_java() {
        assert_eq!(seq_suffix(7), "0000000007");
        assert_eq!(seq_suffix(i32::MAX), "2147483647");
        assert_eq!(seq_suffix(i32::MIN), "-2147483648");
        assert_eq!(seq_suffix(-5), "-000000005");
    }
}
