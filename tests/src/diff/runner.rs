//! Plays a table of scenarios against two servers and compares the transcripts.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use zookeeper_client as zk;

use super::cx::Cx;
use super::report::{Mismatch, Report};
use crate::target::Server;

/// A scenario body: `async fn name(cx: &mut Cx) -> Result<()>`.
pub type ScenarioFn = for<'a> fn(&'a mut Cx) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// A named scenario. Build it with [`crate::scenario!`].
#[derive(Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub run: ScenarioFn,
    /// A documented reason why the two servers are expected to differ here (e.g. an Apache 3.8
    /// bug zk-node fixes). Such a scenario is run and shown, but never fails the suite.
    pub known_divergence: Option<&'static str>,
}

/// How long one scenario may run on one server.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs every scenario (or those whose name contains one of the comma-separated substrings in
/// `ZKFLEET_SCENARIO`) against `a` and `b`, concurrently on the two servers and one scenario at a
/// time on each, and returns the comparison.
pub async fn run_differential(
    a: &dyn Server,
    b: &dyn Server,
    scenarios: &[Scenario],
) -> Result<Report> {
    let admin_a = admin(a).await?;
    let admin_b = admin(b).await?;
    let filter: Vec<String> = std::env::var("ZKFLEET_SCENARIO")
        .map(|v| {
            v.split(',')
                .map(str::to_string)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut report = Report {
        a_label: a.label(),
        b_label: b.label(),
        ..Report::default()
    };
    for (i, sc) in scenarios.iter().enumerate() {
        if !filter.is_empty() && !filter.iter().any(|f| sc.name.contains(f.as_str())) {
            continue;
        }
        let root = format!("/d{:03}", i + 1);
        let started = Instant::now();
        let (ta, tb) = tokio::join!(
            run_one(a, &admin_a, sc, &root),
            run_one(b, &admin_b, sc, &root)
        );
        let (ta, ea) = ta;
        let (tb, eb) = tb;
        report.ran += 1;
        dump(sc.name, &root, &ta, &tb);
        let same = ta == tb && !ea && !eb;
        eprintln!(
            "scenario {:<44} {:>6}ms {}",
            sc.name,
            started.elapsed().as_millis(),
            if same {
                "equal"
            } else if sc.known_divergence.is_some() {
                "KNOWN-DIVERGENCE"
            } else {
                "MISMATCH"
            }
        );
        if same {
            report.equal += 1;
            if sc.known_divergence.is_some() {
                report.known_equal.push(sc.name);
            }
            continue;
        }
        let m = Mismatch {
            name: sc.name,
            root,
            known_divergence: sc.known_divergence,
            a: ta,
            b: tb,
        };
        if sc.known_divergence.is_some() && !ea && !eb {
            report.known.push(m);
        } else {
            report.mismatches.push(m);
        }
    }
    Ok(report)
}

/// With `ZKFLEET_DIFF_DUMP=<dir>`, writes both transcripts of every scenario to
/// `<dir>/<root>-<name>.{a,b}.txt` for reading.
fn dump(name: &str, root: &str, a: &[String], b: &[String]) {
    let Some(dir) = std::env::var_os("ZKFLEET_DIFF_DUMP") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    let stem = format!(
        "{}-{}",
        root.trim_start_matches('/'),
        name.replace('/', ".")
    );
    let _ = std::fs::write(dir.join(format!("{stem}.a.txt")), a.join("\n") + "\n");
    let _ = std::fs::write(dir.join(format!("{stem}.b.txt")), b.join("\n") + "\n");
}

/// A long-lived session that creates each scenario's root node.
async fn admin(s: &dyn Server) -> Result<zk::Client> {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(&s.connect_string())
        .await
        .with_context(|| format!("admin session to {}", s.label()))
}

/// Runs one scenario on one server; returns the transcript and whether the run itself failed
/// (an error line then ends the transcript).
async fn run_one(
    s: &dyn Server,
    admin: &zk::Client,
    sc: &Scenario,
    root: &str,
) -> (Vec<String>, bool) {
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let base = match admin.create(root, b"", &open).await {
        Ok((stat, _)) => stat.czxid,
        Err(e) => {
            return (
                vec![format!("ERROR creating scenario root {root}: {e}")],
                true,
            )
        }
    };
    let mut cx = Cx::new(s.target(), s.addr(), root.to_string(), base);
    let res = tokio::time::timeout(SCENARIO_TIMEOUT, (sc.run)(&mut cx)).await;
    let mut failed = false;
    let err = match res {
        Err(_) => Some(format!("scenario timed out after {SCENARIO_TIMEOUT:?}")),
        Ok(Err(e)) => Some(format!("{e:#}")),
        Ok(Ok(())) => None,
    };
    if let Some(e) = err {
        cx.log(format!("ERROR: {e}"));
        failed = true;
    }
    if let Err(e) = cx.finish().await {
        cx.log(format!("ERROR finishing: {e:#}"));
        failed = true;
    }
    (cx.into_lines(), failed)
}
