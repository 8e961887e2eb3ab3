//! Which clusters to watch: `NAME=host:port,...` arguments and/or the shared `clusters.toml`.
//!
//! Reading and validating is `zk_shell::clusters`' job (the format is shared with zksh); this
//! module only picks the sources and resolves zk-top's alarm threshold defaults.

use std::path::{Path, PathBuf};

use anyhow::bail;
use zk_shell::clusters::{Cluster, ClusterList};

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
    /// The cluster as zksh sees it, for the embedded shell pane.
    pub cluster: Option<Cluster>,
}

impl ClusterSpec {
    /// zk-top's view of a configured cluster.
    pub fn from_cluster(c: &Cluster) -> ClusterSpec {
        let d = Thresholds::default();
        ClusterSpec {
            name: c.name.clone(),
            servers: c.servers.clone(),
            admin_url: c.admin_url.clone(),
            thresholds: Thresholds {
                lag_txns: c.thresholds.lag_txns.unwrap_or(d.lag_txns),
                outstanding_requests: c
                    .thresholds
                    .outstanding_requests
                    .unwrap_or(d.outstanding_requests),
                latency_ms: c.thresholds.latency_ms.unwrap_or(d.latency_ms),
            },
            cluster: Some(c.clone()),
        }
    }
}

/// `$XDG_CONFIG_HOME/zkfleet/clusters.toml`, else `~/.config/zkfleet/clusters.toml`.
pub fn default_path() -> Option<PathBuf> {
    ClusterList::default_path()
}

/// The clusters to watch. `--config FILE` is read when given; otherwise the default file is
/// read only when there is no cluster argument. Arguments replace file entries of the same
/// name. An empty result means "start the embedded ensemble".
pub fn resolve(
    args: &[String],
    config: Option<&Path>,
    admin_urls: &[String],
) -> anyhow::Result<Vec<ClusterSpec>> {
    let mut list = match config {
        Some(path) => ClusterList::load(path)?,
        None if args.is_empty() => ClusterList::load_default()?,
        None => ClusterList::default(),
    };
    list.merge(ClusterList::from_args(args)?);
    let mut specs: Vec<ClusterSpec> = list
        .clusters
        .iter()
        .map(ClusterSpec::from_cluster)
        .collect();
    for admin in admin_urls {
        let Some((name, url)) = admin.split_once('=') else {
            bail!("bad --admin-url {admin:?}: expected NAME=http://host:port");
        };
        let Some(spec) = specs.iter_mut().find(|s| s.name == name) else {
            bail!("--admin-url {admin:?}: no cluster named {name:?}");
        };
        if !url.starts_with("http://") {
            bail!("--admin-url {admin:?}: only http:// URLs are supported");
        }
        spec.admin_url = Some(url.trim_end_matches('/').to_string());
        if let Some(c) = &mut spec.cluster {
            c.admin_url = spec.admin_url.clone();
        }
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_form() {
        let specs = resolve(
            &args(&["prod=10.0.0.1:2181,10.0.0.2:2181", "dev=h:1"]),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name, "prod");
        assert_eq!(specs[0].servers, ["10.0.0.1:2181", "10.0.0.2:2181"]);
        assert_eq!(specs[0].thresholds, Thresholds::default());
        for bad in ["prod", "=h:1", "p=", "p=h", "p=h:x", "p q=h:1"] {
            assert!(resolve(&args(&[bad]), None, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_thresholds_and_argument_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[[cluster]]\nname = \"a\"\nservers = [\"h:1\"]\nadmin_url = \"http://h:8080\"\n\
             [cluster.thresholds]\nlag_txns = 5\n\
             [[cluster]]\nname = \"b\"\nservers = [\"h:2\"]\n",
        )
        .unwrap();
        let specs = resolve(&args(&["b=h:3"]), Some(&path), &args(&["b=http://h:9090/"])).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].thresholds.lag_txns, 5);
        assert_eq!(
            specs[0].thresholds.outstanding_requests,
            OUTSTANDING_DEFAULT
        );
        assert_eq!(specs[0].admin_url.as_deref(), Some("http://h:8080"));
        assert_eq!(specs[1].servers, ["h:3"]);
        assert_eq!(specs[1].admin_url.as_deref(), Some("http://h:9090"));
        assert!(resolve(&[], Some(&path), &args(&["zz=http://h:1"])).is_err());
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(
            &path,
            "[[cluster]]\nname='a'\nservers=['h:1']\ncolour='red'\n",
        )
        .unwrap();
        let err = resolve(&[], Some(&path), &[]).unwrap_err();
        assert!(format!("{err:#}").contains("bad.toml"), "{err:#}");
    }
}
