//! The embedded shell pane runs zksh's command layer (`zk_shell::commands`: parse, execute,
//! render) against the cluster the pane was opened on. One task owns the [`Shell`], so a slow
//! connect or a long `find` never blocks the screen; the app sends it lines and gets text
//! back as [`Msg::ShellOutput`].

use std::thread::JoinHandle;
use tokio::sync::mpsc;

use zk_shell::clusters::ClusterList;
use zk_shell::commands::spec::COMMANDS;
use zk_shell::commands::{Collect, Shell, ShellOptions};

use crate::app::Msg;
use crate::config::ClusterSpec;

/// Command lines waiting for the shell task. A person types them; more than this queued
/// means the shell is stuck, and the pane says so rather than queueing without end.
pub const LINES_QUEUE_LEN: usize = 16;

/// A line for the shell task: run `line` on cluster `cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub cluster: usize,
    pub line: String,
}

/// Starts the shell for these clusters on a thread of its own with a current-thread
/// runtime: zk_shell's command futures are not `Send`, so they cannot go on the main
/// runtime's worker pool. The thread ends when the returned sender is dropped.
pub fn spawn(
    specs: Vec<ClusterSpec>,
    out: mpsc::Sender<Msg>,
) -> (mpsc::Sender<Line>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(LINES_QUEUE_LEN);
    let handle = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(run(specs, rx, out)),
            Err(e) => tracing::error!("cannot start the shell runtime: {e}"),
        }
    });
    (tx, handle)
}

async fn run(specs: Vec<ClusterSpec>, mut rx: mpsc::Receiver<Line>, out: mpsc::Sender<Msg>) {
    let list = ClusterList {
        clusters: specs.iter().filter_map(|s| s.cluster.clone()).collect(),
    };
    let mut shell = Shell::new(list, ShellOptions::default());
    while let Some(Line { cluster, line }) = rx.recv().await {
        let Some(spec) = specs.get(cluster) else {
            continue;
        };
        let mut lines = match use_cluster(&mut shell, spec).await {
            Ok(()) => run_line(&mut shell, &line).await,
            Err(e) => vec![format!("cannot connect to {}: {e}", spec.name)],
        };
        lines.extend(shell.drain_events().iter().map(|o| o.to_text()));
        tracing::info!(cluster = %spec.name, line, "shell command");
        if out.send(Msg::ShellOutput(lines)).await.is_err() {
            break;
        }
    }
    shell.close_all().await;
}

/// Makes `spec` the shell's current connection, connecting on first use.
async fn use_cluster(shell: &mut Shell, spec: &ClusterSpec) -> Result<(), String> {
    if shell.current().is_some_and(|c| c.name == spec.name) {
        return Ok(());
    }
    if shell.connection_names().contains(&spec.name) {
        let mut sink = Collect::default();
        return shell
            .run_line(&format!("use {}", spec.name), &mut sink)
            .await
            .map_err(|e| e.to_string());
    }
    let result = if spec.cluster.is_some() {
        shell.connect(&spec.name, None).await
    } else {
        shell
            .connect(&spec.servers.join(","), Some(&spec.name))
            .await
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Runs one line and renders what it produced as text lines. Confirmations are declined:
/// the pane cannot ask, and a destructive command should be run in zksh.
async fn run_line(shell: &mut Shell, line: &str) -> Vec<String> {
    let mut collect = Collect::default();
    let result = shell.run_line(line, &mut collect).await;
    let mut lines: Vec<String> = collect
        .outputs
        .iter()
        .flat_map(|o| o.to_text().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    if let Err(e) = result {
        lines.push(format!("error: {e}"));
    }
    lines
}

/// Completes the command name being typed (the first word), if exactly one or a common
/// prefix fits.
pub fn complete(input: &str) -> Option<String> {
    if input.contains(' ') || input.is_empty() {
        return None;
    }
    let names: Vec<&str> = COMMANDS
        .iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with(input))
        .collect();
    match names.as_slice() {
        [] => None,
        [one] => Some(format!("{one} ")),
        many => {
            let first = many[0];
            let common = (input.len()..=first.len())
                .rev()
                .find(|&n| many.iter().all(|m| m.len() >= n && m[..n] == first[..n]))
                .unwrap_or(input.len());
            (common > input.len()).then(|| first[..common].to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_command_names() {
        assert_eq!(complete("dele").as_deref(), Some("delete"));
        assert_eq!(complete("deletea").as_deref(), Some("deleteall "));
        assert_eq!(complete("pw").as_deref(), Some("pwd "));
        assert_eq!(complete("ls /a"), None);
        assert_eq!(complete("zzz"), None);
    }
}
