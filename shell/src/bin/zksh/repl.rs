//! The interactive shell: rustyline on its own thread (it blocks), commands on the tokio
//! runtime, Ctrl-C cancelling the running command.
//!
//! Watch events that arrive while the user is typing are shown when the line is entered, not
//! at once: rustyline 15's external printer loses typed-ahead keys (a paste, or keys typed
//! during a completion) until the next key press (kkawakam/rustyline#976).
//!
//! Completion runs on the rustyline thread and asks the server for children with
//! `Handle::block_on`, bounded by [`COMPLETION_TIMEOUT`] so a slow server never freezes typing.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};
use tokio::sync::{mpsc, oneshot};
use zk_shell::client::Client;
use zk_shell::commands::spec::{self, ArgKind, COMMANDS};
use zk_shell::commands::{normalize, split_commands, Shell};

use crate::frontend::Terminal;

/// How long Tab may wait for the server.
const COMPLETION_TIMEOUT: Duration = Duration::from_secs(2);
/// Lines kept in the history file.
const HISTORY_MAX: usize = 10_000;

/// What completion needs to know about the shell, refreshed before every prompt.
#[derive(Default)]
struct CompletionState {
    client: Option<Client>,
    cwd: String,
    clusters: Vec<String>,
    /// Open connections by name, for `NAME:/path` in cp and diff.
    clients: std::collections::BTreeMap<String, Client>,
}

struct ZkHelper {
    state: Arc<Mutex<CompletionState>>,
    runtime: tokio::runtime::Handle,
    colour: bool,
}

/// A request from the async side to the readline thread.
struct Read {
    prompt: String,
    reply: oneshot::Sender<Result<String, ReadlineError>>,
}

/// Runs the interactive loop until `quit` or Ctrl-D.
pub async fn run(
    shell: &mut Shell,
    term: &mut Terminal,
    history: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let state = Arc::new(Mutex::new(CompletionState::default()));
    let (read_tx, read_rx) = mpsc::channel::<Read>(1);
    let helper = ZkHelper {
        state: state.clone(),
        runtime: tokio::runtime::Handle::current(),
        colour: std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let thread = std::thread::spawn(move || readline_thread(helper, history, read_rx));
    let mut last_failed = false;
    loop {
        refresh(&state, shell);
        let Some(line) = read_line(&read_tx, shell, term).await else {
            break;
        };
        last_failed = run_line(shell, term, &line).await;
        if shell.quit_requested() {
            break;
        }
    }
    drop(read_tx);
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    Ok(if last_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn refresh(state: &Arc<Mutex<CompletionState>>, shell: &Shell) {
    let mut s = state.lock().expect("completion state");
    s.client = shell.current().map(|c| c.client.clone());
    s.cwd = shell
        .current()
        .map(|c| c.cwd.clone())
        .unwrap_or_else(|| "/".into());
    let mut names: Vec<String> = shell
        .clusters()
        .names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    names.extend(shell.connection_names());
    s.clients = shell
        .connection_names()
        .into_iter()
        .filter_map(|n| shell.connection(&n).map(|c| (n, c.client.clone())))
        .collect();
    names.sort();
    names.dedup();
    s.clusters = names;
}

/// Reads a line while printing watch events; `None` on Ctrl-D.
async fn read_line(
    read_tx: &mpsc::Sender<Read>,
    shell: &mut Shell,
    term: &mut Terminal,
) -> Option<String> {
    let (reply, mut rx) = oneshot::channel();
    read_tx
        .send(Read {
            prompt: shell.prompt(),
            reply,
        })
        .await
        .ok()?;
    loop {
        tokio::select! {
            r = &mut rx => return match r.ok()? {
                Ok(line) => Some(line),
                Err(ReadlineError::Interrupted) => Some(String::new()),
                Err(_) => None,
            },
            ev = shell.next_event() => term.events(vec![ev]),
        }
    }
}

/// Runs every command of a line; Ctrl-C cancels the one running. True if one failed.
async fn run_line(shell: &mut Shell, term: &mut Terminal, line: &str) -> bool {
    let commands = match split_commands(line) {
        Ok(c) => c,
        Err(e) => {
            term.error(&e.to_string());
            return true;
        }
    };
    for cmd in commands {
        let result = tokio::select! {
            r = shell.run_line(&cmd, term) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        };
        term.events(shell.drain_events());
        match result {
            None => {
                term.error("cancelled");
                return true;
            }
            Some(Err(e)) => {
                term.command_error(&cmd, &e);
                return true;
            }
            Some(Ok(())) if shell.quit_requested() => return false,
            Some(Ok(())) => {}
        }
    }
    false
}

fn readline_thread(helper: ZkHelper, history: Option<PathBuf>, mut reads: mpsc::Receiver<Read>) {
    let config = Config::builder().max_history_size(HISTORY_MAX).map(|b| {
        b.auto_add_history(true)
            .completion_type(rustyline::CompletionType::List)
            .build()
    });
    let Ok(config) = config else { return };
    let Ok(mut editor) = Editor::<ZkHelper, FileHistory>::with_config(config) else {
        return;
    };
    editor.set_helper(Some(helper));
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.load_history(h);
    }
    while let Some(read) = reads.blocking_recv() {
        let r = editor.readline(&read.prompt);
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        if read.reply.send(r).is_err() {
            break;
        }
    }
}

impl Helper for ZkHelper {}
impl Validator for ZkHelper {}

impl Highlighter for ZkHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.colour {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Hinter for ZkHelper {
    type Hint = String;

    /// After a command name, the rest of its synopsis.
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() || line.is_empty() || line.contains(';') {
            return None;
        }
        let word = line.trim_start();
        if word.contains(' ') {
            let name = word.split_whitespace().next()?;
            let spec = spec::find(name)?;
            let rest = spec.synopsis.strip_prefix(name)?;
            return (word.trim_end() == name && line.ends_with(' '))
                .then(|| rest.trim_start().to_string());
        }
        let mut matches = COMMANDS.iter().filter(|c| c.name.starts_with(word));
        let only = matches.next()?;
        if matches.next().is_some() {
            return None;
        }
        Some(only.synopsis[word.len()..].to_string())
    }
}

impl Completer for ZkHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || c == ';')
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let words: Vec<&str> = before[..start]
            .rsplit(';')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let candidates = match words.first() {
            None => complete_from(COMMANDS.iter().map(|c| c.name), word),
            Some(cmd) => self.complete_arg(cmd, &words[1..], word),
        };
        Ok((start, candidates))
    }
}

impl ZkHelper {
    fn complete_arg(&self, cmd: &str, args: &[&str], word: &str) -> Vec<Pair> {
        let Some(spec) = spec::find(cmd) else {
            return Vec::new();
        };
        if word.starts_with('-') {
            return complete_from(spec.flags.iter().map(|f| f.name), word);
        }
        let positional = count_positionals(spec, args);
        let kind = spec
            .args
            .get(positional)
            .or(spec.args.last())
            .copied()
            .unwrap_or(ArgKind::Other);
        match kind {
            ArgKind::Command => complete_from(COMMANDS.iter().map(|c| c.name), word),
            ArgKind::Cluster => {
                let names = self
                    .state
                    .lock()
                    .expect("completion state")
                    .clusters
                    .clone();
                complete_from(names.iter().map(String::as_str), word)
            }
            ArgKind::Location if word.contains(':') => self.complete_location(word),
            ArgKind::Path | ArgKind::Location => self.complete_path(word),
            _ => Vec::new(),
        }
    }

    /// Children of the typed directory that start with the typed name, fetched now.
    fn complete_path(&self, word: &str) -> Vec<Pair> {
        let (client, cwd) = {
            let s = self.state.lock().expect("completion state");
            (s.client.clone(), s.cwd.clone())
        };
        let Some(client) = client else {
            return Vec::new();
        };
        self.complete_on(&client, &cwd, word)
    }

    /// `NAME:/pa` completes on the open connection NAME.
    fn complete_location(&self, word: &str) -> Vec<Pair> {
        let Some((name, path)) = word.split_once(':') else {
            return Vec::new();
        };
        let client = self
            .state
            .lock()
            .expect("completion state")
            .clients
            .get(name)
            .cloned();
        let Some(client) = client else {
            return Vec::new();
        };
        let mut out = self.complete_on(&client, "/", path);
        for p in &mut out {
            p.replacement = format!("{name}:{}", p.replacement);
        }
        out
    }

    fn complete_on(&self, client: &Client, cwd: &str, word: &str) -> Vec<Pair> {
        let (dir_typed, prefix) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let dir = normalize(cwd, if dir_typed.is_empty() { "." } else { dir_typed });
        let children = self.children(client, &dir);
        let mut out: Vec<Pair> = children
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .map(|c| Pair {
                display: c.clone(),
                replacement: format!("{dir_typed}{c}"),
            })
            .collect();
        if out.len() == 1 {
            let full = normalize(&dir, &out[0].display);
            if !self.children(client, &full).is_empty() {
                out[0].replacement.push('/');
            }
        }
        out
    }

    fn children(&self, client: &Client, path: &str) -> Vec<String> {
        // The timer must be created inside the runtime, not on this plain thread.
        let fetch = async {
            tokio::time::timeout(COMPLETION_TIMEOUT, client.get_children(path, false)).await
        };
        match self.runtime.block_on(fetch) {
            Ok(Ok(mut c)) => {
                c.children.sort();
                c.children
            }
            _ => Vec::new(),
        }
    }
}

/// Positionals typed so far (words that are not flags or flag values).
fn count_positionals(spec: &spec::CommandSpec, args: &[&str]) -> usize {
    let mut n = 0;
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if let Some(f) = spec.flags.iter().find(|f| f.name == *a) {
            skip = f.takes_value;
        } else if !a.starts_with('-') {
            n += 1;
        }
    }
    n
}

fn complete_from<'a>(names: impl Iterator<Item = &'a str>, word: &str) -> Vec<Pair> {
    names
        .filter(|n| n.starts_with(word))
        .map(|n| Pair {
            display: n.to_string(),
            replacement: format!("{n} "),
        })
        .collect()
}
