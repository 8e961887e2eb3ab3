//! The core task as an ensemble member: the driver of the Zab state machine (`crate::zab`).
//!
//! It feeds the core what the network and the log report, and carries out the core's outputs
//! in order (the contract is in `zab::io`): appends go to the log task and come back as
//! `Persisted`; epoch files, truncation and snapshot installation are barriers awaited here;
//! commits are applied to the tree and answer the client that asked, wherever it is connected.
//!
//! How a client request travels:
//! - on the **leader**, a write is prepped against the tree and its outstanding changes (as on a
//!   standalone server) and proposed; it is applied and answered when the core commits it.
//! - on a **learner**, a write (and `createSession`, `closeSession`, `sync`) is forwarded to the
//!   leader as a REQUEST packet with the session's identities; the leader preps and proposes
//!   it; the learner answers its client when the COMMIT for that (session, cxid) arrives, or for
//!   `sync` when the leader's SYNC comes back (after every commit the leader had proposed).
//! - reads are answered from the local tree, behind the connection's own writes.
//!
//! Sessions are global: created and closed by transactions; learners report activity in their
//! PING replies and the leader alone expires sessions. A server that stops serving (a new
//! election) closes its clients' connections, as Apache's does; they reconnect elsewhere.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::ToSocketAddrs;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use zk_proto::jute::Jute;
use zk_proto::proto::{PathRequest, ReplyHeader};
use zk_proto::quorum::{Revalidate, SessionTouch, TxnLogEntry};
use zk_proto::txn::{Txn, TxnHeader};
use zk_proto::{frame, ErrorCode, OpCode, Request, Response};

use super::core::{Core, InFlight, Origin, Pending};
use super::peers::{self, NetEvent, Outgoing, PeerAddrs, PeerNet};
use super::prep::{Origin as PrepOrigin, PrepConfig, SessionTxn};
use crate::config::Config;
use crate::storage::{epoch, snapshot, LogCmd};
use crate::tree::{ConnId, DataTree};
use crate::zab::{
    DurableState, Ensemble, Event, LearnerType, Output, PeerState, QuorumMessage, RoleState,
    ServerId, Zab, ZabConfig, Zxid,
};

/// Time between the ticks fed to the Zab core. Limits in the config (`tickTime` ×
/// `initLimit`/`syncLimit`) are converted to these ticks.
pub const ZAB_TICK_MS: u64 = 50;

/// The ensemble state the core task keeps.
pub(crate) struct Member {
    pub(crate) zab: Zab,
    pub(crate) net: PeerNet,
    /// Open quorum connections by peer: the link number and its writer.
    links: BTreeMap<ServerId, (u64, mpsc::UnboundedSender<Outgoing>)>,
    /// Learner: the connection to the leader being opened.
    connecting: Option<(ServerId, u64)>,
    /// Learners that called before this server took the leader's role (the race between a
    /// fast follower and its leader-to-be); handed to the core once it leads.
    parked: Vec<(
        ServerId,
        u64,
        mpsc::UnboundedSender<Outgoing>,
        QuorumMessage,
        Instant,
    )>,
    pub(crate) role: RoleState,
    /// The membership as `/zookeeper/config` shows it.
    config_text: Vec<u8>,
    /// Learner: forwarded requests waiting for their commit, by (session, cxid).
    forwarded: HashMap<(i64, i32), Origin>,
    /// Learner: forwarded `sync`s waiting for the leader's SYNC, in order.
    syncs: VecDeque<(ConnId, i32, String, Instant)>,
    /// Leader: learners' `sync`s waiting for this zxid to commit.
    pub(crate) leader_syncs: VecDeque<(i64, ServerId)>,
    /// Learner: sessions active since the last PING reply, with their timeouts.
    touched: BTreeMap<i64, i32>,
    /// Learner: the database that came behind the SNAP packet, until the core installs it.
    snapshot_in: Option<Box<snapshot::SnapshotData>>,
}

/// Builds the Zab configuration and the peer address map from the server list.
pub fn zab_setup(cfg: &Config) -> anyhow::Result<(ZabConfig, BTreeMap<ServerId, PeerAddrs>)> {
    let mut peers = BTreeMap::new();
    let mut members = Vec::new();
    let mut text = String::new();
    for s in &cfg.servers {
        let a = s.addrs.first().ok_or_else(|| {
            anyhow::anyhow!(
                "server.{} has no address: set host:quorumPort:electionPort",
                s.id
            )
        })?;
        let resolve = |port: u16| -> anyhow::Result<std::net::SocketAddr> {
            (a.host.as_str(), port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "server.{}: cannot resolve host `{}`; use an IP address or a name this machine can resolve",
                        s.id,
                        a.host
                    )
                })
        };
        peers.insert(
            ServerId(s.id as i64),
            PeerAddrs {
                quorum: resolve(a.quorum_port)?,
                election: resolve(a.election_port)?,
            },
        );
        let role = if s.observer {
            LearnerType::Observer
        } else {
            LearnerType::Participant
        };
        members.push((ServerId(s.id as i64), role));
        text.push_str(&format!(
            "server.{}={}:{}:{}:{}",
            s.id,
            a.host,
            a.quorum_port,
            a.election_port,
            if s.observer {
                "observer"
            } else {
                "participant"
            }
        ));
        // The client address is left out: a TOML `client_port` is our convenience, not part
        // of the membership Apache would print (a zoo.cfg `;clientPort` suffix would be; not
        // reproduced).
        text.push('\n');
    }
    text.push_str("version=0");
    let my_id = ServerId(cfg.server_id as i64);
    let per_tick = |ms: u64| (ms / ZAB_TICK_MS).max(1) as u32;
    let tick = cfg.tick_ms as u64;
    let mut z = ZabConfig::new(my_id, Ensemble::new(members));
    z.init_limit = per_tick(tick * cfg.init_limit as u64);
    z.sync_limit = per_tick(tick * cfg.sync_limit as u64);
    z.ping_interval = per_tick(tick / 2);
    z.finalize_wait = per_tick(200);
    z.notification_interval_min = per_tick(200);
    z.notification_interval_max = per_tick(60_000);
    // Apache keeps 500 committed proposals in memory and can also DIFF from its on-disk log
    // (when the log is under a third of the snapshot's size). We keep a larger window in
    // memory instead, so that a follower that missed tens of thousands of writes still gets
    // a DIFF, not a whole snapshot.
    z.commit_log_count = cfg.commit_log_count as usize;
    z.config_text = text.into_bytes();
    Ok((z, peers))
}

/// The durable Zab state of a data directory: the epoch files and the log after the snapshot.
pub fn durable_state(
    disk: &dyn crate::storage::disk::Disk,
    snap_dir: &std::path::Path,
    snapshot_zxid: i64,
    log: Vec<Arc<TxnLogEntry>>,
) -> anyhow::Result<DurableState> {
    let last = log.last().map_or(snapshot_zxid, |e| e.hdr.zxid);
    let last_epoch = Zxid(last).epoch();
    // Apache: a missing file means the epoch of the last logged zxid.
    let accepted = epoch::read_epoch(disk, snap_dir, epoch::ACCEPTED_EPOCH)?.unwrap_or(last_epoch);
    let current = epoch::read_epoch(disk, snap_dir, epoch::CURRENT_EPOCH)?.unwrap_or(last_epoch);
    Ok(DurableState {
        accepted_epoch: crate::zab::Epoch(accepted),
        current_epoch: crate::zab::Epoch(current),
        log_base: Zxid(snapshot_zxid),
        log,
        committed: Zxid(snapshot_zxid),
    })
}

impl Member {
    pub(crate) fn new(zab: Zab, net: PeerNet, config_text: Vec<u8>) -> Member {
        let role = zab.role();
        Member {
            zab,
            net,
            config_text,
            links: BTreeMap::new(),
            connecting: None,
            parked: Vec::new(),
            role,
            forwarded: HashMap::new(),
            syncs: VecDeque::new(),
            leader_syncs: VecDeque::new(),
            touched: BTreeMap::new(),
            snapshot_in: None,
        }
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.role.state == PeerState::Leading
    }

    pub(crate) fn serving(&self) -> bool {
        self.role.serving()
    }

    fn send(&self, to: ServerId, msg: &QuorumMessage) {
        if let Some((_, tx)) = self.links.get(&to) {
            let _ = tx.send(Outgoing::Bytes(peers::packet_bytes(msg)));
        }
    }

    fn leader(&self) -> Option<ServerId> {
        self.role.leader
    }
}

fn role_name(rs: &RoleState) -> &'static str {
    match rs.state {
        PeerState::Looking => "looking",
        PeerState::Leading => "leader",
        PeerState::Following => "follower",
        PeerState::Observing => "observer",
    }
}

impl Core {
    fn member(&mut self) -> &mut Member {
        self.member.as_mut().expect("ensemble member")
    }

    /// True when this server is an ensemble member that may not serve clients now.
    pub(crate) fn member_not_serving(&self) -> bool {
        self.member.as_ref().is_some_and(|m| !m.serving())
    }

    /// True when this server forwards writes (a serving follower or observer).
    pub(crate) fn is_learner(&self) -> bool {
        self.member
            .as_ref()
            .is_some_and(|m| m.serving() && !m.is_leader())
    }

    /// True when this server may expire sessions and reap containers.
    pub(crate) fn may_expire(&self) -> bool {
        self.member
            .as_ref()
            .is_none_or(|m| m.serving() && m.is_leader())
    }

    /// Feeds the Zab core one event and carries out what it asks.
    pub(crate) async fn zab_step(&mut self, ev: Event) {
        self.member().zab.step(ev);
        self.drive().await;
    }

    /// Carries out the Zab core's outputs, in order, until it has nothing more to ask.
    pub(crate) async fn drive(&mut self) {
        loop {
            let outs = match self.member.as_mut() {
                Some(m) => m.zab.take_outputs(),
                None => return,
            };
            if outs.is_empty() {
                return;
            }
            for o in outs {
                self.carry_out(o).await;
            }
        }
    }

    async fn carry_out(&mut self, o: Output) {
        match o {
            Output::Notify { to, n } => self.member().net.notify(to, &n),
            Output::Connect { to } => {
                let m = self.member();
                let link = m.net.connect(to);
                m.connecting = Some((to, link));
            }
            Output::Disconnect { to } => {
                let m = self.member();
                m.links.remove(&to);
                if m.connecting.is_some_and(|(p, _)| p == to) {
                    m.connecting = None;
                }
            }
            Output::Send { to, msg } => self.send_packet(to, msg),
            Output::SaveAcceptedEpoch(e) => self.save_epoch(epoch::ACCEPTED_EPOCH, e.0).await,
            Output::SaveCurrentEpoch(e) => self.save_epoch(epoch::CURRENT_EPOCH, e.0).await,
            Output::Append(entry) => {
                let cmd = LogCmd::AppendEntry(entry);
                if self.log_tx.send(cmd).await.is_err() {
                    tracing::error!("transaction log task has stopped");
                }
            }
            Output::TruncateLog { zxid } => {
                tracing::info!(zxid = %format!("{:#x}", zxid.0), "TRUNC from the leader: removing log entries after it");
                let (done, rx) = oneshot::channel();
                let _ = self
                    .log_tx
                    .send(LogCmd::Truncate { zxid: zxid.0, done })
                    .await;
                self.barrier("truncate the transaction log", rx).await;
            }
            Output::InstallSnapshot { zxid } => self.install_snapshot(zxid.0).await,
            Output::Commit(entry) => self.commit(entry).await,
            Output::State(rs) => self.on_role(rs),
        }
    }

    /// Waits for a log barrier; a failure here leaves the node unable to keep its promises,
    /// so it stops.
    async fn barrier(&mut self, what: &str, rx: oneshot::Receiver<Result<(), String>>) {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fatal(format!("cannot {what}: {e}")),
            Err(_) => self.fatal(format!("cannot {what}: the log task stopped")),
        }
    }

    pub(crate) fn fatal(&mut self, msg: String) {
        tracing::error!("{msg}; this server stops so that it cannot lose acknowledged data. Fix the disk and start it again");
        self.fatal_error = Some(msg);
    }

    async fn save_epoch(&mut self, name: &'static str, e: u32) {
        let disk = self.disk.clone();
        let dir = self.cfg.data_dir.join("version-2");
        let r =
            tokio::task::spawn_blocking(move || epoch::write_epoch(disk.as_ref(), &dir, name, e))
                .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fatal(format!("cannot write {name}: {e}")),
            Err(e) => self.fatal(format!("cannot write {name}: {e}")),
        }
    }

    fn send_packet(&mut self, to: ServerId, msg: QuorumMessage) {
        match msg {
            QuorumMessage::Ping {
                zxid,
                touches: Some(_),
            } => {
                let m = self.member();
                let touches = std::mem::take(&mut m.touched)
                    .into_iter()
                    .map(|(session_id, timeout_ms)| SessionTouch {
                        session_id,
                        timeout_ms,
                    })
                    .collect();
                m.send(
                    to,
                    &QuorumMessage::Ping {
                        zxid,
                        touches: Some(touches),
                    },
                );
            }
            QuorumMessage::Snap { zxid } => {
                // The state machine is exactly the snapshot to stream (zab::io): capture it now
                // (an O(1) copy of the tree), serialize it off the core task.
                let sessions = self
                    .sessions
                    .iter()
                    .map(|(id, s)| (*id, s.timeout_ms))
                    .collect();
                let data = snapshot::capture(&self.tree, sessions);
                let m = self.member();
                if let Some((_, tx)) = m.links.get(&to) {
                    let _ = tx.send(Outgoing::Bytes(peers::packet_bytes(&QuorumMessage::Snap {
                        zxid,
                    })));
                    let (btx, brx) = oneshot::channel();
                    tokio::task::spawn_blocking(move || {
                        let _ = btx.send(snapshot::encode_stream(&data));
                    });
                    let _ = tx.send(Outgoing::Later(brx));
                    tracing::info!(learner = %to, zxid = %format!("{:#x}", zxid.0), "sending a snapshot (SNAP) to a learner");
                }
            }
            msg => self.member().send(to, &msg),
        }
    }

    async fn install_snapshot(&mut self, zxid: i64) {
        let Some(snap) = self.member().snapshot_in.take() else {
            self.fatal("the core asked to install a snapshot that never arrived".into());
            return;
        };
        let mut snap = *snap;
        // The stream does not carry its zxid; the SNAP packet does.
        snap.zxid = zxid;
        tracing::info!(zxid = %format!("{zxid:#x}"), nodes = snap.nodes.len(), "SNAP from the leader: installing its snapshot");
        self.tree = DataTree::from_nodes(snap.nodes.clone(), zxid);
        self.init_config_node();
        self.sessions = snap
            .sessions
            .iter()
            .map(|(id, t)| {
                (
                    *id,
                    super::core::Session {
                        timeout_ms: *t,
                        conn: None,
                        deadline_ms: u64::MAX,
                        closing: false,
                    },
                )
            })
            .collect();
        self.prep.reset(zxid);
        let disk = self.disk.clone();
        let dir = self.cfg.data_dir.join("version-2");
        let r =
            tokio::task::spawn_blocking(move || snapshot::write(disk.as_ref(), &dir, &snap)).await;
        match r {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                self.fatal(format!("cannot write the leader's snapshot: {e}"));
                return;
            }
            Err(e) => {
                self.fatal(format!("cannot write the leader's snapshot: {e}"));
                return;
            }
        }
        let (done, rx) = oneshot::channel();
        let _ = self.log_tx.send(LogCmd::Reset { zxid, done }).await;
        self.barrier("restart the transaction log after a snapshot", rx)
            .await;
    }

    /// Applies one committed entry and answers whoever asked for it on this server.
    async fn commit(&mut self, entry: Arc<TxnLogEntry>) {
        let zxid = entry.hdr.zxid;
        let f = if self.in_flight.front().is_some_and(|f| f.hdr.zxid == zxid) {
            self.in_flight.pop_front().expect("front")
        } else {
            let key = (entry.hdr.client_id, entry.hdr.cxid);
            let origin = self
                .member
                .as_mut()
                .and_then(|m| m.forwarded.remove(&key))
                .unwrap_or(Origin::Remote);
            InFlight {
                hdr: entry.hdr.clone(),
                txn: entry.txn.clone(),
                origin,
            }
        };
        if matches!(f.origin, Origin::Remote) {
            if let Txn::CloseSession(_) = &f.txn {
                if let Some(s) = self.sessions.get_mut(&f.hdr.client_id) {
                    s.closing = true;
                }
            }
        }
        self.apply(f).await;
        // Leader: learners' syncs waiting for this commit.
        let m = self.member();
        let mut due = Vec::new();
        while m.leader_syncs.front().is_some_and(|(z, _)| *z <= zxid) {
            due.push(m.leader_syncs.pop_front().expect("front").1);
        }
        for sid in due {
            m.send(sid, &QuorumMessage::Sync);
        }
    }

    fn on_role(&mut self, rs: RoleState) {
        let now_ms = self.now_ms();
        self.stats.ensemble.on_role(&rs);
        let m = self.member();
        let was = m.role;
        m.role = rs;
        if rs.state != PeerState::Leading {
            let leader = rs
                .leader
                .filter(|_| matches!(rs.state, PeerState::Following | PeerState::Observing));
            m.links.retain(|p, _| Some(*p) == leader);
            m.parked.clear();
            m.leader_syncs.clear();
        }
        if !matches!(rs.state, PeerState::Following | PeerState::Observing) {
            if let Some(l) = was.leader {
                if rs.state != PeerState::Leading || l != m.net.my_id() {
                    m.links.remove(&l);
                }
            }
            m.connecting = None;
        }
        if was.state != rs.state || was.serving() != rs.serving() || was.epoch != rs.epoch {
            tracing::info!(
                role = role_name(&rs),
                phase = ?rs.zab_state,
                leader = ?rs.leader.map(|l| l.0),
                epoch = ?rs.epoch.map(|e| e.0),
                "ensemble role"
            );
        }
        if was.serving() && !(rs.serving() && was.state == rs.state && was.epoch == rs.epoch) {
            self.stop_serving();
        }
        let m = self.member();
        if rs.serving() && !(was.serving() && was.state == rs.state && was.epoch == rs.epoch) {
            if rs.state == PeerState::Leading {
                let start = rs.epoch.map_or(0, |e| e.start_zxid().0);
                self.tree.raise_last_zxid(start);
                let last = self.tree.last_zxid();
                self.prep.reset(last);
                // Every session gets a full timeout from the new leader, as in Apache.
                let tick = self.cfg.tick_ms as u64;
                for s in self.sessions.values_mut() {
                    s.deadline_ms = (now_ms + s.timeout_ms.max(0) as u64).div_ceil(tick) * tick;
                }
            } else {
                m.touched.clear();
                self.prep.reset(self.tree.last_zxid());
            }
        }
        // Learners that called before we led.
        let m = self.member();
        if rs.state == PeerState::Leading {
            let parked = std::mem::take(&mut m.parked);
            for (peer, link, tx, first, at) in parked {
                if at.elapsed() < std::time::Duration::from_secs(10) {
                    self.pending_net.push_back(NetEvent::Opened {
                        peer,
                        link,
                        tx,
                        first: Some(first),
                    });
                }
            }
        }
    }

    /// `/zookeeper/config` holds the membership on every member, as in Apache.
    pub(crate) fn init_config_node(&mut self) {
        let Some(m) = self.member.as_ref() else {
            return;
        };
        let text = m.config_text.clone();
        self.tree.set_config_node(text, 0, super::core::wall_ms());
    }

    /// Leaves the serving state: every client connection is closed (clients reconnect to a
    /// server that serves), and work in flight is forgotten: nothing of it was acknowledged.
    fn stop_serving(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c);
        }
        self.in_flight.clear();
        self.reaping.clear();
        let m = self.member();
        m.forwarded.clear();
        m.syncs.clear();
        m.leader_syncs.clear();
        self.prep.reset(self.tree.last_zxid());
        for s in self.sessions.values_mut() {
            s.closing = false;
        }
    }

    /// One event from the peer network.
    pub(crate) async fn on_net(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Notification { from, n } => {
                self.zab_step(Event::Notification { from, n }).await
            }
            NetEvent::Opened {
                peer,
                link,
                tx,
                first,
            } => {
                let m = self.member();
                match first {
                    None => {
                        // Learner side: the connection we asked for.
                        if m.connecting == Some((peer, link)) {
                            m.connecting = None;
                            m.links.insert(peer, (link, tx));
                            self.zab_step(Event::Connected { peer }).await;
                        }
                    }
                    Some(first) => match m.role.state {
                        PeerState::Leading => {
                            // A learner calling again: its old connection is gone, and the
                            // core hears so before anything from the new one (zab::io).
                            if m.links.remove(&peer).is_some() {
                                self.zab_step(Event::Disconnected { peer }).await;
                            }
                            self.member().links.insert(peer, (link, tx));
                            self.stats.ensemble.on_learner_connected(
                                peer.0,
                                None,
                                super::core::wall_ms(),
                            );
                            self.zab_step(Event::Message {
                                from: peer,
                                msg: first,
                            })
                            .await;
                        }
                        PeerState::Looking => {
                            m.parked.push((peer, link, tx, first, Instant::now()));
                        }
                        _ => {}
                    },
                }
            }
            NetEvent::Closed { peer, link } => {
                let m = self.member();
                if m.connecting == Some((peer, link)) {
                    m.connecting = None;
                    self.zab_step(Event::Disconnected { peer }).await;
                } else if m.links.get(&peer).is_some_and(|(l, _)| *l == link) {
                    m.links.remove(&peer);
                    self.stats.ensemble.on_learner_gone(peer.0);
                    self.zab_step(Event::Disconnected { peer }).await;
                } else {
                    m.parked.retain(|p| p.1 != link);
                }
            }
            NetEvent::Message {
                peer,
                link,
                msg,
                snapshot,
            } => {
                let m = self.member();
                if m.links.get(&peer).is_none_or(|(l, _)| *l != link) {
                    return;
                }
                if snapshot.is_some() {
                    m.snapshot_in = snapshot;
                }
                match &msg {
                    QuorumMessage::Request(r) => {
                        if m.is_leader() {
                            let r = r.clone();
                            self.on_forwarded(peer, r).await;
                        }
                        return;
                    }
                    QuorumMessage::Revalidate(Revalidate::Request { session_id, .. }) => {
                        let valid = self.sessions.get(session_id).is_some_and(|s| !s.closing);
                        let id = *session_id;
                        if valid {
                            self.touch(id);
                        }
                        self.member().send(
                            peer,
                            &QuorumMessage::Revalidate(Revalidate::Reply {
                                session_id: id,
                                valid,
                            }),
                        );
                        return;
                    }
                    QuorumMessage::Ping {
                        touches: Some(t), ..
                    } if m.is_leader() => {
                        let ids: Vec<i64> = t.iter().map(|t| t.session_id).collect();
                        for id in ids {
                            self.touch(id);
                        }
                    }
                    QuorumMessage::Diff { zxid } => {
                        tracing::info!(leader = %peer, zxid = %format!("{:#x}", zxid.0), "synchronizing with the leader by DIFF");
                    }
                    QuorumMessage::Trunc { zxid } => {
                        tracing::info!(leader = %peer, zxid = %format!("{:#x}", zxid.0), "synchronizing with the leader by TRUNC");
                    }
                    QuorumMessage::Sync if !m.is_leader() => {
                        self.answer_sync();
                        return;
                    }
                    _ => {}
                }
                self.zab_step(Event::Message { from: peer, msg }).await;
            }
        }
    }

    /// Learner: the leader's SYNC answers the oldest forwarded `sync`. Every commit the leader
    /// had proposed before it came first on the connection and is applied.
    fn answer_sync(&mut self) {
        let Some((conn, xid, path, start)) = self.member().syncs.pop_front() else {
            return;
        };
        let zxid = self.tree.last_zxid();
        if let Some(c) = self.conns.get_mut(&conn) {
            if let Some(Pending::Write(_)) = c.pending.front() {
                c.pending.pop_front();
            }
        }
        self.record_answer(conn, xid, zxid, start, false);
        let f = frame::build(|out| {
            ReplyHeader { xid, zxid, err: 0 }.encode(out);
            Response::Sync(PathRequest { path }).encode(out);
        });
        self.send(conn, f);
        self.drain_reads(conn);
    }

    /// Leader: a request a learner forwarded.
    async fn on_forwarded(&mut self, from: ServerId, r: zk_proto::quorum::ForwardedRequest) {
        if !self.member().serving() {
            return;
        }
        let op = OpCode(r.op);
        let now = super::core::wall_ms();
        let (hdr, txn) = match op {
            OpCode::SYNC => {
                let last = self.in_flight.back().map(|f| f.hdr.zxid);
                let m = self.member();
                match last {
                    None => m.send(from, &QuorumMessage::Sync),
                    Some(z) => m.leader_syncs.push_back((z, from)),
                }
                return;
            }
            OpCode::CREATE_SESSION => {
                let timeout_ms = match r.body.get(..4) {
                    Some(b) => i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    None => self.cfg.session_timeout_ms_min as i32,
                };
                let (mut hdr, txn) = self.prep.prepare_session(
                    &self.tree,
                    r.session_id,
                    SessionTxn::Create { timeout_ms },
                    now,
                );
                hdr.cxid = r.cxid;
                (hdr, txn)
            }
            OpCode::CLOSE_SESSION => {
                if let Some(s) = self.sessions.get_mut(&r.session_id) {
                    s.closing = true;
                }
                let (mut hdr, txn) =
                    self.prep
                        .prepare_session(&self.tree, r.session_id, SessionTxn::Close, now);
                hdr.cxid = r.cxid;
                (hdr, txn)
            }
            _ => {
                let ids = r.auth_info.clone().unwrap_or_default();
                let mut rd = zk_proto::jute::Reader::new(&r.body);
                match Request::decode(op, &mut rd) {
                    Ok(Some(req)) if req.is_write() => {
                        let origin = PrepOrigin {
                            session_id: r.session_id,
                            xid: r.cxid,
                            ids: &ids,
                        };
                        let cfg = PrepConfig {
                            extended_types_enabled: self.cfg.extended_types_enabled,
                        };
                        self.prep.prepare(&self.tree, cfg, &origin, &req, now)
                    }
                    _ => {
                        let zxid = self.prep.next_zxid();
                        (
                            TxnHeader {
                                client_id: r.session_id,
                                cxid: r.cxid,
                                zxid,
                                time: now,
                                txn_type: OpCode::ERROR.0,
                            },
                            Txn::Error(zk_proto::txn::ErrorTxn {
                                err: ErrorCode::MARSHALLING_ERROR.0,
                            }),
                        )
                    }
                }
            }
        };
        self.submit(hdr, txn, Origin::Remote).await;
    }

    /// Leader: proposes a prepped transaction; it is answered when the core commits it. When
    /// the core refuses it (not serving), the transaction comes back for the caller to refuse.
    pub(crate) fn propose(&mut self, f: InFlight) -> Result<(), Box<InFlight>> {
        let entry = TxnLogEntry {
            hdr: f.hdr.clone(),
            txn: f.txn.clone(),
            digest: None,
        };
        let size = entry.encoded_len();
        match self.member().zab.propose(entry) {
            Ok(z) => {
                self.stats.ensemble.on_proposal(size);
                if z.0 != f.hdr.zxid {
                    // Prep and the core count zxids the same way; a difference is a bug.
                    tracing::error!(prep = %format!("{:#x}", f.hdr.zxid), core = %format!("{:#x}", z.0), "zxid mismatch between prep and the Zab core");
                }
                self.in_flight.push_back(f);
                Ok(())
            }
            Err(e) => {
                tracing::warn!("cannot propose: {e}");
                self.prep.reset(self.tree.last_zxid());
                Err(Box::new(f))
            }
        }
    }

    /// Learner: forwards a client's write (or session/sync request) to the leader.
    pub(crate) fn forward(
        &mut self,
        session: i64,
        cxid: i32,
        op: OpCode,
        body: Vec<u8>,
        auth: Vec<zk_proto::Id>,
        origin: Origin,
    ) -> bool {
        let m = self.member();
        let Some(leader) = m.leader() else {
            return false;
        };
        if !m.links.contains_key(&leader) {
            return false;
        }
        m.forwarded.insert((session, cxid), origin);
        m.send(
            leader,
            &QuorumMessage::Request(zk_proto::quorum::ForwardedRequest {
                session_id: session,
                cxid,
                op: op.0,
                body,
                auth_info: Some(auth),
            }),
        );
        true
    }

    /// Learner: forwards a client's `sync`.
    pub(crate) fn forward_sync(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        path: String,
        start: Instant,
    ) -> bool {
        let m = self.member();
        let Some(leader) = m.leader() else {
            return false;
        };
        if !m.links.contains_key(&leader) {
            return false;
        }
        let mut body = Vec::new();
        PathRequest { path: path.clone() }.encode(&mut body);
        m.syncs.push_back((conn, xid, path, start));
        m.send(
            leader,
            &QuorumMessage::Request(zk_proto::quorum::ForwardedRequest {
                session_id: session,
                cxid: xid,
                op: OpCode::SYNC.0,
                body,
                auth_info: Some(Vec::new()),
            }),
        );
        true
    }

    /// Learner: a session was active; the next PING reply tells the leader.
    pub(crate) fn member_touched(&mut self, session: i64, timeout_ms: i32) {
        if let Some(m) = self.member.as_mut() {
            if !m.is_leader() {
                m.touched.insert(session, timeout_ms);
            }
        }
    }

    /// The ensemble view for the four-letter words and the admin server.
    pub(crate) fn member_view(&self) -> Option<super::ensemble::EnsembleView> {
        let m = self.member.as_ref()?;
        Some(super::ensemble::EnsembleView {
            my_id: m.net.my_id().0 as u64,
            status: m.zab.status(),
            pending_syncs: m.leader_syncs.len(),
            quorum_size: 0,
        })
    }
}

/// Starts the peer network and the Zab core for a member whose durable state is `durable`.
pub(crate) async fn start_member(
    cfg: &Config,
    durable: DurableState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(Member, mpsc::Receiver<NetEvent>)> {
    let (zcfg, peer_addrs) = zab_setup(cfg)?;
    let my_id = zcfg.my_id;
    let (net, rx) = PeerNet::start(my_id, peer_addrs, cfg.jute_max_buffer + 1024, shutdown).await?;
    let text = zcfg.config_text.clone();
    let zab = Zab::new(zcfg, durable);
    Ok((Member::new(zab, net, text), rx))
}
