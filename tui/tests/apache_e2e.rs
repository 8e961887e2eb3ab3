//! The real `zk-top` binary, in tmux, watching real Apache ZooKeeper 3.8: a 3-server
//! ensemble, a standalone server and an address where nothing listens. The test reads the
//! screen like an operator would, then kills the leader and waits for the screen to show the
//! failover. Durations are never asserted: every wait is a generous poll of the screen.

mod common;

use std::time::Duration;

use common::apache::{free_port, mode_and_zxid, prerequisites, Ensemble};
use common::tmux::Tmux;

const STARTUP: Duration = Duration::from_secs(90);
const SCREEN: Duration = Duration::from_secs(30);
const FAILOVER: Duration = Duration::from_secs(90);

/// The screen line that shows `addr` in the server table.
fn line_of<'a>(screen: &'a str, addr: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(&format!("│{addr} ")))
}

fn zxid_text(zxid: u64) -> String {
    format!("{}:{}", zxid >> 32, zxid & 0xffff_ffff)
}

#[test]
fn ensembles_standalone_and_dead_server_then_leader_failover() {
    if !prerequisites(true) {
        return;
    }
    let mut a = Ensemble::start(3, &["4lw.commands.whitelist=*"], false);
    let b = Ensemble::start(1, &["4lw.commands.whitelist=*"], false);
    let dead = free_port();
    a.wait_ready(STARTUP);
    b.wait_ready(STARTUP);

    let log = tempfile::tempdir().unwrap();
    let command = format!(
        "{} a={} b={} c=127.0.0.1:{dead} --interval 500ms --log-file {}",
        env!("CARGO_BIN_EXE_zk-top"),
        a.connect_string(),
        b.connect_string(),
        log.path().join("zk-top.log").display()
    );
    let tmux = Tmux::start(
        &format!("zktop-e2e-{}", std::process::id()),
        &command,
        200,
        50,
    );

    // Overview: one row per cluster, with the leader, servers up and the leader's zxid.
    let leader = a.leader().expect("ensemble a has a leader");
    let leader_addr = a.servers[leader].addr();
    let standalone = b.servers[0].addr();
    let screen = tmux.wait_for("the overview of a, b and c", SCREEN, |s| {
        let row = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(&format!("│{name} ")))
                .unwrap_or("")
        };
        row("a").contains(&leader_addr)
            && row("a").contains("3/3")
            && row("b").contains(&standalone)
            && row("b").contains("1/1")
            && row("c").contains("0/1")
            && row("c").contains("CRIT")
    });
    let (_, zxid_b) = mode_and_zxid(b.servers[0].client_port).unwrap();
    assert!(
        screen.contains(&zxid_text(zxid_b)),
        "standalone zxid on screen\n{screen}"
    );
    assert!(
        screen.contains("127.0.0.1:") && screen.contains("down"),
        "{screen}"
    );

    // The shell pane runs zksh commands on the standalone cluster; the write shows up as a
    // new zxid.
    tmux.keys(&[":", "b", "Enter", "!"]);
    tmux.wait_for("the shell pane", SCREEN, |s| s.contains("zksh: b"));
    tmux.keys(&["create /zktop hello", "Enter"]);
    tmux.wait_for("the create", SCREEN, |s| s.contains("Created /zktop"));
    tmux.keys(&["get /zktop", "Enter"]);
    tmux.wait_for("the data read back", SCREEN, |s| {
        s.lines().any(|l| l.trim_matches(['│', ' ']) == "hello")
    });
    let (_, zxid_after) = mode_and_zxid(b.servers[0].client_port).unwrap();
    assert!(zxid_after > zxid_b, "the create is a transaction");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the new zxid of b", SCREEN, |s| {
        s.contains(&zxid_text(zxid_after))
    });

    // Cluster view of a: one leader, two followers, each with its zxid.
    tmux.keys(&[":", "a", "Enter"]);
    let screen = tmux.wait_for("cluster a with its leader and followers", SCREEN, |s| {
        a.servers.iter().all(|srv| {
            let Some(line) = line_of(s, &srv.addr()) else {
                return false;
            };
            let Some((mode, zxid)) = mode_and_zxid(srv.client_port) else {
                return false;
            };
            line.contains(&mode) && line.contains(&zxid_text(zxid))
        })
    });
    let modes: Vec<&str> = a
        .servers
        .iter()
        .map(|s| line_of(&screen, &s.addr()).unwrap())
        .collect();
    assert_eq!(
        modes.iter().filter(|l| l.contains(" leader ")).count(),
        1,
        "{screen}"
    );
    assert_eq!(
        modes.iter().filter(|l| l.contains(" follower ")).count(),
        2,
        "{screen}"
    );

    // Kill the leader by PID; the screen must show it down and another server leading.
    let old_epoch = mode_and_zxid(a.servers[leader].client_port).unwrap().1 >> 32;
    a.servers[leader].kill();
    let screen = tmux.wait_for("the old leader down and a new leader", FAILOVER, |s| {
        let old_down = line_of(s, &leader_addr).is_some_and(|l| l.contains(" down "));
        let new_leader = a
            .servers
            .iter()
            .filter(|srv| srv.addr() != leader_addr)
            .any(|srv| line_of(s, &srv.addr()).is_some_and(|l| l.contains(" leader ")));
        old_down && new_leader
    });
    let new_leader = a.leader().expect("a new leader");
    assert_ne!(a.servers[new_leader].addr(), leader_addr);
    assert!(
        line_of(&screen, &a.servers[new_leader].addr())
            .unwrap()
            .contains(" leader "),
        "{screen}"
    );
    // The election history names the epoch change and the new leader.
    let screen = tmux.wait_for("the election in the history", SCREEN, |s| {
        s.lines().any(|l| {
            l.contains(&format!("epoch {old_epoch}→")) && l.contains(&a.servers[new_leader].addr())
        })
    });
    assert!(
        screen.contains("127.0.0.1") && screen.contains("down"),
        "{screen}"
    );
    println!("{screen}");

    // q quits and the terminal is handed back.
    tmux.keys(&["q"]);
    tmux.wait_for("zk-top to exit", SCREEN, |s| !s.contains("zk-top │"));
}
