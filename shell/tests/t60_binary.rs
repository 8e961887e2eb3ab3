//! Goal: `zksh` behaves as a scripting tool: `-c "a; b"`, scripts from a file and from stdin,
//! `--json`, exit status 1 at the first failed command (and nothing after it runs), 2 when the
//! server cannot be reached, destructive commands refused in scripts without `--yes`.
//! Method: run the built binary against a standalone Apache server and check stdout, stderr
//! and the exit status.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::apache::{available, free_port, Apache};

fn zksh(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zksh"))
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn t60_scripts_json_and_exit_status() {
    if !available("t60_binary") {
        return;
    }
    let zk = Apache::standalone();
    let s = zk.connect_string();

    let o = zksh(&["-s", &s, "-c", "create /x hi; get /x; ls /"], None);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "Created /x\nhi\nx\nzookeeper\n");

    // The first failure stops the script and sets the exit status.
    let o = zksh(&["-s", &s, "-c", "get /x; get /nope; create /after"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "hi\n");
    assert!(
        err(&o).contains("get /nope: node /nope does not exist"),
        "{}",
        err(&o)
    );
    assert_eq!(
        zksh(&["-s", &s, "-c", "stat /after"], None).status.code(),
        Some(1)
    );

    // JSON: one object per result, errors too.
    let o = zksh(&["--json", &s, "-c", "get /x; get /nope"], None);
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "data");
    assert_eq!(lines[0]["data"]["value"], "hi");
    assert_eq!(lines[1]["kind"], "error");
    assert_eq!(lines[1]["error"], "nonode");

    // Scripts from stdin and from a file; comments and blank lines are fine.
    let o = zksh(&["-s", &s], Some("# a comment\n\nset /x there\nget /x\n"));
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "there\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.zk");
    std::fs::write(&file, "create /y\ncreate /y/z\nls /y\n").unwrap();
    let o = zksh(&["-s", &s, "-f", file.to_str().unwrap()], None);
    assert_eq!(out(&o), "Created /y\nCreated /y/z\nz\n");

    // deleteall asks; a script cannot answer, so it needs --yes.
    let o = zksh(&["-s", &s, "-c", "deleteall /y"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("pass --yes"), "{}", err(&o));
    let o = zksh(&["-s", &s, "--yes", "-c", "deleteall /y; ls /"], None);
    assert_eq!(out(&o), "deleted 2 nodes\nx\nzookeeper\n");

    // An unreachable server is exit status 2; --help explains.
    let nobody = format!("127.0.0.1:{}", free_port());
    let o = zksh(&["--timeout", "2000", "-s", &nobody, "-c", "ls /"], None);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let o = zksh(&["--help"], None);
    assert!(out(&o).contains("Exit status"));
}
