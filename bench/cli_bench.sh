#!/usr/bin/env bash
# The corral command against xargs -P and GNU parallel, side by side:
#   - per-job overhead: N `true` jobs at -j 2 and -j 8 (best of BENCH_REPS
#     runs, interleaved so a busy moment of the machine hits all alike);
#     GNU parallel runs N/10 jobs (it takes milliseconds per job);
#   - peak RSS with 1,000,000 input lines.
# Usage: bench/cli_bench.sh [BUILD]. Writes bench/results/cli.md.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
C=$BUILD/bin/corral
OUT=bench/results
mkdir -p "$OUT"
N=${CLI_BENCH_JOBS:-10000}
LINES=1000000
if [ "${BENCH_QUICK:-0}" != "0" ]; then N=1000; LINES=100000; fi
REPS=${BENCH_REPS:-3}
NP=$((N / 10))
[ -x "$C" ] || { echo "cli bench: $C not built" >&2; exit 1; }
has_parallel=0
if command -v parallel >/dev/null && parallel --version 2>/dev/null | grep -q GNU; then has_parallel=1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
seq 1 "$N" > "$T/in"
seq 1 "$NP" > "$T/inp"

ms() { local s e; s=$(date +%s%N); "$@" < "$IN" > /dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
declare -A best
keep() { local k=$1 v=$2; if [ -z "${best[$k]:-}" ] || [ "$v" -lt "${best[$k]}" ]; then best[$k]=$v; fi; }
for rep in $(seq 1 "$REPS"); do
  for j in 2 8; do
    echo "cli bench: round $rep/$REPS, -j $j" >&2
    IN=$T/in
    keep "xargs_$j" "$(ms xargs -P "$j" -n 1 true)"
    keep "corral_$j" "$(ms "$C" -j "$j" true)"
    if [ $has_parallel = 1 ]; then
      IN=$T/inp
      keep "parallel_$j" "$(ms parallel --will-cite -j "$j" true)"
    fi
  done
done

rss() { /usr/bin/time -f %M -o "$T/rss" "$@" >/dev/null 2>&1; tail -1 "$T/rss"; }
seq 1 "$LINES" > "$T/lines"
rss_corral_run=$(rss bash -c "'$C' -j 8 --deadline 5s true < '$T/lines'")
rss_corral_dry=$(rss bash -c "'$C' --dry-run echo < '$T/lines'")
rss_xargs=$(rss bash -c "timeout 5 xargs -P 8 -n 1 true < '$T/lines'")
rss_parallel=n/a
if [ $has_parallel = 1 ]; then
  rss_parallel=$(rss bash -c "timeout 20 parallel --will-cite --dry-run echo < '$T/lines'")
fi

# --pipe: 10,000,000 lines (78 MB) in 1 MB blocks to wc -l, 8 at once; the
# totals must agree.
PL=$((LINES * 10))
seq 1 "$PL" > "$T/pipe"
pipe_run() { local s e; s=$(date +%s%N); /usr/bin/time -f %M -o "$T/prss" "$@" < "$T/pipe" 2>/dev/null |
  awk '{s += $1} END {print s}' > "$T/ptotal"; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
for rep in $(seq 1 "$REPS"); do
  keep pipe_corral "$(pipe_run "$C" -j 8 --pipe wc -l)"
  [ "$(cat "$T/ptotal")" = "$PL" ] || { echo "cli bench: corral --pipe counted $(cat "$T/ptotal") lines" >&2; exit 1; }
  keep pipe_corral_rss "$(tail -1 "$T/prss")"
  if [ $has_parallel = 1 ]; then
    keep pipe_parallel "$(pipe_run parallel --will-cite -j 8 --pipe wc -l)"
    [ "$(cat "$T/ptotal")" = "$PL" ] || { echo "cli bench: GNU parallel --pipe counted $(cat "$T/ptotal") lines" >&2; exit 1; }
    keep pipe_parallel_rss "$(tail -1 "$T/prss")"
  fi
done

per() { awk -v us="$1" -v n="$2" 'BEGIN { printf "%.3f", us / n / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo "## corral command vs xargs -P and GNU parallel"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, best of $REPS runs; \`true\` jobs: $N (GNU parallel: $NP)."
  echo
  echo "| -j | xargs -P ms/job | corral ms/job | GNU parallel ms/job | corral / xargs | parallel / corral |"
  echo "|---|---|---|---|---|---|"
  for j in 2 8; do
    x=$(per "${best[xargs_$j]}" "$N"); c=$(per "${best[corral_$j]}" "$N")
    if [ $has_parallel = 1 ]; then p=$(per "${best[parallel_$j]}" "$NP"); pr=$(ratio "$p" "$c"); else p=missing; pr=-; fi
    echo "| $j | $x | $c | $p | $(ratio "$c" "$x") | $pr |"
  done
  echo
  echo "Peak RSS with $LINES input lines (KiB): corral running jobs for 5 s: $rss_corral_run;"
  echo "corral --dry-run over all of them: $rss_corral_dry; xargs -P 8 for 5 s: $rss_xargs;"
  echo "GNU parallel --dry-run (at most 20 s): $rss_parallel."
  echo
  echo "\`--pipe wc -l\` over $PL lines, -j 8, 1 MB blocks: corral $(per "${best[pipe_corral]}" 1000) s"
  echo "(peak RSS ${best[pipe_corral_rss]} KiB); GNU parallel \
$( [ $has_parallel = 1 ] && echo "$(per "${best[pipe_parallel]}" 1000) s (peak RSS ${best[pipe_parallel_rss]} KiB), $(ratio "${best[pipe_parallel]}" "${best[pipe_corral]}") times corral's time" || echo missing)."
} | tee "$OUT/cli.md"
