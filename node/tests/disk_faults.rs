//! Disk faults (issue 3, acceptance 3): a full disk refuses writes with an error and a clear log
//! message while reads go on; when space returns writes succeed again, and a restart finds every
//! acknowledged write and none of the refused ones. A failed fsync stops the node, which then
//! acknowledges nothing more.
//!
//! Method: the server runs in-process on a temporary directory through a `FaultDisk`, whose
//! switches (`disk_full`, `sync_fails`) the test flips; an independent client (the
//! zookeeper-client crate) drives it. Log lines are captured by a tracing subscriber installed
//! for this test binary.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use zk_node::storage::disk::{FaultDisk, Faults, FsDisk};
use zk_node::{Config, Server};
use zookeeper_client as zk;

/// ZooKeeper's SystemError, which a refused write answers (zookeeper-client has no name for it).
const SYSTEM_ERROR: zk::Error = zk::Error::UnexpectedErrorCode(-1);

/// Everything the server logged, for checking its messages.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let c = Captured::default();
        tracing_subscriber::fmt()
            .with_writer(c.clone())
            .with_ansi(false)
            .init();
        c
    })
}

fn logged(needle: &str) -> bool {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).contains(needle)
}

fn config(dir: &Path) -> Config {
    let mut cfg = Config::for_dev(0, dir.to_path_buf());
    // Snapshots now and then, so they are written (and refused) under the faults too.
    cfg.snap_count = 20;
    cfg
}

async fn start(dir: &Path, faults: &Arc<Faults>) -> Server {
    logs();
    let disk = Arc::new(FaultDisk {
        faults: faults.clone(),
    });
    Server::start_with_disk(config(dir), disk).await.unwrap()
}

async fn client(server: &Server) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(20))
        .connect(&server.client_addr.to_string())
        .await
        .unwrap()
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn children(c: &zk::Client, path: &str) -> BTreeSet<String> {
    c.list_children(path).await.unwrap().into_iter().collect()
}

/// One client, one switch: writes are refused with SystemError while the disk is full, reads
/// answer the last acknowledged data, the log says what happened, and after space returns
/// writes work again; a restart shows exactly the acknowledged writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_writes_serves_reads_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let server = start(tmp.path(), &faults).await;
    let c = client(&server).await;
    c.create("/a", b"1", &persistent()).await.unwrap();
    c.create("/a/before", b"", &persistent()).await.unwrap();

    faults.disk_full.store(true, Ordering::SeqCst);
    let e = c
        .create("/a/refused", b"", &persistent())
        .await
        .unwrap_err();
    assert_eq!(e, SYSTEM_ERROR);
    let e = c.set_data("/a", b"refused", None).await.unwrap_err();
    assert_eq!(e, SYSTEM_ERROR);
    assert!(c.delete("/a/before", None).await.is_err());
    // Reads keep being served, with the last acknowledged data.
    let (data, stat) = c.get_data("/a").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"1"[..], 0));
    assert_eq!(
        children(&c, "/a").await,
        BTreeSet::from(["before".to_string()])
    );
    assert!(c.check_stat("/a/refused").await.unwrap().is_none());
    assert!(
        logged("cannot write transaction log") && logged("No space left on device"),
        "the log must say why writes fail"
    );
    assert!(logged(
        "refusing writes until space returns; reads are still served"
    ));

    faults.disk_full.store(false, Ordering::SeqCst);
    c.set_data("/a", b"2", None).await.unwrap();
    c.create("/a/after", b"", &persistent()).await.unwrap();
    drop(c);
    server.stop().await;

    let server = start(tmp.path(), &faults).await;
    let c = client(&server).await;
    let (data, stat) = c.get_data("/a").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"2"[..], 1));
    assert_eq!(
        children(&c, "/a").await,
        BTreeSet::from(["after".to_string(), "before".to_string()])
    );
    drop(c);
    server.stop().await;
}

/// What concurrent writers saw.
#[derive(Default)]
struct Outcomes {
    acked: BTreeSet<String>,
    refused: BTreeSet<String>,
}

/// Many writers, the disk filling up and emptying under them: every create is either
/// acknowledged or refused with SystemError (nothing else), and after a restart exactly the
/// acknowledged ones exist, so no refused write slipped into the log and nothing acknowledged
/// was cut off with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_under_concurrent_writers_loses_nothing_acknowledged() {
    const WRITERS: usize = 8;
    let tmp = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let server = start(tmp.path(), &faults).await;
    let setup = client(&server).await;
    setup.create("/w", b"", &persistent()).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (acks, refusals) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let c = client(&server).await;
        let (stop, acks, refusals) = (stop.clone(), acks.clone(), refusals.clone());
        writers.push(tokio::spawn(async move {
            let mut out = Outcomes::default();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let path = format!("/w/{w}-{i}");
                i += 1;
                match c.create(&path, b"v", &persistent()).await {
                    Ok(_) => {
                        acks.fetch_add(1, Ordering::SeqCst);
                        out.acked.insert(path);
                    }
                    Err(e) => {
                        assert_eq!(e, SYSTEM_ERROR, "{path}: only SystemError is expected");
                        refusals.fetch_add(1, Ordering::SeqCst);
                        out.refused.insert(path);
                    }
                }
            }
            out
        }));
    }
    let wait_until = |counter: Arc<AtomicUsize>, n: usize| async move {
        for _ in 0..1000 {
            if counter.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("counter stuck at {}", counter.load(Ordering::SeqCst));
    };
    for round in 1..=3 {
        wait_until(acks.clone(), acks.load(Ordering::SeqCst) + 50).await;
        faults.disk_full.store(true, Ordering::SeqCst);
        wait_until(refusals.clone(), 50 * round).await;
        faults.disk_full.store(false, Ordering::SeqCst);
    }
    wait_until(acks.clone(), acks.load(Ordering::SeqCst) + 50).await;
    stop.store(true, Ordering::SeqCst);
    let mut all = Outcomes::default();
    for w in writers {
        let o = w.await.unwrap();
        all.acked.extend(o.acked);
        all.refused.extend(o.refused);
    }
    assert_eq!(children(&setup, "/w").await.len(), all.acked.len());
    drop(setup);
    server.stop().await;

    let server = start(tmp.path(), &faults).await;
    let c = client(&server).await;
    let present: BTreeSet<String> = children(&c, "/w")
        .await
        .into_iter()
        .map(|n| format!("/w/{n}"))
        .collect();
    let lost: Vec<_> = all.acked.difference(&present).collect();
    let leaked: Vec<_> = all.refused.intersection(&present).collect();
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:?}");
    assert!(leaked.is_empty(), "refused creates present: {leaked:?}");
    assert_eq!(present, all.acked);
    drop(c);
    server.stop().await;
}

/// A failed fsync is fatal: the node stops (`Server::failed` resolves with the reason), the
/// write in flight is never acknowledged, nor is anything after it; a restart on a healthy disk
/// has everything acknowledged before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fsync_stops_the_node_and_acknowledges_nothing_more() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let mut server = start(tmp.path(), &faults).await;
    let c = client(&server).await;
    c.create("/ok", b"", &persistent()).await.unwrap();

    faults.sync_fails.store(true, Ordering::SeqCst);
    let write = tokio::spawn(async move {
        let r = c.create("/unacknowledged", b"", &persistent()).await;
        (c, r)
    });
    let reason = tokio::time::timeout(Duration::from_secs(10), server.failed())
        .await
        .expect("the node must stop when fsync fails");
    assert!(reason.contains("fsync"), "{reason}");
    let (c, r) = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write in flight must end")
        .unwrap();
    assert!(r.is_err(), "a write whose fsync failed was acknowledged");
    assert!(logged("fsync of transaction log"), "the log must say why");
    // Nothing more is acknowledged: the session's requests fail (or wait for a server that
    // never answers again), and no new session is created.
    let more = tokio::time::timeout(
        Duration::from_millis(1500),
        c.create("/later", b"", &persistent()),
    )
    .await;
    assert!(
        !matches!(more, Ok(Ok(_))),
        "a write was acknowledged after the fsync failure"
    );
    let fresh = tokio::time::timeout(
        Duration::from_millis(1500),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(&server.client_addr.to_string()),
    )
    .await;
    assert!(
        !matches!(fresh, Ok(Ok(_))),
        "a session was created after the fsync failure"
    );
    drop(c);
    server.stop().await;

    faults.sync_fails.store(false, Ordering::SeqCst);
    let server = Server::start_with_disk(config(tmp.path()), Arc::new(FsDisk))
        .await
        .unwrap();
    let c = client(&server).await;
    assert!(c.check_stat("/ok").await.unwrap().is_some());
    assert!(c.check_stat("/later").await.unwrap().is_none());
    drop(c);
    server.stop().await;
}
