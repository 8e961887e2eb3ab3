//! `zksh migrate`: the command line of the migration engine in `zk_shell::migrate`. This
//! file only turns flags into calls, draws the engine's progress events (a bar on a
//! terminal, plain lines otherwise, JSON lines with --json), handles Ctrl-C and SIGTERM by
//! asking the engine to stop at its next checkpoint, and prints the reports.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use tokio::sync::watch;
use zk_shell::clusters::ClusterList;
use zk_shell::migrate::{
    self, preflight::bytes, ConflictPolicy, CutoverOptions, EphemeralPolicy, MigrateError, Outcome,
    Phase, Plan, Progress, RunControl, RunOptions, Side, Sink,
};

const ABOUT: &str = "Migrate subtrees between ZooKeeper clusters (Apache ZooKeeper, zk-node)";

const LONG_HELP: &str = "\
Steps, each reading the same plan file:
  plan       write a plan file from flags (--source, --destination, --path ...), or check one
  preflight  what the migration will do, changing nothing: counts, ephemerals, sequential
             parents, unreadable nodes, conflicts, an estimated duration (--json)
  run        copy, then catch up with the changes made meanwhile, until Ctrl-C; with
             --until-synced, stop as soon as nothing is pending. Killed or stopped, it
             continues from its checkpoint when run again
  status     where the migration stands, from the checkpoint (--json)
  verify     compare both trees by digest and list every differing path (--json)
  cutover    fence writers off the source (a read-only ACL on every migrated node, or your
             confirmation that they are stopped), drain, verify, print the new connect string;
             --reverse then carries changes on the destination back to the source until Ctrl-C
  rollback   lift the fence; remove what the migration created (--keep leaves it)

The checkpoint is written next to the plan (key `checkpoint`) after every batch.

Examples:
  zksh migrate plan --plan orders.toml --source old --destination new --path /orders
  zksh migrate preflight --plan orders.toml
  zksh migrate run --plan orders.toml --until-synced
  zksh migrate verify --plan orders.toml --json
  zksh migrate cutover --plan orders.toml --yes
  zksh migrate rollback --plan orders.toml

Exit status: 0 on success; 1 when verification or the preflight found differences or
problems; 2 for bad usage, an unreachable cluster or a failed step; 130 when stopped by
Ctrl-C (the checkpoint is up to date).";

#[derive(Args, Debug)]
#[command(about = ABOUT, long_about = None, after_help = LONG_HELP)]
pub struct MigrateArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Write a plan file from flags, or check an existing one.
    Plan(PlanArgs),
    /// Report what the migration would do; changes nothing.
    Preflight(Common),
    /// Copy and catch up (resumes from the checkpoint).
    Run(RunArgs),
    /// Show the checkpoint's state.
    Status(Common),
    /// Compare both trees and list every difference.
    Verify(Common),
    /// Fence, drain, verify and switch to the destination.
    Cutover(CutoverArgs),
    /// Lift the fence and remove what the migration created.
    Rollback(RollbackArgs),
}

#[derive(Args, Debug)]
struct Common {
    /// The plan file.
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// Print the result as JSON (and progress events as JSON lines on stderr).
    #[arg(long)]
    json: bool,
    /// Answer yes to every confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Cluster list file (default: $XDG_CONFIG_HOME/zkfleet/clusters.toml).
    #[arg(long, value_name = "FILE")]
    clusters: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct PlanArgs {
    #[command(flatten)]
    common: Common,
    /// Source cluster: a name from the cluster list, or a connect string.
    #[arg(long, value_name = "CLUSTER")]
    source: Option<String>,
    /// Destination cluster: a name from the cluster list, or a connect string.
    #[arg(long, value_name = "CLUSTER")]
    destination: Option<String>,
    /// A source path to migrate (repeatable).
    #[arg(long = "path", value_name = "PATH")]
    paths: Vec<String>,
    /// Destination prefix: the destination path is PREFIX + source path.
    #[arg(long, value_name = "PATH", default_value = "/")]
    prefix: String,
    /// A source subtree to leave out (repeatable).
    #[arg(long, value_name = "PATH")]
    exclude: Vec<String>,
    /// Copy ephemerals as persistent nodes instead of skipping them.
    #[arg(long)]
    copy_ephemerals: bool,
    /// What to do with destination nodes that exist: fail, overwrite or skip.
    #[arg(long, value_name = "POLICY", default_value = "fail")]
    conflicts: String,
    /// Credentials on the source, scheme:credentials (repeatable).
    #[arg(long, value_name = "AUTH")]
    source_auth: Vec<String>,
    /// Credentials on the destination, scheme:credentials (repeatable).
    #[arg(long, value_name = "AUTH")]
    destination_auth: Vec<String>,
    /// Replace an existing plan file.
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Return once the catch-up has nothing pending instead of running until Ctrl-C.
    #[arg(long)]
    until_synced: bool,
}

#[derive(Args, Debug)]
struct CutoverArgs {
    #[command(flatten)]
    common: Common,
    /// After cutover, carry changes on the destination back to the source until Ctrl-C.
    #[arg(long)]
    reverse: bool,
}

#[derive(Args, Debug)]
struct RollbackArgs {
    #[command(flatten)]
    common: Common,
    /// Leave what the migration created on the destination.
    #[arg(long)]
    keep: bool,
}

/// Runs one `zksh migrate` action. `clusters` is the list the top-level flags loaded.
pub async fn run(args: MigrateArgs, clusters: ClusterList) -> ExitCode {
    match dispatch(args, clusters).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zksh migrate: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(args: MigrateArgs, clusters: ClusterList) -> anyhow::Result<ExitCode> {
    let common = match &args.action {
        Action::Plan(a) => &a.common,
        Action::Preflight(c) | Action::Status(c) | Action::Verify(c) => c,
        Action::Run(a) => &a.common,
        Action::Cutover(a) => &a.common,
        Action::Rollback(a) => &a.common,
    };
    let mut list = match &common.clusters {
        Some(p) => ClusterList::load(p)?,
        None => clusters,
    };
    if common.clusters.is_none() && list.clusters.is_empty() {
        list = ClusterList::load_default()?;
    }
    if let Action::Plan(a) = &args.action {
        return write_plan(a, &list);
    }
    let plan = Plan::load(&common.plan, &list)?;
    let json = common.json;
    let yes = common.yes;
    let view = View::new(json);
    let sink = view.sink();
    let (control_tx, control) = migrate::control();
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = tokio::spawn(stop_on_signals(control_tx, interrupted.clone()));
    let code = match args.action {
        Action::Plan(_) => unreachable!("handled above"),
        Action::Preflight(_) => {
            let r = migrate::preflight(&plan, sink).await?;
            view.clear();
            print_result(json, &r, || r.to_text());
            code_if(r.ok())
        }
        Action::Status(_) => {
            let s = migrate::status(&plan)?;
            print_result(json, &s, || s.to_text());
            ExitCode::SUCCESS
        }
        Action::Verify(_) => {
            let r = migrate::verify(&plan, sink).await?;
            view.clear();
            print_result(json, &r, || r.to_text());
            code_if(r.equal)
        }
        Action::Run(a) => {
            let opts = RunOptions {
                until_synced: a.until_synced,
            };
            let outcome = migrate::run(&plan, sink, control, opts).await;
            view.clear();
            let outcome = outcome?;
            let s = migrate::status(&plan)?;
            print_result(json, &s, || s.to_text());
            match outcome {
                Outcome::Stopped => ExitCode::from(130),
                _ => ExitCode::SUCCESS,
            }
        }
        Action::Cutover(a) => {
            let mut confirm = move |q: &str| ask(q, yes);
            let opts = CutoverOptions {
                confirm: &mut confirm,
                reverse: a.reverse,
            };
            let r = migrate::cutover(&plan, sink, control, opts).await;
            view.clear();
            match r {
                Ok(Some(r)) => {
                    print_result(json, &r, || {
                        format!(
                            "{}cut over. Clients should now connect to:\n  {}\n\
                             Clients whose ephemerals were skipped re-create them on reconnect.\n",
                            r.verify.to_text(),
                            r.connect
                        )
                    });
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("zksh migrate: stopped; the checkpoint is up to date");
                    ExitCode::from(130)
                }
                Err(MigrateError::Refused(m)) => {
                    eprintln!("zksh migrate: {m}");
                    ExitCode::from(1)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Action::Rollback(a) => {
            let q = if a.keep {
                format!("Lift the fence on {}?", plan.source.label)
            } else {
                format!(
                    "Lift the fence on {} and delete what the migration created on {}?",
                    plan.source.label, plan.destination.label
                )
            };
            if !ask(&q, yes) {
                eprintln!("zksh migrate: rollback cancelled; nothing was changed");
                return Ok(ExitCode::from(1));
            }
            let r = migrate::rollback(&plan, sink, !a.keep).await?;
            view.clear();
            print_result(json, &r, || {
                format!(
                    "rolled back: {} ACLs restored on the source, {} nodes removed from the destination\n",
                    r.acls_restored, r.nodes_removed
                )
            });
            ExitCode::SUCCESS
        }
    };
    signals.abort();
    if interrupted.load(std::sync::atomic::Ordering::Relaxed) && code == ExitCode::SUCCESS {
        return Ok(ExitCode::from(130));
    }
    Ok(code)
}

fn code_if(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_result<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string(value).expect("reports serialize")
        );
    } else {
        print!("{}", text());
    }
    let _ = std::io::stdout().flush();
}

/// Yes with `--yes`; otherwise asks on the terminal; no when there is no terminal.
fn ask(question: &str, yes: bool) -> bool {
    if yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} (not asked: stdin is not a terminal; pass --yes)");
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// The first Ctrl-C or SIGTERM asks the engine to stop at its next checkpoint; a second
/// Ctrl-C exits at once (the checkpoint of the last batch is still valid).
async fn stop_on_signals(
    control: watch::Sender<RunControl>,
    interrupted: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term_wait = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term_wait => {}
    }
    interrupted.store(true, std::sync::atomic::Ordering::Relaxed);
    eprintln!("\nzksh migrate: stopping at the next checkpoint (Ctrl-C again to quit now)");
    control.send_replace(RunControl::Stop);
    let _ = tokio::signal::ctrl_c().await;
    std::process::exit(130);
}

fn write_plan(a: &PlanArgs, list: &ClusterList) -> anyhow::Result<ExitCode> {
    let Some(source) = &a.source else {
        // No --source: check the file and print it as the engine reads it.
        let plan = Plan::load(&a.common.plan, list)?;
        if a.common.json {
            println!(
                "{}",
                serde_json::json!({
                    "source": plan.source.connect,
                    "destination": plan.destination.connect,
                    "paths": plan.paths,
                    "prefix": plan.prefix,
                    "checkpoint": plan.checkpoint,
                })
            );
        } else {
            print!("{}", plan.to_toml());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let destination = a
        .destination
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--destination is required with --source"))?;
    if a.paths.is_empty() {
        anyhow::bail!("give at least one --path");
    }
    if a.common.plan.exists() && !a.force {
        anyhow::bail!(
            "{} exists; pass --force to replace it",
            a.common.plan.display()
        );
    }
    let text = plan_text(a, source, destination, list)?;
    // Parse what we are about to write, so the file is valid when it lands.
    Plan::parse(&text, &a.common.plan, list)?;
    std::fs::write(&a.common.plan, &text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.common.plan.display()))?;
    print!("{text}");
    eprintln!("wrote {}", a.common.plan.display());
    Ok(ExitCode::SUCCESS)
}

fn plan_text(
    a: &PlanArgs,
    source: &str,
    destination: &str,
    list: &ClusterList,
) -> anyhow::Result<String> {
    let side = |s: &str| -> (Option<String>, Side) {
        match list.get(s) {
            Some(c) => (
                Some(c.name.clone()),
                Side {
                    label: c.name.clone(),
                    connect: c.connect_string(),
                    auth: c.auth_pairs(),
                },
            ),
            None => (
                None,
                Side {
                    label: s.to_string(),
                    connect: s.to_string(),
                    auth: Vec::new(),
                },
            ),
        }
    };
    let (sn, s) = side(source);
    let (dn, d) = side(destination);
    let mut plan = Plan::new(s, d, a.paths.clone(), a.prefix.clone());
    plan.set_cluster_names(sn, dn);
    plan.set_auth_text(a.source_auth.clone(), a.destination_auth.clone());
    plan.exclude = a.exclude.clone();
    plan.ephemerals = if a.copy_ephemerals {
        EphemeralPolicy::Persistent
    } else {
        EphemeralPolicy::Skip
    };
    plan.conflicts = match a.conflicts.as_str() {
        "fail" => ConflictPolicy::Fail,
        "overwrite" => ConflictPolicy::Overwrite,
        "skip" => ConflictPolicy::Skip,
        other => anyhow::bail!("--conflicts {other:?}: use fail, overwrite or skip"),
    };
    let stem = a
        .common
        .plan
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "plan".into());
    plan.checkpoint = Path::new(&format!("{stem}.checkpoint.json")).to_path_buf();
    Ok(plan.to_toml())
}

/// Draws progress: a redrawn bar on a terminal, a line every few seconds otherwise, JSON
/// lines with --json.
struct View {
    state: Arc<Mutex<ViewState>>,
}

struct ViewState {
    json: bool,
    tty: bool,
    last_line: Instant,
    drawn: bool,
}

/// How often plain (non-terminal) output repeats a copy or lag line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl View {
    fn new(json: bool) -> View {
        View {
            state: Arc::new(Mutex::new(ViewState {
                json,
                tty: std::io::stderr().is_terminal(),
                last_line: Instant::now() - PLAIN_EVERY,
                drawn: false,
            })),
        }
    }

    fn sink(&self) -> Sink {
        let state = self.state.clone();
        Arc::new(move |p: Progress| {
            let mut s = state.lock().expect("view lock");
            s.show(&p);
        })
    }

    fn clear(&self) {
        let mut s = self.state.lock().expect("view lock");
        if s.drawn {
            eprint!("\r\x1b[2K");
            s.drawn = false;
        }
    }
}

impl ViewState {
    fn show(&mut self, p: &Progress) {
        if self.json {
            eprintln!("{}", serde_json::to_string(p).expect("events serialize"));
            return;
        }
        let (line, transient) = match p {
            Progress::Phase { phase } => (format!("== {}", phase_words(*phase)), false),
            Progress::Step { text } => (format!("-- {text}"), false),
            Progress::Note { text } => (text.clone(), false),
            Progress::Warning { text } => (format!("warning: {text}"), false),
            Progress::Paused => ("paused".into(), false),
            Progress::Resumed => ("resumed".into(), false),
            Progress::Copy(c) => (copy_line(c, self.tty), true),
            Progress::Lag(l) => (
                format!(
                    "catch-up: {} pending, {} counters, zxid lag {} (0x{:x} / 0x{:x}), oldest {} ms, {} applied, {} events{}",
                    l.pending,
                    l.counters_pending,
                    l.zxid_lag(),
                    l.source_zxid,
                    l.applied_zxid,
                    l.oldest_ms,
                    l.applied,
                    l.events,
                    if l.synced { ", in sync" } else { "" }
                ),
                true,
            ),
            Progress::Verify {
                source,
                destination,
            } => (
                format!("verify: read {source} source / {destination} destination nodes"),
                true,
            ),
        };
        if self.tty {
            if transient {
                eprint!("\r\x1b[2K{line}");
                self.drawn = true;
            } else {
                if self.drawn {
                    eprint!("\r\x1b[2K");
                    self.drawn = false;
                }
                eprintln!("{line}");
            }
        } else if !transient || self.last_line.elapsed() >= PLAIN_EVERY {
            eprintln!("{line}");
            if transient {
                self.last_line = Instant::now();
            }
        }
        let _ = std::io::stderr().flush();
    }
}

fn phase_words(p: Phase) -> &'static str {
    match p {
        Phase::Planned => "planned",
        Phase::Copying => "copy",
        Phase::CatchingUp => "catch-up",
        Phase::Fenced => "cutover: source fenced, draining",
        Phase::CutOver => "cut over",
        Phase::RolledBack => "rolled back",
    }
}

fn copy_line(c: &migrate::CopyProgress, bar: bool) -> String {
    let pct = if c.nodes_total > 0 {
        (c.nodes as f64 / c.nodes_total as f64).min(1.0)
    } else {
        0.0
    };
    let eta = c
        .eta_s
        .map(|s| format!(" ETA {}m{:02}s", s / 60, s % 60))
        .unwrap_or_default();
    let stats = format!(
        "{}/{} nodes {} {:.0} nodes/s {:.2} MB/s{eta}",
        c.nodes,
        c.nodes_total,
        bytes(c.bytes),
        c.nodes_per_s,
        c.bytes_per_s / 1e6
    );
    if bar {
        let width = 30;
        let full = (pct * width as f64) as usize;
        format!(
            "copy [{}{}] {:>3.0}% {stats}",
            "#".repeat(full),
            ".".repeat(width - full),
            pct * 100.0
        )
    } else {
        format!("copy: {:.0}% {stats}", pct * 100.0)
    }
}
