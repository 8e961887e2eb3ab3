//! `zk-node run --zoo-cfg zoo.cfg`: an operator switches a server over with the zoo.cfg Apache
//! ran with. A good file serves with the file's settings (the same `conf` Apache prints for it),
//! an unknown key is a one-line warning naming the file, line and key, a bad value stops the
//! node with a message naming the file, line, key and the problem, and `--log-dir` sends the
//! logs to a daily file.

mod ops_common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ops_common::*;

/// The settings under test, as an operator's zoo.cfg would have them. `prometheus` adds the
/// metrics provider lines (Apache's Debian package cannot load that provider).
fn zoo_cfg(data: &Path, client: u16, admin: u16, metrics: Option<u16>) -> String {
    let mut t = format!(
        "# an operator's file\ntickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client}\nclientPortAddress=127.0.0.1\n\
         maxClientCnxns=7\nminSessionTimeout=3000\nmaxSessionTimeout=30000\nautopurge.snapRetainCount=4\nautopurge.purgeInterval=1\n\
         snapCount=5000\nforceSync=no\n4lw.commands.whitelist=conf, ruok, mntr\nadmin.enableServer=true\nadmin.serverAddress=127.0.0.1\n\
         admin.serverPort={admin}\nextendedTypesEnabled=true\n",
        data.display()
    );
    if let Some(p) = metrics {
        t.push_str(&format!(
            "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={p}\n"
        ));
    }
    t
}

fn start_with_zoo_cfg(
    text_for: impl Fn(&Path, u16, u16, u16) -> String,
    extra_args: &[&str],
) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let (client, admin, metrics) = (free_port(), free_port(), free_port());
    let path = dir.path().join("zoo.cfg");
    std::fs::write(
        &path,
        text_for(&dir.path().join("data"), client, admin, metrics),
    )
    .unwrap();
    let mut args = vec![
        "run".to_string(),
        "--zoo-cfg".into(),
        path.display().to_string(),
    ];
    args.extend(extra_args.iter().map(|s| s.to_string()));
    spawn_zk_node(dir, &args, client, Some(admin), Some(metrics))
}

/// A good file: every setting lands, the listeners come up where it says, and `conf` prints
/// what Apache prints for the same file.
#[test]
fn a_good_zoo_cfg_serves_with_its_settings() {
    let node = start_with_zoo_cfg(|d, c, a, m| zoo_cfg(d, c, a, Some(m)), &[]);
    assert_eq!(node.four("ruok"), "imok");
    assert_eq!(
        node.four("stat"),
        "stat is not executed because it is not in the whitelist.\n"
    );
    let conf = node.four("conf");
    for line in [
        "tickTime=1000",
        "maxClientCnxns=7",
        "minSessionTimeout=3000",
        "maxSessionTimeout=30000",
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} in\n{conf}");
    }
    let (status, _, body) = http(
        node.admin_port.unwrap(),
        "GET",
        "/commands/initial_configuration",
    );
    assert_eq!(status, 200);
    assert!(body.contains("tickTime=1000"), "{body}");
    let (status, _, body) = http(node.metrics_port.unwrap(), "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("\nznode_count 5.0\n"), "{body}");
    let stderr = node.output();
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains("zoo.cfg:")),
        "no key warnings expected:\n{stderr}"
    );
    assert!(
        stderr.contains("force_sync is OFF"),
        "forceSync=no is reported loudly:\n{stderr}"
    );

    if !apache_available("ops_zoocfg (Apache conf)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (client, admin) = (free_port(), free_port());
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("zoo.cfg"),
        zoo_cfg(&dir.path().join("data"), client, admin, None),
    )
    .unwrap();
    let apache = start_apache_with(dir, client, Some(admin));
    let keep = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| {
                !["clientPort=", "dataDir", "dataLogDir", "dataLogSize"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        keep(&apache.four("conf")),
        keep(&conf),
        "conf for the same zoo.cfg"
    );
}

/// Unknown keys: one warning line each, with file, line and key; the node still serves.
#[test]
fn unknown_keys_are_warnings() {
    let node = start_with_zoo_cfg(
        |d, c, _, _| {
            format!("dataDir={}\nclientPort={c}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nfrobnicate=yes\nsecureClientPort=2281\n", d.display())
        },
        &[],
    );
    assert!(node.four("srvr").starts_with("Zookeeper version"));
    let file = node.dir.path().join("zoo.cfg").display().to_string();
    let stderr = node.output();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains(&file)).collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    assert!(
        warnings[0].ends_with(&format!("{file}:5: unknown key `frobnicate`; ignored")),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].ends_with(&format!(
            "{file}:6: zk-node does not support `secureClientPort`; ignored"
        )),
        "{}",
        warnings[1]
    );
}

/// Bad values stop the node (exit code 2) with a message pinned here.
#[test]
fn bad_values_stop_with_file_line_key_and_reason() {
    let cases = [
        ("dataDir=/tmp/x\nclientPort=abc\n", "zk-node: FILE:2: key `clientPort` has a bad value `abc`: expected a port number (0-65535)\n"),
        ("dataDir=/tmp/x\nclientPort=2181\nforceSync=sometimes\n", "zk-node: FILE:3: key `forceSync` has a bad value `sometimes`: expected true or false (or yes/no)\n"),
        ("dataDir=/tmp/x\nclientPort=2181\nserver.1=10.0.0.1:2888\n", "zk-node: FILE:3: key `server.1` has a bad value `10.0.0.1:2888`: expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]\n"),
        ("clientPort=2181\n", "zk-node: FILE: dataDir is not set: add dataDir=<directory for snapshots>\n"),
        ("dataDir=/tmp/x\nclientPort=2181\nminSessionTimeout=9000\nmaxSessionTimeout=4000\n", "zk-node: FILE:3: minSessionTimeout (9000) is greater than maxSessionTimeout (4000)\n"),
    ];
    for (text, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(zk_node_bin())
            .args(["run", "--zoo-cfg"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr =
            String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
        assert_eq!(stderr, want, "{text}");
    }
    let out = Command::new(zk_node_bin())
        .args(["run", "--zoo-cfg", "/nonexistent/zoo.cfg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/zoo.cfg"));
}

/// `--log-dir`: logs go to a dated file there, not to stderr.
#[test]
fn log_dir_writes_daily_files() {
    let logs = tempfile::tempdir().unwrap();
    let dir_arg = logs.path().display().to_string();
    let node = start_with_zoo_cfg(
        |d, c, _, _| {
            format!("dataDir={}\nclientPort={c}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n", d.display())
        },
        &["--log-dir", &dir_arg],
    );
    let start = Instant::now();
    let text = loop {
        let files: Vec<_> = std::fs::read_dir(logs.path()).unwrap().flatten().collect();
        let text = files
            .iter()
            .filter(|f| f.file_name().to_string_lossy().starts_with("zk-node.log."))
            .map(|f| std::fs::read_to_string(f.path()).unwrap())
            .collect::<String>();
        if text.contains("serving clients") || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(text.contains("serving clients"), "log file: {text}");
    assert!(!text.contains('\u{1b}'), "no terminal colours in files");
    let stderr = node.output();
    assert!(!stderr.contains("serving clients"), "stderr: {stderr}");
    assert!(
        stderr.contains("logging to"),
        "stderr says where the logs went: {stderr}"
    );
}

/// The example in configs/ is a valid zoo.cfg with no warnings.
#[test]
fn example_zoo_cfg_is_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/zoo.cfg");
    let loaded = zk_node::zoocfg::load(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.metrics_port, Some(7000));
    assert!(loaded.config.admin_enable_server);
    assert_eq!(loaded.config.admin_server_port, 8080);
}
