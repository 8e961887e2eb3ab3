//! Verification: a Merkle digest of every migrated subtree on both clusters, compared
//! top-down (see [`digest`](super::digest)). The source side is seen through the plan: the
//! ACL policy applied, ephemerals and excluded paths left out, and, while the source is
//! fenced, its original ACLs. Differences are listed by path on both sides.

use std::time::Instant;

use serde::Serialize;

use super::acl::canonical;
use super::checkpoint::{acl_text, VerifySummary};
use super::digest::{compare, DiffKind, Entry, NodeDigest, NodeKind, Tree};
use super::engine::{
    now_ms, read_nodes, stored_counter, walk, Engine, Walked, PARALLEL, PUMP_NAME,
};
use super::plan::EphemeralPolicy;
use super::progress::Progress;
use super::MigrateError;

/// One differing path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The source path, when the node exists there or would.
    pub source: String,
    pub destination: String,
    #[serde(flatten)]
    pub kind: DiffKind,
}

impl Difference {
    /// A short phrase for the kind.
    pub fn describe(&self) -> String {
        match &self.kind {
            DiffKind::OnlySource => "missing on the destination".into(),
            DiffKind::OnlyDestination => "only on the destination".into(),
            DiffKind::Data => "data differs".into(),
            DiffKind::Acl => "ACL differs".into(),
            DiffKind::Type => "node type differs".into(),
            DiffKind::Counter {
                source_next,
                destination_next,
            } => format!("next sequential suffix {destination_next} (source {source_next})"),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub equal: bool,
    pub nodes_source: u64,
    pub nodes_destination: u64,
    /// Node pairs looked at while descending.
    pub compared: u64,
    pub differences: Vec<Difference>,
    pub elapsed_ms: u64,
}

impl VerifyReport {
    pub fn to_text(&self) -> String {
        let mut t = if self.equal {
            format!(
                "verified: {} nodes equal on both sides (data, ACL, type, sequential counters) in {:.1} s\n",
                self.nodes_source,
                self.elapsed_ms as f64 / 1000.0
            )
        } else {
            format!(
                "{} differences ({} nodes on the source, {} on the destination):\n",
                self.differences.len(),
                self.nodes_source,
                self.nodes_destination
            )
        };
        for d in &self.differences {
            t.push_str(&format!("  {:<40} {}\n", d.destination, d.describe()));
        }
        t
    }
}

/// Which side a tree is read from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Source,
    Destination,
}

impl Engine {
    pub async fn verify(&mut self) -> Result<VerifyReport, MigrateError> {
        let started = Instant::now();
        self.emit(Progress::Step {
            text: "verifying: digests of both trees".into(),
        });
        let mut report = VerifyReport {
            equal: true,
            nodes_source: 0,
            nodes_destination: 0,
            compared: 0,
            differences: Vec::new(),
            elapsed_ms: 0,
        };
        let roots: Vec<(String, String)> = self
            .map
            .roots()
            .map(|(s, d)| (s.to_string(), d.to_string()))
            .collect();
        for (s_root, d_root) in roots {
            let (a, b) = futures::join!(
                self.digest_tree(End::Source, &s_root),
                self.digest_tree(End::Destination, &d_root)
            );
            let (a, b) = (a?, b?);
            report.nodes_source += a.nodes.len() as u64;
            report.nodes_destination += b.nodes.len() as u64;
            let (diffs, visited) = compare(&a, &b);
            report.compared += visited as u64;
            report
                .differences
                .extend(diffs.into_iter().map(|d| Difference {
                    source: rebase(&s_root, &d.rel),
                    destination: rebase(&d_root, &d.rel),
                    kind: d.kind,
                }));
        }
        report.equal = report.differences.is_empty();
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        self.ck.verify = Some(VerifySummary {
            equal: report.equal,
            differences: report.differences.len() as u64,
            nodes_source: report.nodes_source,
            nodes_destination: report.nodes_destination,
            at_unix_ms: now_ms(),
        });
        self.save()?;
        Ok(report)
    }

    /// The digest tree of one root, seen through the plan.
    async fn digest_tree(&self, end: End, root: &str) -> Result<Tree, MigrateError> {
        let (client, label) = match end {
            End::Source => (&self.src.client, &self.src.side.label),
            End::Destination => (&self.dst.client, &self.dst.side.label),
        };
        let map = &self.map;
        let keep = |p: &str| match end {
            End::Source => map.covers(p),
            End::Destination => map.to_source(p).is_some() && !p.ends_with(PUMP_NAME),
        };
        let w: Walked = walk(client, root, &keep)
            .await
            .map_err(|e| MigrateError::zk(label, e))?;
        if let Some((p, why)) = w.unreadable.first() {
            return Err(MigrateError::Unreadable {
                path: p.clone(),
                why: why.clone(),
            });
        }
        let paths: Vec<String> = w
            .nodes
            .iter()
            .filter(|(_, (stat, _))| end == End::Destination || !self.skips(stat))
            .map(|(p, _)| p.clone())
            .collect();
        let mut tree = Tree::default();
        for chunk in paths.chunks(PARALLEL) {
            let reads = read_nodes(client, chunk)
                .await
                .map_err(|e| MigrateError::zk(label, e))?;
            for (path, read) in chunk.iter().zip(reads) {
                let Some(n) = read else { continue };
                let dst_path = match end {
                    End::Source => map.to_destination(path),
                    End::Destination => Some(path.clone()),
                };
                let untouchable = dst_path.as_deref().is_some_and(|d| self.untouchable(d));
                let ephemeral = n.stat.ephemeral_owner != 0
                    && !(end == End::Source && self.ephemerals == EphemeralPolicy::Persistent);
                let kind = if ephemeral {
                    NodeKind::Ephemeral
                } else {
                    NodeKind::Persistent
                };
                let node = if untouchable {
                    NodeDigest::new(None, "left as it was", NodeKind::Persistent)
                } else {
                    let acl = match end {
                        End::Source => canonical(&self.wanted_acl(path, &n.acl)),
                        End::Destination => canonical(&self.destination_acl(path, &n.acl)),
                    };
                    NodeDigest::new(n.data.as_deref(), &acl_text(&acl), kind)
                };
                let counter = stored_counter(&n.stat);
                tree.insert(
                    relative(root, path),
                    Entry {
                        node,
                        children: Vec::new(),
                        counter: (counter > 0 && !untouchable).then_some(counter),
                    },
                );
            }
            let (s, d) = match end {
                End::Source => (tree.nodes.len() as u64, 0),
                End::Destination => (0, tree.nodes.len() as u64),
            };
            self.emit(Progress::Verify {
                source: s,
                destination: d,
            });
        }
        tree.prune_children();
        Ok(tree)
    }
}

fn relative(root: &str, path: &str) -> String {
    if path == root {
        return "/".into();
    }
    if root == "/" {
        return path.to_string();
    }
    path[root.len()..].to_string()
}

fn rebase(root: &str, rel: &str) -> String {
    match (root, rel) {
        (r, "/") => r.to_string(),
        ("/", r) => r.to_string(),
        (r, rel) => format!("{r}{rel}"),
    }
}
