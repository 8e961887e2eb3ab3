//! ACL schemes (world, auth, digest, ip, super), NoAuth and InvalidACL, getACL masking, whoAmI.

use anyhow::Result;
use zk_proto::{perms, OpCode, Request};
use zkfleet_tests::diff::Cx;
use zkfleet_tests::digest::digest_id;
use zkfleet_tests::req;
use zookeeper_client as zk;

use crate::util::*;

pub async fn world_read_only(cx: &mut Cx) -> Result<()> {
    let c = cx.client().await?;
    let a = cx.p("a");
    let ro = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_read());
    rec!(cx, "create a read-only", c.create(&a, b"x", &ro));
    rec!(cx, "get a", c.get_data(&a));
    rec!(cx, "set a", c.set_data(&a, b"y", None));
    rec!(cx, "create a/b", c.create(&cx.p("a/b"), b"", &open()));
    rec!(cx, "getACL a", c.get_acl(&a));
    rec!(
        cx,
        "setACL a",
        c.set_acl(
            &a,
            &[zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())],
            None
        )
    );
    rec!(cx, "delete a", c.delete(&a, None));
    Ok(())
}

pub async fn digest(cx: &mut Cx) -> Result<()> {
    let alice = client_digest(cx, "alice:secret").await?;
    let anon = cx.client().await?;
    let eve = client_digest(cx, "alice:wrong").await?;
    let a = cx.p("a");
    let id = digest_id("alice", "secret");
    let acls = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("digest", &id),
    )];
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls));
    rec!(cx, "alice create a", alice.create(&a, b"x", &opts));
    rec!(cx, "alice get a", alice.get_data(&a));
    rec!(cx, "anon get a", anon.get_data(&a));
    rec!(cx, "eve get a", eve.get_data(&a));
    rec!(cx, "anon exists a", anon.check_stat(&a));
    rec!(cx, "anon set a", anon.set_data(&a, b"y", None));
    rec!(cx, "alice set a", alice.set_data(&a, b"y", None));
    rec!(
        cx,
        "anon auth alice later",
        anon.auth("digest", b"alice:secret")
    );
    rec!(cx, "anon get a", anon.get_data(&a));
    rec!(cx, "alice getACL a", alice.get_acl(&a));
    Ok(())
}

/// The `auth` scheme stands for the caller's authenticated identities (digest, not ip); without
/// any, it is InvalidACL.
pub async fn auth_scheme(cx: &mut Cx) -> Result<()> {
    let anon = cx.client().await?;
    let bob = client_digest(cx, "bob:pw").await?;
    let both = client_digest(cx, "bob:pw").await?;
    rec!(cx, "both add carol", both.auth("digest", b"carol:pw2"));
    let creator = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    rec!(
        cx,
        "anon create a creator_all",
        anon.create(&cx.p("a"), b"", &creator)
    );
    rec!(
        cx,
        "bob create b creator_all",
        bob.create(&cx.p("b"), b"", &creator)
    );
    rec!(cx, "bob getACL b", bob.get_acl(&cx.p("b")));
    rec!(
        cx,
        "both create c creator_all",
        both.create(&cx.p("c"), b"", &creator)
    );
    rec!(cx, "bob getACL c", bob.get_acl(&cx.p("c")));
    rec!(cx, "anon get b", anon.get_data(&cx.p("b")));
    let mut r = cx.raw().await?;
    cx.call(&mut r, "raw auth digest bob:pw", req::digest_auth("bob:pw"))
        .await?;
    cx.call(
        &mut r,
        "create d [auth:ignored, world:anyone READ]",
        req::create_op(
            OpCode::CREATE,
            &cx.p("d"),
            None,
            vec![
                acl(perms::ALL, "auth", "ignored-id"),
                acl(perms::READ, "world", "anyone"),
            ],
            0,
        ),
    )
    .await?;
    cx.call(&mut r, "getACL d", req::get_acl(&cx.p("d")))
        .await?;
    cx.call(
        &mut r,
        "setACL d [auth:]",
        req::set_acl(
            &cx.p("d"),
            vec![acl(perms::READ | perms::ADMIN, "auth", "")],
            -1,
        ),
    )
    .await?;
    cx.call(&mut r, "getACL d", req::get_acl(&cx.p("d")))
        .await?;
    Ok(())
}

pub async fn ip_scheme(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let mk = |perms_: i32, ip: &str| vec![acl(perms_, "ip", ip)];
    for (name, ip) in [
        ("a", "127.0.0.1"),
        ("b", "127.0.0.0/8"),
        ("c", "10.0.0.0/8"),
        ("d", "127.0.0.2"),
        ("e", "0.0.0.0/0"),
    ] {
        let p = cx.p(name);
        cx.call(
            &mut r,
            &format!("create {name} ip:{ip}"),
            req::create_op(OpCode::CREATE, &p, Some(b"x"), mk(perms::ALL, ip), 0),
        )
        .await?;
        cx.call(&mut r, &format!("getData {name}"), req::get_data(&p, false))
            .await?;
    }
    cx.call(
        &mut r,
        "create c/x (ip denied)",
        req::create(&cx.p("c/x"), None, 0),
    )
    .await?;
    cx.call(&mut r, "getACL c", req::get_acl(&cx.p("c")))
        .await?;
    Ok(())
}

pub async fn invalid_acls(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let cases: Vec<(&str, Vec<zk_proto::Acl>)> = vec![
        ("[]", vec![]),
        ("[foo:bar]", vec![acl(31, "foo", "bar")]),
        ("[digest:nocolon]", vec![acl(31, "digest", "nocolon")]),
        ("[digest:a:b:c]", vec![acl(31, "digest", "a:b:c")]),
        ("[digest:user:hash]", vec![acl(31, "digest", "user:hash")]),
        ("[ip:not-an-ip]", vec![acl(31, "ip", "not-an-ip")]),
        ("[ip:127.0.0.1/33]", vec![acl(31, "ip", "127.0.0.1/33")]),
        ("[world:someone]", vec![acl(31, "world", "someone")]),
        ("[world:anyone perms 0]", vec![acl(0, "world", "anyone")]),
        ("[world:anyone perms 99]", vec![acl(99, "world", "anyone")]),
        ("[super:x]", vec![acl(31, "super", "x")]),
        (
            "dup [world:anyone x2]",
            vec![acl(31, "world", "anyone"), acl(31, "world", "anyone")],
        ),
    ];
    for (i, (label, list)) in cases.into_iter().enumerate() {
        let p = cx.p(&format!("n{i}"));
        cx.call(
            &mut r,
            &format!("create n{i} {label}"),
            req::create_op(OpCode::CREATE, &p, None, list.clone(), 0),
        )
        .await?;
        cx.call(&mut r, &format!("getACL n{i}"), req::get_acl(&p))
            .await?;
    }
    cx.call(&mut r, "create s", req::create(&cx.p("s"), None, 0))
        .await?;
    cx.call(&mut r, "setACL s []", req::set_acl(&cx.p("s"), vec![], -1))
        .await?;
    cx.call(
        &mut r,
        "setACL s [foo:bar]",
        req::set_acl(&cx.p("s"), vec![acl(31, "foo", "bar")], -1),
    )
    .await?;
    cx.call(&mut r, "getACL s", req::get_acl(&cx.p("s")))
        .await?;
    Ok(())
}

/// Without ADMIN, getACL shows digest ids as `user:x`; with ADMIN, in full.
pub async fn get_acl_masking(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    let list = vec![
        acl(perms::READ, "world", "anyone"),
        acl(perms::ALL, "digest", &digest_id("alice", "secret")),
        acl(
            perms::READ | perms::ADMIN,
            "digest",
            &digest_id("bob", "pw"),
        ),
        acl(perms::READ, "ip", "127.0.0.1"),
    ];
    cx.call(
        &mut r,
        "create a",
        req::create_op(OpCode::CREATE, &a, None, list, 0),
    )
    .await?;
    cx.call(&mut r, "anon getACL a", req::get_acl(&a)).await?;
    let mut alice = raw_digest(cx, "alice:secret").await?;
    cx.call(&mut alice, "alice getACL a", req::get_acl(&a))
        .await?;
    let mut carol = raw_digest(cx, "carol:pw").await?;
    cx.call(&mut carol, "carol getACL a", req::get_acl(&a))
        .await?;
    cx.call(
        &mut r,
        "create b (no READ, no ADMIN for anon)",
        req::create_op(
            OpCode::CREATE,
            &cx.p("b"),
            None,
            vec![acl(perms::WRITE, "world", "anyone")],
            0,
        ),
    )
    .await?;
    cx.call(&mut r, "anon getACL b", req::get_acl(&cx.p("b")))
        .await?;
    cx.call(
        &mut r,
        "create c (ADMIN only)",
        req::create_op(
            OpCode::CREATE,
            &cx.p("c"),
            None,
            vec![acl(perms::ADMIN, "world", "anyone")],
            0,
        ),
    )
    .await?;
    cx.call(&mut r, "anon getACL c", req::get_acl(&cx.p("c")))
        .await?;
    Ok(())
}

/// The super digest bypasses every ACL.
pub async fn super_digest(cx: &mut Cx) -> Result<()> {
    let bob = client_digest(cx, "bob:pw").await?;
    let a = cx.p("a");
    let acls = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("digest", &digest_id("bob", "pw")),
    )];
    rec!(
        cx,
        "bob create a",
        bob.create(
            &a,
            b"x",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls))
        )
    );
    let su = client_digest(cx, &format!("super:{SUPER_PASSWORD}")).await?;
    rec!(cx, "super whoami", su.list_auth_users());
    rec!(cx, "super get a", su.get_data(&a));
    rec!(cx, "super set a", su.set_data(&a, b"y", None));
    rec!(
        cx,
        "super create a/b",
        su.create(&cx.p("a/b"), b"", &open())
    );
    rec!(cx, "super getACL a", su.get_acl(&a));
    rec!(
        cx,
        "super setACL a",
        su.set_acl(
            &a,
            &[zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())],
            None
        )
    );
    rec!(cx, "super delete a/b", su.delete(&cx.p("a/b"), None));
    let wrong = client_digest(cx, "super:wrong").await?;
    rec!(cx, "super:wrong set a", wrong.set_data(&a, b"z", None));
    rec!(cx, "super delete a", su.delete(&a, None));
    Ok(())
}

/// setACL needs ADMIN; the new list is validated and de-duplicated.
pub async fn set_acl_rules(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let a = cx.p("a");
    cx.call(&mut r, "create a", req::create(&a, None, 0))
        .await?;
    let dup = vec![
        acl(perms::READ, "world", "anyone"),
        acl(perms::ALL, "world", "anyone"),
        acl(perms::READ, "world", "anyone"),
    ];
    cx.call(&mut r, "setACL a [r, all, r]", req::set_acl(&a, dup, -1))
        .await?;
    cx.call(&mut r, "getACL a", req::get_acl(&a)).await?;
    cx.call(
        &mut r,
        "setACL a read-only",
        req::set_acl(&a, vec![acl(perms::READ, "world", "anyone")], -1),
    )
    .await?;
    cx.call(
        &mut r,
        "setACL a back (no ADMIN)",
        req::set_acl(&a, req::open_acl(), -1),
    )
    .await?;
    cx.call(&mut r, "getACL a", req::get_acl(&a)).await?;
    cx.call(
        &mut r,
        "setACL missing",
        req::set_acl(&cx.p("missing"), req::open_acl(), -1),
    )
    .await?;
    Ok(())
}

pub async fn who_am_i(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "whoAmI anon", Request::WhoAmI).await?;
    cx.call(
        &mut r,
        "auth digest alice:secret",
        req::digest_auth("alice:secret"),
    )
    .await?;
    cx.call(&mut r, "whoAmI", Request::WhoAmI).await?;
    cx.call(&mut r, "auth digest bob:pw", req::digest_auth("bob:pw"))
        .await?;
    cx.call(
        &mut r,
        "auth digest alice:secret again",
        req::digest_auth("alice:secret"),
    )
    .await?;
    cx.call(&mut r, "whoAmI", Request::WhoAmI).await?;
    let c = client_digest(cx, &format!("super:{SUPER_PASSWORD}")).await?;
    rec!(cx, "client super whoAmI", c.list_auth_users());
    Ok(())
}

/// An auth packet with an unknown scheme: AuthFailed (-115) and the connection closes.
pub async fn auth_failure(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    cx.call(&mut r, "auth foo", req::auth("foo", b"bar"))
        .await?;
    if !r.is_closed() {
        let rest = r.drain(std::time::Duration::from_secs(2)).await?;
        cx.log_incoming(&rest);
    }
    let mut r = cx.raw().await?;
    cx.call(&mut r, "auth ip 127.0.0.1", req::auth("ip", b"127.0.0.1"))
        .await?;
    if !r.is_closed() {
        cx.call(&mut r, "whoAmI", Request::WhoAmI).await?;
    }
    let mut r = cx.raw().await?;
    cx.call(
        &mut r,
        "auth digest nocolon",
        req::auth("digest", b"nocolon"),
    )
    .await?;
    if !r.is_closed() {
        cx.call(&mut r, "whoAmI", Request::WhoAmI).await?;
    }
    Ok(())
}

/// exists does no ACL check; getData/getChildren/getACL do; create/delete check the parent.
pub async fn exists_ignores_acl(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let s = cx.p("s");
    cx.call(
        &mut r,
        "create s (bob only)",
        req::create_op(
            OpCode::CREATE,
            &s,
            Some(b"x"),
            vec![acl(perms::ALL, "digest", &digest_id("bob", "pw"))],
            0,
        ),
    )
    .await?;
    cx.call(&mut r, "exists s", req::exists(&s, false)).await?;
    cx.call(&mut r, "getData s", req::get_data(&s, false))
        .await?;
    cx.call(&mut r, "getChildren s", req::get_children(&s, false))
        .await?;
    cx.call(&mut r, "getChildren2 s", req::get_children2(&s, false))
        .await?;
    cx.call(&mut r, "getACL s", req::get_acl(&s)).await?;
    cx.call(
        &mut r,
        "getAllChildrenNumber s",
        req::get_all_children_number(&s),
    )
    .await?;
    cx.call(&mut r, "getData s watch", req::get_data(&s, true))
        .await?;
    cx.call(&mut r, "create s/x", req::create(&cx.p("s/x"), None, 0))
        .await?;
    cx.call(&mut r, "sync s", req::sync(&s)).await?;
    cx.call(&mut r, "delete s (parent is open)", req::delete(&s, -1))
        .await?;
    Ok(())
}

/// The auth reply echoes the request's xid: the Java client uses -4, other clients (the
/// zookeeper-client crate) their next ordinary xid.
pub async fn auth_reply_xid(cx: &mut Cx) -> Result<()> {
    let mut r = cx.raw().await?;
    let body = |user_pw: &str| {
        let mut b = Vec::new();
        if let Request::Auth(a) = req::digest_auth(user_pw) {
            zk_proto::jute::Jute::encode(&a, &mut b);
        }
        b
    };
    cx.log("-> auth digest alice:secret with xid 7");
    r.send_op(7, 100, &body("alice:secret")).await?;
    let got = r.read_until_reply(7).await?;
    cx.log_incoming(&got);
    cx.log("-> auth digest bob:pw with xid -4");
    r.send_op(-4, 100, &body("bob:pw")).await?;
    let got = r.read_until_reply(-4).await?;
    cx.log_incoming(&got);
    cx.call(&mut r, "whoAmI", Request::WhoAmI).await?;
    let mut f = cx.raw().await?;
    cx.log("-> auth foo with xid 3");
    let mut b = Vec::new();
    if let Request::Auth(a) = req::auth("foo", b"x") {
        zk_proto::jute::Jute::encode(&a, &mut b);
    }
    f.send_op(3, 100, &b).await?;
    let got = f.drain(std::time::Duration::from_secs(2)).await?;
    cx.log_incoming(&got);
    Ok(())
}
