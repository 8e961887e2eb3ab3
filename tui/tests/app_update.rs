//! The state machine as data: feed messages to `update`, check the state and the effects.
//! Keys, mouse, prompts, the derived cluster facts (lag, write rate, elections) and alarms.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use common::*;
use zk_top::app::alarms::Severity;
use zk_top::app::{self, Effect, Health, Msg, Overlay, PromptKind, Role, State, View};

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    app::update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(state: &mut State, text: &str) {
    for ch in text.chars() {
        key(state, KeyCode::Char(ch));
    }
}

fn click(state: &mut State, column: u16, row: u16) -> Vec<Effect> {
    app::update(
        state,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

#[test]
fn hjkl_and_arrows_move_enter_drills_esc_goes_back() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Down);
    assert_eq!(state.overview.selected, 2);
    key(&mut state, KeyCode::Down);
    assert_eq!(
        state.overview.selected, 2,
        "selection stays on the last row"
    );
    key(&mut state, KeyCode::Char('k'));
    key(&mut state, KeyCode::Char('l'));
    assert_eq!(state.view, View::Cluster(1));
    key(&mut state, KeyCode::Char('h'));
    assert_eq!(state.view, View::Overview);
    key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Tab);
    assert_eq!(state.view, View::Cluster(2));
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.view, View::Overview);
    assert_eq!(key(&mut state, KeyCode::Char('q')), vec![Effect::Quit]);
}

#[test]
fn filter_narrows_rows_and_esc_clears_it() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('/'));
    typed(&mut state, "STAG");
    assert_eq!(
        state.prompt.as_ref().map(|p| p.kind),
        Some(PromptKind::Filter)
    );
    assert_eq!(app::rows::overview_rows(&state), vec![1]);
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.prompt, None);
    assert_eq!(
        app::rows::overview_rows(&state),
        vec![1],
        "Enter keeps the filter"
    );
    key(&mut state, KeyCode::Char('/'));
    key(&mut state, KeyCode::Esc);
    assert_eq!(app::rows::overview_rows(&state), vec![0, 1, 2]);
}

#[test]
fn s_cycles_sort_columns_and_capital_s_reverses() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('s'));
    assert_eq!(
        state.overview.sort_title(app::rows::OVERVIEW_SORTS),
        Some("CLUSTER")
    );
    assert_eq!(
        app::rows::overview_rows(&state),
        vec![2, 0, 1],
        "legacy, prod, staging"
    );
    key(&mut state, KeyCode::Char('S'));
    assert_eq!(app::rows::overview_rows(&state), vec![1, 0, 2]);
    key(&mut state, KeyCode::Char('s'));
    key(&mut state, KeyCode::Char('S'));
    assert_eq!(
        state.overview.sort_title(app::rows::OVERVIEW_SORTS),
        Some("HEALTH")
    );
    assert_eq!(app::rows::overview_rows(&state)[0], 2, "critical first");
    for _ in 1..app::rows::OVERVIEW_SORTS.len() {
        key(&mut state, KeyCode::Char('s'));
    }
    assert_eq!(
        state.overview.sort, None,
        "cycling ends at the configured order"
    );
}

#[test]
fn colon_jumps_to_a_cluster_by_prefix_with_tab_completion() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "leg");
    key(&mut state, KeyCode::Tab);
    assert_eq!(state.prompt.as_ref().unwrap().text, "legacy");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.view, View::Cluster(2));
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "nope");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.view, View::Cluster(2));
    assert!(state
        .notice
        .as_deref()
        .unwrap()
        .contains("no cluster named"));
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "shell");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.shell.as_ref().map(|s| s.cluster), Some(2));
}

#[test]
fn help_overlay_opens_with_question_mark_and_any_key_closes_it() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('?'));
    assert_eq!(state.overlay, Some(Overlay::Help));
    assert_eq!(
        key(&mut state, KeyCode::Char('q')),
        vec![],
        "q closes the help, not the program"
    );
    assert_eq!(state.overlay, None);
}

#[test]
fn shell_pane_sends_lines_and_keeps_history() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('!'));
    typed(&mut state, "ls /");
    let effects = key(&mut state, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::ShellCommand {
            cluster: 0,
            line: "ls /".to_string()
        }]
    );
    app::update(&mut state, Msg::ShellOutput(vec!["zookeeper".to_string()]));
    key(&mut state, KeyCode::Up);
    assert_eq!(state.shell.as_ref().unwrap().input, "ls /");
    assert!(state
        .shell
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .any(|l| l == "zookeeper"));
    key(&mut state, KeyCode::Esc);
    assert!(state.shell.is_none());
}

#[test]
fn mouse_click_selects_a_row_and_a_second_click_drills_down() {
    let mut state = fleet();
    state.size = (140, 30);
    // Title bar (row 0), table border (1), header (2), rows from 3.
    click(&mut state, 5, 5);
    assert_eq!(state.overview.selected, 2);
    click(&mut state, 5, 5);
    assert_eq!(state.view, View::Cluster(2));
    app::update(
        &mut state,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 5,
            row: 5,
            modifiers: KeyModifiers::NONE,
        }),
    );
}

#[test]
fn refresh_asks_the_loop_to_poll_now() {
    let mut state = fleet();
    assert_eq!(
        key(&mut state, KeyCode::Char('r')),
        vec![Effect::RefreshNow]
    );
}

/// Leader dies, the others look for a leader, a new one wins in a higher epoch: zk-top marks
/// the old leader down, raises and clears "no leader", and records the election.
#[test]
fn failover_is_recorded_as_an_election() {
    let specs = [spec("a", &["h1:1", "h2:1", "h3:1"])];
    let mut state = State::new(&specs, 1000);
    let e1 = 1u64 << 32;
    for t in 0..3 {
        poll(
            &mut state,
            t,
            0,
            0,
            up(sample("leader", e1 | (100 + t), MNTR_LEADER)),
        );
        poll(
            &mut state,
            t,
            0,
            1,
            up(sample("follower", e1 | (100 + t), MNTR_FOLLOWER)),
        );
        poll(
            &mut state,
            t,
            0,
            2,
            up(sample("follower", e1 | (99 + t), MNTR_FOLLOWER)),
        );
    }
    assert_eq!(state.clusters[0].leader, Some(0));
    assert_eq!(state.clusters[0].servers[2].lag_txns, Some(1));
    assert_eq!(state.clusters[0].writes_per_s, Some(1.0));
    let not_serving = zk_top::poll::Sample {
        not_serving: true,
        ..Default::default()
    };
    poll(&mut state, 3, 0, 0, down());
    poll(&mut state, 3, 0, 1, up(not_serving.clone()));
    poll(&mut state, 3, 0, 2, up(not_serving));
    assert_eq!(state.clusters[0].servers[1].role(), Role::Looking);
    assert_eq!(state.clusters[0].health, Health::Critical);
    assert!(state.clusters[0]
        .alarms
        .iter()
        .any(|a| a.text == "no leader"));
    let e2 = 2u64 << 32;
    poll(&mut state, 5, 0, 0, down());
    poll(
        &mut state,
        5,
        0,
        1,
        up(sample("follower", e1 | 102, MNTR_FOLLOWER)),
    );
    poll(&mut state, 5, 0, 2, up(sample("leader", e2, MNTR_LEADER)));
    let c = &state.clusters[0];
    assert_eq!(c.leader, Some(2));
    assert_eq!(c.health, Health::Warning, "one server down, quorum kept");
    assert!(c.alarms.iter().any(|a| a.text == "h1:1 down"));
    let election = c.last_election().unwrap();
    assert_eq!((election.from_epoch, election.to_epoch), (Some(1), 2));
    assert_eq!(election.leader, "h3:1");
    assert_eq!(election.leaderless_ms, Some(2000));
    let log: Vec<(bool, &str)> = state
        .alarm_log
        .iter()
        .map(|e| (e.raised, e.text.as_str()))
        .collect();
    assert!(
        log.contains(&(true, "no leader")) && log.contains(&(false, "no leader")),
        "{log:?}"
    );
}

/// A leader 2^32 - 10,000 transactions into its epoch, writing 100/s, has under two
/// minutes until Apache forces an election: the alarm says so.
#[test]
fn zxid_counter_near_two_to_the_32_forecasts_the_forced_election() {
    let specs = [spec("busy", &["h1:1"])];
    let mut state = State::new(&specs, 1000);
    let start = (3u64 << 32) | (0xffff_ffff - 10_000);
    for t in 0..5 {
        poll(
            &mut state,
            t,
            0,
            0,
            up(sample("standalone", start + 100 * t, MNTR_STANDALONE)),
        );
    }
    let alarm = state.clusters[0]
        .alarms
        .iter()
        .find(|a| a.key == "zxid-wrap")
        .expect("wrap alarm");
    assert_eq!(alarm.severity, Severity::Critical);
    assert!(
        alarm
            .text
            .contains("forced election in ~1m 36s at 100 writes/s"),
        "{}",
        alarm.text
    );
}

#[test]
fn thresholds_raise_lag_and_outstanding_alarms() {
    let mut specs = [spec("t", &["h1:1", "h2:1"])];
    specs[0].thresholds.lag_txns = 10;
    specs[0].thresholds.outstanding_requests = 5;
    let mut state = State::new(&specs, 1000);
    poll(&mut state, 0, 0, 0, up(sample("leader", 100, MNTR_LEADER)));
    let mut busy = sample("follower", 80, MNTR_FOLLOWER);
    busy.srvr =
        Some(zk_top::poll::parse::parse_srvr(&srvr_text("follower", 80, "0/2.0/9", 50)).unwrap());
    poll(&mut state, 0, 0, 1, up(busy));
    let texts: Vec<&str> = state.clusters[0]
        .alarms
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("h2:1 20 txns behind the leader")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("h2:1 50 outstanding requests")),
        "{texts:?}"
    );
}

/// One failed poll of a server that was up shows it down but raises no alarm; the second does.
#[test]
fn down_alarm_waits_for_a_second_failed_poll() {
    let specs = [spec("d", &["h1:1", "h2:1", "h3:1"])];
    let mut state = State::new(&specs, 1000);
    for s in 0..3 {
        let mode = if s == 0 { "leader" } else { "follower" };
        poll(&mut state, 0, 0, s, up(sample(mode, 5, MNTR_FOLLOWER)));
    }
    poll(&mut state, 1, 0, 2, down());
    assert_eq!(state.clusters[0].servers[2].role(), Role::Down);
    assert!(state.clusters[0].alarms.is_empty());
    poll(&mut state, 2, 0, 2, down());
    assert_eq!(state.clusters[0].alarms.len(), 1);
}
