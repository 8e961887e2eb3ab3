//! Shared test support: state fixtures built from real Apache replies, rendering to text,
//! and (in submodules) the Apache ZooKeeper and tmux harnesses.
#![allow(dead_code)]

pub mod apache;
pub mod tmux;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use zk_top::app::{self, Clock, Msg, State};
use zk_top::config::{ClusterSpec, Thresholds};
use zk_top::poll::parse::{parse_mntr, parse_srvr};
use zk_top::poll::{Hint, Outcome, Polled, Sample, Source};

pub const MNTR_LEADER: &str = include_str!("../fixtures/mntr_leader3.txt");
pub const MNTR_FOLLOWER: &str = include_str!("../fixtures/mntr_follower2.txt");
pub const MNTR_STANDALONE: &str = include_str!("../fixtures/mntr_standalone.txt");

/// A `srvr` reply in Apache 3.8's exact format with the given mode and zxid.
pub fn srvr_text(mode: &str, zxid: u64, latency: &str, outstanding: u64) -> String {
    let mut text = format!(
        "Zookeeper version: 3.8.0-${{mvngit.commit.id}}, built on 2024-12-29 17:54 UTC\n\
         Latency min/avg/max: {latency}\nReceived: 5210\nSent: 5209\nConnections: 4\n\
         Outstanding: {outstanding}\nZxid: 0x{zxid:x}\nMode: {mode}\nNode count: 1306\n"
    );
    if mode == "leader" {
        text.push_str("Proposal sizes last/min/max: 48/48/202\n");
    }
    text
}

/// A sample as a 4lw poll of a healthy server would produce it.
pub fn sample(mode: &str, zxid: u64, mntr: &str) -> Sample {
    Sample {
        srvr: Some(parse_srvr(&srvr_text(mode, zxid, "0/1.2903/19", 0)).unwrap()),
        srvr_source: Some(Source::FourLw),
        mntr: Some(parse_mntr(mntr)),
        mntr_source: Some(Source::FourLw),
        ..Sample::default()
    }
}

pub fn spec(name: &str, servers: &[&str]) -> ClusterSpec {
    ClusterSpec {
        name: name.to_string(),
        servers: servers.iter().map(|s| s.to_string()).collect(),
        admin_url: None,
        thresholds: Thresholds::default(),
        cluster: None,
    }
}

/// A fixed clock `secs` after the test's epoch (2026-01-01 12:00:00 UTC).
pub fn at(secs: u64) -> Clock {
    Clock {
        mono_ms: secs * 1000,
        unix_ms: 1_767_268_800_000 + secs * 1000,
    }
}

pub fn poll(state: &mut State, secs: u64, cluster: usize, server: usize, outcome: Outcome) {
    app::update(state, Msg::Tick(at(secs)));
    app::update(
        state,
        Msg::Polled(Polled {
            cluster,
            server,
            outcome,
            elapsed_ms: 2,
        }),
    );
}

pub fn up(sample: Sample) -> Outcome {
    Outcome::Up(Box::new(sample))
}

pub fn down() -> Outcome {
    Outcome::Down("connection refused".to_string())
}

/// Three clusters seen for a minute: `prod` (3 servers, 60 writes/s, one follower lagging
/// past the threshold), `staging` (standalone, AdminServer fallback) and `legacy` (down).
pub fn fleet() -> State {
    let specs = [
        spec("prod", &["10.0.0.1:2181", "10.0.0.2:2181", "10.0.0.3:2181"]),
        spec("staging", &["10.0.1.1:2181"]),
        spec("legacy", &["10.0.2.1:2181"]),
    ];
    let mut state = State::new(&specs, 1000);
    state.size = (140, 40);
    let epoch = 5u64 << 32;
    for t in 0..=60u64 {
        let leader_counter = 400 + 60 * t;
        poll(
            &mut state,
            t,
            0,
            2,
            up(sample("leader", epoch | leader_counter, MNTR_LEADER)),
        );
        poll(
            &mut state,
            t,
            0,
            0,
            up(sample("follower", epoch | leader_counter, MNTR_FOLLOWER)),
        );
        let behind = if t > 30 { 1500 } else { 3 * t };
        poll(
            &mut state,
            t,
            0,
            1,
            up(sample(
                "follower",
                epoch | leader_counter.saturating_sub(behind),
                MNTR_FOLLOWER,
            )),
        );
        let mut staging = sample("standalone", 0x12f + t, MNTR_STANDALONE);
        staging.mntr_source = Some(Source::Admin);
        staging.hints = vec![Hint::MntrRefused { admin_used: true }];
        poll(&mut state, t, 1, 0, up(staging));
        poll(&mut state, t, 2, 0, down());
    }
    state
}

/// Renders the state on a `TestBackend` of the given size.
pub fn render(state: &State, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| zk_top::ui::draw(f, state)).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer's text, one line per row, trailing blanks removed.
pub fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Replaces wall-clock times (`12:34:56`) with `hh:mm:ss`: they differ from run to run on a
/// real screen, and a snapshot must not depend on them.
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if i + 8 <= chars.len() && is_clock(&chars[i..i + 8]) {
            out.push_str("hh:mm:ss");
            i += 8;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn is_clock(c: &[char]) -> bool {
    let d = |i: usize| c[i].is_ascii_digit();
    d(0) && d(1) && c[2] == ':' && d(3) && d(4) && c[5] == ':' && d(6) && d(7)
}
