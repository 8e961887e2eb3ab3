//! zksh against both servers (issue 5, acceptance 1): the script of every shell command runs
//! against Apache ZooKeeper 3.8 and against zk-node; the normalized transcripts (zxids, times and
//! session ids replaced) must be equal line for line.

use anyhow::Result;
use zk_shell::commands::transcript::{run_script, EVERY_COMMAND};
use zkfleet_tests::apache::ApacheServer;
use zkfleet_tests::target::{Server, ServerOptions};
use zkfleet_tests::zknode::ZkNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shell_command_prints_the_same_on_apache_and_zk_node() -> Result<()> {
    let opts = ServerOptions::default();
    let Some(apache) = ApacheServer::start(&opts)? else {
        return Ok(());
    };
    let node = ZkNode::start(&opts)?;
    let a = run_script(&apache.connect_string(), EVERY_COMMAND).await?;
    let b = run_script(&node.connect_string(), EVERY_COMMAND).await?;
    if a != b {
        let diff: Vec<String> = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| format!("line {}:\n  apache:  {x}\n  zk-node: {y}", i + 1))
            .take(40)
            .collect();
        panic!(
            "zksh transcripts differ ({} vs {} lines):\n{}",
            a.lines().count(),
            b.lines().count(),
            diff.join("\n")
        );
    }
    Ok(())
}
