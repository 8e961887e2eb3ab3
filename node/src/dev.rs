//! A local ensemble for development and for zk-top's first run: servers on free loopback
//! ports, in this process (`zk-node dev --nodes N [--observers M] [--data DIR]`).
//!
//! One voting node is a standalone server. More make an ensemble: every node gets the full
//! `servers` list, its own client, quorum and election ports and its own data directory
//! (`DIR/node<id>`), and [`crate::server::Server::start`] runs it as a member. The caller owns
//! logging (one process has one log) and stops the nodes with [`LocalEnsemble::shutdown`].
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::server::Server;
use crate::zoocfg::{QuorumAddr, ServerLine};

/// Most nodes a local ensemble starts: Zab's leader talks to every learner, and each node here
/// shares one process and its cores; beyond this a laptop spends its time electing.
pub const NODES_MAX: usize = 15;

/// One node of a [`LocalEnsemble`].
#[derive(Debug, Clone)]
pub struct Node {
    /// Its server id (`my_id`): voters are 1..=N, observers follow.
    pub id: u64,
    pub observer: bool,
    /// Where its clients connect.
    pub client_addr: SocketAddr,
    /// Its quorum and election ports on 127.0.0.1 (0 for a standalone node).
    pub quorum_port: u16,
    pub election_port: u16,
    /// Its AdminServer (`http://<addr>/commands`), when it runs.
    pub admin_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
}

/// Servers started in-process.
pub struct LocalEnsemble {
    servers: Vec<Server>,
    nodes: Vec<Node>,
    dir: PathBuf,
    /// Kept so the temporary data directory lives as long as the ensemble.
    _dir: Option<tempfile_dir::TempDir>,
}

mod tempfile_dir {
    /// A directory removed on drop.
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl LocalEnsemble {
    /// Starts `nodes` voting servers and `observers` observers on free loopback ports, with
    /// their data under `data_dir` (default: a temporary directory removed when the ensemble
    /// is dropped). One voter and no observers is a standalone server.
    pub async fn start(
        nodes: usize,
        observers: usize,
        data_dir: Option<PathBuf>,
    ) -> Result<LocalEnsemble> {
        check_sizes(nodes, observers)?;
        let (dir, guard) = match data_dir {
            Some(d) => (d, None),
            None => {
                let d = std::env::temp_dir().join(format!("zk-node-dev-{}", std::process::id()));
                (d.clone(), Some(tempfile_dir::TempDir(d)))
            }
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let configs = configs(nodes, observers, &dir)?;
        let mut nodes_info: Vec<Node> = configs.iter().map(describe).collect();
        let mut starting = Vec::with_capacity(configs.len());
        for cfg in configs {
            let id = cfg.server_id;
            // Members start together: none waits for another to come up first.
            starting.push((id, tokio::spawn(Server::start(cfg))));
        }
        let mut servers = Vec::with_capacity(starting.len());
        let mut failure = None;
        for (id, task) in starting {
            match task.await.context("a node's start-up task failed") {
                Ok(Ok(s)) => servers.push(s),
                Ok(Err(e)) | Err(e) => {
                    failure.get_or_insert(e.context(format!("cannot start node {id}")));
                }
            }
        }
        for (n, s) in nodes_info.iter_mut().zip(&servers) {
            n.client_addr = s.client_addr;
            n.admin_addr = s.admin_addr;
        }
        let ens = LocalEnsemble {
            servers,
            nodes: nodes_info,
            dir,
            _dir: guard,
        };
        if let Some(e) = failure {
            ens.shutdown().await;
            return Err(e);
        }
        Ok(ens)
    }

    /// Every node, voters first, in id order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The directory holding every node's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|s| s.client_addr).collect()
    }

    pub fn connect_string(&self) -> String {
        self.client_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every node answers `srvr` with its Mode (the ensemble has elected a leader
    /// and every member synced), and returns the modes in node order; `None` for a node that
    /// did not within `timeout`.
    pub async fn wait_serving(&self, timeout: Duration) -> Vec<Option<String>> {
        let deadline = Instant::now() + timeout;
        let mut modes = vec![None; self.nodes.len()];
        loop {
            for (m, n) in modes.iter_mut().zip(&self.nodes) {
                if m.is_none() {
                    *m = mode(n.client_addr).await;
                }
            }
            if modes.iter().all(Option::is_some) || Instant::now() >= deadline {
                return modes;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every node and waits for each to finish.
    pub async fn shutdown(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}

/// Refuses sizes that cannot make an ensemble, saying what would.
pub fn check_sizes(nodes: usize, observers: usize) -> Result<()> {
    if nodes == 0 {
        bail!("--nodes must be at least 1 (1 = a standalone server, 3 or 5 = an ensemble)");
    }
    if nodes == 1 && observers > 0 {
        bail!("--observers needs an ensemble to observe: use --nodes 2 or more (3 is usual)");
    }
    if nodes + observers > NODES_MAX {
        bail!(
            "{} nodes asked for; a local ensemble has at most {NODES_MAX}",
            nodes + observers
        );
    }
    Ok(())
}

/// `count` distinct free ports on 127.0.0.1, asked of the OS (bind port 0) with every listener
/// held until all are known, so no two are the same. Another process may still take one before
/// the node binds it; starting again picks new ones.
fn free_ports(count: usize) -> Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<_>>()
        .context("cannot find free ports on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The configs of every node: voters 1..=nodes, then the observers.
fn configs(nodes: usize, observers: usize, dir: &Path) -> Result<Vec<Config>> {
    let total = nodes + observers;
    // Per node: client, quorum, election and AdminServer ports.
    let ports = free_ports(PORTS_PER_NODE * total)?;
    if total == 1 {
        return Ok(vec![dev_config(ports[0], ports[3], dir, 1)]);
    }
    let servers: Vec<ServerLine> = (0..total)
        .map(|i| ServerLine {
            id: i as u64 + 1,
            addrs: vec![QuorumAddr {
                host: "127.0.0.1".into(),
                quorum_port: ports[PORTS_PER_NODE * i + 1],
                election_port: ports[PORTS_PER_NODE * i + 2],
            }],
            observer: i >= nodes,
            client: Some((Some("127.0.0.1".into()), ports[PORTS_PER_NODE * i])),
        })
        .collect();
    let configs = servers
        .iter()
        .map(|s| {
            let at = PORTS_PER_NODE * (s.id as usize - 1);
            let mut cfg = dev_config(ports[at], ports[at + 3], dir, s.id);
            cfg.server_id = s.id as u8;
            cfg.servers = servers.clone();
            cfg
        })
        .collect::<Vec<_>>();
    for c in &configs {
        crate::config::check_members(&c.servers, c.server_id as u64, crate::config::Naming::Toml)
            .context("the generated ensemble is invalid (a bug in zk-node dev)")?;
    }
    Ok(configs)
}

const PORTS_PER_NODE: usize = 4;

/// A node's config: the dev defaults, on loopback, with its AdminServer on.
fn dev_config(client_port: u16, admin_port: u16, dir: &Path, id: u64) -> Config {
    let mut cfg = Config::for_dev(client_port, node_dir(dir, id));
    cfg.admin_enable_server = true;
    cfg.admin_server_port = admin_port;
    cfg.admin_server_address = Ipv4Addr::LOCALHOST.into();
    cfg
}

fn node_dir(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("node{id}"))
}

/// What the caller shows of each node; the client address is the configured one until the
/// server reports the one it bound.
fn describe(cfg: &Config) -> Node {
    let me = cfg.my_server();
    let addr = me.and_then(|s| s.addrs.first());
    Node {
        id: cfg.server_id as u64,
        observer: me.is_some_and(|s| s.observer),
        client_addr: SocketAddr::new(cfg.client_address, cfg.client_port),
        quorum_port: addr.map_or(0, |a| a.quorum_port),
        election_port: addr.map_or(0, |a| a.election_port),
        admin_addr: None,
        data_dir: cfg.data_dir.clone(),
    }
}

/// The `Mode:` of `srvr` at `addr`, or `None` while it is not serving.
async fn mode(addr: SocketAddr) -> Option<String> {
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"srvr").await.ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bad sizes are refused with what to ask for instead.
    #[test]
    fn sizes_that_make_no_ensemble_are_refused() {
        let e = check_sizes(0, 0).unwrap_err().to_string();
        assert!(e.starts_with("--nodes must be at least 1"), "{e}");
        let e = check_sizes(1, 1).unwrap_err().to_string();
        assert!(e.contains("--nodes 2 or more"), "{e}");
        assert!(check_sizes(NODES_MAX, 1).is_err());
        check_sizes(1, 0).unwrap();
        check_sizes(5, 1).unwrap();
    }

    /// Every node of a 3 + 1 ensemble lists the same four servers, has its own ports and its
    /// own data directory, and uses its entry's client port.
    #[test]
    fn ensemble_configs_are_consistent() {
        let dir = Path::new("/tmp/dev-test");
        let c = configs(3, 1, dir).unwrap();
        assert_eq!(c.len(), 4);
        let mut ports = Vec::new();
        for (i, cfg) in c.iter().enumerate() {
            assert_eq!(cfg.server_id as usize, i + 1);
            assert_eq!(cfg.servers, c[0].servers);
            assert_eq!(cfg.data_dir, dir.join(format!("node{}", i + 1)));
            let me = cfg.my_server().unwrap();
            assert_eq!(me.client.as_ref().unwrap().1, cfg.client_port);
            assert_eq!(me.observer, i == 3);
            ports.extend([
                cfg.client_port,
                me.addrs[0].quorum_port,
                me.addrs[0].election_port,
            ]);
        }
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 12, "every quorum listener has its own port");
        assert!(c
            .iter()
            .all(|c| c.admin_enable_server && !ports.contains(&c.admin_server_port)));
        assert!(c[0].is_distributed());
        // One voter alone is a standalone server.
        let one = configs(1, 0, dir).unwrap();
        assert!(one[0].servers.is_empty());
    }
}
