//! The embedded shell pane runs zksh's command layer (`zk_shell` commands: parse, execute,
//! render) against the selected cluster. Until that layer exists, every line gets a notice.

use crate::config::ClusterSpec;

/// Runs one command line against `cluster` and returns the lines to show.
pub async fn execute(cluster: &ClusterSpec, line: &str) -> Vec<String> {
    tracing::info!(cluster = %cluster.name, line, "shell command");
    vec![format!(
        "the embedded shell is not available yet: zksh's command layer has not landed (cluster {})",
        cluster.name
    )]
}
