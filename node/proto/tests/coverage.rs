//! Keeps the property tests complete as the codec grows.
//!
//! Goal: a record or enum variant added to `src/` without a strategy would silently escape
//! the round-trip and never-panic properties. Method: read the sources as text, list every
//! `jute_record!` struct, every hand-written `impl Jute for`, and every variant of the typed
//! enums, and require each to be named in the test files.

const SOURCES: &[(&str, &str)] = &[
    ("data.rs", include_str!("../src/data.rs")),
    ("proto.rs", include_str!("../src/proto.rs")),
    ("txn.rs", include_str!("../src/txn.rs")),
    ("request.rs", include_str!("../src/request.rs")),
];
const ROUNDTRIP: &str = include_str!("roundtrip.rs");
const ARBITRARY: &str = include_str!("arbitrary_bytes.rs");
const STRATEGIES: &str = include_str!("common/mod.rs");

/// Names of the structs declared by `jute_record!` or given a hand-written `impl Jute for`.
fn record_names(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_macro = false;
    for line in src.lines() {
        let t = line.trim();
        if t.starts_with("jute_record!") {
            in_macro = true;
        }
        if in_macro {
            if let Some(rest) = t.strip_prefix("pub struct ") {
                names.push(rest.split([' ', '{']).next().unwrap().to_string());
                in_macro = false;
            }
        }
        if let Some(rest) = t.strip_prefix("impl Jute for ") {
            names.push(rest.split([' ', '{']).next().unwrap().to_string());
        }
    }
    names
}

/// Variant names of `pub enum <name>` in `src`.
fn variants(src: &str, name: &str) -> Vec<String> {
    let start = src
        .find(&format!("pub enum {name} {{"))
        .unwrap_or_else(|| panic!("enum {name} not found"));
    let body = &src[start..];
    let body = &body[body.find('{').unwrap() + 1..];
    let mut depth = 0;
    let mut out = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        if depth == 0 && t.starts_with('}') {
            break;
        }
        if depth == 0 && !t.is_empty() && !t.starts_with("//") && !t.starts_with('#') {
            let name: String = t.chars().take_while(|c| c.is_alphanumeric()).collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        depth += t.matches('{').count() as i32 - t.matches('}').count() as i32;
        depth += t.matches('(').count() as i32 - t.matches(')').count() as i32;
    }
    out
}

fn named_as_type(text: &str, name: &str) -> bool {
    text.contains(&format!(": {name},")) || text.contains(&format!(": {name}\n"))
}

#[test]
fn every_record_has_roundtrip_and_arbitrary_properties() {
    let mut missing = Vec::new();
    let mut count = 0;
    for (file, src) in SOURCES {
        for name in record_names(src) {
            count += 1;
            if !named_as_type(ROUNDTRIP, &name) {
                missing.push(format!("{file}: {name} has no round-trip property"));
            }
            if !named_as_type(ARBITRARY, &name) {
                missing.push(format!("{file}: {name} has no arbitrary-bytes property"));
            }
        }
    }
    assert!(
        count >= 50,
        "only {count} records found: is the parser stale?"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_enum_variant_has_a_strategy() {
    let request = SOURCES[3].1;
    let txn = SOURCES[2].1;
    let mut missing = Vec::new();
    for (src, enum_name) in [
        (request, "Request"),
        (request, "MultiOp"),
        (request, "MultiResult"),
        (request, "Response"),
        (txn, "Txn"),
    ] {
        let vs = variants(src, enum_name);
        assert!(vs.len() >= 7, "{enum_name}: only {vs:?} found");
        for v in vs {
            if !STRATEGIES.contains(&format!("{enum_name}::{v}")) {
                missing.push(format!("{enum_name}::{v}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no strategy generates: {}",
        missing.join(", ")
    );
}
