//! Liveness: once the network heals (no partitions, no lost messages, connections no longer
//! reset; delays, duplicates and reordering go on) and every server is up (`heal_at`; some runs leave a
//! minority of voters down), a leader serves within a bound, writes are acknowledged again,
//! and when writes stop every server that is up catches up: all serve under the same leader
//! with its committed history applied.

use zk_node::zab::{PeerState, ServerId, ZabState};

/// How long after healing a serving leader must exist (time units): a few election rounds at
/// the largest retransmission interval, plus discovery and sync within `initLimit`.
pub const LEADER_BOUND: u64 = 400;

#[derive(Debug, Default)]
pub struct Liveness {
    pub healed_at: Option<u64>,
    /// When a leader first served after healing.
    pub leader_serving_at: Option<u64>,
    /// Writes acknowledged after healing.
    pub acked_after_heal: usize,
}

/// One server as the final check sees it.
#[derive(Debug, Clone)]
pub struct FinalView {
    pub id: ServerId,
    pub up: bool,
    /// Left down on purpose at the heal (a minority of voters at most).
    pub stays_down: bool,
    pub state: PeerState,
    pub zab_state: ZabState,
    pub leader: Option<ServerId>,
    pub applied: usize,
}

impl Liveness {
    pub fn on_leader_serving(&mut self, now: u64) {
        if self.healed_at.is_some() && self.leader_serving_at.is_none() {
            self.leader_serving_at = Some(now);
        }
    }

    /// Time from the heal to a serving leader (0 before both happened).
    pub fn time_to_leader(&self) -> u64 {
        match (self.healed_at, self.leader_serving_at) {
            (Some(h), Some(l)) => l - h,
            _ => 0,
        }
    }

    pub fn on_ack(&mut self) {
        if self.healed_at.is_some() {
            self.acked_after_heal += 1;
        }
    }

    /// Called at the end of the run.
    pub fn check_final(&self, servers: &[FinalView]) {
        let healed = self.healed_at.expect("the run heals");
        let serving = self.leader_serving_at.unwrap_or_else(|| {
            panic!("no leader served after the heal at {healed}; servers: {servers:?}")
        });
        assert!(
            serving - healed <= LEADER_BOUND,
            "a leader served only {} after the heal (bound {LEADER_BOUND})",
            serving - healed
        );
        assert!(
            self.acked_after_heal > 0,
            "no write acknowledged after the heal"
        );
        let leaders: Vec<&FinalView> = servers
            .iter()
            .filter(|s| s.state == PeerState::Leading && s.zab_state == ZabState::Broadcast)
            .collect();
        assert_eq!(
            leaders.len(),
            1,
            "not exactly one serving leader at the end: {servers:?}"
        );
        let leader = leaders[0];
        for s in servers.iter().filter(|s| !s.stays_down) {
            assert!(s.up, "{} is down at the end", s.id);
            assert_eq!(
                s.zab_state,
                ZabState::Broadcast,
                "{} is not serving at the end: {servers:?}",
                s.id
            );
            assert_eq!(
                s.leader,
                Some(leader.id),
                "{} follows another leader: {servers:?}",
                s.id
            );
            assert_eq!(
                s.applied, leader.applied,
                "{} has not caught up with the leader: {servers:?}",
                s.id
            );
        }
    }
}
