//! Reading whole subtrees quickly: breadth-first, each level's requests pipelined on the one
//! connection. Nodes that vanish while the walk runs are left out, not reported as errors.

use std::collections::BTreeMap;

use futures::future::join_all;
use zk_proto::{Acl, ErrorCode, Stat};

use crate::client::{Client, Error, NodeData};

/// Requests in flight at once during a walk: enough to keep the pipe full, few enough that a
/// huge subtree does not queue tens of thousands of futures.
pub const WALK_PARALLEL: usize = 512;

/// One node of a walked subtree.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub stat: Stat,
    /// Child names, sorted.
    pub children: Vec<String>,
}

/// Every node under a root (the root included), by absolute client path.
#[derive(Debug, Clone)]
pub struct Subtree {
    pub root: String,
    pub nodes: BTreeMap<String, NodeInfo>,
}

pub fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// `path` relative to `root`, as an absolute path (`/` for the root itself).
pub fn relative(root: &str, path: &str) -> String {
    if path == root {
        return "/".to_string();
    }
    let rest = if root == "/" {
        path
    } else {
        &path[root.len()..]
    };
    rest.to_string()
}

/// `rel` (from [`relative`]) placed under `root`.
pub fn rebase(root: &str, rel: &str) -> String {
    match (root, rel) {
        (r, "/") => r.to_string(),
        ("/", r) => r.to_string(),
        (r, rel) => format!("{r}{rel}"),
    }
}

/// Walks the subtree under `root`, down to `depth_max` levels below it (`None`: all).
pub async fn walk(client: &Client, root: &str, depth_max: Option<usize>) -> Result<Subtree, Error> {
    let first = client.get_children(root, false).await?;
    let mut nodes = BTreeMap::new();
    let mut level = vec![(root.to_string(), sorted(first.children), first.stat)];
    let mut depth = 0;
    while !level.is_empty() {
        let mut next_paths = Vec::new();
        for (path, children, stat) in level {
            if depth_max.is_none_or(|m| depth < m) {
                next_paths.extend(children.iter().map(|c| child_path(&path, c)));
            }
            let children = if depth_max.is_none_or(|m| depth < m) {
                children
            } else {
                Vec::new()
            };
            nodes.insert(path, NodeInfo { stat, children });
        }
        depth += 1;
        level = list_many(client, &next_paths).await?;
    }
    Ok(Subtree {
        root: root.to_string(),
        nodes,
    })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn list_many(
    client: &Client,
    paths: &[String],
) -> Result<Vec<(String, Vec<String>, Stat)>, Error> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(WALK_PARALLEL) {
        let replies = join_all(chunk.iter().map(|p| client.get_children(p, false))).await;
        for (path, r) in chunk.iter().zip(replies) {
            match r {
                Ok(c) => out.push((path.clone(), sorted(c.children), c.stat)),
                Err(e) if e.is(ErrorCode::NO_NODE) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Reads the data of many nodes; vanished nodes are left out.
pub async fn read_data(
    client: &Client,
    paths: &[String],
) -> Result<BTreeMap<String, NodeData>, Error> {
    let mut out = BTreeMap::new();
    for chunk in paths.chunks(WALK_PARALLEL) {
        let replies = join_all(chunk.iter().map(|p| client.get_data(p, false))).await;
        for (path, r) in chunk.iter().zip(replies) {
            match r {
                Ok(d) => drop(out.insert(path.clone(), d)),
                Err(e) if e.is(ErrorCode::NO_NODE) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Reads the ACLs of many nodes; vanished nodes are left out.
pub async fn read_acls(
    client: &Client,
    paths: &[String],
) -> Result<BTreeMap<String, Vec<Acl>>, Error> {
    let mut out = BTreeMap::new();
    for chunk in paths.chunks(WALK_PARALLEL) {
        let replies = join_all(chunk.iter().map(|p| client.get_acl(p))).await;
        for (path, r) in chunk.iter().zip(replies) {
            match r {
                Ok((acl, _)) => drop(out.insert(path.clone(), acl)),
                Err(e) if e.is(ErrorCode::NO_NODE) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

impl Subtree {
    /// Paths in depth-first order with their depth below the root.
    pub fn depth_first(&self) -> Vec<(String, usize)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![(self.root.clone(), 0)];
        while let Some((path, depth)) = stack.pop() {
            let Some(info) = self.nodes.get(&path) else {
                continue;
            };
            for c in info.children.iter().rev() {
                stack.push((child_path(&path, c), depth + 1));
            }
            out.push((path, depth));
        }
        out
    }

    /// Paths grouped by depth, shallowest first.
    pub fn levels(&self) -> Vec<Vec<String>> {
        let mut levels: Vec<Vec<String>> = Vec::new();
        for (path, depth) in self.depth_first() {
            if levels.len() <= depth {
                levels.resize(depth + 1, Vec::new());
            }
            levels[depth].push(path);
        }
        levels
    }

    pub fn paths(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }
}

/// Runs `f` over `items`, [`WALK_PARALLEL`] at a time, stopping at the first error.
/// Each call gets its own clone of the item, so the futures borrow nothing from the slice.
pub async fn for_each_parallel<T, F, Fut>(items: &[T], f: F) -> Result<usize, Error>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut done = 0;
    for chunk in items.chunks(WALK_PARALLEL) {
        for r in join_all(chunk.iter().cloned().map(&f)).await {
            r?;
            done += 1;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_rebase_are_inverse() {
        assert_eq!(relative("/a", "/a/b/c"), "/b/c");
        assert_eq!(relative("/a", "/a"), "/");
        assert_eq!(relative("/", "/x"), "/x");
        assert_eq!(rebase("/dst", "/b/c"), "/dst/b/c");
        assert_eq!(rebase("/dst", "/"), "/dst");
        assert_eq!(rebase("/", "/b"), "/b");
        assert_eq!(child_path("/", "a"), "/a");
    }
}
