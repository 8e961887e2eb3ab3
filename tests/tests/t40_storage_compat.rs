//! On-disk compatibility (issue 3, acceptance 1): Apache ZooKeeper 3.8 fills a data directory
//! with a varied tree, zk-node starts on it and must show the same tree, stats included; then
//! zk-node writes, stops, and Apache starts on what zk-node wrote and must show zk-node's tree.
//! Method: one independent client (the zookeeper-client crate, authenticated as super) dumps
//! every node's data, ACL and Stat; the dumps must be equal byte for byte.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use zkfleet_tests::apache::ApacheServer;
use zkfleet_tests::digest::digest_id;
use zkfleet_tests::target::{Server, ServerOptions};
use zkfleet_tests::zknode::ZkNode;
use zookeeper_client as zk;

const SUPER_PW: &str = "sup3r";

fn options() -> ServerOptions {
    ServerOptions {
        super_digest: Some(digest_id("super", SUPER_PW)),
        // Containers must not be reaped between the two dumps.
        container_check_interval_ms: 3_600_000,
        ..Default::default()
    }
}

async fn client(addr: &str) -> Result<zk::Client> {
    let c = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(40))
        .connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    Ok(c)
}

async fn super_client(addr: &str) -> Result<zk::Client> {
    let c = client(addr).await?;
    c.auth("digest", format!("super:{SUPER_PW}").as_bytes())
        .await?;
    Ok(c)
}

fn opts(m: zk::CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(zk::Acls::anyone_all())
}

/// A tree with every ACL scheme, sequential nodes, a container, a TTL node, values up to 1 MB,
/// deletes, a closed session's ephemerals (gone) and a live session's (kept). Returns the live
/// session's client, which must stay open while the server stops.
async fn fill(addr: &str) -> Result<zk::Client> {
    let c = client(addr).await?;
    c.create(
        "/c",
        b"root of the test tree",
        &opts(zk::CreateMode::Persistent),
    )
    .await?;
    c.auth("digest", b"alice:secret").await?;
    let digest = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("digest", &digest_id("alice", "secret")),
    )];
    c.create(
        "/c/digest",
        b"alice only",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&digest)),
    )
    .await?;
    let ip = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("ip", "127.0.0.0/8"),
    )];
    c.create(
        "/c/ip",
        b"loopback only",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&ip)),
    )
    .await?;
    c.create(
        "/c/readonly",
        b"r",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_read()),
    )
    .await?;
    c.create(
        "/c/creator",
        b"auth scheme",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
    )
    .await?;
    c.create("/c/seq", b"", &opts(zk::CreateMode::Persistent))
        .await?;
    for _ in 0..5 {
        c.create(
            "/c/seq/s-",
            b"x",
            &opts(zk::CreateMode::PersistentSequential),
        )
        .await?;
    }
    c.delete("/c/seq/s-0000000001", None).await?;
    c.delete("/c/seq/s-0000000003", None).await?;
    c.create("/c/k", b"", &opts(zk::CreateMode::Container))
        .await?;
    c.create("/c/k/child", b"", &opts(zk::CreateMode::Persistent))
        .await?;
    c.create(
        "/c/ttl",
        b"t",
        &opts(zk::CreateMode::Persistent).with_ttl(Duration::from_secs(3600)),
    )
    .await?;
    for (name, len) in [
        ("empty", 0usize),
        ("small", 10),
        ("kib", 1024),
        ("half-mib", 512 * 1024),
        ("mib", 1_000_000),
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        c.create(
            &format!("/c/v-{name}"),
            &data,
            &opts(zk::CreateMode::Persistent),
        )
        .await?;
    }
    c.create("/c/gone", b"deleted", &opts(zk::CreateMode::Persistent))
        .await?;
    c.set_data("/c/v-small", b"updated", None).await?;
    c.set_data("/c/v-small", b"updated twice", Some(1)).await?;
    c.delete("/c/gone", None).await?;
    c.set_acl(
        "/c/v-small",
        &[zk::Acl::new(
            zk::Permission::READ | zk::Permission::WRITE,
            zk::AuthId::anyone(),
        )],
        None,
    )
    .await?;
    let closed = client(addr).await?;
    closed
        .create("/c/eph-closed", b"", &opts(zk::CreateMode::Ephemeral))
        .await?;
    drop(closed);
    let live = client(addr).await?;
    live.create(
        "/c/eph-live",
        b"still here",
        &opts(zk::CreateMode::Ephemeral),
    )
    .await?;
    // Dropping a client closes its session in the background: wait until the ephemeral is gone.
    for _ in 0..200 {
        if c.check_stat("/c/eph-closed").await?.is_none() {
            return Ok(live);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the closed session's ephemeral /c/eph-closed did not go away")
}

type Dump = BTreeMap<String, String>;

/// Every node under /c with data, ACL and Stat, as text.
async fn dump(addr: &str) -> Result<Dump> {
    let c = super_client(addr).await?;
    let mut out = Dump::new();
    let mut todo = vec!["/c".to_string()];
    while let Some(p) = todo.pop() {
        let (data, stat) = c.get_data(&p).await.with_context(|| format!("get {p}"))?;
        let (acl, _) = c.get_acl(&p).await.with_context(|| format!("getAcl {p}"))?;
        let (mut children, _) = c.get_children(&p).await?;
        children.sort();
        let digest = {
            use sha1::Digest;
            let h = sha1::Sha1::digest(&data);
            h.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        out.insert(
            p.clone(),
            format!(
                "len={} sha1={digest} acl={acl:?} stat={stat:?} children={children:?}",
                data.len()
            ),
        );
        todo.extend(children.iter().map(|ch| format!("{p}/{ch}")));
    }
    Ok(out)
}

fn assert_same(what: &str, a: &Dump, b: &Dump) {
    let mut diffs = Vec::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(k) != b.get(k) {
            diffs.push(format!(
                "{k}\n  before: {:?}\n  after:  {:?}",
                a.get(k),
                b.get(k)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} node(s) differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Replaces `to/version-2` with a copy of `from/version-2`.
fn copy_version2(from: &Path, to: &Path) -> Result<()> {
    let (src, dst) = (from.join("version-2"), to.join("version-2"));
    if dst.exists() {
        std::fs::remove_dir_all(&dst)?;
    }
    std::fs::create_dir_all(&dst)?;
    for e in std::fs::read_dir(&src).with_context(|| format!("read {}", src.display()))? {
        let e = e?;
        std::fs::copy(e.path(), dst.join(e.file_name()))?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_and_zk_node_start_on_each_others_data_directory() -> Result<()> {
    let Some(mut apache) = ApacheServer::start(&options())? else {
        return Ok(());
    };
    // `live` holds its session (and /c/eph-live) to the end of the test. Dropped, the client
    // would go on trying to close the session at Apache's address, and a server that later
    // took that port and holds the session (it is in the data) would rightly close it.
    let live = fill(&apache.connect_string()).await?;
    let written_by_apache = dump(&apache.connect_string()).await?;
    assert!(written_by_apache.contains_key("/c/eph-live"));
    assert!(!written_by_apache.contains_key("/c/eph-closed"));
    // Started while Apache still holds its port, so that zk-node gets another one.
    let mut node = ZkNode::start(&options())?;
    node.stop();
    apache.stop();

    copy_version2(&apache.data_dir(), &node.data_dir())?;
    node.restart()?;
    let read_by_node = dump(&node.connect_string()).await?;
    assert_same(
        "zk-node reading Apache's data directory",
        &written_by_apache,
        &read_by_node,
    );

    let c = client(&node.connect_string()).await?;
    c.create(
        "/c/by-zk-node",
        b"written by zk-node",
        &opts(zk::CreateMode::Persistent),
    )
    .await?;
    c.create(
        "/c/seq/s-",
        b"",
        &opts(zk::CreateMode::PersistentSequential),
    )
    .await?;
    c.set_data("/c/v-kib", b"replaced", None).await?;
    c.delete("/c/seq/s-0000000000", None).await?;
    c.set_acl(
        "/c/v-kib",
        &[zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())],
        None,
    )
    .await?;
    drop(c);
    let written_by_node = dump(&node.connect_string()).await?;
    node.stop();

    copy_version2(&node.data_dir(), &apache.data_dir())?;
    apache.restart()?;
    let read_by_apache = dump(&apache.connect_string()).await?;
    assert_same(
        "Apache reading zk-node's data directory",
        &written_by_node,
        &read_by_apache,
    );
    drop(live);
    Ok(())
}
