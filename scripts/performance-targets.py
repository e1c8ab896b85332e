#!/usr/bin/env python3
"""Checks a benchmark harness run against the performance targets of Docs/performance.md.

usage: scripts/performance-targets.py RESULTS_JSON [--candidate NAME]

Reads the results.json that ../shared/bench/bench.sh wrote with socket-proxy as a candidate (default name: swift)
and prints a Markdown table: each target, the figures it compares, the ratio, and whether it is met. Exits 1 when
a target is missed. Where the harness repeated a measurement (/_ping at 64 connections, the download), the mean of
all runs is used, as the harness's own report does.
"""
import json
import sys


def mean_of_runs(target, section, key, field):
    values = [target[section][key][field] if key else target[section][field]]
    for repeat in target.get("repeats", []):
        name = "%s.%s" % (section, key) if key else section
        if name in repeat and repeat[name].get(field) is not None:
            values.append(repeat[name][field])
    return sum(values) / len(values)


def main():
    arguments = [argument for argument in sys.argv[1:]]
    candidate = "swift"
    if "--candidate" in arguments:
        index = arguments.index("--candidate")
        candidate = arguments[index + 1]
        del arguments[index:index + 2]
    if len(arguments) != 1:
        sys.exit(__doc__)
    results = json.load(open(arguments[0]))
    targets = results["targets"]
    proxy, haproxy, socat, direct = targets[candidate], targets["haproxy"], targets["socat"], targets["direct"]
    rows = []

    def check(target, label, ours, theirs, limit, higher_is_better, unit):
        ratio = ours / theirs if theirs else float("inf")
        met = ratio >= limit if higher_is_better else ratio <= limit
        rows.append((target, label, ours, theirs, unit, ratio, ("≥ " if higher_is_better else "≤ ") + "%g" % limit,
                     met))

    def small(target, key, field):
        if key == "ping_c64" and field == "rps":
            return mean_of_runs(target, "small", key, field)
        return target["small"][key][field]

    for key, name in [("ping_c1", "/_ping c=1"), ("ping_c64", "/_ping c=64"), ("ping_c512", "/_ping c=512"),
                      ("containers_c1", "containers/json c=1"), ("containers_c64", "containers/json c=64"),
                      ("containers_c512", "containers/json c=512")]:
        check("1", name + ": proxy CPU µs/request vs HAProxy", small(proxy, key, "proxy_cpu_us_per_req"),
              small(haproxy, key, "proxy_cpu_us_per_req"), 0.5, False, "µs")
        check("1", name + ": req/s vs HAProxy", small(proxy, key, "rps"), small(haproxy, key, "rps"), 1.5, True,
              "req/s")
        check("1", name + ": req/s vs socat", small(proxy, key, "rps"), small(socat, key, "rps"), 1.0, True, "req/s")
        check("1", name + ": p99 latency vs HAProxy", small(proxy, key, "p99_us"), small(haproxy, key, "p99_us"),
              1.0, False, "µs")
    close = lambda target, field: target["close"]["ping_c64"][field]
    check("2", "Connection: close c=64: req/s vs HAProxy", close(proxy, "rps"), close(haproxy, "rps"), 1.0, True,
          "req/s")
    check("2", "Connection: close c=64: proxy CPU µs/request vs HAProxy", close(proxy, "proxy_cpu_us_per_req"),
          close(haproxy, "proxy_cpu_us_per_req"), 1.0, False, "µs")
    check("3", "1 GiB download: MB/s vs no proxy", mean_of_runs(proxy, "download", None, "MBps"),
          mean_of_runs(direct, "download", None, "MBps"), 0.95, True, "MB/s")
    check("3", "1 GiB download: proxy CPU s vs HAProxy", mean_of_runs(proxy, "download", None, "proxy_cpu_s"),
          mean_of_runs(haproxy, "download", None, "proxy_cpu_s"), 0.5, False, "s")
    check("3", "1 GiB upload: MB/s vs HAProxy", proxy["upload"]["MBps"], haproxy["upload"]["MBps"], 1.0, True,
          "MB/s")
    check("3", "1 GiB upload: proxy CPU s vs HAProxy", proxy["upload"]["proxy_cpu_s"],
          haproxy["upload"]["proxy_cpu_s"], 0.5, False, "s")
    check("4", "idle RSS vs HAProxy", proxy["memory"]["idle"]["rss_kb"], haproxy["memory"]["idle"]["rss_kb"], 0.5,
          False, "KiB")
    check("4", "bytes per idle keep-alive connection vs HAProxy (%d connections)" % proxy["memory"]["conns_ok"],
          proxy["memory"]["bytes_per_conn_pss"], haproxy["memory"]["bytes_per_conn_pss"], 1.0, False, "B")

    print("| target | measurement | socket-proxy | reference | ratio | required | met |")
    print("|---|---|---:|---:|---:|---|---|")
    for target, label, ours, theirs, unit, ratio, required, met in rows:
        print("| %s | %s | %s %s | %s %s | %.2f | %s | %s |" % (
            target, label, format_number(ours), unit, format_number(theirs), unit, ratio, required,
            "yes" if met else "**no**"))
    missed = [row for row in rows if not row[7]]
    print()
    print("%d of %d checks met (run %s)." % (len(rows) - len(missed), len(rows), results["meta"]["started"]))
    sys.exit(1 if missed else 0)


def format_number(value):
    return "{:,.0f}".format(value) if value >= 100 else "{:.2f}".format(value)


if __name__ == "__main__":
    main()
