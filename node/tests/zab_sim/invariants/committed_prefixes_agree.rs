//! Committed prefixes agree: one global committed history, of which every server's applied
//! state is a prefix at every moment.
//!
//! Each server's state machine is tracked as (entries applied, last zxid). Applying an entry at
//! position `p` must match the global history's entry at `p`, or extend it by one. A snapshot
//! installed from the leader, or loaded at restart, must be a prefix of it too. So no two
//! servers ever apply different transactions at the same zxid, none skips one, and zxids only
//! grow along the history.

use std::sync::Arc;

use zk_node::zab::{ServerId, TxnLogEntry, Zxid};

#[derive(Debug, Default)]
pub struct CommittedPrefixesAgree {
    global: Vec<Arc<TxnLogEntry>>,
}

impl CommittedPrefixesAgree {
    /// Server `s` applies `entry` as its entry number `pos` (0-based).
    pub fn on_apply(&mut self, s: ServerId, pos: usize, entry: &Arc<TxnLogEntry>) {
        if let Some(known) = self.global.get(pos) {
            assert!(
                **known == **entry,
                "{s} applied {} at position {pos}, where the committed history has {}",
                entry.zxid(),
                known.zxid()
            );
            return;
        }
        assert_eq!(
            pos,
            self.global.len(),
            "{s} applied position {pos} past the history's end"
        );
        if let Some(last) = self.global.last() {
            assert!(
                entry.zxid() > last.zxid(),
                "{s} committed {} after {}",
                entry.zxid(),
                last.zxid()
            );
        }
        self.global.push(entry.clone());
    }

    /// A state of `len` entries ending at `zxid` must be a prefix of the history.
    pub fn check_prefix(&self, s: ServerId, len: usize, zxid: Zxid) {
        let expected = if len == 0 {
            Zxid(0)
        } else {
            self.global
                .get(len - 1)
                .unwrap_or_else(|| {
                    panic!(
                        "{s} holds {len} entries, the history only {}",
                        self.global.len()
                    )
                })
                .zxid()
        };
        assert_eq!(
            zxid, expected,
            "{s}'s state of {len} entries ends at {zxid}, not {expected}"
        );
    }
}
