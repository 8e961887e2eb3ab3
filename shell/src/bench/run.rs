//! One run from start to end: connect, claim the prefix, open the sessions, create what the
//! workload needs, measure, close the sessions, delete the prefix. Cleanup runs whatever
//! happened before it (a failed setup, a stop request), so a run leaves nothing behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::watch;
use zk_proto::{Acl, CreateMode, ErrorCode};

use super::cleanup::delete_tree;
use super::flow::{self, Flow};
use super::options::{Options, Workload, SETUP_INFLIGHT};
use super::progress::{Phase, Progress};
use super::report::{LatencySummary, Recorder, Report};
use super::watch::{arrivals_channel, drive_writer, forward_arrivals};
use super::worker::{drive, Gate, Maker, Pace};
use super::BenchError;
use crate::client::{event_channel, Client, ClientOptions, ConnectString};

/// The run's fixed facts, shared by its phases.
struct Ctx<'a> {
    opts: &'a Options,
    /// One connect string per server (`host:port/chroot`); session `i` uses `hosts[i % n]`.
    hosts: Vec<String>,
    progress: Arc<Progress>,
    /// Set once a stop was requested.
    stop: Arc<AtomicBool>,
}

impl Ctx<'_> {
    fn host(&self, i: usize) -> &str {
        &self.hosts[i % self.hosts.len()]
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            session_timeout_ms: self.opts.session_timeout_ms,
            ..Default::default()
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn value(&self) -> Vec<u8> {
        // Printable, so a person looking at a node with `get` sees what it is.
        b"zksh-bench-"
            .iter()
            .copied()
            .cycle()
            .take(self.opts.value_size)
            .collect()
    }

    fn keys(&self) -> Vec<String> {
        let p = &self.opts.prefix;
        (0..self.opts.keys).map(|i| format!("{p}/k/{i}")).collect()
    }
}

/// The sessions of the measured phase.
struct Sessions {
    clients: Vec<Client>,
    /// `watch`: one arrival forwarder per watcher, and the receiving end.
    forwarders: Vec<tokio::task::JoinHandle<()>>,
    arrivals: Option<tokio::sync::mpsc::Receiver<Instant>>,
}

/// Runs a benchmark. `stop` turning true (Ctrl-C) ends the measured phase early; cleanup still
/// runs. Single failed operations are counted in the report; an error here means the run could
/// not start or the prefix could not be set up.
pub async fn run(
    opts: &Options,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) -> Result<Report, BenchError> {
    opts.validate()?;
    let hosts = hosts_of(&opts.connect)?;
    let stop_flag = Arc::new(AtomicBool::new(*stop.borrow()));
    let forward = {
        let flag = stop_flag.clone();
        tokio::spawn(async move {
            if stop.wait_for(|s| *s).await.is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
        })
    };
    let ctx = Ctx {
        opts,
        hosts,
        progress,
        stop: stop_flag,
    };
    let result = run_in(&ctx).await;
    forward.abort();
    result
}

/// One connect string per server of `connect`, each with the chroot.
fn hosts_of(connect: &str) -> Result<Vec<String>, BenchError> {
    let cs = ConnectString::parse(connect).map_err(BenchError::zk("connect string"))?;
    let chroot = cs.chroot.clone().unwrap_or_default();
    Ok(cs.hosts.iter().map(|h| format!("{h}{chroot}")).collect())
}

async fn run_in(ctx: &Ctx<'_>) -> Result<Report, BenchError> {
    let opts = ctx.opts;
    ctx.progress.enter(Phase::Connecting);
    let control = Client::connect(&opts.connect, ctx.client_options())
        .await
        .map_err(BenchError::zk(format!(
            "cannot connect to {}",
            opts.connect
        )))?;
    let owned_root = claim_prefix(&control, &opts.prefix).await;
    let owned_root = match owned_root {
        Ok(root) => root,
        Err(e) => {
            control.close().await;
            return Err(e);
        }
    };
    let mut report = Report::new(opts, ctx.hosts.len());
    let mut sessions = Sessions {
        clients: Vec::new(),
        forwarders: Vec::new(),
        arrivals: None,
    };
    let outcome = setup_and_measure(ctx, &control, &mut sessions, &mut report).await;
    report.interrupted = ctx.stopped();
    ctx.progress.enter(Phase::Cleanup);
    let t_close = Instant::now();
    join_all(sessions.clients.iter().map(Client::close)).await;
    if opts.workload == Workload::Ephemerals && !sessions.clients.is_empty() {
        report.close_s = Some(t_close.elapsed().as_secs_f64());
    }
    for f in sessions.forwarders {
        f.abort();
    }
    if !opts.keep {
        let cleaner = cleanup_client(ctx, control.clone()).await;
        report.cleanup = Some(match &cleaner {
            Ok(c) => delete_tree(c, &owned_root, &ctx.progress).await,
            Err(e) => super::CleanupReport {
                deleted: 0,
                seconds: 0.0,
                error: Some(format!(
                    "cannot connect to clean up {owned_root}: {e}; delete it when the cluster is back (zksh -s {} -c 'deleteall {owned_root}')",
                    ctx.opts.connect
                )),
            },
        });
        if let Ok(c) = cleaner {
            c.close().await;
        }
    }
    control.close().await;
    ctx.progress.enter(Phase::Done);
    outcome.map(|()| report)
}

/// Creates the prefix (and any missing ancestors) and returns the topmost node this run
/// created, which is what cleanup deletes. Fails if the prefix exists: cleanup would delete
/// someone else's nodes.
async fn claim_prefix(control: &Client, prefix: &str) -> Result<String, BenchError> {
    let exists = control
        .exists(prefix, false)
        .await
        .map_err(BenchError::zk(format!("cannot check {prefix}")))?;
    if exists.is_some() {
        return Err(BenchError::PrefixExists(prefix.to_string()));
    }
    let mut owned: Option<String> = None;
    let mut path = String::new();
    for part in prefix.split('/').skip(1) {
        path.push('/');
        path.push_str(part);
        let r = control
            .create(
                &path,
                None,
                Acl::open_unsafe(),
                CreateMode::Persistent,
                None,
            )
            .await;
        match r {
            Ok(_) => {
                owned.get_or_insert_with(|| path.clone());
            }
            Err(e) if e.is(ErrorCode::NODE_EXISTS) && path != prefix => {}
            Err(e) if e.is(ErrorCode::NODE_EXISTS) => {
                return Err(BenchError::PrefixExists(prefix.to_string()))
            }
            Err(e) => return Err(BenchError::zk(format!("cannot create {path}"))(e)),
        }
    }
    Ok(owned.expect("the prefix itself was created"))
}

/// The session that deletes the prefix: the control session if it still lives, else a new one.
/// Waits at most a session timeout for the cluster: a run against a cluster that went down
/// ends, and its report says that the prefix was left behind.
async fn cleanup_client(ctx: &Ctx<'_>, control: Client) -> Result<Client, String> {
    let wait = Duration::from_millis(ctx.opts.session_timeout_ms.max(1000) as u64);
    let down = || {
        format!(
            "no server answered within {:.1} s (the cluster is down?)",
            wait.as_secs_f64()
        )
    };
    match tokio::time::timeout(wait, control.wait_connected()).await {
        Ok(Ok(())) => Ok(control),
        Ok(Err(_)) => {
            match tokio::time::timeout(
                wait,
                Client::connect(&ctx.opts.connect, ctx.client_options()),
            )
            .await
            {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(down()),
            }
        }
        Err(_) => Err(down()),
    }
}

async fn setup_and_measure(
    ctx: &Ctx<'_>,
    control: &Client,
    sessions: &mut Sessions,
    report: &mut Report,
) -> Result<(), BenchError> {
    open_sessions(ctx, sessions).await?;
    if ctx.stopped() {
        return Ok(());
    }
    ctx.progress.enter(Phase::Setup);
    create_nodes(ctx, control, sessions).await?;
    if ctx.stopped() {
        return Ok(());
    }
    ctx.progress.enter(Phase::Measure);
    match ctx.opts.workload {
        Workload::Watch => measure_watch(ctx, control, sessions, report).await,
        _ => measure(ctx, sessions, report).await,
    }
    Ok(())
}

/// Opens `clients` sessions, session `i` on server `i mod n` (none for `sessions`, which
/// opens its own). Watchers also get an event channel and a persistent watch.
async fn open_sessions(ctx: &Ctx<'_>, sessions: &mut Sessions) -> Result<(), BenchError> {
    let opts = ctx.opts;
    if opts.workload == Workload::Sessions {
        return Ok(());
    }
    let watch = opts.workload == Workload::Watch;
    let (arrivals_tx, arrivals_rx) = arrivals_channel(opts.clients);
    let watched = format!("{}/w", opts.prefix);
    let opened = join_all((0..opts.clients).map(|i| {
        let (tx, rx) = event_channel();
        let copts = ClientOptions {
            events: watch.then_some(tx),
            ..ctx.client_options()
        };
        let host = ctx.host(i).to_string();
        async move {
            let r = Client::connect(&host, copts).await;
            (host, r, rx)
        }
    }))
    .await;
    for (host, r, rx) in opened {
        let client = r.map_err(BenchError::zk(format!("cannot open a session on {host}")))?;
        if watch {
            let path = watched.clone();
            let fwd = forward_arrivals(rx, path, arrivals_tx.clone());
            sessions.forwarders.push(fwd);
        }
        sessions.clients.push(client);
        ctx.progress.add_done(1);
    }
    if watch {
        sessions.arrivals = Some(arrivals_rx);
    }
    Ok(())
}

/// Creates the nodes the workload works on, pipelined over every session.
async fn create_nodes(
    ctx: &Ctx<'_>,
    control: &Client,
    sessions: &Sessions,
) -> Result<(), BenchError> {
    let opts = ctx.opts;
    let p = &opts.prefix;
    let value = ctx.value();
    let (parents, leaves): (Vec<String>, Vec<String>) = match opts.workload {
        Workload::Create | Workload::Ephemerals => (
            (0..opts.clients).map(|i| format!("{p}/c{i}")).collect(),
            vec![],
        ),
        Workload::Watch => (vec![format!("{p}/w")], vec![]),
        Workload::Sessions => (vec![], vec![]),
        _ => (vec![format!("{p}/k")], ctx.keys()),
    };
    for path in &parents {
        control
            .create(
                path,
                Some(value.clone()),
                Acl::open_unsafe(),
                CreateMode::Persistent,
                None,
            )
            .await
            .map_err(BenchError::zk(format!("cannot create {path}")))?;
        ctx.progress.add_done(1);
    }
    let clients: &[Client] = if sessions.clients.is_empty() {
        std::slice::from_ref(control)
    } else {
        &sessions.clients
    };
    let mut created = stream::iter(leaves.iter().enumerate())
        .map(|(i, path)| {
            let c = &clients[i % clients.len()];
            let data = Some(value.clone());
            async move {
                c.create(path, data, Acl::open_unsafe(), CreateMode::Persistent, None)
                    .await
                    .map_err(BenchError::zk(format!("cannot create {path}")))
            }
        })
        .buffer_unordered(SETUP_INFLIGHT);
    while let Some(r) = created.next().await {
        r?;
        ctx.progress.add_done(1);
        if ctx.stopped() {
            break;
        }
    }
    if opts.workload == Workload::Watch {
        let watched = format!("{p}/w");
        let adds = join_all(
            sessions
                .clients
                .iter()
                .map(|c| c.add_watch(&watched, false)),
        )
        .await;
        for r in adds {
            r.map_err(BenchError::zk(format!("cannot watch {watched}")))?;
        }
    }
    Ok(())
}

/// The measured phase of every workload but `watch`: `clients × inflight` closed-loop workers.
async fn measure(ctx: &Ctx<'_>, sessions: &Sessions, report: &mut Report) {
    let opts = ctx.opts;
    let gate = Arc::new(Gate::new(
        opts.limit,
        ctx.stop.clone(),
        ctx.progress.clone(),
    ));
    let keys = Arc::new(if opts.workload.uses_keys() {
        ctx.keys()
    } else {
        Vec::new()
    });
    if flow::runs(opts.workload, opts.rate) {
        return measure_flows(ctx, sessions, gate, keys, report).await;
    }
    let workers = opts.workers();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    // Workers of one session are adjacent: session = w / inflight (sessions: one per worker).
    let per_session = workers / opts.clients;
    for w in 0..workers {
        let session = w / per_session;
        let maker = Maker {
            workload: opts.workload,
            client: sessions.clients.get(session).cloned(),
            host: ctx.host(session).to_string(),
            parent: format!("{}/c{session}", opts.prefix).into(),
            keys: keys.clone(),
            value: ctx.value(),
            rng: StdRng::from_entropy(),
            session_timeout_ms: opts.session_timeout_ms,
        };
        let pace = opts.rate.map(|r| Pace::new(r, w, workers, start));
        tasks.push(tokio::spawn(drive(gate.clone(), maker, pace)));
    }
    let mut total = Recorder::new();
    for t in tasks {
        if let Ok(rec) = t.await {
            total.merge(rec);
        }
    }
    report.measured(&total, start.elapsed());
}

/// [`measure`] with one [`Flow`] per session, pipelined by the session itself.
async fn measure_flows(
    ctx: &Ctx<'_>,
    sessions: &Sessions,
    gate: Arc<Gate>,
    keys: Arc<Vec<String>>,
    report: &mut Report,
) {
    let opts = ctx.opts;
    let start = Instant::now();
    let flows = sessions
        .clients
        .iter()
        .enumerate()
        .map(|(session, client)| {
            let flow = Flow::new(
                gate.clone(),
                opts.workload,
                format!("{}/c{session}", opts.prefix).into(),
                keys.clone(),
                ctx.value(),
                StdRng::from_entropy(),
            );
            client.run_pipeline(opts.inflight, flow)
        });
    let mut total = Recorder::new();
    for flow in join_all(flows).await {
        total.merge(flow.finish());
    }
    report.measured(&total, start.elapsed());
}

/// The measured phase of `watch`: one writer (the control session), every session watching.
async fn measure_watch(
    ctx: &Ctx<'_>,
    control: &Client,
    sessions: &mut Sessions,
    report: &mut Report,
) {
    let opts = ctx.opts;
    let gate = Arc::new(Gate::new(
        opts.limit,
        ctx.stop.clone(),
        ctx.progress.clone(),
    ));
    let arrivals = sessions
        .arrivals
        .take()
        .expect("watch sessions have arrivals");
    let start = Instant::now();
    let pace = opts.rate.map(|r| Pace::new(r, 0, 1, start));
    let path = format!("{}/w", opts.prefix);
    let r = drive_writer(
        gate,
        control.clone(),
        path,
        ctx.value(),
        sessions.clients.len(),
        arrivals,
        pace,
    )
    .await;
    report.measured(&r.writes, start.elapsed());
    report.latency_ms = LatencySummary::of(&r.notify.all);
    report.write_latency_ms = LatencySummary::of(&r.writes.all);
    report.events = Some(r.notify.ops);
    report.events_before_ack = Some(r.events_before_ack);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_over_every_server_with_the_chroot() {
        let hosts = hosts_of("a:1,b:2,c:3/app").unwrap();
        assert_eq!(hosts, ["a:1/app", "b:2/app", "c:3/app"]);
        let opts = Options::new("a:1,b:2", Workload::Get);
        let ctx = Ctx {
            opts: &opts,
            hosts: hosts_of(&opts.connect).unwrap(),
            progress: Arc::new(Progress::default()),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let picked: Vec<&str> = (0..4).map(|i| ctx.host(i)).collect();
        assert_eq!(picked, ["a:1", "b:2", "a:1", "b:2"]);
    }
}
