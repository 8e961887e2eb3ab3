//! The server side of an ensemble: what the core knows of its Zab role, for the four-letter
//! words, the AdminServer and the metrics (the driver itself lives in `server::peers` and
//! `server::member`).
//!
//! [`EnsembleView`] is the core's report (`Core::ensemble_view`, `None` on a standalone
//! server); [`EnsembleStats`] is what the driver counts on the side (proposal sizes, how long
//! it has led, each learner's connection), kept in `Stats`. The functions here turn both into
//! Apache 3.8's answers (`srvr`'s Mode, `mntr`'s quorum keys, `conf`'s membership, the
//! `zabstate`, `voting_view`, `leader` and `observers` commands); they read no clock and do no
//! I/O, so tests build a view by hand.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use super::json::{Json, Obj};
use super::stats::BufferStats;
use crate::config::Config;
use crate::zab::{PeerState, RoleState, Status, ZabState};
use crate::zoocfg::{host_port, QuorumAddr};

/// What the core reports about its place in the ensemble. `None` from
/// [`super::core::Core::ensemble_view`] means a standalone server.
#[derive(Debug, Clone)]
pub struct EnsembleView {
    /// This server's id (`server.N` / `my_id`).
    pub my_id: u64,
    /// The Zab core's status: role and phase, epochs, zxids, and on the leader every learner
    /// with its last acknowledged zxid.
    pub status: Status,
    /// Leader only: forwarded `sync`s waiting for their proposals to commit (`zk_pending_syncs`).
    pub pending_syncs: usize,
    /// How many votes make a quorum (a majority of the voters). Not what `mntr` calls
    /// `zk_quorum_size`: Apache reports the number of voters there (`getQuorumSize()` is the
    /// voting view's size), which [`quorum_size`] takes from the config.
    pub quorum_size: usize,
}

impl EnsembleView {
    pub fn role(&self) -> &RoleState {
        &self.status.role
    }

    /// Serving clients: leading or learning in the broadcast phase. Apache's ZooKeeperServer
    /// runs only then; before, the four-letter words answer "not currently serving".
    pub fn serving(&self) -> bool {
        self.status.role.serving()
    }

    pub fn is_leader(&self) -> bool {
        self.status.role.state == PeerState::Leading
    }

    /// Learners connected to this leader, synced or not (Apache's `getLearners()`).
    pub fn learners(&self) -> usize {
        self.status.learners.len()
    }

    /// Synced followers, voting or not (Apache's `getForwardingFollowers()`).
    pub fn synced_followers(&self) -> usize {
        self.status
            .learners
            .iter()
            .filter(|l| l.synced && !l.observer)
            .count()
    }

    /// Synced followers that are not in the voting view (Apache's `getNonVotingFollowers()`;
    /// only a reconfiguration makes one).
    pub fn synced_non_voting_followers(&self, cfg: &Config) -> usize {
        self.status
            .learners
            .iter()
            .filter(|l| l.synced && !l.observer)
            .filter(|l| !cfg.voters().any(|s| s.id as i64 == l.sid.0))
            .count()
    }

    /// Synced observers (Apache's `getObservingLearners()`).
    pub fn synced_observers(&self) -> usize {
        self.status
            .learners
            .iter()
            .filter(|l| l.synced && l.observer)
            .count()
    }

    /// The leader this server follows or observes (itself when leading).
    pub fn leader_id(&self) -> Option<i64> {
        self.status.role.leader.map(|s| s.0)
    }
}

/// What the driver counts about the ensemble beside the core's [`crate::zab::Status`]. Lives in
/// `Stats::ensemble`; `srst` keeps it (Apache's proposal and learner statistics belong to the
/// `Leader` object, which `srst` does not reset). Everything defaults to what Apache reports
/// before anything happened, so an unrecorded value shows as -1 or 0, never as a wrong number.
#[derive(Debug, Clone, Default)]
pub struct EnsembleStats {
    /// Leader: bytes of each proposal sent (the serialized `Proposal` packet's transaction),
    /// last/min/max, -1 before the first (Apache's `Leader.getProposalStats()`: srvr's
    /// "Proposal sizes", `zk_*_proposal_size`). Recorded with [`Self::on_proposal`].
    pub proposal_sizes: BufferStats,
    /// When this server began leading in the broadcast phase (`zk_leader_uptime`); kept by
    /// [`Self::on_role`].
    pub leading_since: Option<Instant>,
    /// Leader: each learner's quorum connection by sid, for the `observers` command. Kept by
    /// [`Self::on_learner_connected`], [`Self::link_mut`] and [`Self::on_learner_gone`].
    pub links: BTreeMap<i64, LearnerLink>,
}

/// One learner's quorum connection as the leader's `LearnerHandler` counts it
/// (`getLearnerHandlerInfo()`).
#[derive(Debug, Clone)]
pub struct LearnerLink {
    /// The learner's address, as the socket reports it.
    pub remote: Option<SocketAddr>,
    /// Wall-clock ms when the connection was accepted.
    pub established_ms: i64,
    /// Packets queued for it and not yet written, and their bytes.
    pub queued_packets: i64,
    pub queued_bytes: i64,
    /// Packets read from it and written to it.
    pub packets_received: u64,
    pub packets_sent: u64,
    /// REQUEST packets (forwarded client requests) read from it.
    pub requests: u64,
    /// zxid of the last proposal or commit queued to it; -1 before the first.
    pub last_zxid: i64,
}

impl Default for LearnerLink {
    fn default() -> Self {
        LearnerLink {
            remote: None,
            established_ms: 0,
            queued_packets: 0,
            queued_bytes: 0,
            packets_received: 0,
            packets_sent: 0,
            requests: 0,
            last_zxid: -1,
        }
    }
}

impl LearnerLink {
    /// `orst`: Apache's `resetObserverConnectionStats` (packets, requests, last zxid).
    pub fn reset(&mut self) {
        *self = LearnerLink {
            remote: self.remote,
            established_ms: self.established_ms,
            queued_packets: self.queued_packets,
            queued_bytes: self.queued_bytes,
            ..LearnerLink::default()
        };
    }
}

impl EnsembleStats {
    /// Call on every role change the core announces (`Output::State`). Leaving the leader's
    /// role forgets the term's proposal sizes and learner connections, as Apache drops its
    /// `Leader`.
    pub fn on_role(&mut self, role: &RoleState) {
        let leading = role.state == PeerState::Leading && role.serving();
        match (leading, self.leading_since) {
            (true, None) => self.leading_since = Some(Instant::now()),
            (true, Some(_)) => {}
            (false, _) => {
                self.leading_since = None;
                if role.state != PeerState::Leading {
                    self.proposal_sizes = BufferStats::default();
                    self.links.clear();
                }
            }
        }
    }

    /// Leader: a proposal of `bytes` was sent.
    pub fn on_proposal(&mut self, bytes: usize) {
        self.proposal_sizes.record(bytes as i64);
    }

    /// Leader: learner `sid` connected from `remote` at wall-clock `established_ms`.
    pub fn on_learner_connected(&mut self, sid: i64, remote: Option<SocketAddr>, now_wall_ms: i64) {
        self.links.insert(
            sid,
            LearnerLink {
                remote,
                established_ms: now_wall_ms,
                ..LearnerLink::default()
            },
        );
    }

    /// Leader: learner `sid`'s connection ended.
    pub fn on_learner_gone(&mut self, sid: i64) {
        self.links.remove(&sid);
    }

    /// Leader: the counters of learner `sid`'s connection.
    pub fn link_mut(&mut self, sid: i64) -> &mut LearnerLink {
        self.links.entry(sid).or_default()
    }

    /// ms since this server began leading; 0 when it is not leading (Apache's
    /// `Leader.getUptime()`).
    pub fn leader_uptime_ms(&self) -> i64 {
        self.leading_since
            .map_or(0, |t| t.elapsed().as_millis() as i64)
    }
}

/// `srvr`/`stat` Mode and `zk_server_state` of a member (Apache's `getState()` of the
/// Leader/Follower/ObserverZooKeeperServer).
pub fn mode(view: &EnsembleView) -> &'static str {
    match view.status.role.state {
        PeerState::Leading => "leader",
        PeerState::Following => "follower",
        PeerState::Observing => "observer",
        // Apache has no ZooKeeperServer while looking, and answers "not serving" instead.
        PeerState::Looking => "looking",
    }
}

/// `zk_peer_state`: Apache's `getDetailedPeerState()`, e.g. `leading - broadcast`.
pub fn peer_state(role: &RoleState) -> String {
    let state = match role.state {
        PeerState::Looking => "looking",
        PeerState::Following => "following",
        PeerState::Leading => "leading",
        PeerState::Observing => "observing",
    };
    match role.zab_state {
        ZabState::Election => state.to_string(),
        z => format!("{state} - {}", zab_state_name(z)),
    }
}

/// Apache's `ZabState` in lower case (the `zabstate` command).
pub fn zab_state_name(z: ZabState) -> &'static str {
    match z {
        ZabState::Election => "election",
        ZabState::Discovery => "discovery",
        ZabState::Synchronization => "synchronization",
        ZabState::Broadcast => "broadcast",
    }
}

/// `zk_quorum_size`: the number of voters (Apache's `QuorumPeer.getQuorumSize()`).
pub fn quorum_size(cfg: &Config) -> usize {
    cfg.voters().count()
}

/// The lines `conf` adds after `serverId` on a member (Apache's `QuorumZooKeeperServer.dumpConf`):
/// limits, ports, the peer type and the membership, which ends without a newline as Apache's
/// `QuorumMaj.toString()` does.
pub fn conf_lines(cfg: &Config) -> String {
    let me = cfg.my_server();
    let ports = |f: fn(&QuorumAddr) -> u16| {
        me.map(|s| {
            s.addrs
                .iter()
                .map(|a| f(a).to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .unwrap_or_default()
    };
    let mut out = String::new();
    let _ = writeln!(out, "initLimit={}", cfg.init_limit);
    let _ = writeln!(out, "syncLimit={}", cfg.sync_limit);
    // Fast leader election is Apache's only algorithm (3).
    out.push_str("electionAlg=3\n");
    let _ = writeln!(out, "electionPort={}", ports(|a| a.election_port));
    let _ = writeln!(out, "quorumPort={}", ports(|a| a.quorum_port));
    let _ = writeln!(out, "peerType={}", u8::from(cfg.is_observer()));
    out.push_str("membership: \n");
    out.push_str(&membership(cfg));
    out
}

/// The configuration as Apache's `QuorumMaj.toString()` writes it: `server.N=...` lines in id
/// order, then `version=<hex>` (always 0: zk-node has no dynamic reconfiguration).
pub fn membership(cfg: &Config) -> String {
    let mut out = String::new();
    for s in &cfg.servers {
        let _ = writeln!(out, "server.{}={}", s.id, s.value());
    }
    out.push_str("version=0");
    out
}

/// This server's client address as Apache's `QuorumPeer.getClientAddress()` prints it.
fn my_client_addr(cfg: &Config) -> String {
    host_port(&cfg.client_address.to_string(), cfg.client_port)
}

/// A `MultipleAddresses` as Jackson serializes it (the bean getters of Apache 3.8's class, in
/// the order a 3.8.0 ensemble printed them). zk-node does not check reachability, so the
/// reachable lists are every address.
fn multiple_addresses(addrs: &[QuorumAddr], port: fn(&QuorumAddr) -> u16) -> Obj {
    let all: Vec<String> = addrs.iter().map(|a| host_port(&a.host, port(a))).collect();
    let first = all.first().cloned().unwrap_or_default();
    Obj::new()
        .with("empty", addrs.is_empty())
        .with("all_addresses", all.clone())
        .with("all_reachable_addresses", all.clone())
        .with("one", first.clone())
        .with("reachable_address", first.clone())
        .with(
            "wildcard_addresses",
            addrs
                .iter()
                .map(|a| format!("0.0.0.0:{}", port(a)))
                .collect::<Vec<_>>(),
        )
        .with(
            "all_ports",
            addrs.iter().map(|a| port(a) as i64).collect::<Vec<_>>(),
        )
        .with(
            "all_host_strings",
            addrs.iter().map(|a| a.host.clone()).collect::<Vec<_>>(),
        )
        .with("all_reachable_addresses_or_all", all)
        .with("reachable_or_one", first)
}

/// The `zabstate` command of a serving member. `last_zxid` is the tree's last applied zxid
/// (Apache: `getDataTreeLastProcessedZxid()`).
pub fn zabstate_json(view: &EnsembleView, cfg: &Config, last_zxid: i64) -> Obj {
    let addrs: &[QuorumAddr] = cfg.my_server().map_or(&[], |s| &s.addrs);
    let voting = cfg.voters().any(|s| s.id == view.my_id);
    Obj::new()
        .with("myid", view.my_id)
        .with("is_leader", view.is_leader())
        .with(
            "quorum_address",
            multiple_addresses(addrs, |a| a.quorum_port),
        )
        .with(
            "election_address",
            multiple_addresses(addrs, |a| a.election_port),
        )
        .with("client_address", my_client_addr(cfg))
        .with("voting", voting)
        .with("last_zxid", format!("0x{last_zxid:x}"))
        .with("zab_epoch", last_zxid >> 32)
        .with("zab_counter", last_zxid & 0xffff_ffff)
        .with("zabstate", zab_state_name(view.status.role.zab_state))
}

/// The `zabstate` command of a standalone server, or of a member that is not serving (Apache
/// has no quorum ZooKeeperServer then).
pub fn zabstate_idle() -> Obj {
    Obj::new().with("voting", false).with("zabstate", "")
}

/// The `voting_view` command: every voter by id (Apache's `QuorumServerView`). Only this
/// server's client address is known unless a server line gives one (`;host:port`).
pub fn voting_view_json(cfg: &Config) -> Obj {
    let mut view = Obj::new();
    for s in cfg.voters() {
        let client = if s.id == cfg.server_id as u64 {
            my_client_addr(cfg)
        } else {
            s.client_addr().unwrap_or_default()
        };
        view.put(
            s.id.to_string(),
            Obj::new()
                .with(
                    "server_addresses",
                    s.addrs.iter().map(QuorumAddr::quorum).collect::<Vec<_>>(),
                )
                .with(
                    "election_addresses",
                    s.addrs.iter().map(QuorumAddr::election).collect::<Vec<_>>(),
                )
                .with("client_address", client)
                .with("learner_type", "participant"),
        );
    }
    Obj::new().with("current_config", view)
}

/// The `leader` command of a serving member: the leader's id and host as configured.
pub fn leader_json(view: &EnsembleView, cfg: &Config) -> Obj {
    let id = view.leader_id();
    let host = id
        .and_then(|id| cfg.servers.iter().find(|s| s.id as i64 == id))
        .and_then(|s| s.addrs.first())
        .map(|a| a.host.clone())
        .unwrap_or_default();
    Obj::new()
        .with("is_leader", view.is_leader())
        .with("leader_id", id.unwrap_or(-1))
        .with("leader_ip", host)
}

/// The `observers` command: on the leader, each synced observer's connection (Apache's
/// `getLearnerHandlerInfo()`); elsewhere none (zk-node has no observer masters).
pub fn observers_json(view: &EnsembleView, stats: &EnsembleStats) -> Obj {
    if !view.is_leader() {
        return Obj::new()
            .with("synced_observers", 0)
            .with("observers", Json::Array(vec![]));
    }
    let unknown = LearnerLink::default();
    let observers: Vec<Json> = view
        .status
        .learners
        .iter()
        .filter(|l| l.synced && l.observer)
        .map(|l| {
            let link = stats.links.get(&l.sid.0).unwrap_or(&unknown);
            Obj::new()
                .with(
                    "remote_socket_address",
                    link.remote.map(|a| format!("/{a}")).unwrap_or_default(),
                )
                .with("sid", l.sid.0)
                .with("established", link.established_ms)
                .with("queued_packets", link.queued_packets)
                .with("queued_packets_size", link.queued_bytes)
                .with("packets_received", link.packets_received)
                .with("packets_sent", link.packets_sent)
                .with("requests", link.requests)
                .with("last_zxid", link.last_zxid)
                .into()
        })
        .collect();
    Obj::new()
        .with("synced_observers", observers.len())
        .with("observers", Json::Array(observers))
}

/// `orst` on the leader: resets every observer connection's counters.
pub fn reset_observer_links(view: &EnsembleView, stats: &mut EnsembleStats) {
    for l in view.status.learners.iter().filter(|l| l.observer) {
        if let Some(link) = stats.links.get_mut(&l.sid.0) {
            link.reset();
        }
    }
}

/// The serving leader's per-learner extra `mntr` keys: (sid, last acknowledged zxid) of every
/// follower that has acknowledged something, in sid order. Observers acknowledge nothing and are left
/// out.
pub fn learner_acks(view: &EnsembleView) -> Vec<(i64, i64)> {
    if !(view.is_leader() && view.serving()) {
        return Vec::new();
    }
    let mut acks: Vec<(i64, i64)> = view
        .status
        .learners
        .iter()
        .filter_map(|l| l.last_acked.map(|z| (l.sid.0, z.0)))
        .collect();
    acks.sort_unstable();
    acks
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::zab::{Epoch, LearnerStatus, ServerId, Zxid};

    fn pretty(o: Obj) -> String {
        Json::from(o).pretty()
    }

    /// A 3-voter + 1-observer ensemble on loopback, this server being `my_id`.
    pub(crate) fn config(my_id: u64) -> Config {
        let text = format!(
            "data_dir = '/tmp/x'\nmy_id = {my_id}\nclient_address = '127.0.0.1'\n\
             init_limit = 10\nsync_limit = 5\n{}",
            (1..=4)
                .map(|i| format!(
                    "[[server]]\nid = {i}\nhost = '127.0.0.1'\nquorum_port = {}\nelection_port = {}\nclient_port = {}\nrole = '{}'\n",
                    22880 + i,
                    23880 + i,
                    22180 + i,
                    if i == 4 { "observer" } else { "participant" }
                ))
                .collect::<String>()
        );
        let raw: crate::config::RawConfig = toml::from_str(&text).unwrap();
        raw.validate().unwrap()
    }

    /// A view of server `my_id` in `state`/`zab`, led by 3; as the leader it has learners 1, 2
    /// (followers) and 4 (observer), all synced.
    pub(crate) fn view(my_id: u64, state: PeerState, zab: ZabState) -> EnsembleView {
        let learner = |sid: i64, observer: bool, acked: Option<i64>| LearnerStatus {
            sid: ServerId(sid),
            observer,
            synced: true,
            last_acked: acked.map(Zxid),
        };
        let learners = if state == PeerState::Leading {
            vec![
                learner(2, false, Some(0x1_0000_0002)),
                learner(1, false, Some(0x1_0000_0001)),
                learner(4, true, None),
            ]
        } else {
            Vec::new()
        };
        EnsembleView {
            my_id,
            status: Status {
                role: RoleState {
                    state,
                    zab_state: zab,
                    leader: (state != PeerState::Looking).then_some(ServerId(3)),
                    epoch: Some(Epoch(1)),
                },
                accepted_epoch: Epoch(1),
                current_epoch: Epoch(1),
                last_logged: Zxid(0x1_0000_0002),
                persisted: Zxid(0x1_0000_0002),
                committed: Zxid(0x1_0000_0002),
                learners,
                outstanding: 0,
            },
            pending_syncs: 1,
            quorum_size: 2,
        }
    }

    #[test]
    fn modes_and_peer_states_are_apaches() {
        let cases = [
            (
                PeerState::Leading,
                ZabState::Broadcast,
                "leader",
                "leading - broadcast",
            ),
            (
                PeerState::Following,
                ZabState::Broadcast,
                "follower",
                "following - broadcast",
            ),
            (
                PeerState::Observing,
                ZabState::Synchronization,
                "observer",
                "observing - synchronization",
            ),
            (PeerState::Looking, ZabState::Election, "looking", "looking"),
        ];
        for (state, zab, m, p) in cases {
            let v = view(3, state, zab);
            assert_eq!((mode(&v), peer_state(v.role()).as_str()), (m, p));
            assert_eq!(v.serving(), zab == ZabState::Broadcast);
        }
    }

    /// The leader's learner counts, as Apache's gauges count them.
    #[test]
    fn leader_counts_learners() {
        let cfg = config(3);
        let v = view(3, PeerState::Leading, ZabState::Broadcast);
        assert_eq!(v.learners(), 3);
        assert_eq!(v.synced_followers(), 2);
        assert_eq!(v.synced_observers(), 1);
        assert_eq!(v.synced_non_voting_followers(&cfg), 0);
        assert_eq!(quorum_size(&cfg), 3);
        assert_eq!(
            learner_acks(&v),
            vec![(1, 0x1_0000_0001), (2, 0x1_0000_0002)]
        );
        assert!(learner_acks(&view(1, PeerState::Following, ZabState::Broadcast)).is_empty());
    }

    /// `conf` on a member, line for line as Apache 3.8.0 printed it for server 3 of the same
    /// ensemble (3 voters, 1 observer).
    #[test]
    fn conf_lists_the_membership() {
        let mut cfg = config(3);
        // Apache's own capture had no client parts in its server lines.
        for s in &mut cfg.servers {
            s.client = None;
        }
        assert_eq!(
            conf_lines(&cfg),
            "initLimit=10\nsyncLimit=5\nelectionAlg=3\nelectionPort=23883\nquorumPort=22883\npeerType=0\nmembership: \n\
             server.1=127.0.0.1:22881:23881:participant\nserver.2=127.0.0.1:22882:23882:participant\n\
             server.3=127.0.0.1:22883:23883:participant\nserver.4=127.0.0.1:22884:23884:observer\nversion=0"
        );
        let mut obs = config(4);
        obs.servers.iter_mut().for_each(|s| s.client = None);
        assert!(conf_lines(&obs).contains("electionPort=23884\nquorumPort=22884\npeerType=1\n"));
    }

    /// `zabstate` as Apache 3.8.0 answered it on server 1 (a follower) of the same ensemble.
    #[test]
    fn zabstate_matches_apache() {
        let mut cfg = config(1);
        cfg.client_port = 22181;
        let v = view(1, PeerState::Following, ZabState::Broadcast);
        let got = pretty(zabstate_json(&v, &cfg, 0x1_0000_0002));
        let want = r#"{
  "myid" : 1,
  "is_leader" : false,
  "quorum_address" : {
    "empty" : false,
    "all_addresses" : [ "127.0.0.1:22881" ],
    "all_reachable_addresses" : [ "127.0.0.1:22881" ],
    "one" : "127.0.0.1:22881",
    "reachable_address" : "127.0.0.1:22881",
    "wildcard_addresses" : [ "0.0.0.0:22881" ],
    "all_ports" : [ 22881 ],
    "all_host_strings" : [ "127.0.0.1" ],
    "all_reachable_addresses_or_all" : [ "127.0.0.1:22881" ],
    "reachable_or_one" : "127.0.0.1:22881"
  },
  "election_address" : {
    "empty" : false,
    "all_addresses" : [ "127.0.0.1:23881" ],
    "all_reachable_addresses" : [ "127.0.0.1:23881" ],
    "one" : "127.0.0.1:23881",
    "reachable_address" : "127.0.0.1:23881",
    "wildcard_addresses" : [ "0.0.0.0:23881" ],
    "all_ports" : [ 23881 ],
    "all_host_strings" : [ "127.0.0.1" ],
    "all_reachable_addresses_or_all" : [ "127.0.0.1:23881" ],
    "reachable_or_one" : "127.0.0.1:23881"
  },
  "client_address" : "127.0.0.1:22181",
  "voting" : true,
  "last_zxid" : "0x100000002",
  "zab_epoch" : 1,
  "zab_counter" : 2,
  "zabstate" : "broadcast"
}"#;
        assert_eq!(got, want);
        // The observer does not vote.
        let o = zabstate_json(
            &view(4, PeerState::Observing, ZabState::Broadcast),
            &config(4),
            0,
        );
        assert!(pretty(o).contains("\"voting\" : false"));
    }

    /// `voting_view` lists the voters only; the observer is not in it.
    #[test]
    fn voting_view_lists_voters() {
        let mut cfg = config(3);
        cfg.client_port = 22183;
        cfg.servers.iter_mut().for_each(|s| s.client = None);
        let got = pretty(voting_view_json(&cfg));
        let want = r#"{
  "current_config" : {
    "1" : {
      "server_addresses" : [ "127.0.0.1:22881" ],
      "election_addresses" : [ "127.0.0.1:23881" ],
      "client_address" : "",
      "learner_type" : "participant"
    },
    "2" : {
      "server_addresses" : [ "127.0.0.1:22882" ],
      "election_addresses" : [ "127.0.0.1:23882" ],
      "client_address" : "",
      "learner_type" : "participant"
    },
    "3" : {
      "server_addresses" : [ "127.0.0.1:22883" ],
      "election_addresses" : [ "127.0.0.1:23883" ],
      "client_address" : "127.0.0.1:22183",
      "learner_type" : "participant"
    }
  }
}"#;
        assert_eq!(got, want);
        // With client parts in the server lines, every voter's client address is known.
        let with_clients = pretty(voting_view_json(&config(3)));
        assert!(with_clients.contains("\"client_address\" : \"127.0.0.1:22181\""));
    }

    #[test]
    fn leader_and_observers_commands() {
        let cfg = config(1);
        let f = view(1, PeerState::Following, ZabState::Broadcast);
        assert_eq!(
            pretty(leader_json(&f, &cfg)),
            "{\n  \"is_leader\" : false,\n  \"leader_id\" : 3,\n  \"leader_ip\" : \"127.0.0.1\"\n}"
        );
        let mut stats = EnsembleStats::default();
        assert_eq!(
            pretty(observers_json(&f, &stats)),
            "{\n  \"synced_observers\" : 0,\n  \"observers\" : [ ]\n}"
        );
        let l = view(3, PeerState::Leading, ZabState::Broadcast);
        assert!(pretty(leader_json(&l, &config(3))).contains("\"is_leader\" : true"));
        stats.on_learner_connected(
            4,
            Some("127.0.0.1:58348".parse().unwrap()),
            1_795_580_610_968,
        );
        let link = stats.link_mut(4);
        link.packets_received = 29;
        link.packets_sent = 32;
        link.last_zxid = 4_294_967_298;
        let want = r#"{
  "synced_observers" : 1,
  "observers" : [ {
    "remote_socket_address" : "/127.0.0.1:58348",
    "sid" : 4,
    "established" : 1795580610968,
    "queued_packets" : 0,
    "queued_packets_size" : 0,
    "packets_received" : 29,
    "packets_sent" : 32,
    "requests" : 0,
    "last_zxid" : 4294967298
  } ]
}"#;
        assert_eq!(pretty(observers_json(&l, &stats)), want);
        // orst resets the counters, not the connection.
        reset_observer_links(&l, &mut stats);
        let after = pretty(observers_json(&l, &stats));
        assert!(after.contains("\"packets_sent\" : 0") && after.contains("\"last_zxid\" : -1"));
        assert!(after.contains("/127.0.0.1:58348"));
    }

    /// The driver's role reports start and stop the leader's clock and statistics.
    #[test]
    fn leading_starts_and_ends_with_the_role() {
        let mut s = EnsembleStats::default();
        let lead = view(3, PeerState::Leading, ZabState::Broadcast);
        s.on_role(&view(3, PeerState::Leading, ZabState::Discovery).status.role);
        assert!(s.leading_since.is_none());
        s.on_role(lead.role());
        s.on_proposal(91);
        s.on_proposal(48);
        assert!(s.leading_since.is_some());
        assert_eq!(
            (
                s.proposal_sizes.last,
                s.proposal_sizes.min,
                s.proposal_sizes.max
            ),
            (48, 48, 91)
        );
        s.on_role(view(3, PeerState::Looking, ZabState::Election).role());
        assert!(s.leading_since.is_none());
        assert_eq!(s.proposal_sizes, BufferStats::default());
        assert_eq!(s.leader_uptime_ms(), 0);
    }
}
