//! Helpers shared by the scenario modules.

use std::time::Duration;

use zkfleet_tests::diff::Cx;
use zkfleet_tests::raw::{Incoming, RawClient};
use zkfleet_tests::req;
use zookeeper_client as zk;

pub const SUPER_PASSWORD: &str = "sup3r";

/// Runs a zookeeper-client future and records `label -> result` in the transcript.
macro_rules! rec {
    ($cx:expr, $label:expr, $fut:expr) => {{
        let r = $fut.await;
        $cx.rec(&$label, &r);
    }};
}

/// Persistent node, open ACL.
pub fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

pub fn mode(m: zk::CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(zk::Acls::anyone_all())
}

/// A raw ping used as a barrier: every event caused by a txn applied before the ping was
/// processed arrives before its reply.
pub async fn barrier(cx: &mut Cx, c: &mut RawClient) -> anyhow::Result<Vec<Incoming>> {
    cx.call(c, "ping (barrier)", zk_proto::Request::Ping).await
}

/// Waits up to `timeout` for frames on a raw client and logs them (nothing expected → nothing
/// logged but the wait).
pub async fn drain(
    cx: &mut Cx,
    c: &mut RawClient,
    label: &str,
    quiet: Duration,
) -> anyhow::Result<()> {
    cx.log(format!("-- {label}: wait {}ms", quiet.as_millis()));
    let got = c.drain(quiet).await?;
    cx.log_incoming(&got);
    Ok(())
}

/// Reads frames until `n` watch events arrived (or `timeout`), logging every frame.
pub async fn wait_events(
    cx: &mut Cx,
    c: &mut RawClient,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let got = collect_events(cx, c, n, timeout).await?;
    cx.log_incoming(&got);
    Ok(())
}

/// Like [`wait_events`], for events of one txn that deletes several nodes (a session's close or
/// expiry): Apache deletes a session's ephemerals in the iteration order of a Java
/// `HashSet<String>`, so the order of their events is unspecified and is logged sorted.
pub async fn wait_events_unordered(
    cx: &mut Cx,
    c: &mut RawClient,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let got = collect_events(cx, c, n, timeout).await?;
    cx.log_incoming(&sort_event_runs(got));
    Ok(())
}

async fn collect_events(
    cx: &mut Cx,
    c: &mut RawClient,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Incoming>> {
    cx.log(format!("-- wait for {n} event(s)"));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = 0;
    let mut got = Vec::new();
    while seen < n {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.recv(left).await? {
            None => {
                cx.log(format!("   (timed out after {seen} event(s))"));
                break;
            }
            Some(inc) => {
                if matches!(inc, Incoming::Event { .. }) {
                    seen += 1;
                }
                let closed = inc == Incoming::Closed;
                got.push(inc);
                if closed {
                    break;
                }
            }
        }
    }
    Ok(got)
}

/// Sorts each run of consecutive watch events (by path, then type), leaving replies in place, so
/// the check that events precede the reply stays while their mutual order is ignored.
pub fn sort_event_runs(v: Vec<Incoming>) -> Vec<Incoming> {
    let key = |i: &Incoming| match i {
        Incoming::Event { event, .. } => (event.path.clone(), event.event_type),
        _ => (String::new(), 0),
    };
    let mut out: Vec<Incoming> = Vec::with_capacity(v.len());
    let mut run: Vec<Incoming> = Vec::new();
    for inc in v {
        if matches!(inc, Incoming::Event { .. }) {
            run.push(inc);
        } else {
            run.sort_by_key(key);
            out.append(&mut run);
            out.push(inc);
        }
    }
    run.sort_by_key(key);
    out.append(&mut run);
    out
}

/// A ping barrier whose preceding events come from one multi-node txn; see
/// [`wait_events_unordered`].
pub async fn barrier_unordered(cx: &mut Cx, c: &mut RawClient) -> anyhow::Result<()> {
    cx.log("-> ping (barrier; events of one txn sorted)");
    let got = c.call(&zk_proto::Request::Ping).await?;
    cx.log_incoming(&sort_event_runs(got));
    Ok(())
}

/// A raw client authenticated with `digest user:password`.
pub async fn raw_digest(cx: &mut Cx, user_password: &str) -> anyhow::Result<RawClient> {
    let mut c = cx.raw().await?;
    cx.call(
        &mut c,
        &format!("auth digest {user_password}"),
        req::digest_auth(user_password),
    )
    .await?;
    Ok(c)
}

/// A zookeeper-client session authenticated with `digest user:password`.
pub async fn client_digest(cx: &mut Cx, user_password: &str) -> anyhow::Result<zk::Client> {
    let c = cx
        .client_with(zk::Client::connector().with_auth("digest", user_password.as_bytes()))
        .await?;
    Ok(c)
}

pub fn acl(perms: i32, scheme: &str, id: &str) -> zk_proto::Acl {
    zk_proto::Acl::new(perms, scheme, id)
}
