//! A local ensemble for development and for zk-top's first run: servers on free loopback
//! ports, in this process.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::server::Server;

/// Servers started in-process.
pub struct LocalEnsemble {
    servers: Vec<Server>,
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
    /// Starts `nodes` servers. Until Zab ensembles land (issue 4), a local ensemble has one
    /// standalone server whatever `nodes` asks for; callers show what [`Self::client_addrs`]
    /// returns.
    pub async fn start(nodes: usize, data_dir: Option<PathBuf>) -> Result<LocalEnsemble> {
        let (dir, guard) = match data_dir {
            Some(d) => (d, None),
            None => {
                let d = std::env::temp_dir().join(format!("zk-node-dev-{}", std::process::id()));
                (d.clone(), Some(tempfile_dir::TempDir(d)))
            }
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        if nodes > 1 {
            tracing::warn!(
                nodes,
                "multi-node ensembles are not available yet; starting one standalone server"
            );
        }
        let cfg = Config::for_dev(0, dir.join("node1"));
        let server = Server::start(cfg).await?;
        Ok(LocalEnsemble {
            servers: vec![server],
            _dir: guard,
        })
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

    pub async fn shutdown(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}
