//! A first throughput figure: create, getData and setData operations per second with N
//! concurrent zookeeper-client sessions, against Apache ZooKeeper 3.8 standalone and zk-node on
//! the same machine, one server at a time. Printed as a table; nothing is asserted.
//!
//! `cargo test -p zkfleet-tests --release --test t90_quick_throughput -- --ignored --nocapture`
//! (`ZKFLEET_BENCH_CLIENTS`, `ZKFLEET_BENCH_SECS` override the defaults 16 and 3).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zkfleet_tests::{ServerOptions, Target};
use zookeeper_client as zk;

const DATA: &[u8] = &[b'x'; 100];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Get,
    Set,
}

const OPS: [Op; 3] = [Op::Create, Op::Get, Op::Set];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `op` from `clients` sessions for `secs` seconds; returns completed ops per second.
async fn phase(clients: &[zk::Client], op: Op, secs: u64, tag: &str) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let (c, done, stop) = (c.clone(), done.clone(), stop.clone());
        let base = format!("/bench-{tag}/c{i}");
        tasks.push(tokio::spawn(async move {
            let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let ok = match op {
                    Op::Create => c.create(&format!("{base}/n{n}"), DATA, &opts).await.is_ok(),
                    Op::Get => c.get_data(&format!("{base}/n{}", n % 100)).await.is_ok(),
                    Op::Set => c
                        .set_data(&format!("{base}/n{}", n % 100), DATA, None)
                        .await
                        .is_ok(),
                };
                assert!(ok, "{op:?} failed");
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("bench task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Measures every op against one server; `None` when the server could not be started.
fn measure(target: Target, clients: usize, secs: u64) -> Option<Vec<f64>> {
    let server = match target.start(&ServerOptions::default()) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => {
            eprintln!("{target}: cannot start: {e:#}");
            return None;
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let connect = server.connect_string();
    Some(rt.block_on(async move {
        let mut sessions = Vec::new();
        for _ in 0..clients {
            sessions.push(zk::Client::connect(&connect).await.expect("connect"));
        }
        let tag = "run";
        let c = &sessions[0];
        let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        c.create(&format!("/bench-{tag}"), b"", &open)
            .await
            .expect("bench root");
        for i in 0..clients {
            c.create(&format!("/bench-{tag}/c{i}"), b"", &open)
                .await
                .expect("client dir");
        }
        let mut out = Vec::new();
        for op in OPS {
            out.push(phase(&sessions, op, secs, tag).await);
        }
        drop(server);
        out
    }))
}

#[test]
#[ignore = "measurement; run explicitly with --ignored --nocapture"]
fn quick_throughput() {
    let clients = env_or("ZKFLEET_BENCH_CLIENTS", 16) as usize;
    let secs = env_or("ZKFLEET_BENCH_SECS", 3);
    let apache = measure(Target::Apache, clients, secs);
    let node = measure(Target::ZkNode, clients, secs);
    println!("\nops/s with {clients} concurrent zookeeper-client sessions, {secs}s per op, 100-byte data");
    println!(
        "{:<8} {:>14} {:>14} {:>8}",
        "op", "apache 3.8", "zk-node", "ratio"
    );
    for (i, op) in OPS.iter().enumerate() {
        let a = apache.as_ref().map(|v| v[i]);
        let b = node.as_ref().map(|v| v[i]);
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        let ratio = match (a, b) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
            _ => "-".to_string(),
        };
        println!(
            "{:<8} {:>14} {:>14} {:>8}",
            format!("{op:?}").to_lowercase(),
            fmt(a),
            fmt(b),
            ratio
        );
    }
}
