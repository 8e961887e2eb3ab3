//! Memory and snapshot cost of the DataTree, without a server or a client in the way:
//! applies N creates of 100-byte values (8 parents, as `zksh bench create --clients 8` makes
//! them), reports resident bytes per znode, then encodes the tree as a snapshot and decodes it
//! again (the work recovery does), with timings.
//!
//! `cargo run --release -p zk-node --example tree_memory -- 1000000`

/// mimalloc: no per-allocation header and size classes close to a znode's pieces, so a
/// million znodes take less memory than with the system allocator, and allocation on the
/// request path is cheaper.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use zk_node::storage::snapshot;
use zk_node::tree::DataTree;
use zk_proto::txn::{CreateTxn, Txn, TxnHeader};
use zk_proto::Acl;

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut tree = DataTree::new();
    let mut out = Vec::new();
    let mut zxid = 0;
    let mut apply = |tree: &mut DataTree, path: String, data: Vec<u8>| {
        zxid += 1;
        let hdr = TxnHeader {
            client_id: 1,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000 + zxid,
            txn_type: 1,
        };
        let txn = Txn::Create(CreateTxn {
            path,
            data: Some(data),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: -1,
        });
        let r = tree.apply(&hdr, &txn, &mut out);
        assert_eq!(r.err, 0);
        out.clear();
    };
    apply(&mut tree, "/load".into(), Vec::new());
    for c in 0..8 {
        apply(&mut tree, format!("/load/c{c}"), Vec::new());
    }
    let before = rss_bytes();
    let t = Instant::now();
    for i in 0..n {
        apply(&mut tree, format!("/load/c{}/{i}", i % 8), vec![b'x'; 100]);
    }
    let load_s = t.elapsed().as_secs_f64();
    let after = rss_bytes();
    println!(
        "load     {n} znodes in {load_s:.2} s ({:.0}/s), {:.0} B resident per znode",
        n as f64 / load_s,
        (after - before) as f64 / n as f64
    );
    let paths: Vec<String> = (0..1_000_000u64)
        .map(|i| {
            let k = (i.wrapping_mul(2_654_435_761) % n as u64) as i64;
            format!("/load/c{}/{k}", k % 8)
        })
        .collect();
    let t = Instant::now();
    let mut found = 0usize;
    for p in &paths {
        found += tree.get(p).map_or(0, |n| n.stat.version as usize + 1);
    }
    println!(
        "lookup   {} random paths in {:.0} ns each",
        found,
        t.elapsed().as_nanos() as f64 / paths.len() as f64
    );
    let t = Instant::now();
    let snap = snapshot::capture(&tree, Default::default());
    let bytes = snapshot::encode(&snap);
    drop(snap);
    println!(
        "encode   {} MB in {:.2} s",
        bytes.len() >> 20,
        t.elapsed().as_secs_f64()
    );
    drop(tree);
    let t = Instant::now();
    let (nodes, _sessions, _digest) = snapshot::decode(&bytes).expect("decode");
    let decode_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tree = DataTree::from_nodes(nodes, 0);
    println!(
        "decode   {:.2} s, index {:.2} s, {} nodes",
        decode_s,
        t.elapsed().as_secs_f64(),
        tree.node_count()
    );
}
