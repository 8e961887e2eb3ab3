//! zk-node's configuration: a TOML file (`zk-node run --config node.toml`), parsed into a raw
//! struct with serde, then validated into [`Config`]. Errors name the file and the key.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

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
    /// The ensemble's `server.N` lines (from zoo.cfg); empty for a standalone server.
    pub servers: Vec<crate::zoocfg::ServerLine>,
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
        self.servers.iter().filter(|s| !s.observer).count() > 1
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
        let client_port = self.client_port.unwrap_or(2181);
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
            server_id: 1,
            data_log_dir: self.data_log_dir.unwrap_or_else(|| data_dir.clone()),
            data_dir,
            snap_count: snap_count.max(2),
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
            servers: Vec::new(),
            initial_config: String::new(),
        })
    }
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
