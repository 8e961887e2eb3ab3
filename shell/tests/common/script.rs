//! Runs a zksh script through the command layer against one connect string and returns its
//! output with the values that differ between runs and servers (zxids, times, ports, session
//! ids) replaced. The differential suite compares this function's output for Apache ZooKeeper
//! and for zk-node.

use zk_shell::clusters::ClusterList;
use zk_shell::commands::{split_commands, Frontend, Output, Shell, ShellOptions};

/// The script with every command, shipped with the tests.
pub const EVERY_COMMAND: &str = include_str!("../scripts/every_command.zk");

/// Collects outputs as text, says yes to questions, and edits by replacing "changed" with
/// "edited" (a stand-in for $EDITOR).
struct Recorder {
    text: Vec<String>,
}

impl Frontend for Recorder {
    fn emit(&mut self, out: Output) {
        self.text.push(out.to_text());
    }
    fn confirm(&mut self, question: &str) -> bool {
        self.text.push(format!("? {question}"));
        true
    }
    fn edit(&mut self, _path: &str, data: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let s = String::from_utf8_lossy(data).replace("changed", "edited");
        Ok(Some(s.into_bytes()))
    }
}

/// Runs `script` against `connect` (the connection is named `main`; a cluster `other` names the
/// same servers) and returns the normalized transcript. Errors are recorded as `! message` and
/// the script continues.
pub async fn run_script(connect: &str, script: &str) -> String {
    let clusters = ClusterList::from_args(&[format!("other={connect}")]).expect("cluster arg");
    let mut shell = Shell::new(clusters, ShellOptions::default());
    shell.connect(connect, None).await.expect("connect");
    let mut fe = Recorder { text: Vec::new() };
    for line in script.lines() {
        let line = line.replace("{CONNECT}", connect);
        for cmd in split_commands(&line).expect("split") {
            fe.text.push(format!("> {}", cmd.trim()));
            let r = shell.run_line(&cmd, &mut fe).await;
            let events: Vec<String> = shell.drain_events().iter().map(Output::to_text).collect();
            fe.text.extend(events);
            if let Err(e) = r {
                fe.text.push(format!("! {e}"));
            }
            if shell.quit_requested() {
                shell.close_all().await;
                return normalize(&fe.text.join("\n"), connect);
            }
        }
    }
    shell.close_all().await;
    normalize(&fe.text.join("\n"), connect)
}

/// Replaces run-specific values: non-zero hex numbers (zxids, session ids), times, the
/// connect string, and the zxid column of watch events (Apache sends none, zk-node may).
pub fn normalize(text: &str, connect: &str) -> String {
    let text = text.replace(connect, "{CONNECT}");
    let rules = [
        (r"0x[0-9a-f]*[1-9a-f][0-9a-f]*", "0xZ"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "TIME"),
        (r"(WATCHER:: \[\w+\]) \S+", "$1 Z"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
    ];
    let mut out = text;
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern)
            .expect("regex")
            .replace_all(&out, with)
            .into_owned();
    }
    out + "\n"
}
