//! The AdminServer: `GET /commands` lists the commands, `GET /commands/<name-or-alias>` runs one
//! and answers JSON shaped exactly as Apache 3.8's Jetty AdminServer does (`…/server/admin/
//! Commands.java`): the command's keys in Apache's order, then `command` (the primary name) and
//! `error` (null, or why it failed; still HTTP 200). Unknown commands answer
//! `"error": "Unknown command: <x>"`; any method but GET/HEAD answers 405.
//!
//! State is read on the core task through `ToCore::Inspect`; directory sizes are measured on
//! a blocking thread, not on the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::core::{Core, ToCore};
use super::ensemble;
use super::fourlw::{self, NOT_SERVING, VERSION};
use super::http::{self, Request, Response};
use super::json::{Json, Obj};
use super::metrics::{self, inspect, Snapshot};
use super::stats::BufferStats;
use crate::config::Config;

/// Every command: its names (the primary first) and whether it needs a serving server
/// (Apache's `isServerRequired`).
pub const COMMANDS: &[(&[&str], bool)] = &[
    (&["configuration", "conf", "config"], true),
    (&["connection_stat_reset", "crst"], true),
    (&["connections", "cons"], true),
    (&["dirs"], true),
    (&["dump"], true),
    (&["environment", "env", "envi"], false),
    (&["get_trace_mask", "gtmk"], false),
    (&["hash"], true),
    (&["initial_configuration", "icfg"], true),
    (&["is_read_only", "isro"], true),
    (&["last_snapshot", "lsnp"], true),
    (&["leader", "lead"], true),
    (&["monitor", "mntr"], false),
    (&["observer_connection_stat_reset", "orst"], true),
    (&["observers", "obsr"], true),
    (&["ruok"], true),
    (&["server_stats", "srvr"], true),
    (&["set_trace_mask", "stmk"], false),
    (&["stat_reset", "srst"], true),
    (&["stats", "stat"], true),
    (&["system_properties", "sysp"], false),
    (&["voting_view"], true),
    (&["watch_summary", "wchs"], true),
    (&["watches", "wchc"], true),
    (&["watches_by_path", "wchp"], true),
    (&["zabstate"], false),
];

/// The primary name and server requirement of `name` (a primary name or an alias).
pub fn lookup(name: &str) -> Option<(&'static str, bool)> {
    COMMANDS
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(names, req)| (names[0], *req))
}

/// Serves the AdminServer on `listener` until shutdown. `url` is the command URL
/// (`admin.commandURL`, default `/commands`).
pub async fn serve(
    listener: TcpListener,
    cfg: Arc<Config>,
    core: mpsc::Sender<ToCore>,
    shutdown: watch::Receiver<bool>,
) {
    http::serve(listener, shutdown, "admin server", move |req| {
        let (cfg, core) = (cfg.clone(), core.clone());
        async move { handle(req, &cfg, &core).await }
    })
    .await
}

async fn handle(req: Request, cfg: &Config, core: &mpsc::Sender<ToCore>) -> Response {
    let base = cfg.admin_command_url.trim_end_matches('/');
    let Some(rest) = req.path.strip_prefix(base) else {
        return Response::not_found();
    };
    if rest.is_empty() || rest == "/" {
        return Response::new(200, Some("text/html;charset=utf-8"), command_links(base));
    }
    let Some(name) = rest.strip_prefix('/') else {
        return Response::not_found();
    };
    let body = run_command(name, &req.query, cfg, core).await.pretty();
    Response::new(200, Some("application/json"), body)
}

/// Apache's link list: one `<a>` and one `<br/>` line per primary name, sorted.
fn command_links(base: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|(n, _)| n[0]).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{base}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

/// Runs a command and returns Apache's response object.
pub async fn run_command(
    name: &str,
    query: &[(String, String)],
    cfg: &Config,
    core: &mpsc::Sender<ToCore>,
) -> Json {
    let Some((primary, server_required)) = lookup(name) else {
        return response(name, Obj::new(), Some(format!("Unknown command: {name}")));
    };
    let data = match primary {
        // Commands that do not read the server's state.
        "environment" => {
            let mut o = Obj::new();
            for (k, v) in fourlw::environment() {
                o.put(k, v);
            }
            Ok(o)
        }
        "get_trace_mask" => Ok(Obj::new().with("tracemask", fourlw::trace_mask())),
        "set_trace_mask" => set_trace_mask(query),
        "system_properties" => Ok(system_properties(cfg)),
        _ => {
            let dirs = if needs_dir_sizes(primary) {
                dir_sizes(cfg).await
            } else {
                (0, 0)
            };
            let last_snapshot = if primary == "last_snapshot" {
                last_snapshot(cfg).await
            } else {
                None
            };
            let answer = inspect(core, move |c| {
                if refused(c, primary, server_required) {
                    return Err(NOT_SERVING.to_string());
                }
                Ok(on_core(c, primary, dirs, last_snapshot))
            })
            .await;
            match answer {
                Some(r) => r,
                None => Err(NOT_SERVING.to_string()),
            }
        }
    };
    match data {
        Ok(o) => response(primary, o, None),
        Err(e) => response(primary, Obj::new(), Some(e)),
    }
}

/// Whether `primary` answers "not currently serving": a command that needs a serving server
/// (Apache's `isServerRequired`), and `monitor` on a member between roles. Apache has no
/// ZooKeeperServer then and its `monitor` fails with HTTP 500 (a NullPointerException);
/// zk-node answers the error every other command gives.
fn refused(c: &Core, primary: &str, server_required: bool) -> bool {
    if metrics::serving(c) {
        return false;
    }
    server_required || primary == "monitor"
}

/// Apache's `CommandResponse.toMap()`: the data, then `command` and `error` unless the data set
/// them (as `leader` does on a standalone server).
fn response(command: &str, data: Obj, error: Option<String>) -> Json {
    let mut o = data;
    if !o.0.iter().any(|(k, _)| k == "command") {
        o.put("command", command);
    }
    if !o.0.iter().any(|(k, _)| k == "error") {
        o.put("error", error.map(Json::Str).unwrap_or(Json::Null));
    }
    o.into()
}

fn needs_dir_sizes(primary: &str) -> bool {
    matches!(primary, "dirs" | "server_stats" | "stats")
}

async fn dir_sizes(cfg: &Config) -> (u64, u64) {
    let (d, l) = (
        cfg.data_dir.join("version-2"),
        cfg.data_log_dir.join("version-2"),
    );
    tokio::task::spawn_blocking(move || (fourlw::dir_size(&d), fourlw::dir_size(&l)))
        .await
        .unwrap_or((0, 0))
}

/// The newest `snapshot.<zxid>` in the data directory: (zxid, modification time in s).
async fn last_snapshot(cfg: &Config) -> Option<(i64, i64)> {
    let dir = cfg.data_dir.join("version-2");
    tokio::task::spawn_blocking(move || newest_snapshot(&dir))
        .await
        .ok()
        .flatten()
}

fn newest_snapshot(dir: &Path) -> Option<(i64, i64)> {
    let mut best: Option<(i64, PathBuf)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(hex) = name.strip_prefix("snapshot.") else {
            continue;
        };
        let Ok(zxid) = i64::from_str_radix(hex, 16) else {
            continue;
        };
        let newer = match &best {
            Some((z, _)) => zxid > *z,
            None => true,
        };
        if newer {
            best = Some((zxid, e.path()));
        }
    }
    let (zxid, path) = best?;
    let secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(-1);
    Some((zxid, secs))
}

fn set_trace_mask(query: &[(String, String)]) -> Result<Obj, String> {
    let Some((_, v)) = query.iter().find(|(k, _)| k == "traceMask") else {
        return Ok(Obj::new().with("error", "setTraceMask requires long traceMask argument"));
    };
    let Ok(mask) = v.parse::<i64>() else {
        return Ok(Obj::new().with(
            "error",
            format!("setTraceMask requires long traceMask argument, got {v}"),
        ));
    };
    fourlw::set_trace_mask(mask);
    Ok(Obj::new().with("tracemask", mask))
}

/// zk-node has no Java system properties; it lists the equivalent facts about itself, sorted
/// by key as Apache sorts its properties.
fn system_properties(cfg: &Config) -> Obj {
    let mut props: Vec<(String, String)> = fourlw::environment()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("java.") && !k.starts_with("os.memory"))
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    props.push(("file.separator".into(), "/".into()));
    props.push(("line.separator".into(), "\n".into()));
    props.push(("path.separator".into(), ":".into()));
    props.push((
        "zookeeper.4lw.commands.whitelist".into(),
        cfg.four_letter_words.join(","),
    ));
    props.push((
        "zookeeper.admin.serverPort".into(),
        cfg.admin_server_port.to_string(),
    ));
    props.sort();
    let mut o = Obj::new();
    for (k, v) in props {
        o.put(k, v);
    }
    o
}

/// The commands that read the core's state. `dirs` are the data and log directory sizes,
/// measured beforehand off the core task.
fn on_core(c: &mut Core, primary: &str, dirs: (u64, u64), last_snap: Option<(i64, i64)>) -> Obj {
    match primary {
        "configuration" => configuration(c),
        "connection_stat_reset" => {
            fourlw::reset_connection_stats(c);
            Obj::new()
        }
        "connections" => Obj::new()
            .with("connections", connections(c, false))
            .with("secure_connections", Json::Array(vec![])),
        "dirs" => Obj::new()
            .with("datadir_size", dirs.0)
            .with("logdir_size", dirs.1),
        "dump" => dump(c),
        // Apache's ZxidDigest, as Jackson serializes it.
        "hash" => {
            let digests = c
                .stats
                .digest_log
                .iter()
                .map(|(zxid, digest)| {
                    Obj::new()
                        .with("zxid", *zxid)
                        .with("digest", *digest as i64)
                        .with("digest_version", super::stats::DIGEST_VERSION)
                        .into()
                })
                .collect();
            Obj::new().with("digests", Json::Array(digests))
        }
        "initial_configuration" => {
            Obj::new().with("initial_configuration", c.config().initial_config.clone())
        }
        "is_read_only" => Obj::new().with("read_only", false),
        "last_snapshot" => {
            let (zxid, ts) = last_snap.unwrap_or((-1, -1));
            Obj::new()
                .with("zxid", format!("{zxid:x}"))
                .with("timestamp", ts)
        }
        // Apache answers this for a standalone server, which has no leader.
        "leader" => match c.ensemble_view() {
            Some(v) => ensemble::leader_json(&v, c.config()),
            None => Obj::new().with("error", "server is not initialized"),
        },
        "monitor" => Snapshot::collect(c, 0).monitor_json(),
        "observer_connection_stat_reset" => {
            if let Some(v) = c.ensemble_view().filter(|v| v.is_leader()) {
                ensemble::reset_observer_links(&v, &mut c.stats.ensemble);
            }
            Obj::new()
        }
        "ruok" => Obj::new(),
        "observers" => match c.ensemble_view() {
            Some(v) => ensemble::observers_json(&v, &c.stats.ensemble),
            None => Obj::new()
                .with("synced_observers", 0)
                .with("observers", Json::Array(vec![])),
        },
        "server_stats" => server_stats(c, dirs),
        "stat_reset" => {
            c.stats.reset();
            Obj::new()
        }
        "stats" => server_stats(c, dirs)
            .with("connections", connections(c, true))
            .with("secure_connections", Json::Array(vec![])),
        // A standalone server has no voting view.
        "voting_view" => match c.ensemble_view() {
            Some(_) => ensemble::voting_view_json(c.config()),
            None => Obj::new().with("current_config", Obj::new()),
        },
        "watch_summary" => {
            let (conns, paths, total) = fourlw::watch_summary(c);
            Obj::new()
                .with("num_connections", conns)
                .with("num_paths", paths)
                .with("num_total_watches", total)
        }
        "watches" => {
            let mut m = Obj::new();
            for (sid, paths) in fourlw::watches_by_session(c) {
                m.put(sid.to_string(), paths);
            }
            Obj::new().with("session_id_to_watched_paths", m)
        }
        "watches_by_path" => {
            let mut m = Obj::new();
            for (path, sids) in fourlw::watches_by_path(c) {
                m.put(path, sids);
            }
            Obj::new().with("path_to_session_ids", m)
        }
        "zabstate" => match c.ensemble_view().filter(|v| v.serving()) {
            Some(v) => ensemble::zabstate_json(&v, c.config(), c.tree.last_zxid()),
            None => ensemble::zabstate_idle(),
        },
        other => unreachable!("admin command {other} is listed but not implemented"),
    }
}

fn configuration(c: &Core) -> Obj {
    let cfg = c.config();
    Obj::new()
        .with("client_port", cfg.client_port as i64)
        .with(
            "data_dir",
            cfg.data_dir.join("version-2").display().to_string(),
        )
        .with(
            "data_log_dir",
            cfg.data_log_dir.join("version-2").display().to_string(),
        )
        .with("tick_time", cfg.tick_ms)
        .with("max_client_cnxns", cfg.max_client_cnxns)
        .with("min_session_timeout", cfg.session_timeout_ms_min)
        .with("max_session_timeout", cfg.session_timeout_ms_max)
        .with("server_id", fourlw::reported_server_id(c))
        .with("client_port_listen_backlog", -1i64)
}

/// `ServerCnxn.getConnectionInfo(brief)`.
fn connections(c: &Core, brief: bool) -> Json {
    let list = c
        .conns
        .values()
        .map(|x| {
            let mut o = Obj::new()
                .with("remote_socket_address", x.addr.to_string())
                .with("interest_ops", 1i64)
                .with("outstanding_requests", x.pending.len())
                .with("packets_received", x.received)
                .with("packets_sent", x.sent);
            if !brief {
                let sid = x.session.unwrap_or(0);
                let st = &x.stats;
                o.put("session_id", sid)
                    .put("last_operation", fourlw::apache_op(x.last_op))
                    .put("established", st.established_ms)
                    .put("session_timeout", c.session_timeout(sid).unwrap_or(0))
                    .put("last_cxid", st.last_cxid)
                    .put("last_zxid", x.last_zxid)
                    .put("last_response_time", st.last_response_ms)
                    .put("last_latency", st.last_latency_ms)
                    .put("min_latency", st.latency.min())
                    .put("avg_latency", st.avg_latency_ms())
                    .put("max_latency", st.latency.max());
            }
            o.into()
        })
        .collect();
    Json::Array(list)
}

fn buffer_stats(b: &BufferStats) -> Obj {
    Obj::new()
        .with("last_buffer_size", b.last)
        .with("min_buffer_size", b.min)
        .with("max_buffer_size", b.max)
}

/// `SrvrCommand`: `ServerStats` serialized by Jackson, in its getter order.
fn server_stats(c: &Core, dirs: (u64, u64)) -> Obj {
    let s = &c.stats;
    let stats = Obj::new()
        .with("packets_sent", s.packets_sent)
        .with("packets_received", s.packets_received)
        .with("fsync_threshold_exceed_count", 0i64)
        .with("client_response_stats", buffer_stats(&s.client_response))
        .with("data_dir_size", dirs.0)
        .with("log_dir_size", dirs.1)
        .with("provider_null", false)
        .with("server_state", metrics::server_state(c))
        .with("last_processed_zxid", c.tree.last_zxid())
        .with("outstanding_requests", c.outstanding())
        .with("avg_latency", s.avg())
        .with("max_latency", s.max())
        .with("min_latency", s.min())
        .with("num_alive_client_connections", c.connection_count())
        .with("auth_failed_count", s.auth_failed)
        .with("non_mtlsremote_conn_count", 0i64)
        .with("non_mtlslocal_conn_count", 0i64)
        .with("uptime", c.uptime_ms());
    let mut o = Obj::new()
        .with("version", VERSION)
        .with("read_only", false)
        .with("server_stats", stats)
        .with("client_response", buffer_stats(&s.client_response));
    // A leader adds its proposal sizes (Apache's `SrvrCommand`).
    if c.ensemble_view().is_some_and(|v| v.is_leader()) {
        o.put("proposal_stats", buffer_stats(&s.ensemble.proposal_sizes));
    }
    o.with("node_count", metrics::znode_count(c))
}

fn dump(c: &Core) -> Obj {
    let mut expiry = Obj::new();
    for (at, (_, ids)) in fourlw::session_buckets(c) {
        expiry.put(at.to_string(), ids);
    }
    let mut eph = Obj::new();
    for (sid, paths) in c.tree.ephemerals() {
        if !paths.is_empty() {
            eph.put(sid.to_string(), paths.iter().cloned().collect::<Vec<_>>());
        }
    }
    Obj::new()
        .with("expiry_time_to_session_ids", expiry)
        .with("session_id_to_ephemeral_paths", eph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve_to_primary_names() {
        assert_eq!(lookup("mntr"), Some(("monitor", false)));
        assert_eq!(lookup("config"), Some(("configuration", true)));
        assert_eq!(lookup("zabstate"), Some(("zabstate", false)));
        assert_eq!(lookup("nope"), None);
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|(n, _)| n.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a name is listed twice");
    }

    #[test]
    fn responses_end_with_command_and_error() {
        let r = response("ruok", Obj::new(), None).pretty();
        assert_eq!(r, "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}");
        let r = response(
            "leader",
            Obj::new().with("error", "server is not initialized"),
            None,
        )
        .pretty();
        assert_eq!(
            r,
            "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
        );
    }

    #[test]
    fn link_list_is_sorted() {
        let links = command_links("/commands");
        assert!(links.starts_with(
            "<a href=\"/commands/configuration\">configuration</a>\n<br/>\n<a href=\"/commands/connection_stat_reset\">"
        ));
        assert!(links.ends_with("<a href=\"/commands/zabstate\">zabstate</a>\n<br/>\n"));
    }
}
