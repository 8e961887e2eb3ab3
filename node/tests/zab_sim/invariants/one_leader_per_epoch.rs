//! At most one leader per epoch.
//!
//! A server is the leader of epoch E once it has a quorum of ACKEPOCHs for E and writes
//! `currentEpoch = E` (synchronization phase). Two servers may both *propose* E in discovery
//! (each saw a quorum of FOLLOWERINFOs before anyone accepted E), but only one can gather the
//! ACKEPOCHs. A learner serving in epoch E must be following that leader.

use std::collections::BTreeMap;

use zk_node::zab::{Epoch, PeerState, RoleState, ServerId, ZabState};

#[derive(Debug, Default)]
pub struct OneLeaderPerEpoch {
    leaders: BTreeMap<Epoch, ServerId>,
}

impl OneLeaderPerEpoch {
    pub fn on_state(&mut self, s: ServerId, rs: &RoleState) {
        if rs.zab_state < ZabState::Synchronization {
            return;
        }
        let epoch = rs.epoch.expect("an established role has an epoch");
        match rs.state {
            PeerState::Leading => {
                let leader = *self.leaders.entry(epoch).or_insert(s);
                assert_eq!(leader, s, "two leaders of epoch {epoch}: {leader} and {s}");
            }
            PeerState::Following | PeerState::Observing => {
                let leader = rs.leader.expect("a learner has a leader");
                assert_eq!(
                    self.leaders.get(&epoch),
                    Some(&leader),
                    "{s} serves epoch {epoch} under {leader}, which did not establish it"
                );
            }
            PeerState::Looking => unreachable!("looking in an established phase"),
        }
    }

    pub fn epochs(&self) -> usize {
        self.leaders.len()
    }
}
