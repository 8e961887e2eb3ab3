//! `zk-node`: run a ZooKeeper-compatible server.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

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
    /// Run a local ensemble on free loopback ports for development (Ctrl-C stops it).
    Dev {
        /// Number of servers.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Where the servers keep their data (default: a temporary directory).
        #[arg(long)]
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
        Cmd::Dev { nodes, data } => {
            let _guard = zk_node::logging::init(&zk_node::logging::Target::default())?;
            dev(nodes, data)
        }
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

fn dev(nodes: usize, data: Option<PathBuf>) -> Result<()> {
    runtime()?.block_on(async move {
        let ens = zk_node::dev::LocalEnsemble::start(nodes, data).await?;
        println!(
            "zk-node dev: {} server(s) running",
            ens.client_addrs().len()
        );
        println!("connect string: {}", ens.connect_string());
        println!("logs: this terminal (set RUST_LOG=debug for more); Ctrl-C stops every node");
        ctrl_c().await;
        ens.shutdown().await;
        Ok(())
    })
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
