//! Reads the transaction logs of a data directory (`version-2/log.<zxid>`, Apache's format,
//! which zk-node writes too), so a test can see what a server has *logged*, as opposed to what
//! it shows clients: e.g. that a leader logged a proposal that was never committed, and that
//! the proposal is gone from its log once a new leader truncated it (TRUNC).
//!
//! Format (apache/zookeeper `FileTxnLog.java`): a `FileHeader` (magic `ZKLG`, version 2, dbid),
//! then records `i64 checksum, i32 length, length bytes (TxnHeader, body, optional digest),
//! u8 'B'`. The file is preallocated with zeros; a zero length ends it. Reading stops quietly at
//! a torn or zeroed tail: this is an observer for tests, not a recovery tool.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zk_proto::jute::{Jute, Reader};
use zk_proto::txn::{CreateTxn, MultiTxn, TxnHeader};
use zk_proto::OpCode;

/// `ZKLG`.
const TXNLOG_MAGIC: i32 = 0x5a4b_4c47;

/// One logged transaction, reduced to what tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    pub zxid: i64,
    pub txn_type: i32,
    /// The paths the transaction creates (a create, or the creates inside a multi).
    pub created: Vec<String>,
}

/// The log files of `data_dir/version-2`, oldest first.
pub fn log_files(data_dir: &Path) -> Result<Vec<PathBuf>> {
    let dir = data_dir.join("version-2");
    let mut files: Vec<(i64, PathBuf)> = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("list {}", dir.display())),
    };
    for e in entries {
        let e = e.with_context(|| format!("list {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(hex) = name.strip_prefix("log.") {
            if let Ok(z) = i64::from_str_radix(hex, 16) {
                files.push((z, e.path()));
            }
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Every transaction in every log file of `data_dir`, in file order.
pub fn read_logs(data_dir: &Path) -> Result<Vec<LoggedTxn>> {
    let mut out = Vec::new();
    for f in log_files(data_dir)? {
        let bytes = std::fs::read(&f).with_context(|| format!("read {}", f.display()))?;
        out.extend(parse_log(&bytes));
    }
    Ok(out)
}

/// The snapshot files of `data_dir/version-2` as their zxids, ascending.
pub fn snapshot_zxids(data_dir: &Path) -> Result<Vec<i64>> {
    let dir = data_dir.join("version-2");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("list {}", dir.display())),
    };
    let mut zxids = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("list {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(z) = name
            .strip_prefix("snapshot.")
            .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        {
            zxids.push(z);
        }
    }
    zxids.sort_unstable();
    Ok(zxids)
}

/// The transactions of one log file's bytes; stops at the end, a zero record or a torn tail.
pub fn parse_log(bytes: &[u8]) -> Vec<LoggedTxn> {
    let mut r = Reader::new(bytes);
    let (Ok(magic), Ok(_version), Ok(_dbid)) = (r.i32(), r.i32(), r.i64()) else {
        return Vec::new();
    };
    if magic != TXNLOG_MAGIC {
        return Vec::new();
    }
    let mut out = Vec::new();
    while let (Ok(_crc), Ok(len)) = (r.i64(), r.i32()) {
        if len <= 0 {
            break;
        }
        let Ok(entry) = r.take(len as usize) else {
            break;
        };
        if r.u8() != Ok(b'B') {
            break;
        }
        match parse_entry(entry) {
            Some(t) => out.push(t),
            None => break,
        }
    }
    out
}

fn parse_entry(entry: &[u8]) -> Option<LoggedTxn> {
    let mut r = Reader::new(entry);
    let hdr = TxnHeader::decode(&mut r).ok()?;
    let mut created = Vec::new();
    collect_creates(hdr.txn_type, &mut r, &mut created);
    Some(LoggedTxn {
        zxid: hdr.zxid,
        txn_type: hdr.txn_type,
        created,
    })
}

fn collect_creates(txn_type: i32, r: &mut Reader<'_>, out: &mut Vec<String>) {
    let op = OpCode(txn_type);
    if [
        OpCode::CREATE,
        OpCode::CREATE2,
        OpCode::CREATE_CONTAINER,
        OpCode::CREATE_TTL,
    ]
    .contains(&op)
    {
        // Every create body starts with the path; CreateTxn reads it for all four kinds.
        let mut probe = r.clone();
        if let Ok(path) = String::decode(&mut probe) {
            out.push(path);
        }
        let _ = CreateTxn::decode(r);
    } else if op == OpCode::MULTI {
        if let Ok(m) = MultiTxn::decode(r) {
            for sub in m.txns {
                collect_creates(sub.txn_type, &mut Reader::new(&sub.data), out);
            }
        }
    }
}

/// `0x<epoch><counter>` as Apache prints zxids.
pub fn zxid_hex(z: i64) -> String {
    format!("0x{z:x}")
}
