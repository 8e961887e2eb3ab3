//! The simulated ensemble: servers running the real [`Zab`] core, a network, disks, clients and
//! faults, driven by one seeded event queue.
//!
//! The world is a driver like the server's will be, so it carries out outputs by the core's
//! contract (`zk_node::zab::io`): appends are flushed later in groups and reported, TRUNC and
//! SNAP are barriers, commits are applied in order, a SNAP packet carries the leader's state
//! machine exactly at the SNAP zxid. The network is two things:
//! - election notifications: datagrams that are lost, duplicated, delayed and reordered;
//! - quorum connections: TCP-like (in order per connection, no duplicates), delayed; a
//!   connection may be reset at any packet, and one that meets a partition is dead from then
//!   on (its endpoints find out by their own timeouts, or when they close it).
//!
//! Faults: crashes (volatile state and unflushed appends lost; epoch files, flushed log and
//! last snapshot kept), restarts, partitions (an isolated server, or a random split), healing,
//! slow disks, state-machine snapshots taken at random, connection resets.

use std::collections::BTreeMap;
use std::sync::Arc;

use zk_node::zab::{
    Event, Output, PeerState, QuorumMessage, RoleState, ServerId, TxnLogEntry, Zab, ZabState, Zxid,
};
use zk_proto::ops::OpCode;
use zk_proto::quorum::Notification;
use zk_proto::txn::{SetDataTxn, Txn, TxnHeader};

use super::disk::{SimDisk, Snapshot};
use super::invariants::liveness::FinalView;
use super::invariants::Checker;
use super::params::{Params, TICK};
use super::rng::Rng;

pub type ConnId = u64;

/// What a run went through, to show the seeds reach every path (printed in the summary).
#[derive(Debug, Default, Clone, Copy)]
pub struct Coverage {
    pub crashes: u64,
    pub partitions: u64,
    pub diffs: u64,
    pub truncs: u64,
    pub snaps: u64,
    pub conn_resets: u64,
    pub step_downs: u64,
}

impl std::ops::AddAssign for Coverage {
    fn add_assign(&mut self, o: Coverage) {
        self.crashes += o.crashes;
        self.partitions += o.partitions;
        self.diffs += o.diffs;
        self.truncs += o.truncs;
        self.snaps += o.snaps;
        self.conn_resets += o.conn_resets;
        self.step_downs += o.step_downs;
    }
}

/// One quorum connection, from a learner to a leader.
#[derive(Debug, Clone)]
struct Conn {
    learner: ServerId,
    leader: ServerId,
    open: bool,
    /// A packet met a partition: nothing more gets through.
    dead: bool,
    /// Delivery time of the last packet queued in each direction (0: to the leader, 1: to the
    /// learner), to keep each direction in order.
    last_at: [u64; 2],
}

#[derive(Debug)]
enum Ev {
    Tick {
        s: ServerId,
        inc: u64,
    },
    Notify {
        from: ServerId,
        to: ServerId,
        n: Notification,
    },
    Packet {
        conn: ConnId,
        from: ServerId,
        to: ServerId,
        msg: QuorumMessage,
        snap: Option<Snapshot>,
    },
    Connected {
        conn: ConnId,
    },
    Closed {
        conn: ConnId,
        to: ServerId,
    },
    Flush {
        s: ServerId,
        inc: u64,
    },
    Crash {
        s: ServerId,
        inc: u64,
    },
    Fault,
    Heal,
    Write,
}

/// One simulated server.
#[derive(Debug)]
pub struct Server {
    pub id: ServerId,
    /// `None` while crashed.
    pub zab: Option<Zab>,
    /// Bumped by every crash, so that ticks and flushes of a previous life are ignored.
    pub incarnation: u64,
    pub disk: SimDisk,
    /// The state machine: how many committed entries it applied, and the last one's zxid.
    pub applied: Snapshot,
    /// The snapshot that came with the last SNAP packet, until the core installs it.
    snap_inbox: Option<Snapshot>,
    pub slow_disk: bool,
    /// Left down at the heal, for the rest of the run.
    pub stays_down: bool,
    pub role: Option<RoleState>,
    /// As a learner: the connection to the leader (possibly still connecting).
    conn_to_leader: Option<ConnId>,
    /// As a leader: the current connection of each learner.
    conns_from: BTreeMap<ServerId, ConnId>,
}

pub struct World {
    pub params: Params,
    rng: Rng,
    pub now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    pub servers: Vec<Server>,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    /// Partition group of each server; `None` when the network is whole.
    partition: Option<Vec<u8>>,
    pub checker: Checker,
    /// Writes proposed and not yet acknowledged: (leader, zxid) → write id.
    proposed: BTreeMap<(ServerId, Zxid), u64>,
    next_write: u64,
    pub steps: u64,
    pub coverage: Coverage,
    trace: bool,
}

impl World {
    pub fn new(seed: u64, trace: bool) -> World {
        let mut rng = Rng::new(seed);
        let params = Params::from_seed(&mut rng);
        let servers = (1..=params.servers())
            .map(|i| Server {
                id: ServerId(i as i64),
                zab: None,
                incarnation: 0,
                disk: SimDisk::default(),
                applied: Snapshot::default(),
                snap_inbox: None,
                slow_disk: false,
                stays_down: false,
                role: None,
                conn_to_leader: None,
                conns_from: BTreeMap::new(),
            })
            .collect();
        let mut w = World {
            params,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            servers,
            conns: BTreeMap::new(),
            next_conn: 1,
            partition: None,
            checker: Checker::default(),
            proposed: BTreeMap::new(),
            next_write: 1,
            steps: 0,
            coverage: Coverage::default(),
            trace,
        };
        if w.trace {
            println!("params: {:?}", w.params);
        }
        for i in 0..w.servers.len() {
            w.start_server(w.servers[i].id);
        }
        let first_fault = w.rng.range(20, w.params.fault_every);
        w.schedule(first_fault, Ev::Fault);
        w.schedule(w.params.heal_at, Ev::Heal);
        let first_write = w.rng.range(1, w.params.write_every);
        w.schedule(first_write, Ev::Write);
        w
    }

    fn schedule(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), ev);
    }

    fn server(&mut self, s: ServerId) -> &mut Server {
        &mut self.servers[s.0 as usize - 1]
    }

    fn srv(&self, s: ServerId) -> &Server {
        &self.servers[s.0 as usize - 1]
    }

    fn reachable(&self, a: ServerId, b: ServerId) -> bool {
        match &self.partition {
            None => true,
            Some(g) => g[a.0 as usize - 1] == g[b.0 as usize - 1],
        }
    }

    fn up(&self, s: ServerId) -> bool {
        self.srv(s).zab.is_some()
    }

    /// Runs the whole schedule, then the final liveness check.
    pub fn run(&mut self) {
        while let Some(((at, _), ev)) = self.queue.pop_first() {
            if at > self.params.end_at {
                break;
            }
            self.now = at;
            self.steps += 1;
            if self.trace {
                println!("{at:>5} {ev:?}");
            }
            self.handle(ev);
        }
        self.check_final();
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Tick { s, inc } => {
                if self.srv(s).incarnation == inc && self.up(s) {
                    self.feed(s, Event::Tick);
                    let jitter = self.rng.range(0, 4);
                    self.schedule(TICK - 2 + jitter, Ev::Tick { s, inc });
                }
            }
            Ev::Notify { from, to, n } => {
                if self.up(to) && self.reachable(from, to) {
                    self.feed(to, Event::Notification { from, n });
                }
            }
            Ev::Packet {
                conn,
                from,
                to,
                msg,
                snap,
            } => self.deliver_packet(conn, from, to, msg, snap),
            Ev::Connected { conn } => {
                let c = self.conns[&conn].clone();
                if c.open && self.srv(c.learner).conn_to_leader == Some(conn) {
                    self.feed(c.learner, Event::Connected { peer: c.leader });
                }
            }
            Ev::Closed { conn, to } => self.deliver_closed(conn, to),
            Ev::Flush { s, inc } => {
                if self.srv(s).incarnation == inc {
                    if let Some(z) = self.server(s).disk.finish_flush() {
                        self.feed(s, Event::Persisted { zxid: z });
                    }
                    self.start_flush(s);
                }
            }
            Ev::Crash { s, inc } => {
                if self.srv(s).incarnation == inc && self.up(s) {
                    self.crash(s);
                }
            }
            Ev::Fault => {
                if self.now >= self.params.heal_at {
                    return;
                }
                self.fault();
                {
                    let next = self.rng.range(10, 2 * self.params.fault_every);
                    self.schedule(next, Ev::Fault);
                }
            }
            Ev::Heal => self.heal(),
            Ev::Write => {
                self.client_write();
                if self.now < self.params.writes_until {
                    let next = self.rng.range(1, 2 * self.params.write_every);
                    self.schedule(next, Ev::Write);
                }
            }
        }
    }

    // --- the core and its outputs ---------------------------------------------------------------

    /// Feeds an event to a server's core and carries out what comes out.
    fn feed(&mut self, s: ServerId, ev: Event) {
        let Some(zab) = self.server(s).zab.as_mut() else {
            return;
        };
        zab.step(ev);
        let outs = zab.take_outputs();
        self.carry_out(s, outs);
    }

    fn carry_out(&mut self, s: ServerId, outs: Vec<Output>) {
        for out in outs {
            if self.trace {
                println!("        {s} -> {out:?}");
            }
            match out {
                Output::Notify { to, n } => self.send_notification(s, to, n),
                Output::Connect { to } => self.connect(s, to),
                Output::Disconnect { to } => self.disconnect(s, to),
                Output::Send { to, msg } => self.send_packet(s, to, msg),
                Output::SaveAcceptedEpoch(e) => {
                    self.server(s).disk.accepted_epoch = e;
                    self.maybe_crash_here(s, self.params.crash_after_epoch);
                }
                Output::SaveCurrentEpoch(e) => {
                    self.server(s).disk.current_epoch = e;
                    self.maybe_crash_here(s, self.params.crash_after_epoch);
                }
                Output::Append(entry) => {
                    self.append(s, entry);
                    self.maybe_crash_here(s, self.params.crash_point);
                }
                Output::TruncateLog { zxid } => {
                    self.coverage.truncs += 1;
                    self.server(s).disk.truncate(zxid);
                    self.maybe_crash_here(s, self.params.crash_after_epoch);
                }
                Output::InstallSnapshot { zxid } => {
                    self.coverage.snaps += 1;
                    self.install_snapshot(s, zxid)
                }
                Output::Commit(entry) => self.apply(s, entry),
                Output::State(rs) => self.on_state(s, rs),
            }
        }
        // The driver's half of the contract: the state machine is where the core says.
        if let Some(zab) = &self.srv(s).zab {
            assert_eq!(
                self.srv(s).applied.zxid,
                zab.history().committed(),
                "{s}: state machine and core disagree on the commit point"
            );
        }
    }

    fn append(&mut self, s: ServerId, entry: Arc<TxnLogEntry>) {
        self.server(s).disk.pending.push(entry);
        self.start_flush(s);
    }

    fn start_flush(&mut self, s: ServerId) {
        if !self.server(s).disk.start_flush() {
            return;
        }
        let (lo, hi) = if self.srv(s).slow_disk {
            self.params.slow_disk_latency
        } else {
            self.params.disk_latency
        };
        let latency = self.rng.range(lo, hi);
        let inc = self.srv(s).incarnation;
        self.schedule(latency, Ev::Flush { s, inc });
    }

    /// Crash points: right after a durable write or an append, sometimes crash before
    /// anything else happens (the moments the order of writes matters most).
    fn maybe_crash_here(&mut self, s: ServerId, per_mille: u64) {
        if self.now < self.params.heal_at && self.rng.chance(per_mille) {
            let inc = self.srv(s).incarnation;
            self.schedule(0, Ev::Crash { s, inc });
        }
    }

    fn install_snapshot(&mut self, s: ServerId, zxid: Zxid) {
        let snap = self
            .server(s)
            .snap_inbox
            .take()
            .expect("InstallSnapshot without a snapshot received");
        assert_eq!(snap.zxid, zxid, "{s}: InstallSnapshot of another snapshot");
        self.checker.history.check_prefix(s, snap.len, snap.zxid);
        let srv = self.server(s);
        srv.disk.install(snap);
        srv.applied = snap;
    }

    fn apply(&mut self, s: ServerId, entry: Arc<TxnLogEntry>) {
        let pos = self.srv(s).applied.len;
        self.checker.history.on_apply(s, pos, &entry);
        let (durable_on, quorum) = self.durable_on(&entry);
        self.checker
            .durable
            .on_apply(s, entry.zxid(), durable_on, quorum);
        self.server(s).applied = Snapshot {
            len: pos + 1,
            zxid: entry.zxid(),
        };
        let leading = self
            .srv(s)
            .role
            .is_some_and(|r| r.state == PeerState::Leading);
        if leading {
            if let Some(_write) = self.proposed.remove(&(s, entry.zxid())) {
                self.acknowledge(s, &entry, pos);
            }
        }
    }

    /// How many voters hold `entry` durably, and how many make a quorum.
    fn durable_on(&self, entry: &TxnLogEntry) -> (usize, usize) {
        let ensemble = self.params.ensemble();
        let durable_on = ensemble
            .voters()
            .filter(|v| self.srv(*v).disk.holds(entry))
            .count();
        (durable_on, ensemble.quorum_size())
    }

    /// The leader committed its own proposal: the client hears "ok".
    fn acknowledge(&mut self, leader: ServerId, entry: &TxnLogEntry, pos: usize) {
        let (durable_on, quorum) = self.durable_on(entry);
        self.checker
            .acked
            .on_ack(leader, entry.zxid(), pos, durable_on, quorum);
        self.checker.liveness.on_ack();
    }

    fn on_state(&mut self, s: ServerId, rs: RoleState) {
        let was_leading = self
            .srv(s)
            .role
            .is_some_and(|r| r.state == PeerState::Leading && r.zab_state == ZabState::Broadcast);
        if was_leading && rs.state != PeerState::Leading {
            self.coverage.step_downs += 1;
        }
        self.server(s).role = Some(rs);
        self.checker.leaders.on_state(s, &rs);
        if rs.state == PeerState::Leading && rs.zab_state == ZabState::Broadcast {
            self.checker
                .acked
                .on_leader_serving(s, self.srv(s).applied.len);
            self.checker.liveness.on_leader_serving(self.now);
        }
        // The driver closes what the role no longer has.
        if rs.state != PeerState::Leading {
            let learners: Vec<ServerId> = self.srv(s).conns_from.keys().copied().collect();
            for l in learners {
                self.disconnect(s, l);
            }
        }
        let learning = matches!(rs.state, PeerState::Following | PeerState::Observing);
        if let Some(conn) = self.srv(s).conn_to_leader {
            let leader = self.conns[&conn].leader;
            if !learning || rs.leader != Some(leader) {
                self.disconnect(s, leader);
            }
        }
    }

    // --- network ------------------------------------------------------------------------------

    /// An election message's delay: long ones reorder.
    fn delay(&mut self) -> u64 {
        if self.rng.chance(self.params.long_delay) {
            self.rng.range(5, 40)
        } else {
            self.rng.range(1, 5)
        }
    }

    /// A quorum packet's delay: congestion while faults last, kept under the limits (a TCP
    /// stream that stalls longer than `syncLimit` is a lost connection, which resets model).
    fn packet_delay(&mut self) -> u64 {
        if self.now < self.params.heal_at && self.rng.chance(self.params.long_delay) {
            self.rng.range(5, 15)
        } else {
            self.rng.range(1, 5)
        }
    }

    fn send_notification(&mut self, from: ServerId, to: ServerId, n: Notification) {
        // Once healed the network still duplicates, delays and reorders, but loses nothing:
        // with loss, no bound on the time to elect would hold.
        let lost = self.now < self.params.heal_at && self.rng.chance(self.params.election_loss);
        if lost || !self.reachable(from, to) {
            return;
        }
        if self.rng.chance(self.params.election_dup) {
            let d = self.delay();
            self.schedule(
                d,
                Ev::Notify {
                    from,
                    to,
                    n: n.clone(),
                },
            );
        }
        let d = self.delay();
        self.schedule(d, Ev::Notify { from, to, n });
    }

    fn connect(&mut self, learner: ServerId, leader: ServerId) {
        if let Some(old) = self.srv(learner).conn_to_leader {
            let old_leader = self.conns[&old].leader;
            self.disconnect(learner, old_leader);
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let listening = self.up(leader)
            && self
                .srv(leader)
                .role
                .is_some_and(|r| r.state == PeerState::Leading);
        let accepted = listening && self.reachable(learner, leader);
        self.conns.insert(
            conn,
            Conn {
                learner,
                leader,
                open: accepted,
                dead: false,
                last_at: [0, 0],
            },
        );
        self.server(learner).conn_to_leader = Some(conn);
        let d = self.delay();
        if !accepted {
            self.schedule(d, Ev::Closed { conn, to: learner });
            return;
        }
        // A reconnecting learner replaces its old connection; the leader hears of the old
        // one's end before anything arrives on the new one.
        if let Some(old) = self.server(leader).conns_from.insert(learner, conn) {
            self.conns.get_mut(&old).expect("conn").open = false;
            self.feed(leader, Event::Disconnected { peer: learner });
        }
        self.schedule(d, Ev::Connected { conn });
    }

    /// The connection between `s` and `peer`, in whichever role `s` holds it.
    fn conn_between(&self, s: ServerId, peer: ServerId) -> Option<ConnId> {
        let srv = self.srv(s);
        if let Some(c) = srv.conns_from.get(&peer) {
            return Some(*c);
        }
        srv.conn_to_leader.filter(|c| self.conns[c].leader == peer)
    }

    /// `s` closes its connection with `peer` (if any); the peer finds out if it can be
    /// reached.
    fn disconnect(&mut self, s: ServerId, peer: ServerId) {
        let Some(conn) = self.conn_between(s, peer) else {
            return;
        };
        let srv = self.server(s);
        if srv.conn_to_leader == Some(conn) {
            srv.conn_to_leader = None;
        } else {
            srv.conns_from.remove(&peer);
        }
        let c = self.conns.get_mut(&conn).expect("conn");
        let was_open = c.open;
        c.open = false;
        if was_open && self.up(peer) && self.reachable(s, peer) {
            let d = self.delay();
            self.schedule(d, Ev::Closed { conn, to: peer });
        }
    }

    fn deliver_closed(&mut self, conn: ConnId, to: ServerId) {
        let c = self.conns[&conn].clone();
        let srv = self.server(to);
        let peer = if srv.conn_to_leader == Some(conn) {
            srv.conn_to_leader = None;
            c.leader
        } else if srv.conns_from.get(&c.learner) == Some(&conn) {
            srv.conns_from.remove(&c.learner);
            c.learner
        } else {
            // A connection since replaced: its end is not news.
            return;
        };
        self.feed(to, Event::Disconnected { peer });
    }

    /// Resets a connection: both ends find out (if they can be reached).
    fn reset(&mut self, conn: ConnId) {
        let c = self.conns[&conn].clone();
        if !c.open {
            return;
        }
        self.coverage.conn_resets += 1;
        self.conns.get_mut(&conn).expect("conn").open = false;
        for end in [c.learner, c.leader] {
            if self.up(end) {
                let d = self.delay();
                self.schedule(d, Ev::Closed { conn, to: end });
            }
        }
    }

    fn send_packet(&mut self, from: ServerId, to: ServerId, msg: QuorumMessage) {
        let Some(conn) = self.conn_between(from, to) else {
            return;
        };
        let snap = if let QuorumMessage::Snap { zxid } = &msg {
            let applied = self.srv(from).applied;
            assert_eq!(
                applied.zxid, *zxid,
                "{from}: SNAP at {zxid} while the state machine is at {}",
                applied.zxid
            );
            Some(applied)
        } else {
            None
        };
        if !self.conns[&conn].open || self.conns[&conn].dead {
            return;
        }
        if !self.reachable(from, to) {
            self.conns.get_mut(&conn).expect("conn").dead = true;
            return;
        }
        if self.now < self.params.heal_at && self.rng.chance(self.params.conn_reset) {
            self.reset(conn);
            return;
        }
        let dir = usize::from(self.conns[&conn].leader == from);
        let d = self.packet_delay();
        let c = self.conns.get_mut(&conn).expect("conn");
        let at = (self.now + d).max(c.last_at[dir]);
        c.last_at[dir] = at;
        self.seq += 1;
        self.queue.insert(
            (at, self.seq),
            Ev::Packet {
                conn,
                from,
                to,
                msg,
                snap,
            },
        );
    }

    fn deliver_packet(
        &mut self,
        conn: ConnId,
        from: ServerId,
        to: ServerId,
        msg: QuorumMessage,
        snap: Option<Snapshot>,
    ) {
        let c = &self.conns[&conn];
        if !c.open || c.dead || !self.up(to) {
            return;
        }
        if !self.reachable(from, to) {
            self.conns.get_mut(&conn).expect("conn").dead = true;
            return;
        }
        if snap.is_some() {
            self.server(to).snap_inbox = snap;
        }
        if matches!(msg, QuorumMessage::Diff { .. }) {
            self.coverage.diffs += 1;
        }
        self.feed(to, Event::Message { from, msg });
    }

    // --- clients and faults ---------------------------------------------------------------------

    fn client_write(&mut self) {
        let leaders: Vec<ServerId> = self
            .servers
            .iter()
            .filter(|s| {
                s.zab.is_some()
                    && s.role.is_some_and(|r| {
                        r.state == PeerState::Leading && r.zab_state == ZabState::Broadcast
                    })
            })
            .map(|s| s.id)
            .collect();
        let Some(&leader) = self.rng.pick(&leaders) else {
            return;
        };
        let id = self.next_write;
        self.next_write += 1;
        let entry = TxnLogEntry {
            hdr: TxnHeader {
                client_id: id as i64,
                cxid: 1,
                zxid: 0,
                time: self.now as i64,
                txn_type: OpCode::SET_DATA.0,
            },
            txn: Txn::SetData(SetDataTxn {
                path: "/k".into(),
                data: Some(id.to_be_bytes().to_vec()),
                version: -1,
            }),
            digest: None,
        };
        let zab = self.server(leader).zab.as_mut().expect("up");
        let zxid = zab.propose(entry).expect("a serving leader accepts writes");
        self.proposed.insert((leader, zxid), id);
        let outs = self.server(leader).zab.as_mut().expect("up").take_outputs();
        self.carry_out(leader, outs);
    }

    fn start_server(&mut self, s: ServerId) {
        let cfg = self.params.zab_config(s);
        let srv = self.server(s);
        let durable = srv.disk.durable_state();
        srv.applied = srv.disk.snapshot;
        srv.zab = Some(Zab::new(cfg, durable));
        let inc = srv.incarnation;
        let applied = srv.applied;
        self.checker
            .history
            .check_prefix(s, applied.len, applied.zxid);
        let outs = self.server(s).zab.as_mut().expect("up").take_outputs();
        self.carry_out(s, outs);
        let first = self.rng.range(1, TICK);
        self.schedule(first, Ev::Tick { s, inc });
    }

    fn crash(&mut self, s: ServerId) {
        self.coverage.crashes += 1;
        let peers: Vec<ServerId> = {
            let srv = self.srv(s);
            srv.conns_from
                .keys()
                .copied()
                .chain(srv.conn_to_leader.map(|c| self.conns[&c].leader))
                .collect()
        };
        for p in peers {
            self.disconnect(s, p);
        }
        let srv = self.server(s);
        srv.zab = None;
        srv.incarnation += 1;
        srv.disk.crash();
        srv.role = None;
        srv.snap_inbox = None;
        srv.conn_to_leader = None;
        srv.conns_from.clear();
        self.proposed.retain(|(l, _), _| *l != s);
    }

    fn fault(&mut self) {
        let ids: Vec<ServerId> = self.servers.iter().map(|s| s.id).collect();
        let up: Vec<ServerId> = ids.iter().copied().filter(|s| self.up(*s)).collect();
        let down: Vec<ServerId> = ids.iter().copied().filter(|s| !self.up(*s)).collect();
        let roll = self.rng.below(100);
        if self.trace {
            println!("        fault roll {roll}");
        }
        match roll {
            0..=19 => {
                if let Some(&s) = self.rng.pick(&up) {
                    self.crash(s);
                }
            }
            20..=39 => {
                if let Some(&s) = self.rng.pick(&down) {
                    self.start_server(s);
                }
            }
            40..=54 => {
                let n = self.servers.len();
                let groups: Vec<u8> = if self.rng.chance(500) {
                    let lonely = self.rng.below(n as u64) as usize;
                    (0..n).map(|i| u8::from(i == lonely)).collect()
                } else {
                    (0..n).map(|_| self.rng.below(2) as u8).collect()
                };
                self.partition = Some(groups);
                self.coverage.partitions += 1;
            }
            55..=64 => self.partition = None,
            65..=74 => {
                if let Some(&s) = self.rng.pick(&ids) {
                    let srv = self.server(s);
                    srv.slow_disk = !srv.slow_disk;
                }
            }
            75..=89 => {
                if let Some(&s) = self.rng.pick(&up) {
                    let srv = self.server(s);
                    srv.disk.snapshot = srv.applied;
                }
            }
            _ => {
                let open: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.open)
                    .map(|(id, _)| *id)
                    .collect();
                if let Some(&c) = self.rng.pick(&open) {
                    self.reset(c);
                }
            }
        }
    }

    fn heal(&mut self) {
        self.partition = None;
        self.checker.liveness.healed_at = Some(self.now);
        // Some runs leave a minority of voters down for good: a bare quorum must do.
        let mut voters: Vec<ServerId> = self.params.ensemble().voters().collect();
        for _ in 0..self.params.down_after_heal {
            let i = self.rng.below(voters.len() as u64) as usize;
            let s = voters.swap_remove(i);
            if self.up(s) {
                self.crash(s);
            }
            self.server(s).stays_down = true;
        }
        let serving = self.servers.iter().any(|s| {
            s.zab.is_some()
                && s.role.is_some_and(|r| {
                    r.state == PeerState::Leading && r.zab_state == ZabState::Broadcast
                })
        });
        if serving {
            self.checker.liveness.on_leader_serving(self.now);
        }
        let ids: Vec<ServerId> = self.servers.iter().map(|s| s.id).collect();
        for s in ids {
            self.server(s).slow_disk = false;
            if !self.up(s) && !self.srv(s).stays_down {
                self.start_server(s);
            }
        }
    }

    fn check_final(&self) {
        let views: Vec<FinalView> = self
            .servers
            .iter()
            .map(|s| {
                let role = s.role.unwrap_or(RoleState {
                    state: PeerState::Looking,
                    zab_state: ZabState::Election,
                    leader: None,
                    epoch: None,
                });
                FinalView {
                    id: s.id,
                    up: s.zab.is_some(),
                    stays_down: s.stays_down,
                    state: role.state,
                    zab_state: role.zab_state,
                    leader: role.leader,
                    applied: s.applied.len,
                }
            })
            .collect();
        self.checker.liveness.check_final(&views);
    }
}
