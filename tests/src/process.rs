//! A child process that is killed by its own PID when the guard drops, so that a failing or
//! panicking test never leaves a JVM or a zk-node behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// Owns one child process. Dropping the guard kills the process (SIGKILL to its PID) and reaps it.
#[derive(Debug)]
pub struct ChildGuard {
    /// Who the process is, for messages ("apache:127.0.0.1:40123").
    name: String,
    /// The running child; `None` once it has been killed and reaped.
    child: Option<Child>,
}

impl ChildGuard {
    /// Spawns `cmd` with stdin closed and stdout/stderr appended to `log`.
    pub fn spawn(name: impl Into<String>, mut cmd: Command, log: &Path) -> Result<ChildGuard> {
        let name = name.into();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open log {}", log.display()))?;
        let err = out.try_clone().context("clone log handle")?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {name}: {cmd:?}"))?;
        Ok(ChildGuard {
            name,
            child: Some(child),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Ok(Some(status))` when the process has already exited on its own.
    pub fn try_wait(&mut self) -> Result<Option<std::process::ExitStatus>> {
        match self.child.as_mut() {
            None => Ok(None),
            Some(c) => c
                .try_wait()
                .with_context(|| format!("wait for {}", self.name)),
        }
    }

    /// Kills the process by PID (SIGKILL) and reaps it. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // An error here means the process already exited; reaping below still runs.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM by PID and waits up to `timeout` for a clean exit, then SIGKILL.
    pub fn terminate(&mut self, timeout: std::time::Duration) {
        let Some(c) = self.child.as_mut() else {
            return;
        };
        let pid = c.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                self.child = None;
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of a log file, for failure messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Err(e) => format!("(cannot read {}: {e})", path.display()),
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..].join("\n")
        }
    }
}

/// A server's directory: a fresh temporary directory that is removed on drop, unless the thread
/// is panicking, in which case it is kept and its path printed so the logs can be read.
#[derive(Debug)]
pub struct WorkDir {
    tmp: Option<tempfile::TempDir>,
    path: PathBuf,
    /// Keep the directory on drop even without a panic (see [`WorkDir::keep_on_drop`]).
    keep: bool,
}

impl WorkDir {
    pub fn new(prefix: &str) -> Result<WorkDir> {
        let tmp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .context("create temp dir")?;
        let path = tmp.path().to_path_buf();
        Ok(WorkDir {
            tmp: Some(tmp),
            path,
            keep: false,
        })
    }

    /// Keeps (`true`) or removes (`false`, the default) the directory when this guard drops
    /// outside a panic: a test that reports failure through an error, not a panic, sets it
    /// until it has passed.
    pub fn keep_on_drop(&mut self, keep: bool) {
        self.keep = keep;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() || std::env::var_os("ZKFLEET_KEEP_DIRS").is_some()
        {
            if let Some(tmp) = self.tmp.take() {
                let kept = tmp.keep();
                eprintln!("kept server directory {}", kept.display());
            }
        }
    }
}
