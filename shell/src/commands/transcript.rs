//! Transcripts: run a script through the command layer against one connect string and get its
//! output with run-specific values normalized. The shell's own tests check the transcript of
//! [`EVERY_COMMAND`] against Apache ZooKeeper; the differential suite compares the transcripts
//! of Apache and zk-node, one call each.

use crate::clusters::ClusterList;

use super::{split_commands, Frontend, Output, Shell, ShellOptions};

/// A script that runs every zksh command at least once. `{CONNECT}` stands for the connect
/// string; the cluster `other` names the same servers.
pub const EVERY_COMMAND: &str = include_str!("every_command.zk");

/// Collects outputs as text, says yes to questions (recording them), and "edits" by replacing
/// `changed` with `edited`, a stand-in for $EDITOR.
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

/// Runs `script` against `connect` and returns the normalized transcript: each command as
/// `> cmd`, then its output, the watch events it caused, and `! error` if it failed (the
/// script goes on). Fails only if the first connection cannot be made.
pub async fn run_script(connect: &str, script: &str) -> Result<String, super::CmdError> {
    let clusters = ClusterList::from_args(&[format!("other={connect}")])
        .map_err(|e| super::CmdError::Failed(e.to_string()))?;
    let mut shell = Shell::new(clusters, ShellOptions::default());
    shell.connect(connect, None).await?;
    let mut fe = Recorder { text: Vec::new() };
    'script: for line in script.lines() {
        let line = line.replace("{CONNECT}", connect);
        for cmd in split_commands(&line)? {
            fe.text.push(format!("> {}", cmd.trim()));
            let r = shell.run_line(&cmd, &mut fe).await;
            let events: Vec<String> = shell.drain_events().iter().map(Output::to_text).collect();
            fe.text.extend(events);
            if let Err(e) = r {
                fe.text.push(format!("! {e}"));
            }
            if shell.quit_requested() {
                break 'script;
            }
        }
    }
    shell.close_all().await;
    Ok(normalize(&fe.text.join("\n"), connect) + "\n")
}

/// Replaces what differs between runs and servers: the connect string, non-zero hex numbers
/// (zxids, session ids), RFC 3339 times, loopback ports, and the zxid column of watch events
/// (Apache 3.8 sends none, zk-node may).
pub fn normalize(text: &str, connect: &str) -> String {
    let text = text.replace(connect, "{CONNECT}");
    let lines: Vec<String> = text.lines().map(normalize_line).collect();
    lines.join("\n")
}

fn normalize_line(line: &str) -> String {
    let line = watcher_zxid(line);
    let line = replace_hex(&line);
    let line = replace_times(&line);
    replace_ports(&line)
}

fn watcher_zxid(line: &str) -> String {
    let Some(rest) = line.strip_prefix("WATCHER:: [") else {
        return line.to_string();
    };
    let Some((cluster, after)) = rest.split_once("] ") else {
        return line.to_string();
    };
    let tail = after.split_once(' ').map_or("", |(_, t)| t);
    format!("WATCHER:: [{cluster}] Z {tail}")
}

fn replace_hex(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits: String = rest[i + 2..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        let nonzero = digits.chars().any(|c| c != '0');
        out.push_str(if nonzero { "0xZ" } else { "0x" });
        if !nonzero {
            out.push_str(&digits);
        }
        rest = &rest[i + 2 + digits.len()..];
    }
    out.push_str(rest);
    out
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` → `TIME`.
fn replace_times(line: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        let fits = b.len() - i >= SHAPE.len()
            && SHAPE.iter().zip(&b[i..]).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                s => s == c,
            });
        if fits {
            out.push_str("TIME");
            i += SHAPE.len();
        } else {
            let ch = line[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn replace_ports(line: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(HOST) {
        out.push_str(&rest[..i + HOST.len()]);
        let after = &rest[i + HOST.len()..];
        let n = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(if n > 0 { "PORT" } else { "" });
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_zxids_times_ports_and_event_zxids() {
        let text = "cZxid = 0x1f\nephemeralOwner = 0x0\nctime = 2026-11-25T01:49:14.813Z\n\
                    WATCHER:: [main] 0x12 NodeCreated /a\nWATCHER:: [main] - NodeDeleted /b\n\
                    other  127.0.0.1:2181,127.0.0.1:40123  Connected";
        let want = "cZxid = 0xZ\nephemeralOwner = 0x0\nctime = TIME\n\
                    WATCHER:: [main] Z NodeCreated /a\nWATCHER:: [main] Z NodeDeleted /b\n\
                    other  {CONNECT}  Connected";
        assert_eq!(normalize(text, "127.0.0.1:2181,127.0.0.1:40123"), want);
        assert_eq!(normalize("h 127.0.0.1:9", "x"), "h 127.0.0.1:PORT");
    }
}
