//! Purging on real data directories: the autopurge task (`purge_interval_hours`, first run at
//! start) and `zk-node purge` (zkCleanup.sh) leave the newest `snap_retain_count` snapshots and
//! the logs needed after them, and the node recovers every write from what is left.
//!
//! Method: an in-process server with a tiny `snap_count` writes many snapshots and log segments
//! while a client creates nodes; then the directory is purged (by a restarted server with
//! autopurge on, or by the CLI) and recovered, and every node must be there.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::Path;
use std::time::Duration;

use zk_node::storage::disk::FsDisk;
use zk_node::storage::{recovery, snapshot, txnlog};
use zk_node::{Config, Server};
use zookeeper_client as zk;

const NODES: usize = 80;

fn config(dir: &Path) -> Config {
    let mut cfg = Config::for_dev(0, dir.to_path_buf());
    // A snapshot (and a new log segment) every 2..4 transactions.
    cfg.snap_count = 4;
    cfg
}

/// Snapshots and log segments in `<dir>/version-2`, oldest first.
fn files(dir: &Path) -> (Vec<i64>, Vec<i64>) {
    let v2 = dir.join("version-2");
    let mut snaps: Vec<i64> = snapshot::list(&FsDisk, &v2)
        .unwrap()
        .into_iter()
        .map(|s| s.0)
        .collect();
    snaps.reverse();
    let logs = txnlog::list_segments(&FsDisk, &v2)
        .unwrap()
        .into_iter()
        .map(|s| s.0)
        .collect();
    (snaps, logs)
}

/// Fills `dir` with NODES creates through a server, leaving many snapshots and segments.
async fn fill(dir: &Path) {
    let server = Server::start(config(dir)).await.unwrap();
    let c = zk::Client::connect(&server.client_addr.to_string())
        .await
        .unwrap();
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for i in 0..NODES {
        c.create(&format!("/p{i}"), b"v", &opts).await.unwrap();
    }
    drop(c);
    // Background snapshots finish on their own threads.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop().await;
    let (snaps, logs) = files(dir);
    assert!(snaps.len() > 10 && logs.len() > 10, "{snaps:?} {logs:?}");
}

/// Every node written by `fill` is recovered from what is left.
fn assert_recovers_everything(dir: &Path) {
    let v2 = dir.join("version-2");
    let rec = recovery::recover(&FsDisk, &v2, &v2).unwrap();
    for i in 0..NODES {
        assert!(rec.tree.get(&format!("/p{i}")).is_some(), "/p{i} lost");
    }
}

/// What purging with `retain` must leave: the newest `retain` snapshots, and the logs from the
/// newest one starting at or before the oldest of them.
fn assert_purged(before: &(Vec<i64>, Vec<i64>), after: &(Vec<i64>, Vec<i64>), retain: usize) {
    let kept_snaps = &before.0[before.0.len() - retain..];
    assert_eq!(&after.0[..retain], kept_snaps, "snapshots kept");
    let oldest = kept_snaps[0];
    let first_log = *before.1.iter().filter(|z| **z <= oldest).max().unwrap();
    let want: Vec<i64> = before
        .1
        .iter()
        .copied()
        .filter(|z| *z >= first_log)
        .collect();
    assert_eq!(&after.1[..want.len()], &want[..], "logs kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopurge_runs_at_start_and_keeps_what_recovery_needs() {
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path()).await;
    let before = files(tmp.path());
    let mut cfg = config(tmp.path());
    cfg.purge_interval_hours = 1;
    cfg.snap_retain_count = 4;
    let server = Server::start(cfg).await.unwrap();
    // The restart may add a snapshot (and the log after it) before purging.
    let union = |a: &[i64], b: &[i64]| {
        let mut v: Vec<i64> = a.iter().chain(b).copied().collect();
        v.sort();
        v.dedup();
        v
    };
    let mut after = files(tmp.path());
    let mut all = (union(&before.0, &after.0), union(&before.1, &after.1));
    // Purging runs in the background: wait until the oldest files needed are the oldest left.
    for _ in 0..200 {
        let oldest_kept = all.0[all.0.len() - 4];
        let first_log = all.1.iter().filter(|z| **z <= oldest_kept).max();
        if after.0.first() == Some(&oldest_kept) && after.1.first() == first_log {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = files(tmp.path());
        all = (union(&all.0, &after.0), union(&all.1, &after.1));
    }
    server.stop().await;
    assert_eq!(after.0.len(), 4, "{after:?}");
    assert_purged(&all, &after, 4);
    assert_recovers_everything(tmp.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_node_purge_trims_a_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    fill(tmp.path()).await;
    let before = files(tmp.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zk-node"))
        .args(["purge", "--data-dir"])
        .arg(tmp.path())
        .args(["--count", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = files(tmp.path());
    assert_eq!(after.0.len(), 3);
    assert_purged(&before, &after, 3);
    let removed = before.0.len() + before.1.len() - after.0.len() - after.1.len();
    assert!(
        stdout.contains(&format!("removed {removed} file(s)")),
        "{stdout}"
    );
    assert_recovers_everything(tmp.path());
}
