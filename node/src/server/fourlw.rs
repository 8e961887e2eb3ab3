//! Four-letter words on the client port, in Apache 3.8's formats (`…/server/command/*.java`),
//! line for line: the same lines in the same order, values aside. Runs on the core task, which
//! owns the state they print; answering never changes a statistic except `crst` and `srst`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use super::core::Core;
use super::metrics::{self, Snapshot};
use super::stats::{elapsed_ms, java_double, wall_ms};

/// The words Apache knows (anything else is treated as a frame length).
pub const KNOWN: &[&str] = &[
    "ruok", "stat", "srvr", "mntr", "conf", "cons", "crst", "srst", "envi", "dump", "wchs", "wchc",
    "wchp", "dirs", "isro", "gtmk", "stmk", "hash",
];

/// The version string we report; tools parse the `3.8.0` prefix.
pub const VERSION: &str = concat!(
    "3.8.0-zkfleet-",
    env!("CARGO_PKG_VERSION"),
    ", built on zk-node"
);

/// Apache's answer when a command needs a server that is not serving (during an election).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Apache's default text trace mask (`ZooTrace`: client request, server packet and session
/// traces). zk-node keeps it only so `gtmk`/`stmk` answer as Apache does; logging is
/// configured through `RUST_LOG`.
pub const DEFAULT_TRACE_MASK: i64 = 306;

static TRACE_MASK: AtomicI64 = AtomicI64::new(DEFAULT_TRACE_MASK);

pub fn trace_mask() -> i64 {
    TRACE_MASK.load(Ordering::Relaxed)
}

pub fn set_trace_mask(mask: i64) {
    TRACE_MASK.store(mask, Ordering::Relaxed);
}

pub fn is_known(word: &[u8]) -> bool {
    KNOWN.iter().any(|k| k.as_bytes() == word)
}

/// The text answered for `cmd` (already known to be a 4lw). Counts the word as a packet
/// received and its answer as a packet sent, as Apache does.
pub fn answer(core: &mut Core, cmd: &str) -> String {
    answer_for(core, cmd, None)
}

/// [`answer`], listing the asking connection (`asker`, its peer address) among the clients of
/// `stat`, `cons` and `dump` as Apache does: it is a connection of the server too.
pub fn answer_for(core: &mut Core, cmd: &str, asker: Option<SocketAddr>) -> String {
    core.stats.packets_received += 1;
    let text = run(core, cmd, asker);
    core.stats.packets_sent += 1;
    text
}

fn run(core: &mut Core, cmd: &str, asker: Option<SocketAddr>) -> String {
    if !core.config().four_letter_allowed(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    // Commands Apache answers whether or not the server is serving.
    match cmd {
        "ruok" => return "imok".into(),
        "envi" => return envi(),
        "gtmk" | "stmk" => return trace_mask().to_string(),
        _ => {}
    }
    if !metrics::serving(core) {
        return match cmd {
            "isro" => "null".into(),
            "hash" => NOT_SERVING.into(),
            _ => format!("{NOT_SERVING}\n"),
        };
    }
    match cmd {
        "isro" => "rw".into(),
        "srvr" => srvr(core),
        "stat" => stat(core, asker),
        "mntr" => Snapshot::collect(core, 1).mntr(),
        "conf" => conf(core),
        "cons" => cons(core, asker),
        "crst" => {
            reset_connection_stats(core);
            "Connection stats reset.\n".into()
        }
        "srst" => {
            core.stats.reset();
            "Server stats reset.\n".into()
        }
        "dump" => dump(core, asker),
        "wchs" => wchs(core),
        "wchc" => wchc(core),
        "wchp" => wchp(core),
        "dirs" => {
            let (d, l) = dir_sizes(core);
            format!("datadir_size: {d}\nlogdir_size: {l}\n")
        }
        // The digest history, one entry per 128 zxids: `<zxid hex>: <digest>`.
        "hash" => core
            .stats
            .digest_log
            .iter()
            .map(|(zxid, digest)| format!("{zxid:x}: {}\n", *digest as i64))
            .collect(),
        _ => String::new(),
    }
}

/// `crst`: Apache's `ServerCnxn.resetStats` on every connection.
pub fn reset_connection_stats(core: &mut Core) {
    core.reset_conn_stats();
}

/// `ServerStats.toString()` plus the node count: the srvr lines from `Latency` on.
fn summary_lines(core: &Core, extra_conns: usize) -> String {
    let s = &core.stats;
    format!(
        "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
        s.min(),
        java_double(s.avg()),
        s.max(),
        s.packets_received,
        s.packets_sent,
        core.connection_count() + extra_conns,
        core.outstanding(),
        core.tree.last_zxid(),
        metrics::server_state(core),
        metrics::znode_count(core),
    )
}

/// The asking four-letter-word connection counts among the connections, as in Apache.
fn srvr(core: &Core) -> String {
    format!(
        "Zookeeper version: {VERSION}\n{}{}",
        summary_lines(core, 1),
        proposal_sizes_line(core)
    )
}

/// A leader's last line of `srvr` and `stat` (Apache's `StatCommand`): the sizes of its
/// proposals, `last/min/max`, -1 before the first.
fn proposal_sizes_line(core: &Core) -> String {
    match core.ensemble_view() {
        Some(v) if v.is_leader() => {
            let p = &core.stats.ensemble.proposal_sizes;
            format!(
                "Proposal sizes last/min/max: {}/{}/{}\n",
                p.last, p.min, p.max
            )
        }
        _ => String::new(),
    }
}

/// The asking connection's line: no session, one packet read, nothing sent yet, not reading.
fn asker_line(out: &mut String, asker: Option<SocketAddr>) {
    if let Some(a) = asker {
        let _ = writeln!(out, " /{a}[0](queued=0,recved=1,sent=0)");
    }
}

fn stat(core: &Core, asker: Option<SocketAddr>) -> String {
    let mut out = format!("Zookeeper version: {VERSION}\nClients:\n");
    asker_line(&mut out, asker);
    for (addr, recved, sent, _, _, _, queued) in core.connection_lines() {
        let _ = writeln!(
            out,
            " /{addr}[1](queued={queued},recved={recved},sent={sent})"
        );
    }
    out.push('\n');
    out.push_str(&summary_lines(core, 1));
    out.push_str(&proposal_sizes_line(core));
    out
}

fn cons(core: &Core, asker: Option<SocketAddr>) -> String {
    let mut out = String::new();
    asker_line(&mut out, asker);
    for c in core.conns.values() {
        let _ = write!(
            out,
            " /{}[1](queued={},recved={},sent={}",
            c.addr,
            c.pending.len(),
            c.received,
            c.sent
        );
        if let Some(id) = c.session.filter(|id| *id != 0) {
            let to = core.session_timeout(id).unwrap_or(0);
            let st = &c.stats;
            let _ = write!(
                out,
                ",sid=0x{id:x},lop={},est={},to={to}",
                apache_op(c.last_op),
                st.established_ms
            );
            if st.last_cxid >= 0 {
                let _ = write!(out, ",lcxid=0x{:x}", st.last_cxid);
            }
            let _ = write!(
                out,
                ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                c.last_zxid,
                st.last_response_ms,
                st.last_latency_ms,
                st.latency.min(),
                st.avg_latency_ms(),
                st.latency.max()
            );
        }
        out.push_str(")\n");
    }
    out.push('\n');
    out
}

/// Apache's four-letter names of the last operation (`FinalRequestProcessor`'s `lastOp`).
pub fn apache_op(name: &str) -> &str {
    match name {
        "ping" => "PING",
        "createSession" => "SESS",
        "closeSession" => "CLOS",
        "multi" => "MULT",
        "multiRead" => "MLTR",
        "create" | "create2" | "createTTL" | "createContainer" => "CREA",
        "delete" | "deleteContainer" => "DELE",
        "setData" => "SETD",
        "reconfig" => "RECO",
        "setACL" => "SETA",
        "sync" => "SYNC",
        "check" => "CHEC",
        "exists" => "EXIS",
        "getData" => "GETD",
        "setWatches" => "SETW",
        "setWatches2" => "STW2",
        "addWatch" => "ADDW",
        "getACL" => "GETA",
        "getChildren" | "getChildren2" => "GETC",
        "getAllChildrenNumber" => "GETACN",
        "checkWatches" => "CHKW",
        "removeWatches" => "REMW",
        "whoAmI" => "HOMI",
        "getEphemerals" => "GETE",
        other => other,
    }
}

/// The server id `conf` and the AdminServer report: Apache reports 0 for a standalone server
/// (no `server.N` lines, or a single one).
pub fn reported_server_id(core: &Core) -> i64 {
    if core.config().is_distributed() || core.ensemble_view().is_some() {
        core.config().server_id as i64
    } else {
        0
    }
}

/// `conf`: Apache's `ZooKeeperServer.dumpConf`, and on a member the quorum lines and the
/// membership (`QuorumZooKeeperServer.dumpConf`).
fn conf(core: &Core) -> String {
    let mut out = conf_standalone(core);
    if core.ensemble_view().is_some() {
        out.push_str(&super::ensemble::conf_lines(core.config()));
    }
    out
}

fn conf_standalone(core: &Core) -> String {
    let c = core.config();
    let (dsize, lsize) = dir_sizes(core);
    format!(
        "clientPort={}\nsecureClientPort=-1\ndataDir={}\ndataDirSize={dsize}\ndataLogDir={}\ndataLogSize={lsize}\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
        c.client_port,
        c.data_dir.join("version-2").display(),
        c.data_log_dir.join("version-2").display(),
        c.tick_ms,
        c.max_client_cnxns,
        c.session_timeout_ms_min,
        c.session_timeout_ms_max,
        reported_server_id(core),
    )
}

/// Bytes under `data_dir/version-2` and `data_log_dir/version-2` (Apache's
/// `getDataDirSize`/`getLogDirSize`).
pub fn dir_sizes(core: &Core) -> (u64, u64) {
    let c = core.config();
    (
        dir_size(&c.data_dir.join("version-2")),
        dir_size(&c.data_log_dir.join("version-2")),
    )
}

pub fn dir_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// `envi`'s entries in Apache's order. zk-node is not a JVM: the `java.*` keys say `<NA>` (as
/// Apache does for a missing property), and `os.memory.*` describe the machine's memory
/// (available, total) and this process's resident set instead of the Java heap.
pub fn environment() -> Vec<(&'static str, String)> {
    let na = || "<NA>".to_string();
    let mem = memory_mb();
    vec![
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host_name()),
        ("java.version", na()),
        ("java.vendor", na()),
        ("java.home", na()),
        ("java.class.path", na()),
        ("java.library.path", na()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", na()),
        ("os.name", os_name().to_string()),
        ("os.arch", os_arch().to_string()),
        ("os.version", read_trim("/proc/sys/kernel/osrelease")),
        ("user.name", user_name()),
        (
            "user.home",
            std::env::var("HOME").unwrap_or_else(|_| "<NA>".into()),
        ),
        (
            "user.dir",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "<NA>".into()),
        ),
        ("os.memory.free", format!("{}MB", mem.0)),
        ("os.memory.max", format!("{}MB", mem.1)),
        ("os.memory.total", format!("{}MB", mem.2)),
    ]
}

fn envi() -> String {
    let mut out = String::from("Environment:\n");
    for (k, v) in environment() {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "<NA>".into())
}

fn host_name() -> String {
    read_trim("/proc/sys/kernel/hostname")
}

/// Java's `os.name` spelling.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        "windows" => "Windows",
        "freebsd" => "FreeBSD",
        other => other,
    }
}

/// Java's `os.arch` spelling.
fn os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        other => other,
    }
}

fn user_name() -> String {
    if let Ok(u) = std::env::var("USER") {
        return u;
    }
    // The real uid from /proc, looked up in /etc/passwd.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        });
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    uid.and_then(|uid| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        })
    })
    .unwrap_or_else(|| "<NA>".into())
}

/// (available, total) memory of the machine and this process's resident set, in MiB.
fn memory_mb() -> (u64, u64, u64) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    let rss = metrics::process::Metrics::read()
        .resident_memory_bytes
        .max(0) as u64
        / (1 << 20);
    (field("MemAvailable:"), field("MemTotal:"), rss)
}

/// Session deadlines in the core are ms since it started; Apache's are on the elapsed clock.
/// Returns (elapsed-clock ms, wall-clock ms) for a core deadline.
fn deadline_clocks(core: &Core, deadline_ms: u64) -> (u64, i64) {
    let ahead = deadline_ms as i64 - core.uptime_ms() as i64;
    (
        (elapsed_ms() as i64 + ahead).max(0) as u64,
        wall_ms() + ahead,
    )
}

/// Sessions grouped by expiry time (Apache's `ExpiryQueue`): elapsed ms → (wall ms, ids).
pub fn session_buckets(core: &Core) -> BTreeMap<u64, (i64, Vec<i64>)> {
    let mut buckets: BTreeMap<u64, (i64, Vec<i64>)> = BTreeMap::new();
    for (id, s) in &core.sessions {
        let (at, wall) = deadline_clocks(core, s.deadline_ms);
        buckets.entry(at).or_insert((wall, Vec::new())).1.push(*id);
    }
    buckets
}

fn dump(core: &Core, asker: Option<SocketAddr>) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    let buckets = session_buckets(core);
    let _ = writeln!(
        out,
        "Session Sets ({})/({}):",
        buckets.len(),
        core.sessions.len()
    );
    for (wall, ids) in buckets.values() {
        let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date(*wall));
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let eph = core.tree.ephemerals();
    let eph: Vec<_> = eph.iter().filter(|(_, p)| !p.is_empty()).collect();
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", eph.len());
    for (id, paths) in eph {
        let _ = writeln!(out, "0x{id:x}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    // Connections expire with their session; one still being set up within the handshake
    // timeout.
    out.push_str("Connections dump:\n");
    let mut conns: BTreeMap<u64, (i64, Vec<String>)> = BTreeMap::new();
    if let Some(a) = asker {
        let (at, wall) = deadline_clocks(core, core.uptime_ms() + 10_000);
        conns
            .entry(at)
            .or_insert((wall, Vec::new()))
            .1
            .push(format!("ip: /{a} sessionId: 0x0"));
    }
    for c in core.conns.values() {
        let deadline = c
            .session
            .and_then(|id| core.sessions.get(&id))
            .map(|s| s.deadline_ms)
            .unwrap_or(core.uptime_ms() + 10_000);
        let (at, wall) = deadline_clocks(core, deadline);
        conns
            .entry(at)
            .or_insert((wall, Vec::new()))
            .1
            .push(format!(
                "ip: /{} sessionId: 0x{:x}",
                c.addr,
                c.session.unwrap_or(0)
            ));
    }
    let _ = writeln!(
        out,
        "Connections Sets ({})/({}):",
        conns.len(),
        core.conns.len() + usize::from(asker.is_some())
    );
    for (wall, lines) in conns.values() {
        let _ = writeln!(out, "{} expire at {}:", lines.len(), java_date(*wall));
        for l in lines {
            let _ = writeln!(out, "\t{l}");
        }
    }
    out
}

/// Java's `Date.toString()` in UTC: `Wed Nov 25 01:44:49 UTC 2026`.
pub fn java_date(wall_ms: i64) -> String {
    let secs = wall_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        year
    )
}

/// Data watches by session (Apache's `wchc` and `/commands/watches` list the data-watch table:
/// getData/exists watches and persistent ones).
pub fn watches_by_session(core: &Core) -> BTreeMap<i64, Vec<String>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (conn, paths) in core.tree.watches.data.by_conn() {
        let sid = core.conn_session(*conn).unwrap_or(0);
        out.entry(sid).or_default().extend(paths.iter().cloned());
    }
    out
}

/// Data watches by path, with the watching sessions.
pub fn watches_by_path(core: &Core) -> Vec<(String, Vec<i64>)> {
    core.tree
        .watches
        .data
        .by_path()
        .map(|(p, conns)| {
            let sids = conns
                .iter()
                .map(|c| core.conn_session(*c).unwrap_or(0))
                .collect();
            (p.clone(), sids)
        })
        .collect()
}

/// (connections, paths, watches) of the data-watch table, as `wchs` counts them.
pub fn watch_summary(core: &Core) -> (usize, usize, usize) {
    let data = &core.tree.watches.data;
    (data.by_conn().len(), data.paths(), data.count())
}

fn wchs(core: &Core) -> String {
    let (conns, paths, total) = watch_summary(core);
    format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n")
}

fn wchc(core: &Core) -> String {
    let mut out = String::new();
    for (sid, paths) in watches_by_session(core) {
        let _ = writeln!(out, "0x{sid:x}");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push('\n');
    out
}

fn wchp(core: &Core) -> String {
    let mut out = String::new();
    for (path, sids) in watches_by_path(core) {
        let _ = writeln!(out, "{path}");
        for sid in sids {
            let _ = writeln!(out, "\t0x{sid:x}");
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_like_java() {
        // 2026-11-25T01:44:49Z, a Wednesday.
        assert_eq!(java_date(1_795_571_089_000), "Wed Nov 25 01:44:49 UTC 2026");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn last_operation_names() {
        assert_eq!(apache_op("getData"), "GETD");
        assert_eq!(apache_op("getChildren2"), "GETC");
        assert_eq!(apache_op("NA"), "NA");
    }
}
