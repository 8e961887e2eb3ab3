//! Screens rendered from state fixtures on ratatui's `TestBackend` and compared with
//! committed snapshots. The fixtures are built by feeding poll results made from real Apache
//! 3.8 replies through `update`, so the snapshots show what an operator would see.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

use common::*;
use zk_top::app::{self, Health, Msg, View};

fn key(state: &mut zk_top::app::State, code: KeyCode) {
    app::update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn overview() {
    let state = fleet();
    assert_eq!(state.clusters[0].health, Health::Warning);
    assert_eq!(state.clusters[1].health, Health::Ok);
    assert_eq!(state.clusters[2].health, Health::Critical);
    insta::assert_snapshot!("overview", redact(&text(&render(&state, 140, 30))));
}

#[test]
fn cluster_view() {
    let mut state = fleet();
    key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Down);
    assert_eq!(state.view, View::Cluster(0));
    insta::assert_snapshot!("cluster_view", redact(&text(&render(&state, 140, 40))));
}

#[test]
fn cluster_view_names_the_missing_setting() {
    let mut state = fleet();
    key(&mut state, KeyCode::Down);
    key(&mut state, KeyCode::Enter);
    let screen = text(&render(&state, 140, 30));
    assert!(
        screen.contains("4lw.commands.whitelist=srvr,mntr"),
        "{screen}"
    );
    assert!(screen.contains("4lw+admin"), "{screen}");
}

#[test]
fn help_overlay() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('?'));
    let screen = redact(&text(&render(&state, 100, 34)));
    for (keys, _) in zk_top::app::keys::KEYS {
        let first = keys.split_whitespace().next().unwrap();
        assert!(screen.contains(first), "help lacks {keys}\n{screen}");
    }
    insta::assert_snapshot!("help_overlay", screen);
    key(&mut state, KeyCode::Char('x'));
    assert_eq!(state.overlay, None);
}

/// Two servers claiming leadership is the worst state a cluster can be in: the alarm must
/// be on the overview, in red, and in the log.
#[test]
fn alarm_two_leaders() {
    let specs = [spec(
        "split",
        &["10.9.0.1:2181", "10.9.0.2:2181", "10.9.0.3:2181"],
    )];
    let mut state = zk_top::app::State::new(&specs, 1000);
    poll(
        &mut state,
        0,
        0,
        0,
        up(sample("leader", 7 << 32 | 10, MNTR_LEADER)),
    );
    poll(
        &mut state,
        0,
        0,
        1,
        up(sample("leader", 8 << 32, MNTR_LEADER)),
    );
    poll(
        &mut state,
        0,
        0,
        2,
        up(sample("follower", 8 << 32, MNTR_FOLLOWER)),
    );
    assert_eq!(state.clusters[0].health, Health::Critical);
    let buffer = render(&state, 120, 16);
    let screen = redact(&text(&buffer));
    insta::assert_snapshot!("alarm_two_leaders", screen);
    // The alarm text in the overview row is drawn in red.
    let (x, y) = find(&text(&buffer), "2 servers claim leadership").expect("alarm on screen");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
}

#[test]
fn migration_wizard_and_shell_open() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('m'));
    let screen = text(&render(&state, 120, 30));
    assert!(screen.contains("Migration 1/7 · source · prod"), "{screen}");
    key(&mut state, KeyCode::Esc);
    assert!(state.migration.is_none());
    key(&mut state, KeyCode::Char('!'));
    assert!(state.shell.is_some());
    let screen = text(&render(&state, 120, 30));
    assert!(screen.contains("zksh: prod"), "{screen}");
}

#[test]
fn tiny_and_empty_screens_do_not_panic() {
    let state = fleet();
    for (w, h) in [(0, 0), (1, 1), (19, 7), (40, 10)] {
        render(&state, w, h);
    }
    let empty = zk_top::app::State::new(&[], 1000);
    let screen = text(&render(&empty, 100, 20));
    assert!(screen.contains("No cluster to watch"), "{screen}");
}

/// Position of `needle` in the rendered text, as buffer coordinates.
fn find(screen: &str, needle: &str) -> Option<(u16, u16)> {
    screen.lines().enumerate().find_map(|(y, line)| {
        line.find(needle)
            .map(|byte| (line[..byte].chars().count() as u16, y as u16))
    })
}

/// On an 80-column terminal the cluster view drops the least important columns, never the
/// server address, the mode or the zxid.
#[test]
fn narrow_terminal_keeps_the_essential_columns() {
    let mut state = fleet();
    state.size = (80, 30);
    key(&mut state, KeyCode::Enter);
    let screen = text(&render(&state, 80, 30));
    let row = screen
        .lines()
        .find(|l| l.contains("10.0.0.2:2181 "))
        .expect("server row");
    assert!(
        row.contains("follower") && row.contains("5:2500") && row.contains("1500"),
        "{screen}"
    );
    assert!(!screen.contains("PKTS IN/OUT"), "{screen}");
}
