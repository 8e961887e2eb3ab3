//! The `watch` workload: notification latency. Every watching session holds a persistent watch
//! (addWatch) on one node; a writer session sets the node, and for each write the time from
//! its acknowledgement to the NodeDataChanged event at each watcher is recorded. The writer
//! waits for every watcher's event (or [`EVENT_TIMEOUT`]) before the next write, so each
//! sample is one notification, not a queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::progress::Progress;
use super::report::{OpKind, Recorder};
use super::worker::{Gate, Pace};
use crate::client::{Client, Error};
use crate::client::{ClientEvent, Event, EventType};

/// How long a write waits for its events; missing ones count as `WATCH_TIMEOUT` errors.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Arrivals buffered between the watcher tasks and the writer, per watcher.
const ARRIVALS_PER_WATCHER: usize = 4;

/// What the watch workload measured.
pub(super) struct WatchResult {
    /// Notification latency (one sample per event).
    pub notify: Recorder,
    /// The writes: their latency and errors; `ops` counts writes.
    pub writes: Recorder,
    pub events_before_ack: u64,
}

/// Forwards the arrival time of every data-change event on `path` from one watcher's event
/// channel. Ends when the watcher's session is dropped or the writer stops listening.
pub(super) fn forward_arrivals(
    mut events: mpsc::Receiver<ClientEvent>,
    path: String,
    arrivals: mpsc::Sender<Instant>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let now = Instant::now();
            let Event::Node(n) = ev.event else { continue };
            if n.event_type == EventType::NodeDataChanged
                && n.path == path
                && arrivals.send(now).await.is_err()
            {
                return;
            }
        }
    })
}

/// A channel for [`forward_arrivals`] sized for `watchers`.
pub(super) fn arrivals_channel(
    watchers: usize,
) -> (mpsc::Sender<Instant>, mpsc::Receiver<Instant>) {
    mpsc::channel((watchers * ARRIVALS_PER_WATCHER).max(16))
}

/// Writes `path` until the gate closes; `watchers` events are expected per write.
pub(super) async fn drive_writer(
    gate: Arc<Gate>,
    writer: Client,
    path: String,
    value: Vec<u8>,
    watchers: usize,
    mut arrivals: mpsc::Receiver<Instant>,
    mut pace: Option<Pace>,
) -> WatchResult {
    let mut r = WatchResult {
        notify: Recorder::new(),
        writes: Recorder::new(),
        events_before_ack: 0,
    };
    let progress: &Progress = &gate.progress;
    while gate.ticket().is_some() {
        // Arrivals left over from a write whose events timed out belong to no write now.
        while arrivals.try_recv().is_ok() {}
        let start = match pace.as_mut() {
            Some(p) => p.wait().await,
            None => Instant::now(),
        };
        if let Err(e) = writer.set_data(&path, Some(value.clone()), -1).await {
            r.writes.error(e.code());
            progress.add_error();
            progress.add_done(1);
            if matches!(e, Error::SessionExpired | Error::Closed) {
                break;
            }
            continue;
        }
        let ack = Instant::now();
        r.writes.record(OpKind::Write, ack - start);
        let got = collect(&mut arrivals, watchers, ack, &mut r).await;
        if got < watchers {
            r.writes
                .error_named("WATCH_TIMEOUT", (watchers - got) as u64);
            progress.add_error();
        }
        progress.add_done(1);
    }
    r
}

/// Takes up to `watchers` arrivals for the write acknowledged at `ack`.
async fn collect(
    arrivals: &mut mpsc::Receiver<Instant>,
    watchers: usize,
    ack: Instant,
    r: &mut WatchResult,
) -> usize {
    let deadline = tokio::time::Instant::from(ack + EVENT_TIMEOUT);
    let mut got = 0;
    while got < watchers {
        match tokio::time::timeout_at(deadline, arrivals.recv()).await {
            Ok(Some(at)) => {
                if at < ack {
                    r.events_before_ack += 1;
                }
                r.notify
                    .record(OpKind::Other, at.saturating_duration_since(ack));
                got += 1;
            }
            _ => break,
        }
    }
    got
}
