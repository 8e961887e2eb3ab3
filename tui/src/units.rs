//! Formatting of numbers for people: durations, sizes, counts, clock times. Pure.

/// `850ms`, `12s`, `3m 20s`, `5h 02m`, `2d 4h`, `3.1y`.
pub fn duration_s(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_string();
    }
    if seconds < 1.0 {
        return format!("{}ms", (seconds * 1000.0).round() as u64);
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        86_400..=31_535_999 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        _ => format!("{:.1}y", seconds / 31_536_000.0),
    }
}

/// `duration_s` for milliseconds.
pub fn duration_ms(ms: u64) -> String {
    duration_s(ms as f64 / 1000.0)
}

/// `512B`, `1.5K`, `23.4M`, `1.2G` (powers of 1024).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// `999`, `12.3k`, `4.5M`, `6.7G`.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// A rate such as writes per second: `0`, `0.4`, `12`, `3.4k`.
pub fn rate(r: f64) -> String {
    if !r.is_finite() || r < 0.0 {
        "-".to_string()
    } else if r == 0.0 {
        "0".to_string()
    } else if r < 10.0 {
        format!("{r:.1}")
    } else {
        count(r.round() as u64)
    }
}

/// `HH:MM:SS` (UTC) of a Unix time in milliseconds.
pub fn clock(unix_ms: u64) -> String {
    let s = unix_ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration_s(0.25), "250ms");
        assert_eq!(duration_s(42.0), "42s");
        assert_eq!(duration_s(200.0), "3m 20s");
        assert_eq!(duration_s(7300.0), "2h 01m");
        assert_eq!(duration_s(190_000.0), "2d 4h");
        assert_eq!(duration_s(1e9), "31.7y");
        assert_eq!(bytes(100), "100B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(2.345), "2.3");
        assert_eq!(rate(1234.0), "1234");
        assert_eq!(clock(3_723_000), "01:02:03");
    }
}
