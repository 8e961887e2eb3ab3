//! The migration wizard end to end: the real `zk-top` binary in tmux, two standalone Apache
//! ZooKeeper 3.8 servers, every step driven by keys as an operator would: `m` on the source
//! cluster, the path, the destination, the preflight report, the copy, the catch-up until it
//! is in sync, a verification, the cutover. Then a client checks the destination's copy and
//! that the source is fenced. Waits are generous polls of the screen; durations are never
//! asserted.

mod common;

use std::time::Duration;

use common::apache::{prerequisites, Ensemble};
use common::tmux::Tmux;
use zk_proto::{Acl, CreateMode};
use zk_shell::client::{Client, ClientOptions};

const STARTUP: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(120);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn wizard_migrates_a_subtree_between_two_apache_servers() {
    if !prerequisites(true) {
        return;
    }
    let a = Ensemble::start(1, &["4lw.commands.whitelist=*"], false);
    let b = Ensemble::start(1, &["4lw.commands.whitelist=*"], false);
    a.wait_ready(STARTUP);
    b.wait_ready(STARTUP);
    let (src, dst) = (a.connect_string(), b.connect_string());
    rt().block_on(async {
        let c = Client::connect(&src, ClientOptions::default())
            .await
            .unwrap();
        let open = Acl::open_unsafe();
        c.create(
            "/app",
            Some(b"root".to_vec()),
            open.clone(),
            CreateMode::Persistent,
            None,
        )
        .await
        .unwrap();
        c.create("/app/q", None, open.clone(), CreateMode::Persistent, None)
            .await
            .unwrap();
        for i in 0..200 {
            c.create(
                &format!("/app/n{i:03}"),
                Some(format!("v{i}").into_bytes()),
                open.clone(),
                CreateMode::Persistent,
                None,
            )
            .await
            .unwrap();
        }
        // A sequential parent whose counter is ahead of its children.
        for _ in 0..5 {
            let (p, _) = c
                .create(
                    "/app/q/job-",
                    None,
                    open.clone(),
                    CreateMode::PersistentSequential,
                    None,
                )
                .await
                .unwrap();
            if !p.ends_with('4') {
                c.delete(&p, -1).await.unwrap();
            }
        }
        c.close().await;
    });

    let state = tempfile::tempdir().unwrap();
    let command = format!(
        "env XDG_STATE_HOME={} {} old={src} new={dst} --interval 500ms --log-file {}",
        state.path().display(),
        env!("CARGO_BIN_EXE_zk-top"),
        state.path().join("zk-top.log").display()
    );
    let tmux = Tmux::start(
        &format!("zktop-wizard-{}", std::process::id()),
        &command,
        160,
        48,
    );
    tmux.wait_for("the overview", STEP, |s| {
        s.contains("old") && s.contains("new") && s.contains("1/1")
    });

    // Step 1: from `old` (selected), path /app.
    tmux.keys(&["m"]);
    tmux.wait_for("the source step", STEP, |s| {
        s.contains("Migration 1/7 · source · old")
    });
    tmux.keys(&["Tab", "BSpace", "/", "a", "p", "p", "Enter"]);
    // Step 2: to `new`, prefix /.
    tmux.wait_for("the destination step", STEP, |s| {
        s.contains("Migration 2/7") && s.contains("old:/app → new:/app")
    });
    tmux.keys(&["Enter"]);
    // Step 3: the preflight report.
    let screen = tmux.wait_for("the preflight report", STEP, |s| {
        s.contains("preflight passed")
    });
    assert!(screen.contains("/q next suffix 0000000005"), "{screen}");
    // Steps 4 and 5: copy, then catch up until in sync.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the catch-up in sync", STEP, |s| {
        s.contains("Migration 5/7") && s.contains("IN SYNC")
    });
    // Step 6: verification.
    tmux.keys(&["v"]);
    tmux.wait_for("the verification", STEP, |s| {
        s.contains("verified: 203 nodes equal")
    });
    // Step 7: cutover.
    tmux.keys(&["c"]);
    tmux.wait_for("the cutover question", STEP, |s| {
        s.contains("Cut over from old to new?")
    });
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the cutover", STEP, |s| {
        s.contains("Clients should now connect to:")
    });
    assert!(screen.contains(&dst), "{screen}");

    rt().block_on(async {
        let d = Client::connect(&dst, ClientOptions::default())
            .await
            .unwrap();
        let kids = d.get_children("/app", false).await.unwrap().children;
        assert_eq!(kids.len(), 201);
        let (p, _) = d
            .create(
                "/app/q/job-",
                None,
                Acl::open_unsafe(),
                CreateMode::PersistentSequential,
                None,
            )
            .await
            .unwrap();
        assert_eq!(p, "/app/q/job-0000000005");
        // The source is fenced: this client comes from the migrator's address, which the
        // fence names, so check through a node's ACL instead of a refused write.
        let s = Client::connect(&src, ClientOptions::default())
            .await
            .unwrap();
        let (acl, _) = s.get_acl("/app/n007").await.unwrap();
        assert!(
            acl.iter().any(|e| e.id.scheme == "world" && e.perms == 1),
            "{acl:?}"
        );
        let e = s.exists("/app/zzz", false).await.unwrap();
        assert!(e.is_none());
        s.close().await;
        d.close().await;
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the wizard closed", STEP, |s| !s.contains("Migration 7/7"));
}
