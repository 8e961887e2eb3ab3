//! Which clusters to watch: `NAME=host:port,...` arguments or the shared `clusters.toml`.
//!
//! The file format is zksh's (`zk_shell::clusters`): `[[cluster]]` tables with `name`,
//! `servers`, optional `chroot`, `admin_url`, `auth` and `[cluster.thresholds]`. zk-top reads
//! only what a monitor needs and ignores `chroot` and `auth`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// Default alarm thresholds, used when `clusters.toml` does not set them.
pub const LAG_TXNS_DEFAULT: u64 = 1000;
pub const OUTSTANDING_DEFAULT: u64 = 100;
pub const LATENCY_MS_DEFAULT: u64 = 500;

/// Alarm thresholds of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A server more than this many transactions behind the leader is lagging.
    pub lag_txns: u64,
    /// More outstanding requests than this on one server is an alarm.
    pub outstanding_requests: u64,
    /// An average request latency above this is an alarm.
    pub latency_ms: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            lag_txns: LAG_TXNS_DEFAULT,
            outstanding_requests: OUTSTANDING_DEFAULT,
            latency_ms: LATENCY_MS_DEFAULT,
        }
    }
}

/// One cluster to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    /// `host:port` of each server's client port.
    pub servers: Vec<String>,
    /// AdminServer base URL (see [`crate::poll::admin_url_for`]).
    pub admin_url: Option<String>,
    pub thresholds: Thresholds,
}

/// Parses the command-line form `NAME=host:port[,host:port...]`.
pub fn parse_arg(arg: &str) -> anyhow::Result<ClusterSpec> {
    let Some((name, servers)) = arg.split_once('=') else {
        bail!("bad cluster argument {arg:?}: expected NAME=host:port[,host:port...]");
    };
    let servers: Vec<String> = servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    validate_name(name).with_context(|| format!("bad cluster argument {arg:?}"))?;
    validate_servers(&servers).with_context(|| format!("bad cluster argument {arg:?}"))?;
    Ok(ClusterSpec {
        name: name.to_string(),
        servers,
        admin_url: None,
        thresholds: Thresholds::default(),
    })
}

fn validate_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() {
        bail!("empty cluster name");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!("cluster name {name:?} may only hold letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

fn validate_servers(servers: &[String]) -> anyhow::Result<()> {
    if servers.is_empty() {
        bail!("no server given");
    }
    for server in servers {
        let port = server.rsplit_once(':').map(|(_, p)| p);
        if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
            bail!("server {server:?} is not host:port");
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    cluster: Vec<RawCluster>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: String,
    servers: Vec<String>,
    #[allow(dead_code)]
    chroot: Option<String>,
    admin_url: Option<String>,
    #[allow(dead_code)]
    #[serde(default)]
    auth: Vec<String>,
    #[serde(default)]
    thresholds: RawThresholds,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    lag_txns: Option<u64>,
    outstanding_requests: Option<u64>,
    latency_ms: Option<u64>,
}

/// Parses the text of a `clusters.toml`; `path` only names it in errors.
pub fn parse_file(text: &str, path: &Path) -> anyhow::Result<Vec<ClusterSpec>> {
    let raw: RawFile = toml::from_str(text).with_context(|| format!("{}", path.display()))?;
    let mut specs = Vec::with_capacity(raw.cluster.len());
    for c in raw.cluster {
        let at = || format!("{}: cluster {:?}", path.display(), c.name);
        validate_name(&c.name).with_context(at)?;
        validate_servers(&c.servers).with_context(at)?;
        if specs.iter().any(|s: &ClusterSpec| s.name == c.name) {
            bail!("{}: cluster {:?} is listed twice", path.display(), c.name);
        }
        let defaults = Thresholds::default();
        specs.push(ClusterSpec {
            name: c.name,
            servers: c.servers,
            admin_url: c.admin_url,
            thresholds: Thresholds {
                lag_txns: c.thresholds.lag_txns.unwrap_or(defaults.lag_txns),
                outstanding_requests: c
                    .thresholds
                    .outstanding_requests
                    .unwrap_or(defaults.outstanding_requests),
                latency_ms: c.thresholds.latency_ms.unwrap_or(defaults.latency_ms),
            },
        });
    }
    Ok(specs)
}

/// Reads a `clusters.toml`.
pub fn load_file(path: &Path) -> anyhow::Result<Vec<ClusterSpec>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_file(&text, path)
}

/// `$XDG_CONFIG_HOME/zkfleet/clusters.toml`, else `~/.config/zkfleet/clusters.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("zkfleet").join("clusters.toml"))
}

/// The clusters to watch: the arguments, plus `--config FILE` if given. With no argument the
/// file (`--config` or the default path, when it exists) is the list. An empty result means
/// "start the embedded ensemble".
pub fn resolve(
    args: &[String],
    config: Option<&Path>,
    admin_urls: &[String],
) -> anyhow::Result<Vec<ClusterSpec>> {
    let mut specs = Vec::new();
    if let Some(path) = config {
        specs = load_file(path)?;
    } else if args.is_empty() {
        if let Some(path) = default_path().filter(|p| p.exists()) {
            specs = load_file(&path)?;
        }
    }
    for arg in args {
        let spec = parse_arg(arg)?;
        specs.retain(|s| s.name != spec.name);
        specs.push(spec);
    }
    for admin in admin_urls {
        let Some((name, url)) = admin.split_once('=') else {
            bail!("bad --admin-url {admin:?}: expected NAME=http://host:port");
        };
        let Some(spec) = specs.iter_mut().find(|s| s.name == name) else {
            bail!("--admin-url {admin:?}: no cluster named {name:?}");
        };
        spec.admin_url = Some(url.to_string());
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_form() {
        let spec = parse_arg("prod=10.0.0.1:2181,10.0.0.2:2181").unwrap();
        assert_eq!(spec.name, "prod");
        assert_eq!(spec.servers, ["10.0.0.1:2181", "10.0.0.2:2181"]);
        for bad in ["prod", "=h:1", "p=", "p=h", "p=h:x", "p q=h:1"] {
            assert!(parse_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_form_with_thresholds() {
        let text = r#"
[[cluster]]
name = "prod"
servers = ["10.0.0.1:2181", "10.0.0.2:2181"]
chroot = "/app"
admin_url = "http://10.0.0.1:8080"
auth = ["digest:a:b"]
[cluster.thresholds]
lag_txns = 5
[[cluster]]
name = "dev"
servers = ["127.0.0.1:2181"]
"#;
        let specs = parse_file(text, Path::new("c.toml")).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].thresholds.lag_txns, 5);
        assert_eq!(
            specs[0].thresholds.outstanding_requests,
            OUTSTANDING_DEFAULT
        );
        assert_eq!(specs[0].admin_url.as_deref(), Some("http://10.0.0.1:8080"));
        assert_eq!(specs[1].thresholds, Thresholds::default());
    }

    #[test]
    fn file_errors_name_the_file() {
        let err = parse_file(
            "[[cluster]]\nname='a'\nservers=['h:1']\ncolour='red'\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("c.toml"), "{err:#}");
        let err =
            parse_file("[[cluster]]\nname='a'\nservers=[]\n", Path::new("c.toml")).unwrap_err();
        assert!(format!("{err:#}").contains("no server given"), "{err:#}");
    }

    #[test]
    fn arguments_override_file_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[[cluster]]\nname='a'\nservers=['h:1']\n").unwrap();
        let specs = resolve(
            &["a=h:2".to_string(), "b=h:3".to_string()],
            Some(&path),
            &["b=http://h:8080".to_string()],
        )
        .unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].servers, ["h:2"]);
        assert_eq!(specs[1].admin_url.as_deref(), Some("http://h:8080"));
    }
}
