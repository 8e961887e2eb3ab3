//! The file system behind a small trait, so tests can inject write errors (a full disk) and
//! fsync errors without a special file system.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The operations storage needs.
pub trait Disk: Send + Sync + 'static {
    fn create_dir_all(&self, p: &Path) -> io::Result<()>;
    /// File names in `dir` (not paths).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn read(&self, p: &Path) -> io::Result<Vec<u8>>;
    /// The last `n` bytes of a file (all of it when shorter): enough to tell a complete
    /// snapshot from a partial one without reading it whole.
    fn read_tail(&self, p: &Path, n: u64) -> io::Result<Vec<u8>> {
        let mut all = self.read(p)?;
        let cut = all.len().saturating_sub(n as usize);
        all.drain(..cut);
        Ok(all)
    }
    /// Creates (or truncates) a file for writing.
    fn create(&self, p: &Path) -> io::Result<Box<dyn DiskFile>>;
    fn truncate(&self, p: &Path, len: u64) -> io::Result<()>;
    fn remove(&self, p: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes a directory's entries (new or renamed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// An open file being written.
pub trait DiskFile: Send {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
    /// Grows the file to `len` bytes of zeros without moving the write position.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Cuts the file to `len` bytes and moves the write position there.
    fn truncate_at(&mut self, len: u64) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsDisk;

struct FsFile(File);

impl DiskFile for FsFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn truncate_at(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)?;
        self.0.seek(SeekFrom::Start(len)).map(|_| ())
    }
}

impl Disk for FsDisk {
    fn create_dir_all(&self, p: &Path) -> io::Result<()> {
        fs::create_dir_all(p)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir)? {
            out.push(e?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
    fn read(&self, p: &Path) -> io::Result<Vec<u8>> {
        fs::read(p)
    }
    fn read_tail(&self, p: &Path, n: u64) -> io::Result<Vec<u8>> {
        let mut f = File::open(p)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(n)))?;
        let mut out = Vec::with_capacity(n.min(len) as usize);
        f.read_to_end(&mut out)?;
        Ok(out)
    }
    fn create(&self, p: &Path) -> io::Result<Box<dyn DiskFile>> {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)?;
        Ok(Box::new(FsFile(f)))
    }
    fn truncate(&self, p: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(p)?;
        f.set_len(len)?;
        f.sync_all()
    }
    fn remove(&self, p: &Path) -> io::Result<()> {
        fs::remove_file(p)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Switches for [`FaultDisk`], shared with the test that flips them.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every write fails with "No space left on device" while set.
    pub disk_full: AtomicBool,
    /// Every fsync fails while set.
    pub sync_fails: AtomicBool,
}

/// The real file system with injectable faults.
#[derive(Clone)]
pub struct FaultDisk {
    pub faults: Arc<Faults>,
}

struct FaultFile {
    inner: FsFile,
    faults: Arc<Faults>,
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl DiskFile for FaultFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.faults.disk_full.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        if self.faults.sync_fails.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.inner.sync()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        if self.faults.disk_full.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        self.inner.set_len(len)
    }
    fn truncate_at(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate_at(len)
    }
}

impl Disk for FaultDisk {
    fn create_dir_all(&self, p: &Path) -> io::Result<()> {
        FsDisk.create_dir_all(p)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        FsDisk.list(dir)
    }
    fn read(&self, p: &Path) -> io::Result<Vec<u8>> {
        FsDisk.read(p)
    }
    fn read_tail(&self, p: &Path, n: u64) -> io::Result<Vec<u8>> {
        FsDisk.read_tail(p, n)
    }
    fn create(&self, p: &Path) -> io::Result<Box<dyn DiskFile>> {
        if self.faults.disk_full.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)?;
        Ok(Box::new(FaultFile {
            inner: FsFile(f),
            faults: self.faults.clone(),
        }))
    }
    fn truncate(&self, p: &Path, len: u64) -> io::Result<()> {
        FsDisk.truncate(p, len)
    }
    fn remove(&self, p: &Path) -> io::Result<()> {
        FsDisk.remove(p)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        FsDisk.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        FsDisk.sync_dir(dir)
    }
}
