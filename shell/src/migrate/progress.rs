//! What the engine tells its front ends while it works, and how they steer it.
//!
//! The engine calls a [`Sink`] with [`Progress`] events; `zksh migrate` draws them as bars or
//! lines, zk-top's wizard turns them into messages for its `update`. Front ends pause, resume
//! and stop a run through a [`Control`]; the engine looks at it between batches, after the
//! checkpoint is written, so stopping never loses work.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

use super::checkpoint::Phase;

/// Copy progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CopyProgress {
    pub nodes: u64,
    /// Estimated total (getAllChildrenNumber at the start); 0 when unknown.
    pub nodes_total: u64,
    pub bytes: u64,
    pub nodes_per_s: f64,
    pub bytes_per_s: f64,
    /// Seconds left at the current rate, when the total is known.
    pub eta_s: Option<u64>,
    pub elapsed_ms: u64,
}

/// Catch-up lag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lag {
    /// Changed source paths not yet applied.
    pub pending: u64,
    /// Parents whose sequential counter is still to be carried.
    pub counters_pending: u64,
    /// The source's latest zxid seen.
    pub source_zxid: i64,
    /// Every source change up to this zxid is on the destination.
    pub applied_zxid: i64,
    /// Age of the oldest pending change, in milliseconds.
    pub oldest_ms: u64,
    pub applied: u64,
    pub events: u64,
    /// Events the client dropped (a sweep recovers them).
    pub events_dropped: u64,
    pub sweeps: u64,
    /// True when nothing is pending and a sweep has completed since the copy.
    pub synced: bool,
}

impl Lag {
    /// Source transactions not yet known to be applied.
    pub fn zxid_lag(&self) -> i64 {
        (self.source_zxid - self.applied_zxid).max(0)
    }
}

/// One event from the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Progress {
    /// The migration entered a phase.
    Phase {
        phase: Phase,
    },
    /// A step within a phase started (`connecting`, `walking the source`, ...).
    Step {
        text: String,
    },
    Copy(CopyProgress),
    Lag(Lag),
    /// Verification read this many nodes so far.
    Verify {
        source: u64,
        destination: u64,
    },
    /// Something worth a line in a log.
    Note {
        text: String,
    },
    Warning {
        text: String,
    },
    Paused,
    Resumed,
}

/// Where events go. Called from the engine's task; must not block.
pub type Sink = Arc<dyn Fn(Progress) + Send + Sync>;

/// A sink that drops everything.
pub fn null_sink() -> Sink {
    Arc::new(|_| {})
}

/// What a front end wants the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunControl {
    Run,
    /// Hold between batches (the checkpoint is written first).
    Pause,
    /// Write the checkpoint and return.
    Stop,
}

/// The engine's end of the control channel.
pub type Control = watch::Receiver<RunControl>;

/// A control channel for a front end: keep the sender, give the receiver to the engine.
pub fn control() -> (watch::Sender<RunControl>, Control) {
    watch::channel(RunControl::Run)
}

/// Waits while paused; true when the engine should stop.
pub async fn checkpoint_gate(control: &mut Control, sink: &Sink) -> bool {
    let state = *control.borrow_and_update();
    match state {
        RunControl::Run => false,
        RunControl::Stop => true,
        RunControl::Pause => {
            sink(Progress::Paused);
            loop {
                if control.changed().await.is_err() {
                    return true;
                }
                match *control.borrow_and_update() {
                    RunControl::Pause => continue,
                    RunControl::Run => {
                        sink(Progress::Resumed);
                        return false;
                    }
                    RunControl::Stop => return true,
                }
            }
        }
    }
}
