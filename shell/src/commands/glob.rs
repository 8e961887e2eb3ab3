//! Glob patterns for `find`: `*` any run of characters except `/`, `**` any run including `/`,
//! `?` one character except `/`. A pattern without `/` is matched against node names, one with
//! `/` against paths relative to the search root.

/// True when `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_from(&p, &t)
}

fn match_from(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) if rest.first() == Some(&'*') => {
            let rest = &rest[1..];
            (0..=t.len()).any(|i| match_from(rest, &t[i..]))
        }
        Some(('*', rest)) => {
            let run = t.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|i| match_from(rest, &t[i..]))
        }
        Some(('?', rest)) => t.first().is_some_and(|c| *c != '/') && match_from(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && match_from(rest, &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("*.cfg", "a.cfg"));
        assert!(!matches("*.cfg", "a/b.cfg"));
        assert!(matches("**/b.cfg", "a/x/b.cfg"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "a/c"));
        assert!(matches("node-*", "node-0001"));
        assert!(!matches("node-*", "xnode-1"));
    }
}
