//! The transaction log, in Apache ZooKeeper's format, so either server can read the other's.
//!
//! ```text
//! <dataLogDir>/version-2/log.<first zxid, lowercase hex>
//!   FileHeader { int magic = "ZKLG", int version = 2, long dbid = 0 }      16 bytes
//!   repeat:
//!     long  checksum      Adler-32 of `entry`
//!     int   length        of `entry`
//!     bytes entry         TxnHeader + txn record (no TxnDigest: it is optional to readers)
//!     byte  0x42          end of record ('B')
//!   zeros                 preallocated space; a record of length 0 ends the log
//! ```
//! A file grows in steps of `prealloc` bytes (Apache: 64 MiB) whenever the write position gets
//! within 4 KiB of its size. A new segment starts after a snapshot and after every restart.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zk_proto::jute::Writer;
use zk_proto::quorum::TxnLogEntry;
use zk_proto::txn::{FileHeader, Txn, TxnDigest, TxnHeader};
use zk_proto::{Jute, Reader};

use super::disk::{Disk, DiskFile};
use super::TxnLog;

pub const LOG_MAGIC: i32 = 0x5a4b_4c47; // "ZKLG"
pub const VERSION: i32 = 2;
const HEADER_LEN: u64 = 16;
/// Apache's default `zookeeper.preAllocSize` (64 MiB).
pub const PREALLOC_DEFAULT: u64 = 64 * 1024 * 1024;
const END_OF_RECORD: u8 = 0x42;

/// Serializes one log record (checksum, length, entry, end marker), appending it to `out`.
pub fn encode_record(hdr: &TxnHeader, txn: &Txn, out: &mut Vec<u8>) {
    // The entry is encoded in place behind room for its checksum and length, which are
    // filled in afterwards: no temporary buffer per record.
    let start = out.len();
    out.extend_from_slice(&[0; 12]);
    hdr.encode(out);
    txn.encode_body(out);
    let len = out.len() - start - 12;
    let sum = adler2::adler32_slice(&out[start + 12..]);
    out[start..start + 8].copy_from_slice(&(sum as i64).to_be_bytes());
    out[start + 8..start + 12].copy_from_slice(&(len as i32).to_be_bytes());
    out.put_u8(END_OF_RECORD);
}

/// The segment being written.
struct Segment {
    file: Box<dyn DiskFile>,
    path: PathBuf,
    /// Bytes written so far (the end of the last complete record).
    pos: u64,
    /// Current file size including preallocated zeros.
    size: u64,
}

/// A log that appends to segments in a directory.
pub struct FileTxnLog {
    disk: Arc<dyn Disk>,
    /// `<dataLogDir>/version-2`.
    dir: PathBuf,
    cur: Option<Segment>,
    prealloc: u64,
    force_sync: bool,
    /// Set by [`TxnLog::roll`]: the next append starts a new segment.
    roll: bool,
    /// Records appended since the last [`TxnLog::write_out`], encoded: one write per batch.
    buf: Vec<u8>,
}

impl FileTxnLog {
    pub fn new(disk: Arc<dyn Disk>, dir: PathBuf, force_sync: bool) -> FileTxnLog {
        FileTxnLog {
            disk,
            dir,
            cur: None,
            prealloc: PREALLOC_DEFAULT,
            force_sync,
            roll: false,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Smaller preallocation, for tests that look at whole files.
    pub fn with_prealloc(mut self, bytes: u64) -> Self {
        self.prealloc = bytes;
        self
    }

    fn open_segment(&mut self, first_zxid: i64) -> io::Result<()> {
        let path = self.dir.join(format!("log.{first_zxid:x}"));
        let mut file = self.disk.create(&path)?;
        let mut head = Vec::with_capacity(16);
        FileHeader {
            magic: LOG_MAGIC,
            version: VERSION,
            dbid: 0,
        }
        .encode(&mut head);
        if let Err(e) = file
            .write_all(&head)
            .and_then(|()| self.disk.sync_dir(&self.dir))
        {
            // A full disk: leave no header-less segment behind; appends go on in the current
            // one (if any) and roll again with the next snapshot.
            let _ = self.disk.remove(&path);
            return Err(e);
        }
        self.cur = Some(Segment {
            file,
            path,
            pos: HEADER_LEN,
            size: HEADER_LEN,
        });
        Ok(())
    }

    /// Grows the file the way Apache's `FilePadding` does.
    fn pad(seg: &mut Segment, prealloc: u64, need: u64) -> io::Result<()> {
        if prealloc == 0 || seg.pos + need + 4096 < seg.size {
            return Ok(());
        }
        let mut size = seg.size;
        while seg.pos + need + 4096 >= size {
            size += prealloc;
        }
        seg.file.set_len(size)?;
        seg.size = size;
        Ok(())
    }
}

impl TxnLog for FileTxnLog {
    fn append(&mut self, hdr: &TxnHeader, txn: &Txn) -> io::Result<()> {
        if self.cur.is_none() || self.roll {
            // A new segment starts with this record: what is buffered belongs to the old one.
            self.write_out()?;
            self.roll = false;
            self.open_segment(hdr.zxid)?;
        }
        encode_record(hdr, txn, &mut self.buf);
        Ok(())
    }

    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(seg) = self.cur.as_mut() else {
            self.buf.clear();
            return Err(io::Error::other("no segment open for buffered records"));
        };
        let written = Self::pad(seg, self.prealloc, self.buf.len() as u64)
            .and_then(|()| seg.file.write_all(&self.buf));
        if let Err(e) = written {
            // Leave no partial record behind: cut back to the last complete one. If even that
            // fails, the caller treats the log as broken.
            self.buf.clear();
            seg.file.truncate_at(seg.pos)?;
            seg.size = seg.pos;
            return Err(e);
        }
        seg.pos += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.write_out()?;
        match (&mut self.cur, self.force_sync) {
            (Some(seg), true) => seg.file.sync(),
            _ => Ok(()),
        }
    }

    fn roll(&mut self) {
        self.roll = true;
    }

    fn current_segment(&self) -> Option<&Path> {
        self.cur.as_ref().map(|s| s.path.as_path())
    }

    fn truncate_after(&mut self, zxid: i64) -> io::Result<()> {
        // The segment being written may be cut or deleted below: close it, and start a new
        // one with the next append (its zxid is above every zxid left on disk).
        debug_assert!(self.buf.is_empty(), "truncate_after with unwritten appends");
        self.buf.clear();
        self.cur = None;
        self.roll = false;
        truncate_segments(&*self.disk, &self.dir, zxid)
    }
}

/// Removes every record with a zxid above `zxid` from the segments in `dir`, durably: later
/// segments are deleted newest first (the directory fsynced after each), then the segment
/// holding the cut is truncated at a record boundary (dropping its preallocated zeros) and
/// fsynced. A crash part way leaves a prefix of the log, never a gap.
///
/// Fails without changing anything when the segment holding the cut cannot be read up to the
/// cut (corruption before it); the error names the file and offset.
pub fn truncate_segments(disk: &dyn Disk, dir: &Path, zxid: i64) -> io::Result<()> {
    let segments = list_segments(disk, dir)?;
    // Segments are named after their first zxid: the one holding the cut is the newest that
    // starts at or before it; every later one lies wholly above it.
    let keep = segments.iter().rposition(|(first, _)| *first <= zxid);
    let mut cut = None;
    if let Some(k) = keep {
        let path = &segments[k].1;
        let bytes = disk.read(path)?;
        let (read, corrupt) = scan_segment(&bytes, k + 1 == segments.len());
        let above = read.records.iter().position(|e| e.hdr.zxid > zxid);
        let at = match (above, corrupt) {
            (Some(i), _) => read.offsets[i],
            (None, None) => read.valid_len,
            (None, Some(c)) => {
                return Err(io::Error::other(format!(
                    "cannot truncate transaction log {} after zxid {zxid:#x}: it is corrupt at \
                     offset {} ({}) before any record above that zxid",
                    path.display(),
                    c.offset,
                    c.reason
                )))
            }
        };
        if at < bytes.len() as u64 {
            cut = Some((path.clone(), at));
        }
    }
    let first_deleted = keep.map_or(0, |k| k + 1);
    for (_, path) in segments[first_deleted..].iter().rev() {
        disk.remove(path)?;
        disk.sync_dir(dir)?;
    }
    match cut {
        // Not even a whole header (a crash while the segment was created): no records to
        // keep, and an empty file would be corruption once a later segment exists.
        Some((path, at)) if at < HEADER_LEN => {
            disk.remove(&path)?;
            disk.sync_dir(dir)?;
        }
        // `Disk::truncate` fsyncs the file.
        Some((path, at)) => disk.truncate(&path, at)?,
        None => {}
    }
    Ok(())
}

/// What reading one segment found.
#[derive(Debug)]
pub struct SegmentRead {
    /// The records, in file order, each with its digest when the writer added one (Apache 3.6+).
    pub records: Vec<TxnLogEntry>,
    /// Where each record starts in the file (parallel to `records`).
    pub offsets: Vec<u64>,
    /// Length of the valid prefix (header + complete records).
    pub valid_len: u64,
    /// Set when the segment ends in a torn record (cut at `valid_len`).
    pub torn: Option<String>,
}

/// Why a segment cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt {
    pub offset: u64,
    pub reason: String,
}

/// Reads a segment. `last`: this is the newest segment, where a torn tail is expected after a
/// crash; anywhere else a bad record is corruption.
pub fn read_segment(bytes: &[u8], last: bool) -> Result<SegmentRead, Corrupt> {
    let (read, corrupt) = scan_segment(bytes, last);
    match corrupt {
        None => Ok(read),
        Some(c) => Err(c),
    }
}

/// [`read_segment`], keeping the records before a corruption (the truncation needs them).
fn scan_segment(bytes: &[u8], last: bool) -> (SegmentRead, Option<Corrupt>) {
    let mut read = SegmentRead {
        records: Vec::new(),
        offsets: Vec::new(),
        valid_len: 0,
        torn: None,
    };
    let bad = |offset: u64, reason: String| Some(Corrupt { offset, reason });
    if bytes.len() < HEADER_LEN as usize {
        if last {
            read.torn = Some("file header is incomplete".into());
            return (read, None);
        }
        return (read, bad(0, "file is shorter than its header".into()));
    }
    let head = match FileHeader::decode(&mut Reader::new(&bytes[..16])) {
        Ok(h) => h,
        Err(e) => return (read, bad(0, e.to_string())),
    };
    if head.magic != LOG_MAGIC {
        let why = format!("bad magic {:#x}, expected ZKLG", head.magic);
        return (read, bad(0, why));
    }
    let mut pos = HEADER_LEN as usize;
    loop {
        read.valid_len = pos as u64;
        match read_record(&bytes[pos..]) {
            Ok(None) => return (read, None),
            Ok(Some((used, entry))) => {
                read.records.push(entry);
                read.offsets.push(pos as u64);
                pos += used;
            }
            Err((extent, reason)) => {
                let torn_tail = match extent {
                    Some(extent) => bytes
                        .get(pos + extent..)
                        .is_none_or(|r| r.iter().all(|b| *b == 0)),
                    // The length field cannot be trusted, so where the record would end is
                    // unknown: it was torn only if no complete record follows it.
                    None => !valid_record_after(bytes, pos + 1),
                };
                if last && torn_tail {
                    read.torn = Some(reason);
                    return (read, None);
                }
                return (read, bad(pos as u64, reason));
            }
        }
    }
}

/// True if a complete, checksummed record starts anywhere in `bytes[from..]`. Only the
/// stretch up to the last non-zero byte can hold one (preallocated space is zeros).
fn valid_record_after(bytes: &[u8], from: usize) -> bool {
    let Some(end) = bytes.iter().rposition(|b| *b != 0) else {
        return false;
    };
    (from..=end).any(|off| matches!(read_record(&bytes[off..=end]), Ok(Some(_))))
}

/// One record: `Ok(None)` at the end of the log (EOF or a zero length), `Err((extent, why))`
/// for a bad record occupying `extent` bytes, or `None` when its length field cannot be trusted.
#[allow(clippy::type_complexity)]
fn read_record(b: &[u8]) -> Result<Option<(usize, TxnLogEntry)>, (Option<usize>, String)> {
    if b.len() < 12 {
        if b.iter().all(|x| *x == 0) {
            return Ok(None);
        }
        return Err((Some(b.len()), "record header cut short".into()));
    }
    let sum = i64::from_be_bytes(b[0..8].try_into().expect("8 bytes"));
    let len = i32::from_be_bytes(b[8..12].try_into().expect("4 bytes"));
    if len == 0 && sum == 0 {
        return Ok(None);
    }
    if len <= 0 || 12 + len as usize + 1 > b.len() {
        let why = if len <= 0 {
            format!("record length {len} is not positive")
        } else {
            format!("record length {len} runs past the end of the file")
        };
        return Err((None, why));
    }
    let len = len as usize;
    let entry = &b[12..12 + len];
    let extent = Some(12 + len + 1);
    if b[12 + len] != END_OF_RECORD {
        return Err((extent, "record has no end marker (partial write)".into()));
    }
    if adler2::adler32_slice(entry) as i64 != sum {
        return Err((extent, "record checksum does not match".into()));
    }
    let mut r = Reader::new(entry);
    let hdr = TxnHeader::decode(&mut r).map_err(|e| (extent, format!("bad txn header: {e}")))?;
    let txn = Txn::decode_body(hdr.txn_type, &mut r)
        .map_err(|e| (extent, format!("bad txn body: {e}")))?;
    // A TxnDigest may follow (Apache 3.6+ with digests on): kept when it is exactly one, as
    // Apache reads it; anything else there is not needed to replay and is ignored.
    let digest = match r.remaining() {
        12 => TxnDigest::decode(&mut r).ok(),
        _ => None,
    };
    Ok(Some((12 + len + 1, TxnLogEntry { hdr, txn, digest })))
}

/// `log.<hex>` → zxid.
pub fn parse_name(name: &str, prefix: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

/// Log segments in `dir`, oldest first.
pub fn list_segments(disk: &dyn Disk, dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out: Vec<(i64, PathBuf)> = match disk.list(dir) {
        Ok(names) => names
            .iter()
            .filter_map(|n| parse_name(n, "log").map(|z| (z, dir.join(n))))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::disk::FsDisk;
    use zk_proto::txn::{CreateSessionTxn, SetDataTxn};

    fn txn(z: i64) -> (TxnHeader, Txn) {
        let hdr = TxnHeader {
            client_id: 1,
            cxid: z as i32,
            zxid: z,
            time: 100,
            txn_type: 5,
        };
        (
            hdr,
            Txn::SetData(SetDataTxn {
                path: "/a".into(),
                data: Some(vec![z as u8; 10]),
                version: z as i32,
            }),
        )
    }

    /// The captured first record of a fresh Apache log (reference §11.2), minus its TxnDigest,
    /// re-encodes to the same bytes and checksum structure.
    #[test]
    fn record_layout_matches_apache() {
        let hdr = TxnHeader {
            client_id: 0x0100_0003_e1cd_0000,
            cxid: 0,
            zxid: 1,
            time: 0x1a20feabcd1,
            txn_type: -10,
        };
        let mut out = Vec::new();
        encode_record(
            &hdr,
            &Txn::CreateSession(CreateSessionTxn { timeout_ms: 4000 }),
            &mut out,
        );
        assert_eq!(&out[8..12], &[0, 0, 0, 0x24]);
        assert_eq!(out.last(), Some(&0x42));
        let r = read_record(&out).unwrap().unwrap();
        assert_eq!(r.1.hdr, hdr);
    }

    #[test]
    fn every_cut_of_the_last_record_recovers_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            FileTxnLog::new(Arc::new(FsDisk), dir.path().to_path_buf(), true).with_prealloc(0);
        for z in 1..=5 {
            let (h, t) = txn(z);
            log.append(&h, &t).unwrap();
        }
        log.sync().unwrap();
        let bytes = std::fs::read(dir.path().join("log.1")).unwrap();
        let full = read_segment(&bytes, true).unwrap();
        assert_eq!(full.records.len(), 5);
        let mut rec4_end = 0;
        let mut probe = full.valid_len as usize;
        for cut in (0..bytes.len()).rev() {
            let r = read_segment(&bytes[..cut], true).unwrap();
            assert!(r.records.len() <= 5);
            assert_eq!(r.records[..], full.records[..r.records.len()]);
            if r.records.len() == 4 && rec4_end == 0 {
                rec4_end = r.valid_len as usize;
            }
            probe = probe.min(cut);
        }
        assert!(rec4_end > 0 && probe == 0);
    }

    #[test]
    fn corruption_in_the_middle_is_an_error_with_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            FileTxnLog::new(Arc::new(FsDisk), dir.path().to_path_buf(), true).with_prealloc(4096);
        for z in 1..=3 {
            let (h, t) = txn(z);
            log.append(&h, &t).unwrap();
        }
        log.write_out().unwrap();
        let mut bytes = std::fs::read(dir.path().join("log.1")).unwrap();
        bytes[16 + 20] ^= 0xff; // inside the first record's entry
        let e = read_segment(&bytes, true).unwrap_err();
        assert_eq!(e.offset, 16);
        assert!(e.reason.contains("checksum"), "{e:?}");
    }
}
