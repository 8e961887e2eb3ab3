//! ACL checks and fix-up, as `ZooKeeperServer.checkACL` and `PrepRequestProcessor.fixupACL`
//! do them, for the schemes a default Apache server has: world, auth, digest, ip (and super).

use base64::Engine;
use sha1::{Digest, Sha1};
use zk_proto::{Acl, Id};

/// A connection's identities in the order Apache iterates them. Apache keeps them in a
/// `ConcurrentHashMap`-backed set (16 buckets until more than 12 entries), so `whoAmI` and the
/// `auth` ACL scheme list them by bucket of the jute `Id.hashCode`, then by insertion.
pub fn java_set_order(ids: &[Id]) -> Vec<Id> {
    let buckets: u32 = if ids.len() > 12 { 32 } else { 16 };
    let bucket = |id: &Id| {
        let h = 17i32
            .wrapping_mul(37)
            .wrapping_add(super::java::string_hash(&id.scheme))
            .wrapping_mul(37)
            .wrapping_add(super::java::string_hash(&id.id));
        let spread = ((h as u32) ^ ((h as u32) >> 16)) & 0x7fff_ffff;
        spread & (buckets - 1)
    };
    let mut out = ids.to_vec();
    out.sort_by_key(|id| bucket(id));
    out
}

/// `user:password` → `user:BASE64(SHA1("user:password"))`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// True if `ids` (a connection's identities) may do `perm` on a node with `acl`.
pub fn check(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
    if acl.is_empty() || ids.iter().any(|id| id.scheme == "super") {
        return true;
    }
    acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return true;
        }
        ids.iter()
            .filter(|id| id.scheme == a.id.scheme)
            .any(|id| matches(&a.id.scheme, &id.id, &a.id.id))
    })
}

fn matches(scheme: &str, id: &str, acl_expr: &str) -> bool {
    match scheme {
        "digest" => id == acl_expr,
        "ip" => ip_matches(id, acl_expr),
        _ => false,
    }
}

/// Java's `String.split(":")` drops trailing empty strings; a digest id is valid when that
/// leaves exactly two parts.
fn digest_valid(id: &str) -> bool {
    let mut parts: Vec<&str> = id.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.len() == 2
}

fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (expr, None),
    };
    let bytes = match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let max = bytes.len() as u32 * 8;
    let bits = bits.unwrap_or(max);
    if bits > max {
        return None;
    }
    Some((bytes, bits))
}

fn ip_matches(addr: &str, expr: &str) -> bool {
    let (Some((want, bits)), Some((have, _))) = (parse_ip_expr(expr), parse_ip_expr(addr)) else {
        return false;
    };
    if want.len() != have.len() {
        return false;
    }
    (0..bits as usize).all(|i| {
        let mask = 0x80u8 >> (i % 8);
        want[i / 8] & mask == have[i / 8] & mask
    })
}

/// Validates and expands an ACL list for create/setACL: duplicates removed; `auth` replaced by
/// the caller's authenticated (digest) identities; unknown schemes and malformed ids rejected.
/// `None` means InvalidACL.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Option<Vec<Acl>> {
    let mut uniq: Vec<Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(a) {
            uniq.push(a.clone());
        }
    }
    if uniq.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        match a.id.scheme.as_str() {
            "world" if a.id.id == "anyone" => out.push(a),
            "auth" => {
                let authed: Vec<Id> = java_set_order(ids)
                    .into_iter()
                    .filter(|id| id.scheme == "digest")
                    .collect();
                if authed.is_empty() {
                    return None;
                }
                out.extend(authed.into_iter().map(|id| Acl { perms: a.perms, id }));
            }
            "digest" if digest_valid(&a.id.id) => out.push(a),
            "ip" if parse_ip_expr(&a.id.id).is_some() => out.push(a),
            _ => return None,
        }
    }
    Some(out)
}

/// getACL without ADMIN shows digest ids as `user:x`.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            let mut a = a.clone();
            if a.id.scheme == "digest" {
                if let Some((user, _)) = a.id.id.split_once(':') {
                    a.id.id = format!("{user}:x");
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::perms;

    #[test]
    fn digest_matches_apache() {
        assert_eq!(
            digest_id("alice:secret"),
            "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
        );
    }

    /// Captured from Apache 3.8: whoAmI after `addauth digest alice:secret` on a loopback
    /// connection lists digest first, then ip.
    #[test]
    fn identities_follow_javas_hash_set_order() {
        let ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", &digest_id("alice:secret")),
        ];
        let got: Vec<String> = java_set_order(&ids)
            .iter()
            .map(|i| i.scheme.clone())
            .collect();
        assert_eq!(got, ["digest", "ip"]);
    }

    #[test]
    fn ip_prefixes() {
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(!ip_matches("10.0.0.1", "127.0.0.0/8"));
    }

    #[test]
    fn fixup_rules() {
        let digest = vec![Id::new("digest", "alice:abc")];
        assert!(fixup(&[], &digest).is_none());
        assert!(fixup(&Acl::creator_all(), &[Id::new("ip", "127.0.0.1")]).is_none());
        let got = fixup(&Acl::creator_all(), &digest).unwrap();
        assert_eq!(got, vec![Acl::new(perms::ALL, "digest", "alice:abc")]);
        assert!(fixup(&[Acl::new(1, "digest", "alice")], &[]).is_none());
        assert!(fixup(&[Acl::new(1, "sasl", "x")], &[]).is_none());
        assert!(fixup(&[Acl::new(0, "ip", "10.0.0.0/8")], &[]).is_some());
    }
}
