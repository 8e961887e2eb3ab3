//! Everything a seed decides about a run: the ensemble, the core's limits, fault rates, and
//! the schedule's length.

use zk_node::zab::{Ensemble, ServerId, ZabConfig};

use super::rng::Rng;

/// Time units per tick (each server ticks on its own, with jitter).
pub const TICK: u64 = 10;

#[derive(Debug, Clone)]
pub struct Params {
    pub voters: usize,
    pub observers: usize,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub ping_interval: u32,
    pub finalize_wait: u32,
    pub notification_interval_max: u32,
    pub commit_log_count: usize,
    /// Election messages: loss, duplication, long delay (reordering), per mille.
    pub election_loss: u64,
    pub election_dup: u64,
    pub long_delay: u64,
    /// Quorum connections: chance a packet resets its connection, per mille.
    pub conn_reset: u64,
    /// Chance of a crash right after an append, per mille.
    pub crash_point: u64,
    /// Chance of a crash right after an epoch file write or a truncation, per mille.
    pub crash_after_epoch: u64,
    /// Mean time between faults during the fault phase.
    pub fault_every: u64,
    /// Mean time between client writes.
    pub write_every: u64,
    /// Disk flush latency range, normal and slow.
    pub disk_latency: (u64, u64),
    pub slow_disk_latency: (u64, u64),
    /// End of the fault phase: the network heals, every server is up, faults stop.
    pub heal_at: u64,
    /// Voters left down at the heal (a minority).
    pub down_after_heal: usize,
    /// Writes stop here, so that everyone can catch up.
    pub writes_until: u64,
    /// End of the run; liveness is checked here.
    pub end_at: u64,
}

impl Params {
    pub fn from_seed(rng: &mut Rng) -> Params {
        let voters = if rng.chance(500) { 3 } else { 5 };
        let observers = if rng.chance(300) { 1 } else { 0 };
        let heal_at = rng.range(300, 900);
        Params {
            voters,
            observers,
            init_limit: 10,
            sync_limit: rng.range(4, 6) as u32,
            ping_interval: rng.range(1, 2) as u32,
            finalize_wait: rng.range(0, 1) as u32,
            notification_interval_max: rng.range(2, 8) as u32,
            commit_log_count: rng.range(2, 30) as usize,
            election_loss: rng.range(0, 200),
            election_dup: rng.range(0, 50),
            long_delay: rng.range(0, 100),
            conn_reset: rng.range(0, 5),
            crash_point: rng.range(0, 20),
            crash_after_epoch: rng.range(0, 150),
            fault_every: rng.range(40, 150),
            write_every: rng.range(8, 30),
            disk_latency: (1, rng.range(2, 8)),
            slow_disk_latency: (10, rng.range(20, 60)),
            heal_at,
            down_after_heal: if rng.chance(300) {
                rng.range(1, (voters as u64 - 1) / 2) as usize
            } else {
                0
            },
            writes_until: heal_at + 450,
            end_at: heal_at + 700,
        }
    }

    pub fn ensemble(&self) -> Ensemble {
        Ensemble::numbered(self.voters, self.observers)
    }

    pub fn servers(&self) -> usize {
        self.voters + self.observers
    }

    pub fn zab_config(&self, id: ServerId) -> ZabConfig {
        let mut c = ZabConfig::new(id, self.ensemble());
        c.init_limit = self.init_limit;
        c.sync_limit = self.sync_limit;
        c.ping_interval = self.ping_interval;
        c.finalize_wait = self.finalize_wait;
        c.notification_interval_min = 1;
        c.notification_interval_max = self.notification_interval_max;
        c.commit_log_count = self.commit_log_count;
        c
    }
}
