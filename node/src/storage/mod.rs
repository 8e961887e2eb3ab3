//! Storage: the transaction log behind the request pipeline, snapshots, and recovery.
//!
//! The pipeline's contract: a batch of transactions goes to the log task, the log task writes
//! them and makes them durable with **one fsync for the whole batch** (group commit: everything
//! that arrived while the previous fsync ran), and only then publishes "durable up to zxid". The
//! core applies and answers nothing above that mark.
//!
//! Failures: a failed *write* (a full disk) leaves no partial record (the segment is cut back),
//! is reported to the core, which refuses the affected writes and carries on serving reads;
//! the log then ignores appends until the core says `Resume`. A failed *fsync* is fatal: what is
//! on disk is unknown, so the task stops and the node stops acknowledging anything.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod disk;
pub mod epoch;
pub mod purge;
pub mod recovery;
pub mod snapshot;
pub mod txnlog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use zk_proto::txn::{Txn, TxnHeader};

/// Where transactions are made durable.
pub trait TxnLog: Send + 'static {
    /// Appends a record; it need not be written or durable yet (a log may buffer it until
    /// [`TxnLog::write_out`]). On error nothing of it, nor of anything appended since the
    /// last successful `write_out`, remains.
    fn append(&mut self, hdr: &TxnHeader, txn: &Txn) -> std::io::Result<()>;
    /// Writes what `append` buffered (one write for the whole batch). On error nothing of it
    /// remains: the log ends at the last record written before.
    fn write_out(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
    /// The next append starts a new segment (after a snapshot).
    fn roll(&mut self) {}
    /// The file being written, for error messages.
    fn current_segment(&self) -> Option<&std::path::Path> {
        None
    }
    /// Removes every entry with a zxid above `zxid`, durably (Zab's TRUNC). Everything
    /// appended before must have been synced. The next append starts a new segment.
    fn truncate_after(&mut self, zxid: i64) -> std::io::Result<()>;
}

/// Keeps transactions in memory (no durability across restarts).
#[derive(Debug, Default)]
pub struct MemLog {
    pub entries: Vec<(TxnHeader, Txn)>,
}

impl TxnLog for MemLog {
    fn append(&mut self, hdr: &TxnHeader, txn: &Txn) -> std::io::Result<()> {
        self.entries.push((hdr.clone(), txn.clone()));
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn truncate_after(&mut self, zxid: i64) -> std::io::Result<()> {
        self.entries.retain(|(h, _)| h.zxid <= zxid);
        Ok(())
    }
}

/// How many commands may wait for the log task before the core blocks: bounds memory and
/// makes a slow disk push back on clients instead of queueing without limit.
pub const LOG_QUEUE_CAP: usize = 4096;

/// What the core asks of the log task. Commands are carried out in the order they were sent.
#[derive(Debug)]
pub enum LogCmd {
    Append(TxnHeader, Txn),
    /// The same, for an entry the Zab core already holds (shared, not copied).
    AppendEntry(std::sync::Arc<zk_proto::quorum::TxnLogEntry>),
    /// Start a new segment with the next append (a snapshot was taken).
    Roll,
    /// After a reported write failure: accept appends again.
    Resume,
    /// Zab's TRUNC, a barrier: every append sent before it is first made durable (and
    /// published on the durable watch as usual); then every entry above `zxid` is removed from
    /// the log durably, the durable watch is lowered to `zxid` if it is above, the next append
    /// starts a new segment, and `done` is answered. An `Err` (the log could not be cut) is
    /// fatal: the log task stops after answering it, like after a failed fsync.
    Truncate {
        zxid: i64,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// Zab's SNAP, a barrier, sent after the snapshot at `zxid` was written
    /// ([`snapshot::write`]): every append sent before it that is not durable yet is dropped
    /// (never written), every entry above `zxid` is removed from the log durably, the durable
    /// watch is set to `zxid`, the next append starts a new segment, and `done` is answered.
    /// An `Err` is fatal, as for [`LogCmd::Truncate`].
    Reset {
        zxid: i64,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// A write the log could not make.
#[derive(Debug, Clone)]
pub struct LogFailure {
    /// Everything above this zxid was not logged.
    pub durable_zxid: i64,
    pub error: String,
}

/// Counters for group commit, read by `mntr` and the benchmarks.
#[derive(Debug, Default)]
pub struct LogStats {
    pub fsyncs: AtomicU64,
    pub txns: AtomicU64,
    pub fsync_micros_total: AtomicU64,
}

impl LogStats {
    /// Average transactions made durable per fsync.
    pub fn txns_per_fsync(&self) -> f64 {
        let f = self.fsyncs.load(Ordering::Relaxed);
        if f == 0 {
            0.0
        } else {
            self.txns.load(Ordering::Relaxed) as f64 / f as f64
        }
    }
}

/// Runs the log until the core goes away (Ok) or an fsync or a truncation fails (Err: fatal).
pub async fn run_log<L: TxnLog>(
    log: L,
    mut rx: mpsc::Receiver<LogCmd>,
    durable: watch::Sender<i64>,
    failures: mpsc::Sender<LogFailure>,
    stats: Arc<LogStats>,
) -> std::io::Result<()> {
    let last_durable = *durable.borrow();
    let mut task = LogTask {
        last_durable,
        log,
        durable,
        failures,
        stats,
        blocked: false,
        wrote: 0,
        last: 0,
        pending: 0,
        pending_last: 0,
        failure: None,
    };
    task.last = task.last_durable;
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, LOG_QUEUE_CAP).await > 0 {
        // Appends before the batch's last Reset are superseded by the snapshot: not written.
        let reset_at = batch
            .iter()
            .rposition(|c| matches!(c, LogCmd::Reset { .. }));
        for (i, cmd) in batch.drain(..).enumerate() {
            match cmd {
                LogCmd::Roll => {
                    // What is buffered belongs to the segment before the roll.
                    task.write_out();
                    task.log.roll()
                }
                LogCmd::Resume => task.blocked = false,
                LogCmd::Append(..) | LogCmd::AppendEntry(..) if reset_at.is_some_and(|r| i < r) => {
                }
                LogCmd::Append(..) | LogCmd::AppendEntry(..)
                    if task.blocked || task.failure.is_some() => {}
                LogCmd::Append(h, t) => task.append(&h, &t),
                LogCmd::AppendEntry(e) => task.append(&e.hdr, &e.txn),
                LogCmd::Truncate { zxid, done } => {
                    if task.flush().await? == Flow::Stop {
                        return Ok(());
                    }
                    task.cut(zxid, "truncate", done)?;
                    if task.last_durable > zxid {
                        task.publish(zxid);
                    }
                }
                LogCmd::Reset { zxid, done } => {
                    // Nothing of this batch was written before it (see `reset_at`); a failure
                    // reported now concerns appends the snapshot replaces anyway.
                    if task.flush().await? == Flow::Stop {
                        return Ok(());
                    }
                    task.cut(zxid, "reset", done)?;
                    task.publish(zxid);
                }
            }
        }
        if task.flush().await? == Flow::Stop {
            return Ok(());
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The core went away.
    Stop,
}

/// The log task's state between commands.
struct LogTask<L> {
    log: L,
    durable: watch::Sender<i64>,
    failures: mpsc::Sender<LogFailure>,
    stats: Arc<LogStats>,
    /// A write failed; appends are ignored until `Resume`.
    blocked: bool,
    /// The highest zxid published as durable.
    last_durable: i64,
    /// Appends written since the last sync, and the last one's zxid.
    wrote: u64,
    last: i64,
    /// Appends buffered by the log since its last write-out, and the last one's zxid.
    pending: u64,
    pending_last: i64,
    /// A write failure not reported yet.
    failure: Option<std::io::Error>,
}

impl<L: TxnLog> LogTask<L> {
    fn file(&self) -> String {
        self.log
            .current_segment()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    fn publish(&mut self, zxid: i64) {
        self.last_durable = zxid;
        self.last = zxid;
        self.durable.send_replace(zxid);
    }

    /// Makes what was written durable with one fsync, publishes it, and reports a write
    /// failure. Err: the fsync failed (fatal).
    fn append(&mut self, h: &TxnHeader, t: &Txn) {
        match self.log.append(h, t) {
            Ok(()) => {
                self.pending += 1;
                self.pending_last = h.zxid;
            }
            Err(e) => {
                // Whatever was buffered with it is gone too.
                self.pending = 0;
                self.failure = Some(e);
            }
        }
    }

    /// Has the log write what it buffered; on failure none of it counts as written.
    fn write_out(&mut self) {
        if self.pending == 0 {
            return;
        }
        match self.log.write_out() {
            Ok(()) => {
                self.wrote += self.pending;
                self.last = self.pending_last;
            }
            Err(e) => self.failure = Some(e),
        }
        self.pending = 0;
    }

    async fn flush(&mut self) -> std::io::Result<Flow> {
        self.write_out();
        if self.wrote > 0 {
            let t0 = std::time::Instant::now();
            // The fsync blocks this thread for as long as the disk takes. On a multi-threaded
            // runtime, hand this worker's other tasks to another thread first: the core task,
            // just woken by the last publish, must not wait in this worker's queue behind the
            // fsync (that alone cost ensembles milliseconds per write).
            let synced = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                    tokio::task::block_in_place(|| self.log.sync())
                }
                _ => self.log.sync(),
            };
            if let Err(e) = synced {
                let file = self.file();
                tracing::error!("fsync of transaction log {file} failed: {e}; stopping: what is on disk is unknown, so nothing more can be acknowledged. Check the disk, then restart the node");
                return Err(e);
            }
            self.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
            self.stats.txns.fetch_add(self.wrote, Ordering::Relaxed);
            self.stats
                .fsync_micros_total
                .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            self.wrote = 0;
            self.publish(self.last);
        }
        if let Some(e) = self.failure.take() {
            let error = format!("cannot write transaction log {}: {e}", self.file());
            tracing::error!("{error}; refusing writes until space returns; reads are still served");
            self.blocked = true;
            let report = LogFailure {
                durable_zxid: self.last_durable,
                error,
            };
            if self.failures.send(report).await.is_err() {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    /// Removes every entry above `zxid` and answers `done`. Err: the log could not be cut
    /// (fatal: what is on disk is unknown).
    fn cut(
        &mut self,
        zxid: i64,
        what: &str,
        done: oneshot::Sender<Result<(), String>>,
    ) -> std::io::Result<()> {
        match self.log.truncate_after(zxid) {
            Ok(()) => {
                tracing::info!("transaction log: {what} after zxid {zxid:#x} done");
                let _ = done.send(Ok(()));
                Ok(())
            }
            Err(e) => {
                let error = format!("cannot {what} the transaction log after zxid {zxid:#x}: {e}");
                tracing::error!("{error}; stopping: nothing more can be acknowledged. Check the disk and the log files, then restart the node");
                let _ = done.send(Err(error));
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use zk_proto::txn::SetDataTxn;

    /// What the log task asked of the log, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Op {
        Append(i64),
        Sync,
        Truncate(i64),
    }

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Op>>>);

    impl TxnLog for Recorder {
        fn append(&mut self, hdr: &TxnHeader, _: &Txn) -> std::io::Result<()> {
            self.0.lock().unwrap().push(Op::Append(hdr.zxid));
            Ok(())
        }
        fn sync(&mut self) -> std::io::Result<()> {
            self.0.lock().unwrap().push(Op::Sync);
            Ok(())
        }
        fn truncate_after(&mut self, zxid: i64) -> std::io::Result<()> {
            self.0.lock().unwrap().push(Op::Truncate(zxid));
            Ok(())
        }
    }

    fn append(zxid: i64) -> LogCmd {
        LogCmd::Append(
            TxnHeader {
                client_id: 1,
                cxid: 1,
                zxid,
                time: 1,
                txn_type: 5,
            },
            Txn::SetData(SetDataTxn {
                path: "/a".into(),
                data: None,
                version: -1,
            }),
        )
    }

    struct Harness {
        tx: mpsc::Sender<LogCmd>,
        durable: watch::Receiver<i64>,
        ops: Recorder,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
        _failures: mpsc::Receiver<LogFailure>,
    }

    /// Queues `cmds` before the task starts, so that they form one batch.
    fn start(cmds: Vec<LogCmd>) -> Harness {
        let (tx, rx) = mpsc::channel(LOG_QUEUE_CAP);
        for c in cmds {
            tx.try_send(c).unwrap();
        }
        let (durable_tx, durable) = watch::channel(0);
        let (fail_tx, failures) = mpsc::channel(4);
        let ops = Recorder::default();
        let task = tokio::spawn(run_log(
            ops.clone(),
            rx,
            durable_tx,
            fail_tx,
            Arc::new(LogStats::default()),
        ));
        Harness {
            tx,
            durable,
            ops,
            task,
            _failures: failures,
        }
    }

    const E1: i64 = 1 << 32;
    const E2: i64 = 2 << 32;

    #[tokio::test]
    async fn truncate_is_a_barrier_and_lowers_the_durable_mark() {
        let (done, answer) = oneshot::channel();
        let mut cmds: Vec<LogCmd> = (1..=5).map(|c| append(E1 + c)).collect();
        cmds.push(LogCmd::Truncate { zxid: E1 + 3, done });
        let mut h = start(cmds);
        answer.await.unwrap().unwrap();
        // Everything before the barrier was synced before the cut.
        let want: Vec<Op> = (1..=5)
            .map(|c| Op::Append(E1 + c))
            .chain([Op::Sync, Op::Truncate(E1 + 3)])
            .collect();
        assert_eq!(*h.ops.0.lock().unwrap(), want);
        assert_eq!(*h.durable.borrow_and_update(), E1 + 3);
        // Truncating above the mark leaves it alone.
        let (done, answer) = oneshot::channel();
        h.tx.send(LogCmd::Truncate { zxid: E2, done })
            .await
            .unwrap();
        answer.await.unwrap().unwrap();
        assert_eq!(*h.durable.borrow(), E1 + 3);
        // Appends after it go on as usual.
        h.tx.send(append(E2 + 1)).await.unwrap();
        h.durable.changed().await.unwrap();
        assert_eq!(*h.durable.borrow(), E2 + 1);
        drop(h.tx);
        h.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn reset_drops_appends_queued_before_it() {
        let (done, answer) = oneshot::channel();
        let h = start(vec![
            append(E1 + 1),
            append(E1 + 2),
            LogCmd::Reset { zxid: E2 + 7, done },
            append(E2 + 8),
        ]);
        answer.await.unwrap().unwrap();
        let mut durable = h.durable.clone();
        while *durable.borrow_and_update() != E2 + 8 {
            durable.changed().await.unwrap();
        }
        assert_eq!(
            *h.ops.0.lock().unwrap(),
            [Op::Truncate(E2 + 7), Op::Append(E2 + 8), Op::Sync]
        );
        drop(h.tx);
        h.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn reset_sets_the_durable_mark_even_below_it() {
        let h = start((1..=4).map(|c| append(E1 + c)).collect());
        let mut durable = h.durable.clone();
        while *durable.borrow_and_update() != E1 + 4 {
            durable.changed().await.unwrap();
        }
        let (done, answer) = oneshot::channel();
        h.tx.send(LogCmd::Reset { zxid: E1 + 2, done })
            .await
            .unwrap();
        answer.await.unwrap().unwrap();
        assert_eq!(*durable.borrow_and_update(), E1 + 2);
        drop(h.tx);
        h.task.await.unwrap().unwrap();
    }

    /// A log that cannot be cut stops the task after answering.
    #[tokio::test]
    async fn failed_truncation_is_answered_then_fatal() {
        struct Broken;
        impl TxnLog for Broken {
            fn append(&mut self, _: &TxnHeader, _: &Txn) -> std::io::Result<()> {
                Ok(())
            }
            fn sync(&mut self) -> std::io::Result<()> {
                Ok(())
            }
            fn truncate_after(&mut self, _: i64) -> std::io::Result<()> {
                Err(std::io::Error::other("injected"))
            }
        }
        let (tx, rx) = mpsc::channel(8);
        let (durable_tx, _durable) = watch::channel(0);
        let (fail_tx, _failures) = mpsc::channel(4);
        let task = tokio::spawn(run_log(
            Broken,
            rx,
            durable_tx,
            fail_tx,
            Arc::new(LogStats::default()),
        ));
        let (done, answer) = oneshot::channel();
        tx.send(LogCmd::Truncate { zxid: 3, done }).await.unwrap();
        let e = answer.await.unwrap().unwrap_err();
        assert!(
            e.contains("cannot truncate the transaction log after zxid 0x3: injected"),
            "{e}"
        );
        assert!(task.await.unwrap().is_err());
    }

    #[test]
    fn mem_log_truncates() {
        let mut log = MemLog::default();
        for z in 1..=4 {
            let LogCmd::Append(h, t) = append(z) else {
                unreachable!()
            };
            log.append(&h, &t).unwrap();
        }
        log.truncate_after(2).unwrap();
        let left: Vec<i64> = log.entries.iter().map(|(h, _)| h.zxid).collect();
        assert_eq!(left, [1, 2]);
    }
}
