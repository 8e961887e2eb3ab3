//! Which rows a table shows and in what order: the filter and the sort column. Pure, shared
//! by `update` (selection, mouse) and the ui (drawing).

use std::cmp::Ordering;

use super::model::{ClusterState, ServerState};
use super::State;

/// Sortable columns of the overview, by header title.
pub const OVERVIEW_SORTS: &[&str] = &[
    "CLUSTER",
    "HEALTH",
    "UP",
    "ZXID",
    "WRITES/S",
    "WORST LAG",
    "ALARMS",
];
/// Sortable columns of the cluster view, by header title.
pub const SERVER_SORTS: &[&str] = &[
    "SERVER", "MODE", "ZXID", "LAG", "LATENCY", "OUTST", "CONNS", "ZNODES", "WATCHES",
];

/// Selection, filter and sort of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableNav {
    /// Index into the visible rows.
    pub selected: usize,
    /// Index into the view's sort list; None keeps the configured order.
    pub sort: Option<usize>,
    pub descending: bool,
    /// Case-insensitive substring; empty shows everything.
    pub filter: String,
}

impl TableNav {
    /// The title of the column sorted on, if any.
    pub fn sort_title(&self, sorts: &[&'static str]) -> Option<&'static str> {
        self.sort.and_then(|i| sorts.get(i).copied())
    }
}

fn matches(filter: &str, text: &str) -> bool {
    filter.is_empty() || text.to_lowercase().contains(&filter.to_lowercase())
}

/// Cluster indices shown by the overview.
pub fn overview_rows(state: &State) -> Vec<usize> {
    let nav = &state.overview;
    let mut rows: Vec<usize> = (0..state.clusters.len())
        .filter(|&i| matches(&nav.filter, &state.clusters[i].name))
        .collect();
    if let Some(title) = nav.sort_title(OVERVIEW_SORTS) {
        rows.sort_by(|&a, &b| {
            let ord = cmp_clusters(title, &state.clusters[a], &state.clusters[b]);
            if nav.descending {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    rows
}

fn cmp_clusters(title: &str, a: &ClusterState, b: &ClusterState) -> Ordering {
    match title {
        "HEALTH" => a.health.cmp(&b.health),
        "UP" => a.up_count().cmp(&b.up_count()),
        "ZXID" => a.leader_zxid.cmp(&b.leader_zxid),
        "WRITES/S" => cmp_f64(b.writes_per_s, a.writes_per_s),
        "WORST LAG" => b.worst_lag().cmp(&a.worst_lag()),
        "ALARMS" => b.alarms.len().cmp(&a.alarms.len()),
        _ => Ordering::Equal,
    }
    .then_with(|| a.name.cmp(&b.name))
}

/// Server indices of cluster `c` shown by the cluster view.
pub fn server_rows(state: &State, c: usize) -> Vec<usize> {
    let Some(cluster) = state.clusters.get(c) else {
        return Vec::new();
    };
    let nav = &state.servers;
    let mut rows: Vec<usize> = (0..cluster.servers.len())
        .filter(|&i| {
            let s = &cluster.servers[i];
            matches(&nav.filter, &s.addr) || matches(&nav.filter, s.role().as_str())
        })
        .collect();
    if let Some(title) = nav.sort_title(SERVER_SORTS) {
        rows.sort_by(|&a, &b| {
            let ord = cmp_servers(title, &cluster.servers[a], &cluster.servers[b]);
            if nav.descending {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    rows
}

fn cmp_servers(title: &str, a: &ServerState, b: &ServerState) -> Ordering {
    let num =
        |s: &ServerState, f: &dyn Fn(&crate::poll::Sample) -> Option<u64>| s.sample().and_then(f);
    match title {
        "MODE" => a.role().cmp(&b.role()),
        "ZXID" => b.zxid().cmp(&a.zxid()),
        "LAG" => b.lag_txns.cmp(&a.lag_txns),
        "LATENCY" => cmp_f64(
            b.sample().and_then(|s| s.latency()).map(|l| l.avg_ms),
            a.sample().and_then(|s| s.latency()).map(|l| l.avg_ms),
        ),
        "OUTST" => num(b, &|s| s.outstanding()).cmp(&num(a, &|s| s.outstanding())),
        "CONNS" => num(b, &|s| s.connections()).cmp(&num(a, &|s| s.connections())),
        "ZNODES" => num(b, &|s| s.znodes()).cmp(&num(a, &|s| s.znodes())),
        "WATCHES" => {
            num(b, &|s| s.metric(|m| m.watch_count)).cmp(&num(a, &|s| s.metric(|m| m.watch_count)))
        }
        _ => Ordering::Equal,
    }
    .then_with(|| a.addr.cmp(&b.addr))
}

fn cmp_f64(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}
