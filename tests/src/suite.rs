//! Runs another test binary of this package as a child `cargo test` with extra environment, so
//! a suite written for one server can be run again in another set-up without copying it (see
//! `ZKFLEET_ENSEMBLE` in [`crate::target`]), and finds the target directory and profile this
//! test run was built in.
//!
//! The child runs in our process group (Ctrl-C reaches it), is given a time limit, and past it
//! is killed with every process it started, each by its PID.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::process::{log_tail, ChildGuard, WorkDir};

/// Where this test executable was built: `<target>/<profile>/deps/<test-binary>`.
#[derive(Debug, Clone)]
pub struct BuildDirs {
    /// `<target>`, for `--target-dir`.
    pub target_dir: PathBuf,
    /// `<target>/<profile>`, where binaries such as `zk-node` land.
    pub profile_dir: PathBuf,
    /// The profile is `release`.
    pub release: bool,
}

/// Works out [`BuildDirs`] from the running test executable's path.
pub fn build_dirs() -> Result<BuildDirs> {
    let exe = std::env::current_exe().context("current_exe")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no <target>/<profile>/deps parent")?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .context("profile dir has no parent")?
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    Ok(BuildDirs {
        target_dir,
        profile_dir,
        release,
    })
}

/// `cargo` as cargo itself calls it (`CARGO`), or from the path.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace manifest.
pub fn workspace_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")
}

/// What a child suite run produced.
#[derive(Debug)]
pub struct SuiteRun {
    /// The child exited with success.
    pub success: bool,
    /// Its stdout and stderr, interleaved as written.
    pub output: String,
}

/// Runs `cargo test -p zkfleet-tests --test <test> -- <args>` in this run's target directory
/// and profile, with `env` added, and waits up to `timeout` (then kills it and everything it
/// started).
pub fn run_test_binary(
    test: &str,
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<SuiteRun> {
    let dirs = build_dirs()?;
    let work = WorkDir::new("zkfleet-suite-")?;
    let log = work.path().join(format!("{test}.log"));
    let mut cmd = Command::new(cargo());
    cmd.arg("test")
        .arg("--manifest-path")
        .arg(workspace_manifest())
        .arg("--target-dir")
        .arg(&dirs.target_dir)
        .args(["-p", "zkfleet-tests", "--test", test]);
    if dirs.release {
        cmd.arg("--release");
    }
    cmd.arg("--").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    eprintln!("running {cmd:?} with {env:?}");
    let mut child = ChildGuard::spawn(format!("cargo test --test {test}"), cmd, &log)?;
    let pid = child.pid().context("child pid")?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            kill_tree(pid);
            child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    match status {
        None => Err(anyhow!(
            "cargo test --test {test} did not finish within {timeout:?}; last lines:\n{}",
            log_tail(&log, 60)
        )),
        Some(s) => Ok(SuiteRun {
            success: s.success(),
            output,
        }),
    }
}

/// SIGKILLs every descendant of `pid` (found through `/proc`), each by its own PID, then `pid`.
fn kill_tree(pid: u32) {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            // /proc/<pid>/stat: "pid (comm) state ppid ...", comm may hold spaces.
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    for p in tree.iter().rev() {
        let _ = Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
