//! zk-node's configuration: a TOML file (`zk-node run --config node.toml`), parsed into a raw
//! struct with serde, then validated into [`Config`]. Errors name the file and the key.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::zoocfg::{QuorumAddr, ServerLine};

/// The file as written. Every field is optional except `data_dir`; defaults are Apache's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Port for clients. Default 2181.
    pub client_port: Option<u16>,
    /// Address to bind for clients. Default 0.0.0.0.
    pub client_address: Option<String>,
    /// Where snapshots and the transaction log live. Required.
    pub data_dir: Option<PathBuf>,
    /// The basic time unit in ms; session timeouts are bounded by it. Default 2000.
    pub tick_ms: Option<u32>,
    /// Lowest negotiable session timeout. Default 2 × tick_ms.
    pub session_timeout_ms_min: Option<u32>,
    /// Highest negotiable session timeout. Default 20 × tick_ms.
    pub session_timeout_ms_max: Option<u32>,
    /// Concurrent connections allowed from one IP address; 0 = unlimited. Default 60.
    pub max_client_cnxns: Option<u32>,
    /// Largest request frame accepted (Apache's jute.maxbuffer). Default 1048575.
    pub jute_max_buffer: Option<u32>,
    /// Allow TTL nodes (Apache's zookeeper.extendedTypesEnabled). Default false.
    pub extended_types_enabled: Option<bool>,
    /// `super:<base64 sha1>` digest whose holder bypasses ACLs. Default none.
    pub super_digest: Option<String>,
    /// How often containers and TTL nodes are checked for removal. Default 60000.
    pub container_check_interval_ms: Option<u32>,
    /// Four-letter words allowed on the client port; `["*"]` for all. Default `["srvr"]`.
    pub four_letter_words: Option<Vec<String>>,
    /// Separate directory for the transaction log (Apache's dataLogDir). Default: data_dir.
    pub data_log_dir: Option<PathBuf>,
    /// Transactions between snapshots (Apache's snapCount). Default 100000.
    pub snap_count: Option<u64>,
    /// Ensemble leader: committed proposals kept in memory to bring a lagging follower up to
    /// date by DIFF; one further behind gets a snapshot (SNAP). Default 50000 (Apache keeps
    /// 500 in memory, `zookeeper.commitLogCount`, and reads further back from its log).
    pub commit_log_count: Option<u64>,
    /// fsync the log before acknowledging (Apache's forceSync). Default true. Only for tests.
    pub force_sync: Option<bool>,
    /// Snapshots (and their logs) kept by the purge task (autopurge.snapRetainCount). Default 3.
    pub snap_retain_count: Option<u32>,
    /// Hours between purges; 0 disables purging (autopurge.purgeInterval). Default 0.
    pub purge_interval_hours: Option<u32>,
    /// Serve the AdminServer (Apache's admin.enableServer). Default: on when
    /// `admin_server_port` is set, off otherwise (Apache's default is on, on 8080; `--zoo-cfg`
    /// keeps Apache's default).
    pub admin_enable_server: Option<bool>,
    /// AdminServer port (admin.serverPort). Default 8080.
    pub admin_server_port: Option<u16>,
    /// AdminServer address (admin.serverAddress). Default 0.0.0.0.
    pub admin_server_address: Option<String>,
    /// AdminServer command URL (admin.commandURL). Default `/commands`.
    pub admin_command_url: Option<String>,
    /// Port of the Prometheus `/metrics` endpoint (metricsProvider.httpPort). Default: none
    /// (off).
    pub metrics_port: Option<u16>,
    /// Address of the `/metrics` endpoint (metricsProvider.httpHost). Default 0.0.0.0.
    pub metrics_address: Option<String>,
    /// Directory for log files, rotated daily; logs go to stderr when unset. Default unset.
    pub log_dir: Option<PathBuf>,
    /// Log file name (prefix of the dated files). Default `zk-node.log`.
    pub log_file: Option<String>,
    /// Ticks a follower may take to connect and sync to a leader (initLimit). Default 10.
    pub init_limit: Option<u32>,
    /// Ticks a follower may lag behind a leader (syncLimit). Default 5.
    pub sync_limit: Option<u32>,
    /// This server's id in the ensemble (Apache's `myid` file): one of the `[[server]]` ids,
    /// 1 to 255. Required when `[[server]]` is given. Default 1 (a standalone server).
    pub my_id: Option<u64>,
    /// The ensemble (Apache's `server.N` lines), one `[[server]]` table per member, this server
    /// included. None, or a single participant: a standalone server. Default: none.
    pub server: Option<Vec<RawServer>>,
}

/// One `[[server]]` table: Apache's `server.<id>=<host>:<quorum_port>:<election_port>:<role>;<client_port>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// The server's id, 1 to 255, unique in the ensemble. Required.
    pub id: u64,
    /// Host name or IP address the other members reach it at. Required.
    pub host: String,
    /// Port of the quorum connection, learners to the leader (Apache's 2888). Required.
    pub quorum_port: u16,
    /// Port of leader election (Apache's 3888). Required.
    pub election_port: u16,
    /// Its client port; for this server's own entry it stands in for the top-level
    /// `client_port` when that is unset. Default: unset.
    pub client_port: Option<u16>,
    /// `participant` (votes) or `observer` (replicates, does not vote). Default participant.
    #[serde(default)]
    pub role: Role,
}

/// Whether a member votes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Participant,
    Observer,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub client_port: u16,
    pub client_address: IpAddr,
    pub data_dir: PathBuf,
    pub tick_ms: u32,
    pub session_timeout_ms_min: u32,
    pub session_timeout_ms_max: u32,
    pub max_client_cnxns: u32,
    pub jute_max_buffer: usize,
    pub extended_types_enabled: bool,
    pub super_digest: Option<String>,
    pub container_check_interval_ms: u32,
    pub four_letter_words: Vec<String>,
    /// This server's id (1 for a standalone server).
    pub server_id: u8,
    pub data_log_dir: PathBuf,
    pub snap_count: u64,
    pub commit_log_count: u64,
    pub force_sync: bool,
    pub snap_retain_count: u32,
    pub purge_interval_hours: u32,
    /// Whether the AdminServer runs, and where (ops surface, `server::admin`).
    pub admin_enable_server: bool,
    pub admin_server_port: u16,
    pub admin_server_address: IpAddr,
    pub admin_command_url: String,
    /// Port of the Prometheus endpoint; `None` when off (`server::metrics`).
    pub metrics_port: Option<u16>,
    pub metrics_address: IpAddr,
    /// File logs (`logging`): a directory turns them on.
    pub log_dir: Option<PathBuf>,
    pub log_file: String,
    pub init_limit: u32,
    pub sync_limit: u32,
    /// The ensemble's `server.N` lines (zoo.cfg) or `[[server]]` tables (TOML), in id order;
    /// empty for a standalone server. `server_id` is one of them.
    pub servers: Vec<ServerLine>,
    /// The text of the config file the node started from (the AdminServer's
    /// `initial_configuration`); empty for a config built in code.
    pub initial_config: String,
}

impl Config {
    /// Reads and validates a TOML config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let raw: RawConfig = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let mut cfg = raw
            .validate()
            .with_context(|| format!("invalid config file {}", path.display()))?;
        cfg.initial_config = text;
        Ok(cfg)
    }

    /// A config for tests and `dev`: everything default, on the given port and directory.
    pub fn for_dev(client_port: u16, data_dir: PathBuf) -> Config {
        RawConfig {
            client_port: Some(client_port),
            client_address: Some("127.0.0.1".into()),
            data_dir: Some(data_dir),
            four_letter_words: Some(vec!["*".into()]),
            ..Default::default()
        }
        .validate()
        .expect("dev defaults are valid")
    }

    /// True if the four-letter word `cmd` may run. `srvr` always may, as in Apache (its
    /// zkServer.sh depends on it).
    pub fn four_letter_allowed(&self, cmd: &str) -> bool {
        cmd == "srvr" || self.four_letter_words.iter().any(|w| w == "*" || w == cmd)
    }

    /// True when the config lists more than one voting server (Apache's `isDistributed`
    /// with standaloneEnabled).
    pub fn is_distributed(&self) -> bool {
        self.voters().count() > 1
    }

    /// This server's own `server.N` entry; `None` for a standalone server.
    pub fn my_server(&self) -> Option<&ServerLine> {
        self.servers.iter().find(|s| s.id == self.server_id as u64)
    }

    /// The voting members (participants), in id order.
    pub fn voters(&self) -> impl Iterator<Item = &ServerLine> {
        self.servers.iter().filter(|s| !s.observer)
    }

    /// Every other member, in id order: the peers this server talks to.
    pub fn peers(&self) -> impl Iterator<Item = &ServerLine> {
        let me = self.server_id as u64;
        self.servers.iter().filter(move |s| s.id != me)
    }

    /// True when this server is listed as an observer.
    pub fn is_observer(&self) -> bool {
        self.my_server().is_some_and(|s| s.observer)
    }
}

impl RawConfig {
    pub fn validate(self) -> Result<Config> {
        let Some(data_dir) = self.data_dir else {
            bail!("key `data_dir` is missing: set it to the directory for snapshots and logs");
        };
        let tick_ms = self.tick_ms.unwrap_or(2000);
        if tick_ms == 0 {
            bail!("key `tick_ms` must be greater than 0");
        }
        let min = self.session_timeout_ms_min.unwrap_or(2 * tick_ms);
        let max = self.session_timeout_ms_max.unwrap_or(20 * tick_ms);
        if min > max {
            bail!("key `session_timeout_ms_min` ({min}) is greater than `session_timeout_ms_max` ({max})");
        }
        let addr_text = self.client_address.unwrap_or_else(|| "0.0.0.0".into());
        let client_address: IpAddr = addr_text.parse().map_err(|_| {
            anyhow::anyhow!("key `client_address`: `{addr_text}` is not an IP address")
        })?;
        let jute = self.jute_max_buffer.unwrap_or(0xfffff) as usize;
        if jute < 1024 {
            bail!("key `jute_max_buffer` ({jute}) is too small: use at least 1024");
        }
        if let Some(d) = &self.super_digest {
            if !d.starts_with("super:") {
                bail!("key `super_digest` must look like `super:<base64 sha1>` (generate it with `zk-node digest super:PASSWORD`)");
            }
        }
        let snap_count = self.snap_count.unwrap_or(100_000);
        let ip = |key: &str, v: Option<String>| -> Result<IpAddr> {
            let text = v.unwrap_or_else(|| "0.0.0.0".into());
            text.parse()
                .map_err(|_| anyhow::anyhow!("key `{key}`: `{text}` is not an IP address"))
        };
        let admin_server_address = ip("admin_server_address", self.admin_server_address)?;
        let metrics_address = ip("metrics_address", self.metrics_address)?;
        let admin_enable_server = self
            .admin_enable_server
            .unwrap_or(self.admin_server_port.is_some());
        let admin_server_port = self.admin_server_port.unwrap_or(8080);
        let (servers, server_id, entry_client_port) = ensemble(self.my_id, self.server)?;
        let client_port = match (self.client_port, entry_client_port) {
            (Some(top), Some(entry)) if top != entry => bail!(
                "key `client_port` is {top} but this server's `[[server]]` entry (id {server_id}) says client_port = {entry}: remove one or make them agree"
            ),
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => 2181,
        };
        let admin_command_url = self.admin_command_url.unwrap_or_else(|| "/commands".into());
        if !admin_command_url.starts_with('/') {
            bail!("key `admin_command_url` must start with `/` (default `/commands`)");
        }
        let mut ports = vec![("client_port", client_port)];
        if admin_enable_server {
            ports.push(("admin_server_port", admin_server_port));
        }
        if let Some(p) = self.metrics_port {
            ports.push(("metrics_port", p));
        }
        for (i, (k1, p1)) in ports.iter().enumerate() {
            for (k2, p2) in &ports[i + 1..] {
                if p1 == p2 && *p1 != 0 {
                    bail!("keys `{k1}` and `{k2}` are both {p1}: each listener needs its own port");
                }
            }
        }
        if let Some(me) = servers.iter().find(|s| s.id == server_id as u64) {
            for a in &me.addrs {
                for (key, port) in &ports {
                    for (what, p) in [
                        ("quorum_port", a.quorum_port),
                        ("election_port", a.election_port),
                    ] {
                        if p == *port {
                            bail!("key `{key}` is {port}, which is also the {what} of this server's `[[server]]` entry (id {server_id}): each listener needs its own port");
                        }
                    }
                }
            }
        }
        let log_file = self.log_file.unwrap_or_else(|| "zk-node.log".into());
        if log_file.is_empty() || log_file.contains('/') {
            bail!("key `log_file` must be a file name without `/` (the directory is `log_dir`)");
        }
        Ok(Config {
            client_port,
            client_address,
            tick_ms,
            session_timeout_ms_min: min,
            session_timeout_ms_max: max,
            max_client_cnxns: self.max_client_cnxns.unwrap_or(60),
            jute_max_buffer: jute,
            extended_types_enabled: self.extended_types_enabled.unwrap_or(false),
            super_digest: self.super_digest,
            container_check_interval_ms: self.container_check_interval_ms.unwrap_or(60_000).max(1),
            four_letter_words: self
                .four_letter_words
                .unwrap_or_else(|| vec!["srvr".into()]),
            server_id,
            data_log_dir: self.data_log_dir.unwrap_or_else(|| data_dir.clone()),
            data_dir,
            snap_count: snap_count.max(2),
            commit_log_count: self.commit_log_count.unwrap_or(50_000).max(1),
            force_sync: self.force_sync.unwrap_or(true),
            snap_retain_count: self.snap_retain_count.unwrap_or(3).max(3),
            purge_interval_hours: self.purge_interval_hours.unwrap_or(0),
            admin_enable_server,
            admin_server_port,
            admin_server_address,
            admin_command_url,
            metrics_port: self.metrics_port,
            metrics_address,
            log_dir: self.log_dir,
            log_file,
            init_limit: self.init_limit.unwrap_or(10).max(1),
            sync_limit: self.sync_limit.unwrap_or(5).max(1),
            servers,
            initial_config: String::new(),
        })
    }
}

/// The `[[server]]` tables as `server.N` lines, this server's id, and the client port its own
/// entry gives. Without tables: no servers, id `my_id` or 1.
fn ensemble(
    my_id: Option<u64>,
    raw: Option<Vec<RawServer>>,
) -> Result<(Vec<ServerLine>, u8, Option<u16>)> {
    let raw = raw.unwrap_or_default();
    let Some(my_id) = my_id else {
        if !raw.is_empty() {
            bail!("key `my_id` is missing: with `[[server]]` tables, set my_id to the id of this server's entry");
        }
        return Ok((Vec::new(), 1, None));
    };
    let server_id = u8::try_from(my_id)
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            anyhow::anyhow!("key `my_id` ({my_id}) must be a server id from 1 to 255")
        })?;
    let mut servers: Vec<ServerLine> = Vec::with_capacity(raw.len());
    for s in raw {
        let at = format!("`[[server]]` id {}", s.id);
        if s.id == 0 || s.id > 255 {
            bail!("{at}: key `id` must be from 1 to 255");
        }
        if servers.iter().any(|o| o.id == s.id) {
            bail!("{at} is listed twice: give each `[[server]]` its own id");
        }
        if s.host.trim().is_empty() {
            bail!("{at}: key `host` is empty: set the name or IP address the other servers reach it at");
        }
        for (key, port) in [
            ("quorum_port", s.quorum_port),
            ("election_port", s.election_port),
        ] {
            if port == 0 {
                bail!("{at}: key `{key}` must be a port from 1 to 65535");
            }
        }
        if s.client_port == Some(0) {
            bail!("{at}: key `client_port` must be a port from 1 to 65535 (or left out)");
        }
        servers.push(ServerLine {
            id: s.id,
            addrs: vec![QuorumAddr {
                host: s.host.trim().to_string(),
                quorum_port: s.quorum_port,
                election_port: s.election_port,
            }],
            observer: s.role == Role::Observer,
            client: s.client_port.map(|p| (Some(s.host.trim().to_string()), p)),
        });
    }
    if servers.is_empty() {
        return Ok((servers, server_id, None));
    }
    servers.sort_by_key(|s| s.id);
    check_members(&servers, my_id, Naming::Toml)?;
    let me = servers.iter().find(|s| s.id == my_id);
    let entry_client_port = me.and_then(|s| s.client.as_ref().map(|(_, p)| *p));
    Ok((servers, server_id, entry_client_port))
}

/// How ensemble checks name a member in their messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `[[server]]` id N, with TOML key names.
    Toml,
    /// `server.N`, with zoo.cfg's words.
    ZooCfg,
}

impl Naming {
    fn member(self, id: u64) -> String {
        match self {
            Naming::Toml => format!("`[[server]]` id {id}"),
            Naming::ZooCfg => format!("server.{id}"),
        }
    }

    fn port(self, which: &str) -> String {
        match self {
            Naming::Toml => format!("{which}_port"),
            Naming::ZooCfg => format!("{which} port"),
        }
    }

    fn my_id(self) -> &'static str {
        match self {
            Naming::Toml => "key `my_id`",
            Naming::ZooCfg => "myid",
        }
    }
}

/// Checks an ensemble's membership, whichever file it came from: this server is listed, at
/// least one member votes, observers have a real ensemble to follow, and no two listeners share
/// a port on a host.
pub fn check_members(servers: &[ServerLine], my_id: u64, naming: Naming) -> Result<()> {
    if !servers.iter().any(|s| s.id == my_id) {
        let ids: Vec<String> = servers.iter().map(|s| s.id.to_string()).collect();
        bail!(
            "{} is {my_id} but no server has that id (ids: {}): add this server's entry or fix {}",
            naming.my_id(),
            ids.join(", "),
            naming.my_id()
        );
    }
    let participants = servers.iter().filter(|s| !s.observer).count();
    if participants == 0 {
        bail!("every server is an observer: an ensemble needs participants to vote (set role = \"participant\" on most of them)");
    }
    if participants == 1 && servers.len() > 1 {
        bail!("only one participant ({}): observers need an ensemble of at least 2 participants to follow; a single participant runs standalone", naming.member(servers.iter().find(|s| !s.observer).map_or(0, |s| s.id)));
    }
    // (host, port) → who listens there. Hosts are compared as written.
    let mut taken: Vec<(String, u16, String)> = Vec::new();
    for s in servers {
        let host0 = s
            .addrs
            .first()
            .map(|a| a.host.to_ascii_lowercase())
            .unwrap_or_default();
        let mut mine: Vec<(String, u16, String)> = Vec::new();
        for a in &s.addrs {
            let host = a.host.to_ascii_lowercase();
            mine.push((host.clone(), a.quorum_port, naming.port("quorum")));
            mine.push((host, a.election_port, naming.port("election")));
        }
        if let Some((h, p)) = &s.client {
            let host = h.as_deref().map_or(host0.clone(), str::to_ascii_lowercase);
            mine.push((host, *p, naming.port("client")));
        }
        for (host, port, what) in mine {
            let who = format!("the {what} of {}", naming.member(s.id));
            if let Some((_, _, other)) = taken.iter().find(|(h, p, _)| *h == host && *p == port) {
                bail!("{who} is {port} on {host}, already {other}: every listener on a host needs its own port");
            }
            taken.push((host, port, who));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text)?;
        raw.validate()
    }

    #[test]
    fn defaults_follow_apache() {
        let c = parse("data_dir = '/tmp/x'").unwrap();
        assert_eq!(
            (c.session_timeout_ms_min, c.session_timeout_ms_max),
            (4000, 40000)
        );
        assert_eq!(c.jute_max_buffer, 0xfffff);
        assert_eq!(c.max_client_cnxns, 60);
    }

    /// configs/node.toml is valid as shipped, and with its storage keys uncommented it states
    /// the defaults.
    #[test]
    fn example_config_documents_the_storage_keys() {
        let text = include_str!("../../configs/node.toml");
        parse(text).unwrap();
        let keys = [
            "data_log_dir",
            "snap_count",
            "force_sync",
            "snap_retain_count",
            "purge_interval_hours",
        ];
        let mut found = 0;
        let on: Vec<String> = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if keys.iter().any(|k| rest.starts_with(&format!("{k} ="))) => {
                    found += 1;
                    rest.to_string()
                }
                _ => l.to_string(),
            })
            .collect();
        assert_eq!(
            found,
            keys.len(),
            "each storage key has a commented example"
        );
        let c = parse(&on.join("\n")).unwrap();
        assert_eq!(c.data_log_dir, PathBuf::from("/var/lib/zk-node-log"));
        assert_eq!((c.snap_count, c.force_sync), (100_000, true));
        assert_eq!((c.snap_retain_count, c.purge_interval_hours), (3, 0));
    }

    const THREE: &str = "
data_dir = '/tmp/x'
my_id = 2
[[server]]
id = 1
host = '127.0.0.1'
quorum_port = 2888
election_port = 3888
client_port = 2181
[[server]]
id = 2
host = '127.0.0.1'
quorum_port = 2889
election_port = 3889
client_port = 2182
[[server]]
id = 3
host = '127.0.0.1'
quorum_port = 2890
election_port = 3890
role = 'observer'
";

    /// `[[server]]` tables become the same `server.N` lines a zoo.cfg gives, and this server's
    /// entry supplies its id and client port.
    #[test]
    fn server_tables_map_to_server_lines() {
        let c = parse(THREE).unwrap();
        assert_eq!(c.server_id, 2);
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.servers.len(), 3);
        let zoo =
            crate::zoocfg::ServerLine::parse(2, "127.0.0.1:2889:3889;127.0.0.1:2182").unwrap();
        assert_eq!(c.servers[1], zoo);
        assert!(c.servers[2].observer);
        assert_eq!(c.servers[2].client, None);
        assert_eq!(c.servers[2].value(), "127.0.0.1:2890:3890:observer");
        assert_eq!(
            c.servers[0].value(),
            "127.0.0.1:2888:3888:participant;127.0.0.1:2181"
        );
        assert!(c.is_distributed());
        assert_eq!(c.my_server().map(|s| s.id), Some(2));
        assert_eq!(c.peers().map(|s| s.id).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(c.voters().count(), 2);
        assert!(!c.is_observer());
    }

    /// One participant alone is a standalone server (Apache's standaloneEnabled), and without
    /// tables the id is `my_id` or 1.
    #[test]
    fn a_single_member_is_standalone() {
        let c = parse(
            "data_dir='/x'\nmy_id=7\n[[server]]\nid=7\nhost='h'\nquorum_port=1\nelection_port=2\n",
        )
        .unwrap();
        assert!(!c.is_distributed());
        assert_eq!(c.server_id, 7);
        assert_eq!(parse("data_dir='/x'\nmy_id=9").unwrap().server_id, 9);
        assert_eq!(parse("data_dir='/x'").unwrap().server_id, 1);
    }

    /// Each membership mistake is refused with the key, the member and what to do.
    #[test]
    fn bad_membership_says_what_to_do() {
        let cases: Vec<(String, &str)> = vec![
            (
                THREE.replace("my_id = 2\n", ""),
                "key `my_id` is missing: with `[[server]]` tables, set my_id to the id of this server's entry",
            ),
            (
                THREE.replace("my_id = 2", "my_id = 4"),
                "key `my_id` is 4 but no server has that id (ids: 1, 2, 3): add this server's entry or fix key `my_id`",
            ),
            (
                THREE.replace("my_id = 2", "my_id = 300"),
                "key `my_id` (300) must be a server id from 1 to 255",
            ),
            (
                THREE.replace("id = 3", "id = 1"),
                "`[[server]]` id 1 is listed twice: give each `[[server]]` its own id",
            ),
            (
                THREE.replace("election_port = 3890", "election_port = 2889"),
                "the election_port of `[[server]]` id 3 is 2889 on 127.0.0.1, already the quorum_port of `[[server]]` id 2: every listener on a host needs its own port",
            ),
            (
                THREE.replace("client_port = 2181", "client_port = 3889"),
                "the election_port of `[[server]]` id 2 is 3889 on 127.0.0.1, already the client_port of `[[server]]` id 1",
            ),
            (
                format!("client_port = 2100\n{THREE}"),
                "key `client_port` is 2100 but this server's `[[server]]` entry (id 2) says client_port = 2182: remove one or make them agree",
            ),
            (
                format!("admin_server_port = 2889\n{THREE}"),
                "key `admin_server_port` is 2889, which is also the quorum_port of this server's `[[server]]` entry (id 2)",
            ),
            (
                THREE.replace("quorum_port = 2888", "quorum_port = 0"),
                "`[[server]]` id 1: key `quorum_port` must be a port from 1 to 65535",
            ),
            (
                THREE.replace("host = '127.0.0.1'\nquorum_port = 2890", "host = ' '\nquorum_port = 2890"),
                "`[[server]]` id 3: key `host` is empty",
            ),
            (
                THREE.replace("client_port = 2181\n", "role = 'observer'\n"),
                "only one participant (`[[server]]` id 2): observers need an ensemble of at least 2 participants",
            ),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", parse(&text).unwrap_err());
            assert!(e.starts_with(want), "\n got: {e}\nwant: {want}");
        }
        // serde names the bad role and the unknown key, with the line.
        let e = parse(&THREE.replace("'observer'", "'boss'"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown variant `boss`, expected `participant` or `observer`"),
            "{e}"
        );
        let e = parse(&THREE.replace("id = 3", "id = 3\nport = 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `port`"), "{e}");
    }

    /// Every example in configs/ loads as shipped (TOML with `Config::load`, `.cfg` with the
    /// zoo.cfg reader), so the examples cannot rot; the ensemble examples describe the
    /// ensembles their comments promise. `clusters.toml` is zk-top's and is tested there.
    #[test]
    fn every_example_config_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        let mut loaded = 0;
        let mut ensembles: std::collections::BTreeMap<PathBuf, Vec<Config>> = Default::default();
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            let cfg = match f.extension().and_then(|e| e.to_str()) {
                Some("cfg") => crate::zoocfg::load(f).map(|l| l.config),
                Some("toml") if name == "clusters.toml" => continue,
                Some("toml") => Config::load(f),
                _ => panic!("{}: unexpected file in configs/", f.display()),
            };
            let cfg = cfg.unwrap_or_else(|e| panic!("{}: {e:#}", f.display()));
            loaded += 1;
            if !cfg.servers.is_empty() {
                ensembles
                    .entry(f.parent().unwrap().to_path_buf())
                    .or_default()
                    .push(cfg);
            }
        }
        assert!(
            loaded >= 11,
            "only {loaded} configs found under {}",
            root.display()
        );
        let shape = |dir: &str| -> (usize, usize) {
            let members = &ensembles[&root.join(dir)];
            let first = &members[0].servers;
            for (i, m) in members.iter().enumerate() {
                assert_eq!(
                    &m.servers, first,
                    "{dir}: every member lists the same servers"
                );
                assert_eq!(m.server_id as usize, i + 1, "{dir}/node{}.toml", i + 1);
                assert_eq!(
                    Some(m.client_port),
                    m.my_server().unwrap().client.as_ref().map(|c| c.1)
                );
            }
            let dirs: std::collections::BTreeSet<_> = members.iter().map(|m| &m.data_dir).collect();
            assert_eq!(
                dirs.len(),
                members.len(),
                "{dir}: each member has its own data_dir"
            );
            (first.len(), first.iter().filter(|s| s.observer).count())
        };
        assert_eq!(shape("ensemble-3"), (3, 0));
        assert_eq!(shape("ensemble-5"), (6, 1));
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let e = parse("client_port = 1").unwrap_err().to_string();
        assert!(e.contains("data_dir"), "{e}");
        let e = parse("data_dir='/x'\nclient_address='nope'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("client_address"), "{e}");
        let e = toml::from_str::<RawConfig>("data_dir='/x'\nclientPort=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clientPort"), "{e}");
    }
}
