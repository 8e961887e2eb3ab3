//! One poll's result for one server, merged from whatever sources answered.

use super::parse::{Latency, Mntr, Mode, Srvr};
use crate::zxid::Zxid;

/// Where a piece of data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A four-letter word on the client port.
    FourLw,
    /// The AdminServer's JSON over HTTP.
    Admin,
}

/// Something the operator can change on the server to let zk-top see more. Each names the
/// exact setting, because "shows nothing" is the most common monitor complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// `srvr` is refused on the client port.
    SrvrRefused { admin_used: bool },
    /// `mntr` is refused on the client port.
    MntrRefused { admin_used: bool },
    /// The AdminServer was needed and did not answer.
    AdminFailed { url: String, error: String },
}

impl Hint {
    /// One line for the screen.
    pub fn text(&self) -> String {
        const WHITELIST: &str = "4lw.commands.whitelist=srvr,mntr";
        match self {
            Hint::SrvrRefused { admin_used: true } => {
                format!("srvr refused by the 4lw whitelist; read from the AdminServer (or set {WHITELIST})")
            }
            Hint::SrvrRefused { admin_used: false } => format!(
                "srvr refused: set {WHITELIST} or admin.enableServer=true (and admin_url / --admin-url)"
            ),
            Hint::MntrRefused { admin_used: true } => {
                format!("mntr refused by the 4lw whitelist; read from the AdminServer (or set {WHITELIST})")
            }
            Hint::MntrRefused { admin_used: false } => format!(
                "no watches/data size/uptime: mntr refused; set {WHITELIST} or admin.enableServer=true (and admin_url / --admin-url)"
            ),
            Hint::AdminFailed { url, error } => format!(
                "AdminServer {url}: {error}; check admin.enableServer=true and admin.serverPort"
            ),
        }
    }
}

/// What one server said in one poll round.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// False when the server answered "not currently serving requests" (electing, no quorum).
    pub not_serving: bool,
    pub srvr: Option<Srvr>,
    pub srvr_source: Option<Source>,
    pub mntr: Option<Mntr>,
    pub mntr_source: Option<Source>,
    pub hints: Vec<Hint>,
}

impl Sample {
    pub fn mode(&self) -> Option<Mode> {
        if self.not_serving {
            return None;
        }
        self.srvr
            .as_ref()
            .map(|s| s.mode)
            .or_else(|| self.mntr.as_ref().and_then(|m| m.server_state))
    }

    pub fn zxid(&self) -> Option<Zxid> {
        self.srvr.as_ref().map(|s| s.zxid)
    }

    pub fn latency(&self) -> Option<Latency> {
        if let Some(s) = &self.srvr {
            return Some(s.latency);
        }
        let m = self.mntr.as_ref()?;
        Some(Latency {
            min_ms: m.min_latency_ms?,
            avg_ms: m.avg_latency_ms?,
            max_ms: m.max_latency_ms?,
        })
    }

    pub fn outstanding(&self) -> Option<u64> {
        self.pick(|s| s.outstanding, |m| m.outstanding)
    }

    pub fn connections(&self) -> Option<u64> {
        self.pick(|s| s.connections, |m| m.connections)
    }

    pub fn znodes(&self) -> Option<u64> {
        self.pick(|s| s.node_count, |m| m.znode_count)
    }

    pub fn received(&self) -> Option<u64> {
        self.pick(|s| s.received, |m| m.packets_received)
    }

    pub fn sent(&self) -> Option<u64> {
        self.pick(|s| s.sent, |m| m.packets_sent)
    }

    pub fn version(&self) -> Option<&str> {
        match &self.srvr {
            Some(s) => Some(&s.version),
            None => self.mntr.as_ref().and_then(|m| m.version.as_deref()),
        }
    }

    pub fn metric<T>(&self, f: impl Fn(&Mntr) -> Option<T>) -> Option<T> {
        self.mntr.as_ref().and_then(f)
    }

    /// Where the bulk of the data came from: `4lw`, `admin` or `4lw+admin`.
    pub fn source_label(&self) -> &'static str {
        let sources = [self.srvr_source, self.mntr_source];
        let four = sources.contains(&Some(Source::FourLw));
        let admin = sources.contains(&Some(Source::Admin));
        match (four, admin) {
            (true, true) => "4lw+admin",
            (false, true) => "admin",
            (true, false) => "4lw",
            (false, false) => "-",
        }
    }

    fn pick(&self, s: impl Fn(&Srvr) -> u64, m: impl Fn(&Mntr) -> Option<u64>) -> Option<u64> {
        self.srvr
            .as_ref()
            .map(s)
            .or_else(|| self.mntr.as_ref().and_then(m))
    }
}
