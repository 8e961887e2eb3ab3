//! multi (14) and multiRead (22): one txn, per-op results, and what a failure looks like.

use anyhow::Result;
use zk_proto::{perms, OpCode};
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req::{self, m};

use crate::util::*;

/// The captured all-ok multi of the reference: create, create2 (reported as create), setData,
/// check, delete.
pub async fn all_ok(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let (a, b) = (cx.p("a"), cx.p("b"));
    cx.call(
        &mut r,
        "multi[create a, create2 b, set a, check a v=1, delete b]",
        req::multi(vec![
            m::create(&a, Some(b"1"), 0),
            m::create_op(OpCode::CREATE2, &b, Some(b"2"), req::open_acl(), 0),
            m::set_data(&a, Some(b"3"), 0),
            m::check(&a, 1),
            m::delete(&b, -1),
        ]),
    )
    .await?;
    cx.call(&mut r, "get a", req::get_data(&a, false)).await?;
    cx.call(&mut r, "exists b", req::exists(&b, false)).await?;
    cx.call(&mut r, "stat R", req::exists(&cx.p(""), false))
        .await?;
    Ok(())
}

/// A failing op in the middle: 0 before, its code, -2 after; header err 0; nothing applied; a
/// zxid used.
pub async fn fail_middle(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let (a, t) = (cx.p("a"), cx.p("t"));
    cx.call(&mut r, "create t", req::create(&t, None, 0))
        .await?;
    cx.call(
        &mut r,
        "multi[create a, create t (exists), set t]",
        req::multi(vec![
            m::create(&a, None, 0),
            m::create(&t, None, 0),
            m::set_data(&t, Some(b"x"), -1),
        ]),
    )
    .await?;
    cx.call(&mut r, "exists a", req::exists(&a, false)).await?;
    cx.call(&mut r, "get t", req::get_data(&t, false)).await?;
    cx.call(
        &mut r,
        "multi[set t, delete missing, create a, check t]",
        req::multi(vec![
            m::set_data(&t, Some(b"y"), -1),
            m::delete(&cx.p("missing"), -1),
            m::create(&a, None, 0),
            m::check(&t, 0),
        ]),
    )
    .await?;
    cx.call(&mut r, "get t", req::get_data(&t, false)).await?;
    Ok(())
}

pub async fn fail_first_and_last(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let (a, b) = (cx.p("a"), cx.p("b"));
    cx.call(
        &mut r,
        "multi[set missing, create a, create b]",
        req::multi(vec![
            m::set_data(&cx.p("missing"), None, -1),
            m::create(&a, None, 0),
            m::create(&b, None, 0),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[create a, create b, delete a v=3]",
        req::multi(vec![
            m::create(&a, None, 0),
            m::create(&b, None, 0),
            m::delete(&a, 3),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[create a bad acl]",
        req::multi(vec![m::create_op(OpCode::CREATE, &a, None, vec![], 0)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[create a/ bad path, create b]",
        req::multi(vec![
            m::create(&format!("{a}/"), None, 0),
            m::create(&b, None, 0),
        ]),
    )
    .await?;
    cx.call(&mut r, "children R", req::get_children2(&cx.p(""), false))
        .await?;
    Ok(())
}

/// An empty multi (terminator only) is legal and uses a zxid.
pub async fn empty(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "multi[]", req::multi(vec![])).await?;
    cx.call(&mut r, "multi[]", req::multi(vec![])).await?;
    cx.call(&mut r, "multiRead[]", req::multi_read(vec![]))
        .await?;
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    Ok(())
}

pub async fn check_failures(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(
        &mut r,
        "multi[check a v=1]",
        req::multi(vec![m::check(&a, 1)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[check a v=0, check missing]",
        req::multi(vec![m::check(&a, 0), m::check(&cx.p("missing"), 0)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[check a/ (bad path)]",
        req::multi(vec![m::check(&format!("{a}/"), -1)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[set a, check a v=1]",
        req::multi(vec![m::set_data(&a, None, -1), m::check(&a, 1)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[check a v=0, set a]",
        req::multi(vec![m::check(&a, 0), m::set_data(&a, None, -1)]),
    )
    .await?;
    Ok(())
}

/// createContainer and createTTL inside a multi report create2-style results.
pub async fn container_and_ttl(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let (k, t) = (cx.p("k"), cx.p("t"));
    cx.call(
        &mut r,
        "multi[createContainer k, createTTL t, create k/c]",
        req::multi(vec![
            m::create_op(OpCode::CREATE_CONTAINER, &k, Some(b"k"), req::open_acl(), 4),
            m::create_ttl(&t, Some(b"t"), 5, 600_000),
            m::create(&cx.p("k/c"), None, 0),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[createTTL t2 flags 0]",
        req::multi(vec![m::create_ttl(&cx.p("t2"), None, 0, 1000)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[createTTL t2 ttl 0]",
        req::multi(vec![m::create_ttl(&cx.p("t2"), None, 5, 0)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[delete t]",
        req::multi(vec![m::delete(&t, -1)]),
    )
    .await?;
    cx.call(&mut r, "getChildren2 k", req::get_children2(&k, false))
        .await?;
    Ok(())
}

/// Reads and writes may not be mixed; multiRead takes only getData/getChildren.
pub async fn mixed_read_write(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(
        &mut r,
        "multi[getData a, create b]",
        req::multi(vec![m::get_data(&a), m::create(&cx.p("b"), None, 0)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[getData a]",
        req::multi(vec![m::get_data(&a)]),
    )
    .await?;
    cx.call(&mut r, "ping", zk_proto::Request::Ping).await?;
    let mut r2 = cx.raw().await?;
    cx.call(
        &mut r2,
        "multiRead[create c]",
        req::multi_read(vec![m::create(&cx.p("c"), None, 0)]),
    )
    .await?;
    cx.call(&mut r2, "ping", zk_proto::Request::Ping).await?;
    let mut r3 = cx.raw().await?;
    cx.call(&mut r3, "exists b", req::exists(&cx.p("b"), false))
        .await?;
    cx.call(&mut r3, "exists c", req::exists(&cx.p("c"), false))
        .await?;
    Ok(())
}

/// Watches fire once per node after the whole multi is applied, before its reply.
pub async fn watches_fire_after_txn(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(&mut r, "getChildren a watch", req::get_children(&a, true))
        .await?;
    cx.call(&mut r, "exists a/b watch", req::exists(&cx.p("a/b"), true))
        .await?;
    cx.call(
        &mut r,
        "multi[set a, set a, create a/b, set a/b]",
        req::multi(vec![
            m::set_data(&a, Some(b"1"), -1),
            m::set_data(&a, Some(b"2"), -1),
            m::create(&cx.p("a/b"), None, 0),
            m::set_data(&cx.p("a/b"), Some(b"3"), -1),
        ]),
    )
    .await?;
    cx.call(&mut r, "getData a watch", req::get_data(&a, true))
        .await?;
    cx.call(
        &mut r,
        "multi[set a, create a/c (fails)]",
        req::multi(vec![
            m::set_data(&a, Some(b"4"), -1),
            m::create(&cx.p("a/b"), None, 0),
        ]),
    )
    .await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"5"), -1))
        .await?;
    Ok(())
}

pub async fn sequential(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(
        &mut r,
        "multi[create p, p/s- seq, p/s- seq, p/e- eph seq]",
        req::multi(vec![
            m::create(&p, None, 0),
            m::create(&cx.p("p/s-"), None, 2),
            m::create(&cx.p("p/s-"), None, 2),
            m::create(&cx.p("p/e-"), None, 3),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[p/s- seq, create p/x exists?]",
        req::multi(vec![
            m::create(&cx.p("p/s-"), None, 2),
            m::create(&cx.p("p/s-0000000001"), None, 0),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "create p/s- seq",
        req::create(&cx.p("p/s-"), None, 2),
    )
    .await?;
    cx.call(&mut r, "children p", req::get_children2(&p, false))
        .await?;
    Ok(())
}

/// Ops see the effects of earlier ops in the same multi.
pub async fn delete_then_create(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, Some(b"old"), 0))
        .await?;
    cx.call(
        &mut r,
        "multi[delete a, create a]",
        req::multi(vec![m::delete(&a, 0), m::create(&a, Some(b"new"), 0)]),
    )
    .await?;
    cx.call(&mut r, "get a", req::get_data(&a, false)).await?;
    cx.call(
        &mut r,
        "multi[create b, create b/c, delete b/c, set b]",
        req::multi(vec![
            m::create(&cx.p("b"), None, 0),
            m::create(&cx.p("b/c"), None, 0),
            m::delete(&cx.p("b/c"), -1),
            m::set_data(&cx.p("b"), Some(b"x"), 0),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "getChildren2 b",
        req::get_children2(&cx.p("b"), false),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[delete a, delete a]",
        req::multi(vec![m::delete(&a, -1), m::delete(&a, -1)]),
    )
    .await?;
    Ok(())
}

pub async fn child_of_ephemeral(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let e = cx.p("e");
    cx.call(
        &mut r,
        "multi[create e eph, create e/c]",
        req::multi(vec![
            m::create(&e, None, 1),
            m::create(&cx.p("e/c"), None, 0),
        ]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[create e eph, set e]",
        req::multi(vec![m::create(&e, None, 1), m::set_data(&e, Some(b"x"), 0)]),
    )
    .await?;
    cx.call(&mut r, "getEphemerals R", req::get_ephemerals(&cx.p("")))
        .await?;
    Ok(())
}

/// multiRead is not a txn: each op succeeds or fails on its own, no -2.
pub async fn read(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, Some(b"A"), 0))
        .await?;
    cx.call(&mut r, "create a/b", req::create(&cx.p("a/b"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "multiRead[getData a, getData missing, getChildren a, getChildren missing, getData a/b]",
        req::multi_read(vec![
            m::get_data(&a),
            m::get_data(&cx.p("missing")),
            m::get_children(&a),
            m::get_children(&cx.p("missing")),
            m::get_data(&cx.p("a/b")),
        ]),
    )
    .await?;
    let c = cx.client().await?;
    let mut reader = c.new_multi_reader();
    reader.add_get_data(&a)?;
    reader.add_get_children(&a)?;
    reader.add_get_data(&cx.p("nope"))?;
    rec!(cx, "client multi reader", reader.commit());
    Ok(())
}

pub async fn read_no_auth(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let (a, s) = (cx.p("a"), cx.p("secret"));
    cx.call(&mut r, "create a", req::create(&a, Some(b"A"), 0))
        .await?;
    cx.call(
        &mut r,
        "create secret (digest bob only)",
        req::create_op(
            OpCode::CREATE,
            &s,
            Some(b"S"),
            vec![acl(
                perms::ALL,
                "digest",
                &zkfleet_tests::digest::digest_id("bob", "pw"),
            )],
            0,
        ),
    )
    .await?;
    cx.call(
        &mut r,
        "multiRead[getData secret, getData a, getChildren secret]",
        req::multi_read(vec![m::get_data(&s), m::get_data(&a), m::get_children(&s)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[set secret, set a]",
        req::multi(vec![m::set_data(&s, None, -1), m::set_data(&a, None, -1)]),
    )
    .await?;
    cx.call(
        &mut r,
        "multi[check secret]",
        req::multi(vec![m::check(&s, -1)]),
    )
    .await?;
    Ok(())
}

/// The zookeeper-client crate's MultiWriter and CheckWriter.
pub async fn client_writer(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    let mut w = c.new_multi_writer();
    w.add_create(&a, b"1", &open())?;
    w.add_set_data(&a, b"2", Some(0))?;
    w.add_check_version(&a, 1)?;
    w.add_create(&cx.p("a/b"), b"", &open())?;
    w.add_delete(&cx.p("a/b"), None)?;
    rec!(cx, "multi writer ok", w.commit());
    let mut w = c.new_multi_writer();
    w.add_set_data(&a, b"3", None)?;
    w.add_create(&a, b"", &open())?;
    rec!(cx, "multi writer failing", w.commit());
    let mut cw = c.new_check_writer(&a, Some(1))?;
    cw.add_set_data(&a, b"4", None)?;
    rec!(cx, "check writer ok", cw.commit());
    let mut cw = c.new_check_writer(&a, Some(1))?;
    cw.add_set_data(&a, b"5", None)?;
    rec!(cx, "check writer stale", cw.commit());
    rec!(cx, "get a", c.get_data(&a));
    Ok(())
}
