"""Turn the JSON lines of one bench run into latest.json, latest.md and a
PNG chart (gnuplot), and print the markdown table."""
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

raw, out = sys.argv[1], sys.argv[2]
rows = []
for line in open(raw):
    line = line.strip()
    if line.startswith("{"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass

# Several rounds: keep the best of each (bench, system), the way timeit
# does: on a shared machine, other load only ever adds time, so the best run
# is the closest to what the code costs. The same rule for every system; the
# spread is reported.
HIGHER_IS_BETTER = {"hold", "hold_compact", "http_fanout", "echo_sharded"}
runs = {}
for r in rows:
    runs.setdefault((r["bench"], r["system"]), []).append(r)
merged, spread = [], {}
for key, rs in runs.items():
    vs = sorted(x["value"] for x in rs)
    best = vs[-1] if key[0] in HIGHER_IS_BETTER else vs[0]
    merged.append(dict(rs[0], value=best))
    if len(vs) > 1 and best > 0:
        spread[key] = (len(vs), (vs[-1] - vs[0]) / best)
rows = merged

with open(os.path.join(out, "latest.json"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")

ORDER = ["switch", "spawn_join", "spawn_join_eager", "gather", "timers",
         "fail_fast", "hold", "hold_rss", "hold_create", "hold_compact",
         "hold_rss_compact", "hold_create_compact", "gather_limit", "echo",
         "echo_compact", "echo_sharded", "echo_sharded_p99", "chan_pingpong",
         "chan_fanin", "offload", "subprocess", "subprocess_8"]
PEERS = ["asyncio", "trio", "go", "node", "libuv"]
val = {(r["bench"], r["system"]): (r["value"], r["unit"]) for r in rows}
missing = {r["system"]: r["unit"] for r in rows if r["bench"] == "_missing"}
benches = [b for b in ORDER if any((b, s) in val for s in ["corral"] + PEERS)]


def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


def ratio(b, s):
    c = val.get((b, "corral"))
    p = val.get((b, s)) or val.get((b.replace("_compact", ""), s))
    if not c or not p or c[0] <= 0 or p[0] <= 0:
        return None
    return c[0] / p[0] if b in HIGHER_IS_BETTER else p[0] / c[0]


lines = []
cpu = ""
try:
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
except OSError:
    pass
lines.append(f"Run {datetime.date.today()} on {os.cpu_count()} cores, {cpu or platform.machine()}; "
             f"{'BENCH_QUICK (sizes / 10)' if os.environ.get('BENCH_QUICK', '0') not in ('', '0') else 'full sizes'}. "
             "Cell: value (peer ÷ corral; above 1 means corral is better).")
nruns = max((n for n, _ in spread.values()), default=1)
if nruns > 1:
    worst = max(((v[1], k[0]) for k, v in spread.items() if k[1] == "corral"),
                default=None)
    lines.append(f"Each cell is the best of {nruns} runs (same rule for every system)"
                 + (f"; corral's widest spread (max − min) / best: "
                    f"{worst[0]:.0%} ({worst[1]})." if worst else "."))
lines.append("")
hdr = "| bench | unit | corral | " + " | ".join(PEERS) + " |"
if benches:
    lines.append(hdr)
    lines.append("|" + "---|" * (3 + len(PEERS)))
for b in benches:
    c = val.get((b, "corral"))
    cells = [b, c[1] if c else next((val[(b, s)][1] for s in PEERS if (b, s) in val), ""),
             fmt(c[0]) if c else "—"]
    for s in PEERS:
        p = val.get((b, s)) or val.get((b.replace("_compact", ""), s))
        if not p:
            cells.append("—")
            continue
        r = ratio(b, s)
        cells.append(fmt(p[0]) + (f" ({r:.2g}×)" if r else ""))
    lines.append("| " + " | ".join(cells) + " |")
sw, pp = val.get(("switch", "corral")), val.get(("chan_pingpong", "corral"))
swc, ppc = val.get(("switch_cpu", "corral")), val.get(("chan_pingpong_cpu", "corral"))
if sw and pp and sw[0] > 0:
    line = (f"\ncorral channel ping-pong: {fmt(pp[0])} ns per message, "
            f"{pp[0] / sw[0]:.1f}× corral's own switch ({fmt(sw[0])} ns)")
    if swc and ppc and swc[0] > 0:
        line += (f"; in the runtime thread's CPU time (what other load on the "
                 f"machine does not change): {fmt(ppc[0])} ns against "
                 f"{fmt(swc[0])} ns, {ppc[0] / swc[0]:.1f}×")
    lines.append(line + ".")
if val.get(("echo_sharded", "corral")) or val.get(("echo_sharded", "libuv")):
    lines.append("\necho_sharded: 2 threads, each with its own runtime (corral) or loop "
                 "(libuv), its own SO_REUSEPORT listener on one shared port and half of "
                 "the 1,000 client connections (100 round trips of 64 bytes each); "
                 "requests/s, and the 99th percentile of a round trip in µs.")
# HTTP clients: their own table (other peers).
HTTP_ORDER = ["http_fanout", "http_fanout_p50", "http_fanout_p99",
              "http_fanout_mem"]
HTTP_PEERS = ["curl", "go", "node", "aiohttp"]
hb = [b for b in HTTP_ORDER if any((b, s) in val for s in ["corral"] + HTTP_PEERS)]
if hb:
    lines.append("")
    quick = os.environ.get('BENCH_QUICK', '0') not in ('', '0')
    lines.append(f"HTTP fan-out: {'1,000' if quick else '10,000'} GETs of 1 KiB from a local nginx, "
                 "concurrency 100, keep-alive (curl: --parallel --parallel-max 100; "
                 "go: net/http; node: fetch; aiohttp: ClientSession). "
                 "Latency in µs; memory: peak RSS growth per in-flight request.")
    lines.append("")
    lines.append("| bench | unit | corral | " + " | ".join(HTTP_PEERS) + " |")
    lines.append("|" + "---|" * (3 + len(HTTP_PEERS)))
    for b in hb:
        c = val.get((b, "corral"))
        cells = [b, c[1] if c else next((val[(b, s)][1] for s in HTTP_PEERS if (b, s) in val), ""),
                 fmt(c[0]) if c else "—"]
        for s in HTTP_PEERS:
            p = val.get((b, s))
            if not p:
                cells.append("—")
                continue
            r = ratio(b, s)
            cells.append(fmt(p[0]) + (f" ({r:.2g}×)" if r else ""))
        lines.append("| " + " | ".join(cells) + " |")
for s, why in missing.items():
    lines.append(f"\n{s}: missing ({why})")
md = "\n".join(lines) + "\n"
with open(os.path.join(out, "latest.md"), "w") as f:
    f.write(md)
print(md)

# Chart: peer / corral ratios per bench, log scale.
if shutil.which("gnuplot"):
    dat = os.path.join(out, "latest.dat")
    with open(dat, "w") as f:
        f.write("bench " + " ".join(PEERS) + "\n")
        for b in benches:
            f.write(b + " " + " ".join(
                f"{ratio(b, s):.4g}" if ratio(b, s) else "NaN" for s in PEERS) + "\n")
    script = f"""
set terminal pngcairo size 1100,520 font ',10' noenhanced
set output '{os.path.join(out, 'latest.png')}'
set title 'corral vs peers: peer / corral (above 1 = corral better), log scale'
set style data histograms
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.01:*]
set xtics rotate by -30
set key outside right
set grid ytics
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2
plot for [i=2:{1 + len(PEERS)}] '{dat}' using i:xtic(1) title columnhead(i)
"""
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True,
                       stderr=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, OSError):
        print("bench: gnuplot failed; no chart", file=sys.stderr)
    os.remove(dat)
