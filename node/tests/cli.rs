//! The `zk-node` command line: bad configs fail with a message that names the file, the key and
//! what to do; a good one serves `ruok`. (Also makes `cargo test` build the binary that the
//! cross-crate tests in `tests/` start.)

use std::io::{Read, Write};
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
