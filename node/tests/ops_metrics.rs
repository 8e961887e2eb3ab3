//! The Prometheus endpoint (`metrics_port`, zoo.cfg `metricsProvider.httpPort`) serves the text
//! exposition format with Apache's metric names, so dashboards and alerts written for Apache's
//! PrometheusMetricsProvider work unchanged.
//!
//! Method: start zk-node with the endpoint on, run client operations, scrape `/metrics`, check
//! the format line by line, the names Apache exports (its ServerMetrics and registerMetrics
//! names: gauges, counters, summaries with quantiles), agreement with `mntr`, and that scraping
//! resets nothing. Debian's Apache package lacks the Prometheus provider's jars, so Apache's
//! names come from a live Apache's `mntr` (every mntr metric is a Prometheus family there) when
//! Apache is installed, and from the list below always.

mod ops_common;

use std::collections::{BTreeMap, BTreeSet};

use ops_common::*;

/// Families every Apache 3.8 server exports (PrometheusMetricsProvider, sample names without
/// the `zk_` of mntr), with their types.
const MUST_HAVE: &[(&str, &str)] = &[
    ("znode_count", "gauge"),
    ("num_alive_connections", "gauge"),
    ("packets_received", "gauge"),
    ("packets_sent", "gauge"),
    ("outstanding_requests", "gauge"),
    ("watch_count", "gauge"),
    ("ephemerals_count", "gauge"),
    ("approximate_data_size", "gauge"),
    ("global_sessions", "gauge"),
    ("local_sessions", "gauge"),
    ("avg_latency", "gauge"),
    ("min_latency", "gauge"),
    ("max_latency", "gauge"),
    ("uptime", "gauge"),
    ("open_file_descriptor_count", "gauge"),
    ("max_file_descriptor_count", "gauge"),
    ("last_client_response_size", "gauge"),
    ("connection_request_count", "counter"),
    ("response_bytes", "counter"),
    ("commit_count", "counter"),
    ("readlatency", "summary"),
    ("updatelatency", "summary"),
    ("propagation_latency", "summary"),
    ("fsynctime", "summary"),
    ("snapshottime", "summary"),
    ("dbinittime", "summary"),
    ("write_per_namespace", "summary"),
    ("read_per_namespace", "summary"),
];

struct Family {
    kind: String,
    samples: Vec<(String, f64)>,
}

/// Parses the text format strictly: HELP then TYPE before each family's samples; sample
/// names belong to the family (`_count`/`_sum` for summaries); values are floats.
fn parse(text: &str) -> BTreeMap<String, Family> {
    let mut out: BTreeMap<String, Family> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            let t = lines
                .next()
                .unwrap_or_else(|| panic!("HELP without TYPE: {line}"));
            let kind = t
                .strip_prefix(&format!("# TYPE {name} "))
                .unwrap_or_else(|| panic!("TYPE must follow HELP for {name}: {t}"));
            assert!(["gauge", "counter", "summary"].contains(&kind), "{t}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name {name}"
            );
            let prev = out.insert(
                name.clone(),
                Family {
                    kind: kind.to_string(),
                    samples: Vec::new(),
                },
            );
            assert!(prev.is_none(), "family {name} listed twice");
            current = Some(name);
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let fam = current
            .clone()
            .unwrap_or_else(|| panic!("sample before any family: {line}"));
        let (sample, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample {line}"));
        let value: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let name = sample.split('{').next().unwrap();
        let kind = out[&fam].kind.clone();
        let ok = name == fam
            || (kind == "summary"
                && (name == format!("{fam}_count") || name == format!("{fam}_sum")));
        assert!(ok, "sample {sample} outside its family {fam}");
        if let Some(labels) = sample.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(
                    labels.starts_with('{') && labels.ends_with(",}"),
                    "labels as simpleclient 0.9 writes them: {sample}"
                );
            }
        }
        out.get_mut(&fam)
            .unwrap()
            .samples
            .push((sample.to_string(), value));
    }
    out
}

fn scrape(port: u16) -> BTreeMap<String, Family> {
    let (status, headers, body) = http(port, "GET", "/metrics");
    assert_eq!(status, 200, "{body}");
    let ct = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(ct, Some("text/plain; version=0.0.4; charset=utf-8"));
    parse(&body)
}

/// The value of sample `name` (a family's own sample, or a summary's `_count`/`_sum`).
fn value(m: &BTreeMap<String, Family>, name: &str) -> f64 {
    let family = name
        .strip_suffix("_count")
        .or_else(|| name.strip_suffix("_sum"))
        .filter(|f| m.get(*f).is_some_and(|f| f.kind == "summary"))
        .unwrap_or(name);
    m[family]
        .samples
        .iter()
        .find(|(s, _)| s == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no sample {name}"))
}

#[test]
fn prometheus_endpoint_has_apache_names_and_format() {
    let node = start_zk_node("four_letter_words = [\"*\"]\n", false, true);
    let port = node.metrics_port.unwrap();
    let _clients = workload(node.client_port);
    let m = scrape(port);
    for (name, kind) in MUST_HAVE {
        let f = m.get(*name).unwrap_or_else(|| panic!("no family {name}"));
        assert_eq!(f.kind, *kind, "{name}");
    }
    // Summaries: the median (basic) or 0.5/0.9/0.99 (advanced), then _count and _sum.
    let q: Vec<&str> = m["readlatency"]
        .samples
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(
        q,
        [
            "readlatency{quantile=\"0.5\",}",
            "readlatency{quantile=\"0.9\",}",
            "readlatency{quantile=\"0.99\",}",
            "readlatency_count",
            "readlatency_sum"
        ]
    );
    assert!(
        value(&m, "readlatency_count") >= 4.0,
        "the workload's reads are counted"
    );
    assert!(
        value(&m, "updatelatency_count") >= 5.0,
        "the workload's writes are counted"
    );
    let q: Vec<&str> = m["fsynctime"]
        .samples
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(
        q,
        [
            "fsynctime{quantile=\"0.5\",}",
            "fsynctime_count",
            "fsynctime_sum"
        ]
    );
    // Per-namespace summaries, labelled by the top-level znode (`key`), Apache's byte counts.
    let ns: Vec<(String, f64)> = m["read_per_namespace"].samples.clone();
    assert_eq!(
        ns.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        [
            "read_per_namespace{key=\"a\",quantile=\"0.5\",}",
            "read_per_namespace_count{key=\"a\",}",
            "read_per_namespace_sum{key=\"a\",}"
        ]
    );
    assert_eq!((ns[1].1, ns[2].1), (4.0, 306.0));
    // The same numbers as mntr.
    let mntr = node.four("mntr");
    let get = |k: &str| -> f64 {
        mntr.lines()
            .find_map(|l| l.strip_prefix(&format!("zk_{k}\t")))
            .unwrap()
            .parse()
            .unwrap()
    };
    for k in [
        "znode_count",
        "ephemerals_count",
        "watch_count",
        "global_sessions",
        "approximate_data_size",
    ] {
        assert_eq!(value(&m, k), get(k), "{k}");
    }
    assert_eq!(
        value(&m, "znode_count"),
        9.0,
        "Apache's count for this tree"
    );
    assert_eq!(value(&m, "ephemerals_count"), 1.0);
    // Scraping changes nothing but time: packet counters only grow.
    let before = value(&m, "packets_received");
    let again = scrape(port);
    assert!(value(&again, "packets_received") >= before);
    assert_eq!(
        value(&again, "readlatency_count"),
        value(&m, "readlatency_count")
    );
    // Only /metrics is served, as by Apache's provider.
    assert_eq!(http(port, "GET", "/").0, 404);
    assert_eq!(http(port, "GET", "/metrics/x").0, 404);

    // With Apache installed: every metric Apache's mntr prints is a family here too.
    if !apache_available("ops_metrics (Apache names)") {
        return;
    }
    let apache = start_apache("4lw.commands.whitelist=mntr\n");
    let names: BTreeSet<String> = apache
        .four("mntr")
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, _)| k.trim_start_matches("zk_").to_string())
        .filter(|k| !["version", "server_state"].contains(&k.as_str()))
        .collect();
    let mut missing = Vec::new();
    for k in &names {
        // A gauge such as avg_latency is its own family; avg_X of a summary belongs to X.
        let prefixes = [
            "avg_", "min_", "max_", "cnt_", "sum_", "p50_", "p95_", "p99_", "p999_",
        ];
        let family = match m.contains_key(k.as_str()) {
            true => k.as_str(),
            false => prefixes.iter().find_map(|p| k.strip_prefix(p)).unwrap_or(k),
        };
        if !m.contains_key(family) {
            missing.push(family.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "families Apache has and zk-node lacks: {missing:?}"
    );
}
