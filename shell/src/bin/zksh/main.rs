//! `zksh`: an interactive ZooKeeper shell and a scripting tool, over the `zk-shell` library.
//!
//! Modes: interactive (rustyline) when stdin is a terminal and no commands were given;
//! otherwise commands from `-c`, `-f FILE` or stdin, stopping at the first failure.

mod bench;
mod frontend;
mod migrate;
mod repl;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use zk_shell::clusters::ClusterList;
use zk_shell::commands::{split_commands, Shell, ShellOptions};

use frontend::Terminal;

const AFTER_HELP: &str = "\
Examples:
  zksh 127.0.0.1:2181                      interactive shell (Tab completes commands, flags, paths)
  zksh --cluster prod                      connect to a cluster named in clusters.toml
  zksh -s h1:2181,h2:2181/app -c 'ls /; get /config'
  zksh -s h:2181 --json -c 'stat /a'       one JSON object per result
  zksh -s h:2181 -f script.zk              run a script ('#' comments, ';' separators)
  echo 'ls /' | zksh -s h:2181             commands from stdin
  zksh --cluster a -c 'cp -r a:/app b:/app; diff a:/app b:/app' --yes

Inside the shell, `help` lists every command and `help CMD` describes one. Paths may be
relative to the working path (cd, pwd). cp and diff take CLUSTER:/path to work across clusters.

Clusters are read from $XDG_CONFIG_HOME/zkfleet/clusters.toml (or ~/.config/zkfleet/...),
the file zk-top reads, or from --clusters FILE and --add-cluster NAME=host:port,...

Exit status: 0 when every command succeeded; 1 when a command failed (scripts stop at the
first failure; diff with differences counts as a failure); 2 for bad usage or when the
requested server cannot be reached.";

/// An interactive ZooKeeper shell and scripting tool.
#[derive(Parser, Debug)]
#[command(
    name = "zksh",
    version,
    about = "An interactive ZooKeeper shell and scripting tool (Apache ZooKeeper 3.5+ and zk-node)",
    after_help = AFTER_HELP
)]
struct Args {
    /// Connect string: host:port[,host:port...][/chroot].
    #[arg(value_name = "CONNECT")]
    connect: Option<String>,
    /// Connect string (same as the positional argument, zkCli's -server).
    #[arg(
        short = 's',
        long = "server",
        value_name = "CONNECT",
        conflicts_with = "connect"
    )]
    server: Option<String>,
    /// Connect to this cluster from the cluster list.
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    /// Cluster list file (default: $XDG_CONFIG_HOME/zkfleet/clusters.toml).
    #[arg(long, value_name = "FILE")]
    clusters: Option<PathBuf>,
    /// Add a cluster for this run: NAME=host:port,...[/chroot] (repeatable).
    #[arg(long = "add-cluster", value_name = "NAME=HOSTS")]
    add_cluster: Vec<String>,
    /// Run these commands (separated by ';') and exit.
    #[arg(short = 'c', value_name = "COMMANDS")]
    commands: Option<String>,
    /// Run commands from a file ('-' for stdin) and exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print results as JSON, one object per line.
    #[arg(long)]
    json: bool,
    /// Answer yes to every confirmation (deleteall, setAcl -R, cp over existing nodes).
    #[arg(short = 'y', long)]
    yes: bool,
    /// Requested session timeout in milliseconds.
    #[arg(long = "timeout", value_name = "MS", default_value_t = 30_000)]
    timeout_ms: i32,
    /// History file for the interactive shell (default: ~/.local/state/zkfleet/zksh_history).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    #[command(subcommand)]
    tool: Option<Tool>,
}

/// Tools that run instead of the shell.
#[derive(clap::Subcommand, Debug)]
enum Tool {
    Bench(bench::BenchArgs),
    /// Migrate subtrees between clusters: plan, preflight, run, status, verify, cutover, rollback.
    Migrate(migrate::MigrateArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    match args.tool.take() {
        Some(Tool::Bench(b)) => return bench::run(b).await,
        Some(Tool::Migrate(m)) => {
            return match load_clusters(&args) {
                Ok(list) => migrate::run(m, list).await,
                Err(e) => {
                    eprintln!("zksh: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        None => {}
    }
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zksh: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let clusters = load_clusters(&args)?;
    let opts = ShellOptions {
        session_timeout_ms: args.timeout_ms,
        yes: args.yes,
    };
    let mut shell = Shell::new(clusters, opts);
    let script = script_source(&args)?;
    let interactive = script.is_none();
    let mut term = Terminal::new(args.json, interactive);
    connect_first(&mut shell, &args, interactive, &mut term).await?;
    let code = match script {
        Some(text) => run_script(&mut shell, &text, &mut term).await,
        None => repl::run(&mut shell, &mut term, history_path(&args)).await?,
    };
    shell.close_all().await;
    Ok(code)
}

fn load_clusters(args: &Args) -> anyhow::Result<ClusterList> {
    let mut list = match &args.clusters {
        Some(path) => ClusterList::load(path)?,
        None => ClusterList::load_default()?,
    };
    list.merge(ClusterList::from_args(&args.add_cluster)?);
    Ok(list)
}

/// The script to run, or `None` for the interactive shell.
fn script_source(args: &Args) -> anyhow::Result<Option<String>> {
    if let Some(c) = &args.commands {
        return Ok(Some(c.clone()));
    }
    match &args.file {
        Some(p) if p.as_os_str() == "-" => read_stdin().map(Some),
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read {}", p.display()))
            .map(Some),
        // No prompt when either end is not a terminal: read commands as a script.
        None if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() => {
            read_stdin().map(Some)
        }
        None => Ok(None),
    }
}

fn read_stdin() -> anyhow::Result<String> {
    std::io::read_to_string(std::io::stdin()).context("cannot read stdin")
}

/// Connects to what the command line asked for. With nothing asked, tries 127.0.0.1:2181
/// like zkCli, but carries on unconnected if nothing listens there.
async fn connect_first(
    shell: &mut Shell,
    args: &Args,
    interactive: bool,
    term: &mut Terminal,
) -> anyhow::Result<()> {
    let explicit = args
        .cluster
        .as_ref()
        .or(args.server.as_ref())
        .or(args.connect.as_ref());
    let target = explicit.cloned().unwrap_or_else(|| "127.0.0.1:2181".into());
    match shell.connect(&target, None).await {
        Ok(_) => Ok(()),
        Err(e) if explicit.is_some() && !interactive => {
            Err(anyhow::anyhow!("cannot connect to {target}: {e}"))
        }
        Err(e) => {
            if interactive || explicit.is_some() {
                term.error(&format!("cannot connect to {target}: {e}"));
            }
            Ok(())
        }
    }
}

/// Runs a script line by line; stops at the first failure or at `quit`.
async fn run_script(shell: &mut Shell, text: &str, term: &mut Terminal) -> ExitCode {
    for line in text.lines() {
        let commands = match split_commands(line) {
            Ok(c) => c,
            Err(e) => {
                term.error(&e.to_string());
                return ExitCode::from(2);
            }
        };
        for cmd in commands {
            let result = shell.run_line(&cmd, term).await;
            term.events(shell.drain_events());
            if let Err(e) = result {
                term.command_error(&cmd, &e);
                return ExitCode::from(1);
            }
            if shell.quit_requested() {
                return ExitCode::SUCCESS;
            }
        }
    }
    ExitCode::SUCCESS
}

fn history_path(args: &Args) -> Option<PathBuf> {
    if let Some(p) = &args.history {
        return Some(p.clone());
    }
    let base = match std::env::var_os("XDG_STATE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(base.join("zkfleet/zksh_history"))
}
