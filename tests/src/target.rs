//! What a test runs against: [`Target::Apache`] or [`Target::ZkNode`], started from one set of
//! [`ServerOptions`] so both get the same limits, and used through the [`Server`] trait; a
//! standalone server, or a follower of a 3-node ensemble under `ZKFLEET_ENSEMBLE=follower`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Result;

use crate::apache::ApacheServer;
use crate::ensemble::FollowerServer;
use crate::zknode::ZkNode;

/// Settings shared by both kinds of server. Each field maps to a `zoo.cfg` key or JVM property for
/// Apache and to a key of zk-node's TOML config.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `tickTime` / `tick_ms`.
    pub tick_ms: u32,
    /// `minSessionTimeout` / `session_timeout_ms_min`; `None` keeps the default 2 × tick.
    pub session_timeout_ms_min: Option<u32>,
    /// `maxSessionTimeout` / `session_timeout_ms_max`; `None` keeps the default 20 × tick.
    pub session_timeout_ms_max: Option<u32>,
    /// `maxClientCnxns` / `max_client_cnxns`; 0 = unlimited (tests default to 0; Apache's own
    /// default is 60).
    pub max_client_cnxns: u32,
    /// `-Djute.maxbuffer` / `jute_max_buffer`; `None` keeps the default 0xfffff.
    pub jute_max_buffer: Option<u32>,
    /// `-Dzookeeper.DigestAuthenticationProvider.superDigest` / `super_digest`, in the form
    /// `super:BASE64(SHA1("super:password"))` (see [`crate::digest::digest_id`]).
    pub super_digest: Option<String>,
    /// `-Dznode.container.checkIntervalMs` / `container_check_interval_ms`.
    pub container_check_interval_ms: u32,
    /// `extendedTypesEnabled` (TTL nodes).
    pub extended_types_enabled: bool,
    /// Apache only: the AdminServer port; `None` disables it (`admin.enableServer=false`).
    pub admin_port: Option<u16>,
    /// Apache only: extra `zoo.cfg` lines.
    pub extra_zoo_cfg: Vec<String>,
    /// Apache only: extra JVM arguments (e.g. `-Dfoo=bar`).
    pub extra_jvm_args: Vec<String>,
    /// zk-node only: extra TOML lines.
    pub extra_toml: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tick_ms: 2000,
            session_timeout_ms_min: None,
            session_timeout_ms_max: None,
            max_client_cnxns: 0,
            jute_max_buffer: None,
            super_digest: None,
            container_check_interval_ms: 500,
            extended_types_enabled: true,
            admin_port: None,
            extra_zoo_cfg: Vec::new(),
            extra_jvm_args: Vec::new(),
            extra_toml: Vec::new(),
        }
    }
}

/// Which server implementation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Apache ZooKeeper 3.8 standalone from the Debian package.
    Apache,
    /// Our `zk-node run --config`.
    ZkNode,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Apache => "apache",
            Target::ZkNode => "zk-node",
        }
    }

    /// Starts a server of this kind. `Ok(None)` means the test must be skipped (Apache is not
    /// installed and `CI` is not set; the reason has been printed). With `CI` set, a missing
    /// Apache is an error. Under `ZKFLEET_ENSEMBLE=follower` ([`ENSEMBLE_ENV`]) the server is
    /// a follower of a fresh 3-node ensemble of this kind.
    pub fn start(self, opts: &ServerOptions) -> Result<Option<Box<dyn Server>>> {
        if ensemble_follower_requested()? {
            return Ok(FollowerServer::start(self, opts)?.map(|s| Box::new(s) as Box<dyn Server>));
        }
        Ok(match self {
            Target::Apache => ApacheServer::start(opts)?.map(|s| Box::new(s) as Box<dyn Server>),
            Target::ZkNode => Some(Box::new(ZkNode::start(opts)?)),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A running server a test can talk to. Dropping it kills the process.
pub trait Server: Send + Sync {
    fn target(&self) -> Target;
    /// The client port address.
    fn addr(&self) -> SocketAddr;
    /// `host:port`, ready for a client's connect string.
    fn connect_string(&self) -> String {
        self.addr().to_string()
    }
    /// Where the server's log goes; print it when a test fails.
    fn log_path(&self) -> &Path;
    /// The server process id, while it runs.
    fn pid(&self) -> Option<u32>;
    /// A label for messages: `apache@127.0.0.1:40123`.
    fn label(&self) -> String {
        format!("{}@{}", self.target(), self.addr())
    }
}

/// Environment variable that points every suite written for one server at an ensemble:
/// `ZKFLEET_ENSEMBLE=follower` makes [`Target::start`] (and so [`shared_server`]) start a
/// 3-node ensemble of the requested kind and hand out one of its followers, which owns the
/// ensemble. `t61_ensemble_suites` runs the differential and interop suites this way
/// (issue 4, acceptance 3); by hand: `ZKFLEET_ENSEMBLE=follower cargo test -p zkfleet-tests
/// --test t20_interop`.
pub const ENSEMBLE_ENV: &str = "ZKFLEET_ENSEMBLE";

/// Reads [`ENSEMBLE_ENV`]: unset or empty → one server; `follower` → an ensemble's follower.
pub fn ensemble_follower_requested() -> Result<bool> {
    match std::env::var(ENSEMBLE_ENV) {
        Err(_) => Ok(false),
        Ok(v) if v.is_empty() => Ok(false),
        Ok(v) if v == "follower" => Ok(true),
        Ok(v) => anyhow::bail!("{ENSEMBLE_ENV}={v:?}: the only value understood is `follower`"),
    }
}

/// True when the `CI` environment variable says we run in CI (any value but empty, `0`, `false`).
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}

/// A server shared by the tests of one test binary that ask for the same `(target, key)`: the
/// first caller starts it, later callers get the same one while any test still holds it, and the
/// last holder's drop kills it. Tests that run one after another each start their own.
pub type Shared = std::sync::Arc<Box<dyn Server>>;

type Registry = Vec<(Target, String, std::sync::Weak<Box<dyn Server>>)>;

static SHARED: std::sync::Mutex<Registry> = std::sync::Mutex::new(Vec::new());

/// Returns the shared server for `(target, key)`, starting it from `opts` if none is alive.
/// `Ok(None)`: skipped (see [`Target::start`]).
pub fn shared_server(target: Target, key: &str, opts: &ServerOptions) -> Result<Option<Shared>> {
    let mut reg = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    reg.retain(|(_, _, w)| w.strong_count() > 0);
    if let Some(s) = reg
        .iter()
        .find(|(t, k, _)| *t == target && k == key)
        .and_then(|(_, _, w)| w.upgrade())
    {
        return Ok(Some(s));
    }
    let Some(server) = target.start(opts)? else {
        return Ok(None);
    };
    let arc = std::sync::Arc::new(server);
    reg.push((target, key.to_string(), std::sync::Arc::downgrade(&arc)));
    Ok(Some(arc))
}
