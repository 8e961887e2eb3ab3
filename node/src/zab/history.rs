//! The server's view of its own transaction log: which entries it has logged, which of them
//! are durable, which are committed.
//!
//! Only a window is held in memory: every entry not yet committed, plus the last
//! `commit_log_count` committed ones (Apache's `committedLog`), so that a leader can bring a
//! learner that is a little behind up to date with a DIFF. Everything at or below `base` is
//! committed and lives only in the state machine's snapshot and the on-disk log.

use std::collections::VecDeque;
use std::sync::Arc;

use zk_proto::quorum::TxnLogEntry;
use zk_proto::Zxid;

/// The in-memory log window. Owned by [`super::Zab`] for the life of the process; rebuilt from
/// [`super::DurableState`] on restart.
#[derive(Debug, Clone)]
pub struct History {
    /// The zxid just before the first entry held (a snapshot's zxid, the last trimmed entry, or
    /// 0 for an empty history). Committed by construction.
    base: Zxid,
    /// Logged entries after `base`, zxids strictly increasing.
    entries: VecDeque<Arc<TxnLogEntry>>,
    /// The highest committed zxid this server knows of and has handed to the state machine.
    committed: Zxid,
    /// Every entry at or below this zxid is durable on this server's disk.
    persisted: Zxid,
    /// How many committed entries to keep for DIFFs (Apache's `zookeeper.commitLogCount`).
    commit_log_count: usize,
}

impl History {
    /// A history whose durable log holds `entries` after `base`, committed up to `committed`.
    pub fn new(
        base: Zxid,
        entries: Vec<Arc<TxnLogEntry>>,
        committed: Zxid,
        commit_log_count: usize,
    ) -> History {
        let mut h = History {
            base,
            entries: entries.into(),
            committed,
            persisted: Zxid(0),
            commit_log_count,
        };
        h.persisted = h.last_zxid();
        h.check_invariants();
        h
    }

    pub fn base(&self) -> Zxid {
        self.base
    }

    /// The last logged zxid (or `base` when nothing is held).
    pub fn last_zxid(&self) -> Zxid {
        self.entries.back().map_or(self.base, |e| e.zxid())
    }

    pub fn committed(&self) -> Zxid {
        self.committed
    }

    pub fn persisted(&self) -> Zxid {
        self.persisted
    }

    /// Whether every logged entry is durable.
    pub fn all_persisted(&self) -> bool {
        self.persisted == self.last_zxid()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn index_of(&self, zxid: Zxid) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.zxid().cmp(&zxid))
    }

    /// The entry logged at `zxid`, if held.
    pub fn get(&self, zxid: Zxid) -> Option<&Arc<TxnLogEntry>> {
        self.index_of(zxid).ok().map(|i| &self.entries[i])
    }

    /// Whether the history passes through `zxid`: it is `base` or a held entry.
    pub fn has_point(&self, zxid: Zxid) -> bool {
        zxid == self.base || self.index_of(zxid).is_ok()
    }

    /// The largest point (entry or `base`) at or below `zxid`; `None` below `base`.
    pub fn floor_point(&self, zxid: Zxid) -> Option<Zxid> {
        if zxid < self.base {
            return None;
        }
        match self.index_of(zxid) {
            Ok(i) => Some(self.entries[i].zxid()),
            Err(0) => Some(self.base),
            Err(i) => Some(self.entries[i - 1].zxid()),
        }
    }

    /// Held entries with a zxid above `zxid`, in order.
    pub fn entries_after(&self, zxid: Zxid) -> impl Iterator<Item = &Arc<TxnLogEntry>> {
        let start = match self.index_of(zxid) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        self.entries.range(start..)
    }

    /// Logs a new entry (the caller asks the disk to append it).
    pub fn append(&mut self, entry: Arc<TxnLogEntry>) {
        assert!(
            entry.zxid() > self.last_zxid(),
            "append of {} after {}",
            entry.zxid(),
            self.last_zxid()
        );
        self.entries.push_back(entry);
    }

    /// Drops every entry above `zxid` (TRUNC). Truncation is a barrier: the driver makes all
    /// earlier appends durable first, so everything left is durable.
    pub fn truncate(&mut self, zxid: Zxid) {
        assert!(
            zxid >= self.committed,
            "truncation to {zxid} would drop committed entries (committed {})",
            self.committed
        );
        assert!(self.has_point(zxid), "truncation to {zxid}, not in the log");
        while self.entries.back().is_some_and(|e| e.zxid() > zxid) {
            self.entries.pop_back();
        }
        self.persisted = zxid;
    }

    /// Replaces everything with a snapshot at `zxid` (SNAP): committed, durable, nothing held.
    pub fn reset_to_snapshot(&mut self, zxid: Zxid) {
        self.entries.clear();
        self.base = zxid;
        self.committed = zxid;
        self.persisted = zxid;
    }

    /// Marks entries up to `zxid` as committed and returns them in order.
    pub fn commit_through(&mut self, zxid: Zxid) -> Vec<Arc<TxnLogEntry>> {
        let zxid = zxid.min(self.last_zxid());
        if zxid <= self.committed {
            return Vec::new();
        }
        let newly: Vec<_> = self
            .entries_after(self.committed)
            .take_while(|e| e.zxid() <= zxid)
            .cloned()
            .collect();
        self.committed = zxid;
        self.trim();
        newly
    }

    /// The disk reports everything appended up to `zxid` durable. A report for entries since
    /// truncated is capped at the log's end (a zxid is only ever given to one transaction).
    pub fn mark_persisted(&mut self, zxid: Zxid) {
        self.persisted = self.persisted.max(zxid.min(self.last_zxid()));
    }

    /// Drops committed entries beyond the DIFF window.
    fn trim(&mut self) {
        // Binary search: a linear count here made every commit O(window).
        let committed_held = match self.index_of(self.committed) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        let excess = committed_held.saturating_sub(self.commit_log_count);
        for _ in 0..excess {
            let e = self.entries.pop_front().expect("counted above");
            self.base = e.zxid();
        }
    }

    /// Asserts the structure: ordered entries above `base`, `base ≤ committed ≤ last`,
    /// `persisted ≤ last`, every entry's header carrying its own zxid.
    pub fn check_invariants(&self) {
        let mut prev = self.base;
        // The walk over every entry is O(window) and runs after every step: tests and debug
        // builds only. The O(1) checks below always run.
        let walk = if cfg!(debug_assertions) {
            &self.entries
        } else {
            &EMPTY
        };
        for e in walk {
            assert!(
                e.zxid() > prev,
                "history out of order: {} after {prev}",
                e.zxid()
            );
            assert!(
                e.zxid().counter() != 0,
                "entry at an epoch start {}",
                e.zxid()
            );
            prev = e.zxid();
        }
        assert!(self.base <= self.committed, "base above committed");
        assert!(
            self.committed <= self.last_zxid(),
            "committed {} beyond the log's end {}",
            self.committed,
            self.last_zxid()
        );
        // `persisted` may lag below `base`: a learner applies a commit the quorum acked before
        // its own disk caught up, and the window may trim past it meanwhile.
        assert!(
            self.persisted <= self.last_zxid(),
            "persisted beyond the log"
        );
    }
}

static EMPTY: VecDeque<Arc<TxnLogEntry>> = VecDeque::new();
