//! ACL rules of a migration: the policy that turns a source ACL into a destination ACL,
//! whether an ACL grants the migrator a permission, masked digest ids, and the fence ACL.
//! Pure.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use zk_proto::data::perms;
use zk_proto::Acl;

use super::plan::{AclPolicy, DigestRemap};

/// `user:BASE64(SHA1("user:password"))`, the id of a digest ACL entry.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// True when a server hid a digest hash from us (getACL without ADMIN answers `user:x`).
pub fn is_masked(acl: &[Acl]) -> bool {
    acl.iter()
        .any(|a| a.id.scheme == "digest" && a.id.id.ends_with(":x"))
}

/// The destination ACL for a source ACL under `policy`.
pub fn transform(policy: &AclPolicy, acl: &[Acl]) -> Vec<Acl> {
    match policy {
        AclPolicy::Preserve => acl.to_vec(),
        AclPolicy::Replace(r) => r.clone(),
        AclPolicy::Remap(rules) => acl.iter().map(|a| remap_one(rules, a)).collect(),
    }
}

fn remap_one(rules: &[DigestRemap], a: &Acl) -> Acl {
    if a.id.scheme != "digest" {
        return a.clone();
    }
    let (user, hash) = a.id.id.split_once(':').unwrap_or((&a.id.id, ""));
    let rule = rules
        .iter()
        .find(|r| r.from_user == user && r.from_hash.as_deref().is_none_or(|h| h == hash));
    match rule {
        Some(r) => Acl::new(a.perms, "digest", &r.to),
        None => a.clone(),
    }
}

/// Entries in a canonical order, so two servers' answers compare equal.
pub fn canonical(acl: &[Acl]) -> Vec<Acl> {
    let mut v = acl.to_vec();
    v.sort_by(|x, y| (&x.id.scheme, &x.id.id, x.perms).cmp(&(&y.id.scheme, &y.id.id, y.perms)));
    v.dedup();
    v
}

/// Who the migrator is on one cluster, for predicting what an ACL lets it do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `user:HASH` of every digest credential.
    pub digests: Vec<String>,
    /// The address the server sees (from whoAmI), if known.
    pub ip: Option<String>,
    /// Authenticated as a super user (a digest user named `super`): ACLs do not apply.
    pub superuser: bool,
}

impl Identity {
    pub fn from_auth(auth: &[(String, String)], ip: Option<String>) -> Identity {
        let digests: Vec<String> = auth
            .iter()
            .filter(|(s, _)| s == "digest")
            .filter_map(|(_, c)| c.split_once(':').map(|(u, p)| digest_id(u, p)))
            .collect();
        let superuser = digests.iter().any(|d| d.starts_with("super:"));
        Identity {
            digests,
            ip,
            superuser,
        }
    }

    /// True when `acl` gives this identity every bit of `wanted`.
    pub fn granted(&self, acl: &[Acl], wanted: i32) -> bool {
        if self.superuser || acl.is_empty() {
            return true;
        }
        let mut have = 0;
        for a in acl {
            let matches = match a.id.scheme.as_str() {
                "world" => a.id.id == "anyone",
                "digest" => self.digests.contains(&a.id.id),
                "ip" => self
                    .ip
                    .as_deref()
                    .is_some_and(|ip| ip_matches(&a.id.id, ip)),
                _ => false,
            };
            if matches {
                have |= a.perms;
            }
        }
        have & wanted == wanted
    }

    /// The ACL entry that keeps this identity in charge of a fenced node, if it has one that
    /// an ACL can name (a digest user beats an address, which other clients may share).
    pub fn fence_entry(&self) -> Option<Acl> {
        if let Some(d) = self.digests.first() {
            return Some(Acl::new(perms::ALL, "digest", d));
        }
        self.ip.as_ref().map(|ip| Acl::new(perms::ALL, "ip", ip))
    }
}

/// IPv4 `a.b.c.d` or `a.b.c.d/bits` against an address; other forms compare as text.
pub fn ip_matches(pattern: &str, ip: &str) -> bool {
    let (net, bits) = match pattern.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().unwrap_or(32)),
        None => (pattern, 32),
    };
    match (
        net.parse::<std::net::Ipv4Addr>(),
        ip.parse::<std::net::Ipv4Addr>(),
    ) {
        (Ok(n), Ok(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits.min(32))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        _ => net == ip,
    }
}

/// The ACL that fences writers off a node: every entry keeps only READ, and the migrator
/// keeps everything (so it can lift the fence and run a reverse catch-up).
pub fn fence_acl(original: &[Acl], migrator: Option<&Acl>) -> Vec<Acl> {
    let mut v: Vec<Acl> = original
        .iter()
        .filter(|a| a.perms & perms::READ != 0)
        .map(|a| Acl {
            perms: perms::READ,
            id: a.id.clone(),
        })
        .filter(|a| migrator.is_none_or(|m| m.id != a.id))
        .collect();
    if let Some(m) = migrator {
        v.push(m.clone());
    }
    if v.is_empty() {
        // Nobody could read it before either; a node with an empty-permission entry is still
        // closed to writers.
        v.push(Acl::new(0, "world", "anyone"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ids_match_zookeeper() {
        assert_eq!(
            digest_id("alice", "secret"),
            "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
        );
    }

    #[test]
    fn grants_follow_the_schemes() {
        let me = Identity::from_auth(
            &[("digest".into(), "alice:secret".into())],
            Some("127.0.0.1".into()),
        );
        let alice = Acl::new(perms::ALL, "digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
        assert!(me.granted(std::slice::from_ref(&alice), perms::CREATE));
        assert!(!me.granted(&Acl::read_unsafe(), perms::CREATE));
        assert!(me.granted(
            &[Acl::new(perms::CREATE, "ip", "127.0.0.0/8")],
            perms::CREATE
        ));
        assert!(!me.granted(
            &[Acl::new(perms::CREATE, "ip", "10.0.0.0/8")],
            perms::CREATE
        ));
        assert_eq!(me.fence_entry(), Some(alice));
        assert!(ip_matches("0.0.0.0/0", "1.2.3.4"));
    }

    #[test]
    fn fence_keeps_read_only_and_the_migrator() {
        let me = Acl::new(perms::ALL, "digest", "m:h");
        let acl = vec![
            Acl::new(perms::ALL, "world", "anyone"),
            Acl::new(perms::WRITE, "ip", "10.0.0.1"),
        ];
        assert_eq!(
            fence_acl(&acl, Some(&me)),
            vec![Acl::new(perms::READ, "world", "anyone"), me.clone()]
        );
        assert_eq!(fence_acl(&[], None), vec![Acl::new(0, "world", "anyone")]);
    }

    #[test]
    fn remap_renames_digest_users() {
        let rules = vec![DigestRemap {
            from_user: "alice".into(),
            from_hash: None,
            to: "bob:h2".into(),
        }];
        let acl = vec![
            Acl::new(1, "digest", "alice:h1"),
            Acl::new(31, "world", "anyone"),
        ];
        let out = transform(&AclPolicy::Remap(rules), &acl);
        assert_eq!(out[0], Acl::new(1, "digest", "bob:h2"));
        assert_eq!(out[1], acl[1]);
        assert!(is_masked(&[Acl::new(1, "digest", "alice:x")]));
    }
}
