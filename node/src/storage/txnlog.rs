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
use zk_proto::txn::{FileHeader, Txn, TxnHeader};
use zk_proto::{Jute, Reader};

use super::disk::{Disk, DiskFile};
use super::TxnLog;

pub const LOG_MAGIC: i32 = 0x5a4b_4c47; // "ZKLG"
pub const VERSION: i32 = 2;
const HEADER_LEN: u64 = 16;
/// Apache's default `zookeeper.preAllocSize` (64 MiB).
pub const PREALLOC_DEFAULT: u64 = 64 * 1024 * 1024;
const END_OF_RECORD: u8 = 0x42;

/// Serializes one log record (checksum, length, entry, end marker).
pub fn encode_record(hdr: &TxnHeader, txn: &Txn, out: &mut Vec<u8>) {
    let mut entry = Vec::with_capacity(64);
    hdr.encode(&mut entry);
    txn.encode_body(&mut entry);
    let sum = adler2::adler32_slice(&entry);
    out.put_i64(sum as i64);
    out.put_i32(entry.len() as i32);
    out.put_bytes(&entry);
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
            self.roll = false;
            self.open_segment(hdr.zxid)?;
        }
        self.buf.clear();
        encode_record(hdr, txn, &mut self.buf);
        let seg = self.cur.as_mut().expect("opened above");
        Self::pad(seg, self.prealloc, self.buf.len() as u64)?;
        if let Err(e) = seg.file.write_all(&self.buf) {
            // Leave no partial record behind: cut back to the last complete one. If even that
            // fails, the caller treats the log as broken.
            seg.file.truncate_at(seg.pos)?;
            seg.size = seg.pos;
            return Err(e);
        }
        seg.pos += self.buf.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
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
}

/// What reading one segment found.
#[derive(Debug)]
pub struct SegmentRead {
    pub records: Vec<(TxnHeader, Txn)>,
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
    let bad = |offset: u64, reason: String| Corrupt { offset, reason };
    if bytes.len() < HEADER_LEN as usize {
        if last {
            return Ok(SegmentRead {
                records: Vec::new(),
                valid_len: 0,
                torn: Some("file header is incomplete".into()),
            });
        }
        return Err(bad(0, "file is shorter than its header".into()));
    }
    let head =
        FileHeader::decode(&mut Reader::new(&bytes[..16])).map_err(|e| bad(0, e.to_string()))?;
    if head.magic != LOG_MAGIC {
        return Err(bad(
            0,
            format!("bad magic {:#x}, expected ZKLG", head.magic),
        ));
    }
    let mut pos = HEADER_LEN as usize;
    let mut records = Vec::new();
    loop {
        match read_record(&bytes[pos..]) {
            Ok(None) => {
                return Ok(SegmentRead {
                    records,
                    valid_len: pos as u64,
                    torn: None,
                })
            }
            Ok(Some((used, hdr, txn))) => {
                records.push((hdr, txn));
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
                    return Ok(SegmentRead {
                        records,
                        valid_len: pos as u64,
                        torn: Some(reason),
                    });
                }
                return Err(bad(pos as u64, reason));
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
fn read_record(b: &[u8]) -> Result<Option<(usize, TxnHeader, Txn)>, (Option<usize>, String)> {
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
    // Whatever follows (a TxnDigest) is optional and not needed to replay.
    Ok(Some((12 + len + 1, hdr, txn)))
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
        assert_eq!(r.1, hdr);
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
        let mut bytes = std::fs::read(dir.path().join("log.1")).unwrap();
        bytes[16 + 20] ^= 0xff; // inside the first record's entry
        let e = read_segment(&bytes, true).unwrap_err();
        assert_eq!(e.offset, 16);
        assert!(e.reason.contains("checksum"), "{e:?}");
    }
}
