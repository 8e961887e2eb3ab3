//! The client's record of the watches it holds on the server, kept so that they can be set again
//! (setWatches / setWatches2) after a reconnect. Paths are server paths (chroot included).
//!
//! One-shot watches leave the record when their event arrives, following the Java client's
//! `ZKWatchManager.materialize`; persistent ones stay until removed.

use std::collections::BTreeSet;

use zk_proto::ops::{event_type, watcher_type};
use zk_proto::proto::{SetWatches, SetWatches2};

/// Which table a watch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// Set by getData, or by exists on a node that exists.
    Data,
    /// Set by exists on a node that does not exist.
    Exist,
    /// Set by getChildren.
    Child,
    /// addWatch PERSISTENT.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE.
    PersistentRecursive,
}

/// Every watch this session holds, by kind.
#[derive(Debug, Default, Clone)]
pub struct WatchSet {
    pub data: BTreeSet<String>,
    pub exist: BTreeSet<String>,
    pub child: BTreeSet<String>,
    pub persistent: BTreeSet<String>,
    pub persistent_recursive: BTreeSet<String>,
}

/// The Java client batches setWatches so that one request stays far below jute.maxbuffer.
const SET_WATCHES_BATCH_CHARS_MAX: usize = 128 * 1024;

impl WatchSet {
    pub fn add(&mut self, kind: WatchKind, path: &str) {
        self.table(kind).insert(path.to_string());
    }

    fn table(&mut self, kind: WatchKind) -> &mut BTreeSet<String> {
        match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::PersistentRecursive => &mut self.persistent_recursive,
        }
    }

    /// Drops the one-shot watches an event of `event` on `path` has consumed.
    pub fn on_event(&mut self, event: i32, path: &str) {
        match event {
            event_type::NODE_CREATED | event_type::NODE_DATA_CHANGED => {
                self.data.remove(path);
                self.exist.remove(path);
            }
            event_type::NODE_CHILDREN_CHANGED => {
                self.child.remove(path);
            }
            event_type::NODE_DELETED => {
                self.data.remove(path);
                self.exist.remove(path);
                self.child.remove(path);
            }
            _ => {}
        }
    }

    /// Forgets the watches removeWatches removed on the server.
    pub fn on_removed(&mut self, path: &str, kind: i32) {
        let data = kind == watcher_type::DATA || kind == watcher_type::ANY;
        let child = kind == watcher_type::CHILDREN || kind == watcher_type::ANY;
        if data {
            self.data.remove(path);
            self.exist.remove(path);
        }
        if child {
            self.child.remove(path);
        }
        if kind == watcher_type::ANY || kind == watcher_type::PERSISTENT {
            self.persistent.remove(path);
        }
        if kind == watcher_type::ANY || kind == watcher_type::PERSISTENT_RECURSIVE {
            self.persistent_recursive.remove(path);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.persistent_recursive.is_empty()
    }

    /// Every (kind, path) pair, for display.
    pub fn entries(&self) -> Vec<(WatchKind, String)> {
        let tables = [
            (WatchKind::Data, &self.data),
            (WatchKind::Exist, &self.exist),
            (WatchKind::Child, &self.child),
            (WatchKind::Persistent, &self.persistent),
            (WatchKind::PersistentRecursive, &self.persistent_recursive),
        ];
        tables
            .iter()
            .flat_map(|(k, t)| t.iter().map(move |p| (*k, p.clone())))
            .collect()
    }

    /// The setWatches2 requests that re-register everything, in batches.
    pub fn set_watches2(&self, relative_zxid: i64) -> Vec<SetWatches2> {
        let mut out = Vec::new();
        let mut cur = SetWatches2 {
            relative_zxid,
            ..Default::default()
        };
        let mut chars = 0;
        for (kind, path) in self.entries() {
            let list = match kind {
                WatchKind::Data => &mut cur.data_watches,
                WatchKind::Exist => &mut cur.exist_watches,
                WatchKind::Child => &mut cur.child_watches,
                WatchKind::Persistent => &mut cur.persistent_watches,
                WatchKind::PersistentRecursive => &mut cur.persistent_recursive_watches,
            };
            chars += path.len();
            list.push(path);
            if chars >= SET_WATCHES_BATCH_CHARS_MAX {
                out.push(std::mem::take(&mut cur));
                cur.relative_zxid = relative_zxid;
                chars = 0;
            }
        }
        if chars > 0 {
            out.push(cur);
        }
        out
    }

    /// True when re-registration needs opcode 105 (setWatches2); pre-3.6 servers only know 101.
    pub fn needs_v2(&self) -> bool {
        !self.persistent.is_empty() || !self.persistent_recursive.is_empty()
    }
}

/// The old form, for servers before 3.6 when no persistent watch is held.
pub fn downgrade(w: SetWatches2) -> SetWatches {
    SetWatches {
        relative_zxid: w.relative_zxid,
        data_watches: w.data_watches,
        exist_watches: w.exist_watches,
        child_watches: w.child_watches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_are_consumed_persistent_ones_stay() {
        let mut w = WatchSet::default();
        w.add(WatchKind::Data, "/a");
        w.add(WatchKind::Child, "/a");
        w.add(WatchKind::PersistentRecursive, "/a");
        w.on_event(event_type::NODE_DATA_CHANGED, "/a");
        assert!(w.data.is_empty());
        assert!(w.child.contains("/a"));
        w.on_event(event_type::NODE_DELETED, "/a");
        assert!(w.child.is_empty());
        assert!(w.persistent_recursive.contains("/a"));
        assert!(w.needs_v2());
    }

    #[test]
    fn set_watches2_batches_by_path_characters() {
        let mut w = WatchSet::default();
        let long = format!("/{}", "x".repeat(70 * 1024));
        w.add(WatchKind::Data, &format!("{long}1"));
        w.add(WatchKind::Data, &format!("{long}2"));
        w.add(WatchKind::Persistent, "/p");
        let batches = w.set_watches2(7);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].data_watches.len(), 2);
        assert_eq!(batches[1].persistent_watches, ["/p"]);
        assert!(batches.iter().all(|b| b.relative_zxid == 7));
    }
}
