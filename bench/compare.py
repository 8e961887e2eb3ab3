#!/usr/bin/env python3
"""Helpers for bench/compare.sh (standard library only).

  compare.py fsync-probe DIR [COUNT]      fdatasync latency of 4 KiB appends in DIR (JSON)
  compare.py brief < REPORT               one line from a `zksh bench --json` report
  compare.py machine FILE KEY=VALUE...    write the machine description (JSON)
  compare.py machine-set FILE KEY=VALUE...  add keys to it
  compare.py show-machine FILE            print it
  compare.py value RESULTS SERVER MEASURE FIELD [TOPOLOGY]
                                          median over rounds of one field (e.g. throughput)
  compare.py table RESULTS MACHINE        the ratio tables (zk-node / Apache) and the machine

RESULTS is a JSON-lines file; each line is one measurement of one round:
  {"topology": "standalone"|"ensemble", "server": "apache"|"zk-node", "measure": NAME,
   "round": N, "report": {zksh bench --json}}
  {"topology": ..., "server": ..., "measure": NAME, "round": N, "value": NUMBER}
"""

import json
import os
import statistics
import sys
import time


def fsync_probe(directory, count=200):
    """Appends 4 KiB and fdatasyncs, COUNT times, like a transaction log does per group."""
    path = os.path.join(directory, "fsync-probe")
    block = b"\0" * 4096
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(count):
            os.write(fd, block)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            samples.append((time.perf_counter() - t0) * 1000.0)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()

    def q(p):
        return samples[min(len(samples) - 1, int(p * len(samples)))]

    print(json.dumps({"count": count, "mean_ms": statistics.mean(samples),
                      "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": samples[-1]}))


def load(results):
    rows = []
    with open(results) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def field(row, path):
    """`throughput`, `latency_ms.p99`, `server_us_per_op` / `client_us_per_op` (CPU time per
    operation), or the scalar `value`."""
    if "value" in row:
        return row["value"]
    if path in ("server_us_per_op", "client_us_per_op"):
        cpu = row.get(path.split("_")[0] + "_cpu_s")
        ops = row["report"].get("ops")
        return cpu * 1e6 / ops if cpu is not None and ops else None
    v = row["report"]
    for part in path.split("."):
        if v is None:
            return None
        v = v.get(part)
    return v


def values(rows, server, measure, path, topology="standalone"):
    out = []
    for r in rows:
        if (r["server"] == server and r["measure"] == measure
                and r.get("topology", "standalone") == topology):
            v = field(r, path)
            if v is not None:
                out.append(float(v))
    return out


def median(xs):
    return statistics.median(xs) if xs else None


# (label, measure, field, unit, target, better): the rows of the table, in order.
# `better` says which direction is good for zk-node: "higher" ratios or "lower" ones.
ROWS = [
    ("create throughput, 1 KiB", "create", "throughput", "ops/s", ">= 3x", "higher"),
    ("set throughput, 1 KiB", "set", "throughput", "ops/s", ">= 3x", "higher"),
    ("get throughput, 1 KiB", "get", "throughput", "ops/s", ">= 3x", "higher"),
    ("server CPU per create", "create", "server_us_per_op", "us", "", "lower"),
    ("server CPU per set", "set", "server_us_per_op", "us", "", "lower"),
    ("server CPU per get", "get", "server_us_per_op", "us", "", "lower"),
    ("zksh's own CPU per get (same client)", "get", "client_us_per_op", "us", "", "lower"),
    ("set p99 at {rate}", "set_at_rate", "latency_ms.p99", "ms", "<= 0.3x", "lower"),
    ("watch notification p99", "watch", "latency_ms.p99", "ms", "<= 0.5x", "lower"),
    ("memory per znode after load", "rss_per_znode_load", "value", "B", "<= 0.3x", "lower"),
    ("memory per znode after restart", "rss_per_znode_restart", "value", "B", "<= 0.3x",
     "lower"),
    ("start to serving (empty)", "start_ms", "value", "ms", "<= 0.05x", "lower"),
    ("recovery of {znodes} znodes", "recover_ms", "value", "ms", "<= 0.3x", "lower"),
    ("load {znodes} znodes (create 100 B)", "load", "throughput", "ops/s", "", "higher"),
    ("leader kill to writes served", "failover_ms", "value", "ms", "<= 0.5x", "lower"),
]

MACHINE_KEYS = ["cpu", "cores", "memory", "disk", "fsync", "fsync_end", "load", "load_end",
                "kernel", "apache", "zk_node", "settings", "ensemble"]


def brief(report):
    lat = report.get("latency_ms") or {}
    errs = report.get("errors", 0)
    codes = report.get("errors_by_code") or {}
    line = (f"{report['throughput']:>10,.0f} ops/s  p50 {lat.get('p50', 0):.3f}  "
            f"p99 {lat.get('p99', 0):.3f}  max {lat.get('max', 0):.3f} ms  errors {errs}")
    if codes:
        line += " " + json.dumps(codes)
    return line


def machine_write(path, pairs, update):
    m = {}
    if update and os.path.exists(path):
        with open(path) as f:
            m = json.load(f)
    for pair in pairs:
        k, _, v = pair.partition("=")
        if k in ("fsync_json", "fsync_end_json"):
            f = json.loads(v)
            m[k[:-len("_json")]] = (f"fdatasync of 4 KiB appends: mean {f['mean_ms']:.3f} ms, "
                          f"p50 {f['p50_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms, "
                          f"max {f['max_ms']:.3f} ms ({f['count']} samples)")
            m[k[:-len("_json")] + "_p50_ms"] = f["p50_ms"]
        else:
            m[k] = v
    with open(path, "w") as f:
        json.dump(m, f, indent=1)


def machine_show(m):
    print("== machine")
    for k in MACHINE_KEYS:
        if m.get(k):
            print(f"  {k:<9} {m[k]}")


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ops/s":
        return f"{v:,.0f} {unit}"
    if unit == "B":
        return f"{v:,.0f} {unit}"
    if v >= 100:
        return f"{v:,.0f} {unit}"
    if v >= 10:
        return f"{v:.1f} {unit}"
    return f"{v:.3f} {unit}"


def rounds_text(xs, unit):
    if not xs:
        return ""
    if unit == "ops/s":
        return " ".join(f"{x:,.0f}" for x in xs)
    return " ".join(f"{x:.3g}" for x in xs)


def table(results, machine_path):
    rows = load(results)
    with open(machine_path) as f:
        machine = json.load(f)
    print()
    machine_show(machine)
    for topology in ["standalone", "ensemble"]:
        if any(r.get("topology", "standalone") == topology for r in rows):
            print()
            topology_table(rows, machine, topology)
    errors = [(r.get("topology"), r["server"], r["measure"], r["round"],
               r["report"]["errors_by_code"])
              for r in rows if "report" in r and r["report"].get("errors")]
    if errors:
        print()
        print("errors during measurements (topology, server, measure, round, codes):")
        for e in errors:
            print("  ", *e)
    print()
    print("ratio = zk-node / Apache of the medians over rounds; throughput: higher is better; "
          "latency, memory, times: lower is better.")
    print("Issue 8 states its targets for a 3-node ensemble (start to serving: standalone); "
          "'met' compares each table with them as they are.")


def topology_table(rows, machine, topology):
    title = "3-node ensembles" if topology == "ensemble" else "standalone"
    print(f"== zk-node / Apache ZooKeeper 3.8, {title}, forceSync=yes on both, "
          f"{machine.get('rounds', '?')} rounds alternating A B")
    header = (f"{'measure':<40} {'apache':>14} {'zk-node':>14} {'ratio':>8}  {'target':<8} "
              f"{'met':<4} rounds: apache | zk-node")
    print(header)
    print("-" * len(header))
    for label, measure, path, unit, target, better in ROWS:
        a = values(rows, "apache", measure, path, topology)
        b = values(rows, "zk-node", measure, path, topology)
        if not a and not b:
            continue
        rate = machine.get(f"rate_label_{topology}", machine.get("rate_label", "a fixed rate"))
        label = label.format(rate=rate,
                             znodes=machine.get("znodes_label", "N"))
        ma, mb = median(a), median(b)
        ratio = mb / ma if ma and mb is not None and ma > 0 else None
        met = ""
        if ratio is not None and target:
            want = float(target.split()[1].rstrip("x"))
            ok = ratio >= want if better == "higher" else ratio <= want
            met = "yes" if ok else "no"
        if ratio is None:
            ratio_s = "-"
        elif ratio >= 0.1:
            ratio_s = f"{ratio:.2f}x"
        else:
            ratio_s = f"{ratio:.3f}x"
        print(f"{label:<40} {fmt(ma, unit):>14} {fmt(mb, unit):>14} {ratio_s:>8}  {target:<8} "
              f"{met:<4} {rounds_text(a, unit)} | {rounds_text(b, unit)}")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "fsync-probe":
        fsync_probe(argv[2], int(argv[3]) if len(argv) > 3 else 200)
    elif cmd == "brief":
        print(brief(json.load(sys.stdin)))
    elif cmd in ("machine", "machine-set"):
        machine_write(argv[2], argv[3:], cmd == "machine-set")
    elif cmd == "show-machine":
        with open(argv[2]) as f:
            machine_show(json.load(f))
    elif cmd == "value":
        results, server, measure, path = argv[2:6]
        topology = argv[6] if len(argv) > 6 else "standalone"
        m = median(values(load(results), server, measure, path, topology))
        print("" if m is None else m)
    elif cmd == "table":
        table(argv[2], argv[3])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
