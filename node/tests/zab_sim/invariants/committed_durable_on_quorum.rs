//! Committed means durable on a quorum: whenever any server applies an entry, a quorum of
//! voters holds it on disk (in its log, or under its snapshot).
//!
//! This is the lemma the other safety properties rest on, checked directly: an entry applied
//! before a quorum logged it could vanish with the next leader even if, in this run, no leader
//! happened to lose it.

use zk_node::zab::{ServerId, Zxid};

#[derive(Debug, Default)]
pub struct CommittedDurableOnQuorum {
    pub checked: u64,
}

impl CommittedDurableOnQuorum {
    pub fn on_apply(&mut self, s: ServerId, zxid: Zxid, durable_on: usize, quorum: usize) {
        self.checked += 1;
        assert!(
            durable_on >= quorum,
            "{s} applied {zxid}, durable on only {durable_on} voters (quorum {quorum})"
        );
    }
}
