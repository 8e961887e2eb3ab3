//! Sessions: timeout negotiation, old clients, re-attaching, close and expiry.

use std::time::Duration;

use anyhow::Result;
use zk_proto::proto::ConnectResponse;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::raw::{ConnectOpts, RawClient};
use zkfleet_tests::req;
use zookeeper_client as zk;

use crate::util::*;

/// A ConnectResponse in normalized form: the password is reported as matching Apache's
/// generator (java.util.Random seeded from the session id) or not.
fn conn_resp(cx: &mut Cx, resp: &Option<ConnectResponse>) -> String {
    match resp {
        None => "closed without a ConnectResponse".to_string(),
        Some(r) => {
            let session = if r.session_id == 0 {
                "0".to_string()
            } else {
                cx.norm.add_session(r.session_id)
            };
            let pw = if r.passwd == zk_proto::session::password(r.session_id) {
                "apache-generated".to_string()
            } else if r.passwd.iter().all(|b| *b == 0) {
                format!("{} zero bytes", r.passwd.len())
            } else {
                format!("other ({} bytes)", r.passwd.len())
            };
            format!(
                "proto={} timeout={} session={session} passwd={pw} readOnly={:?}",
                r.protocol_version, r.timeout_ms, r.read_only
            )
        }
    }
}

async fn handshake(cx: &mut Cx, label: &str, opts: &ConnectOpts) -> Result<RawClient> {
    let mut c = RawClient::connect_tcp(cx.addr).await?;
    let resp = c.handshake(opts).await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("connect {label} -> {line}"));
    cx.track_raw(&c);
    Ok(c)
}

/// Requested timeouts are clamped into [2, 20] ticks (1000..10000 ms here).
pub async fn timeout_negotiation(cx: &mut Cx) -> Result<()> {
    for t in [100, 999, 1000, 1500, 4000, 10_000, 10_001, 1_000_000, 0, -5] {
        let opts = ConnectOpts {
            timeout_ms: t,
            ..ConnectOpts::default()
        };
        let mut c = handshake(cx, &format!("timeout {t}"), &opts).await?;
        let got = c.close_session().await?;
        cx.log_incoming(&got);
    }
    let c = cx
        .client_with_timeout(
            zk::Client::connector().with_session_timeout(Duration::from_millis(100)),
        )
        .await;
    cx.log(format!(
        "client asked 100ms -> {:?}",
        c.as_ref().map(|c| c.session_timeout().as_millis())
    ));
    Ok(())
}

/// A client without the read-only byte gets a response without it and is served normally.
pub async fn old_client_without_read_only_byte(cx: &mut Cx) -> Result<()> {
    let opts = ConnectOpts {
        read_only: None,
        ..ConnectOpts::default()
    };
    let mut c = handshake(cx, "no readOnly byte", &opts).await?;
    cx.call(&mut c, "create a", req::create(&cx.p("a"), Some(b"old"), 1))
        .await?;
    cx.call(&mut c, "getData a", req::get_data(&cx.p("a"), false))
        .await?;
    let opts = ConnectOpts {
        read_only: Some(true),
        ..ConnectOpts::default()
    };
    let mut c2 = handshake(cx, "readOnly=true", &opts).await?;
    cx.call(&mut c2, "exists a", req::exists(&cx.p("a"), false))
        .await?;
    let got = c.close_session().await?;
    cx.log("-> closeSession (old client)");
    cx.log_incoming(&got);
    Ok(())
}

/// Re-attaching within the timeout keeps the session and its ephemerals; a second connection
/// for the same session makes the server close the first.
pub async fn reconnect_keeps_session(cx: &mut Cx) -> Result<()> {
    let mut c1 = cx.raw().await?;
    let e = cx.p("e");
    cx.call(&mut c1, "create e ephemeral", req::create(&e, None, 1))
        .await?;
    let opts = ConnectOpts {
        session_id: c1.session_id,
        passwd: c1.passwd.clone(),
        last_zxid_seen: c1.last_zxid,
        ..ConnectOpts::default()
    };
    let mut c2 = handshake(cx, "same session while first is open", &opts).await?;
    let first = c1.drain(Duration::from_secs(3)).await?;
    cx.log("-- first connection after the second attached:");
    cx.log_incoming(&first);
    cx.call(&mut c2, "exists e", req::exists(&e, false)).await?;
    drop(c2);
    let mut c3 = handshake(cx, "same session after a disconnect", &opts).await?;
    cx.call(&mut c3, "exists e", req::exists(&e, false)).await?;
    cx.call(&mut c3, "getEphemerals R", req::get_ephemerals(&cx.p("")))
        .await?;
    Ok(())
}

/// A wrong password: timeout 0, session 0, zero password, then close.
pub async fn reconnect_bad_password(cx: &mut Cx) -> Result<()> {
    let c1 = cx.raw().await?;
    let mut bad = c1.passwd.clone();
    bad[0] ^= 0xff;
    let opts = ConnectOpts {
        session_id: c1.session_id,
        passwd: bad,
        ..ConnectOpts::default()
    };
    let mut c2 = RawClient::connect_tcp(cx.addr).await?;
    let resp = c2.handshake(&opts).await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("connect wrong password -> {line}"));
    let rest = c2.drain(Duration::from_secs(3)).await?;
    cx.log_incoming(&rest);
    let opts = ConnectOpts {
        session_id: 0x7fff_0000_0000_0001,
        passwd: vec![0; 16],
        ..ConnectOpts::default()
    };
    let mut c3 = RawClient::connect_tcp(cx.addr).await?;
    let resp = c3.handshake(&opts).await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("connect unknown session -> {line}"));
    let rest = c3.drain(Duration::from_secs(3)).await?;
    cx.log_incoming(&rest);
    drop(c1);
    Ok(())
}

pub async fn reconnect_closed_session(cx: &mut Cx) -> Result<()> {
    let mut c1 = cx.raw().await?;
    cx.call(
        &mut c1,
        "create e ephemeral",
        req::create(&cx.p("e"), None, 1),
    )
    .await?;
    let got = c1.close_session().await?;
    cx.log("-> closeSession");
    cx.log_incoming(&got);
    let opts = ConnectOpts {
        session_id: c1.session_id,
        passwd: c1.passwd.clone(),
        ..ConnectOpts::default()
    };
    let mut c2 = RawClient::connect_tcp(cx.addr).await?;
    let resp = c2.handshake(&opts).await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("connect closed session -> {line}"));
    let rest = c2.drain(Duration::from_secs(3)).await?;
    cx.log_incoming(&rest);
    let mut c3 = cx.raw().await?;
    cx.call(&mut c3, "exists e", req::exists(&cx.p("e"), false))
        .await?;
    Ok(())
}

/// A client that has seen a newer zxid than the server is dropped without a response.
pub async fn last_zxid_ahead(cx: &mut Cx) -> Result<()> {
    let opts = ConnectOpts {
        last_zxid_seen: cx.norm.base_zxid() + 1_000_000,
        ..ConnectOpts::default()
    };
    let mut c = RawClient::connect_tcp(cx.addr).await?;
    let resp = c.handshake(&opts).await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("connect lastZxidSeen=base+1000000 -> {line}"));
    cx.track_raw(&c);
    let mut ok = cx.raw().await?;
    cx.call(&mut ok, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    let opts = ConnectOpts {
        last_zxid_seen: ok.last_zxid,
        ..ConnectOpts::default()
    };
    let _c = handshake(cx, "lastZxidSeen=current", &opts).await?;
    Ok(())
}

/// closeSession: empty reply, the connection closes, the ephemerals go and their watches fire.
pub async fn close_session_deletes_ephemerals(cx: &mut Cx) -> Result<()> {
    let mut s1 = cx.raw().await?;
    let mut s2 = cx.raw().await?;
    let (e1, e2) = (cx.p("e1"), cx.p("e2"));
    cx.call(&mut s1, "s1 create e1 ephemeral", req::create(&e1, None, 1))
        .await?;
    cx.call(&mut s1, "s1 create e2 ephemeral", req::create(&e2, None, 1))
        .await?;
    cx.call(&mut s1, "s1 create p", req::create(&cx.p("p"), None, 0))
        .await?;
    cx.call(&mut s2, "s2 exists e1 watch", req::exists(&e1, true))
        .await?;
    cx.call(&mut s2, "s2 getData e2 watch", req::get_data(&e2, true))
        .await?;
    cx.call(
        &mut s2,
        "s2 getChildren R watch",
        req::get_children(&cx.p(""), true),
    )
    .await?;
    let got = s1.close_session().await?;
    cx.log("-> s1 closeSession");
    cx.log_incoming(&got);
    barrier_unordered(cx, &mut s2).await?;
    cx.call(
        &mut s2,
        "s2 getChildren2 R",
        req::get_children2(&cx.p(""), false),
    )
    .await?;
    Ok(())
}

/// A silent session expires after its timeout: its ephemerals are deleted with their watches
/// fired, its connection is closed, and it cannot be re-attached.
pub async fn expiry_deletes_ephemerals(cx: &mut Cx) -> Result<()> {
    let opts = ConnectOpts {
        timeout_ms: 1000,
        ..ConnectOpts::default()
    };
    let mut s1 = cx.raw_with(&opts).await?;
    let mut s2 = cx.raw().await?;
    let e = cx.p("e");
    cx.call(
        &mut s1,
        "s1 create e ephemeral",
        req::create(&e, Some(b"x"), 1),
    )
    .await?;
    cx.call(
        &mut s1,
        "s1 create e2 eph seq",
        req::create(&cx.p("e2-"), None, 3),
    )
    .await?;
    cx.call(&mut s2, "s2 exists e watch", req::exists(&e, true))
        .await?;
    cx.call(
        &mut s2,
        "s2 getChildren R watch",
        req::get_children(&cx.p(""), true),
    )
    .await?;
    wait_events_unordered(cx, &mut s2, 2, Duration::from_secs(10)).await?;
    cx.call(
        &mut s2,
        "s2 getChildren2 R",
        req::get_children2(&cx.p(""), false),
    )
    .await?;
    let after = s1.drain(Duration::from_secs(2)).await?;
    cx.log("-- s1's connection after expiry:");
    cx.log_incoming(&after);
    let reopts = ConnectOpts {
        session_id: s1.session_id,
        passwd: s1.passwd.clone(),
        ..ConnectOpts::default()
    };
    let mut s3 = RawClient::connect_tcp(cx.addr).await?;
    let resp = s3.handshake(&reopts).await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("re-attach expired session -> {line}"));
    Ok(())
}

/// zookeeper-client closing its session (drop) fires the watches on its ephemerals.
pub async fn client_close_fires_watches(cx: &mut Cx) -> Result<()> {
    let c1 = cx.client().await?;
    let c2 = cx.client().await?;
    let e = cx.p("e");
    rec!(
        cx,
        "s1 create e",
        c1.create(&e, b"", &mode(zk::CreateMode::Ephemeral))
    );
    let (_, _, wd) = c2.get_and_watch_data(&e).await?;
    let (_, wc) = c2.list_and_watch_children(&cx.p("")).await?;
    drop(c1);
    cx.event("s2 data watch e", wd).await?;
    cx.event("s2 child watch R", wc).await?;
    rec!(cx, "s2 stat R", c2.check_stat(&cx.p("")));
    Ok(())
}

/// What the Java client does on every (re)connect: ConnectRequest, auth, setWatches and a first
/// request written back to back without waiting for the ConnectResponse.
pub async fn pipelined_after_connect(cx: &mut Cx) -> Result<()> {
    let mut setup = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut setup, "create a", req::create(&a, Some(b"x"), 0))
        .await?;
    let mut c = RawClient::connect_tcp(cx.addr).await?;
    let mut bytes = zkfleet_tests::raw::connect_frame(&ConnectOpts::default());
    for (xid, q) in [
        (-4, req::digest_auth("alice:secret")),
        (-8, req::set_watches(setup.last_zxid, &[&a], &[], &[])),
        (1, req::get_data(&a, false)),
        (2, req::exists(&cx.p("missing"), true)),
    ] {
        let mut body = Vec::new();
        q.encode_body(&mut body);
        bytes.extend(zkfleet_tests::raw::request_frame(xid, q.op().0, &body));
        c.expect_reply(xid, q.op());
    }
    cx.log("-> connect, auth, setWatches data[a], getData a, exists missing watch (one write)");
    c.write_bytes(&bytes).await?;
    let resp = c.read_connect_response().await?;
    let line = conn_resp(cx, &resp);
    cx.log(format!("   connect -> {line}"));
    cx.track_raw(&c);
    let got = c.read_until_reply(2).await?;
    cx.log_incoming(&got);
    cx.call(&mut setup, "set a", req::set_data(&a, Some(b"y"), -1))
        .await?;
    cx.call(&mut c, "whoAmI", zk_proto::Request::WhoAmI).await?;
    Ok(())
}
