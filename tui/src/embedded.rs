//! The local zk-node ensemble zk-top starts when no cluster is configured, so that the first
//! run shows something real. It comes from `zk_node::dev::LocalEnsemble`; until that exists
//! this module says so.

/// Servers the embedded ensemble is asked for.
pub const NODES: usize = 3;

/// A running embedded ensemble.
#[derive(Debug)]
pub struct Embedded {
    addrs: Vec<String>,
}

impl Embedded {
    /// `host:port` of every server's client port.
    pub fn client_addrs(&self) -> Vec<String> {
        self.addrs.clone()
    }

    /// Stops every server.
    pub async fn shutdown(self) {}
}

/// Starts the ensemble (call inside tokio).
pub async fn start() -> anyhow::Result<Embedded> {
    let _ = NODES;
    anyhow::bail!("embedded ensemble not available yet")
}
