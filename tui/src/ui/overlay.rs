//! Boxes drawn over the screen: the help and notices.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::keys::KEYS;

/// A rectangle of at most `width` x `height` centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// Every key and what it does.
pub fn help(frame: &mut Frame, area: Rect) {
    let key_w = KEYS
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("  {k:<key_w$}"),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        "  LAG: transactions a server is behind the leader's zxid, and the",
    ));
    lines.push(Line::from(
        "  estimated seconds to catch up at the leader's current write rate.",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "  any key closes this help",
        Style::new().add_modifier(Modifier::DIM),
    )));
    let box_area = centered(area, 78, lines.len() as u16 + 2);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        box_area,
    );
}

/// A message with a title.
pub fn notice(frame: &mut Frame, area: Rect, title: &str, text: &str) {
    let lines: Vec<Line> = text.lines().map(|l| Line::from(l.to_string())).collect();
    let width = text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 4;
    let box_area = centered(area, width.max(30), lines.len() as u16 + 4);
    frame.render_widget(Clear, box_area);
    let mut lines = lines;
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "any key closes this",
        Style::new().add_modifier(Modifier::DIM),
    )));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" {title} "))),
        box_area,
    );
}
