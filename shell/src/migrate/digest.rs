//! Content digests for verification: a hash per node over (data, ACL, node type) and a
//! Merkle hash per subtree over the node's hash and its children's names and subtree hashes.
//! Two trees are compared top-down: equal subtree hashes end the descent, so a single
//! difference is found after looking at the nodes on its path only. Pure.
//!
//! Paths in a [`Tree`] are relative to the migration root (`/` is the root itself), so a
//! source and a destination tree under different prefixes compare directly.

use std::collections::BTreeMap;

use serde::Serialize;
use sha1::{Digest as _, Sha1};

use super::paths::{join, parent};

pub type Hash = [u8; 20];

pub fn sha1(bytes: &[u8]) -> Hash {
    Sha1::digest(bytes).into()
}

pub fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a client can see of a node's type: ephemeral or not. Containers and TTL nodes look
/// persistent through the client API (their stored owner is not sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Persistent,
    Ephemeral,
}

/// The digest of one node (without its children).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeDigest {
    pub data: Hash,
    pub acl: Hash,
    pub kind: NodeKind,
}

impl NodeDigest {
    /// `data` None (null) and empty are different values to ZooKeeper and are kept apart.
    pub fn new(data: Option<&[u8]>, acl_text: &str, kind: NodeKind) -> NodeDigest {
        let mut h = Sha1::new();
        match data {
            None => h.update([0u8]),
            Some(d) => {
                h.update([1u8]);
                h.update((d.len() as u64).to_be_bytes());
                h.update(d);
            }
        }
        NodeDigest {
            data: h.finalize().into(),
            acl: sha1(acl_text.as_bytes()),
            kind,
        }
    }

    fn hash(&self) -> Hash {
        let mut h = Sha1::new();
        h.update(self.data);
        h.update(self.acl);
        h.update([self.kind as u8]);
        h.finalize().into()
    }
}

/// One node of a tree being verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub node: NodeDigest,
    /// Child names, sorted.
    pub children: Vec<String>,
    /// The parent's sequential counter (stored cversion), when the node has ever had a child.
    pub counter: Option<i64>,
}

/// A subtree as digests, by path relative to its root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub nodes: BTreeMap<String, Entry>,
}

impl Tree {
    pub fn insert(&mut self, rel: String, entry: Entry) {
        self.nodes.insert(rel, entry);
    }

    /// Drops children that are not in the tree (left out by policy, or gone while reading),
    /// so the child lists and the node set agree.
    pub fn prune_children(&mut self) {
        let names: BTreeMap<String, Vec<String>> = self
            .nodes
            .keys()
            .filter(|p| p.as_str() != "/")
            .fold(BTreeMap::new(), |mut m, p| {
                m.entry(parent(p).to_string())
                    .or_default()
                    .push(p.rsplit('/').next().unwrap_or("").to_string());
                m
            });
        for (path, e) in self.nodes.iter_mut() {
            let mut c = names.get(path).cloned().unwrap_or_default();
            c.sort();
            e.children = c;
        }
    }

    /// Merkle hash of every subtree.
    pub fn subtree_hashes(&self) -> BTreeMap<&str, Hash> {
        let mut out: BTreeMap<&str, Hash> = BTreeMap::new();
        // Deepest first, so every child's hash exists before its parent's.
        let mut order: Vec<&String> = self.nodes.keys().collect();
        order.sort_by_key(|p| std::cmp::Reverse(super::paths::depth(p)));
        for path in order {
            let e = &self.nodes[path];
            let mut h = Sha1::new();
            h.update(e.node.hash());
            for c in &e.children {
                let cp = join(path, c);
                h.update((c.len() as u32).to_be_bytes());
                h.update(c.as_bytes());
                h.update(out.get(cp.as_str()).copied().unwrap_or([0; 20]));
            }
            out.insert(path.as_str(), h.finalize().into());
        }
        out
    }
}

/// How a node differs between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DiffKind {
    /// On the source only (missing on the destination).
    OnlySource,
    /// On the destination only (extra).
    OnlyDestination,
    Data,
    Acl,
    Type,
    /// The next sequential suffix differs.
    Counter {
        source_next: i64,
        destination_next: i64,
    },
}

/// One difference, by path relative to the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelDiff {
    pub rel: String,
    #[serde(flatten)]
    pub kind: DiffKind,
}

/// Compares two trees top-down and lists every differing path. Returns the differences and
/// how many node pairs were looked at.
pub fn compare(src: &Tree, dst: &Tree) -> (Vec<RelDiff>, usize) {
    let hs = src.subtree_hashes();
    let hd = dst.subtree_hashes();
    let mut out = Vec::new();
    let mut visited = 0;
    let mut stack = vec!["/".to_string()];
    while let Some(rel) = stack.pop() {
        visited += 1;
        match (src.nodes.get(&rel), dst.nodes.get(&rel)) {
            (None, None) => {}
            (Some(_), None) => all_below(src, &rel, DiffKind::OnlySource, &mut out),
            (None, Some(_)) => all_below(dst, &rel, DiffKind::OnlyDestination, &mut out),
            (Some(a), Some(b)) => {
                if hs.get(rel.as_str()) == hd.get(rel.as_str()) {
                    // The subtrees are equal; only the counters are outside the hash.
                    counters_below(src, dst, &rel, &mut out);
                    continue;
                }
                node_diffs(&rel, a, b, &mut out);
                let mut names: Vec<&String> = a.children.iter().chain(&b.children).collect();
                names.sort();
                names.dedup();
                for n in names.into_iter().rev() {
                    stack.push(join(&rel, n));
                }
            }
        }
    }
    out.sort_by(|x, y| x.rel.cmp(&y.rel));
    (out, visited)
}

fn node_diffs(rel: &str, a: &Entry, b: &Entry, out: &mut Vec<RelDiff>) {
    let mut push = |kind| {
        out.push(RelDiff {
            rel: rel.to_string(),
            kind,
        })
    };
    if a.node.data != b.node.data {
        push(DiffKind::Data);
    }
    if a.node.acl != b.node.acl {
        push(DiffKind::Acl);
    }
    if a.node.kind != b.node.kind {
        push(DiffKind::Type);
    }
    if let Some(kind) = counter_diff(a, b) {
        push(kind);
    }
}

fn counter_diff(a: &Entry, b: &Entry) -> Option<DiffKind> {
    match (a.counter, b.counter) {
        (Some(s), d) if d != Some(s) => Some(DiffKind::Counter {
            source_next: s,
            destination_next: d.unwrap_or(0),
        }),
        _ => None,
    }
}

fn counters_below(src: &Tree, dst: &Tree, rel: &str, out: &mut Vec<RelDiff>) {
    let mut stack = vec![rel.to_string()];
    while let Some(p) = stack.pop() {
        let (Some(a), Some(b)) = (src.nodes.get(&p), dst.nodes.get(&p)) else {
            continue;
        };
        if let Some(kind) = counter_diff(a, b) {
            out.push(RelDiff {
                rel: p.clone(),
                kind,
            });
        }
        stack.extend(a.children.iter().map(|c| join(&p, c)));
    }
}

fn all_below(tree: &Tree, rel: &str, kind: DiffKind, out: &mut Vec<RelDiff>) {
    let mut stack = vec![rel.to_string()];
    while let Some(p) = stack.pop() {
        if let Some(e) = tree.nodes.get(&p) {
            stack.extend(e.children.iter().map(|c| join(&p, c)));
            out.push(RelDiff {
                rel: p,
                kind: kind.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(data: &str, acl: &str) -> Entry {
        Entry {
            node: NodeDigest::new(Some(data.as_bytes()), acl, NodeKind::Persistent),
            children: Vec::new(),
            counter: None,
        }
    }

    fn tree(nodes: &[(&str, &str, &str)]) -> Tree {
        let mut t = Tree::default();
        for (p, d, a) in nodes {
            t.insert(p.to_string(), entry(d, a));
        }
        t.prune_children();
        t
    }

    #[test]
    fn equal_trees_have_no_differences() {
        let a = tree(&[("/", "r", "w"), ("/a", "1", "w"), ("/a/b", "2", "w")]);
        let (diffs, visited) = compare(&a, &a.clone());
        assert!(diffs.is_empty());
        assert_eq!(visited, 1, "equal root hashes end the descent");
    }

    #[test]
    fn finds_a_changed_byte_an_acl_and_an_extra_node_along_their_paths_only() {
        let mut src = vec![("/", "r", "w")];
        let names: Vec<String> = (0..100).map(|i| format!("/n{i:03}")).collect();
        src.extend(names.iter().map(|n| (n.as_str(), "v", "w")));
        let a = tree(&src);
        let mut dst = src.clone();
        dst[5].1 = "V";
        dst[9].2 = "r";
        dst.push(("/n050/extra", "x", "w"));
        let b = tree(&dst);
        let (diffs, visited) = compare(&a, &b);
        let got: Vec<(String, DiffKind)> = diffs.into_iter().map(|d| (d.rel, d.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("/n004".to_string(), DiffKind::Data),
                ("/n008".to_string(), DiffKind::Acl),
                ("/n050/extra".to_string(), DiffKind::OnlyDestination),
            ]
        );
        assert_eq!(visited, 102);
    }

    #[test]
    fn null_and_empty_data_differ_and_counters_are_compared() {
        let n = NodeDigest::new(None, "a", NodeKind::Persistent);
        let e = NodeDigest::new(Some(b""), "a", NodeKind::Persistent);
        assert_ne!(n, e);
        let mut a = tree(&[("/", "r", "w")]);
        let mut b = a.clone();
        a.nodes.get_mut("/").unwrap().counter = Some(7);
        b.nodes.get_mut("/").unwrap().counter = Some(5);
        let (diffs, _) = compare(&a, &b);
        assert_eq!(
            diffs[0].kind,
            DiffKind::Counter {
                source_next: 7,
                destination_next: 5
            }
        );
    }
}
