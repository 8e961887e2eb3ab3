//! What zk-top knows about each cluster and server, and how a poll result changes it.
//!
//! Everything derived (leader, lag, write rate, elections, alarms) is computed here when a
//! poll result arrives, so that drawing only reads.

use super::alarms::{self, Alarm, Severity};
use super::history::Ring;
use crate::config::{ClusterSpec, Thresholds};
use crate::poll::parse::Mode;
use crate::poll::{Outcome, Polled, Sample};
use crate::zxid::Zxid;

/// Samples kept per sparkline: 10 minutes at the default 1 s interval.
pub const HISTORY_LEN: usize = 600;
/// Elections remembered per cluster.
pub const ELECTIONS_LEN: usize = 32;
/// The write rate is measured over the leader's zxid samples of this window, so one slow
/// poll does not make it jump.
pub const RATE_WINDOW_MS: u64 = 10_000;
/// Leader zxid samples kept for the rate (enough for the window at a 100 ms interval).
const ZXID_SAMPLES_LEN: usize = 128;

/// A point in time as the app sees it: monotonic for rates, Unix for display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    pub mono_ms: u64,
    pub unix_ms: u64,
}

/// Whether a server answered its last poll.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerStatus {
    /// Not polled yet.
    Unknown,
    Up(Box<Sample>),
    Down {
        error: String,
        since: Clock,
    },
}

/// The role shown for a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Leader,
    Standalone,
    Follower,
    Observer,
    ReadOnly,
    /// Up but not serving: electing, or cut off from the quorum.
    Looking,
    Down,
    Unknown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Standalone => "standalone",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::ReadOnly => "read-only",
            Role::Looking => "looking",
            Role::Down => "down",
            Role::Unknown => "?",
        }
    }
}

/// One server of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerState {
    /// `host:port` of the client port, as configured.
    pub addr: String,
    pub status: ServerStatus,
    /// When the last poll result arrived.
    pub polled_at: Option<Clock>,
    /// How long the last poll took.
    pub poll_ms: u64,
    /// Transactions behind the leader (None without a leader or a zxid).
    pub lag_txns: Option<u64>,
    /// `lag_txns` divided by the leader's write rate.
    pub lag_s: Option<f64>,
    pub lag_history: Ring<f64>,
    /// Average request latency per poll interval in ms (from mntr's latency summaries when
    /// available, else srvr's average since start).
    pub latency_history: Ring<f64>,
    /// Duration of the last election this server took part in, from its `election_time`.
    pub last_election_ms: Option<u64>,
    /// Polls failed in a row; reset by an answer.
    pub failures: u32,
    /// Whether the server ever answered.
    pub ever_up: bool,
    prev_requests: Option<(u64, u64)>,
    prev_elections: Option<(u64, u64)>,
}

impl ServerState {
    fn new(addr: String) -> Self {
        ServerState {
            addr,
            status: ServerStatus::Unknown,
            polled_at: None,
            poll_ms: 0,
            lag_txns: None,
            lag_s: None,
            lag_history: Ring::new(HISTORY_LEN),
            latency_history: Ring::new(HISTORY_LEN),
            last_election_ms: None,
            failures: 0,
            ever_up: false,
            prev_requests: None,
            prev_elections: None,
        }
    }

    pub fn sample(&self) -> Option<&Sample> {
        match &self.status {
            ServerStatus::Up(sample) => Some(sample),
            _ => None,
        }
    }

    pub fn role(&self) -> Role {
        match &self.status {
            ServerStatus::Unknown => Role::Unknown,
            ServerStatus::Down { .. } => Role::Down,
            ServerStatus::Up(sample) if sample.not_serving => Role::Looking,
            ServerStatus::Up(sample) => match sample.mode() {
                Some(Mode::Leader) => Role::Leader,
                Some(Mode::Follower) => Role::Follower,
                Some(Mode::Observer) => Role::Observer,
                Some(Mode::Standalone) => Role::Standalone,
                Some(Mode::ReadOnly) => Role::ReadOnly,
                None => Role::Unknown,
            },
        }
    }

    pub fn is_up(&self) -> bool {
        matches!(self.status, ServerStatus::Up(_))
    }

    pub fn zxid(&self) -> Option<Zxid> {
        self.sample().and_then(Sample::zxid)
    }

    /// Short name for tables and alarms: the address.
    pub fn name(&self) -> &str {
        &self.addr
    }
}

/// A change of leader or epoch seen by zk-top.
#[derive(Debug, Clone, PartialEq)]
pub struct Election {
    /// When zk-top first saw the new leader.
    pub at: Clock,
    /// The epoch before (None for the first leader zk-top saw).
    pub from_epoch: Option<u32>,
    pub to_epoch: u32,
    /// Address of the new leader.
    pub leader: String,
    /// How long zk-top saw the cluster without a leader (poll-interval resolution).
    pub leaderless_ms: Option<u64>,
    /// The election's duration as the new leader measured it (`election_time`).
    pub election_ms: Option<u64>,
}

/// Overall state of a cluster, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Critical,
    Warning,
    Ok,
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Critical => "CRIT",
            Health::Warning => "WARN",
            Health::Ok => "OK",
            Health::Unknown => "...",
        }
    }
}

/// One cluster and everything derived from its servers' polls.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterState {
    pub name: String,
    pub thresholds: Thresholds,
    pub servers: Vec<ServerState>,
    /// The server that orders writes: the leader, or a standalone server.
    pub leader: Option<usize>,
    /// How many servers claim to lead.
    pub leader_count: usize,
    pub leader_zxid: Option<Zxid>,
    /// Transactions per second, from the leader's zxid counter.
    pub writes_per_s: Option<f64>,
    pub throughput_history: Ring<f64>,
    pub elections: Ring<Election>,
    pub alarms: Vec<Alarm>,
    pub health: Health,
    zxid_samples: Ring<(u64, Zxid)>,
    leaderless_since: Option<Clock>,
    last_leader: Option<(usize, u32)>,
}

impl ClusterState {
    pub fn new(spec: &ClusterSpec) -> Self {
        ClusterState {
            name: spec.name.clone(),
            thresholds: spec.thresholds,
            servers: spec.servers.iter().cloned().map(ServerState::new).collect(),
            leader: None,
            leader_count: 0,
            leader_zxid: None,
            writes_per_s: None,
            throughput_history: Ring::new(HISTORY_LEN),
            elections: Ring::new(ELECTIONS_LEN),
            alarms: Vec::new(),
            health: Health::Unknown,
            zxid_samples: Ring::new(ZXID_SAMPLES_LEN),
            leaderless_since: None,
            last_leader: None,
        }
    }

    pub fn up_count(&self) -> usize {
        self.servers.iter().filter(|s| s.is_up()).count()
    }

    /// Votes needed for a quorum (all servers are taken as voters).
    pub fn majority(&self) -> usize {
        self.servers.len() / 2 + 1
    }

    pub fn worst_lag(&self) -> Option<u64> {
        self.servers.iter().filter_map(|s| s.lag_txns).max()
    }

    pub fn leader_server(&self) -> Option<&ServerState> {
        self.leader.map(|i| &self.servers[i])
    }

    /// The newest election, if any.
    pub fn last_election(&self) -> Option<&Election> {
        self.elections.last()
    }

    /// Records a poll result and recomputes everything derived. Returns the alarms raised
    /// and cleared by it.
    pub fn on_polled(&mut self, polled: Polled, now: Clock) -> AlarmChanges {
        let index = polled.server;
        assert!(
            index < self.servers.len(),
            "poll result for an unknown server"
        );
        let server = &mut self.servers[index];
        server.polled_at = Some(now);
        server.poll_ms = polled.elapsed_ms;
        match polled.outcome {
            Outcome::Up(sample) => {
                server.failures = 0;
                server.ever_up = true;
                track_server_counters(server, &sample);
                server.status = ServerStatus::Up(sample);
            }
            Outcome::Down(error) => {
                server.failures = server.failures.saturating_add(1);
                let since = match &server.status {
                    ServerStatus::Down { since, .. } => *since,
                    _ => now,
                };
                server.status = ServerStatus::Down { error, since };
                server.lag_txns = None;
                server.lag_s = None;
                server.prev_requests = None;
            }
        }
        self.find_leader();
        if self.leader == Some(index) {
            self.on_leader_polled(now);
        }
        self.update_lag(index);
        self.track_elections(now);
        self.evaluate(now)
    }

    fn find_leader(&mut self) {
        let claims: Vec<usize> = (0..self.servers.len())
            .filter(|&i| matches!(self.servers[i].role(), Role::Leader | Role::Standalone))
            .collect();
        self.leader_count = claims.len();
        // Two claimants happen briefly when an old leader has not noticed it lost the
        // quorum; the one with the newer zxid is the one writes go to.
        self.leader = claims
            .into_iter()
            .max_by_key(|&i| (self.servers[i].zxid(), std::cmp::Reverse(i)));
        self.leader_zxid = self.leader.and_then(|i| self.servers[i].zxid());
    }

    fn on_leader_polled(&mut self, now: Clock) {
        let Some(zxid) = self.leader_zxid else {
            return;
        };
        if self
            .zxid_samples
            .last()
            .is_some_and(|(_, z)| z.epoch() != zxid.epoch())
        {
            self.zxid_samples.clear();
        }
        self.zxid_samples.push((now.mono_ms, zxid));
        let oldest = self
            .zxid_samples
            .iter()
            .find(|(t, _)| now.mono_ms.saturating_sub(*t) <= RATE_WINDOW_MS)
            .copied();
        self.writes_per_s = match oldest {
            Some((t, z)) if now.mono_ms > t => {
                let txns = zxid.counter().saturating_sub(z.counter());
                Some(f64::from(txns) * 1000.0 / (now.mono_ms - t) as f64)
            }
            _ => self.writes_per_s,
        };
        if let Some(rate) = self.writes_per_s {
            self.throughput_history.push(rate);
        }
    }

    fn update_lag(&mut self, polled: usize) {
        let leader_zxid = self.leader_zxid;
        let rate = self.writes_per_s;
        for (i, server) in self.servers.iter_mut().enumerate() {
            let lag = match (server.zxid(), leader_zxid) {
                (Some(z), Some(l)) if server.is_up() => Some(z.lag_behind(l)),
                _ => None,
            };
            server.lag_txns = lag;
            server.lag_s = lag.and_then(|lag| match rate {
                _ if lag == 0 => Some(0.0),
                Some(r) if r > 0.0 => Some(lag as f64 / r),
                _ => None,
            });
            if i == polled {
                if let Some(lag) = lag {
                    server.lag_history.push(lag as f64);
                }
            }
        }
    }

    fn track_elections(&mut self, now: Clock) {
        let all_polled = self.servers.iter().all(|s| s.polled_at.is_some());
        let Some(leader) = self.leader.filter(|_| self.leader_count > 0) else {
            if all_polled && self.leaderless_since.is_none() {
                self.leaderless_since = Some(now);
            }
            return;
        };
        let Some(epoch) = self.leader_zxid.map(Zxid::epoch) else {
            return;
        };
        let changed = match self.last_leader {
            None => true,
            Some((l, e)) => l != leader || e != epoch,
        };
        if changed {
            let server = &self.servers[leader];
            self.elections.push(Election {
                at: now,
                from_epoch: self.last_leader.map(|(_, e)| e),
                to_epoch: epoch,
                leader: server.addr.clone(),
                leaderless_ms: self
                    .leaderless_since
                    .map(|since| now.mono_ms.saturating_sub(since.mono_ms)),
                election_ms: server.last_election_ms,
            });
            self.last_leader = Some((leader, epoch));
        }
        self.leaderless_since = None;
    }

    fn evaluate(&mut self, now: Clock) -> AlarmChanges {
        let alarms = alarms::evaluate(self);
        let raised: Vec<Alarm> = alarms
            .iter()
            .filter(|a| !self.alarms.iter().any(|b| b.key == a.key))
            .cloned()
            .collect();
        let cleared: Vec<Alarm> = self
            .alarms
            .iter()
            .filter(|b| !alarms.iter().any(|a| a.key == b.key))
            .cloned()
            .collect();
        self.health = if self.servers.iter().any(|s| s.polled_at.is_none()) && alarms.is_empty() {
            Health::Unknown
        } else {
            match alarms.iter().map(|a| a.severity).min() {
                Some(Severity::Critical) => Health::Critical,
                Some(Severity::Warning) => Health::Warning,
                None => Health::Ok,
            }
        };
        self.alarms = alarms;
        AlarmChanges {
            at: now,
            raised,
            cleared,
        }
    }
}

/// Alarms that appeared or went away with one poll result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlarmChanges {
    pub at: Clock,
    pub raised: Vec<Alarm>,
    pub cleared: Vec<Alarm>,
}

/// Interval latency and election durations from the cumulative mntr summaries.
fn track_server_counters(server: &mut ServerState, sample: &Sample) {
    let requests = sample.metric(|m| Some((m.request_count?, m.request_latency_sum_ms?)));
    let latency = match (server.prev_requests, requests) {
        (Some((c0, s0)), Some((c1, s1))) if c1 > c0 && s1 >= s0 => {
            Some((s1 - s0) as f64 / (c1 - c0) as f64)
        }
        (Some((c0, _)), Some((c1, _))) if c1 == c0 => Some(0.0),
        _ => sample.latency().map(|l| l.avg_ms),
    };
    server.prev_requests = requests;
    if let Some(latency) = latency {
        server.latency_history.push(latency);
    }
    let elections = sample.metric(|m| Some((m.election_count?, m.election_sum_ms?)));
    match (server.prev_elections, elections) {
        (Some((c0, s0)), Some((c1, s1))) if c1 > c0 => {
            server.last_election_ms = Some(s1.saturating_sub(s0) / (c1 - c0));
        }
        (None, Some((c, s))) if c > 0 && server.last_election_ms.is_none() => {
            // First sight: the average is the best guess for the last one.
            server.last_election_ms = Some(s / c);
        }
        _ => {}
    }
    if elections.is_some() {
        server.prev_elections = elections;
    }
}
