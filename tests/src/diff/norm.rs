//! Normalization: turns what a server answered into text that is equal across two correct
//! servers. zxids become offsets from a zxid read at the start of the scenario, session ids
//! become the names the scenario gave them (`s1`, `s2`, ...), and wall-clock times are checked
//! for plausibility and then redacted. Nothing else is hidden: a difference in any other field is
//! a difference between the servers.

use std::fmt::Write as _;

use zk_proto::jute::Reader;
use zk_proto::request::{MultiResult, Response};
use zk_proto::{ErrorCode, OpCode};
use zookeeper_client as zk;

use crate::raw::Incoming;

/// How far a ctime/mtime may lie outside the scenario's run time and still count as plausible
/// (the server stamps the time when it prepares the txn; clocks are the same machine).
const TIME_SLACK_MS: i64 = 5_000;

/// The per-scenario state that normalization needs.
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// zxids print as `+N`/`-N` from this one (0 and -1 print as themselves).
    base_zxid: i64,
    /// Session ids registered by the scenario, with their names.
    sessions: Vec<(i64, String)>,
    /// Wall-clock ms when the scenario started.
    t_start_ms: i64,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new()
    }
}

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer {
            base_zxid: 0,
            sessions: Vec::new(),
            t_start_ms: now_ms(),
        }
    }

    pub fn set_base_zxid(&mut self, zxid: i64) {
        self.base_zxid = zxid;
    }

    pub fn base_zxid(&self) -> i64 {
        self.base_zxid
    }

    /// Registers a session id under the next name `s1`, `s2`, ...; returns the name. Registering
    /// the same id twice returns its existing name.
    pub fn add_session(&mut self, id: i64) -> String {
        if let Some((_, name)) = self.sessions.iter().find(|(s, _)| *s == id) {
            return name.clone();
        }
        let name = format!("s{}", self.sessions.len() + 1);
        self.sessions.push((id, name.clone()));
        name
    }

    pub fn zxid(&self, z: i64) -> String {
        match z {
            0 | -1 => z.to_string(),
            _ => {
                let d = z - self.base_zxid;
                if d >= 0 {
                    format!("+{d}")
                } else {
                    format!("{d}")
                }
            }
        }
    }

    pub fn session(&self, id: i64) -> String {
        if id == 0 {
            return "0".to_string();
        }
        match self.sessions.iter().find(|(s, _)| *s == id) {
            Some((_, name)) => name.clone(),
            None => "unknown-session".to_string(),
        }
    }

    /// `ok` when ctime and mtime are plausible wall-clock times (ctime ≤ mtime, both within the
    /// scenario's run, or 0 for the nodes the server creates at start); the raw values otherwise.
    fn times(&self, ctime: i64, mtime: i64) -> String {
        let now = now_ms();
        let plausible =
            |t: i64| t == 0 || (t >= self.t_start_ms - TIME_SLACK_MS && t <= now + TIME_SLACK_MS);
        let in_run = |t: i64| t >= self.t_start_ms - TIME_SLACK_MS;
        if ctime == 0 && mtime > 0 && mtime <= now + TIME_SLACK_MS {
            // A node the server made at start and stamped with its start time: an ensemble
            // member's /zookeeper/config (Apache sets mtime when it loads the dynamic config).
            "start".to_string()
        } else if (ctime == 0 && mtime == 0)
            || (plausible(ctime) && plausible(mtime) && ctime <= mtime)
        {
            "ok".to_string()
        } else if ctime <= mtime && ctime > 0 && !in_run(ctime) && mtime <= now + TIME_SLACK_MS {
            // A node created before this scenario (the harness's own nodes).
            "old".to_string()
        } else {
            format!("BAD(ctime={ctime},mtime={mtime})")
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stat_fields(
        &self,
        czxid: i64,
        mzxid: i64,
        pzxid: i64,
        ctime: i64,
        mtime: i64,
        version: i32,
        cversion: i32,
        aversion: i32,
        ephemeral_owner: i64,
        data_length: i32,
        num_children: i32,
    ) -> String {
        format!(
            "stat(cz={} mz={} pz={} v={version} cv={cversion} av={aversion} eph={} len={data_length} nc={num_children} t={})",
            self.zxid(czxid),
            self.zxid(mzxid),
            self.zxid(pzxid),
            self.session(ephemeral_owner),
            self.times(ctime, mtime),
        )
    }

    pub fn zk_stat(&self, s: &zk::Stat) -> String {
        self.stat_fields(
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.ctime,
            s.mtime,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children,
        )
    }

    pub fn proto_stat(&self, s: &zk_proto::Stat) -> String {
        self.stat_fields(
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.ctime,
            s.mtime,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children,
        )
    }

    /// One line for one frame read by the raw client.
    pub fn incoming(&self, inc: &Incoming) -> String {
        match inc {
            Incoming::Event { zxid, err, event } => format!(
                "<- event {} {} state={} hz={} err={err}",
                event_name(event.event_type),
                event.path,
                event.state,
                self.zxid(*zxid),
            ),
            Incoming::Reply {
                xid,
                zxid,
                err,
                op,
                body,
            } => {
                let mut s = format!(
                    "<- reply xid={xid} hz={} err={}",
                    self.zxid(*zxid),
                    err_name(*err)
                );
                if let Some(op) = op {
                    let _ = write!(s, " op={}", op.name());
                }
                if *err != 0 || op.is_none() {
                    if !body.is_empty() {
                        let _ = write!(s, " body={}", hex_short(body));
                    }
                } else if let Some(op) = op {
                    let _ = write!(s, " {}", self.body(*op, body));
                }
                s
            }
            Incoming::Garbled(b) => format!("<- garbled {}", hex_short(b)),
            Incoming::Closed => "<- closed".to_string(),
        }
    }

    /// The decoded body of a successful reply, or its hex when it does not decode as `op`'s
    /// response (or has bytes left over).
    pub fn body(&self, op: OpCode, body: &[u8]) -> String {
        let mut r = Reader::new(body);
        match Response::decode(op, &mut r) {
            Ok(resp) if r.is_empty() => self.response(&resp),
            Ok(resp) => format!("{} +trailing={}", self.response(&resp), hex_short(r.rest())),
            Err(e) => format!("undecodable({e}) {}", hex_short(body)),
        }
    }

    pub fn response(&self, resp: &Response) -> String {
        match resp {
            Response::Empty => "{}".to_string(),
            Response::Create(r) => format!("path={}", r.path),
            Response::Create2(r) => format!("path={} {}", r.path, self.proto_stat(&r.stat)),
            Response::Stat(s) => self.proto_stat(s),
            Response::GetData(r) => format!(
                "data={} {}",
                data(r.data.as_deref()),
                self.proto_stat(&r.stat)
            ),
            Response::GetAcl(r) => format!("acl={} {}", acl_list(&r.acl), self.proto_stat(&r.stat)),
            Response::GetChildren(r) => format!("children={}", sorted(&r.children)),
            Response::GetChildren2(r) => format!(
                "children={} {}",
                sorted(&r.children),
                self.proto_stat(&r.stat)
            ),
            Response::Sync(r) => format!("path={}", r.path),
            Response::Multi(results) => {
                let parts: Vec<String> = results.iter().map(|m| self.multi_result(m)).collect();
                format!("multi[{}]", parts.join(", "))
            }
            Response::GetEphemerals(r) => format!("ephemerals={}", sorted(&r.ephemerals)),
            Response::GetAllChildrenNumber(r) => format!("total={}", r.total_number),
            Response::AddWatch(r) => format!("errbody={}", r.err),
            Response::WhoAmI(r) => {
                // Apache keeps a connection's ids in a hash set, so their order is unspecified.
                let mut parts: Vec<String> = r
                    .client_info
                    .iter()
                    .map(|c| format!("{}:{}", c.auth_scheme, c.user))
                    .collect();
                parts.sort();
                format!("whoami[{}]", parts.join(", "))
            }
            Response::Sasl(r) => format!("sasl token={}", data(r.token.as_deref())),
        }
    }

    fn multi_result(&self, m: &MultiResult) -> String {
        match m {
            MultiResult::Create { path } => format!("create {path}"),
            MultiResult::Create2 { path, stat } => {
                format!("create2 {path} {}", self.proto_stat(stat))
            }
            MultiResult::Delete => "delete".to_string(),
            MultiResult::SetData { stat } => format!("setData {}", self.proto_stat(stat)),
            MultiResult::Check => "check".to_string(),
            MultiResult::GetData { data: d, stat } => {
                format!("getData {} {}", data(d.as_deref()), self.proto_stat(stat))
            }
            MultiResult::GetChildren { children } => format!("getChildren {}", sorted(children)),
            MultiResult::Error { err } => format!("error {}", err_name(*err)),
        }
    }
}

/// Something the zookeeper-client crate returned, in normalized text.
pub trait Norm {
    fn norm(&self, n: &Normalizer) -> String;
}

impl Norm for () {
    fn norm(&self, _: &Normalizer) -> String {
        "ok".to_string()
    }
}

impl Norm for usize {
    fn norm(&self, _: &Normalizer) -> String {
        self.to_string()
    }
}

impl Norm for zk::Stat {
    fn norm(&self, n: &Normalizer) -> String {
        n.zk_stat(self)
    }
}

impl Norm for Option<zk::Stat> {
    fn norm(&self, n: &Normalizer) -> String {
        match self {
            None => "none".to_string(),
            Some(s) => n.zk_stat(s),
        }
    }
}

impl Norm for Vec<String> {
    fn norm(&self, _: &Normalizer) -> String {
        sorted(self)
    }
}

impl Norm for (Vec<u8>, zk::Stat) {
    fn norm(&self, n: &Normalizer) -> String {
        format!("data={} {}", data(Some(&self.0)), n.zk_stat(&self.1))
    }
}

impl Norm for (zk::Stat, zk::CreateSequence) {
    fn norm(&self, n: &Normalizer) -> String {
        let seq = self.1.into_i64();
        if seq < 0 {
            n.zk_stat(&self.0)
        } else {
            format!("seq={} {}", self.1, n.zk_stat(&self.0))
        }
    }
}

impl Norm for (Vec<String>, zk::Stat) {
    fn norm(&self, n: &Normalizer) -> String {
        format!("children={} {}", sorted(&self.0), n.zk_stat(&self.1))
    }
}

impl Norm for (Vec<zk::Acl>, zk::Stat) {
    fn norm(&self, n: &Normalizer) -> String {
        format!("acl={} {}", self.0.norm(n), n.zk_stat(&self.1))
    }
}

impl Norm for Vec<zk::Acl> {
    fn norm(&self, _: &Normalizer) -> String {
        let parts: Vec<String> = self
            .iter()
            .map(|a| format!("{}:{}:{}", a.scheme(), a.id(), a.permission()))
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

impl Norm for Vec<zk::AuthUser> {
    fn norm(&self, _: &Normalizer) -> String {
        // Unspecified order, as for whoAmI above.
        let mut parts: Vec<String> = self
            .iter()
            .map(|u| format!("{}:{}", u.scheme(), u.user()))
            .collect();
        parts.sort();
        format!("[{}]", parts.join(", "))
    }
}

impl Norm for zk::WatchedEvent {
    fn norm(&self, _: &Normalizer) -> String {
        format!("{} {} {}", self.event_type, self.path, self.session_state)
    }
}

impl Norm for Vec<zk::MultiWriteResult> {
    fn norm(&self, n: &Normalizer) -> String {
        let parts: Vec<String> = self
            .iter()
            .map(|r| match r {
                zk::MultiWriteResult::Check => "check".to_string(),
                zk::MultiWriteResult::Delete => "delete".to_string(),
                zk::MultiWriteResult::Create { path, stat } => {
                    format!("create {path} {}", n.zk_stat(stat))
                }
                zk::MultiWriteResult::SetData { stat } => format!("setData {}", n.zk_stat(stat)),
                other => format!("{other:?}"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

impl Norm for Vec<zk::MultiReadResult> {
    fn norm(&self, n: &Normalizer) -> String {
        let parts: Vec<String> = self
            .iter()
            .map(|r| match r {
                zk::MultiReadResult::Data { data: d, stat } => {
                    format!("data {} {}", data(Some(d)), n.zk_stat(stat))
                }
                zk::MultiReadResult::Children { children } => {
                    format!("children {}", sorted(children))
                }
                zk::MultiReadResult::Error { err } => format!("error {err:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

impl Norm for zk::Error {
    fn norm(&self, _: &Normalizer) -> String {
        format!("{self:?}")
    }
}

impl Norm for zk::MultiWriteError {
    fn norm(&self, _: &Normalizer) -> String {
        format!("{self:?}")
    }
}

impl Norm for zk::CheckWriteError {
    fn norm(&self, _: &Normalizer) -> String {
        format!("{self:?}")
    }
}

impl<T: Norm, E: Norm> Norm for Result<T, E> {
    fn norm(&self, n: &Normalizer) -> String {
        match self {
            Ok(v) => v.norm(n),
            Err(e) => format!("ERR {}", e.norm(n)),
        }
    }
}

/// Data as text: `null`, a quoted string when short and printable, an ensemble's dynamic
/// config (`/zookeeper/config`) line by line with its ports hidden (every ensemble of a test
/// run has its own ports), else length and a hash.
pub fn data(d: Option<&[u8]>) -> String {
    if let Some(cfg) = d.and_then(dynamic_config) {
        return cfg;
    }
    match d {
        None => "null".to_string(),
        Some(b) if b.len() <= 64 && b.iter().all(|c| (0x20..0x7f).contains(c)) => {
            format!("{:?}", String::from_utf8_lossy(b))
        }
        Some(b) => format!("<{} bytes fnv={:016x}>", b.len(), fnv1a(b)),
    }
}

/// `config[server.1=127.0.0.1:<port>:<port>:participant | ... | version=0]` when `b` is a
/// dynamic config (`server.N=...` lines, then `version=...`); `None` otherwise.
fn dynamic_config(b: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(b).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let is_config = lines.iter().any(|l| l.starts_with("server."))
        && lines
            .iter()
            .all(|l| l.starts_with("server.") || l.starts_with("version="));
    if !is_config {
        return None;
    }
    let shown: Vec<String> = lines.iter().map(|l| hide_ports(l)).collect();
    Some(format!("config[{}]", shown.join(" | ")))
}

/// Replaces every `:<digits>` with `:<port>`.
fn hide_ports(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ':' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push_str("<port>");
        }
    }
    out
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn hex_short(b: &[u8]) -> String {
    let shown: String = b.iter().take(48).map(|c| format!("{c:02x}")).collect();
    if b.len() > 48 {
        format!("{shown}..({} bytes)", b.len())
    } else {
        shown
    }
}

/// Children and ephemerals come back in an unspecified order; compare them sorted.
pub fn sorted(v: &[String]) -> String {
    let mut v = v.to_vec();
    v.sort();
    format!("[{}]", v.join(","))
}

fn acl_list(acl: &[zk_proto::Acl]) -> String {
    let parts: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms))
        .collect();
    format!("[{}]", parts.join(", "))
}

pub fn err_name(err: i32) -> String {
    if err == 0 {
        "0".to_string()
    } else {
        ErrorCode(err).name().to_string()
    }
}

pub fn event_name(t: i32) -> String {
    match t {
        1 => "NodeCreated".to_string(),
        2 => "NodeDeleted".to_string(),
        3 => "NodeDataChanged".to_string(),
        4 => "NodeChildrenChanged".to_string(),
        other => format!("event({other})"),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_config_hides_ports() {
        let cfg = b"server.1=127.0.0.1:46243:55245:participant\nserver.2=127.0.0.1:52845:37951:observer;127.0.0.1:2181\nversion=0";
        assert_eq!(
            data(Some(cfg)),
            "config[server.1=127.0.0.1:<port>:<port>:participant | \
             server.2=127.0.0.1:<port>:<port>:observer;127.0.0.1:<port> | version=0]"
        );
        assert_eq!(data(Some(b"version=0")), "\"version=0\"");
        assert_eq!(data(Some(b"")), "\"\"");
    }
}
