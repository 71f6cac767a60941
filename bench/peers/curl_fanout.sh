#!/usr/bin/env bash
# curl's side of the http_fanout bench: N GETs of HTTP_FANOUT_URL with
# `curl --parallel --parallel-max 100` (one process, one keep-alive pool).
# Memory per in-flight request: peak RSS (VmHWM, sampled from /proc) above
# that of a 1-request run, / 100. No latency: curl's %{time_total} starts
# when a transfer gets its connection, so it is not comparable.
set -u
[ "${1:-http_fanout}" = http_fanout ] || exit 0
url=${HTTP_FANOUT_URL:?}
command -v curl >/dev/null || exit 0
total=10000
case "${BENCH_QUICK:-0}" in ""|0) ;; *) total=1000 ;; esac
cfg=$(mktemp); out=$(mktemp); trap 'rm -f "$cfg" "$out"' EXIT
for _ in $(seq "$total"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done > "$cfg"
peak_kb() { # command... -> its peak RSS in kB (from its own /proc while it runs)
  "$@" & local pid=$! peak=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.01
  done
  wait "$pid"
  echo "$peak"
}
base=$(peak_kb curl -s -o /dev/null "$url" --max-time 5)
t0=$(date +%s%N)
curl -s --parallel --parallel-max 100 --parallel-immediate -K "$cfg" \
  -w '%{http_code} %{size_download}\n' > "$out" 2>/dev/null &
pid=$!; peak=0
while kill -0 "$pid" 2>/dev/null; do
  v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
  sleep 0.01
done
wait "$pid"
t1=$(date +%s%N)
/usr/bin/python3 - "$out" "$total" "$t0" "$t1" "$base" "$peak" <<'PY'
import json, sys
out, total, t0, t1, base, peak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rows = [l.split() for l in open(out) if l.strip()]
ok = [r for r in rows if r[0] == "200" and r[1] == "1024"]
if len(ok) != total:
    sys.exit(f"curl http_fanout: {total - len(ok)} failed")
def emit(b, v, u):
    print(json.dumps({"bench": b, "system": "curl", "value": round(v, 3), "unit": u}))
emit("http_fanout", total / ((t1 - t0) / 1e9), "req/s")
emit("http_fanout_mem", max(peak - base, 0) * 1024 / 100, "bytes")
PY
