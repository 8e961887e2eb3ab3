//! Digest identities as `DigestAuthenticationProvider` computes them.

use base64::Engine;
use sha1::{Digest, Sha1};

/// `user:BASE64(SHA1("user:password"))`, the id form of a digest ACL and of a super digest.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

#[cfg(test)]
mod tests {
    /// The reference's captured value: `alice:secret` → `alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=`.
    #[test]
    fn matches_apache() {
        assert_eq!(
            super::digest_id("alice", "secret"),
            "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
        );
    }
}
