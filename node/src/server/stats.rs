//! Server statistics as `srvr`, `stat` and `mntr` report them.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Stats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    pub latency_total_ms: u64,
    pub latency_count: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            packets_received: 0,
            packets_sent: 0,
            latency_min_ms: u64::MAX,
            latency_max_ms: 0,
            latency_total_ms: 0,
            latency_count: 0,
        }
    }
}

impl Stats {
    pub fn record_latency(&mut self, d: Duration) {
        let ms = d.as_millis() as u64;
        self.latency_min_ms = self.latency_min_ms.min(ms);
        self.latency_max_ms = self.latency_max_ms.max(ms);
        self.latency_total_ms += ms;
        self.latency_count += 1;
    }

    pub fn min(&self) -> u64 {
        if self.latency_count == 0 {
            0
        } else {
            self.latency_min_ms
        }
    }

    /// Average latency, rounded to 4 places the way Apache prints it.
    pub fn avg(&self) -> f64 {
        if self.latency_count == 0 {
            return 0.0;
        }
        let a = self.latency_total_ms as f64 / self.latency_count as f64;
        (a * 10000.0).round() / 10000.0
    }

    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}

/// Java's `Double.toString` for the values we print: always a fractional part.
pub fn java_double(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}
