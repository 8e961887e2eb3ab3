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
pub mod purge;
pub mod recovery;
pub mod snapshot;
pub mod txnlog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use zk_proto::txn::{Txn, TxnHeader};

/// Where transactions are made durable.
pub trait TxnLog: Send + 'static {
    /// Appends a record; it need not be durable yet. On error nothing of it remains.
    fn append(&mut self, hdr: &TxnHeader, txn: &Txn) -> std::io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
    /// The next append starts a new segment (after a snapshot).
    fn roll(&mut self) {}
    /// The file being written, for error messages.
    fn current_segment(&self) -> Option<&std::path::Path> {
        None
    }
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
}

/// How many commands may wait for the log task before the core blocks: bounds memory and
/// makes a slow disk push back on clients instead of queueing without limit.
pub const LOG_QUEUE_CAP: usize = 4096;

/// What the core asks of the log task.
#[derive(Debug)]
pub enum LogCmd {
    Append(TxnHeader, Txn),
    /// Start a new segment with the next append (a snapshot was taken).
    Roll,
    /// After a reported write failure: accept appends again.
    Resume,
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

/// Runs the log until the core goes away (Ok) or an fsync fails (Err: fatal).
pub async fn run_log<L: TxnLog>(
    mut log: L,
    mut rx: mpsc::Receiver<LogCmd>,
    durable: watch::Sender<i64>,
    failures: mpsc::Sender<LogFailure>,
    stats: Arc<LogStats>,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(256);
    let mut blocked = false;
    let mut last_durable = *durable.borrow();
    while rx.recv_many(&mut batch, LOG_QUEUE_CAP).await > 0 {
        let mut wrote = 0u64;
        let mut last = last_durable;
        let mut failure = None;
        for cmd in batch.drain(..) {
            match cmd {
                LogCmd::Roll => log.roll(),
                LogCmd::Resume => blocked = false,
                LogCmd::Append(..) if blocked || failure.is_some() => {}
                LogCmd::Append(h, t) => match log.append(&h, &t) {
                    Ok(()) => {
                        wrote += 1;
                        last = h.zxid;
                    }
                    Err(e) => failure = Some(e),
                },
            }
        }
        if wrote > 0 {
            let t0 = std::time::Instant::now();
            if let Err(e) = log.sync() {
                let file = log
                    .current_segment()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                tracing::error!("fsync of transaction log {file} failed: {e}; stopping: what is on disk is unknown, so nothing more can be acknowledged. Check the disk, then restart the node");
                return Err(e);
            }
            stats.fsyncs.fetch_add(1, Ordering::Relaxed);
            stats.txns.fetch_add(wrote, Ordering::Relaxed);
            stats
                .fsync_micros_total
                .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            last_durable = last;
            durable.send_replace(last);
        }
        if let Some(e) = failure {
            let file = log
                .current_segment()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let error = format!("cannot write transaction log {file}: {e}");
            tracing::error!("{error}; refusing writes until space returns; reads are still served");
            blocked = true;
            if failures
                .send(LogFailure {
                    durable_zxid: last_durable,
                    error,
                })
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
    Ok(())
}
