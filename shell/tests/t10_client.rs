//! The client library against Apache ZooKeeper 3.8: every operation, errors in words, chroot,
//! watches, auth and pipelining. Each test starts its own standalone server.

mod common;

use common::apache::{available, Apache};
use zk_proto::ops::watcher_type;
use zk_proto::proto::{CheckVersionRequest, CreateRequest, DeleteRequest};
use zk_proto::{Acl, CreateMode, ErrorCode, MultiOp, OpCode};
use zk_shell::client::{event_channel, Client, ClientOptions, Event, EventType};

fn opts() -> ClientOptions {
    ClientOptions {
        session_timeout_ms: 10_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn t10_operations_errors_chroot_watches_and_pipelining() {
    if !available("t10_client") {
        return;
    }
    let zk = Apache::standalone();
    let (tx, mut events) = event_channel();
    let c = Client::connect(
        &zk.connect_string(),
        ClientOptions {
            events: Some(tx),
            ..opts()
        },
    )
    .await
    .unwrap();
    assert_ne!(c.session_id(), 0);
    let open = Acl::open_unsafe();

    // create / get / set / exists / children
    let (p, _) = c
        .create(
            "/a",
            Some(b"x".to_vec()),
            open.clone(),
            CreateMode::Persistent,
            None,
        )
        .await
        .unwrap();
    assert_eq!(p, "/a");
    let (seq, _) = c
        .create(
            "/a/s-",
            None,
            open.clone(),
            CreateMode::PersistentSequential,
            None,
        )
        .await
        .unwrap();
    assert_eq!(seq, "/a/s-0000000000");
    let d = c.get_data("/a", true).await.unwrap();
    assert_eq!(d.data.as_deref(), Some(&b"x"[..]));
    assert!(d.zxid.0 > 0);
    let st = c.set_data("/a", Some(b"y".to_vec()), 0).await.unwrap();
    assert_eq!(st.version, 1);
    // The data watch fires before the reply to the set that changed the node.
    let ev = events.try_recv().ok().map(|e| e.event);
    let mut saw = ev;
    while let Some(Event::State(_)) = saw {
        saw = events.try_recv().ok().map(|e| e.event);
    }
    match saw {
        Some(Event::Node(n)) => {
            assert_eq!(n.event_type, EventType::NodeDataChanged);
            assert_eq!(n.path, "/a");
        }
        other => panic!("expected a data event, got {other:?}"),
    }
    assert!(c.exists("/nope", false).await.unwrap().is_none());
    let kids = c.get_children("/a", false).await.unwrap();
    assert_eq!(kids.children, ["s-0000000000"]);
    assert_eq!(c.get_all_children_number("/a").await.unwrap(), 1);

    // errors carry the code and read as words
    let e = c.get_data("/a/b", false).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NO_NODE);
    assert_eq!(e.to_string(), "node /a/b does not exist");
    let e = c.set_data("/a", None, 7).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::BAD_VERSION);
    let e = c.delete("/a", -1).await.unwrap_err();
    assert_eq!(e.to_string(), "node /a has children");

    // multi: success and a failure that names the failing op
    let mk = |path: &str| MultiOp::Create {
        op: OpCode::CREATE,
        req: CreateRequest {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        },
    };
    c.multi(vec![
        mk("/m1"),
        MultiOp::Check(CheckVersionRequest {
            path: "/m1".into(),
            version: 0,
        }),
    ])
    .await
    .unwrap();
    let e = c.multi(vec![mk("/m2"), mk("/m1")]).await.unwrap_err();
    assert_eq!(e.to_string(), "node /m1 already exists");
    assert!(c.exists("/m2", false).await.unwrap().is_none());
    c.multi(vec![MultiOp::Delete(DeleteRequest {
        path: "/m1".into(),
        version: -1,
    })])
    .await
    .unwrap();

    // persistent watches and removeWatches
    c.add_watch("/a", true).await.unwrap();
    assert!(c.watches().persistent_recursive.contains("/a"));
    c.remove_watches("/a", watcher_type::ANY).await.unwrap();
    assert!(c.watches().persistent_recursive.is_empty());

    // ephemerals, whoami, auth, ACLs
    c.create("/e", None, open.clone(), CreateMode::Ephemeral, None)
        .await
        .unwrap();
    assert_eq!(c.get_ephemerals("/").await.unwrap(), ["/e"]);
    c.add_auth("digest", b"alice:secret".to_vec())
        .await
        .unwrap();
    let who = c.who_am_i().await.unwrap();
    assert!(who
        .iter()
        .any(|i| i.auth_scheme == "digest" && i.user == "alice"));
    c.create(
        "/secret",
        None,
        Acl::creator_all(),
        CreateMode::Persistent,
        None,
    )
    .await
    .unwrap();
    let (acl, _) = c.get_acl("/secret").await.unwrap();
    assert_eq!(acl[0].id.id, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");

    // chroot: paths in and out are relative
    let cr = Client::connect(&format!("{}/a", zk.connect_string()), opts())
        .await
        .unwrap();
    let (p, _) = cr
        .create("/inside", None, open.clone(), CreateMode::Persistent, None)
        .await
        .unwrap();
    assert_eq!(p, "/inside");
    assert!(c.exists("/a/inside", false).await.unwrap().is_some());
    let other = c.clone();
    let e = other.get_data("/secret", false).await;
    assert!(e.is_ok());
    let e = cr.get_data("/secret", false).await.unwrap_err();
    assert_eq!(e.to_string(), "node /secret does not exist");

    // pipelining: many requests in flight on one connection, answered in order
    let futs: Vec<_> = (0..2000).map(|_| c.exists("/a", false)).collect();
    for r in futures::future::join_all(futs).await {
        assert!(r.unwrap().is_some());
    }

    // close: the ephemeral goes away
    c.close().await;
    let c2 = Client::connect(&zk.connect_string(), opts()).await.unwrap();
    assert!(c2.exists("/e", false).await.unwrap().is_none());
    assert!(c.get_data("/a", false).await.is_err());
}
