//! The `zk-node` command line: bad configs fail with a message that names the file, the key and
//! what to do; a good one serves `ruok`; `zk-node dev` starts a local ensemble, says where
//! everything is and stops it on Ctrl-C. (Also makes `cargo test` build the binary that the
//! cross-crate tests in `tests/` start.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn zk_node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zk-node"))
}

fn run_with_config(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, text).unwrap();
    let out = zk_node()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (
        out.status.success(),
        stderr.replace(&path.display().to_string(), "FILE"),
    )
}

/// Each bad config pins the words of its message.
#[test]
fn bad_configs_name_file_and_key() {
    let cases = [
        ("client_port = 1\n", "data_dir"),
        ("data_dir = '/tmp/x'\nclientPort = 2181\n", "clientPort"),
        ("data_dir = '/tmp/x'\nclient_port = 'abc'\n", "client_port"),
        (
            "data_dir = '/tmp/x'\nclient_address = 'not-an-ip'\n",
            "client_address",
        ),
        (
            "data_dir = '/tmp/x'\nsession_timeout_ms_min = 9000\nsession_timeout_ms_max = 10\n",
            "session_timeout_ms_min",
        ),
        (
            "data_dir = '/tmp/x'\nsuper_digest = 'nope'\n",
            "super_digest",
        ),
        ("data_dir = \n", "FILE"),
        (
            "data_dir = '/tmp/x'\n[[server]]\nid = 1\nhost = 'a'\nquorum_port = 2888\nelection_port = 3888\n",
            "key `my_id` is missing",
        ),
        (
            "data_dir = '/tmp/x'\nmy_id = 1\n[[server]]\nid = 1\nhost = 'a'\nquorum_port = 2888\nelection_port = 3888\n\
             [[server]]\nid = 1\nhost = 'b'\nquorum_port = 2888\nelection_port = 3888\n",
            "`[[server]]` id 1 is listed twice",
        ),
    ];
    for (text, needle) in cases {
        let (ok, err) = run_with_config(text);
        assert!(!ok, "config should be rejected: {text}");
        assert!(err.contains("FILE"), "message must name the file: {err}");
        assert!(err.contains(needle), "message must mention {needle}: {err}");
    }
}

#[test]
fn missing_config_file_is_named() {
    let out = zk_node()
        .args(["run", "--config", "/nonexistent/node.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/node.toml"), "{err}");
}

#[test]
fn serves_ruok_on_the_configured_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("node.toml");
    std::fs::write(
        &cfg,
        format!("client_port = {port}\nclient_address = '127.0.0.1'\ndata_dir = '{}'\nfour_letter_words = ['ruok']\n", dir.path().display()),
    )
    .unwrap();
    let mut child = zk_node()
        .args(["run", "--config"])
        .arg(&cfg)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"ruok").unwrap();
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            break text;
        }
        assert!(Instant::now() < deadline, "zk-node did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(answer, "imok");
}

/// `zk-node dev --help` documents the three options.
#[test]
fn dev_help_lists_its_options() {
    let out = zk_node().args(["dev", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for want in [
        "--nodes <N>",
        "--observers <M>",
        "--data <DIR>",
        "Ctrl-C",
        "[default: 3]",
    ] {
        assert!(help.contains(want), "{want} missing from:\n{help}");
    }
}

/// Sizes that make no ensemble stop `dev` at once (exit 2) with what to ask for instead.
#[test]
fn dev_refuses_sizes_that_make_no_ensemble() {
    let cases: [(&[&str], &str); 2] = [
        (&["--nodes", "0"], "zk-node: --nodes must be at least 1"),
        (
            &["--nodes", "1", "--observers", "2"],
            "zk-node: --observers needs an ensemble to observe: use --nodes 2 or more",
        ),
    ];
    for (args, want) in cases {
        let out = zk_node().arg("dev").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(want), "{args:?}: {err}");
    }
}

/// A child process killed when the test ends, passed or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README's promise: `zk-node dev --nodes 3` prints each node and the connect string, the
/// three elect one leader (srvr on each port shows one leader and two followers), and Ctrl-C
/// stops every node and exits 0. Method: run it, read its stdout until it waits for Ctrl-C, ask
/// each client port for `srvr` ourselves, then send SIGINT.
#[test]
fn dev_runs_a_three_node_ensemble() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Reaped(
        zk_node()
            .args(["dev", "--nodes", "3", "--data"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stdout.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Ctrl-C stops every node");
        lines.push(line);
        if done {
            break;
        }
    }
    let text = lines.join("\n");
    let connect = lines
        .iter()
        .find_map(|l| l.strip_prefix("connect string: "))
        .unwrap_or_else(|| panic!("no connect string in:\n{text}"));
    let addrs: Vec<&str> = connect.split(',').collect();
    assert_eq!(addrs.len(), 3, "{text}");
    assert!(
        text.contains(&format!("data {}", dir.path().join("node2").display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("logs: {}", dir.path().join("logs").display())),
        "{text}"
    );
    let mut modes: Vec<String> = addrs
        .iter()
        .map(|a| {
            let mut s = TcpStream::connect(a).unwrap();
            s.write_all(b"srvr").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out.lines()
                .find_map(|l| l.strip_prefix("Mode: "))
                .unwrap_or_else(|| panic!("{a}: no Mode in {out:?}\n{text}"))
                .to_string()
        })
        .collect();
    modes.sort();
    assert_eq!(modes, ["follower", "follower", "leader"], "{text}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = stdout.map(Result::unwrap).collect();
    assert_eq!(rest, ["stopping 3 node(s)"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "dev did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    for a in addrs {
        assert!(
            TcpStream::connect(a).is_err(),
            "{a} still serves after Ctrl-C"
        );
    }
}
