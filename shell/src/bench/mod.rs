//! `zksh bench`: a load generator for any server that speaks the ZooKeeper client protocol
//! (Apache ZooKeeper, zk-node), in the spirit of `redis-benchmark` and `etcdctl check perf`.
//!
//! Owns: the workloads ([`Workload`]), the sessions they run on (spread over every server of
//! the connect string), the closed-loop workers (`--inflight` pipelined requests per session,
//! optionally paced to a fixed `--rate`; unpaced get/set/mixed/create/ephemerals run as one
//! pipeline per session inside its session task, see `flow`), latency histograms (HDR) and
//! error counts ([`Report`]), live counters for a progress line ([`Progress`]), and removing
//! everything a run created (the whole `--prefix` subtree), including after a stop request.
//!
//! Never: prints (the caller renders [`Report`] and polls [`Progress`]), touches a node outside
//! its prefix, or starts on a prefix that already exists (its cleanup deletes the prefix
//! recursively, so it must own it).

mod cleanup;
mod flow;
mod options;
mod progress;
mod report;
mod run;
mod watch;
mod worker;

pub use options::{parse_duration, Limit, Options, Workload};
pub use progress::{Phase, Progress, ProgressSnapshot};
pub use report::{CleanupReport, LatencySummary, Report};
pub use run::run;

/// Why a benchmark could not run (failures of single operations are counted in the
/// [`Report`], not returned).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bad options: {0}")]
    Options(String),
    #[error("prefix {0} already exists: choose another --prefix (bench deletes its prefix when it is done)")]
    PrefixExists(String),
    #[error("{what}: {source}")]
    Zk {
        what: String,
        #[source]
        source: crate::client::Error,
    },
}

impl BenchError {
    fn zk(what: impl Into<String>) -> impl FnOnce(crate::client::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Zk { what, source }
    }
}
