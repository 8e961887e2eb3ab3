//! Storage for Zab ensembles (issue 4): TRUNC and SNAP on the transaction log, and recovery
//! that hands the log to the Zab core instead of applying it.
//!
//! Method: a real log task (`run_log` over `FileTxnLog` on `FsDisk`, in a temporary directory,
//! with a small preallocation so segments end in zero padding) is driven through its command
//! channel the way the server's core drives it: appends (group commit), rolls (a new segment,
//! as after a snapshot), `Truncate` and `Reset`. Then the task is stopped (a restart) and
//! `recovery::recover_for_zab` must return exactly the expected entries, byte for byte equal to
//! what was appended; a second writer appending after the restart must not disturb them.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use zk_node::storage::disk::FsDisk;
use zk_node::storage::recovery::{self, RecoveredForZab};
use zk_node::storage::snapshot::{self, SnapshotData};
use zk_node::storage::txnlog::{self, FileTxnLog};
use zk_node::storage::{run_log, LogCmd, LogFailure, LogStats};
use zk_node::tree::DataTree;
use zk_proto::data::Acl;
use zk_proto::txn::{CreateSessionTxn, CreateTxn, SetDataTxn, Txn, TxnHeader};

const SESSION: i64 = 0x0100_0000_0000_0001;
const E1: i64 = 1 << 32;
const E2: i64 = 2 << 32;
const E3: i64 = 3 << 32;
/// Small, so that segments grow in several steps and end in zeros.
const PREALLOC: u64 = 8 * 1024;

/// The entry logged at `zxid`: a session, then creates and setData of varied sizes.
fn entry(zxid: i64) -> (TxnHeader, Txn) {
    let counter = zxid & 0xffff_ffff;
    let (txn_type, txn) = if counter == 1 {
        (
            -10,
            Txn::CreateSession(CreateSessionTxn { timeout_ms: 4000 }),
        )
    } else if counter % 3 == 0 {
        let t = Txn::SetData(SetDataTxn {
            path: "/n".into(),
            data: Some(format!("value {zxid:#x}").into_bytes()),
            version: counter as i32,
        });
        (5, t)
    } else {
        let t = Txn::Create(CreateTxn {
            path: format!("/n{zxid:x}"),
            data: Some(vec![counter as u8; (counter as usize * 37) % 300]),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: counter as i32,
        });
        (1, t)
    };
    let hdr = TxnHeader {
        client_id: SESSION,
        cxid: counter as i32,
        zxid,
        time: 1_700_000_000_000 + counter,
        txn_type,
    };
    (hdr, txn)
}

/// A running log task on `dir`.
struct Log {
    tx: mpsc::Sender<LogCmd>,
    durable: watch::Receiver<i64>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _failures: mpsc::Receiver<LogFailure>,
}

impl Log {
    /// Starts the log task as the server does after recovery: durable up to `from`.
    fn start(dir: &Path, from: i64) -> Log {
        let log =
            FileTxnLog::new(Arc::new(FsDisk), dir.to_path_buf(), true).with_prealloc(PREALLOC);
        let (tx, rx) = mpsc::channel(64);
        let (durable_tx, durable) = watch::channel(from);
        let (fail_tx, failures) = mpsc::channel(4);
        let stats = Arc::new(LogStats::default());
        let task = tokio::spawn(run_log(log, rx, durable_tx, fail_tx, stats));
        Log {
            tx,
            durable,
            task,
            _failures: failures,
        }
    }

    /// Appends every zxid, then waits until the last is durable.
    async fn append(&mut self, zxids: impl IntoIterator<Item = i64>) {
        let mut last = None;
        for z in zxids {
            let (h, t) = entry(z);
            self.tx.send(LogCmd::Append(h, t)).await.unwrap();
            last = Some(z);
        }
        if let Some(last) = last {
            self.durable.wait_for(|d| *d >= last).await.unwrap();
        }
    }

    async fn roll(&self) {
        self.tx.send(LogCmd::Roll).await.unwrap();
    }

    async fn truncate(&mut self, zxid: i64) {
        let (done, answer) = oneshot::channel();
        self.tx.send(LogCmd::Truncate { zxid, done }).await.unwrap();
        answer.await.unwrap().unwrap();
    }

    async fn reset(&mut self, zxid: i64) {
        let (done, answer) = oneshot::channel();
        self.tx.send(LogCmd::Reset { zxid, done }).await.unwrap();
        answer.await.unwrap().unwrap();
    }

    /// What the durable watch says now (marking it seen, as a driver does after a barrier).
    fn durable(&mut self) -> i64 {
        *self.durable.borrow_and_update()
    }

    /// Stops the task, as a shutdown or crash after the last acknowledged command would.
    async fn stop(self) {
        drop(self.tx);
        self.task.await.unwrap().unwrap();
    }
}

fn zab(dir: &Path) -> RecoveredForZab {
    recovery::recover_for_zab(&FsDisk, dir, dir).unwrap()
}

/// The recovered log is exactly `want`, entry for entry.
fn assert_log(r: &RecoveredForZab, want: &[i64]) {
    let got: Vec<i64> = r.log.iter().map(|e| e.hdr.zxid).collect();
    let show = |v: &[i64]| v.iter().map(|z| format!("{z:#x}")).collect::<Vec<_>>();
    assert_eq!(show(&got), show(want));
    for e in &r.log {
        let (h, t) = entry(e.hdr.zxid);
        assert_eq!(e.hdr, h);
        assert_eq!(e.txn, t);
        assert_eq!(e.digest, None);
    }
}

fn segments(dir: &Path) -> Vec<i64> {
    txnlog::list_segments(&FsDisk, dir)
        .unwrap()
        .into_iter()
        .map(|(z, _)| z)
        .collect()
}

fn range(epoch: i64, counters: std::ops::RangeInclusive<i64>) -> Vec<i64> {
    counters.map(|c| epoch + c).collect()
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("version-2");
    std::fs::create_dir_all(&dir).unwrap();
    (tmp, dir)
}

/// Epoch 1 in two segments: E1+1..=E1+10 in `log.<E1+1>`, E1+11..=E1+20 in `log.<E1+b>`.
async fn two_segments(dir: &Path) -> Log {
    let mut log = Log::start(dir, 0);
    log.append(range(E1, 1..=10)).await;
    log.roll().await;
    log.append(range(E1, 11..=20)).await;
    assert_eq!(segments(dir), [E1 + 1, E1 + 11]);
    log
}

/// A cut in the middle of a segment, exactly at the end of a segment, exactly at the first
/// entry of the next, at the very end (nothing removed) and before everything: each time the
/// next epoch appends after the cut, and a restart sees exactly the entries up to the cut
/// followed by the new ones.
#[tokio::test]
async fn truncate_then_new_epoch_survives_a_restart() {
    for cut in [5, 10, 11, 15, 20, 0] {
        let (_tmp, dir) = tempdir();
        let mut log = two_segments(&dir).await;
        let zxid = E1 + cut;
        log.truncate(zxid).await;
        assert_eq!(log.durable(), zxid.min(E1 + 20), "cut {cut}");
        let kept = range(E1, 1..=cut);
        // Segments wholly above the cut are gone; the one holding it ends at a record
        // boundary, without its zero padding.
        let want_segments: Vec<i64> = [E1 + 1, E1 + 11]
            .into_iter()
            .filter(|s| *s <= zxid)
            .collect();
        assert_eq!(segments(&dir), want_segments, "cut {cut}");
        if let Some(last) = want_segments.last() {
            let bytes = std::fs::read(dir.join(format!("log.{last:x}"))).unwrap();
            let read = txnlog::read_segment(&bytes, true).unwrap();
            assert_eq!(read.valid_len, bytes.len() as u64, "cut {cut}: no padding");
            assert!(read.torn.is_none());
        }
        // The next append starts a new segment, and the durable mark follows it.
        log.append(range(E2, 1..=3)).await;
        assert_eq!(log.durable(), E2 + 3);
        assert_eq!(*segments(&dir).last().unwrap(), E2 + 1, "cut {cut}");
        log.stop().await;

        let r = zab(&dir);
        let want: Vec<i64> = kept.iter().copied().chain(range(E2, 1..=3)).collect();
        assert_log(&r, &want);
        assert_eq!(r.snapshot_zxid, 0);
        assert_eq!(r.tree.last_zxid(), 0, "nothing applied");

        // After the restart the server writes on, in a new segment.
        let mut log = Log::start(&dir, E2 + 3);
        log.append(range(E2, 4..=5)).await;
        log.stop().await;
        let want: Vec<i64> = want.into_iter().chain(range(E2, 4..=5)).collect();
        assert_log(&zab(&dir), &want);
    }
}

/// Appends queued right before a TRUNC are made durable first, then cut if above it; appends
/// queued right after it are kept.
#[tokio::test]
async fn truncate_is_a_barrier_for_queued_appends() {
    let (_tmp, dir) = tempdir();
    let mut log = Log::start(&dir, 0);
    log.append(range(E1, 1..=4)).await;
    for z in range(E1, 5..=9) {
        let (h, t) = entry(z);
        log.tx.send(LogCmd::Append(h, t)).await.unwrap();
    }
    let (done, answer) = oneshot::channel();
    log.tx
        .send(LogCmd::Truncate { zxid: E1 + 7, done })
        .await
        .unwrap();
    for z in range(E2, 1..=2) {
        let (h, t) = entry(z);
        log.tx.send(LogCmd::Append(h, t)).await.unwrap();
    }
    answer.await.unwrap().unwrap();
    log.durable.wait_for(|d| *d == E2 + 2).await.unwrap();
    log.stop().await;
    let want: Vec<i64> = range(E1, 1..=7)
        .into_iter()
        .chain(range(E2, 1..=2))
        .collect();
    assert_log(&zab(&dir), &want);
}

/// Two truncations in a row (a follower that loses the leader again during sync), the second
/// below the first, then a third epoch.
#[tokio::test]
async fn repeated_truncations() {
    let (_tmp, dir) = tempdir();
    let mut log = two_segments(&dir).await;
    log.truncate(E1 + 15).await;
    log.append(range(E2, 1..=4)).await;
    log.truncate(E2 + 2).await;
    log.truncate(E1 + 12).await;
    assert_eq!(log.durable(), E1 + 12);
    log.append(range(E3, 1..=2)).await;
    log.stop().await;
    let want: Vec<i64> = range(E1, 1..=12)
        .into_iter()
        .chain(range(E3, 1..=2))
        .collect();
    assert_log(&zab(&dir), &want);
    assert_eq!(segments(&dir), [E1 + 1, E1 + 11, E3 + 1]);
}

fn snapshot_at(zxid: i64, paths: &[&str]) -> SnapshotData {
    let mut t = DataTree::new();
    for (i, p) in paths.iter().enumerate() {
        let hdr = TxnHeader {
            client_id: SESSION,
            cxid: i as i32,
            zxid: i as i64 + 1,
            time: 5,
            txn_type: 1,
        };
        let txn = Txn::Create(CreateTxn {
            path: p.to_string(),
            data: Some(p.as_bytes().to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 0,
        });
        t.apply(&hdr, &txn, &mut Vec::new());
    }
    t.set_last_zxid(zxid);
    snapshot::capture(&t, BTreeMap::from([(SESSION, 4000)]))
}

/// SNAP below the follower's last entry: the snapshot replaces the database, the log keeps
/// nothing above it, and a restart starts from the snapshot with only the new epoch's entries.
#[tokio::test]
async fn reset_after_a_snapshot_below_the_log() {
    let (_tmp, dir) = tempdir();
    let mut log = two_segments(&dir).await;
    let s = E1 + 6;
    snapshot::write(&FsDisk, &dir, &snapshot_at(s, &["/from-leader"])).unwrap();
    log.reset(s).await;
    assert_eq!(log.durable(), s);
    assert_eq!(segments(&dir), [E1 + 1]);
    log.append(range(E2, 1..=2)).await;
    log.stop().await;

    let r = zab(&dir);
    assert_eq!(r.snapshot_zxid, s);
    assert_eq!(r.tree.last_zxid(), s);
    assert!(r.tree.get("/from-leader").is_some());
    assert!(r.tree.get(&format!("/n{:x}", E1 + 2)).is_none());
    assert_eq!(r.sessions, BTreeMap::from([(SESSION, 4000)]));
    assert_log(&r, &range(E2, 1..=2));
}

/// SNAP far ahead of the follower (the usual case): nothing on disk is above it, the durable
/// mark jumps to it, appends queued before the Reset are dropped.
#[tokio::test]
async fn reset_ahead_of_the_log_drops_queued_appends() {
    let (_tmp, dir) = tempdir();
    let mut log = Log::start(&dir, 0);
    log.append(range(E1, 1..=3)).await;
    let s = E3 + 100;
    snapshot::write(&FsDisk, &dir, &snapshot_at(s, &["/a", "/a/b"])).unwrap();
    // Queued behind the Reset in one go: whatever of them is not durable yet is dropped; any
    // that was made durable is below the snapshot and not returned by recovery.
    for z in range(E1, 4..=6) {
        let (h, t) = entry(z);
        log.tx.send(LogCmd::Append(h, t)).await.unwrap();
    }
    log.reset(s).await;
    assert_eq!(log.durable(), s);
    log.append(range(E3, 101..=102)).await;
    log.stop().await;
    let r = zab(&dir);
    assert_eq!(r.snapshot_zxid, s);
    assert!(r.tree.get("/a/b").is_some());
    assert_log(&r, &range(E3, 101..=102));
}

/// `recover_for_zab` applies nothing from the log: the tree is the snapshot's, the log is every
/// entry above it (including ones the snapshot's segment holds).
#[tokio::test]
async fn recovery_for_zab_does_not_apply_the_log() {
    let (_tmp, dir) = tempdir();
    let log = two_segments(&dir).await;
    log.stop().await;
    let s = E1 + 8;
    snapshot::write(&FsDisk, &dir, &snapshot_at(s, &["/snap"])).unwrap();
    let r = zab(&dir);
    assert_eq!(r.snapshot_zxid, s);
    assert_eq!(r.tree.last_zxid(), s);
    assert!(r.tree.get("/snap").is_some());
    assert!(r.tree.get(&format!("/n{:x}", E1 + 10)).is_none());
    assert_log(&r, &range(E1, 9..=20));
    // `recover` (standalone) applies the same log on top of the same snapshot.
    let applied = recovery::recover(&FsDisk, &dir, &dir).unwrap();
    assert_eq!(applied.replayed, 12);
    assert_eq!(applied.tree.last_zxid(), E1 + 20);
}

/// The torn-tail and corruption rules are `recover`'s.
#[tokio::test]
async fn recovery_for_zab_cuts_a_torn_tail_and_refuses_corruption() {
    let (_tmp, dir) = tempdir();
    let log = two_segments(&dir).await;
    log.stop().await;
    let last = dir.join(format!("log.{:x}", E1 + 11));
    let bytes = std::fs::read(&last).unwrap();
    let end = txnlog::read_segment(&bytes, true).unwrap().valid_len as usize;
    // Half a record after the last complete one, as a crash mid-write leaves it.
    let mut torn = bytes[..end].to_vec();
    let mut rec = Vec::new();
    let (h, t) = entry(E1 + 21);
    txnlog::encode_record(&h, &t, &mut rec);
    torn.extend_from_slice(&rec[..rec.len() / 2]);
    std::fs::write(&last, &torn).unwrap();
    assert_log(&zab(&dir), &range(E1, 1..=20));
    assert_eq!(std::fs::metadata(&last).unwrap().len(), end as u64);

    // A damaged record in the first segment, followed by good ones: an error naming the file.
    let first = dir.join(format!("log.{:x}", E1 + 1));
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[16 + 20] ^= 0xff;
    std::fs::write(&first, &bytes).unwrap();
    let e = match recovery::recover_for_zab(&FsDisk, &dir, &dir) {
        Err(e) => format!("{e:#}"),
        Ok(_) => panic!("corruption accepted"),
    };
    assert!(
        e.contains(&format!("log.{:x} is corrupt at offset 16", E1 + 1)),
        "{e}"
    );
}

/// Truncation refuses to cut through a damaged segment (it cannot tell which records are at
/// or below the cut) and leaves the files untouched; the log task stops.
#[tokio::test]
async fn truncate_through_corruption_fails_and_stops_the_log() {
    let (_tmp, dir) = tempdir();
    let log = two_segments(&dir).await;
    let first = dir.join(format!("log.{:x}", E1 + 1));
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[16 + 20] ^= 0xff;
    std::fs::write(&first, &bytes).unwrap();
    let (done, answer) = oneshot::channel();
    log.tx
        .send(LogCmd::Truncate { zxid: E1 + 5, done })
        .await
        .unwrap();
    let e = answer.await.unwrap().unwrap_err();
    assert!(e.contains("corrupt at offset 16"), "{e}");
    assert!(log.task.await.unwrap().is_err());
    assert_eq!(segments(&dir), [E1 + 1, E1 + 11]);
}

/// A crash while a segment was being created leaves a file without a whole header. Recovery
/// removes it (an empty file left in its place would read as damage once a later segment is
/// written, after the next election).
#[tokio::test]
async fn a_segment_with_a_torn_header_is_removed() {
    let (_tmp, dir) = tempdir();
    let log = two_segments(&dir).await;
    log.stop().await;
    let torn = dir.join(format!("log.{:x}", E1 + 21));
    std::fs::write(&torn, b"ZKLG\0\0").unwrap();
    assert_log(&zab(&dir), &range(E1, 1..=20));
    assert!(!torn.exists());
    let mut log = Log::start(&dir, E1 + 20);
    log.append(range(E2, 1..=2)).await;
    log.stop().await;
    let want: Vec<i64> = range(E1, 1..=20)
        .into_iter()
        .chain(range(E2, 1..=2))
        .collect();
    assert_log(&zab(&dir), &want);
}
