//! The migration wizard's state: which step is shown, what the operator chose, and what the
//! engine (`zk_shell::migrate`, run by [`crate::migration`]) last reported. Keys and engine
//! messages change it here; nothing here talks to a cluster.
//!
//! Steps: source cluster and paths, destination cluster and prefix, preflight report, copy,
//! catch-up (with lag), verification, cutover confirmation, done. Until the copy starts, Esc
//! goes back a step and nothing has been written anywhere (the preflight only reads). Once
//! it has started the wizard offers pause/resume, verify, cutover and rollback instead.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use zk_shell::migrate::{
    CopyProgress, CutoverReport, Lag, Outcome, Phase, Plan, PreflightReport, Progress,
    RollbackReport, Side, VerifyReport,
};

use super::history::Ring;
use super::{ClusterState, Effect};
use crate::config::ClusterSpec;

/// Lines kept in the wizard's log.
pub const WIZARD_LOG_LEN: usize = 200;

/// Which screen of the wizard is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Source,
    Destination,
    Preflight,
    Copy,
    CatchUp,
    Verify,
    /// "Fence and cut over?"
    ConfirmCutover,
    /// "Roll back?"
    ConfirmRollback,
    /// Cutover or rollback running, or finished.
    Done,
}

impl Step {
    /// Position and name for the title: `(3, "preflight")`.
    pub fn title(self) -> (usize, &'static str) {
        match self {
            Step::Source => (1, "source"),
            Step::Destination => (2, "destination"),
            Step::Preflight => (3, "preflight"),
            Step::Copy => (4, "copy"),
            Step::CatchUp => (5, "catch-up"),
            Step::Verify => (6, "verify"),
            Step::ConfirmCutover => (7, "cutover"),
            Step::ConfirmRollback => (7, "rollback"),
            Step::Done => (7, "done"),
        }
    }
}

/// Steps shown in the title bar of the wizard.
pub const STEPS: usize = 7;

/// What the wizard asks of the run loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationCmd {
    Preflight(Plan),
    /// Copy, then catch up until told otherwise.
    Start(Plan),
    Pause,
    Resume,
    Verify(Plan),
    /// Stop the run, then fence, drain, verify and switch.
    Cutover(Plan),
    /// Stop the run, then lift the fence and remove what was created.
    Rollback(Plan),
}

/// What the engine reported.
#[derive(Debug, Clone, PartialEq)]
pub enum MigrationMsg {
    Progress(Progress),
    Preflight(Result<Box<PreflightReport>, String>),
    RunEnded(Result<Outcome, String>),
    Verified(Result<VerifyReport, String>),
    CutOver(Result<Option<CutoverReport>, String>),
    RolledBack(Result<RollbackReport, String>),
}

/// The wizard.
#[derive(Debug, Clone, PartialEq)]
pub struct Wizard {
    pub step: Step,
    /// Index into the state's clusters.
    pub source: usize,
    pub destination: usize,
    /// Source paths, comma separated, as typed.
    pub paths: String,
    /// Destination prefix, as typed.
    pub prefix: String,
    /// True while the text field has the keyboard (else ↑/↓ choose the cluster).
    pub editing: bool,
    /// The plan, once the destination step is done.
    pub plan: Option<Plan>,
    pub preflight: Option<Result<Box<PreflightReport>, String>>,
    /// The copy has started: Esc no longer goes back.
    pub started: bool,
    pub running: bool,
    pub paused: bool,
    pub phase: Option<Phase>,
    /// What the engine is doing now, when the operator is waiting for it.
    pub busy: Option<String>,
    pub copy: Option<CopyProgress>,
    pub lag: Option<Lag>,
    pub verify: Option<Result<VerifyReport, String>>,
    pub cutover: Option<CutoverReport>,
    pub rollback: Option<RollbackReport>,
    pub error: Option<String>,
    pub log: Ring<String>,
    /// First line shown of a long report.
    pub scroll: usize,
}

impl Wizard {
    /// A wizard from cluster `source`, proposing the next cluster as the destination.
    pub fn new(source: usize, clusters: usize) -> Wizard {
        Wizard {
            step: Step::Source,
            source,
            destination: if clusters > 1 {
                (source + 1) % clusters
            } else {
                source
            },
            paths: "/".to_string(),
            prefix: "/".to_string(),
            editing: false,
            plan: None,
            preflight: None,
            started: false,
            running: false,
            paused: false,
            phase: None,
            busy: None,
            copy: None,
            lag: None,
            verify: None,
            cutover: None,
            rollback: None,
            error: None,
            log: Ring::new(WIZARD_LOG_LEN),
            scroll: 0,
        }
    }
}

/// One side of the plan from a watched cluster.
fn side(spec: &ClusterSpec) -> Side {
    match &spec.cluster {
        Some(c) => Side {
            label: c.name.clone(),
            connect: c.connect_string(),
            auth: c.auth_pairs(),
        },
        None => Side {
            label: spec.name.clone(),
            connect: spec.servers.join(","),
            auth: Vec::new(),
        },
    }
}

/// The plan the wizard's choices describe. The checkpoint is a bare file name; the run loop
/// places it in zk-top's state directory.
pub fn plan_of(w: &Wizard, specs: &[ClusterSpec]) -> Result<Plan, String> {
    let src = specs.get(w.source).ok_or("no source cluster")?;
    let dst = specs.get(w.destination).ok_or("no destination cluster")?;
    let paths: Vec<String> = w
        .paths
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(zk_shell::migrate::paths::normalize)
        .collect::<Result<_, _>>()?;
    if paths.is_empty() {
        return Err("give at least one source path".into());
    }
    let prefix = zk_shell::migrate::paths::normalize(w.prefix.trim())?;
    let mut plan = Plan::new(side(src), side(dst), paths, prefix);
    plan.set_cluster_names(
        src.cluster.as_ref().map(|c| c.name.clone()),
        dst.cluster.as_ref().map(|c| c.name.clone()),
    );
    plan.checkpoint = format!(
        "{}-to-{}.checkpoint.json",
        file_safe(&src.name),
        file_safe(&dst.name)
    )
    .into();
    plan.path_map().map_err(|e| e.to_string())?;
    Ok(plan)
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Applies a key to the wizard. Returns the effects, and whether the wizard should close.
pub fn on_key(
    w: &mut Wizard,
    key: KeyEvent,
    clusters: &[ClusterState],
    specs: &[ClusterSpec],
) -> (Vec<Effect>, bool) {
    let n = clusters.len().max(1);
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let mut fx = Vec::new();
    match (w.step, key.code) {
        (Step::Source | Step::Destination, KeyCode::Tab) => w.editing = !w.editing,
        (Step::Source | Step::Destination, KeyCode::Char(c)) if w.editing && !ctrl => {
            field(w).push(c)
        }
        (Step::Source | Step::Destination, KeyCode::Backspace) if w.editing => {
            field(w).pop();
        }
        (Step::Source, KeyCode::Up | KeyCode::Char('k')) => w.source = (w.source + n - 1) % n,
        (Step::Source, KeyCode::Down | KeyCode::Char('j')) => w.source = (w.source + 1) % n,
        (Step::Destination, KeyCode::Up | KeyCode::Char('k')) => {
            w.destination = (w.destination + n - 1) % n
        }
        (Step::Destination, KeyCode::Down | KeyCode::Char('j')) => {
            w.destination = (w.destination + 1) % n
        }
        (Step::Source, KeyCode::Enter) => {
            w.error = None;
            w.editing = false;
            w.step = Step::Destination;
        }
        (Step::Source, KeyCode::Esc) => return (fx, true),
        (Step::Destination, KeyCode::Enter) => match plan_of(w, specs) {
            Ok(p) => {
                w.error = None;
                w.editing = false;
                w.plan = Some(p.clone());
                w.preflight = None;
                w.scroll = 0;
                w.busy = Some("running the preflight (reads both clusters, writes nothing)".into());
                w.step = Step::Preflight;
                fx.push(Effect::Migration(Box::new(MigrationCmd::Preflight(p))));
            }
            Err(e) => w.error = Some(e),
        },
        (Step::Destination, KeyCode::Esc) => {
            w.editing = false;
            w.step = Step::Source;
        }
        (Step::Preflight, KeyCode::Esc) => {
            w.busy = None;
            w.step = Step::Destination;
        }
        (Step::Preflight | Step::Verify, KeyCode::Up | KeyCode::Char('k')) => {
            w.scroll = w.scroll.saturating_sub(1)
        }
        (Step::Preflight | Step::Verify, KeyCode::Down | KeyCode::Char('j')) => w.scroll += 1,
        (Step::Preflight, KeyCode::Enter) => {
            let ok = matches!(&w.preflight, Some(Ok(r)) if r.ok());
            if let (true, Some(p)) = (ok, w.plan.clone()) {
                w.started = true;
                w.running = true;
                w.step = Step::Copy;
                w.log.push("copy started".into());
                fx.push(Effect::Migration(Box::new(MigrationCmd::Start(p))));
            } else if w.busy.is_none() {
                w.error =
                    Some("the preflight found problems; Esc goes back to change the plan".into());
            }
        }
        (Step::Copy | Step::CatchUp, KeyCode::Char('p')) if w.running => {
            let cmd = if w.paused {
                MigrationCmd::Resume
            } else {
                MigrationCmd::Pause
            };
            fx.push(Effect::Migration(Box::new(cmd)));
        }
        (Step::Copy | Step::CatchUp | Step::Done, KeyCode::Char('v')) if w.busy.is_none() => {
            if let Some(p) = w.plan.clone() {
                w.verify = None;
                w.scroll = 0;
                w.busy = Some("verifying: digests of both trees".into());
                w.step = Step::Verify;
                fx.push(Effect::Migration(Box::new(MigrationCmd::Verify(p))));
            }
        }
        (Step::CatchUp | Step::Verify, KeyCode::Char('c'))
            if w.busy.is_none() && w.cutover.is_none() =>
        {
            w.step = Step::ConfirmCutover;
        }
        (Step::Copy | Step::CatchUp | Step::Verify | Step::Done, KeyCode::Char('r'))
            if w.busy.is_none() && w.rollback.is_none() =>
        {
            w.step = Step::ConfirmRollback;
        }
        (Step::Verify, KeyCode::Esc | KeyCode::Enter) if w.busy.is_none() => w.step = back_step(w),
        (Step::ConfirmCutover, KeyCode::Char('y')) => {
            if let Some(p) = w.plan.clone() {
                w.busy = Some("cutting over: fencing writers, draining, verifying".into());
                w.step = Step::Done;
                fx.push(Effect::Migration(Box::new(MigrationCmd::Cutover(p))));
            }
        }
        (Step::ConfirmRollback, KeyCode::Char('y')) => {
            if let Some(p) = w.plan.clone() {
                w.busy = Some("rolling back: lifting the fence, removing the copy".into());
                w.step = Step::Done;
                fx.push(Effect::Migration(Box::new(MigrationCmd::Rollback(p))));
            }
        }
        (Step::ConfirmCutover | Step::ConfirmRollback, KeyCode::Char('n') | KeyCode::Esc) => {
            w.step = back_step(w)
        }
        (Step::Copy | Step::CatchUp, KeyCode::Esc) => {
            w.error = Some(
                "the copy has started: p pauses, r rolls back, c cuts over (after the copy)".into(),
            );
        }
        (Step::Done, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) if w.busy.is_none() => {
            return (fx, !w.running);
        }
        _ => {}
    }
    (fx, false)
}

fn field(w: &mut Wizard) -> &mut String {
    if w.step == Step::Source {
        &mut w.paths
    } else {
        &mut w.prefix
    }
}

/// Where Esc returns to from a screen reached after the copy started.
fn back_step(w: &Wizard) -> Step {
    if w.cutover.is_some() || w.rollback.is_some() {
        Step::Done
    } else if matches!(w.phase, Some(Phase::Planned | Phase::Copying))
        || w.copy.as_ref().is_some_and(|_| w.lag.is_none())
    {
        Step::Copy
    } else {
        Step::CatchUp
    }
}

/// Applies an engine message.
pub fn on_msg(w: &mut Wizard, msg: MigrationMsg) {
    match msg {
        MigrationMsg::Progress(p) => on_progress(w, p),
        MigrationMsg::Preflight(r) => {
            if w.step == Step::Preflight {
                w.busy = None;
                w.preflight = Some(r);
            }
        }
        MigrationMsg::RunEnded(r) => {
            w.running = false;
            w.paused = false;
            match r {
                Ok(o) => w.log.push(format!("run ended: {o:?}")),
                Err(e) => {
                    w.log.push(format!("run failed: {e}"));
                    w.error = Some(e);
                }
            }
        }
        MigrationMsg::Verified(r) => {
            w.busy = None;
            w.verify = Some(r);
        }
        MigrationMsg::CutOver(r) => {
            w.busy = None;
            match r {
                Ok(Some(c)) => {
                    w.log
                        .push(format!("cut over: clients should use {}", c.connect));
                    w.cutover = Some(c);
                }
                Ok(None) => w.error = Some("cutover stopped before the switch".into()),
                Err(e) => {
                    w.error = Some(e);
                    w.step = Step::CatchUp;
                }
            }
        }
        MigrationMsg::RolledBack(r) => {
            w.busy = None;
            match r {
                Ok(r) => w.rollback = Some(r),
                Err(e) => w.error = Some(e),
            }
        }
    }
}

fn on_progress(w: &mut Wizard, p: Progress) {
    match p {
        Progress::Phase { phase } => {
            w.phase = Some(phase);
            if phase == Phase::CatchingUp && w.step == Step::Copy {
                w.step = Step::CatchUp;
            }
            w.log.push(format!("phase: {phase}"));
        }
        Progress::Step { text } | Progress::Note { text } => w.log.push(text),
        Progress::Warning { text } => w.log.push(format!("warning: {text}")),
        Progress::Copy(c) => w.copy = Some(c),
        Progress::Lag(l) => w.lag = Some(l),
        Progress::Verify { .. } => {}
        Progress::Paused => {
            w.paused = true;
            w.log.push("paused".into());
        }
        Progress::Resumed => {
            w.paused = false;
            w.log.push("resumed".into());
        }
    }
}
