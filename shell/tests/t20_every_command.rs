//! Goal: every shell command, run as a script against Apache ZooKeeper 3.8, prints what it
//! printed last time (tests/expected/every_command.txt), zxids and times normalized.
//! Method: `common::script::run_script`, the same function the differential suite runs against
//! zk-node. Set `UPDATE_EXPECT=1` to rewrite the expected file after a deliberate change.

mod common;

use common::apache::{available, Apache};
use common::script::{run_script, EVERY_COMMAND};

const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/expected/every_command.txt"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t20_every_command_against_apache() {
    if !available("t20_every_command") {
        return;
    }
    let zk = Apache::standalone();
    let got = run_script(&zk.connect_string(), EVERY_COMMAND).await;
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(EXPECTED, &got).unwrap();
    }
    let want = std::fs::read_to_string(EXPECTED).unwrap_or_default();
    if got != want {
        let path = std::env::temp_dir().join("every_command.got.txt");
        std::fs::write(&path, &got).unwrap();
        panic!(
            "output differs from {EXPECTED}; got written to {}",
            path.display()
        );
    }
}
