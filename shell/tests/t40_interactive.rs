//! Goal: the interactive shell works in a real terminal. Typing a partial path and Tab
//! completes it from the server's children; ls, get and set run; Up brings back history; Ctrl-C
//! cancels a running command without leaving the shell; Ctrl-D leaves and the history file
//! keeps the commands.
//! Method: run the real `zksh` binary inside tmux (private socket, fixed size) against a
//! standalone Apache server, send keys, and read the screen with capture-pane.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::apache::{available, Apache};
use zk_proto::{Acl, CreateMode};
use zk_shell::client::{Client, ClientOptions};

const PROMPT: &str = "zk:main />";

/// Screens change within milliseconds; this covers a loaded CI machine.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(15);

/// A tmux server on a private socket, killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> Tmux {
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "zksh",
                "-x",
                "160",
                "-y",
                "40",
                command,
            ])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(args);
        c
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "zksh"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().unwrap().success());
    }

    /// Literal text (no key names).
    fn type_text(&self, text: &str) {
        assert!(self
            .cmd(&["send-keys", "-t", "zksh", "-l", text])
            .status()
            .unwrap()
            .success());
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "zksh"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The last non-empty line of the screen (where the cursor's line is).
    fn last_line(&self) -> String {
        self.screen()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&Tmux) -> bool) {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        while Instant::now() < deadline {
            if pred(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let stderr = std::fs::read_to_string(self.socket.with_file_name("stderr"));
        panic!(
            "timed out waiting for {what}; screen:\n{}\nstderr:\n{}",
            self.screen(),
            stderr.unwrap_or_default()
        );
    }

    fn wait_last_line(&self, want: &str) {
        self.wait_for(want, |t| t.last_line().trim_end() == want);
    }

    fn prompts(&self) -> usize {
        self.screen()
            .lines()
            .filter(|l| l.starts_with(PROMPT))
            .count()
    }

    /// Types a command at the prompt, checks it shows, presses Enter and waits for the next
    /// prompt, as a person would (keys typed while a command runs are not read by the editor).
    fn run(&self, line: &str) {
        let before = self.prompts();
        self.type_text(line);
        self.wait_last_line(&format!("{PROMPT} {line}"));
        self.keys(&["Enter"]);
        self.wait_for(&format!("prompt after {line}"), |t| {
            t.prompts() > before && t.last_line().trim_end() == PROMPT
        });
    }

    fn wait_screen_contains(&self, want: &str) {
        self.wait_for(want, |t| t.screen().contains(want));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("t40_interactive: tmux is required when CI is set");
    }
    if !found {
        eprintln!("skipping t40_interactive: tmux is not installed");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t40_tab_completion_history_and_ctrl_c_in_a_terminal() {
    if !available("t40_interactive") || !tmux_available() {
        return;
    }
    let zk = Apache::standalone();
    let c = Client::connect(&zk.connect_string(), ClientOptions::default())
        .await
        .unwrap();
    for (p, d) in [
        ("/alpha", "a"),
        ("/alpha/beta", "b-data"),
        ("/alpha/gamma", "g"),
    ] {
        c.create(
            p,
            Some(d.as_bytes().to_vec()),
            Acl::open_unsafe(),
            CreateMode::Persistent,
            None,
        )
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let command = format!(
        "env HOME={} TERM=xterm {} -s {} --add-cluster other={} --history {} 2>{}",
        dir.path().display(),
        env!("CARGO_BIN_EXE_zksh"),
        zk.connect_string(),
        zk.connect_string(),
        history.display(),
        dir.path().join("stderr").display()
    );
    let t = Tmux::start(dir.path(), &command);
    t.wait_last_line("zk:main />");

    // A partial path completes from the server: one match with children gets a '/'.
    t.type_text("get /alp");
    t.keys(&["Tab"]);
    t.wait_last_line("zk:main /> get /alpha/");
    t.type_text("be");
    t.keys(&["Tab"]);
    t.wait_last_line("zk:main /> get /alpha/beta");
    t.keys(&["Enter"]);
    t.wait_screen_contains("b-data");
    t.wait_last_line(PROMPT);

    t.run("ls /alpha");
    assert!(t.screen().contains("gamma"));
    t.run("set /alpha/beta fresh");
    t.run("get /alpha/beta");
    assert!(t.screen().lines().any(|l| l == "fresh"), "{}", t.screen());

    // Up walks back through the history.
    t.wait_last_line("zk:main />");
    t.keys(&["Up"]);
    t.wait_last_line("zk:main /> get /alpha/beta");
    t.keys(&["Up"]);
    t.wait_last_line("zk:main /> set /alpha/beta fresh");
    t.keys(&["C-u"]);
    t.wait_last_line("zk:main />");

    // Ctrl-C cancels a command that would run forever, and the shell goes on.
    t.type_text("watch /alpha");
    t.keys(&["Enter"]);
    t.wait_screen_contains("watching /alpha");
    t.keys(&["C-c"]);
    t.wait_last_line("zk:main />");
    let stderr = dir.path().join("stderr");
    t.wait_for("cancelled on stderr", |_| {
        std::fs::read_to_string(&stderr).is_ok_and(|e| e.contains("cancelled"))
    });
    t.run("pwd");
    assert!(
        t.screen().lines().any(|l| l.trim() == "/"),
        "{}",
        t.screen()
    );

    // cp and diff complete CLUSTER:/path on another open connection.
    t.type_text("connect other");
    t.wait_last_line("zk:main /> connect other");
    t.keys(&["Enter"]);
    t.wait_last_line("zk:other />");
    t.type_text("use main");
    t.wait_last_line("zk:other /> use main");
    t.keys(&["Enter"]);
    t.wait_last_line(PROMPT);
    t.type_text("diff other:/alp");
    t.keys(&["Tab"]);
    t.wait_last_line("zk:main /> diff other:/alpha/");
    t.keys(&["C-u"]);
    t.wait_last_line(PROMPT);

    // Ctrl-D leaves; the history file has the commands.
    t.keys(&["C-d"]);
    t.wait_for("history file", |_| {
        std::fs::read_to_string(&history)
            .is_ok_and(|h| h.contains("set /alpha/beta fresh") && h.contains("pwd"))
    });
    assert_eq!(
        c.get_data("/alpha/beta", false)
            .await
            .unwrap()
            .data
            .as_deref(),
        Some(&b"fresh"[..])
    );
}
