//! Alarm rules: a pure function from a cluster's state to the alarms that hold now.

use super::model::{ClusterState, Role};
use crate::units;
use crate::zxid::COUNTER_MAX;

/// How bad an alarm is. `Critical` means writes or reads are failing or about to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    Warning,
}

/// One condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub severity: Severity,
    /// Identity across polls (`down:host:port`), so the log records raise and clear once.
    pub key: String,
    /// What the operator reads.
    pub text: String,
}

/// A server that answered before is alarmed as down after this many failed polls in a row,
/// so one poll lost on a busy machine does not raise and clear an alarm. The table shows it
/// down at once.
pub const DOWN_AFTER_FAILURES: u32 = 2;

/// Warn when this share of the zxid counter is used...
const WRAP_WARN_FRACTION: f64 = 0.75;
/// ...or when the forced election is less than this far away at the current write rate.
const WRAP_WARN_S: f64 = 7.0 * 86_400.0;
const WRAP_CRIT_FRACTION: f64 = 0.95;
const WRAP_CRIT_S: f64 = 86_400.0;

/// The alarms of a cluster, most severe first. Servers not yet polled raise nothing.
pub fn evaluate(c: &ClusterState) -> Vec<Alarm> {
    let mut out = Vec::new();
    let polled = c.servers.iter().all(|s| s.polled_at.is_some());
    let up = c.up_count();
    if polled && up < c.majority() {
        out.push(crit(
            "quorum",
            format!("no quorum: {up} of {} servers up", c.servers.len()),
        ));
    } else if polled && c.leader_count == 0 {
        out.push(crit("leader", "no leader".to_string()));
    }
    if c.leader_count > 1 {
        let names: Vec<&str> = c
            .servers
            .iter()
            .filter(|s| s.role() == Role::Leader)
            .map(|s| s.name())
            .collect();
        out.push(crit(
            "leaders",
            format!(
                "{} servers claim leadership: {}",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    for s in &c.servers {
        server_alarms(c, s, &mut out);
    }
    if let Some(alarm) = wrap_alarm(c) {
        out.push(alarm);
    }
    out.sort_by_key(|a| a.severity);
    out
}

fn server_alarms(c: &ClusterState, s: &super::model::ServerState, out: &mut Vec<Alarm>) {
    let name = s.name();
    let t = &c.thresholds;
    if s.role() == Role::Down && (s.failures >= DOWN_AFTER_FAILURES || !s.ever_up) {
        let alarm = format!("{name} down");
        out.push(if c.up_count() < c.majority() {
            crit(&format!("down:{name}"), alarm)
        } else {
            warn(&format!("down:{name}"), alarm)
        });
        return;
    }
    if s.role() == Role::Down {
        return;
    }
    if let Some(lag) = s.lag_txns.filter(|&lag| lag > t.lag_txns) {
        let secs = s
            .lag_s
            .map(|s| format!(" (~{})", units::duration_s(s)))
            .unwrap_or_default();
        out.push(warn(
            &format!("lag:{name}"),
            format!(
                "{name} {lag} txns behind the leader{secs}, threshold {}",
                t.lag_txns
            ),
        ));
    }
    let Some(sample) = s.sample() else { return };
    if let Some(n) = sample.outstanding().filter(|&n| n > t.outstanding_requests) {
        out.push(warn(
            &format!("outstanding:{name}"),
            format!(
                "{name} {n} outstanding requests, threshold {}",
                t.outstanding_requests
            ),
        ));
    }
    if let Some(l) = sample.latency().filter(|l| l.avg_ms > t.latency_ms as f64) {
        out.push(warn(
            &format!("latency:{name}"),
            format!(
                "{name} average latency {:.1} ms, threshold {} ms",
                l.avg_ms, t.latency_ms
            ),
        ));
    }
}

/// The zxid counter's exhaustion forces a leader election (apache/zookeeper ZOOKEEPER-2789).
fn wrap_alarm(c: &ClusterState) -> Option<Alarm> {
    let zxid = c.leader_zxid?;
    let used = f64::from(zxid.counter()) / COUNTER_MAX as f64;
    let left_s = wrap_forecast_s(c);
    let severity = if used >= WRAP_CRIT_FRACTION || left_s.is_some_and(|s| s < WRAP_CRIT_S) {
        Severity::Critical
    } else if used >= WRAP_WARN_FRACTION || left_s.is_some_and(|s| s < WRAP_WARN_S) {
        Severity::Warning
    } else {
        return None;
    };
    let forecast = match (left_s, c.writes_per_s) {
        (Some(s), Some(r)) => format!(
            ": forced election in ~{} at {} writes/s",
            units::duration_s(s),
            units::rate(r)
        ),
        _ => String::new(),
    };
    Some(Alarm {
        severity,
        key: "zxid-wrap".to_string(),
        text: format!(
            "zxid counter at {:.0}% of 2^32 in epoch {}{forecast}",
            used * 100.0,
            zxid.epoch()
        ),
    })
}

/// Seconds until the leader's zxid counter reaches 2^32 at the current write rate.
pub fn wrap_forecast_s(c: &ClusterState) -> Option<f64> {
    let zxid = c.leader_zxid?;
    let rate = c.writes_per_s.filter(|r| *r > 0.0)?;
    Some((COUNTER_MAX - u64::from(zxid.counter())) as f64 / rate)
}

fn crit(key: &str, text: String) -> Alarm {
    Alarm {
        severity: Severity::Critical,
        key: key.to_string(),
        text,
    }
}

fn warn(key: &str, text: String) -> Alarm {
    Alarm {
        severity: Severity::Warning,
        key: key.to_string(),
        text,
    }
}
