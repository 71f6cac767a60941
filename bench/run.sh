#!/usr/bin/env bash
# make bench: corral and its peers side by side, in one run.
# Writes bench/results/latest.{json,md,png} and prints the table.
# BENCH_QUICK=1 shrinks every size by 10x (CI smoke run). BENCH_CASES="a b"
# runs only those runtime cases ("" none); BENCH_HTTP=0 skips http_fanout;
# BENCH_CLI=0 skips the corral command's table; BENCH_OUT=dir writes the
# results there instead.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${BENCH_OUT:-bench/results}
mkdir -p "$OUT"
raw=$(mktemp)
log="$OUT/peers.log"
: > "$log"

missing() { echo "{\"bench\": \"_missing\", \"system\": \"$1\", \"value\": 0, \"unit\": \"$2\"}" >> "$raw"; echo "bench: $1 missing ($2)" >&2; }
CASES=${BENCH_CASES-"switch spawn_join spawn_join_eager gather timers fail_fast hold hold_compact gather_limit echo echo_compact echo_sharded chan_pingpong chan_fanin offload subprocess subprocess_8"}
# Each case runs BENCH_REPS times (default 3; 1 with BENCH_QUICK) for every
# system, case by case and system after system within a round, so a slow
# patch of the machine hits everyone alike; the report keeps the best run.
REPS=${BENCH_REPS:-3}
if [ "${BENCH_QUICK:-0}" != "0" ] && [ -z "${BENCH_REPS:-}" ]; then REPS=1; fi

SYSTEMS=()   # "name|command..." entries
add() { SYSTEMS+=("$1|$2"); }
add corral "$BUILD/bench/bench_corral"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -n "$PY" ]; then
  add asyncio "$PY bench/peers/asyncio_bench.py"
  if "$PY" -c 'import trio' 2>/dev/null; then add trio "$PY bench/peers/trio_bench.py"
  else missing trio "python3-trio not installed"; fi
else
  missing asyncio "python3 not installed"; missing trio "python3 not installed"
fi
if command -v go >/dev/null; then
  if (cd bench/peers/go && GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -o "../../../$BUILD/bench/go_bench" .) 2>> "$log"; then
    add go "$BUILD/bench/go_bench"
  else missing go "build failed"; fi
else missing go "golang-go not installed"; fi
if command -v node >/dev/null; then add node "node bench/peers/node_bench.js"
else missing node "nodejs not installed"; fi
add libuv "$BUILD/bench/bench_libuv"
add libuv "$BUILD/bench/bench_libuv_echo"

# One process per case and system: no case inherits memory another freed.
# A system that does not know a case prints nothing for it.
for rep in $(seq 1 "$REPS"); do
  for c in $CASES; do
    echo "bench: round $rep/$REPS: $c" >&2
    for entry in "${SYSTEMS[@]}"; do
      sys=${entry%%|*}; cmd=${entry#*|}
      # shellcheck disable=SC2086 # the command is words on purpose
      if ! timeout 600 $cmd "$c" >> "$raw" 2>> "$log"; then
        echo "bench: $sys $c failed (see $log)" >&2
      fi
    done
  done
done

# http_fanout: 10,000 GETs (1,000 with BENCH_QUICK) of a 1 KiB file from a
# local nginx at concurrency 100 over keep-alive, every HTTP client side by
# side against the same server (tests/http/servers.sh, no access log).
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
if [ "${BENCH_HTTP:-1}" = 0 ]; then
  :
elif [ -x "$BUILD/bench/bench_http" ] && [ -x "$NGINX_BIN" ]; then
  srv=$(mktemp -d)
  if ports=$(tests/http/servers.sh start "$srv/s" --no-log); then
    eval "$ports"
    export HTTP_FANOUT_URL="http://127.0.0.1:$NGINX_PORT/1k.bin"
    HTTP=()
    HTTP+=("corral|$BUILD/bench/bench_http")
    if command -v curl >/dev/null; then HTTP+=("curl|bench/peers/curl_fanout.sh")
    else missing curl "curl not installed"; fi
    [ -x "$BUILD/bench/go_bench" ] && HTTP+=("go|$BUILD/bench/go_bench")
    command -v node >/dev/null && HTTP+=("node|node bench/peers/node_bench.js")
    if [ -n "$PY" ] && "$PY" -c 'import aiohttp' 2>/dev/null; then
      HTTP+=("aiohttp|$PY bench/peers/aiohttp_bench.py")
    else missing aiohttp "python3-aiohttp not installed"; fi
    for rep in $(seq 1 "$REPS"); do
      echo "bench: round $rep/$REPS: http_fanout" >&2
      for entry in "${HTTP[@]}"; do
        sys=${entry%%|*}; cmd=${entry#*|}
        # shellcheck disable=SC2086
        if ! timeout 600 $cmd http_fanout >> "$raw" 2>> "$log"; then
          echo "bench: $sys http_fanout failed (see $log)" >&2
        fi
      done
    done
    tests/http/servers.sh stop "$srv/s"
  else
    missing nginx "nginx did not start"
  fi
  rm -rf "$srv"
else
  echo "bench: http_fanout skipped (needs nginx-light and libcurl)" >&2
fi

PY3=$(command -v python3 || echo /usr/bin/python3)
"$PY3" bench/report.py "$raw" "$OUT"
# The corral command against xargs -P and GNU parallel (its own table).
if [ "${BENCH_CLI:-1}" != 0 ] && [ -x "$BUILD/bin/corral" ]; then bench/cli_bench.sh "$BUILD" || echo "bench: cli bench failed" >&2; fi
rm -f "$raw"
