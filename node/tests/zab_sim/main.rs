//! Seeded simulation of the Zab core (`zk_node::zab`): 3 and 5 voters, some runs with an
//! observer, through crashes and restarts, partitions that heal, lost, duplicated, delayed and
//! reordered election messages, connection resets, and slow disks. Clients write to whoever
//! leads. After every step the invariants in `invariants/` are checked; at the end of each run,
//! liveness.
//!
//! A seed decides everything (ensemble, limits, fault rates, schedule), so a failure replays
//! exactly: the failing seed and the command are printed. Environment:
//! - `ZAB_SEED=n`: run only seed n (with `ZAB_TRACE=1`: print every event and output);
//! - `ZAB_SEEDS=n`: how many seeds the default test runs (default 2000);
//! - `ZAB_SEED_BASE=n`: the first seed (default 0).

mod disk;
mod invariants;
mod params;
mod rng;
mod world;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use world::{Coverage, World};

const DEFAULT_SEEDS: u64 = 2000;
/// Threads for the default run (the CI box has 2 cores).
const THREADS: u64 = 2;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

/// What one run did, for the summary.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    seeds: u64,
    steps: u64,
    acked: u64,
    epochs: u64,
    /// The longest time from the heal to a serving leader, over the seeds run.
    max_time_to_leader: u64,
    coverage: Coverage,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.seeds += o.seeds;
        self.steps += o.steps;
        self.acked += o.acked;
        self.epochs += o.epochs;
        self.max_time_to_leader = self.max_time_to_leader.max(o.max_time_to_leader);
        self.coverage += o.coverage;
    }
}

/// Runs one seed; on failure prints how to replay it and re-raises.
fn run_seed(seed: u64, trace: bool) -> Stats {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut w = World::new(seed, trace);
        w.run();
        Stats {
            seeds: 1,
            steps: w.steps,
            acked: w.checker.acked.count as u64,
            epochs: w.checker.leaders.epochs() as u64,
            max_time_to_leader: w.checker.liveness.time_to_leader(),
            coverage: w.coverage,
        }
    }));
    match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "zab_sim: seed {seed} failed. Replay: ZAB_SEED={seed} cargo test -p zk-node --test zab_sim -- --nocapture  (add ZAB_TRACE=1 for every event)"
            );
            std::panic::resume_unwind(e)
        }
    }
}

fn run_range(first: u64, count: u64) -> Stats {
    let threads = THREADS.min(count.max(1));
    // Set by the first failure, so the other threads stop instead of finishing their share.
    let failed = AtomicBool::new(false);
    let totals: Vec<Stats> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let failed = &failed;
                scope.spawn(move || {
                    let mut total = Stats::default();
                    let mut seed = first + t;
                    while seed < first + count && !failed.load(Ordering::Relaxed) {
                        match catch_unwind(|| run_seed(seed, false)) {
                            Ok(s) => total += s,
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                std::panic::resume_unwind(e)
                            }
                        }
                        seed += threads;
                    }
                    total
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut all = Stats::default();
    for t in totals {
        all += t;
    }
    all
}

/// Goal: safety and liveness of the core under every fault the seed space reaches.
/// Method: `ZAB_SEEDS` (default 2000) seeds, or just `ZAB_SEED`.
#[test]
fn seeds() {
    if let Some(seed) = env_u64("ZAB_SEED") {
        let trace = std::env::var("ZAB_TRACE").is_ok_and(|v| v != "0");
        let s = run_seed(seed, trace);
        println!("zab_sim: seed {seed} passed: {s:?}");
        return;
    }
    let count = env_u64("ZAB_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("ZAB_SEED_BASE").unwrap_or(0);
    let s = run_range(first, count);
    println!(
        "zab_sim: {} seeds from {first} passed: {} steps, {} acknowledged writes, {} epochs established, at most {} time units from heal to a serving leader (bound {}), {:?}",
        s.seeds, s.steps, s.acked, s.epochs, s.max_time_to_leader, invariants::liveness::LEADER_BOUND, s.coverage
    );
}

/// A long run for nightly use: `cargo test -p zk-node --test zab_sim -- --ignored`.
#[test]
#[ignore]
fn long_run() {
    let first = env_u64("ZAB_SEED_BASE").unwrap_or(1_000_000);
    let count = env_u64("ZAB_SEEDS").unwrap_or(50_000);
    let s = run_range(first, count);
    println!(
        "zab_sim: long run of {} seeds from {first} passed: {s:?}",
        s.seeds
    );
}
