//! The overview: one row per cluster.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::layout::{scroll_offset, table_body};
use super::widgets::{dim, header, health_style, or_dash, selected_style, severity_style, spark};
use crate::app::{rows, ClusterState, State};
use crate::units;

const TITLES: [&str; 9] = [
    "CLUSTER",
    "HEALTH",
    "LEADER",
    "UP",
    "ZXID",
    "WRITES/S",
    "WORST LAG",
    "THROUGHPUT",
    "ALARMS",
];
/// Width of the throughput sparkline.
const SPARK_W: u16 = 20;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let nav = &state.overview;
    let filter = if nav.filter.is_empty() {
        String::new()
    } else {
        format!(" filter: {} ", nav.filter)
    };
    let block = Block::bordered()
        .title(" Clusters ")
        .title(Line::from(filter).right_aligned());
    if state.clusters.is_empty() {
        frame.render_widget(empty_text(state).block(block), area);
        return;
    }
    let visible = rows::overview_rows(state);
    let rows: Vec<Row> = visible.iter().map(|&c| row(&state.clusters[c])).collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(21),
        Constraint::Length(5),
        Constraint::Length(13),
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(SPARK_W),
        Constraint::Fill(1),
    ];
    let sorted = nav.sort_title(rows::OVERVIEW_SORTS);
    let table = Table::new(rows, widths)
        .header(header(&TITLES, sorted, nav.descending))
        .block(block)
        .row_highlight_style(selected_style());
    let body = table_body(area);
    let mut ts = TableState::default()
        .with_selected(Some(nav.selected))
        .with_offset(scroll_offset(nav.selected, body.height));
    frame.render_stateful_widget(table, area, &mut ts);
}

fn row(c: &ClusterState) -> Row<'static> {
    let leader = match (c.leader_server(), c.leader_count) {
        (_, n) if n > 1 => format!("{n} leaders!"),
        (Some(l), _) => l.addr.clone(),
        (None, _) => "none".to_string(),
    };
    let lag = c.worst_lag().map(|lag| {
        let secs = c
            .servers
            .iter()
            .filter(|s| s.lag_txns == Some(lag))
            .find_map(|s| s.lag_s)
            .filter(|_| lag > 0)
            .map(|s| format!(" ~{}", units::duration_s(s)))
            .unwrap_or_default();
        format!("{lag}{secs}")
    });
    let alarm = match c.alarms.first() {
        Some(first) if c.alarms.len() > 1 => Span::styled(
            format!("{}; +{} more", first.text, c.alarms.len() - 1),
            severity_style(first.severity),
        ),
        Some(first) => Span::styled(first.text.clone(), severity_style(first.severity)),
        None => Span::styled("-", dim()),
    };
    Row::new(vec![
        Cell::from(c.name.clone()),
        Cell::from(Span::styled(c.health.as_str(), health_style(c.health))),
        Cell::from(leader),
        Cell::from(format!("{}/{}", c.up_count(), c.servers.len())),
        Cell::from(or_dash(c.leader_zxid)),
        Cell::from(c.writes_per_s.map_or_else(|| "-".to_string(), units::rate)),
        Cell::from(or_dash(lag)),
        Cell::from(Span::styled(
            spark(c.throughput_history.iter(), usize::from(SPARK_W)),
            dim(),
        )),
        Cell::from(alarm),
    ])
}

fn empty_text(state: &State) -> Paragraph<'static> {
    let mut lines = vec![
        Line::from("No cluster to watch."),
        Line::from(""),
        Line::from("Name clusters on the command line:  zk-top prod=10.0.0.1:2181,10.0.0.2:2181 staging=10.0.1.1:2181"),
        Line::from("or list them in clusters.toml (zk-top --help says where)."),
    ];
    if let Some(notice) = &state.notice {
        lines.push(Line::from(""));
        lines.push(Line::from(notice.clone()));
    }
    Paragraph::new(lines).wrap(Wrap { trim: false })
}
