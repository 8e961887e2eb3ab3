//! The migration wizard, step by step: each screen rendered on `TestBackend` from a state
//! driven by keys and by the engine messages a real migration sends, and compared with a
//! committed snapshot. Also checks what each key asks of the run loop: nothing before the
//! preflight, nothing when Esc goes back before the copy starts, and the right commands after.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use zk_shell::migrate::digest::DiffKind;
use zk_shell::migrate::preflight::{
    ClusterReport, Finding, SequentialParent, ServerReport, SubtreeReport,
};
use zk_shell::migrate::{
    CopyProgress, CutoverReport, Difference, Lag, Phase, PreflightReport, Progress, RollbackReport,
    VerifyReport,
};

use common::*;
use zk_top::app::wizard::{MigrationCmd, MigrationMsg, Step};
use zk_top::app::{self, Effect, Msg, State};

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    app::update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

fn msg(state: &mut State, m: MigrationMsg) {
    app::update(state, Msg::Migration(Box::new(m)));
}

/// The one migration command among `fx`.
fn cmd(fx: &[Effect]) -> &MigrationCmd {
    match fx {
        [Effect::Migration(c)] => c,
        other => panic!("expected one migration command, got {other:?}"),
    }
}

fn progress(state: &mut State, p: Progress) {
    msg(state, MigrationMsg::Progress(p));
}

fn screen(state: &State) -> String {
    redact(&text(&render(state, 110, 32)))
}

fn step(state: &State) -> Step {
    state.migration.as_ref().expect("wizard open").step
}

fn cluster(label: &str, connect: &str, version: &str, zxid: &str) -> ClusterReport {
    ClusterReport {
        label: label.into(),
        connect: connect.into(),
        reachable: true,
        error: None,
        servers: connect
            .split(',')
            .map(|h| ServerReport {
                host: h.into(),
                version: version.into(),
                mode: "follower".into(),
                zxid: Some(zxid.into()),
                error: None,
            })
            .collect(),
        latency_ms: 0.42,
        reads_per_s: 21000.0,
        znodes: Some(1306),
        data_bytes: Some(48211),
    }
}

fn preflight_report() -> PreflightReport {
    PreflightReport {
        source: cluster(
            "prod",
            "10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181",
            "3.8.0",
            "0x50000e4c",
        ),
        destination: cluster("staging", "10.0.1.1:2181", "3.8.0", "0x2f"),
        subtrees: vec![SubtreeReport {
            source: "/app".into(),
            destination: "/app".into(),
            nodes: 50_000,
            bytes: 23_456_789,
            exact: true,
            parts: vec![
                ("/app/jobs".into(), 41_200, 20_100_000),
                ("/app/config".into(), 8_799, 3_356_789),
            ],
        }],
        nodes: 50_000,
        bytes: 23_456_789,
        largest_node_bytes: 512_000,
        ephemerals: Finding {
            count: 2,
            examples: vec!["/app/workers/w-1".into(), "/app/workers/w-2".into()],
        },
        sequential_parents: vec![SequentialParent {
            path: "/app/queue".into(),
            next_suffix: 1207,
            children: 12,
        }],
        counters_to_carry: 1,
        unreadable: Finding::default(),
        locked_on_destination: Finding::default(),
        conflicts: Finding::default(),
        estimated_s: 14.2,
        notes: vec!["container and TTL nodes are copied as persistent nodes".into()],
        problems: Vec::new(),
    }
}

/// The wizard opened from `prod` with /app chosen and `staging` as destination, at the
/// preflight step with its report.
fn at_preflight() -> State {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Backspace);
    typed(&mut state, "/app");
    key(&mut state, KeyCode::Enter);
    let fx = key(&mut state, KeyCode::Enter);
    assert!(matches!(cmd(&fx), MigrationCmd::Preflight(_)), "{fx:?}");
    msg(
        &mut state,
        MigrationMsg::Preflight(Ok(Box::new(preflight_report()))),
    );
    state
}

fn copying() -> State {
    let mut state = at_preflight();
    let fx = key(&mut state, KeyCode::Enter);
    assert!(matches!(cmd(&fx), MigrationCmd::Start(_)), "{fx:?}");
    progress(
        &mut state,
        Progress::Phase {
            phase: Phase::Copying,
        },
    );
    progress(
        &mut state,
        Progress::Copy(CopyProgress {
            nodes: 21_500,
            nodes_total: 50_000,
            bytes: 10_100_000,
            nodes_per_s: 7166.0,
            bytes_per_s: 3_366_000.0,
            eta_s: Some(4),
            elapsed_ms: 3000,
        }),
    );
    state
}

fn catching_up() -> State {
    let mut state = copying();
    progress(
        &mut state,
        Progress::Note {
            text: "copy done: 50000 nodes, 23456789 bytes in 7.0 s (7142 nodes/s, 3.35 MB/s); 2 ephemerals skipped".into(),
        },
    );
    progress(
        &mut state,
        Progress::Phase {
            phase: Phase::CatchingUp,
        },
    );
    progress(
        &mut state,
        Progress::Lag(Lag {
            pending: 12,
            counters_pending: 1,
            source_zxid: 0x5000_0f10,
            applied_zxid: 0x5000_0f02,
            oldest_ms: 35,
            applied: 1840,
            events: 1852,
            events_dropped: 0,
            sweeps: 3,
            synced: false,
        }),
    );
    state
}

#[test]
fn wizard_source_step() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('m'));
    assert_eq!(step(&state), Step::Source);
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Backspace);
    typed(&mut state, "/app,/config");
    insta::assert_snapshot!("wizard_1_source", screen(&state));
}

#[test]
fn wizard_destination_step() {
    let mut state = fleet();
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Backspace);
    typed(&mut state, "/app");
    key(&mut state, KeyCode::Enter);
    assert_eq!(step(&state), Step::Destination);
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Backspace);
    typed(&mut state, "/from-prod");
    insta::assert_snapshot!("wizard_2_destination", screen(&state));
}

#[test]
fn wizard_preflight_step() {
    let state = at_preflight();
    assert_eq!(step(&state), Step::Preflight);
    insta::assert_snapshot!("wizard_3_preflight", screen(&state));
}

#[test]
fn wizard_copy_step() {
    let state = copying();
    assert_eq!(step(&state), Step::Copy);
    insta::assert_snapshot!("wizard_4_copy", screen(&state));
}

#[test]
fn wizard_catch_up_step() {
    let state = catching_up();
    assert_eq!(step(&state), Step::CatchUp);
    insta::assert_snapshot!("wizard_5_catch_up", screen(&state));
}

#[test]
fn wizard_verify_step() {
    let mut state = catching_up();
    let fx = key(&mut state, KeyCode::Char('v'));
    assert!(matches!(cmd(&fx), MigrationCmd::Verify(_)), "{fx:?}");
    let d = |p: &str, kind| Difference {
        source: p.into(),
        destination: p.into(),
        kind,
    };
    msg(
        &mut state,
        MigrationMsg::Verified(Ok(VerifyReport {
            equal: false,
            nodes_source: 50_000,
            nodes_destination: 50_001,
            compared: 64,
            differences: vec![
                d("/app/cfg/limits", DiffKind::Data),
                d("/app/secrets", DiffKind::Acl),
                d("/app/tmp/stray", DiffKind::OnlyDestination),
            ],
            elapsed_ms: 2300,
        })),
    );
    insta::assert_snapshot!("wizard_6_verify", screen(&state));
    // Esc goes back to the catch-up screen.
    key(&mut state, KeyCode::Esc);
    assert_eq!(step(&state), Step::CatchUp);
}

#[test]
fn wizard_cutover_confirm_and_done() {
    let mut state = catching_up();
    assert!(key(&mut state, KeyCode::Char('c')).is_empty());
    assert_eq!(step(&state), Step::ConfirmCutover);
    insta::assert_snapshot!("wizard_7_confirm_cutover", screen(&state));
    let fx = key(&mut state, KeyCode::Char('y'));
    assert!(matches!(cmd(&fx), MigrationCmd::Cutover(_)), "{fx:?}");
    msg(
        &mut state,
        MigrationMsg::CutOver(Ok(Some(CutoverReport {
            connect: "10.0.1.1:2181".into(),
            fenced_nodes: 49_998,
            verify: VerifyReport {
                equal: true,
                nodes_source: 49_998,
                nodes_destination: 49_998,
                compared: 1,
                differences: Vec::new(),
                elapsed_ms: 2100,
            },
            reverse: false,
        }))),
    );
    msg(
        &mut state,
        MigrationMsg::RunEnded(Ok(zk_shell::migrate::Outcome::Stopped)),
    );
    assert_eq!(step(&state), Step::Done);
    insta::assert_snapshot!("wizard_8_done", screen(&state));
    key(&mut state, KeyCode::Esc);
    assert!(state.migration.is_none());
}

#[test]
fn wizard_rollback_confirm() {
    let mut state = copying();
    key(&mut state, KeyCode::Char('r'));
    assert_eq!(step(&state), Step::ConfirmRollback);
    insta::assert_snapshot!("wizard_7_confirm_rollback", screen(&state));
    let fx = key(&mut state, KeyCode::Char('y'));
    assert!(matches!(cmd(&fx), MigrationCmd::Rollback(_)), "{fx:?}");
    msg(
        &mut state,
        MigrationMsg::RolledBack(Ok(RollbackReport {
            acls_restored: 0,
            nodes_removed: 21_500,
            kept: false,
        })),
    );
    let s = screen(&state);
    assert!(s.contains("21500 nodes removed"), "{s}");
}

/// Until the copy starts, Esc walks back without asking the run loop for anything; the
/// preflight only reads.
#[test]
fn esc_goes_back_without_side_effects_until_the_copy_starts() {
    let mut state = at_preflight();
    assert!(key(&mut state, KeyCode::Esc).is_empty());
    assert_eq!(step(&state), Step::Destination);
    assert!(key(&mut state, KeyCode::Esc).is_empty());
    assert_eq!(step(&state), Step::Source);
    assert!(key(&mut state, KeyCode::Esc).is_empty());
    assert!(state.migration.is_none());
    // After the copy started, Esc says what to do instead and changes nothing.
    let mut state = copying();
    assert!(key(&mut state, KeyCode::Esc).is_empty());
    assert_eq!(step(&state), Step::Copy);
    let fx = key(&mut state, KeyCode::Char('p'));
    assert_eq!(cmd(&fx), &MigrationCmd::Pause);
    progress(&mut state, Progress::Paused);
    let fx = key(&mut state, KeyCode::Char('p'));
    assert_eq!(cmd(&fx), &MigrationCmd::Resume);
}

/// The plan the wizard builds is what the operator chose.
#[test]
fn the_plan_follows_the_choices() {
    let mut state = fleet();
    key(&mut state, KeyCode::Down);
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Backspace);
    typed(&mut state, "/app, /config/");
    key(&mut state, KeyCode::Enter);
    // Destination: move from the proposed next cluster (legacy) to prod.
    key(&mut state, KeyCode::Down);
    let fx = key(&mut state, KeyCode::Enter);
    let MigrationCmd::Preflight(plan) = cmd(&fx) else {
        panic!("{fx:?}")
    };
    assert_eq!(plan.source.label, "staging");
    assert_eq!(plan.destination.label, "prod");
    assert_eq!(
        plan.destination.connect,
        "10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181"
    );
    assert_eq!(plan.paths, vec!["/app", "/config"]);
    assert_eq!(plan.prefix, "/");
    // A bad path is refused on the destination step.
    let mut state = fleet();
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Tab);
    key(&mut state, KeyCode::Backspace);
    typed(&mut state, "app");
    key(&mut state, KeyCode::Enter);
    assert!(key(&mut state, KeyCode::Enter).is_empty());
    let s = screen(&state);
    assert!(s.contains("not an absolute path"), "{s}");
}
