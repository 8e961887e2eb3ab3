//! The checkpoint: everything a migration needs to continue after it was stopped or killed.
//! Written after every batch as JSON, atomically: a temporary file in the same directory,
//! fsync, rename over the old one, fsync the directory. A reader therefore sees either the
//! previous checkpoint or the new one, never a torn file.
//!
//! Also the lock that keeps two migrators off one checkpoint: `<checkpoint>.lock` holds the
//! pid of the process that owns it; a lock whose process is gone is taken over.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zk_proto::Acl;

use crate::commands::acl::{format_entry, parse_acl};

use super::MigrateError;

/// Format version of the checkpoint file.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nothing written yet.
    Planned,
    /// The breadth-first copy is under way.
    Copying,
    /// The copy is done; changes are being carried over.
    CatchingUp,
    /// Writers are fenced off the source; draining and verifying.
    Fenced,
    /// The destination is the new home; the source stays fenced.
    CutOver,
    /// The migration was undone.
    RolledBack,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Phase::Planned => "planned",
            Phase::Copying => "copying",
            Phase::CatchingUp => "catching up",
            Phase::Fenced => "fenced",
            Phase::CutOver => "cut over",
            Phase::RolledBack => "rolled back",
        };
        f.write_str(s)
    }
}

/// A parent whose children are still to be copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontierEntry {
    /// Source path.
    pub path: String,
    /// The final ACL, when the node was created open so its children could be created and
    /// gets this ACL once they are (text form, `scheme:id:perms,...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_acl: Option<String>,
}

/// The copy's cursor: breadth-first over parents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyCursor {
    /// Roots not yet copied (source paths).
    pub roots_left: Vec<String>,
    /// Parents whose children are still to copy, in breadth-first order.
    pub frontier: VecDeque<FrontierEntry>,
    /// The last child name of the head of the frontier already copied.
    pub after: Option<String>,
}

/// Counters of what the copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyStats {
    pub nodes: u64,
    pub bytes: u64,
    pub ephemerals_skipped: u64,
    pub overwritten: u64,
    pub conflicts_skipped: u64,
    /// Milliseconds spent copying, over every run.
    pub elapsed_ms: u64,
    /// Estimated total, from getAllChildrenNumber at the start.
    pub nodes_total: u64,
    pub done: bool,
}

/// Counters of the catch-up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpStats {
    pub events: u64,
    pub applied: u64,
    pub deleted: u64,
    pub counters_carried: u64,
    pub sweeps: u64,
    /// The latest source zxid everything up to which is on the destination.
    pub applied_zxid: i64,
    pub source_zxid: i64,
    pub pending: u64,
    /// Largest pending-change count seen, and the largest lag in milliseconds.
    pub pending_max: u64,
    pub lag_ms_max: u64,
}

/// The writer fence on the source (or, for the reverse catch-up, on whichever side is fenced).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// Original ACLs (text) of every fenced node, by path, written before any ACL changes.
    pub originals: BTreeMap<String, String>,
    /// Nodes whose fence ACL is in place.
    pub applied: BTreeSet<String>,
}

/// The outcome of the last verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySummary {
    pub equal: bool,
    pub differences: u64,
    pub nodes_source: u64,
    pub nodes_destination: u64,
    pub at_unix_ms: u64,
}

/// The checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    /// [`Plan::fingerprint`](super::Plan::fingerprint) of the plan it belongs to.
    pub plan: String,
    pub phase: Phase,
    pub started_unix_ms: u64,
    pub updated_unix_ms: u64,
    /// Destination paths that existed before the migration wrote anything: never deleted
    /// by the migration, and under `conflicts = "skip"` never written.
    pub preexisting: BTreeSet<String>,
    /// Destination ancestors of the roots that the migration created (rollback removes them).
    pub created_ancestors: Vec<String>,
    pub cursor: CopyCursor,
    pub copy: CopyStats,
    /// Source parents whose sequential counter still has to be carried.
    pub counters_pending: BTreeSet<String>,
    /// Source nodes left out because they are ephemeral.
    pub ephemerals: BTreeSet<String>,
    pub catch_up: CatchUpStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<Fence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySummary>,
    /// The connect string printed at cutover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_connect: Option<String>,
    /// Destination paths the migrator could not write, with the reason.
    pub blocked: BTreeMap<String, String>,
    /// The last lines worth telling the operator (bounded).
    pub log: Vec<String>,
}

/// Lines kept in [`Checkpoint::log`].
const LOG_LINES_MAX: usize = 50;

impl Checkpoint {
    pub fn new(plan: String, now_ms: u64) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            plan,
            phase: Phase::Planned,
            started_unix_ms: now_ms,
            updated_unix_ms: now_ms,
            preexisting: BTreeSet::new(),
            created_ancestors: Vec::new(),
            cursor: CopyCursor::default(),
            copy: CopyStats::default(),
            counters_pending: BTreeSet::new(),
            ephemerals: BTreeSet::new(),
            catch_up: CatchUpStats::default(),
            fence: None,
            verify: None,
            new_connect: None,
            blocked: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    pub fn note(&mut self, line: String) {
        self.log.push(line);
        if self.log.len() > LOG_LINES_MAX {
            let extra = self.log.len() - LOG_LINES_MAX;
            self.log.drain(..extra);
        }
    }

    /// Reads a checkpoint; `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, MigrateError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(MigrateError::io(path, e)),
        };
        let ck: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
            MigrateError::Checkpoint(format!("{} is not a checkpoint: {e}", path.display()))
        })?;
        if ck.version != CHECKPOINT_VERSION {
            return Err(MigrateError::Checkpoint(format!(
                "{} has version {}, this zksh reads {CHECKPOINT_VERSION}",
                path.display(),
                ck.version
            )));
        }
        Ok(Some(ck))
    }

    /// Writes the checkpoint atomically (temp file, fsync, rename, fsync of the directory).
    pub fn save(&mut self, path: &Path, now_ms: u64) -> Result<(), MigrateError> {
        self.updated_unix_ms = now_ms;
        let bytes = serde_json::to_vec(self)
            .map_err(|e| MigrateError::Checkpoint(format!("cannot encode the checkpoint: {e}")))?;
        write_atomic(path, &bytes)
    }
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MigrateError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| MigrateError::io(&dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| MigrateError::io(&dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| MigrateError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| MigrateError::io(path, e.error))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MigrateError::io(&dir, e))?;
    Ok(())
}

/// ACL as checkpoint text.
pub fn acl_text(acl: &[Acl]) -> String {
    acl.iter().map(format_entry).collect::<Vec<_>>().join(",")
}

/// ACL from checkpoint text.
pub fn acl_from_text(text: &str) -> Vec<Acl> {
    parse_acl(text).unwrap_or_default()
}

/// Ownership of a checkpoint by one process; released on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock next to `checkpoint`, or says which live process holds it.
    pub fn acquire(checkpoint: &Path) -> Result<Lock, MigrateError> {
        let mut name = checkpoint.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| MigrateError::io(dir, e))?;
        }
        // Two attempts: the second after removing a lock left by a dead process.
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    let _ = f.sync_all();
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid_alive(pid) && pid != std::process::id() => {
                            return Err(MigrateError::Locked { pid });
                        }
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(MigrateError::io(&path, e)),
            }
        }
        Err(MigrateError::Checkpoint(format!(
            "cannot take the lock {}",
            path.display()
        )))
    }

    /// The pid holding the lock of `checkpoint`, if a live process does.
    pub fn holder(checkpoint: &Path) -> Option<u32> {
        let mut name = checkpoint.as_os_str().to_owned();
        name.push(".lock");
        let pid = std::fs::read_to_string(PathBuf::from(name))
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()?;
        pid_alive(pid).then_some(pid)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.checkpoint.json");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let mut ck = Checkpoint::new("abc".into(), 1);
        ck.cursor.frontier.push_back(FrontierEntry {
            path: "/a".into(),
            deferred_acl: Some("world:anyone:r".into()),
        });
        ck.save(&path, 2).unwrap();
        ck.phase = Phase::CatchingUp;
        ck.save(&path, 3).unwrap();
        let back = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(back, ck);
        // Only the checkpoint is left in the directory: the temporary files were renamed.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_second_lock_names_the_holder_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let lock_path = dir.path().join("c.json.lock");
        // A pid that cannot be alive.
        std::fs::write(&lock_path, "4194304999\n").unwrap();
        let lock = Lock::acquire(&path).unwrap();
        assert_eq!(Lock::holder(&path), Some(std::process::id()));
        drop(lock);
        assert!(!lock_path.exists());
    }
}
