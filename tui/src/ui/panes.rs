//! The bottom panes: the alarm log, the embedded shell and the footer.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::widgets::{dim, severity_style};
use crate::app::{PromptKind, State};
use crate::units;

/// The newest alarm events, newest at the bottom.
pub fn alarm_log(frame: &mut Frame, area: Rect, state: &State) {
    let active: usize = state.clusters.iter().map(|c| c.alarms.len()).sum();
    let block = Block::bordered().title(format!(" Alarm log ({active} active) "));
    let height = usize::from(area.height.saturating_sub(2));
    let lines: Vec<Line> = if state.alarm_log.is_empty() {
        vec![Line::from(Span::styled("no alarm so far", dim()))]
    } else {
        state
            .alarm_log
            .tail(height)
            .map(|e| {
                let (mark, style) = if e.raised {
                    ("RAISED ", severity_style(e.severity))
                } else {
                    ("cleared", Style::new().fg(Color::Green))
                };
                Line::from(vec![
                    Span::styled(format!("{} ", units::clock(e.at.unix_ms)), dim()),
                    Span::styled(format!("{mark} "), style),
                    Span::styled(
                        format!("{:<12} ", e.cluster),
                        Style::new().add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(e.text.clone(), if e.raised { style } else { Style::new() }),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The embedded shell: output above, the input line at the bottom.
pub fn shell(frame: &mut Frame, area: Rect, state: &State) {
    let Some(shell) = &state.shell else { return };
    let name = state
        .clusters
        .get(shell.cluster)
        .map_or("?", |c| c.name.as_str());
    let block = Block::bordered()
        .title(format!(" zksh: {name} "))
        .border_style(Style::new().fg(Color::Cyan));
    let height = usize::from(area.height.saturating_sub(3));
    let mut lines: Vec<Line> = shell
        .lines
        .tail(height)
        .map(|l| Line::from(l.clone()))
        .collect();
    lines.push(Line::from(vec![
        Span::styled(format!("{name}> "), Style::new().fg(Color::Cyan)),
        Span::raw(shell.input.clone()),
        Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
    ]));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The prompt, or the key hints and the latest notice.
pub fn footer(frame: &mut Frame, area: Rect, state: &State) {
    let line = match &state.prompt {
        Some(p) => {
            let lead = match p.kind {
                PromptKind::Filter => "/",
                PromptKind::Command => ":",
            };
            Line::from(vec![
                Span::styled(lead, Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(p.text.clone()),
                Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            ])
        }
        None => {
            let key = Style::new().fg(Color::Black).bg(Color::Cyan);
            let mut spans = Vec::new();
            for (k, what) in [
                ("?", "help"),
                ("↵", "drill"),
                ("esc", "back"),
                ("/", "filter"),
                ("s", "sort"),
                (":", "jump"),
                ("!", "shell"),
                ("m", "migrate"),
                ("q", "quit"),
            ] {
                spans.push(Span::styled(format!(" {k} "), key));
                spans.push(Span::raw(format!(" {what} ")));
            }
            if let Some(notice) = &state.notice {
                spans.push(Span::styled(
                    format!(" {notice}"),
                    Style::new().fg(Color::Yellow),
                ));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}
