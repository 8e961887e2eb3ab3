//! The leader's side of discovery, synchronization and broadcast (`Leader.lead` and the
//! leader half of `LearnerHandler`).
//!
//! 1. **Discovery**: learners send FOLLOWERINFO with their accepted epoch. Once a quorum
//!    (with us) has, the new epoch is one above the largest accepted epoch seen; we persist
//!    `acceptedEpoch` and send LEADERINFO. Learners answer ACKEPOCH with their current epoch
//!    and last zxid; one that is more recent than us is dropped. With a quorum of ACKEPOCHs
//!    (and our own log durable) we persist `currentEpoch`.
//! 2. **Synchronization**: each learner gets DIFF/TRUNC/SNAP ([`SyncPlan`]), our history after
//!    its point as PROPOSAL+COMMIT pairs, outstanding proposals, then NEWLEADER. Once a quorum
//!    (with us) has acknowledged NEWLEADER, our whole history is committed, and each synced
//!    learner gets UPTODATE.
//! 3. **Broadcast**: proposals go to every synced or syncing follower; a proposal commits once
//!    a quorum of voters has logged it, strictly in zxid order; followers get COMMIT, observers
//!    INFORM. Learners are pinged; one that goes silent or stops acknowledging for `syncLimit`
//!    ticks is dropped, and without a quorum of live followers the leader steps down.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use zk_proto::quorum::{
    Epoch, LearnerInfo, PeerState, QuorumMessage, ServerId, TxnLogEntry, ACKEPOCH_ALREADY_ACCEPTED,
    ZAB_PROTOCOL_VERSION,
};
use zk_proto::Zxid;

use super::io::{LearnerStatus, ProposeError, RoleState, ZabState};
use super::learner_handler::{HandlerState, LearnerHandler};
use super::peer::{Next, Shared};
use super::quorum::LearnerType;
use super::sync::{SyncMode, SyncPlan};

/// The leader's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Discovery,
    Synchronization,
    Broadcast,
}

/// The leading role. Lives from winning an election until stepping down.
#[derive(Debug, Clone)]
pub struct Leader {
    phase: Phase,
    /// The tick the current phase began (discovery and synchronization must finish within
    /// `initLimit` ticks).
    phase_since: u64,
    /// The epoch being established, once a quorum has sent FOLLOWERINFO.
    epoch: Option<Epoch>,
    /// The largest accepted epoch among FOLLOWERINFOs so far (ours included).
    max_accepted: Epoch,
    /// Voters that sent FOLLOWERINFO before the epoch was decided (`connectingFollowers`).
    connecting: BTreeSet<ServerId>,
    /// Voters whose ACKEPOCH counts (`electingFollowers`).
    electing: BTreeSet<ServerId>,
    /// Voters that acknowledged NEWLEADER during establishment.
    newleader_acks: BTreeSet<ServerId>,
    /// Our (currentEpoch, last zxid) when we started (`leaderStateSummary`).
    summary: (Epoch, Zxid),
    /// Our last zxid when we started: the history the new epoch commits once established.
    history_end: Zxid,
    learners: BTreeMap<ServerId, LearnerHandler>,
    /// The tick of the last round of pings.
    last_ping: u64,
}

impl Leader {
    pub fn start(sh: &mut Shared) -> Leader {
        let me = sh.cfg.my_id;
        sh.set_state(RoleState {
            state: PeerState::Leading,
            zab_state: ZabState::Discovery,
            leader: Some(me),
            epoch: None,
        });
        let mut l = Leader {
            phase: Phase::Discovery,
            phase_since: sh.tick,
            epoch: None,
            max_accepted: sh.accepted_epoch,
            connecting: BTreeSet::from([me]),
            electing: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            summary: (sh.current_epoch, sh.history.last_zxid()),
            history_end: sh.history.last_zxid(),
            learners: BTreeMap::new(),
            last_ping: sh.tick,
        };
        l.try_decide_epoch(sh);
        l
    }

    pub fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }

    fn new_leader_zxid(&self) -> Zxid {
        self.epoch.expect("epoch decided").start_zxid()
    }

    // --- discovery ---------------------------------------------------------------------------

    /// `getEpochToPropose`: decide the epoch once a quorum including us has reported.
    fn try_decide_epoch(&mut self, sh: &mut Shared) {
        if self.epoch.is_some() || !sh.cfg.ensemble.has_quorum(&self.connecting) {
            return;
        }
        let epoch = Epoch(self.max_accepted.0 + 1);
        self.epoch = Some(epoch);
        sh.save_accepted_epoch(epoch);
        let rs = RoleState {
            epoch: Some(epoch),
            ..sh.role_state
        };
        sh.set_state(rs);
        let waiting: Vec<ServerId> = self
            .learners
            .values()
            .filter(|h| h.state == HandlerState::Connected)
            .map(|h| h.sid)
            .collect();
        for sid in waiting {
            self.send_leader_info(sh, sid);
        }
    }

    fn send_leader_info(&mut self, sh: &mut Shared, sid: ServerId) {
        let zxid = self.new_leader_zxid();
        sh.send(
            sid,
            QuorumMessage::LeaderInfo {
                zxid,
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        );
        self.learners.get_mut(&sid).expect("handler").state = HandlerState::EpochSent;
    }

    fn on_learner_info(
        &mut self,
        sh: &mut Shared,
        from: ServerId,
        zxid: Zxid,
        info: LearnerInfo,
        learner_type: LearnerType,
    ) -> Next {
        if info.server_id != from.0 || sh.cfg.ensemble.role(from) != Some(learner_type) {
            // Not a member, or a participant posing as an observer (or the reverse).
            self.drop_learner(sh, from);
            return Next::Stay;
        }
        let accepted = Epoch(zxid.epoch());
        if self.epoch.is_some_and(|e| accepted > e) {
            // It promised a later epoch (to a leader that failed to establish it) and can
            // never follow ours. Apache keeps leading and the learner retries forever; we step
            // down so that the next election proposes an epoch above its promise.
            return Next::Looking;
        }
        self.learners.insert(
            from,
            LearnerHandler::new(from, learner_type, accepted, sh.tick),
        );
        if self.epoch.is_none() {
            self.max_accepted = self.max_accepted.max(accepted);
            if learner_type == LearnerType::Participant {
                self.connecting.insert(from);
            }
            self.try_decide_epoch(sh);
        } else {
            self.send_leader_info(sh, from);
        }
        Next::Stay
    }

    fn on_ack_epoch(
        &mut self,
        sh: &mut Shared,
        from: ServerId,
        last_zxid: Zxid,
        current_epoch: i32,
    ) -> Next {
        let Some(h) = self.learners.get_mut(&from) else {
            return Next::Stay;
        };
        if h.state != HandlerState::EpochSent || current_epoch < ACKEPOCH_ALREADY_ACCEPTED {
            self.drop_learner(sh, from);
            return Next::Stay;
        }
        h.peer_last = last_zxid;
        h.state = HandlerState::EpochAcked;
        if current_epoch != ACKEPOCH_ALREADY_ACCEPTED {
            if (Epoch(current_epoch as u32), last_zxid) > self.summary {
                // "Follower is ahead of the leader": it may hold what we lack.
                self.drop_learner(sh, from);
                return Next::Stay;
            }
            if h.is_participant() {
                self.electing.insert(from);
            }
        }
        if self.phase == Phase::Discovery {
            self.try_finish_discovery(sh);
        } else {
            self.sync_learner(sh, from);
        }
        self.try_establish(sh);
        Next::Stay
    }

    /// `waitForEpochAck`: with a quorum of ACKEPOCHs, persist `currentEpoch` and sync everyone
    /// waiting. Our own vote counts only once our log is durable: `currentEpoch` must never
    /// vouch for entries the disk does not hold (ZOOKEEPER-4643).
    fn try_finish_discovery(&mut self, sh: &mut Shared) {
        let Some(epoch) = self.epoch else { return };
        if self.phase != Phase::Discovery || !sh.history.all_persisted() {
            return;
        }
        self.electing.insert(sh.cfg.my_id);
        if !sh.cfg.ensemble.has_quorum(&self.electing) {
            return;
        }
        sh.save_current_epoch(epoch);
        self.phase = Phase::Synchronization;
        self.phase_since = sh.tick;
        let rs = RoleState {
            zab_state: ZabState::Synchronization,
            ..sh.role_state
        };
        sh.set_state(rs);
        let waiting: Vec<ServerId> = self
            .learners
            .values()
            .filter(|h| h.state == HandlerState::EpochAcked)
            .map(|h| h.sid)
            .collect();
        for sid in waiting {
            self.sync_learner(sh, sid);
        }
    }

    // --- synchronization ---------------------------------------------------------------------

    /// `syncFollower` + `startForwarding` + NEWLEADER for one learner.
    fn sync_learner(&mut self, sh: &mut Shared, sid: ServerId) {
        let established = self.phase == Phase::Broadcast;
        // What the learner may treat as committed once it gets UPTODATE.
        let commit_target = if established {
            sh.history.committed()
        } else {
            self.history_end
        };
        let h = self.learners.get(&sid).expect("handler");
        let participant = h.is_participant();
        let plan = SyncPlan::new(&sh.history, h.peer_last);
        let head = match plan.mode {
            SyncMode::Diff => QuorumMessage::Diff {
                zxid: commit_target,
            },
            SyncMode::Trunc(z) => QuorumMessage::Trunc { zxid: z },
            SyncMode::Snap => QuorumMessage::Snap {
                zxid: sh.history.committed(),
            },
        };
        let mut msgs = vec![head];
        let mut sent_through = plan.send_after;
        for e in sh.history.entries_after(plan.send_after) {
            let zxid = e.zxid();
            if zxid > commit_target && !participant {
                // Observers hear of the rest through INFORM once it commits.
                break;
            }
            msgs.push(QuorumMessage::Proposal {
                zxid,
                txn: e.clone(),
            });
            if zxid <= commit_target {
                msgs.push(QuorumMessage::Commit { zxid });
            }
            sent_through = zxid;
        }
        msgs.push(QuorumMessage::NewLeader {
            zxid: self.new_leader_zxid(),
            config: Some(sh.cfg.config_text.clone()),
        });
        for m in msgs {
            sh.send(sid, m);
        }
        let h = self.learners.get_mut(&sid).expect("handler");
        h.state = HandlerState::Syncing;
        h.sent_through = sent_through;
        h.synced_to = sent_through;
        h.last_heard = sh.tick;
    }

    fn on_ack(&mut self, sh: &mut Shared, from: ServerId, zxid: Zxid) -> Next {
        let Some(epoch) = self.epoch else {
            self.drop_learner(sh, from);
            return Next::Stay;
        };
        let Some(h) = self.learners.get_mut(&from) else {
            return Next::Stay;
        };
        if zxid == epoch.start_zxid() {
            if h.state != HandlerState::Syncing {
                // The ACK that follows UPTODATE, or an old one.
                return Next::Stay;
            }
            h.state = HandlerState::Synced;
            if h.is_participant() {
                h.acked = Some(h.synced_to);
            }
            if self.phase == Phase::Broadcast {
                self.send_up_to_date(sh, from);
                self.try_commit(sh);
            } else if h.is_participant() {
                self.newleader_acks.insert(from);
                self.try_establish(sh);
            }
            return Next::Stay;
        }
        if zxid.epoch() != epoch.0 || !h.is_participant() || !h.is_synced() {
            // Acks of an older epoch, or sent before NEWLEADER was acknowledged (an Apache
            // 3.8 learner can race its proposal ACKs ahead of the NEWLEADER ACK): the NEWLEADER
            // ACK will vouch for them.
            return Next::Stay;
        }
        if zxid > h.sent_through {
            self.drop_learner(sh, from);
            return Next::Stay;
        }
        h.on_ack(zxid);
        self.try_commit(sh);
        Next::Stay
    }

    /// `waitForNewLeaderAck`: once a quorum (with us, our log durable) has acknowledged
    /// NEWLEADER, commit our history and start serving.
    fn try_establish(&mut self, sh: &mut Shared) {
        if self.phase != Phase::Synchronization || !sh.history.all_persisted() {
            return;
        }
        self.newleader_acks.insert(sh.cfg.my_id);
        if !sh.cfg.ensemble.has_quorum(&self.newleader_acks) {
            return;
        }
        let epoch = self.epoch.expect("epoch decided");
        sh.commit_through(self.history_end);
        self.phase = Phase::Broadcast;
        self.phase_since = sh.tick;
        // ZOOKEEPER-1732: report the new epoch to latecomers, as everyone synced will.
        sh.current_vote.peer_epoch = epoch.0 as i64;
        let rs = RoleState {
            zab_state: ZabState::Broadcast,
            ..sh.role_state
        };
        sh.set_state(rs);
        let synced: Vec<ServerId> = self
            .learners
            .values()
            .filter(|h| h.state == HandlerState::Synced)
            .map(|h| h.sid)
            .collect();
        for sid in synced {
            self.send_up_to_date(sh, sid);
        }
        self.try_commit(sh);
    }

    fn send_up_to_date(&mut self, sh: &mut Shared, sid: ServerId) {
        sh.send(sid, QuorumMessage::UpToDate);
        let h = self.learners.get_mut(&sid).expect("handler");
        h.state = HandlerState::UpToDate;
        h.last_heard = sh.tick;
    }

    // --- broadcast ---------------------------------------------------------------------------

    pub fn next_zxid(&self, sh: &Shared) -> Option<Zxid> {
        if self.phase != Phase::Broadcast {
            return None;
        }
        let epoch = self.epoch?;
        let last = sh.history.last_zxid();
        if last.epoch() == epoch.0 {
            (last.counter() < u32::MAX).then(|| Zxid(last.0 + 1))
        } else {
            Some(Zxid::new(epoch.0, 1))
        }
    }

    pub fn propose(&mut self, sh: &mut Shared, mut txn: TxnLogEntry) -> Result<Zxid, ProposeError> {
        if self.phase != Phase::Broadcast {
            return Err(ProposeError::NotServing);
        }
        let zxid = self.next_zxid(sh).ok_or(ProposeError::ZxidExhausted)?;
        txn.hdr.zxid = zxid.0;
        let entry = Arc::new(txn);
        sh.append(entry.clone());
        let tick = sh.tick;
        for h in self.learners.values_mut() {
            if h.is_participant() && h.is_forwarding() {
                sh.send(
                    h.sid,
                    QuorumMessage::Proposal {
                        zxid,
                        txn: entry.clone(),
                    },
                );
                h.sent_through = zxid;
                if h.is_synced() {
                    h.unacked.push_back((zxid, tick));
                }
            }
        }
        // An ensemble of one commits on its own durability.
        self.try_commit(sh);
        Ok(zxid)
    }

    /// Commits, in zxid order, everything a quorum of voters has logged.
    fn try_commit(&mut self, sh: &mut Shared) {
        if self.phase != Phase::Broadcast {
            return;
        }
        let me = sh.cfg.my_id;
        let acked = self
            .learners
            .values()
            .filter(|h| h.sid != me)
            .filter_map(|h| h.acked.map(|a| (h.sid, a)))
            .chain(std::iter::once((me, sh.history.persisted())));
        let Some(q) = sh.cfg.ensemble.quorum_acked_of(acked) else {
            return;
        };
        if q <= sh.history.committed() {
            return;
        }
        for e in sh.commit_through(q) {
            let zxid = e.zxid();
            for h in self.learners.values_mut() {
                if !h.is_forwarding() {
                    continue;
                }
                if h.is_participant() {
                    sh.send(h.sid, QuorumMessage::Commit { zxid });
                } else if zxid > h.sent_through {
                    sh.send(
                        h.sid,
                        QuorumMessage::Inform {
                            zxid,
                            txn: e.clone(),
                        },
                    );
                    h.sent_through = zxid;
                }
            }
        }
    }

    // --- events ------------------------------------------------------------------------------

    pub fn on_message(&mut self, sh: &mut Shared, from: ServerId, msg: QuorumMessage) -> Next {
        if let Some(h) = self.learners.get_mut(&from) {
            h.last_heard = sh.tick;
        }
        match msg {
            QuorumMessage::FollowerInfo { zxid, info } => {
                self.on_learner_info(sh, from, zxid, info, LearnerType::Participant)
            }
            QuorumMessage::ObserverInfo { zxid, info } => {
                self.on_learner_info(sh, from, zxid, info, LearnerType::Observer)
            }
            QuorumMessage::AckEpoch {
                zxid,
                current_epoch,
            } => self.on_ack_epoch(sh, from, zxid, current_epoch),
            QuorumMessage::Ack { zxid } => self.on_ack(sh, from, zxid),
            // Liveness only; the driver takes the session touches.
            QuorumMessage::Ping { .. } => Next::Stay,
            // The server pipeline's business.
            QuorumMessage::Request(_) | QuorumMessage::Revalidate(_) => Next::Stay,
            _ => {
                self.drop_learner(sh, from);
                Next::Stay
            }
        }
    }

    pub fn on_persisted(&mut self, sh: &mut Shared) -> Next {
        match self.phase {
            Phase::Discovery => {
                self.try_finish_discovery(sh);
                self.try_establish(sh);
            }
            Phase::Synchronization => self.try_establish(sh),
            Phase::Broadcast => self.try_commit(sh),
        }
        Next::Stay
    }

    pub fn on_disconnected(&mut self, _sh: &mut Shared, peer: ServerId) -> Next {
        self.learners.remove(&peer);
        Next::Stay
    }

    pub fn on_tick(&mut self, sh: &mut Shared) -> Next {
        let tick = sh.tick;
        if self.phase < Phase::Broadcast
            && tick.saturating_sub(self.phase_since) > sh.cfg.init_limit as u64
        {
            // "Timeout while waiting for epoch from quorum" / "for NEWLEADER to be acked".
            return Next::Looking;
        }
        self.drop_silent_learners(sh);
        if tick.saturating_sub(self.last_ping) >= sh.cfg.ping_interval as u64 {
            self.last_ping = tick;
            self.ping(sh);
        }
        if self.phase == Phase::Broadcast && !self.quorum_synced(sh) {
            // "Not sufficient followers synced".
            return Next::Looking;
        }
        Next::Stay
    }

    fn drop_silent_learners(&mut self, sh: &mut Shared) {
        let tick = sh.tick;
        let (init, sync) = (sh.cfg.init_limit, sh.cfg.sync_limit);
        let gone: Vec<ServerId> = self
            .learners
            .values()
            .filter(|h| {
                // Until UPTODATE a learner answers no pings (as Apache's): `initLimit` applies.
                if h.state == HandlerState::UpToDate {
                    !h.keeping_up(tick, sync)
                } else {
                    tick.saturating_sub(h.last_heard) > init as u64
                }
            })
            .map(|h| h.sid)
            .collect();
        for sid in gone {
            self.drop_learner(sh, sid);
        }
    }

    fn ping(&self, sh: &mut Shared) {
        let zxid = sh.history.last_zxid();
        for h in self
            .learners
            .values()
            .filter(|h| h.state == HandlerState::UpToDate)
        {
            sh.send(
                h.sid,
                QuorumMessage::Ping {
                    zxid,
                    touches: None,
                },
            );
        }
    }

    /// Whether we and the followers keeping up form a quorum.
    fn quorum_synced(&self, sh: &Shared) -> bool {
        let mut synced: Vec<ServerId> = self
            .learners
            .values()
            .filter(|h| h.is_participant() && h.state == HandlerState::UpToDate)
            .filter(|h| h.keeping_up(sh.tick, sh.cfg.sync_limit))
            .map(|h| h.sid)
            .collect();
        synced.push(sh.cfg.my_id);
        sh.cfg.ensemble.has_quorum(&synced)
    }

    fn drop_learner(&mut self, sh: &mut Shared, sid: ServerId) {
        self.learners.remove(&sid);
        sh.disconnect(sid);
    }

    /// Closes every learner connection (stepping down).
    pub fn close_all(&self, sh: &mut Shared) {
        for sid in self.learners.keys() {
            sh.disconnect(*sid);
        }
    }

    // --- reporting -----------------------------------------------------------------------------

    pub fn learner_status(&self) -> Vec<LearnerStatus> {
        self.learners
            .values()
            .map(|h| LearnerStatus {
                sid: h.sid,
                observer: !h.is_participant(),
                synced: h.is_synced(),
                last_acked: h.acked,
            })
            .collect()
    }

    pub fn outstanding(&self, sh: &Shared) -> usize {
        if self.phase != Phase::Broadcast {
            return 0;
        }
        sh.history.entries_after(sh.history.committed()).count()
    }

    pub fn check_invariants(&self, sh: &Shared) {
        if let Some(epoch) = self.epoch {
            assert_eq!(sh.accepted_epoch, epoch, "leader's acceptedEpoch");
            assert!(
                epoch.0 > self.summary.0 .0,
                "new epoch not above our old one"
            );
        }
        if self.phase >= Phase::Synchronization {
            assert_eq!(
                Some(sh.current_epoch),
                self.epoch,
                "leader past discovery without currentEpoch"
            );
        }
        if self.phase < Phase::Broadcast {
            assert_eq!(
                sh.history.last_zxid(),
                self.history_end,
                "proposals before establishment"
            );
        } else {
            let epoch = self.epoch.expect("epoch");
            assert!(sh.history.committed() >= self.history_end);
            // O(window): debug builds and tests only (this runs after every step).
            if cfg!(debug_assertions) {
                for e in sh.history.entries_after(self.history_end) {
                    assert_eq!(e.zxid().epoch(), epoch.0, "a proposal outside our epoch");
                }
            } else {
                assert_eq!(sh.history.last_zxid().epoch().max(epoch.0), epoch.0);
            }
        }
        for h in self.learners.values() {
            h.check_invariants();
            if h.is_forwarding() && h.is_participant() {
                assert_eq!(
                    h.sent_through,
                    sh.history.last_zxid(),
                    "follower {} missed a proposal",
                    h.sid
                );
            }
            assert!(
                self.epoch.is_some() || h.state == HandlerState::Connected,
                "handler past Connected before the epoch"
            );
        }
    }
}
