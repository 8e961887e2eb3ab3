//! Containers and TTL nodes reaped by the server's background check (every 500 ms here).

use std::time::Duration;

use anyhow::Result;
use zk_proto::OpCode;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req::{self, m};
use zookeeper_client as zk;

use crate::util::*;

/// A container goes once it had a child and became empty; watchers see NodeDeleted.
pub async fn reaped_after_last_child(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let k = cx.p("k");
    rec!(
        cx,
        "create k container",
        c.create(&k, b"", &mode(zk::CreateMode::Container))
    );
    rec!(cx, "create k/a", c.create(&cx.p("k/a"), b"", &open()));
    rec!(cx, "create k/b", c.create(&cx.p("k/b"), b"", &open()));
    rec!(cx, "delete k/a", c.delete(&cx.p("k/a"), None));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    rec!(
        cx,
        "exists k (one child left, after 1200ms)",
        c.check_stat(&k)
    );
    let (_, w) = c.check_and_watch_stat(&k).await?;
    rec!(cx, "delete k/b", c.delete(&cx.p("k/b"), None));
    cx.event("watch k", w).await?;
    rec!(cx, "exists k", c.check_stat(&k));
    rec!(cx, "stat R", c.check_stat(&cx.p("")));
    Ok(())
}

/// A container that never had a child stays.
pub async fn never_used_survives(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let k = cx.p("k");
    cx.call(
        &mut r,
        "createContainer k",
        req::create_container(&k, Some(b"x")),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cx.log("-- slept 1500ms");
    cx.call(&mut r, "exists k", req::exists(&k, false)).await?;
    cx.call(&mut r, "delete k", req::delete(&k, -1)).await?;
    Ok(())
}

/// The child goes in a multi; the container follows.
pub async fn reaped_after_multi(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let k = cx.p("k");
    cx.call(
        &mut r,
        "multi[createContainer k, create k/c]",
        req::multi(vec![
            m::create_op(OpCode::CREATE_CONTAINER, &k, None, req::open_acl(), 4),
            m::create(&cx.p("k/c"), None, 0),
        ]),
    )
    .await?;
    cx.call(&mut r, "exists k watch", req::exists(&k, true))
        .await?;
    cx.call(
        &mut r,
        "getChildren R watch",
        req::get_children(&cx.p(""), true),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[delete k/c, create x]",
        req::multi(vec![
            m::delete(&cx.p("k/c"), -1),
            m::create(&cx.p("x"), None, 0),
        ]),
    )
    .await?;
    wait_events(cx, &mut r, 1, Duration::from_secs(10)).await?;
    cx.call(
        &mut r,
        "getChildren2 R",
        req::get_children2(&cx.p(""), false),
    )
    .await?;
    Ok(())
}

/// A TTL node with no children goes once `now - mtime > ttl`.
pub async fn ttl_expires(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let t = cx.p("t");
    cx.call(
        &mut r,
        "createTTL t ttl 300",
        req::create_ttl(&t, Some(b"t"), 5, 300),
    )
    .await?;
    cx.call(&mut r, "exists t watch", req::exists(&t, true))
        .await?;
    wait_events(cx, &mut r, 1, Duration::from_secs(10)).await?;
    cx.call(&mut r, "exists t", req::exists(&t, false)).await?;
    cx.call(
        &mut r,
        "getChildren2 R",
        req::get_children2(&cx.p(""), false),
    )
    .await?;
    Ok(())
}

/// A TTL node with a child is kept past its TTL, and goes once the child is deleted.
pub async fn ttl_with_children_waits(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let t = cx.p("t");
    cx.call(
        &mut r,
        "createTTL t ttl 300",
        req::create_ttl(&t, None, 5, 300),
    )
    .await?;
    cx.call(&mut r, "create t/c", req::create(&cx.p("t/c"), None, 0))
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cx.log("-- slept 1500ms");
    cx.call(&mut r, "exists t watch", req::exists(&t, true))
        .await?;
    cx.call(&mut r, "delete t/c", req::delete(&cx.p("t/c"), -1))
        .await?;
    wait_events(cx, &mut r, 1, Duration::from_secs(10)).await?;
    cx.call(&mut r, "exists t", req::exists(&t, false)).await?;
    Ok(())
}
