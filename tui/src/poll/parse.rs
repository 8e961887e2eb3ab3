//! Pure parsers for what a ZooKeeper server answers: the `srvr`/`stat` and `mntr` four-letter
//! words and the AdminServer's `/commands/srvr` and `/commands/mntr` JSON.
//!
//! No I/O here. The formats are Apache ZooKeeper 3.8's; the unit tests run on text captured
//! from a real 3.8.0 server (`tui/tests/fixtures/`). `mntr` has no fixed order and gains keys
//! between releases, so unknown keys and string values are skipped, never errors.

use crate::zxid::Zxid;

/// What a four-letter word's reply says before its content is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The command ran; its text follows.
    Text(&'a str),
    /// `<cmd> is not executed because it is not in the whitelist.`
    NotWhitelisted,
    /// `This ZooKeeper instance is not currently serving requests` (electing, or no quorum).
    NotServing,
}

const NOT_WHITELISTED: &str = "is not executed because it is not in the whitelist.";
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Sorts a raw four-letter-word reply into refused, not serving, or content.
pub fn classify(text: &str) -> Reply<'_> {
    let trimmed = text.trim();
    if trimmed.ends_with(NOT_WHITELISTED) {
        Reply::NotWhitelisted
    } else if trimmed.starts_with(NOT_SERVING) {
        Reply::NotServing
    } else {
        Reply::Text(text)
    }
}

/// A server's role as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
    ReadOnly,
}

impl Mode {
    /// Parses srvr's `Mode:` value or mntr's `zk_server_state`.
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim() {
            "leader" => Some(Mode::Leader),
            "follower" => Some(Mode::Follower),
            "observer" => Some(Mode::Observer),
            "standalone" => Some(Mode::Standalone),
            "read-only" | "read_only" => Some(Mode::ReadOnly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::Standalone => "standalone",
            Mode::ReadOnly => "read-only",
        }
    }
}

/// Request latency in milliseconds since the server started (or since its last `srst`, which
/// zk-top never sends).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    pub min_ms: u64,
    pub avg_ms: f64,
    pub max_ms: u64,
}

/// The `srvr` reply (also the tail of `stat`).
#[derive(Debug, Clone, PartialEq)]
pub struct Srvr {
    pub version: String,
    pub read_only: bool,
    pub latency: Latency,
    pub received: u64,
    pub sent: u64,
    pub connections: u64,
    pub outstanding: u64,
    pub zxid: Zxid,
    pub mode: Mode,
    pub node_count: u64,
}

/// Why a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("reply has no `{0}` line")]
    Missing(&'static str),
    #[error("bad value for `{key}`: {value:?}")]
    BadValue { key: &'static str, value: String },
    #[error("bad JSON: {0}")]
    Json(String),
    #[error("server error: {0}")]
    Server(String),
}

/// Parses the reply to `srvr` or `stat`.
pub fn parse_srvr(text: &str) -> Result<Srvr, ParseError> {
    let mut version = None;
    let mut read_only = false;
    let mut latency = Latency::default();
    let (mut received, mut sent, mut connections, mut outstanding, mut node_count) =
        (0, 0, 0, 0, 0);
    let mut zxid = None;
    let mut mode = None;
    for line in text.lines() {
        if line.starts_with("READ-ONLY mode") {
            read_only = true;
            continue;
        }
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let value = value.trim();
        match key {
            "Zookeeper version" => version = Some(value.to_string()),
            "Latency min/avg/max" => latency = parse_latency(value)?,
            "Received" => received = number("Received", value)?,
            "Sent" => sent = number("Sent", value)?,
            "Connections" => connections = number("Connections", value)?,
            "Outstanding" => outstanding = number("Outstanding", value)?,
            "Node count" => node_count = number("Node count", value)?,
            "Zxid" => {
                zxid = Some(Zxid::parse(value).ok_or_else(|| bad("Zxid", value))?);
            }
            "Mode" => mode = Some(Mode::parse(value).ok_or_else(|| bad("Mode", value))?),
            _ => {}
        }
    }
    Ok(Srvr {
        version: version.ok_or(ParseError::Missing("Zookeeper version"))?,
        read_only,
        latency,
        received,
        sent,
        connections,
        outstanding,
        zxid: zxid.ok_or(ParseError::Missing("Zxid"))?,
        mode: mode.ok_or(ParseError::Missing("Mode"))?,
        node_count,
    })
}

fn parse_latency(value: &str) -> Result<Latency, ParseError> {
    let mut parts = value.split('/');
    let (Some(min), Some(avg), Some(max), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("Latency min/avg/max", value));
    };
    Ok(Latency {
        min_ms: number("Latency min/avg/max", min)?,
        avg_ms: avg.parse().map_err(|_| bad("Latency min/avg/max", value))?,
        max_ms: number("Latency min/avg/max", max)?,
    })
}

fn number(key: &'static str, value: &str) -> Result<u64, ParseError> {
    value.trim().parse().map_err(|_| bad(key, value))
}

fn bad(key: &'static str, value: &str) -> ParseError {
    ParseError::BadValue {
        key,
        value: value.to_string(),
    }
}

/// The `mntr` metrics zk-top uses. Each is `None` when the server did not report it (older
/// releases, non-leaders, or zk-node's subset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mntr {
    pub version: Option<String>,
    pub server_state: Option<Mode>,
    /// `leading - broadcast`, `following - synchronization`... (quorum members only).
    pub peer_state: Option<String>,
    pub avg_latency_ms: Option<f64>,
    pub min_latency_ms: Option<u64>,
    pub max_latency_ms: Option<u64>,
    pub packets_received: Option<u64>,
    pub packets_sent: Option<u64>,
    pub connections: Option<u64>,
    pub outstanding: Option<u64>,
    pub znode_count: Option<u64>,
    pub watch_count: Option<u64>,
    pub ephemerals_count: Option<u64>,
    pub data_size_bytes: Option<u64>,
    pub uptime_ms: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub global_sessions: Option<u64>,
    pub quorum_size: Option<u64>,
    /// Leader only: connected learners (followers and observers).
    pub learners: Option<u64>,
    /// Leader only: voting followers that finished sync.
    pub synced_followers: Option<u64>,
    pub synced_observers: Option<u64>,
    pub pending_syncs: Option<u64>,
    pub leader_uptime_ms: Option<u64>,
    /// Elections this server took part in, and their total duration (the `election_time`
    /// summary). The difference between two polls gives the last election's duration.
    pub election_count: Option<u64>,
    pub election_sum_ms: Option<u64>,
    /// Requests served and their total latency (the `readlatency` plus `updatelatency`
    /// summaries); the difference between two polls gives the latency over the interval.
    pub request_count: Option<u64>,
    pub request_latency_sum_ms: Option<u64>,
    /// How many metric lines the reply had.
    pub metric_count: usize,
}

impl Mntr {
    /// Records one metric; `key` is without the `zk_` prefix (the AdminServer's spelling).
    pub fn set(&mut self, key: &str, value: &str) {
        self.metric_count += 1;
        let n = || integer(value);
        match key {
            "version" => self.version = Some(value.to_string()),
            "server_state" => self.server_state = Mode::parse(value),
            "peer_state" => self.peer_state = Some(value.to_string()),
            "avg_latency" => self.avg_latency_ms = value.trim().parse().ok(),
            "min_latency" => self.min_latency_ms = n(),
            "max_latency" => self.max_latency_ms = n(),
            "packets_received" => self.packets_received = n(),
            "packets_sent" => self.packets_sent = n(),
            "num_alive_connections" => self.connections = n(),
            "outstanding_requests" => self.outstanding = n(),
            "znode_count" => self.znode_count = n(),
            "watch_count" => self.watch_count = n(),
            "ephemerals_count" => self.ephemerals_count = n(),
            "approximate_data_size" => self.data_size_bytes = n(),
            "uptime" => self.uptime_ms = n(),
            "open_file_descriptor_count" => self.open_fds = n(),
            "max_file_descriptor_count" => self.max_fds = n(),
            "global_sessions" => self.global_sessions = n(),
            "quorum_size" => self.quorum_size = n(),
            "learners" => self.learners = n(),
            "synced_followers" => self.synced_followers = n(),
            "synced_observers" => self.synced_observers = n(),
            "pending_syncs" => self.pending_syncs = n(),
            "leader_uptime" => self.leader_uptime_ms = n(),
            "cnt_election_time" => self.election_count = n(),
            "sum_election_time" => self.election_sum_ms = n(),
            "cnt_readlatency" | "cnt_updatelatency" => add(&mut self.request_count, n()),
            "sum_readlatency" | "sum_updatelatency" => add(&mut self.request_latency_sum_ms, n()),
            _ => {}
        }
    }
}

fn add(total: &mut Option<u64>, value: Option<u64>) {
    if let Some(v) = value {
        *total = Some(total.unwrap_or(0) + v);
    }
}

/// A non-negative integer, also accepting Java's `12.0` spelling.
fn integer(value: &str) -> Option<u64> {
    let value = value.trim();
    value.parse::<u64>().ok().or_else(|| {
        value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Parses the reply to `mntr`: `zk_<key>\t<value>` lines in any order.
pub fn parse_mntr(text: &str) -> Mntr {
    let mut mntr = Mntr::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('\t') else {
            continue;
        };
        let key = key.strip_prefix("zk_").unwrap_or(key);
        mntr.set(key, value);
    }
    mntr
}

/// Parses the AdminServer's `/commands/mntr` (or `monitor`) JSON: a flat object with the
/// mntr keys without `zk_`.
pub fn parse_admin_mntr(json: &str) -> Result<Mntr, ParseError> {
    let value = admin_object(json)?;
    let mut mntr = Mntr::default();
    if let serde_json::Value::Object(map) = &value {
        for (key, v) in map {
            match v {
                serde_json::Value::String(s) => mntr.set(key, s),
                serde_json::Value::Number(n) => mntr.set(key, &n.to_string()),
                _ => {}
            }
        }
    }
    Ok(mntr)
}

/// Parses the AdminServer's `/commands/srvr` (`server_stats`) JSON into the `srvr` fields.
pub fn parse_admin_srvr(json: &str) -> Result<Srvr, ParseError> {
    let value = admin_object(json)?;
    let stats = &value["server_stats"];
    let u = |key: &'static str| -> Result<u64, ParseError> {
        stats[key].as_u64().ok_or(ParseError::Missing(key))
    };
    let state = stats["server_state"]
        .as_str()
        .ok_or(ParseError::Missing("server_state"))?;
    Ok(Srvr {
        version: value["version"].as_str().unwrap_or_default().to_string(),
        read_only: value["read_only"].as_bool().unwrap_or(false),
        latency: Latency {
            min_ms: u("min_latency")?,
            avg_ms: stats["avg_latency"].as_f64().unwrap_or(0.0),
            max_ms: u("max_latency")?,
        },
        received: u("packets_received")?,
        sent: u("packets_sent")?,
        connections: u("num_alive_client_connections")?,
        outstanding: u("outstanding_requests")?,
        zxid: Zxid(u("last_processed_zxid")?),
        mode: Mode::parse(state).ok_or_else(|| bad("server_state", state))?,
        node_count: value["node_count"].as_u64().unwrap_or(0),
    })
}

/// Whether an AdminServer reply is the "not currently serving" error.
pub fn is_not_serving(err: &ParseError) -> bool {
    matches!(err, ParseError::Server(m) if m.starts_with(NOT_SERVING))
}

fn admin_object(json: &str) -> Result<serde_json::Value, ParseError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ParseError::Json(e.to_string()))?;
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        return Err(ParseError::Server(error.to_string()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/",
                $name
            ))
        };
    }

    #[test]
    fn srvr_of_a_standalone_server() {
        let s = parse_srvr(fixture!("srvr_standalone.txt")).unwrap();
        assert_eq!(s.mode, Mode::Standalone);
        assert_eq!(s.zxid, Zxid(0x12f));
        assert_eq!(s.node_count, 306);
        assert_eq!(
            (s.received, s.sent, s.connections, s.outstanding),
            (309, 308, 1, 0)
        );
        assert_eq!(
            s.latency,
            Latency {
                min_ms: 0,
                avg_ms: 1.7818,
                max_ms: 24
            }
        );
        assert!(s.version.starts_with("3.8.0"));
        assert!(!s.read_only);
    }

    #[test]
    fn srvr_of_leader_and_followers() {
        let leader = parse_srvr(fixture!("srvr_leader3.txt")).unwrap();
        assert_eq!(leader.mode, Mode::Leader);
        assert_eq!(leader.zxid.to_string(), "1:303");
        let follower = parse_srvr(fixture!("srvr_follower2.txt")).unwrap();
        assert_eq!(follower.mode, Mode::Follower);
        assert_eq!(follower.latency.max_ms, 51);
        assert_eq!(
            parse_srvr(fixture!("srvr_follower1.txt")).unwrap().received,
            3
        );
    }

    #[test]
    fn stat_parses_like_srvr() {
        let s = parse_srvr(fixture!("stat_standalone.txt")).unwrap();
        assert_eq!(
            (s.mode, s.zxid, s.received),
            (Mode::Standalone, Zxid(0x12f), 311)
        );
    }

    #[test]
    fn refusals_are_recognised() {
        assert_eq!(
            classify(fixture!("mntr_refused.txt")),
            Reply::NotWhitelisted
        );
        assert_eq!(
            classify(fixture!("srvr_not_serving.txt")),
            Reply::NotServing
        );
        let text = fixture!("srvr_leader3.txt");
        assert_eq!(classify(text), Reply::Text(text));
    }

    #[test]
    fn srvr_without_mode_is_an_error() {
        assert_eq!(
            parse_srvr("Zookeeper version: x\nZxid: 0x1\n"),
            Err(ParseError::Missing("Mode"))
        );
        assert!(matches!(
            parse_srvr("Zookeeper version: x\nZxid: 0xq\nMode: leader\n"),
            Err(ParseError::BadValue { key: "Zxid", .. })
        ));
        assert!(parse_srvr("").is_err());
    }

    #[test]
    fn mntr_of_a_leader() {
        let m = parse_mntr(fixture!("mntr_leader3.txt"));
        assert_eq!(m.server_state, Some(Mode::Leader));
        assert_eq!(m.peer_state.as_deref(), Some("leading - broadcast"));
        assert_eq!(m.synced_followers, Some(2));
        assert_eq!(m.learners, Some(2));
        assert_eq!(m.quorum_size, Some(3));
        assert_eq!(m.znode_count, Some(306));
        assert!(m.uptime_ms.is_some() && m.data_size_bytes.is_some());
        assert!(m.metric_count > 400, "{}", m.metric_count);
    }

    #[test]
    fn mntr_of_standalone_and_follower() {
        let m = parse_mntr(fixture!("mntr_standalone.txt"));
        assert_eq!(m.server_state, Some(Mode::Standalone));
        assert_eq!(m.peer_state, None);
        assert_eq!(m.learners, None);
        assert!(m.watch_count.is_some());
        let f = parse_mntr(fixture!("mntr_follower2.txt"));
        assert_eq!(f.server_state, Some(Mode::Follower));
        assert_eq!(f.peer_state.as_deref(), Some("following - broadcast"));
        assert_eq!((f.election_count, f.election_sum_ms), (Some(1), Some(417)));
        assert_eq!(
            (f.request_count, f.request_latency_sum_ms),
            (Some(307), Some(2310))
        );
    }

    #[test]
    fn mntr_tolerates_junk() {
        let m =
            parse_mntr("zk_version\t3.9\nnonsense\nzk_znode_count\tlots\nzk_watch_count\t7.0\n");
        assert_eq!(m.version.as_deref(), Some("3.9"));
        assert_eq!(m.znode_count, None);
        assert_eq!(m.watch_count, Some(7));
    }

    #[test]
    fn admin_srvr_json() {
        let s = parse_admin_srvr(fixture!("admin_srvr_leader.json")).unwrap();
        assert_eq!(s.mode, Mode::Leader);
        assert_eq!(s.zxid.epoch(), 2);
        let f = parse_admin_srvr(fixture!("admin_srvr_follower.json")).unwrap();
        assert_eq!(f.mode, Mode::Follower);
        let st = parse_admin_srvr(fixture!("admin_srvr_standalone.json")).unwrap();
        assert_eq!(st.mode, Mode::Standalone);
        assert!(st.node_count > 300);
        let err = parse_admin_srvr(fixture!("admin_srvr_not_serving.json")).unwrap_err();
        assert!(is_not_serving(&err), "{err}");
    }

    #[test]
    fn admin_mntr_json() {
        let m = parse_admin_mntr(fixture!("admin_mntr_standalone.json")).unwrap();
        assert_eq!(m.server_state, Some(Mode::Standalone));
        assert!(m.watch_count.is_some() && m.data_size_bytes.is_some() && m.uptime_ms.is_some());
        assert!(m.metric_count > 400, "{}", m.metric_count);
        assert!(parse_admin_mntr("<html>").is_err());
    }
}
