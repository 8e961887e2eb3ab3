//! Expected versions: -1 means any, anything else must match.

use anyhow::Result;
use zk_proto::perms;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::req::{self, m};

use crate::util::*;

pub async fn set_data_versions(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, Some(b"0"), 0))
        .await?;
    cx.call(&mut r, "set a v=-1", req::set_data(&a, Some(b"1"), -1))
        .await?;
    cx.call(&mut r, "set a v=1", req::set_data(&a, Some(b"2"), 1))
        .await?;
    cx.call(
        &mut r,
        "set a v=1 (stale)",
        req::set_data(&a, Some(b"3"), 1),
    )
    .await?;
    cx.call(&mut r, "set a v=7", req::set_data(&a, Some(b"3"), 7))
        .await?;
    cx.call(&mut r, "set a v=-2", req::set_data(&a, Some(b"3"), -2))
        .await?;
    cx.call(&mut r, "get a", req::get_data(&a, false)).await?;
    Ok(())
}

pub async fn delete_versions(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    let b = cx.p("b");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "create b", req::create(&b, None, 0))
        .await?;
    cx.call(&mut r, "set b", req::set_data(&b, Some(b"x"), -1))
        .await?;
    cx.call(&mut r, "delete a v=1", req::delete(&a, 1)).await?;
    cx.call(&mut r, "delete a v=0", req::delete(&a, 0)).await?;
    cx.call(&mut r, "delete b v=0", req::delete(&b, 0)).await?;
    cx.call(&mut r, "delete b v=-1", req::delete(&b, -1))
        .await?;
    cx.call(&mut r, "delete b v=-1 again", req::delete(&b, -1))
        .await?;
    Ok(())
}

pub async fn set_acl_versions(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    let all = || vec![acl(perms::ALL, "world", "anyone")];
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "setACL a v=1", req::set_acl(&a, all(), 1))
        .await?;
    cx.call(&mut r, "setACL a v=0", req::set_acl(&a, all(), 0))
        .await?;
    cx.call(&mut r, "setACL a v=0 (stale)", req::set_acl(&a, all(), 0))
        .await?;
    cx.call(&mut r, "setACL a v=-1", req::set_acl(&a, all(), -1))
        .await?;
    cx.call(
        &mut r,
        "set a (data version unaffected)",
        req::set_data(&a, None, 0),
    )
    .await?;
    Ok(())
}

/// check inside multi with -1, the right version, a wrong version and a missing node.
pub async fn check_versions(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    cx.call(&mut r, "set a", req::set_data(&a, Some(b"1"), -1))
        .await?;
    for (label, v) in [("-1", -1), ("1", 1), ("0", 0), ("5", 5)] {
        cx.call(
            &mut r,
            &format!("multi[check a v={label}, set a]"),
            req::multi(vec![m::check(&a, v), m::set_data(&a, Some(b"m"), -1)]),
        )
        .await?;
    }
    cx.call(
        &mut r,
        "multi[check missing]",
        req::multi(vec![m::check(&cx.p("missing"), -1)]),
    )
    .await?;
    cx.call(&mut r, "get a", req::get_data(&a, false)).await?;
    Ok(())
}
