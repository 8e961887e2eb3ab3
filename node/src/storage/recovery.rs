//! Recovery on start: the newest valid snapshot, then every logged transaction after it. A torn
//! tail of the last segment is cut off; any other damage stops the node with a message naming
//! the file, the offset and what to do.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use zk_proto::quorum::TxnLogEntry;
use zk_proto::txn::Txn;

use super::disk::Disk;
use super::{snapshot, txnlog};
use crate::tree::DataTree;

/// What recovery rebuilt.
pub struct Recovered {
    pub tree: DataTree,
    /// Live sessions and their timeouts.
    pub sessions: BTreeMap<i64, i32>,
    /// The zxid of the snapshot recovery started from (None: no snapshot).
    pub snapshot_zxid: Option<i64>,
    pub replayed: usize,
}

/// What an ensemble member starts from: the snapshot, and the log after it **not applied**.
/// In an ensemble the log may end in entries that were never committed; the Zab core learns
/// which were from the leader and commits them later (`zab::io::DurableState`: `log_base` and
/// `committed` are `snapshot_zxid`, `log` is `log`).
pub struct RecoveredForZab {
    /// The snapshot only; no log entry applied. `last_zxid()` is `snapshot_zxid`.
    pub tree: DataTree,
    /// Live sessions and their timeouts, from the snapshot.
    pub sessions: BTreeMap<i64, i32>,
    /// The zxid of the snapshot loaded; 0 when there is none.
    pub snapshot_zxid: i64,
    /// Every logged entry with a zxid above `snapshot_zxid`, in zxid order.
    pub log: Vec<Arc<TxnLogEntry>>,
}

/// Snapshots tried before giving up (Apache: 100).
const SNAPSHOTS_TRIED: usize = 100;

/// Loads `snap_dir` (`<dataDir>/version-2`) and `log_dir` (`<dataLogDir>/version-2`).
pub fn recover(disk: &dyn Disk, snap_dir: &Path, log_dir: &Path) -> Result<Recovered> {
    let (mut tree, mut sessions, snap_zxid) = load_snapshot(disk, snap_dir)?;
    let mut replayed = 0;
    read_log(disk, log_dir, snap_zxid.unwrap_or(0), |entry| {
        // Replay is idempotent: NodeExists/NoNode from a fuzzy snapshot are expected.
        replay_sessions(&mut sessions, entry.hdr.client_id, &entry.txn);
        tree.apply(&entry.hdr, &entry.txn, &mut Vec::new());
        replayed += 1;
    })?;
    Ok(Recovered {
        tree,
        sessions,
        snapshot_zxid: snap_zxid,
        replayed,
    })
}

/// Loads the newest valid snapshot and reads, without applying, every logged entry after it.
/// A torn tail of the last segment is cut off and any other damage is an error, as in
/// [`recover`].
pub fn recover_for_zab(
    disk: &dyn Disk,
    snap_dir: &Path,
    log_dir: &Path,
) -> Result<RecoveredForZab> {
    let (tree, sessions, snap_zxid) = load_snapshot(disk, snap_dir)?;
    let snapshot_zxid = snap_zxid.unwrap_or(0);
    let mut log = Vec::new();
    read_log(disk, log_dir, snapshot_zxid, |entry| {
        log.push(Arc::new(entry))
    })?;
    Ok(RecoveredForZab {
        tree,
        sessions,
        snapshot_zxid,
        log,
    })
}

/// Reads the log from the segment that may hold `base + 1` on, cutting off a torn tail of the
/// last segment, and hands `visit` every entry above `base` whose zxid is above the previous
/// one handed over (older or repeated entries are skipped, as a replay would).
fn read_log(
    disk: &dyn Disk,
    log_dir: &Path,
    base: i64,
    mut visit: impl FnMut(TxnLogEntry),
) -> Result<()> {
    let segments = txnlog::list_segments(disk, log_dir)
        .with_context(|| format!("cannot list transaction logs in {}", log_dir.display()))?;
    // The newest segment starting at or before the snapshot may hold txns after it; every
    // later segment does.
    let first = segments
        .iter()
        .rposition(|(z, _)| *z <= base + 1)
        .unwrap_or(0);
    let mut high = base;
    let n = segments.len();
    for (i, (_, path)) in segments.iter().enumerate().skip(first) {
        let last = i + 1 == n;
        let bytes = disk
            .read(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let seg = match txnlog::read_segment(&bytes, last) {
            Ok(s) => s,
            Err(c) => bail!(corrupt_message(path, c.offset, &c.reason)),
        };
        if let Some(reason) = &seg.torn {
            tracing::warn!(file = %path.display(), offset = seg.valid_len, "transaction log ends in a torn record ({reason}); cutting it off: it was never acknowledged");
            if seg.valid_len == 0 {
                // Not even its header was written: remove it, or it would read as a damaged
                // segment once the next one is written after it.
                disk.remove(path)
                    .and_then(|()| disk.sync_dir(log_dir))
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            } else {
                disk.truncate(path, seg.valid_len)
                    .with_context(|| format!("cannot truncate {}", path.display()))?;
            }
        }
        for entry in seg.records {
            let z = entry.hdr.zxid;
            if z <= high {
                continue;
            }
            if let Some(missing) = gap(high, z) {
                bail!(
                    "transactions {missing} are missing from the log in {}: {} holds {z:#x} \
                     next. A log file was deleted or lost. Restore it from a backup; or, on an \
                     ensemble member, empty this member's data directories (dataDir and \
                     dataLogDir) so that it gets a snapshot from the leader when it rejoins",
                    log_dir.display(),
                    path.display()
                );
            }
            high = z;
            visit(entry);
        }
    }
    Ok(())
}

/// Zxids between `high` and the next logged one, `next`, that should be there and are not:
/// within an epoch every transaction is logged (the counter goes up by one); a new epoch
/// starts its own count, so a jump to a higher epoch is no gap.
fn gap(high: i64, next: i64) -> Option<String> {
    let same_epoch = (high >> 32) == (next >> 32);
    (same_epoch && next > high + 1).then(|| format!("{:#x}..={:#x}", high + 1, next - 1))
}

fn replay_sessions(sessions: &mut BTreeMap<i64, i32>, client: i64, txn: &Txn) {
    match txn {
        Txn::CreateSession(c) => {
            sessions.insert(client, c.timeout_ms);
        }
        Txn::CloseSession(_) => {
            sessions.remove(&client);
        }
        _ => {}
    }
}

#[allow(clippy::type_complexity)]
fn load_snapshot(
    disk: &dyn Disk,
    dir: &Path,
) -> Result<(DataTree, BTreeMap<i64, i32>, Option<i64>)> {
    let snaps = snapshot::list(disk, dir)
        .with_context(|| format!("cannot list snapshots in {}", dir.display()))?;
    for (zxid, path) in snaps.iter().take(SNAPSHOTS_TRIED) {
        // Read whole: measured with a million znodes, reading the file a chunk at a time
        // (`snapshot::decode_from` on the file) left ~100 bytes more resident per znode once
        // serving, while the one big buffer goes back to the OS when freed.
        let bytes = disk
            .read(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match snapshot::decode(&bytes) {
            Ok((nodes, sessions, digest)) => {
                let tree = DataTree::from_nodes(nodes, *zxid);
                if let Some((dz, d)) = digest {
                    // Apache writes digest 0 into the snapshot it takes before its first txn.
                    if dz == *zxid && d != 0 && d != tree.digest() {
                        tracing::warn!(file = %path.display(), "snapshot digest differs from the recomputed tree digest");
                    }
                }
                tracing::info!(file = %path.display(), nodes = tree.node_count(), "loaded snapshot");
                return Ok((tree, sessions, Some(*zxid)));
            }
            Err(e) => tracing::warn!(file = %path.display(), "skipping invalid snapshot: {}", e.0),
        }
    }
    Ok((DataTree::new(), BTreeMap::new(), None))
}

fn corrupt_message(path: &Path, offset: u64, reason: &str) -> String {
    format!(
        "transaction log {} is corrupt at offset {offset}: {reason}. This is not a torn final write, so \
         recovery stops rather than lose data. Restore the data directory from a backup or another \
         server; to start anyway, move this file and every later log out of the directory (the \
         transactions in them are lost)",
        path.display()
    )
}
