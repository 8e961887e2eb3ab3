//! The local zk-node ensemble zk-top starts when no cluster is configured, so that the first
//! run shows something real (`zk_node::dev::LocalEnsemble`, in this process). Built with the
//! `embedded` feature (on by default).

/// Servers the embedded ensemble is asked for; zk-top watches whatever it starts.
pub const NODES: usize = 3;

/// A running embedded ensemble.
pub struct Embedded {
    #[cfg(feature = "embedded")]
    ensemble: zk_node::dev::LocalEnsemble,
}

impl Embedded {
    /// `host:port` of every server's client port.
    pub fn client_addrs(&self) -> Vec<String> {
        #[cfg(feature = "embedded")]
        return self
            .ensemble
            .client_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
        #[cfg(not(feature = "embedded"))]
        Vec::new()
    }

    /// Stops every server.
    pub async fn shutdown(self) {
        #[cfg(feature = "embedded")]
        self.ensemble.shutdown().await;
    }
}

/// Starts the ensemble (call inside tokio).
pub async fn start() -> anyhow::Result<Embedded> {
    #[cfg(feature = "embedded")]
    {
        let ensemble = zk_node::dev::LocalEnsemble::start(NODES, 0, None).await?;
        Ok(Embedded { ensemble })
    }
    #[cfg(not(feature = "embedded"))]
    anyhow::bail!("this zk-top was built without the embedded ensemble (feature `embedded`)")
}
