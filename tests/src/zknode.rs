//! Our server as a child process: `zk-node run --config node.toml`, with a generated config, its
//! stderr in a log file, and the binary built on demand.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::net::{four_letter_word, free_port, wait_for_imok};
use crate::process::{log_tail, ChildGuard, WorkDir};
use crate::target::{Server, ServerOptions, Target};

/// How long zk-node may take to answer `ruok` after spawning.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One zk-node server process.
#[derive(Debug)]
pub struct ZkNode {
    /// Holds `node.toml`, `zk-node.log` and `data/`; removed on drop unless the test panicked.
    work: Option<WorkDir>,
    dir: PathBuf,
    addr: SocketAddr,
    log: PathBuf,
    bin: PathBuf,
    /// The running server; `None` while stopped.
    child: Option<ChildGuard>,
}

impl ZkNode {
    /// Writes a config from `opts`, starts `zk-node run --config` and waits for `ruok`.
    pub fn start(opts: &ServerOptions) -> Result<ZkNode> {
        let bin = zk_node_bin()?;
        let work = WorkDir::new("zkfleet-zknode-")?;
        let dir = work.path().to_path_buf();
        let data = dir.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("create {}", data.display()))?;
        let port = free_port();
        let cfg = node_toml(&data, port, opts);
        let cfg_path = dir.join("node.toml");
        std::fs::write(&cfg_path, cfg).with_context(|| format!("write {}", cfg_path.display()))?;
        let mut node = ZkNode {
            work: Some(work),
            log: dir.join("zk-node.log"),
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            bin,
            child: None,
        };
        node.spawn()?;
        node.wait_imok()?;
        Ok(node)
    }

    fn spawn(&mut self) -> Result<()> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("run")
            .arg("--config")
            .arg(self.dir.join("node.toml"))
            .current_dir(&self.dir);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let name = format!("zk-node@{}", self.addr);
        self.child = Some(ChildGuard::spawn(name, cmd, &self.log)?);
        Ok(())
    }

    fn wait_imok(&mut self) -> Result<()> {
        let log = self.log.clone();
        let child = self.child.as_mut().context("zk-node is not running")?;
        wait_for_imok(self.addr, START_TIMEOUT, || match child.try_wait()? {
            Some(status) => bail!(
                "zk-node exited with {status} before serving; log {}:\n{}",
                log.display(),
                log_tail(&log, 30)
            ),
            None => Ok(()),
        })
    }

    /// Kills the server (SIGKILL by PID). The data directory stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.terminate(Duration::from_secs(10));
        }
    }

    /// Starts the server again with the same config and data directory.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()?;
        self.wait_imok()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("node.toml")
    }

    pub fn four_letter_word(&self, word: &str) -> Result<String> {
        four_letter_word(self.addr, word, Duration::from_secs(5))
    }
}

impl Server for ZkNode {
    fn target(&self) -> Target {
        Target::ZkNode
    }
    fn addr(&self) -> SocketAddr {
        self.addr
    }
    fn log_path(&self) -> &Path {
        &self.log
    }
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildGuard::pid)
    }
}

impl Drop for ZkNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- zk-node@{} log {} (last 40 lines) ---\n{}",
                self.addr,
                self.log.display(),
                log_tail(&self.log, 40)
            );
        }
        let _ = self.work.take();
    }
}

/// zk-node's TOML config for `opts` (flat keys, see `configs/` for the commented example).
pub fn node_toml(data_dir: &Path, port: u16, opts: &ServerOptions) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "client_port = {port}");
    t.push_str("client_address = \"127.0.0.1\"\n");
    let _ = writeln!(t, "data_dir = {:?}", data_dir.display().to_string());
    let _ = writeln!(t, "tick_ms = {}", opts.tick_ms);
    if let Some(v) = opts.session_timeout_ms_min {
        let _ = writeln!(t, "session_timeout_ms_min = {v}");
    }
    if let Some(v) = opts.session_timeout_ms_max {
        let _ = writeln!(t, "session_timeout_ms_max = {v}");
    }
    let _ = writeln!(t, "max_client_cnxns = {}", opts.max_client_cnxns);
    if let Some(v) = opts.jute_max_buffer {
        let _ = writeln!(t, "jute_max_buffer = {v}");
    }
    let _ = writeln!(
        t,
        "extended_types_enabled = {}",
        opts.extended_types_enabled
    );
    if let Some(d) = &opts.super_digest {
        let _ = writeln!(t, "super_digest = {d:?}");
    }
    let _ = writeln!(
        t,
        "container_check_interval_ms = {}",
        opts.container_check_interval_ms
    );
    t.push_str("four_letter_words = [\"*\"]\n");
    for line in &opts.extra_toml {
        t.push_str(line);
        t.push('\n');
    }
    t
}

/// The `zk-node` binary for this test run. `ZK_NODE_BIN` overrides it; otherwise it is
/// `<target dir>/<profile>/zk-node` next to the test executable, brought up to date by one
/// `cargo build -p zk-node --bin zk-node` per test process (cheap when nothing changed). If that
/// build fails but an older binary exists, the older binary is used with a warning.
pub fn zk_node_bin() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| locate_or_build().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn locate_or_build() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ZK_NODE_BIN") {
        return Ok(PathBuf::from(p));
    }
    let dirs = crate::suite::build_dirs()?;
    let bin = dirs.profile_dir.join("zk-node");
    let mut cmd = Command::new(crate::suite::cargo());
    cmd.args(["build", "-p", "zk-node", "--bin", "zk-node"])
        .arg("--manifest-path")
        .arg(crate::suite::workspace_manifest())
        .arg("--target-dir")
        .arg(&dirs.target_dir);
    if dirs.release {
        cmd.arg("--release");
    }
    eprintln!("building zk-node: {cmd:?}");
    let status = cmd.status();
    match status {
        Ok(s) if s.success() => Ok(bin),
        other if bin.exists() => {
            eprintln!(
                "WARNING: building zk-node failed ({other:?}); using the existing {}",
                bin.display()
            );
            Ok(bin)
        }
        other => bail!(
            "building zk-node failed ({other:?}) and {} does not exist",
            bin.display()
        ),
    }
}
