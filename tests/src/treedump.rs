//! A whole-tree dump of one server as a client sees it (every node's data and `Stat`, read after
//! a `sync` through that server), and a readable comparison of two dumps.
//!
//! Every `Stat` field is replicated state in ZooKeeper (zxids, times from the leader's txn
//! header, versions, owner, sizes), so two servers of one ensemble that applied the same
//! transactions must agree on all of them. `/zookeeper` (quota and config nodes, which each
//! server builds for itself) is left out.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use futures::stream::{self, StreamExt};
use zookeeper_client as zk;

use crate::workload::synced_client;

/// Requests kept in flight while dumping.
const DUMP_PIPELINE: usize = 128;
/// Differences shown when two dumps differ.
const DIFFS_SHOWN: usize = 20;

/// path → (data, stat).
pub type Tree = BTreeMap<String, (Vec<u8>, zk::Stat)>;

/// Dumps every node of the server at `addr` (one host) except the `/zookeeper` subtree.
pub async fn dump_tree(addr: &str) -> Result<Tree> {
    let c = synced_client(addr).await?;
    let mut tree = Tree::new();
    let mut level = vec!["/".to_string()];
    while !level.is_empty() {
        let read: Vec<(String, Result<(Vec<u8>, zk::Stat), zk::Error>)> =
            stream::iter(level.drain(..).map(|path| {
                let c = &c;
                async move {
                    let r = c.get_data(&path).await;
                    (path, r)
                }
            }))
            .buffered(DUMP_PIPELINE)
            .collect()
            .await;
        let mut parents = Vec::new();
        for (path, r) in read {
            match r {
                Ok((data, stat)) => {
                    if stat.num_children > 0 {
                        parents.push(path.clone());
                    }
                    tree.insert(path, (data, stat));
                }
                // Deleted between the listing and the read (an ephemeral of a closing session).
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e).with_context(|| format!("get {path} from {addr}")),
            }
        }
        let lists: Vec<(String, Result<Vec<String>, zk::Error>)> =
            stream::iter(parents.into_iter().map(|path| {
                let c = &c;
                async move {
                    let r = c.list_children(&path).await;
                    (path, r)
                }
            }))
            .buffered(DUMP_PIPELINE)
            .collect()
            .await;
        for (path, r) in lists {
            let children = match r {
                Ok(v) => v,
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(e).with_context(|| format!("list {path} on {addr}")),
            };
            for child in children {
                let full = if path == "/" {
                    format!("/{child}")
                } else {
                    format!("{path}/{child}")
                };
                if full != "/zookeeper" {
                    level.push(full);
                }
            }
        }
    }
    Ok(tree)
}

/// The differences between two dumps, one line each (at most `limit`), and their total count.
pub fn tree_diff(a: &Tree, b: &Tree, limit: usize) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut total = 0;
    let mut note = |s: String| {
        total += 1;
        if lines.len() < limit {
            lines.push(s);
        }
    };
    for (path, (da, sa)) in a {
        match b.get(path) {
            None => note(format!("{path}: only in A")),
            Some((db, sb)) => {
                if da != db {
                    note(format!(
                        "{path}: data {:?} vs {:?}",
                        String::from_utf8_lossy(da),
                        String::from_utf8_lossy(db)
                    ));
                }
                if sa != sb {
                    note(format!("{path}: stat {sa:?} vs {sb:?}"));
                }
            }
        }
    }
    for path in b.keys().filter(|p| !a.contains_key(*p)) {
        note(format!("{path}: only in B"));
    }
    (lines, total)
}

/// Fails unless the two dumps are equal, listing the first differences.
pub fn assert_same_tree(a_label: &str, a: &Tree, b_label: &str, b: &Tree) -> Result<()> {
    let (lines, total) = tree_diff(a, b, DIFFS_SHOWN);
    if total > 0 {
        bail!(
            "trees differ (A = {a_label}, {} nodes; B = {b_label}, {} nodes): {total} differences, first:\n{}",
            a.len(),
            b.len(),
            lines.join("\n")
        );
    }
    Ok(())
}
