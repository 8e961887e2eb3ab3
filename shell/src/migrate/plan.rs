//! The plan file: what to migrate, from where to where, and how. TOML, parsed into raw structs
//! that reject unknown keys, then validated into [`Plan`]. Every error names the key.
//!
//! ```toml
//! # Where the checkpoint lives; relative paths are relative to this file.
//! checkpoint = "orders.checkpoint.json"
//! exclude = ["/app/tmp"]          # source subtrees left out
//! ephemerals = "skip"             # or "persistent": copy ephemerals as persistent nodes
//! conflicts = "fail"              # destination nodes that already exist: "fail" | "overwrite" | "skip"
//!
//! [source]
//! cluster = "old"                 # a name from clusters.toml, or:
//! # connect = "10.0.0.1:2181,10.0.0.2:2181"
//! auth = ["digest:super:secret"]  # added to the cluster's own credentials
//! paths = ["/app", "/config"]
//!
//! [destination]
//! cluster = "new"
//! prefix = "/"                    # destination path = prefix + source path
//!
//! [acl]
//! policy = "preserve"             # or "replace" (with `replace`), or "remap" (with [[acl.remap]])
//! # replace = "world:anyone:cdrwa"
//! # [[acl.remap]]
//! # from = "alice"                # a digest user (any password), or "alice:HASH"
//! # to = "bob:HASH"               # or to = "bob" with password = "..."
//!
//! [copy]
//! batch_bytes_max = 524288        # bytes per multi, under jute.maxbuffer (1 MiB)
//! batch_ops_max = 1000            # operations per multi
//! batch_nodes_max = 2000          # nodes read per checkpointed batch
//! multis_in_flight = 8
//! rate_nodes_per_s = 0            # 0: unlimited
//! rate_bytes_per_s = 0
//! seq_pump_max = 1000000          # largest sequential-counter gap carried by create+delete pairs
//!
//! [catch_up]
//! reconcile_interval_s = 30       # full pzxid/mzxid reconciliation sweep
//!
//! [cutover]
//! fence = "acl"                   # or "confirm": the operator stops the writers
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zk_proto::Acl;

use crate::clusters::ClusterList;
use crate::commands::acl::{format_entry, parse_acl};

use super::paths::{normalize, PathMap};
use super::MigrateError;

/// The largest multi we allow: jute.maxbuffer (0xfffff) less room for the request header and
/// for the multi transaction's own framing on the server.
pub const BATCH_BYTES_LIMIT: usize = 1024 * 1024 - 64 * 1024;

/// What to do with ephemeral nodes of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EphemeralPolicy {
    /// Leave them out: they belong to live sessions, which re-create them after cutover.
    Skip,
    /// Copy them as persistent nodes (and delete the copy when the source node goes away).
    Persistent,
}

/// What to do with destination nodes that existed before the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictPolicy {
    /// Refuse to start when any mapped destination node exists.
    Fail,
    /// Replace their data and ACL with the source's (they are never deleted by rollback).
    Overwrite,
    /// Leave them as they are.
    Skip,
}

/// How the destination's ACLs are derived from the source's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclPolicy {
    /// The same entries.
    Preserve,
    /// One ACL for every node.
    Replace(Vec<Acl>),
    /// The same entries with digest users renamed (and re-hashed).
    Remap(Vec<DigestRemap>),
}

/// One digest user rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRemap {
    /// The user name to match.
    pub from_user: String,
    /// Only this exact hash, when given (`alice:HASH`); any password otherwise.
    pub from_hash: Option<String>,
    /// The id written instead (`bob:HASH`).
    pub to: String,
}

/// How to fence writers at cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FenceMode {
    /// A temporary ACL on every migrated source node that keeps READ only (the original ACLs
    /// are kept in the checkpoint and restored by rollback).
    Acl,
    /// The operator confirms that writers are stopped.
    Confirm,
}

/// One cluster end of the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// The cluster name, or the connect string when none was given.
    pub label: String,
    /// The connect string (hosts and optional chroot).
    pub connect: String,
    /// Credentials added to every session: (scheme, credentials).
    pub auth: Vec<(String, String)>,
}

/// Tuning of the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    pub batch_bytes_max: usize,
    pub batch_ops_max: usize,
    pub batch_nodes_max: usize,
    pub multis_in_flight: usize,
    /// 0: unlimited.
    pub rate_nodes_per_s: u64,
    /// 0: unlimited.
    pub rate_bytes_per_s: u64,
    pub seq_pump_max: u64,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            batch_bytes_max: 512 * 1024,
            batch_ops_max: 1000,
            batch_nodes_max: 2000,
            multis_in_flight: 8,
            rate_nodes_per_s: 0,
            rate_bytes_per_s: 0,
            seq_pump_max: 1_000_000,
        }
    }
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: Side,
    pub destination: Side,
    /// Source roots, normalized, not nested in one another.
    pub paths: Vec<String>,
    /// Destination prefix (`/` keeps the source paths).
    pub prefix: String,
    pub exclude: Vec<String>,
    pub ephemerals: EphemeralPolicy,
    pub conflicts: ConflictPolicy,
    pub acl: AclPolicy,
    pub copy: CopyOptions,
    pub reconcile_interval_s: u64,
    pub fence: FenceMode,
    /// Where the checkpoint is written.
    pub checkpoint: PathBuf,
    /// The cluster names as written in the file (for re-writing the plan).
    source_cluster: Option<String>,
    destination_cluster: Option<String>,
    source_auth_text: Vec<String>,
    destination_auth_text: Vec<String>,
    remap_text: Vec<RawRemap>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    checkpoint: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    ephemerals: Option<EphemeralPolicy>,
    conflicts: Option<ConflictPolicy>,
    source: RawSource,
    destination: RawDestination,
    #[serde(default)]
    acl: RawAcl,
    #[serde(default)]
    copy: RawCopy,
    #[serde(default)]
    catch_up: RawCatchUp,
    #[serde(default)]
    cutover: RawCutover,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    cluster: Option<String>,
    connect: Option<String>,
    #[serde(default)]
    auth: Vec<String>,
    paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    cluster: Option<String>,
    connect: Option<String>,
    #[serde(default)]
    auth: Vec<String>,
    prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcl {
    policy: Option<String>,
    replace: Option<String>,
    #[serde(default)]
    remap: Vec<RawRemap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemap {
    from: String,
    to: String,
    password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopy {
    batch_bytes_max: Option<usize>,
    batch_ops_max: Option<usize>,
    batch_nodes_max: Option<usize>,
    multis_in_flight: Option<usize>,
    rate_nodes_per_s: Option<u64>,
    rate_bytes_per_s: Option<u64>,
    seq_pump_max: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatchUp {
    reconcile_interval_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCutover {
    fence: Option<FenceMode>,
}

fn bad(key: &str, why: impl std::fmt::Display) -> MigrateError {
    MigrateError::Plan(format!("key `{key}`: {why}"))
}

impl Plan {
    /// Reads and validates a plan file. Cluster names are looked up in `clusters`.
    pub fn load(path: &Path, clusters: &ClusterList) -> Result<Plan, MigrateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| MigrateError::Plan(format!("cannot read {}: {e}", path.display())))?;
        Plan::parse(&text, path, clusters)
            .map_err(|e| MigrateError::Plan(format!("{}: {}", path.display(), plain(&e))))
    }

    /// Validates plan text; `path` places a relative checkpoint path.
    pub fn parse(text: &str, path: &Path, clusters: &ClusterList) -> Result<Plan, MigrateError> {
        let raw: RawPlan = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            MigrateError::Plan(format!("line {line}: {}", e.message().trim()))
        })?;
        let source = side(
            "source",
            raw.source.cluster.as_deref(),
            raw.source.connect.as_deref(),
            &raw.source.auth,
            clusters,
        )?;
        let destination = side(
            "destination",
            raw.destination.cluster.as_deref(),
            raw.destination.connect.as_deref(),
            &raw.destination.auth,
            clusters,
        )?;
        let paths = raw
            .source
            .paths
            .iter()
            .map(|p| normalize(p).map_err(|e| bad("source.paths", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let prefix = normalize(raw.destination.prefix.as_deref().unwrap_or("/"))
            .map_err(|e| bad("destination.prefix", e))?;
        let exclude = raw
            .exclude
            .iter()
            .map(|p| normalize(p).map_err(|e| bad("exclude", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let acl = acl_policy(&raw.acl)?;
        let copy = copy_options(&raw.copy)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let checkpoint = match &raw.checkpoint {
            Some(c) => base.join(c),
            None => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "plan".into());
                base.join(format!("{stem}.checkpoint.json"))
            }
        };
        let plan = Plan {
            source,
            destination,
            paths,
            prefix,
            exclude,
            ephemerals: raw.ephemerals.unwrap_or(EphemeralPolicy::Skip),
            conflicts: raw.conflicts.unwrap_or(ConflictPolicy::Fail),
            acl,
            copy,
            reconcile_interval_s: raw.catch_up.reconcile_interval_s.unwrap_or(30).max(1),
            fence: raw.cutover.fence.unwrap_or(FenceMode::Acl),
            checkpoint,
            source_cluster: raw.source.cluster.clone(),
            destination_cluster: raw.destination.cluster.clone(),
            source_auth_text: raw.source.auth.clone(),
            destination_auth_text: raw.destination.auth.clone(),
            remap_text: raw.acl.remap.clone(),
        };
        plan.path_map()?;
        Ok(plan)
    }

    /// The source→destination path mapping with the excludes.
    pub fn path_map(&self) -> Result<PathMap, MigrateError> {
        let map = PathMap::new(&self.paths, &self.prefix, &self.exclude)
            .map_err(|e| bad("source.paths", e))?;
        if self.source.connect == self.destination.connect {
            for (src, dst) in map.roots() {
                if super::paths::is_under(dst, src) || super::paths::is_under(src, dst) {
                    return Err(bad(
                        "destination.prefix",
                        format!(
                            "source and destination are the same cluster and {src} overlaps {dst}"
                        ),
                    ));
                }
            }
        }
        Ok(map)
    }

    /// A short fingerprint of what the plan migrates; a checkpoint made for another plan is
    /// refused.
    pub fn fingerprint(&self) -> String {
        let mut text = String::new();
        let _ = write!(
            text,
            "{}|{}|{:?}|{}|{:?}|{:?}|{:?}|{:?}",
            self.source.connect,
            self.destination.connect,
            self.paths,
            self.prefix,
            self.exclude,
            self.ephemerals,
            self.conflicts,
            self.acl.to_text(),
        );
        super::digest::hex(&super::digest::sha1(text.as_bytes()))[..16].to_string()
    }

    /// The plan as a commented TOML file.
    pub fn to_toml(&self) -> String {
        let mut t = String::from("# zksh migrate plan (see `zksh migrate --help`)\n");
        let ck = self
            .checkpoint
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let _ = writeln!(t, "checkpoint = {ck:?}");
        let _ = writeln!(t, "exclude = {:?}", self.exclude);
        let _ = writeln!(
            t,
            "ephemerals = {:?}   # \"skip\" or \"persistent\"",
            lower(&self.ephemerals)
        );
        let _ = writeln!(
            t,
            "conflicts = {:?}   # \"fail\", \"overwrite\" or \"skip\"",
            lower(&self.conflicts)
        );
        t.push_str("\n[source]\n");
        side_toml(&mut t, self.source_cluster.as_deref(), &self.source);
        let _ = writeln!(t, "auth = {:?}", self.source_auth_text);
        let _ = writeln!(t, "paths = {:?}", self.paths);
        t.push_str("\n[destination]\n");
        side_toml(
            &mut t,
            self.destination_cluster.as_deref(),
            &self.destination,
        );
        let _ = writeln!(t, "auth = {:?}", self.destination_auth_text);
        let _ = writeln!(t, "prefix = {:?}", self.prefix);
        t.push_str("\n[acl]\n");
        match &self.acl {
            AclPolicy::Preserve => {
                t.push_str("policy = \"preserve\"   # or \"replace\", \"remap\"\n")
            }
            AclPolicy::Replace(acl) => {
                let text: Vec<String> = acl.iter().map(format_entry).collect();
                let _ = writeln!(t, "policy = \"replace\"\nreplace = {:?}", text.join(","));
            }
            AclPolicy::Remap(_) => {
                t.push_str("policy = \"remap\"\n");
                for r in &self.remap_text {
                    let _ = writeln!(t, "[[acl.remap]]\nfrom = {:?}\nto = {:?}", r.from, r.to);
                    if let Some(p) = &r.password {
                        let _ = writeln!(t, "password = {p:?}");
                    }
                }
            }
        }
        let c = &self.copy;
        let _ = write!(
            t,
            "\n[copy]\nbatch_bytes_max = {}\nbatch_ops_max = {}\nbatch_nodes_max = {}\n\
             multis_in_flight = {}\nrate_nodes_per_s = {}   # 0: unlimited\nrate_bytes_per_s = {}\n\
             seq_pump_max = {}\n",
            c.batch_bytes_max,
            c.batch_ops_max,
            c.batch_nodes_max,
            c.multis_in_flight,
            c.rate_nodes_per_s,
            c.rate_bytes_per_s,
            c.seq_pump_max
        );
        let _ = write!(
            t,
            "\n[catch_up]\nreconcile_interval_s = {}\n\n[cutover]\nfence = {:?}   # \"acl\" or \"confirm\"\n",
            self.reconcile_interval_s,
            lower(&self.fence)
        );
        t
    }

    /// A plan between two sides with default options (the wizard and `migrate plan` start
    /// here).
    pub fn new(source: Side, destination: Side, paths: Vec<String>, prefix: String) -> Plan {
        Plan {
            source,
            destination,
            paths,
            prefix,
            exclude: Vec::new(),
            ephemerals: EphemeralPolicy::Skip,
            conflicts: ConflictPolicy::Fail,
            acl: AclPolicy::Preserve,
            copy: CopyOptions::default(),
            reconcile_interval_s: 30,
            fence: FenceMode::Acl,
            checkpoint: PathBuf::from("plan.checkpoint.json"),
            source_cluster: None,
            destination_cluster: None,
            source_auth_text: Vec::new(),
            destination_auth_text: Vec::new(),
            remap_text: Vec::new(),
        }
    }

    /// Records which cluster names the sides came from, for [`Plan::to_toml`].
    pub fn set_cluster_names(&mut self, source: Option<String>, destination: Option<String>) {
        self.source_cluster = source;
        self.destination_cluster = destination;
    }

    /// Credentials given in the plan itself (beyond the cluster list), as text.
    pub fn set_auth_text(&mut self, source: Vec<String>, destination: Vec<String>) {
        self.source_auth_text = source;
        self.destination_auth_text = destination;
    }
}

impl AclPolicy {
    fn to_text(&self) -> String {
        match self {
            AclPolicy::Preserve => "preserve".into(),
            AclPolicy::Replace(a) => {
                let v: Vec<String> = a.iter().map(format_entry).collect();
                format!("replace {}", v.join(","))
            }
            AclPolicy::Remap(r) => format!("remap {r:?}"),
        }
    }
}

fn lower<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn plain(e: &MigrateError) -> String {
    match e {
        MigrateError::Plan(m) => m.clone(),
        other => other.to_string(),
    }
}

fn side_toml(t: &mut String, cluster: Option<&str>, side: &Side) {
    match cluster {
        Some(name) => {
            let _ = writeln!(t, "cluster = {name:?}");
        }
        None => {
            let _ = writeln!(t, "connect = {:?}", side.connect);
        }
    }
}

fn side(
    key: &str,
    cluster: Option<&str>,
    connect: Option<&str>,
    auth: &[String],
    clusters: &ClusterList,
) -> Result<Side, MigrateError> {
    let mut pairs = Vec::new();
    for a in auth {
        let (scheme, creds) = a
            .split_once(':')
            .filter(|(s, _)| !s.is_empty())
            .ok_or_else(|| {
                bad(
                    &format!("{key}.auth"),
                    format!("{a:?} is not scheme:credentials"),
                )
            })?;
        pairs.push((scheme.to_string(), creds.to_string()));
    }
    match (cluster, connect) {
        (Some(name), None) => {
            let c = clusters.get(name).ok_or_else(|| {
                bad(
                    &format!("{key}.cluster"),
                    format!("no cluster named {name:?} in the cluster list"),
                )
            })?;
            let mut all = c.auth_pairs();
            all.extend(pairs);
            Ok(Side {
                label: name.to_string(),
                connect: c.connect_string(),
                auth: all,
            })
        }
        (None, Some(connect)) => {
            crate::client::ConnectString::parse(connect)
                .map_err(|e| bad(&format!("{key}.connect"), e))?;
            Ok(Side {
                label: connect.to_string(),
                connect: connect.to_string(),
                auth: pairs,
            })
        }
        _ => Err(bad(
            &format!("{key}.cluster"),
            "give exactly one of `cluster` and `connect`",
        )),
    }
}

fn acl_policy(raw: &RawAcl) -> Result<AclPolicy, MigrateError> {
    match raw.policy.as_deref().unwrap_or("preserve") {
        "preserve" => Ok(AclPolicy::Preserve),
        "replace" => {
            let text = raw
                .replace
                .as_deref()
                .ok_or_else(|| bad("acl.replace", "policy \"replace\" needs an ACL"))?;
            Ok(AclPolicy::Replace(
                parse_acl(text).map_err(|e| bad("acl.replace", e))?,
            ))
        }
        "remap" => {
            if raw.remap.is_empty() {
                return Err(bad(
                    "acl.remap",
                    "policy \"remap\" needs [[acl.remap]] entries",
                ));
            }
            raw.remap
                .iter()
                .map(remap_entry)
                .collect::<Result<Vec<_>, _>>()
                .map(AclPolicy::Remap)
        }
        other => Err(bad(
            "acl.policy",
            format!("{other:?} is not \"preserve\", \"replace\" or \"remap\""),
        )),
    }
}

fn remap_entry(r: &RawRemap) -> Result<DigestRemap, MigrateError> {
    let (from_user, from_hash) = match r.from.split_once(':') {
        Some((u, h)) => (u.to_string(), Some(h.to_string())),
        None => (r.from.clone(), None),
    };
    let to = match (&r.password, r.to.contains(':')) {
        (Some(p), false) => super::acl::digest_id(&r.to, p),
        (None, true) => r.to.clone(),
        _ => {
            return Err(bad(
                "acl.remap.to",
                "give `to = \"user:HASH\"`, or `to = \"user\"` with `password`",
            ))
        }
    };
    if from_user.is_empty() {
        return Err(bad("acl.remap.from", "empty user"));
    }
    Ok(DigestRemap {
        from_user,
        from_hash,
        to,
    })
}

fn copy_options(raw: &RawCopy) -> Result<CopyOptions, MigrateError> {
    let d = CopyOptions::default();
    let c = CopyOptions {
        batch_bytes_max: raw.batch_bytes_max.unwrap_or(d.batch_bytes_max),
        batch_ops_max: raw.batch_ops_max.unwrap_or(d.batch_ops_max),
        batch_nodes_max: raw.batch_nodes_max.unwrap_or(d.batch_nodes_max),
        multis_in_flight: raw.multis_in_flight.unwrap_or(d.multis_in_flight),
        rate_nodes_per_s: raw.rate_nodes_per_s.unwrap_or(0),
        rate_bytes_per_s: raw.rate_bytes_per_s.unwrap_or(0),
        seq_pump_max: raw.seq_pump_max.unwrap_or(d.seq_pump_max),
    };
    if c.batch_bytes_max < 4096 || c.batch_bytes_max > BATCH_BYTES_LIMIT {
        return Err(bad(
            "copy.batch_bytes_max",
            format!("must be between 4096 and {BATCH_BYTES_LIMIT} (jute.maxbuffer less headroom)"),
        ));
    }
    for (key, v, max) in [
        ("copy.batch_ops_max", c.batch_ops_max, 10_000),
        ("copy.batch_nodes_max", c.batch_nodes_max, 100_000),
        ("copy.multis_in_flight", c.multis_in_flight, 256),
    ] {
        if v == 0 || v > max {
            return Err(bad(key, format!("must be between 1 and {max}")));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters() -> ClusterList {
        ClusterList::from_args(&["old=10.0.0.1:2181", "new=10.0.0.2:2181,10.0.0.3:2181"]).unwrap()
    }

    #[test]
    fn a_minimal_plan_takes_the_defaults() {
        let text =
            "[source]\ncluster = \"old\"\npaths = [\"/app/\"]\n[destination]\ncluster = \"new\"\n";
        let plan = Plan::parse(text, Path::new("/tmp/m/orders.toml"), &clusters()).unwrap();
        assert_eq!(plan.paths, vec!["/app"]);
        assert_eq!(plan.prefix, "/");
        assert_eq!(plan.destination.connect, "10.0.0.2:2181,10.0.0.3:2181");
        assert_eq!(plan.ephemerals, EphemeralPolicy::Skip);
        assert_eq!(plan.conflicts, ConflictPolicy::Fail);
        assert_eq!(plan.checkpoint, Path::new("/tmp/m/orders.checkpoint.json"));
        // What it writes reads back the same.
        let again = Plan::parse(
            &plan.to_toml(),
            Path::new("/tmp/m/orders.toml"),
            &clusters(),
        );
        assert_eq!(again.unwrap(), plan);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[source]\ncluster = \"nope\"\npaths = [\"/a\"]\n[destination]\ncluster = \"new\"\n", "source.cluster"),
            ("[source]\ncluster = \"old\"\npaths = [\"a\"]\n[destination]\ncluster = \"new\"\n", "source.paths"),
            ("[source]\ncluster = \"old\"\npaths = [\"/a\", \"/a/b\"]\n[destination]\ncluster = \"new\"\n", "source.paths"),
            ("[source]\ncluster = \"old\"\npaths = [\"/a\"]\n[destination]\ncluster = \"old\"\n", "destination.prefix"),
            ("[source]\ncluster = \"old\"\npaths = [\"/a\"]\n[destination]\ncluster = \"new\"\n[acl]\npolicy = \"replace\"\n", "acl.replace"),
            ("[source]\ncluster = \"old\"\npaths = [\"/a\"]\n[destination]\ncluster = \"new\"\n[copy]\nbatch_bytes_max = 2000000\n", "copy.batch_bytes_max"),
            ("[source]\ncluster = \"old\"\nconnect = \"h:1\"\npaths = [\"/a\"]\n[destination]\ncluster = \"new\"\n", "source.cluster"),
        ];
        for (text, key) in cases {
            let e = Plan::parse(text, Path::new("p.toml"), &clusters()).unwrap_err();
            assert!(e.to_string().contains(key), "{text}: {e}");
        }
        let e = Plan::parse("colour = 1\n", Path::new("p.toml"), &clusters()).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn remap_hashes_a_password() {
        let text = "[source]\ncluster = \"old\"\npaths = [\"/a\"]\n[destination]\ncluster = \"new\"\n\
                    [acl]\npolicy = \"remap\"\n[[acl.remap]]\nfrom = \"alice\"\nto = \"alice\"\npassword = \"secret\"\n";
        let plan = Plan::parse(text, Path::new("p.toml"), &clusters()).unwrap();
        let AclPolicy::Remap(r) = &plan.acl else {
            panic!("{:?}", plan.acl)
        };
        assert_eq!(r[0].to, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
    }
}
