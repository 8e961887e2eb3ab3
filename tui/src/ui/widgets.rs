//! Small drawing helpers: text sparklines, colours, table headers.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row};

use crate::app::alarms::Severity;
use crate::app::{Health, Role};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The newest `width` values as block characters, scaled from 0 to their maximum. An all-zero
/// history is a flat baseline.
pub fn spark<'a>(
    values: impl DoubleEndedIterator<Item = &'a f64> + ExactSizeIterator,
    width: usize,
) -> String {
    let skip = values.len().saturating_sub(width);
    let shown: Vec<f64> = values.skip(skip).map(|v| v.max(0.0)).collect();
    let max = shown.iter().copied().fold(0.0_f64, f64::max);
    shown
        .iter()
        .map(|v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

pub fn health_style(h: Health) -> Style {
    match h {
        Health::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Health::Warning => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Health::Ok => Style::new().fg(Color::Green),
        Health::Unknown => Style::new().fg(Color::DarkGray),
    }
}

pub fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Severity::Warning => Style::new().fg(Color::Yellow),
    }
}

pub fn role_style(r: Role) -> Style {
    match r {
        Role::Leader | Role::Standalone => {
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        }
        Role::Follower => Style::new(),
        Role::Observer => Style::new().fg(Color::Blue),
        Role::ReadOnly | Role::Looking => Style::new().fg(Color::Yellow),
        Role::Down => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Role::Unknown => Style::new().fg(Color::DarkGray),
    }
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn selected_style() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// A header row; the sorted column gets an arrow.
pub fn header<'a>(titles: &[&'a str], sorted: Option<&str>, descending: bool) -> Row<'a> {
    Row::new(titles.iter().map(|t| {
        if Some(*t) == sorted {
            let arrow = if descending { "▲" } else { "▼" };
            Cell::from(Span::styled(
                format!("{t}{arrow}"),
                Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ))
        } else {
            Cell::from(Span::styled(*t, Style::new().add_modifier(Modifier::BOLD)))
        }
    }))
}

/// A table column: header, width in cells, and importance (0 = shown first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub title: &'static str,
    pub width: u16,
    pub priority: u8,
}

/// The columns that fit in `available` cells (one cell between columns), dropping the least
/// important first and keeping the order, so a narrow terminal loses the packet counters
/// before it loses the server address.
pub fn fit(columns: &[Column], available: u16) -> Vec<usize> {
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| (columns[i].priority, i));
    let mut used = 0u16;
    let mut kept = Vec::with_capacity(columns.len());
    for i in order {
        let need = columns[i].width + u16::from(!kept.is_empty());
        if used + need <= available {
            used += need;
            kept.push(i);
        }
    }
    kept.sort_unstable();
    kept
}

/// Keeps the cells of the kept columns.
pub fn pick<T>(cells: Vec<T>, kept: &[usize]) -> Vec<T> {
    cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| kept.contains(i))
        .map(|(_, c)| c)
        .collect()
}

/// `value` or a dash.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_tables_drop_the_least_important_columns() {
        let cols = [
            Column {
                title: "A",
                width: 10,
                priority: 0,
            },
            Column {
                title: "B",
                width: 10,
                priority: 2,
            },
            Column {
                title: "C",
                width: 5,
                priority: 1,
            },
        ];
        assert_eq!(fit(&cols, 100), [0, 1, 2]);
        assert_eq!(fit(&cols, 20), [0, 2]);
        assert_eq!(fit(&cols, 9), [2]);
        assert_eq!(pick(vec!['a', 'b', 'c'], &[0, 2]), ['a', 'c']);
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        let v = [0.0, 1.0, 2.0, 4.0];
        assert_eq!(spark(v.iter(), 10), "▁▃▅█");
        assert_eq!(spark(v.iter(), 2), "▅█");
        assert_eq!(spark([0.0, 0.0].iter(), 5), "▁▁");
        assert_eq!(spark([].iter(), 5), "");
    }
}
