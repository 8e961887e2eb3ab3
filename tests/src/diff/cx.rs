//! [`Cx`]: what a scenario gets — its root path, fresh sessions on the server under test, and the
//! transcript it writes to.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use zk_proto::Request;
use zookeeper_client as zk;

use super::norm::{Norm, Normalizer};
use crate::raw::{ConnectOpts, Incoming, RawClient};
use crate::target::Target;

/// How long a scenario waits for a watch event before calling it missing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Session timeout scenario clients ask for (the server clamps it to its bounds).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The context of one scenario run against one server.
pub struct Cx {
    /// Which implementation this run talks to. Scenarios must not branch on it; it is here for
    /// messages only.
    pub target: Target,
    pub addr: SocketAddr,
    /// The scenario's own root node (`/d042`), created before it starts; its czxid is the zxid
    /// base of the transcript.
    pub root: String,
    pub norm: Normalizer,
    lines: Vec<String>,
    /// State watchers of every zookeeper-client session opened, to wait for their close.
    zk_states: Vec<zk::StateWatcher>,
    /// (session id, password) of every raw session opened, to close leftovers at the end.
    raw_sessions: Vec<(i64, Vec<u8>)>,
}

impl Cx {
    pub fn new(target: Target, addr: SocketAddr, root: String, base_zxid: i64) -> Cx {
        let mut norm = Normalizer::new();
        norm.set_base_zxid(base_zxid);
        Cx {
            target,
            addr,
            root,
            norm,
            lines: Vec::new(),
            zk_states: Vec::new(),
            raw_sessions: Vec::new(),
        }
    }

    /// A path under the scenario's root: `p("a/b")` is `/d042/a/b`, `p("")` is `/d042`.
    pub fn p(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{}", self.root, rel)
        }
    }

    /// Appends a line to the transcript.
    pub fn log(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Appends `label -> <normalized value>`.
    pub fn rec<T: Norm>(&mut self, label: &str, value: &T) {
        let v = value.norm(&self.norm);
        self.lines.push(format!("{label} -> {v}"));
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }

    /// A new zookeeper-client session asking for [`SESSION_TIMEOUT`].
    pub async fn client(&mut self) -> Result<zk::Client> {
        self.client_with(zk::Client::connector()).await
    }

    /// A new zookeeper-client session from `connector`, asking for [`SESSION_TIMEOUT`] unless the
    /// connector says otherwise. The session gets the next name (`s1`, `s2`, ...) and the
    /// transcript records its negotiated timeout.
    pub async fn client_with(&mut self, connector: zk::Connector) -> Result<zk::Client> {
        self.client_with_timeout(connector.with_session_timeout(SESSION_TIMEOUT))
            .await
    }

    /// Like [`Cx::client_with`], keeping the connector's own session timeout.
    pub async fn client_with_timeout(&mut self, connector: zk::Connector) -> Result<zk::Client> {
        let client = connector
            .connect(&self.addr.to_string())
            .await
            .with_context(|| format!("connect zookeeper-client to {}", self.addr))?;
        let name = self.norm.add_session(client.session_id().0);
        self.log(format!(
            "session {name} open timeout={}ms",
            client.session_timeout().as_millis()
        ));
        self.zk_states.push(client.state_watcher());
        Ok(client)
    }

    /// A new raw session (fresh session id) with default options.
    pub async fn raw(&mut self) -> Result<RawClient> {
        self.raw_with(&ConnectOpts::default()).await
    }

    /// A raw session from `opts`; a new session id gets the next name.
    pub async fn raw_with(&mut self, opts: &ConnectOpts) -> Result<RawClient> {
        let c = RawClient::connect(self.addr, opts).await?;
        let name = self.norm.add_session(c.session_id);
        self.log(format!(
            "raw session {name} open timeout={}ms",
            c.timeout_ms
        ));
        self.raw_sessions.push((c.session_id, c.passwd.clone()));
        Ok(c)
    }

    /// Remembers a raw session opened by hand (e.g. with [`RawClient::handshake`]) so the runner
    /// closes it if the scenario does not.
    pub fn track_raw(&mut self, c: &RawClient) {
        if c.session_id != 0 {
            self.norm.add_session(c.session_id);
            self.raw_sessions.push((c.session_id, c.passwd.clone()));
        }
    }

    /// Sends `req` on a raw client, logs `-> label` and every frame up to its reply.
    pub async fn call(
        &mut self,
        c: &mut RawClient,
        label: &str,
        req: Request,
    ) -> Result<Vec<Incoming>> {
        self.log(format!("-> {label}"));
        let got = c
            .call(&req)
            .await
            .with_context(|| format!("raw call {label}"))?;
        self.log_incoming(&got);
        Ok(got)
    }

    /// Logs frames read by a raw client.
    pub fn log_incoming(&mut self, got: &[Incoming]) {
        for inc in got {
            let line = self.norm.incoming(inc);
            self.lines.push(format!("   {line}"));
        }
    }

    /// Waits for a one-shot watch to fire and logs the event.
    pub async fn event(&mut self, label: &str, w: zk::OneshotWatcher) -> Result<()> {
        match tokio::time::timeout(EVENT_TIMEOUT, w.changed()).await {
            Ok(ev) => self.rec(label, &ev),
            Err(_) => self.log(format!("{label} -> no event within {EVENT_TIMEOUT:?}")),
        }
        Ok(())
    }

    /// Waits for the next event of a persistent watch and logs it.
    pub async fn pevent(&mut self, label: &str, w: &mut zk::PersistentWatcher) -> Result<()> {
        match tokio::time::timeout(EVENT_TIMEOUT, w.changed()).await {
            Ok(ev) => self.rec(label, &ev),
            Err(_) => self.log(format!("{label} -> no event within {EVENT_TIMEOUT:?}")),
        }
        Ok(())
    }

    /// Polls `cond` every 50 ms until it holds or `timeout` passes; logs which.
    pub async fn wait_until<F, Fut>(
        &mut self,
        label: &str,
        timeout: Duration,
        mut cond: F,
    ) -> Result<bool>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond().await {
                self.log(format!("{label} -> yes"));
                return Ok(true);
            }
            if tokio::time::Instant::now() > deadline {
                self.log(format!("{label} -> not within {timeout:?}"));
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the scenario's sessions so none of them consumes a zxid during a later scenario:
    /// waits for every zookeeper-client session to reach a terminal state (the client sends
    /// closeSession when its last handle drops), and re-attaches to every raw session that may
    /// still live and closes it.
    pub async fn finish(&mut self) -> Result<()> {
        for mut w in std::mem::take(&mut self.zk_states) {
            let closed = tokio::time::timeout(Duration::from_secs(20), async {
                while !w.peek_state().is_terminated() {
                    w.changed().await;
                }
            })
            .await;
            if closed.is_err() {
                bail!(
                    "a zookeeper-client session did not close within 20s (is a Client still held?)"
                );
            }
        }
        for (id, passwd) in std::mem::take(&mut self.raw_sessions) {
            let opts = ConnectOpts {
                session_id: id,
                passwd,
                ..ConnectOpts::default()
            };
            let mut c = RawClient::connect_tcp(self.addr).await?;
            if let Some(resp) = c.handshake(&opts).await? {
                if resp.timeout_ms > 0 {
                    c.close_session().await?;
                }
            }
        }
        Ok(())
    }
}
