//! `zksh bench`: the command line of the load generator in `zk_shell::bench`. This file only
//! turns flags into [`Options`], shows progress, handles Ctrl-C and prints the report.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio::sync::watch;
use zk_shell::bench::{self, parse_duration, Limit, Options, Progress, Workload};

const ABOUT: &str = "Load-test a ZooKeeper server or ensemble (Apache ZooKeeper, zk-node)";

const LONG_HELP: &str = "\
Workloads:
  create      each operation creates a new persistent node (--value-size bytes)
  set         setData of a random one of --keys nodes
  get         getData of a random one of --keys nodes
  mixed       getData with probability --read-ratio, setData otherwise
  watch       --clients sessions hold a persistent watch on one node; one more session sets
              it. Latency is from each write's acknowledgement to the event at each watcher
              (an event that comes before the acknowledgement counts as 0). Writes are
              sequential: the next starts when every watcher has its event
  multi       each operation is one multi of --multi-ops setData on distinct random keys
  sessions    each operation opens a session and closes it (--clients at a time)
  ephemerals  each operation creates an ephemeral node; the time to close the sessions that
              own them is reported as close_s

Every session works closed-loop: --inflight requests pipelined on its connection, a new one
sent when a reply arrives. With --rate the operations are spaced evenly instead, and latency
counts from each operation's scheduled start (a server that falls behind shows it).

Everything is created under --prefix (default /zksh-bench-<random>), which must not exist yet.
At the end, and also after Ctrl-C, the prefix is deleted with everything under it; a second
Ctrl-C abandons the cleanup.

Output: throughput, latency percentiles (p50 p90 p99 p99.9 max, from an HDR histogram) and
errors by ZooKeeper code; a live progress line on stderr when it is a terminal; --json prints
one JSON object instead. Exit status: 0 when every operation succeeded, 1 when some failed,
2 when the run could not start, 130 when interrupted.

Examples:
  zksh bench create -s 127.0.0.1:2181 --clients 16 --inflight 8 --duration 30s
  zksh bench mixed --read-ratio 0.9 -s h1:2181,h2:2181,h3:2181 --ops 100000
  zksh bench set --rate 5000 --duration 20s --json
  zksh bench watch --clients 32 --ops 1000";

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkloadArg {
    Create,
    Set,
    Get,
    Mixed,
    Watch,
    Multi,
    Sessions,
    Ephemerals,
}

#[derive(Args, Debug)]
#[command(about = ABOUT, long_about = ABOUT, after_long_help = LONG_HELP)]
pub struct BenchArgs {
    /// What to run (see --help for each workload).
    #[arg(value_enum)]
    workload: WorkloadArg,
    /// Connect string: host:port[,host:port...][/chroot]. Sessions are spread over every
    /// server: session i connects to server i mod n.
    #[arg(
        short = 's',
        long = "connect",
        visible_alias = "server",
        value_name = "CONNECT",
        default_value = "127.0.0.1:2181"
    )]
    connect: String,
    /// Sessions doing the work (for watch: the watching sessions; for sessions: the
    /// connect/close loops running at once).
    #[arg(long, default_value_t = 8, value_name = "N")]
    clients: usize,
    /// Requests each session keeps in flight (pipelined on its one connection).
    #[arg(long, default_value_t = 1, value_name = "N")]
    inflight: usize,
    /// Bytes of data in every node written.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    value_size: usize,
    /// Nodes that set, get, mixed and multi work on (created before the measurement).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    keys: usize,
    /// How long to measure: 10s, 500ms, 2m (default 10s unless --ops is given).
    #[arg(long, value_name = "TIME", value_parser = parse_duration, conflicts_with = "ops")]
    duration: Option<Duration>,
    /// Measure exactly this many operations (over all sessions) instead of a duration.
    #[arg(long, value_name = "N")]
    ops: Option<u64>,
    /// mixed: the share of reads, 0 to 1.
    #[arg(long, default_value_t = 0.9, value_name = "R")]
    read_ratio: f64,
    /// multi: setData operations in each multi.
    #[arg(long, default_value_t = 10, value_name = "K")]
    multi_ops: usize,
    /// Target operations per second over all sessions (default: as fast as the server
    /// answers).
    #[arg(long, value_name = "OPS")]
    rate: Option<f64>,
    /// Node under which everything is created; it must not exist.
    #[arg(long, value_name = "PATH")]
    prefix: Option<String>,
    /// Leave the prefix and its nodes in place (to load data for another measurement).
    #[arg(long)]
    keep: bool,
    /// Requested session timeout in milliseconds.
    #[arg(long = "timeout", value_name = "MS", default_value_t = 30_000)]
    timeout_ms: i32,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

impl BenchArgs {
    fn options(&self) -> Options {
        let workload = match self.workload {
            WorkloadArg::Create => Workload::Create,
            WorkloadArg::Set => Workload::Set,
            WorkloadArg::Get => Workload::Get,
            WorkloadArg::Mixed => Workload::Mixed {
                read_ratio: self.read_ratio,
            },
            WorkloadArg::Watch => Workload::Watch,
            WorkloadArg::Multi => Workload::Multi {
                ops: self.multi_ops,
            },
            WorkloadArg::Sessions => Workload::Sessions,
            WorkloadArg::Ephemerals => Workload::Ephemerals,
        };
        let mut o = Options::new(&self.connect, workload);
        o.clients = self.clients;
        o.inflight = self.inflight;
        o.value_size = self.value_size;
        o.keys = self.keys;
        o.limit = match (self.ops, self.duration) {
            (Some(n), _) => Limit::Ops(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => Limit::Duration(Duration::from_secs(10)),
        };
        o.rate = self.rate;
        if let Some(p) = &self.prefix {
            o.prefix = p.clone();
        }
        o.keep = self.keep;
        o.session_timeout_ms = self.timeout_ms;
        o
    }
}

/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Runs `zksh bench`.
pub async fn run(args: BenchArgs) -> ExitCode {
    let opts = args.options();
    let progress = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let interrupts = tokio::spawn(handle_ctrl_c(stop_tx, opts.prefix.clone()));
    let ticker = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(show_progress(progress.clone(), opts.workload.name())));
    let result = bench::run(&opts, progress, stop_rx).await;
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[2K");
    }
    interrupts.abort();
    match result {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).expect("report serializes")
                );
            } else {
                print!("{}", report.text());
            }
            if let Some(e) = report.cleanup.as_ref().and_then(|c| c.error.as_ref()) {
                eprintln!("zksh bench: cleanup of {} incomplete: {e}", report.prefix);
            }
            if report.interrupted {
                ExitCode::from(130)
            } else if report.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("zksh bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// First Ctrl-C: stop measuring and clean up. Second: exit at once, leaving the prefix.
async fn handle_ctrl_c(stop: watch::Sender<bool>, prefix: String) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    eprintln!("\rzksh bench: stopping; deleting {prefix} (Ctrl-C again to leave it)");
    stop.send_replace(true);
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("zksh bench: cleanup abandoned; {prefix} is left on the server");
        std::process::exit(130);
    }
}

async fn show_progress(progress: Arc<Progress>, workload: &'static str) {
    let mut prev = None;
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tick.tick().await;
        let now = progress.snapshot();
        let line = now.line(workload, prev.as_ref());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        prev = Some(now);
    }
}
