//! t20_interop: independent ZooKeeper clients cannot tell zk-node from Apache ZooKeeper 3.8.
//!
//! Goal: issue 2's interop acceptance. Three clients that share no code with us each run one
//! scripted session, first against Apache ZooKeeper 3.8 standalone, then against zk-node, and
//! must see the same thing: the `zookeeper-client` crate (Rust), kazoo (Python, run as
//! `tests/scripts/kazoo_session.py`) and `zkCli.sh` (Java, the shell operators use). Each
//! session covers every create mode (persistent, ephemeral, sequential, ephemeral-sequential,
//! container, TTL), get/set/delete with versions including stale ones, every watch kind (data,
//! exists, child, persistent, persistent-recursive) with the events seen, multi success and
//! failure (not zkCli: 3.8's shell has no multi command), ACLs with digest auth and NoAuth for
//! a second session, container and TTL reaping, and ephemerals vanishing, with their watch
//! events, when the owner's session closes, as seen from a second session.
//!
//! Method: each client turns what it saw into text lines normalized so that two correct
//! servers print the same lines: zxids become their rank among the zxids the session saw
//! (order and equality kept, gaps ignored), ctime/mtime become `t` once checked to be
//! plausible, session ids become the session's name. The Apache transcript is also checked
//! for a few lines the script must produce, so a broken script cannot pass by failing the same
//! way twice. A difference is printed as a diff (`A-` Apache, `B+` zk-node).
//!
//! Skips (with a message) when Apache, python3/kazoo or zkCli.sh are missing and `CI` is unset;
//! fails when `CI` is set.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use zkfleet_tests::diff::diff_lines;
use zkfleet_tests::target::in_ci;
use zkfleet_tests::{ServerOptions, Target};

/// The shell operators use, from the Debian package.
const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
/// How long a server may take to reap an empty container or an expired TTL node: the check
/// runs every `container_check_interval_ms` (500 ms in the tests), a loaded machine is slow.
const REAP_WAIT: Duration = Duration::from_secs(20);
/// How long to wait for a watch event caused by another session.
const EVENT_WAIT: Duration = Duration::from_secs(20);
/// How long one client's whole session may take; past it the session is cut short and its
/// transcript says so (a hang against one server is a difference, not a stuck test).
const SESSION_WAIT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------------------
// Running one client against both servers
// ---------------------------------------------------------------------------------------------

/// Options shared by both servers: TTL nodes on, quick container checks.
fn server_options() -> ServerOptions {
    ServerOptions {
        extended_types_enabled: true,
        container_check_interval_ms: 500,
        ..ServerOptions::default()
    }
}

/// `Ok(false)`: skip with a message (or an error in CI) because `what` is missing.
fn require(what: &str, missing: Option<String>) -> Result<bool> {
    match missing {
        None => Ok(true),
        Some(why) if in_ci() => bail!("CI is set and {what} cannot run: {why}"),
        Some(why) => {
            eprintln!("SKIP {what}: {why}");
            Ok(false)
        }
    }
}

/// Runs `session` against Apache, then against zk-node (one server at a time, so the two never
/// compete for the machine), checks the Apache transcript holds `expect`, and compares.
fn run_both(
    client: &str,
    expect: &[&str],
    session: impl Fn(&str) -> Result<Vec<String>>,
) -> Result<()> {
    let opts = server_options();
    let Some(apache) = Target::Apache.start(&opts)? else {
        return Ok(()); // skipped, the harness said why
    };
    let reference = session(&apache.connect_string())
        .with_context(|| format!("{client} against {}", apache.label()))?;
    drop(apache);
    check_reference(client, &reference, expect);

    let node = Target::ZkNode
        .start(&opts)?
        .context("zk-node is always available")?;
    let ours = session(&node.connect_string())
        .with_context(|| format!("{client} against {}", node.label()))?;
    if reference != ours {
        panic!(
            "{client}: zk-node differs from Apache ZooKeeper 3.8 (A- apache, B+ zk-node); \
             zk-node log {}\n{}",
            node.log_path().display(),
            diff_lines(&reference, &ours)
        );
    }
    eprintln!(
        "{client}: {} lines, identical on Apache and zk-node",
        reference.len()
    );
    Ok(())
}

/// The script itself must work: every expected line is in Apache's transcript.
fn check_reference(client: &str, lines: &[String], expect: &[&str]) {
    let missing: Vec<&str> = expect
        .iter()
        .copied()
        .filter(|e| !lines.iter().any(|l| l == e))
        .collect();
    assert!(
        missing.is_empty(),
        "{client}: Apache's transcript lacks expected lines {missing:#?}; transcript:\n{}",
        lines.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Normalization
// ---------------------------------------------------------------------------------------------

/// Lines of a session, with zxids kept raw (between `\u{1}` marks) until the end, when they
/// are replaced by their rank among all zxids the session saw.
#[derive(Debug)]
struct Transcript {
    lines: Vec<String>,
    zxids: BTreeSet<i64>,
    /// Session ids with the names the script gave them.
    sessions: Vec<(i64, String)>,
    /// Wall clock at the start, to check ctime/mtime are plausible.
    t0_ms: i64,
}

impl Transcript {
    fn new() -> Transcript {
        Transcript {
            lines: Vec::new(),
            zxids: BTreeSet::new(),
            sessions: Vec::new(),
            t0_ms: now_ms(),
        }
    }

    fn line(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }

    /// A zxid placeholder; 0 and -1 are kept as they are (they mean "none").
    fn z(&mut self, z: i64) -> String {
        if z == 0 || z == -1 {
            return z.to_string();
        }
        self.zxids.insert(z);
        format!("\u{1}{z}\u{1}")
    }

    fn time(&self, ms: i64) -> String {
        if (self.t0_ms - 60_000..=now_ms() + 60_000).contains(&ms) {
            "t".to_string()
        } else {
            format!("t?{ms}")
        }
    }

    /// Names a session: the first id given a name keeps it.
    fn name_session(&mut self, id: i64, name: &str) {
        self.sessions.push((id, name.to_string()));
    }

    fn session(&mut self, id: i64) -> String {
        if id == 0 {
            return "0".into();
        }
        if let Some((_, n)) = self.sessions.iter().find(|(s, _)| *s == id) {
            return n.clone();
        }
        let n = format!("S{}", self.sessions.len() + 1);
        self.sessions.push((id, n.clone()));
        n
    }

    fn finish(self) -> Vec<String> {
        let rank: std::collections::BTreeMap<i64, usize> = self
            .zxids
            .iter()
            .enumerate()
            .map(|(i, z)| (*z, i + 1))
            .collect();
        self.lines
            .into_iter()
            .map(|l| {
                let mut out = String::new();
                for (i, part) in l.split('\u{1}').enumerate() {
                    if i % 2 == 1 {
                        let z: i64 = part.parse().expect("zxid placeholder");
                        out.push_str(&format!("z{}", rank[&z]));
                    } else {
                        out.push_str(part);
                    }
                }
                out
            })
            .collect()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Client 1: the zookeeper-client crate
// ---------------------------------------------------------------------------------------------

mod rust_client {
    use super::*;
    use futures::FutureExt;
    use zookeeper_client as zk;

    const R: &str = "/interop-rust";
    const ALICE: &str = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";

    fn stat(t: &mut Transcript, s: &zk::Stat) -> String {
        format!(
            "stat(c={} m={} p={} ctime={} mtime={} v={} cv={} av={} owner={} len={} n={})",
            t.z(s.czxid),
            t.z(s.mzxid),
            t.z(s.pzxid),
            t.time(s.ctime),
            t.time(s.mtime),
            s.version,
            s.cversion,
            s.aversion,
            t.session(s.ephemeral_owner),
            s.data_length,
            s.num_children
        )
    }

    fn event(t: &mut Transcript, e: &zk::WatchedEvent) -> String {
        format!("event {:?} {} zxid={}", e.event_type, e.path, t.z(e.zxid))
    }

    fn err(e: &zk::Error) -> String {
        format!("error {e:?}")
    }

    /// Records `label: <shown value>` or `label: error <Error>`.
    fn rec<T>(
        t: &mut Transcript,
        label: &str,
        r: std::result::Result<T, zk::Error>,
        show: impl FnOnce(&mut Transcript, T) -> String,
    ) -> Option<()> {
        let line = match r {
            Ok(v) => {
                let s = show(t, v);
                format!("{label}: {s}")
            }
            Err(e) => format!("{label}: {}", err(&e)),
        };
        t.line(line);
        Some(())
    }

    fn open() -> zk::CreateOptions<'static> {
        zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
    }

    /// Every event already delivered to a persistent watcher (events for a session's own
    /// writes arrive before the write's reply, so they are all in by now).
    fn drain(t: &mut Transcript, label: &str, w: &mut zk::PersistentWatcher) {
        let mut evs = Vec::new();
        while let Some(e) = w.changed().now_or_never() {
            evs.push(event(t, &e));
        }
        t.line(format!("{label}: [{}]", evs.join(", ")));
    }

    async fn oneshot(t: &mut Transcript, label: &str, w: zk::OneshotWatcher) {
        match tokio::time::timeout(EVENT_WAIT, w.changed()).await {
            Ok(e) => {
                let s = event(t, &e);
                t.line(format!("{label}: {s}"));
            }
            Err(_) => t.line(format!("{label}: no event within {EVENT_WAIT:?}")),
        }
    }

    async fn wait_gone(c: &zk::Client, path: &str) -> &'static str {
        let deadline = Instant::now() + REAP_WAIT;
        while Instant::now() < deadline {
            if let Ok(None) = c.check_stat(path).await {
                return "gone";
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        "still there"
    }

    async fn connect(addr: &str) -> Result<zk::Client> {
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))
    }

    pub fn session(addr: &str) -> Result<Vec<String>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("tokio runtime")?;
        let mut t = Transcript::new();
        let outcome =
            rt.block_on(async { tokio::time::timeout(SESSION_WAIT, run(addr, &mut t)).await });
        match outcome {
            Ok(r) => r?,
            // A hang is a result too: the transcript shows the step that never returned.
            Err(_) => t.line(format!("session did not finish within {SESSION_WAIT:?}")),
        }
        Ok(t.finish())
    }

    async fn run(addr: &str, t: &mut Transcript) -> Result<()> {
        let a = connect(addr).await?;
        let b = connect(addr).await?;
        t.name_session(a.session_id().0, "A");
        t.name_session(b.session_id().0, "B");
        let p = |s: &str| format!("{R}{s}");

        // Every create mode.
        let r = a.create(R, b"root", &open()).await;
        rec(t, "create root", r, |t, (s, _)| stat(t, &s));
        let r = a.create(&p("/p"), b"v0", &open()).await;
        rec(t, "create persistent", r, |t, (s, _)| stat(t, &s));
        let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
        let r = a.create(&p("/e"), b"eph", &eph).await;
        rec(t, "create ephemeral", r, |t, (s, _)| stat(t, &s));
        let seq = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
        for label in ["create sequential", "create sequential again"] {
            let r = a.create(&p("/s-"), b"", &seq).await;
            rec(t, label, r, |t, (s, n)| format!("{n} {}", stat(t, &s)));
        }
        // Under its own parent: at close, Apache deletes a session's ephemerals in Java HashSet
        // order, so two ephemerals under one watched parent would make the event order hang on it.
        let r = a.create(&p("/q"), b"", &open()).await;
        rec(t, "create ephemeral parent", r, |t, (s, _)| stat(t, &s));
        let eseq = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
        let r = a.create(&p("/q/es-"), b"", &eseq).await;
        rec(t, "create ephemeral sequential", r, |t, (s, n)| {
            format!("{n} {}", stat(t, &s))
        });
        let r = a.create(&p("/p"), b"", &open()).await;
        rec(t, "create duplicate", r, |t, (s, _)| stat(t, &s));
        let r = a.create(&p("/nope/x"), b"", &open()).await;
        rec(t, "create no parent", r, |t, (s, _)| stat(t, &s));
        let r = a.create(&p("/e/x"), b"", &open()).await;
        rec(t, "create under ephemeral", r, |t, (s, _)| stat(t, &s));

        // get/set/delete with versions.
        let r = a.get_data(&p("/p")).await;
        rec(t, "get", r, |t, (d, s)| {
            format!("{:?} {}", String::from_utf8_lossy(&d), stat(t, &s))
        });
        let r = a.set_data(&p("/p"), b"v1", Some(0)).await;
        rec(t, "set v0", r, |t, s| stat(t, &s));
        let r = a.set_data(&p("/p"), b"v2", Some(0)).await;
        rec(t, "set stale version", r, |t, s| stat(t, &s));
        let r = a.set_data(&p("/p"), b"v2", None).await;
        rec(t, "set any version", r, |t, s| stat(t, &s));
        let r = a.delete(&p("/p"), Some(7)).await;
        rec(t, "delete bad version", r, |_, ()| "ok".into());
        let r = a.set_data(&p("/missing"), b"x", None).await;
        rec(t, "set missing", r, |t, s| stat(t, &s));
        let r = a.check_stat(&p("/missing")).await;
        rec(t, "exists missing", r, |t, s| match s {
            None => "none".into(),
            Some(s) => stat(t, &s),
        });
        let r = a.get_children(R).await;
        rec(t, "children", r, |t, (mut c, s)| {
            c.sort();
            format!("{c:?} {}", stat(t, &s))
        });
        let r = a.count_descendants_number(R).await;
        rec(t, "all children number", r, |_, n| n.to_string());
        let r = a.list_ephemerals(R).await;
        rec(t, "ephemerals", r, |_, mut v| {
            v.sort();
            format!("{v:?}")
        });

        // Watches of every kind.
        a.create(&p("/w"), b"", &open()).await?;
        let (_, _, w) = a.get_and_watch_data(&p("/w")).await?;
        a.set_data(&p("/w"), b"1", None).await?;
        oneshot(t, "data watch", w).await;
        let (s, w) = a.check_and_watch_stat(&p("/x")).await?;
        t.line(format!("exists watch on missing: {}", s.is_none()));
        a.create(&p("/x"), b"", &open()).await?;
        oneshot(t, "exists watch", w).await;
        let (_, w) = a.list_and_watch_children(&p("/w")).await?;
        a.create(&p("/w/k1"), b"", &open()).await?;
        oneshot(t, "child watch", w).await;
        let (_, _, w) = a.get_and_watch_data(&p("/w/k1")).await?;
        a.delete(&p("/w/k1"), None).await?;
        oneshot(t, "data watch on delete", w).await;

        let mut pw = a.watch(&p("/w"), zk::AddWatchMode::Persistent).await?;
        a.set_data(&p("/w"), b"3", None).await?;
        a.set_data(&p("/w"), b"4", None).await?;
        a.create(&p("/w/k2"), b"", &open()).await?;
        a.set_data(&p("/w/k2"), b"child data fires nothing here", None)
            .await?;
        a.delete(&p("/w/k2"), None).await?;
        drain(t, "persistent watch events", &mut pw);

        a.create(&p("/deep"), b"", &open()).await?;
        let mut rw = a
            .watch(&p("/deep"), zk::AddWatchMode::PersistentRecursive)
            .await?;
        a.create(&p("/deep/a"), b"", &open()).await?;
        a.create(&p("/deep/a/b"), b"", &open()).await?;
        a.set_data(&p("/deep/a/b"), b"x", None).await?;
        a.delete(&p("/deep/a/b"), None).await?;
        a.set_data(&p("/deep"), b"y", None).await?;
        drain(t, "persistent recursive watch events", &mut rw);

        // multi: success, failure, and multiRead.
        let mut m = a.new_multi_writer();
        m.add_create(&p("/m1"), b"m", &open())?;
        m.add_check_version(&p("/p"), 2)?;
        m.add_set_data(&p("/m1"), b"m2", None)?;
        m.add_create(&p("/m2"), b"", &open())?;
        m.add_delete(&p("/m2"), None)?;
        let r = m.commit().await;
        let line = match r {
            Ok(results) => {
                let shown: Vec<String> = results.iter().map(|r| multi_result(t, r)).collect();
                format!("multi ok: [{}]", shown.join(", "))
            }
            Err(e) => format!("multi ok: error {e:?}"),
        };
        t.line(line);
        let mut m = a.new_multi_writer();
        m.add_create(&p("/m3"), b"", &open())?;
        m.add_create(&p("/p"), b"", &open())?;
        m.add_set_data(&p("/p"), b"never", None)?;
        let r = m.commit().await;
        t.line(format!("multi failing: {:?}", r.map(|v| v.len())));
        let r = a.check_stat(&p("/m3")).await;
        t.line(format!(
            "multi failing left nothing: {:?}",
            r.map(|s| s.is_none())
        ));
        let mut mr = a.new_multi_reader();
        mr.add_get_data(&p("/p"))?;
        mr.add_get_data(&p("/missing"))?;
        mr.add_get_children(&p("/w"))?;
        let r = mr.commit().await;
        let line = match r {
            Ok(results) => {
                let shown: Vec<String> = results
                    .into_iter()
                    .map(|r| match r {
                        zk::MultiReadResult::Data { data, stat: s } => {
                            format!("data {:?} {}", String::from_utf8_lossy(&data), stat(t, &s))
                        }
                        zk::MultiReadResult::Children { children } => {
                            format!("children {children:?}")
                        }
                        zk::MultiReadResult::Error { err: e } => err(&e),
                        other => format!("{other:?}"),
                    })
                    .collect();
                format!("multi read: [{}]", shown.join(", "))
            }
            Err(e) => format!("multi read: {}", err(&e)),
        };
        t.line(line);

        // ACL with digest auth; NoAuth for the other session.
        a.auth("digest", b"alice:secret").await?;
        let digest_all = [zk::Acl::new(
            zk::Permission::ALL,
            zk::AuthId::new("digest", ALICE),
        )];
        let r = a
            .create(
                &p("/acl"),
                b"secret",
                &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&digest_all)),
            )
            .await;
        rec(t, "create with digest acl", r, |t, (s, _)| stat(t, &s));
        let r = a.get_data(&p("/acl")).await;
        rec(t, "get with auth", r, |_, (d, _)| {
            String::from_utf8_lossy(&d).into_owned()
        });
        let r = b.get_data(&p("/acl")).await;
        rec(t, "get without auth", r, |_, _| "data".into());
        let r = b.set_data(&p("/acl"), b"x", None).await;
        rec(t, "set without auth", r, |t, s| stat(t, &s));
        let r = b.set_acl(&p("/acl"), &zk::Acls::anyone_all(), None).await;
        rec(t, "setAcl without auth", r, |t, s| stat(t, &s));
        let r = a.get_acl(&p("/acl")).await;
        rec(t, "getAcl", r, |t, (acls, s)| {
            format!("{} {}", show_acls(&acls), stat(t, &s))
        });
        let relaxed = [
            digest_all[0].clone(),
            zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone()),
        ];
        let r = a.set_acl(&p("/acl"), &relaxed, Some(3)).await;
        rec(t, "setAcl bad version", r, |t, s| stat(t, &s));
        let r = a.set_acl(&p("/acl"), &relaxed, Some(0)).await;
        rec(t, "setAcl", r, |t, s| stat(t, &s));
        let r = b.get_data(&p("/acl")).await;
        rec(t, "get without auth after setAcl", r, |_, (d, _)| {
            String::from_utf8_lossy(&d).into_owned()
        });
        let r = b.set_data(&p("/acl"), b"x", None).await;
        rec(t, "set without auth after setAcl", r, |t, s| stat(t, &s));
        let creator = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
        let r = a.create(&p("/mine"), b"", &creator).await;
        rec(t, "create creator-all", r, |t, (s, _)| stat(t, &s));
        let r = a.get_acl(&p("/mine")).await;
        rec(t, "getAcl creator-all", r, |_, (acls, _)| show_acls(&acls));
        let r = b.create(&p("/b-mine"), b"", &creator).await;
        rec(t, "creator-all without auth", r, |t, (s, _)| stat(t, &s));
        let r = a.list_auth_users().await;
        rec(t, "whoami", r, |_, users| {
            let mut v: Vec<String> = users
                .iter()
                .map(|u| format!("{}:{}", u.scheme(), u.user()))
                .collect();
            v.sort();
            format!("{v:?}")
        });

        // Containers and TTL nodes are reaped by the server. Created last, under their own
        // parent, so that no listing races with the reaper.
        let r = a.create(&p("/reap"), b"", &open()).await;
        rec(t, "create reap parent", r, |t, (s, _)| stat(t, &s));
        let container = zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());
        let r = a.create(&p("/reap/c"), b"", &container).await;
        rec(t, "create container", r, |t, (s, _)| stat(t, &s));
        let r = a.create(&p("/reap/c/x"), b"", &open()).await;
        rec(t, "create container child", r, |t, (s, _)| stat(t, &s));
        let ttl = open().with_ttl(Duration::from_millis(1000));
        let r = a.create(&p("/reap/t"), b"", &ttl).await;
        rec(t, "create ttl", r, |t, (s, _)| stat(t, &s));
        let seq_ttl = zk::CreateMode::PersistentSequential
            .with_acls(zk::Acls::anyone_all())
            .with_ttl(Duration::from_millis(1000));
        let r = a.create(&p("/reap/ts-"), b"", &seq_ttl).await;
        let ts = r.as_ref().ok().map(|(_, n)| p(&format!("/reap/ts-{n}")));
        rec(t, "create ttl sequential", r, |t, (s, n)| {
            format!("{n} {}", stat(t, &s))
        });
        let r = a.delete(&p("/reap/c/x"), None).await;
        rec(t, "delete container child", r, |_, ()| "ok".into());
        let gone = wait_gone(&a, &p("/reap/c")).await;
        t.line(format!("container reaped: {gone}"));
        let gone = wait_gone(&a, &p("/reap/t")).await;
        t.line(format!("ttl node expired: {gone}"));
        if let Some(ts) = ts {
            let gone = wait_gone(&a, &ts).await;
            t.line(format!("sequential ttl node expired: {gone}"));
        }
        let r = a.get_children(&p("/reap")).await;
        rec(t, "reap parent empty", r, |t, (c, s)| {
            format!("{c:?} {}", stat(t, &s))
        });

        // Ephemerals vanish when their session closes; another session sees it.
        let (s, we) = b.check_and_watch_stat(&p("/e")).await?;
        let shown = s.map(|s| stat(t, &s)).unwrap_or_default();
        t.line(format!("other session sees ephemeral: {shown}"));
        let (_, wc) = b.list_and_watch_children(R).await?;
        drop(pw);
        drop(rw);
        drop(a);
        oneshot(t, "after owner closed, exists watch", we).await;
        oneshot(t, "after owner closed, child watch", wc).await;
        let r = b.check_stat(&p("/e")).await;
        t.line(format!(
            "ephemeral after close: {:?}",
            r.map(|s| s.is_none())
        ));
        let r = b.get_children(R).await;
        rec(t, "children after close", r, |t, (mut c, s)| {
            c.sort();
            format!("{c:?} {}", stat(t, &s))
        });
        let r = b.get_children(&p("/q")).await;
        rec(t, "ephemeral sequential after close", r, |t, (c, s)| {
            format!("{c:?} {}", stat(t, &s))
        });
        Ok(())
    }

    fn multi_result(t: &mut Transcript, r: &zk::MultiWriteResult) -> String {
        match r {
            zk::MultiWriteResult::Check => "check".into(),
            zk::MultiWriteResult::Delete => "delete".into(),
            zk::MultiWriteResult::Create { path, stat: s } => {
                format!("create {path} {}", stat(t, s))
            }
            zk::MultiWriteResult::SetData { stat: s } => format!("set {}", stat(t, s)),
            other => format!("{other:?}"),
        }
    }

    fn show_acls(acls: &[zk::Acl]) -> String {
        let v: Vec<String> = acls
            .iter()
            .map(|a| format!("{}:{}:{}", a.scheme(), a.id(), a.permission()))
            .collect();
        format!("[{}]", v.join(", "))
    }
}

#[test]
fn t20_interop_zookeeper_client_crate() -> Result<()> {
    run_both(
        "zookeeper-client crate",
        &[
            "create duplicate: error NodeExists",
            "set stale version: error BadVersion",
            "get without auth: error NoAuth",
            "multi failing: Err(OperationFailed { index: 1, source: NodeExists })",
            "container reaped: gone",
            "ttl node expired: gone",
            "ephemeral after close: Ok(true)",
        ],
        rust_client::session,
    )
}

// ---------------------------------------------------------------------------------------------
// Client 2: kazoo
// ---------------------------------------------------------------------------------------------

fn kazoo_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import kazoo"])
        .output()
    {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "python3 cannot import kazoo (pip install kazoo): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run python3: {e}")),
    }
}

fn kazoo_session(addr: &str) -> Result<Vec<String>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kazoo_session.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(addr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run python3 {script}"))?;
    // Drain both pipes on threads so the script never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + SESSION_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    match status {
        // A hang is a result too: the transcript ends where the script stopped.
        None => lines.push(format!("session did not finish within {SESSION_WAIT:?}")),
        Some(s) if !s.success() && !lines.iter().any(|l| l.contains("\"fatal\"")) => {
            bail!("{script} exited with {s}:\n{stdout}\nstderr:\n{stderr}")
        }
        Some(_) => {}
    }
    Ok(lines)
}

#[test]
fn t20_interop_kazoo() -> Result<()> {
    if !require("kazoo interop", kazoo_missing())? {
        return Ok(());
    }
    run_both(
        "kazoo",
        &[
            r#"{"step": "create duplicate", "error": "NodeExistsError"}"#,
            r#"{"step": "set stale version", "error": "BadVersionError"}"#,
            r#"{"step": "get without auth", "error": "NoAuthError"}"#,
            r#"{"step": "multi failing", "ok": ["RolledBackError", "NodeExistsError", "RuntimeInconsistency"]}"#,
            r#"{"step": "container reaped", "ok": "gone"}"#,
            r#"{"step": "ttl node expired", "ok": "gone"}"#,
            r#"{"step": "ephemeral after close", "ok": null}"#,
        ],
        kazoo_session,
    )
}

// ---------------------------------------------------------------------------------------------
// Client 3: zkCli.sh
// ---------------------------------------------------------------------------------------------

/// A running `zkCli.sh`, fed commands on stdin, its stdout and stderr merged into one buffer by
/// a reader thread (the shell prints results on stdout and errors on stderr).
struct ZkCli {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Counts markers so each one is unique.
    markers: usize,
    name: &'static str,
}

impl ZkCli {
    fn start(addr: &str, name: &'static str) -> Result<ZkCli> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" -server \"$1\" 2>&1")
            .arg(ZKCLI)
            .arg(addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawn {ZKCLI}"))?;
        let stdout = child.stdout.take().context("zkCli stdout")?;
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let stdin = child.stdin.take();
        let mut cli = ZkCli {
            child,
            stdin,
            out,
            reader: Some(reader),
            markers: 0,
            name,
        };
        // The shell reads stdin only once connected; a marker proves it is serving.
        cli.sync()?;
        Ok(cli)
    }

    fn send(&mut self, commands: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("zkCli stdin closed")?;
        stdin
            .write_all(commands.as_bytes())
            .and_then(|()| stdin.flush())
            .context("write to zkCli")
    }

    /// Waits until every command sent so far has run: `stat` of a unique missing path, whose
    /// error line appears once the shell got there.
    fn sync(&mut self) -> Result<()> {
        self.markers += 1;
        let path = format!("/zkfleet-marker-{}-{}", self.name, self.markers);
        self.send(&format!("stat {path}\n"))?;
        let needle = format!("Node does not exist: {path}");
        if !self.wait_for(&needle, Duration::from_secs(60)) {
            bail!(
                "zkCli {} did not reach {path}; output so far:\n{}",
                self.name,
                self.lines().join("\n")
            );
        }
        Ok(())
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.lines().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn lines(&self) -> Vec<String> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `quit`, then waits for the process and its output to end.
    fn quit(mut self) -> Result<Vec<String>> {
        self.send("quit\n")?;
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("zkCli {} did not exit after quit", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        Ok(self.lines())
    }
}

impl Drop for ZkCli {
    fn drop(&mut self) {
        // Kills our own child by its handle (PID), if it is still there.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Normalizes a zkCli transcript: command output and watch events are kept as two streams
/// (the shell prints events from another thread, so their place among command output is not
/// fixed, but their order is), zxids are ranked, times and session ids replaced, and the
/// shell's own chatter and our markers dropped.
fn zkcli_normalize(t: &mut Transcript, who: &str, commands: &[String], events_from: &[String]) {
    let chatter = |l: &str| {
        l.is_empty()
            || l.starts_with("SLF4J:")
            || l.starts_with("Connecting to ")
            || l.starts_with("Welcome to ZooKeeper")
            || l.starts_with("JLine support")
            || l == "WATCHER::"
            || l.contains("zkfleet-marker-")
    };
    for l in commands.iter().map(|l| l.trim_end()) {
        if chatter(l) || l.starts_with("WatchedEvent ") {
            continue;
        }
        let line = zkcli_line(t, l);
        t.line(format!("{who}: {line}"));
    }
    let events: Vec<&str> = events_from
        .iter()
        .filter_map(|l| l.trim_end().strip_prefix("WatchedEvent "))
        .filter(|ev| !ev.contains("type:None"))
        .collect();
    t.line(format!("{who} events: {events:?}"));
}

fn zkcli_line(t: &mut Transcript, l: &str) -> String {
    for key in ["cZxid", "mZxid", "pZxid"] {
        if let Some(v) = l.strip_prefix(&format!("{key} = 0x")) {
            if let Ok(z) = i64::from_str_radix(v, 16) {
                return format!("{key} = {}", t.z(z));
            }
        }
    }
    for key in ["ctime", "mtime"] {
        if l.starts_with(&format!("{key} = ")) {
            return format!("{key} = <date>");
        }
    }
    if let Some(v) = l.strip_prefix("ephemeralOwner = 0x") {
        if let Ok(id) = i64::from_str_radix(v, 16) {
            return format!("ephemeralOwner = {}", t.session(id));
        }
    }
    // Lists (ls, getEphemerals) come in the server's hash order, which is unspecified.
    if let Some(inner) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let mut v: Vec<&str> = inner.split(", ").collect();
        v.sort_unstable();
        return format!("[{}]", v.join(", "));
    }
    l.to_string()
}

const ZKCLI_ROOT: &str = "/interop-zkcli";
const ZKCLI_ALICE: &str = "digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";

/// Session A's commands: `$R` is the root, `$ALICE` alice's digest id. The
/// ephemeral-sequential node has its own parent: at close, Apache deletes a session's
/// ephemerals in Java HashSet order, which B's watch events on `$R` would otherwise depend on.
const ZKCLI_A: &str = "\
create $R root
create $R/p v0
create -e $R/e eph
create -s $R/s-
create -s $R/s-
create $R/q
create -e -s $R/q/es-
create $R/p
create $R/nope/x
create $R/e/x
get -s $R/p
set -s -v 0 $R/p v1
set -v 0 $R/p v2
set -s $R/p v2
delete -v 7 $R/p
stat $R/p
ls $R
ls -s $R
getAllChildrenNumber $R
getEphemerals $R
create $R/w
get -w $R/w
set $R/w 1
set $R/w 2
stat -w $R/x
create $R/x
ls -w $R/w
create $R/w/k1
set $R/w/k1 y
delete $R/w/k1
addWatch -m PERSISTENT $R/w
set $R/w 3
set $R/w 4
create $R/w/k2
delete $R/w/k2
create $R/deep
addWatch -m PERSISTENT_RECURSIVE $R/deep
create $R/deep/a
create $R/deep/a/b
set $R/deep/a/b x
delete $R/deep/a/b
set $R/deep y
addauth digest alice:secret
create $R/acl secret $ALICE:cdrwa
create $R/acl2 secret $ALICE:cdrwa
get $R/acl
getAcl -s $R/acl
setAcl -v 3 $R/acl $ALICE:cdrwa,world:anyone:r
setAcl -s -v 0 $R/acl $ALICE:cdrwa,world:anyone:r
create $R/mine x auth::cdrwa
getAcl $R/mine
whoami
create $R/reap
create -c $R/reap/c
create $R/reap/c/x
create -t 1000 $R/reap/t
create -s -t 1000 $R/reap/ts-
create -t 0 $R/reap/t0
";

/// Session B's commands while A is still connected.
const ZKCLI_B: &str = "\
get $R/acl
set $R/acl x
get $R/acl2
setAcl $R/acl2 world:anyone:cdrwa
getAcl $R/acl2
create $R/b x auth::cdrwa
stat -w $R/e
ls -w $R
";

fn zkcli_commands(template: &str) -> String {
    template
        .replace("$ALICE", ZKCLI_ALICE)
        .replace("$R", ZKCLI_ROOT)
}

fn zkcli_session(addr: &str) -> Result<Vec<String>> {
    let mut t = Transcript::new();
    let mut a = ZkCli::start(addr, "a")?;
    a.send(&zkcli_commands(ZKCLI_A))?;
    a.sync()?;
    let mut b = ZkCli::start(addr, "b")?;
    b.send(&zkcli_commands(ZKCLI_B))?;
    b.sync()?;
    let a_out = a.quit()?;
    // A's close deletes its ephemerals; B's exists watch on $R/e sees it.
    let deleted = format!("type:NodeDeleted path:{ZKCLI_ROOT}/e");
    let seen = b.wait_for(&deleted, EVENT_WAIT);
    b.send(&zkcli_commands("stat $R/e\nls $R\nls $R/q\n"))?;
    b.sync()?;
    // B's command output up to here is compared; what follows depends on timing.
    let b_compared = b.lines().len();
    // Containers and TTL nodes are reaped by the server: empty the container, then poll until
    // the container, the TTL node and the sequential TTL node are all gone.
    b.send(&zkcli_commands("delete $R/reap/c/x\n"))?;
    let deadline = Instant::now() + REAP_WAIT;
    let reaped = loop {
        let from = b.lines().len();
        b.send(&zkcli_commands("ls $R/reap\n"))?;
        b.sync()?;
        if b.lines()[from..].iter().any(|l| l == "[]") {
            break "gone";
        }
        if Instant::now() > deadline {
            break "still there";
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let b_out = b.quit()?;
    zkcli_normalize(&mut t, "A", &a_out, &a_out);
    zkcli_normalize(&mut t, "B", &b_out[..b_compared], &b_out);
    t.line(format!("B saw the ephemeral deleted: {seen}"));
    t.line(format!("container and ttl node reaped: {reaped}"));
    Ok(t.finish())
}

fn zkcli_missing() -> Option<String> {
    if !std::path::Path::new(ZKCLI).exists() {
        return Some(format!("{ZKCLI} not found (apt-get install -y zookeeper)"));
    }
    None
}

#[test]
fn t20_interop_zkcli() -> Result<()> {
    if !require("zkCli.sh interop", zkcli_missing())? {
        return Ok(());
    }
    run_both(
        "zkCli.sh",
        &[
            "A: Node already exists: /interop-zkcli/p",
            "A: version No is not valid : /interop-zkcli/p",
            "A: Ephemerals cannot have children: /interop-zkcli/e/x",
            "B: Insufficient permission : /interop-zkcli/acl2",
            "B saw the ephemeral deleted: true",
            "container and ttl node reaped: gone",
        ],
        zkcli_session,
    )
}

/// Runs the zookeeper-client crate's session against any server and prints its transcript:
/// `ZK_ADDR=127.0.0.1:2181 cargo test -p zkfleet-tests --test t20_interop -- --ignored
/// --nocapture rust_session_against_zk_addr` (the server must not hold `/interop-rust`).
#[test]
#[ignore]
fn rust_session_against_zk_addr() -> Result<()> {
    let addr = std::env::var("ZK_ADDR")?;
    for l in rust_client::session(&addr)? {
        println!("{l}");
    }
    Ok(())
}
