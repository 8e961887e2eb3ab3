//! The cluster view: a summary, one row per server, the selected server's detail with
//! sparklines, and the election history.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::layout::{scroll_offset, table_body, Areas, HINT_LINES_MAX};
use super::widgets::{
    dim, fit, header, health_style, or_dash, pick, role_style, selected_style, spark, Column,
};
use crate::app::alarms::wrap_forecast_s;
use crate::app::model::ServerStatus;
use crate::app::{rows, ClusterState, Role, ServerState, State};
use crate::units;
use crate::zxid::COUNTER_MAX;

fn columns(cluster: &ClusterState) -> [Column; 13] {
    let addr_w = cluster
        .servers
        .iter()
        .map(|s| s.addr.chars().count())
        .max()
        .unwrap_or(0);
    let col = |title, width: usize, priority| Column {
        title,
        width: width as u16,
        priority,
    };
    [
        col("SERVER", addr_w.max(6), 0),
        col("MODE", 10, 0),
        col("ZXID", 13, 0),
        col("LAG", 13, 1),
        col("LATENCY", 12, 2),
        col("OUTST", 5, 2),
        col("CONNS", 5, 3),
        col("ZNODES", 7, 3),
        col("WATCHES", 7, 4),
        col("DATA", 7, 4),
        col("PKTS IN/OUT", 13, 5),
        col("UPTIME", 8, 5),
        col("SRC", 9, 3),
    ]
}

pub fn draw(frame: &mut Frame, areas: &Areas, state: &State, c: usize) {
    let cluster = &state.clusters[c];
    if let Some(summary) = areas.summary {
        draw_summary(frame, summary, state, c);
    }
    draw_table(frame, areas.table, state, cluster, c);
    if let Some(detail) = areas.detail {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(detail);
        draw_server_detail(frame, left, state, cluster);
        draw_elections(frame, right, cluster);
    }
}

/// The distinct "change this setting" hints of the cluster's servers, as `server: hint`.
pub fn hint_lines(state: &State, c: usize) -> Vec<String> {
    let Some(cluster) = state.clusters.get(c) else {
        return Vec::new();
    };
    let mut lines: Vec<String> = Vec::new();
    for s in &cluster.servers {
        for hint in s.sample().map(|x| x.hints.as_slice()).unwrap_or_default() {
            let text = hint.text();
            if let Some(line) = lines.iter_mut().find(|l| l.ends_with(&text)) {
                // Same advice for several servers: name them once.
                let (names, _) = line.split_once(": ").unwrap_or_default();
                *line = format!("{names}, {}: {text}", s.addr);
            } else {
                lines.push(format!("{}: {text}", s.addr));
            }
        }
    }
    lines
}

fn draw_summary(frame: &mut Frame, area: Rect, state: &State, c: usize) {
    let cl = &state.clusters[c];
    let leader = match (cl.leader_server(), cl.leader_count) {
        (_, n) if n > 1 => Span::styled(
            format!("{n} servers claim leadership"),
            Style::new().fg(Color::Red),
        ),
        (Some(l), _) if l.role() == Role::Standalone => {
            Span::styled(format!("{} (standalone)", l.addr), role_style(l.role()))
        }
        (Some(l), _) => Span::styled(l.addr.clone(), role_style(l.role())),
        (None, _) => Span::styled("no leader", Style::new().fg(Color::Red)),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} ", cl.health.as_str()), health_style(cl.health)),
        Span::raw("leader "),
        leader,
        Span::raw(format!(
            "  epoch {}  zxid {}  {}/{} up (quorum {})  writes/s {}",
            or_dash(cl.leader_zxid.map(|z| z.epoch())),
            or_dash(cl.leader_zxid),
            cl.up_count(),
            cl.servers.len(),
            cl.majority(),
            cl.writes_per_s.map_or_else(|| "-".to_string(), units::rate),
        )),
    ])];
    let election = match cl.last_election() {
        Some(e) => {
            let ago = units::duration_ms(state.now.mono_ms.saturating_sub(e.at.mono_ms));
            match e.from_epoch {
                Some(from) => format!(
                    "last election {} ({ago} ago): epoch {from} → {}",
                    units::clock(e.at.unix_ms),
                    e.to_epoch
                ),
                None => format!(
                    "leader first seen {} ({ago} ago) in epoch {}",
                    units::clock(e.at.unix_ms),
                    e.to_epoch
                ),
            }
        }
        None => "no election seen".to_string(),
    };
    let wrap = match cl.leader_zxid {
        Some(z) => {
            let used = f64::from(z.counter()) / COUNTER_MAX as f64 * 100.0;
            match wrap_forecast_s(cl) {
                Some(s) => format!(
                    "zxid counter {used:.2}% of 2^32, forced election in ~{}",
                    units::duration_s(s)
                ),
                None => format!("zxid counter {used:.2}% of 2^32, no writes"),
            }
        }
        None => "zxid counter -".to_string(),
    };
    lines.push(Line::from(format!("{election} │ {wrap}")));
    for hint in hint_lines(state, c).into_iter().take(HINT_LINES_MAX) {
        lines.push(Line::from(Span::styled(
            hint,
            Style::new().fg(Color::Yellow),
        )));
    }
    let block = Block::bordered().title(format!(" Cluster {} ", cl.name));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_table(frame: &mut Frame, area: Rect, state: &State, cluster: &ClusterState, c: usize) {
    let nav = &state.servers;
    let visible = rows::server_rows(state, c);
    let columns = columns(cluster);
    let kept = fit(&columns, area.width.saturating_sub(2));
    let rows: Vec<Row> = visible
        .iter()
        .map(|&s| Row::new(pick(cells(&cluster.servers[s]), &kept)))
        .collect();
    let widths: Vec<Constraint> = kept
        .iter()
        .map(|&i| Constraint::Length(columns[i].width))
        .collect();
    let titles: Vec<&str> = kept.iter().map(|&i| columns[i].title).collect();
    let filter = if nav.filter.is_empty() {
        String::new()
    } else {
        format!(" filter: {} ", nav.filter)
    };
    let block = Block::bordered()
        .title(" Servers ")
        .title(Line::from(filter).right_aligned());
    let sorted = nav.sort_title(rows::SERVER_SORTS);
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

fn cells(s: &ServerState) -> Vec<Cell<'static>> {
    let role = s.role();
    let mode = Cell::from(Span::styled(role.as_str(), role_style(role)));
    let Some(sample) = s.sample() else {
        let mut cells = vec![Cell::from(s.addr.clone()), mode];
        cells.extend((2..13).map(|_| Cell::from(Span::styled("-", dim()))));
        return cells;
    };
    let lag = s.lag_txns.map(|lag| match s.lag_s {
        Some(secs) if lag > 0 => format!("{lag} ~{}", units::duration_s(secs)),
        _ => lag.to_string(),
    });
    let latency = sample
        .latency()
        .map(|l| format!("{}/{:.1}/{}", l.min_ms, l.avg_ms, l.max_ms));
    let packets = match (sample.received(), sample.sent()) {
        (Some(r), Some(t)) => format!("{}/{}", units::count(r), units::count(t)),
        _ => "-".to_string(),
    };
    vec![
        Cell::from(s.addr.clone()),
        mode,
        Cell::from(or_dash(s.zxid())),
        Cell::from(or_dash(lag)),
        Cell::from(or_dash(latency)),
        Cell::from(or_dash(sample.outstanding())),
        Cell::from(or_dash(sample.connections())),
        Cell::from(or_dash(sample.znodes().map(units::count))),
        Cell::from(or_dash(sample.metric(|m| m.watch_count).map(units::count))),
        Cell::from(or_dash(
            sample.metric(|m| m.data_size_bytes).map(units::bytes),
        )),
        Cell::from(packets),
        Cell::from(or_dash(
            sample.metric(|m| m.uptime_ms).map(units::duration_ms),
        )),
        Cell::from(sample.source_label()),
    ]
}

fn draw_server_detail(frame: &mut Frame, area: Rect, state: &State, cluster: &ClusterState) {
    let block = Block::bordered().title(" Server ");
    let Some(s) = state.selected_server().map(|i| &cluster.servers[i]) else {
        frame.render_widget(Paragraph::new("no server selected").block(block), area);
        return;
    };
    let spark_w = usize::from(area.width.saturating_sub(28)).max(4);
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("{} ", s.addr)),
        Span::styled(s.role().as_str(), role_style(s.role())),
    ])];
    match &s.status {
        ServerStatus::Unknown => lines.push(Line::from("not polled yet")),
        ServerStatus::Down { error, since } => {
            lines.push(Line::from(Span::styled(
                format!(
                    "down since {} ({}): {error}",
                    units::clock(since.unix_ms),
                    units::duration_ms(state.now.mono_ms.saturating_sub(since.mono_ms))
                ),
                Style::new().fg(Color::Red),
            )));
        }
        ServerStatus::Up(sample) => {
            let peer = sample.metric(|m| m.peer_state.clone()).unwrap_or_default();
            let version = sample.version().unwrap_or("?");
            let version = version.split([',', '-']).next().unwrap_or(version);
            lines.push(Line::from(format!(
                "{peer}{}version {version}, data via {}, poll {} ms",
                if peer.is_empty() { "" } else { " · " },
                sample.source_label(),
                s.poll_ms
            )));
            let fds = match sample.metric(|m| Some((m.open_fds?, m.max_fds?))) {
                Some((open, max)) => format!("fds {open}/{max}"),
                None => "fds -".to_string(),
            };
            lines.push(Line::from(format!(
                "sessions {} · ephemerals {} · {fds}{}",
                or_dash(sample.metric(|m| m.global_sessions)),
                or_dash(sample.metric(|m| m.ephemerals_count)),
                match (
                    sample.metric(|m| m.learners),
                    sample.metric(|m| m.synced_followers)
                ) {
                    (Some(l), Some(f)) => format!(" · learners {l}, synced followers {f}"),
                    _ => String::new(),
                }
            )));
        }
    }
    let last = |v: Option<&f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    lines.push(Line::from(vec![
        Span::raw(format!("{:<13}", "latency ms")),
        Span::styled(
            spark(s.latency_history.iter(), spark_w),
            Style::new().fg(Color::Cyan),
        ),
        Span::raw(format!(" {}", last(s.latency_history.last()))),
    ]));
    lines.push(Line::from(vec![
        Span::raw(format!("{:<13}", "lag txns")),
        Span::styled(
            spark(s.lag_history.iter(), spark_w),
            Style::new().fg(Color::Magenta),
        ),
        Span::raw(format!(
            " {}",
            last(s.lag_history.last()).trim_end_matches(".0")
        )),
    ]));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_elections(frame: &mut Frame, area: Rect, cluster: &ClusterState) {
    let block = Block::bordered().title(" Elections ");
    let lines: Vec<Line> = if cluster.elections.is_empty() {
        vec![Line::from(Span::styled("none seen yet", dim()))]
    } else {
        cluster
            .elections
            .iter()
            .rev()
            .map(|e| {
                let took = match (e.leaderless_ms, e.election_ms) {
                    (Some(gap), Some(el)) => format!(
                        ", {} leaderless (election {})",
                        units::duration_ms(gap),
                        units::duration_ms(el)
                    ),
                    (Some(gap), None) => format!(" · {} without leader", units::duration_ms(gap)),
                    (None, Some(el)) => format!(" · election {}", units::duration_ms(el)),
                    (None, None) => String::new(),
                };
                let epochs = match e.from_epoch {
                    Some(from) => format!("epoch {from}→{}", e.to_epoch),
                    None => format!("epoch {} (first seen)", e.to_epoch),
                };
                Line::from(format!(
                    "{} {epochs} {}{took}",
                    units::clock(e.at.unix_ms),
                    e.leader
                ))
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
