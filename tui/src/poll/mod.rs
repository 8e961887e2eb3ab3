//! Pollers: one tokio task per server, each asking its server every interval, under a timeout,
//! and sending what it learned to the app as a [`Polled`] message.
//!
//! A poll asks `srvr` (allowed by Apache's default whitelist) and `mntr`; a command refused by
//! `4lw.commands.whitelist` is fetched from the AdminServer JSON instead when an admin URL is
//! known, and the refusal becomes a [`Hint`] naming the setting to change. Polling only reads:
//! it never sends `srst`/`crst` or anything else that changes a server.

pub mod net;
pub mod parse;
pub mod sample;

use std::io;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant, MissedTickBehavior};

pub use sample::{Hint, Sample, Source};

use parse::{Reply, Srvr};

/// One server to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index of the cluster in the app's list.
    pub cluster: usize,
    /// Index of the server within its cluster.
    pub server: usize,
    /// `host:port` of the client port.
    pub addr: String,
    /// AdminServer base URL for this server, if known.
    pub admin_url: Option<String>,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server answered.
    Up(Box<Sample>),
    /// Nothing answered: connection refused, reset, or timed out.
    Down(String),
}

/// A finished poll, sent to the app.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    pub cluster: usize,
    pub server: usize,
    pub outcome: Outcome,
    /// Wall time the poll took.
    pub elapsed_ms: u64,
}

/// How often and how patiently to poll.
#[derive(Debug, Clone, Copy)]
pub struct PollConfig {
    pub interval: Duration,
    pub timeout: Duration,
}

/// A refused `mntr` is asked again after this many rounds, in case the operator changed the
/// whitelist and restarted the server; in between it is not asked, to save a connection.
const RECHECK_ROUNDS: u32 = 30;

/// What a poller remembers about its server between rounds.
#[derive(Debug, Default, Clone)]
pub struct Caps {
    mntr_refused: bool,
    round: u32,
}

/// The AdminServer URL of server `index` of `count`, from a cluster's `admin_url`.
///
/// `admin_url` is either one URL per server separated by commas, or one URL whose scheme,
/// port and path apply to every server's host (the AdminServer usually listens on the same
/// port on every server). A one-server cluster uses it as it is.
pub fn admin_url_for(admin_url: &str, server_addr: &str, index: usize, count: usize) -> String {
    let urls: Vec<&str> = admin_url.split(',').map(str::trim).collect();
    if urls.len() > 1 {
        return urls.get(index).unwrap_or(&urls[0]).to_string();
    }
    if count <= 1 {
        return admin_url.to_string();
    }
    let host = server_addr.rsplit_once(':').map_or(server_addr, |(h, _)| h);
    let Some(rest) = admin_url.strip_prefix("http://") else {
        return admin_url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = authority.rsplit_once(':').map_or("8080", |(_, p)| p);
    format!("http://{host}:{port}{path}")
}

/// Polls one server once. Never fails: an unreachable server is [`Outcome::Down`].
pub async fn poll_once(target: &Target, caps: &mut Caps) -> Outcome {
    caps.round += 1;
    if caps.round >= RECHECK_ROUNDS {
        caps.round = 0;
        caps.mntr_refused = false;
    }
    let mut sample = Sample::default();
    // srvr is always asked: even refused, its answer proves the server is alive.
    let text = match net::four_letter(&target.addr, "srvr").await {
        Ok(text) => text,
        Err(e) => return Outcome::Down(describe(&e)),
    };
    let srvr_refused = match parse::classify(&text) {
        Reply::NotWhitelisted => true,
        Reply::NotServing => {
            sample.not_serving = true;
            false
        }
        Reply::Text(text) => match parse::parse_srvr(text) {
            Ok(srvr) => {
                sample.srvr = Some(srvr);
                sample.srvr_source = Some(Source::FourLw);
                false
            }
            Err(e) => return Outcome::Down(format!("unreadable srvr reply: {e}")),
        },
    };
    if !caps.mntr_refused && !sample.not_serving {
        if let Ok(text) = net::four_letter(&target.addr, "mntr").await {
            match parse::classify(&text) {
                Reply::NotWhitelisted => caps.mntr_refused = true,
                Reply::NotServing => sample.not_serving = true,
                Reply::Text(text) => {
                    sample.mntr = Some(parse::parse_mntr(text));
                    sample.mntr_source = Some(Source::FourLw);
                }
            }
        }
    }
    if srvr_refused || caps.mntr_refused {
        from_admin(target, srvr_refused, caps.mntr_refused, &mut sample).await;
    }
    Outcome::Up(Box::new(sample))
}

/// Fills what the whitelist refused from the AdminServer, and records hints.
async fn from_admin(target: &Target, need_srvr: bool, need_mntr: bool, sample: &mut Sample) {
    let Some(url) = &target.admin_url else {
        if need_srvr {
            sample.hints.push(Hint::SrvrRefused { admin_used: false });
        }
        if need_mntr {
            sample.hints.push(Hint::MntrRefused { admin_used: false });
        }
        return;
    };
    if need_srvr {
        let got = admin_get(url, "/commands/srvr", parse::parse_admin_srvr).await;
        let used = keep(got, url, sample, |s, srvr: Srvr| {
            s.srvr = Some(srvr);
            s.srvr_source = Some(Source::Admin);
        });
        sample.hints.push(Hint::SrvrRefused { admin_used: used });
    }
    if need_mntr && !sample.not_serving {
        let got = admin_get(url, "/commands/mntr", parse::parse_admin_mntr).await;
        let used = keep(got, url, sample, |s, mntr| {
            s.mntr = Some(mntr);
            s.mntr_source = Some(Source::Admin);
        });
        sample.hints.push(Hint::MntrRefused { admin_used: used });
    }
}

enum AdminError {
    NotServing,
    Other(String),
}

async fn admin_get<T>(
    url: &str,
    path: &str,
    parse: fn(&str) -> Result<T, parse::ParseError>,
) -> Result<T, AdminError> {
    let response = net::http_get(url, path)
        .await
        .map_err(|e| AdminError::Other(describe(&e)))?;
    if response.status != 200 {
        return Err(AdminError::Other(format!("HTTP {}", response.status)));
    }
    parse(&response.body).map_err(|e| {
        if parse::is_not_serving(&e) {
            AdminError::NotServing
        } else {
            AdminError::Other(e.to_string())
        }
    })
}

/// Stores an AdminServer result in the sample; returns whether it was usable.
fn keep<T>(
    got: Result<T, AdminError>,
    url: &str,
    sample: &mut Sample,
    store: impl FnOnce(&mut Sample, T),
) -> bool {
    match got {
        Ok(value) => {
            store(sample, value);
            true
        }
        Err(AdminError::NotServing) => {
            sample.not_serving = true;
            true
        }
        Err(AdminError::Other(error)) => {
            sample.hints.push(Hint::AdminFailed {
                url: url.to_string(),
                error,
            });
            false
        }
    }
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        _ => e.to_string(),
    }
}

/// Starts one poller task per target. Each sends a [`Polled`] (converted into the app's
/// message type) after every round and stops when the receiver is gone. A change on `refresh`
/// makes every poller poll at once.
pub fn spawn_all<M>(
    targets: Vec<Target>,
    config: PollConfig,
    tx: mpsc::Sender<M>,
    refresh: watch::Receiver<u64>,
) -> Vec<JoinHandle<()>>
where
    M: From<Polled> + Send + 'static,
{
    targets
        .into_iter()
        .map(|target| tokio::spawn(run_target(target, config, tx.clone(), refresh.clone())))
        .collect()
}

async fn run_target<M: From<Polled>>(
    target: Target,
    config: PollConfig,
    tx: mpsc::Sender<M>,
    mut refresh: watch::Receiver<u64>,
) {
    let mut caps = Caps::default();
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = refresh.changed() => if changed.is_err() { return },
        }
        let started = Instant::now();
        let outcome = match timeout(config.timeout, poll_once(&target, &mut caps)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Down(format!("no reply within {} ms", config.timeout.as_millis())),
        };
        let polled = Polled {
            cluster: target.cluster,
            server: target.server,
            outcome,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        tracing::trace!(addr = %target.addr, elapsed_ms = polled.elapsed_ms, "polled");
        if tx.send(M::from(polled)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_url_per_server() {
        assert_eq!(
            admin_url_for("http://10.0.0.1:8080", "10.0.0.2:2181", 1, 3),
            "http://10.0.0.2:8080"
        );
        assert_eq!(
            admin_url_for("http://127.0.0.1:9000", "127.0.0.1:2181", 0, 1),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            admin_url_for("http://a:1, http://b:2", "b:2181", 1, 2),
            "http://b:2"
        );
        assert_eq!(
            admin_url_for("http://a:81/zk", "c:2181", 2, 3),
            "http://c:81/zk"
        );
    }
}
