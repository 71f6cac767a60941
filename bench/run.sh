#!/usr/bin/env bash
# make bench: corral and its peers side by side, in one run.
# Writes bench/results/latest.{json,md,png} and prints the table.
# BENCH_QUICK=1 shrinks every size by 10x (CI smoke run).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=bench/results
mkdir -p "$OUT"
raw=$(mktemp)
log="$OUT/peers.log"
: > "$log"

missing() { echo "{\"bench\": \"_missing\", \"system\": \"$1\", \"value\": 0, \"unit\": \"$2\"}" >> "$raw"; echo "bench: $1 missing ($2)" >&2; }
CASES="switch spawn_join spawn_join_eager gather timers fail_fast hold hold_compact gather_limit echo echo_compact"
# One process per case and system: no case inherits memory another freed.
run() { # system command...
  local sys=$1; shift
  echo "bench: running $sys" >&2
  for c in $CASES; do
    if ! timeout 600 "$@" "$c" >> "$raw" 2>> "$log"; then echo "bench: $sys $c failed (see $log)" >&2; fi
  done
}

run corral "$BUILD/bench/bench_corral"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -n "$PY" ]; then
  run asyncio "$PY" bench/peers/asyncio_bench.py
  if "$PY" -c 'import trio' 2>/dev/null; then run trio "$PY" bench/peers/trio_bench.py
  else missing trio "python3-trio not installed"; fi
else
  missing asyncio "python3 not installed"; missing trio "python3 not installed"
fi
if command -v go >/dev/null; then
  if (cd bench/peers/go && GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -o "../../../$BUILD/bench/go_bench" .) 2>> "$log"; then
    run go "$BUILD/bench/go_bench"
  else missing go "build failed"; fi
else missing go "golang-go not installed"; fi
if command -v node >/dev/null; then run node node bench/peers/node_bench.js
else missing node "nodejs not installed"; fi
run libuv "$BUILD/bench/bench_libuv"
run libuv "$BUILD/bench/bench_libuv_echo"

PY3=$(command -v python3 || echo /usr/bin/python3)
"$PY3" bench/report.py "$raw" "$OUT"
rm -f "$raw"
