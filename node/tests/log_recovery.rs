//! Recovery from a crash in the middle of a log write (issue 3, acceptance 2, second half).
//!
//! Goal: whatever prefix of the last segment reached the disk, `recovery::recover` rebuilds
//! exactly the transactions whose records are complete, and cuts the torn rest off the file;
//! while damage that is *followed* by valid records (so not a torn final write) stops recovery
//! with a message naming the file and the offset.
//!
//! Method: write two segments through `FileTxnLog` (the server's writer), then for every byte
//! offset of the last segment's final three records, rebuild the last
//! segment as if the crash had left exactly that many bytes, both as a short file and as a
//! preallocated file (the cut followed by zeros, as after a crash with Apache's
//! preallocation), and recover. Record boundaries are found by walking the length fields here,
//! independently of the reader under test.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zk_node::storage::disk::FsDisk;
use zk_node::storage::recovery;
use zk_node::storage::txnlog::FileTxnLog;
use zk_node::storage::TxnLog;
use zk_proto::data::Acl;
use zk_proto::txn::{CreateSessionTxn, CreateTxn, SetDataTxn, Txn, TxnHeader};

const SESSION: i64 = 0x0100_0000_0000_0001;
/// Transactions in the first segment (zxid 1..=FIRST) and in the last one.
const FIRST: i64 = 6;
const LAST: i64 = 8;

fn hdr(zxid: i64, txn_type: i32) -> TxnHeader {
    TxnHeader {
        client_id: SESSION,
        cxid: zxid as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
        txn_type,
    }
}

/// zxid 1 opens a session; then creates of `/n<zxid>` with values of varied length, and every
/// third one a setData of `/n1`.
fn txn(zxid: i64) -> (TxnHeader, Txn) {
    if zxid == 1 {
        return (
            hdr(1, -10),
            Txn::CreateSession(CreateSessionTxn { timeout_ms: 4000 }),
        );
    }
    if zxid % 3 == 0 {
        let t = Txn::SetData(SetDataTxn {
            path: "/n2".into(),
            data: Some(format!("value {zxid}").into_bytes()),
            version: (zxid / 3) as i32,
        });
        return (hdr(zxid, 5), t);
    }
    let t = Txn::Create(CreateTxn {
        path: format!("/n{zxid}"),
        data: Some(vec![zxid as u8; (zxid as usize * 7) % 40]),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: zxid as i32,
    });
    (hdr(zxid, 1), t)
}

struct Dirs {
    _tmp: tempfile::TempDir,
    /// `<dataDir>/version-2`, for snapshots (none here) and the log.
    v2: PathBuf,
    last_segment: PathBuf,
    /// The last segment as written, without preallocated zeros.
    bytes: Vec<u8>,
}

/// Writes zxid 1..=FIRST to `log.1` and FIRST+1..=FIRST+LAST to the next segment.
fn write_log() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let v2 = tmp.path().join("version-2");
    std::fs::create_dir_all(&v2).unwrap();
    let mut log = FileTxnLog::new(Arc::new(FsDisk), v2.clone(), true).with_prealloc(0);
    for z in 1..=FIRST + LAST {
        if z == FIRST + 1 {
            log.roll();
        }
        let (h, t) = txn(z);
        log.append(&h, &t).unwrap();
    }
    log.sync().unwrap();
    let last_segment = v2.join(format!("log.{:x}", FIRST + 1));
    let bytes = std::fs::read(&last_segment).unwrap();
    Dirs {
        _tmp: tmp,
        v2,
        last_segment,
        bytes,
    }
}

/// Ends of the header and of each record, walked from the length fields.
fn record_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = vec![16];
    let mut pos = 16;
    while pos + 12 <= bytes.len() {
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap());
        if len <= 0 {
            break;
        }
        pos += 12 + len as usize + 1;
        ends.push(pos);
    }
    assert_eq!(pos, bytes.len(), "the walk ends at the end of the file");
    ends
}

fn recover(v2: &Path) -> anyhow::Result<recovery::Recovered> {
    recovery::recover(&FsDisk, v2, v2)
}

/// The tree after recovery holds exactly the txns up to `zxid` (checked through what they
/// did, not only the counter).
fn assert_tree_is_prefix(rec: &recovery::Recovered, zxid: i64, cut: usize) {
    assert_eq!(rec.tree.last_zxid(), zxid, "cut at {cut}");
    for z in 2..=FIRST + LAST {
        let present = rec.tree.get(&format!("/n{z}")).is_some();
        let expect = z % 3 != 0 && z <= zxid;
        assert_eq!(present, expect, "/n{z} after a cut at {cut}");
    }
    let last_set = (3..=zxid).rev().find(|z| z % 3 == 0);
    let n2 = rec.tree.get("/n2").expect("/n2 is in the first segment");
    let want = last_set.map(|z| format!("value {z}").into_bytes());
    let want = want.unwrap_or_else(|| vec![2u8; 14]);
    assert_eq!(
        n2.data.as_deref(),
        Some(&want[..]),
        "/n2 after a cut at {cut}"
    );
    assert_eq!(rec.sessions.get(&SESSION), Some(&4000));
}

#[test]
fn every_cut_of_the_last_segment_recovers_exactly_the_complete_records() {
    let d = write_log();
    let ends = record_ends(&d.bytes);
    assert_eq!(ends.len() as i64, LAST + 1);
    let mut truncated = 0;
    // The last three records (each torn cut costs an fsync when recovery truncates it).
    for cut in ends[ends.len() - 4]..=d.bytes.len() {
        let complete = ends.iter().filter(|e| **e <= cut).count() as i64 - 1;
        let boundary = ends[complete as usize];
        for preallocated in [false, true] {
            let mut file = d.bytes[..cut].to_vec();
            if preallocated {
                file.resize(d.bytes.len() + 4096, 0);
            }
            std::fs::write(&d.last_segment, &file).unwrap();
            let rec = recover(&d.v2).unwrap_or_else(|e| panic!("cut at {cut}: {e:#}"));
            assert_tree_is_prefix(&rec, FIRST + complete, cut);
            // The file keeps the complete records, and after them at most zeros (a reader
            // stops there; the next start opens a new segment anyway).
            let after = std::fs::read(&d.last_segment).unwrap();
            assert_eq!(&after[..boundary], &d.bytes[..boundary], "cut at {cut}");
            assert!(
                after[boundary..].iter().all(|b| *b == 0),
                "cut at {cut} (preallocated {preallocated}): {} bytes of a torn record were left",
                after.len() - boundary
            );
            if after.len() < file.len() {
                truncated += 1;
            }
        }
    }
    assert!(truncated > 0, "some cuts must have been truncated");
}

/// Torn header: a crash right after the segment was created leaves a header-less file.
#[test]
fn a_last_segment_shorter_than_its_header_is_a_torn_tail() {
    let d = write_log();
    for cut in 0..16 {
        std::fs::write(&d.last_segment, &d.bytes[..cut]).unwrap();
        let rec = recover(&d.v2).unwrap_or_else(|e| panic!("cut at {cut}: {e:#}"));
        assert_eq!(rec.tree.last_zxid(), FIRST);
    }
}

/// Damages the last segment at `offset` (xor 0xff) and expects recovery to refuse, naming the
/// file and the offset of the damaged record.
fn assert_refused(d: &Dirs, offset: usize, record_start: usize, what: &str) {
    let mut bad = d.bytes.clone();
    bad[offset] ^= 0xff;
    std::fs::write(&d.last_segment, &bad).unwrap();
    let e = match recover(&d.v2) {
        Ok(r) => panic!(
            "{what}: recovery accepted damage followed by valid records (recovered to {:#x})",
            r.tree.last_zxid()
        ),
        Err(e) => format!("{e:#}"),
    };
    let file = d.last_segment.display().to_string();
    assert!(e.contains(&file), "{what}: no file name in: {e}");
    assert!(
        e.contains(&format!("offset {record_start}")),
        "{what}: no offset {record_start} in: {e}"
    );
    assert!(e.contains("backup"), "{what}: no advice in: {e}");
    assert_eq!(
        std::fs::read(&d.last_segment).unwrap(),
        bad,
        "{what}: file changed"
    );
}

#[test]
fn damage_followed_by_valid_records_is_an_error_naming_file_and_offset() {
    let d = write_log();
    let ends = record_ends(&d.bytes);
    // Damage in each part of every record but the last one.
    for w in ends.windows(2).take(ends.len() - 2) {
        let (start, end) = (w[0], w[1]);
        assert_refused(&d, start + 5, start, "checksum field");
        assert_refused(&d, start + 10, start, "length field");
        assert_refused(&d, start + 11, start, "length field, low byte");
        assert_refused(&d, start + 20, start, "txn header");
        assert_refused(&d, end - 2, start, "txn body");
        assert_refused(&d, end - 1, start, "end marker");
    }
}

/// A damaged record in an older segment is never a torn write, even at its end.
#[test]
fn damage_in_an_older_segment_is_an_error() {
    let d = write_log();
    let first = d.v2.join("log.1");
    let good = std::fs::read(&first).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0xff;
    std::fs::write(&first, &bad).unwrap();
    let e = format!(
        "{:#}",
        recover(&d.v2).err().expect("damage must be refused")
    );
    assert!(e.contains(&first.display().to_string()), "{e}");
    let last_start = record_ends(&good)[FIRST as usize - 1];
    assert!(e.contains(&format!("offset {last_start}")), "{e}");
    // Cut short, too.
    std::fs::write(&first, &good[..n - 3]).unwrap();
    assert!(recover(&d.v2).is_err());
}

/// A segment missing from the middle of the log (here the first, with no snapshot before it)
/// is refused, naming the missing zxids, instead of replaying around the hole.
#[test]
fn a_missing_segment_is_an_error_naming_the_missing_zxids() {
    let d = write_log();
    std::fs::remove_file(d.v2.join("log.1")).unwrap();
    let e = format!(
        "{:#}",
        recover(&d.v2)
            .err()
            .expect("a hole in the log must be refused")
    );
    assert!(e.contains(&format!("0x1..={:#x}", FIRST)), "{e}");
    assert!(
        e.contains("missing") && e.contains("deleted or lost"),
        "{e}"
    );
    assert!(e.contains(&d.last_segment.display().to_string()), "{e}");
}
