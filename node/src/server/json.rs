//! A JSON value with ordered keys, printed the way Apache's AdminServer prints it (Jackson's
//! `DefaultPrettyPrinter`): objects one key per line with two-space indents and ` : `, arrays
//! inline (`[ 1, 2 ]`, `[ ]`), empty objects `{ }`. Key order is the order of insertion, so an
//! answer lists its keys in Apache's order.

use std::fmt::Write as _;

use super::stats::java_double;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}
impl From<i64> for Json {
    fn from(v: i64) -> Json {
        Json::Int(v)
    }
}
impl From<i32> for Json {
    fn from(v: i32) -> Json {
        Json::Int(v as i64)
    }
}
impl From<u32> for Json {
    fn from(v: u32) -> Json {
        Json::Int(v as i64)
    }
}
impl From<u64> for Json {
    fn from(v: u64) -> Json {
        Json::Int(v.min(i64::MAX as u64) as i64)
    }
}
impl From<usize> for Json {
    fn from(v: usize) -> Json {
        Json::Int(v.min(i64::MAX as usize) as i64)
    }
}
impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::Float(v)
    }
}
impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_string())
    }
}
impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Array(v.into_iter().map(Into::into).collect())
    }
}

/// Builds an object key by key.
#[derive(Debug, Default, Clone)]
pub struct Obj(pub Vec<(String, Json)>);

impl Obj {
    pub fn new() -> Obj {
        Obj(Vec::new())
    }

    /// Sets `key`, keeping its first position if it is already there (as a Java
    /// `LinkedHashMap` does).
    pub fn put(&mut self, key: impl Into<String>, v: impl Into<Json>) -> &mut Obj {
        let key = key.into();
        let v = v.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key, v)),
        }
        self
    }

    pub fn with(mut self, key: impl Into<String>, v: impl Into<Json>) -> Obj {
        self.put(key, v);
        self
    }
}

impl From<Obj> for Json {
    fn from(o: Obj) -> Json {
        Json::Object(o.0)
    }
}

impl Json {
    /// Jackson's pretty-printed text.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) if f.is_finite() => out.push_str(&java_double(*f)),
            // Jackson writes non-finite doubles as strings.
            Json::Float(f) => {
                let _ = write!(out, "\"{}\"", java_double(*f));
            }
            Json::Str(s) => write_str(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[ ]"),
            Json::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push_str(" ]");
            }
            Json::Object(fields) if fields.is_empty() => out.push_str("{ }"),
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('\n');
                    indent(out, depth + 1);
                    write_str(out, k);
                    out.push_str(" : ");
                    v.write(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout of a captured Apache 3.8 `/commands/connections` answer.
    #[test]
    fn prints_like_jackson() {
        let conn = Obj::new()
            .with("remote_socket_address", "127.0.0.1:59106")
            .with("session_id", 72057666596569089i64);
        let o = Obj::new()
            .with(
                "connections",
                Json::Array(vec![conn.clone().into(), conn.into()]),
            )
            .with("secure_connections", Json::Array(vec![]))
            .with("map", Obj::new())
            .with("ids", vec![1i64, 2])
            .with("avg", 0.0)
            .with("command", "connections")
            .with("error", Json::Null);
        let want = r#"{
  "connections" : [ {
    "remote_socket_address" : "127.0.0.1:59106",
    "session_id" : 72057666596569089
  }, {
    "remote_socket_address" : "127.0.0.1:59106",
    "session_id" : 72057666596569089
  } ],
  "secure_connections" : [ ],
  "map" : { },
  "ids" : [ 1, 2 ],
  "avg" : 0.0,
  "command" : "connections",
  "error" : null
}"#;
        assert_eq!(Json::from(o).pretty(), want);
    }

    #[test]
    fn put_keeps_the_first_position() {
        let mut o = Obj::new();
        o.put("error", "x")
            .put("command", "leader")
            .put("error", "y");
        assert_eq!(
            Json::from(o).pretty(),
            "{\n  \"error\" : \"y\",\n  \"command\" : \"leader\"\n}"
        );
    }
}
