#!/usr/bin/env bash
# End-to-end tests of the corral command, one case per CTest test:
#   cli_test.sh CORRAL_BINARY CASE
# Every case checks what a user sees (output, exit status, JSON, joblog) and
# that no process it started is left (a unique marker in their arguments).
set -u
C=$1
CASE=$2
T=$(mktemp -d /tmp/corral-cli-test.XXXXXX)
# Processes a case starts carry a marker: they sleep 300.<our pid> seconds.
S="300.$$"
FXPID=
trap 'pkill -KILL -f "sleep $S" 2>/dev/null; [ -n "$FXPID" ] && kill $FXPID 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
eq() { [ "$1" == "$2" ] || fail "$3: got [$1], want [$2]"; }
has() { grep -q -- "$2" <<<"$1" || fail "$3: [$2] not in [$1]"; }
hasnt() { ! grep -qF -- "$2" <<<"$1" || fail "$3: [$2] in [$1]"; }
left() { pgrep -f "sleep $S" | wc -l; }
no_left() { sleep 0.1; eq "$(left)" 0 "processes left behind"; }
json() { python3 -c "import json,sys
rows=[json.loads(l) for l in open('$1')]
$2"; }

case $CASE in
replacement_strings)
  out=$($C --dry-run -k echo {} {.} {/} {//} {/.} {#} ::: 'a b' "it's" /x/y.tar.gz .hidden)
  eq "$out" "echo 'a b' 'a b' 'a b' . 'a b' 1
echo 'it'\"'\"'s' 'it'\"'\"'s' 'it'\"'\"'s' . 'it'\"'\"'s' 2
echo /x/y.tar.gz /x/y.tar y.tar.gz /x y.tar 3
echo .hidden '' .hidden . '' 4" "dry run"
  out=$($C -k echo ::: a b ::: 1 2)
  eq "$out" "a 1
a 2
b 1
b 2" "cross product order"
  if command -v parallel >/dev/null; then
    for tmpl in 'echo {}' 'echo {2} {1/.}' 'echo {#}-{//}' 'echo'; do
      want=$(parallel --will-cite --dry-run -k -j1 $tmpl ::: d/a.x 'b c' ::: 1 '$x')
      got=$($C --dry-run -k $tmpl ::: d/a.x 'b c' ::: 1 '$x')
      eq "$got" "$want" "same as GNU parallel for '$tmpl'"
    done
  fi ;;
inputs)
  printf 'a\nb c\n' > "$T/f"
  out=$(printf 'x\ny\n' | $C -k echo in)
  eq "$out" "in x
in y" "stdin lines fill the template"
  out=$(printf 'echo 1\necho 2\n' | $C -k)
  eq "$out" "1
2" "stdin lines are commands"
  out=$($C -k echo :::: "$T/f")
  eq "$out" "a
b c" ":::: file"
  out=$($C -k -a "$T/f" echo {})
  eq "$out" "a
b c" "-a file"
  out=$(printf 'p q\0r\n' | $C -k -0 echo {})
  eq "$out" "p q
r" "-0"
  out=$(printf 'k,v\nk2,v2\n' | $C -k --colsep , echo {2}={1})
  eq "$out" "v=k
v2=k2" "--colsep"
  out=$($C -k 'echo one' 'echo two' </dev/null)
  eq "$out" "one
two" "arguments are commands when stdin is /dev/null"
  out=$(echo ignored | $C -k --commands 'echo one' 'echo two')
  eq "$out" "one
two" "--commands" ;;
streaming_constant_memory)
  # 10,000,000 input lines; the deadline stops the run after a while. The
  # input is ~79 MB: a peak RSS far below that shows it is streamed. (Under
  # AddressSanitizer freed memory waits in a quarantine, and the leak check
  # at exit touches memory: keep the one small, skip the other here.)
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:detect_leaks=0"
  /usr/bin/time -f %M -o "$T/base" bash -c "seq 1 1000 | $C -j 8 true >/dev/null 2>&1"
  /usr/bin/time -f %M -o "$T/rss" bash -c "seq 1 10000000 | $C -j 8 --deadline 2s true >/dev/null 2>&1"
  base=$(tail -1 "$T/base"); rss=$(tail -1 "$T/rss")
  [ "$rss" -lt $((base + 20000)) ] || fail "peak RSS ${rss} KiB with 10M input lines (1000 lines: ${base} KiB)" ;;
exit_status)
  $C 'exit 0' 'exit 3' 'exit 4' </dev/null; eq $? 2 "two failed jobs"
  $C --halt now,fail=1 -j1 'exit 0' 'exit 7' 'exit 0' </dev/null; eq $? 7 "--halt now,fail=1: the job's own status"
  $C --deadline 300ms "sleep $S" </dev/null; eq $? 124 "deadline"
  $C --policy first 'exit 1' 'exit 0' </dev/null; eq $? 0 "first success"
  err=$($C --timeout 5x true 2>&1); rc=$?
  eq $rc 2 "bad usage"
  has "$err" "write a duration" "the usage error says what to write"
  eq "$(wc -l <<<"$err")" 1 "one line"
  err=$($C --policy majority true 2>&1); eq $? 2 "bad policy"
  has "$err" "quorum=K" "policy hint"
  no_left ;;
grouped_output)
  # Two jobs write alternately, slowly: the default keeps each job's output
  # whole; --line-buffer --tag interleaves whole lines, tagged.
  out=$($C -j2 'for i in 1 2 3; do echo a$i; sleep 0.05; done' 'sleep 0.02; for i in 1 2 3; do echo b$i; sleep 0.05; done' </dev/null)
  a="a1
a2
a3"; b="b1
b2
b3"
  [ "$out" == "$a
$b" ] || [ "$out" == "$b
$a" ] || fail "grouped: each job's output must be whole: got [$out]"
  out=$($C -j2 --line-buffer --tag 'for i in 1 2; do echo $i; sleep 0.1; done; : {}' ::: x y | sort)
  eq "$out" "x	1
x	2
y	1
y	2" "--line-buffer --tag"
  out=$($C -j3 -k 'sleep {}; echo {}' ::: 0.3 0.1 0.2)
  eq "$out" "0.3
0.1
0.2" "--keep-order"
  out=$($C --results "$T/res" 'echo out{}; echo err{} >&2; exit {}' ::: 0 3 2>&1)
  eq "$out" "" "--results: the output is in the files only"
  eq "$(cat "$T/res/1/3/stdout")" "out3" "--results stdout"
  eq "$(cat "$T/res/1/3/stderr")" "err3" "--results stderr"
  eq "$(cat "$T/res/1/3/seq")" "2" "--results seq"
  out=$($C -u 'echo direct' </dev/null); eq "$out" "direct" "--ungroup" ;;
joblog_resume)
  $C --joblog "$T/log" -k 'echo {}; exit {}' ::: 0 1 0 2 >/dev/null
  eq "$(head -1 "$T/log")" "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')" "joblog header"
  eq "$(awk -F'\t' 'NR>1{print $1,$2,$7,$8}' "$T/log" | sort)" "1 : 0 0
2 : 1 0
3 : 0 0
4 : 2 0" "joblog columns"
  out=$($C --joblog "$T/log" --resume-failed -k 'echo {}; exit 0' ::: 0 1 0 2)
  eq "$out" "1
2" "--resume-failed reruns the failed ones"
  out=$($C --joblog "$T/log" --resume -k 'echo {}' ::: 0 1 0 2 9)
  eq "$out" "9" "--resume runs only new ones"
  $C --timeout 200ms --joblog "$T/log2" "sleep $S" </dev/null
  eq "$(awk -F'\t' 'NR==2{print $7,$8}' "$T/log2")" "-1 15" "a killed job: Exitval -1, Signal 15" ;;
json_lines)
  $C --json="$T/j" --timeout 300ms --retries 2 --retry-delay 10ms 'echo hi' 'exit 3' "sleep $S" 'printf "\xff\x01"' </dev/null >/dev/null 2>&1
  json "$T/j" "
jobs={r['command']:r for r in rows if r['type']=='job'}
s=rows[-1]
assert s['type']=='summary', s
assert jobs['echo hi']['status']=='OK' and jobs['echo hi']['stdout_bytes']==3
assert jobs['exit 3']['status']=='ERROR' and jobs['exit 3']['exit_code']==3 and jobs['exit 3']['attempts']==2
t=jobs['sleep $S']
assert t['status']=='TIMED_OUT' and t['signal']=='TERM' and t['cancel']['by']=='timeout', t
assert s['counts']=={'OK':2,'ERROR':1,'CANCELLED':0,'TIMED_OUT':1,'NOT_STARTED':0}, s
assert s['processes_left']==0 and s['exit_status']==2
" || fail "JSON content"
  # On stdout: the jobs' output is inside the records, and the policy's
  # cancellations say who and why.
  $C --json --policy fail-fast -j2 "sleep $S" 'sleep 0.2; exit 5' 'echo never' </dev/null >"$T/j2"
  eq $? 5 "fail-fast exit status"
  json "$T/j2" "
jobs={r['seq']:r for r in rows if r['type']=='job'}
assert jobs[1]['status']=='CANCELLED' and jobs[1]['cancel']['by']=='policy', jobs[1]
assert 'job 2 failed' in jobs[1]['cancel']['reason'], jobs[1]
assert jobs[3]['status']=='NOT_STARTED', jobs
assert rows[-1]['reason']=='job 2 failed (fail-fast)', rows[-1]
" || fail "fail-fast JSON"
  no_left ;;
quorum)
  start=$(date +%s%N)
  $C --json="$T/q" --policy quorum=2 -j4 'exit 0' 'sleep 0.1' "sleep $S" "sleep $S" </dev/null >/dev/null
  eq $? 0 "quorum reached"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $ms -lt 3000 ] || fail "quorum took ${ms} ms: not decided early"
  json "$T/q" "assert rows[-1]['reason']=='quorum of 2 reached', rows[-1]" || fail "quorum reason"
  $C --json="$T/q2" --policy quorum=3 -j4 'exit 1' 'exit 1' "sleep $S" "sleep $S" </dev/null >/dev/null
  [ $? -ne 0 ] || fail "impossible quorum succeeded"
  json "$T/q2" "assert 'impossible' in rows[-1]['reason'], rows[-1]" || fail "quorum impossible reason"
  no_left ;;
containment)
  # A grandchild, a setsid escapee, a child that ignores SIGTERM: all end.
  $C --json="$T/c" --timeout 500ms --term-seq TERM,300ms,KILL -j4 \
     "sh -c 'sleep $S & wait'" "setsid sleep $S & echo escaped" \
     "trap '' TERM; sleep $S & wait" "sleep $S & exit 0" </dev/null >/dev/null 2>&1
  json "$T/c" "s=rows[-1]; assert s['processes_left']==0, s; assert s['escaped_killed']>=1, s" \
    || fail "summary"
  no_left ;;
killed_corral)
  # corral itself killed with SIGKILL cannot end its jobs; with a cgroup,
  # the next corral in the same cgroup ends what the dead one left running
  # (and says so) and removes its cgroup. Both run in a cgroup of this
  # test's own, so that no corral of another test run at the same time
  # (they look in their own cgroup) ends them first.
  $C --json="$T/k" true ::: 1 >/dev/null 2>&1
  json "$T/k" "assert 'cgroup' in rows[-1]['containment']" 2>/dev/null \
    || { echo "no cgroup containment here: skipped"; exit 0; }
  mine=$(python3 -c "
m=[l.split(' - ')[0].split()[4] for l in open('/proc/self/mountinfo') if ' - cgroup2 ' in l][0]
r=[l[3:].strip() for l in open('/proc/self/cgroup') if l.startswith('0::')][0]
print(m + ('' if r == '/' else r))")
  cg="$mine/corral-test-$$"
  mkdir "$cg" || { echo "cannot make a cgroup here: skipped"; exit 0; }
  cg_clean() {
    local d
    for d in "$cg"/corral-*; do
      [ -d "$d" ] && { echo 1 > "$d/cgroup.kill"; sleep 0.1; rmdir "$d"; }
    done
    rmdir "$cg" 2>/dev/null
  }
  trap 'cg_clean; pkill -KILL -f "sleep $S" 2>/dev/null; rm -rf "$T"' EXIT
  in_cg() { bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
  # (bash execs corral: $! is corral's pid)
  bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" $C "setsid sleep $S; : {}" ::: 1 </dev/null >/dev/null 2>&1 &
  pid=$!
  # (the job's own sleep: corral's and the shell's command lines name it too)
  for i in $(seq 1 200); do pgrep -f "^sleep $S" >/dev/null && break; sleep 0.05; done
  kill -KILL $pid; wait $pid 2>/dev/null
  sleep 0.2
  pgrep -f "^sleep $S" >/dev/null || fail "the job's process was not left running by the killed corral"
  err=$(in_cg $C true ::: 1 2>&1 >/dev/null)
  no_left
  leftover=$(find "$cg" -mindepth 1 -maxdepth 1 -type d -name "corral-$pid" | wc -l)
  has "$err" "left running by corral $pid" "the next run says what it ended"
  eq "$leftover" 0 "the dead run's cgroup is removed" ;;
sigint)
  # SIGINT mid-run: the termination sequence runs, exit 130, nothing left.
  $C --json="$T/s" -j3 "sleep $S" "sleep $S" "trap '' TERM; sleep $S & wait" 'sleep 0.05' </dev/null >/dev/null 2>&1 &
  pid=$!
  # Until the three long jobs run (their sleeps), at most 10 s.
  for i in $(seq 1 100); do [ "$(left)" -ge 3 ] && break; sleep 0.1; done
  sleep 0.2
  kill -INT $pid
  wait $pid; rc=$?
  eq $rc 130 "exit status after SIGINT"
  json "$T/s" "
c=[r for r in rows if r['type']=='job' and r['status']=='CANCELLED']
assert len(c)==3 and all(r['cancel']['reason']=='SIGINT' for r in c), c
assert rows[-1]['processes_left']==0
" || fail "SIGINT JSON"
  no_left
  # A second SIGINT kills at once, without the grace period.
  $C --term-seq TERM,30s,KILL "trap '' TERM; sleep $S & wait" </dev/null >/dev/null 2>&1 &
  pid=$!
  # Once the job runs (a SIGINT before corral watches for it is ignored: a
  # background job of a script starts with SIGINT ignored).
  for i in $(seq 1 100); do [ "$(left)" -ge 1 ] && break; sleep 0.1; done
  sleep 0.2
  kill -INT $pid; sleep 0.3; kill -INT $pid
  start=$(date +%s%N)
  wait $pid; rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  eq $rc 130 "exit status after two SIGINTs"
  [ $ms -lt 5000 ] || fail "second SIGINT took ${ms} ms"
  no_left ;;
shard_merge)
  for i in 0 1 2; do
    $C --shard $i/3 --json="$T/s$i.json" -k 'echo {}' ::: a b c d e f g >"$T/o$i"
  done
  eq "$(cat "$T/o0")" "a
d
g" "shard 0/3"
  out=$(SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 $C --shard auto -k 'echo {}' ::: a b c d e f g)
  eq "$out" "b
e" "--shard auto from Slurm"
  $C merge "$T/s0.json" "$T/s1.json" "$T/s2.json" > "$T/m"; eq $? 0 "merge exit"
  json "$T/m" "s=rows[-1]; assert s['counts']['OK']==7 and s['decision']=='success' and s['shards']==3, s; assert len(rows)==8" \
    || fail "merged summary"
  $C merge --summary-only "$T/s0.json" "$T/s2.json" > "$T/m2"; eq $? 1 "a missing shard fails the merge"
  json "$T/m2" "assert rows[-1]['missing_shards']==[1], rows" || fail "missing shard"
  $C --shard 1/3 --json="$T/f1.json" 'exit 1' ::: a b c d >/dev/null 2>&1
  $C merge --summary-only "$T/s0.json" "$T/f1.json" "$T/s2.json" > "$T/m3"; eq $? 1 "a failed shard fails the merge"
  json "$T/m3" "s=rows[-1]; assert s['failed_shards']==[1] and s['failures'][0]['shard']==1 and s['failures'][0]['log'].endswith('f1.json'), s" \
    || fail "failed shard named"
  err=$($C merge --summary-only "$T/s0.json" "$T/s0.json" 2>&1 >/dev/null); eq $? 2 "a shard given twice"
  has "$err" "shard 0 was already given" "says which"
  $C merge --x "$T/s0.json" >/dev/null 2>&1; eq $? 2 "an unknown merge option" ;;
live_view)
  command -v tmux >/dev/null || { echo "tmux missing: skipped"; exit 0; }
  sock="$T/tmux"
  tmux -S "$sock" new-session -d -x 100 -y 30 "TERM=xterm $C -j2 --timeout 5s 'sleep 1.5' 'sleep 1.5' 'exit 3' 'sleep 1'; echo EXIT=\$?; sleep 30"
  # Wait (at most 20 s: the machine may be busy) until the pane shows $1.
  pane_until() {
    local i
    for i in $(seq 1 200); do
      pane=$(tmux -S "$sock" capture-pane -p)
      grep -q -- "$1" <<<"$pane" && return 0
      sleep 0.1
    done
    return 1
  }
  pane_until "running 2" || fail "the view never showed two running jobs: [$pane]"
  during=$pane
  pane_until "ETA" || fail "the view never showed an ETA: [$pane]"
  later=$pane
  pane_until "EXIT=" || fail "corral did not finish: [$pane]"
  after=$pane
  tmux -S "$sock" kill-server 2>/dev/null
  has "$during" "running 2" "the view shows running jobs"
  has "$during" "#1 " "the view lists job 1"
  has "$during" "sleep 1.5" "the view shows the command"
  has "$later" "ok " "the view counts"
  has "$after" "EXIT=1" "exit status"
  has "$after" "4 jobs in" "the summary"
  has "$after" "processes left behind: 0" "the summary's containment line"
  has "$after" "exit 3" "the failure is listed"
  # Nothing of the view in a pipe.
  out=$($C 'echo x' </dev/null 2>&1)
  eq "$out" "x" "no view, no summary when not on a terminal" ;;
live_view_narrow)
  # A narrow, short terminal, resized while the view runs: every line of a
  # frame fits (no wrapped line leaves debris behind: the counts line is on
  # the screen once, with nothing above it), a command's escape sequence is shown, not obeyed.
  command -v tmux >/dev/null || { echo "tmux missing: skipped"; exit 0; }
  sock="$T/tmux"
  esc=$(printf '\033[31m')
  printf '%s\n' "export LC_ALL=C.UTF-8 TERM=xterm" \
    "$C -j6 --timeout 4s 'sleep 2.5; echo {}' ::: 'a-rather-long-argument-that-does-not-fit' 'x${esc}y' 'ünïcödé-日本語-ünïcödé-日本語' b c d e f" \
    'echo EXIT=$?; sleep 30' > "$T/run.sh"
  tmux -S "$sock" new-session -d -x 36 -y 7 "bash $T/run.sh"
  tmux -S "$sock" set-option -g window-size manual >/dev/null 2>&1
  frame_ok() { # $1: columns
    local p
    p=$(tmux -S "$sock" capture-pane -p)
    [ "$(grep -cE "^ *[0-9]+% [0-9]+/8 " <<<"$p")" = 1 ] || return 1
    ! awk -v w="$1" 'length($0) >= w { bad = 1 } END { exit !bad }' <<<"$p"
  }
  for i in $(seq 1 100); do frame_ok 36 && break; sleep 0.1; done
  frame_ok 36 || fail "36 columns: [$(tmux -S "$sock" capture-pane -p)]"
  pane=$(tmux -S "$sock" capture-pane -p -e)
  hasnt "$pane" "x${esc}y" "the escape sequence is not written raw"
  tmux -S "$sock" resize-window -x 28 -y 6 2>/dev/null
  sleep 0.5
  for i in $(seq 1 20); do frame_ok 28 && break; sleep 0.1; done
  frame_ok 28 || fail "after the resize to 28 columns: [$(tmux -S "$sock" capture-pane -p)]"
  for i in $(seq 1 200); do
    grep -q "EXIT=" <<<"$(tmux -S "$sock" capture-pane -p)" && break; sleep 0.1
  done
  after=$(tmux -S "$sock" capture-pane -p -S -40)
  tmux -S "$sock" kill-server 2>/dev/null
  has "$after" "EXIT=0" "the run ends"
  has "$after" "processes left behind: 0" "the summary" ;;
time_options)
  # --timeout N%: of the median successful job (from the third one on).
  $C --json="$T/t" -j1 --timeout 300% 'sleep 0.1' 'sleep 0.1' 'sleep 0.1' "sleep $S" </dev/null >/dev/null
  json "$T/t" "
s=[r['status'] for r in rows if r['type']=='job']
assert s==['OK','OK','OK','TIMED_OUT'], s
" || fail "--timeout 300%"
  # --delay between starts; --retries with back-off (lower bounds only: a
  # busy machine only adds time).
  start=$(date +%s%N)
  $C --delay 200ms -j4 true true true </dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $ms -ge 400 ] || fail "--delay 200ms: 3 jobs started within ${ms} ms"
  start=$(date +%s%N)
  $C --json="$T/r" --retries 3 --retry-delay 100ms 'exit 1' </dev/null >/dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $ms -ge 300 ] || fail "--retries 3 with 100ms back-off took ${ms} ms"
  json "$T/r" "assert rows[0]['attempts']==3 and rows[0]['retries']==2, rows[0]" || fail "attempts"
  no_left ;;
http)
  $C http --help >/dev/null 2>&1
  if ! $C http --no-view http://127.0.0.1:1/ </dev/null 2>&1 | grep -q "corral http: http://127.0.0.1:1/"; then
    echo "corral http is not built (no libcurl): skipped"; exit 0
  fi
  FX=$(dirname "$0")/../http/fixture.py
  python3 "$FX" serve --no-stdin > "$T/fx" 2>/dev/null &
  FXPID=$!
  for i in $(seq 1 50); do grep -q PORT "$T/fx" && break; sleep 0.1; done
  P=$(awk '/PORT/{print $2}' "$T/fx")
  U=http://127.0.0.1:$P
  out=$($C http -k "$U/status/200" "$U/status/404" </dev/null 2>"$T/err"); rc=$?
  eq "$out" "status 200
status 404" "bodies in order"
  eq $rc 1 "one failed request"
  has "$(cat "$T/err")" "HTTP 404 Not Found" "the failure on stderr"
  $C http --timeout 0.3 "$U/slow/3000" </dev/null >/dev/null 2>"$T/err"
  eq "$(cat "$T/err")" "corral http: $U/slow/3000: ran longer than the timeout of 300ms" "a timeout on stderr"
  $C http --json="$T/first" --policy first "$U/slow/50" "$U/slow/3000" </dev/null >/dev/null 2>&1
  json "$T/first" "s=rows[-1]; assert s['input_complete'] is True and s['counts']['OK']==1, s" ||
    fail "every URL argument became a job: input_complete"
  json "$T/first" "
jobs={r['seq']:r for r in rows if r['type']=='job'}
assert jobs[1]['status']=='OK' and jobs[1]['exit_code']==0 and jobs[1]['http_status']==200, jobs[1]
c=jobs[2]
assert c['status']=='CANCELLED' and c['exit_code'] is None and c['http_status'] is None, c
assert c['cancel']['by'] and c['url'].endswith('/slow/3000') and c['hedged'] is False, c
" || fail "the JSON of a cancelled request"
  # URLs from standard input, JSON lines, a timeout, and hedging: after the
  # 95th percentile of the fast ones, the slow request gets a duplicate.
  { for i in $(seq 1 8); do echo "$U/slow/50"; done; echo "$U/slow/1500"; echo "$U/slow/9000"; } |
    $C http --hedge -j 2 --timeout 3s --json="$T/h" >/dev/null 2>&1
  json "$T/h" "
jobs={r['seq']:r for r in rows if r['type']=='job'}
assert all(jobs[i]['status']=='OK' and jobs[i]['http_status']==200 for i in range(1,9)), jobs
assert jobs[9]['status']=='OK' and jobs[9]['hedged'] is True, jobs[9]
assert jobs[10]['status']=='TIMED_OUT' and jobs[10]['hedged'] is True, jobs[10]
assert jobs[10]['exit_code'] is None and jobs[10]['http_status'] is None and 'cancel' in jobs[10], jobs[10]
assert rows[-1]['counts']['TIMED_OUT']==1
" || fail "http JSON"
  # Every request starts before any answer (-j 12): the straggler's
  # duplicate still goes out once the percentile is known, and wins.
  { for i in $(seq 1 11); do echo "$U/slow/20"; done; echo "$U/slow-once/k$$/5000"; } |
    $C http --hedge -j 12 --timeout 4s --json="$T/h2" >/dev/null 2>&1
  json "$T/h2" "
jobs={r['seq']:r for r in rows if r['type']=='job'}
assert jobs[12]['status']=='OK' and jobs[12]['hedged'] is True, jobs[12]
assert jobs[12]['duration_s'] < 3, jobs[12]
" || fail "hedge armed before the percentile was known"
  # A request that fails is not hedged (--retries is for errors), and an
  # all-failing run ends rather than waiting for a percentile.
  timeout 10 $C http --hedge -j 4 --json="$T/h3" http://127.0.0.1:1/a http://127.0.0.1:1/b </dev/null >/dev/null 2>&1
  eq $? 2 "hedged requests that all fail (2 failed jobs)"
  json "$T/h3" "
jobs=[r for r in rows if r['type']=='job']
assert len(jobs)==2 and all(j['status']=='ERROR' and j['hedged'] is False for j in jobs), jobs
" || fail "failed requests are not hedged"
  # A URL list as people write it: CRLF line ends, a blank line, a comment,
  # blanks around a URL (no request for the blank line and the comment; the
  # URL is used trimmed); a line that is not a URL fails its own job, like a
  # 503 and a refused connection. The exit status counts the failed jobs.
  printf '%s\r\n\n# mirrors\n  %s  \nnot a url\n%s\n%s\n' "$U/status/200" \
    "$U/status/201" "$U/status/503" "http://127.0.0.1:1/" > "$T/urls"
  for how in file stdin; do
    if [ $how = file ]; then $C http --json="$T/l" :::: "$T/urls" </dev/null >"$T/out" 2>"$T/err"
    else $C http --json="$T/l" <"$T/urls" >"$T/out" 2>"$T/err"; fi
    eq $? 3 "URL list ($how): three failed jobs"
    json "$T/l" "
jobs={r['seq']:r for r in rows if r['type']=='job'}
assert len(jobs)==7, jobs
want={1:('OK',200),2:('OK',None),3:('OK',None),4:('OK',201),5:('ERROR',None),6:('ERROR',503),7:('ERROR',None)}
for k,(st,code) in want.items():
  assert (jobs[k]['status'],jobs[k]['http_status'])==(st,code), (k,jobs[k])
  assert jobs[k]['hedged'] is False and 'url' in jobs[k], jobs[k]
assert jobs[1]['url']=='$U/status/200' and jobs[4]['url']=='$U/status/201', jobs
assert 'no scheme' in jobs[5]['error'], jobs[5]
assert jobs[6]['error']=='HTTP 503 Service Unavailable', jobs[6]
assert 'onnect' in jobs[7]['error'], jobs[7]
assert rows[-1]['counts']['OK']==4 and rows[-1]['counts']['ERROR']==3, rows[-1]
" || fail "URL list ($how)"
    eq "$(grep -c '^corral http: ' "$T/err")" 3 "one line per failed URL ($how)"
  done
  err=$($C --hedge true 2>&1); eq $? 2 "--hedge without http"
  has "$err" "corral http --hedge" "hint" ;;
linked_inputs)
  # --link wraps the shorter sources; :::+ stops at the shortest.
  out=$($C -k echo ::: a b c :::+ 1 2)
  eq "$out" "a 1
b 2" ":::+"
  out=$($C -k --link echo ::: a b c ::: 1 2)
  eq "$out" "a 1
b 2
c 1" "--link wraps around"
  printf 'x\ny\nz\n' > "$T/f"
  out=$($C -k echo {1}{2}{3} ::: a b ::::+ "$T/f" ::: P Q)
  eq "$out" "axP
axQ
byP
byQ" "::::+ then a cross product"
  err=$($C echo :::+ a 2>&1); eq $? 2 ":::+ with nothing before it"
  has "$err" "write :::" "the hint"
  if command -v parallel >/dev/null; then
    for args in "--link echo ::: a b c d ::: 1 2 ::: x y z" "echo ::: a b :::+ 1 2 ::: X Y" \
                "--xapply echo {2}-{1} ::: a b c ::: 1 2"; do
      eq "$($C --dry-run -k $args)" "$(parallel --will-cite --dry-run -k $args)" "same as GNU parallel: $args"
    done
  fi ;;
several_args_per_job)
  out=$($C -k -N2 echo {1}-{2} ::: a b c d e)
  eq "$out" "a-b
c-d
e-" "-N2"
  out=$($C -k -j1 -X echo pre{}post ::: a b c)
  eq "$out" "preapost prebpost precpost" "-X repeats the word"
  out=$($C -k -j1 -m -s 12 echo ::: 1 2 3 4 5 6 7)
  eq "$out" "1 2 3
4 5 6
7" "-m fills up to -s characters"
  out=$($C -k -j3 -m echo ::: 1 2 3 4 5 6 7 8 9 10)
  eq "$out" "1 2 3 4
5 6 7 8
9 10" "a short input is spread over the job slots"
  out=$(seq 3 | $C -k -N0 echo hi); eq "$out" "hi
hi
hi" "-N0: once per record, no value"
  out=$(printf 'a b\nc\nd e\nf\n' | $C -k -L2 echo {1}+{2})
  eq "$out" "a b+c
d e+f" "-L2"
  # A real command over 10,000 arguments: every one is passed exactly once.
  out=$(seq 1 10000 | $C -j4 -X 'printf "%s\n" {} | wc -l' | awk '{s+=$1} END {print s}')
  eq "$out" 10000 "-X passes every argument"
  if command -v parallel >/dev/null; then
    for args in "-N2 echo {} ::: a b c d e" "-n2 echo ::: a b c d e" "-N2 echo {1}/{2}/{3}/{4} ::: a b c ::: 1 2" \
                "-j2 -m echo pre{}post ::: a b c" "-j1 -X -s 14 echo x{} ::: 1 2 3 4 5 6 7 8 9 10" \
                "-j2 -X echo {.}-{/}-{#} ::: x/a.b c.d e" "-j1 -X echo a{}b c ::: 1 2" "-N2 echo {.} {/} {#} ::: x/a.b c.d e" \
                "-N0 echo x{}y {1} {#} ::: a b" "-N2 echo p{}s {2/} ::: a b c d" "-n2 echo p{}s ::: a b c"; do
      eq "$($C --dry-run -k $args)" "$(parallel --will-cite --dry-run -k $args)" "same as GNU parallel: $args"
    done
  fi ;;
pipe)
  seq 1 300000 > "$T/in"
  out=$($C --pipe --block 100k wc -l < "$T/in" | awk '{s+=$1; n++} END {print s, n}')
  eq "$out" "300000 20" "--pipe: every line once, in 20 blocks"
  out=$($C -j3 --pipe --block 50k sort -n < "$T/in" | sort -n | md5sum)
  eq "$out" "$(md5sum < "$T/in")" "--pipe sort: the same lines"
  out=$($C -k --pipe -N 1000 wc -l < "$T/in" | sort | uniq -c | awk '{print $1, $2}')
  eq "$out" "300 1000" "-N records per block"
  out=$(printf 'a\nb' | $C --pipe cat | od -An -c | tr -d ' ')
  eq "$out" 'a\nb' "the last record without a newline"
  out=$(printf '' | $C --pipe wc -l); eq "$out" "" "no input, no job"
  out=$($C --pipe -a "$T/in" --block 10M wc -l); eq "$out" "300000" "-a FILE"
  # A job that stops reading (head) is not an error; a retried job gets its
  # block again; a timed-out one is stopped.
  out=$($C -k --pipe --block 100k head -1 < "$T/in" | head -2)
  eq "$out" "1
18518" "head -1 on each block"
  out=$(seq 1 10 | $C --pipe --retries 3 --retry-delay 10ms \
        'n=$(wc -l); c=$(cat '"$T"'/cnt 2>/dev/null || echo 0); echo $((c+1)) > '"$T"'/cnt; [ $c -ge 2 ] && echo "lines $n"; [ $c -ge 2 ]')
  eq "$out" "lines 10" "the third run got the whole block again"
  seq 1 100 | $C --pipe --timeout 300ms "cat >/dev/null; sleep $S"; eq $? 1 "a timed-out block"
  if command -v parallel >/dev/null; then
    seq 1 3000 > "$T/small"
    for args in "--block 1k wc -c" "--block 1K wc -l" "-N 333 wc -l" "--recend 0\n --block 1k wc -c" \
                "--recstart 1 --block 1k wc -c" "--recstart 1 --recend 0 --block 1k wc -c"; do
      eq "$($C -k --pipe $args < "$T/small")" "$(parallel --will-cite -k --pipe $args < "$T/small")" "same blocks as GNU parallel: $args"
    done
  fi
  no_left ;;
replacement_strings_more)
  out=$($C --dry-run -k echo {0} {##} {+/} {+.} {..} {/..} ::: /x/y.tar.gz a.b)
  eq "$out" "echo /x/y.tar.gz 2 /x gz /x/y y
echo a.b 2 '' b a.b a.b" "{0} {##} {+/} {+.} {..} {/..}"
  out=$($C --dry-run echo {%} {foo} ::: a </dev/null); eq "$out" "echo 1 {foo}" "{%}; unknown strings are literal"
  err=$($C echo '{=s/a/b/=}' ::: a 2>&1); eq $? 2 "{= perl =}"
  has "$err" "not supported" "says so"; eq "$(wc -l <<<"$err")" 1 "one line"
  out=$($C -k --header : echo {f}-{g} ::: f 1 2 ::: g x); eq "$out" "1-x
2-x" "--header : with :::"
  out=$(printf 'n,v\n1,2\n' | $C --header : --colsep , echo {v}{n}); eq "$out" "21" "--header with --colsep"
  if command -v parallel >/dev/null; then
    for args in "--plus echo {##} {#} ::: a b c" "echo {0} {-1} ::: a ::: b" "--plus echo {...} {+..} {/...} ::: a.b.c.d x/y.z"; do
      eq "$($C --dry-run -k $args)" "$(parallel --will-cite --dry-run -k $args)" "same as GNU parallel: $args"
    done
  fi ;;
input_edges)
  $C echo :::: "$T/missing" 2>"$T/err"; eq $? 255 "a missing :::: file"
  eq "$(cat "$T/err")" "corral: Error: Cannot open input file \`$T/missing': No such file or directory." "the message (GNU parallel's)"
  $C -a "$T/missing" echo 2>/dev/null; eq $? 255 "a missing -a file"
  head -c 1000000 /dev/zero | tr '\0' a > "$T/long"; printf '\nb\n' >> "$T/long"
  out=$($C -k 'printf %s {} | wc -c' :::: "$T/long" 2>"$T/err"); rc=$?
  eq "$out" "1" "the short line runs"
  eq $rc 1 "a 1 MB argument fails its job"
  grep -qi "at most 131071\|too long" "$T/err" || fail "a 1 MB argument: the reason is not on stderr: [$(cat "$T/err")]"
  out=$($C --pipe wc -c < "$T/long"); eq "$out" "1000003" "a 1 MB line through --pipe"
  printf 'ok\n\xff\xfe\n' > "$T/bin"
  eq "$($C -k 'printf %s {} | od -An -tx1 | tr -d " "' :::: "$T/bin")" "6f6b
fffe" "invalid UTF-8 passes unchanged"
  out=$($C 'echo a\\tb' </dev/null)
  if [ -z "${PARALLEL_SHELL:-}" ] && [ "$(readlink /proc/$$/exe)" != "${BASH:-x}" ]; then :; fi
  eq "$(PARALLEL_SHELL=/bin/dash $C 'echo $0' </dev/null)" "/bin/dash" "PARALLEL_SHELL"
  eq "$(bash -c "$C 'echo \$0' </dev/null")" "$(readlink -f /bin/bash)" "the shell corral was started from"
  if command -v parallel >/dev/null; then
    cmp_in() { local input=$1; shift
      eq "$(printf "$input" | $C --dry-run -k "$@")" "$(printf "$input" | parallel --will-cite --dry-run -k "$@")" "same as GNU parallel: $input $*"; }
    cmp_in 'a\n\nb\n' echo x{}y
    cmp_in 'a\nb' echo
    cmp_in 'a\r\nb\r\n' echo
    cmp_in 'a\0\0b\0' -0 echo x{}y
    cmp_in 'a,b,,c\n' -d , echo x{}y
    cmp_in '  a  \n b\n' --trim lr echo x{}y
    cmp_in '  a,  b \n' --colsep , --trim lr echo x{2}y
    cmp_in 'a  b\tc\n' --colsep '\s+' echo {1}-{2}-{3}
    cmp_in 'a1b22c\n' --colsep '[0-9]+' echo {1}-{2}-{3}
    cmp_in '\xff\xfe\n' echo
    eq "$($C -k 'echo a\\tb' ::: 1)" "$(parallel --will-cite -k 'echo a\\tb' ::: 1)" "the same shell as GNU parallel"
  fi
  out=$($C --shuf -k echo ::: 1 2 3 4 5 6 7 8 9 | sort -n | tr '\n' ' ')
  eq "$out" "1 2 3 4 5 6 7 8 9 " "--shuf runs every job" ;;
random_vs_parallel)
  command -v parallel >/dev/null || { echo "GNU parallel missing: skipped"; exit 0; }
  python3 "$(dirname "$0")/random_vs_parallel.py" "$C" 7 40 || fail "commands differ from GNU parallel's" ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
exit 0
