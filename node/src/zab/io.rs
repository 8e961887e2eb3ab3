//! The core's contract with its driver: configuration, what goes in ([`Event`]), what comes out
//! ([`Output`]), and the durable state a restart starts from ([`DurableState`]).
//!
//! # Executing outputs
//! The driver takes the outputs of each step and carries them out **in order**:
//! - [`Output::Append`] is asynchronous: queue it to the log task (group commit) and report
//!   [`Event::Persisted`] with the highest zxid made durable. Nothing is acknowledged on the
//!   core's behalf before that report.
//! - [`Output::SaveAcceptedEpoch`] and [`Output::SaveCurrentEpoch`] are synchronous: write the
//!   file durably (temp file, fsync, rename) before carrying out the next output. The core
//!   only asks for `currentEpoch` once every logged entry is durable.
//! - [`Output::TruncateLog`] and [`Output::InstallSnapshot`] are **barriers**: the driver first
//!   makes every queued append durable (or drops it, for a snapshot), then truncates or
//!   installs durably, and only then carries out the next output. Afterwards the core treats
//!   everything left in the log as durable; no [`Event::Persisted`] for an append made before
//!   the barrier may be delivered after it.
//! - [`Output::Commit`] hands one committed entry to the state machine; commits come in zxid
//!   order. The state machine's state when the driver reaches a [`Output::Send`] of
//!   [`QuorumMessage::Snap`] is exactly the snapshot to stream behind that packet (its zxid is
//!   the last commit before it).
//! - [`Output::Send`] writes one packet on the quorum connection to `to`, in order per peer.
//!   A learner's PING reply comes out with `touches: Some(vec![])`: the driver fills in the
//!   sessions touched since the last one. REQUEST, REVALIDATE and SYNC packets are the server
//!   pipeline's, not the core's.
//! - [`Output::Connect`] opens the quorum connection to the leader; report [`Event::Connected`]
//!   or [`Event::Disconnected`]. [`Output::Disconnect`] closes one.
//! - Quorum connections behave like TCP: per connection, messages arrive in order, without
//!   duplicates, and a loss ends the connection. When a learner connects again while its old
//!   connection is still open, the driver closes the old one and reports
//!   [`Event::Disconnected`] before delivering anything from the new one; the end of a
//!   connection that has since been replaced is not reported. When the core leaves
//!   the leading role (see [`Output::State`]) every learner connection is closed; when it
//!   leaves following/observing, the connection to the leader is closed.
//! - Election notifications ([`Output::Notify`]) may be lost, duplicated or reordered; the core
//!   retransmits on its own.

use std::sync::Arc;

use zk_proto::quorum::{Epoch, Notification, PeerState, QuorumMessage, ServerId, TxnLogEntry};
use zk_proto::Zxid;

use super::quorum::Ensemble;

/// Static configuration. Time is in ticks of the driver's choosing (Apache's leader works in
/// half `tickTime`s; a driver may tick faster and scale the limits).
#[derive(Debug, Clone)]
pub struct ZabConfig {
    pub my_id: ServerId,
    pub ensemble: Ensemble,
    /// Discovery and synchronization budget (`initLimit`), in ticks.
    pub init_limit: u32,
    /// Broadcast budget (`syncLimit`): a learner or leader not heard from within this many
    /// ticks is gone.
    pub sync_limit: u32,
    /// The leader pings its learners every this many ticks (Apache: every half tick).
    pub ping_interval: u32,
    /// Ticks to wait for a better vote once a quorum agrees (`finalizeWait`, 200 ms in Apache).
    pub finalize_wait: u32,
    /// First and largest interval between notification retransmissions while looking
    /// (`minNotificationInterval` 200 ms, `maxNotificationInterval` 60 s in Apache).
    pub notification_interval_min: u32,
    pub notification_interval_max: u32,
    /// Committed entries kept in memory for DIFFs (`zookeeper.commitLogCount`, 500). A learner
    /// further behind gets a SNAP.
    pub commit_log_count: usize,
    /// The dynamic configuration text sent in notifications and NEWLEADER
    /// (`server.N=host:quorum:election:role;client` lines and `version=<hex>`).
    pub config_text: Vec<u8>,
    /// The configuration version learners report in `LearnerInfo`.
    pub config_version: i64,
}

impl ZabConfig {
    /// Apache's defaults for a driver that ticks every half `tickTime`, with `initLimit` 10 and
    /// `syncLimit` 5 (the sample `zoo.cfg`).
    pub fn new(my_id: ServerId, ensemble: Ensemble) -> ZabConfig {
        ZabConfig {
            my_id,
            ensemble,
            init_limit: 20,
            sync_limit: 10,
            ping_interval: 1,
            finalize_wait: 0,
            notification_interval_min: 1,
            notification_interval_max: 60,
            commit_log_count: 500,
            config_text: Vec::new(),
            config_version: 0,
        }
    }
}

/// What a restart starts from: the epoch files, and the log as read from disk. Everything in
/// it is durable.
#[derive(Debug, Clone, Default)]
pub struct DurableState {
    /// `version-2/acceptedEpoch`.
    pub accepted_epoch: Epoch,
    /// `version-2/currentEpoch`.
    pub current_epoch: Epoch,
    /// The zxid the entries below follow (the loaded snapshot's zxid, or any committed zxid at
    /// or after it when the driver keeps only a tail of the log in memory).
    pub log_base: Zxid,
    /// Logged entries after `log_base`, in order, contiguous with it.
    pub log: Vec<Arc<TxnLogEntry>>,
    /// How far the state machine has applied: the snapshot's zxid (Apache's practice of
    /// replaying the whole log at start is allowed only if the driver can reload on a
    /// [`Output::TruncateLog`] below it; the core then learns commit status from the leader).
    pub committed: Zxid,
}

/// An input to the core.
#[derive(Debug, Clone)]
pub enum Event {
    /// Time passes by one tick.
    Tick,
    /// An election notification arrived from `from` (on the election port).
    Notification { from: ServerId, n: Notification },
    /// The quorum connection this learner asked for is open.
    Connected { peer: ServerId },
    /// A quorum connection ended (closed, reset, or a connect attempt failed).
    Disconnected { peer: ServerId },
    /// A quorum packet arrived from `from`.
    Message { from: ServerId, msg: QuorumMessage },
    /// The log made every append up to `zxid` durable.
    Persisted { zxid: Zxid },
}

/// Apache's `ZabState` (reported by the `zabstate` admin command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZabState {
    Election,
    Discovery,
    Synchronization,
    Broadcast,
}

/// Where a server stands, as the core last announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleState {
    pub state: PeerState,
    pub zab_state: ZabState,
    /// The leader being followed or observed (or this server when leading).
    pub leader: Option<ServerId>,
    /// The epoch being established or served.
    pub epoch: Option<Epoch>,
}

impl RoleState {
    /// Whether this server may serve clients: leading or learning in the broadcast phase.
    pub fn serving(&self) -> bool {
        self.zab_state == ZabState::Broadcast
    }
}

/// A command from the core to its driver. See the module docs for the order of execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send an election notification.
    Notify { to: ServerId, n: Notification },
    /// Open the quorum connection to the leader.
    Connect { to: ServerId },
    /// Close the quorum connection to `to`.
    Disconnect { to: ServerId },
    /// Send a quorum packet to `to`.
    Send { to: ServerId, msg: QuorumMessage },
    /// Write `acceptedEpoch` (synchronously).
    SaveAcceptedEpoch(Epoch),
    /// Write `currentEpoch` (synchronously).
    SaveCurrentEpoch(Epoch),
    /// Append an entry to the log (asynchronous; report [`Event::Persisted`]).
    Append(Arc<TxnLogEntry>),
    /// Remove every log entry above `zxid` (barrier; TRUNC).
    TruncateLog { zxid: Zxid },
    /// Replace the state machine with the snapshot received behind the SNAP packet at `zxid`,
    /// persist it, and start the log empty after it (barrier).
    InstallSnapshot { zxid: Zxid },
    /// Apply this committed entry to the state machine (in zxid order).
    Commit(Arc<TxnLogEntry>),
    /// The server's role or phase changed.
    State(RoleState),
}

/// Why a proposal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("not the leader")]
    NotLeader,
    #[error("the leader is not serving yet")]
    NotServing,
    /// The 32-bit counter of the epoch ran out; the leader steps down to start a new epoch.
    #[error("zxid counter exhausted in this epoch")]
    ZxidExhausted,
}

/// One learner as the leader sees it (for `mntr` and the admin API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerStatus {
    pub sid: ServerId,
    pub observer: bool,
    /// Synced and acknowledged NEWLEADER.
    pub synced: bool,
    /// The highest zxid it acknowledged (followers only).
    pub last_acked: Option<Zxid>,
}

/// A snapshot of the core's state for metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub role: RoleState,
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    pub last_logged: Zxid,
    pub persisted: Zxid,
    pub committed: Zxid,
    /// Leader only: each connected learner.
    pub learners: Vec<LearnerStatus>,
    /// Leader only: proposals not yet committed.
    pub outstanding: usize,
}
