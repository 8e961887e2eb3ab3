//! Crash safety (issue 3, acceptance 2): an acknowledged write survives `kill -9`, and nothing
//! is ever half applied.
//!
//! Method: several sessions (the zookeeper-client crate, one tokio task each) write without
//! pause, each under its own node `/w<i>`: a create of `/w<i>/c-<n>`, a setData of `/w<i>` to
//! `n`, and a multi that creates `/w<i>/m/<n>` and sets `/w<i>/m` to `n` (both or neither). At a
//! seeded random moment the server is killed with SIGKILL, each writer's last operation is left
//! unanswered (in flight at the kill: it may or may not have reached the disk), the server is
//! restarted, and a fresh client checks every writer's nodes against what was acknowledged:
//! - every acknowledged create is there, and the only other child allowed is the one in flight;
//! - each value is the last acknowledged one or the one in flight (never an older one, never
//!   one that was not written);
//! - `/w<i>/m` holds the highest multi child present, so no multi was half applied.
//!
//! What recovery kept of the writes in flight becomes the new expectation, and the next round
//! starts. A small `snap_count` makes the server snapshot and roll its log during the run, so
//! kills also land during snapshots and recovery starts from snapshot + log. Rerun a failure
//! with `ZK_CRASH_SEED=<seed printed at the start>`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use zkfleet_tests::target::{Server, ServerOptions};
use zkfleet_tests::zknode::ZkNode;
use zookeeper_client as zk;

/// Kills (and restarts) per run; the issue asks for at least 20.
const KILLS: usize = 24;
const WRITERS: usize = 4;
/// Kill between these many ms after the writers start.
const KILL_AFTER_MS: (u64, u64) = (10, 300);
/// An operation that takes longer is treated as in flight at the kill.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// splitmix64: a seeded, dependency-free random source.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What one writer knows about its nodes: the state the server must show after a restart.
#[derive(Debug, Clone, Default)]
struct Expect {
    /// Children `c-<n>` acknowledged (or found after an earlier restart).
    creates: BTreeSet<u64>,
    /// The value of `/w<i>` last acknowledged (0: the initial value).
    value: u64,
    /// Children of `/w<i>/m` acknowledged; `/w<i>/m` holds the highest.
    multis: BTreeSet<u64>,
}

/// The operation a writer had sent and not seen answered when the server died.
#[derive(Debug, Clone, Copy)]
enum InFlight {
    Create(u64),
    SetData(u64),
    Multi(u64),
}

/// One writer's state across rounds.
#[derive(Debug, Default)]
struct Writer {
    id: usize,
    /// The next `n` to write (never reused, so each name and value is written once).
    next: u64,
    expect: Expect,
    in_flight: Option<InFlight>,
    acked_total: u64,
    /// Writes in flight at a kill that recovery kept, and that it did not.
    in_flight_applied: u64,
    in_flight_dropped: u64,
}

fn base(id: usize) -> String {
    format!("/w{id}")
}

fn opts() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect(addr: &str) -> Result<zk::Client> {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(6))
        .connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))
}

/// Writes until an operation fails (the server was killed) or `stop` is set.
async fn write_until_killed(mut w: Writer, c: zk::Client, stop: Arc<AtomicBool>) -> Writer {
    let b = base(w.id);
    while !stop.load(Ordering::SeqCst) {
        let n = w.next;
        w.next += 1;
        let op = match n % 3 {
            0 => InFlight::Create(n),
            1 => InFlight::SetData(n),
            _ => InFlight::Multi(n),
        };
        let value = n.to_string();
        let done = tokio::time::timeout(OP_TIMEOUT, async {
            match op {
                InFlight::Create(n) => c
                    .create(&format!("{b}/c-{n}"), value.as_bytes(), &opts())
                    .await
                    .map(drop),
                InFlight::SetData(_) => c.set_data(&b, value.as_bytes(), None).await.map(drop),
                InFlight::Multi(n) => {
                    let mut m = c.new_multi_writer();
                    m.add_create(&format!("{b}/m/{n}"), value.as_bytes(), &opts())?;
                    m.add_set_data(&format!("{b}/m"), value.as_bytes(), None)?;
                    m.commit().await.map(drop).map_err(zk::Error::from)
                }
            }
        })
        .await;
        match done {
            Ok(Ok(())) => {
                w.acked_total += 1;
                match op {
                    InFlight::Create(n) => {
                        w.expect.creates.insert(n);
                    }
                    InFlight::SetData(n) => w.expect.value = n,
                    InFlight::Multi(n) => {
                        w.expect.multis.insert(n);
                    }
                }
            }
            Ok(Err(e)) if server_answered(&e) => {
                panic!("{b}: {op:?} failed with {e}: the server answered a write wrongly")
            }
            _ => {
                w.in_flight = Some(op);
                break;
            }
        }
    }
    w
}

/// Errors that are the server's answer (as opposed to "no answer": a lost connection, an I/O
/// error, a timeout). None of them may happen to these writes.
fn server_answered(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::NoNode
            | zk::Error::NodeExists
            | zk::Error::BadVersion
            | zk::Error::NotEmpty
            | zk::Error::NoAuth
            | zk::Error::InvalidAcl
            | zk::Error::MarshallingError
            | zk::Error::UnexpectedErrorCode(_)
    )
}

/// Reads a writer's nodes and checks them against what it was told; on success the server's
/// state (in-flight writes resolved one way or the other) becomes the new expectation.
async fn check(c: &zk::Client, w: &mut Writer) -> Result<()> {
    let b = base(w.id);
    let (data, _) = c.get_data(&b).await.with_context(|| format!("get {b}"))?;
    let value: u64 = String::from_utf8(data)?.parse()?;
    let mut creates = BTreeSet::new();
    for name in c.list_children(&b).await? {
        if let Some(n) = name.strip_prefix("c-") {
            creates.insert(n.parse::<u64>()?);
        }
    }
    let (mdata, _) = c.get_data(&format!("{b}/m")).await?;
    let mvalue: u64 = String::from_utf8(mdata)?.parse()?;
    let mut multis = BTreeSet::new();
    for name in c.list_children(&format!("{b}/m")).await? {
        multis.insert(name.parse::<u64>()?);
    }
    let e = &w.expect;
    let in_flight = w.in_flight;
    let lost: Vec<_> = e.creates.difference(&creates).collect();
    ensure!(lost.is_empty(), "{b}: acknowledged creates lost: {lost:?}");
    for n in creates.difference(&e.creates) {
        ensure!(
            matches!(in_flight, Some(InFlight::Create(f)) if f == *n),
            "{b}: c-{n} is there but was never sent (in flight: {in_flight:?})"
        );
    }
    let value_ok =
        value == e.value || matches!(in_flight, Some(InFlight::SetData(f)) if f == value);
    ensure!(
        value_ok,
        "{b} = {value}; acknowledged {}, in flight {in_flight:?}",
        e.value
    );
    let lost: Vec<_> = e.multis.difference(&multis).collect();
    ensure!(lost.is_empty(), "{b}/m: acknowledged multis lost: {lost:?}");
    for n in multis.difference(&e.multis) {
        ensure!(
            matches!(in_flight, Some(InFlight::Multi(f)) if f == *n),
            "{b}/m/{n} is there but was never sent (in flight: {in_flight:?})"
        );
    }
    let newest = multis.last().copied().unwrap_or(0);
    ensure!(
        mvalue == newest,
        "{b}/m = {mvalue} but its newest child is {newest}: a multi was half applied"
    );
    let applied = match in_flight {
        Some(InFlight::Create(n)) => Some(creates.contains(&n)),
        Some(InFlight::SetData(n)) => Some(value == n),
        Some(InFlight::Multi(n)) => Some(multis.contains(&n)),
        None => None,
    };
    match applied {
        Some(true) => w.in_flight_applied += 1,
        Some(false) => w.in_flight_dropped += 1,
        None => {}
    }
    w.expect = Expect {
        creates,
        value,
        multis,
    };
    w.in_flight = None;
    Ok(())
}

async fn setup(addr: &str, writers: &[Writer]) -> Result<()> {
    let c = connect(addr).await?;
    for w in writers {
        let b = base(w.id);
        c.create(&b, b"0", &opts()).await?;
        c.create(&format!("{b}/m"), b"0", &opts()).await?;
    }
    Ok(())
}

/// One round: writers go, the server is killed at a random moment and restarted; returns the
/// writers with their in-flight operations.
async fn round(
    node: &mut ZkNode,
    writers: Vec<Writer>,
    kill_after: Duration,
) -> Result<Vec<Writer>> {
    let addr = node.connect_string();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in writers {
        let c = connect(&addr).await?;
        tasks.push(tokio::spawn(write_until_killed(w, c, stop.clone())));
    }
    tokio::time::sleep(kill_after).await;
    tokio::task::block_in_place(|| node.kill());
    stop.store(true, Ordering::SeqCst);
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    tokio::task::block_in_place(|| node.restart())?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_repeated_sigkill() -> Result<()> {
    let seed = match std::env::var("ZK_CRASH_SEED") {
        Ok(s) => s.parse().context("ZK_CRASH_SEED must be a number")?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    };
    eprintln!("t41 crash safety: seed {seed} (rerun with ZK_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let options = ServerOptions {
        // Snapshots (and log rolls) every 25..50 transactions, so kills hit them too.
        extra_toml: vec!["snap_count = 50".into()],
        ..Default::default()
    };
    let mut node = ZkNode::start(&options)?;
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|id| Writer {
            id,
            next: 1,
            ..Default::default()
        })
        .collect();
    setup(&node.connect_string(), &writers).await?;
    let t0 = Instant::now();
    for kill in 1..=KILLS {
        let after = Duration::from_millis(rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1));
        writers = round(&mut node, writers, after)
            .await
            .with_context(|| format!("round {kill} (seed {seed})"))?;
        let c = connect(&node.connect_string()).await?;
        for w in &mut writers {
            if let Err(e) = check(&c, w).await {
                bail!("after kill {kill} at {after:?} (seed {seed}): {e:#}");
            }
        }
    }
    let acked: u64 = writers.iter().map(|w| w.acked_total).sum();
    let kept: u64 = writers.iter().map(|w| w.in_flight_applied).sum();
    let dropped: u64 = writers.iter().map(|w| w.in_flight_dropped).sum();
    eprintln!(
        "t41: {KILLS} kills, {acked} acknowledged writes checked, writes in flight at a kill: \
         {kept} kept, {dropped} not; {:?}",
        t0.elapsed()
    );
    ensure!(
        acked >= KILLS as u64 * 2,
        "too few writes were acknowledged ({acked}) for the test to mean anything; log {}",
        node.log_path().display()
    );
    Ok(())
}
