//! Path rules, as `PathUtils.validatePath` applies them to writes.

/// Why a path is rejected (all map to BadArguments on the wire).
pub fn validate(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("path length must be > 0");
    }
    if !path.starts_with('/') {
        return Err("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("path must not end with / character");
    }
    let chars: Vec<char> = path.chars().collect();
    let mut last = '/';
    for i in 1..chars.len() {
        let c = chars[i];
        let next_is_end = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Err("null character not allowed");
        } else if c == '/' && last == '/' {
            return Err("empty node name specified");
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && next_is_end {
                return Err("relative paths not allowed");
            }
        } else if c == '.' {
            if chars[i - 1] == '/' && next_is_end {
                return Err("relative paths not allowed");
            }
        } else if is_invalid_char(c) {
            return Err("invalid character");
        }
        last = c;
    }
    Ok(())
}

/// Apache checks UTF-16 code units: control characters, the surrogate and private-use ranges
/// (so every character outside the BMP, which Java sees as a surrogate pair), and U+FFF0..U+FFFF.
fn is_invalid_char(c: char) -> bool {
    let u = c as u32;
    (0x01..=0x1f).contains(&u)
        || (0x7f..=0x9f).contains(&u)
        || (0xd800..=0xf8ff).contains(&u)
        || (0xfff0..=0xffff).contains(&u)
        || u > 0xffff
}

/// The parent of `path` as Apache computes it (`substring(0, lastSlash)`), with the root's
/// alias `""` mapped to `/`. `None` when the path has no `/` at all.
pub fn parent(path: &str) -> Option<&str> {
    let i = path.rfind('/')?;
    Some(if i == 0 { "/" } else { &path[..i] })
}

/// The last component of `path`.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// `/a` + `b` = `/a/b`; `/` + `b` = `/b`.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_like_apache() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/a/..b", "/a/.b", "/é"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a\0",
            "/\u{1}",
            "/\u{7f}",
            "/\u{e000}",
            "/\u{fff0}",
            "/\u{1F600}",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parent_of_top_level_is_root() {
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/"), Some("/"));
        assert_eq!(parent("a"), None);
    }
}
