//! Create in every mode, the sequential counter, and create's failures.

use anyhow::Result;
use std::time::Duration;
use zk_proto::OpCode;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req;
use zookeeper_client as zk;

use crate::util::*;

/// A persistent node: create2's stat, getData, exists, the parent's children.
pub async fn persistent(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    rec!(cx, "create a", c.create(&a, b"hello", &open()));
    rec!(cx, "get a", c.get_data(&a));
    rec!(cx, "exists a", c.check_stat(&a));
    rec!(cx, "children root", c.get_children(&cx.p("")));
    Ok(())
}

/// An ephemeral node is owned by its session, listed by getEphemerals for that session only, and
/// vanishes when the session closes.
pub async fn ephemeral(cx: &mut Cx) -> Result<()> {
    let c1 = cx.client().await?;
    let c2 = cx.client().await?;
    let e = cx.p("e");
    rec!(
        cx,
        "s1 create e ephemeral",
        c1.create(&e, b"x", &mode(zk::CreateMode::Ephemeral))
    );
    rec!(cx, "s2 exists e", c2.check_stat(&e));
    rec!(cx, "s1 getEphemerals root", c1.list_ephemerals(&cx.p("")));
    rec!(cx, "s2 getEphemerals root", c2.list_ephemerals(&cx.p("")));
    let (_, w) = c2.check_and_watch_stat(&e).await?;
    drop(c1);
    cx.event("s2 watch e after s1 closes", w).await?;
    rec!(cx, "s2 exists e", c2.check_stat(&e));
    rec!(cx, "s2 root stat", c2.check_stat(&cx.p("")));
    Ok(())
}

pub async fn persistent_sequential(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let q = cx.p("q-");
    for i in 0..3 {
        rec!(
            cx,
            format!("create q- #{i}"),
            c.create(&q, b"", &mode(zk::CreateMode::PersistentSequential))
        );
    }
    rec!(cx, "children", c.get_children(&cx.p("")));
    Ok(())
}

pub async fn ephemeral_sequential(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let q = cx.p("lock-");
    for i in 0..2 {
        rec!(
            cx,
            format!("create lock- #{i}"),
            c.create(&q, b"me", &mode(zk::CreateMode::EphemeralSequential))
        );
    }
    rec!(cx, "getEphemerals", c.list_ephemerals(&cx.p("")));
    rec!(cx, "children", c.get_children(&cx.p("")));
    Ok(())
}

/// createContainer (19): the stat shows owner 0; a child can be created under it.
pub async fn container(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let k = cx.p("k");
    rec!(
        cx,
        "create k container",
        c.create(&k, b"c", &mode(zk::CreateMode::Container))
    );
    rec!(
        cx,
        "create k/child",
        c.create(&cx.p("k/child"), b"", &open())
    );
    rec!(cx, "get k", c.get_data(&k));
    rec!(
        cx,
        "create k again",
        c.create(&k, b"c", &mode(zk::CreateMode::Container))
    );
    Ok(())
}

/// createTTL (21) for both TTL modes; deleted again so no reaping happens later.
pub async fn ttl(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let t = cx.p("t");
    let ttl = Duration::from_secs(600);
    rec!(
        cx,
        "create t ttl",
        c.create(&t, b"t", &open().with_ttl(ttl))
    );
    let seq = mode(zk::CreateMode::PersistentSequential).with_ttl(ttl);
    rec!(
        cx,
        "create ts- ttl sequential",
        c.create(&cx.p("ts-"), b"", &seq)
    );
    rec!(cx, "get t", c.get_data(&t));
    rec!(cx, "children", c.list_children(&cx.p("")));
    rec!(cx, "delete t", c.delete(&t, None));
    rec!(
        cx,
        "delete ts-0000000001",
        c.delete(&cx.p("ts-0000000001"), None)
    );
    Ok(())
}

/// create (1) answers with the path only, create2 (15) with path and stat; both for a
/// sequential node too.
pub async fn create_vs_create2(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(
        &mut r,
        "create a (op 1)",
        req::create(&cx.p("a"), Some(b"1"), 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create2 b (op 15)",
        req::create2(&cx.p("b"), Some(b"2"), 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create s- seq (op 1)",
        req::create(&cx.p("s-"), None, 2),
    )
    .await?;
    cx.call(
        &mut r,
        "create2 s- seq (op 15)",
        req::create2(&cx.p("s-"), None, 2),
    )
    .await?;
    cx.call(
        &mut r,
        "create2 a exists (op 15)",
        req::create2(&cx.p("a"), None, 0),
    )
    .await?;
    Ok(())
}

/// Plain create with the container flag (4) makes an ordinary persistent node: owner 0, and it is
/// not reaped after its last child goes.
pub async fn flags4_via_create_is_persistent(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let k = cx.p("k");
    cx.call(&mut r, "create k flags 4 (op 1)", req::create(&k, None, 4))
        .await?;
    cx.call(&mut r, "create k/c", req::create(&cx.p("k/c"), None, 0))
        .await?;
    cx.call(&mut r, "delete k/c", req::delete(&cx.p("k/c"), -1))
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cx.log("-- slept 1500ms (3 reaper intervals)");
    cx.call(&mut r, "exists k", req::exists(&k, false)).await?;
    Ok(())
}

/// Flags outside 0..=6, and each TTL flag through the wrong opcode.
pub async fn bad_flags(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    for flags in [7, 99, -1, i32::MIN] {
        cx.call(
            &mut r,
            &format!("create f flags {flags}"),
            req::create(&cx.p("f"), None, flags),
        )
        .await?;
    }
    cx.call(
        &mut r,
        "create2 f flags 5",
        req::create2(&cx.p("f"), None, 5),
    )
    .await?;
    cx.call(&mut r, "create f flags 6", req::create(&cx.p("f"), None, 6))
        .await?;
    cx.call(
        &mut r,
        "createContainer f flags 1",
        req::create_op(
            OpCode::CREATE_CONTAINER,
            &cx.p("f1"),
            None,
            req::open_acl(),
            1,
        ),
    )
    .await?;
    cx.call(
        &mut r,
        "createContainer f flags 7",
        req::create_op(
            OpCode::CREATE_CONTAINER,
            &cx.p("f2"),
            None,
            req::open_acl(),
            7,
        ),
    )
    .await?;
    cx.call(&mut r, "children", req::get_children(&cx.p(""), false))
        .await?;
    Ok(())
}

/// createTTL's argument checks: mode must be a TTL mode, 0 < ttl ≤ 2^40 - 1.
pub async fn ttl_rules(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let t = cx.p("t");
    let cases: [(i32, i64); 9] = [
        (0, 1000),
        (1, 1000),
        (4, 1000),
        (5, 0),
        (5, -5),
        (5, 1 << 40),
        (6, (1 << 40) + 7),
        (5, (1 << 40) - 1),
        (6, 600_000),
    ];
    for (flags, ttl) in cases {
        cx.call(
            &mut r,
            &format!("createTTL t flags {flags} ttl {ttl}"),
            req::create_ttl(&t, None, flags, ttl),
        )
        .await?;
    }
    cx.call(&mut r, "children", req::get_children(&cx.p(""), false))
        .await?;
    cx.call(&mut r, "delete t", req::delete(&t, -1)).await?;
    cx.call(
        &mut r,
        "delete t0000000001",
        req::delete(&cx.p("t0000000001"), -1),
    )
    .await?;
    Ok(())
}

/// A null data buffer reads back as null (length -1), an empty one as empty; both dataLength 0.
pub async fn null_vs_empty_data(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "create n null", req::create(&cx.p("n"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "create e empty",
        req::create(&cx.p("e"), Some(b""), 0),
    )
    .await?;
    cx.call(&mut r, "get n", req::get_data(&cx.p("n"), false))
        .await?;
    cx.call(&mut r, "get e", req::get_data(&cx.p("e"), false))
        .await?;
    cx.call(&mut r, "set e null", req::set_data(&cx.p("e"), None, -1))
        .await?;
    cx.call(&mut r, "get e", req::get_data(&cx.p("e"), false))
        .await?;
    cx.call(
        &mut r,
        "set n empty",
        req::set_data(&cx.p("n"), Some(b""), -1),
    )
    .await?;
    cx.call(&mut r, "get n", req::get_data(&cx.p("n"), false))
        .await?;
    Ok(())
}

/// A failed create still uses a zxid: the header zxid of the error reply and of the next read
/// show it.
pub async fn node_exists_consumes_zxid(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, Some(b"x"), 0))
        .await?;
    cx.call(&mut r, "create a again", req::create(&a, Some(b"x"), 0))
        .await?;
    cx.call(&mut r, "create a again", req::create(&a, Some(b"x"), 0))
        .await?;
    cx.call(&mut r, "exists a", req::exists(&a, false)).await?;
    cx.call(&mut r, "create b", req::create(&cx.p("b"), None, 0))
        .await?;
    Ok(())
}

pub async fn no_parent(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "create x/y", req::create(&cx.p("x/y"), None, 0))
        .await?;
    cx.call(&mut r, "create x/y seq", req::create(&cx.p("x/y"), None, 2))
        .await?;
    cx.call(
        &mut r,
        "create x/y ephemeral",
        req::create(&cx.p("x/y"), None, 1),
    )
    .await?;
    cx.call(
        &mut r,
        "create /nonexistent-zkfleet/y",
        req::create("/nonexistent-zkfleet/y", None, 0),
    )
    .await?;
    Ok(())
}

/// Ephemerals cannot have children, whatever the child's mode.
pub async fn under_ephemeral(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let e = cx.p("e");
    cx.call(&mut r, "create e ephemeral", req::create(&e, None, 1))
        .await?;
    for (flags, what) in [
        (0, "persistent"),
        (1, "ephemeral"),
        (2, "sequential"),
        (3, "ephemeral seq"),
    ] {
        cx.call(
            &mut r,
            &format!("create e/c {what}"),
            req::create(&cx.p("e/c"), None, flags),
        )
        .await?;
    }
    cx.call(
        &mut r,
        "createContainer e/k",
        req::create_container(&cx.p("e/k"), None),
    )
    .await?;
    cx.call(
        &mut r,
        "createTTL e/t",
        req::create_ttl(&cx.p("e/t"), None, 5, 60_000),
    )
    .await?;
    cx.call(&mut r, "exists e", req::exists(&e, false)).await?;
    Ok(())
}

/// The sequence suffix is the parent's stored cversion (child creations), not the visible
/// cversion (which also counts deletions).
pub async fn sequential_counter_after_deletes(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let p = cx.p("p");
    rec!(cx, "create p", c.create(&p, b"", &open()));
    rec!(cx, "create p/a", c.create(&cx.p("p/a"), b"", &open()));
    rec!(cx, "create p/b", c.create(&cx.p("p/b"), b"", &open()));
    rec!(cx, "delete p/a", c.delete(&cx.p("p/a"), None));
    rec!(cx, "delete p/b", c.delete(&cx.p("p/b"), None));
    rec!(cx, "stat p", c.check_stat(&p));
    rec!(
        cx,
        "create p/s- seq",
        c.create(
            &cx.p("p/s-"),
            b"",
            &mode(zk::CreateMode::PersistentSequential)
        )
    );
    rec!(cx, "stat p", c.check_stat(&p));
    Ok(())
}

/// Every kind of child creation advances the counter.
pub async fn sequential_counter_counts_every_kind(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let p = cx.p("p");
    rec!(cx, "create p", c.create(&p, b"", &open()));
    rec!(
        cx,
        "create p/a persistent",
        c.create(&cx.p("p/a"), b"", &open())
    );
    rec!(
        cx,
        "create p/e ephemeral",
        c.create(&cx.p("p/e"), b"", &mode(zk::CreateMode::Ephemeral))
    );
    rec!(
        cx,
        "create p/k container",
        c.create(&cx.p("p/k"), b"", &mode(zk::CreateMode::Container))
    );
    rec!(
        cx,
        "create p/t ttl",
        c.create(
            &cx.p("p/t"),
            b"",
            &open().with_ttl(Duration::from_secs(600))
        )
    );
    rec!(
        cx,
        "create p/s- seq",
        c.create(
            &cx.p("p/s-"),
            b"",
            &mode(zk::CreateMode::PersistentSequential)
        )
    );
    rec!(
        cx,
        "create p/s- eph seq",
        c.create(
            &cx.p("p/s-"),
            b"",
            &mode(zk::CreateMode::EphemeralSequential)
        )
    );
    rec!(cx, "delete p/t", c.delete(&cx.p("p/t"), None));
    rec!(cx, "children p", c.get_children(&p));
    Ok(())
}

/// A sequential create whose generated name exists fails with NodeExists and does not advance
/// the counter, so it keeps failing until another child is created.
pub async fn sequential_collision(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(
        &mut r,
        "create p/q0000000001",
        req::create(&cx.p("p/q0000000001"), None, 0),
    )
    .await?;
    cx.call(&mut r, "create p/q seq", req::create(&cx.p("p/q"), None, 2))
        .await?;
    cx.call(
        &mut r,
        "create p/q seq again",
        req::create(&cx.p("p/q"), None, 2),
    )
    .await?;
    cx.call(&mut r, "stat p", req::exists(&p, false)).await?;
    cx.call(
        &mut r,
        "create p/other",
        req::create(&cx.p("p/other"), None, 0),
    )
    .await?;
    cx.call(&mut r, "create p/q seq", req::create(&cx.p("p/q"), None, 2))
        .await?;
    cx.call(&mut r, "children p", req::get_children2(&p, false))
        .await?;
    Ok(())
}

/// The suffix is appended before validation: `p/` sequential is `p/0000000000`, while `p/` plain
/// is an invalid path.
pub async fn sequential_trailing_slash(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "create p", req::create(&cx.p("p"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "create p/ seq",
        req::create(&format!("{}/", cx.p("p")), None, 2),
    )
    .await?;
    cx.call(
        &mut r,
        "create p/ plain",
        req::create(&format!("{}/", cx.p("p")), None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create p/ eph seq",
        req::create(&format!("{}/", cx.p("p")), None, 3),
    )
    .await?;
    cx.call(&mut r, "children p", req::get_children(&cx.p("p"), false))
        .await?;
    Ok(())
}

/// `/` exists already; `""` is not a path.
pub async fn create_root(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "create /", req::create("/", None, 0))
        .await?;
    cx.call(&mut r, "create / seq", req::create("/", None, 2))
        .await?;
    cx.call(&mut r, "create \"\"", req::create("", None, 0))
        .await?;
    Ok(())
}

/// Creating under /zookeeper is allowed in 3.8.
pub async fn under_zookeeper(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let name = format!("/zookeeper/zkfleet{}", cx.root.trim_start_matches('/'));
    cx.call(
        &mut r,
        "create /zookeeper/zkfleetNNN",
        req::create(&name, Some(b"x"), 0),
    )
    .await?;
    cx.call(
        &mut r,
        "children /zookeeper",
        req::get_children("/zookeeper", false),
    )
    .await?;
    cx.call(&mut r, "delete it", req::delete(&name, -1)).await?;
    cx.call(
        &mut r,
        "children /zookeeper",
        req::get_children("/zookeeper", false),
    )
    .await?;
    Ok(())
}

/// Data of many sizes round-trips, up to 1,000,000 bytes.
pub async fn data_sizes(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    for (i, n) in [0usize, 1, 4096, 100_000, 1_000_000]
        .into_iter()
        .enumerate()
    {
        let data: Vec<u8> = (0..n).map(|k| (k * 31 + i) as u8).collect();
        let p = cx.p(&format!("n{i}"));
        rec!(
            cx,
            format!("create {n} bytes"),
            c.create(&p, &data, &open())
        );
        let got = c.get_data(&p).await;
        cx.rec(&format!("get {n} bytes"), &got);
        if let Ok((d, _)) = got {
            cx.log(format!("same bytes: {}", d == data));
        }
    }
    Ok(())
}

/// jute.maxbuffer: a request frame of exactly 1,048,575 bytes is served, 1,048,576 bytes makes
/// the server close the connection without a reply.
pub async fn frame_at_jute_max_buffer(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("big");
    cx.call(&mut r, "create big", req::create(&p, None, 0))
        .await?;
    // setData frame payload = header 8 + path (4 + len) + data (4 + n) + version 4.
    let n = 0xfffff - (8 + 4 + p.len() + 4 + 4);
    let data = vec![7u8; n];
    cx.call(
        &mut r,
        &format!("setData {n} bytes (frame 1048575)"),
        req::set_data(&p, Some(&data), -1),
    )
    .await?;
    cx.call(&mut r, "exists big", req::exists(&p, false))
        .await?;
    let data = vec![8u8; n + 1];
    cx.call(
        &mut r,
        &format!("setData {} bytes (frame 1048576)", n + 1),
        req::set_data(&p, Some(&data), -1),
    )
    .await?;
    let mut r2 = cx.raw().await?;
    cx.call(&mut r2, "exists big", req::exists(&p, false))
        .await?;
    Ok(())
}
