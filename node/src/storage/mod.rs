//! Storage: the transaction log behind the request pipeline.
//!
//! The pipeline's contract is the one the durable log (issue 3) keeps: a batch of transactions
//! goes to the log task, the log task makes them durable (one fsync for the whole batch: group
//! commit), and only then publishes "durable up to zxid". The core applies and answers nothing
//! above that mark. Today the log is kept in memory ([`MemLog`]); the file-backed log slots in
//! behind the same [`TxnLog`] trait.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use tokio::sync::{mpsc, watch};
use zk_proto::txn::{Txn, TxnHeader};

/// Where transactions are made durable.
pub trait TxnLog: Send + 'static {
    /// Appends records; they need not be durable yet.
    fn append(&mut self, hdr: &TxnHeader, txn: &Txn) -> std::io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
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

/// How many transactions may wait for the log task before the core blocks: bounds memory and
/// makes a slow disk push back on clients instead of queueing without limit.
pub const LOG_QUEUE_CAP: usize = 4096;

/// Runs the log: drains every waiting transaction, appends them, syncs once, publishes the
/// highest zxid now durable. An I/O error is fatal: the node must not acknowledge what may not
/// be on disk, so the task publishes nothing more and returns the error.
pub async fn run_log<L: TxnLog>(
    mut log: L,
    mut rx: mpsc::Receiver<(TxnHeader, Txn)>,
    durable: watch::Sender<i64>,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, LOG_QUEUE_CAP).await > 0 {
        let last = batch
            .last()
            .map(|(h, _): &(TxnHeader, Txn)| h.zxid)
            .unwrap_or(0);
        for (h, t) in batch.drain(..) {
            log.append(&h, &t)?;
        }
        log.sync()?;
        durable.send_replace(last);
    }
    Ok(())
}
