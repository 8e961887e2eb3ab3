//! The migration engine: moves ZooKeeper subtrees between clusters (Apache ZooKeeper and
//! zk-node, either way) without losing data, ACLs, sequential counters or changes made
//! meanwhile, and proves the result. `zksh migrate` and zk-top's wizard drive it; they only
//! display its [`Progress`] events and steer it with a [`Control`].
//!
//! A migration is a resumable state machine kept in a checkpoint file, written atomically
//! after every batch, so a migrator killed at any point continues where it stopped:
//!
//! 1. [plan](Plan): a TOML file (source and destination, paths, prefix, policies).
//! 2. [preflight()]: a report of what will happen, changing nothing.
//! 3. [copy](run): breadth-first, pipelined, multis under jute.maxbuffer, counters carried.
//! 4. [catch-up](run): a persistent-recursive watch set before the copy, plus sweeps.
//! 5. [verify()]: Merkle digests compared top-down; every differing path listed.
//! 6. [cutover()]: fence, drain, verify, the new connect string, an optional reverse catch-up.
//! 7. [rollback()]: lift the fence; remove what was created (or keep it).
//!
//! What a client cannot carry: container and TTL nodes look persistent through the client
//! API (their owner reads as 0), so they arrive as persistent nodes; ctime, mtime, zxids and
//! versions are the destination's own. Ephemerals are skipped by default: their owners
//! re-create them on the new cluster.
//!
//! This module never prints; errors are [`MigrateError`].

pub mod acl;
mod catchup;
pub mod checkpoint;
mod copy;
pub mod counters;
mod cutover;
pub mod digest;
mod engine;
pub mod paths;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

pub use checkpoint::{Checkpoint, Phase};
pub use cutover::{new_connect_string, CutoverReport, RollbackReport};
pub use engine::{stored_counter, PUMP_NAME};
pub use plan::{AclPolicy, ConflictPolicy, EphemeralPolicy, FenceMode, Plan, Side};
pub use preflight::PreflightReport;
pub use progress::{control, null_sink, Control, CopyProgress, Lag, Progress, RunControl, Sink};
pub use verify::{Difference, VerifyReport};

use checkpoint::Lock;
use engine::{connect, Collector, Direction, Endpoint, Engine, EVENTS_QUEUE_LEN};

/// Why a migration step failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("plan: {0}")]
    Plan(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: String },
    #[error("cannot connect to {side}: {error}")]
    Connect { side: String, error: String },
    #[error("{side}: {error}")]
    Zk {
        side: String,
        #[source]
        error: crate::client::Error,
    },
    #[error("{count} destination nodes already exist and conflicts = \"fail\" (first: {})", examples.join(", "))]
    Conflicts { count: usize, examples: Vec<String> },
    #[error("cannot read {path} on the source: {why}")]
    Unreadable { path: String, why: String },
    #[error("another migrator (pid {pid}) is working on this checkpoint")]
    Locked { pid: u32 },
    #[error("{0}")]
    WrongPhase(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl MigrateError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> MigrateError {
        MigrateError::Io {
            path: path.to_path_buf(),
            error: e.to_string(),
        }
    }

    pub(crate) fn zk(side: &str, error: crate::client::Error) -> MigrateError {
        MigrateError::Zk {
            side: side.to_string(),
            error,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The phase finished.
    Done,
    /// The front end stopped it; the checkpoint has everything.
    Stopped,
    /// The catch-up has nothing pending.
    Synced,
}

/// Options of [`run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Return once the catch-up is in sync instead of running until stopped.
    pub until_synced: bool,
}

/// Connects both sides and loads (or starts) the checkpoint. With `watch`, the source
/// session gets the persistent-recursive watch on every root before anything else happens.
async fn open(
    plan: &Plan,
    sink: Sink,
    control: Control,
    watch: bool,
    read_only: bool,
) -> Result<(Engine, Option<Lock>), MigrateError> {
    let lock = if read_only {
        None
    } else {
        Some(Lock::acquire(&plan.checkpoint)?)
    };
    let map = plan.path_map()?;
    let marks_file = engine::marks_path(&plan.checkpoint);
    let ck = match Checkpoint::load(&plan.checkpoint)? {
        Some(ck) if ck.plan != plan.fingerprint() => {
            return Err(MigrateError::Checkpoint(format!(
                "{} belongs to another plan (the source, destination, paths or policies changed); \
                 roll it back or move it away",
                plan.checkpoint.display()
            )))
        }
        Some(ck) => ck,
        None => {
            // Marks left by an earlier migration whose checkpoint was removed say nothing
            // about this one.
            if !read_only {
                let _ = std::fs::remove_file(&marks_file);
            }
            Checkpoint::new(plan.fingerprint(), engine::now_ms())
        }
    };
    let marks = engine::load_marks(&marks_file);
    sink(Progress::Step {
        text: format!(
            "connecting to {} and {}",
            plan.source.label, plan.destination.label
        ),
    });
    let (tx, rx) = mpsc::channel(EVENTS_QUEUE_LEN);
    let (src, dst) = futures::join!(
        connect(&plan.source, watch.then_some(tx)),
        connect(&plan.destination, None)
    );
    let (src, dst) = (src?, dst?);
    let collector = if watch {
        for root in map.source_roots() {
            src.client
                .add_watch(&root, true)
                .await
                .map_err(|e| MigrateError::zk(&src.side.label, e))?;
        }
        Some(Collector::new(rx, map.clone()))
    } else {
        None
    };
    let engine = Engine {
        direction: Direction::Forward,
        map,
        src,
        dst,
        acl_policy: plan.acl.clone(),
        acl_carry: true,
        ephemerals: plan.ephemerals,
        conflicts: plan.conflicts,
        copy: plan.copy,
        reconcile_interval: Duration::from_secs(plan.reconcile_interval_s),
        preexisting: ck.preexisting.clone(),
        ephemeral_paths: ck.ephemerals.clone(),
        dst_ephemerals: Default::default(),
        ck,
        ck_path: plan.checkpoint.clone(),
        sink,
        control,
        collector,
        pending: Default::default(),
        events_dropped_seen: 0,
        marks,
        marks_dirty: false,
        last_marks_save: Instant::now(),
        listings: Default::default(),
        dst_fence_entry: None,
        read_only,
        started: Instant::now(),
        last_save: Instant::now(),
    };
    Ok((engine, lock))
}

async fn close(e: &Engine) {
    futures::join!(e.src.client.close(), e.dst.client.close());
}

/// The preflight report. Changes nothing on either cluster.
pub async fn preflight(plan: &Plan, sink: Sink) -> Result<PreflightReport, MigrateError> {
    sink(Progress::Step {
        text: "preflight: connecting".into(),
    });
    let (src, dst) = futures::join!(
        connect(&plan.source, None),
        connect(&plan.destination, None)
    );
    let close_src = src.as_ref().ok().map(|e: &Endpoint| e.client.clone());
    let close_dst = dst.as_ref().ok().map(|e: &Endpoint| e.client.clone());
    sink(Progress::Step {
        text: "preflight: walking the source".into(),
    });
    let r = preflight::run(plan, src, dst).await;
    for c in [close_src, close_dst].into_iter().flatten() {
        c.close().await;
    }
    r
}

/// Copies (or resumes the copy), then catches up: until stopped, or with
/// [`RunOptions::until_synced`] until nothing is pending.
pub async fn run(
    plan: &Plan,
    sink: Sink,
    control: Control,
    opts: RunOptions,
) -> Result<Outcome, MigrateError> {
    let (mut e, _lock) = open(plan, sink, control, true, false).await?;
    let r = run_engine(&mut e, opts).await;
    let _ = e.flush();
    close(&e).await;
    r
}

async fn run_engine(e: &mut Engine, opts: RunOptions) -> Result<Outcome, MigrateError> {
    match e.ck.phase {
        Phase::Planned | Phase::Copying => {
            if e.copy_phase().await? == Outcome::Stopped {
                return Ok(Outcome::Stopped);
            }
        }
        Phase::CatchingUp => {}
        Phase::Fenced => {
            return Err(MigrateError::WrongPhase(
                "the source is fenced for cutover; run `zksh migrate cutover` (or rollback)".into(),
            ))
        }
        Phase::CutOver => return Err(MigrateError::WrongPhase(
            "the migration is cut over; use `zksh migrate cutover --reverse` to carry changes back"
                .into(),
        )),
        Phase::RolledBack => {
            return Err(MigrateError::WrongPhase(
                "the migration was rolled back; remove the checkpoint to start again".into(),
            ))
        }
    }
    e.catch_up_phase(opts.until_synced).await
}

/// Verifies the destination against the source. Safe beside a running migrator (it then
/// leaves the checkpoint alone).
pub async fn verify(plan: &Plan, sink: Sink) -> Result<VerifyReport, MigrateError> {
    // A live holder (this process included: zk-top verifies beside its own run) owns the
    // checkpoint; then verify only reads.
    let busy = Lock::holder(&plan.checkpoint).is_some();
    let (_tx, control) = progress::control();
    let (mut e, _lock) = open(plan, sink, control, false, busy).await?;
    let r = e.verify().await;
    close(&e).await;
    r
}

/// Options of [`cutover`].
pub struct CutoverOptions<'a> {
    /// Asked before the fence goes up (`--yes` answers true).
    pub confirm: &'a mut (dyn FnMut(&str) -> bool + Send),
    /// Keep a reverse catch-up (destination → source) running until stopped.
    pub reverse: bool,
}

/// Fences the source, drains, verifies and switches; optionally keeps a reverse catch-up
/// running until the control says stop. `None` when stopped before the switch.
pub async fn cutover(
    plan: &Plan,
    sink: Sink,
    control: Control,
    opts: CutoverOptions<'_>,
) -> Result<Option<CutoverReport>, MigrateError> {
    let (mut e, lock) = open(plan, sink.clone(), control.clone(), true, false).await?;
    let report = if e.ck.phase == Phase::CutOver {
        let connect =
            e.ck.new_connect
                .clone()
                .unwrap_or_else(|| new_connect_string(plan));
        let verify = e.verify().await?;
        Some(CutoverReport {
            connect,
            fenced_nodes: e.ck.fence.as_ref().map_or(0, |f| f.applied.len() as u64),
            verify,
            reverse: false,
        })
    } else {
        let r = e.cutover(plan, opts.confirm).await;
        let _ = e.flush();
        match r {
            Ok(r) => r,
            Err(err) => {
                close(&e).await;
                return Err(err);
            }
        }
    };
    let Some(mut report) = report else {
        close(&e).await;
        return Ok(None);
    };
    if !opts.reverse {
        close(&e).await;
        return Ok(Some(report));
    }
    // The reverse catch-up watches the destination and writes to the fenced source.
    sink(Progress::Note {
        text: format!(
            "reverse catch-up: carrying changes on {} back to {} until stopped",
            plan.destination.label, plan.source.label
        ),
    });
    let (tx, rx) = mpsc::channel(EVENTS_QUEUE_LEN);
    let watcher = connect(&plan.destination, Some(tx)).await?;
    let reversed = e.map.reversed();
    for root in reversed.source_roots() {
        watcher
            .client
            .add_watch(&root, true)
            .await
            .map_err(|err| MigrateError::zk(&watcher.side.label, err))?;
    }
    let dst_client = e.dst.client.clone();
    let mut rev = e.into_reverse(watcher, Collector::new(rx, reversed))?;
    let r = rev.catch_up_phase(false).await;
    let _ = rev.save();
    futures::join!(
        rev.src.client.close(),
        rev.dst.client.close(),
        dst_client.close()
    );
    drop(lock);
    r?;
    report.reverse = true;
    Ok(Some(report))
}

/// Lifts the fence and, with `remove`, deletes what the migration created.
pub async fn rollback(
    plan: &Plan,
    sink: Sink,
    remove: bool,
) -> Result<RollbackReport, MigrateError> {
    let (_tx, control) = progress::control();
    if Checkpoint::load(&plan.checkpoint)?.is_none() {
        return Err(MigrateError::WrongPhase(format!(
            "no checkpoint at {}: nothing to roll back",
            plan.checkpoint.display()
        )));
    }
    let (mut e, _lock) = open(plan, sink, control, false, false).await?;
    let r = e.rollback(remove).await;
    if r.is_ok() {
        let _ = std::fs::remove_file(engine::marks_path(&plan.checkpoint));
    }
    close(&e).await;
    r
}

/// Where a migration stands, from its checkpoint alone.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub checkpoint: PathBuf,
    /// `None` before the first run.
    pub phase: Option<Phase>,
    /// The pid of a migrator working on it now.
    pub running: Option<u32>,
    /// The whole checkpoint (not in JSON: it lists every fenced node's ACL).
    #[serde(skip)]
    pub state: Option<Checkpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<checkpoint::CopyStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<checkpoint::CatchUpStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<checkpoint::VerifySummary>,
    /// Source nodes under the fence.
    pub fenced: u64,
    pub counters_pending: u64,
    pub new_connect: Option<String>,
    /// Destination paths that could not be written, with why (the first few).
    pub blocked: std::collections::BTreeMap<String, String>,
    pub log: Vec<String>,
}

/// Blocked paths listed by `status`.
const STATUS_BLOCKED_MAX: usize = 20;

impl Status {
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut t = String::new();
        let Some(ck) = &self.state else {
            return format!(
                "no checkpoint at {}: the migration has not started\n",
                self.checkpoint.display()
            );
        };
        let _ = writeln!(t, "phase: {}", ck.phase);
        if let Some(pid) = self.running {
            let _ = writeln!(t, "a migrator is running (pid {pid})");
        }
        let c = &ck.copy;
        let secs = (c.elapsed_ms as f64 / 1000.0).max(0.001);
        let _ = writeln!(
            t,
            "copy: {} of ~{} nodes, {} in {:.1} s ({:.0} nodes/s, {:.2} MB/s){}; {} ephemerals skipped",
            c.nodes,
            c.nodes_total,
            preflight::bytes(c.bytes),
            secs,
            c.nodes as f64 / secs,
            c.bytes as f64 / secs / 1e6,
            if c.done { ", done" } else { "" },
            c.ephemerals_skipped
        );
        let u = &ck.catch_up;
        let _ = writeln!(
            t,
            "catch-up: {} events, {} applied, {} deleted, {} counters carried, {} sweeps; \
             pending {} (max {}), zxid lag {} (source 0x{:x}, applied 0x{:x}), worst lag {} ms",
            u.events,
            u.applied,
            u.deleted,
            u.counters_carried,
            u.sweeps,
            u.pending,
            u.pending_max,
            (u.source_zxid - u.applied_zxid).max(0),
            u.source_zxid,
            u.applied_zxid,
            u.lag_ms_max
        );
        if let Some(v) = &ck.verify {
            let _ = writeln!(
                t,
                "last verify: {} ({} differences, {} source nodes)",
                if v.equal { "equal" } else { "DIFFERENT" },
                v.differences,
                v.nodes_source
            );
        }
        if let Some(f) = &ck.fence {
            let _ = writeln!(t, "fence: {} source nodes read-only", f.applied.len());
        }
        if let Some(c) = &ck.new_connect {
            let _ = writeln!(t, "new connect string: {c}");
        }
        if !ck.blocked.is_empty() {
            let _ = writeln!(t, "could not write {} destination nodes:", ck.blocked.len());
            for (p, why) in ck.blocked.iter().take(10) {
                let _ = writeln!(t, "  {p}: {why}");
            }
        }
        for l in ck.log.iter().rev().take(5).rev() {
            let _ = writeln!(t, "  {l}");
        }
        t
    }
}

/// The state in the checkpoint. Reads no cluster.
pub fn status(plan: &Plan) -> Result<Status, MigrateError> {
    let state = Checkpoint::load(&plan.checkpoint)?;
    let ck = state.as_ref();
    Ok(Status {
        checkpoint: plan.checkpoint.clone(),
        phase: ck.map(|c| c.phase),
        running: Lock::holder(&plan.checkpoint),
        copy: ck.map(|c| c.copy.clone()),
        catch_up: ck.map(|c| c.catch_up.clone()),
        verify: ck.and_then(|c| c.verify.clone()),
        fenced: ck
            .and_then(|c| c.fence.as_ref())
            .map_or(0, |f| f.applied.len() as u64),
        counters_pending: ck.map_or(0, |c| c.counters_pending.len() as u64),
        new_connect: ck.and_then(|c| c.new_connect.clone()),
        blocked: ck
            .map(|c| {
                c.blocked
                    .iter()
                    .take(STATUS_BLOCKED_MAX)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        log: ck.map(|c| c.log.clone()).unwrap_or_default(),
        state,
    })
}
