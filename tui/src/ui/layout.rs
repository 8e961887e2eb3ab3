//! Where each part of the screen goes. Pure functions of the terminal size and the state,
//! shared by drawing and by mouse hit-testing so that a click lands on the row it shows.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::{rows, State, View};

/// The parts of the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub title: Rect,
    /// Cluster summary (cluster view only).
    pub summary: Option<Rect>,
    pub table: Rect,
    /// Server detail and elections (cluster view only).
    pub detail: Option<Rect>,
    pub log: Rect,
    pub shell: Option<Rect>,
    pub footer: Rect,
}

/// Height of the server detail and election panes: five lines and the borders.
pub const DETAIL_H: u16 = 7;

/// Lines of hints shown in the cluster summary at most.
pub const HINT_LINES_MAX: usize = 4;

/// Splits the screen for the current view.
pub fn areas(area: Rect, state: &State) -> Areas {
    let shell_h = if state.shell.is_some() {
        (area.height / 3).max(5)
    } else {
        0
    };
    let log_h = (area.height / 5).clamp(3, 10);
    match state.view {
        View::Overview => {
            // The table takes what its rows need; the alarm log gets the rest.
            let rows = (rows::overview_rows(state).len() as u16).max(3);
            let [title, table, log, shell, footer] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Max(rows + 3),
                Constraint::Min(log_h),
                Constraint::Length(shell_h),
                Constraint::Length(1),
            ])
            .areas(area);
            Areas {
                title,
                summary: None,
                table,
                detail: None,
                log,
                shell: (shell_h > 0).then_some(shell),
                footer,
            }
        }
        View::Cluster(c) => {
            let servers = state.clusters.get(c).map_or(0, |c| c.servers.len()) as u16;
            let hints = super::cluster::hint_lines(state, c)
                .len()
                .min(HINT_LINES_MAX) as u16;
            let [title, summary, table, detail, log, shell, footer] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(4 + hints),
                Constraint::Max(servers + 3),
                Constraint::Length(DETAIL_H),
                Constraint::Min(log_h),
                Constraint::Length(shell_h),
                Constraint::Length(1),
            ])
            .areas(area);
            Areas {
                title,
                summary: Some(summary),
                table,
                detail: Some(detail),
                log,
                shell: (shell_h > 0).then_some(shell),
                footer,
            }
        }
    }
}

/// The rows of a bordered table with one header line.
pub fn table_body(table: Rect) -> Rect {
    Rect {
        x: table.x + 1,
        y: table.y + 2,
        width: table.width.saturating_sub(2),
        height: table.height.saturating_sub(3),
    }
}

/// The first visible row when `selected` must be visible in `height` rows.
pub fn scroll_offset(selected: usize, height: u16) -> usize {
    let height = usize::from(height.max(1));
    (selected + 1).saturating_sub(height)
}

/// The visible-row index under a click at (`x`, `y`), if the click is on a table row.
pub fn row_at(state: &State, x: u16, y: u16) -> Option<usize> {
    let area = Rect::new(0, 0, state.size.0, state.size.1);
    let body = table_body(areas(area, state).table);
    let inside = x >= body.x && x < body.right() && y >= body.y && y < body.bottom();
    if !inside {
        return None;
    }
    let (selected, count) = match state.view {
        View::Overview => (state.overview.selected, rows::overview_rows(state).len()),
        View::Cluster(c) => (state.servers.selected, rows::server_rows(state, c).len()),
    };
    let row = scroll_offset(selected, body.height) + usize::from(y - body.y);
    (row < count).then_some(row)
}
