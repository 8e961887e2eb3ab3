//! Storage measurements for the issue notes (issue 3, acceptance 5). Ignored by default; run in
//! release mode:
//!
//! ```text
//! cargo test --release -p zk-node --test storage_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `group_commit`: N sessions (1, 8, 32, 128) each doing one create at a time against an
//!   in-process server with `force_sync` on; reports transactions per fsync (from `LogStats`,
//!   the numbers behind mntr's `zk_fsynctime*` and `zk_sync_processor_batch_size*`),
//!   throughput, latency, and this disk's raw fsync latency. `ZK_BENCH_SECS` sets the time per
//!   step (default 5).
//! - `recovery_1m`: builds data directories with 1,000,000 znodes of 100 bytes through the
//!   storage API (one as a snapshot, one as a log of 1,000,000 creates) and times
//!   `recovery::recover` and `zk-node run` from spawn to the first answered read.
//!   The same directories are then started by Apache ZooKeeper 3.8 when it is installed
//!   (`ZK_BENCH_APACHE=0` skips it). `ZK_BENCH_DIR=D` builds (or reuses) the directories in D.
//!   CPU times (from /proc) are printed next to wall times, as the machine may be shared.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_node::storage::disk::FsDisk;
use zk_node::storage::txnlog::FileTxnLog;
use zk_node::storage::{recovery, snapshot, TxnLog};
use zk_node::tree::DataTree;
use zk_node::{Config, Server};
use zk_proto::data::Acl;
use zk_proto::txn::{CreateSessionTxn, CreateTxn, Txn, TxnHeader};
use zookeeper_client as zk;

fn bench_secs() -> u64 {
    std::env::var("ZK_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Raw fdatasync latency of the disk under `dir`: 100-byte appends, each followed by a sync.
fn fsync_probe(dir: &Path) -> Vec<Duration> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut out = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        f.write_all(&[7u8; 100]).unwrap();
        f.sync_data().unwrap();
        out.push(t.elapsed());
    }
    std::fs::remove_file(&path).unwrap();
    out.sort();
    out
}

/// One step of the group-commit benchmark: `clients` sessions, each creating nodes one at a
/// time for `secs` seconds. Returns (ops, latencies).
async fn drive(addr: SocketAddr, clients: usize, secs: u64, step: usize) -> (u64, Vec<Duration>) {
    let mut conns = Vec::new();
    for _ in 0..clients {
        let c = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(30))
            .connect(&addr.to_string())
            .await
            .unwrap();
        conns.push(c);
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (i, c) in conns.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            let value = [b'v'; 100];
            let mut lat = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                c.create(&format!("/g/s{step}-c{i}-{n}"), &value, &opts)
                    .await
                    .unwrap();
                lat.push(t.elapsed());
                n += 1;
            }
            (n, lat)
        }));
    }
    let mut ops = 0;
    let mut lat = Vec::new();
    for t in tasks {
        let (n, l) = t.await.unwrap();
        ops += n;
        lat.extend(l);
    }
    lat.sort();
    (ops, lat)
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn group_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = fsync_probe(tmp.path());
    let avg: Duration = probe.iter().sum::<Duration>() / probe.len() as u32;
    println!(
        "disk fdatasync (100-byte append + sync, {} samples): avg {:?}, p50 {:?}, p99 {:?}",
        probe.len(),
        avg,
        percentile(&probe, 0.5),
        percentile(&probe, 0.99)
    );
    // The server on its own runtime, so the clients' work is not counted as the server's.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = Config::for_dev(0, tmp.path().to_path_buf());
    cfg.max_client_cnxns = 0;
    cfg.force_sync = true;
    let server = server_rt.block_on(Server::start(cfg)).unwrap();
    let addr = server.client_addr;
    let stats = server.log_stats.clone();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let c = zk::Client::connect(&addr.to_string()).await.unwrap();
        let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        c.create("/g", b"", &opts).await.unwrap();
    });
    let secs = bench_secs();
    println!(
        "{:>7} {:>10} {:>8} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "clients", "writes/s", "fsyncs", "txns/fsync", "fsync avg", "lat p50", "lat p99", "lat max"
    );
    for (step, clients) in [1usize, 8, 32, 128].into_iter().enumerate() {
        let before = (
            stats.fsyncs.load(Ordering::Relaxed),
            stats.txns.load(Ordering::Relaxed),
            stats.fsync_micros_total.load(Ordering::Relaxed),
        );
        let t0 = Instant::now();
        let (ops, lat) = client_rt.block_on(drive(addr, clients, secs, step));
        let elapsed = t0.elapsed();
        let fsyncs = stats.fsyncs.load(Ordering::Relaxed) - before.0;
        let txns = stats.txns.load(Ordering::Relaxed) - before.1;
        let micros = stats.fsync_micros_total.load(Ordering::Relaxed) - before.2;
        println!(
            "{:>7} {:>10.0} {:>8} {:>10.2} {:>12?} {:>10?} {:>10?} {:>10?}",
            clients,
            ops as f64 / elapsed.as_secs_f64(),
            fsyncs,
            txns as f64 / fsyncs.max(1) as f64,
            Duration::from_micros(micros / fsyncs.max(1)),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or_default(),
        );
        // Sessions close between steps (their closeSession txns are counted in the next).
    }
    server_rt.block_on(server.stop());
}

const PARENTS: usize = 1000;
const CHILDREN: usize = 1000;
const SESSION: i64 = 0x0100_0000_0000_0001;

/// The txns that build the 1M-node tree: a session, 1000 parents, 1000 children each, 100-byte
/// values. Generated on the fly (never all in memory).
fn build_txns() -> impl Iterator<Item = (TxnHeader, Txn)> {
    let session = std::iter::once((
        TxnHeader {
            client_id: SESSION,
            cxid: 0,
            zxid: 1,
            time: 1_700_000_000_000,
            txn_type: -10,
        },
        Txn::CreateSession(CreateSessionTxn { timeout_ms: 30_000 }),
    ));
    let creates = (0..PARENTS).flat_map(|p| {
        std::iter::once(format!("/b{p}"))
            .chain((0..CHILDREN).map(move |c| format!("/b{p}/n{c}")))
            .enumerate()
            .map(move |(i, path)| (p, i, path))
    });
    let creates = creates.enumerate().map(|(k, (_, i, path))| {
        let zxid = k as i64 + 2;
        let hdr = TxnHeader {
            client_id: SESSION,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000 + zxid,
            txn_type: 1,
        };
        let txn = Txn::Create(CreateTxn {
            path,
            data: Some(vec![b'a' + (zxid % 26) as u8; 100]),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            // The parent's cversion after this create: its children so far.
            parent_cversion: if i == 0 { -1 } else { i as i32 },
        });
        (hdr, txn)
    });
    session.chain(creates)
}

/// Writes `<dir>/snap/version-2/snapshot.<zxid>` and `<dir>/log/version-2/log.1` (each a data
/// directory of its own). Returns the last zxid.
fn build_dirs(dir: &Path) -> i64 {
    let snap_v2 = dir.join("snap/version-2");
    let log_v2 = dir.join("log/version-2");
    std::fs::create_dir_all(&snap_v2).unwrap();
    std::fs::create_dir_all(&log_v2).unwrap();
    let t0 = Instant::now();
    let mut tree = DataTree::new();
    let mut log = FileTxnLog::new(Arc::new(FsDisk), log_v2.clone(), true);
    let mut sessions = BTreeMap::new();
    let mut last = 0;
    for (hdr, txn) in build_txns() {
        if let Txn::CreateSession(c) = &txn {
            sessions.insert(hdr.client_id, c.timeout_ms);
        }
        tree.apply(&hdr, &txn, &mut Vec::new());
        log.append(&hdr, &txn).unwrap();
        last = hdr.zxid;
    }
    log.sync().unwrap();
    let built = t0.elapsed();
    // Like a server's first start, the log directory begins with the snapshot of the empty
    // tree (Apache refuses a log without any snapshot).
    snapshot::write(
        &FsDisk,
        &log_v2,
        &snapshot::capture(&DataTree::new(), BTreeMap::new()),
    )
    .unwrap();
    let t1 = Instant::now();
    let data = snapshot::capture(&tree, sessions);
    let path = snapshot::write(&FsDisk, &snap_v2, &data).unwrap();
    for v2 in [&snap_v2, &log_v2] {
        std::fs::write(v2.join("acceptedEpoch"), "0").unwrap();
        std::fs::write(v2.join("currentEpoch"), "0").unwrap();
    }
    println!(
        "built {} znodes (last zxid {last:#x}) in {built:?}; log {} MB; snapshot {} MB written in {:?}",
        tree.node_count(),
        file_mb(&log_v2.join("log.1")),
        file_mb(&path),
        t1.elapsed()
    );
    last
}

fn file_mb(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len() / 1_000_000
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// CPU time (user + system, every thread) a process has used so far, from /proc: on a shared
/// machine this says more than the wall clock.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks are 1/100 s on Linux.
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

/// Spawns `cmd` (logging to `log`) and returns wall and CPU time until a client's read of
/// `last_path` on `port` is answered.
fn time_start(
    mut cmd: std::process::Command,
    log: &Path,
    port: u16,
    last_path: &str,
) -> (Duration, Duration) {
    let log = std::fs::File::create(log).unwrap();
    let t0 = Instant::now();
    let mut child = cmd
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let elapsed = first_read(port, last_path, t0);
    let cpu = cpu_time(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    (elapsed, cpu)
}

fn time_zk_node_start(data_dir: &Path, last_path: &str) -> (Duration, Duration) {
    let port = free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zk-node"));
    cmd.args(["run", "--data-dir"])
        .arg(data_dir)
        .args(["--client-port", &port.to_string()]);
    time_start(cmd, &data_dir.join("zk-node-bench.log"), port, last_path)
}

const APACHE_JARS: [&str; 3] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// Apache ZooKeeper 3.8 standalone (`ZooKeeperServerMain port dataDir`) on `data_dir`, with a
/// production-like JVM (4 GB heap, default GC and JIT). `None` when Apache is not installed
/// (an error when `CI` is set).
fn time_apache_start(data_dir: &Path, last_path: &str) -> Option<(Duration, Duration)> {
    if !Path::new(APACHE_JARS[0]).exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v.is_empty() || v == "false" || v == "0"),
            "CI is set and Apache ZooKeeper is not installed"
        );
        println!("SKIP Apache comparison: {} not found", APACHE_JARS[0]);
        return None;
    }
    let props = data_dir.join("log4j.properties");
    std::fs::write(
        &props,
        "log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.C.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.C.layout.ConversionPattern=%d{ISO8601} %-5p %c{1} - %m%n\n",
    )
    .unwrap();
    let port = free_port();
    let mut cmd = std::process::Command::new("java");
    cmd.args(["-Xmx4g", "-Djava.net.preferIPv4Stack=true"])
        .arg(format!("-Dlog4j.configuration=file:{}", props.display()))
        .arg("-Dzookeeper.admin.enableServer=false")
        .arg("-cp")
        .arg(APACHE_JARS.join(":"))
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(port.to_string())
        .arg(data_dir);
    Some(time_start(
        cmd,
        &data_dir.join("apache-bench.log"),
        port,
        last_path,
    ))
}

/// Time from `t0` until a session reads `path` on `port` (polling every 10 ms).
pub fn first_read(port: u16, path: &str, t0: Instant) -> Duration {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect(addr).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "server never listened"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        loop {
            let attempt = tokio::time::timeout(Duration::from_secs(2), async {
                let c = zk::Client::connect(&addr.to_string()).await?;
                c.get_data(path).await
            })
            .await;
            if let Ok(Ok(_)) = attempt {
                return t0.elapsed();
            }
            assert!(t0.elapsed() < Duration::from_secs(600), "never served");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

/// Wall and CPU time of `recovery::recover`, the node count and the txns replayed.
fn time_recover(data_dir: &Path) -> (Duration, Duration, usize, usize) {
    let v2 = data_dir.join("version-2");
    let cpu0 = cpu_time(std::process::id());
    let t0 = Instant::now();
    let r = recovery::recover(&FsDisk, &v2, &v2).unwrap();
    let wall = t0.elapsed();
    let cpu = cpu_time(std::process::id()) - cpu0;
    (wall, cpu, r.tree.node_count(), r.replayed)
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn recovery_1m() {
    let (_tmp, dir): (Option<tempfile::TempDir>, PathBuf) = match std::env::var("ZK_BENCH_DIR") {
        Ok(d) => (None, PathBuf::from(d)),
        Err(_) => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    if !dir.join("snap/version-2").exists() {
        build_dirs(&dir);
    }
    let last_path = format!("/b{}/n{}", PARENTS - 1, CHILDREN - 1);
    for (what, sub) in [("snapshot", "snap"), ("log replay", "log")] {
        // Work on copies: a start writes a snapshot when it replayed a log.
        let work = dir.join(format!("{sub}-run"));
        let fresh = || {
            let _ = std::fs::remove_dir_all(&work);
            copy_dir(&dir.join(sub).join("version-2"), &work.join("version-2"));
        };
        fresh();
        let mut runs = Vec::new();
        let mut counts = (0, 0);
        for _ in 0..3 {
            let (wall, cpu, n, r) = time_recover(&work);
            runs.push((wall, cpu));
            counts = (n, r);
        }
        runs.sort();
        println!(
            "{what}: recovery::recover of {} znodes ({} txns replayed): wall median {:?} (min {:?}), cpu median {:?}",
            counts.0, counts.1, runs[1].0, runs[0].0, runs[1].1
        );
        for i in 0..2 {
            fresh();
            let (wall, cpu) = time_zk_node_start(&work, &last_path);
            println!("{what}: zk-node run #{i}, spawn to first read: wall {wall:?}, cpu {cpu:?}");
        }
        if std::env::var("ZK_BENCH_APACHE").map_or(true, |v| v != "0") {
            for i in 0..2 {
                fresh();
                if let Some((wall, cpu)) = time_apache_start(&work, &last_path) {
                    println!("{what}: Apache 3.8 #{i}, spawn to first read: wall {wall:?}, cpu {cpu:?} (log {})", work.join("apache-bench.log").display());
                }
            }
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
