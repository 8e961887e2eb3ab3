//! Apache ZooKeeper 3.8's metrics, one snapshot rendered three ways: `mntr` lines (the default
//! metrics provider's `zk_<key>\t<value>`), the AdminServer's `monitor` JSON, and the Prometheus
//! text format (`PrometheusMetricsProvider`, simpleclient 0.9.0) served on `metrics_port`.
//!
//! The key set and its order are Apache's: captured from a 3.8.0 standalone server and checked
//! against `ServerMetrics.java` and `ZooKeeperServer.registerMetrics`. Apache measures some
//! things zk-node has no equivalent for (its request-processor queues, JVM pauses, Netty
//! buffers, TLS); those keys are present so that dashboards and parsers find them, and report
//! 0. Which ones are measured is listed in [`gauge`], [`counter`] and [`summary`].
//!
//! A [`Snapshot`] is taken on the core task (cheap: numbers only) and rendered elsewhere.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::core::{Core, ToCore};
use super::ensemble::{self, EnsembleStats, EnsembleView};
use super::fourlw::VERSION;
use super::http::{self, Response};
use super::json::{Json, Obj};
use super::stats::{java_double, Summary, SummaryValues};
use crate::zab::PeerState;

/// Gauges in the order Apache 3.8's default provider prints them.
pub const GAUGES: &[&str] = &[
    "ephemerals_count",
    "num_alive_connections",
    "avg_latency",
    "outstanding_requests",
    "znode_count",
    "global_sessions",
    "non_mtls_remote_conn_count",
    "last_client_response_size",
    "packets_sent",
    "packets_received",
    "max_client_response_size",
    "connection_drop_probability",
    "watch_count",
    "auth_failed_count",
    "min_latency",
    "max_file_descriptor_count",
    "approximate_data_size",
    "open_file_descriptor_count",
    "local_sessions",
    "uptime",
    "max_latency",
    "outstanding_tls_handshake",
    "min_client_response_size",
    "non_mtls_local_conn_count",
];

/// Gauges of an ensemble leader, in the order Apache 3.8's default provider printed them on the
/// leader of a 3-voter + 1-observer ensemble: [`GAUGES`] with the leader's gauges
/// (`LeaderZooKeeperServer.registerMetrics`) and `quorum_size` interleaved in its hash order.
pub const LEADER_GAUGES: &[&str] = &[
    "ephemerals_count",
    "num_alive_connections",
    "avg_latency",
    "min_proposal_size",
    "outstanding_requests",
    "znode_count",
    "global_sessions",
    "non_mtls_remote_conn_count",
    "last_client_response_size",
    "packets_sent",
    "packets_received",
    "max_proposal_size",
    "max_client_response_size",
    "synced_followers",
    "connection_drop_probability",
    "watch_count",
    "synced_non_voting_followers",
    "synced_observers",
    "auth_failed_count",
    "min_latency",
    "max_file_descriptor_count",
    "approximate_data_size",
    "open_file_descriptor_count",
    "last_proposal_size",
    "pending_syncs",
    "leader_uptime",
    "local_sessions",
    "uptime",
    "max_latency",
    "outstanding_tls_handshake",
    "learners",
    "min_client_response_size",
    "non_mtls_local_conn_count",
    "quorum_size",
];

/// The gauges of a follower or observer (and of a member between roles): [`GAUGES`], then
/// `quorum_size` (`QuorumZooKeeperServer.registerMetrics`), as Apache 3.8 prints them.
fn member_gauges() -> impl Iterator<Item = &'static str> {
    GAUGES.iter().copied().chain(std::iter::once("quorum_size"))
}

/// Counters, in Apache's order.
pub const COUNTERS: &[&str] = &[
    "proposal_count",
    "watch_bytes",
    "outstanding_changes_removed",
    "throttled_ops",
    "stale_requests_dropped",
    "large_requests_rejected",
    "insecure_admin_count",
    "connection_rejected",
    "cnxn_closed_without_zk_server_running",
    "sessionless_connections_expired",
    "looking_count",
    "dead_watchers_queued",
    "stale_requests",
    "connection_drop_count",
    "learner_proposal_received_count",
    "digest_mismatches_count",
    "dead_watchers_cleared",
    "response_packet_cache_hits",
    "bytes_received_count",
    "add_dead_watcher_stall_time",
    "request_throttle_wait_count",
    "requests_not_forwarded_to_commit_processor",
    "response_packet_cache_misses",
    "ensemble_auth_success",
    "prep_processor_request_queued",
    "learner_commit_received_count",
    "stale_replies",
    "connection_request_count",
    "response_bytes",
    "ensemble_auth_fail",
    "diff_count",
    "response_packet_get_children_cache_misses",
    "connection_revalidate_count",
    "quit_leading_due_to_disloyal_voter",
    "snap_count",
    "unrecoverable_error_count",
    "unsuccessful_handshake",
    "commit_count",
    "stale_sessions_expired",
    "response_packet_get_children_cache_hits",
    "sync_processor_request_queued",
    "outstanding_changes_queued",
    "request_commit_queued",
    "ensemble_auth_skip",
    "skip_learner_request_to_next_processor_count",
    "tls_handshake_exceeded",
    "revalidate_count",
];

/// Basic summaries (avg/min/max/cnt/sum), in Apache's order.
pub const BASIC_SUMMARIES: &[&str] = &[
    "socket_closing_time",
    "proposal_process_time",
    "leader_unavailable_time",
    "node_created_watch_count",
    "session_queues_drained",
    "write_commit_proc_req_queued",
    "connection_token_deficit",
    "read_commit_proc_req_queued",
    "node_deleted_watch_count",
    "startup_txns_load_time",
    "sync_processor_queue_size",
    "follower_sync_time",
    "prep_processor_queue_size",
    "fsynctime",
    "inflight_snap_count",
    "reads_issued_from_session_queue",
    "learner_request_processor_queue_size",
    "snapshottime",
    "unavailable_time",
    "startup_txns_loaded",
    "reads_after_write_in_session_queue",
    "requests_in_session_queue",
    "write_commit_proc_issued",
    "prep_process_time",
    "pending_session_queue_size",
    "time_waiting_empty_pool_in_commit_processor_read_ms",
    "commit_process_time",
    "dbinittime",
    "inflight_diff_count",
    "netty_queued_buffer_capacity",
    "election_time",
    "commit_commit_proc_req_queued",
    "sync_processor_batch_size",
    "node_children_watch_count",
    "write_batch_time_in_commit_processor",
    "read_commit_proc_issued",
    "concurrent_request_processing_in_commit_processor",
    "observer_sync_time",
    "node_changed_watch_count",
    "sync_process_time",
    "startup_snap_load_time",
];

/// Advanced summaries (also p50/p95/p99/p999), in Apache's order.
pub const ADVANCED_SUMMARIES: &[&str] = &[
    "prep_processor_queue_time_ms",
    "jvm_pause_time_ms",
    "close_session_prep_time",
    "read_commitproc_time_ms",
    "updatelatency",
    "local_write_committed_time_ms",
    "request_throttle_queue_time_ms",
    "readlatency",
    "quorum_ack_latency",
    "om_commit_process_time_ms",
    "read_final_proc_time_ms",
    "commit_propagation_latency",
    "dead_watchers_cleaner_latency",
    "write_final_proc_time_ms",
    "proposal_ack_creation_latency",
    "proposal_latency",
    "om_proposal_process_time_ms",
    "sync_processor_queue_and_flush_time_ms",
    "propagation_latency",
    "server_write_committed_time_ms",
    "sync_processor_queue_time_ms",
    "sync_processor_queue_flush_time_ms",
    "write_commitproc_time_ms",
];

/// Basic summary sets (labelled by key) zk-node measures, in Apache's mntr order.
pub const SUMMARY_SETS: &[&str] = &["read_per_namespace", "write_per_namespace"];

/// Labelled families Apache registers that have samples only once a label (a quota, a learner)
/// has a value, which zk-node does not record yet. Prometheus lists their HELP and TYPE all the
/// same; mntr prints nothing for them, as Apache does while they are empty. (name, type)
const LABELLED: &[(&str, &str)] = &[
    ("quota_count_limit_per_namespace", "gauge"),
    ("quota_bytes_limit_per_namespace", "gauge"),
    ("quota_count_usage_per_namespace", "gauge"),
    ("quota_bytes_usage_per_namespace", "gauge"),
    ("quota_exceeded_error_per_namespace", "counter"),
    ("learner_handler_qp_size", "summary"),
    ("learner_handler_qp_time_ms", "summary"),
    ("ack_latency", "summary"),
];

/// A metric value as Apache's `MonitorCommand` prints it: integers as integers, other numbers
/// as Java doubles, strings verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    pub fn text(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => java_double(*f),
            Value::Str(s) => s.clone(),
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Str(_) => f64::NAN,
        }
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Json {
        match v {
            Value::Int(i) => Json::Int(i),
            Value::Float(f) => Json::Float(f),
            Value::Str(s) => Json::Str(s),
        }
    }
}

/// Everything `mntr`, `monitor` and `/metrics` report, taken at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `version`, `server_state` and, on quorum members, `peer_state`: printed first by `mntr`,
    /// not exported to Prometheus (Apache's `dumpMonitorValues`).
    pub header: Vec<(&'static str, Value)>,
    pub gauges: Vec<(&'static str, Value)>,
    pub counters: Vec<(&'static str, i64)>,
    pub summaries: Vec<(&'static str, SummaryValues)>,
    /// Labelled summaries: (name, [(key, values)]); advanced ones carry percentiles.
    pub summary_sets: Vec<(&'static str, Vec<(String, SummaryValues)>)>,
    /// Leader only, zk-node's addition: (sid, last acknowledged zxid) of each follower, so that
    /// replication lag reads from one place. `mntr` prints `zk_learner_<sid>_last_acked_zxid`
    /// with the zxid in **decimal** (a number, like every other mntr value; the epoch is the
    /// high 32 bits), the AdminServer's `monitor` the same keys, Prometheus the gauge family
    /// `learner_last_acked_zxid{key="<sid>"}`. Observers acknowledge nothing and are absent.
    pub learner_acks: Vec<(i64, i64)>,
}

/// The Prometheus family of [`Snapshot::learner_acks`].
pub const LEARNER_ACKS_FAMILY: &str = "learner_last_acked_zxid";

/// The mntr key of one learner's last acknowledged zxid (without `zk_`).
pub fn learner_ack_key(sid: i64) -> String {
    format!("learner_{sid}_last_acked_zxid")
}

/// The server's state as `srvr`, `mntr` and the AdminServer print it: `standalone`, or a
/// member's `leader`, `follower` or `observer`.
pub fn server_state(core: &Core) -> &'static str {
    core.ensemble_view()
        .as_ref()
        .map_or("standalone", ensemble::mode)
}

/// The node count as Apache reports it: its DataTree files the root under both "" and "/", so
/// `srvr`, `mntr` and the AdminServer count one more node than the tree holds (5 on a fresh
/// server). Reporting the same number keeps mixed Apache/zk-node fleets comparable.
pub fn znode_count(core: &Core) -> usize {
    core.tree.node_count() + 1
}

/// Whether the server is serving requests (Apache's `isRunning()`); when false, most commands
/// answer "This ZooKeeper instance is not currently serving requests". A standalone server
/// serves from the moment its core task runs; a member while it leads or learns in the
/// broadcast phase (not while electing, discovering or synchronizing).
pub fn serving(core: &Core) -> bool {
    core.ensemble_view()
        .as_ref()
        .is_none_or(EnsembleView::serving)
}

impl Snapshot {
    /// `extra_conns` counts connections the core does not track, such as the four-letter-word
    /// connection asking (Apache counts it among `num_alive_connections`).
    pub fn collect(core: &Core, extra_conns: usize) -> Snapshot {
        let fds = process::fds();
        let view = core.ensemble_view();
        let view = view.as_ref();
        let header = header(view, server_state(core));
        let gauges = gauge_names(view)
            .into_iter()
            .map(|n| {
                let v = match view {
                    Some(v) => ensemble_gauge(n, v, core.config(), &core.stats.ensemble),
                    None => None,
                };
                (n, v.unwrap_or_else(|| gauge(core, n, extra_conns, fds)))
            })
            .collect();
        let counters = COUNTERS.iter().map(|&n| (n, counter(core, n))).collect();
        let summaries = BASIC_SUMMARIES
            .iter()
            .chain(ADVANCED_SUMMARIES)
            .map(|&n| (n, summary(core, n)))
            .collect();
        let set = |m: &std::collections::BTreeMap<String, Summary>| {
            m.iter().map(|(k, s)| (k.clone(), s.values())).collect()
        };
        let summary_sets = summary_sets(
            view,
            set(&core.stats.read_per_namespace),
            set(&core.stats.write_per_namespace),
        );
        Snapshot {
            header,
            gauges,
            counters,
            summaries,
            summary_sets,
            learner_acks: view.map(ensemble::learner_acks).unwrap_or_default(),
        }
    }

    /// The (key, value) pairs of `mntr` without the `zk_` prefix, in Apache's order.
    pub fn monitor_pairs(&self) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = Vec::with_capacity(512);
        for (k, v) in self.header.iter().chain(&self.gauges) {
            out.push((k.to_string(), v.clone()));
        }
        // Where Apache's gauge sets go: after the gauges.
        for (sid, zxid) in &self.learner_acks {
            out.push((learner_ack_key(*sid), Value::Int(*zxid)));
        }
        for (k, v) in &self.counters {
            out.push((k.to_string(), Value::Int(*v)));
        }
        for (k, s) in &self.summaries {
            out.push((format!("avg_{k}"), Value::Float(s.avg)));
            out.push((format!("min_{k}"), Value::Int(s.min)));
            out.push((format!("max_{k}"), Value::Int(s.max)));
            out.push((format!("cnt_{k}"), Value::Int(s.count as i64)));
            out.push((format!("sum_{k}"), Value::Int(s.sum)));
            if let Some(p) = s.percentiles {
                for (q, v) in ["p50", "p95", "p99", "p999"].iter().zip(p) {
                    out.push((format!("{q}_{k}"), Value::Int(v)));
                }
            }
        }
        // Apache's AvgMinMaxCounterSet: `avg_<key>_<name>` and so on, per key (and the
        // percentiles of an AvgMinMaxPercentileCounterSet).
        for (name, entries) in &self.summary_sets {
            for (key, s) in entries {
                out.push((format!("avg_{key}_{name}"), Value::Float(s.avg)));
                out.push((format!("min_{key}_{name}"), Value::Int(s.min)));
                out.push((format!("max_{key}_{name}"), Value::Int(s.max)));
                out.push((format!("cnt_{key}_{name}"), Value::Int(s.count as i64)));
                out.push((format!("sum_{key}_{name}"), Value::Int(s.sum)));
                if let Some(p) = s.percentiles {
                    for (q, v) in ["p50", "p95", "p99", "p999"].iter().zip(p) {
                        out.push((format!("{q}_{key}_{name}"), Value::Int(v)));
                    }
                }
            }
        }
        out
    }

    /// `mntr`'s text: `zk_<key>\t<value>\n` per metric.
    pub fn mntr(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        for (k, v) in self.monitor_pairs() {
            let _ = writeln!(out, "zk_{k}\t{}", v.text());
        }
        out
    }

    /// The AdminServer's `monitor` object (without `command` and `error`).
    pub fn monitor_json(&self) -> Obj {
        let mut o = Obj::new();
        for (k, v) in self.monitor_pairs() {
            o.put(k, v);
        }
        o
    }

    /// The Prometheus text exposition (format 0.0.4) as simpleclient 0.9.0 writes it, plus the
    /// `process_*` family of its standard exports.
    pub fn prometheus(&self, proc_metrics: &process::Metrics) -> String {
        let mut out = String::with_capacity(32 * 1024);
        let family = |out: &mut String, name: &str, kind: &str| {
            let _ = write!(out, "# HELP {name} {name}\n# TYPE {name} {kind}\n");
        };
        for (k, v) in &self.gauges {
            family(&mut out, k, "gauge");
            let _ = writeln!(out, "{k} {}", prom_double(v.as_f64()));
        }
        if !self.learner_acks.is_empty() {
            let k = LEARNER_ACKS_FAMILY;
            family(&mut out, k, "gauge");
            for (sid, zxid) in &self.learner_acks {
                let _ = writeln!(out, "{k}{{key=\"{sid}\",}} {}", prom_double(*zxid as f64));
            }
        }
        for (k, v) in &self.counters {
            family(&mut out, k, "counter");
            let _ = writeln!(out, "{k} {}", prom_double(*v as f64));
        }
        for (k, s) in &self.summaries {
            family(&mut out, k, "summary");
            for (q, v) in &s.quantiles {
                let _ = writeln!(
                    out,
                    "{k}{{quantile=\"{}\",}} {}",
                    prom_double(*q),
                    prom_double(*v)
                );
            }
            let _ = writeln!(out, "{k}_count {}", prom_double(s.count as f64));
            let _ = writeln!(out, "{k}_sum {}", prom_double(s.sum as f64));
        }
        for (k, entries) in &self.summary_sets {
            family(&mut out, k, "summary");
            for (key, s) in entries {
                let key = escape_label(key);
                for (q, v) in &s.quantiles {
                    let _ = writeln!(
                        out,
                        "{k}{{key=\"{key}\",quantile=\"{}\",}} {}",
                        prom_double(*q),
                        prom_double(*v)
                    );
                }
                let _ = writeln!(
                    out,
                    "{k}_count{{key=\"{key}\",}} {}",
                    prom_double(s.count as f64)
                );
                let _ = writeln!(
                    out,
                    "{k}_sum{{key=\"{key}\",}} {}",
                    prom_double(s.sum as f64)
                );
            }
        }
        for (k, kind) in LABELLED {
            if !self.summary_sets.iter().any(|(name, _)| name == k) {
                family(&mut out, k, kind);
            }
        }
        proc_metrics.write(&mut out);
        out
    }
}

/// A label value as the Prometheus text format escapes it.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Go's formatting of a float as the Prometheus Java client writes it (`Double.toString`, with
/// `+Inf`, `-Inf` and `NaN`).
fn prom_double(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        java_double(v)
    }
}

/// `version`, `server_state`, and on a member `peer_state` (Apache's
/// `QuorumZooKeeperServer.dumpMonitorValues`) and on an observer `observer_master_id`.
fn header(view: Option<&EnsembleView>, state: &str) -> Vec<(&'static str, Value)> {
    let mut h = vec![
        ("version", Value::Str(VERSION.to_string())),
        ("server_state", Value::Str(state.to_string())),
    ];
    if let Some(v) = view {
        h.push(("peer_state", Value::Str(ensemble::peer_state(v.role()))));
        if v.role().state == PeerState::Observing {
            h.push((
                "observer_master_id",
                Value::Int(v.leader_id().unwrap_or(-1)),
            ));
        }
    }
    h
}

/// The gauges the server's role registers, in Apache's order.
fn gauge_names(view: Option<&EnsembleView>) -> Vec<&'static str> {
    match view {
        None => GAUGES.to_vec(),
        Some(v) if v.is_leader() && v.serving() => LEADER_GAUGES.to_vec(),
        Some(_) => member_gauges().collect(),
    }
}

/// The labelled summaries: on a leader Apache's per-learner `learner_handler_qp_size` (before
/// the namespaces) and `learner_handler_qp_time_ms` (after them, being a percentile set), keyed
/// by sid. zk-node does not measure the leader's per-learner queues, so they report 0.
fn summary_sets(
    view: Option<&EnsembleView>,
    read: Vec<(String, SummaryValues)>,
    write: Vec<(String, SummaryValues)>,
) -> Vec<(&'static str, Vec<(String, SummaryValues)>)> {
    let mut sids: Vec<i64> = view
        .filter(|v| v.is_leader() && v.serving())
        .map(|v| v.status.learners.iter().map(|l| l.sid.0).collect())
        .unwrap_or_default();
    sids.sort_unstable();
    let per_learner = |s: fn() -> Summary| -> Vec<(String, SummaryValues)> {
        sids.iter()
            .map(|sid| (sid.to_string(), s().values()))
            .collect()
    };
    let mut sets = Vec::with_capacity(4);
    if !sids.is_empty() {
        sets.push(("learner_handler_qp_size", per_learner(Summary::basic)));
    }
    sets.push(("read_per_namespace", read));
    sets.push(("write_per_namespace", write));
    if !sids.is_empty() {
        sets.push(("learner_handler_qp_time_ms", per_learner(Summary::advanced)));
    }
    sets
}

/// The value of an ensemble gauge (`None` for the gauges every server has).
fn ensemble_gauge(
    name: &str,
    view: &EnsembleView,
    cfg: &crate::config::Config,
    stats: &EnsembleStats,
) -> Option<Value> {
    let int = |v: usize| Value::Int(v as i64);
    Some(match name {
        "quorum_size" => int(ensemble::quorum_size(cfg)),
        "learners" => int(view.learners()),
        "synced_followers" => int(view.synced_followers()),
        "synced_non_voting_followers" => int(view.synced_non_voting_followers(cfg)),
        "synced_observers" => int(view.synced_observers()),
        "pending_syncs" => int(view.pending_syncs),
        "leader_uptime" => Value::Int(stats.leader_uptime_ms()),
        "last_proposal_size" => Value::Int(stats.proposal_sizes.last),
        "min_proposal_size" => Value::Int(stats.proposal_sizes.min),
        "max_proposal_size" => Value::Int(stats.proposal_sizes.max),
        _ => return None,
    })
}

fn gauge(core: &Core, name: &str, extra_conns: usize, fds: (i64, i64)) -> Value {
    let s = &core.stats;
    let t = &core.tree;
    let int = |v: usize| Value::Int(v as i64);
    match name {
        "ephemerals_count" => int(t.ephemeral_count()),
        "num_alive_connections" => int(core.connection_count() + extra_conns),
        "avg_latency" => Value::Float(s.avg()),
        "min_latency" => Value::Int(s.min()),
        "max_latency" => Value::Int(s.max()),
        "outstanding_requests" => int(core.outstanding()),
        "znode_count" => int(znode_count(core)),
        "global_sessions" => int(core.session_count()),
        "last_client_response_size" => Value::Int(s.client_response.last),
        "min_client_response_size" => Value::Int(s.client_response.min),
        "max_client_response_size" => Value::Int(s.client_response.max),
        "packets_sent" => Value::Int(s.packets_sent as i64),
        "packets_received" => Value::Int(s.packets_received as i64),
        "watch_count" => int(t.watches.count()),
        "auth_failed_count" => Value::Int(s.auth_failed as i64),
        "approximate_data_size" => Value::Int(t.approximate_data_size() as i64),
        "open_file_descriptor_count" => Value::Int(fds.0),
        "max_file_descriptor_count" => Value::Int(fds.1),
        "uptime" => Value::Int(core.uptime_ms() as i64),
        "connection_drop_probability" => Value::Float(0.0),
        // zk-node has no local sessions, TLS or mTLS yet.
        "local_sessions"
        | "outstanding_tls_handshake"
        | "non_mtls_remote_conn_count"
        | "non_mtls_local_conn_count" => Value::Int(0),
        _ => unreachable!("gauge {name} is listed in GAUGES but has no value"),
    }
}

fn counter(core: &Core, name: &str) -> i64 {
    let s = &core.stats;
    match name {
        "connection_request_count" => s.connection_requests as i64,
        "response_bytes" => s.response_bytes as i64,
        // The rest count things of Apache's request processors, quorum and TLS that zk-node
        // does not have (or does not measure yet): always 0.
        _ => 0,
    }
}

fn summary(core: &Core, name: &str) -> SummaryValues {
    let s = &core.stats;
    let measured: Option<&Summary> = match name {
        "readlatency" => Some(&s.read_latency),
        "updatelatency" => Some(&s.update_latency),
        "propagation_latency" => Some(&s.propagation_latency),
        "fsynctime" => Some(&s.fsync_time),
        "sync_processor_batch_size" => Some(&s.sync_batch_size),
        "snapshottime" => Some(&s.snapshot_time),
        "dbinittime" => Some(&s.db_init_time),
        "startup_snap_load_time" => Some(&s.startup_snap_load_time),
        "startup_txns_loaded" => Some(&s.startup_txns_loaded),
        "startup_txns_load_time" => Some(&s.startup_txns_load_time),
        _ => None,
    };
    match measured {
        // The log task counts its flushes in `LogStats`: the count and the total, not each
        // sample, so min and max stay 0 there.
        Some(m) if m.count == 0 && name == "fsynctime" => {
            let l = &core.log_stats;
            totals(
                l.fsyncs.load(Ordering::Relaxed),
                l.fsync_micros_total.load(Ordering::Relaxed) as i64 / 1000,
            )
        }
        Some(m) if m.count == 0 && name == "sync_processor_batch_size" => {
            let l = &core.log_stats;
            totals(
                l.fsyncs.load(Ordering::Relaxed),
                l.txns.load(Ordering::Relaxed) as i64,
            )
        }
        Some(m) => m.values(),
        None if ADVANCED_SUMMARIES.contains(&name) => Summary::advanced().values(),
        None => Summary::basic().values(),
    }
}

/// A basic summary known only by its count and sum.
fn totals(count: u64, sum: i64) -> SummaryValues {
    let mut v = Summary::basic().values();
    if count > 0 {
        v.count = count;
        v.sum = sum;
        v.avg = ((sum as f64 / count as f64) * 10_000.0).round() / 10_000.0;
        v.quantiles = vec![(0.5, v.avg)];
    }
    v
}

/// Numbers about this process from `/proc` (Linux); zeros elsewhere.
pub mod process {
    use std::fmt::Write as _;

    /// (open, max) file descriptors.
    pub fn fds() -> (i64, i64) {
        let open = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as i64)
            .unwrap_or(0);
        let max = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0);
        (open, max)
    }

    /// The `process_*` family of the Prometheus client's standard exports.
    #[derive(Debug, Clone, Default)]
    pub struct Metrics {
        pub cpu_seconds: f64,
        pub start_time_seconds: f64,
        pub open_fds: i64,
        pub max_fds: i64,
        pub virtual_memory_bytes: i64,
        pub resident_memory_bytes: i64,
    }

    /// Linux reports CPU times and start time in clock ticks; USER_HZ is 100 on every Linux
    /// architecture we run on.
    const TICKS_PER_SECOND: f64 = 100.0;

    impl Metrics {
        pub fn read() -> Metrics {
            let (open_fds, max_fds) = fds();
            let mut m = Metrics {
                open_fds,
                max_fds,
                ..Default::default()
            };
            if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
                // Fields after the parenthesised command name, which may hold spaces.
                let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
                let f: Vec<&str> = rest.split_whitespace().collect();
                let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                // rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22,
                // vsize 23, rss 24 (pages).
                m.cpu_seconds = (num(11) + num(12)) / TICKS_PER_SECOND;
                let boot = std::fs::read_to_string("/proc/stat")
                    .ok()
                    .and_then(|t| {
                        t.lines()
                            .find_map(|l| l.strip_prefix("btime "))
                            .and_then(|v| v.trim().parse::<f64>().ok())
                    })
                    .unwrap_or(0.0);
                m.start_time_seconds = boot + num(19) / TICKS_PER_SECOND;
                m.virtual_memory_bytes = num(20) as i64;
                m.resident_memory_bytes = num(21) as i64 * 4096;
            }
            m
        }

        pub fn write(&self, out: &mut String) {
            let mut one = |name: &str, help: &str, kind: &str, v: String| {
                let _ = write!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
                );
            };
            one(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
                super::prom_double(self.cpu_seconds),
            );
            one(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                super::prom_double(self.start_time_seconds),
            );
            one(
                "process_open_fds",
                "Number of open file descriptors.",
                "gauge",
                super::prom_double(self.open_fds as f64),
            );
            one(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                "gauge",
                super::prom_double(self.max_fds as f64),
            );
            one(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                "gauge",
                super::prom_double(self.virtual_memory_bytes as f64),
            );
            one(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                super::prom_double(self.resident_memory_bytes as f64),
            );
        }
    }
}

/// Runs `f` on the core task and returns its result; `None` if the core has stopped.
pub async fn inspect<T, F>(core: &mpsc::Sender<ToCore>, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Core) -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    core.send(ToCore::Inspect(Box::new(move |c: &mut Core| {
        let _ = tx.send(f(c));
    })))
    .await
    .ok()?;
    rx.await.ok()
}

/// Serves `GET /metrics` on `listener` until shutdown (Apache's Prometheus provider serves
/// only that path).
pub async fn serve(
    listener: TcpListener,
    core: mpsc::Sender<ToCore>,
    shutdown: watch::Receiver<bool>,
) {
    http::serve(listener, shutdown, "metrics", move |req| {
        let core = core.clone();
        async move {
            if req.path != "/metrics" {
                return Response::not_found();
            }
            let Some(snap) = inspect(&core, |c| Snapshot::collect(c, 0)).await else {
                return Response::new(503, Some("text/plain;charset=utf-8"), "shutting down\n");
            };
            let text = snap.prometheus(&process::Metrics::read());
            Response::new(200, Some("text/plain; version=0.0.4; charset=utf-8"), text)
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> = GAUGES
            .iter()
            .chain(COUNTERS)
            .chain(BASIC_SUMMARIES)
            .chain(ADVANCED_SUMMARIES)
            .chain(SUMMARY_SETS)
            .copied()
            .chain(LABELLED.iter().map(|(n, _)| *n))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        // Apache 3.8.0 standalone: 24 gauges, 47 counters, 41 basic and 23 advanced summaries.
        assert_eq!(
            (
                GAUGES.len(),
                COUNTERS.len(),
                BASIC_SUMMARIES.len(),
                ADVANCED_SUMMARIES.len()
            ),
            (24, 47, 41, 23)
        );
    }

    /// A snapshot as `collect` shapes it for `view`, with every value 0 (values need a core).
    fn shaped(view: Option<&EnsembleView>) -> Snapshot {
        Snapshot {
            header: header(view, view.map_or("standalone", ensemble::mode)),
            gauges: gauge_names(view)
                .into_iter()
                .map(|n| (n, Value::Int(0)))
                .collect(),
            counters: COUNTERS.iter().map(|&n| (n, 0)).collect(),
            summaries: Vec::new(),
            summary_sets: summary_sets(view, Vec::new(), Vec::new()),
            learner_acks: view.map(ensemble::learner_acks).unwrap_or_default(),
        }
    }

    fn keys(s: &Snapshot) -> Vec<String> {
        s.monitor_pairs().into_iter().map(|(k, _)| k).collect()
    }

    /// mntr's key sets per role, as Apache 3.8.0 printed them in a 3-voter + 1-observer
    /// ensemble: every member adds `peer_state` and `quorum_size`, the observer
    /// `observer_master_id`, the leader its ten gauges and the per-learner summaries; zk-node
    /// adds the leader's `learner_<sid>_last_acked_zxid` keys after the gauges.
    #[test]
    fn members_print_apaches_quorum_keys() {
        use crate::server::ensemble::tests::{config, view};
        use crate::zab::ZabState;
        let standalone = keys(&shaped(None));
        let follower_view = view(1, PeerState::Following, ZabState::Broadcast);
        let follower = keys(&shaped(Some(&follower_view)));
        let mut want = standalone.clone();
        want.insert(2, "peer_state".into());
        let last_gauge = 2 + 1 + GAUGES.len();
        want.insert(last_gauge, "quorum_size".into());
        assert_eq!(follower, want);
        let observer_view = view(4, PeerState::Observing, ZabState::Broadcast);
        let observer = shaped(Some(&observer_view));
        assert_eq!(
            observer.header[2..],
            [
                ("peer_state", Value::Str("observing - broadcast".into())),
                ("observer_master_id", Value::Int(3)),
            ]
        );
        let leader_view = view(3, PeerState::Leading, ZabState::Broadcast);
        let leader = shaped(Some(&leader_view));
        let k = keys(&leader);
        assert_eq!(k[..3], ["version", "server_state", "peer_state"]);
        assert_eq!(k[3..3 + LEADER_GAUGES.len()], *LEADER_GAUGES);
        let after = 3 + LEADER_GAUGES.len();
        assert_eq!(
            k[after..after + 3],
            [
                "learner_1_last_acked_zxid",
                "learner_2_last_acked_zxid",
                "proposal_count"
            ]
        );
        let text = leader.mntr();
        assert!(text.contains("zk_server_state\tleader\nzk_peer_state\tleading - broadcast\n"));
        assert!(
            text.contains("zk_learner_2_last_acked_zxid\t4294967298\n"),
            "decimal zxid"
        );
        // Apache's per-learner summaries: the basic set before the namespaces, the percentile
        // set after them, every learner (observers too) by sid.
        let sets: Vec<&str> = leader.summary_sets.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            sets,
            [
                "learner_handler_qp_size",
                "read_per_namespace",
                "write_per_namespace",
                "learner_handler_qp_time_ms"
            ]
        );
        assert!(text.contains(
            "zk_sum_4_learner_handler_qp_size\t0\nzk_avg_1_learner_handler_qp_time_ms\t0.0\n"
        ));
        assert!(text.ends_with("zk_p999_4_learner_handler_qp_time_ms\t0\n"));
        // A member between roles shows the member gauges, not the leader's.
        let electing = view(3, PeerState::Leading, ZabState::Synchronization);
        assert_eq!(keys(&shaped(Some(&electing))).len(), follower.len());
        // Values the config and the view give.
        let cfg = config(3);
        let stats = EnsembleStats::default();
        let g = |n| ensemble_gauge(n, &leader_view, &cfg, &stats);
        assert_eq!(g("quorum_size"), Some(Value::Int(3)));
        assert_eq!(g("learners"), Some(Value::Int(3)));
        assert_eq!(g("synced_followers"), Some(Value::Int(2)));
        assert_eq!(g("synced_observers"), Some(Value::Int(1)));
        assert_eq!(g("pending_syncs"), Some(Value::Int(1)));
        assert_eq!(g("min_proposal_size"), Some(Value::Int(-1)));
        assert_eq!(g("znode_count"), None);
    }

    /// Prometheus gets the leader's gauges, the per-learner families once each, and the acked
    /// zxids as one labelled family.
    #[test]
    fn prometheus_labels_learners() {
        use crate::server::ensemble::tests::view;
        use crate::zab::ZabState;
        let leader_view = view(3, PeerState::Leading, ZabState::Broadcast);
        let text = shaped(Some(&leader_view)).prometheus(&process::Metrics::default());
        assert!(text.contains("# TYPE synced_followers gauge\nsynced_followers 0.0\n"));
        assert!(text.contains(
            "# TYPE learner_last_acked_zxid gauge\nlearner_last_acked_zxid{key=\"1\",} 4.294967297E9\nlearner_last_acked_zxid{key=\"2\",} 4.294967298E9\n"
        ));
        assert_eq!(
            text.matches("# TYPE learner_handler_qp_size summary")
                .count(),
            1
        );
        assert!(text.contains("learner_handler_qp_time_ms{key=\"4\",quantile=\"0.5\",} NaN\n"));
        let standalone = shaped(None).prometheus(&process::Metrics::default());
        assert!(!standalone.contains("learner_last_acked_zxid"));
        assert_eq!(
            standalone
                .matches("# TYPE learner_handler_qp_size summary")
                .count(),
            1
        );
    }

    #[test]
    fn prometheus_doubles() {
        assert_eq!(prom_double(9.0), "9.0");
        assert_eq!(prom_double(f64::NAN), "NaN");
        assert_eq!(prom_double(f64::INFINITY), "+Inf");
    }
}
