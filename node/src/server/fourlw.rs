//! Four-letter words on the client port, in Apache 3.8's formats.

use super::core::Core;
use super::stats::java_double;

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

pub fn is_known(word: &[u8]) -> bool {
    KNOWN.iter().any(|k| k.as_bytes() == word)
}

/// The text answered for `cmd` (already known to be a 4lw).
pub fn answer(core: &mut Core, cmd: &str) -> String {
    if !core.config().four_letter_allowed(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    match cmd {
        "ruok" => "imok".into(),
        "isro" => "rw".into(),
        "srvr" => srvr(core),
        "stat" => stat(core),
        "mntr" => mntr(core),
        "conf" => conf(core),
        "envi" => envi(),
        "wchs" => wchs(core),
        "dirs" => "datadir_size: 0\nlogdir_size: 0\n".into(),
        "cons" => cons(core),
        "crst" => {
            core.reset_conn_stats();
            "Connection stats reset.\n".into()
        }
        "srst" => {
            core.stats.reset();
            "Server stats reset.\n".into()
        }
        "gtmk" => "0".into(),
        _ => String::new(),
    }
}

fn summary_lines(core: &Core) -> String {
    let s = &core.stats;
    format!(
        "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
        s.min(),
        java_double(s.avg()),
        s.latency_max_ms,
        s.packets_received,
        s.packets_sent,
        core.connection_count(),
        core.outstanding(),
        core.tree.last_zxid(),
        core.tree.node_count(),
    )
}

fn srvr(core: &Core) -> String {
    format!("Zookeeper version: {VERSION}\n{}", summary_lines(core))
}

fn stat(core: &Core) -> String {
    let mut out = format!("Zookeeper version: {VERSION}\nClients:\n");
    for (addr, recv, sent, _, _, _, queued) in core.connection_lines() {
        out.push_str(&format!(
            " /{addr}[1](queued={queued},recved={recv},sent={sent})\n"
        ));
    }
    out.push('\n');
    out.push_str(&summary_lines(core));
    out
}

fn cons(core: &Core) -> String {
    let mut out = String::new();
    for (addr, recv, sent, session, lzxid, lop, queued) in core.connection_lines() {
        out.push_str(&format!(
            " /{addr}[1](queued={queued},recved={recv},sent={sent}"
        ));
        if let Some(id) = session {
            let to = core.session_timeout(id).unwrap_or(0);
            out.push_str(&format!(",sid=0x{id:x},lop={lop},est=0,to={to},lcxid=0x0,lzxid=0x{lzxid:x},lresp=0,llat=0,minlat=0,avglat=0,maxlat=0"));
        }
        out.push_str(")\n");
    }
    out.push('\n');
    out
}

fn mntr(core: &Core) -> String {
    let s = &core.stats;
    let t = &core.tree;
    let lines: Vec<(&str, String)> = vec![
        ("zk_version", VERSION.into()),
        ("zk_server_state", "standalone".into()),
        ("zk_ephemerals_count", t.ephemeral_count().to_string()),
        (
            "zk_num_alive_connections",
            core.connection_count().to_string(),
        ),
        ("zk_avg_latency", java_double(s.avg())),
        ("zk_min_latency", s.min().to_string()),
        ("zk_max_latency", s.latency_max_ms.to_string()),
        ("zk_outstanding_requests", core.outstanding().to_string()),
        ("zk_znode_count", t.node_count().to_string()),
        ("zk_global_sessions", core.session_count().to_string()),
        ("zk_local_sessions", "0".into()),
        ("zk_watch_count", t.watches.count().to_string()),
        (
            "zk_approximate_data_size",
            t.approximate_data_size().to_string(),
        ),
        ("zk_packets_received", s.packets_received.to_string()),
        ("zk_packets_sent", s.packets_sent.to_string()),
        ("zk_uptime", core.uptime_ms().to_string()),
        ("zk_open_file_descriptor_count", "0".into()),
        ("zk_max_file_descriptor_count", "0".into()),
        ("zk_connection_drop_probability", "0.0".into()),
        ("zk_outstanding_tls_handshake", "0".into()),
        ("zk_auth_failed_count", "0".into()),
    ];
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect()
}

fn conf(core: &Core) -> String {
    let c = core.config();
    format!(
        "clientPort={}\nsecureClientPort=-1\ndataDir={}\ndataDirSize=0\ndataLogDir={}\ndataLogSize=0\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId=0\n",
        c.client_port,
        c.data_dir.join("version-2").display(),
        c.data_dir.join("version-2").display(),
        c.tick_ms,
        c.max_client_cnxns,
        c.session_timeout_ms_min,
        c.session_timeout_ms_max,
    )
}

fn envi() -> String {
    format!(
        "Environment:\nzookeeper.version={VERSION}\nhost.name=localhost\nos.name={}\nos.arch={}\n",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn wchs(core: &Core) -> String {
    let w = &core.tree.watches;
    let conns: std::collections::BTreeSet<_> = w
        .data
        .by_conn()
        .keys()
        .chain(w.child.by_conn().keys())
        .collect();
    let paths: std::collections::BTreeSet<_> = w
        .data
        .by_path()
        .map(|(p, _)| p.clone())
        .chain(w.child.by_path().map(|(p, _)| p.clone()))
        .collect();
    let _ = core.conn_session(0);
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        conns.len(),
        paths.len(),
        w.count()
    )
}
