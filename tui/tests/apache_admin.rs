//! Apache ZooKeeper with four-letter words restricted to `srvr` (its default) and the
//! AdminServer on: zk-top must read mntr's data from the AdminServer and name the setting
//! that would let 4lw serve it; without an admin URL it must say what to change.

mod common;

use std::time::Duration;

use common::apache::{prerequisites, Ensemble};
use common::tmux::Tmux;
use zk_top::poll::{poll_once, Caps, Hint, Outcome, Source, Target};

const STARTUP: Duration = Duration::from_secs(90);
const SCREEN: Duration = Duration::from_secs(30);

#[test]
fn restricted_4lw_falls_back_to_the_admin_server() {
    if !prerequisites(true) {
        return;
    }
    let zk = Ensemble::start(1, &["4lw.commands.whitelist=srvr"], true);
    zk.wait_ready(STARTUP);
    let server = &zk.servers[0];
    let admin_url = format!("http://127.0.0.1:{}", server.admin_port.unwrap());

    // The poller itself: mntr comes from the AdminServer, the refusal becomes a hint.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = Target {
        cluster: 0,
        server: 0,
        addr: server.addr(),
        admin_url: Some(admin_url.clone()),
    };
    let sample = wait_admin_sample(&runtime, &target);
    assert_eq!(sample.srvr_source, Some(Source::FourLw));
    assert_eq!(sample.mntr_source, Some(Source::Admin));
    assert!(sample.mntr.as_ref().unwrap().watch_count.is_some());
    assert_eq!(sample.hints, vec![Hint::MntrRefused { admin_used: true }]);
    let without = Target {
        admin_url: None,
        ..target
    };
    let Outcome::Up(sample) = runtime.block_on(poll_once(&without, &mut Caps::default())) else {
        panic!("server up")
    };
    assert_eq!(sample.mntr, None);
    assert_eq!(sample.hints, vec![Hint::MntrRefused { admin_used: false }]);

    // The binary: one cluster from clusters.toml with admin_url, one from the command line
    // without it.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clusters.toml");
    std::fs::write(
        &config,
        format!(
            "[[cluster]]\nname = \"adm\"\nservers = [\"{}\"]\nadmin_url = \"{admin_url}\"\n",
            server.addr()
        ),
    )
    .unwrap();
    let command = format!(
        "{} --config {} plain={} --interval 500ms --log-file {}",
        env!("CARGO_BIN_EXE_zk-top"),
        config.display(),
        server.addr(),
        dir.path().join("zk-top.log").display()
    );
    let tmux = Tmux::start(
        &format!("zktop-admin-{}", std::process::id()),
        &command,
        200,
        50,
    );
    tmux.wait_for("both clusters up", SCREEN, |s| {
        s.matches("1/1").count() == 2
    });

    tmux.keys(&[":", "a", "d", "m", "Enter"]);
    let screen = tmux.wait_for("AdminServer data and the setting to change", SCREEN, |s| {
        let row = s
            .lines()
            .find(|l| l.contains(&format!("│{} ", server.addr())))
            .unwrap_or("");
        row.contains("4lw+admin")
            && row.contains("standalone")
            && s.contains("mntr refused by the 4lw whitelist; read from the AdminServer")
            && s.contains("4lw.commands.whitelist=srvr,mntr")
    });
    // Watches and data size only exist in mntr, so a value there came from the AdminServer.
    let row = screen
        .lines()
        .find(|l| l.contains(&format!("│{} ", server.addr())))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(
        cells.iter().any(|c| c.ends_with('B') || c.ends_with('K')),
        "data size shown: {row}"
    );
    println!("{screen}");

    tmux.keys(&[":", "p", "l", "a", "i", "n", "Enter"]);
    let screen = tmux.wait_for("the hint without an admin URL", SCREEN, |s| {
        s.contains("mntr refused; set 4lw.commands.whitelist=srvr,mntr or admin.enableServer=true")
    });
    let row = screen
        .lines()
        .find(|l| l.contains(&format!("│{} ", server.addr())))
        .unwrap();
    assert!(
        row.contains(" 4lw ") || row.trim_end_matches('│').trim_end().ends_with("4lw"),
        "{row}"
    );
    println!("{screen}");
}

fn wait_admin_sample(runtime: &tokio::runtime::Runtime, target: &Target) -> zk_top::poll::Sample {
    let mut caps = Caps::default();
    for _ in 0..50 {
        if let Outcome::Up(sample) = runtime.block_on(poll_once(target, &mut caps)) {
            if sample.mntr.is_some() {
                return *sample;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "no mntr data from the AdminServer at {:?}",
        target.admin_url
    );
}
