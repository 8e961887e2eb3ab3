//! The properties checked after every step of a run, one per file:
//! - [`one_leader_per_epoch`]: at most one server establishes each epoch, and everyone who
//!   serves in an epoch follows that server.
//! - [`committed_durable_on_quorum`]: whatever any server applies is on the disks of a quorum.
//! - [`committed_prefixes_agree`]: every server applies a prefix of one global committed
//!   history; no two servers ever commit different transactions at the same zxid.
//! - [`acknowledged_writes_survive`]: a write acknowledged to a client is durable on a quorum
//!   when acknowledged, and every later leader's history holds it.
//! - [`liveness`]: once the network heals and everyone is up, a leader emerges within a bound
//!   and every server catches up with it.

pub mod acknowledged_writes_survive;
pub mod committed_durable_on_quorum;
pub mod committed_prefixes_agree;
pub mod liveness;
pub mod one_leader_per_epoch;

pub use acknowledged_writes_survive::AcknowledgedWritesSurvive;
pub use committed_durable_on_quorum::CommittedDurableOnQuorum;
pub use committed_prefixes_agree::CommittedPrefixesAgree;
pub use liveness::Liveness;
pub use one_leader_per_epoch::OneLeaderPerEpoch;

/// All the checkers of one run.
#[derive(Debug, Default)]
pub struct Checker {
    pub leaders: OneLeaderPerEpoch,
    pub history: CommittedPrefixesAgree,
    pub durable: CommittedDurableOnQuorum,
    pub acked: AcknowledgedWritesSurvive,
    pub liveness: Liveness,
}
