//! The watch index: which connection watches which path, and in which mode.
//!
//! Two tables, as in Apache's `DataTree`: data watches (set by exists/getData) and child watches
//! (set by getChildren). Persistent and persistent-recursive watches sit in both.
//!
//! One deliberate difference from 3.8.0: a connection may hold a standard watch *and* a
//! persistent one on the same path. 3.8.0 keeps one mode per (connection, path), so a later
//! getData(watch) silently turns a persistent watch into a one-shot one (ZOOKEEPER-4466); 3.9
//! fixed that, and we implement the fixed behaviour.

use std::collections::{BTreeMap, BTreeSet};
use zk_proto::ops::event_type;

/// A client connection, as the server numbers them.
pub type ConnId = u64;

/// How a watch was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One-shot: removed when it fires.
    Standard,
    /// addWatch mode 0: this path only, never removed by firing.
    Persistent,
    /// addWatch mode 1: this path and every descendant; never NodeChildrenChanged.
    Recursive,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Modes {
    standard: bool,
    persistent: bool,
    recursive: bool,
}

impl Modes {
    fn is_empty(self) -> bool {
        !(self.standard || self.persistent || self.recursive)
    }
    fn set(&mut self, mode: Mode, on: bool) {
        match mode {
            Mode::Standard => self.standard = on,
            Mode::Persistent => self.persistent = on,
            Mode::Recursive => self.recursive = on,
        }
    }
    fn has(self, mode: Mode) -> bool {
        match mode {
            Mode::Standard => self.standard,
            Mode::Persistent => self.persistent,
            Mode::Recursive => self.recursive,
        }
    }
}

/// One table: path → connection → modes, plus the reverse index for cleanup.
#[derive(Debug, Default)]
pub struct Table {
    by_path: BTreeMap<String, BTreeMap<ConnId, Modes>>,
    by_conn: BTreeMap<ConnId, BTreeSet<String>>,
    /// Number of recursive registrations; when zero, triggers skip the ancestor walk.
    recursive_count: usize,
}

impl Table {
    pub fn add(&mut self, path: &str, conn: ConnId, mode: Mode) {
        let modes = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(conn)
            .or_default();
        if mode == Mode::Recursive && !modes.recursive {
            self.recursive_count += 1;
        }
        modes.set(mode, true);
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    /// Removes every mode `conn` has on `path`. True if there was one.
    pub fn remove(&mut self, path: &str, conn: ConnId) -> bool {
        let Some(conns) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(modes) = conns.remove(&conn) else {
            return false;
        };
        if modes.recursive {
            self.recursive_count -= 1;
        }
        if conns.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        true
    }

    /// Removes one mode. True if it was there.
    pub fn remove_mode(&mut self, path: &str, conn: ConnId, mode: Mode) -> bool {
        let Some(modes) = self.by_path.get_mut(path).and_then(|c| c.get_mut(&conn)) else {
            return false;
        };
        if !modes.has(mode) {
            return false;
        }
        modes.set(mode, false);
        if mode == Mode::Recursive {
            self.recursive_count -= 1;
        }
        if modes.is_empty() {
            self.remove(path, conn);
        }
        true
    }

    pub fn contains(&self, path: &str, conn: ConnId) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|c| c.contains_key(&conn))
    }

    /// True if any connection watches `path` in this table.
    pub fn has_path(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    pub fn contains_mode(&self, path: &str, conn: ConnId, mode: Mode) -> bool {
        self.by_path
            .get(path)
            .and_then(|c| c.get(&conn))
            .is_some_and(|m| m.has(mode))
    }

    pub fn remove_conn(&mut self, conn: ConnId) {
        if let Some(paths) = self.by_conn.remove(&conn) {
            for p in paths {
                if let Some(conns) = self.by_path.get_mut(&p) {
                    if let Some(m) = conns.remove(&conn) {
                        if m.recursive {
                            self.recursive_count -= 1;
                        }
                    }
                    if conns.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    /// Fires the watches an event of `etype` on `path` triggers and returns the connections to
    /// notify (each once), minus `suppress`. Standard watches at `path` are consumed.
    pub fn trigger(
        &mut self,
        path: &str,
        etype: i32,
        suppress: &BTreeSet<ConnId>,
    ) -> BTreeSet<ConnId> {
        let mut out = BTreeSet::new();
        let fires_recursive = etype != event_type::NODE_CHILDREN_CHANGED;
        if let Some(conns) = self.by_path.get_mut(path) {
            let mut consumed = Vec::new();
            for (conn, modes) in conns.iter_mut() {
                if modes.persistent || (modes.recursive && fires_recursive) {
                    out.insert(*conn);
                }
                if modes.standard {
                    out.insert(*conn);
                    modes.standard = false;
                    if modes.is_empty() {
                        consumed.push(*conn);
                    }
                }
            }
            for conn in consumed {
                self.remove(path, conn);
            }
        }
        if self.recursive_count > 0 && fires_recursive {
            let mut p = path;
            while let Some(parent) = super::path::parent(p) {
                if parent == p {
                    break;
                }
                if let Some(conns) = self.by_path.get(parent) {
                    out.extend(conns.iter().filter(|(_, m)| m.recursive).map(|(c, _)| *c));
                }
                p = parent;
            }
        }
        out.retain(|c| !suppress.contains(c));
        out
    }

    /// Number of (path, connection) registrations.
    pub fn count(&self) -> usize {
        self.by_path.values().map(|c| c.len()).sum()
    }

    pub fn paths(&self) -> usize {
        self.by_path.len()
    }

    pub fn by_conn(&self) -> &BTreeMap<ConnId, BTreeSet<String>> {
        &self.by_conn
    }

    pub fn by_path(&self) -> impl Iterator<Item = (&String, Vec<ConnId>)> {
        self.by_path
            .iter()
            .map(|(p, c)| (p, c.keys().copied().collect()))
    }
}

/// Both tables.
#[derive(Debug, Default)]
pub struct WatchManager {
    pub data: Table,
    pub child: Table,
}

impl WatchManager {
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        let mode = if recursive {
            Mode::Recursive
        } else {
            Mode::Persistent
        };
        self.data.add(path, conn, mode);
        self.child.add(path, conn, mode);
    }

    /// Total registrations (as `wchs` counts them).
    pub fn count(&self) -> usize {
        self.data.count() + self.child.count()
    }
}
