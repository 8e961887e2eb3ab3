//! Goal: `watch` streams the changes under a path as they happen, each with a zxid, and stops
//! after `-n` events.
//! Method: run `watch -n 3 /w` while a second client creates, changes and deletes nodes under
//! /w; compare the events with the zxids the writer's own replies reported.

mod common;

use std::time::Duration;

use common::apache::{available, Apache};
use zk_proto::{Acl, CreateMode};
use zk_shell::client::{Client, ClientOptions};
use zk_shell::clusters::ClusterList;
use zk_shell::commands::{Collect, Output, Shell, ShellOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t25_watch_streams_events_with_zxids() {
    if !available("t25_watch") {
        return;
    }
    let zk = Apache::standalone();
    let writer = Client::connect(&zk.connect_string(), ClientOptions::default())
        .await
        .unwrap();
    writer
        .create("/w", None, Acl::open_unsafe(), CreateMode::Persistent, None)
        .await
        .unwrap();
    let mut shell = Shell::new(ClusterList::default(), ShellOptions::default());
    shell.connect(&zk.connect_string(), None).await.unwrap();

    let mut fe = Collect::default();
    let watching = shell.run_line("watch -n 3 -t 20 /w", &mut fe);
    let writes = async {
        // Give the watch time to be registered on its own session.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, st) = writer
            .create(
                "/w/a",
                Some(b"1".to_vec()),
                Acl::open_unsafe(),
                CreateMode::Persistent,
                None,
            )
            .await
            .unwrap();
        // Apache 3.8 sends no zxid with events; watch reads it from the node's stat, which
        // needs the node to still be in that state when the event is handled.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let st2 = writer
            .set_data("/w/a", Some(b"2".to_vec()), -1)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer.delete("/w/a", -1).await.unwrap();
        (st.czxid, st2.mzxid)
    };
    let (r, (created, changed)) = tokio::join!(watching, writes);
    r.unwrap();
    let events: Vec<String> = fe.outputs.iter().skip(1).map(Output::to_text).collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(
        events[0],
        format!("WATCHER:: [main] 0x{created:x} NodeCreated /w/a")
    );
    assert_eq!(
        events[1],
        format!("WATCHER:: [main] 0x{changed:x} NodeDataChanged /w/a")
    );
    assert!(events[2].ends_with("NodeDeleted /w/a"), "{}", events[2]);
}
