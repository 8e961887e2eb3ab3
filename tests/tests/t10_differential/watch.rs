//! Standard, persistent and recursive watches: what fires them, when they are consumed, how
//! they are removed, and their re-registration after a reconnect.

use std::time::Duration;

use anyhow::Result;
use zk_proto::ops::{add_watch_mode, watcher_type};
use zk_proto::perms;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::raw::{ConnectOpts, RawClient};
use zkfleet_tests::req;
use zookeeper_client as zk;

use crate::util::*;

pub async fn data_watch_set_data(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    rec!(cx, "create a", c.create(&a, b"0", &open()));
    let (_, _, w) = c.get_and_watch_data(&a).await?;
    rec!(cx, "set a", c.set_data(&a, b"1", None));
    cx.event("watch a", w).await?;
    Ok(())
}

pub async fn data_watch_delete(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let c2 = cx.client().await?;
    let a = cx.p("a");
    rec!(cx, "create a", c.create(&a, b"0", &open()));
    let (_, _, w) = c.get_and_watch_data(&a).await?;
    rec!(cx, "s2 delete a", c2.delete(&a, None));
    cx.event("s1 watch a", w).await?;
    Ok(())
}

/// An exists watch on a missing node is registered and fires NodeCreated.
pub async fn exists_watch_create(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    let (stat, w) = c.check_and_watch_stat(&a).await?;
    cx.rec("exists a watch", &stat);
    rec!(cx, "create a", c.create(&a, b"", &open()));
    cx.event("watch a", w).await?;
    Ok(())
}

pub async fn exists_watch_existing(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    rec!(cx, "create a", c.create(&a, b"", &open()));
    let (stat, w) = c.check_and_watch_stat(&a).await?;
    cx.rec("exists a watch", &stat);
    rec!(cx, "set a", c.set_data(&a, b"x", None));
    cx.event("watch a", w).await?;
    let (_, w) = c.check_and_watch_stat(&a).await?;
    rec!(cx, "delete a", c.delete(&a, None));
    cx.event("watch a", w).await?;
    Ok(())
}

pub async fn child_watch(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let p = cx.p("p");
    rec!(cx, "create p", c.create(&p, b"", &open()));
    let (_, w) = c.list_and_watch_children(&p).await?;
    rec!(cx, "create p/a", c.create(&cx.p("p/a"), b"", &open()));
    cx.event("watch p", w).await?;
    let (_, _, w) = c.get_and_watch_children(&p).await?;
    rec!(cx, "delete p/a", c.delete(&cx.p("p/a"), None));
    cx.event("watch p", w).await?;
    Ok(())
}

/// setData on a child, and creating a grandchild, do not fire the parent's child watch.
pub async fn child_watch_ignores_child_data(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "create p/a", req::create(&cx.p("p/a"), None, 0))
        .await?;
    cx.call(&mut r, "getChildren p watch", req::get_children(&p, true))
        .await?;
    cx.call(
        &mut r,
        "set p/a",
        req::set_data(&cx.p("p/a"), Some(b"x"), -1),
    )
    .await?;
    cx.call(&mut r, "create p/a/b", req::create(&cx.p("p/a/b"), None, 0))
        .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"x"), -1))
        .await?;
    cx.call(&mut r, "create p/c", req::create(&cx.p("p/c"), None, 0))
        .await?;
    Ok(())
}

/// A child watch alone fires NodeDeleted when its node goes.
pub async fn child_watch_node_deleted(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "getChildren2 p watch", req::get_children2(&p, true))
        .await?;
    cx.call(&mut r, "delete p", req::delete(&p, -1)).await?;
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    Ok(())
}

pub async fn set_acl_fires_nothing(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(&mut r, "getChildren a watch", req::get_children(&a, true))
        .await?;
    cx.call(
        &mut r,
        "setACL a",
        req::set_acl(&a, vec![acl(perms::ALL, "world", "anyone")], -1),
    )
    .await?;
    barrier(cx, &mut r).await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"x"), -1))
        .await?;
    Ok(())
}

/// A standard watch fires once.
pub async fn one_shot(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(&mut r, "getData a watch (again)", req::get_data(&a, true))
        .await?;
    cx.call(&mut r, "exists a watch", req::exists(&a, true))
        .await?;
    for i in 0..3 {
        cx.call(
            &mut r,
            &format!("set a #{i}"),
            req::set_data(&a, Some(b"x"), -1),
        )
        .await?;
    }
    Ok(())
}

/// One notification per (event, path) per connection, however many watches match.
pub async fn dedup_on_delete(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let mut other = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "exists p watch", req::exists(&p, true))
        .await?;
    cx.call(&mut r, "getData p watch", req::get_data(&p, true))
        .await?;
    cx.call(&mut r, "getChildren p watch", req::get_children(&p, true))
        .await?;
    cx.call(
        &mut r,
        "getChildren R watch",
        req::get_children(&cx.p(""), true),
    )
    .await?;
    cx.call(&mut other, "s2 delete p", req::delete(&p, -1))
        .await?;
    barrier(cx, &mut r).await?;
    Ok(())
}

/// The event reaches the watching connection before the reply to the write that caused it.
pub async fn event_before_reply(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "exists a watch (missing)", req::exists(&a, true))
        .await?;
    cx.call(&mut r, "create a", req::create(&a, Some(b"0"), 0))
        .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"1"), -1))
        .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(
        &mut r,
        "getChildren R watch",
        req::get_children(&cx.p(""), true),
    )
    .await?;
    cx.call(&mut r, "delete a", req::delete(&a, -1)).await?;
    Ok(())
}

/// Another session's write: the event is queued before that write is answered, so the watcher's
/// next reply comes after it.
pub async fn other_session_event(cx: &mut Cx) -> Result<()> {
    let mut w = cx.raw().await?;
    let mut x = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut x, "s2 create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut w, "s1 getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(
        &mut w,
        "s1 getChildren R watch",
        req::get_children(&cx.p(""), true),
    )
    .await?;
    cx.call(&mut x, "s2 set a", req::set_data(&a, Some(b"x"), -1))
        .await?;
    cx.call(&mut x, "s2 create b", req::create(&cx.p("b"), None, 0))
        .await?;
    cx.call(&mut w, "s1 exists a", req::exists(&a, false))
        .await?;
    Ok(())
}

/// getData/getChildren on a missing node register nothing; exists does.
pub async fn missing_node_no_watch(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let (a, b, c) = (cx.p("a"), cx.p("b"), cx.p("c"));
    cx.call(&mut r, "getData a watch (missing)", req::get_data(&a, true))
        .await?;
    cx.call(
        &mut r,
        "getChildren b watch (missing)",
        req::get_children(&b, true),
    )
    .await?;
    cx.call(&mut r, "exists c watch (missing)", req::exists(&c, true))
        .await?;
    cx.call(
        &mut r,
        "checkWatches a any",
        req::check_watches(&a, watcher_type::ANY),
    )
    .await?;
    cx.call(
        &mut r,
        "checkWatches c data",
        req::check_watches(&c, watcher_type::DATA),
    )
    .await?;
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "create b", req::create(&b, None, 0))
        .await?;
    cx.call(&mut r, "create b/x", req::create(&cx.p("b/x"), None, 0))
        .await?;
    cx.call(&mut r, "create c", req::create(&c, None, 0))
        .await?;
    Ok(())
}

/// A persistent watch: every change of the node and of its child list, never consumed.
pub async fn persistent(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(
        &mut r,
        "addWatch p persistent",
        req::add_watch(&p, add_watch_mode::PERSISTENT),
    )
    .await?;
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"1"), -1))
        .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"2"), -1))
        .await?;
    cx.call(&mut r, "create p/a", req::create(&cx.p("p/a"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "set p/a",
        req::set_data(&cx.p("p/a"), Some(b"x"), -1),
    )
    .await?;
    cx.call(&mut r, "create p/a/b", req::create(&cx.p("p/a/b"), None, 0))
        .await?;
    cx.call(&mut r, "delete p/a/b", req::delete(&cx.p("p/a/b"), -1))
        .await?;
    cx.call(&mut r, "delete p/a", req::delete(&cx.p("p/a"), -1))
        .await?;
    cx.call(&mut r, "setACL p", req::set_acl(&p, req::open_acl(), -1))
        .await?;
    cx.call(&mut r, "delete p", req::delete(&p, -1)).await?;
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(
        &mut r,
        "checkWatches p any",
        req::check_watches(&p, watcher_type::ANY),
    )
    .await?;
    Ok(())
}

/// A recursive watch: the node and every descendant, but never NodeChildrenChanged.
pub async fn persistent_recursive(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let mut other = cx.raw().await?;
    let p = cx.p("p");
    cx.call(
        &mut r,
        "addWatch p recursive",
        req::add_watch(&p, add_watch_mode::PERSISTENT_RECURSIVE),
    )
    .await?;
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "create p/a", req::create(&cx.p("p/a"), None, 0))
        .await?;
    cx.call(&mut r, "create p/a/b", req::create(&cx.p("p/a/b"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "set p/a/b",
        req::set_data(&cx.p("p/a/b"), Some(b"x"), -1),
    )
    .await?;
    cx.call(
        &mut r,
        "create px (sibling prefix)",
        req::create(&cx.p("px"), None, 0),
    )
    .await?;
    cx.call(
        &mut other,
        "s2 multi[set p, delete p/a/b]",
        req::multi(vec![
            req::m::set_data(&p, Some(b"y"), -1),
            req::m::delete(&cx.p("p/a/b"), -1),
        ]),
    )
    .await?;
    barrier(cx, &mut r).await?;
    cx.call(&mut r, "delete p/a", req::delete(&cx.p("p/a"), -1))
        .await?;
    cx.call(
        &mut r,
        "checkWatches p data",
        req::check_watches(&p, watcher_type::DATA),
    )
    .await?;
    cx.call(
        &mut r,
        "checkWatches p children",
        req::check_watches(&p, watcher_type::CHILDREN),
    )
    .await?;
    cx.call(
        &mut r,
        "checkWatches p/a any",
        req::check_watches(&cx.p("p/a"), watcher_type::ANY),
    )
    .await?;
    Ok(())
}

/// The zookeeper-client crate's persistent-recursive watcher.
pub async fn client_persistent_recursive(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let p = cx.p("p");
    let mut w = c.watch(&p, zk::AddWatchMode::PersistentRecursive).await?;
    rec!(cx, "create p", c.create(&p, b"", &open()));
    cx.pevent("event", &mut w).await?;
    rec!(cx, "create p/a", c.create(&cx.p("p/a"), b"", &open()));
    cx.pevent("event", &mut w).await?;
    rec!(cx, "set p/a", c.set_data(&cx.p("p/a"), b"1", None));
    cx.pevent("event", &mut w).await?;
    rec!(cx, "delete p/a", c.delete(&cx.p("p/a"), None));
    cx.pevent("event", &mut w).await?;
    // A persistent watch on another path (the same path would hit ZOOKEEPER-4466 on 3.8).
    let mut pw = c.watch(&cx.p(""), zk::AddWatchMode::Persistent).await?;
    rec!(cx, "create q", c.create(&cx.p("q"), b"", &open()));
    cx.pevent("persistent event on R", &mut pw).await?;
    rec!(cx, "create p/b", c.create(&cx.p("p/b"), b"", &open()));
    cx.pevent("recursive event", &mut w).await?;
    Ok(())
}

pub async fn remove_watches(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(&mut r, "getChildren a watch", req::get_children(&a, true))
        .await?;
    cx.call(
        &mut r,
        "removeWatches a data",
        req::remove_watches(&a, watcher_type::DATA),
    )
    .await?;
    cx.call(
        &mut r,
        "removeWatches a data again",
        req::remove_watches(&a, watcher_type::DATA),
    )
    .await?;
    cx.call(
        &mut r,
        "checkWatches a children",
        req::check_watches(&a, watcher_type::CHILDREN),
    )
    .await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"x"), -1))
        .await?;
    cx.call(
        &mut r,
        "removeWatches a any",
        req::remove_watches(&a, watcher_type::ANY),
    )
    .await?;
    cx.call(&mut r, "create a/b", req::create(&cx.p("a/b"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "removeWatches missing any",
        req::remove_watches(&cx.p("missing"), watcher_type::ANY),
    )
    .await?;
    cx.call(&mut r, "exists a watch", req::exists(&a, true))
        .await?;
    cx.call(
        &mut r,
        "removeWatches a children",
        req::remove_watches(&a, watcher_type::CHILDREN),
    )
    .await?;
    cx.call(
        &mut r,
        "removeWatches a any",
        req::remove_watches(&a, watcher_type::ANY),
    )
    .await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"y"), -1))
        .await?;
    Ok(())
}

/// checkWatches per type, and watcher types the server does not know.
pub async fn check_watches_types(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "getChildren a watch", req::get_children(&a, true))
        .await?;
    for (label, t) in [("data", 2), ("children", 1), ("any", 3)] {
        cx.call(
            &mut r,
            &format!("checkWatches a {label}"),
            req::check_watches(&a, t),
        )
        .await?;
    }
    for t in [0, 4, 5, 7, -1] {
        let mut x = cx.raw().await?;
        cx.call(
            &mut x,
            &format!("checkWatches a type {t}"),
            req::check_watches(&a, t),
        )
        .await?;
        if !x.is_closed() {
            cx.call(
                &mut x,
                &format!("removeWatches a type {t}"),
                req::remove_watches(&a, t),
            )
            .await?;
        }
    }
    Ok(())
}

/// checkWatches and removeWatches from a connection that has no watch on a path another
/// connection watches. (Apache 3.8's checkWatches answers 0 here: at the leaf it only asks whether
/// any watch exists on the path.)
pub async fn check_watches_other_session(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let mut other = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(
        &mut r,
        "s1 getChildren a watch",
        req::get_children(&a, true),
    )
    .await?;
    cx.call(&mut r, "s1 getData a watch", req::get_data(&a, true))
        .await?;
    for (label, t) in [("children", 1), ("data", 2), ("any", 3)] {
        cx.call(
            &mut other,
            &format!("s2 checkWatches a {label}"),
            req::check_watches(&a, t),
        )
        .await?;
    }
    cx.call(
        &mut other,
        "s2 checkWatches missing any",
        req::check_watches(&cx.p("missing"), 3),
    )
    .await?;
    cx.call(
        &mut other,
        "s2 removeWatches a any",
        req::remove_watches(&a, 3),
    )
    .await?;
    cx.call(&mut r, "s1 checkWatches a any", req::check_watches(&a, 3))
        .await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"x"), -1))
        .await?;
    Ok(())
}

pub async fn remove_persistent_any(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(
        &mut r,
        "addWatch p persistent",
        req::add_watch(&p, add_watch_mode::PERSISTENT),
    )
    .await?;
    cx.call(
        &mut r,
        "addWatch R recursive",
        req::add_watch(&cx.p(""), add_watch_mode::PERSISTENT_RECURSIVE),
    )
    .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"1"), -1))
        .await?;
    cx.call(
        &mut r,
        "removeWatches p any",
        req::remove_watches(&p, watcher_type::ANY),
    )
    .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"2"), -1))
        .await?;
    cx.call(
        &mut r,
        "removeWatches R any",
        req::remove_watches(&cx.p(""), watcher_type::ANY),
    )
    .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"3"), -1))
        .await?;
    cx.call(
        &mut r,
        "checkWatches p any",
        req::check_watches(&p, watcher_type::ANY),
    )
    .await?;
    Ok(())
}

/// removeWatches of a persistent watch with type Data or Children.
pub async fn remove_persistent_by_type(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(
        &mut r,
        "addWatch p persistent",
        req::add_watch(&p, add_watch_mode::PERSISTENT),
    )
    .await?;
    cx.call(
        &mut r,
        "removeWatches p data",
        req::remove_watches(&p, watcher_type::DATA),
    )
    .await?;
    cx.call(
        &mut r,
        "checkWatches p data",
        req::check_watches(&p, watcher_type::DATA),
    )
    .await?;
    cx.call(
        &mut r,
        "checkWatches p children",
        req::check_watches(&p, watcher_type::CHILDREN),
    )
    .await?;
    cx.call(&mut r, "set p", req::set_data(&p, Some(b"1"), -1))
        .await?;
    cx.call(&mut r, "create p/a", req::create(&cx.p("p/a"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "removeWatches p children",
        req::remove_watches(&p, watcher_type::CHILDREN),
    )
    .await?;
    cx.call(&mut r, "create p/b", req::create(&cx.p("p/b"), None, 0))
        .await?;
    Ok(())
}

/// Drops the connection of `c` without closing the session, and re-attaches with a new one.
async fn reattach(cx: &mut Cx, c: RawClient) -> Result<RawClient> {
    let opts = ConnectOpts {
        session_id: c.session_id,
        passwd: c.passwd.clone(),
        last_zxid_seen: c.last_zxid,
        ..ConnectOpts::default()
    };
    drop(c);
    let mut n = RawClient::connect_tcp(cx.addr).await?;
    let resp = n.handshake(&opts).await?;
    cx.log(format!(
        "-- reattached: timeout={:?} same session={}",
        resp.as_ref().map(|r| r.timeout_ms),
        resp.as_ref()
            .map(|r| r.session_id == opts.session_id)
            .unwrap_or(false)
    ));
    Ok(n)
}

/// setWatches after a reconnect: changes missed while away fire at once (before the -8 reply),
/// the rest are registered.
pub async fn set_watches_reconnect(cx: &mut Cx) -> Result<()> {
    let mut w = cx.raw().await?;
    let mut x = cx.raw().await?;
    let (a, b, c, d, e, f) = (
        cx.p("a"),
        cx.p("b"),
        cx.p("c"),
        cx.p("d"),
        cx.p("e"),
        cx.p("f"),
    );
    for p in [&a, &c, &d, &f] {
        cx.call(
            &mut x,
            &format!("s2 create {}", &p[cx.root.len()..]),
            req::create(p, None, 0),
        )
        .await?;
    }
    cx.call(&mut w, "s1 sync (learn last zxid)", req::sync(&a))
        .await?;
    let rel = w.last_zxid;
    let mut w = reattach(cx, w).await?;
    cx.call(&mut x, "s2 set a", req::set_data(&a, Some(b"x"), -1))
        .await?;
    cx.call(&mut x, "s2 create b", req::create(&b, None, 0))
        .await?;
    cx.call(&mut x, "s2 create c/x", req::create(&cx.p("c/x"), None, 0))
        .await?;
    cx.call(&mut x, "s2 delete d", req::delete(&d, -1)).await?;
    let sw = req::set_watches(rel, &[&a, &d, &f], &[&b, &e], &[&c, &d, &f]);
    cx.call(
        &mut w,
        "s1 setWatches data[a,d,f] exist[b,e] child[c,d,f]",
        sw,
    )
    .await?;
    cx.call(&mut x, "s2 set f", req::set_data(&f, Some(b"x"), -1))
        .await?;
    cx.call(&mut x, "s2 create e", req::create(&e, None, 0))
        .await?;
    cx.call(&mut x, "s2 create f/y", req::create(&cx.p("f/y"), None, 0))
        .await?;
    barrier(cx, &mut w).await?;
    Ok(())
}

/// setWatches with nothing changed registers the watches; a later change fires them once.
pub async fn set_watches_unchanged(cx: &mut Cx) -> Result<()> {
    let mut w = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut w, "create a", req::create(&a, None, 0))
        .await?;
    let sw = req::set_watches(w.last_zxid, &[&a], &[], &[&a]);
    cx.call(&mut w, "setWatches data[a] child[a]", sw).await?;
    cx.call(
        &mut w,
        "checkWatches a data",
        req::check_watches(&a, watcher_type::DATA),
    )
    .await?;
    cx.call(&mut w, "set a", req::set_data(&a, Some(b"1"), -1))
        .await?;
    cx.call(&mut w, "set a", req::set_data(&a, Some(b"2"), -1))
        .await?;
    cx.call(&mut w, "create a/b", req::create(&cx.p("a/b"), None, 0))
        .await?;
    let sw = req::set_watches(0, &[&a], &[], &[]);
    cx.call(&mut w, "setWatches rel=0 data[a]", sw).await?;
    Ok(())
}

/// setWatches2 re-registers persistent and recursive watches too.
pub async fn set_watches2_persistent(cx: &mut Cx) -> Result<()> {
    let mut w = cx.raw().await?;
    let mut x = cx.raw().await?;
    let (p, q) = (cx.p("p"), cx.p("q"));
    cx.call(&mut x, "s2 create p", req::create(&p, None, 0))
        .await?;
    let sw = req::set_watches2(x.last_zxid, &[], &[], &[], &[&p], &[&q]);
    cx.call(&mut w, "s1 setWatches2 persistent[p] recursive[q]", sw)
        .await?;
    cx.call(&mut x, "s2 set p", req::set_data(&p, Some(b"1"), -1))
        .await?;
    cx.call(&mut x, "s2 create p/c", req::create(&cx.p("p/c"), None, 0))
        .await?;
    cx.call(&mut x, "s2 create q", req::create(&q, None, 0))
        .await?;
    cx.call(&mut x, "s2 create q/c", req::create(&cx.p("q/c"), None, 0))
        .await?;
    cx.call(&mut x, "s2 set p", req::set_data(&p, Some(b"2"), -1))
        .await?;
    barrier(cx, &mut w).await?;
    cx.call(
        &mut w,
        "s1 checkWatches p any",
        req::check_watches(&p, watcher_type::ANY),
    )
    .await?;
    Ok(())
}

/// ZOOKEEPER-4466: a standard watch set after a persistent one on the same path. Apache 3.8
/// turns the persistent watch into a one-shot one; 3.9 (and zk-node) keep both.
pub async fn persistent_then_standard(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(
        &mut r,
        "addWatch p persistent",
        req::add_watch(&p, add_watch_mode::PERSISTENT),
    )
    .await?;
    cx.call(&mut r, "getData p watch", req::get_data(&p, true))
        .await?;
    for i in 0..3 {
        cx.call(
            &mut r,
            &format!("set p #{i}"),
            req::set_data(&p, Some(b"x"), -1),
        )
        .await?;
    }
    drain(cx, &mut r, "late events", Duration::from_millis(200)).await?;
    Ok(())
}
