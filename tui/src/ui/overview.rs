//! The overview: one row per cluster.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::layout::{scroll_offset, table_body};
use super::widgets::{
    dim, fit, header, health_style, or_dash, pick, selected_style, severity_style, spark, Column,
};
use crate::app::{rows, ClusterState, State};
use crate::units;

/// Width of the throughput sparkline.
const SPARK_W: u16 = 20;
/// Narrowest the alarm column gets before it is dropped; it takes whatever is left.
const ALARMS_W_MIN: u16 = 24;

fn columns(state: &State, visible: &[usize]) -> [Column; 9] {
    let name_w = visible
        .iter()
        .map(|&c| state.clusters[c].name.chars().count())
        .max()
        .unwrap_or(0);
    let leader_w = visible
        .iter()
        .filter_map(|&c| {
            state.clusters[c]
                .leader_server()
                .map(|s| s.addr.chars().count())
        })
        .max()
        .unwrap_or(0);
    let col = |title, width: usize, priority| Column {
        title,
        width: width as u16,
        priority,
    };
    [
        col("CLUSTER", name_w.max(7), 0),
        col("HEALTH", 6, 0),
        col("LEADER", leader_w.max(10), 1),
        col("UP", 5, 0),
        col("ZXID", 13, 1),
        col("WRITES/S", 8, 2),
        col("WORST LAG", 10, 2),
        col("THROUGHPUT", SPARK_W as usize, 4),
        col("ALARMS", ALARMS_W_MIN as usize, 3),
    ]
}

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
    let columns = columns(state, &visible);
    let kept = fit(&columns, area.width.saturating_sub(2));
    let rows: Vec<Row> = visible
        .iter()
        .map(|&c| Row::new(pick(cells(&state.clusters[c]), &kept)))
        .collect();
    let widths: Vec<Constraint> = kept
        .iter()
        .map(|&i| match columns[i].title {
            "ALARMS" => Constraint::Fill(1),
            _ => Constraint::Length(columns[i].width),
        })
        .collect();
    let titles: Vec<&str> = kept.iter().map(|&i| columns[i].title).collect();
    let sorted = nav.sort_title(rows::OVERVIEW_SORTS);
    let table = Table::new(rows, widths)
        .header(header(&titles, sorted, nav.descending))
        .block(block)
        .row_highlight_style(selected_style());
    let body = table_body(area);
    let mut ts = TableState::default()
        .with_selected(Some(nav.selected))
        .with_offset(scroll_offset(nav.selected, body.height));
    frame.render_stateful_widget(table, area, &mut ts);
}

fn cells(c: &ClusterState) -> Vec<Cell<'static>> {
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
    vec![
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
    ]
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
