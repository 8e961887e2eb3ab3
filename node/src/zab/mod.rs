//! Zab, the consensus core, as a pure state machine: fast leader election, discovery,
//! synchronization and broadcast, compatible with Apache ZooKeeper 3.8's peer protocol
//! (`zk_proto::quorum`).
//!
//! Owns: the decisions of one server: whom to vote for, which epoch to establish, how to bring a
//! learner up to date (DIFF/TRUNC/SNAP), when a proposal is committed, when to give up a role.
//!
//! Never: opens a socket or a file, reads a clock, draws a random number, or iterates a map in
//! an order that is not the key order. Time comes in as [`Event::Tick`]; I/O goes out as
//! [`Output`]s the driver carries out and reports back on (see [`io`] for the contract: what is
//! asynchronous, what is a barrier, what ordering the quorum connections must keep).
//!
//! The caller's loop:
//! ```text
//! let mut zab = Zab::new(config, durable_state_from_disk);
//! loop {
//!     for out in zab.take_outputs() { carry_out(out) }   // in order
//!     match next_input() {                               // ticks, packets, log reports
//!         input => zab.step(input),
//!     }
//!     // a client write, on the leader: zab.propose(txn) → its zxid; the write is
//!     // acknowledged when Output::Commit for that zxid comes out
//! }
//! ```
//!
//! Files, one concern each: [`election`] (FLE), [`leader`] with [`learner_handler`] and
//! [`sync`] (the leader's discovery, synchronization and broadcast), [`learner`] (follower and
//! observer), [`quorum`] (membership and quorum arithmetic), [`history`] (the log window),
//! [`peer`] (the [`Zab`] type that ties them and checks invariants after every step).

pub mod election;
pub mod history;
pub mod io;
pub mod leader;
pub mod learner;
pub mod learner_handler;
pub mod peer;
pub mod quorum;
pub mod sync;

#[cfg(test)]
mod tests;

pub use io::{
    DurableState, Event, LearnerStatus, Output, ProposeError, RoleState, Status, ZabConfig,
    ZabState,
};
pub use peer::Zab;
pub use quorum::{Ensemble, LearnerType};
pub use zk_proto::quorum::{Epoch, PeerState, QuorumMessage, ServerId, TxnLogEntry};
pub use zk_proto::Zxid;
