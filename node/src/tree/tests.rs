//! DataTree semantics, checked as data: apply txns, compare stats and notifications.

use super::*;
use zk_proto::txn::{CreateTxn, DeleteTxn, SetDataTxn};

fn hdr(zxid: i64) -> TxnHeader {
    TxnHeader {
        client_id: 7,
        cxid: 1,
        zxid,
        time: 1000 + zxid,
        txn_type: 1,
    }
}

fn create(t: &mut DataTree, zxid: i64, p: &str, parent_cv: i32) -> TxnResult {
    let txn = Txn::Create(CreateTxn {
        path: p.into(),
        data: Some(b"x".to_vec()),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: parent_cv,
    });
    t.apply(&hdr(zxid), &txn, &mut Vec::new())
}

#[test]
fn fresh_tree_matches_apache() {
    let t = DataTree::new();
    let root = t.get("/").unwrap().client_stat();
    // Root has one child (/zookeeper) added without a cversion bump: 2*0 - 1.
    assert_eq!(root.cversion, -1);
    assert_eq!(t.get("/zookeeper/config").unwrap().stat.aversion, -1);
    assert_eq!(t.descendant_count("/"), 3);
}

#[test]
fn client_cversion_counts_creates_and_deletes() {
    let mut t = DataTree::new();
    create(&mut t, 1, "/a", 1);
    create(&mut t, 2, "/a/b", 1);
    create(&mut t, 3, "/a/c", 2);
    t.apply(
        &hdr(4),
        &Txn::Delete(DeleteTxn {
            path: "/a/b".into(),
        }),
        &mut Vec::new(),
    );
    t.apply(
        &hdr(5),
        &Txn::Delete(DeleteTxn {
            path: "/a/c".into(),
        }),
        &mut Vec::new(),
    );
    let a = t.get("/a").unwrap();
    assert_eq!(a.stat.cversion, 2, "stored cversion counts creations only");
    assert_eq!(a.client_stat().cversion, 4);
    assert_eq!(a.client_stat().pzxid, 5);
}

#[test]
fn watches_fire_once_and_dedupe() {
    let mut t = DataTree::new();
    create(&mut t, 1, "/w", 1);
    t.watches.data.add("/w", 9, Mode::Standard);
    t.watches.child.add("/w", 9, Mode::Standard);
    let mut out = Vec::new();
    t.apply(
        &hdr(2),
        &Txn::Delete(DeleteTxn { path: "/w".into() }),
        &mut out,
    );
    assert_eq!(
        out.len(),
        1,
        "one NodeDeleted for data+child watch: {out:?}"
    );
    assert_eq!(out[0].event.event_type, event_type::NODE_DELETED);
}

#[test]
fn recursive_watch_skips_children_changed() {
    let mut t = DataTree::new();
    create(&mut t, 1, "/r", 1);
    t.watches.add_persistent("/r", 3, true);
    let mut out = Vec::new();
    create(&mut t, 2, "/r/x", 1);
    t.apply(
        &hdr(3),
        &Txn::SetData(SetDataTxn {
            path: "/r/x".into(),
            data: None,
            version: 1,
        }),
        &mut out,
    );
    let types: Vec<i32> = out.iter().map(|n| n.event.event_type).collect();
    assert_eq!(types, vec![event_type::NODE_DATA_CHANGED]);
}
