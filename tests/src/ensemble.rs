//! A ZooKeeper ensemble of real processes, the same way for both implementations: Apache
//! ZooKeeper 3.8 (`QuorumPeerMain`, one JVM per server) or zk-node (`zk-node run --zoo-cfg`).
//! Each server gets its own directory with a `zoo.cfg` written here (Apache's keys, which
//! zk-node reads unchanged) and `data/myid`.
//!
//! Optionally every directed peer link goes through a [`Proxy`]: in server A's zoo.cfg, server
//! B's quorum and election addresses are proxies that forward to B's real ports, so a test can
//! cut or blackhole the links into and out of a server ([`Ensemble::isolate`]) and heal them.
//! Client ports are never proxied.
//!
//! Modes come from the `srvr` four-letter word, as an operator would read them.
//!
//! Never: leaves a process behind (each server is a [`ChildGuard`], killed by its PID on drop),
//! binds anything but 127.0.0.1, or hides a server that died on its own (every wait checks the
//! processes and fails with the log tail).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::apache::{self, apache_available, MemberPorts};
use crate::net::{four_letter_word, free_port};
use crate::process::{log_tail, ChildGuard, WorkDir};
use crate::proxy::Proxy;
use crate::target::{Server, ServerOptions, Target};
use crate::zknode::zk_node_bin;

/// How long a whole ensemble may take to start and elect on a busy 2-core machine (JVMs).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one `srvr` probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between polls of the members' modes.
const POLL: Duration = Duration::from_millis(100);
/// Log lines of each member shown when a wait fails or a test panics.
const LOG_TAIL_LINES: usize = 25;

/// A member's role in the configuration (`server.N=...[:participant|:observer]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Participant,
    Observer,
}

/// What `srvr` says a server is doing right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    /// A member that runs standalone ignored its `server.N` lines: always a failure here.
    Standalone,
    /// `Mode: read-only` (a partitioned server with read-only mode on; never configured here).
    ReadOnly,
    /// The process runs but does not serve: it answers "not currently serving requests"
    /// (electing, syncing, or cut off from a quorum), or does not answer at all yet.
    NotServing,
    /// No process (killed or never started).
    Down,
}

impl Mode {
    /// Parses a `srvr` answer.
    pub fn from_srvr(text: &str) -> Mode {
        match text
            .lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::trim)
        {
            Some("leader") => Mode::Leader,
            Some("follower") => Mode::Follower,
            Some("observer") => Mode::Observer,
            Some("standalone") => Mode::Standalone,
            Some("read-only") => Mode::ReadOnly,
            _ => Mode::NotServing,
        }
    }

    /// Leader, follower or observer: the server is part of a working quorum.
    pub fn is_serving(self) -> bool {
        matches!(self, Mode::Leader | Mode::Follower | Mode::Observer)
    }
}

/// How [`Ensemble::isolate`] separates a server from its peers; see [`crate::proxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Connections are closed and new ones refused: the peers notice at once.
    Cut,
    /// Connections stay open and bytes vanish: the peers notice only by their timeouts.
    Blackhole,
}

/// The shape of an ensemble.
#[derive(Debug, Clone)]
pub struct EnsembleOptions {
    /// Voting members (sids 1..=participants).
    pub participants: usize,
    /// Observers (the sids after the participants).
    pub observers: usize,
    /// Settings of every server (tick, session timeouts, ...).
    pub server: ServerOptions,
    /// `initLimit` in ticks.
    pub init_limit: u32,
    /// `syncLimit` in ticks.
    pub sync_limit: u32,
    /// Route every peer link through a controllable proxy (needed for [`Ensemble::isolate`]).
    pub proxies: bool,
    /// zk-node only: run from a TOML config (`node.toml` with `[[server]]` tables) instead of
    /// the zoo.cfg. The TOML config has a key for every [`ServerOptions`] field; zoo.cfg has
    /// none for some (`container_check_interval_ms`, which Apache takes as the JVM property
    /// `znode.container.checkIntervalMs`), so suites that depend on those use TOML.
    pub zk_node_toml: bool,
}

impl Default for EnsembleOptions {
    /// Three participants, a 500 ms tick (fast elections, a leader notices a lost quorum within
    /// `syncLimit` ticks), session timeouts from 1 s to 30 s, no proxies.
    fn default() -> Self {
        EnsembleOptions {
            participants: 3,
            observers: 0,
            server: ServerOptions {
                tick_ms: 500,
                session_timeout_ms_max: Some(30_000),
                ..ServerOptions::default()
            },
            init_limit: 10,
            sync_limit: 5,
            proxies: false,
            zk_node_toml: false,
        }
    }
}

/// One server of the ensemble.
#[derive(Debug)]
struct Member {
    sid: u32,
    role: Role,
    ports: MemberPorts,
    /// `zoo.cfg`, the log, `data/` (with `myid`).
    dir: PathBuf,
    log: PathBuf,
    /// The command line that (re)starts the server.
    command: Launch,
    /// The running process; `None` while killed.
    child: Option<ChildGuard>,
}

/// How to start a member; rebuilt into a `Command` on each start.
#[derive(Debug, Clone)]
enum Launch {
    Apache {
        jvm_args: Vec<String>,
    },
    /// `zk-node run --zoo-cfg <config>` or `zk-node run --config <config>` (TOML).
    ZkNode {
        bin: PathBuf,
        config: PathBuf,
        toml: bool,
    },
}

/// Two proxies for one directed link: `from`'s connections to `to`'s quorum and election ports.
#[derive(Debug)]
struct Link {
    from: usize,
    to: usize,
    quorum: Proxy,
    election: Proxy,
}

/// A running ensemble. Dropping it kills every server and stops every proxy.
#[derive(Debug)]
pub struct Ensemble {
    target: Target,
    opts: EnsembleOptions,
    /// Members in sid order: `members[i]` has sid `i + 1`.
    members: Vec<Member>,
    /// Every directed link when `opts.proxies`; empty otherwise.
    links: Vec<Link>,
    /// Owns the parent of every member's directory; dropped last.
    work: WorkDir,
    /// See [`Ensemble::keep_on_drop`].
    keep: bool,
}

impl Ensemble {
    /// Starts every member and waits until one leads and all others follow or observe.
    /// `Ok(None)`: Apache is not installed and `CI` is unset (the reason was printed).
    pub fn start(target: Target, opts: &EnsembleOptions) -> Result<Option<Ensemble>> {
        let mut e = match Ensemble::prepare(target, opts)? {
            Some(e) => e,
            None => return Ok(None),
        };
        for i in 0..e.len() {
            e.spawn(i)?;
        }
        e.wait_for_leader(START_TIMEOUT)?;
        Ok(Some(e))
    }

    /// Writes every member's directory and config and starts the proxies; starts no server.
    pub fn prepare(target: Target, opts: &EnsembleOptions) -> Result<Option<Ensemble>> {
        let launch_for = |dir: &Path| -> Result<Launch> {
            Ok(match target {
                Target::Apache => Launch::Apache {
                    jvm_args: apache::jvm_args(dir, &opts.server),
                },
                Target::ZkNode => Launch::ZkNode {
                    bin: zk_node_bin()?,
                    config: dir.join(if opts.zk_node_toml {
                        "node.toml"
                    } else {
                        "zoo.cfg"
                    }),
                    toml: opts.zk_node_toml,
                },
            })
        };
        if target == Target::Apache && !apache_available("this ensemble test")? {
            return Ok(None);
        }
        let n = opts.participants + opts.observers;
        assert!(n > 0, "an ensemble needs members");
        let work = WorkDir::new(&format!("zkfleet-{}-ensemble-", target.name()))?;
        let ports: Vec<MemberPorts> = (0..n)
            .map(|_| MemberPorts {
                client: free_port(),
                quorum: free_port(),
                election: free_port(),
            })
            .collect();
        let links = if opts.proxies {
            start_links(&ports)?
        } else {
            Vec::new()
        };
        let mut members = Vec::with_capacity(n);
        for (i, p) in ports.iter().enumerate() {
            let sid = i as u32 + 1;
            let role = if i < opts.participants {
                Role::Participant
            } else {
                Role::Observer
            };
            let dir = work.path().join(format!("s{sid}"));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).with_context(|| format!("create {}", data.display()))?;
            std::fs::write(data.join("myid"), format!("{sid}\n")).context("write myid")?;
            let lines = membership_lines(i, opts, &ports, &links);
            let cfg = apache::zoo_cfg(&dir, p.client, &opts.server, &lines);
            apache::write_file(&dir.join("zoo.cfg"), &cfg)?;
            let log = match target {
                Target::Apache => {
                    apache::write_file(&dir.join("log4j.properties"), apache::LOG4J)?;
                    dir.join("server.log")
                }
                Target::ZkNode => {
                    if opts.zk_node_toml {
                        let toml = member_toml(i, opts, &data, &ports, &links);
                        apache::write_file(&dir.join("node.toml"), &toml)?;
                    }
                    dir.join("zk-node.log")
                }
            };
            members.push(Member {
                sid,
                role,
                ports: *p,
                command: launch_for(&dir)?,
                dir,
                log,
                child: None,
            });
        }
        Ok(Some(Ensemble {
            target,
            opts: opts.clone(),
            members,
            links,
            work,
            keep: false,
        }))
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// When `true`, dropping the ensemble (outside a panic too) keeps every member's directory
    /// and prints the log tails: a test that fails by returning an error sets it at the start
    /// and clears it once it has passed.
    pub fn keep_on_drop(&mut self, keep: bool) {
        self.keep = keep;
        self.work.keep_on_drop(keep);
    }

    pub fn options(&self) -> &EnsembleOptions {
        &self.opts
    }

    /// Number of members (participants and observers).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn sid(&self, i: usize) -> u32 {
        self.members[i].sid
    }

    pub fn role(&self, i: usize) -> Role {
        self.members[i].role
    }

    pub fn ports(&self, i: usize) -> MemberPorts {
        self.members[i].ports
    }

    /// Member `i`'s client address.
    pub fn client_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.members[i].ports.client))
    }

    /// `host:port,...` over every member.
    pub fn connect_string(&self) -> String {
        self.connect_string_of(&(0..self.len()).collect::<Vec<_>>())
    }

    /// `host:port,...` over the given members.
    pub fn connect_string_of(&self, members: &[usize]) -> String {
        members
            .iter()
            .map(|&i| self.client_addr(i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Member `i`'s directory (zoo.cfg, log, data/).
    pub fn dir(&self, i: usize) -> &Path {
        &self.members[i].dir
    }

    /// Member `i`'s dataDir (`myid`, `version-2/`).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.members[i].dir.join("data")
    }

    pub fn log_path(&self, i: usize) -> &Path {
        &self.members[i].log
    }

    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].child.as_ref().and_then(ChildGuard::pid)
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].child.is_some()
    }

    /// Indices of the members whose process runs.
    pub fn running(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_running(i)).collect()
    }

    /// Starts member `i`'s process (it must not be running) without waiting for it to serve;
    /// use this when it can only serve once other members are back too.
    pub fn spawn(&mut self, i: usize) -> Result<()> {
        let m = &mut self.members[i];
        assert!(m.child.is_none(), "member {} is already running", m.sid);
        let mut cmd = match &m.command {
            Launch::Apache { jvm_args } => apache::java_command(&m.dir, jvm_args),
            Launch::ZkNode { bin, config, toml } => {
                let mut c = Command::new(bin);
                c.arg("run")
                    .arg(if *toml { "--config" } else { "--zoo-cfg" })
                    .arg(config)
                    .current_dir(&m.dir);
                if std::env::var_os("RUST_LOG").is_none() {
                    c.env("RUST_LOG", "info");
                }
                c
            }
        };
        let name = format!("{}#{}@{}", self.target.name(), m.sid, m.ports.client);
        let banner = format!("\n===== harness: starting {name} =====\n");
        append(&m.log, &banner);
        // Keep the environment from leaking JVM options into the reference server.
        cmd.env_remove("JAVA_TOOL_OPTIONS");
        m.child = Some(ChildGuard::spawn(name, cmd, &m.log)?);
        Ok(())
    }

    /// Kills member `i` with SIGKILL (by PID) and reaps it. Its data directory stays.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            c.kill();
            append(
                &self.members[i].log,
                "\n===== harness: killed with SIGKILL =====\n",
            );
        }
    }

    /// Freezes member `i` with SIGSTOP (by PID): its sockets stay open but it answers nothing,
    /// so its peers notice only by their own timeouts (as with a long GC pause or a hung
    /// disk), unlike a kill, whose closed connections they notice at once.
    pub fn pause(&mut self, i: usize) -> Result<()> {
        self.signal(i, "STOP")
    }

    /// Lets a member frozen by [`Ensemble::pause`] run again (SIGCONT).
    pub fn resume(&mut self, i: usize) -> Result<()> {
        self.signal(i, "CONT")
    }

    fn signal(&mut self, i: usize, sig: &str) -> Result<()> {
        let pid = self
            .pid(i)
            .with_context(|| format!("member {} is not running", self.sid(i)))?;
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .with_context(|| format!("kill -{sig} {pid}"))?;
        anyhow::ensure!(status.success(), "kill -{sig} {pid}: {status}");
        append(
            &self.members[i].log,
            &format!("\n===== harness: SIG{sig} =====\n"),
        );
        Ok(())
    }

    /// Kills member `i` if it runs, starts it again on its data directory, and waits until it
    /// serves (follows, observes or leads).
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.kill(i);
        self.spawn(i)?;
        self.wait_serving(&[i], START_TIMEOUT)
    }

    /// Deletes everything in member `i`'s data directory but `myid` (the member must be
    /// stopped): it comes back with no history and must be sent a snapshot.
    pub fn wipe(&mut self, i: usize) -> Result<()> {
        assert!(
            !self.is_running(i),
            "wipe member {} only while it is stopped",
            self.sid(i)
        );
        let data = self.data_dir(i);
        for e in std::fs::read_dir(&data).with_context(|| format!("list {}", data.display()))? {
            let p = e?.path();
            if p.file_name().is_some_and(|n| n == "myid") {
                continue;
            }
            if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            }
            .with_context(|| format!("remove {}", p.display()))?;
        }
        Ok(())
    }

    /// Member `i`'s `srvr` answer, or the reason there is none.
    pub fn srvr(&self, i: usize) -> Result<String> {
        four_letter_word(self.client_addr(i), "srvr", PROBE_TIMEOUT)
    }

    /// Any four-letter word to member `i`.
    pub fn four_letter_word(&self, i: usize, word: &str) -> Result<String> {
        four_letter_word(self.client_addr(i), word, PROBE_TIMEOUT)
    }

    /// What member `i` does now, from `srvr`.
    pub fn mode(&self, i: usize) -> Mode {
        if !self.is_running(i) {
            return Mode::Down;
        }
        match self.srvr(i) {
            Ok(text) => Mode::from_srvr(&text),
            Err(_) => Mode::NotServing,
        }
    }

    /// Every member's mode, in sid order.
    pub fn modes(&self) -> Vec<Mode> {
        (0..self.len()).map(|i| self.mode(i)).collect()
    }

    /// Fails if a member's process exited without the test killing it.
    pub fn check_processes(&mut self) -> Result<()> {
        for m in &mut self.members {
            let Some(c) = m.child.as_mut() else { continue };
            if let Some(status) = c.try_wait()? {
                let tail = log_tail(&m.log, 40);
                m.child = None;
                bail!(
                    "{} server {} exited on its own with {status}; log {}:\n{tail}",
                    self.target.name(),
                    m.sid,
                    m.log.display()
                );
            }
        }
        Ok(())
    }

    /// Waits until exactly one running member leads and every other running member follows
    /// (participants) or observes (observers); returns the leader's index.
    pub fn wait_for_leader(&mut self, timeout: Duration) -> Result<usize> {
        let all: Vec<usize> = (0..self.len()).collect();
        self.wait_for_leader_among(&all, timeout)
    }

    /// Like [`Ensemble::wait_for_leader`], looking only at `members` (e.g. the majority side of
    /// a partition, while the isolated side may still believe it leads).
    pub fn wait_for_leader_among(&mut self, members: &[usize], timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_processes()?;
            let modes: Vec<(usize, Mode)> = members
                .iter()
                .filter(|&&i| self.is_running(i))
                .map(|&i| (i, self.mode(i)))
                .collect();
            self.fail_on_standalone(&modes)?;
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| *m == Mode::Leader)
                .map(|(i, _)| *i)
                .collect();
            let others_ok = modes.iter().all(|&(i, m)| {
                m == Mode::Leader
                    || match self.role(i) {
                        Role::Participant => m == Mode::Follower,
                        Role::Observer => m == Mode::Observer,
                    }
            });
            if leaders.len() == 1 && others_ok {
                return Ok(leaders[0]);
            }
            if Instant::now() > deadline {
                bail!(
                    "no single leader among {} within {timeout:?}: {}",
                    self.sids(members),
                    self.describe(&modes)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until each of `members` serves (leads, follows or observes).
    pub fn wait_serving(&mut self, members: &[usize], timeout: Duration) -> Result<()> {
        self.wait_modes(members, timeout, "serve", |_, m| m.is_serving())
    }

    /// Waits until `pred(i, mode)` holds for each of `members`; `what` names the wait in the
    /// error.
    pub fn wait_modes(
        &mut self,
        members: &[usize],
        timeout: Duration,
        what: &str,
        pred: impl Fn(usize, Mode) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_processes()?;
            let modes: Vec<(usize, Mode)> = members.iter().map(|&i| (i, self.mode(i))).collect();
            self.fail_on_standalone(&modes)?;
            if modes.iter().all(|&(i, m)| pred(i, m)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "members {} did not {what} within {timeout:?}: {}",
                    self.sids(members),
                    self.describe(&modes)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Index of the member that reports `Mode: leader`, if exactly one does.
    pub fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.len())
            .filter(|&i| self.mode(i) == Mode::Leader)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Running members that report `Mode: follower`.
    pub fn followers(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.mode(i) == Mode::Follower)
            .collect()
    }

    /// Separates member `i` from every peer, both directions, quorum and election links.
    pub fn isolate(&self, i: usize, how: Partition) {
        assert!(
            !self.links.is_empty(),
            "isolate needs EnsembleOptions::proxies"
        );
        for l in self.links.iter().filter(|l| l.from == i || l.to == i) {
            for p in [&l.quorum, &l.election] {
                match how {
                    Partition::Cut => p.cut(),
                    Partition::Blackhole => p.blackhole(),
                }
            }
        }
    }

    /// Restores every peer link.
    pub fn heal_all(&self) {
        for l in &self.links {
            l.quorum.heal();
            l.election.heal();
        }
    }

    /// A [`Server`] handle on member `i` for code written against one server (the differential
    /// runner, the interop sessions); it does not own the process.
    pub fn member_server(&self, i: usize) -> MemberServer {
        MemberServer {
            target: self.target,
            addr: self.client_addr(i),
            log: self.members[i].log.clone(),
            pid: self.pid(i),
            sid: self.sid(i),
        }
    }

    /// Log tails of every member, for failure messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut s = String::new();
        for m in &self.members {
            let _ = write!(
                s,
                "\n--- {} server {} ({}) log {} ---\n{}",
                self.target.name(),
                m.sid,
                if m.child.is_some() { "running" } else { "down" },
                m.log.display(),
                log_tail(&m.log, lines)
            );
        }
        s
    }

    fn fail_on_standalone(&self, modes: &[(usize, Mode)]) -> Result<()> {
        if let Some(&(i, _)) = modes.iter().find(|(_, m)| *m == Mode::Standalone) {
            bail!(
                "{} server {} runs standalone although its zoo.cfg lists {} servers{}",
                self.target.name(),
                self.sid(i),
                self.len(),
                self.log_tails(LOG_TAIL_LINES)
            );
        }
        Ok(())
    }

    fn sids(&self, members: &[usize]) -> String {
        let v: Vec<String> = members.iter().map(|&i| self.sid(i).to_string()).collect();
        format!("[{}]", v.join(","))
    }

    fn describe(&self, modes: &[(usize, Mode)]) -> String {
        let mut s: Vec<String> = modes
            .iter()
            .map(|&(i, m)| format!("server {}: {m:?}", self.sid(i)))
            .collect();
        s.push(self.log_tails(LOG_TAIL_LINES));
        s.join("; ")
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                c.kill();
            }
        }
        if self.keep || std::thread::panicking() {
            eprintln!("{}", self.log_tails(40));
        }
        // Proxies stop when `links` drops; the directories go with `work` (kept on panic).
    }
}

/// A [`Server`] view of one ensemble member (see [`Ensemble::member_server`]).
#[derive(Debug, Clone)]
pub struct MemberServer {
    target: Target,
    addr: SocketAddr,
    log: PathBuf,
    pid: Option<u32>,
    sid: u32,
}

impl MemberServer {
    pub fn sid(&self) -> u32 {
        self.sid
    }
}

impl Server for MemberServer {
    fn target(&self) -> Target {
        self.target
    }
    fn addr(&self) -> SocketAddr {
        self.addr
    }
    fn log_path(&self) -> &Path {
        &self.log
    }
    fn pid(&self) -> Option<u32> {
        self.pid
    }
    fn label(&self) -> String {
        format!("{}-ensemble#{}@{}", self.target, self.sid, self.addr)
    }
}

/// A follower of a 3-node ensemble that owns its ensemble: what [`Target::start`] returns under
/// `ZKFLEET_ENSEMBLE=follower` (see [`crate::target::ENSEMBLE_ENV`]), so a suite written for one
/// server runs unchanged against an ensemble, its clients on a follower. zk-node runs from TOML
/// configs here, so every [`ServerOptions`] key applies to both implementations.
#[derive(Debug)]
pub struct FollowerServer {
    ensemble: Ensemble,
    /// The member the clients use; a follower when the ensemble started.
    index: usize,
    member: MemberServer,
}

impl FollowerServer {
    /// Starts the ensemble and picks its first follower. `Ok(None)`: skipped (no Apache).
    pub fn start(target: Target, opts: &ServerOptions) -> Result<Option<FollowerServer>> {
        let eopts = EnsembleOptions {
            server: opts.clone(),
            zk_node_toml: true,
            ..EnsembleOptions::default()
        };
        let Some(mut ensemble) = Ensemble::start(target, &eopts)? else {
            return Ok(None);
        };
        let leader = ensemble.wait_for_leader(START_TIMEOUT)?;
        let index = (0..ensemble.len())
            .find(|&i| i != leader)
            .context("a 3-node ensemble has a follower")?;
        let member = ensemble.member_server(index);
        eprintln!(
            "{}: clients go to follower {} (leader: server {})",
            member.label(),
            ensemble.sid(index),
            ensemble.sid(leader)
        );
        Ok(Some(FollowerServer {
            ensemble,
            index,
            member,
        }))
    }

    pub fn ensemble(&self) -> &Ensemble {
        &self.ensemble
    }

    /// The member the clients use.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Server for FollowerServer {
    fn target(&self) -> Target {
        self.member.target()
    }
    fn addr(&self) -> SocketAddr {
        self.member.addr()
    }
    fn log_path(&self) -> &Path {
        self.member.log_path()
    }
    fn pid(&self) -> Option<u32> {
        self.ensemble.pid(self.index)
    }
    fn label(&self) -> String {
        self.member.label()
    }
}

/// Proxies for every ordered pair of members.
fn start_links(ports: &[MemberPorts]) -> Result<Vec<Link>> {
    let mut links = Vec::new();
    for (from, _) in ports.iter().enumerate() {
        for (to, p) in ports.iter().enumerate() {
            if from == to {
                continue;
            }
            let (a, b) = (from + 1, to + 1);
            links.push(Link {
                from,
                to,
                quorum: Proxy::start(
                    format!("{a}->{b} quorum"),
                    SocketAddr::from(([127, 0, 0, 1], p.quorum)),
                )?,
                election: Proxy::start(
                    format!("{a}->{b} election"),
                    SocketAddr::from(([127, 0, 0, 1], p.election)),
                )?,
            });
        }
    }
    Ok(links)
}

/// The quorum and election ports member `me` uses for member `j`: `j`'s real ports, or the
/// proxies of the link `me -> j` when there are proxies.
fn peer_ports(me: usize, j: usize, ports: &[MemberPorts], links: &[Link]) -> (u16, u16) {
    match links.iter().find(|l| l.from == me && l.to == j) {
        Some(l) => (
            l.quorum.listen_addr().port(),
            l.election.listen_addr().port(),
        ),
        None => (ports[j].quorum, ports[j].election),
    }
}

/// zk-node's TOML config for member `me`: the keys of [`crate::zknode::node_toml`] for
/// `opts.server`, then `my_id`, the limits, and a `[[server]]` table per member (ports as in
/// [`membership_lines`]).
fn member_toml(
    me: usize,
    opts: &EnsembleOptions,
    data: &Path,
    ports: &[MemberPorts],
    links: &[Link],
) -> String {
    let mut t = crate::zknode::node_toml(data, ports[me].client, &opts.server);
    let _ = writeln!(t, "my_id = {}", me + 1);
    let _ = writeln!(t, "init_limit = {}", opts.init_limit);
    let _ = writeln!(t, "sync_limit = {}", opts.sync_limit);
    for j in 0..ports.len() {
        let (quorum, election) = peer_ports(me, j, ports, links);
        let role = if j < opts.participants {
            "participant"
        } else {
            "observer"
        };
        let _ = write!(
            t,
            "\n[[server]]\nid = {}\nhost = \"127.0.0.1\"\nquorum_port = {quorum}\n\
             election_port = {election}\nclient_port = {}\nrole = \"{role}\"\n",
            j + 1,
            ports[j].client
        );
    }
    t
}

/// The `initLimit`, `syncLimit` and `server.N` lines of member `me`'s zoo.cfg: its own line has
/// its real ports (it binds them); the others' lines point at the proxies of `me`'s links when
/// there are proxies.
fn membership_lines(
    me: usize,
    opts: &EnsembleOptions,
    ports: &[MemberPorts],
    links: &[Link],
) -> Vec<String> {
    let mut lines = vec![
        format!("initLimit={}", opts.init_limit),
        format!("syncLimit={}", opts.sync_limit),
    ];
    for j in 0..ports.len() {
        let (quorum, election) = peer_ports(me, j, ports, links);
        let role = if j < opts.participants {
            ""
        } else {
            ":observer"
        };
        lines.push(format!(
            "server.{}=127.0.0.1:{quorum}:{election}{role}",
            j + 1
        ));
    }
    if me >= opts.participants {
        // Apache 3.8 derives the role from the server line; older configs also say it here.
        lines.push("peerType=observer".to_string());
    }
    lines
}

/// Appends a marker line to a member's log so restarts and kills can be found in it.
fn append(log: &Path, text: &str) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_modes() {
        let srvr = "Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(Mode::from_srvr(srvr), Mode::Follower);
        assert_eq!(
            Mode::from_srvr("This ZooKeeper instance is not currently serving requests\n"),
            Mode::NotServing
        );
        assert_eq!(Mode::from_srvr("Mode: leader\n"), Mode::Leader);
        assert!(!Mode::Standalone.is_serving());
    }

    #[test]
    fn observer_lines_and_proxied_peers() {
        let ports: Vec<MemberPorts> = (0..3)
            .map(|i| MemberPorts {
                client: 1000 + i,
                quorum: 2000 + i,
                election: 3000 + i,
            })
            .collect();
        let opts = EnsembleOptions {
            participants: 2,
            observers: 1,
            ..EnsembleOptions::default()
        };
        let lines = membership_lines(2, &opts, &ports, &[]);
        assert!(lines.contains(&"server.1=127.0.0.1:2000:3000".to_string()));
        assert!(lines.contains(&"server.3=127.0.0.1:2002:3002:observer".to_string()));
        assert!(lines.contains(&"peerType=observer".to_string()));
    }
}
