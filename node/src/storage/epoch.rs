//! Zab's epoch files, in Apache ZooKeeper's format so either server can read the other's.
//!
//! ```text
//! <dataDir>/version-2/acceptedEpoch     the epoch this server last agreed to follow (or lead)
//! <dataDir>/version-2/currentEpoch      the epoch whose NEWLEADER it last acknowledged
//! ```
//! Each holds one signed 64-bit number in decimal, without a newline (Apache's
//! `QuorumPeer.writeLongToFile`). Apache reads the first line and parses it strictly
//! (`readLongFromFile`), so a trailing newline is accepted on read and never written.
//!
//! A write is atomic and durable: `<name>.tmp` is written and fsynced, renamed over `<name>`,
//! then the directory is fsynced (Apache's `AtomicFileOutputStream`, plus the directory sync it
//! leaves out). A crash leaves either the old value or the new one, and at worst a stray
//! `<name>.tmp`, which is overwritten by the next write. Apache, when `currentEpoch` is older
//! than the last logged zxid's epoch, falls back to `currentEpoch.tmp`; that decision belongs
//! to the caller (see [`TMP_SUFFIX`]).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::disk::Disk;

/// `version-2/acceptedEpoch`.
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
/// `version-2/currentEpoch`.
pub const CURRENT_EPOCH: &str = "currentEpoch";
/// Suffix of the temporary file a write goes through (Apache's `AtomicFileOutputStream`).
pub const TMP_SUFFIX: &str = ".tmp";

/// Reads `dir/name`. `Ok(None)`: the file does not exist (a fresh data directory, or one from
/// before epochs were kept). A file that exists but does not hold an epoch is an error naming
/// the file and what to do.
pub fn read_epoch(disk: &dyn Disk, dir: &Path, name: &str) -> Result<Option<u32>> {
    let path = dir.join(name);
    let bytes = match disk.read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    match parse(&bytes) {
        Ok(epoch) => Ok(Some(epoch)),
        Err(why) => bail!(
            "{} is damaged: {why}. It must hold one decimal number, the Zab epoch (as Apache \
             ZooKeeper writes it). If another server of the ensemble is healthy, stop this one, \
             replace the file with that server's copy (or remove this server's whole data \
             directory so it resynchronizes from the leader), then start it again",
            path.display()
        ),
    }
}

/// Writes `dir/name` atomically and durably (temp file, fsync, rename, fsync the directory).
pub fn write_epoch(disk: &dyn Disk, dir: &Path, name: &str, epoch: u32) -> io::Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let written = disk.create(&tmp).and_then(|mut f| {
        f.write_all(epoch.to_string().as_bytes())?;
        f.sync()
    });
    if let Err(e) = written {
        let _ = disk.remove(&tmp);
        return Err(e);
    }
    disk.rename(&tmp, &path)?;
    disk.sync_dir(dir)
}

/// The first line as a decimal epoch. Apache's `Long.parseLong` allows a leading sign and
/// nothing else (no spaces); an epoch is the high 32 bits of a zxid, so it must fit in `u32`.
fn parse(bytes: &[u8]) -> std::result::Result<u32, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text".to_string())?;
    let line = text.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err("it is empty".into());
    }
    let shown: String = line.chars().take(40).collect();
    let n: i64 = line
        .parse()
        .map_err(|_| format!("{shown:?} is not a number"))?;
    u32::try_from(n).map_err(|_| format!("{n} is not a valid epoch (0 to {})", u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::disk::FsDisk;

    #[test]
    fn round_trip_and_apache_text_format() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(read_epoch(&FsDisk, d, ACCEPTED_EPOCH).unwrap(), None);
        write_epoch(&FsDisk, d, ACCEPTED_EPOCH, 7).unwrap();
        write_epoch(&FsDisk, d, CURRENT_EPOCH, 6).unwrap();
        assert_eq!(std::fs::read(d.join("acceptedEpoch")).unwrap(), b"7");
        assert_eq!(std::fs::read(d.join("currentEpoch")).unwrap(), b"6");
        assert_eq!(read_epoch(&FsDisk, d, ACCEPTED_EPOCH).unwrap(), Some(7));
        assert_eq!(read_epoch(&FsDisk, d, CURRENT_EPOCH).unwrap(), Some(6));
        // Overwrite: the new value, and no temporary file left behind.
        write_epoch(&FsDisk, d, ACCEPTED_EPOCH, u32::MAX).unwrap();
        assert_eq!(
            read_epoch(&FsDisk, d, ACCEPTED_EPOCH).unwrap(),
            Some(u32::MAX)
        );
        assert!(!d.join("acceptedEpoch.tmp").exists());
        let mut names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["acceptedEpoch", "currentEpoch"]);
    }

    #[test]
    fn reads_what_a_hand_edit_or_another_writer_leaves() {
        for (text, want) in [
            (&b"12\n"[..], 12),
            (b"12\r\n", 12),
            (b"0", 0),
            (b"+3", 3),
            (b"5\nrest is ignored", 5),
        ] {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn damaged_file_is_an_error_naming_it_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for bad in [&b""[..], b"abc", b" 4", b"-1", b"4294967296", b"\xff\xfe"] {
            std::fs::write(d.join(CURRENT_EPOCH), bad).unwrap();
            let e = format!("{:#}", read_epoch(&FsDisk, d, CURRENT_EPOCH).unwrap_err());
            assert!(e.contains("currentEpoch is damaged"), "{e}");
            assert!(e.contains("replace the file"), "{e}");
        }
    }

    #[test]
    fn failed_write_leaves_the_old_value() {
        use crate::storage::disk::{FaultDisk, Faults};
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let disk = FaultDisk {
            faults: Default::default(),
        };
        write_epoch(&disk, d, ACCEPTED_EPOCH, 3).unwrap();
        disk.faults.disk_full.store(true, Ordering::SeqCst);
        assert!(write_epoch(&disk, d, ACCEPTED_EPOCH, 4).is_err());
        disk.faults.disk_full.store(false, Ordering::SeqCst);
        let f: &Faults = &disk.faults;
        f.sync_fails.store(true, Ordering::SeqCst);
        assert!(write_epoch(&disk, d, ACCEPTED_EPOCH, 5).is_err());
        f.sync_fails.store(false, Ordering::SeqCst);
        assert_eq!(read_epoch(&disk, d, ACCEPTED_EPOCH).unwrap(), Some(3));
        assert!(!d.join("acceptedEpoch.tmp").exists());
    }
}
