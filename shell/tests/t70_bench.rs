//! `zksh bench` against Apache ZooKeeper 3.8 and zk-node. The goal is correct counting, not
//! speed: every workload runs a few hundred operations with `--ops`, and then the count must be
//! exact, nothing may have failed, cleanup must have deleted exactly what the workload created,
//! the prefix must be gone, and the JSON report must carry its fields. The binary is checked
//! for `--duration`, `--json`, Ctrl-C (cleanup still runs) and a prefix that already exists.
//!
//! Apache-backed tests skip with a message when Java or the Debian package is missing, and
//! fail when `CI` is set. zk-node is built on demand by the shared harness (zkfleet-tests).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use zk_proto::{Acl, CreateMode};
use zk_shell::bench::{self, Limit, Options, Progress, Report, Workload};
use zk_shell::client::{Client, ClientOptions};
use zkfleet_tests::{Server, ServerOptions, Target};

const OPS: u64 = 240;
const CLIENTS: usize = 3;
const KEYS: usize = 20;

fn workloads() -> Vec<Workload> {
    vec![
        Workload::Create,
        Workload::Set,
        Workload::Get,
        Workload::Mixed { read_ratio: 0.5 },
        Workload::Watch,
        Workload::Multi { ops: 5 },
        Workload::Sessions,
        Workload::Ephemerals,
    ]
}

/// Nodes a run of `w` creates (the prefix included), which cleanup must delete.
fn created(w: Workload) -> u64 {
    match w {
        Workload::Create => OPS + CLIENTS as u64 + 1,
        // The ephemerals go with their sessions; the per-session parents stay.
        Workload::Ephemerals => CLIENTS as u64 + 1,
        Workload::Watch => 2,
        Workload::Sessions => 1,
        _ => KEYS as u64 + 2,
    }
}

fn start(target: Target) -> Option<Box<dyn Server>> {
    target
        .start(&ServerOptions::default())
        .unwrap_or_else(|e| panic!("start {target}: {e:#}"))
}

async fn client(connect: &str) -> Client {
    Client::connect(connect, ClientOptions::default())
        .await
        .expect("connect")
}

async fn run(opts: &Options) -> Report {
    let (_stop_tx, stop_rx) = watch::channel(false);
    bench::run(opts, Arc::new(Progress::default()), stop_rx)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e}", opts.workload.name()))
}

/// Every workload, exact counts, clean prefix, parseable JSON.
async fn every_workload(target: Target) {
    let Some(server) = start(target) else { return };
    let connect = server.connect_string();
    let checker = client(&connect).await;
    for w in workloads() {
        let t0 = Instant::now();
        let mut o = Options::new(&connect, w);
        o.clients = CLIENTS;
        o.inflight = 4;
        o.keys = KEYS;
        o.value_size = 100;
        o.limit = Limit::Ops(OPS);
        let r = run(&o).await;
        let name = format!("{target} {}", w.name());
        assert_eq!(r.ops, OPS, "{name}: ops done = ops requested");
        assert_eq!(r.errors, 0, "{name}: errors {:?}", r.errors_by_code);
        assert!(!r.interrupted, "{name}");
        let cleanup = r.cleanup.as_ref().expect("cleanup ran");
        assert_eq!(cleanup.error, None, "{name}");
        assert_eq!(cleanup.deleted, created(w), "{name}: nodes deleted");
        let gone = checker.exists(&o.prefix, false).await.expect("exists");
        assert_eq!(gone, None, "{name}: {} is gone", o.prefix);
        let lat = r.latency_ms.as_ref().expect("latency");
        if w == Workload::Watch {
            assert_eq!(
                r.events,
                Some(OPS * CLIENTS as u64),
                "{name}: one event per watcher"
            );
            assert_eq!(lat.count, OPS * CLIENTS as u64, "{name}");
            assert_eq!(r.write_latency_ms.as_ref().map(|l| l.count), Some(OPS));
        } else {
            assert_eq!(lat.count, OPS, "{name}: a latency sample per operation");
        }
        if let Workload::Mixed { .. } = w {
            let reads = r.read_latency_ms.as_ref().map_or(0, |l| l.count);
            let writes = r.write_latency_ms.as_ref().map_or(0, |l| l.count);
            assert_eq!(reads + writes, OPS, "{name}: reads + writes");
        }
        if w == Workload::Ephemerals {
            assert!(r.close_s.is_some(), "{name}: close time");
        }
        check_json(&r, &name);
        eprintln!("{name}: {:.0} ops/s, {:?}", r.throughput, t0.elapsed());
    }
    checker.close().await;
}

fn check_json(r: &Report, name: &str) {
    let text = serde_json::to_string(r).expect("serialize");
    let v: serde_json::Value = serde_json::from_str(&text).expect("parse");
    for field in [
        "ops",
        "errors",
        "throughput",
        "duration_s",
        "errors_by_code",
        "prefix",
    ] {
        assert!(!v[field].is_null(), "{name}: JSON has {field}: {text}");
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            v["latency_ms"][p].is_number(),
            "{name}: JSON has {p}: {text}"
        );
    }
    assert_eq!(v["workload"]["name"], r.workload.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t70_every_workload_against_apache() {
    every_workload(Target::Apache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t70_every_workload_against_zk_node() {
    every_workload(Target::ZkNode).await;
}

fn zksh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zksh"))
}

/// `--duration` and `--json` through the binary: one JSON object on stdout, exit 0.
#[tokio::test]
async fn t71_binary_duration_and_json() {
    let Some(server) = start(Target::ZkNode) else {
        return;
    };
    let out = zksh()
        .args(["bench", "mixed", "-s", &server.connect_string()])
        .args([
            "--duration",
            "300ms",
            "--clients",
            "2",
            "--keys",
            "10",
            "--json",
        ])
        .output()
        .expect("run zksh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert!(v["ops"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"], 0);
    assert_eq!(v["limit"]["duration"], 0.3);
    let d = v["duration_s"].as_f64().unwrap();
    assert!((0.3..5.0).contains(&d), "measured for about 300 ms: {d}");
    assert!(v["read_latency_ms"]["p99"].is_number(), "{v}");
    assert_eq!(v["cleanup"]["deleted"], 12);
}

/// Ctrl-C stops the run, the prefix is deleted anyway, and the exit status is 130.
#[tokio::test]
async fn t72_ctrl_c_still_cleans_up() {
    let Some(server) = start(Target::ZkNode) else {
        return;
    };
    let connect = server.connect_string();
    let prefix = "/t72-interrupted";
    let mut child = zksh()
        .args(["bench", "create", "-s", &connect, "--duration", "60s"])
        .args(["--prefix", prefix, "--clients", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zksh");
    let c = client(&connect).await;
    // Interrupt once nodes are being created. Which client takes which sequence number is
    // a race, so count everything under the prefix rather than look for particular names.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = c.get_all_children_number(prefix).await.unwrap_or(0);
        if n > 4 {
            // c0, c1 and at least a few created nodes
            break;
        }
        if let Some(status) = child.try_wait().expect("poll zksh") {
            let out = child.wait_with_output().expect("output");
            panic!(
                "zksh bench exited ({status}) before creating nodes:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "bench never started creating (count under {prefix}: {n})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    assert!(stdout.contains("cleanup     deleted"), "{stdout}");
    assert_eq!(
        c.exists(prefix, false).await.unwrap(),
        None,
        "{prefix} deleted"
    );
    c.close().await;
}

/// A prefix that exists belongs to someone else: bench refuses to start and leaves it alone.
#[tokio::test]
async fn t73_existing_prefix_is_refused() {
    let Some(server) = start(Target::ZkNode) else {
        return;
    };
    let connect = server.connect_string();
    let c = client(&connect).await;
    c.create(
        "/taken",
        None,
        Acl::open_unsafe(),
        CreateMode::Persistent,
        None,
    )
    .await
    .unwrap();
    let out = zksh()
        .args([
            "bench", "get", "-s", &connect, "--prefix", "/taken", "--ops", "5",
        ])
        .output()
        .expect("run zksh");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prefix /taken already exists"), "{stderr}");
    assert!(c.exists("/taken", false).await.unwrap().is_some());
    // A deeper prefix creates its missing ancestors and removes them again.
    let mut o = Options::new(&connect, Workload::Get);
    o.prefix = "/fresh/a/b".into();
    o.limit = Limit::Ops(10);
    let r = run(&o).await;
    assert_eq!(r.ops, 10);
    assert_eq!(c.exists("/fresh", false).await.unwrap(), None);
    c.close().await;
}

/// A timed run whose server dies part way ends on time anyway, for the pipelined workloads
/// and for paced (worker) runs: the lost operations are counted as CONNECTIONLOSS, cleanup
/// gives up after the session timeout and says how to delete the prefix later, and the exit
/// status is 1.
#[tokio::test]
async fn t74_a_run_ends_when_the_server_dies() {
    for rate in [None, Some("500")] {
        let Some(server) = start(Target::ZkNode) else {
            return;
        };
        let connect = server.connect_string();
        let mut cmd = zksh();
        cmd.args(["bench", "set", "-s", &connect, "--duration", "2s"])
            .args(["--clients", "2", "--inflight", "4", "--keys", "10"])
            .args(["--timeout", "2000"]);
        if let Some(r) = rate {
            cmd.args(["--rate", r]);
        }
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run zksh");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let pid = server.pid().expect("zk-node pid").to_string();
        assert!(Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success());
        // Waited for on a thread, with a deadline: a hang must fail the test, not stall it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let out = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!("zksh bench ({rate:?}) still running 60 s after its server died")
            })
            .expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{rate:?}: {stdout}");
        assert!(stdout.contains("CONNECTIONLOSS"), "{rate:?}: {stdout}");
        assert!(stdout.contains("deleteall"), "{rate:?}: {stdout}");
        drop(server);
    }
}
