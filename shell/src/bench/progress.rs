//! Live counters of a run, for a progress line. The engine only bumps atomics; whoever shows
//! progress polls [`Progress::snapshot`] at its own pace.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What the run is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    /// Creating the nodes the workload needs (`done` counts them).
    Setup,
    /// The measured phase (`done` counts operations).
    Measure,
    /// Closing sessions and deleting the prefix (`done` counts deleted nodes).
    Cleanup,
    Done,
}

const PHASES: [Phase; 5] = [
    Phase::Connecting,
    Phase::Setup,
    Phase::Measure,
    Phase::Cleanup,
    Phase::Done,
];

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Setup => "setup",
            Phase::Measure => "running",
            Phase::Cleanup => "cleanup",
            Phase::Done => "done",
        }
    }
}

/// Counters shared by the engine (writer) and a progress display (reader).
#[derive(Debug)]
pub struct Progress {
    phase: AtomicU8,
    /// Work items finished in the current phase.
    done: AtomicU64,
    /// Failed operations in the current phase.
    errors: AtomicU64,
    /// When the current phase started.
    since: Mutex<Instant>,
}

/// One reading of [`Progress`].
#[derive(Debug, Clone, Copy)]
pub struct ProgressSnapshot {
    pub phase: Phase,
    pub done: u64,
    pub errors: u64,
    pub elapsed_s: f64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            phase: AtomicU8::new(0),
            done: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            since: Mutex::new(Instant::now()),
        }
    }
}

impl Progress {
    pub(super) fn enter(&self, phase: Phase) {
        let i = PHASES.iter().position(|p| *p == phase).unwrap_or(0);
        self.done.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        *self.since.lock().expect("progress lock") = Instant::now();
        self.phase.store(i as u8, Ordering::Relaxed);
    }

    pub(super) fn add_done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        let phase = PHASES[(self.phase.load(Ordering::Relaxed) as usize).min(PHASES.len() - 1)];
        ProgressSnapshot {
            phase,
            done: self.done.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            elapsed_s: self
                .since
                .lock()
                .expect("progress lock")
                .elapsed()
                .as_secs_f64(),
        }
    }
}

impl ProgressSnapshot {
    /// `running  12.0 s  48213 ops  4102 ops/s  0 errors`, with the rate over the time since
    /// `prev` when given (the recent rate), else over the whole phase.
    pub fn line(&self, workload: &str, prev: Option<&ProgressSnapshot>) -> String {
        let rate = match prev.filter(|p| p.phase == self.phase && self.elapsed_s > p.elapsed_s) {
            Some(p) => (self.done - p.done.min(self.done)) as f64 / (self.elapsed_s - p.elapsed_s),
            None if self.elapsed_s > 0.0 => self.done as f64 / self.elapsed_s,
            None => 0.0,
        };
        let what = match self.phase {
            Phase::Setup => "nodes created",
            Phase::Cleanup => "nodes deleted",
            _ => "ops",
        };
        format!(
            "{workload} {:<10} {:>7.1} s  {:>9} {what}  {:>8.0}/s  {} errors",
            self.phase.name(),
            self.elapsed_s,
            self.done,
            rate,
            self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_reset_the_counters() {
        let p = Progress::default();
        p.enter(Phase::Setup);
        p.add_done(5);
        p.add_error();
        let s = p.snapshot();
        assert_eq!((s.phase, s.done, s.errors), (Phase::Setup, 5, 1));
        p.enter(Phase::Measure);
        let s = p.snapshot();
        assert_eq!((s.phase, s.done, s.errors), (Phase::Measure, 0, 0));
        let line = s.line("get", None);
        assert!(line.starts_with("get running"), "{line}");
    }
}
