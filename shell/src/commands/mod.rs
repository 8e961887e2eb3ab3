//! The shell's command layer, shared by `zksh` and zk-top's shell pane:
//! a line is [parsed](parse::parse) into a [`Command`] (pure), [executed](Shell::execute)
//! against the open connections, and what it produces is handed to a [`Frontend`] as
//! [`Output`] values, which render as text or JSON.
//!
//! [`Shell`] holds the session state of one user: open connections (several clusters at once),
//! the current one and its working path, history, a transaction being built, and whether watch
//! events are printed.

pub mod acl;
pub mod bulk;
mod exec;
mod glob;
pub mod output;
pub mod parse;
pub mod servers;
pub mod spec;
pub mod transcript;
pub mod walk;

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use zk_proto::MultiOp;

use crate::client::{self, Client, ClientEvent, ClientOptions, Event, SessionState};
use crate::clusters::ClusterList;

pub use output::Output;
pub use parse::{parse, split_commands, tokenize, Command, DataFormat, Location, ParseError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Zk(#[from] client::Error),
    #[error("not connected (use connect)")]
    NotConnected,
    #[error("unknown cluster {0:?} (see clusters)")]
    UnknownCluster(String),
    /// The user declined a confirmation, or a script did not pass --yes.
    #[error("{0}")]
    Refused(String),
    /// diff found differences (like diff(1), this is a failure for scripts).
    #[error("{0} differences")]
    Differ(usize),
    #[error("{0}")]
    Failed(String),
}

impl CmdError {
    /// A short stable name for JSON output.
    pub fn kind(&self) -> String {
        match self {
            CmdError::Parse(_) => "usage".into(),
            CmdError::Zk(e) => e.code().name().to_lowercase(),
            CmdError::NotConnected => "not_connected".into(),
            CmdError::UnknownCluster(_) => "unknown_cluster".into(),
            CmdError::Refused(_) => "refused".into(),
            CmdError::Differ(_) => "differ".into(),
            CmdError::Failed(_) => "failed".into(),
        }
    }
}

/// Where a command's results go, and how it asks the user things.
pub trait Frontend: Send {
    /// One result value.
    fn emit(&mut self, out: Output);
    /// Asks a yes/no question before a destructive step.
    fn confirm(&mut self, question: &str) -> bool;
    /// Lets the user edit `data` (`edit`); `Ok(None)` means "leave unchanged".
    fn edit(&mut self, path: &str, data: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let _ = (path, data);
        Err("editing is not available here".into())
    }
}

/// A frontend that keeps every output, answers confirmations with a fixed answer and cannot
/// edit. For tests and embedding.
#[derive(Debug, Default)]
pub struct Collect {
    pub outputs: Vec<Output>,
    pub answer: bool,
}

impl Frontend for Collect {
    fn emit(&mut self, out: Output) {
        self.outputs.push(out);
    }
    fn confirm(&mut self, _question: &str) -> bool {
        self.answer
    }
}

/// Settings of a shell.
#[derive(Debug, Clone)]
pub struct ShellOptions {
    /// Requested session timeout of every connection.
    pub session_timeout_ms: i32,
    /// Answer every confirmation with yes (`--yes`).
    pub yes: bool,
}

impl Default for ShellOptions {
    fn default() -> Self {
        ShellOptions {
            session_timeout_ms: 30_000,
            yes: false,
        }
    }
}

/// One open session and where the user is in it.
pub struct Connection {
    pub name: String,
    pub client: Client,
    /// The connect string it was opened with.
    pub connect: String,
    /// Credentials added so far, so `watch` can open a second session with the same rights.
    pub auth: Vec<(String, String)>,
    pub cwd: String,
    pub prev_cwd: String,
}

/// Longest wait for a new connection's first session.
const CONNECT_WAIT_MAX_MS: i32 = 10_000;

/// Name of the connection opened from `--server` or `connect host:port`.
pub const DEFAULT_CONNECTION: &str = "main";

/// One user's shell state.
pub struct Shell {
    clusters: ClusterList,
    conns: BTreeMap<String, Connection>,
    current: Option<String>,
    history: Vec<String>,
    print_watches: bool,
    /// Operations queued by `txn`, committed together.
    txn: Option<Vec<MultiOp>>,
    events_tx: mpsc::Sender<ClientEvent>,
    events_rx: mpsc::Receiver<ClientEvent>,
    /// Last state seen per connection, to report reconnects but not the first connect.
    states: BTreeMap<String, SessionState>,
    opts: ShellOptions,
    quit: bool,
}

impl Shell {
    pub fn new(clusters: ClusterList, opts: ShellOptions) -> Shell {
        let (events_tx, events_rx) = client::event_channel();
        Shell {
            clusters,
            conns: BTreeMap::new(),
            current: None,
            history: Vec::new(),
            print_watches: true,
            txn: None,
            events_tx,
            events_rx,
            states: BTreeMap::new(),
            opts,
            quit: false,
        }
    }

    /// True once `quit` ran.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    pub fn clusters(&self) -> &ClusterList {
        &self.clusters
    }

    /// The current connection, if any.
    pub fn current(&self) -> Option<&Connection> {
        self.current.as_ref().and_then(|n| self.conns.get(n))
    }

    /// An open connection by name.
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.conns.get(name)
    }

    /// Names of open connections.
    pub fn connection_names(&self) -> Vec<String> {
        self.conns.keys().cloned().collect()
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    pub fn in_txn(&self) -> bool {
        self.txn.is_some()
    }

    /// `zk:NAME /cwd> `, or `zk:NAME /cwd txn> ` while a transaction is open.
    pub fn prompt(&self) -> String {
        let txn = if self.in_txn() { " txn" } else { "" };
        match self.current() {
            Some(c) => format!("zk:{} {}{txn}> ", c.name, c.cwd),
            None => format!("zk:(closed){txn}> "),
        }
    }

    /// Opens a connection by cluster name or connect string and makes it current.
    pub async fn connect(&mut self, target: &str, name: Option<&str>) -> Result<String, CmdError> {
        let (name, connect, auth) = match self.clusters.get(target) {
            Some(c) if name.is_none() => (c.name.clone(), c.connect_string(), c.auth_pairs()),
            _ if target.contains(':') || target.contains(',') => {
                let name = name.map(str::to_string).or_else(|| self.current.clone());
                (
                    name.unwrap_or_else(|| DEFAULT_CONNECTION.into()),
                    target.to_string(),
                    Vec::new(),
                )
            }
            _ => return Err(CmdError::UnknownCluster(target.to_string())),
        };
        if let Some(old) = self.conns.remove(&name) {
            old.client.close().await;
        }
        let conn = self.open(&name, &connect, auth).await?;
        self.conns.insert(name.clone(), conn);
        self.current = Some(name.clone());
        Ok(name)
    }

    async fn open(
        &mut self,
        name: &str,
        connect: &str,
        auth: Vec<(String, String)>,
    ) -> Result<Connection, CmdError> {
        let opts = ClientOptions {
            session_timeout_ms: self.opts.session_timeout_ms,
            // A person is waiting: give up on an unreachable cluster within the session
            // timeout, and never after more than CONNECT_WAIT_MAX_MS.
            connect_timeout: std::time::Duration::from_millis(
                self.opts
                    .session_timeout_ms
                    .clamp(1000, CONNECT_WAIT_MAX_MS) as u64,
            ),
            label: Some(name.to_string()),
            events: Some(self.events_tx.clone()),
            auth: auth.clone(),
        };
        let client = Client::connect(connect, opts).await?;
        self.states
            .insert(name.to_string(), SessionState::Connected);
        Ok(Connection {
            name: name.to_string(),
            client,
            connect: connect.to_string(),
            auth,
            cwd: "/".into(),
            prev_cwd: "/".into(),
        })
    }

    /// Parses and runs one command line (no `;`), recording it in the history.
    pub async fn run_line(&mut self, line: &str, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        let Some(cmd) = parse(line)? else {
            return Ok(());
        };
        if !matches!(cmd, Command::History | Command::Redo { .. }) {
            self.history.push(line.trim().to_string());
        }
        if let Command::Redo { index } = cmd {
            let line = self
                .history
                .get(index)
                .cloned()
                .ok_or_else(|| CmdError::Failed(format!("no command {index} in history")))?;
            let Some(cmd) = parse(&line)? else {
                return Ok(());
            };
            self.history.push(line);
            return Box::pin(self.execute(cmd, fe)).await;
        }
        self.execute(cmd, fe).await
    }

    /// Watch and session events that arrived since the last call, as outputs to show.
    pub fn drain_events(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while let Ok(ev) = self.events_rx.try_recv() {
            if let Some(o) = self.event_output(ev) {
                out.push(o);
            }
        }
        out
    }

    /// Waits for the next event worth showing (for interactive frontends).
    pub async fn next_event(&mut self) -> Output {
        loop {
            let Some(ev) = self.events_rx.recv().await else {
                std::future::pending::<()>().await;
                continue;
            };
            if let Some(o) = self.event_output(ev) {
                return o;
            }
        }
    }

    fn event_output(&mut self, ev: ClientEvent) -> Option<Output> {
        let cluster = ev.label.to_string();
        match ev.event {
            Event::Node(n) if self.print_watches => Some(Output::Event {
                cluster,
                event: n.event_type.to_string(),
                path: n.path,
                zxid: n.zxid.map(|z| z.to_string()),
            }),
            Event::Node(_) => None,
            Event::State(s) => {
                // Closing is always this shell's own doing, and a first connect is reported by
                // `connect`; what is news is losing a server, getting one back, and expiry.
                let prev = self.states.insert(cluster.clone(), s);
                let report = match s {
                    SessionState::Connected => prev == Some(SessionState::Disconnected),
                    SessionState::Disconnected
                    | SessionState::Expired
                    | SessionState::AuthFailed => true,
                    SessionState::Connecting | SessionState::Closed => false,
                };
                report.then(|| Output::Session {
                    cluster,
                    state: s.to_string(),
                })
            }
        }
    }

    /// Closes every session.
    pub async fn close_all(&mut self) {
        for (_, c) in std::mem::take(&mut self.conns) {
            c.client.close().await;
        }
        self.current = None;
    }

    fn conn(&self) -> Result<&Connection, CmdError> {
        self.current().ok_or(CmdError::NotConnected)
    }

    fn conn_mut(&mut self) -> Result<&mut Connection, CmdError> {
        let name = self.current.clone().ok_or(CmdError::NotConnected)?;
        self.conns.get_mut(&name).ok_or(CmdError::NotConnected)
    }

    /// The absolute path of `path` against the working path.
    fn resolve(&self, path: Option<&str>) -> Result<String, CmdError> {
        let cwd = &self.conn()?.cwd;
        Ok(match path {
            None => cwd.clone(),
            Some(p) => normalize(cwd, p),
        })
    }
}

/// Joins `path` to `cwd` and folds `.` and `..`; the result is absolute with no trailing `/`.
pub fn normalize(cwd: &str, path: &str) -> String {
    let base = if path.starts_with('/') { "" } else { cwd };
    let mut parts: Vec<&str> = Vec::new();
    for seg in base.split('/').chain(path.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_working_path() {
        assert_eq!(normalize("/a/b", "c"), "/a/b/c");
        assert_eq!(normalize("/a/b", ".."), "/a");
        assert_eq!(normalize("/a/b", "../../.."), "/");
        assert_eq!(normalize("/a", "/x/./y/"), "/x/y");
        assert_eq!(normalize("/", "."), "/");
    }
}

#[cfg(test)]
mod send_tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// zk-top runs commands on its own tasks, so the futures must be Send.
    #[test]
    fn command_futures_are_send() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut shell = Shell::new(ClusterList::default(), ShellOptions::default());
            let mut fe = Collect::default();
            let fut = shell.run_line("ls /", &mut fe);
            assert_send(&fut);
        });
    }
}
