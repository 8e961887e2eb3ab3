//! Which error wins when several apply (PrepRequestProcessor's order of checks).

use anyhow::Result;
use zk_proto::{perms, OpCode};
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req;

use crate::util::*;

/// ACL fix-up comes before the parent lookup: an empty ACL under a missing parent is InvalidACL.
pub async fn invalid_acl_beats_no_parent(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let x = cx.p("missing/x");
    cx.call(
        &mut r,
        "create missing/x acl=[]",
        req::create_op(OpCode::CREATE, &x, None, vec![], 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create missing/x acl=[foo:bar]",
        req::create_op(OpCode::CREATE, &x, None, vec![acl(31, "foo", "bar")], 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create missing/x acl=[auth:] (no auth)",
        req::create_op(OpCode::CREATE, &x, None, vec![acl(31, "auth", "")], 0),
    )
    .await?;
    cx.call(&mut r, "create missing/x open", req::create(&x, None, 0))
        .await?;
    cx.call(
        &mut r,
        "create missing/x flags 9 acl=[]",
        req::create_op(OpCode::CREATE, &x, None, vec![], 9),
    )
    .await?;
    Ok(())
}

/// The parent's CREATE permission is checked before the node's existence.
pub async fn no_auth_beats_node_exists(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "create p/c", req::create(&cx.p("p/c"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "setACL p read-only",
        req::set_acl(&p, vec![acl(perms::READ, "world", "anyone")], -1),
    )
    .await?;
    cx.call(
        &mut r,
        "create p/c (exists, no CREATE)",
        req::create(&cx.p("p/c"), None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create p/d (no CREATE)",
        req::create(&cx.p("p/d"), None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create p/d bad path (no CREATE)",
        req::create(&format!("{}/d/", p), None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "delete p/c (no DELETE)",
        req::delete(&cx.p("p/c"), -1),
    )
    .await?;
    cx.call(
        &mut r,
        "delete p/c v=9 (no DELETE)",
        req::delete(&cx.p("p/c"), 9),
    )
    .await?;
    cx.call(
        &mut r,
        "delete p/zz missing (no DELETE)",
        req::delete(&cx.p("p/zz"), -1),
    )
    .await?;
    Ok(())
}

/// A missing parent is found before the full path validation (only `\0` and "no slash" come
/// earlier).
pub async fn no_parent_beats_bad_path(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    for (label, p) in [
        ("R/missing/x/", format!("{root}/missing/x/")),
        ("R/missing/./x", format!("{root}/missing/./x")),
        ("R/missing/x\\u0001", format!("{root}/missing/x\u{1}")),
        ("R/missing/x\\0", format!("{root}/missing/x\0")),
        ("R/missing//x", format!("{root}/missing//x")),
    ] {
        cx.call(&mut r, &format!("create {label}"), req::create(&p, None, 0))
            .await?;
    }
    Ok(())
}

/// delete: NoNode, then the parent's DELETE permission, then version, then NotEmpty.
pub async fn delete_precedence(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let p = cx.p("p");
    cx.call(&mut r, "create p", req::create(&p, None, 0))
        .await?;
    cx.call(&mut r, "create p/c", req::create(&cx.p("p/c"), None, 0))
        .await?;
    cx.call(
        &mut r,
        "delete p v=3 (has child, wrong version)",
        req::delete(&p, 3),
    )
    .await?;
    cx.call(&mut r, "delete p v=0 (has child)", req::delete(&p, 0))
        .await?;
    cx.call(&mut r, "delete p v=-1 (has child)", req::delete(&p, -1))
        .await?;
    cx.call(
        &mut r,
        "delete missing v=3",
        req::delete(&cx.p("missing"), 3),
    )
    .await?;
    cx.call(
        &mut r,
        "delete missing/x",
        req::delete(&cx.p("missing/x"), -1),
    )
    .await?;
    cx.call(&mut r, "stat p", req::exists(&p, false)).await?;
    Ok(())
}

/// setData: NoNode, then WRITE permission, then version.
pub async fn set_data_precedence(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(
        &mut r,
        "create a read-only",
        req::create_op(
            OpCode::CREATE,
            &a,
            None,
            vec![acl(perms::READ, "world", "anyone")],
            0,
        ),
    )
    .await?;
    cx.call(
        &mut r,
        "set a v=5 (no WRITE, wrong version)",
        req::set_data(&a, Some(b"x"), 5),
    )
    .await?;
    cx.call(
        &mut r,
        "set a v=0 (no WRITE)",
        req::set_data(&a, Some(b"x"), 0),
    )
    .await?;
    cx.call(
        &mut r,
        "setACL a v=5 (no ADMIN, wrong version)",
        req::set_acl(&a, req::open_acl(), 5),
    )
    .await?;
    cx.call(
        &mut r,
        "setACL a acl=[] (no ADMIN)",
        req::set_acl(&a, vec![], -1),
    )
    .await?;
    cx.call(
        &mut r,
        "set missing v=5",
        req::set_data(&cx.p("missing"), Some(b"x"), 5),
    )
    .await?;
    cx.call(&mut r, "getData a", req::get_data(&a, false))
        .await?;
    Ok(())
}

/// Under an ephemeral parent: a bad ACL or bad flags win over NoChildrenForEphemerals.
pub async fn ephemeral_parent_precedence(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let e = cx.p("e");
    cx.call(&mut r, "create e ephemeral", req::create(&e, None, 1))
        .await?;
    cx.call(
        &mut r,
        "create e/c acl=[]",
        req::create_op(OpCode::CREATE, &cx.p("e/c"), None, vec![], 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create e/c flags 9",
        req::create(&cx.p("e/c"), None, 9),
    )
    .await?;
    cx.call(
        &mut r,
        "create e/c/ (bad path)",
        req::create(&format!("{e}/c/"), None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create e/ seq",
        req::create(&format!("{e}/"), None, 2),
    )
    .await?;
    cx.call(
        &mut r,
        "setACL e read-only",
        req::set_acl(
            &e,
            vec![acl(perms::READ | perms::ADMIN, "world", "anyone")],
            -1,
        ),
    )
    .await?;
    cx.call(
        &mut r,
        "create e/c (no CREATE)",
        req::create(&cx.p("e/c"), None, 0),
    )
    .await?;
    Ok(())
}
