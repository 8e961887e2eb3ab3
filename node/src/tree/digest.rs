//! The tree digest Apache 3.6+ keeps (`DigestCalculator`, `AdHash`): a CRC-32 per node over
//! its path, data and stat, summed with wrap-around over every node outside `/zookeeper/`.
//! Written into snapshots so that Apache accepts our data directories and we can check theirs.

use super::Node;

/// Apache's digest version for this calculation.
pub const DIGEST_VERSION: i32 = 2;

/// The digest of one node; 0 for nodes under `/zookeeper/` (not `/zookeeper` itself). The root
/// is hashed with the empty path, as Apache stores it under `""`.
pub fn node_digest(path: &str, node: &Node) -> u64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut h = crc32fast::Hasher::new();
    h.update(path.as_bytes());
    if let Some(d) = &node.data {
        h.update(d);
    }
    // The stat's fields in one update: CRC-32 of many 4- and 8-byte pieces is slow.
    let s = &node.stat;
    let mut buf = [0u8; 60];
    let mut at = 0;
    for v in [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime] {
        buf[at..at + 8].copy_from_slice(&v.to_be_bytes());
        at += 8;
    }
    for v in [s.version, s.cversion, s.aversion] {
        buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
        at += 4;
    }
    buf[at..].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    h.update(&buf);
    h.finalize() as u64
}
