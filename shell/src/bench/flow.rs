//! The measured phase of `get`, `set`, `mixed`, `create` and `ephemerals` without `--rate`:
//! one [`Flow`] per session, run as a client [`Pipeline`] inside the session task. It keeps
//! `--inflight` requests in flight as the closed-loop workers of [`super::worker`] do (each
//! reply frees a slot that the next operation takes at once), but without a task, a channel
//! and a oneshot per operation, and it encodes paths and values straight into the connection's
//! buffer. The load generator then costs far less CPU per operation than the server it
//! measures, which matters when both share a machine.
//!
//! Measured the same way: an operation's latency runs from its request being issued (encoded
//! for the socket) to its reply being read, into the same histograms; the gate hands out the
//! same tickets; errors are counted by code, and a session that ends costs each of its slots
//! one error, as it costs each worker one.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::Rng;
use zk_proto::{Acl, CreateMode};

use super::options::Workload;
use super::report::{OpKind, Recorder};
use super::worker::Gate;
use crate::client::{Error, Pipeline, PipelineOp};

/// Operations counted locally before they are added to the shared progress counter (shown
/// twice a second; one atomic add per operation on a line every session writes would cost
/// more than it tells).
const PROGRESS_BATCH: u64 = 64;

/// True for the workloads a [`Flow`] runs (paced runs keep their workers: each worker's
/// schedule is its own).
pub(super) fn runs(workload: Workload, rate: Option<f64>) -> bool {
    rate.is_none()
        && matches!(
            workload,
            Workload::Get
                | Workload::Set
                | Workload::Mixed { .. }
                | Workload::Create
                | Workload::Ephemerals
        )
}

/// One session's share of the measured phase.
pub(super) struct Flow {
    gate: Arc<Gate>,
    workload: Workload,
    /// Parent of the nodes `create` and `ephemerals` make (`{prefix}/c{session}`).
    parent: Arc<str>,
    keys: Arc<Vec<String>>,
    value: Vec<u8>,
    acl: Vec<Acl>,
    rng: StdRng,
    /// The path of the node being created, rebuilt in place for each operation.
    path: String,
    /// Start and kind of each operation in flight, oldest first (replies come in order).
    in_flight: VecDeque<(Instant, OpKind)>,
    rec: Recorder,
    /// Operations finished and not yet added to the progress counter.
    unreported: u64,
}

impl Flow {
    pub fn new(
        gate: Arc<Gate>,
        workload: Workload,
        parent: Arc<str>,
        keys: Arc<Vec<String>>,
        value: Vec<u8>,
        rng: StdRng,
    ) -> Flow {
        Flow {
            gate,
            workload,
            parent,
            keys,
            value,
            acl: Acl::open_unsafe(),
            rng,
            path: String::new(),
            in_flight: VecDeque::new(),
            rec: Recorder::new(),
            unreported: 0,
        }
    }

    /// What this session measured; the progress counter is brought up to date.
    pub fn finish(mut self) -> Recorder {
        self.report_progress();
        self.rec
    }

    fn report_progress(&mut self) {
        self.gate
            .progress
            .add_done(std::mem::take(&mut self.unreported));
    }
}

impl Pipeline for Flow {
    fn next(&mut self, now: Instant) -> Option<PipelineOp<'_>> {
        let seq = self.gate.ticket_at(now)?;
        let create = match self.workload {
            Workload::Create => Some(CreateMode::Persistent),
            Workload::Ephemerals => Some(CreateMode::Ephemeral),
            _ => None,
        };
        let read = match self.workload {
            Workload::Get => true,
            Workload::Mixed { read_ratio } => self.rng.gen_bool(read_ratio),
            Workload::Set | Workload::Create | Workload::Ephemerals => false,
            w => unreachable!("{} does not run as a flow", w.name()),
        };
        let kind = if read { OpKind::Read } else { OpKind::Write };
        self.in_flight.push_back((now, kind));
        let data = Some(&self.value[..]);
        if let Some(mode) = create {
            self.path.clear();
            let _ = write!(self.path, "{}/{seq}", self.parent);
            return Some(PipelineOp::Create {
                path: &self.path,
                data,
                acl: &self.acl,
                mode,
            });
        }
        let path = &self.keys[self.rng.gen_range(0..self.keys.len())];
        Some(if read {
            PipelineOp::GetData { path }
        } else {
            PipelineOp::SetData {
                path,
                data,
                version: -1,
            }
        })
    }

    fn over(&self, now: Instant) -> bool {
        self.in_flight.is_empty() && self.gate.is_over(now)
    }

    fn reply(&mut self, result: Result<(), Error>, now: Instant) {
        let (start, kind) = self
            .in_flight
            .pop_front()
            .expect("a reply answers an operation in flight");
        match result {
            Ok(()) => self.rec.record(kind, now.saturating_duration_since(start)),
            Err(e) => {
                self.rec.error(e.code());
                self.gate.progress.add_error();
            }
        }
        self.unreported += 1;
        if self.unreported >= PROGRESS_BATCH {
            self.report_progress();
        }
    }
}
