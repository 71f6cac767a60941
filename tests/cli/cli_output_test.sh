#!/usr/bin/env bash
# The corral command's output and failure paths under abuse, one case per
# CTest test:
#   cli_output_test.sh CORRAL_BINARY CASE
# Every case checks what a user sees (output, exit status, stderr, JSON) and
# that no process it started is left: they carry a marker ($S) in their
# arguments.
set -u
C=$1
CASE=$2
T=$(mktemp -d /tmp/corral-out-test.XXXXXX)
S="300.$$"
trap 'pkill -KILL -f "$S" 2>/dev/null; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
eq() { [ "$1" == "$2" ] || fail "$3: got [$1], want [$2]"; }
has() { grep -q -- "$2" <<<"$1" || fail "$3: [$2] not in [$1]"; }
hasnt() { ! grep -q -- "$2" <<<"$1" || fail "$3: [$2] in [$1]"; }
left() { pgrep -f "$S" | grep -v "^$$\$" | wc -l; }
no_left() { sleep 0.2; eq "$(left)" 0 "processes left behind"; }
json() { python3 -c "import json,sys
rows=[json.loads(l) for l in open('$1')]
$2"; }
# Wait (at most 30 s: the machine may be busy) until the command succeeds.
until_ok() { local i; for i in $(seq 1 300); do eval "$1" && return 0; sleep 0.1; done; return 1; }
# Peak RSS in KiB of a command line run by bash.
rss() { /usr/bin/time -f %M -o "$T/rss" bash -c "$1" >/dev/null 2>&1; tail -1 "$T/rss"; }
# Freed memory waits in AddressSanitizer's quarantine: keep it small here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"

case $CASE in
spool_memory)
  # Grouped output past 64 KiB waits in a file: the memory of corral does
  # not grow with what the jobs print (4 x 40 MB), by default, with
  # --keep-order behind a slow first job, and with --results.
  base=$(rss "$C -j2 'head -c 1000 /dev/zero' ::: 1 2 3 4")
  for mode in "" "-k" "--results $T/res"; do
    r=$(rss "$C -j4 $mode ::: 'sleep 1; echo first' 'head -c 40M /dev/zero' 'head -c 40M /dev/zero' 'head -c 40M /dev/zero'")
    [ "$r" -lt $((base + 30000)) ] || fail "peak RSS ${r} KiB for 120 MB of output with [$mode] (small output: ${base} KiB)"
  done
  # --json on standard output writes a large output into its line from the
  # file, piece by piece.
  r=$(rss "$C --json -j2 'head -c 30M /dev/zero | tr \"\\\\0\" a; : {}' ::: 1 2")
  [ "$r" -lt $((base + 30000)) ] || fail "peak RSS ${r} KiB for 60 MB of output in JSON"
  $C --json 'head -c 300000 /dev/zero | tr "\0" a; printf "\377\303\251\n"; echo e >&2; : {}' ::: 1 >"$T/j"
  json "$T/j" "
r=rows[0]
assert r['stdout']=='a'*300000+'\ufffd\u00e9\n' and r['stderr']=='e\n', (len(r['stdout']), r['stdout'][-5:])
assert r['stdout_bytes']==300004 and rows[-1]['type']=='summary'
" || fail "a large output in the JSON line"
  # Every byte arrives, in order with -k, the spilled job whole.
  out=$($C -j4 -k ::: 'sleep 0.5; echo first' 'head -c 300000 /dev/zero | tr "\0" a; echo' 'echo last' | md5sum)
  want=$( (echo first; head -c 300000 /dev/zero | tr '\0' a; echo; echo last) | md5sum)
  eq "$out" "$want" "-k output with a spilled job"
  eq "$(du -s --apparent-size "$T/res/1/head -c 40M \_dev\_zero/stdout" | cut -f1)" 40960 "--results keeps the whole output"
  # -k behind a slow first job, many jobs that spill, few descriptors: the
  # queue waits within the descriptor limit instead of failing.
  out=$(ulimit -n 200; set -o pipefail; $C -k -j4 'sleep {}; head -c 100000 /dev/zero' ::: 1 $(printf '0 %.0s' $(seq 1 600)) | wc -c); rc=$?
  eq "$rc $out" "0 60100000" "-k with 600 spilled jobs and 200 descriptors"
  # --tmpdir / TMPDIR is where it goes, and it must be usable.
  err=$($C --tmpdir "$T/none" echo ::: 1 2>&1); rc=$?
  eq $rc 125 "an unusable --tmpdir"
  has "$err" "cannot keep the jobs' output in $T/none" "the message names the directory"
  eq "$(wc -l <<<"$err")" 1 "one line"
  err=$(TMPDIR="$T/none" $C echo ::: 1 2>&1); eq $? 125 "an unusable TMPDIR"
  mkdir "$T/tmp"
  out=$(TMPDIR="$T/none" $C --tmpdir "$T/tmp" 'head -c 100000 /dev/zero; : {}' ::: 1 | wc -c)
  eq "$out" 100000 "--tmpdir wins over TMPDIR"
  eq "$(ls -A "$T/tmp" | wc -l)" 0 "the spool files are unlinked" ;;
closed_stdout)
  # The reader goes away: no new job starts, the running ones end, exit 141
  # (as GNU parallel, killed by SIGPIPE), quickly, and nothing is left.
  for mode in "" "-k" "--lb" "--lb --tag" "--json"; do
    start=$(date +%s%N)
    $C $mode -j2 ::: "seq 1 200000" "sleep $S" "sleep $S" "sleep $S" </dev/null | head -1 >/dev/null
    rc=${PIPESTATUS[0]}
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    eq "$rc" 141 "exit status with [$mode] when the reader left"
    [ $ms -lt 20000 ] || fail "[$mode] took ${ms} ms to notice"
    no_left
  done
  # A job that never stops printing, line by line: no spin, it ends.
  timeout -s KILL 30 $C --lb "yes $S" ::: 1 2 | head -1 >/dev/null
  eq "${PIPESTATUS[0]}" 141 "--lb with an endless job"
  no_left
  # Jobs running, nothing printed yet (grouped): the reader's exit is seen
  # without a write; the JSON log says who stopped the run.
  timeout -s KILL 30 $C --json="$T/j" -j2 "sleep $S" "sleep $S" "echo never" </dev/null | true
  eq "${PIPESTATUS[0]}" 141 "grouped: the reader left before any output"
  json "$T/j" "
s=rows[-1]
assert s['stopped_by']=='output' and s['reason']=='standard output was closed', s
assert s['exit_status']==141 and s['processes_left']==0, s
j={r['seq']:r['status'] for r in rows if r['type']=='job'}
assert sorted(j)==[1,2,3] and j[3]=='NOT_STARTED', j
assert j[1] in ('CANCELLED','NOT_STARTED') and j[2] in ('CANCELLED','NOT_STARTED'), j
" || fail "JSON after the reader left"
  no_left ;;
slow_reader)
  # Standard output is a full pipe that nobody reads: job 1's 2 MB cannot
  # be written. Job 2's timeout still fires, its JSON line is written, and
  # the live loop goes on, all while the reader sleeps.
  rm -f "$T/go"
  ( $C --json="$T/j" --timeout 500ms -j2 'head -c 2000000 /dev/zero' "sleep $S" </dev/null;
    echo $? >"$T/rc" ) | ( until [ -e "$T/go" ]; do sleep 0.1; done; wc -c >"$T/n" ) &
  until_ok "grep -q TIMED_OUT '$T/j' 2>/dev/null" || fail "the timeout did not fire while stdout was full"
  [ ! -e "$T/rc" ] || fail "corral ended before its output was read"
  touch "$T/go"
  wait
  eq "$(cat "$T/n")" 2000000 "every byte once the reader reads"
  eq "$(cat "$T/rc")" 1 "one job timed out"
  no_left
  # A reader that does not keep up holds back new jobs: finished jobs do
  # not pile up their output meanwhile (GNU parallel prints before it
  # starts the next job).
  rm -f "$T/go"
  ( $C --json="$T/j3" -j2 'head -c 200000 /dev/zero; : {}' ::: $(seq 1 500) </dev/null ) |
    ( until [ -e "$T/go" ]; do sleep 0.1; done; wc -c >"$T/n" ) &
  sleep 3
  n=$(wc -l <"$T/j3")
  [ "$n" -le 10 ] || fail "$n jobs finished while nobody read their output"
  touch "$T/go"; wait
  eq "$(cat "$T/n")" 100000000 "every byte of 500 jobs"
  # Stopped by a signal while nobody reads: the jobs end, corral gives its
  # output up after the grace time and exits 128+15.
  rm -f "$T/rc"
  ( $C --json="$T/j2" -j2 'head -c 2000000 /dev/zero' "sleep $S" </dev/null; echo $? >"$T/rc" ) |
    sleep 60 &
  until_ok "[ \$(pgrep -f 'sleep $S' | wc -l) -ge 1 ] && grep -q OK '$T/j2' 2>/dev/null" || fail "never started"
  pkill -TERM -f "^$C --json=$T/j2"
  until_ok "[ -e '$T/rc' ]" || fail "corral did not exit after SIGTERM while its reader slept"
  eq "$(cat "$T/rc")" 143 "exit status after SIGTERM"
  pkill -f "^sleep 60$" 2>/dev/null
  wait
  no_left ;;
cannot_start)
  # Not found (127), not executable (126), argument list too long (E2BIG):
  # an ERROR each, a message in GNU parallel's style, the errno in JSON.
  printf '#!/bin/sh\necho hi\n' >"$T/noexec"
  head -c 200000 /dev/zero | tr '\0' a >"$T/long"; echo >>"$T/long"
  err=$($C --json="$T/j" -k ::: "no-such-command-$S" "$T/noexec" 2>&1 >/dev/null); rc=$?
  eq $rc 2 "two jobs failed"
  has "$err" "corral: Error: cannot run job 1: ENOENT: command not found: no-such-command" "not found"
  has "$err" "corral: Error: cannot run job 2: EACCES" "not executable"
  json "$T/j" "
j={r['seq']:r for r in rows if r['type']=='job'}
assert j[1]['status']=='ERROR' and j[1]['exit_code']==127 and j[1]['error'].startswith('ENOENT'), j[1]
assert j[2]['status']=='ERROR' and j[2]['exit_code']==126 and j[2]['error'].startswith('EACCES'), j[2]
assert rows[-1]['counts']['ERROR']==2, rows[-1]
" || fail "JSON of jobs that could not start"
  for tmpl in "echo" "echo {} | wc -c"; do
    err=$($C --json="$T/j2" "$tmpl" :::: "$T/long" 2>&1 >/dev/null); rc=$?
    eq $rc 1 "E2BIG with [$tmpl]"
    has "$err" "cannot run job 1: E2BIG: argument list too long" "E2BIG message with [$tmpl]"
    json "$T/j2" "assert rows[0]['error'].startswith('E2BIG') and rows[0]['status']=='ERROR' and rows[-1]['counts']['ERROR']==1, rows[0]" \
      || fail "E2BIG JSON with [$tmpl]"
  done
  # With --json on standard output the message still goes to stderr.
  err=$($C --json "no-such-command-$S" ::: 1 2>&1 >/dev/null)
  has "$err" "ENOENT" "message with --json" ;;
few_descriptors)
  # A low 'ulimit -n': jobs that cannot get descriptors wait for running
  # ones to end (GNU parallel runs fewer jobs at once and warns), and a
  # large output that cannot get its file stays in memory: every job runs.
  for mode in "" "-k --json=$T/j --joblog=$T/l"; do
    out=$( (ulimit -n 24; $C -j 20 $mode "head -c 100000 /dev/zero; sleep 0.1; : {} $S" ::: $(seq 1 40)) 2>"$T/err" | wc -c); rc=$?
    eq "$out" 4000000 "every job's output with [$mode]"
    [ -n "$mode" ] || has "$(cat "$T/err")" "Only enough file handles to run" "the warning"
    hasnt "$(cat "$T/err")" "cannot run job" "no job failed to start with [$mode]"
  done
  json "$T/j" "assert rows[-1]['counts']['OK']==40, rows[-1]" || fail "JSON counts"
  no_left ;;
keep_order_burst)
  # -k with many jobs that end at once: a job's JSON line and joblog line
  # may wait, and meanwhile the job that prints in input order must not
  # print (and free) a job that has not finished its bookkeeping. Under
  # AddressSanitizer this was a use-after-free.
  for i in $(seq 1 1500); do echo $((i % 2)); done >"$T/in"
  $C --json="$T/j" --joblog="$T/jl" -k -j8 'exit {}' :::: "$T/in" >"$T/out" 2>"$T/err"; rc=$?
  eq $rc 101 "750 failed jobs (GNU parallel caps the count at 101)"
  hasnt "$(cat "$T/err")" "Sanitizer" "no memory error"
  eq "$(wc -l <"$T/jl")" 1501 "a joblog line per job"
  json "$T/j" "
seqs=sorted(r['seq'] for r in rows if r['type']=='job')
assert seqs==list(range(1,1501)), seqs[:20]
assert rows[-1]['counts']['ERROR']==750 and rows[-1]['counts']['OK']==750, rows[-1]
" || fail "a JSON line per job"
  no_left ;;
impossible_empty)
  # A quorum larger than the number of jobs: decided before anything runs.
  err=$($C --json="$T/q" --policy quorum=5 "sleep $S" ::: 1 2 3 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "an impossible quorum succeeded"
  has "$err" "quorum of 5 cannot be reached: 3 jobs" "said on stderr"
  json "$T/q" "
s=rows[-1]
assert s['reason']=='quorum of 5 cannot be reached: 3 jobs', s
assert s['counts']['NOT_STARTED']==3 and s['counts']['OK']==0, s
" || fail "impossible quorum JSON"
  eq "$(left)" 0 "nothing ran"
  # Empty input: nothing runs, exit 0 (GNU parallel), and the summary says so.
  out=$($C echo :::: /dev/null 2>&1); rc=$?
  eq "$rc" 0 "empty input"; eq "$out" "" "no output for empty input"
  $C --json="$T/e" echo :::: /dev/null; eq $? 0 "empty input with --json"
  json "$T/e" "s=rows[0]; assert len(rows)==1 and s['reason']=='the input was empty: nothing to run' and s['exit_status']==0, rows" \
    || fail "empty input JSON"
  # Every usage error: one line on stderr, exit 2; a flag never gets a value.
  while IFS= read -r args; do
    eval "err=\$($C $args 2>&1 >/dev/null)"; rc=$?
    eq $rc 2 "exit status of: corral $args"
    eq "$(wc -l <<<"$err")" 1 "one line for: corral $args [$err]"
    has "$err" "^corral" "message of: corral $args"
  done <<'EOF'
--foo true
--tag=3 echo ::: 1
--keep-order=1 echo ::: 1
--timeout
--re true
--tga echo ::: 1
-x true
-j
--timeout 5x true
--policy majority true
--halt sometimes true
--term-seq NOPE true
--shard 3/2 true
--colsep '' echo ::: a
echo :::+ a
--resume echo ::: 1
--hedge true
merge
http http://x/ ::: a
EOF
  err=$($C --tag=3 echo ::: 1 2>&1); has "$err" "--tag takes no value: write --tag alone" "flag with a value"
  hasnt "$err" "VALUE" "a flag is not offered a value"
  err=$($C --tga echo ::: 1 2>&1); has "$err" "did you mean --tag?" "close name"
  err=$($C --timeout 2>&1); has "$err" "--timeout needs a value" "missing value"
  err=$($C --re true 2>&1); has "$err" "ambiguous" "ambiguous prefix" ;;
killed_output)
  # What a job printed before its timeout or the policy stopped it is
  # printed (grouped, --keep-order, --line-buffer), as GNU parallel does.
  for mode in "" "-k" "--lb"; do
    out=$($C $mode --timeout 1s "echo before-$S; sleep $S" </dev/null)
    eq "$out" "before-$S" "timed-out job's output with [$mode]"
  done
  # Written while the termination sequence runs (after the stop): kept.
  for mode in "" "-k" "--lb"; do
    out=$($C $mode --timeout 2s "trap 'echo last-words; exit 1' TERM; echo before; sleep $S & wait" </dev/null)
    eq "$out" "before
last-words" "what a job writes when it gets SIGTERM, with [$mode]"
  done
  out=$($C --policy fail-fast -j2 "echo started; sleep $S" 'sleep 2; exit 3' </dev/null)
  has "$out" "started" "a job cancelled by the policy"
  no_left
  # --tag: every line tagged, a last line without a newline gets one, so
  # the next job's tag starts a line.
  out=$($C -k --tag 'printf "x{}"' ::: a b | od -c | tr -s ' ' | head -2)
  eq "$($C -k --tag 'printf "x{}"' ::: a b)" "a	xa
b	xb" "--tag, no final newline"
  out=$($C --lb --tag 'printf "1\n2"; sleep 0.2; printf "3\n4"' ::: a)
  eq "$out" "a	1
a	23
a	4" "--lb --tag: lines whole across reads"
  # A line longer than the memory part (300 kB) is still one tagged line.
  out=$($C --lb --tag 'head -c 300000 /dev/zero | tr "\0" z; sleep 0.1; echo; echo next' ::: t)
  eq "$(wc -l <<<"$out")" 2 "one long line and one short"
  eq "$(head -1 <<<"$out" | cut -c1-4)" "t	zz" "the long line is tagged once"
  eq "$(head -1 <<<"$out" | wc -c)" 300003 "the long line is whole" ;;
breaker)
  # Binary output with NULs, grouped and by line.
  head -c 300000 /dev/urandom >"$T/bin"
  for mode in "" "--lb" "-k"; do
    $C $mode "cat $T/bin; : {}" ::: 1 >"$T/got"
    cmp -s "$T/bin" "$T/got" || fail "binary output changed with [$mode]"
  done
  # A huge single line (100 MB, no newline) with --lb: whole, memory bounded.
  r=$(rss "$C --lb 'head -c 100M /dev/zero; : {}' ::: 1")
  n=$($C --lb 'head -c 100M /dev/zero; : {}' ::: 1 | wc -c)
  eq "$n" 104857600 "100 MB line"
  [ "$r" -lt 60000 ] || fail "peak RSS ${r} KiB for a 100 MB line"
  # Many jobs with output at -j 8: memory bounded (see bench for 10,000).
  r=$(rss "$C -j8 'head -c 1M /dev/zero; : {}' ::: \$(seq 1 200)")
  [ "$r" -lt 60000 ] || fail "peak RSS ${r} KiB for 200 jobs x 1 MB"
  # --results somewhere it cannot write: said before anything runs.
  touch "$T/file"
  err=$($C --results "$T/file/res" "echo $S" ::: 1 2>&1); rc=$?
  eq $rc 125 "--results unwritable"
  has "$err" "cannot write to --results $T/file/res" "--results message"
  # --joblog to /dev/full: said, exit 125.
  err=$($C --joblog /dev/full echo ::: 1 2>&1); rc=$?
  eq $rc 125 "--joblog /dev/full"
  has "$err" "cannot write the joblog /dev/full: No space left on device" "joblog message"
  # Standard output closed: said once, the run stops, 125.
  err=$($C --lb -j2 "echo out; sleep $S" ::: 1 2 2>&1 >&-); rc=$?
  eq $rc 125 "stdout closed"
  has "$err" "cannot write standard output: Bad file descriptor" "stdout closed message"
  eq "$(wc -l <<<"$err")" 1 "one line"
  no_left
  # Nothing printed with stdout closed: nothing to say.
  $C true ::: 1 >&-; eq $? 0 "stdout closed, no output"
  # Standard error closed: the run goes on, output intact.
  out=$($C -k 'echo {}; echo e >&2' ::: 1 2 2>&-); rc=$?
  eq $rc 0 "stderr closed"; eq "$out" "1
2" "output with stderr closed"
  # Standard output full (/dev/full): said, 125.
  err=$($C echo ::: 1 2>&1 >/dev/full); eq $? 125 "stdout /dev/full"
  has "$err" "cannot write standard output: No space left on device" "/dev/full message"
  no_left ;;
halt_soon_said_once)
  # --halt soon: "Starting no more jobs" is said once, after the deciding
  # job's message (as GNU parallel), also when standard error's reader is
  # slow: the write waits, other jobs finish meanwhile and must not say it
  # again (it was said by up to 8 jobs).
  seq 1 400 >"$T/in"
  for k in "" -k; do
    $C $k --halt soon,fail=1 -j8 "if [ {} = 50 ]; then head -c 70000 /dev/zero >&2; exit 1; fi; echo {} $S" \
      :::: "$T/in" 2>&1 >/dev/null | (sleep 1; tr -d '\0') >"$T/err"
    eq "$(grep -c 'Starting no more jobs' "$T/err")" 1 "said once [$k]"
    eq "$(grep -E 'This job failed|Starting no more' "$T/err" | sed 's/for [0-9]* jobs/for N jobs/' | tr '\n' '|')" \
      "corral: This job failed:|corral: Starting no more jobs. Waiting for N jobs to finish.|" "order [$k]"
  done
  # With -k the deciding job prints after the ones before it: the message
  # still follows its own.
  err=$($C -k --halt soon,fail=1 -j2 "sleep 0.{}; exit \$(( {} == 3 )) # $S" ::: 1 2 3 4 5 6 7 8 2>&1 >/dev/null); rc=$?
  eq $rc 1 "-k halt soon exit status"
  eq "$(grep -E 'This job failed|Starting no more' <<<"$err" | tr '\n' '|')" \
    "corral: This job failed:|corral: Starting no more jobs. Waiting for 1 jobs to finish.|" "-k order"
  no_left ;;
joblog_stdout_slow_reader)
  # --joblog - with a reader slower than the jobs: every joblog line
  # arrives, each whole on its own line (it was written with stdio on the
  # descriptor the output stream had made non-blocking: EAGAIN, lines
  # lost, "cannot write the joblog -").
  cat >"$T/slow.py" <<'PY'
import os, sys, time
out = open(sys.argv[1], 'wb')
while True:
    b = os.read(0, 4096)
    if not b: break
    out.write(b)
    time.sleep(0.0005)
PY
  for k in "" -k; do
    $C $k --joblog - -j4 "if [ {} = 1 ]; then head -c 1000000 /dev/zero | tr '\\0' x; echo; fi; : $S" \
      ::: $(seq 1 20) 2>"$T/err" | python3 "$T/slow.py" "$T/out"
    eq "$(cat "$T/err")" "" "no error [$k]"
    eq "$(grep -c "^[0-9]*	:	.*: $S\$" "$T/out")" 20 "20 joblog lines [$k]"
    eq "$(wc -l <"$T/out")" 22 "header, 20 lines and the job's output [$k]"
    eq "$(grep -c '^x*$' "$T/out")" 1 "the output whole [$k]"
  done
  # Each job's joblog line follows its output.
  out=$($C -k --joblog - -j3 "echo out {}; : $S" ::: a b c | cut -f1,9 | tr '\t\n' ' |')
  eq "$out" "Seq Command|out a|1 echo out a; : $S|out b|2 echo out b; : $S|out c|3 echo out c; : $S|" "line after output"
  no_left ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
exit 0
