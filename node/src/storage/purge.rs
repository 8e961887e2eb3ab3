//! Purging old snapshots and transaction logs, as Apache ZooKeeper's `PurgeTxnLog` does (its
//! autopurge task and `zkCleanup.sh`), so a data directory written by either server is trimmed
//! the same way.
//!
//! The rule: keep the newest `retain` *complete* snapshots (at least 3) and every log segment
//! that recovery from the oldest of them may need. A segment is named after its first zxid, so
//! the segments needed are the newest one starting at or before that snapshot's zxid and every
//! later one. Older snapshots (complete or not) and older segments are removed. Snapshots and
//! segments newer than the oldest kept snapshot are never touched, so a snapshot being written
//! and the segment being appended to are safe.
//!
//! Never: removes anything when no complete snapshot exists (the log is then all there is).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::disk::Disk;
use super::{snapshot, txnlog};

/// Apache refuses to keep fewer snapshots (`PurgeTxnLog`: "count should be greater than or
/// equal to 3"): one damaged snapshot must still leave an older one to recover from.
pub const RETAIN_MIN: usize = 3;

/// What a purge decided, by zxid (the number in the file name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub keep_snapshots: Vec<i64>,
    pub remove_snapshots: Vec<i64>,
    pub keep_logs: Vec<i64>,
    pub remove_logs: Vec<i64>,
}

/// Decides what to remove. `snapshots`: every snapshot file's zxid and whether it is complete;
/// `logs`: every log segment's first zxid. Pure, so the rule is tested as data.
pub fn plan(snapshots: &[(i64, bool)], logs: &[i64], retain: usize) -> Plan {
    let retain = retain.max(RETAIN_MIN);
    let mut complete: Vec<i64> = snapshots.iter().filter(|s| s.1).map(|s| s.0).collect();
    complete.sort_unstable_by(|a, b| b.cmp(a));
    complete.truncate(retain);
    let mut all_snaps: Vec<i64> = snapshots.iter().map(|s| s.0).collect();
    all_snaps.sort_unstable();
    let mut all_logs = logs.to_vec();
    all_logs.sort_unstable();
    let Some(&oldest_kept) = complete.last() else {
        return Plan {
            keep_snapshots: all_snaps,
            keep_logs: all_logs,
            ..Plan::default()
        };
    };
    // The newest segment starting at or before the snapshot holds the txns right after it.
    let first_log_needed = all_logs
        .iter()
        .copied()
        .filter(|z| *z <= oldest_kept)
        .max()
        .unwrap_or(i64::MIN);
    let (remove_logs, keep_logs) = all_logs.iter().partition(|z| **z < first_log_needed);
    let (remove_snapshots, keep_snapshots) = all_snaps.iter().partition(|z| **z < oldest_kept);
    Plan {
        keep_snapshots,
        remove_snapshots,
        keep_logs,
        remove_logs,
    }
}

/// What [`purge`] did.
#[derive(Debug, Clone, Default)]
pub struct Purged {
    /// Files removed, oldest snapshots first, then logs.
    pub removed: Vec<PathBuf>,
    /// Snapshots and segments left in place.
    pub kept_snapshots: usize,
    pub kept_logs: usize,
}

/// Purges `snap_dir` (`<dataDir>/version-2`) and `log_dir` (`<dataLogDir>/version-2`, may be the
/// same directory), keeping the newest `retain` complete snapshots (at least [`RETAIN_MIN`]).
/// Stops at the first file it cannot remove, reporting which.
pub fn purge(
    disk: &dyn Disk,
    snap_dir: &Path,
    log_dir: &Path,
    retain: usize,
) -> io::Result<Purged> {
    let snaps = snapshot::list(disk, snap_dir)?;
    let mut judged = Vec::with_capacity(snaps.len());
    for (zxid, path) in &snaps {
        judged.push((*zxid, snapshot::is_complete(disk, path)?));
    }
    let logs = txnlog::list_segments(disk, log_dir)?;
    let log_zxids: Vec<i64> = logs.iter().map(|l| l.0).collect();
    let p = plan(&judged, &log_zxids, retain);
    let mut removed = Vec::new();
    let snap_files = p
        .remove_snapshots
        .iter()
        .filter_map(|z| snaps.iter().find(|s| s.0 == *z));
    let log_files = p
        .remove_logs
        .iter()
        .filter_map(|z| logs.iter().find(|l| l.0 == *z));
    for (_, path) in snap_files.chain(log_files) {
        disk.remove(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot remove {}: {e}", path.display()))
        })?;
        removed.push(path.clone());
    }
    Ok(Purged {
        removed,
        kept_snapshots: p.keep_snapshots.len(),
        kept_logs: p.keep_logs.len(),
    })
}

/// Apache's autopurge (`DatadirCleanupManager`): purge once at start, then every `every`.
/// Runs until its task is aborted (server stop). A failed purge is logged and retried at the
/// next interval: purging is housekeeping, never a reason to stop serving.
pub async fn run_autopurge(
    disk: Arc<dyn Disk>,
    snap_dir: PathBuf,
    log_dir: PathBuf,
    retain: usize,
    every: Duration,
) {
    tracing::info!(
        retain,
        interval_s = every.as_secs(),
        "autopurge: keeping the newest {retain} snapshots and the logs they need"
    );
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (d, s, l) = (disk.clone(), snap_dir.clone(), log_dir.clone());
        let done = tokio::task::spawn_blocking(move || purge(d.as_ref(), &s, &l, retain)).await;
        match done {
            Ok(Ok(p)) => {
                for f in &p.removed {
                    tracing::info!(file = %f.display(), "autopurge: removed");
                }
                tracing::info!(
                    removed = p.removed.len(),
                    snapshots = p.kept_snapshots,
                    logs = p.kept_logs,
                    "autopurge done"
                );
            }
            Ok(Err(e)) => tracing::warn!("autopurge failed: {e}; retrying at the next interval"),
            Err(e) => tracing::warn!("autopurge task failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::disk::FsDisk;

    /// Apache's rule, as data: five complete snapshots, keep three; the oldest kept is 30, the
    /// newest log starting at or before 30 is 25, so logs 1 and 12 go and 25 stays.
    #[test]
    fn keeps_retain_snapshots_and_the_logs_to_replay_from_the_oldest() {
        let snaps = [(10, true), (20, true), (30, true), (40, true), (50, true)];
        let logs = [1, 12, 25, 31, 45];
        let p = plan(&snaps, &logs, 3);
        assert_eq!(p.keep_snapshots, vec![30, 40, 50]);
        assert_eq!(p.remove_snapshots, vec![10, 20]);
        assert_eq!(p.keep_logs, vec![25, 31, 45]);
        assert_eq!(p.remove_logs, vec![1, 12]);
    }

    /// A log that starts right after the oldest kept snapshot (31 after 30) still leaves the
    /// one before it in place: it may hold txns after the snapshot (those in flight when it
    /// was taken), and Apache keeps it too.
    #[test]
    fn the_log_straddling_the_oldest_kept_snapshot_stays() {
        let snaps = [(10, true), (20, true), (30, true), (40, true)];
        let p = plan(&snaps, &[1, 11, 21, 31, 41], 3);
        assert_eq!(p.remove_snapshots, vec![10]);
        assert_eq!(p.keep_logs, vec![11, 21, 31, 41]);
        assert_eq!(p.remove_logs, vec![1]);
        // A log starting exactly at the snapshot's zxid is the one needed.
        let p = plan(&snaps, &[1, 11, 20, 31], 3);
        assert_eq!(p.remove_logs, vec![1, 11]);
    }

    /// Incomplete snapshots (a crash while writing) do not count towards the retained ones;
    /// one older than the oldest kept goes, a newer one (perhaps being written) stays.
    #[test]
    fn incomplete_snapshots_do_not_count() {
        let snaps = [
            (10, true),
            (20, true),
            (25, false),
            (30, true),
            (40, true),
            (50, false),
        ];
        let p = plan(&snaps, &[1, 15], 3);
        assert_eq!(p.keep_snapshots, vec![20, 25, 30, 40, 50]);
        assert_eq!(p.remove_snapshots, vec![10]);
        assert_eq!(p.remove_logs, vec![1]);
        assert_eq!(p.keep_logs, vec![15]);
    }

    #[test]
    fn retain_below_three_keeps_three_and_no_snapshot_removes_nothing() {
        let snaps = [(10, true), (20, true), (30, true), (40, true)];
        let p = plan(&snaps, &[1, 11, 21, 31], 1);
        assert_eq!(p.keep_snapshots, vec![20, 30, 40]);
        let p = plan(&[(5, false)], &[1, 11], 3);
        assert_eq!(p.keep_logs, vec![1, 11]);
        assert_eq!(p.keep_snapshots, vec![5]);
        assert!(p.remove_logs.is_empty() && p.remove_snapshots.is_empty());
        // Fewer snapshots than retained: the oldest one still bounds the logs.
        let p = plan(&[(20, true)], &[1, 11, 21], 3);
        assert_eq!(p.remove_logs, vec![1]);
    }

    fn touch(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// On files, with a separate log directory: complete snapshots end with the `"/"` seal
    /// (int 1, '/'); a partial one does not and is removed only when older than those kept.
    /// Other files (epochs, myid) are never touched.
    #[test]
    fn purge_removes_files_in_both_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let (snap_dir, log_dir) = (tmp.path().join("snap"), tmp.path().join("log"));
        std::fs::create_dir_all(&snap_dir).unwrap();
        std::fs::create_dir_all(&log_dir).unwrap();
        let sealed = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'/'];
        for z in ["a", "14", "1e", "28"] {
            touch(&snap_dir, &format!("snapshot.{z}"), &sealed);
        }
        touch(&snap_dir, "snapshot.5", b"partial");
        touch(&snap_dir, "snapshot.32", b"partial");
        touch(&snap_dir, "currentEpoch", b"1");
        for z in ["1", "c", "19", "20"] {
            touch(&log_dir, &format!("log.{z}"), b"ZKLG");
        }
        let p = purge(&FsDisk, &snap_dir, &log_dir, 3).unwrap();
        assert_eq!(p.removed.len(), 3, "{p:?}");
        assert_eq!(
            names(&snap_dir),
            [
                "currentEpoch",
                "snapshot.14",
                "snapshot.1e",
                "snapshot.28",
                "snapshot.32"
            ]
        );
        // Oldest kept snapshot 0x14 = 20: log.c (12) is the newest starting before it.
        assert_eq!(names(&log_dir), ["log.19", "log.20", "log.c"]);
        // Purging again changes nothing.
        assert!(purge(&FsDisk, &snap_dir, &log_dir, 3)
            .unwrap()
            .removed
            .is_empty());
    }

    #[tokio::test]
    async fn autopurge_runs_at_start_and_on_its_interval() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let sealed = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'/'];
        for z in 1..=4 {
            touch(&dir, &format!("snapshot.{z}"), &sealed);
        }
        let task = tokio::spawn(run_autopurge(
            Arc::new(FsDisk),
            dir.clone(),
            dir.clone(),
            3,
            Duration::from_millis(50),
        ));
        let wait_for = |n: usize| {
            let dir = dir.clone();
            async move {
                for _ in 0..200 {
                    if names(&dir).len() == n {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("expected {n} files, found {:?}", names(&dir));
            }
        };
        wait_for(3).await;
        touch(&dir, "snapshot.5", &sealed);
        wait_for(3).await;
        assert_eq!(names(&dir), ["snapshot.3", "snapshot.4", "snapshot.5"]);
        task.abort();
    }
}
