//! Drawing: a pure function of [`State`]. Nothing here changes state, reads a clock or does
//! I/O, so every screen can be rendered on ratatui's `TestBackend` from a state fixture.

pub mod cluster;
pub mod layout;
pub mod overlay;
pub mod overview;
pub mod panes;
pub mod widgets;
pub mod wizard;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{Overlay, State, View};
use crate::units;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &State) {
    let area = frame.area();
    if area.width < 20 || area.height < 8 {
        frame.render_widget(Paragraph::new("zk-top: terminal too small"), area);
        return;
    }
    let areas = layout::areas(area, state);
    title_bar(frame, areas.title, state);
    match state.view {
        View::Overview => overview::draw(frame, areas.table, state),
        View::Cluster(c) => cluster::draw(frame, &areas, state, c),
    }
    panes::alarm_log(frame, areas.log, state);
    if let Some(shell) = areas.shell {
        panes::shell(frame, shell, state);
    }
    panes::footer(frame, areas.footer, state);
    if let Some(w) = &state.migration {
        let top = areas.title.bottom();
        let body = Rect {
            x: area.x,
            y: top,
            width: area.width,
            height: areas.footer.y.saturating_sub(top),
        };
        wizard::draw(frame, body, state, w);
    }
    match &state.overlay {
        Some(Overlay::Help) => overlay::help(frame, area),
        Some(Overlay::Notice { title, text }) => overlay::notice(frame, area, title, text),
        None => {}
    }
}

fn title_bar(frame: &mut Frame, area: Rect, state: &State) {
    let servers: usize = state.clusters.iter().map(|c| c.servers.len()).sum();
    let up: usize = state.clusters.iter().map(|c| c.up_count()).sum();
    let alarms: usize = state.clusters.iter().map(|c| c.alarms.len()).sum();
    let where_ = match state.view {
        View::Overview => "overview".to_string(),
        View::Cluster(c) => format!("cluster {}", state.clusters[c].name),
    };
    let bar = Style::new().bg(Color::Blue).fg(Color::White);
    let mut spans = vec![
        Span::styled(" zk-top ", bar.add_modifier(Modifier::BOLD)),
        Span::styled(
            format!(
                "│ {where_} │ {} │ {up}/{servers} servers up │ ",
                plural(state.clusters.len(), "cluster")
            ),
            bar,
        ),
    ];
    let alarm_style = if alarms > 0 {
        bar.fg(Color::LightRed).add_modifier(Modifier::BOLD)
    } else {
        bar
    };
    spans.push(Span::styled(plural(alarms, "alarm"), alarm_style));
    spans.push(Span::styled(
        format!(
            " │ every {} │ {} UTC ",
            units::duration_ms(state.interval_ms),
            units::clock(state.now.unix_ms)
        ),
        bar,
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
