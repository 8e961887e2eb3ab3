//! Goal: a zksh session survives losing its server. In a 3-node Apache ensemble, kill -9 the
//! server the shell is connected to; the shell must reconnect to another server within the
//! session timeout, keep its session (its ephemeral survives) and its watches (a one-shot data
//! watch and a persistent recursive watch, re-sent with setWatches2) must fire afterwards.
//! Method: the shell's command layer with a recording frontend, and a second client as the
//! outside observer that makes the changes.

mod common;

use std::time::Duration;

use common::apache::{available, Apache};
use zk_shell::client::{Client, ClientOptions, SessionState};
use zk_shell::clusters::ClusterList;
use zk_shell::commands::{Collect, Output, Shell, ShellOptions};

const SESSION_TIMEOUT_MS: i32 = 10_000;

async fn run(shell: &mut Shell, line: &str) {
    let mut fe = Collect::default();
    shell
        .run_line(line, &mut fe)
        .await
        .unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// Waits for the next event the shell would show, or fails after `secs`.
async fn next_event(shell: &mut Shell, secs: u64) -> Output {
    tokio::time::timeout(Duration::from_secs(secs), shell.next_event())
        .await
        .expect("an event in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t30_kill_connected_server_keeps_session_and_watches() {
    if !available("t30_reconnect") {
        return;
    }
    let mut zk = Apache::ensemble(3);
    let opts = ShellOptions {
        session_timeout_ms: SESSION_TIMEOUT_MS,
        yes: true,
    };
    let mut shell = Shell::new(ClusterList::default(), opts);
    shell.connect(&zk.connect_string(), None).await.unwrap();
    for line in [
        "create /r",
        "create -e /r/eph",
        "create /r/data v0",
        "get -w /r/data",
        "addWatch /r",
    ] {
        run(&mut shell, line).await;
    }
    let mut fe = Collect::default();
    shell.run_line("servers", &mut fe).await.unwrap();
    let table = fe.outputs[0].to_text();
    assert_eq!(table.matches(" leader ").count(), 1, "{table}");
    assert_eq!(table.matches(" follower ").count(), 2, "{table}");
    let client = shell.current().unwrap().client.clone();
    let session = client.session_id();
    let before = client.info().server.unwrap();
    let killed = zk.index_of(&before).unwrap();
    zk.kill(killed);

    // The shell reports the loss and the recovery, on another server, with the same session.
    let mut info = client.subscribe();
    let reconnected = tokio::time::timeout(
        Duration::from_millis(SESSION_TIMEOUT_MS as u64),
        info.wait_for(|i| {
            i.state == SessionState::Connected && i.server.as_deref() != Some(&before)
        }),
    )
    .await
    .expect("reconnected within the session timeout")
    .unwrap()
    .clone();
    assert_eq!(reconnected.session_id, session);
    let mut reported = Vec::new();
    reported.push(next_event(&mut shell, 5).await.to_text());
    reported.push(next_event(&mut shell, 5).await.to_text());
    assert_eq!(
        reported,
        ["[main] session Disconnected", "[main] session Connected"]
    );

    // The ephemeral is still there, seen from an outside client.
    let survivor = (0..3).find(|i| *i != killed).unwrap();
    let observer = Client::connect(&zk.host(survivor), ClientOptions::default())
        .await
        .unwrap();
    let eph = observer
        .exists("/r/eph", false)
        .await
        .unwrap()
        .expect("ephemeral survives");
    assert_eq!(eph.ephemeral_owner, session);

    // The one-shot data watch fires, then the recursive watch on a new child.
    observer
        .set_data("/r/data", Some(b"v1".to_vec()), -1)
        .await
        .unwrap();
    let ev = next_event(&mut shell, 10).await.to_text();
    assert!(ev.ends_with("NodeDataChanged /r/data"), "{ev}");
    observer
        .create(
            "/r/new",
            None,
            zk_proto::Acl::open_unsafe(),
            zk_proto::CreateMode::Persistent,
            None,
        )
        .await
        .unwrap();
    let ev = next_event(&mut shell, 10).await.to_text();
    assert!(ev.ends_with("NodeCreated /r/new"), "{ev}");

    // servers shows the dead one as down.
    let mut fe = Collect::default();
    shell.run_line("servers", &mut fe).await.unwrap();
    let table = fe.outputs[0].to_text();
    assert!(table.contains(&format!("{before}  down")), "{table}");

    // And the shell works as before on its new server.
    run(&mut shell, "set /r/data v2").await;
    let ev = next_event(&mut shell, 10).await.to_text();
    assert!(
        ev.ends_with("NodeDataChanged /r/data"),
        "persistent recursive watch: {ev}"
    );
    shell.close_all().await;
    assert!(observer.exists("/r/eph", false).await.unwrap().is_none());
}
