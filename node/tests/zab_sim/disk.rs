//! A server's disk: what survives a crash (epoch files, the log, the last snapshot) and the
//! appends still in flight (lost by a crash). Group commit: one flush makes everything queued
//! durable and reports the last zxid.

use std::sync::Arc;

use zk_node::zab::{DurableState, Epoch, TxnLogEntry, Zxid};

/// A state-machine snapshot: the applied prefix of the committed history, by length and last
/// zxid (the history itself is the checker's global log, which the prefix must match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub len: usize,
    pub zxid: Zxid,
}

#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    pub snapshot: Snapshot,
    /// Durable log entries, in order.
    pub log: Vec<Arc<TxnLogEntry>>,
    /// Appended, not yet durable.
    pub pending: Vec<Arc<TxnLogEntry>>,
    /// An fsync in progress covers this many of the pending appends; the ones appended
    /// meanwhile wait for the next (group commit).
    pub in_flight: Option<usize>,
}

impl SimDisk {
    /// Makes everything pending durable (a barrier); returns the last zxid flushed.
    pub fn flush(&mut self) -> Option<Zxid> {
        let last = self.pending.last().map(|e| e.zxid());
        self.log.append(&mut self.pending);
        last
    }

    /// Starts an fsync of everything pending, unless one runs or nothing is pending.
    pub fn start_flush(&mut self) -> bool {
        if self.in_flight.is_some() || self.pending.is_empty() {
            return false;
        }
        self.in_flight = Some(self.pending.len());
        true
    }

    /// The fsync completes: what it covered is durable; returns the last zxid made durable.
    pub fn finish_flush(&mut self) -> Option<Zxid> {
        let n = self.in_flight.take()?.min(self.pending.len());
        let done: Vec<_> = self.pending.drain(..n).collect();
        let last = done.last().map(|e| e.zxid());
        self.log.extend(done);
        last
    }

    /// TRUNC: flush, then drop everything above `zxid`.
    pub fn truncate(&mut self, zxid: Zxid) {
        self.flush();
        self.log.retain(|e| e.zxid() <= zxid);
    }

    /// SNAP: the snapshot replaces the state; the log starts empty after it.
    pub fn install(&mut self, snap: Snapshot) {
        self.pending.clear();
        self.log.clear();
        self.snapshot = snap;
    }

    /// A crash loses what was not flushed.
    pub fn crash(&mut self) {
        self.pending.clear();
        self.in_flight = None;
    }

    /// What a restart reads back.
    pub fn durable_state(&self) -> DurableState {
        let base = self.snapshot.zxid;
        DurableState {
            accepted_epoch: self.accepted_epoch,
            current_epoch: self.current_epoch,
            log_base: base,
            log: self
                .log
                .iter()
                .filter(|e| e.zxid() > base)
                .cloned()
                .collect(),
            committed: base,
        }
    }

    /// Whether `entry` (a committed one) is durable here: in the log, or under the snapshot
    /// (a snapshot is a prefix of the committed history, so it holds every committed entry up
    /// to its zxid).
    pub fn holds(&self, entry: &TxnLogEntry) -> bool {
        let zxid = entry.zxid();
        zxid <= self.snapshot.zxid
            || self
                .log
                .binary_search_by(|e| e.zxid().cmp(&zxid))
                .is_ok_and(|i| *self.log[i] == *entry)
    }
}
