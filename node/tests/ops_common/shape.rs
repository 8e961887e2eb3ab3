//! Comparing answers by shape, values aside: line labels, mntr keys with the kind of each
//! value, and JSON structure.

use serde_json::Value;

/// The label of each line: the text before the first `:` or `=` (whole line if none).
pub fn labels(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let cut = l.find([':', '=']).unwrap_or(l.len());
            l[..cut].to_string()
        })
        .collect()
}

pub fn value_kind(v: &str) -> &'static str {
    if v.parse::<i64>().is_ok() {
        "int"
    } else if v.parse::<f64>().is_ok() || v == "NaN" {
        "float"
    } else {
        "text"
    }
}

/// mntr as (key, kind of value). The per-namespace keys (`zk_avg_a_read_per_namespace`...)
/// are there because both servers ran the same operations under `/a`.
pub fn mntr_shape(text: &str) -> Vec<(String, &'static str)> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), value_kind(v)))
        .collect()
}

/// Objects whose keys are data (session ids, paths, times, server ids), not field names.
pub const DYNAMIC_MAPS: &[&str] = &[
    "expiry_time_to_session_ids",
    "session_id_to_ephemeral_paths",
    "session_id_to_watched_paths",
    "path_to_session_ids",
    "current_config",
];

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts `ours` has `apache`'s shape: same keys (recursively), same value kinds; element
/// shapes of arrays and dynamic maps when both have elements.
pub fn assert_same_shape(at: &str, apache: &Value, ours: &Value) {
    assert_eq!(
        kind(apache),
        kind(ours),
        "{at}: apache {apache} vs ours {ours}"
    );
    match (apache, ours) {
        (Value::Object(a), Value::Object(o)) => {
            let dynamic = DYNAMIC_MAPS.iter().any(|k| at.ends_with(k));
            if dynamic {
                if let (Some(av), Some(ov)) = (a.values().next(), o.values().next()) {
                    for v in o.values() {
                        assert_same_shape(&format!("{at}.*"), av, v);
                    }
                    let _ = ov;
                }
                return;
            }
            let ak: Vec<&String> = a.keys().collect();
            let ok: Vec<&String> = o.keys().collect();
            assert_eq!(ak, ok, "{at}: keys (in order) differ");
            for k in ak {
                assert_same_shape(&format!("{at}.{k}"), &a[k], &o[k]);
            }
        }
        (Value::Array(a), Value::Array(o)) => {
            if let Some(first) = a.first() {
                for v in o {
                    assert_same_shape(&format!("{at}[]"), first, v);
                }
            }
        }
        _ => {}
    }
}
