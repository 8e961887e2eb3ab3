//! The tokio side of zk-node: the client listener, one task per connection, and the core task
//! that owns the tree. Entry point: [`run`].
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod admin;
pub mod conn;
pub mod core;
pub mod ensemble;
pub mod fourlw;
pub mod http;
pub mod json;
pub mod member;
pub mod metrics;
pub mod peers;
pub mod prep;
pub mod stats;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::storage::disk::{Disk, FsDisk};
use crate::storage::txnlog::FileTxnLog;
use crate::storage::{self, recovery, snapshot, LogStats, LOG_QUEUE_CAP};

/// Requests waiting for the core. Bounded so a flood of clients slows down at their sockets
/// instead of growing the server's memory.
const CORE_QUEUE_CAP: usize = 8192;

/// A running server: its address and the handle that stops it.
pub struct Server {
    pub client_addr: SocketAddr,
    /// The AdminServer's address, when it runs.
    pub admin_addr: Option<SocketAddr>,
    /// The Prometheus endpoint's address, when it runs.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Set when the node had to stop serving (an fsync failed).
    fatal: watch::Receiver<Option<String>>,
    /// Group-commit counters.
    pub log_stats: Arc<LogStats>,
}

impl Server {
    /// Binds the client port and starts serving. Returns once the port accepts connections.
    pub async fn start(cfg: Config) -> Result<Server> {
        Self::start_with_disk(cfg, Arc::new(FsDisk)).await
    }

    /// Like [`Server::start`], with storage going through `disk` (tests inject faults here).
    pub async fn start_with_disk(cfg: Config, disk: Arc<dyn Disk>) -> Result<Server> {
        let cfg = Arc::new(cfg);
        let snap_dir = cfg.data_dir.join("version-2");
        let log_dir = cfg.data_log_dir.join("version-2");
        for d in [&snap_dir, &log_dir] {
            disk.create_dir_all(d).with_context(|| {
                format!(
                    "cannot create data directory {} (data_dir / data_log_dir)",
                    d.display()
                )
            })?;
        }
        if !cfg.force_sync {
            tracing::warn!("force_sync is OFF: writes are acknowledged before they are on disk and can be lost in a crash. Use this only for tests");
        }
        let t0 = std::time::Instant::now();
        let distributed = cfg.is_distributed();
        let (rec, zab_state) = if distributed {
            // An ensemble member starts from its snapshot; the log after it may hold proposals
            // that were never committed, so the Zab core decides what of it to apply.
            let d = disk.clone();
            let (s, l) = (snap_dir.clone(), log_dir.clone());
            let r =
                tokio::task::spawn_blocking(move || recovery::recover_for_zab(d.as_ref(), &s, &l))
                    .await??;
            let durable =
                member::durable_state(disk_ref(&disk), &snap_dir, r.snapshot_zxid, r.log)?;
            tracing::info!(snapshot_zxid = %format!("{:#x}", r.snapshot_zxid), logged_after_it = durable.log.len(),
                last_logged = %format!("{:#x}", durable.log.last().map_or(r.snapshot_zxid, |e| e.hdr.zxid)),
                accepted_epoch = durable.accepted_epoch.0, current_epoch = durable.current_epoch.0,
                "ensemble member: snapshot loaded; the logged transactions after it are applied once the ensemble has settled what is committed");
            let rec = recovery::Recovered {
                tree: r.tree,
                sessions: r.sessions,
                snapshot_zxid: (r.snapshot_zxid > 0).then_some(r.snapshot_zxid),
                replayed: 0,
            };
            (rec, Some(durable))
        } else {
            let disk = disk.clone();
            let (s, l) = (snap_dir.clone(), log_dir.clone());
            let rec = tokio::task::spawn_blocking(move || recovery::recover(disk.as_ref(), &s, &l))
                .await??;
            (rec, None)
        };
        tracing::info!(zxid = %format!("{:#x}", rec.tree.last_zxid()), nodes = rec.tree.node_count(), sessions = rec.sessions.len(),
            replayed = rec.replayed, digest = rec.tree.digest(), ms = t0.elapsed().as_millis() as u64, "recovered data directory");
        let mut startup_snapshot = None;
        if rec.snapshot_zxid != Some(rec.tree.last_zxid()) {
            // Like Apache, snapshot what was loaded, so the next start replays less; unlike
            // Apache, while serving (the capture is an O(1) clone): everything in it is in the
            // log already, and a snapshot cut short by a crash is incomplete and skipped.
            let data = snapshot::capture(&rec.tree, rec.sessions.clone());
            let (d, s) = (disk.clone(), snap_dir.clone());
            startup_snapshot = Some(tokio::task::spawn_blocking(move || {
                let t = std::time::Instant::now();
                match snapshot::write(d.as_ref(), &s, &data) {
                    Ok(file) => {
                        tracing::info!(file = %file.display(), nodes = data.nodes.len(), ms = t.elapsed().as_millis() as u64, "snapshot of the recovered tree written")
                    }
                    Err(e) => {
                        tracing::warn!(dir = %s.display(), "cannot write a snapshot of the recovered tree ({e}); the next start replays the log again")
                    }
                }
            }));
        }
        let bind = SocketAddr::new(cfg.client_address, cfg.client_port);
        let listener = TcpListener::bind(bind).await.with_context(|| {
            format!("cannot listen on {bind} (client_port): is another server using it?")
        })?;
        let client_addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (core_tx, core_rx) = mpsc::channel(CORE_QUEUE_CAP);
        let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE_CAP);
        let last_logged = zab_state
            .as_ref()
            .and_then(|d| d.log.last().map(|e| e.hdr.zxid))
            .unwrap_or(rec.tree.last_zxid());
        let (durable_tx, durable_rx) = watch::channel(last_logged);
        let (fail_tx, fail_rx) = mpsc::channel(16);
        let (fatal_tx, fatal) = watch::channel(None);
        let log_stats = Arc::new(LogStats::default());
        let mut tasks = Vec::new();
        if cfg.purge_interval_hours > 0 {
            let every = std::time::Duration::from_secs(3600 * cfg.purge_interval_hours as u64);
            let purge = storage::purge::run_autopurge(
                disk.clone(),
                snap_dir.clone(),
                log_dir.clone(),
                cfg.snap_retain_count as usize,
                every,
            );
            let first = startup_snapshot.take();
            tasks.push(tokio::spawn(async move {
                // The first purge counts the start-up snapshot among those retained.
                if let Some(h) = first {
                    let _ = h.await;
                }
                purge.await
            }));
        }
        let log = FileTxnLog::new(disk.clone(), log_dir, cfg.force_sync);
        let core = core::Core::new(
            cfg.clone(),
            rec.tree,
            rec.sessions,
            log_tx,
            log_stats.clone(),
            disk,
        );
        let mut core = core;
        let mut net_rx = None;
        if let Some(durable) = zab_state {
            let (m, rx) = member::start_member(&cfg, durable, shutdown_rx.clone()).await?;
            core.member = Some(Box::new(m));
            core.init_config_node();
            net_rx = Some(rx);
        }
        let fatal_tx = Arc::new(fatal_tx);
        let stats = log_stats.clone();
        let log_fatal = fatal_tx.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = storage::run_log(log, log_rx, durable_tx, fail_tx, stats).await {
                let _ = log_fatal.send(Some(format!("transaction log fsync failed: {e}")));
            }
        }));
        let core_fatal = fatal_tx.clone();
        let (cf_tx, mut cf_rx) = watch::channel(None);
        tasks.push(tokio::spawn(async move {
            if cf_rx.changed().await.is_ok() {
                let v = cf_rx.borrow().clone();
                if v.is_some() {
                    let _ = core_fatal.send(v);
                }
            }
        }));
        tasks.push(tokio::spawn(core.run(
            core_rx,
            durable_rx,
            fail_rx,
            shutdown_rx.clone(),
            net_rx,
            Some(cf_tx),
        )));
        let (admin_addr, metrics_addr) =
            start_ops_listeners(&cfg, &core_tx, &shutdown_rx, &mut tasks).await?;
        tasks.push(tokio::spawn(accept_loop(
            listener,
            cfg.clone(),
            core_tx,
            shutdown_rx,
        )));
        tracing::info!(addr = %client_addr, "serving clients");
        Ok(Server {
            client_addr,
            admin_addr,
            metrics_addr,
            shutdown,
            tasks,
            fatal,
            log_stats,
        })
    }

    /// Completes when the node cannot go on (an fsync failed), with the reason.
    pub async fn failed(&mut self) -> String {
        loop {
            if let Some(m) = self.fatal.borrow().clone() {
                return m;
            }
            if self.fatal.changed().await.is_err() {
                return "transaction log task ended".into();
            }
        }
    }

    /// Stops accepting, stops the core, and waits for the tasks.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Binds and starts the AdminServer and the Prometheus endpoint when the config asks for them;
/// returns their addresses. They stop with the other tasks.
async fn start_ops_listeners(
    cfg: &Arc<Config>,
    core: &mpsc::Sender<core::ToCore>,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(Option<SocketAddr>, Option<SocketAddr>)> {
    let mut admin_addr = None;
    if cfg.admin_enable_server {
        let bind = SocketAddr::new(cfg.admin_server_address, cfg.admin_server_port);
        let l = TcpListener::bind(bind).await.with_context(|| {
            format!("cannot listen on {bind} (admin_server_port): is another server using it? (admin_enable_server = false turns the AdminServer off)")
        })?;
        let addr = l.local_addr()?;
        tracing::info!(%addr, url = %cfg.admin_command_url, "AdminServer listening");
        tasks.push(tokio::spawn(admin::serve(
            l,
            cfg.clone(),
            core.clone(),
            shutdown.clone(),
        )));
        admin_addr = Some(addr);
    }
    let mut metrics_addr = None;
    if let Some(port) = cfg.metrics_port {
        let bind = SocketAddr::new(cfg.metrics_address, port);
        let l = TcpListener::bind(bind).await.with_context(|| {
            format!("cannot listen on {bind} (metrics_port): is another server using it?")
        })?;
        let addr = l.local_addr()?;
        tracing::info!(%addr, "Prometheus metrics at /metrics");
        tasks.push(tokio::spawn(metrics::serve(
            l,
            core.clone(),
            shutdown.clone(),
        )));
        metrics_addr = Some(addr);
    }
    Ok((admin_addr, metrics_addr))
}

/// Runs a server until `shutdown` completes.
pub async fn run(cfg: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let mut server = Server::start(cfg).await?;
    let fatal = tokio::select! {
        _ = shutdown => None,
        m = server.failed() => Some(m),
    };
    tracing::info!("shutting down");
    server.stop().await;
    match fatal {
        None => Ok(()),
        Some(m) => anyhow::bail!(
            "{m}; the node stopped so that it never acknowledges a write that may not be on disk"
        ),
    }
}

/// Counts connections per client IP for `max_client_cnxns`.
#[derive(Default)]
struct ConnLimiter {
    per_ip: Mutex<HashMap<IpAddr, u32>>,
}

struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut m = self.limiter.per_ip.lock().expect("limiter lock");
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

impl ConnLimiter {
    fn admit(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<ConnGuard> {
        let mut m = self.per_ip.lock().expect("limiter lock");
        let n = m.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnGuard {
            limiter: self.clone(),
            ip,
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    cfg: Arc<Config>,
    core: mpsc::Sender<core::ToCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limiter = Arc::new(ConnLimiter::default());
    let mut next_conn: u64 = 1;
    let mut backoff_ms = 1;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(x) => {
                backoff_ms = 1;
                x
            }
            Err(e) => {
                // Out of file descriptors and the like: back off (capped) rather than spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(1000);
                continue;
            }
        };
        let Some(guard) = limiter.admit(addr.ip(), cfg.max_client_cnxns) else {
            tracing::warn!(
                "Too many connections from {} - max is {}",
                addr.ip(),
                cfg.max_client_cnxns
            );
            drop(stream);
            continue;
        };
        let conn = next_conn;
        next_conn += 1;
        let (cfg, core) = (cfg.clone(), core.clone());
        tokio::spawn(async move {
            conn::run(stream, addr, conn, cfg, core).await;
            drop(guard);
        });
    }
}

fn disk_ref(d: &Arc<dyn Disk>) -> &dyn Disk {
    d.as_ref()
}
