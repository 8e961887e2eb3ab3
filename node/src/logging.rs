//! Where zk-node's `tracing` output goes: stderr, or files in `log_dir` rotated daily
//! (`<log_file>.YYYY-MM-DD`) through tracing-appender's non-blocking writer, so a slow disk
//! never stalls the request pipeline. The filter is `RUST_LOG` (default `info`).
//!
//! Call [`init`] once, early in `main`, and keep the returned [`Guard`] alive until the process
//! ends: dropping it flushes the lines still queued for the file.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tracing_subscriber::EnvFilter;

/// Keeps the file writer's worker alive; flushes on drop.
#[must_use = "dropping the guard stops file logging"]
pub struct Guard {
    _worker: Option<tracing_appender::non_blocking::WorkerGuard>,
    /// The directory logs go to, if files.
    pub dir: Option<PathBuf>,
}

/// Where to log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// A directory turns on file logging.
    pub dir: Option<PathBuf>,
    /// File name prefix; the date is appended.
    pub file: String,
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber. Fails if the log directory cannot be created.
pub fn init(target: &Target) -> Result<Guard> {
    match &target.dir {
        None => {
            // Colours only on a terminal, so redirected logs stay plain text.
            tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .init();
            Ok(Guard {
                _worker: None,
                dir: None,
            })
        }
        Some(dir) => {
            let (writer, worker) = file_writer(dir, &target.file)?;
            tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(false)
                .with_writer(writer)
                .init();
            Ok(Guard {
                _worker: Some(worker),
                dir: Some(dir.clone()),
            })
        }
    }
}

/// A daily-rotating, non-blocking writer into `dir/<file>.YYYY-MM-DD`.
pub fn file_writer(
    dir: &Path,
    file: &str,
) -> Result<(
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create log directory {} (log_dir)", dir.display()))?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(file)
        .build(dir)
        .with_context(|| format!("cannot open a log file in {} (log_dir)", dir.display()))?;
    Ok(tracing_appender::non_blocking(appender))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Lines written through the non-blocking writer land in a dated file once the guard is
    /// dropped.
    #[test]
    fn file_writer_writes_dated_files() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, guard) = file_writer(&dir.path().join("logs"), "zk-node.log").unwrap();
        w.write_all(b"hello\n").unwrap();
        drop(guard);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].starts_with("zk-node.log."), "{files:?}");
        let text = std::fs::read_to_string(dir.path().join("logs").join(&files[0])).unwrap();
        assert_eq!(text, "hello\n");
    }
}
