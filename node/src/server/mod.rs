//! The tokio side of zk-node: the client listener, one task per connection, and the core task
//! that owns the tree. Entry point: [`run`].
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod conn;
pub mod core;
pub mod fourlw;
pub mod prep;
pub mod stats;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::storage::{self, MemLog, LOG_QUEUE_CAP};
use crate::tree::DataTree;

/// Requests waiting for the core. Bounded so a flood of clients slows down at their sockets
/// instead of growing the server's memory.
const CORE_QUEUE_CAP: usize = 8192;

/// A running server: its address and the handle that stops it.
pub struct Server {
    pub client_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Binds the client port and starts serving. Returns once the port accepts connections.
    pub async fn start(cfg: Config) -> Result<Server> {
        let cfg = Arc::new(cfg);
        let bind = SocketAddr::new(cfg.client_address, cfg.client_port);
        let listener = TcpListener::bind(bind).await.with_context(|| {
            format!("cannot listen on {bind} (client_port): is another server using it?")
        })?;
        let client_addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (core_tx, core_rx) = mpsc::channel(CORE_QUEUE_CAP);
        let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE_CAP);
        let (durable_tx, durable_rx) = watch::channel(0i64);
        let core = core::Core::new(cfg.clone(), DataTree::new(), log_tx);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = storage::run_log(MemLog::default(), log_rx, durable_tx).await {
                tracing::error!("transaction log failed: {e}; the node stops acknowledging writes");
            }
        }));
        tasks.push(tokio::spawn(core.run(
            core_rx,
            durable_rx,
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(accept_loop(
            listener,
            cfg.clone(),
            core_tx,
            shutdown_rx,
        )));
        tracing::info!(addr = %client_addr, "serving clients");
        Ok(Server {
            client_addr,
            shutdown,
            tasks,
        })
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

/// Runs a server until `shutdown` completes.
pub async fn run(cfg: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let server = Server::start(cfg).await?;
    shutdown.await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
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
