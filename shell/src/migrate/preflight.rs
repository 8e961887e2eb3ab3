//! The preflight: everything worth knowing before a migration writes anything, read from
//! both clusters without changing either. Reachability and versions (`srvr` on every
//! server), node and byte counts per subtree (getAllChildrenNumber, then a walk of the
//! stats, or a sample of it past [`WALK_NODES_MAX`]), ephemerals that will be skipped,
//! sequential parents whose counters will be carried, nodes whose data or ACL the migrator
//! cannot read, conflicts at the destination, the destination's size now and after, and an
//! estimated duration from measured latencies.

use std::fmt::Write as _;
use std::time::Instant;

use futures::future::join_all;
use serde::Serialize;
use zk_proto::data::perms;
use zk_proto::ErrorCode;

use crate::client::Client;
use crate::commands::servers::{four_letter, parse_srvr};

use super::engine::{stored_counter, walk, Endpoint, PARALLEL};
use super::paths::{join, PathMap};
use super::plan::{AclPolicy, ConflictPolicy, EphemeralPolicy, Plan};
use super::MigrateError;

/// Past this many nodes the preflight samples instead of walking every stat.
pub const WALK_NODES_MAX: u64 = 500_000;
/// Examples listed per finding.
const EXAMPLES_MAX: usize = 20;
/// Subtrees below each root listed with their own counts.
const PARTS_MAX: usize = 10;
/// Round trips timed to measure latency.
const LATENCY_PROBES: usize = 20;
/// Requests sent at once to measure pipelined throughput.
const THROUGHPUT_PROBES: usize = 1000;

/// One server's `srvr`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerReport {
    pub host: String,
    pub version: String,
    pub mode: String,
    pub zxid: Option<String>,
    pub error: Option<String>,
}

/// One cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterReport {
    pub label: String,
    pub connect: String,
    pub reachable: bool,
    pub error: Option<String>,
    pub servers: Vec<ServerReport>,
    /// Mean round trip of a read, in milliseconds.
    pub latency_ms: f64,
    /// Pipelined reads per second.
    pub reads_per_s: f64,
    /// `zk_znode_count` and `zk_approximate_data_size` from `mntr`, when allowed.
    pub znodes: Option<u64>,
    pub data_bytes: Option<u64>,
}

/// One top-level subtree.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubtreeReport {
    pub source: String,
    pub destination: String,
    pub nodes: u64,
    pub bytes: u64,
    /// False when bytes were extrapolated from a sample.
    pub exact: bool,
    /// The largest subtrees right below the root: (path, nodes, bytes), biggest first.
    pub parts: Vec<(String, u64, u64)>,
}

/// A parent whose counter is carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SequentialParent {
    pub path: String,
    /// The next sequential suffix on the source.
    pub next_suffix: i64,
    pub children: i32,
}

/// A finding with a count and a few examples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub count: u64,
    pub examples: Vec<String>,
}

impl Finding {
    fn add(&mut self, example: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES_MAX {
            self.examples.push(example);
        }
    }
}

/// The preflight report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PreflightReport {
    pub source: ClusterReport,
    pub destination: ClusterReport,
    pub subtrees: Vec<SubtreeReport>,
    pub nodes: u64,
    pub bytes: u64,
    pub largest_node_bytes: u64,
    pub ephemerals: Finding,
    pub sequential_parents: Vec<SequentialParent>,
    /// Parents whose counter is ahead of their child count (create+delete pumps needed).
    pub counters_to_carry: u64,
    pub unreadable: Finding,
    /// Nodes whose ACL would keep the migrator from changing them on the destination later
    /// (the catch-up then needs super on the destination).
    pub locked_on_destination: Finding,
    pub conflicts: Finding,
    pub estimated_s: f64,
    pub notes: Vec<String>,
    /// Problems that stop the migration.
    pub problems: Vec<String>,
}

impl PreflightReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn to_text(&self) -> String {
        let mut t = String::new();
        for (role, c) in [("source", &self.source), ("destination", &self.destination)] {
            let _ = writeln!(t, "{role}: {} ({})", c.label, c.connect);
            if !c.reachable {
                let _ = writeln!(t, "  UNREACHABLE: {}", c.error.as_deref().unwrap_or("?"));
                continue;
            }
            for s in &c.servers {
                match &s.error {
                    Some(e) => drop(writeln!(t, "  {:<22} down: {e}", s.host)),
                    None => drop(writeln!(
                        t,
                        "  {:<22} {} {} zxid {}",
                        s.host,
                        s.version,
                        s.mode,
                        s.zxid.as_deref().unwrap_or("?")
                    )),
                }
            }
            let _ = write!(
                t,
                "  latency {:.2} ms, {:.0} pipelined reads/s",
                c.latency_ms, c.reads_per_s
            );
            if let (Some(n), Some(b)) = (c.znodes, c.data_bytes) {
                let _ = write!(t, ", {n} znodes / {} now", bytes(b));
            }
            t.push('\n');
        }
        t.push_str("subtrees:\n");
        for s in &self.subtrees {
            let _ = writeln!(
                t,
                "  {:<30} -> {:<30} {:>9} nodes {:>10}{}",
                s.source,
                s.destination,
                s.nodes,
                bytes(s.bytes),
                if s.exact { "" } else { " (sampled)" }
            );
            for (p, n, b) in &s.parts {
                let _ = writeln!(t, "    {p:<62} {n:>9} nodes {:>10}", bytes(*b));
            }
        }
        let _ = writeln!(
            t,
            "total: {} nodes, {} (largest node {})",
            self.nodes,
            bytes(self.bytes),
            bytes(self.largest_node_bytes)
        );
        finding(&mut t, "ephemerals left out", &self.ephemerals);
        let _ = writeln!(
            t,
            "sequential parents: {} ({} counters to carry with create+delete pairs)",
            self.sequential_parents.len(),
            self.counters_to_carry
        );
        for p in self.sequential_parents.iter().take(EXAMPLES_MAX) {
            let _ = writeln!(
                t,
                "  {} next suffix {:010} ({} children)",
                p.path, p.next_suffix, p.children
            );
        }
        finding(&mut t, "unreadable on the source", &self.unreadable);
        finding(
            &mut t,
            "ACLs that lock the migrator out on the destination",
            &self.locked_on_destination,
        );
        finding(&mut t, "conflicts at the destination", &self.conflicts);
        let _ = writeln!(t, "estimated copy time: {:.0} s", self.estimated_s.ceil());
        for n in &self.notes {
            let _ = writeln!(t, "note: {n}");
        }
        for p in &self.problems {
            let _ = writeln!(t, "PROBLEM: {p}");
        }
        t.push_str(if self.ok() {
            "preflight passed\n"
        } else {
            "preflight found problems\n"
        });
        t
    }
}

fn finding(t: &mut String, what: &str, f: &Finding) {
    let _ = writeln!(t, "{what}: {}", f.count);
    for e in &f.examples {
        let _ = writeln!(t, "  {e}");
    }
    if f.count > f.examples.len() as u64 {
        let _ = writeln!(t, "  ... and {} more", f.count - f.examples.len() as u64);
    }
}

/// Bytes as a short human figure.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// True when a name ends like a sequential child (`%010d`, or a wrapped negative counter).
pub fn looks_sequential(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 10 && {
        let tail = &b[b.len() - 10..];
        tail.iter().all(u8::is_ascii_digit)
            || (tail[0] == b'-' && tail[1..].iter().all(u8::is_ascii_digit))
    }
}

async fn servers(connect: &str) -> Vec<ServerReport> {
    let hosts: Vec<String> = connect
        .split('/')
        .next()
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    join_all(hosts.into_iter().map(|host| async move {
        match four_letter(&host, "srvr").await {
            Ok(text) if text.contains("Mode:") => {
                let s = parse_srvr(&text);
                ServerReport {
                    host,
                    version: s.version,
                    mode: s.mode,
                    zxid: s.zxid.map(|z| format!("0x{z:x}")),
                    error: None,
                }
            }
            Ok(text) => ServerReport {
                host,
                error: Some(format!("srvr answered {:?}", text.trim())),
                ..Default::default()
            },
            Err(e) => ServerReport {
                host,
                error: Some(e),
                ..Default::default()
            },
        }
    }))
    .await
}

/// `mntr` totals of the first server that answers.
async fn sizes(connect: &str) -> (Option<u64>, Option<u64>) {
    let first = connect
        .split('/')
        .next()
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("");
    let Ok(text) = four_letter(first.trim(), "mntr").await else {
        return (None, None);
    };
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    (get("zk_znode_count"), get("zk_approximate_data_size"))
}

/// Mean round trip and pipelined read rate against `path`.
async fn measure(client: &Client, path: &str) -> (f64, f64) {
    let t = Instant::now();
    for _ in 0..LATENCY_PROBES {
        let _ = client.exists(path, false).await;
    }
    let latency = t.elapsed().as_secs_f64() * 1000.0 / LATENCY_PROBES as f64;
    let t = Instant::now();
    join_all((0..THROUGHPUT_PROBES).map(|_| client.exists(path, false))).await;
    let rate = THROUGHPUT_PROBES as f64 / t.elapsed().as_secs_f64().max(1e-6);
    (latency, rate)
}

async fn cluster(ep: &Endpoint, probe: &str) -> ClusterReport {
    let (latency_ms, reads_per_s) = measure(&ep.client, probe).await;
    let (znodes, data_bytes) = sizes(&ep.side.connect).await;
    ClusterReport {
        label: ep.side.label.clone(),
        connect: ep.side.connect.clone(),
        reachable: true,
        error: None,
        servers: servers(&ep.side.connect).await,
        latency_ms,
        reads_per_s,
        znodes,
        data_bytes,
    }
}

/// Runs the preflight. Nothing is written anywhere.
pub async fn run(
    plan: &Plan,
    src: Result<Endpoint, MigrateError>,
    dst: Result<Endpoint, MigrateError>,
) -> Result<PreflightReport, MigrateError> {
    let map = plan.path_map()?;
    let mut r = PreflightReport::default();
    let (src, dst) = match (src, dst) {
        (Ok(s), Ok(d)) => (s, d),
        (s, d) => {
            for (c, side, res) in [
                (&mut r.source, &plan.source, s.as_ref().err()),
                (&mut r.destination, &plan.destination, d.as_ref().err()),
            ] {
                c.label = side.label.clone();
                c.connect = side.connect.clone();
                c.reachable = res.is_none();
                c.error = res.map(|e| e.to_string());
                c.servers = servers(&side.connect).await;
                if let Some(e) = res {
                    r.problems
                        .push(format!("{} is unreachable: {e}", side.label));
                }
            }
            return Ok(r);
        }
    };
    r.source = cluster(&src, &map.source_roots()[0]).await;
    r.destination = cluster(&dst, "/").await;
    for (s_root, d_root) in map.roots() {
        scan_subtree(plan, &map, &src, &dst, s_root, d_root, &mut r).await?;
    }
    r.nodes = r.subtrees.iter().map(|s| s.nodes).sum();
    r.bytes = r.subtrees.iter().map(|s| s.bytes).sum();
    r.estimated_s = estimate(plan, &r);
    notes(plan, &dst, &mut r);
    Ok(r)
}

/// Three reads per node on the source, one create per node on the destination (in multis),
/// plus one sweep of two reads per node on each side.
fn estimate(plan: &Plan, r: &PreflightReport) -> f64 {
    let n = r.nodes as f64;
    let reads = 3.0 * n / r.source.reads_per_s.max(1.0);
    let multis = (n / plan.copy.batch_ops_max as f64).ceil()
        + (r.bytes as f64 / plan.copy.batch_bytes_max as f64).ceil();
    // A multi is one proposal with an fsync; allow ten round trips for it.
    let writes = multis * r.destination.latency_ms.max(0.1) * 10.0
        / 1000.0
        / plan.copy.multis_in_flight as f64;
    let sweep = 2.0 * n / r.source.reads_per_s.max(1.0);
    let mut s = reads.max(writes) + sweep;
    if plan.copy.rate_nodes_per_s > 0 {
        s = s.max(n / plan.copy.rate_nodes_per_s as f64);
    }
    s
}

#[allow(clippy::too_many_arguments)]
async fn scan_subtree(
    plan: &Plan,
    map: &PathMap,
    src: &Endpoint,
    dst: &Endpoint,
    s_root: &str,
    d_root: &str,
    r: &mut PreflightReport,
) -> Result<(), MigrateError> {
    let zk = |e| MigrateError::zk(&src.side.label, e);
    let total = match src.client.get_all_children_number(s_root).await {
        Ok(n) => n as u64 + 1,
        Err(e) if e.is(ErrorCode::NO_NODE) => {
            r.problems
                .push(format!("source path {s_root} does not exist"));
            return Ok(());
        }
        Err(e) if e.is(ErrorCode::NO_AUTH) => {
            r.unreadable.add(format!("{s_root}: no READ permission"));
            return Ok(());
        }
        Err(e) => return Err(zk(e)),
    };
    let sampled = total > WALK_NODES_MAX;
    let keep = |p: &str| map.covers(p);
    let w = if sampled {
        sample_walk(&src.client, s_root, &keep).await.map_err(zk)?
    } else {
        walk(&src.client, s_root, &keep).await.map_err(zk)?
    };
    for (p, why) in &w.unreadable {
        r.unreadable.add(format!("{p}: {why}"));
    }
    let mut sub = SubtreeReport {
        source: s_root.to_string(),
        destination: d_root.to_string(),
        nodes: 0,
        bytes: 0,
        exact: !sampled,
        parts: Vec::new(),
    };
    let mut parts: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut seen_bytes = 0u64;
    let mut seen_nodes = 0u64;
    let mut kept_nodes = 0u64;
    for (path, (stat, children)) in &w.nodes {
        seen_nodes += 1;
        if stat.ephemeral_owner != 0 {
            r.ephemerals.add(path.clone());
            if plan.ephemerals == EphemeralPolicy::Skip {
                continue;
            }
        }
        kept_nodes += 1;
        if let Some(top) = top_level(s_root, path) {
            let e = parts.entry(top).or_default();
            e.0 += 1;
            e.1 += stat.data_length.max(0) as u64;
        }
        seen_bytes += stat.data_length.max(0) as u64;
        r.largest_node_bytes = r.largest_node_bytes.max(stat.data_length.max(0) as u64);
        let counter = stored_counter(stat);
        let seq = children.iter().any(|c| looks_sequential(c));
        if seq || counter > i64::from(stat.num_children) {
            r.sequential_parents.push(SequentialParent {
                path: path.clone(),
                next_suffix: counter,
                children: stat.num_children,
            });
            if counter > i64::from(stat.num_children) {
                r.counters_to_carry += 1;
            }
        }
    }
    sub.nodes = if sampled { total } else { kept_nodes };
    if sampled {
        // The walk saw a sample; getAllChildrenNumber gives each part's exact count.
        for (top, e) in parts.iter_mut() {
            if let Ok(n) = src.client.get_all_children_number(top).await {
                let avg = e.1 as f64 / e.0.max(1) as f64;
                *e = (n as u64 + 1, (avg * (n as f64 + 1.0)) as u64);
            }
        }
    }
    let mut parts: Vec<(String, u64, u64)> =
        parts.into_iter().map(|(p, (n, b))| (p, n, b)).collect();
    parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    parts.truncate(PARTS_MAX);
    sub.parts = parts;
    sub.bytes = if sampled {
        (seen_bytes as f64 / seen_nodes.max(1) as f64 * total as f64) as u64
    } else {
        seen_bytes
    };
    // ACLs: masked digest ids (no ADMIN on the source) cannot be copied, and ACLs that do
    // not grant the migrator write access on the destination stop the catch-up later.
    let paths: Vec<String> = w
        .nodes
        .iter()
        .filter(|(_, (s, _))| s.ephemeral_owner == 0 || plan.ephemerals != EphemeralPolicy::Skip)
        .map(|(p, _)| p.clone())
        .collect();
    for chunk in paths.chunks(PARALLEL) {
        let acls = join_all(chunk.iter().map(|p| src.client.get_acl(p))).await;
        for (p, a) in chunk.iter().zip(acls) {
            let acl = match a {
                Ok((acl, _)) => acl,
                Err(e) if e.is(ErrorCode::NO_NODE) => continue,
                Err(e) if e.is(ErrorCode::NO_AUTH) => {
                    r.unreadable.add(format!("{p}: ACL needs READ or ADMIN"));
                    continue;
                }
                Err(e) => return Err(zk(e)),
            };
            if super::acl::is_masked(&acl) && !matches!(plan.acl, AclPolicy::Replace(_)) {
                r.unreadable
                    .add(format!("{p}: digest hashes hidden (needs ADMIN)"));
            }
            let wanted = super::acl::transform(&plan.acl, &acl);
            let all = perms::CREATE | perms::DELETE | perms::WRITE | perms::ADMIN;
            if !dst.identity.granted(&wanted, all) {
                r.locked_on_destination.add(p.clone());
            }
        }
    }
    conflicts(plan, map, dst, d_root, &w, r).await?;
    r.subtrees.push(sub);
    Ok(())
}

/// The child of `root` that `path` is in (`None` for the root itself).
fn top_level(root: &str, path: &str) -> Option<String> {
    let rest = if root == "/" {
        path
    } else {
        path.strip_prefix(root)?
    };
    let name = rest.strip_prefix('/')?.split('/').next()?;
    (!name.is_empty()).then(|| join(root, name))
}

/// A walk that stops after [`WALK_NODES_MAX`] nodes (breadth-first, so it samples the top).
async fn sample_walk(
    client: &Client,
    root: &str,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<super::engine::Walked, crate::client::Error> {
    let mut w = super::engine::Walked::default();
    let mut level = vec![root.to_string()];
    while !level.is_empty() && (w.nodes.len() as u64) < WALK_NODES_MAX {
        let mut next = Vec::new();
        let lists = super::engine::list_nodes(client, &level).await?;
        for (p, l) in level.iter().zip(lists) {
            if let Some((children, stat)) = l {
                let kept: Vec<String> =
                    children.into_iter().filter(|c| keep(&join(p, c))).collect();
                next.extend(kept.iter().map(|c| join(p, c)));
                w.nodes.insert(p.clone(), (stat, kept));
            }
        }
        next.truncate(WALK_NODES_MAX as usize);
        level = next;
    }
    Ok(w)
}

async fn conflicts(
    plan: &Plan,
    map: &PathMap,
    dst: &Endpoint,
    d_root: &str,
    w: &super::engine::Walked,
    r: &mut PreflightReport,
) -> Result<(), MigrateError> {
    let dw = walk(&dst.client, d_root, &|p| {
        !crate::commands::bulk::is_reserved(p)
    })
    .await
    .map_err(|e| MigrateError::zk(&dst.side.label, e))?;
    for d in dw.nodes.keys().filter(|d| d.as_str() != "/") {
        let src_has = map.to_source(d).is_some_and(|s| w.nodes.contains_key(&s));
        if src_has || plan.conflicts == ConflictPolicy::Fail {
            r.conflicts.add(d.clone());
        }
    }
    if r.conflicts.count > 0 && plan.conflicts == ConflictPolicy::Fail {
        r.problems.push(format!(
            "{} destination nodes already exist and conflicts = \"fail\" (use \"overwrite\" or \"skip\")",
            r.conflicts.count
        ));
    }
    Ok(())
}

fn notes(plan: &Plan, dst: &Endpoint, r: &mut PreflightReport) {
    r.notes.push(
        "container and TTL nodes cannot be told apart from persistent ones through the client \
         API (their owner reads as 0); they are copied as persistent nodes, so a container or \
         TTL node on the source becomes an ordinary node on the destination"
            .into(),
    );
    if r.ephemerals.count > 0 && plan.ephemerals == EphemeralPolicy::Skip {
        r.notes.push(
            "ephemerals are not copied: their owners re-create them when they reconnect to the \
             destination after cutover"
                .into(),
        );
    }
    if r.locked_on_destination.count > 0 && !dst.identity.superuser {
        r.notes.push(format!(
            "{} nodes will have ACLs that deny the migrator writes on the destination; changes \
             to them (or below them) during the catch-up will fail unless the destination \
             credentials are a super user",
            r.locked_on_destination.count
        ));
    }
    if r.largest_node_bytes > super::plan::BATCH_BYTES_LIMIT as u64 {
        r.problems.push(format!(
            "a node of {} is larger than jute.maxbuffer allows",
            bytes(r.largest_node_bytes)
        ));
    }
    if r.unreadable.count > 0 {
        r.problems.push(format!(
            "{} source nodes cannot be read completely (add credentials, e.g. super, to [source] auth)",
            r.unreadable.count
        ));
    }
    if let (Some(now), true) = (r.destination.znodes, r.nodes > 0) {
        r.notes.push(format!(
            "the destination will hold about {} znodes and {} of data",
            now + r.nodes,
            bytes(r.destination.data_bytes.unwrap_or(0) + r.bytes)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_parts() {
        assert_eq!(top_level("/app", "/app/a/b").as_deref(), Some("/app/a"));
        assert_eq!(top_level("/app", "/app"), None);
        assert_eq!(top_level("/", "/x/y").as_deref(), Some("/x"));
        assert_eq!(top_level("/app", "/application"), None);
    }

    #[test]
    fn sequential_names() {
        assert!(looks_sequential("job-0000000007"));
        assert!(looks_sequential("0000000000"));
        assert!(looks_sequential("lock--000000001"));
        assert!(!looks_sequential("job-7"));
        assert!(!looks_sequential("config"));
    }
}
