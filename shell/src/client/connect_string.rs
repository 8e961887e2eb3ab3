//! Connect strings: `host:port,host:port[/chroot]`, as every ZooKeeper client takes them.

use std::hash::{BuildHasher, Hasher};

use super::Error;

/// The port used when a host has none.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// `host:port` of every server, in the order given.
    pub hosts: Vec<String>,
    /// Absolute path prepended to every request path; `None` for `/`.
    pub chroot: Option<String>,
}

impl ConnectString {
    /// Parses `h1:2181,h2:2181/app`. A host without a port gets 2181; `[::1]:2181` is IPv6.
    pub fn parse(s: &str) -> Result<ConnectString, Error> {
        let bad = |why: &str| Error::BadConnectString {
            input: s.to_string(),
            why: why.to_string(),
        };
        let s = s.trim();
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let mut hosts = Vec::new();
        for host in hosts_part
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            hosts.push(normalize_host(host).ok_or_else(|| bad(&format!("bad host {host:?}")))?);
        }
        if hosts.is_empty() {
            return Err(bad("no host"));
        }
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) if c.ends_with('/') || c.contains("//") => return Err(bad("bad chroot")),
            Some(c) => Some(c.to_string()),
        };
        Ok(ConnectString { hosts, chroot })
    }

    /// The hosts in a random order, so that many clients spread over the servers.
    pub fn shuffled_hosts(&self) -> Vec<String> {
        let mut hosts = self.hosts.clone();
        let mut seed = std::collections::hash_map::RandomState::new().build_hasher();
        seed.write_usize(hosts.len());
        let mut x = seed.finish() | 1;
        for i in (1..hosts.len()).rev() {
            // xorshift64: plenty for spreading clients, and no dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            hosts.swap(i, (x % (i as u64 + 1)) as usize);
        }
        hosts
    }
}

impl std::fmt::Display for ConnectString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}",
            self.hosts.join(","),
            self.chroot.as_deref().unwrap_or("")
        )
    }
}

fn normalize_host(host: &str) -> Option<String> {
    if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => port.parse::<u16>().ok().map(|p| format!("[{addr}]:{p}")),
            None if after.is_empty() => Some(format!("[{addr}]:{DEFAULT_PORT}")),
            None => None,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.is_empty() && !h.contains(':') => {
            port.parse::<u16>().ok().map(|p| format!("{h}:{p}"))
        }
        None => Some(format!("{host}:{DEFAULT_PORT}")),
        _ => None,
    }
}

/// Prepends the chroot to a client path (`/` becomes the chroot itself).
pub fn to_server_path(chroot: Option<&str>, path: &str) -> String {
    match chroot {
        None => path.to_string(),
        Some(c) if path == "/" => c.to_string(),
        Some(c) => format!("{c}{path}"),
    }
}

/// Strips the chroot from a server path; paths outside the chroot are returned unchanged.
pub fn to_client_path(chroot: Option<&str>, path: &str) -> String {
    let Some(c) = chroot else {
        return path.to_string();
    };
    match path.strip_prefix(c) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_chroot() {
        let cs = ConnectString::parse("a:1,b,[::1]:3/app/x").unwrap();
        assert_eq!(cs.hosts, ["a:1", "b:2181", "[::1]:3"]);
        assert_eq!(cs.chroot.as_deref(), Some("/app/x"));
        assert_eq!(ConnectString::parse("a:1/").unwrap().chroot, None);
        assert!(ConnectString::parse("/app").is_err());
        assert!(ConnectString::parse("a:notaport").is_err());
        assert!(ConnectString::parse("a:1/app/").is_err());
    }

    #[test]
    fn shuffle_keeps_every_host() {
        let cs = ConnectString::parse("a:1,b:2,c:3,d:4").unwrap();
        let mut s = cs.shuffled_hosts();
        s.sort();
        assert_eq!(s, cs.hosts);
    }

    #[test]
    fn chroot_is_added_and_stripped() {
        assert_eq!(to_server_path(Some("/app"), "/"), "/app");
        assert_eq!(to_server_path(Some("/app"), "/a"), "/app/a");
        assert_eq!(to_server_path(None, "/a"), "/a");
        assert_eq!(to_client_path(Some("/app"), "/app"), "/");
        assert_eq!(to_client_path(Some("/app"), "/app/a"), "/a");
        assert_eq!(to_client_path(Some("/app"), "/apple"), "/apple");
    }
}
