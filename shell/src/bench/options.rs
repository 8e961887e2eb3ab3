//! What a benchmark run does: the workload and its knobs, validated before anything connects.

use std::time::Duration;

use super::BenchError;

/// One kind of load.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "name")]
pub enum Workload {
    /// create: each operation creates a new persistent node under the prefix.
    Create,
    /// set: setData on a random one of `keys` existing nodes.
    Set,
    /// get: getData of a random one of `keys` existing nodes.
    Get,
    /// mixed: getData with probability `read_ratio`, setData otherwise.
    Mixed { read_ratio: f64 },
    /// watch: `clients` sessions hold a persistent watch on one node; one more session sets
    /// it, and each write's latency is the time from its acknowledgement to the event at each
    /// watcher. Writes are sequential (the next one starts once every watcher has its event).
    Watch,
    /// multi: each operation is one multi of `ops` setData on distinct random keys.
    Multi { ops: usize },
    /// sessions: each operation opens a session and closes it.
    Sessions,
    /// ephemerals: each operation creates an ephemeral node; the sessions that own them are
    /// closed at the end (timed, as `close_s`).
    Ephemerals,
}

impl Workload {
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mixed { .. } => "mixed",
            Workload::Watch => "watch",
            Workload::Multi { .. } => "multi",
            Workload::Sessions => "sessions",
            Workload::Ephemerals => "ephemerals",
        }
    }

    /// True when the workload reads or writes the pre-created `keys` nodes.
    pub fn uses_keys(&self) -> bool {
        matches!(
            self,
            Workload::Set | Workload::Get | Workload::Mixed { .. } | Workload::Multi { .. }
        )
    }
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// After this many operations in total (over every session).
    Ops(u64),
    /// After this long; operations in flight then still complete and count.
    Duration(#[serde(serialize_with = "secs")] Duration),
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// `host:port[,host:port...][/chroot]`; session `i` goes to host `i mod n`.
    pub connect: String,
    pub workload: Workload,
    /// Sessions doing the work (for `watch`: the watching sessions).
    pub clients: usize,
    /// Requests each session keeps in flight (closed loop, pipelined on one connection).
    pub inflight: usize,
    /// Bytes of data per node written.
    pub value_size: usize,
    /// Nodes read and written by set, get, mixed and multi (created before the measured phase).
    pub keys: usize,
    pub limit: Limit,
    /// Target operations per second over all sessions; `None` runs as fast as the server
    /// answers. When set, latency counts from each operation's scheduled start, so a server
    /// that falls behind shows it (no coordinated omission).
    pub rate: Option<f64>,
    /// The node under which everything is created; must not exist yet.
    pub prefix: String,
    /// Leave the prefix in place at the end (to load data for another measurement).
    pub keep: bool,
    /// Requested session timeout of every session.
    pub session_timeout_ms: i32,
}

/// Operations in flight at once while creating the keys and while cleaning up.
pub(super) const SETUP_INFLIGHT: usize = 1024;
/// Upper bounds that keep a typo from opening a million sockets.
const CLIENTS_MAX: usize = 10_000;
const INFLIGHT_MAX: usize = 4096;
/// ZooKeeper's default jute.maxbuffer is 0xfffff; a value must fit in a request with its path.
const VALUE_SIZE_MAX: usize = 1_000_000;

impl Options {
    /// Defaults for `workload` against `connect`: 8 sessions, 1 in flight, 1 KiB values,
    /// 1000 keys, 10 s, a fresh random prefix.
    pub fn new(connect: &str, workload: Workload) -> Options {
        Options {
            connect: connect.to_string(),
            workload,
            clients: 8,
            inflight: 1,
            value_size: 1024,
            keys: 1000,
            limit: Limit::Duration(Duration::from_secs(10)),
            rate: None,
            prefix: random_prefix(),
            keep: false,
            session_timeout_ms: 30_000,
        }
    }

    /// Checks the knobs against each other.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |s: String| Err(BenchError::Options(s));
        if self.clients == 0 || self.clients > CLIENTS_MAX {
            return bad(format!("--clients must be 1..={CLIENTS_MAX}"));
        }
        if self.inflight == 0 || self.inflight > INFLIGHT_MAX {
            return bad(format!("--inflight must be 1..={INFLIGHT_MAX}"));
        }
        if self.value_size > VALUE_SIZE_MAX {
            return bad(format!("--value-size must be at most {VALUE_SIZE_MAX}"));
        }
        if self.workload.uses_keys() && self.keys == 0 {
            return bad("--keys must be at least 1".into());
        }
        if let Workload::Mixed { read_ratio } = self.workload {
            if !(0.0..=1.0).contains(&read_ratio) {
                return bad("--read-ratio must be between 0 and 1".into());
            }
        }
        if let Workload::Multi { ops } = self.workload {
            if ops == 0 || ops > self.keys {
                return bad("--multi-ops must be between 1 and --keys".into());
            }
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return bad("--rate must be a positive number of operations per second".into());
            }
        }
        match self.limit {
            Limit::Ops(0) => return bad("--ops must be at least 1".into()),
            Limit::Duration(d) if d.is_zero() => return bad("--duration must be positive".into()),
            _ => {}
        }
        let p = &self.prefix;
        if !p.starts_with('/') || p == "/" || p.ends_with('/') || p.contains("//") {
            return bad(format!(
                "--prefix must be an absolute path below the root, not {p:?}"
            ));
        }
        if p == "/zookeeper" || p.starts_with("/zookeeper/") {
            return bad("--prefix must not be under /zookeeper".into());
        }
        Ok(())
    }

    /// Closed-loop workers in the measured phase.
    pub fn workers(&self) -> usize {
        match self.workload {
            Workload::Watch => 1,
            Workload::Sessions => self.clients,
            _ => self.clients * self.inflight,
        }
    }
}

/// `/zksh-bench-<16 hex digits>`, different on every call.
pub fn random_prefix() -> String {
    format!("/zksh-bench-{:016x}", rand::random::<u64>())
}

/// Parses `10s`, `500ms`, `2m`, `1h` or a plain number of seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (try 10s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("bad duration unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn validation_names_the_knob() {
        let mut o = Options::new("h:1", Workload::Multi { ops: 20 });
        o.keys = 10;
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("--multi-ops"), "{e}");
        let mut o = Options::new("h:1", Workload::Get);
        o.prefix = "/zookeeper/x".into();
        assert!(o.validate().is_err());
        o.prefix = "/a/".into();
        assert!(o.validate().is_err());
        o.prefix = "/a/b".into();
        assert!(o.validate().is_ok());
    }

    #[test]
    fn random_prefixes_differ() {
        assert_ne!(random_prefix(), random_prefix());
        assert!(random_prefix().starts_with("/zksh-bench-"));
    }
}
