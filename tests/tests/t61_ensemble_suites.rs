//! t61_ensemble_suites: the single server's differential and interop suites also hold against
//! 3-node ensembles with the clients on a follower (issue 4, acceptance 3).
//!
//! Goal: what a client sees through a follower (writes forwarded to the leader, answers after
//! the commit reaches the follower, watches fired there, sessions owned by the leader) is what
//! it sees through an Apache ZooKeeper 3.8 follower, for every differential scenario and every
//! interop transcript.
//!
//! Method: the suites are not copied. Each is run again, unchanged, as a child
//! `cargo test` of this package with `ZKFLEET_ENSEMBLE=follower`, under which the harness's
//! `Target::start` starts a 3-node ensemble of the requested implementation (Apache: zoo.cfg
//! and JVMs; zk-node: TOML configs with `[[server]]` tables, so every server option applies)
//! and hands out one of its followers:
//! - `t10_differential::apache_vs_zk_node`: one Apache ensemble and one zk-node ensemble for
//!   all scenarios, transcripts compared exactly as for single servers;
//! - `t20_interop`: the zookeeper-client crate, kazoo and zkCli.sh sessions, each against an
//!   Apache ensemble's follower and then a zk-node ensemble's follower.
//!
//! The same runs by hand:
//! `ZKFLEET_ENSEMBLE=follower cargo test -p zkfleet-tests --test t10_differential apache_vs_zk_node`
//! and `ZKFLEET_ENSEMBLE=follower cargo test -p zkfleet-tests --test t20_interop`.
//! Without Apache (and `CI` unset) the child suites skip with their own message.

use std::sync::Mutex;
use std::time::Duration;

use zkfleet_tests::suite::run_test_binary;
use zkfleet_tests::target::ENSEMBLE_ENV;

/// How long one child suite may run (the differential suite takes well under a minute on two
/// cores once built; building it first can take a few minutes).
const SUITE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// One child suite at a time: each starts two ensembles.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `test -- args` with the clients on ensemble followers; fails with the child's output.
fn on_ensemble_followers(test: &str, args: &[&str]) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let run = run_test_binary(test, args, &[(ENSEMBLE_ENV, "follower")], SUITE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{test} on ensemble followers: {e:#}"));
    let summary: Vec<&str> = run
        .output
        .lines()
        .filter(|l| {
            l.starts_with("test ")
                || l.contains("clients go to follower")
                || l.contains("identical on Apache")
                || l.contains("scenarios")
                || l.starts_with("SKIP")
        })
        .collect();
    eprintln!("{}", summary.join("\n"));
    if !run.success {
        panic!(
            "{test} fails against 3-node ensembles with the clients on a follower; its output:\n{}",
            run.output
        );
    }
}

/// Every differential scenario, Apache ensemble follower vs zk-node ensemble follower.
#[test]
fn differential_on_ensemble_followers() {
    on_ensemble_followers("t10_differential", &["apache_vs_zk_node", "--exact"]);
}

/// Every interop transcript (zookeeper-client crate, kazoo, zkCli.sh), Apache ensemble follower
/// vs zk-node ensemble follower.
#[test]
fn interop_on_ensemble_followers() {
    on_ensemble_followers("t20_interop", &["--test-threads=1"]);
}
