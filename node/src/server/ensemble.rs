//! The server side of an ensemble: what the core knows of its Zab role, for the four-letter
//! words, the AdminServer and the metrics (the driver itself lives in `server::peers` and
//! `server::core`).

use crate::zab::Status;

/// What the core reports about its place in the ensemble. `None` from
/// [`super::core::Core::ensemble_view`] means a standalone server.
#[derive(Debug, Clone)]
pub struct EnsembleView {
    /// This server's id (`server.N` / `my_id`).
    pub my_id: u64,
    /// The Zab core's status: role and phase, epochs, zxids, and on the leader every learner
    /// with its last acknowledged zxid.
    pub status: Status,
    /// Leader only: forwarded `sync`s waiting for their proposals to commit.
    pub pending_syncs: usize,
    /// Leader only: how many votes make a quorum.
    pub quorum_size: usize,
}
