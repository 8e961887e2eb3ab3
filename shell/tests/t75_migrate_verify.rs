//! Goal: verification names every planted difference, and the engine can be steered the way
//! zk-top's wizard steers it (pause, resume, stop, roll back).
//!
//! Method: a tree is migrated with the library (`migrate::run` until in sync), then three
//! differences are planted on the destination: one byte of one node's data, one node's ACL,
//! and an extra node. `zksh migrate verify --json` must exit 1 and list exactly those three
//! paths with their kinds; the text output names them too. The steering test pauses a
//! rate-limited copy, checks that nothing is copied while paused, resumes, stops, and rolls
//! back, after which the destination holds nothing of the migration. Both run on zk-node
//! (always available) and on Apache ZooKeeper when it is installed.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use zk_proto::{Acl, CreateMode};
use zk_shell::client::{Client, ClientOptions};
use zk_shell::clusters::ClusterList;
use zk_shell::migrate::{self, acl::digest_id, Outcome, Plan, Progress, RunControl, RunOptions};
use zkfleet_tests::{ServerOptions, Target};

const ZKSH: &str = env!("CARGO_BIN_EXE_zksh");

fn options() -> ServerOptions {
    ServerOptions {
        super_digest: Some(digest_id("super", "secret")),
        ..ServerOptions::default()
    }
}

async fn connect(addr: &str) -> Result<Client> {
    let opts = ClientOptions {
        auth: vec![("digest".into(), "super:secret".into())],
        ..ClientOptions::default()
    };
    Ok(Client::connect(addr, opts).await?)
}

fn plan(dir: &Path, src: &str, dst: &str, extra: &str) -> Result<Plan> {
    let text = format!(
        "[source]\nconnect = \"{src}\"\nauth = [\"digest:super:secret\"]\npaths = [\"/v\"]\n\
         [destination]\nconnect = \"{dst}\"\nauth = [\"digest:super:secret\"]\nprefix = \"/copy\"\n{extra}"
    );
    let path = dir.join("v.toml");
    std::fs::write(&path, &text)?;
    Ok(Plan::parse(&text, &path, &ClusterList::default())?)
}

async fn fill(c: &Client, groups: usize, per: usize) -> Result<()> {
    c.create(
        "/v",
        Some(b"root".to_vec()),
        Acl::open_unsafe(),
        CreateMode::Persistent,
        None,
    )
    .await?;
    for g in 0..groups {
        let gp = format!("/v/g{g}");
        c.create(&gp, None, Acl::open_unsafe(), CreateMode::Persistent, None)
            .await?;
        let creates = (0..per).map(|n| {
            let acl = if n % 2 == 0 {
                Acl::open_unsafe()
            } else {
                vec![Acl::new(31, "digest", &digest_id("alice", "secret"))]
            };
            let path = format!("{gp}/n{n:03}");
            async move {
                c.create(
                    &path,
                    Some(format!("data-{n}").into_bytes()),
                    acl,
                    CreateMode::Persistent,
                    None,
                )
                .await
            }
        });
        for r in futures::future::join_all(creates).await {
            r?;
        }
    }
    Ok(())
}

fn each_target(test: impl Fn(Target, Target) -> Result<()>) -> Result<()> {
    test(Target::ZkNode, Target::ZkNode)?;
    test(Target::Apache, Target::Apache)
}

#[test]
fn t75_verify_names_a_changed_byte_a_changed_acl_and_an_extra_node() -> Result<()> {
    each_target(|from, to| {
        let Some(src) = from.start(&options())? else {
            return Ok(());
        };
        let Some(dst) = to.start(&options())? else {
            return Ok(());
        };
        let (src, dst) = (src.addr().to_string(), dst.addr().to_string());
        let rt = tokio::runtime::Runtime::new()?;
        let dir = tempfile::tempdir()?;
        let plan = plan(dir.path(), &src, &dst, "")?;
        rt.block_on(async {
            let a = connect(&src).await?;
            fill(&a, 10, 50).await?;
            let (_tx, control) = migrate::control();
            let out = migrate::run(
                &plan,
                migrate::null_sink(),
                control,
                RunOptions { until_synced: true },
            )
            .await?;
            ensure!(out == Outcome::Synced, "{out:?}");
            let clean = migrate::verify(&plan, migrate::null_sink()).await?;
            ensure!(clean.equal, "{}", clean.to_text());
            let b = connect(&dst).await?;
            // One byte, one ACL, one extra node.
            b.set_data("/copy/v/g3/n017", Some(b"data-18".to_vec()), -1)
                .await?;
            b.set_acl("/copy/v/g7/n004", Acl::read_unsafe(), -1).await?;
            b.create(
                "/copy/v/g5/planted",
                None,
                Acl::open_unsafe(),
                CreateMode::Persistent,
                None,
            )
            .await?;
            a.close().await;
            b.close().await;
            Ok(())
        })?;
        let out = Command::new(ZKSH)
            .args(["migrate", "verify", "--json", "--plan"])
            .arg(dir.path().join("v.toml"))
            .output()?;
        ensure!(
            out.status.code() == Some(1),
            "verify exit {:?}",
            out.status.code()
        );
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("verify --json")?;
        let diffs: Vec<(String, String)> = report["differences"]
            .as_array()
            .context("differences")?
            .iter()
            .map(|d| {
                (
                    d["destination"].as_str().unwrap_or("").to_string(),
                    d["kind"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        ensure!(
            diffs
                == vec![
                    ("/copy/v/g3/n017".to_string(), "data".to_string()),
                    // The planted node also moved its parent's sequential counter on.
                    ("/copy/v/g5".to_string(), "counter".to_string()),
                    (
                        "/copy/v/g5/planted".to_string(),
                        "only_destination".to_string()
                    ),
                    ("/copy/v/g7/n004".to_string(), "acl".to_string()),
                ],
            "{} -> {}: {diffs:?}",
            from.name(),
            to.name()
        );
        let text = Command::new(ZKSH)
            .args(["migrate", "verify", "--plan"])
            .arg(dir.path().join("v.toml"))
            .output()?;
        let text = String::from_utf8_lossy(&text.stdout);
        for p in ["/copy/v/g3/n017", "/copy/v/g7/n004", "/copy/v/g5/planted"] {
            ensure!(text.contains(p), "text output lacks {p}:\n{text}");
        }
        Ok(())
    })
}

#[test]
fn t76_pause_resume_stop_and_rollback() -> Result<()> {
    each_target(|from, to| {
        let Some(src) = from.start(&options())? else {
            return Ok(());
        };
        let Some(dst) = to.start(&options())? else {
            return Ok(());
        };
        let (src, dst) = (src.addr().to_string(), dst.addr().to_string());
        let rt = tokio::runtime::Runtime::new()?;
        let dir = tempfile::tempdir()?;
        // 200 nodes a second, in batches of 20: the copy of 1000 nodes takes about 5 s.
        let plan = plan(
            dir.path(),
            &src,
            &dst,
            "[copy]\nrate_nodes_per_s = 200\nbatch_nodes_max = 20\n",
        )?;
        rt.block_on(async {
            let a = connect(&src).await?;
            fill(&a, 10, 99).await?;
            let copied = Arc::new(Mutex::new(0u64));
            let c2 = copied.clone();
            let sink: migrate::Sink = Arc::new(move |p| {
                if let Progress::Copy(c) = p {
                    *c2.lock().unwrap() = c.nodes;
                }
            });
            let (tx, control) = migrate::control();
            let plan2 = plan.clone();
            let task = tokio::spawn(async move {
                migrate::run(&plan2, sink, control, RunOptions::default()).await
            });
            tokio::time::sleep(Duration::from_millis(1200)).await;
            tx.send_replace(RunControl::Pause);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let at_pause = *copied.lock().unwrap();
            tokio::time::sleep(Duration::from_millis(1000)).await;
            ensure!(*copied.lock().unwrap() == at_pause, "copied while paused");
            ensure!(at_pause > 0 && at_pause < 1000, "paused at {at_pause}");
            let ck = migrate::status(&plan)?;
            ensure!(ck.phase == Some(migrate::Phase::Copying), "{:?}", ck.phase);
            tx.send_replace(RunControl::Run);
            tokio::time::sleep(Duration::from_millis(800)).await;
            ensure!(
                *copied.lock().unwrap() > at_pause,
                "no progress after resume"
            );
            tx.send_replace(RunControl::Stop);
            let out = task.await??;
            ensure!(out == Outcome::Stopped, "{out:?}");
            let removed = migrate::rollback(&plan, migrate::null_sink(), true).await?;
            ensure!(removed.nodes_removed > 0, "{removed:?}");
            let b = connect(&dst).await?;
            ensure!(
                b.exists("/copy", false).await?.is_none(),
                "rollback left /copy behind"
            );
            let st = migrate::status(&plan)?;
            ensure!(
                st.phase == Some(migrate::Phase::RolledBack),
                "{:?}",
                st.phase
            );
            a.close().await;
            b.close().await;
            Ok(())
        })
    })
}

/// After cutover, `--reverse` carries changes made on the destination back to the fenced
/// source (new nodes get the fence too, with their real ACL remembered), leaves the source's
/// live ephemerals alone, and a rollback that keeps the copy lifts the fence with every
/// ACL as the destination has it.
#[test]
fn t77_reverse_catch_up_then_rollback_loses_nothing() -> Result<()> {
    each_target(|from, to| {
        let Some(src) = from.start(&options())? else {
            return Ok(());
        };
        let Some(dst) = to.start(&options())? else {
            return Ok(());
        };
        let (src, dst) = (src.addr().to_string(), dst.addr().to_string());
        let rt = tokio::runtime::Runtime::new()?;
        let dir = tempfile::tempdir()?;
        let plan = plan(
            dir.path(),
            &src,
            &dst,
            "[catch_up]\nreconcile_interval_s = 1\n",
        )?;
        rt.block_on(async {
            let a = connect(&src).await?;
            fill(&a, 4, 10).await?;
            a.create(
                "/v/g0/live",
                None,
                Acl::open_unsafe(),
                CreateMode::Ephemeral,
                None,
            )
            .await?;
            let (_tx, control) = migrate::control();
            migrate::run(
                &plan,
                migrate::null_sink(),
                control,
                RunOptions { until_synced: true },
            )
            .await?;
            let (tx, control) = migrate::control();
            let plan2 = plan.clone();
            let task = tokio::spawn(async move {
                let mut yes = |_: &str| true;
                let opts = migrate::CutoverOptions {
                    confirm: &mut yes,
                    reverse: true,
                };
                migrate::cutover(&plan2, migrate::null_sink(), control, opts).await
            });
            // Wait for the switch, then change the destination.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while migrate::status(&plan)?.phase != Some(migrate::Phase::CutOver) {
                ensure!(std::time::Instant::now() < deadline, "no cutover");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let b = connect(&dst).await?;
            b.create(
                "/copy/v/g1/new",
                Some(b"x".to_vec()),
                Acl::open_unsafe(),
                CreateMode::Persistent,
                None,
            )
            .await?;
            b.set_data("/copy/v/g2/n001", Some(b"changed".to_vec()), -1)
                .await?;
            b.delete("/copy/v/g3/n002", -1).await?;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let new = a
                    .get_data("/v/g1/new", false)
                    .await
                    .ok()
                    .and_then(|d| d.data);
                let changed = a.get_data("/v/g2/n001", false).await?.data;
                let gone = a.exists("/v/g3/n002", false).await?.is_none();
                if new.as_deref() == Some(b"x") && changed.as_deref() == Some(b"changed") && gone {
                    break;
                }
                ensure!(
                    std::time::Instant::now() < deadline,
                    "reverse catch-up did not arrive: {new:?} {changed:?} {gone}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // The new node is fenced on the source like the rest, and the ephemeral lives.
            let (acl, _) = a.get_acl("/v/g1/new").await?;
            ensure!(
                acl.iter()
                    .all(|e| e.perms == 1 || e.id.id.starts_with("super:")),
                "{acl:?}"
            );
            ensure!(
                a.exists("/v/g0/live", false).await?.is_some(),
                "ephemeral deleted"
            );
            tx.send_replace(RunControl::Stop);
            let report = task.await??.context("cutover report")?;
            ensure!(report.reverse, "{report:?}");
            let r = migrate::rollback(&plan, migrate::null_sink(), false).await?;
            ensure!(r.acls_restored > 0, "{r:?}");
            let (acl, _) = a.get_acl("/v/g1/new").await?;
            ensure!(acl == Acl::open_unsafe(), "{acl:?}");
            let (acl, _) = a.get_acl("/v/g2/n001").await?;
            ensure!(
                acl == vec![Acl::new(31, "digest", &digest_id("alice", "secret"))],
                "{acl:?}"
            );
            a.close().await;
            b.close().await;
            Ok(())
        })
    })
}
