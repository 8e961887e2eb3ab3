//! The learner's side (`Learner`, `Follower`, `Observer`): connect to the elected leader,
//! register (FOLLOWERINFO/OBSERVERINFO), accept its epoch (LEADERINFO → ACKEPOCH), take its
//! history (DIFF/TRUNC/SNAP, proposals, NEWLEADER → ACK), start serving on UPTODATE, then log
//! and acknowledge proposals and apply commits (followers) or apply informs (observers).
//!
//! Durability before promises: `acceptedEpoch` is written before ACKEPOCH; at NEWLEADER every
//! synced entry must be durable before `currentEpoch` is written and NEWLEADER acknowledged
//! (ZOOKEEPER-4643: a `currentEpoch` ahead of the log can win an election with a short
//! history and truncate committed transactions); a proposal is acknowledged only once logged.

use zk_proto::quorum::{
    Epoch, LearnerInfo, PeerState, QuorumMessage, ServerId, ACKEPOCH_ALREADY_ACCEPTED,
    ZAB_PROTOCOL_VERSION,
};
use zk_proto::Zxid;

use super::io::{Output, RoleState, ZabState};
use super::peer::{Next, Shared};

/// Where the learner is in joining the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Waiting for the quorum connection; `retry_at` is when to try again after a failure.
    Connecting { retry_at: Option<u64> },
    /// FOLLOWERINFO/OBSERVERINFO sent.
    AwaitLeaderInfo,
    /// ACKEPOCH sent; waiting for DIFF/TRUNC/SNAP.
    AwaitSyncMode,
    /// Taking the leader's history; waiting for NEWLEADER.
    Syncing,
    /// NEWLEADER received (acknowledged once our log is durable); waiting for UPTODATE.
    AwaitUpToDate,
    /// Serving.
    Broadcast,
}

/// The following or observing role. Lives from the election's decision until it gives up.
#[derive(Debug, Clone)]
pub struct Learner {
    leader: ServerId,
    observer: bool,
    phase: Phase,
    /// The tick we started following (connecting must succeed within `initLimit`).
    since: u64,
    /// The tick of the last packet from the leader.
    last_heard: u64,
    /// The leader's epoch (LEADERINFO).
    epoch: Option<Epoch>,
    /// The zxid the sync started from (DIFF's, TRUNC's or SNAP's): committed as of UPTODATE.
    sync_target: Zxid,
    /// The highest COMMIT (or INFORM) received before UPTODATE.
    commit_seen: Zxid,
    /// NEWLEADER arrived; its ACK waits for our log to be durable.
    newleader_pending: bool,
    /// Proposals of the leader's epoch up to here have been acknowledged.
    acked_through: Zxid,
}

impl Learner {
    pub fn start(sh: &mut Shared, leader: ServerId) -> Learner {
        let observer = !sh.cfg.ensemble.is_voter(sh.cfg.my_id);
        sh.set_state(RoleState {
            state: if observer {
                PeerState::Observing
            } else {
                PeerState::Following
            },
            zab_state: ZabState::Discovery,
            leader: Some(leader),
            epoch: None,
        });
        sh.out.push(Output::Connect { to: leader });
        Learner {
            leader,
            observer,
            phase: Phase::Connecting { retry_at: None },
            since: sh.tick,
            last_heard: sh.tick,
            epoch: None,
            sync_target: Zxid(0),
            commit_seen: Zxid(0),
            newleader_pending: false,
            acked_through: Zxid(0),
        }
    }

    pub fn leader(&self) -> ServerId {
        self.leader
    }

    pub fn on_connected(&mut self, sh: &mut Shared, peer: ServerId) -> Next {
        if peer != self.leader || !matches!(self.phase, Phase::Connecting { .. }) {
            return Next::Stay;
        }
        let info = LearnerInfo {
            server_id: sh.cfg.my_id.0,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: sh.cfg.config_version,
        };
        let zxid = sh.accepted_epoch.start_zxid();
        let msg = if self.observer {
            QuorumMessage::ObserverInfo { zxid, info }
        } else {
            QuorumMessage::FollowerInfo { zxid, info }
        };
        sh.send(self.leader, msg);
        self.phase = Phase::AwaitLeaderInfo;
        self.last_heard = sh.tick;
        Next::Stay
    }

    pub fn on_disconnected(&mut self, sh: &mut Shared, peer: ServerId) -> Next {
        if peer != self.leader {
            return Next::Stay;
        }
        if let Phase::Connecting { retry_at } = &mut self.phase {
            // The leader may not be listening yet (it decided after us); try again next tick
            // while `initLimit` lasts (Apache retries 5 times a second apart).
            *retry_at = Some(sh.tick + 1);
            return Next::Stay;
        }
        Next::Looking
    }

    pub fn on_tick(&mut self, sh: &mut Shared) -> Next {
        let tick = sh.tick;
        let limit = if self.phase == Phase::Broadcast {
            sh.cfg.sync_limit
        } else {
            sh.cfg.init_limit
        } as u64;
        match self.phase {
            Phase::Connecting { retry_at } => {
                if tick.saturating_sub(self.since) > limit {
                    return Next::Looking;
                }
                if retry_at.is_some_and(|at| tick >= at) {
                    self.phase = Phase::Connecting { retry_at: None };
                    sh.out.push(Output::Connect { to: self.leader });
                }
                Next::Stay
            }
            _ if tick.saturating_sub(self.last_heard) > limit => Next::Looking,
            _ => Next::Stay,
        }
    }

    pub fn on_persisted(&mut self, sh: &mut Shared) -> Next {
        self.try_ack_newleader(sh);
        self.ack_logged(sh);
        Next::Stay
    }

    pub fn on_message(&mut self, sh: &mut Shared, from: ServerId, msg: QuorumMessage) -> Next {
        if from != self.leader {
            return Next::Stay;
        }
        self.last_heard = sh.tick;
        let ok = match (self.phase, msg) {
            (Phase::AwaitLeaderInfo, QuorumMessage::LeaderInfo { zxid, .. }) => {
                self.on_leader_info(sh, zxid)
            }
            (Phase::AwaitSyncMode, QuorumMessage::Diff { zxid }) => {
                self.sync_target = zxid;
                self.phase = Phase::Syncing;
                true
            }
            (Phase::AwaitSyncMode, QuorumMessage::Trunc { zxid }) => self.on_trunc(sh, zxid),
            (Phase::AwaitSyncMode, QuorumMessage::Snap { zxid }) => {
                sh.out.push(Output::InstallSnapshot { zxid });
                sh.history.reset_to_snapshot(zxid);
                self.sync_target = zxid;
                self.phase = Phase::Syncing;
                true
            }
            (
                Phase::Syncing | Phase::AwaitUpToDate | Phase::Broadcast,
                QuorumMessage::Proposal { zxid, txn },
            ) => self.on_proposal(sh, zxid, txn),
            (Phase::Syncing | Phase::AwaitUpToDate, QuorumMessage::Commit { zxid }) => {
                self.commit_seen = self.commit_seen.max(zxid);
                zxid <= sh.history.last_zxid()
            }
            (Phase::Broadcast, QuorumMessage::Commit { zxid }) => self.on_commit(sh, zxid),
            (Phase::AwaitUpToDate | Phase::Broadcast, QuorumMessage::Inform { zxid, txn }) => {
                self.on_inform(sh, zxid, txn)
            }
            (Phase::Syncing, QuorumMessage::NewLeader { zxid, .. }) => self.on_new_leader(sh, zxid),
            (Phase::AwaitUpToDate, QuorumMessage::UpToDate) if !self.newleader_pending => {
                self.on_up_to_date(sh);
                true
            }
            (Phase::Broadcast, QuorumMessage::Ping { zxid, .. }) => {
                // The driver adds the sessions touched since the last reply.
                sh.send(
                    self.leader,
                    QuorumMessage::Ping {
                        zxid,
                        touches: Some(Vec::new()),
                    },
                );
                true
            }
            // Apache ignores pings until it serves.
            (_, QuorumMessage::Ping { .. }) => true,
            // The server pipeline's business.
            (_, QuorumMessage::Revalidate(_) | QuorumMessage::Sync) => true,
            _ => false,
        };
        if ok {
            Next::Stay
        } else {
            // A packet out of protocol: Apache closes the connection and looks again.
            Next::Looking
        }
    }

    fn on_leader_info(&mut self, sh: &mut Shared, zxid: Zxid) -> bool {
        let epoch = Epoch(zxid.epoch());
        if zxid.counter() != 0 || epoch < sh.accepted_epoch {
            // "Leaders epoch is less than accepted epoch".
            return false;
        }
        let current = if epoch > sh.accepted_epoch {
            let current = sh.current_epoch.0 as i32;
            sh.save_accepted_epoch(epoch);
            current
        } else {
            ACKEPOCH_ALREADY_ACCEPTED
        };
        sh.send(
            self.leader,
            QuorumMessage::AckEpoch {
                zxid: sh.history.last_zxid(),
                current_epoch: current,
            },
        );
        self.epoch = Some(epoch);
        self.acked_through = epoch.start_zxid();
        self.phase = Phase::AwaitSyncMode;
        true
    }

    fn on_trunc(&mut self, sh: &mut Shared, zxid: Zxid) -> bool {
        if !sh.history.has_point(zxid) {
            // Apache exits: the log cannot be cut there.
            return false;
        }
        // `History::truncate` asserts that nothing committed is cut: a leader asking for that
        // has lost committed transactions, a bug to stop at.
        sh.out.push(Output::TruncateLog { zxid });
        sh.history.truncate(zxid);
        self.sync_target = zxid;
        self.phase = Phase::Syncing;
        true
    }

    fn on_proposal(
        &mut self,
        sh: &mut Shared,
        zxid: Zxid,
        txn: std::sync::Arc<zk_proto::quorum::TxnLogEntry>,
    ) -> bool {
        let in_sync = self.phase == Phase::Syncing;
        if (self.observer && !in_sync) || txn.zxid() != zxid || zxid <= sh.history.last_zxid() {
            return false;
        }
        if zxid.epoch() > sh.accepted_epoch.0 {
            return false;
        }
        sh.append(txn);
        true
    }

    fn on_commit(&mut self, sh: &mut Shared, zxid: Zxid) -> bool {
        if zxid > sh.history.last_zxid() {
            // Committing what we never got.
            return false;
        }
        sh.commit_through(zxid);
        true
    }

    fn on_inform(
        &mut self,
        sh: &mut Shared,
        zxid: Zxid,
        txn: std::sync::Arc<zk_proto::quorum::TxnLogEntry>,
    ) -> bool {
        if !self.observer || txn.zxid() != zxid || zxid <= sh.history.last_zxid() {
            return false;
        }
        sh.append(txn);
        if self.phase == Phase::Broadcast {
            sh.commit_through(zxid);
        } else {
            self.commit_seen = zxid;
        }
        true
    }

    fn on_new_leader(&mut self, sh: &mut Shared, zxid: Zxid) -> bool {
        if Some(zxid) != self.epoch.map(Epoch::start_zxid) {
            return false;
        }
        self.phase = Phase::AwaitUpToDate;
        self.newleader_pending = true;
        self.try_ack_newleader(sh);
        true
    }

    /// Once everything the sync gave us is durable: `currentEpoch`, then ACK of NEWLEADER.
    fn try_ack_newleader(&mut self, sh: &mut Shared) {
        if !self.newleader_pending || !sh.history.all_persisted() {
            return;
        }
        let epoch = self.epoch.expect("epoch");
        sh.save_current_epoch(epoch);
        sh.send(
            self.leader,
            QuorumMessage::Ack {
                zxid: epoch.start_zxid(),
            },
        );
        self.newleader_pending = false;
        self.ack_logged(sh);
    }

    fn on_up_to_date(&mut self, sh: &mut Shared) {
        let epoch = self.epoch.expect("epoch");
        sh.commit_through(self.sync_target.max(self.commit_seen));
        sh.send(
            self.leader,
            QuorumMessage::Ack {
                zxid: epoch.start_zxid(),
            },
        );
        self.phase = Phase::Broadcast;
        // ZOOKEEPER-1732: report the leader with its new epoch to latecomers.
        sh.current_vote.peer_epoch = epoch.0 as i64;
        let rs = RoleState {
            zab_state: ZabState::Broadcast,
            epoch: Some(epoch),
            ..sh.role_state
        };
        sh.set_state(rs);
    }

    /// Followers acknowledge, in order, every logged proposal of the leader's epoch, once
    /// NEWLEADER has been acknowledged.
    fn ack_logged(&mut self, sh: &mut Shared) {
        if self.observer || self.newleader_pending || self.phase < Phase::AwaitUpToDate {
            return;
        }
        let epoch = self.epoch.expect("epoch");
        let persisted = sh.history.persisted();
        let to_ack: Vec<Zxid> = sh
            .history
            .entries_after(self.acked_through)
            .map(|e| e.zxid())
            .take_while(|z| *z <= persisted)
            .filter(|z| z.epoch() == epoch.0)
            .collect();
        for zxid in to_ack {
            sh.send(self.leader, QuorumMessage::Ack { zxid });
            self.acked_through = zxid;
        }
    }

    pub fn check_invariants(&self, sh: &Shared) {
        if self.phase > Phase::AwaitLeaderInfo {
            let epoch = self.epoch.expect("epoch after LEADERINFO");
            assert!(epoch <= sh.accepted_epoch);
        }
        if self.phase == Phase::Broadcast {
            assert_eq!(
                Some(sh.current_epoch),
                self.epoch,
                "serving without currentEpoch"
            );
            assert!(!self.newleader_pending);
        }
        if self.observer {
            assert!(
                self.acked_through.counter() == 0,
                "an observer acknowledged proposals"
            );
        }
    }
}
