//! A steady write load from several client sessions, with a record of every acknowledged write,
//! and the checks a fault test runs against it.
//!
//! Each writer is one session of the `zookeeper-client` crate (an independent client) on the
//! connect string it is given, creating `<root>/w<k>/<n>` with data `w<k>-<n>` for n = 0, 1, 2...
//! one at a time. A create answered `Ok` is *acknowledged* and must survive every fault; one that
//! failed or timed out is *uncertain* (it may or may not have been committed) and is never
//! required. Unique paths make the two easy to tell apart afterwards. A writer whose session
//! is lost opens a new one and goes on.
//!
//! The checks read one server at a time (a client connected to that server only), after a
//! `sync`, so they see exactly what that server has applied: [`check_acked_on`] asks that every
//! acknowledged write be there with its data, [`crate::treedump`] compares whole trees.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::stream::{self, StreamExt};
use zookeeper_client as zk;

/// How long one write may take before it counts as uncertain (a leader change can hold a write
/// for a few seconds; longer means the session is stuck on a dead server).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a writer waits to open a session before it tries again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The session timeout writers ask for (the ensembles allow up to 30 s): long enough to ride out
/// a leader election and a move to another server.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests a checker keeps in flight on one connection.
const CHECK_PIPELINE: usize = 128;

/// Every acknowledged write: path → data.
#[derive(Debug, Default)]
pub struct Acked {
    writes: Mutex<BTreeMap<String, Vec<u8>>>,
    count: AtomicU64,
}

impl Acked {
    pub fn record(&self, path: String, data: Vec<u8>) {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path, data);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// A copy of the record as it is now.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Counters of one load run, for messages.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub acked: AtomicU64,
    pub failed: AtomicU64,
    pub timed_out: AtomicU64,
    pub sessions_opened: AtomicU64,
}

impl LoadStats {
    pub fn summary(&self) -> String {
        format!(
            "{} acknowledged, {} failed, {} timed out, {} sessions opened",
            self.acked.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            self.timed_out.load(Ordering::SeqCst),
            self.sessions_opened.load(Ordering::SeqCst)
        )
    }
}

/// A running write load. Stop it with [`WriteLoad::stop`]; dropping it stops the writers too
/// (they see the flag after their current write).
pub struct WriteLoad {
    root: String,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    acked: Arc<Acked>,
    stats: Arc<LoadStats>,
}

impl WriteLoad {
    /// Creates `root` and `root/w<k>` for each writer through `connect` and starts `writers`
    /// sessions on `connect`, each pausing `pace` between writes. The writers share `acked`.
    pub async fn start(
        connect: &str,
        root: &str,
        writers: usize,
        pace: Duration,
        acked: Arc<Acked>,
    ) -> Result<WriteLoad> {
        let setup = connect_client(connect, SESSION_TIMEOUT).await?;
        create_if_missing(&setup, root).await?;
        for k in 0..writers {
            create_if_missing(&setup, &format!("{root}/w{k}")).await?;
        }
        close_client(setup).await;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(LoadStats::default());
        let tasks = (0..writers)
            .map(|k| {
                let w = Writer {
                    connect: connect.to_string(),
                    parent: format!("{root}/w{k}"),
                    tag: format!("w{k}"),
                    pace,
                    stop: stop.clone(),
                    acked: acked.clone(),
                    stats: stats.clone(),
                };
                tokio::spawn(w.run())
            })
            .collect();
        Ok(WriteLoad {
            root: root.to_string(),
            stop,
            tasks,
            acked,
            stats,
        })
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn acked(&self) -> &Arc<Acked> {
        &self.acked
    }

    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }

    /// Waits until `n` more writes are acknowledged than when called: proof that the ensemble
    /// serves writes again after a fault.
    pub async fn wait_for_progress(&self, n: u64, timeout: Duration) -> Result<()> {
        let start = self.stats.acked.load(Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.stats.acked.load(Ordering::SeqCst);
            if now >= start + n {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the write load made {} of {n} acknowledged writes within {timeout:?} ({})",
                    now - start,
                    self.stats.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the writers and waits for them (each finishes or abandons its current write).
    pub async fn stop(mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks.drain(..) {
            t.await.context("writer task panicked")?;
        }
        Ok(())
    }
}

impl Drop for WriteLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One writer session's loop.
struct Writer {
    connect: String,
    parent: String,
    tag: String,
    pace: Duration,
    stop: Arc<AtomicBool>,
    acked: Arc<Acked>,
    stats: Arc<LoadStats>,
}

impl Writer {
    async fn run(self) {
        let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let mut client: Option<zk::Client> = None;
        let mut n: u64 = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let c = match client.take() {
                Some(c) => c,
                None => match connect_client(&self.connect, SESSION_TIMEOUT).await {
                    Ok(c) => {
                        self.stats.sessions_opened.fetch_add(1, Ordering::SeqCst);
                        c
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let path = format!("{}/{n:010}", self.parent);
            let data = format!("{}-{n}", self.tag).into_bytes();
            n += 1;
            match tokio::time::timeout(WRITE_TIMEOUT, c.create(&path, &data, &opts)).await {
                Ok(Ok(_)) => {
                    self.acked.record(path, data);
                    self.stats.acked.fetch_add(1, Ordering::SeqCst);
                    client = Some(c);
                    tokio::time::sleep(self.pace).await;
                }
                Ok(Err(e)) => {
                    self.stats.failed.fetch_add(1, Ordering::SeqCst);
                    // A session the client gave up on is replaced; otherwise the client is
                    // reconnecting by itself and the next write waits for it.
                    if !matches!(
                        e,
                        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
                    ) {
                        client = Some(c);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => {
                    self.stats.timed_out.fetch_add(1, Ordering::SeqCst);
                    // A session stuck this long is abandoned (its server may be cut off).
                }
            }
        }
        if let Some(c) = client {
            close_client(c).await;
        }
    }
}

/// How long [`close_client`] waits for the server to confirm a session's close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Drops `c` and waits (up to [`CLOSE_TIMEOUT`]) until its session is closed. Dropping the
/// last handle only *starts* the close in the background (the library sends closeSession,
/// after a reconnect if need be), so a test that needs the close committed before its next
/// step, e.g. before a fault, waits here.
pub async fn close_client(c: zk::Client) {
    let mut state = c.state_watcher();
    drop(c);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while !state.peek_state().is_terminated() {
            state.changed().await;
        }
    })
    .await;
}

/// A session on `connect` (one host or several), or an error after [`CONNECT_TIMEOUT`].
pub async fn connect_client(connect: &str, session_timeout: Duration) -> Result<zk::Client> {
    let fut = zk::Client::connector()
        .with_session_timeout(session_timeout)
        .connect(connect);
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(r) => r.with_context(|| format!("connect to {connect}")),
        Err(_) => bail!("connect to {connect}: no session within {CONNECT_TIMEOUT:?}"),
    }
}

/// Creates a persistent node with open ACL; an existing node is fine.
pub async fn create_if_missing(c: &zk::Client, path: &str) -> Result<()> {
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    match c.create(path, b"", &opts).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("create {path}")),
    }
}

/// A client connected to exactly the server at `addr`, after a `sync` of `/` through it: what
/// it reads next reflects everything committed when the sync reached the leader.
pub async fn synced_client(addr: &str) -> Result<zk::Client> {
    let c = connect_client(addr, SESSION_TIMEOUT).await?;
    tokio::time::timeout(WRITE_TIMEOUT, c.sync("/"))
        .await
        .with_context(|| format!("sync through {addr} timed out"))?
        .with_context(|| format!("sync through {addr}"))?;
    Ok(c)
}

/// Checks that the server at `addr` holds every acknowledged write with its data; the error
/// names the first missing or different writes.
pub async fn check_acked_on(addr: &str, acked: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    let c = synced_client(addr).await?;
    let results: Vec<(String, Result<Vec<u8>, zk::Error>)> =
        stream::iter(acked.keys().cloned().map(|path| {
            let c = &c;
            async move {
                let r = c.get_data(&path).await.map(|(d, _)| d);
                (path, r)
            }
        }))
        .buffered(CHECK_PIPELINE)
        .collect()
        .await;
    let mut bad = Vec::new();
    for (path, r) in results {
        match r {
            Ok(d) if Some(&d) == acked.get(&path) => {}
            Ok(d) => bad.push(format!(
                "{path}: data {:?}, acknowledged {:?}",
                String::from_utf8_lossy(&d),
                acked
                    .get(&path)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            )),
            Err(e) => bad.push(format!("{path}: {e}")),
        }
    }
    if !bad.is_empty() {
        let shown: Vec<&String> = bad.iter().take(20).collect();
        bail!(
            "{addr} lacks {} of {} acknowledged writes, e.g. {shown:#?}",
            bad.len(),
            acked.len()
        );
    }
    Ok(())
}

/// Creates `<parent>/b<n>` for n in 0..count through `connect`, `pipeline` at a time, recording
/// each as acknowledged. Any failure is an error: call it when no fault is being injected.
pub async fn bulk_create(
    connect: &str,
    parent: &str,
    count: usize,
    pipeline: usize,
    acked: &Acked,
) -> Result<()> {
    let c = connect_client(connect, SESSION_TIMEOUT).await?;
    create_if_missing(&c, parent).await?;
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let results: Vec<(String, Vec<u8>, Result<(), String>)> = stream::iter((0..count).map(|n| {
        let (c, opts) = (&c, &opts);
        async move {
            let path = format!("{parent}/b{n:06}");
            let data = format!("bulk-{n}").into_bytes();
            let r = match tokio::time::timeout(WRITE_TIMEOUT, c.create(&path, &data, opts)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            };
            (path, data, r)
        }
    }))
    .buffer_unordered(pipeline)
    .collect()
    .await;
    let mut failed = Vec::new();
    for (path, data, r) in results {
        match r {
            Ok(()) => acked.record(path, data),
            Err(e) => failed.push(format!("{path}: {e}")),
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {count} bulk creates under {parent} failed, e.g. {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
    }
    Ok(())
}
