//! Server statistics as Apache's `ServerStats`, `ServerMetrics` and `ServerCnxn` keep them, read
//! by `srvr`, `stat`, `cons`, `mntr`, the AdminServer and the Prometheus endpoint.
//!
//! The core task owns one [`Stats`] and one [`ConnStats`] per connection and updates them in
//! place; nothing here locks or reads a clock except [`elapsed_ms`] and [`wall_ms`]. Reading the
//! statistics never changes them: only `crst` ([`ConnStats::reset`]) and `srst`
//! ([`Stats::reset`]) do, as in Apache.

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zk_proto::txn::Txn;
use zk_proto::{MultiOp, MultiResult, Request, Response};

/// How many recent samples a percentile summary keeps. Apache's `AvgMinMaxPercentileCounter`
/// samples a bounded reservoir too; a ring of the newest samples is enough for p50..p999 of a
/// live server and bounds the memory whatever the load.
pub const PERCENTILE_WINDOW: usize = 1024;

/// Milliseconds on a monotonic clock whose origin is the first call (Apache's
/// `Time.currentElapsedTime()`, which `lresp` and the expiry buckets of `dump` use).
pub fn elapsed_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Namespaces (top-level znodes) tracked by the per-namespace summaries. Apache keeps one per
/// namespace without a bound; past this many, new namespaces are not tracked, so a client
/// creating top-level znodes in a loop cannot grow the server's memory through statistics.
pub const NAMESPACES_MAX: usize = 1024;

/// Apache records the tree digest of every 128th zxid (`DataTree.DIGEST_LOG_INTERVAL`; 0x80,
/// so entries line up across servers) and keeps the newest 1024 (`DIGEST_LOG_LIMIT`).
pub const DIGEST_LOG_INTERVAL: i64 = 128;
pub const DIGEST_LOG_LIMIT: usize = 1024;

/// Apache's `DigestCalculator.DIGEST_VERSION`.
pub const DIGEST_VERSION: i32 = 2;

/// What Apache adds to every read's size for the stat (`DataTree.STAT_OVERHEAD_BYTES`).
pub const STAT_OVERHEAD_BYTES: usize = 6 * 8 + 5 * 4;

/// The top-level znode of `path` (Apache's `PathUtils.getTopNamespace`): `a` for `/a/b`, none
/// for `/`.
pub fn top_namespace(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    parts.next()?;
    parts.next().filter(|ns| !ns.is_empty())
}

/// Milliseconds since the Unix epoch.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Apache's `AvgMinMaxCounter` (a "basic summary"), optionally with the percentiles of
/// `AvgMinMaxPercentileCounter` (an "advanced summary").
#[derive(Debug, Clone)]
pub struct Summary {
    pub count: u64,
    pub sum: i64,
    min: i64,
    max: i64,
    /// The newest samples, for percentiles; `None` for a basic summary.
    window: Option<Window>,
}

#[derive(Debug, Clone, Default)]
struct Window {
    samples: Vec<i64>,
    next: usize,
}

/// The values a summary reports, in Apache's key order (`avg_`, `min_`, `max_`, `cnt_`, `sum_`,
/// then `p50_`, `p95_`, `p99_`, `p999_` for an advanced summary).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValues {
    pub avg: f64,
    pub min: i64,
    pub max: i64,
    pub count: u64,
    pub sum: i64,
    /// p50, p95, p99, p999 (advanced summaries only).
    pub percentiles: Option<[i64; 4]>,
    /// The quantiles Prometheus reports: 0.5 (basic), or 0.5, 0.9, 0.99 (advanced); NaN when
    /// nothing was observed, as the Prometheus client prints it.
    pub quantiles: Vec<(f64, f64)>,
}

impl Summary {
    pub fn basic() -> Summary {
        Summary {
            count: 0,
            sum: 0,
            min: i64::MAX,
            max: i64::MIN,
            window: None,
        }
    }

    pub fn advanced() -> Summary {
        Summary {
            window: Some(Window::default()),
            ..Summary::basic()
        }
    }

    pub fn is_advanced(&self) -> bool {
        self.window.is_some()
    }

    pub fn add(&mut self, v: i64) {
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if let Some(w) = &mut self.window {
            if w.samples.len() < PERCENTILE_WINDOW {
                w.samples.push(v);
            } else {
                w.samples[w.next] = v;
            }
            w.next = (w.next + 1) % PERCENTILE_WINDOW;
        }
    }

    pub fn add_duration(&mut self, d: Duration) {
        self.add(d.as_millis() as i64);
    }

    /// 0 before any sample, as Apache reports it.
    pub fn min(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    pub fn max(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.max
        }
    }

    /// The average rounded half-up to 4 places (Apache's `BigDecimal.setScale(4, HALF_UP)`).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let a = self.sum as f64 / self.count as f64;
        (a * 10_000.0).round() / 10_000.0
    }

    pub fn reset(&mut self) {
        let advanced = self.is_advanced();
        *self = if advanced {
            Summary::advanced()
        } else {
            Summary::basic()
        };
    }

    pub fn values(&self) -> SummaryValues {
        let sorted = self.window.as_ref().map(|w| {
            let mut s = w.samples.clone();
            s.sort_unstable();
            s
        });
        let pct = |s: &[i64], q: f64| -> i64 {
            if s.is_empty() {
                return 0;
            }
            let idx = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            s[idx]
        };
        let percentiles = sorted
            .as_ref()
            .map(|s| [pct(s, 0.5), pct(s, 0.95), pct(s, 0.99), pct(s, 0.999)]);
        let qs: &[f64] = if self.is_advanced() {
            &[0.5, 0.9, 0.99]
        } else {
            &[0.5]
        };
        let quantiles = qs
            .iter()
            .map(|&q| {
                let v = match &sorted {
                    _ if self.count == 0 => f64::NAN,
                    Some(s) => pct(s, q) as f64,
                    // A basic summary keeps no samples; the mean stands in for the median.
                    None => self.avg(),
                };
                (q, v)
            })
            .collect();
        SummaryValues {
            avg: self.avg(),
            min: self.min(),
            max: self.max(),
            count: self.count,
            sum: self.sum,
            percentiles,
            quantiles,
        }
    }
}

/// Apache's `BufferStats`: sizes of the responses sent to clients (`-1` before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferStats {
    pub fn record(&mut self, size: i64) {
        self.last = size;
        self.min = if self.min == -1 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
    }
}

/// Server-wide statistics. The core task owns it; `srst` resets all of it (Apache's
/// `ServerStats.reset()` also resets every registered metric).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Packets read from clients: connect requests, requests and four-letter words.
    pub packets_received: u64,
    /// Packets written to clients: replies, notifications and four-letter answers.
    pub packets_sent: u64,
    /// Every answered request (`Latency min/avg/max` of srvr, `zk_*_latency`).
    pub latency: Summary,
    /// Reads (`readlatency`), and writes from arrival to answer (`updatelatency`).
    pub read_latency: Summary,
    pub update_latency: Summary,
    /// Writes from their txn time to apply (`propagation_latency`; a standalone server has no
    /// followers, so it is the local commit latency).
    pub propagation_latency: Summary,
    /// Sizes of the responses sent, without the length prefix (`*_client_response_size`).
    pub client_response: BufferStats,
    /// Bytes of all responses sent (`response_bytes`).
    pub response_bytes: u64,
    /// ConnectRequests received (`connection_request_count`).
    pub connection_requests: u64,
    /// Failed `auth` packets (`auth_failed_count`).
    pub auth_failed: u64,
    /// Fed by storage: fsync time per log flush (`fsynctime`), records per flush
    /// (`sync_processor_batch_size`), snapshot write time (`snapshottime`), and start-up
    /// (`dbinittime`, `startup_snap_load_time`, `startup_txns_loaded`, `startup_txns_load_time`).
    pub fsync_time: Summary,
    pub sync_batch_size: Summary,
    pub snapshot_time: Summary,
    pub db_init_time: Summary,
    pub startup_snap_load_time: Summary,
    pub startup_txns_loaded: Summary,
    pub startup_txns_load_time: Summary,
    /// Bytes read and written per top-level znode (`<ns>_read_per_namespace`,
    /// `<ns>_write_per_namespace`), as Apache's DataTree counts them.
    pub read_per_namespace: BTreeMap<String, Summary>,
    pub write_per_namespace: BTreeMap<String, Summary>,
    /// (zxid, tree digest) of recent zxids divisible by 128, oldest first (`hash`). Not a
    /// statistic: `srst` keeps it.
    pub digest_log: VecDeque<(i64, u64)>,
    /// What the ensemble driver counts (proposal sizes, leader uptime, learner connections).
    /// `srst` keeps it: Apache's leader statistics are not server statistics.
    pub ensemble: super::ensemble::EnsembleStats,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            packets_received: 0,
            packets_sent: 0,
            latency: Summary::basic(),
            read_latency: Summary::advanced(),
            update_latency: Summary::advanced(),
            propagation_latency: Summary::advanced(),
            client_response: BufferStats::default(),
            response_bytes: 0,
            connection_requests: 0,
            auth_failed: 0,
            fsync_time: Summary::basic(),
            sync_batch_size: Summary::basic(),
            snapshot_time: Summary::basic(),
            db_init_time: Summary::basic(),
            startup_snap_load_time: Summary::basic(),
            startup_txns_loaded: Summary::basic(),
            startup_txns_load_time: Summary::basic(),
            read_per_namespace: BTreeMap::new(),
            write_per_namespace: BTreeMap::new(),
            digest_log: VecDeque::new(),
            ensemble: Default::default(),
        }
    }
}

fn add_per_namespace(set: &mut BTreeMap<String, Summary>, path: &str, bytes: usize) {
    let Some(ns) = top_namespace(path) else {
        return;
    };
    if let Some(s) = set.get_mut(ns) {
        s.add(bytes as i64);
    } else if set.len() < NAMESPACES_MAX {
        let mut s = Summary::basic();
        s.add(bytes as i64);
        set.insert(ns.to_string(), s);
    }
}

impl Stats {
    /// A request answered without a transaction (reads, pings, setWatches...).
    pub fn record_read(&mut self, d: Duration) {
        self.latency.add_duration(d);
        self.read_latency.add_duration(d);
    }

    /// A request answered after its transaction was applied.
    pub fn record_update(&mut self, d: Duration) {
        self.latency.add_duration(d);
        self.update_latency.add_duration(d);
        self.propagation_latency.add_duration(d);
    }

    /// Kept for callers that do not say which kind of request it was.
    pub fn record_latency(&mut self, d: Duration) {
        self.record_read(d);
    }

    /// A frame of `len` bytes (length prefix included) was queued for a client.
    pub fn record_sent(&mut self, len: usize) {
        let size = len.saturating_sub(4) as i64;
        self.client_response.record(size);
        self.response_bytes += size as u64;
    }

    pub fn min(&self) -> i64 {
        self.latency.min()
    }

    pub fn avg(&self) -> f64 {
        self.latency.avg()
    }

    pub fn max(&self) -> i64 {
        self.latency.max()
    }

    /// The tree digest after applying `zxid` (Apache's `DataTree.logZxidDigest`).
    pub fn record_digest(&mut self, zxid: i64, digest: u64) {
        if zxid % DIGEST_LOG_INTERVAL != 0 {
            return;
        }
        self.digest_log.push_back((zxid, digest));
        if self.digest_log.len() > DIGEST_LOG_LIMIT {
            self.digest_log.pop_front();
        }
    }

    /// A successful read: getData, exists, getChildren (and their multiRead forms) count the
    /// path, the bytes returned and the stat (Apache's `DataTree.updateReadStat`).
    pub fn record_read_namespace(&mut self, req: &Request, resp: &Response) {
        let set = &mut self.read_per_namespace;
        let names = |c: &[String]| c.iter().map(String::len).sum::<usize>();
        match (req, resp) {
            (Request::GetData(r), Response::GetData(d)) => {
                let len = d.data.as_ref().map_or(0, Vec::len);
                add_per_namespace(set, &r.path, r.path.len() + len + STAT_OVERHEAD_BYTES);
            }
            (Request::Exists(r), Response::Stat(_)) => {
                add_per_namespace(set, &r.path, r.path.len() + STAT_OVERHEAD_BYTES);
            }
            (Request::GetChildren(r), Response::GetChildren(c)) => {
                let n = r.path.len() + names(&c.children) + STAT_OVERHEAD_BYTES;
                add_per_namespace(set, &r.path, n);
            }
            (Request::GetChildren2(r), Response::GetChildren2(c)) => {
                let n = r.path.len() + names(&c.children) + STAT_OVERHEAD_BYTES;
                add_per_namespace(set, &r.path, n);
            }
            (Request::MultiRead(ops), Response::Multi(results)) => {
                for (op, res) in ops.iter().zip(results) {
                    let n = match (op, res) {
                        (MultiOp::GetData(r), MultiResult::GetData { data, .. }) => {
                            r.path.len() + data.as_ref().map_or(0, Vec::len)
                        }
                        (MultiOp::GetChildren(r), MultiResult::GetChildren { children }) => {
                            r.path.len() + names(children)
                        }
                        _ => continue,
                    };
                    add_per_namespace(set, op.path(), n + STAT_OVERHEAD_BYTES);
                }
            }
            _ => {}
        }
    }

    /// A committed transaction: creates and setData count the path and the data, deletes the
    /// path (Apache's `DataTree.updateWriteStat`); a closed session deletes its ephemerals.
    pub fn record_write_namespace(&mut self, txn: &Txn) {
        let set = &mut self.write_per_namespace;
        let data_len = |d: &Option<Vec<u8>>| d.as_ref().map_or(0, Vec::len);
        match txn {
            Txn::Create(t) | Txn::Create2(t) => {
                add_per_namespace(set, &t.path, t.path.len() + data_len(&t.data))
            }
            Txn::CreateContainer(t) => {
                add_per_namespace(set, &t.path, t.path.len() + data_len(&t.data))
            }
            Txn::CreateTtl(t) => add_per_namespace(set, &t.path, t.path.len() + data_len(&t.data)),
            Txn::Delete(t) | Txn::DeleteContainer(t) => {
                add_per_namespace(set, &t.path, t.path.len())
            }
            Txn::SetData(t) => add_per_namespace(set, &t.path, t.path.len() + data_len(&t.data)),
            Txn::CloseSession(Some(c)) => {
                for p in &c.paths_to_delete {
                    add_per_namespace(set, p, p.len());
                }
            }
            Txn::Multi(txns) => {
                for t in txns {
                    self.record_write_namespace(t);
                }
            }
            _ => {}
        }
    }

    /// `srst`: every statistic back to its start. Namespaces seen stay listed with zero
    /// values, as Apache's summary sets keep their keys.
    pub fn reset(&mut self) {
        let mut fresh = Stats::default();
        for (old, new) in [
            (&self.read_per_namespace, &mut fresh.read_per_namespace),
            (&self.write_per_namespace, &mut fresh.write_per_namespace),
        ] {
            for k in old.keys() {
                new.insert(k.clone(), Summary::basic());
            }
        }
        fresh.digest_log = std::mem::take(&mut self.digest_log);
        fresh.ensemble = std::mem::take(&mut self.ensemble);
        *self = fresh;
    }
}

/// Per-connection statistics of `cons` and `/commands/connections` (Apache's `ServerCnxn`).
#[derive(Debug, Clone)]
pub struct ConnStats {
    /// Wall-clock ms when the connection was accepted (`est`).
    pub established_ms: i64,
    /// cxid of the last answered request, -1 before the first (`lcxid`).
    pub last_cxid: i64,
    /// [`elapsed_ms`] when the last answer was sent (`lresp`).
    pub last_response_ms: u64,
    /// Latency of the last answered request (`llat`).
    pub last_latency_ms: i64,
    pub latency: Summary,
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            established_ms: wall_ms(),
            last_cxid: -1,
            last_response_ms: 0,
            last_latency_ms: 0,
            latency: Summary::basic(),
        }
    }
}

impl ConnStats {
    pub fn record(&mut self, cxid: i32, d: Duration) {
        let ms = d.as_millis() as i64;
        self.last_cxid = cxid as i64;
        self.last_response_ms = elapsed_ms();
        self.last_latency_ms = ms;
        self.latency.add(ms);
    }

    /// `crst`: everything but the establishment time.
    pub fn reset(&mut self) {
        *self = ConnStats {
            established_ms: self.established_ms,
            ..ConnStats::default()
        };
    }

    /// Apache prints the per-connection average as a truncated long.
    pub fn avg_latency_ms(&self) -> i64 {
        if self.latency.count == 0 {
            0
        } else {
            self.latency.sum / self.latency.count as i64
        }
    }
}

/// Java's `Double.toString` for the values we print: always a fractional part; NaN as `NaN`.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if v != 0.0 && (v.abs() >= 1e7 || v.abs() < 1e-3) {
        // Java switches to computerized scientific notation outside [1e-3, 1e7).
        let s = format!("{v:E}");
        match s.split_once('E') {
            Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
            _ => s,
        }
    } else if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_zero_before_samples_and_rounds_avg_to_four_places() {
        let mut s = Summary::advanced();
        let v = s.values();
        assert_eq!((v.min, v.max, v.count, v.sum), (0, 0, 0, 0));
        assert_eq!(v.percentiles, Some([0, 0, 0, 0]));
        assert!(v.quantiles.iter().all(|(_, q)| q.is_nan()));
        for x in [1, 1, 2] {
            s.add(x);
        }
        assert_eq!(s.avg(), 1.3333);
        assert_eq!(s.values().percentiles, Some([1, 2, 2, 2]));
        s.reset();
        assert!(s.is_advanced());
        assert_eq!(s.count, 0);
    }

    #[test]
    fn percentile_window_is_bounded() {
        let mut s = Summary::advanced();
        for i in 0..(PERCENTILE_WINDOW as i64 * 3) {
            s.add(i);
        }
        assert_eq!(s.window.as_ref().unwrap().samples.len(), PERCENTILE_WINDOW);
        assert_eq!(s.count, PERCENTILE_WINDOW as u64 * 3);
    }

    #[test]
    fn buffer_stats_start_at_minus_one() {
        let mut b = BufferStats::default();
        assert_eq!((b.last, b.min, b.max), (-1, -1, -1));
        b.record(93);
        b.record(16);
        assert_eq!((b.last, b.min, b.max), (16, 16, 93));
    }

    #[test]
    fn namespaces_as_apache_splits_paths() {
        assert_eq!(top_namespace("/a/b"), Some("a"));
        assert_eq!(top_namespace("/a"), Some("a"));
        assert_eq!(top_namespace("/"), None);
        assert_eq!(top_namespace(""), None);
    }

    /// The numbers a captured Apache 3.8 server reported for the ops tests' workload: reads of
    /// /a (5 bytes, twice), its 3 children and /a/b's stat; five writes under /a.
    #[test]
    fn per_namespace_bytes_match_apache() {
        use zk_proto::proto::{GetChildrenResponse, GetDataResponse, PathWatchRequest};
        let mut s = Stats::default();
        let pw = |p: &str| PathWatchRequest {
            path: p.into(),
            watch: true,
        };
        let data = Response::GetData(GetDataResponse {
            data: Some(b"hello".to_vec()),
            stat: Default::default(),
        });
        s.record_read_namespace(&Request::GetData(pw("/a")), &data);
        s.record_read_namespace(&Request::GetData(pw("/a")), &data);
        let children = Response::GetChildren(GetChildrenResponse {
            children: vec!["b".into(), "e".into(), "s-0000000000".into()],
        });
        s.record_read_namespace(&Request::GetChildren(pw("/a")), &children);
        s.record_read_namespace(
            &Request::Exists(pw("/a/b")),
            &Response::Stat(Default::default()),
        );
        let r = &s.read_per_namespace["a"];
        assert_eq!((r.count, r.sum, r.min(), r.max()), (4, 306, 72, 84));
        s.reset();
        assert_eq!(s.read_per_namespace["a"].count, 0);
    }

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.5625), "1.5625");
        assert_eq!(java_double(9.0), "9.0");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(1.0e7), "1.0E7");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
    }
}
