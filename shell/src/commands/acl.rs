//! ACLs as text: `scheme:id:perms[,...]` in both directions, with zkCli's permission letters.

use zk_proto::data::perms;
use zk_proto::Acl;

const LETTERS: [(char, i32); 5] = [
    ('c', perms::CREATE),
    ('d', perms::DELETE),
    ('r', perms::READ),
    ('w', perms::WRITE),
    ('a', perms::ADMIN),
];

/// Parses `world:anyone:cdrwa,digest:alice:HASH=:r,ip:10.0.0.0/8:r,auth::cdrwa`. The id is
/// everything between the first and the last `:`, so digest ids keep their colon.
pub fn parse_acl(text: &str) -> Result<Vec<Acl>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(parse_entry)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err("empty ACL".into())
            } else {
                Ok(v)
            }
        })
}

fn parse_entry(entry: &str) -> Result<Acl, String> {
    let bad = || format!("bad ACL entry {entry:?}: expected scheme:id:perms");
    let (scheme, rest) = entry.split_once(':').ok_or_else(bad)?;
    let (id, letters) = rest.rsplit_once(':').ok_or_else(bad)?;
    if scheme.is_empty() {
        return Err(bad());
    }
    Ok(Acl::new(parse_perms(letters)?, scheme, id))
}

/// `cdrwa` letters to the permission mask.
pub fn parse_perms(letters: &str) -> Result<i32, String> {
    letters.chars().try_fold(0, |mask, ch| {
        LETTERS
            .iter()
            .find(|(l, _)| *l == ch.to_ascii_lowercase())
            .map(|(_, bit)| mask | bit)
            .ok_or_else(|| format!("unknown permission {ch:?} (use c d r w a)"))
    })
}

/// The mask as zkCli prints it: letters in `cdrwa` order.
pub fn format_perms(mask: i32) -> String {
    LETTERS
        .iter()
        .filter(|(_, bit)| mask & bit != 0)
        .map(|(l, _)| *l)
        .collect()
}

/// One entry as `scheme:id:perms`, the form `setAcl` accepts.
pub fn format_entry(acl: &Acl) -> String {
    format!(
        "{}:{}:{}",
        acl.id.scheme,
        acl.id.id,
        format_perms(acl.perms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_text_round_trips() {
        let text = "world:anyone:cdrwa,digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=:r,auth::cd";
        let acl = parse_acl(text).unwrap();
        assert_eq!(acl[1].id.id, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
        assert_eq!(acl[2].perms, perms::CREATE | perms::DELETE);
        let back: Vec<String> = acl.iter().map(format_entry).collect();
        assert_eq!(back.join(","), text);
    }

    #[test]
    fn bad_acls_say_why() {
        assert!(parse_acl("world").unwrap_err().contains("scheme:id:perms"));
        assert!(parse_acl("world:anyone:x")
            .unwrap_err()
            .contains("unknown permission"));
        assert!(parse_acl("").is_err());
    }
}
