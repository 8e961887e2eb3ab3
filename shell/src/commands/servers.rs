//! `servers`: ask every server of a cluster `srvr` (the one four-letter word allowed by
//! default) and show mode, zxid and how far each is behind the leader.

use std::time::Duration;

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one server gets to answer; a dead server must not hold up the table.
const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(3);
/// `srvr` answers are a few hundred bytes; anything longer is cut.
const FOUR_LETTER_REPLY_MAX: u64 = 64 * 1024;

/// What `srvr` said, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Srvr {
    pub version: String,
    pub mode: String,
    pub zxid: Option<i64>,
    pub latency: String,
    pub connections: String,
    pub outstanding: String,
    pub node_count: String,
}

/// Sends a four-letter word and returns the whole answer.
pub async fn four_letter(host: &str, word: &str) -> Result<String, String> {
    let run = async {
        let mut s = TcpStream::connect(host).await.map_err(|e| e.to_string())?;
        s.write_all(word.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        s.take(FOUR_LETTER_REPLY_MAX)
            .read_to_string(&mut out)
            .await
            .map_err(|e| e.to_string())?;
        Ok(out)
    };
    tokio::time::timeout(FOUR_LETTER_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// Parses `srvr` output (reference §9.1).
pub fn parse_srvr(text: &str) -> Srvr {
    let mut s = Srvr::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(": ") else {
            continue;
        };
        let v = v.trim().to_string();
        match k {
            "Zookeeper version" => s.version = v.split(',').next().unwrap_or("").to_string(),
            "Mode" => s.mode = v,
            "Zxid" => s.zxid = i64::from_str_radix(v.trim_start_matches("0x"), 16).ok(),
            "Latency min/avg/max" => s.latency = v,
            "Connections" => s.connections = v,
            "Outstanding" => s.outstanding = v,
            "Node count" => s.node_count = v,
            _ => {}
        }
    }
    s
}

/// One row per host: host, mode, zxid, lag, connections, outstanding, nodes, latency.
pub async fn table(hosts: &[String]) -> (Vec<String>, Vec<Vec<String>>) {
    let answers = join_all(hosts.iter().map(|h| four_letter(h, "srvr"))).await;
    let parsed: Vec<Result<Srvr, String>> = answers
        .into_iter()
        .map(|a| a.and_then(|t| srvr_or_error(&t)))
        .collect();
    let leader_zxid = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter(|s| s.mode == "leader" || s.mode == "standalone")
        .filter_map(|s| s.zxid)
        .max();
    let headers = [
        "SERVER",
        "MODE",
        "ZXID",
        "LAG",
        "CONNS",
        "OUTSTANDING",
        "NODES",
        "LATENCY",
    ];
    let rows = hosts
        .iter()
        .zip(parsed)
        .map(|(h, p)| row(h, p, leader_zxid))
        .collect();
    (headers.iter().map(|s| s.to_string()).collect(), rows)
}

fn srvr_or_error(text: &str) -> Result<Srvr, String> {
    let s = parse_srvr(text);
    if s.mode.is_empty() {
        let first = text.lines().next().unwrap_or("no answer").trim();
        Err(if first.is_empty() {
            "no answer".into()
        } else {
            first.to_string()
        })
    } else {
        Ok(s)
    }
}

fn row(host: &str, p: Result<Srvr, String>, leader_zxid: Option<i64>) -> Vec<String> {
    match p {
        Err(e) => vec![
            host.to_string(),
            "down".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            e,
        ],
        Ok(s) => vec![
            host.to_string(),
            s.mode.clone(),
            s.zxid.map_or("-".into(), |z| format!("0x{z:x}")),
            lag(s.zxid, leader_zxid),
            s.connections,
            s.outstanding,
            s.node_count,
            s.latency,
        ],
    }
}

/// Transactions behind the leader. Across epochs the counters are not comparable, so a server
/// on an older epoch shows `epoch behind`.
pub fn lag(zxid: Option<i64>, leader: Option<i64>) -> String {
    match (zxid, leader) {
        (Some(z), Some(l)) if (z >> 32) == (l >> 32) => ((l - z).max(0)).to_string(),
        (Some(_), Some(_)) => "epoch behind".into(),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_is_parsed() {
        let text = "Zookeeper version: 3.8.0-5a02a05, built on 2022-02-25 08:49 UTC\n\
                    Latency min/avg/max: 0/1.2903/19\nReceived: 10\nSent: 9\nConnections: 1\n\
                    Outstanding: 0\nZxid: 0x10000002a\nMode: follower\nNode count: 5\n";
        let s = parse_srvr(text);
        assert_eq!(s.mode, "follower");
        assert_eq!(s.zxid, Some(0x1_0000_002a));
        assert_eq!(s.version, "3.8.0-5a02a05");
        assert_eq!(lag(s.zxid, Some(0x1_0000_0030)), "6");
        assert_eq!(lag(s.zxid, Some(0x2_0000_0000)), "epoch behind");
    }
}
