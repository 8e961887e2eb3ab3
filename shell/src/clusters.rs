//! The cluster list, `clusters.toml`, shared by zksh and zk-top.
//!
//! The file is parsed with serde into raw structs that reject unknown keys, then validated into
//! [`ClusterList`]. Every error names the file, the line and the key, because the file is edited
//! by hand and read by two programs. This module reads the file and never writes it.
//!
//! ```toml
//! [[cluster]]
//! name = "prod"
//! servers = ["10.0.0.1:2181", "10.0.0.2:2181"]
//! chroot = "/app"
//! admin_url = "http://10.0.0.1:8080"
//! auth = ["digest:alice:secret"]
//! [cluster.thresholds]
//! lag_txns = 1000
//! outstanding_requests = 100
//! latency_ms = 500
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a cluster list could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a key of the wrong type or an unknown key.
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("{origin}:{line}: cluster {cluster:?}: key `{key}`: {message}")]
    Invalid {
        origin: String,
        line: usize,
        cluster: String,
        key: &'static str,
        message: String,
    },
    /// A command line cluster (`NAME=host:port,...`) is malformed.
    #[error("bad cluster argument {arg:?}: {message}")]
    Arg { arg: String, message: String },
}

/// Alarm thresholds of one cluster, used by zk-top. Each is optional; `None` means zk-top's
/// built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// A follower more than this many transactions behind the leader is lagging.
    pub lag_txns: Option<u64>,
    /// More outstanding requests than this on one server is an alarm.
    pub outstanding_requests: Option<u64>,
    /// An average latency above this many milliseconds is an alarm.
    pub latency_ms: Option<u64>,
}

/// One cluster: a name and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Unique within the list; used as `connect NAME`, `use NAME` and `NAME:/path`.
    pub name: String,
    /// `host:port` of every server, at least one.
    pub servers: Vec<String>,
    /// Absolute path every client path is relative to; `None` means `/`.
    pub chroot: Option<String>,
    /// AdminServer base URL such as `http://10.0.0.1:8080`; `None` means use 4lw only.
    pub admin_url: Option<String>,
    /// Credentials added to each new session, as `scheme:credentials` (`digest:alice:secret`).
    pub auth: Vec<String>,
    /// zk-top's alarm thresholds.
    pub thresholds: Thresholds,
}

impl Cluster {
    /// The ZooKeeper connect string: `h1:2181,h2:2181` followed by the chroot if any.
    pub fn connect_string(&self) -> String {
        let hosts = self.servers.join(",");
        match &self.chroot {
            Some(chroot) => format!("{hosts}{chroot}"),
            None => hosts,
        }
    }

    /// Splits an `auth` entry into scheme and credentials.
    pub fn auth_pairs(&self) -> Vec<(String, String)> {
        self.auth.iter().filter_map(|a| split_auth(a)).collect()
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.connect_string())
    }
}

/// Every configured cluster, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterList {
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    cluster: Vec<toml::Spanned<RawCluster>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: toml::Spanned<String>,
    servers: toml::Spanned<Vec<String>>,
    chroot: Option<toml::Spanned<String>>,
    admin_url: Option<toml::Spanned<String>>,
    auth: Option<toml::Spanned<Vec<String>>>,
    #[serde(default)]
    thresholds: Thresholds,
}

impl ClusterList {
    /// Reads and validates a cluster list file.
    pub fn load(path: impl AsRef<Path>) -> Result<ClusterList, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Validates the text of a cluster list; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ClusterList, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim().to_string(),
        })?;
        let origin = path.display().to_string();
        let mut clusters = Vec::with_capacity(raw.cluster.len());
        let mut names = BTreeSet::new();
        for spanned in raw.cluster {
            let line = line_of(text, spanned.span().start);
            let cluster = validate(spanned.into_inner(), text, &origin)?;
            if !names.insert(cluster.name.clone()) {
                return Err(invalid(
                    &origin,
                    line,
                    &cluster.name,
                    "name",
                    "duplicate name",
                ));
            }
            clusters.push(cluster);
        }
        Ok(ClusterList { clusters })
    }

    /// `$XDG_CONFIG_HOME/zkfleet/clusters.toml`, else `~/.config/zkfleet/clusters.toml`.
    pub fn default_path() -> Option<PathBuf> {
        let base = match std::env::var_os("XDG_CONFIG_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
        };
        Some(base.join("zkfleet").join("clusters.toml"))
    }

    /// Loads the default file if it exists; an absent file is an empty list.
    pub fn load_default() -> Result<ClusterList, ConfigError> {
        match Self::default_path() {
            Some(path) if path.exists() => Self::load(path),
            _ => Ok(ClusterList::default()),
        }
    }

    /// Builds a list from command line arguments of the form `NAME=host:port,host:port[/chroot]`.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<ClusterList, ConfigError> {
        let mut list = ClusterList::default();
        for arg in args {
            let cluster = parse_arg(arg.as_ref())?;
            if list.get(&cluster.name).is_some() {
                return Err(arg_error(arg.as_ref(), "duplicate name"));
            }
            list.clusters.push(cluster);
        }
        Ok(list)
    }

    /// The cluster with this name.
    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Adds the clusters of `other`, replacing any of the same name.
    pub fn merge(&mut self, other: ClusterList) {
        for cluster in other.clusters {
            match self.clusters.iter_mut().find(|c| c.name == cluster.name) {
                Some(existing) => *existing = cluster,
                None => self.clusters.push(cluster),
            }
        }
    }

    /// Cluster names in order.
    pub fn names(&self) -> Vec<&str> {
        self.clusters.iter().map(|c| c.name.as_str()).collect()
    }
}

fn validate(raw: RawCluster, text: &str, origin: &str) -> Result<Cluster, ConfigError> {
    let name_line = line_of(text, raw.name.span().start);
    let name = raw.name.into_inner();
    if let Err(m) = check_name(&name) {
        return Err(invalid(origin, name_line, &name, "name", &m));
    }
    let servers_line = line_of(text, raw.servers.span().start);
    let servers = raw.servers.into_inner();
    check_servers(&servers).map_err(|m| invalid(origin, servers_line, &name, "servers", &m))?;
    let chroot = match raw.chroot {
        Some(c) => {
            let line = line_of(text, c.span().start);
            let c = c.into_inner();
            check_chroot(&c).map_err(|m| invalid(origin, line, &name, "chroot", &m))?;
            (c != "/").then_some(c)
        }
        None => None,
    };
    let admin_url = match raw.admin_url {
        Some(u) => {
            let line = line_of(text, u.span().start);
            let u = u.into_inner();
            check_admin_url(&u).map_err(|m| invalid(origin, line, &name, "admin_url", &m))?;
            Some(u.trim_end_matches('/').to_string())
        }
        None => None,
    };
    let auth_line = raw
        .auth
        .as_ref()
        .map_or(name_line, |a| line_of(text, a.span().start));
    let auth = raw.auth.map(toml::Spanned::into_inner).unwrap_or_default();
    for a in &auth {
        if split_auth(a).is_none() {
            let m = format!("{a:?} is not scheme:credentials");
            return Err(invalid(origin, auth_line, &name, "auth", &m));
        }
    }
    Ok(Cluster {
        name,
        servers,
        chroot,
        admin_url,
        auth,
        thresholds: raw.thresholds,
    })
}

fn parse_arg(arg: &str) -> Result<Cluster, ConfigError> {
    let (name, rest) = arg
        .split_once('=')
        .ok_or_else(|| arg_error(arg, "expected NAME=host:port,..."))?;
    check_name(name).map_err(|m| arg_error(arg, &m))?;
    let (hosts, chroot) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let servers: Vec<String> = hosts.split(',').map(|s| s.trim().to_string()).collect();
    check_servers(&servers).map_err(|m| arg_error(arg, &m))?;
    if let Some(c) = chroot {
        check_chroot(c).map_err(|m| arg_error(arg, &m))?;
    }
    Ok(Cluster {
        name: name.to_string(),
        servers,
        chroot: chroot.filter(|c| *c != "/").map(str::to_string),
        admin_url: None,
        auth: Vec::new(),
        thresholds: Thresholds::default(),
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name {name:?} must be non-empty letters, digits, '-', '_' or '.'"
        ))
    }
}

fn check_servers(servers: &[String]) -> Result<(), String> {
    if servers.is_empty() {
        return Err("at least one host:port is required".to_string());
    }
    for server in servers {
        let (host, port) = server
            .rsplit_once(':')
            .ok_or_else(|| format!("{server:?} is not host:port"))?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("{server:?} is not host:port"));
        }
    }
    Ok(())
}

fn check_chroot(chroot: &str) -> Result<(), String> {
    let bad = !chroot.starts_with('/')
        || (chroot.len() > 1 && chroot.ends_with('/'))
        || chroot.contains("//");
    if bad {
        Err(format!(
            "{chroot:?} must be an absolute path without a trailing '/'"
        ))
    } else {
        Ok(())
    }
}

fn check_admin_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{url:?} must start with http:// or https://"))
    }
}

fn split_auth(auth: &str) -> Option<(String, String)> {
    let (scheme, creds) = auth.split_once(':')?;
    (!scheme.is_empty()).then(|| (scheme.to_string(), creds.to_string()))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn invalid(origin: &str, line: usize, cluster: &str, key: &'static str, m: &str) -> ConfigError {
    ConfigError::Invalid {
        origin: origin.to_string(),
        line,
        cluster: cluster.to_string(),
        key,
        message: m.to_string(),
    }
}

fn arg_error(arg: &str, message: &str) -> ConfigError {
    ConfigError::Arg {
        arg: arg.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[cluster]]
name = "prod"
servers = ["10.0.0.1:2181", "10.0.0.2:2181"]
chroot = "/app"
admin_url = "http://10.0.0.1:8080/"
auth = ["digest:alice:secret"]
[cluster.thresholds]
lag_txns = 1000
outstanding_requests = 100
latency_ms = 500

[[cluster]]
name = "dev"
servers = ["127.0.0.1:2181"]
"#;

    fn parse(text: &str) -> Result<ClusterList, ConfigError> {
        ClusterList::parse(text, Path::new("clusters.toml"))
    }

    #[test]
    fn example_parses_with_every_field() {
        let list = parse(EXAMPLE).unwrap();
        assert_eq!(list.names(), ["prod", "dev"]);
        let prod = list.get("prod").unwrap();
        assert_eq!(prod.connect_string(), "10.0.0.1:2181,10.0.0.2:2181/app");
        assert_eq!(prod.admin_url.as_deref(), Some("http://10.0.0.1:8080"));
        assert_eq!(
            prod.auth_pairs(),
            [("digest".into(), "alice:secret".into())]
        );
        assert_eq!(prod.thresholds.lag_txns, Some(1000));
        assert_eq!(prod.thresholds.latency_ms, Some(500));
        let dev = list.get("dev").unwrap();
        assert_eq!(dev.connect_string(), "127.0.0.1:2181");
        assert_eq!(dev.thresholds, Thresholds::default());
    }

    #[test]
    fn shipped_example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/clusters.toml");
        let list = ClusterList::load(&path).unwrap();
        assert!(!list.clusters.is_empty());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[[cluster]]\nname = \"a\"\nservers = [\"h:1\"]\nchroott = \"/x\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("clusters.toml:4:"), "{err}");
        assert!(err.contains("chroott"), "{err}");
    }

    #[test]
    fn bad_server_names_line_and_key() {
        let text = "[[cluster]]\nname = \"a\"\n\nservers = [\"nohost\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert_eq!(
            err,
            "clusters.toml:4: cluster \"a\": key `servers`: \"nohost\" is not host:port"
        );
    }

    #[test]
    fn bad_chroot_and_auth_are_rejected() {
        let text = "[[cluster]]\nname = \"a\"\nservers = [\"h:1\"]\nchroot = \"app\"\n";
        assert!(parse(text)
            .unwrap_err()
            .to_string()
            .contains("key `chroot`"));
        let text = "[[cluster]]\nname = \"a\"\nservers = [\"h:1\"]\nauth = [\"nocolon\"]\n";
        assert!(parse(text).unwrap_err().to_string().contains("key `auth`"));
    }

    #[test]
    fn wrong_type_and_missing_key_are_parse_errors() {
        let err = parse("[[cluster]]\nname = \"a\"\nservers = \"h:1\"\n").unwrap_err();
        assert!(err.to_string().starts_with("clusters.toml:3:"), "{err}");
        let err = parse("[[cluster]]\nname = \"a\"\n").unwrap_err();
        assert!(err.to_string().contains("servers"), "{err}");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let text = "[[cluster]]\nname = \"a\"\nservers = [\"h:1\"]\n[[cluster]]\nname = \"a\"\nservers = [\"h:2\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("duplicate name") && err.starts_with("clusters.toml:4:"),
            "{err}"
        );
    }

    #[test]
    fn empty_file_is_empty_list() {
        assert_eq!(parse("").unwrap(), ClusterList::default());
    }

    #[test]
    fn from_args_parses_name_hosts_and_chroot() {
        let list = ClusterList::from_args(&["a=h1:2181,h2:2182/app", "b=h3:2181"]).unwrap();
        assert_eq!(list.get("a").unwrap().servers, ["h1:2181", "h2:2182"]);
        assert_eq!(list.get("a").unwrap().chroot.as_deref(), Some("/app"));
        assert_eq!(list.get("b").unwrap().connect_string(), "h3:2181");
        assert!(ClusterList::from_args(&["nohosts"]).is_err());
        assert!(ClusterList::from_args(&["a=h1"]).is_err());
        assert!(ClusterList::from_args(&["a=h:1", "a=h:2"]).is_err());
    }

    #[test]
    fn default_path_prefers_xdg() {
        // Only checks the suffix: the environment belongs to the test runner.
        if let Some(p) = ClusterList::default_path() {
            assert!(p.ends_with("zkfleet/clusters.toml"));
        }
    }
}
