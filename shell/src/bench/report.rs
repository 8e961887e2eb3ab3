//! Measurements: per-worker recorders (HDR histograms of latency in microseconds, error counts
//! by ZooKeeper code), merged into a [`Report`] that renders as text or serializes to JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use zk_proto::ErrorCode;

use super::options::{Limit, Options, Workload};

/// Latencies up to an hour are recorded exactly (3 significant digits); longer ones saturate.
const LATENCY_US_MAX: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// Whether an operation read or wrote, so that `mixed` can report both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Read,
    Write,
    /// Neither (sessions).
    Other,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGNIFICANT_DIGITS).expect("valid bounds")
}

/// What one worker measured; merged with the others at the end.
pub(super) struct Recorder {
    pub all: Histogram<u64>,
    pub reads: Histogram<u64>,
    pub writes: Histogram<u64>,
    /// Failed operations by code name (`NONODE`, `CONNECTIONLOSS`, ...).
    pub errors: BTreeMap<String, u64>,
    pub ops: u64,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            all: histogram(),
            reads: histogram(),
            writes: histogram(),
            errors: BTreeMap::new(),
            ops: 0,
        }
    }

    pub fn record(&mut self, kind: OpKind, latency: Duration) {
        let us = (latency.as_micros() as u64).max(1);
        self.ops += 1;
        self.all.saturating_record(us);
        match kind {
            OpKind::Read => self.reads.saturating_record(us),
            OpKind::Write => self.writes.saturating_record(us),
            OpKind::Other => {}
        }
    }

    pub fn error(&mut self, code: ErrorCode) {
        self.ops += 1;
        *self.errors.entry(code_name(code)).or_default() += 1;
    }

    /// Counts a failure that is not a server error code (e.g. a watch event that never came).
    pub fn error_named(&mut self, name: &str, n: u64) {
        *self.errors.entry(name.to_string()).or_default() += n;
    }

    pub fn merge(&mut self, other: Recorder) {
        self.all.add(&other.all).expect("same bounds");
        self.reads.add(&other.reads).expect("same bounds");
        self.writes.add(&other.writes).expect("same bounds");
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.ops += other.ops;
    }
}

/// `NONODE`, or `CODE-999` for a code this client does not know.
fn code_name(code: ErrorCode) -> String {
    let name = code.name();
    if name.is_empty() || name.eq_ignore_ascii_case("unknown") {
        format!("CODE{}", code.0)
    } else {
        name.to_string()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    /// Samples (successful operations, or events for `watch`).
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencySummary {
    pub(super) fn of(h: &Histogram<u64>) -> Option<LatencySummary> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencySummary {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        })
    }

    fn line(&self) -> String {
        format!(
            "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {}, n={})",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            ms(self.mean),
            self.count
        )
    }
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.3}")
    } else if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// What deleting the prefix did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CleanupReport {
    /// Nodes deleted, the prefix included.
    pub deleted: u64,
    pub seconds: f64,
    /// Why the prefix could not be removed completely, if it could not.
    pub error: Option<String>,
}

/// The result of a run. Serialized as the `--json` output; field names are stable.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub workload: Workload,
    pub connect: String,
    pub servers: usize,
    pub clients: usize,
    pub inflight: usize,
    pub value_size: usize,
    pub keys: usize,
    pub limit: Limit,
    pub rate: Option<f64>,
    pub prefix: String,
    /// Operations finished in the measured phase, successful or not (for `--ops N`: N unless
    /// interrupted). For `multi` an operation is one multi request; for `watch` one write.
    pub ops: u64,
    /// Operations that failed, in total and by error code name.
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    /// Length of the measured phase.
    pub duration_s: f64,
    /// Operations per second in the measured phase.
    pub throughput: f64,
    /// Latency of the operations (for `watch`: of the notifications, from the write's
    /// acknowledgement to the event at each watcher; an event that arrives before the
    /// acknowledgement counts as 0).
    pub latency_ms: Option<LatencySummary>,
    /// `mixed`: reads and writes apart. `watch`: `write_latency_ms` is the writes' own latency.
    pub read_latency_ms: Option<LatencySummary>,
    pub write_latency_ms: Option<LatencySummary>,
    /// `watch`: events received, and how many arrived before the write's acknowledgement.
    pub events: Option<u64>,
    pub events_before_ack: Option<u64>,
    /// `ephemerals`: seconds to close the sessions holding the ephemerals.
    pub close_s: Option<f64>,
    /// True when a stop request (Ctrl-C) ended the run early.
    pub interrupted: bool,
    /// `None` with `keep`.
    pub cleanup: Option<CleanupReport>,
}

impl Report {
    pub(super) fn new(opts: &Options, servers: usize) -> Report {
        Report {
            workload: opts.workload,
            connect: opts.connect.clone(),
            servers,
            clients: opts.clients,
            inflight: opts.inflight,
            value_size: opts.value_size,
            keys: opts.keys,
            limit: opts.limit,
            rate: opts.rate,
            prefix: opts.prefix.clone(),
            ops: 0,
            errors: 0,
            errors_by_code: BTreeMap::new(),
            duration_s: 0.0,
            throughput: 0.0,
            latency_ms: None,
            read_latency_ms: None,
            write_latency_ms: None,
            events: None,
            events_before_ack: None,
            close_s: None,
            interrupted: false,
            cleanup: None,
        }
    }

    /// Fills in the measured phase from the merged recorder.
    pub(super) fn measured(&mut self, rec: &Recorder, elapsed: Duration) {
        self.ops = rec.ops;
        self.errors = rec.errors.values().sum();
        self.errors_by_code = rec.errors.clone();
        self.duration_s = elapsed.as_secs_f64();
        self.throughput = if self.duration_s > 0.0 {
            rec.ops as f64 / self.duration_s
        } else {
            0.0
        };
        self.latency_ms = LatencySummary::of(&rec.all);
        if matches!(self.workload, Workload::Mixed { .. }) {
            self.read_latency_ms = LatencySummary::of(&rec.reads);
            self.write_latency_ms = LatencySummary::of(&rec.writes);
        }
    }

    /// Human-readable, several lines.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let w = &self.workload;
        let extra = match w {
            Workload::Mixed { read_ratio } => format!(" (read ratio {read_ratio})"),
            Workload::Multi { ops } => format!(" ({ops} setData per multi)"),
            _ => String::new(),
        };
        let load = match w {
            Workload::Watch => format!("{} watching sessions, 1 writer", self.clients),
            Workload::Sessions => format!("{} sessions at a time", self.clients),
            _ => format!("{} sessions x {} in flight", self.clients, self.inflight),
        };
        let _ = writeln!(
            t,
            "zksh bench {}{extra}: {load}, {}-byte values, {} server(s) {}",
            w.name(),
            self.value_size,
            self.servers,
            self.connect
        );
        if let Some(r) = self.rate {
            let _ = writeln!(t, "  rate        {r:.0} ops/s requested");
        }
        let stopped = if self.interrupted {
            " (interrupted)"
        } else {
            ""
        };
        let _ = writeln!(
            t,
            "  ops         {} in {:.2} s, {} errors{stopped}",
            self.ops, self.duration_s, self.errors
        );
        let _ = writeln!(t, "  throughput  {:.0} ops/s", self.throughput);
        let label = if *w == Workload::Watch {
            "notify ms"
        } else {
            "latency ms"
        };
        if let Some(l) = &self.latency_ms {
            let _ = writeln!(t, "  {label:<11} {}", l.line());
        }
        if let Some(l) = &self.read_latency_ms {
            let _ = writeln!(t, "  reads ms    {}", l.line());
        }
        if let Some(l) = &self.write_latency_ms {
            let _ = writeln!(t, "  writes ms   {}", l.line());
        }
        if let (Some(e), Some(b)) = (self.events, self.events_before_ack) {
            let _ = writeln!(
                t,
                "  events      {e} ({b} arrived before the write's acknowledgement)"
            );
        }
        if let Some(c) = self.close_s {
            let _ = writeln!(
                t,
                "  close       {c:.3} s to close the sessions and their ephemerals"
            );
        }
        if !self.errors_by_code.is_empty() {
            let list: Vec<String> = self
                .errors_by_code
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(t, "  errors      {}", list.join(", "));
        }
        match &self.cleanup {
            None => {
                let _ = writeln!(t, "  kept        {} (not deleted: --keep)", self.prefix);
            }
            Some(c) => {
                let status = match &c.error {
                    None => String::new(),
                    Some(e) => format!("; INCOMPLETE: {e}"),
                };
                let _ = writeln!(
                    t,
                    "  cleanup     deleted {} nodes under {} in {:.2} s{status}",
                    c.deleted, self.prefix, c.seconds
                );
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_merge_counts_and_errors() {
        let mut a = Recorder::new();
        a.record(OpKind::Read, Duration::from_micros(100));
        a.error(ErrorCode::NO_NODE);
        let mut b = Recorder::new();
        b.record(OpKind::Write, Duration::from_millis(2));
        b.error(ErrorCode::NO_NODE);
        b.error(ErrorCode(-999));
        a.merge(b);
        assert_eq!(a.ops, 5);
        assert_eq!(a.errors.get("NONODE"), Some(&2));
        assert_eq!(a.errors.len(), 2);
        let s = LatencySummary::of(&a.all).unwrap();
        assert_eq!(s.count, 2);
        assert!((s.max - 2.0).abs() < 0.01, "{s:?}");
        assert!((s.p50 - 0.1).abs() < 0.001, "{s:?}");
    }

    #[test]
    fn report_renders_and_serializes() {
        let opts = Options::new("127.0.0.1:2181", Workload::Mixed { read_ratio: 0.5 });
        let mut r = Report::new(&opts, 1);
        let mut rec = Recorder::new();
        rec.record(OpKind::Read, Duration::from_micros(300));
        rec.record(OpKind::Write, Duration::from_micros(900));
        r.measured(&rec, Duration::from_secs(1));
        r.cleanup = Some(CleanupReport {
            deleted: 3,
            seconds: 0.1,
            error: None,
        });
        let text = r.text();
        assert!(text.contains("throughput  2 ops/s"), "{text}");
        assert!(text.contains("reads ms"), "{text}");
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["workload"]["name"], "mixed");
        assert_eq!(v["ops"], 2);
        assert_eq!(v["limit"]["duration"], 10.0);
        assert!(v["latency_ms"]["p999"].is_number());
        assert_eq!(v["cleanup"]["deleted"], 3);
    }
}
