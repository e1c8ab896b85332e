#!/usr/bin/env python3
"""Draws Docs/performance.png from the benchmark harness's results.json with gnuplot.

usage: scripts/performance-chart.py RESULTS_JSON [OUT_PNG] [--candidate NAME]

Every bar is a ratio against HAProxy running the Tecnativa configuration (1.0 = the same as HAProxy), oriented
so that longer is better: for throughput the ratio candidate/haproxy, for costs (CPU, memory, latency) the
inverse haproxy/candidate. The dashed lines mark 1.0 (HAProxy) and the targets of Docs/performance.md.
"""
import json
import os
import subprocess
import sys
import tempfile


def ratio_rows(results, candidate):
    targets = results["targets"]
    hap, cand, socat = targets["haproxy"], targets[candidate], targets.get("socat")

    def small(t, key, field):
        return t["small"][key][field]

    rows = []  # (label, candidate ratio, socat ratio or None), longer is better

    def add(label, get, higher_is_better=True):
        try:
            h, c = get(hap), get(cand)
            s = get(socat) if socat else None
        except (KeyError, TypeError):
            return
        if not h or not c:
            return
        if higher_is_better:
            rows.append((label, c / h, (s / h) if s else None))
        else:
            rows.append((label, h / c, (h / s) if s else None))

    for key, name in [("ping_c1", "/_ping c=1"), ("ping_c64", "/_ping c=64"), ("ping_c512", "/_ping c=512"),
                      ("containers_c1", "containers c=1"), ("containers_c64", "containers c=64"),
                      ("containers_c512", "containers c=512")]:
        add(name + " req/s", lambda t, k=key: small(t, k, "rps"))
    add("/_ping c=64 CPU/req", lambda t: small(t, "ping_c64", "proxy_cpu_us_per_req"), False)
    add("containers c=64 CPU/req", lambda t: small(t, "containers_c64", "proxy_cpu_us_per_req"), False)
    add("/_ping c=64 p99", lambda t: small(t, "ping_c64", "p99_us"), False)
    add("close c=64 req/s", lambda t: t["close"]["ping_c64"]["rps"])
    add("download MB/s", lambda t: t["download"]["MBps"])
    add("download CPU", lambda t: t["download"]["proxy_cpu_s"], False)
    add("upload MB/s", lambda t: t["upload"]["MBps"])
    add("upload CPU", lambda t: t["upload"]["proxy_cpu_s"], False)
    add("idle RSS", lambda t: t["memory"]["idle"]["rss_kb"], False)
    add("bytes/idle conn", lambda t: t["memory"]["bytes_per_conn_pss"], False)
    return rows


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    candidate = "swift"
    if "--candidate" in sys.argv:
        candidate = sys.argv[sys.argv.index("--candidate") + 1]
        args = [a for a in args if a != candidate]
    if not args:
        sys.exit(__doc__)
    source = args[0]
    out = args[1] if len(args) > 1 else os.path.join(os.path.dirname(__file__), "..", "Docs", "performance.png")
    results = json.load(open(source))
    rows = ratio_rows(results, candidate)
    host = results["meta"]["host"]
    started = results["meta"]["started"]
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as data:
        for index, (label, c, s) in enumerate(rows):
            data.write('%d "%s" %.3f %s\n' % (index, label, c, "%.3f" % s if s is not None else "NaN"))
        data_path = data.name
    script = f"""
set terminal pngcairo size {max(900, 70 * len(rows))},560 font "sans,10"
set output "{out}"
set title "socket-proxy ({candidate}) and socat against HAProxy (Tecnativa config) = 1.0; longer is better\\n{started}, {host['ncpu']} CPUs, kernel {host['kernel']}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set xtics rotate by -35 scale 0
set ylabel "ratio against HAProxy"
set grid ytics
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "black"
set arrow from graph 0, first 1.5 to graph 1, first 1.5 nohead dt 3 lw 1 lc rgb "#888888"
set arrow from graph 0, first 2 to graph 1, first 2 nohead dt 3 lw 1 lc rgb "#888888"
plot "{data_path}" using 3:xtic(2) title "socket-proxy" lc rgb "#2b6cb0", \\
     "" using 4 title "socat (no policy)" lc rgb "#c05621"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(data_path)
    print("wrote", out)


if __name__ == "__main__":
    main()
