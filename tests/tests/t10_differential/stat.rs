//! Stat fields after each kind of change.

use anyhow::Result;
use zk_proto::perms;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req;

use crate::util::*;

/// setData raises version and mzxid (and mtime), nothing else.
pub async fn after_set_data(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    rec!(cx, "create a", c.create(&a, b"v0", &open()));
    for i in 1..=3 {
        rec!(
            cx,
            format!("set a v{i}"),
            c.set_data(&a, format!("v{i}").as_bytes(), None)
        );
    }
    rec!(cx, "set a same data", c.set_data(&a, b"v3", None));
    rec!(cx, "get a", c.get_data(&a));
    Ok(())
}

/// Children change the parent's pzxid, cversion and numChildren; a child's setData does not.
pub async fn parent_after_child_ops(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let p = cx.p("p");
    rec!(cx, "create p", c.create(&p, b"", &open()));
    rec!(cx, "create p/a", c.create(&cx.p("p/a"), b"", &open()));
    rec!(cx, "stat p", c.check_stat(&p));
    rec!(cx, "set p/a", c.set_data(&cx.p("p/a"), b"x", None));
    rec!(cx, "stat p", c.check_stat(&p));
    rec!(cx, "create p/b", c.create(&cx.p("p/b"), b"", &open()));
    rec!(cx, "create p/b/c", c.create(&cx.p("p/b/c"), b"", &open()));
    rec!(cx, "stat p", c.check_stat(&p));
    rec!(cx, "delete p/a", c.delete(&cx.p("p/a"), None));
    rec!(cx, "stat p", c.check_stat(&p));
    rec!(cx, "delete p/a again", c.delete(&cx.p("p/a"), None));
    rec!(cx, "stat p", c.check_stat(&p));
    Ok(())
}

/// setACL raises aversion only.
pub async fn set_acl_aversion(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, Some(b"x"), 0))
        .await?;
    cx.call(
        &mut r,
        "setACL a read+write",
        req::set_acl(
            &a,
            vec![acl(
                perms::READ | perms::WRITE | perms::ADMIN,
                "world",
                "anyone",
            )],
            -1,
        ),
    )
    .await?;
    cx.call(
        &mut r,
        "setACL a same",
        req::set_acl(
            &a,
            vec![acl(
                perms::READ | perms::WRITE | perms::ADMIN,
                "world",
                "anyone",
            )],
            -1,
        ),
    )
    .await?;
    cx.call(&mut r, "getACL a", req::get_acl(&a)).await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"y"), -1))
        .await?;
    cx.call(&mut r, "getACL a", req::get_acl(&a)).await?;
    Ok(())
}

pub async fn get_children2_stat(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, Some(b"abc"), 0))
        .await?;
    for n in ["x", "y", "z"] {
        cx.call(
            &mut r,
            &format!("create p/{n}"),
            req::create(&cx.p(&format!("p/{n}")), None, 0),
        )
        .await?;
    }
    cx.call(&mut r, "getChildren2 p", req::get_children2(&p, false))
        .await?;
    cx.call(&mut r, "getChildren p", req::get_children(&p, false))
        .await?;
    cx.call(
        &mut r,
        "getChildren2 p/x",
        req::get_children2(&cx.p("p/x"), false),
    )
    .await?;
    Ok(())
}

/// Reads of a missing node: exists answers NoNode (header only), so do getData and friends.
pub async fn missing_node(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let x = cx.p("x");
    rec!(cx, "exists x", c.check_stat(&x));
    rec!(cx, "get x", c.get_data(&x));
    rec!(cx, "children x", c.get_children(&x));
    rec!(cx, "getACL x", c.get_acl(&x));
    rec!(cx, "set x", c.set_data(&x, b"", None));
    rec!(cx, "delete x", c.delete(&x, None));
    let mut r = cx.raw().await?;
    for (label, q) in [
        ("exists x", req::exists(&x, false)),
        ("getData x", req::get_data(&x, false)),
        ("getChildren2 x", req::get_children2(&x, false)),
        ("getACL x", req::get_acl(&x)),
        ("getAllChildrenNumber x", req::get_all_children_number(&x)),
    ] {
        cx.call(&mut r, label, q).await?;
    }
    Ok(())
}

/// The nodes the server makes itself: /, /zookeeper, /zookeeper/quota, /zookeeper/config.
pub async fn reserved_nodes(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    for p in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        cx.call(&mut r, &format!("getData {p}"), req::get_data(p, false))
            .await?;
        cx.call(&mut r, &format!("getACL {p}"), req::get_acl(p))
            .await?;
    }
    cx.call(
        &mut r,
        "getChildren /zookeeper",
        req::get_children("/zookeeper", false),
    )
    .await?;
    cx.call(
        &mut r,
        "getAllChildrenNumber /zookeeper",
        req::get_all_children_number("/zookeeper"),
    )
    .await?;
    cx.call(&mut r, "getACL /", req::get_acl("/")).await?;
    Ok(())
}

/// Two hundred children: the list, the counts, the parent's stat.
pub async fn many_children(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let p = cx.p("p");
    rec!(cx, "create p", c.create(&p, b"", &open()));
    let paths: Vec<String> = (0..200).map(|i| cx.p(&format!("p/c{i:03}"))).collect();
    let opts = open();
    let futs: Vec<_> = paths.iter().map(|p| c.create(p, b"", &opts)).collect();
    let results = futures::future::join_all(futs).await;
    cx.log(format!(
        "200 creates ok: {}",
        results.iter().all(|r| r.is_ok())
    ));
    let got = c.get_children(&p).await;
    if let Ok((children, stat)) = &got {
        cx.log(format!(
            "children: {} first={:?} last={:?}",
            children.len(),
            children.iter().min(),
            children.iter().max()
        ));
        cx.rec("stat p", stat);
    }
    rec!(cx, "getAllChildrenNumber p", c.count_descendants_number(&p));
    rec!(
        cx,
        "getAllChildrenNumber root",
        c.count_descendants_number(&cx.p(""))
    );
    Ok(())
}
