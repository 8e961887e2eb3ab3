//! Goal: `cp` and `diff` between two clusters carry a 5,000-node subtree exactly: every node's
//! data (text and binary) and ACL (open, read-only, digest-only on nodes with children), and
//! `diff` notices a single changed byte.
//! Method: two standalone Apache servers named `a` and `b` in a cluster list with digest
//! credentials; the subtree is written to `a` with the client, copied with the shell's
//! `cp -r a:/big b:/big`, checked with `diff`, then verified node by node with two clients.

mod common;

use std::path::Path;
use std::time::Instant;

use common::apache::{available, Apache};
use futures::future::join_all;
use zk_proto::{Acl, CreateMode};
use zk_shell::client::{Client, ClientOptions};
use zk_shell::clusters::ClusterList;
use zk_shell::commands::walk::{read_acls, read_data, walk};
use zk_shell::commands::{CmdError, Collect, Output, Shell, ShellOptions};

const GROUPS: usize = 50;
const PER_GROUP: usize = 99;
const ALICE: &str = "digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";

fn acl_for(i: usize) -> Vec<Acl> {
    match i % 7 {
        0 => vec![
            Acl::new(31, "digest", &ALICE[7..]),
            Acl::new(1, "world", "anyone"),
        ],
        3 => vec![Acl::new(1, "world", "anyone")],
        _ => Acl::open_unsafe(),
    }
}

fn data_for(i: usize) -> Option<Vec<u8>> {
    match i % 5 {
        0 => None,
        1 => Some(vec![0xff, 0x00, i as u8, 0x80]),
        _ => Some(format!("value-{i}").into_bytes()),
    }
}

async fn fill(c: &Client) {
    let open = Acl::open_unsafe();
    c.create(
        "/big",
        Some(b"root".to_vec()),
        open.clone(),
        CreateMode::Persistent,
        None,
    )
    .await
    .unwrap();
    // Group nodes are digest-only: a copy that applied them before creating the children
    // would be refused CREATE on them.
    let groups = (0..GROUPS).map(|g| {
        let acl = if g % 2 == 0 {
            vec![Acl::new(31, "digest", &ALICE[7..])]
        } else {
            open.clone()
        };
        async move {
            let path = format!("/big/g{g:02}");
            c.create(&path, data_for(g), acl, CreateMode::Persistent, None)
                .await
        }
    });
    for r in join_all(groups).await {
        r.unwrap();
    }
    let leaves: Vec<(String, usize)> = (0..GROUPS)
        .flat_map(|g| {
            (0..PER_GROUP).map(move |n| (format!("/big/g{g:02}/n{n:03}"), g * PER_GROUP + n))
        })
        .collect();
    for chunk in leaves.chunks(1000) {
        let creates = chunk
            .iter()
            .map(|(p, i)| c.create(p, data_for(*i), acl_for(*i), CreateMode::Persistent, None));
        for r in join_all(creates).await {
            r.unwrap();
        }
    }
}

fn clusters(a: &str, b: &str) -> ClusterList {
    let text = format!(
        "[[cluster]]\nname = \"a\"\nservers = [\"{a}\"]\nauth = [\"digest:alice:secret\"]\n\
         [[cluster]]\nname = \"b\"\nservers = [\"{b}\"]\nauth = [\"digest:alice:secret\"]\n"
    );
    ClusterList::parse(&text, Path::new("test-clusters.toml")).unwrap()
}

async fn authed(connect: &str) -> Client {
    let opts = ClientOptions {
        auth: vec![("digest".into(), "alice:secret".into())],
        ..Default::default()
    };
    let c = Client::connect(connect, opts).await.unwrap();
    c.sync("/").await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t50_cp_and_diff_5000_nodes_between_clusters() {
    if !available("t50_cross_cluster_copy") {
        return;
    }
    let (za, zb) = (Apache::standalone(), Apache::standalone());
    let (ca, cb) = (
        authed(&za.connect_string()).await,
        authed(&zb.connect_string()).await,
    );
    fill(&ca).await;

    let mut shell = Shell::new(
        clusters(&za.connect_string(), &zb.connect_string()),
        ShellOptions {
            yes: true,
            ..Default::default()
        },
    );
    shell.connect("a", None).await.unwrap();
    let started = Instant::now();
    let mut fe = Collect::default();
    shell
        .run_line("cp -r a:/big b:/big", &mut fe)
        .await
        .unwrap();
    shell.run_line("diff a:/big b:/big", &mut fe).await.unwrap();
    let took = started.elapsed();
    let texts: Vec<String> = fe.outputs.iter().map(Output::to_text).collect();
    let total = 1 + GROUPS + GROUPS * PER_GROUP;
    assert_eq!(
        texts[0],
        format!("copied {total} nodes from a:/big to b:/big (0 overwritten, 0 ephemeral skipped)")
    );
    assert_eq!(texts[1], format!("no differences ({total} nodes compared)"));
    eprintln!("cp + diff of {total} nodes took {took:?}");

    // Node by node, independently of diff.
    let (ta, tb) = (
        walk(&ca, "/big", None).await.unwrap(),
        walk(&cb, "/big", None).await.unwrap(),
    );
    assert_eq!(ta.paths(), tb.paths());
    assert_eq!(ta.paths().len(), total);
    let paths = ta.paths();
    let (da, db) = (
        read_data(&ca, &paths).await.unwrap(),
        read_data(&cb, &paths).await.unwrap(),
    );
    let (aa, ab) = (
        read_acls(&ca, &paths).await.unwrap(),
        read_acls(&cb, &paths).await.unwrap(),
    );
    for p in &paths {
        assert_eq!(da[p].data, db[p].data, "data of {p}");
        assert_eq!(aa[p], ab[p], "ACL of {p}");
    }

    // One changed byte is a difference, and diff fails like diff(1).
    cb.set_data("/big/g07/n042", Some(b"changed".to_vec()), -1)
        .await
        .unwrap();
    cb.delete("/big/g09/n001", -1).await.unwrap();
    let mut fe = Collect::default();
    let err = shell
        .run_line("diff a:/big b:/big", &mut fe)
        .await
        .unwrap_err();
    assert!(matches!(err, CmdError::Differ(2)), "{err}");
    assert_eq!(
        fe.outputs[0].to_text(),
        format!("~ /g07/n042 (data)\n- /g09/n001\n2 differences ({total} nodes compared)")
    );
    shell.close_all().await;
}
