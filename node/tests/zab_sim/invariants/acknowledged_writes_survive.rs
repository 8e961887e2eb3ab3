//! No acknowledged write is lost.
//!
//! A write is acknowledged when the leader that proposed it commits it. At that moment it must
//! be durable on a quorum of voters (in their logs or under their snapshots), and from then on
//! every leader that starts serving must hold it in its applied history (committed histories
//! agree, so holding the newest acknowledged write means holding all of them).

use zk_node::zab::{ServerId, Zxid};

#[derive(Debug, Default)]
pub struct AcknowledgedWritesSurvive {
    /// Position in the committed history of the newest acknowledged write.
    newest: Option<(usize, Zxid)>,
    pub count: usize,
}

impl AcknowledgedWritesSurvive {
    /// `durable_on` voters hold the write at `pos` durably; `quorum` are needed.
    pub fn on_ack(
        &mut self,
        leader: ServerId,
        zxid: Zxid,
        pos: usize,
        durable_on: usize,
        quorum: usize,
    ) {
        assert!(
            durable_on >= quorum,
            "{leader} acknowledged {zxid} durable on {durable_on} voters, fewer than a quorum of {quorum}"
        );
        self.count += 1;
        if self.newest.is_none_or(|(p, _)| pos > p) {
            self.newest = Some((pos, zxid));
        }
    }

    /// Leader `s` starts serving with `applied` entries in its state machine.
    pub fn on_leader_serving(&self, s: ServerId, applied: usize) {
        if let Some((pos, zxid)) = self.newest {
            assert!(
                applied > pos,
                "{s} leads with {applied} committed entries, losing acknowledged write {zxid} (entry {pos})"
            );
        }
    }
}
