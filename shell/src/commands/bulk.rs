//! Commands over whole subtrees: cp and diff (within a cluster or between two), deleteall and
//! setAcl -R. Each reads with [`walk`](super::walk) and writes level by level, pipelined.

use std::collections::{BTreeMap, BTreeSet};

use zk_proto::{Acl, CreateMode, Stat};

use super::output::{DiffLine, Output};
use super::walk::{
    child_path, for_each_parallel, read_acls, read_data, rebase, relative, walk, Subtree,
};
use super::CmdError;
use crate::client::{to_server_path, Client, NodeData};

/// One end of a cp or diff.
pub struct End<'a> {
    pub client: &'a Client,
    pub root: String,
    /// How it was written, for messages (`prod:/a`).
    pub label: String,
}

/// A subtree with the data and ACL of every node.
struct Snapshot {
    tree: Subtree,
    /// Ephemeral nodes left out.
    skipped: usize,
    data: BTreeMap<String, NodeData>,
    acls: BTreeMap<String, Vec<Acl>>,
}

/// Walks a subtree without ZooKeeper's own nodes (`/zookeeper` and below, as the server sees
/// paths): they belong to each ensemble, cannot be deleted, and differ between clusters.
async fn walk_user(client: &Client, root: &str, depth: Option<usize>) -> Result<Subtree, CmdError> {
    let mut tree = walk(client, root, depth).await?;
    let chroot = client.chroot();
    tree.nodes
        .retain(|p, _| !is_reserved(&to_server_path(chroot, p)));
    Ok(tree)
}

/// `/zookeeper` and everything under it, in server paths.
pub fn is_reserved(server_path: &str) -> bool {
    server_path == "/zookeeper" || server_path.starts_with("/zookeeper/")
}

async fn snapshot(client: &Client, root: &str, recursive: bool) -> Result<Snapshot, CmdError> {
    let mut tree = walk_user(client, root, if recursive { None } else { Some(0) }).await?;
    // Ephemerals belong to a session on the source; a copy would be a persistent stranger.
    let before = tree.nodes.len();
    tree.nodes.retain(|_, n| n.stat.ephemeral_owner == 0);
    let skipped = before - tree.nodes.len();
    let paths = tree.paths();
    let data = read_data(client, &paths).await?;
    let acls = read_acls(client, &paths).await?;
    Ok(Snapshot {
        tree,
        skipped,
        data,
        acls,
    })
}

/// Asks before a destructive step, unless `yes`.
pub type Confirm<'a> = &'a mut (dyn FnMut(&str) -> bool + Send);

/// Copies `src` to `dst`: data and ACLs, the whole subtree when `recursive`.
pub async fn copy(
    src: End<'_>,
    dst: End<'_>,
    recursive: bool,
    confirm: Confirm<'_>,
) -> Result<Output, CmdError> {
    let snap = snapshot(src.client, &src.root, recursive).await?;
    let skipped = snap.skipped;
    let existing = existing_under(dst.client, &dst.root).await?;
    let plan: Vec<Vec<String>> = snap.tree.levels();
    let total: usize = plan.iter().map(Vec::len).sum();
    let dst_of = |p: &str| rebase(&dst.root, &relative(&src.root, p));
    let overwrite = plan
        .iter()
        .flatten()
        .filter(|p| existing.contains(&dst_of(p)))
        .count();
    if overwrite > 0 {
        let q = format!(
            "cp: {overwrite} of {total} nodes already exist under {}; overwrite their data and ACLs?",
            dst.label
        );
        if !confirm(&q) {
            return Err(CmdError::Refused(
                "cp cancelled; nothing was written".into(),
            ));
        }
    }
    make_parents(dst.client, &dst.root).await?;
    let mut deferred = Vec::new();
    for level in &plan {
        let writes: Vec<Write> = level
            .iter()
            .filter_map(|p| plan_write(&snap, p, dst_of(p), existing.contains(&dst_of(p))))
            .collect();
        deferred.extend(writes.iter().filter(|w| w.deferred_acl).cloned());
        for_each_parallel(
            &writes,
            |w| async move { apply_write(dst.client, &w).await },
        )
        .await?;
    }
    for w in deferred.iter().rev() {
        dst.client.set_acl(&w.path, w.acl.clone(), -1).await?;
    }
    Ok(Output::message(format!(
        "copied {total} nodes from {} to {} ({overwrite} overwritten, {skipped} ephemeral skipped)",
        src.label, dst.label
    )))
}

async fn existing_under(client: &Client, root: &str) -> Result<BTreeSet<String>, CmdError> {
    if client.exists(root, false).await?.is_none() {
        return Ok(BTreeSet::new());
    }
    Ok(walk(client, root, None).await?.nodes.into_keys().collect())
}

/// Creates the missing ancestors of `path` (empty data, open ACL), like `mkdir -p`.
async fn make_parents(client: &Client, path: &str) -> Result<(), CmdError> {
    let mut cur = String::new();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        cur = child_path(if cur.is_empty() { "/" } else { &cur }, part);
        if client.exists(&cur, false).await?.is_none() {
            let r = client
                .create(&cur, None, Acl::open_unsafe(), CreateMode::Persistent, None)
                .await;
            match r {
                Err(e) if !e.is(zk_proto::ErrorCode::NODE_EXISTS) => return Err(e.into()),
                _ => {}
            }
        }
    }
    Ok(())
}

#[derive(Clone)]
struct Write {
    path: String,
    data: Option<Vec<u8>>,
    acl: Vec<Acl>,
    exists: bool,
    /// Created open and given its ACL after its children exist, so a restrictive ACL cannot
    /// stop the copy from creating them.
    deferred_acl: bool,
}

fn plan_write(snap: &Snapshot, src_path: &str, dst_path: String, exists: bool) -> Option<Write> {
    let data = snap.data.get(src_path)?;
    let acl = snap.acls.get(src_path)?.clone();
    let has_children = snap
        .tree
        .nodes
        .get(src_path)
        .is_some_and(|n| !n.children.is_empty());
    Some(Write {
        path: dst_path,
        data: data.data.clone(),
        deferred_acl: has_children && !exists && acl != Acl::open_unsafe(),
        acl,
        exists,
    })
}

async fn apply_write(client: &Client, w: &Write) -> Result<(), crate::client::Error> {
    if w.exists {
        client.set_data(&w.path, w.data.clone(), -1).await?;
        client.set_acl(&w.path, w.acl.clone(), -1).await?;
        return Ok(());
    }
    let acl = if w.deferred_acl {
        Acl::open_unsafe()
    } else {
        w.acl.clone()
    };
    client
        .create(&w.path, w.data.clone(), acl, CreateMode::Persistent, None)
        .await
        .map(|_| ())
}

/// Compares two subtrees node by node: presence, data, ACL and ephemeral-ness.
pub async fn diff(a: End<'_>, b: End<'_>) -> Result<Output, CmdError> {
    let (sa, sb) = futures::try_join!(
        snapshot_all(a.client, &a.root),
        snapshot_all(b.client, &b.root)
    )?;
    let ra = by_relative(&sa, &a.root);
    let rb = by_relative(&sb, &b.root);
    let rels: BTreeSet<&String> = ra.keys().chain(rb.keys()).collect();
    let lines: Vec<DiffLine> = rels
        .into_iter()
        .filter_map(|rel| compare(rel, ra.get(rel), rb.get(rel)))
        .collect();
    Ok(Output::Diff {
        a: a.label,
        b: b.label,
        compared: ra.len().max(rb.len()),
        lines,
    })
}

async fn snapshot_all(client: &Client, root: &str) -> Result<Snapshot, CmdError> {
    let tree = walk_user(client, root, None).await?;
    let paths = tree.paths();
    let data = read_data(client, &paths).await?;
    let acls = read_acls(client, &paths).await?;
    Ok(Snapshot {
        tree,
        skipped: 0,
        data,
        acls,
    })
}

type NodeView<'a> = (&'a Stat, Option<&'a [u8]>, Vec<&'a Acl>);

fn by_relative<'a>(s: &'a Snapshot, root: &str) -> BTreeMap<String, NodeView<'a>> {
    s.tree
        .nodes
        .iter()
        .filter_map(|(path, info)| {
            let data = s.data.get(path)?;
            let mut acl: Vec<&Acl> = s.acls.get(path)?.iter().collect();
            acl.sort_by(|x, y| {
                (&x.id.scheme, &x.id.id, x.perms).cmp(&(&y.id.scheme, &y.id.id, y.perms))
            });
            Some((
                relative(root, path),
                (&info.stat, data.data.as_deref(), acl),
            ))
        })
        .collect()
}

fn compare(rel: &str, a: Option<&NodeView<'_>>, b: Option<&NodeView<'_>>) -> Option<DiffLine> {
    let kind = match (a, b) {
        (Some(_), None) => "only_a",
        (None, Some(_)) => "only_b",
        (Some(x), Some(y)) if x.1.unwrap_or_default() != y.1.unwrap_or_default() => "data",
        (Some(x), Some(y)) if x.2 != y.2 => "acl",
        (Some(x), Some(y)) if (x.0.ephemeral_owner != 0) != (y.0.ephemeral_owner != 0) => {
            "ephemeral"
        }
        _ => return None,
    };
    Some(DiffLine {
        kind,
        path: rel.to_string(),
    })
}

/// Deletes `root` and everything under it, deepest first.
pub async fn delete_all(
    client: &Client,
    root: &str,
    confirm: Confirm<'_>,
) -> Result<Output, CmdError> {
    let tree = walk_user(client, root, None).await?;
    // The server's root cannot be deleted; `deleteall /` empties it.
    let is_root = |p: &String| to_server_path(client.chroot(), p) == "/";
    let levels: Vec<Vec<String>> = tree
        .levels()
        .into_iter()
        .map(|l| l.into_iter().filter(|p| !is_root(p)).collect())
        .collect();
    let n: usize = levels.iter().map(Vec::len).sum();
    if !confirm(&format!("deleteall {root}: delete {n} nodes?")) {
        return Err(CmdError::Refused(
            "deleteall cancelled; nothing was deleted".into(),
        ));
    }
    for level in levels.iter().rev() {
        for_each_parallel(level, |p| async move {
            match client.delete(&p, -1).await {
                Err(e) if e.is(zk_proto::ErrorCode::NO_NODE) => Ok(()),
                r => r,
            }
        })
        .await?;
    }
    Ok(Output::message(format!("deleted {n} nodes")))
}

/// Sets one ACL on `root` and every node under it.
pub async fn set_acl_all(
    client: &Client,
    root: &str,
    acl: &[Acl],
    confirm: Confirm<'_>,
) -> Result<Output, CmdError> {
    let tree = walk_user(client, root, None).await?;
    let n = tree.nodes.len();
    if !confirm(&format!("setAcl -R {root}: change the ACL of {n} nodes?")) {
        return Err(CmdError::Refused(
            "setAcl -R cancelled; nothing was changed".into(),
        ));
    }
    let paths = tree.paths();
    for_each_parallel(&paths, |p| async move {
        client.set_acl(&p, acl.to_vec(), -1).await.map(|_| ())
    })
    .await?;
    Ok(Output::message(format!("set the ACL of {n} nodes")))
}
