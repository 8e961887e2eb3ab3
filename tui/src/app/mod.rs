//! The application state and its one entry point, [`update`]: `(state, message) -> effects`.
//!
//! This module owns all state (clusters, servers, histories, alarms, focus, prompts) and
//! changes it only in `update`. It does no I/O and reads no clock: time arrives as
//! [`Msg::Tick`], poll results as [`Msg::Polled`]. The run loop carries out the returned
//! [`Effect`]s. Drawing lives in `crate::ui` and only reads the state.

pub mod alarms;
pub mod history;
pub mod keys;
pub mod model;
pub mod rows;
pub mod wizard;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::config::ClusterSpec;
use crate::poll::Polled;
use alarms::Severity;
use history::Ring;
use keys::Action;
pub use model::{Clock, ClusterState, Health, Role, ServerState};
use rows::{TableNav, OVERVIEW_SORTS, SERVER_SORTS};

/// Alarm log entries kept.
pub const ALARM_LOG_LEN: usize = 500;
/// Lines kept in the shell pane.
pub const SHELL_LINES_LEN: usize = 1000;
/// Commands kept in the shell pane's history.
pub const SHELL_HISTORY_LEN: usize = 100;

/// Something that happened, fed to [`update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// The current time; the run loop sends one before each batch of messages.
    Tick(Clock),
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize {
        width: u16,
        height: u16,
    },
    Polled(Polled),
    /// Output of a shell command for the pane.
    ShellOutput(Vec<String>),
    /// A line for the status bar (embedded ensemble started or failed, ...).
    Notice(String),
    /// What the migration engine reported to the wizard.
    Migration(Box<wizard::MigrationMsg>),
}

impl From<Polled> for Msg {
    fn from(polled: Polled) -> Msg {
        Msg::Polled(polled)
    }
}

/// Work for the run loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Poll every server now instead of waiting for the interval.
    RefreshNow,
    /// Run a zksh command line against a cluster; the output comes back as
    /// [`Msg::ShellOutput`].
    ShellCommand {
        cluster: usize,
        line: String,
    },
    /// Work for the migration engine; its reports come back as [`Msg::Migration`].
    Migration(Box<wizard::MigrationCmd>),
}

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    /// The servers of one cluster (index into `State::clusters`).
    Cluster(usize),
}

/// A one-line text prompt at the bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// `/`: filters the current table as the operator types.
    Filter,
    /// `:`: a cluster name or a command.
    Command,
}

/// A box drawn over the screen; any key closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Notice { title: String, text: String },
}

/// The embedded shell pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellPane {
    pub cluster: usize,
    pub input: String,
    pub lines: Ring<String>,
    pub history: Ring<String>,
    /// Position while browsing history with ↑/↓ (0 = newest).
    history_pos: Option<usize>,
}

/// One alarm raised or cleared, for the log pane.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmEvent {
    pub at: Clock,
    pub cluster: String,
    pub severity: Severity,
    pub text: String,
    pub raised: bool,
}

/// Everything zk-top shows.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub now: Clock,
    pub clusters: Vec<ClusterState>,
    pub view: View,
    pub overview: TableNav,
    /// Navigation of the cluster view; reset when another cluster is entered.
    pub servers: TableNav,
    pub prompt: Option<Prompt>,
    pub overlay: Option<Overlay>,
    pub shell: Option<ShellPane>,
    /// The migration wizard, while it is open.
    pub migration: Option<wizard::Wizard>,
    /// The clusters as configured (the wizard builds its plan from them).
    pub specs: Vec<ClusterSpec>,
    pub alarm_log: Ring<AlarmEvent>,
    /// Poll interval, for display.
    pub interval_ms: u64,
    /// Terminal size, for mouse hit-testing and page moves.
    pub size: (u16, u16),
    /// Status bar message.
    pub notice: Option<String>,
    pub quit: bool,
}

impl State {
    pub fn new(specs: &[ClusterSpec], interval_ms: u64) -> Self {
        State {
            now: Clock::default(),
            clusters: specs.iter().map(ClusterState::new).collect(),
            view: View::Overview,
            overview: TableNav::default(),
            servers: TableNav::default(),
            prompt: None,
            overlay: None,
            shell: None,
            migration: None,
            specs: specs.to_vec(),
            alarm_log: Ring::new(ALARM_LOG_LEN),
            interval_ms,
            size: (80, 24),
            notice: None,
            quit: false,
        }
    }

    /// The cluster the operator is looking at: the open one, or the one selected in the
    /// overview.
    pub fn focused_cluster(&self) -> Option<usize> {
        match self.view {
            View::Cluster(c) => Some(c),
            View::Overview => rows::overview_rows(self)
                .get(self.overview.selected)
                .copied(),
        }
    }

    /// The server selected in the cluster view.
    pub fn selected_server(&self) -> Option<usize> {
        match self.view {
            View::Cluster(c) => rows::server_rows(self, c)
                .get(self.servers.selected)
                .copied(),
            View::Overview => None,
        }
    }

    fn nav_mut(&mut self) -> &mut TableNav {
        match self.view {
            View::Overview => &mut self.overview,
            View::Cluster(_) => &mut self.servers,
        }
    }

    fn row_count(&self) -> usize {
        match self.view {
            View::Overview => rows::overview_rows(self).len(),
            View::Cluster(c) => rows::server_rows(self, c).len(),
        }
    }

    fn clamp_selection(&mut self) {
        let count = self.row_count();
        let nav = self.nav_mut();
        nav.selected = nav.selected.min(count.saturating_sub(1));
    }
}

/// Applies one message to the state and returns the work it asks of the run loop.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => state.now = now,
        Msg::Resize { width, height } => state.size = (width, height),
        Msg::Polled(polled) => on_polled(state, polled),
        Msg::Key(key) if key.kind != KeyEventKind::Release => return on_key(state, key),
        Msg::Key(_) => {}
        Msg::Mouse(mouse) => return on_mouse(state, mouse),
        Msg::ShellOutput(lines) => {
            if let Some(shell) = &mut state.shell {
                lines.into_iter().for_each(|l| shell.lines.push(l));
            }
        }
        Msg::Notice(text) => state.notice = Some(text),
        Msg::Migration(m) => {
            if let Some(w) = &mut state.migration {
                wizard::on_msg(w, *m);
            }
        }
    }
    Vec::new()
}

fn on_polled(state: &mut State, polled: Polled) {
    let Some(cluster) = state.clusters.get_mut(polled.cluster) else {
        return;
    };
    let changes = cluster.on_polled(polled, state.now);
    for (alarm, raised) in changes
        .raised
        .into_iter()
        .map(|a| (a, true))
        .chain(changes.cleared.into_iter().map(|a| (a, false)))
    {
        tracing::info!(cluster = %cluster.name, raised, "{}", alarm.text);
        state.alarm_log.push(AlarmEvent {
            at: changes.at,
            cluster: cluster.name.clone(),
            severity: alarm.severity,
            text: alarm.text,
            raised,
        });
    }
    state.clamp_selection();
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        state.quit = true;
        return vec![Effect::Quit];
    }
    if state.overlay.is_some() {
        state.overlay = None;
        return Vec::new();
    }
    if let Some(w) = &mut state.migration {
        let (effects, close) = wizard::on_key(w, key, &state.clusters, &state.specs);
        if close {
            state.migration = None;
        }
        return effects;
    }
    if state.prompt.is_some() {
        return on_prompt_key(state, key);
    }
    if state.shell.is_some() {
        return on_shell_key(state, key);
    }
    match keys::action_for(key) {
        Some(action) => apply(state, action),
        None => Vec::new(),
    }
}

/// Carries out a resolved action.
pub fn apply(state: &mut State, action: Action) -> Vec<Effect> {
    let page = usize::from(state.size.1.saturating_sub(10)).max(1);
    let count = state.row_count();
    match action {
        Action::Up => move_selection(state, -1),
        Action::Down => move_selection(state, 1),
        Action::PageUp => move_selection(state, -(page as isize)),
        Action::PageDown => move_selection(state, page as isize),
        Action::Top => state.nav_mut().selected = 0,
        Action::Bottom => state.nav_mut().selected = count.saturating_sub(1),
        Action::Enter => {
            if let (View::Overview, Some(c)) = (state.view, state.focused_cluster()) {
                open_cluster(state, c);
            }
        }
        Action::Back => {
            if state.view == View::Overview {
                state.overview.filter.clear();
            }
            state.view = View::Overview;
            state.clamp_selection();
        }
        Action::NextCluster | Action::PrevCluster => {
            if let View::Cluster(c) = state.view {
                let n = state.clusters.len();
                let next = if action == Action::NextCluster {
                    (c + 1) % n
                } else {
                    (c + n - 1) % n
                };
                open_cluster(state, next);
            }
        }
        Action::Filter => {
            let text = state.nav_mut().filter.clone();
            state.prompt = Some(Prompt {
                kind: PromptKind::Filter,
                text,
            });
        }
        Action::Command => {
            state.prompt = Some(Prompt {
                kind: PromptKind::Command,
                text: String::new(),
            });
        }
        Action::Sort => {
            let sorts = sorts_of(state.view);
            let nav = state.nav_mut();
            nav.sort = match nav.sort {
                None => Some(0),
                Some(i) if i + 1 < sorts.len() => Some(i + 1),
                Some(_) => None,
            };
        }
        Action::SortReverse => {
            let nav = state.nav_mut();
            nav.descending = !nav.descending;
        }
        Action::Shell => open_shell(state),
        Action::Migrate => match state.focused_cluster() {
            Some(c) => state.migration = Some(wizard::Wizard::new(c, state.clusters.len())),
            None => state.notice = Some("no cluster to migrate from".to_string()),
        },
        Action::Refresh => {
            state.notice = Some("polling every server now".to_string());
            return vec![Effect::RefreshNow];
        }
        Action::Help => state.overlay = Some(Overlay::Help),
        Action::Quit => {
            state.quit = true;
            return vec![Effect::Quit];
        }
    }
    Vec::new()
}

fn sorts_of(view: View) -> &'static [&'static str] {
    match view {
        View::Overview => OVERVIEW_SORTS,
        View::Cluster(_) => SERVER_SORTS,
    }
}

fn move_selection(state: &mut State, delta: isize) {
    let count = state.row_count();
    let nav = state.nav_mut();
    let target = nav.selected as isize + delta;
    nav.selected = target.clamp(0, count.saturating_sub(1) as isize) as usize;
}

fn open_cluster(state: &mut State, c: usize) {
    if c >= state.clusters.len() {
        return;
    }
    if state.view != View::Cluster(c) {
        state.servers = TableNav::default();
    }
    state.view = View::Cluster(c);
}

fn open_shell(state: &mut State) {
    let Some(cluster) = state.focused_cluster() else {
        state.notice = Some("no cluster to open a shell on".to_string());
        return;
    };
    let mut lines = Ring::new(SHELL_LINES_LEN);
    lines.push(format!(
        "zksh on {} — Enter runs a command, Tab completes, ↑/↓ history, Esc closes",
        state.clusters[cluster].name
    ));
    state.shell = Some(ShellPane {
        cluster,
        input: String::new(),
        lines,
        history: Ring::new(SHELL_HISTORY_LEN),
        history_pos: None,
    });
}

fn on_prompt_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let Some(prompt) = &mut state.prompt else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            if prompt.kind == PromptKind::Filter {
                state.nav_mut().filter.clear();
            }
            state.prompt = None;
        }
        KeyCode::Enter => {
            let prompt = state.prompt.take().expect("prompt checked above");
            if prompt.kind == PromptKind::Command {
                return run_command(state, prompt.text.trim());
            }
        }
        KeyCode::Backspace => {
            prompt.text.pop();
        }
        KeyCode::Tab if prompt.kind == PromptKind::Command => {
            if let Some(c) = find_cluster(&state.clusters, &prompt.text) {
                prompt.text = state.clusters[c].name.clone();
            }
        }
        KeyCode::Char(ch) if !key.modifiers.contains(KeyModifiers::CONTROL) => prompt.text.push(ch),
        _ => {}
    }
    if let Some(Prompt {
        kind: PromptKind::Filter,
        text,
    }) = &state.prompt
    {
        let text = text.clone();
        let nav = state.nav_mut();
        nav.filter = text;
        nav.selected = 0;
    }
    Vec::new()
}

/// Exact name, else the only name starting with `text`, else the first containing it.
fn find_cluster(clusters: &[ClusterState], text: &str) -> Option<usize> {
    if text.is_empty() {
        return None;
    }
    let lower = text.to_lowercase();
    let names: Vec<String> = clusters.iter().map(|c| c.name.to_lowercase()).collect();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Some(i);
    }
    let prefixed: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with(&lower))
        .collect();
    if prefixed.len() == 1 {
        return Some(prefixed[0]);
    }
    prefixed
        .first()
        .copied()
        .or_else(|| names.iter().position(|n| n.contains(&lower)))
}

fn run_command(state: &mut State, text: &str) -> Vec<Effect> {
    match text {
        "" => {}
        "q" | "quit" => return apply(state, Action::Quit),
        "shell" | "sh" => open_shell(state),
        "o" | "overview" => {
            state.view = View::Overview;
            state.clamp_selection();
        }
        "help" | "h" => state.overlay = Some(Overlay::Help),
        _ => match find_cluster(&state.clusters, text) {
            Some(c) => open_cluster(state, c),
            None => state.notice = Some(format!("no cluster named {text:?}")),
        },
    }
    Vec::new()
}

fn on_shell_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let Some(shell) = &mut state.shell else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => state.shell = None,
        KeyCode::Enter => {
            let line = std::mem::take(&mut shell.input);
            shell.history_pos = None;
            if line.trim().is_empty() {
                return Vec::new();
            }
            shell.lines.push(format!("> {line}"));
            shell.history.push(line.clone());
            return vec![Effect::ShellCommand {
                cluster: shell.cluster,
                line,
            }];
        }
        KeyCode::Backspace => {
            shell.input.pop();
        }
        KeyCode::Tab => {
            if let Some(done) = crate::shell::complete(&shell.input) {
                shell.input = done;
            }
        }
        KeyCode::Up | KeyCode::Down => {
            let n = shell.history.len();
            if n == 0 {
                return Vec::new();
            }
            let pos = match (shell.history_pos, key.code) {
                (None, KeyCode::Up) => Some(0),
                (Some(p), KeyCode::Up) => Some((p + 1).min(n - 1)),
                (Some(0), KeyCode::Down) | (None, _) => None,
                (Some(p), _) => Some(p - 1),
            };
            shell.history_pos = pos;
            shell.input = pos
                .and_then(|p| shell.history.iter().rev().nth(p).cloned())
                .unwrap_or_default();
        }
        KeyCode::Char(ch) if !key.modifiers.contains(KeyModifiers::CONTROL) => shell.input.push(ch),
        _ => {}
    }
    Vec::new()
}

fn on_mouse(state: &mut State, mouse: MouseEvent) -> Vec<Effect> {
    if state.overlay.is_some() || state.prompt.is_some() {
        return Vec::new();
    }
    match mouse.kind {
        MouseEventKind::ScrollUp => move_selection(state, -1),
        MouseEventKind::ScrollDown => move_selection(state, 1),
        MouseEventKind::Down(MouseButton::Left) => {
            if let Some(row) = crate::ui::layout::row_at(state, mouse.column, mouse.row) {
                let nav = state.nav_mut();
                if nav.selected == row {
                    return apply(state, Action::Enter);
                }
                nav.selected = row;
            }
        }
        _ => {}
    }
    Vec::new()
}
