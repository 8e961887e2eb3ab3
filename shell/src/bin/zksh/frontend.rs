//! Where zksh's results go: stdout as text or JSON, errors to stderr, questions to the
//! terminal, and `edit` through $EDITOR.

use std::io::{BufRead, IsTerminal, Write};

use zk_shell::commands::{CmdError, Frontend, Output};

/// The terminal frontend.
pub struct Terminal {
    json: bool,
    /// Questions can be asked only when a person is at the keyboard.
    can_ask: bool,
}

impl Terminal {
    pub fn new(json: bool, interactive: bool) -> Terminal {
        Terminal {
            json,
            can_ask: interactive && std::io::stdin().is_terminal(),
        }
    }

    fn print(&mut self, text: String) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn render(&self, out: &Output) -> String {
        if self.json {
            out.to_json()
        } else {
            out.to_text()
        }
    }

    /// Prints watch and session events.
    pub fn events(&mut self, events: Vec<Output>) {
        for e in events {
            let text = self.render(&e);
            self.print(text);
        }
    }

    pub fn error(&mut self, message: &str) {
        eprintln!("zksh: {message}");
    }

    /// Reports a failed command: words on stderr; in JSON mode also an object on stdout so a
    /// program reading stdout sees the failure in sequence.
    pub fn command_error(&mut self, cmd: &str, e: &CmdError) {
        eprintln!("zksh: {}: {e}", cmd.trim());
        if self.json {
            let obj = serde_json::json!({"kind": "error", "error": e.kind(), "message": e.to_string(), "command": cmd.trim()});
            self.print(obj.to_string());
        }
    }
}

impl Frontend for Terminal {
    fn emit(&mut self, out: Output) {
        let text = self.render(&out);
        if !text.is_empty() {
            self.print(text);
        }
    }

    fn confirm(&mut self, question: &str) -> bool {
        if !self.can_ask {
            eprintln!("zksh: {question} (not asked in a script: pass --yes)");
            return false;
        }
        tokio::task::block_in_place(|| {
            eprint!("{question} [y/N] ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES")
        })
    }

    /// In a script, `edit` works only with an explicit $VISUAL or $EDITOR (which may be a
    /// non-interactive filter such as `sed -i`).
    fn edit(&mut self, path: &str, data: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let explicit = std::env::var_os("VISUAL").is_some() || std::env::var_os("EDITOR").is_some();
        if !self.can_ask && !explicit {
            return Err("edit needs a terminal or $EDITOR".into());
        }
        tokio::task::block_in_place(|| edit_in_editor(path, data))
    }
}

/// Writes `data` to a temporary file, opens $VISUAL / $EDITOR / vi on it, reads it back.
fn edit_in_editor(path: &str, data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let suffix = path.rsplit('/').next().unwrap_or("node").to_string();
    let mut file = tempfile::Builder::new()
        .prefix("zksh-")
        .suffix(&format!("-{suffix}"))
        .tempfile()
        .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    file.write_all(data).map_err(|e| e.to_string())?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(parts)
        .arg(file.path())
        .status()
        .map_err(|e| format!("cannot run {editor}: {e}"))?;
    if !status.success() {
        return Err(format!("{editor} exited with {status}; node not changed"));
    }
    std::fs::read(file.path())
        .map(Some)
        .map_err(|e| e.to_string())
}
