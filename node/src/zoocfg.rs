//! Apache ZooKeeper's `zoo.cfg` (`zk-node run --zoo-cfg zoo.cfg`), mapped to the same
//! [`Config`] the TOML file produces, so an existing deployment can switch over with its own
//! configuration.
//!
//! The file is Java properties (`key=value`, `key: value` or `key value`; `#` and `!` comment
//! lines; a trailing `\` continues a line; `\t`, `\n`, `\uXXXX` escapes), read the way
//! `QuorumPeerConfig.parse` reads it, with Apache's defaults where the TOML defaults differ
//! (the AdminServer is on, on port 8080). Keys that zk-node does not know are reported as
//! warnings, one per key, naming the file, the line and the key; they never stop the node.
//! A bad value is an error naming the file, the line, the key and what is wrong.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::{Config, RawConfig};

/// The Prometheus provider's class name, which turns the `/metrics` endpoint on.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Apache's default metrics provider (metrics only through `mntr` and the AdminServer).
pub const DEFAULT_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

/// One `server.N` line: `host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]`,
/// several `host:port:port` separated by `|` (Apache's multi-address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    pub id: u64,
    pub addrs: Vec<QuorumAddr>,
    pub observer: bool,
    /// The client address of a dynamic-config style line (`;[host:]port`).
    pub client: Option<(Option<String>, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumAddr {
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
}

impl QuorumAddr {
    /// `host:port` for the quorum port (IPv6 literals in brackets).
    pub fn quorum(&self) -> String {
        host_port(&self.host, self.quorum_port)
    }

    /// `host:port` for the election port.
    pub fn election(&self) -> String {
        host_port(&self.host, self.election_port)
    }
}

/// `host:port`, with an IPv6 literal in brackets (Apache's `delimitedHostString`).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl ServerLine {
    /// The client address of a `;[host:]port` part: `0.0.0.0` when only a port is given.
    pub fn client_addr(&self) -> Option<String> {
        self.client
            .as_ref()
            .map(|(h, p)| host_port(h.as_deref().unwrap_or("0.0.0.0"), *p))
    }

    /// The value of the `server.N` line as Apache's `QuorumServer.toString()` writes it in
    /// `conf` and the dynamic config: `host:quorum:election[|...]:role[;clientHost:clientPort]`.
    pub fn value(&self) -> String {
        let addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|a| format!("{}:{}", a.quorum(), a.election_port))
            .collect();
        let role = if self.observer {
            "observer"
        } else {
            "participant"
        };
        let mut v = format!("{}:{role}", addrs.join("|"));
        if let Some(c) = self.client_addr() {
            v.push(';');
            v.push_str(&c);
        }
        v
    }

    /// Parses the value of `server.<id>`. The error says what is wrong with it.
    pub fn parse(id: u64, value: &str) -> std::result::Result<ServerLine, String> {
        let expected = "expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]";
        let (addrs_text, client_text) = match value.split_once(';') {
            Some((a, c)) => (a.trim(), Some(c.trim())),
            None => (value.trim(), None),
        };
        let mut observer = false;
        let mut addrs = Vec::new();
        for part in addrs_text.split('|') {
            let (host, rest) = split_host(part.trim()).ok_or_else(|| expected.to_string())?;
            let fields: Vec<&str> = rest.split(':').collect();
            if fields.len() < 2 || fields.len() > 3 || host.is_empty() {
                return Err(expected.to_string());
            }
            let port = |s: &str, what: &str| {
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{s}` is not a valid {what} port (1-65535)"))
            };
            addrs.push(QuorumAddr {
                host: host.to_string(),
                quorum_port: port(fields[0], "quorum")?,
                election_port: port(fields[1], "election")?,
            });
            if let Some(role) = fields.get(2) {
                match role.trim().to_ascii_lowercase().as_str() {
                    "participant" => {}
                    "observer" => observer = true,
                    other => {
                        return Err(format!(
                            "role `{other}` must be `participant` or `observer`"
                        ))
                    }
                }
            }
        }
        let client = match client_text {
            None | Some("") => None,
            Some(c) => {
                let (host, port_text) = match c.rsplit_once(':') {
                    Some((h, p)) => (Some(h.trim_matches(['[', ']']).to_string()), p),
                    None => (None, c),
                };
                let port = port_text
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{port_text}` is not a valid client port (1-65535)"))?;
                Some((host, port))
            }
        };
        Ok(ServerLine {
            id,
            addrs,
            observer,
            client,
        })
    }
}

/// Splits `host:rest` where host may be a bracketed IPv6 address.
fn split_host(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        Some((host, rest.strip_prefix(':')?))
    } else {
        s.split_once(':')
    }
}

/// One `key=value` of the file, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Reads Java properties text into entries in file order.
pub fn parse_properties(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let first = raw.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues.
        let mut logical = first.to_string();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push(Entry {
            line: i + 1,
            key: unescape(&key).trim().to_string(),
            value: unescape(&value).trim().to_string(),
        });
    }
    out
}

fn ends_with_continuation(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// The key ends at the first unescaped `=`, `:` or whitespace; the separator and the
/// whitespace around it are dropped.
fn split_key_value(s: &str) -> (String, String) {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '=' | ':' | ' ' | '\t' | '\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(chars.len());
    let key: String = chars[..i].iter().collect();
    let mut j = i;
    while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\x0c') {
        j += 1;
    }
    if j < chars.len() && matches!(chars[j], '=' | ':') {
        j += 1;
    }
    while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\x0c') {
        j += 1;
    }
    (key, chars[j..].iter().collect())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Apache keys zk-node accepts without acting on them, because zk-node's behaviour already
/// matches what they ask for or they tune something zk-node does not have (JVM, Netty, thread
/// pools, metrics-provider internals).
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "standaloneEnabled",
    "electionAlg",
    "syncEnabled",
    "quorumListenOnAllIPs",
    "clientPortListenBacklog",
    "connectToLearnerMasterLimit",
    "quorum.cnxn.threads.size",
    "admin.idleTimeout",
    "metricsProvider.exportJvmInfo",
    "metricsProvider.numWorkerThreads",
    "metricsProvider.maxQueueSize",
    "metricsProvider.workerShutdownTimeoutMs",
    "jvm.pause.monitor",
    "jvm.pause.info-threshold.ms",
    "jvm.pause.warn-threshold.ms",
    "jvm.pause.sleep.time.ms",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "serverCnxnFactory",
    "digest.enabled",
    "snapshot.trust.empty",
];

/// Apache keys for features zk-node does not have; they are ignored with a warning, because
/// the operator expects them to do something.
const UNSUPPORTED_PREFIXES: &[&str] = &[
    "secureClientPort",
    "secureClientPortAddress",
    "sslQuorum",
    "sslQuorumReloadCertFiles",
    "portUnification",
    "ssl.",
    "ssl.quorum.",
    "client.secure",
    "authProvider.",
    "quorum.auth.",
    "kerberos.",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "dynamicConfigFile",
    "observerMasterPort",
    "group.",
    "weight.",
    "oraclePath",
    "maxCnxns",
    "reconfigEnabled",
    "audit.enable",
    "readonlymode.enabled",
];

/// A config read from a zoo.cfg, with the warnings to log once logging is set up.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Reads `path`, maps it to a [`Config`], and collects warnings for keys it does not apply.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read zoo.cfg {}", path.display()))?;
    parse(&text, path)
}

/// Parses zoo.cfg `text`; `path` names the file in messages and locates a relative dataDir's
/// `myid`.
pub fn parse(text: &str, path: &Path) -> Result<Loaded> {
    let file = path.display().to_string();
    let mut b = Builder {
        file: file.clone(),
        raw: RawConfig::default(),
        warnings: Vec::new(),
        servers: BTreeMap::new(),
        metrics_class: None,
        metrics_port: None,
        whitelist: None,
        init_limit: None,
        sync_limit: None,
        last_line: BTreeMap::new(),
        admin_enable: None,
        admin_port: None,
        peer_type: None,
    };
    for e in parse_properties(text) {
        if let Some(prev) = b.last_line.insert(e.key.clone(), e.line) {
            b.warnings.push(format!(
                "{file}:{}: key `{}` repeats line {prev}; the later value wins",
                e.line, e.key
            ));
        }
        b.entry(&e)?;
    }
    b.finish(text)
}

struct Builder {
    file: String,
    raw: RawConfig,
    warnings: Vec<String>,
    servers: BTreeMap<u64, (usize, ServerLine)>,
    metrics_class: Option<(usize, String)>,
    metrics_port: Option<u16>,
    whitelist: Option<Vec<String>>,
    init_limit: Option<u32>,
    sync_limit: Option<u32>,
    last_line: BTreeMap<String, usize>,
    admin_enable: Option<bool>,
    admin_port: Option<u16>,
    /// `peerType` (line, is observer).
    peer_type: Option<(usize, bool)>,
}

impl Builder {
    fn bad(&self, e: &Entry, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{}:{}: key `{}` has a bad value `{}`: {what}",
            self.file,
            e.line,
            e.key,
            e.value
        )
    }

    fn int<T: std::str::FromStr>(&self, e: &Entry, what: &str) -> Result<T> {
        e.value.parse::<T>().map_err(|_| self.bad(e, what))
    }

    fn port(&self, e: &Entry) -> Result<u16> {
        self.int::<u16>(e, "expected a port number (0-65535)")
    }

    /// Apache reads most booleans with `Boolean.parseBoolean` (anything but `true` is false)
    /// and forceSync as "anything but `no`"; zk-node refuses what is neither, because a typo
    /// there silently changes durability or exposure.
    fn boolean(&self, e: &Entry) -> Result<bool> {
        match e.value.to_ascii_lowercase().as_str() {
            "true" | "yes" => Ok(true),
            "false" | "no" => Ok(false),
            _ => Err(self.bad(e, "expected true or false (or yes/no)")),
        }
    }

    fn positive(&self, e: &Entry) -> Result<u32> {
        match self.int::<u32>(e, "expected a positive whole number") {
            Ok(0) => Err(self.bad(e, "must be greater than 0")),
            r => r,
        }
    }

    fn warn(&mut self, e: &Entry, why: &str) {
        let msg = format!("{}:{}: {why} `{}`; ignored", self.file, e.line, e.key);
        self.warnings.push(msg);
    }

    fn entry(&mut self, e: &Entry) -> Result<()> {
        match e.key.as_str() {
            "dataDir" => self.raw.data_dir = Some(PathBuf::from(&e.value)),
            "dataLogDir" => self.raw.data_log_dir = Some(PathBuf::from(&e.value)),
            "clientPort" => self.raw.client_port = Some(self.port(e)?),
            "clientPortAddress" => {
                let ip = resolve(&e.value).ok_or_else(|| {
                    self.bad(e, "expected an IP address or a resolvable host name")
                })?;
                self.raw.client_address = Some(ip.to_string());
            }
            "tickTime" => self.raw.tick_ms = Some(self.positive(e)?),
            "maxClientCnxns" => {
                self.raw.max_client_cnxns =
                    Some(self.int(e, "expected a whole number (0 = unlimited)")?)
            }
            // -1 is Apache's "use the default" (2 and 20 ticks).
            "minSessionTimeout" | "maxSessionTimeout" => {
                let v: i64 = self.int(e, "expected milliseconds (or -1 for the default)")?;
                let v = match v {
                    -1 => None,
                    v if v > 0 && v <= u32::MAX as i64 => Some(v as u32),
                    _ => return Err(self.bad(e, "expected milliseconds (or -1 for the default)")),
                };
                if e.key == "minSessionTimeout" {
                    self.raw.session_timeout_ms_min = v;
                } else {
                    self.raw.session_timeout_ms_max = v;
                }
            }
            "initLimit" => self.init_limit = Some(self.positive(e)?),
            "syncLimit" => self.sync_limit = Some(self.positive(e)?),
            "autopurge.snapRetainCount" => {
                let n: u32 = self.int(e, "expected a whole number of snapshots (at least 3)")?;
                if n < 3 {
                    self.warnings.push(format!(
                        "{}:{}: autopurge.snapRetainCount {n} is below the minimum; 3 snapshots are kept (as Apache does)",
                        self.file, e.line
                    ));
                }
                self.raw.snap_retain_count = Some(n.max(3));
            }
            // Apache: 0 or less disables purging.
            "autopurge.purgeInterval" => {
                let h: i64 = self.int(e, "expected a whole number of hours (0 disables)")?;
                self.raw.purge_interval_hours = Some(h.clamp(0, u32::MAX as i64) as u32);
            }
            "snapCount" => {
                let n: u64 = self.int(e, "expected a whole number of transactions")?;
                if n < 2 {
                    return Err(self.bad(e, "must be at least 2"));
                }
                self.raw.snap_count = Some(n);
            }
            // Apache reads unknown zoo.cfg keys as `zookeeper.<key>` system properties, so
            // `commitLogCount=N` sets `zookeeper.commitLogCount` there too.
            "commitLogCount" | "zookeeper.commitLogCount" => {
                let n: u64 = self.int(e, "expected a whole number of proposals")?;
                if n < 1 {
                    return Err(self.bad(e, "must be at least 1"));
                }
                self.raw.commit_log_count = Some(n);
            }
            "forceSync" => self.raw.force_sync = Some(self.boolean(e)?),
            "extendedTypesEnabled" => self.raw.extended_types_enabled = Some(self.boolean(e)?),
            "jute.maxbuffer" => {
                self.raw.jute_max_buffer = Some(self.int(e, "expected a size in bytes")?)
            }
            "DigestAuthenticationProvider.superDigest" => {
                self.raw.super_digest = Some(e.value.clone())
            }
            "4lw.commands.whitelist" => {
                let words: Vec<String> = e
                    .value
                    .split(',')
                    .map(|w| w.trim().to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
                for w in &words {
                    if w != "*" && !crate::server::fourlw::KNOWN.contains(&w.as_str()) {
                        self.warnings.push(format!(
                            "{}:{}: `{w}` in 4lw.commands.whitelist is not a four-letter word; ignored",
                            self.file, e.line
                        ));
                    }
                }
                self.whitelist = Some(words);
            }
            "admin.enableServer" => self.admin_enable = Some(self.boolean(e)?),
            "admin.serverPort" => self.admin_port = Some(self.port(e)?),
            "admin.serverAddress" => {
                let ip = resolve(&e.value).ok_or_else(|| {
                    self.bad(e, "expected an IP address or a resolvable host name")
                })?;
                self.raw.admin_server_address = Some(ip.to_string());
            }
            "admin.commandURL" => {
                if !e.value.starts_with('/') {
                    return Err(self.bad(e, "expected a path starting with `/`"));
                }
                self.raw.admin_command_url = Some(e.value.clone());
            }
            // Apache's legacy way to say "observer"; the server list decides (see `finish`).
            "peerType" => match e.value.to_ascii_lowercase().as_str() {
                "observer" => self.peer_type = Some((e.line, true)),
                "participant" => self.peer_type = Some((e.line, false)),
                _ => return Err(self.bad(e, "expected observer or participant")),
            },
            "metricsProvider.className" => {
                self.metrics_class = Some((e.line, e.value.clone()));
            }
            "metricsProvider.httpPort" => self.metrics_port = Some(self.port(e)?),
            "metricsProvider.httpHost" => {
                let ip = resolve(&e.value).ok_or_else(|| {
                    self.bad(e, "expected an IP address or a resolvable host name")
                })?;
                self.raw.metrics_address = Some(ip.to_string());
            }
            k if k.starts_with("server.") => {
                let id: u64 = k["server.".len()..].parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}:{}: key `{k}`: the server id after `server.` must be a whole number",
                        self.file,
                        e.line
                    )
                })?;
                let line = ServerLine::parse(id, &e.value).map_err(|why| self.bad(e, &why))?;
                self.servers.insert(id, (e.line, line));
            }
            k if ACCEPTED_WITHOUT_EFFECT.contains(&k) => {}
            k if UNSUPPORTED_PREFIXES
                .iter()
                .any(|p| k == *p || (p.ends_with('.') && k.starts_with(p))) =>
            {
                self.warn(e, "zk-node does not support")
            }
            _ => self.warn(e, "unknown key"),
        }
        Ok(())
    }

    fn finish(mut self, text: &str) -> Result<Loaded> {
        let file = self.file.clone();
        let Some(data_dir) = self.raw.data_dir.clone() else {
            anyhow::bail!("{file}: dataDir is not set: add dataDir=<directory for snapshots>");
        };
        // A relative dataDir is relative to where the node runs, as in Apache.
        let servers: Vec<ServerLine> = self.servers.values().map(|(_, s)| s.clone()).collect();
        let mut server_id = None;
        if !servers.is_empty() {
            let myid_path = data_dir.join("myid");
            let text = std::fs::read_to_string(&myid_path).with_context(|| {
                format!(
                    "{file}: server.N lines are set, so {} must hold this server's id, but it cannot be read",
                    myid_path.display()
                )
            })?;
            let id: u64 = text.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "{}: `{}` is not a server id (a whole number)",
                    myid_path.display(),
                    text.trim()
                )
            })?;
            let Some((_, me)) = self.servers.get(&id) else {
                anyhow::bail!(
                    "{file}: myid is {id} ({}) but there is no server.{id} line",
                    myid_path.display()
                );
            };
            if self.raw.client_port.is_none() {
                self.raw.client_port = me.client.as_ref().map(|(_, p)| *p);
            }
            if let Some((line, observer)) = self.peer_type.filter(|(_, o)| *o != me.observer) {
                let role = |o: bool| if o { "observer" } else { "participant" };
                self.warnings.push(format!(
                    "{file}:{line}: peerType={} does not match server.{id} ({}); the server list wins, as in Apache",
                    role(observer),
                    role(me.observer)
                ));
            }
            crate::config::check_members(&servers, id, crate::config::Naming::ZooCfg)
                .with_context(|| format!("invalid zoo.cfg {file}"))?;
            let sid = u8::try_from(id).ok().filter(|s| *s > 0).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: server id {id}: zk-node supports server ids 1 to 255",
                    myid_path.display()
                )
            })?;
            server_id = Some(sid);
        }
        if self.raw.client_port.is_none() {
            anyhow::bail!("{file}: clientPort is not set: add clientPort=<port for clients>");
        }
        if let (Some(min), Some(max)) = (
            self.raw.session_timeout_ms_min,
            self.raw.session_timeout_ms_max,
        ) {
            if min > max {
                let line = self
                    .last_line
                    .get("minSessionTimeout")
                    .copied()
                    .unwrap_or(0);
                anyhow::bail!("{file}:{line}: minSessionTimeout ({min}) is greater than maxSessionTimeout ({max})");
            }
        }
        // Apache's defaults: the whitelist is srvr only; the AdminServer is on, on 8080.
        self.raw.four_letter_words =
            Some(self.whitelist.take().unwrap_or_else(|| vec!["srvr".into()]));
        self.raw.admin_enable_server = Some(self.admin_enable.unwrap_or(true));
        self.raw.admin_server_port = Some(self.admin_port.unwrap_or(8080));
        match &self.metrics_class {
            None => {}
            Some((_, c)) if c == PROMETHEUS_PROVIDER => {
                self.raw.metrics_port = Some(self.metrics_port.unwrap_or(7000));
            }
            Some((_, c)) if c == DEFAULT_PROVIDER => {}
            Some((line, c)) => self.warnings.push(format!(
                "{file}:{line}: metrics provider `{c}` is not known to zk-node; metrics are served by mntr and the AdminServer only"
            )),
        }
        if self.metrics_port.is_some() && self.raw.metrics_port.is_none() {
            let line = self
                .last_line
                .get("metricsProvider.httpPort")
                .copied()
                .unwrap_or(0);
            self.warnings.push(format!(
                "{file}:{line}: metricsProvider.httpPort is set but metricsProvider.className is not the Prometheus provider; no /metrics endpoint"
            ));
        }
        let mut config = self
            .raw
            .validate()
            .with_context(|| format!("invalid zoo.cfg {file}"))?;
        if let Some(sid) = server_id {
            config.server_id = sid;
        }
        config.servers = servers;
        config.init_limit = self.init_limit.unwrap_or(config.init_limit);
        config.sync_limit = self.sync_limit.unwrap_or(config.sync_limit);
        config.initial_config = text.to_string();
        Ok(Loaded {
            config,
            warnings: self.warnings,
        })
    }
}

/// An IP address, or the first address a host name resolves to.
fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .ok()?
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv4())
        .or_else(|| (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Loaded> {
        parse(text, Path::new("zoo.cfg"))
    }

    #[test]
    fn java_properties_syntax() {
        let e = parse_properties(
            "# comment\n! also\n  a=1\nb : 2\nc 3\nd=x\\\n   y\ne=tab\\there\nf\\=g=h\n\n",
        );
        let kv: Vec<(String, String, usize)> =
            e.into_iter().map(|e| (e.key, e.value, e.line)).collect();
        assert_eq!(
            kv,
            vec![
                ("a".into(), "1".into(), 3),
                ("b".into(), "2".into(), 4),
                ("c".into(), "3".into(), 5),
                ("d".into(), "xy".into(), 6),
                ("e".into(), "tab\there".into(), 8),
                ("f=g".into(), "h".into(), 9),
            ]
        );
    }

    #[test]
    fn a_typical_file_maps_to_config() {
        let l = load_text(
            "tickTime=1000\ndataDir=/var/lib/zk\ndataLogDir=/var/log/zk\nclientPort=2182\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\nminSessionTimeout=3000\nmaxSessionTimeout=-1\nautopurge.snapRetainCount=5\n\
             autopurge.purgeInterval=24\nsnapCount=1000\nforceSync=no\n4lw.commands.whitelist=srvr, mntr ,ruok\n\
             admin.serverPort=9090\nextendedTypesEnabled=true\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpPort=7001\ninitLimit=7\nsyncLimit=3\n",
        )
        .unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let c = l.config;
        assert_eq!(c.tick_ms, 1000);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/zk"));
        assert_eq!(c.data_log_dir, PathBuf::from("/var/log/zk"));
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.client_address.to_string(), "127.0.0.1");
        assert_eq!(c.max_client_cnxns, 0);
        assert_eq!(
            (c.session_timeout_ms_min, c.session_timeout_ms_max),
            (3000, 20000)
        );
        assert_eq!((c.snap_retain_count, c.purge_interval_hours), (5, 24));
        assert_eq!(c.snap_count, 1000);
        assert!(!c.force_sync);
        assert_eq!(c.four_letter_words, vec!["srvr", "mntr", "ruok"]);
        assert!(c.admin_enable_server);
        assert_eq!(c.admin_server_port, 9090);
        assert!(c.extended_types_enabled);
        assert_eq!(c.metrics_port, Some(7001));
        assert_eq!((c.init_limit, c.sync_limit), (7, 3));
        assert!(c.servers.is_empty());
        assert!(c.initial_config.contains("tickTime=1000"));
    }

    #[test]
    fn apache_defaults() {
        let c = load_text("dataDir=/d\nclientPort=2181\n").unwrap().config;
        assert_eq!(c.four_letter_words, vec!["srvr"]);
        assert!(c.admin_enable_server);
        assert_eq!(c.admin_server_port, 8080);
        assert_eq!(c.metrics_port, None);
        assert_eq!(c.tick_ms, 2000);
        assert!(c.force_sync);
    }

    #[test]
    fn unknown_keys_warn_with_file_line_and_key() {
        let l = load_text("dataDir=/d\nclientPort=2181\nfrobnicate=1\nsecureClientPort=2281\nstandaloneEnabled=true\n")
            .unwrap();
        assert_eq!(
            l.warnings,
            vec![
                "zoo.cfg:3: unknown key `frobnicate`; ignored".to_string(),
                "zoo.cfg:4: zk-node does not support `secureClientPort`; ignored".to_string(),
            ]
        );
    }

    #[test]
    fn bad_values_name_file_line_key_and_problem() {
        let cases = [
            (
                "dataDir=/d\nclientPort=abc\n",
                "zoo.cfg:2: key `clientPort` has a bad value `abc`: expected a port number (0-65535)",
            ),
            (
                "dataDir=/d\nclientPort=1\ntickTime=0\n",
                "zoo.cfg:3: key `tickTime` has a bad value `0`: must be greater than 0",
            ),
            (
                "dataDir=/d\nclientPort=1\nforceSync=maybe\n",
                "zoo.cfg:3: key `forceSync` has a bad value `maybe`: expected true or false (or yes/no)",
            ),
            (
                "dataDir=/d\nclientPort=1\nserver.1=host:2888\n",
                "zoo.cfg:3: key `server.1` has a bad value `host:2888`",
            ),
            ("clientPort=1\n", "zoo.cfg: dataDir is not set"),
            ("dataDir=/d\n", "zoo.cfg: clientPort is not set"),
            (
                "dataDir=/d\nclientPort=1\nminSessionTimeout=9000\nmaxSessionTimeout=4000\n",
                "zoo.cfg:3: minSessionTimeout (9000) is greater than maxSessionTimeout (4000)",
            ),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", load_text(text).unwrap_err());
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
    }

    #[test]
    fn server_lines() {
        let s = ServerLine::parse(2, "10.0.0.2:2888:3888:observer;127.0.0.1:2181").unwrap();
        assert!(s.observer);
        assert_eq!(s.addrs[0].host, "10.0.0.2");
        assert_eq!(
            (s.addrs[0].quorum_port, s.addrs[0].election_port),
            (2888, 3888)
        );
        assert_eq!(s.client, Some((Some("127.0.0.1".into()), 2181)));
        let s = ServerLine::parse(1, "[::1]:2888:3888|h2:2889:3889;2181").unwrap();
        assert_eq!(s.addrs.len(), 2);
        assert_eq!(s.addrs[0].host, "::1");
        assert_eq!(s.client, Some((None, 2181)));
        assert!(ServerLine::parse(1, "h:2888:3888:boss").is_err());
    }

    /// `peerType` agrees with the server list silently; a disagreement is a warning and the
    /// list wins, as in Apache; a bad value is an error.
    #[test]
    fn peer_type_follows_the_server_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("myid"), "3\n").unwrap();
        let text = |peer: &str| {
            format!(
                "dataDir={}\nclientPort=2181\npeerType={peer}\nserver.1=h1:2888:3888\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888:observer\n",
                dir.path().display()
            )
        };
        let l = load_text(&text("observer")).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert!(l.config.is_observer());
        let l = load_text(&text("participant")).unwrap();
        assert_eq!(
            l.warnings,
            ["zoo.cfg:3: peerType=participant does not match server.3 (observer); the server list wins, as in Apache"]
        );
        assert!(l.config.is_observer());
        let e = format!("{:#}", load_text(&text("boss")).unwrap_err());
        assert!(
            e.starts_with("zoo.cfg:3: key `peerType` has a bad value `boss`"),
            "{e}"
        );
    }

    /// The membership check of the TOML file applies to zoo.cfg too, in zoo.cfg's words.
    #[test]
    fn bad_membership_in_zoo_cfg() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("myid"), "1\n").unwrap();
        let e = format!(
            "{:#}",
            load_text(&format!(
                "dataDir={}\nclientPort=2181\nserver.1=h:2888:3888\nserver.2=h:2888:3889\n",
                dir.path().display()
            ))
            .unwrap_err()
        );
        assert!(
            e.ends_with("the quorum port of server.2 is 2888 on h, already the quorum port of server.1: every listener on a host needs its own port"),
            "{e}"
        );
    }

    #[test]
    fn ensemble_reads_myid() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let text = format!(
            "dataDir={d}\nclientPort=2181\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"
        );
        let e = format!("{:#}", load_text(&text).unwrap_err());
        assert!(e.contains("myid"), "{e}");
        std::fs::write(dir.path().join("myid"), "2\n").unwrap();
        let c = load_text(&text).unwrap().config;
        assert_eq!(c.server_id, 2);
        assert_eq!(c.servers.len(), 2);
        assert_eq!((c.init_limit, c.sync_limit), (10, 5));
    }
}
