//! What commands produce: [`Output`] values, rendered as text for people or as one JSON object
//! per value for programs. Rendering is pure.

use base64::Engine;
use serde::Serialize;
use zk_proto::{Acl, Stat};

use super::acl::format_perms;
use super::parse::DataFormat;

/// A node's stat in readable units: zxids and session ids in hex, times in RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatView {
    pub czxid: String,
    pub ctime: String,
    pub mzxid: String,
    pub mtime: String,
    pub pzxid: String,
    pub cversion: i32,
    pub version: i32,
    pub aversion: i32,
    pub ephemeral_owner: String,
    pub data_length: i32,
    pub num_children: i32,
}

impl From<&Stat> for StatView {
    fn from(s: &Stat) -> Self {
        StatView {
            czxid: hex(s.czxid),
            ctime: rfc3339_ms(s.ctime),
            mzxid: hex(s.mzxid),
            mtime: rfc3339_ms(s.mtime),
            pzxid: hex(s.pzxid),
            cversion: s.cversion,
            version: s.version,
            aversion: s.aversion,
            ephemeral_owner: hex(s.ephemeral_owner),
            data_length: s.data_length,
            num_children: s.num_children,
        }
    }
}

/// One ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclView {
    pub scheme: String,
    pub id: String,
    pub perms: String,
}

impl From<&Acl> for AclView {
    fn from(a: &Acl) -> Self {
        AclView {
            scheme: a.id.scheme.clone(),
            id: a.id.id.clone(),
            perms: format_perms(a.perms),
        }
    }
}

/// Data as shown: `text` when it is UTF-8 (or forced), `hex` or `base64` otherwise; `null` for
/// a node created with null data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataView {
    pub encoding: &'static str,
    pub value: Option<String>,
}

impl DataView {
    pub fn new(data: Option<&[u8]>, format: DataFormat) -> DataView {
        let Some(bytes) = data else {
            return DataView {
                encoding: "null",
                value: None,
            };
        };
        let (encoding, value) = match format {
            DataFormat::Base64 => (
                "base64",
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ),
            DataFormat::Hex => ("hex", hex_dump(bytes)),
            DataFormat::Auto => match std::str::from_utf8(bytes) {
                Ok(s) => ("text", s.to_string()),
                Err(_) => ("hex", hex_dump(bytes)),
            },
        };
        DataView {
            encoding,
            value: Some(value),
        }
    }
}

/// One row of `diff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `only_a`, `only_b`, `data`, `acl`, `ephemeral`.
    pub kind: &'static str,
    /// Path relative to the compared roots (`/` for the roots themselves).
    pub path: String,
}

/// A value produced by a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// A short sentence (`Created /a`).
    Message {
        text: String,
    },
    /// Free text printed as is (help, config).
    Text {
        text: String,
    },
    Children {
        path: String,
        children: Vec<String>,
        stat: Option<StatView>,
    },
    Paths {
        paths: Vec<String>,
    },
    Data {
        path: String,
        data: DataView,
        stat: Option<StatView>,
    },
    Stat {
        path: String,
        stat: StatView,
    },
    Acl {
        path: String,
        acl: Vec<AclView>,
        stat: Option<StatView>,
    },
    Number {
        path: String,
        value: i64,
    },
    /// Lines of `tree`, already drawn.
    Tree {
        path: String,
        lines: Vec<String>,
    },
    Table {
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A watch event; `zxid` is hex when known.
    Event {
        cluster: String,
        event: String,
        path: String,
        zxid: Option<String>,
    },
    /// A session state change.
    Session {
        cluster: String,
        state: String,
    },
    Diff {
        a: String,
        b: String,
        lines: Vec<DiffLine>,
        compared: usize,
    },
    History {
        entries: Vec<(usize, String)>,
    },
}

impl Output {
    pub fn message(text: impl Into<String>) -> Output {
        Output::Message { text: text.into() }
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"kind\":\"error\",\"error\":\"{e}\"}}"))
    }

    /// Text for people; ends without a newline (the caller adds one per value).
    pub fn to_text(&self) -> String {
        match self {
            Output::Message { text } | Output::Text { text } => text.clone(),
            Output::Children { children, stat, .. } => with_stat(children.join("\n"), stat),
            Output::Paths { paths } => paths.join("\n"),
            Output::Data { data, stat, .. } => with_stat(data_text(data), stat),
            Output::Stat { stat, .. } => stat_text(stat),
            Output::Acl { acl, stat, .. } => with_stat(acl_text(acl), stat),
            Output::Number { value, .. } => value.to_string(),
            Output::Tree { lines, .. } => lines.join("\n"),
            Output::Table { headers, rows } => table_text(headers, rows),
            Output::Event {
                cluster,
                event,
                path,
                zxid,
            } => {
                let z = zxid.as_deref().unwrap_or("-");
                format!("WATCHER:: [{cluster}] {z} {event} {path}")
            }
            Output::Session { cluster, state } => format!("[{cluster}] session {state}"),
            Output::Diff {
                lines, compared, ..
            } => diff_text(lines, *compared),
            Output::History { entries } => {
                let l: Vec<String> = entries.iter().map(|(i, c)| format!("{i} - {c}")).collect();
                l.join("\n")
            }
        }
    }
}

fn with_stat(body: String, stat: &Option<StatView>) -> String {
    match stat {
        None => body,
        Some(s) if body.is_empty() => stat_text(s),
        Some(s) => format!("{body}\n{}", stat_text(s)),
    }
}

fn data_text(d: &DataView) -> String {
    d.value.clone().unwrap_or_else(|| "null".to_string())
}

/// zkCli's stat layout.
pub fn stat_text(s: &StatView) -> String {
    [
        format!("cZxid = {}", s.czxid),
        format!("ctime = {}", s.ctime),
        format!("mZxid = {}", s.mzxid),
        format!("mtime = {}", s.mtime),
        format!("pZxid = {}", s.pzxid),
        format!("cversion = {}", s.cversion),
        format!("dataVersion = {}", s.version),
        format!("aclVersion = {}", s.aversion),
        format!("ephemeralOwner = {}", s.ephemeral_owner),
        format!("dataLength = {}", s.data_length),
        format!("numChildren = {}", s.num_children),
    ]
    .join("\n")
}

fn acl_text(acl: &[AclView]) -> String {
    let l: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}:{}", a.scheme, a.id, a.perms))
        .collect();
    l.join("\n")
}

/// Columns padded to their widest cell; the last column is not padded.
pub fn table_text(headers: &[String], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut width = vec![0; cols];
    for r in std::iter::once(headers).chain(rows.iter().map(|r| r.as_slice())) {
        for (i, cell) in r.iter().enumerate().take(cols) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == cols {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = width[i])
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers)];
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

fn diff_text(lines: &[DiffLine], compared: usize) -> String {
    if lines.is_empty() {
        return format!("no differences ({compared} nodes compared)");
    }
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| {
            let mark = match l.kind {
                "only_a" => "-",
                "only_b" => "+",
                _ => "~",
            };
            let what = match l.kind {
                "data" | "acl" | "ephemeral" => format!(" ({})", l.kind),
                _ => String::new(),
            };
            format!("{mark} {}{what}", l.path)
        })
        .collect();
    out.push(format!(
        "{} differences ({compared} nodes compared)",
        lines.len()
    ));
    out.join("\n")
}

pub fn hex(v: i64) -> String {
    format!("0x{v:x}")
}

/// `xxd`-like: offset, 16 bytes in hex, printable ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let lines: Vec<String> = bytes
        .chunks(16)
        .enumerate()
        .map(|(i, chunk)| {
            let hexes: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}: {:<47}  {ascii}", i * 16, hexes.join(" "))
        })
        .collect();
    lines.join("\n")
}

/// Milliseconds since the epoch as `2024-11-25T01:31:00.123Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_732_498_260_123), "2024-11-25T01:31:00.123Z");
    }

    #[test]
    fn data_is_text_when_utf8_else_hex() {
        assert_eq!(
            DataView::new(Some(b"hi"), DataFormat::Auto).value.unwrap(),
            "hi"
        );
        let v = DataView::new(Some(&[0xff, 0x00, 0x41]), DataFormat::Auto);
        assert_eq!(v.encoding, "hex");
        assert!(v.value.unwrap().starts_with("00000000: ff 00 41"));
        assert_eq!(
            DataView::new(Some(b"hi"), DataFormat::Base64)
                .value
                .unwrap(),
            "aGk="
        );
        assert_eq!(DataView::new(None, DataFormat::Auto).encoding, "null");
    }

    #[test]
    fn tables_pad_columns() {
        let t = table_text(
            &["A".into(), "BB".into()],
            &[vec!["xxx".into(), "y".into()]],
        );
        assert_eq!(t, "A    BB\nxxx  y");
    }

    #[test]
    fn json_is_tagged() {
        let j = Output::message("hi").to_json();
        assert_eq!(j, r#"{"kind":"message","text":"hi"}"#);
    }
}
