//! Apache ZooKeeper 3.8 as the reference server: a standalone [`ApacheServer`] or an
//! [`ApacheEnsemble`] of N voters, each run as its own JVM (`QuorumPeerMain zoo.cfg`) so that the
//! PID we hold is the server's own and can be killed on drop.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::net::{four_letter_word, free_port, wait_for_imok};
use crate::process::{log_tail, ChildGuard, WorkDir};
use crate::target::{in_ci, Server, ServerOptions, Target};

/// The Debian package's server jar; its manifest carries the rest of the class path.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// log4j 1.2 and its slf4j binding, so the server logs somewhere we can read.
const LOG_JARS: [&str; 2] = [
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];
/// How long a JVM may take to start serving on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Why Apache ZooKeeper cannot run here, or `None` when it can.
pub fn apache_missing() -> Option<String> {
    if !Path::new(ZOOKEEPER_JAR).exists() {
        return Some(format!(
            "{ZOOKEEPER_JAR} not found (apt-get install -y zookeeper zookeeper-bin)"
        ));
    }
    match Command::new("java").arg("-version").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("`java -version` failed: {}", o.status)),
        Err(e) => Some(format!("cannot run java: {e}")),
    }
}

/// Decides what a test does when Apache is missing: `Ok(true)` run, `Ok(false)` skip (message
/// printed), `Err` when `CI` is set, because CI must never pass a test that did not run.
pub fn apache_available(what: &str) -> Result<bool> {
    match apache_missing() {
        None => Ok(true),
        Some(reason) if in_ci() => {
            bail!("CI is set and {what} needs Apache ZooKeeper, which cannot run: {reason}")
        }
        Some(reason) => {
            eprintln!("SKIP {what}: Apache ZooKeeper cannot run here: {reason}");
            Ok(false)
        }
    }
}

/// One Apache ZooKeeper server process (standalone, or a member of an [`ApacheEnsemble`]).
#[derive(Debug)]
pub struct ApacheServer {
    /// The temporary directory, owned here for a standalone server and by the ensemble for a
    /// member; removed on drop unless the test panicked.
    work: Option<WorkDir>,
    /// This server's directory: `zoo.cfg`, `log4j.properties`, `server.log`, `data/`.
    dir: PathBuf,
    addr: SocketAddr,
    /// `dir/server.log`: the JVM's stdout and stderr (log4j writes to stdout).
    log: PathBuf,
    /// `server.N` id inside an ensemble; `None` when standalone.
    sid: Option<u32>,
    /// JVM arguments before the main class, kept for restarts.
    jvm_args: Vec<String>,
    /// The running JVM; `None` while stopped.
    child: Option<ChildGuard>,
}

impl ApacheServer {
    /// Starts a standalone server and waits until it answers `ruok`. `Ok(None)`: skipped, see
    /// [`apache_available`].
    pub fn start(opts: &ServerOptions) -> Result<Option<ApacheServer>> {
        if !apache_available("this test")? {
            return Ok(None);
        }
        Self::start_required(opts).map(Some)
    }

    /// Starts a standalone server; a missing Apache is an error.
    pub fn start_required(opts: &ServerOptions) -> Result<ApacheServer> {
        let work = WorkDir::new("zkfleet-apache-")?;
        let dir = work.path().to_path_buf();
        let port = free_port();
        let cfg = zoo_cfg(&dir, port, opts, &[]);
        let mut server = ApacheServer::prepare(Some(work), dir, port, None, opts, &cfg)?;
        server.spawn()?;
        server.wait_imok()?;
        Ok(server)
    }

    fn prepare(
        work: Option<WorkDir>,
        dir: PathBuf,
        port: u16,
        sid: Option<u32>,
        opts: &ServerOptions,
        cfg: &str,
    ) -> Result<ApacheServer> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("create {}", data.display()))?;
        if let Some(sid) = sid {
            std::fs::write(data.join("myid"), format!("{sid}\n")).context("write myid")?;
        }
        write_file(&dir.join("zoo.cfg"), cfg)?;
        write_file(&dir.join("log4j.properties"), LOG4J)?;
        Ok(ApacheServer {
            work,
            jvm_args: jvm_args(&dir, opts),
            log: dir.join("server.log"),
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            sid,
            child: None,
        })
    }

    fn spawn(&mut self) -> Result<()> {
        let cmd = java_command(&self.dir, &self.jvm_args);
        let name = format!("apache@{}", self.addr);
        self.child = Some(ChildGuard::spawn(name, cmd, &self.log_path_buf())?);
        Ok(())
    }

    /// Waits for `ruok` → `imok`, then for `srvr` to show a mode: Apache answers `imok` as soon
    /// as its listener runs, a moment before the ZooKeeperServer accepts sessions ("ZooKeeperServer
    /// not running").
    fn wait_imok(&mut self) -> Result<()> {
        let log = self.log_path_buf();
        let addr = self.addr;
        let child = self.child.as_mut().context("server is not running")?;
        let mut alive = || match child.try_wait()? {
            Some(status) => bail!(
                "apache exited with {status} before serving; log {}:\n{}",
                log.display(),
                log_tail(&log, 30)
            ),
            None => Ok(()),
        };
        wait_for_imok(addr, START_TIMEOUT, &mut alive)?;
        if self.sid.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            alive()?;
            let srvr = four_letter_word(addr, "srvr", Duration::from_secs(5)).unwrap_or_default();
            if srvr.contains("Mode: ") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("apache@{addr} answers ruok but srvr shows no mode: {srvr:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the JVM (SIGKILL by PID). The data directory stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// Stops the JVM with SIGTERM (a clean shutdown), SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.terminate(Duration::from_secs(10));
        }
    }

    /// Starts the JVM again on the same directory and ports, and waits for `ruok` (standalone)
    /// or just for the process to accept connections (ensemble member).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()?;
        self.wait_imok()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `server.N` id inside an ensemble.
    pub fn sid(&self) -> Option<u32> {
        self.sid
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `dataDir` (holds `version-2/`, and `myid` in an ensemble).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path_buf(&self) -> PathBuf {
        self.log.clone()
    }

    /// Sends a four-letter word to this server.
    pub fn four_letter_word(&self, word: &str) -> Result<String> {
        four_letter_word(self.addr, word, Duration::from_secs(5))
    }

    /// The `Mode:` line of `srvr` (`standalone`, `leader`, `follower`, `observer`), or `None` when
    /// the server does not serve requests right now.
    pub fn mode(&self) -> Option<String> {
        let srvr = self.four_letter_word("srvr").ok()?;
        srvr.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    }
}

impl Server for ApacheServer {
    fn target(&self) -> Target {
        Target::Apache
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

impl Drop for ApacheServer {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log_path_buf();
            eprintln!(
                "--- apache@{} log {} (last 40 lines) ---\n{}",
                self.addr,
                log.display(),
                log_tail(&log, 40)
            );
        }
        // `work` drops after this, keeping the directory if we are panicking.
        let _ = self.work.take();
    }
}

/// Ports of one ensemble member.
#[derive(Debug, Clone, Copy)]
pub struct MemberPorts {
    pub client: u16,
    pub quorum: u16,
    pub election: u16,
}

/// N Apache voters on loopback (`server.N=127.0.0.1:quorum:election`), started together.
#[derive(Debug)]
pub struct ApacheEnsemble {
    /// Members in `sid` order: `servers[i]` has sid `i + 1`.
    servers: Vec<ApacheServer>,
    ports: Vec<MemberPorts>,
    /// Owns the parent directory of every member's directory; dropped last.
    _work: WorkDir,
}

impl ApacheEnsemble {
    /// Starts `n` voters and waits until every one serves (`srvr` shows a mode). `Ok(None)`:
    /// skipped, see [`apache_available`].
    pub fn start(n: usize, opts: &ServerOptions) -> Result<Option<ApacheEnsemble>> {
        if !apache_available("this ensemble test")? {
            return Ok(None);
        }
        let work = WorkDir::new("zkfleet-ensemble-")?;
        let ports: Vec<MemberPorts> = (0..n)
            .map(|_| MemberPorts {
                client: free_port(),
                quorum: free_port(),
                election: free_port(),
            })
            .collect();
        let mut server_lines = vec!["initLimit=10".to_string(), "syncLimit=5".to_string()];
        for (i, p) in ports.iter().enumerate() {
            server_lines.push(format!(
                "server.{}=127.0.0.1:{}:{}",
                i + 1,
                p.quorum,
                p.election
            ));
        }
        let mut servers = Vec::with_capacity(n);
        for (i, p) in ports.iter().enumerate() {
            let dir = work.path().join(format!("s{}", i + 1));
            let cfg = zoo_cfg(&dir, p.client, opts, &server_lines);
            let mut s = ApacheServer::prepare(None, dir, p.client, Some(i as u32 + 1), opts, &cfg)?;
            s.spawn()?;
            servers.push(s);
        }
        let ensemble = ApacheEnsemble {
            servers,
            ports,
            _work: work,
        };
        ensemble.wait_serving(START_TIMEOUT)?;
        Ok(Some(ensemble))
    }

    /// Waits until every running member reports a mode in `srvr` (it has joined a quorum).
    pub fn wait_serving(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let waiting: Vec<u32> = self
                .servers
                .iter()
                .filter(|s| s.is_running() && s.mode().is_none())
                .filter_map(|s| s.sid)
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let mut msg = format!("ensemble members {waiting:?} not serving after {timeout:?}");
                for s in &self.servers {
                    let _ = write!(
                        msg,
                        "\n--- sid {:?} ---\n{}",
                        s.sid,
                        log_tail(&s.log_path_buf(), 15)
                    );
                }
                bail!(msg);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,...` over every member.
    pub fn connect_string(&self) -> String {
        self.servers
            .iter()
            .map(|s| s.addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    pub fn servers(&self) -> &[ApacheServer] {
        &self.servers
    }

    /// Member `i` (0-based; its sid is `i + 1`).
    pub fn server(&self, i: usize) -> &ApacheServer {
        &self.servers[i]
    }

    pub fn server_mut(&mut self, i: usize) -> &mut ApacheServer {
        &mut self.servers[i]
    }

    pub fn ports(&self, i: usize) -> MemberPorts {
        self.ports[i]
    }

    /// The index of the member that reports `Mode: leader`.
    pub fn leader(&self) -> Option<usize> {
        self.servers
            .iter()
            .position(|s| s.is_running() && s.mode().as_deref() == Some("leader"))
    }

    /// Kills member `i` (SIGKILL by PID); its directory stays for a restart.
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// Restarts member `i` on its directory and waits until it serves again.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.servers[i].kill();
        self.servers[i].spawn()?;
        self.wait_serving(START_TIMEOUT)
    }
}

/// `java ... QuorumPeerMain <dir>/zoo.cfg`, run in `dir`: one Apache server, standalone or an
/// ensemble member depending on the zoo.cfg.
pub(crate) fn java_command(dir: &Path, jvm_args: &[String]) -> Command {
    let mut cmd = Command::new("java");
    let mut cp = ZOOKEEPER_JAR.to_string();
    for jar in LOG_JARS.iter().filter(|j| Path::new(j).exists()) {
        cp.push(':');
        cp.push_str(jar);
    }
    cmd.args(jvm_args)
        .arg("-cp")
        .arg(cp)
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(dir.join("zoo.cfg"))
        .current_dir(dir);
    cmd
}

/// The zoo.cfg of one server: `dir/data` as dataDir, `client_port` on 127.0.0.1, the settings
/// of `opts`, then the `extra` lines (ensemble membership) and `opts.extra_zoo_cfg`. zk-node
/// reads the same file with `run --zoo-cfg`.
pub(crate) fn zoo_cfg(
    dir: &Path,
    client_port: u16,
    opts: &ServerOptions,
    extra: &[String],
) -> String {
    let mut cfg = String::new();
    let _ = writeln!(cfg, "tickTime={}", opts.tick_ms);
    let _ = writeln!(cfg, "dataDir={}", dir.join("data").display());
    let _ = writeln!(cfg, "clientPort={client_port}");
    cfg.push_str("clientPortAddress=127.0.0.1\n");
    let _ = writeln!(cfg, "maxClientCnxns={}", opts.max_client_cnxns);
    cfg.push_str("4lw.commands.whitelist=*\n");
    match opts.admin_port {
        None => cfg.push_str("admin.enableServer=false\n"),
        Some(p) => {
            let _ = writeln!(
                cfg,
                "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={p}"
            );
        }
    }
    let _ = writeln!(cfg, "extendedTypesEnabled={}", opts.extended_types_enabled);
    if let Some(v) = opts.session_timeout_ms_min {
        let _ = writeln!(cfg, "minSessionTimeout={v}");
    }
    if let Some(v) = opts.session_timeout_ms_max {
        let _ = writeln!(cfg, "maxSessionTimeout={v}");
    }
    for line in extra.iter().chain(&opts.extra_zoo_cfg) {
        cfg.push_str(line);
        cfg.push('\n');
    }
    cfg
}

/// The JVM arguments for a server in `dir` (log4j config, heap, the system properties `opts`
/// maps to).
pub(crate) fn jvm_args(dir: &Path, opts: &ServerOptions) -> Vec<String> {
    let mut a = vec![
        "-Xmx256m".to_string(),
        "-XX:+UseSerialGC".to_string(),
        // Start faster: no JIT tiers beyond C1 are needed for tests.
        "-XX:TieredStopAtLevel=1".to_string(),
        "-Djava.net.preferIPv4Stack=true".to_string(),
        format!(
            "-Dlog4j.configuration=file:{}",
            dir.join("log4j.properties").display()
        ),
        format!("-Dzookeeper.log.dir={}", dir.display()),
        format!(
            "-Dznode.container.checkIntervalMs={}",
            opts.container_check_interval_ms
        ),
        format!(
            "-Dzookeeper.extendedTypesEnabled={}",
            opts.extended_types_enabled
        ),
    ];
    if let Some(d) = &opts.super_digest {
        a.push(format!(
            "-Dzookeeper.DigestAuthenticationProvider.superDigest={d}"
        ));
    }
    if let Some(m) = opts.jute_max_buffer {
        a.push(format!("-Djute.maxbuffer={m}"));
    }
    a.extend(opts.extra_jvm_args.iter().cloned());
    a
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

/// Everything to stdout, which the harness appends to `server.log`.
pub(crate) const LOG4J: &str = "\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
";

#[cfg(test)]
mod tests {
    use super::*;

    /// The ensemble API end to end: three voters elect one leader, a killed follower comes back.
    /// Ignored by default: three JVMs.
    #[test]
    #[ignore = "starts three JVMs; run with --ignored"]
    fn ensemble_elects_one_leader_and_restarts_a_member() {
        let Some(mut e) = ApacheEnsemble::start(3, &ServerOptions::default()).expect("start")
        else {
            return;
        };
        let modes: Vec<Option<String>> = e.servers().iter().map(ApacheServer::mode).collect();
        let leaders = modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        assert_eq!(leaders, 1, "modes: {modes:?}");
        let leader = e.leader().expect("a leader");
        let follower = (leader + 1) % 3;
        e.kill(follower);
        assert!(e.server(follower).mode().is_none());
        e.restart(follower).expect("restart");
        assert_eq!(e.server(follower).mode().as_deref(), Some("follower"));
        assert_eq!(e.connect_string().split(',').count(), 3);
    }
}
