//! `zk-node`: run a ZooKeeper-compatible server.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

/// mimalloc: no per-allocation header and size classes close to a znode's pieces, so a
/// million znodes take less memory than with the system allocator, and allocation on the
/// request path is cheaper.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "zk-node", version, about = "A ZooKeeper 3.8 compatible server", long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one server.
    Run {
        /// TOML config file (see configs/node.toml for every key and its default).
        #[arg(long, conflicts_with = "zoo_cfg")]
        config: Option<PathBuf>,
        /// An Apache ZooKeeper zoo.cfg instead of a TOML file (see configs/zoo.cfg). Keys
        /// zk-node does not apply are logged as warnings.
        #[arg(long, value_name = "FILE")]
        zoo_cfg: Option<PathBuf>,
        /// Override the client port.
        #[arg(long)]
        client_port: Option<u16>,
        /// Override the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Log to daily-rotated files in this directory instead of stderr (overrides log_dir).
        #[arg(long)]
        log_dir: Option<PathBuf>,
    },
    /// Run a local ensemble in this process, on free 127.0.0.1 ports, for development: prints
    /// the connect string, each node's address, data directory and where the logs go; Ctrl-C
    /// stops every node.
    Dev {
        /// Voting servers (1 = a standalone server; 3 or 5 make an ensemble that survives 1 or
        /// 2 of them down).
        #[arg(long, default_value_t = 3, value_name = "N")]
        nodes: usize,
        /// Observers besides the voters: they serve clients and replicate, but do not vote.
        #[arg(long, default_value_t = 0, value_name = "M")]
        observers: usize,
        /// Where the nodes keep their data, one directory each (DIR/node1, ...), and the logs
        /// (DIR/logs); kept after exit. Default: a temporary directory removed on exit.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Print the digest ACL id for `user:password` (for super_digest or digest ACLs).
    Digest { user_password: String },
    /// Remove old snapshots and transaction logs, like Apache's zkCleanup.sh: keep the newest
    /// COUNT snapshots and the logs needed to recover from the oldest of them. Safe to run
    /// while the server runs.
    Purge {
        /// The data directory (holding version-2/snapshot.*; Apache: dataDir).
        #[arg(long)]
        data_dir: PathBuf,
        /// The transaction log directory, when separate (Apache: dataLogDir).
        #[arg(long)]
        data_log_dir: Option<PathBuf>,
        /// Snapshots to keep (at least 3, as in Apache).
        #[arg(long, short = 'n', default_value_t = 3)]
        count: usize,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-node: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Digest { user_password } => {
            println!("{}", zk_node::tree::acl::digest_id(&user_password));
            Ok(())
        }
        Cmd::Run {
            config,
            zoo_cfg,
            client_port,
            data_dir,
            log_dir,
        } => {
            let mut warnings = Vec::new();
            let mut cfg = match (config, zoo_cfg) {
                (Some(p), _) => zk_node::Config::load(&p)?,
                (None, Some(p)) => {
                    let loaded = zk_node::zoocfg::load(&p)?;
                    warnings = loaded.warnings;
                    loaded.config
                }
                (None, None) => {
                    let dir = data_dir.clone().context(
                        "give --config FILE, --zoo-cfg FILE, or at least --data-dir DIR",
                    )?;
                    zk_node::Config::for_dev(2181, dir)
                }
            };
            if let Some(d) = log_dir {
                cfg.log_dir = Some(d);
            }
            // The guard flushes file logs when main returns.
            let guard = zk_node::logging::init(&zk_node::logging::Target {
                dir: cfg.log_dir.clone(),
                file: cfg.log_file.clone(),
            })?;
            for w in &warnings {
                tracing::warn!("{w}");
                if guard.dir.is_some() {
                    eprintln!("zk-node: warning: {w}");
                }
            }
            if let Some(dir) = &guard.dir {
                eprintln!("zk-node: logging to {}", dir.display());
            }
            if let Some(p) = client_port {
                cfg.client_port = p;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            let result = runtime()?.block_on(zk_node::run(cfg, ctrl_c()));
            if let (Err(e), Some(_)) = (&result, &guard.dir) {
                tracing::error!("{e:#}");
            }
            drop(guard);
            result
        }
        Cmd::Purge {
            data_dir,
            data_log_dir,
            count,
        } => purge(&data_dir, data_log_dir.as_deref(), count),
        Cmd::Dev {
            nodes,
            observers,
            data,
        } => dev(nodes, observers, data),
    }
}

fn purge(data_dir: &Path, data_log_dir: Option<&Path>, count: usize) -> Result<()> {
    use zk_node::storage::{disk::FsDisk, purge};
    if count < purge::RETAIN_MIN {
        anyhow::bail!(
            "--count must be at least {} (got {count})",
            purge::RETAIN_MIN
        );
    }
    let snap_dir = data_dir.join("version-2");
    let log_dir = data_log_dir.unwrap_or(data_dir).join("version-2");
    for d in [&snap_dir, &log_dir] {
        if !d.is_dir() {
            anyhow::bail!(
                "{} is not a directory: is this a ZooKeeper data directory?",
                d.display()
            );
        }
    }
    let done = purge::purge(&FsDisk, &snap_dir, &log_dir, count)
        .with_context(|| format!("cannot purge {}", snap_dir.display()))?;
    for f in &done.removed {
        println!("removed {}", f.display());
    }
    println!(
        "removed {} file(s); kept {} snapshot(s) and {} log(s)",
        done.removed.len(),
        done.kept_snapshots,
        done.kept_logs
    );
    Ok(())
}

/// How long `dev` waits for the ensemble to elect and every node to serve before it says so.
const DEV_SERVING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn dev(nodes: usize, observers: usize, data: Option<PathBuf>) -> Result<()> {
    // One process runs every node, so they share one log: a file, so the terminal keeps the
    // summary. Logs of a temporary ensemble stay after exit, for looking into what happened.
    let log_dir = match &data {
        Some(d) => d.join("logs"),
        None => std::env::temp_dir().join(format!("zk-node-dev-{}-logs", std::process::id())),
    };
    let target = zk_node::logging::Target {
        dir: Some(log_dir.clone()),
        file: "zk-node-dev.log".into(),
    };
    zk_node::dev::check_sizes(nodes, observers)?;
    let _guard = zk_node::logging::init(&target)?;
    runtime()?.block_on(async move {
        let ens = zk_node::dev::LocalEnsemble::start(nodes, observers, data.clone()).await?;
        say(&dev_summary(&ens, &log_dir, data.is_some()));
        let modes = tokio::select! {
            m = ens.wait_serving(DEV_SERVING_TIMEOUT) => Some(m),
            _ = ctrl_c() => None,
        };
        if let Some(modes) = modes {
            for (n, m) in ens.nodes().iter().zip(modes) {
                match m {
                    Some(m) => say(&format!("node {}: {m}\n", n.id)),
                    None => say(&format!(
                        "node {}: not serving after {}s (see the log)\n",
                        n.id,
                        DEV_SERVING_TIMEOUT.as_secs()
                    )),
                }
            }
            say("Ctrl-C stops every node.\n");
            ctrl_c().await;
        }
        say(&format!("stopping {} node(s)\n", ens.nodes().len()));
        ens.shutdown().await;
        Ok(())
    })
}

/// Prints to stdout, ignoring a closed stdout: whoever stopped reading must not stop `dev`
/// from shutting its nodes down.
fn say(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// What `dev` prints once the nodes run: one line per node, the connect string, the logs.
fn dev_summary(ens: &zk_node::dev::LocalEnsemble, log_dir: &Path, kept: bool) -> String {
    use std::fmt::Write as _;
    let nodes = ens.nodes();
    let voters = nodes.iter().filter(|n| !n.observer).count();
    let mut out = String::new();
    if nodes.len() == 1 {
        out.push_str(
            "zk-node dev: a standalone server
",
        );
    } else {
        let _ = writeln!(
            out,
            "zk-node dev: an ensemble of {voters} voting node(s) and {} observer(s)",
            nodes.len() - voters
        );
    }
    for n in nodes {
        let role = if nodes.len() == 1 {
            "standalone"
        } else if n.observer {
            "observer"
        } else {
            "participant"
        };
        let _ = write!(out, "  node {} {role:<11} client {}", n.id, n.client_addr);
        if n.quorum_port != 0 {
            let _ = write!(
                out,
                "  quorum {}  election {}",
                n.quorum_port, n.election_port
            );
        }
        if let Some(a) = n.admin_addr {
            let _ = write!(out, "  admin http://{a}/commands");
        }
        let _ = writeln!(out, "  data {}", n.data_dir.display());
    }
    let _ = writeln!(out, "connect string: {}", ens.connect_string());
    let _ = writeln!(
        out,
        "logs: {}/zk-node-dev.log.* (every node; RUST_LOG=debug for more)",
        log_dir.display()
    );
    if !kept {
        let _ = writeln!(
            out,
            "data: {} (removed on exit; --data DIR keeps it)",
            ens.data_dir().display()
        );
    }
    out
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}
