//! The closed-loop workers of the measured phase, for the workloads and paced runs that
//! [`super::flow`] does not run. Each worker owns a share of one session's pipeline: it issues
//! an operation, waits for the reply, records the latency, and repeats, until the [`Gate`] says
//! the run is over (operation count reached, deadline passed, or a stop was requested).
//! `--inflight K` runs K workers on each session.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use zk_proto::proto::SetDataRequest;
use zk_proto::{Acl, CreateMode, ErrorCode, MultiOp};

use super::options::{Limit, Workload};
use super::progress::Progress;
use super::report::{OpKind, Recorder};
use crate::client::{Client, ClientOptions, Error};

/// Decides, for every worker, whether another operation may start.
pub(super) struct Gate {
    limit: Limit,
    /// Operations started so far (tickets handed out).
    issued: AtomicU64,
    /// End of the measured phase for [`Limit::Duration`], fixed when the phase starts.
    deadline: Option<Instant>,
    /// Set by a stop request; workers finish their current operation and return.
    pub stop: Arc<AtomicBool>,
    pub progress: Arc<Progress>,
}

impl Gate {
    pub fn new(limit: Limit, stop: Arc<AtomicBool>, progress: Arc<Progress>) -> Gate {
        let deadline = match limit {
            Limit::Duration(d) => Some(Instant::now() + d),
            Limit::Ops(_) => None,
        };
        Gate {
            limit,
            issued: AtomicU64::new(0),
            deadline,
            stop,
            progress,
        }
    }

    /// The sequence number of the next operation, or `None` when the run is over.
    pub fn ticket(&self) -> Option<u64> {
        self.ticket_at(Instant::now())
    }

    /// True once no more tickets will be handed out (stop asked, deadline passed, or every
    /// operation of `--ops` issued); takes none.
    pub fn is_over(&self, now: Instant) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.deadline.is_some_and(|d| now >= d)
            || matches!(self.limit, Limit::Ops(n) if self.issued.load(Ordering::Relaxed) >= n)
    }

    /// [`Gate::ticket`] for an operation starting at `now`.
    pub fn ticket_at(&self, now: Instant) -> Option<u64> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return None;
        }
        let seq = self.issued.fetch_add(1, Ordering::Relaxed);
        match self.limit {
            Limit::Ops(n) if seq >= n => None,
            _ => Some(seq),
        }
    }
}

/// Spacing of one worker's operations under `--rate`: worker `w` of `n` starts at
/// `w / rate` and then every `n / rate` seconds.
pub(super) struct Pace {
    next: Instant,
    interval: Duration,
}

impl Pace {
    pub fn new(rate: f64, worker: usize, workers: usize, start: Instant) -> Pace {
        Pace {
            next: start + Duration::from_secs_f64(worker as f64 / rate),
            interval: Duration::from_secs_f64(workers as f64 / rate),
        }
    }

    /// Waits for the next scheduled start and returns it: latency counts from the schedule, so
    /// time spent behind schedule (a slow server) is part of it.
    pub async fn wait(&mut self) -> Instant {
        let at = self.next;
        self.next += self.interval;
        tokio::time::sleep_until(at.into()).await;
        at
    }
}

/// Session-wide failures after which a worker's session can do nothing more.
fn is_terminal(e: &Error) -> bool {
    matches!(e, Error::SessionExpired | Error::Closed)
}

/// What one worker does per operation.
pub(super) struct Maker {
    pub workload: Workload,
    /// The session to work on (`None` for `sessions`, which opens its own).
    pub client: Option<Client>,
    /// For `sessions`: the connect string of the one server this worker connects to.
    pub host: String,
    /// Parent of the nodes `create` and `ephemerals` make (`{prefix}/c{session}`).
    pub parent: Arc<str>,
    /// Paths of the pre-created keys.
    pub keys: Arc<Vec<String>>,
    pub value: Vec<u8>,
    pub rng: StdRng,
    pub session_timeout_ms: i32,
}

impl Maker {
    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("this workload runs on a session")
    }

    fn key(&mut self) -> &str {
        let i = self.rng.gen_range(0..self.keys.len());
        &self.keys[i]
    }

    /// Runs operation number `seq`.
    pub async fn op(&mut self, seq: u64) -> Result<OpKind, Error> {
        match self.workload {
            Workload::Create => self.create(seq, CreateMode::Persistent).await,
            Workload::Ephemerals => self.create(seq, CreateMode::Ephemeral).await,
            Workload::Set => self.set().await,
            Workload::Get => self.get().await,
            Workload::Mixed { read_ratio } => {
                if self.rng.gen_bool(read_ratio) {
                    self.get().await
                } else {
                    self.set().await
                }
            }
            Workload::Multi { ops } => self.multi(ops).await,
            Workload::Sessions => self.session().await,
            Workload::Watch => unreachable!("watch has its own driver"),
        }
    }

    async fn create(&mut self, seq: u64, mode: CreateMode) -> Result<OpKind, Error> {
        let path = format!("{}/{seq}", self.parent);
        let data = Some(self.value.clone());
        let acl = Acl::open_unsafe();
        self.client()
            .create(&path, data, acl, mode, None)
            .await
            .map(|_| OpKind::Write)
    }

    async fn set(&mut self) -> Result<OpKind, Error> {
        let data = Some(self.value.clone());
        let key = self.key().to_string();
        self.client()
            .set_data(&key, data, -1)
            .await
            .map(|_| OpKind::Write)
    }

    async fn get(&mut self) -> Result<OpKind, Error> {
        let key = self.key().to_string();
        self.client()
            .get_data(&key, false)
            .await
            .map(|_| OpKind::Read)
    }

    async fn multi(&mut self, ops: usize) -> Result<OpKind, Error> {
        let picked = rand::seq::index::sample(&mut self.rng, self.keys.len(), ops);
        let ops = picked
            .iter()
            .map(|i| {
                MultiOp::SetData(SetDataRequest {
                    path: self.keys[i].clone(),
                    data: Some(self.value.clone()),
                    version: -1,
                })
            })
            .collect();
        self.client().multi(ops).await.map(|_| OpKind::Write)
    }

    async fn session(&mut self) -> Result<OpKind, Error> {
        let opts = ClientOptions {
            session_timeout_ms: self.session_timeout_ms,
            ..Default::default()
        };
        let c = Client::connect(&self.host, opts).await?;
        c.close().await;
        Ok(OpKind::Other)
    }
}

/// One worker: operations until the gate closes. Returns what it measured.
/// How long an operation may stay unanswered after the run is over before it is given up.
const ABANDON_AFTER: Duration = Duration::from_secs(5);

pub(super) async fn drive(gate: Arc<Gate>, mut maker: Maker, mut pace: Option<Pace>) -> Recorder {
    let mut rec = Recorder::new();
    while let Some(seq) = gate.ticket() {
        let start = match pace.as_mut() {
            Some(p) => p.wait().await,
            None => Instant::now(),
        };
        let result = {
            // An operation waits for its reply (through reconnects). Once the run is over, one
            // still pending after ABANDON_AFTER is given up: a run against a cluster that
            // went down ends on time instead of waiting for it to come back.
            let mut op = std::pin::pin!(maker.op(seq));
            loop {
                match tokio::time::timeout(Duration::from_secs(1), &mut op).await {
                    Ok(r) => break Some(r),
                    Err(_) if gate.is_over(Instant::now()) && start.elapsed() > ABANDON_AFTER => {
                        break None
                    }
                    Err(_) => {}
                }
            }
        };
        let Some(result) = result else {
            rec.error(ErrorCode::CONNECTION_LOSS);
            gate.progress.add_error();
            gate.progress.add_done(1);
            break;
        };
        match result {
            Ok(kind) => rec.record(kind, start.elapsed()),
            Err(e) => {
                rec.error(e.code());
                gate.progress.add_error();
                if is_terminal(&e) {
                    gate.progress.add_done(1);
                    break;
                }
            }
        }
        gate.progress.add_done(1);
    }
    rec
}

/// True when the error means "this node is already gone", which cleanup treats as success.
pub(super) fn is_gone(e: &Error) -> bool {
    e.is(ErrorCode::NO_NODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_hands_out_exactly_the_requested_ops() {
        let gate = Gate::new(
            Limit::Ops(3),
            Arc::new(AtomicBool::new(false)),
            Arc::new(Progress::default()),
        );
        let got: Vec<_> = std::iter::from_fn(|| gate.ticket()).collect();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(gate.ticket(), None);
    }

    #[test]
    fn gate_closes_on_stop() {
        let stop = Arc::new(AtomicBool::new(false));
        let gate = Gate::new(
            Limit::Duration(Duration::from_secs(60)),
            stop.clone(),
            Arc::new(Progress::default()),
        );
        assert_eq!(gate.ticket(), Some(0));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(gate.ticket(), None);
    }

    #[test]
    fn pace_spreads_workers_over_the_interval() {
        let t0 = Instant::now();
        let p = Pace::new(100.0, 1, 4, t0);
        assert_eq!(p.next - t0, Duration::from_millis(10));
        assert_eq!(p.interval, Duration::from_millis(40));
    }
}
