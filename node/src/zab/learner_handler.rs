//! The leader's record of one connected learner (Apache's `LearnerHandler`): where it is in
//! discovery and synchronization, what has been sent to it, what it acknowledged, and when it
//! was last heard from.

use std::collections::VecDeque;

use zk_proto::quorum::{Epoch, ServerId};
use zk_proto::Zxid;

use super::quorum::LearnerType;

/// Where one learner is, from its FOLLOWERINFO to serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HandlerState {
    /// FOLLOWERINFO/OBSERVERINFO received; the new epoch is not decided yet.
    Connected,
    /// LEADERINFO sent; waiting for ACKEPOCH.
    EpochSent,
    /// ACKEPOCH received; waiting for the leader to reach synchronization.
    EpochAcked,
    /// DIFF/TRUNC/SNAP, the history and NEWLEADER sent; waiting for the NEWLEADER ACK.
    /// From here on the learner receives every new proposal and commit.
    Syncing,
    /// NEWLEADER acknowledged; UPTODATE not sent yet (the leader is still establishing).
    Synced,
    /// UPTODATE sent: the learner serves.
    UpToDate,
}

/// One learner connection. Created by its FOLLOWERINFO, dropped when the connection ends.
#[derive(Debug, Clone)]
pub struct LearnerHandler {
    pub sid: ServerId,
    pub learner_type: LearnerType,
    pub state: HandlerState,
    /// The epoch it last accepted (FOLLOWERINFO).
    pub accepted_epoch: Epoch,
    /// Its last logged zxid (ACKEPOCH).
    pub peer_last: Zxid,
    /// The last proposal (or, for an observer, inform) queued to it.
    pub sent_through: Zxid,
    /// `sent_through` when NEWLEADER was queued: what its NEWLEADER ACK vouches for.
    pub synced_to: Zxid,
    /// Followers after their NEWLEADER ACK: the highest zxid they have logged.
    pub acked: Option<Zxid>,
    /// The tick of the last packet from it.
    pub last_heard: u64,
    /// Proposals sent after sync and not yet acknowledged, with the tick they were sent: the
    /// oldest must be acknowledged within `syncLimit` ticks. Bounded by what the leader
    /// proposes in `syncLimit` ticks, since the learner is dropped once the oldest is overdue.
    pub unacked: VecDeque<(Zxid, u64)>,
}

impl LearnerHandler {
    pub fn new(
        sid: ServerId,
        learner_type: LearnerType,
        accepted_epoch: Epoch,
        tick: u64,
    ) -> LearnerHandler {
        LearnerHandler {
            sid,
            learner_type,
            state: HandlerState::Connected,
            accepted_epoch,
            peer_last: Zxid(0),
            sent_through: Zxid(0),
            synced_to: Zxid(0),
            acked: None,
            last_heard: tick,
            unacked: VecDeque::new(),
        }
    }

    pub fn is_participant(&self) -> bool {
        self.learner_type == LearnerType::Participant
    }

    /// Whether new proposals and commits are queued to it.
    pub fn is_forwarding(&self) -> bool {
        self.state >= HandlerState::Syncing
    }

    /// Whether its NEWLEADER ACK arrived.
    pub fn is_synced(&self) -> bool {
        self.state >= HandlerState::Synced
    }

    /// Records an acknowledgement of proposals up to `zxid`.
    pub fn on_ack(&mut self, zxid: Zxid) {
        let acked = self.acked.get_or_insert(zxid);
        *acked = (*acked).max(zxid);
        while self.unacked.front().is_some_and(|(z, _)| *z <= zxid) {
            self.unacked.pop_front();
        }
    }

    /// Whether it is alive and keeping up at `tick` (Apache's `LearnerHandler.synced()` and its
    /// `SyncLimitCheck`).
    pub fn keeping_up(&self, tick: u64, sync_limit: u32) -> bool {
        let limit = sync_limit as u64;
        let heard = tick.saturating_sub(self.last_heard) <= limit;
        let acking = self
            .unacked
            .front()
            .is_none_or(|(_, sent)| tick.saturating_sub(*sent) <= limit);
        heard && acking
    }

    pub fn check_invariants(&self) {
        if let Some(a) = self.acked {
            assert!(self.is_participant(), "an observer with acks");
            assert!(
                a <= self.sent_through,
                "{} acked {a} beyond what was sent",
                self.sid
            );
        }
        if self.is_synced() && self.is_participant() {
            assert!(
                self.acked.is_some(),
                "synced follower {} without acks",
                self.sid
            );
        }
        assert!(self.synced_to <= self.sent_through || !self.is_forwarding());
        let mut prev = Zxid(i64::MIN);
        let unacked = if cfg!(debug_assertions) {
            &self.unacked
        } else {
            &Default::default()
        };
        for (z, _) in unacked {
            assert!(*z > prev, "unacked proposals out of order");
            prev = *z;
        }
    }
}
