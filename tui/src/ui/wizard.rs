//! The migration wizard's screens, drawn from [`Wizard`] over the main area.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph};
use ratatui::Frame;
use zk_shell::migrate::preflight::bytes;

use super::widgets::dim;
use crate::app::wizard::{Step, Wizard, STEPS};
use crate::app::State;

/// Draws the wizard into `area` (everything between the title bar and the footer).
pub fn draw(frame: &mut Frame, area: Rect, state: &State, w: &Wizard) {
    frame.render_widget(Clear, area);
    let name = |i: usize| state.clusters.get(i).map_or("?", |c| c.name.as_str());
    let (n, step) = w.step.title();
    let title = format!(
        " Migration {n}/{STEPS} · {step} · {} → {} ",
        name(w.source),
        name(w.destination)
    );
    let block = Block::bordered()
        .title(title)
        .border_style(Style::new().fg(Color::Magenta));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let [body, error, hints] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    match w.step {
        Step::Source | Step::Destination => choose(frame, body, state, w),
        Step::Preflight => preflight(frame, body, w),
        Step::Copy => copy(frame, body, w),
        Step::CatchUp => catch_up(frame, body, w),
        Step::Verify => verify(frame, body, w),
        Step::ConfirmCutover => confirm_cutover(frame, body, state, w),
        Step::ConfirmRollback => confirm_rollback(frame, body, state, w),
        Step::Done => done(frame, body, w),
    }
    if let Some(e) = &w.error {
        frame.render_widget(
            Paragraph::new(Span::styled(e.clone(), Style::new().fg(Color::Red))),
            error,
        );
    }
    frame.render_widget(Paragraph::new(Span::styled(hint(w), dim())), hints);
}

fn hint(w: &Wizard) -> String {
    let pause = if w.paused { "p resume" } else { "p pause" };
    match w.step {
        Step::Source => "↑/↓ cluster · Tab edit paths · Enter next · Esc cancel".into(),
        Step::Destination => "↑/↓ cluster · Tab edit prefix · Enter preflight · Esc back".into(),
        Step::Preflight if w.busy.is_some() => "Esc back".into(),
        Step::Preflight => {
            "Enter start the copy · ↑/↓ scroll · Esc back (nothing was written)".into()
        }
        Step::Copy => format!("{pause} · v verify · r roll back"),
        Step::CatchUp => format!("{pause} · v verify · c cut over · r roll back"),
        Step::Verify if w.busy.is_some() => "verifying...".into(),
        Step::Verify => "↑/↓ scroll · c cut over · r roll back · Esc back".into(),
        Step::ConfirmCutover | Step::ConfirmRollback => "y yes · n/Esc no".into(),
        Step::Done if w.busy.is_some() => "working...".into(),
        Step::Done => "v verify · r roll back · Esc close".into(),
    }
}

fn bold(text: impl Into<String>) -> Span<'static> {
    Span::styled(text.into(), Style::new().add_modifier(Modifier::BOLD))
}

fn choose(frame: &mut Frame, area: Rect, state: &State, w: &Wizard) {
    let source = w.step == Step::Source;
    let selected = if source { w.source } else { w.destination };
    let mut lines = vec![Line::from(bold(if source {
        "Copy from which cluster?"
    } else {
        "Copy to which cluster?"
    }))];
    for (i, c) in state.clusters.iter().enumerate() {
        let servers = state
            .specs
            .get(i)
            .map(|s| s.servers.join(","))
            .unwrap_or_default();
        let mark = if i == selected { "▶ " } else { "  " };
        let style = if i == selected && !w.editing {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::raw(mark),
            Span::styled(format!("{:<14}", c.name), style),
            Span::styled(format!(" {servers}"), dim()),
        ]));
    }
    lines.push(Line::from(""));
    let (label, value) = if source {
        ("Source paths (comma separated): ", &w.paths)
    } else {
        ("Destination prefix: ", &w.prefix)
    };
    let field_style = if w.editing {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().add_modifier(Modifier::UNDERLINED)
    };
    lines.push(Line::from(vec![
        bold(label),
        Span::styled(
            format!("{value}{}", if w.editing { "▏" } else { "" }),
            field_style,
        ),
    ]));
    if !source {
        let src = state
            .clusters
            .get(w.source)
            .map_or("?", |c| c.name.as_str());
        let dst = state
            .clusters
            .get(w.destination)
            .map_or("?", |c| c.name.as_str());
        let prefix = w.prefix.trim();
        for p in w.paths.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let to =
                zk_shell::migrate::paths::prefixed(if prefix.is_empty() { "/" } else { prefix }, p);
            lines.push(Line::from(Span::styled(
                format!("  {src}:{p} → {dst}:{to}"),
                dim(),
            )));
        }
        lines.push(Line::from(Span::styled(
            "  ephemerals skipped · ACLs preserved · existing destination nodes stop the copy",
            dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn report(frame: &mut Frame, area: Rect, text: &str, scroll: usize) {
    let lines: Vec<Line> = text
        .lines()
        .skip(scroll)
        .map(|l| Line::from(l.to_string()))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn busy(frame: &mut Frame, area: Rect, text: &str) {
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("… {text}"),
            Style::new().fg(Color::Yellow),
        )),
        area,
    );
}

fn preflight(frame: &mut Frame, area: Rect, w: &Wizard) {
    if let Some(b) = &w.busy {
        return busy(frame, area, b);
    }
    match &w.preflight {
        Some(Ok(r)) => report(frame, area, &r.to_text(), w.scroll),
        Some(Err(e)) => report(frame, area, &format!("preflight failed: {e}"), 0),
        None => {}
    }
}

fn log_tail(w: &Wizard, n: usize) -> Vec<Line<'static>> {
    w.log
        .tail(n)
        .map(|l| Line::from(Span::styled(l.clone(), dim())))
        .collect()
}

fn copy(frame: &mut Frame, area: Rect, w: &Wizard) {
    let [gauge, stats, log] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(area);
    let c = w.copy.clone().unwrap_or_default();
    let ratio = if c.nodes_total > 0 {
        (c.nodes as f64 / c.nodes_total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(format!("{:.0}%", ratio * 100.0))
            .gauge_style(Style::new().fg(Color::Magenta)),
        gauge,
    );
    let eta = c
        .eta_s
        .map(|s| format!(" · ETA {}m{:02}s", s / 60, s % 60))
        .unwrap_or_default();
    let state = if w.paused { "PAUSED · " } else { "" };
    let lines = vec![
        Line::from(vec![
            Span::styled(state.to_string(), Style::new().fg(Color::Yellow)),
            bold(format!("{} / {} nodes", c.nodes, c.nodes_total)),
            Span::raw(format!(
                " · {} · {:.0} nodes/s · {:.2} MB/s{eta}",
                bytes(c.bytes),
                c.nodes_per_s,
                c.bytes_per_s / 1e6
            )),
        ]),
        Line::from(Span::styled(
            "changes made meanwhile are recorded by a watch and applied in the catch-up",
            dim(),
        )),
    ];
    frame.render_widget(Paragraph::new(lines), stats);
    frame.render_widget(Paragraph::new(log_tail(w, usize::from(log.height))), log);
}

fn catch_up(frame: &mut Frame, area: Rect, w: &Wizard) {
    let l = w.lag.clone().unwrap_or_default();
    let (state, style) = match (w.paused, l.synced) {
        (true, _) => ("PAUSED", Style::new().fg(Color::Yellow)),
        (false, true) => ("IN SYNC", Style::new().fg(Color::Green)),
        (false, false) => ("CATCHING UP", Style::new().fg(Color::Yellow)),
    };
    let copied = w
        .copy
        .as_ref()
        .map(|c| format!("copied {} nodes, {}", c.nodes, bytes(c.bytes)))
        .unwrap_or_default();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(state, style.add_modifier(Modifier::BOLD)),
            Span::styled(format!("   {copied}"), dim()),
        ]),
        Line::from(vec![
            bold(format!("{:>8}", l.pending)),
            Span::raw(" changes pending   "),
            bold(format!("{:>6}", l.counters_pending)),
            Span::raw(" sequential counters to carry"),
        ]),
        Line::from(vec![
            bold(format!("{:>8}", l.zxid_lag())),
            Span::raw(format!(
                " transactions behind (source 0x{:x}, applied 0x{:x})",
                l.source_zxid, l.applied_zxid
            )),
        ]),
        Line::from(vec![
            bold(format!("{:>8}", l.oldest_ms)),
            Span::raw(" ms oldest pending change"),
        ]),
        Line::from(Span::styled(
            format!(
                "{} applied · {} watch events · {} dropped · {} sweeps",
                l.applied, l.events, l.events_dropped, l.sweeps
            ),
            dim(),
        )),
        Line::from(""),
    ];
    let room = usize::from(area.height).saturating_sub(lines.len());
    lines.extend(log_tail(w, room));
    frame.render_widget(Paragraph::new(lines), area);
}

fn verify(frame: &mut Frame, area: Rect, w: &Wizard) {
    if let Some(b) = &w.busy {
        return busy(frame, area, b);
    }
    match &w.verify {
        Some(Ok(r)) => {
            let color = if r.equal { Color::Green } else { Color::Red };
            let [head, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
            let text = r.to_text();
            let mut it = text.lines();
            frame.render_widget(
                Paragraph::new(Span::styled(
                    it.next().unwrap_or("").to_string(),
                    Style::new().fg(color).add_modifier(Modifier::BOLD),
                )),
                head,
            );
            let rest_text: Vec<&str> = it.collect();
            report(frame, rest, &rest_text.join("\n"), w.scroll);
        }
        Some(Err(e)) => report(frame, area, &format!("verification failed: {e}"), 0),
        None => {}
    }
}

fn confirm_cutover(frame: &mut Frame, area: Rect, state: &State, w: &Wizard) {
    let src = state
        .clusters
        .get(w.source)
        .map_or("?", |c| c.name.as_str());
    let dst = state
        .clusters
        .get(w.destination)
        .map_or("?", |c| c.name.as_str());
    let lines = vec![
        Line::from(bold(format!("Cut over from {src} to {dst}?"))),
        Line::from(""),
        Line::from(format!(
            "1. Fence writers off {src}: every migrated node gets a read-only ACL"
        )),
        Line::from("   (the original ACLs are kept in the checkpoint; rollback restores them)."),
        Line::from("2. Drain the last changes and verify both trees by digest."),
        Line::from(format!(
            "3. Show the connect string clients of {dst} should use."
        )),
        Line::from(""),
        Line::from(Span::styled(
            "Writers on the source get 'not authorized' from step 1 on.",
            Style::new().fg(Color::Yellow),
        )),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn confirm_rollback(frame: &mut Frame, area: Rect, state: &State, w: &Wizard) {
    let src = state
        .clusters
        .get(w.source)
        .map_or("?", |c| c.name.as_str());
    let dst = state
        .clusters
        .get(w.destination)
        .map_or("?", |c| c.name.as_str());
    let lines = vec![
        Line::from(bold("Roll the migration back?")),
        Line::from(""),
        Line::from("1. Stop copying and catching up."),
        Line::from(format!("2. Lift the fence on {src} (restore the original ACLs), if any.")),
        Line::from(format!(
            "3. Delete from {dst} every node the migration created (nodes that were there before stay)."
        )),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn done(frame: &mut Frame, area: Rect, w: &Wizard) {
    if let Some(b) = &w.busy {
        let [top, log] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
        busy(frame, top, b);
        frame.render_widget(Paragraph::new(log_tail(w, usize::from(log.height))), log);
        return;
    }
    let mut lines = Vec::new();
    if let Some(c) = &w.cutover {
        lines.push(Line::from(Span::styled(
            "Cut over. Clients should now connect to:",
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from(bold(format!("  {}", c.connect))));
        lines.push(Line::from(format!(
            "{} source nodes fenced read-only · {} nodes verified equal",
            c.fenced_nodes, c.verify.nodes_source
        )));
        lines.push(Line::from(Span::styled(
            "Clients whose ephemerals were skipped re-create them when they reconnect.",
            dim(),
        )));
    }
    if let Some(r) = &w.rollback {
        lines.push(Line::from(Span::styled(
            "Rolled back.",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from(format!(
            "{} ACLs restored on the source · {} nodes removed from the destination",
            r.acls_restored, r.nodes_removed
        )));
    }
    lines.push(Line::from(""));
    let room = usize::from(area.height).saturating_sub(lines.len());
    lines.extend(log_tail(w, room));
    frame.render_widget(Paragraph::new(lines), area);
}
