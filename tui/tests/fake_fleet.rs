//! 20 clusters of 3 servers, simulated by a fake four-letter-word responder that answers
//! `srvr` and `mntr` with real Apache 3.8 replies. Measures the CPU time of one poll round
//! (60 servers, srvr + mntr each) and of applying it to the state, and the time to draw the
//! overview and a cluster view. The numbers are printed, never asserted: timing depends on
//! the machine. Run with `cargo test -p zk-top --release --test fake_fleet -- --nocapture`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use common::{render, spec, srvr_text, MNTR_FOLLOWER, MNTR_LEADER};
use zk_top::app::{self, Clock, Msg, State};
use zk_top::poll::{poll_once, Caps, Outcome, Polled, Target};

const CLUSTERS: usize = 20;
const SERVERS: usize = 3;
const ROUNDS: usize = 20;
const RENDERS: u32 = 50;

/// Starts one fake server per (cluster, server) on a runtime of its own thread, so that its
/// CPU time is not counted as the poller's. Server 0 of each cluster leads.
fn start_fakes() -> Vec<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut addrs = Vec::new();
            for c in 0..CLUSTERS {
                for s in 0..SERVERS {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    addrs.push(listener.local_addr().unwrap().to_string());
                    let zxid = (3u64 << 32) | (1000 + c as u64 * 10 - s as u64);
                    let (mode, mntr) = if s == 0 {
                        ("leader", MNTR_LEADER)
                    } else {
                        ("follower", MNTR_FOLLOWER)
                    };
                    let srvr = Arc::new(srvr_text(mode, zxid, "0/1.5/20", 0));
                    tokio::spawn(serve(listener, srvr, mntr));
                }
            }
            tx.send(addrs).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

async fn serve(listener: TcpListener, srvr: Arc<String>, mntr: &'static str) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let srvr = srvr.clone();
        tokio::spawn(async move {
            let mut word = [0u8; 4];
            if stream.read_exact(&mut word).await.is_err() {
                return;
            }
            let reply: &[u8] = match &word {
                b"srvr" => srvr.as_bytes(),
                b"mntr" => mntr.as_bytes(),
                _ => b"",
            };
            let _ = stream.write_all(reply).await;
        });
    }
}

#[test]
fn twenty_clusters_of_three_poll_and_render_cost() {
    let addrs = start_fakes();
    let targets: Vec<Target> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| Target {
            cluster: i / SERVERS,
            server: i % SERVERS,
            addr: addr.clone(),
            admin_url: None,
        })
        .collect();
    let specs: Vec<_> = (0..CLUSTERS)
        .map(|c| {
            let servers: Vec<&str> = addrs[c * SERVERS..(c + 1) * SERVERS]
                .iter()
                .map(String::as_str)
                .collect();
            spec(&format!("cluster-{c:02}"), &servers)
        })
        .collect();
    let mut state = State::new(&specs, 1000);
    state.size = (200, 60);

    // The poller's work runs on this thread's current-thread runtime, so ThreadTime counts
    // exactly the polling (connect, write, read, parse) and nothing of the fakes.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut caps: Vec<Caps> = vec![Caps::default(); targets.len()];
    let mut poll_cpu = Duration::ZERO;
    let mut poll_wall = Duration::ZERO;
    let mut update_cpu = Duration::ZERO;
    for round in 0..ROUNDS {
        let cpu = ThreadTime::now();
        let wall = Instant::now();
        let results = runtime.block_on(poll_round(&targets, &mut caps));
        if round > 0 {
            // Round 0 warms up (first connections, allocations) and is not counted.
            poll_cpu += cpu.elapsed();
            poll_wall += wall.elapsed();
        }
        assert_eq!(results.len(), CLUSTERS * SERVERS);
        let cpu = ThreadTime::now();
        app::update(
            &mut state,
            Msg::Tick(Clock {
                mono_ms: round as u64 * 1000,
                unix_ms: 1_767_268_800_000 + round as u64 * 1000,
            }),
        );
        for polled in results {
            assert!(
                matches!(polled.outcome, Outcome::Up(_)),
                "{:?}",
                polled.outcome
            );
            app::update(&mut state, Msg::Polled(polled));
        }
        if round > 0 {
            update_cpu += cpu.elapsed();
        }
    }
    for c in &state.clusters {
        assert_eq!(c.up_count(), SERVERS);
        assert_eq!(c.leader, Some(0), "{}", c.name);
    }
    let counted = (ROUNDS - 1) as u32;

    let (overview_cpu, overview_wall) = measure_render(&state);
    app::update(
        &mut state,
        Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Enter,
        )),
    );
    let (cluster_cpu, cluster_wall) = measure_render(&state);

    println!(
        "zk-top fake fleet: {CLUSTERS} clusters x {SERVERS} servers, srvr+mntr ({} mntr lines each), {} build",
        MNTR_LEADER.lines().count(),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "  one poll round: {:.2} ms CPU, {:.2} ms wall (mean of {counted} rounds)",
        ms(poll_cpu / counted),
        ms(poll_wall / counted)
    );
    println!(
        "  applying one round to the state: {:.2} ms CPU",
        ms(update_cpu / counted)
    );
    println!(
        "  render overview 200x60: {:.3} ms CPU, {:.3} ms wall; cluster view: {:.3} ms CPU, {:.3} ms wall (mean of {RENDERS})",
        ms(overview_cpu),
        ms(overview_wall),
        ms(cluster_cpu),
        ms(cluster_wall)
    );
}

async fn poll_round(targets: &[Target], caps: &mut [Caps]) -> Vec<Polled> {
    let mut set = JoinSet::new();
    for (i, target) in targets.iter().enumerate() {
        let target = target.clone();
        let mut cap = std::mem::take(&mut caps[i]);
        set.spawn(async move {
            let started = Instant::now();
            let outcome =
                tokio::time::timeout(Duration::from_secs(5), poll_once(&target, &mut cap))
                    .await
                    .unwrap_or_else(|_| Outcome::Down("timeout".to_string()));
            (
                i,
                cap,
                Polled {
                    cluster: target.cluster,
                    server: target.server,
                    outcome,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                },
            )
        });
    }
    let mut out = Vec::with_capacity(targets.len());
    while let Some(joined) = set.join_next().await {
        let (i, cap, polled) = joined.unwrap();
        caps[i] = cap;
        out.push(polled);
    }
    out
}

fn measure_render(state: &State) -> (Duration, Duration) {
    render(state, 200, 60);
    let cpu = ThreadTime::now();
    let wall = Instant::now();
    for _ in 0..RENDERS {
        render(state, 200, 60);
    }
    (cpu.elapsed() / RENDERS, wall.elapsed() / RENDERS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
