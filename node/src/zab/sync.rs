//! How the leader brings one learner's log to its own history (`LearnerHandler.syncFollower`):
//! DIFF, TRUNC or SNAP, decided from the learner's last logged zxid alone.
//!
//! The rule rests on a Zab property the simulator checks: two logs that hold the same zxid hold
//! the same transaction there and agree on everything before it, and within one epoch a log's
//! zxids are contiguous. So:
//! - the learner's last zxid is a point of our history → DIFF: send what follows it;
//! - it is not, but the last point of our history below it is in the same epoch → the learner
//!   has that point and extra proposals after it that were never committed → TRUNC to it, then
//!   send what follows;
//! - otherwise (it is older than our in-memory window, or the divergence crosses an epoch
//!   boundary where we cannot tell where it starts) → SNAP.

use zk_proto::Zxid;

use super::history::History;

/// How to start a learner's synchronization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The learner's log is a prefix of ours.
    Diff,
    /// The learner must drop everything above this zxid first.
    Trunc(Zxid),
    /// The learner must replace its state with our state machine's snapshot (at our committed
    /// zxid).
    Snap,
}

/// A sync decision: the mode, and the zxid after which our entries are to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPlan {
    pub mode: SyncMode,
    pub send_after: Zxid,
}

impl SyncPlan {
    /// Decides how to sync a learner whose last logged zxid is `peer_last`.
    pub fn new(history: &History, peer_last: Zxid) -> SyncPlan {
        let last = history.last_zxid();
        let diff = SyncPlan {
            mode: SyncMode::Diff,
            send_after: peer_last,
        };
        if peer_last == last {
            return diff;
        }
        // A learner with an empty database (a new or wiped server) gets the committed tree, as
        // from Apache's leader (its committed log never starts at zxid 0): one snapshot is
        // cheaper than replaying the history, and it leaves a snapshot on the learner's disk.
        if peer_last == Zxid(0) && history.committed() > Zxid(0) {
            return SyncPlan {
                mode: SyncMode::Snap,
                send_after: history.committed(),
            };
        }
        if history.has_point(peer_last) {
            return diff;
        }
        // Apache learners report `epoch << 32` after syncing at an epoch start, a zxid no
        // transaction has; everything of ours after it is what they lack.
        if peer_last.counter() == 0 && peer_last > history.base() && peer_last <= last {
            return diff;
        }
        match history.floor_point(peer_last) {
            Some(point) if point.epoch() == peer_last.epoch() => SyncPlan {
                mode: SyncMode::Trunc(point),
                send_after: point,
            },
            _ => SyncPlan {
                mode: SyncMode::Snap,
                send_after: history.committed(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use zk_proto::quorum::TxnLogEntry;
    use zk_proto::txn::{ErrorTxn, Txn, TxnHeader};

    fn entry(epoch: u32, counter: u32) -> Arc<TxnLogEntry> {
        let zxid = Zxid::new(epoch, counter);
        Arc::new(TxnLogEntry {
            hdr: TxnHeader {
                zxid: zxid.0,
                txn_type: -1,
                ..Default::default()
            },
            txn: Txn::Error(ErrorTxn { err: 0 }),
            digest: None,
        })
    }

    /// Leader history: base 1:2 (older entries trimmed), then 1:3, 1:4, 2:1, 2:2, committed
    /// through 2:1.
    fn leader() -> History {
        History::new(
            Zxid::new(1, 2),
            vec![entry(1, 3), entry(1, 4), entry(2, 1), entry(2, 2)],
            Zxid::new(2, 1),
            10,
        )
    }

    #[test]
    fn learner_on_our_history_gets_a_diff() {
        let h = leader();
        for p in [Zxid::new(1, 2), Zxid::new(1, 4), Zxid::new(2, 2)] {
            assert_eq!(
                SyncPlan::new(&h, p),
                SyncPlan {
                    mode: SyncMode::Diff,
                    send_after: p
                }
            );
        }
    }

    #[test]
    fn learner_with_extra_proposals_of_an_epoch_we_have_is_truncated() {
        let h = leader();
        // It went on to 1:7 in epoch 1 while we moved to epoch 2 after 1:4.
        assert_eq!(
            SyncPlan::new(&h, Zxid::new(1, 7)).mode,
            SyncMode::Trunc(Zxid::new(1, 4))
        );
        // It has 2:3, which we never logged.
        assert_eq!(
            SyncPlan::new(&h, Zxid::new(2, 3)).mode,
            SyncMode::Trunc(Zxid::new(2, 2))
        );
    }

    #[test]
    fn learner_behind_our_window_or_diverged_across_epochs_gets_a_snapshot() {
        let h = leader();
        assert_eq!(SyncPlan::new(&h, Zxid::new(1, 1)).mode, SyncMode::Snap);
        assert_eq!(SyncPlan::new(&h, Zxid(0)).mode, SyncMode::Snap);
        // Epoch 3 proposals we never saw: where its log left ours is unknown.
        assert_eq!(SyncPlan::new(&h, Zxid::new(3, 1)).mode, SyncMode::Snap);
    }
}
