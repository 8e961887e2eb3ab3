//! The run loop: starts the pollers and the input reader, feeds every event to
//! [`app::update`], carries out the effects, and draws. Messages are drained in batches and
//! the screen is drawn once per batch, at most [`FRAME_MIN`] apart, so a burst of 60 poll
//! results costs one frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use crossterm::event::{self, Event};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::app::{self, Clock, Effect, Msg, State};
use crate::config::{ClusterSpec, Thresholds};
use crate::poll::{self, PollConfig, Target};
use crate::{embedded, migration, shell, term, ui};

/// Shortest time between two frames (20 frames per second at most).
pub const FRAME_MIN: Duration = Duration::from_millis(50);
/// Redraw at least this often, for the clock and the "ago" times.
const FRAME_MAX: Duration = Duration::from_secs(1);
/// Messages waiting for the loop. Pollers wait when it is full, which slows polling rather
/// than growing memory when drawing cannot keep up.
pub const MSG_QUEUE_LEN: usize = 4096;
/// Messages applied per frame at most, so input stays responsive under a flood.
const DRAIN_MAX: usize = 1024;
/// How often the input thread checks whether the loop has ended.
const INPUT_POLL: Duration = Duration::from_millis(100);

/// What the command line decided.
#[derive(Debug, Clone)]
pub struct Options {
    pub clusters: Vec<ClusterSpec>,
    pub poll: PollConfig,
}

/// One poll target per server of every cluster.
pub fn targets(specs: &[ClusterSpec]) -> Vec<Target> {
    specs
        .iter()
        .enumerate()
        .flat_map(|(c, spec)| {
            spec.servers
                .iter()
                .enumerate()
                .map(move |(s, addr)| Target {
                    cluster: c,
                    server: s,
                    addr: addr.clone(),
                    admin_url: spec
                        .admin_url
                        .as_deref()
                        .map(|url| poll::admin_url_for(url, addr, s, spec.servers.len())),
                })
        })
        .collect()
}

/// Runs zk-top until the operator quits.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let mut clusters = options.clusters;
    let mut notice = None;
    let mut ensemble = None;
    if clusters.is_empty() {
        match embedded::start().await {
            Ok(e) => {
                clusters.push(ClusterSpec {
                    name: "local".to_string(),
                    servers: e.client_addrs(),
                    admin_url: None,
                    thresholds: Thresholds::default(),
                    cluster: None,
                });
                notice = Some("watching the embedded local ensemble".to_string());
                ensemble = Some(e);
            }
            Err(e) => {
                tracing::warn!("embedded ensemble: {e:#}");
                notice = Some(format!("No local ensemble either: {e:#}."));
            }
        }
    }
    let result = run_loop(&clusters, options.poll, notice).await;
    if let Some(e) = ensemble {
        e.shutdown().await;
    }
    result
}

async fn run_loop(
    specs: &[ClusterSpec],
    config: PollConfig,
    notice: Option<String>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(MSG_QUEUE_LEN);
    let (refresh_tx, refresh_rx) = watch::channel(0u64);
    let pollers = poll::spawn_all(targets(specs), config, tx.clone(), refresh_rx);
    let mut state = State::new(specs, config.interval.as_millis() as u64);
    state.notice = notice;

    let mut guard = term::init().context("cannot set up the terminal")?;
    let size = guard
        .terminal
        .size()
        .context("cannot read the terminal size")?;
    state.size = (size.width, size.height);
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(tx.clone(), stop.clone());

    let started = Instant::now();
    let clock = || Clock {
        mono_ms: started.elapsed().as_millis() as u64,
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let mut last_draw = Instant::now() - FRAME_MIN;
    let mut dirty = true;
    let mut batch = Vec::with_capacity(DRAIN_MAX);
    // The shell task starts with the first command typed in the pane.
    let mut shell_tx: Option<mpsc::Sender<shell::Line>> = None;
    let mut shell_task = None;
    let mut migrations = migration::Runner::new(migration::default_dir(), tx.clone());
    let result = loop {
        if dirty && last_draw.elapsed() >= FRAME_MIN {
            app::update(&mut state, Msg::Tick(clock()));
            if let Err(e) = guard.terminal.draw(|f| ui::draw(f, &state)) {
                break Err(e).context("cannot draw");
            }
            last_draw = Instant::now();
            dirty = false;
        }
        let deadline = last_draw + if dirty { FRAME_MIN } else { FRAME_MAX };
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => batch.push(msg),
                None => break Ok(()),
            },
            _ = tokio::time::sleep_until(deadline) => {}
        }
        while batch.len() < DRAIN_MAX {
            match rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        dirty = true;
        app::update(&mut state, Msg::Tick(clock()));
        let mut effects = Vec::new();
        for msg in batch.drain(..) {
            effects.extend(app::update(&mut state, msg));
        }
        if effects.contains(&Effect::Quit) {
            break Ok(());
        }
        for effect in effects {
            match effect {
                Effect::Quit => {}
                Effect::RefreshNow => refresh_tx.send_modify(|n| *n += 1),
                Effect::Migration(cmd) => migrations.handle(*cmd),
                Effect::ShellCommand { cluster, line } => {
                    let shell_tx = shell_tx.get_or_insert_with(|| {
                        let (shell_tx, handle) = shell::spawn(specs.to_vec(), tx.clone());
                        shell_task = Some(handle);
                        shell_tx
                    });
                    if shell_tx.try_send(shell::Line { cluster, line }).is_err() {
                        app::update(
                            &mut state,
                            Msg::ShellOutput(vec![
                                "the shell is busy; wait for the last command".to_string()
                            ]),
                        );
                    }
                }
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    // A running migration stops at its next checkpoint; `zksh migrate run` or the wizard
    // continues it later.
    migrations.shutdown();
    for poller in pollers {
        poller.abort();
    }
    drop(shell_tx);
    // The shell thread closes its sessions and ends once its sender is gone; it is not
    // joined, so a shell stuck on a dead cluster never holds up quitting.
    drop(shell_task);
    drop(guard);
    let _ = input.join();
    result
}

/// Reads terminal events on a thread of its own (crossterm's reader blocks) and forwards
/// them to the loop.
fn spawn_input(tx: mpsc::Sender<Msg>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(INPUT_POLL) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => {
                    tracing::error!("terminal input: {e}");
                    return;
                }
            }
            let msg = match event::read() {
                Ok(Event::Key(key)) => Msg::Key(key),
                Ok(Event::Mouse(mouse)) => Msg::Mouse(mouse),
                Ok(Event::Resize(width, height)) => Msg::Resize { width, height },
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!("terminal input: {e}");
                    return;
                }
            };
            if tx.blocking_send(msg).is_err() {
                return;
            }
        }
    })
}
