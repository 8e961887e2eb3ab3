//! Which source paths a migration covers and where each lands on the destination. Pure.

use crate::commands::bulk::is_reserved;

/// An absolute path without a trailing `/` (except `/` itself) and without empty components.
pub fn normalize(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("{p:?} is not an absolute path"));
    }
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    if parts.iter().any(|s| *s == "." || *s == "..") {
        return Err(format!("{p:?} has . or .. components"));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// True when `path` is `root` or below it.
pub fn is_under(path: &str, root: &str) -> bool {
    root == "/" || path == root || (path.starts_with(root) && path.as_bytes()[root.len()] == b'/')
}

/// The parent of a path (`/` for top-level nodes and for `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component.
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// Number of components (`/` is 0, `/a` is 1).
pub fn depth(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Source roots and where they land, plus the excluded subtrees. ZooKeeper's own `/zookeeper`
/// is always excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMap {
    roots: Vec<(String, String)>,
    exclude: Vec<String>,
}

impl PathMap {
    pub fn new(paths: &[String], prefix: &str, exclude: &[String]) -> Result<PathMap, String> {
        if paths.is_empty() {
            return Err("no source path".into());
        }
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                if is_under(a, b) || is_under(b, a) {
                    return Err(format!("{a} and {b} overlap"));
                }
            }
            if is_reserved(a) {
                return Err(format!("{a} is ZooKeeper's own tree"));
            }
        }
        for e in exclude {
            if !paths.iter().any(|r| is_under(e, r)) {
                return Err(format!("excluded {e} is under no source path"));
            }
        }
        let roots = paths
            .iter()
            .map(|p| (p.clone(), prefixed(prefix, p)))
            .collect();
        Ok(PathMap {
            roots,
            exclude: exclude.to_vec(),
        })
    }

    /// (source root, destination root) pairs.
    pub fn roots(&self) -> impl Iterator<Item = (&str, &str)> {
        self.roots.iter().map(|(s, d)| (s.as_str(), d.as_str()))
    }

    pub fn source_roots(&self) -> Vec<String> {
        self.roots.iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn destination_roots(&self) -> Vec<String> {
        self.roots.iter().map(|(_, d)| d.clone()).collect()
    }

    /// True when `src` is migrated (under a root, not excluded, not `/zookeeper`).
    pub fn covers(&self, src: &str) -> bool {
        self.roots.iter().any(|(r, _)| is_under(src, r))
            && !self.exclude.iter().any(|e| is_under(src, e))
            && !is_reserved(src)
    }

    /// Where a covered source path lands.
    pub fn to_destination(&self, src: &str) -> Option<String> {
        if !self.covers(src) {
            return None;
        }
        let (r, d) = self.roots.iter().find(|(r, _)| is_under(src, r))?;
        Some(rebase(src, r, d))
    }

    /// The source path a destination path comes from, if it is inside the migration.
    pub fn to_source(&self, dst: &str) -> Option<String> {
        let (r, d) = self.roots.iter().find(|(_, d)| is_under(dst, d))?;
        let src = rebase(dst, d, r);
        self.covers(&src).then_some(src)
    }

    /// The same mapping in the other direction (for the reverse catch-up).
    pub fn reversed(&self) -> PathMap {
        PathMap {
            roots: self
                .roots
                .iter()
                .map(|(s, d)| (d.clone(), s.clone()))
                .collect(),
            exclude: self
                .exclude
                .iter()
                .filter_map(|e| self.to_destination_unchecked(e))
                .collect(),
        }
    }

    fn to_destination_unchecked(&self, src: &str) -> Option<String> {
        let (r, d) = self.roots.iter().find(|(r, _)| is_under(src, r))?;
        Some(rebase(src, r, d))
    }
}

/// `prefix` + `path` (`/` + `/a` is `/a`; `/new` + `/a` is `/new/a`; `/new` + `/` is `/new`).
pub fn prefixed(prefix: &str, path: &str) -> String {
    match (prefix, path) {
        ("/", p) => p.to_string(),
        (pre, "/") => pre.to_string(),
        (pre, p) => format!("{pre}{p}"),
    }
}

fn rebase(path: &str, from: &str, to: &str) -> String {
    let rest = if from == "/" {
        path
    } else {
        &path[from.len()..]
    };
    match (to, rest) {
        (t, "") => t.to_string(),
        ("/", r) => r.to_string(),
        (t, r) => format!("{t}{r}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_and_honours_excludes() {
        let m = PathMap::new(
            &["/app".into(), "/cfg".into()],
            "/new",
            &["/app/tmp".into()],
        )
        .unwrap();
        assert_eq!(m.to_destination("/app").as_deref(), Some("/new/app"));
        assert_eq!(
            m.to_destination("/app/x/y").as_deref(),
            Some("/new/app/x/y")
        );
        assert_eq!(m.to_destination("/app/tmp/z"), None);
        assert_eq!(m.to_destination("/application"), None);
        assert_eq!(m.to_source("/new/cfg/a").as_deref(), Some("/cfg/a"));
        assert_eq!(m.to_source("/new/app/tmp"), None);
        let r = m.reversed();
        assert_eq!(r.to_destination("/new/cfg/a").as_deref(), Some("/cfg/a"));
        assert_eq!(r.to_destination("/new/app/tmp"), None);
        let whole = PathMap::new(&["/".into()], "/", &[]).unwrap();
        assert!(!whole.covers("/zookeeper/quota"));
        assert_eq!(whole.to_destination("/a").as_deref(), Some("/a"));
        assert!(PathMap::new(&["/a".into(), "/a/b".into()], "/", &[]).is_err());
        assert!(PathMap::new(&["/a".into()], "/", &["/b".into()]).is_err());
    }

    #[test]
    fn path_helpers() {
        assert_eq!(normalize("/a//b/").unwrap(), "/a/b");
        assert_eq!(normalize("/").unwrap(), "/");
        assert!(normalize("a").is_err());
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(depth("/"), 0);
        assert_eq!(depth("/a/b"), 2);
        assert!(is_under("/a/b", "/a"));
        assert!(!is_under("/ab", "/a"));
        assert_eq!(prefixed("/new", "/"), "/new");
    }
}
