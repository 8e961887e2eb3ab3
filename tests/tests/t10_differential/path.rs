//! Path validation (PathUtils.validatePath) and the reserved paths.

use anyhow::Result;
use zkfleet_tests::diff::Cx;
use zkfleet_tests::raw::RawClient;
use zkfleet_tests::req;

/// Tries create, then (for paths that might name something) setData and delete.
async fn try_writes(cx: &mut Cx, r: &mut RawClient, label: &str, path: &str) -> Result<()> {
    cx.call(r, &format!("create {label}"), req::create(path, None, 0))
        .await?;
    cx.call(
        r,
        &format!("setData {label}"),
        req::set_data(path, None, -1),
    )
    .await?;
    cx.call(r, &format!("delete {label}"), req::delete(path, -1))
        .await?;
    Ok(())
}

/// `p/` is NoNode when `p` is missing (the parent lookup comes first) and BadArguments when `p`
/// exists.
pub async fn trailing_slash(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let missing = format!("{}/", cx.p("m"));
    try_writes(cx, &mut r, "m/ (m missing)", &missing).await?;
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    let a_slash = format!("{}/", cx.p("a"));
    try_writes(cx, &mut r, "a/ (a exists)", &a_slash).await?;
    cx.call(&mut r, "exists a/", req::exists(&a_slash, false))
        .await?;
    Ok(())
}

pub async fn double_slash(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    let root = cx.p("");
    try_writes(cx, &mut r, "R//a", &format!("{root}//a")).await?;
    try_writes(cx, &mut r, "R//b", &format!("{root}//b")).await?;
    try_writes(cx, &mut r, "R/a//b", &format!("{root}/a//b")).await?;
    try_writes(cx, &mut r, "//R", &format!("/{root}")).await?;
    Ok(())
}

pub async fn dot_segments(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    for (label, p) in [
        ("R/.", format!("{root}/.")),
        ("R/..", format!("{root}/..")),
        ("R/./b", format!("{root}/./b")),
        ("R/a/../b", format!("{root}/a/../b")),
        ("R/a/.", format!("{root}/a/.")),
        ("R/.hidden", format!("{root}/.hidden")),
        ("R/..x", format!("{root}/..x")),
        ("R/x.", format!("{root}/x.")),
    ] {
        cx.call(&mut r, &format!("create {label}"), req::create(&p, None, 0))
            .await?;
    }
    cx.call(&mut r, "children R", req::get_children(&root, false))
        .await?;
    Ok(())
}

/// `\0` is rejected before anything else, and by exists too.
pub async fn nul_char(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    let p = format!("{root}/a\0b");
    try_writes(cx, &mut r, "R/a\\0b", &p).await?;
    cx.call(
        &mut r,
        "create R/missing/a\\0b",
        req::create(&format!("{root}/missing/a\0b"), None, 0),
    )
    .await?;
    cx.call(&mut r, "exists R/a\\0b", req::exists(&p, false))
        .await?;
    cx.call(&mut r, "getData R/a\\0b", req::get_data(&p, false))
        .await?;
    cx.call(&mut r, "getChildren R/a\\0b", req::get_children(&p, false))
        .await?;
    Ok(())
}

pub async fn control_chars(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    for c in [
        '\u{1}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\t', '\n', '\u{a0}', '\u{20}',
    ] {
        let label = format!("R/x U+{:04X}", c as u32);
        cx.call(
            &mut r,
            &format!("create {label}"),
            req::create(&format!("{root}/x{c}"), None, 0),
        )
        .await?;
    }
    cx.call(&mut r, "children R", req::get_children(&root, false))
        .await?;
    Ok(())
}

/// Surrogates (a non-BMP character becomes a surrogate pair in Java), the private use area and
/// U+FFF0..U+FFFF are rejected; other Unicode is fine.
pub async fn unicode_ranges(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    for c in [
        'é',
        '中',
        '\u{d7ff}',
        '\u{e000}',
        '\u{f8ff}',
        '\u{f900}',
        '\u{ffef}',
        '\u{fff0}',
        '\u{fffd}',
        '\u{ffff}',
        '😀',
        '\u{10000}',
    ] {
        let label = format!("R/u U+{:04X}", c as u32);
        cx.call(
            &mut r,
            &format!("create {label}"),
            req::create(&format!("{root}/u{c}"), None, 0),
        )
        .await?;
    }
    cx.call(&mut r, "children R", req::get_children(&root, false))
        .await?;
    Ok(())
}

pub async fn relative_and_empty(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let rel = cx.p("a").trim_start_matches('/').to_string();
    for (label, p) in [
        ("relative", rel.as_str()),
        ("empty", ""),
        ("x", "x"),
        ("space", " "),
    ] {
        try_writes(cx, &mut r, label, p).await?;
    }
    Ok(())
}

/// Reads only look the path up: malformed paths are NoNode (exists rejects `\0`).
pub async fn reads_do_not_validate(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    // "" names the root inside Apache's tree; only its existence is shown, since the root's
    // child count depends on how many scenarios ran before.
    let got = r.call(&req::exists("", false)).await?;
    cx.log(format!(
        "-> exists \"\" -> found={}",
        matches!(
            got.last(),
            Some(zkfleet_tests::raw::Incoming::Reply { err: 0, .. })
        )
    ));
    for (label, p) in [
        ("bad", "bad".to_string()),
        ("R/a/", format!("{root}/a/")),
        ("R//a", format!("{root}//a")),
        ("R/x/../a", format!("{root}/x/../a")),
        ("R/./a", format!("{root}/./a")),
    ] {
        cx.call(
            &mut r,
            &format!("getData {label}"),
            req::get_data(&p, false),
        )
        .await?;
        cx.call(&mut r, &format!("exists {label}"), req::exists(&p, false))
            .await?;
        cx.call(
            &mut r,
            &format!("getChildren {label}"),
            req::get_children(&p, false),
        )
        .await?;
    }
    Ok(())
}

pub async fn delete_and_set_bad_paths(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let root = cx.p("");
    cx.call(&mut r, "create a", req::create(&cx.p("a"), None, 0))
        .await?;
    for (label, p) in [
        ("R/a/", format!("{root}/a/")),
        ("R//a", format!("{root}//a")),
        ("R/./a", format!("{root}/./a")),
        ("R/a\\u0001", format!("{root}/a\u{1}")),
        ("relative", "a".to_string()),
    ] {
        cx.call(&mut r, &format!("delete {label}"), req::delete(&p, -1))
            .await?;
        cx.call(
            &mut r,
            &format!("setData {label}"),
            req::set_data(&p, Some(b"x"), -1),
        )
        .await?;
        cx.call(
            &mut r,
            &format!("setACL {label}"),
            req::set_acl(&p, req::open_acl(), -1),
        )
        .await?;
    }
    Ok(())
}

/// The server's own nodes cannot be deleted.
pub async fn reserved_delete(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        cx.call(&mut r, &format!("delete {p}"), req::delete(p, -1))
            .await?;
        cx.call(&mut r, &format!("delete {p} v=5"), req::delete(p, 5))
            .await?;
    }
    cx.call(
        &mut r,
        "multi[delete /zookeeper]",
        req::multi(vec![req::m::delete("/zookeeper", -1)]),
    )
    .await?;
    cx.call(
        &mut r,
        "children /zookeeper",
        req::get_children("/zookeeper", false),
    )
    .await?;
    Ok(())
}

/// What may be written under /zookeeper: /zookeeper/config is read-only for everyone.
pub async fn reserved_writes(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(
        &mut r,
        "setData /zookeeper/config",
        req::set_data("/zookeeper/config", Some(b"x"), -1),
    )
    .await?;
    cx.call(
        &mut r,
        "create /zookeeper/config/x",
        req::create("/zookeeper/config/x", None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "setACL /zookeeper/config",
        req::set_acl("/zookeeper/config", req::open_acl(), -1),
    )
    .await?;
    cx.call(
        &mut r,
        "create /zookeeper",
        req::create("/zookeeper", None, 0),
    )
    .await?;
    cx.call(
        &mut r,
        "create /zookeeper/quota",
        req::create("/zookeeper/quota", None, 0),
    )
    .await?;
    Ok(())
}
