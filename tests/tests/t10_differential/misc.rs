//! getEphemerals, getAllChildrenNumber, sync, ping and the opcodes a client should not send.

use std::time::Duration;

use anyhow::Result;
use zk_proto::proto::{ReconfigRequest, SaslRequest};
use zk_proto::Request;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req;
use zookeeper_client as zk;

use crate::util::*;

/// Only the caller's own ephemerals, filtered by prefix ("" and "/" mean all).
pub async fn get_ephemerals(cx: &mut Cx) -> Result<()> {
    let c1 = cx.client().await?;
    let c2 = cx.client().await?;
    let eph = mode(zk::CreateMode::Ephemeral);
    rec!(cx, "create dir", c1.create(&cx.p("dir"), b"", &open()));
    rec!(cx, "s1 create e1", c1.create(&cx.p("e1"), b"", &eph));
    rec!(
        cx,
        "s1 create dir/e2",
        c1.create(&cx.p("dir/e2"), b"", &eph)
    );
    rec!(cx, "s1 create e3x", c1.create(&cx.p("e3x"), b"", &eph));
    rec!(cx, "s2 create e4", c2.create(&cx.p("e4"), b"", &eph));
    let mut r = cx.raw().await?;
    cx.call(&mut r, "raw create R/e5", req::create(&cx.p("e5"), None, 1))
        .await?;
    let root = cx.p("");
    for (label, prefix) in [
        ("root", root.clone()),
        ("R/e", cx.p("e")),
        ("R/dir", cx.p("dir")),
        ("R/dir/", format!("{}/", cx.p("dir"))),
        ("R/e3", cx.p("e3")),
        ("R/nope", cx.p("nope")),
    ] {
        rec!(
            cx,
            format!("s1 getEphemerals {label}"),
            c1.list_ephemerals(&prefix)
        );
    }
    rec!(cx, "s2 getEphemerals root", c2.list_ephemerals(&root));
    // "/" and "" list everything the session owns (other scenarios' sessions are closed).
    cx.call(&mut r, "raw getEphemerals /", req::get_ephemerals("/"))
        .await?;
    cx.call(&mut r, "raw getEphemerals \"\"", req::get_ephemerals(""))
        .await?;
    Ok(())
}

pub async fn all_children_number(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    for p in ["a", "a/b", "a/b/c", "a/b/d", "a/e", "f"] {
        rec!(cx, format!("create {p}"), c.create(&cx.p(p), b"", &open()));
    }
    for p in ["", "a", "a/b", "a/b/c", "f", "missing"] {
        rec!(
            cx,
            format!("getAllChildrenNumber {p:?}"),
            c.count_descendants_number(&cx.p(p))
        );
    }
    Ok(())
}

/// sync echoes its path, whether the node exists or not.
pub async fn sync(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    cx.call(&mut r, "sync a", req::sync(&cx.p("a"))).await?;
    cx.call(&mut r, "sync missing", req::sync(&cx.p("missing")))
        .await?;
    cx.call(&mut r, "sync /", req::sync("/")).await?;
    cx.call(&mut r, "sync bad", req::sync("bad//")).await?;
    let c = cx.client().await?;
    rec!(cx, "client sync a", c.sync(&cx.p("a")));
    Ok(())
}

/// An opcode the server does not know: err -6 with zxid -1, then the connection closes.
pub async fn unknown_opcodes(cx: &mut Cx) -> Result<()> {
    for op in [55, 10, 200, -3, 23] {
        let mut r = cx.raw().await?;
        cx.log(format!("-> opcode {op}"));
        let got = r.call_any(op, &[0, 0, 0, 1, 0x2f]).await?;
        cx.log_incoming(&got);
        if !r.is_closed() {
            let rest = r.drain(Duration::from_millis(500)).await?;
            cx.log_incoming(&rest);
        }
    }
    Ok(())
}

/// Opcode 0 (notification) and createSession/closeSession-like txn types from a client.
pub async fn notification_opcode(cx: &mut Cx) -> Result<()> {
    for op in [0, -10, -1] {
        let mut r = cx.raw().await?;
        cx.log(format!("-> opcode {op}"));
        let got = r.call_any(op, &[]).await?;
        cx.log_incoming(&got);
        if !r.is_closed() {
            let rest = r.drain(Duration::from_millis(500)).await?;
            cx.log_incoming(&rest);
        }
    }
    Ok(())
}

/// deleteContainer (20) is internal: from a client it fails with BadArguments and uses a zxid.
pub async fn delete_container_from_client(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let k = cx.p("k");
    cx.call(&mut r, "createContainer k", req::create_container(&k, None))
        .await?;
    cx.log("-> deleteContainer k (raw path bytes)");
    let got = r.call_any(20, k.as_bytes()).await?;
    cx.log_incoming(&got);
    cx.log("-> deleteContainer k (jute string)");
    let mut body = (k.len() as i32).to_be_bytes().to_vec();
    body.extend_from_slice(k.as_bytes());
    let got = r.call_any(20, &body).await?;
    cx.log_incoming(&got);
    cx.call(&mut r, "exists k", req::exists(&k, false)).await?;
    Ok(())
}

/// reconfig on a server without dynamic reconfig.
pub async fn reconfig_disabled(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let rc = Request::Reconfig(ReconfigRequest {
        joining_servers: None,
        leaving_servers: Some("2".to_string()),
        new_members: None,
        cur_config_id: -1,
    });
    cx.call(&mut r, "reconfig leave 2", rc).await?;
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    let c = cx.client().await?;
    rec!(cx, "client getConfig", c.get_config());
    Ok(())
}

/// sasl (102) with no SASL configured on the server.
pub async fn sasl_without_config(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(
        &mut r,
        "sasl empty token",
        Request::Sasl(SaslRequest {
            token: Some(vec![]),
        }),
    )
    .await?;
    if !r.is_closed() {
        cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
            .await?;
    }
    Ok(())
}

/// Ping replies carry the last zxid and interleave in order with other replies.
pub async fn ping(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "ping", Request::Ping).await?;
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    cx.call(&mut r, "ping", Request::Ping).await?;
    // Pipelined: create, ping, getData, ping: replies in request order.
    cx.log("-> pipelined create b, ping, getData b, ping");
    let x1 = r.send(&req::create(&cx.p("b"), None, 0)).await?;
    r.send(&Request::Ping).await?;
    r.send(&req::get_data(&cx.p("b"), false)).await?;
    r.send(&Request::Ping).await?;
    let _ = x1;
    let mut got = Vec::new();
    for _ in 0..4 {
        if let Some(inc) = r.recv(Duration::from_secs(10)).await? {
            got.push(inc);
        }
    }
    cx.log_incoming(&got);
    Ok(())
}

/// A top-level check (13). Apache 3.8 never answers it; see the known divergence note.
pub async fn top_level_check(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.log("-> check a v=0, then ping");
    r.send(&req::check(&a, 0)).await?;
    r.send(&Request::Ping).await?;
    let got = r.drain(Duration::from_millis(1500)).await?;
    cx.log_incoming(&got);
    Ok(())
}
