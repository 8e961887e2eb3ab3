//! `zk-top`: the command line. Parses arguments, sets up file logging, and hands over to
//! [`zk_top::run`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use zk_top::poll::PollConfig;
use zk_top::{config, run};

/// Longest default poll timeout: a server slower than this is shown as down.
const TIMEOUT_DEFAULT_MAX: Duration = Duration::from_secs(5);

const AFTER_HELP: &str = "\
CLUSTERS
  On the command line: NAME=host:port[,host:port...], one argument per cluster:
      zk-top prod=10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181 staging=10.0.1.1:2181
  Without arguments zk-top reads the cluster list shared with zksh,
  $XDG_CONFIG_HOME/zkfleet/clusters.toml (else ~/.config/zkfleet/clusters.toml):
      [[cluster]]
      name = \"prod\"
      servers = [\"10.0.0.1:2181\", \"10.0.0.2:2181\"]
      admin_url = \"http://10.0.0.1:8080\"   # optional, AdminServer
      [cluster.thresholds]                  # optional alarm thresholds
      lag_txns = 1000
      outstanding_requests = 100
      latency_ms = 500
  With neither, zk-top starts a local 3-node zk-node ensemble and watches it.

WHAT IT ASKS
  Every interval, each server gets `srvr` and `mntr` on its client port. Apache ZooKeeper
  3.5+ allows only `srvr` by default; for everything else set
      4lw.commands.whitelist=srvr,mntr
  or keep the AdminServer on (admin.enableServer=true) and give its URL (admin_url or
  --admin-url); zk-top then reads /commands/srvr and /commands/mntr from it and says which
  setting is missing. zk-top never resets a server's statistics.

KEYS
  arrows/hjkl move, Enter drills down, Esc goes back, / filters, s sorts, : jumps to a
  cluster, ! opens a shell pane, ? lists every key, q quits. Mouse clicks select.

LOGS
  To --log-file (default $XDG_STATE_HOME/zkfleet/zk-top.log, else
  ~/.local/state/zkfleet/zk-top.log); level from ZK_TOP_LOG (default info).";

/// Watch many ZooKeeper clusters at once: roles, zxids, replication lag, latency, alarms.
#[derive(Debug, Parser)]
#[command(name = "zk-top", version, after_help = AFTER_HELP)]
struct Cli {
    /// Clusters to watch, as NAME=host:port[,host:port...]
    #[arg(value_name = "NAME=HOST:PORT,...")]
    clusters: Vec<String>,

    /// Cluster list to read (clusters.toml format); with cluster arguments, both are used
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// How often to poll each server: 1s, 500ms, 2 (seconds)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    interval: Duration,

    /// How long one poll may take before the server is shown as down [default: the interval, at most 5s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// AdminServer base URL of a cluster, used where four-letter words are refused
    #[arg(long = "admin-url", value_name = "NAME=http://HOST:PORT")]
    admin_urls: Vec<String>,

    /// Where to write the log
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale_ms) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1000.0)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60_000.0)
    } else {
        (text, 1000.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 1s or 500ms"))?;
    let ms = value * scale_ms;
    if !(10.0..=3_600_000.0).contains(&ms) {
        return Err(format!("{text:?} is out of range (10ms to 1h)"));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn default_log_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("zkfleet").join("zk-top.log")
}

fn init_logging(
    path: &std::path::Path,
) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create log directory {}", dir.display()))?;
    let file_name = path.file_name().context("log file has no name")?;
    let appender = tracing_appender::rolling::never(dir, file_name);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("ZK_TOP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Ok(guard)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-top: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    let clusters = config::resolve(&cli.clusters, cli.config.as_deref(), &cli.admin_urls)?;
    let log_path = cli.log_file.clone().unwrap_or_else(default_log_path);
    let _log_guard = init_logging(&log_path)?;
    tracing::info!(clusters = clusters.len(), interval = ?cli.interval, "zk-top starting");
    let poll = PollConfig {
        interval: cli.interval,
        timeout: cli.timeout.unwrap_or(cli.interval.min(TIMEOUT_DEFAULT_MAX)),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(run::run(run::Options { clusters, poll }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.25s"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("1ms").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
