//! Keys resolve to an [`Action`] first; `update` then carries the action out. The table
//! [`KEYS`] is the single list shown by the help overlay and the README.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for, independent of the current view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    NextCluster,
    PrevCluster,
    Filter,
    Command,
    Sort,
    SortReverse,
    Shell,
    Migrate,
    Refresh,
    Help,
    Quit,
}

/// Every key, as shown in the help overlay: (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    ("↑ k  ↓ j", "move the selection"),
    ("→ l  Enter", "drill down into the selected cluster"),
    (
        "← h  Esc",
        "back to the overview; close a prompt, pane or overlay",
    ),
    ("PgUp PgDn", "move the selection by a page"),
    ("g Home  G End", "first / last row"),
    ("Tab  Shift-Tab", "next / previous cluster (cluster view)"),
    ("/", "filter rows by name (Enter keeps it, Esc clears it)"),
    ("s  S", "sort by the next column / reverse the order"),
    (
        ":",
        "jump to a cluster by name; also :shell :overview :help :q",
    ),
    ("!", "shell pane: zksh commands on the selected cluster"),
    ("m", "migration wizard from the selected cluster"),
    ("r", "poll every server now"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
    (
        "mouse",
        "click selects a row, click it again to drill down, wheel scrolls",
    ),
];

/// The action bound to a key in the normal mode (no prompt, pane or overlay open).
pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Quit),
            KeyCode::Char('d') => Some(Action::PageDown),
            KeyCode::Char('u') => Some(Action::PageUp),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Enter => Action::Enter,
        KeyCode::Left | KeyCode::Char('h') | KeyCode::Esc => Action::Back,
        KeyCode::Tab => Action::NextCluster,
        KeyCode::BackTab => Action::PrevCluster,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char(':') => Action::Command,
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('S') => Action::SortReverse,
        KeyCode::Char('!') => Action::Shell,
        KeyCode::Char('m') => Action::Migrate,
        KeyCode::Char('r') => Action::Refresh,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('q') => Action::Quit,
        _ => return None,
    })
}
