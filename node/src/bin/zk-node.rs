//! `zk-node`: run a ZooKeeper-compatible server.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
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
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override the client port.
        #[arg(long)]
        client_port: Option<u16>,
        /// Override the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
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
            client_port,
            data_dir,
        } => {
            let mut cfg = match config {
                Some(p) => zk_node::Config::load(&p)?,
                None => {
                    let dir = data_dir
                        .clone()
                        .context("give --config FILE, or at least --data-dir DIR")?;
                    zk_node::Config::for_dev(2181, dir)
                }
            };
            if let Some(p) = client_port {
                cfg.client_port = p;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            runtime()?.block_on(zk_node::run(cfg, ctrl_c()))
        }
        Cmd::Dev { nodes, data } => runtime()?.block_on(async move {
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
        }),
    }
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
