#!/usr/bin/env bash
# The corral command next to GNU parallel: what a GNU parallel user types,
# one case per CTest test:
#   cli_compat_test.sh CORRAL_BINARY CASE
# Where GNU parallel is installed, a case compares with its output; every
# case also checks the expected text itself, so it can fail without it.
set -u
C=$1
CASE=$2
T=$(mktemp -d /tmp/corral-compat-test.XXXXXX)
S="300.$$"
trap 'pkill -KILL -f "sleep $S" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
eq() { [ "$1" == "$2" ] || fail "$3: got [$1], want [$2]"; }
has() { grep -q -- "$2" <<<"$1" || fail "$3: [$2] not in [$1]"; }
hasnt() { ! grep -q -- "$2" <<<"$1" || fail "$3: [$2] in [$1]"; }
no_left() { sleep 0.1; eq "$(pgrep -f "sleep $S" | wc -l)" 0 "processes left behind"; }
json() { python3 -c "import json,sys
rows=[json.loads(l) for l in open('$1')]
$2"; }
P=
command -v parallel >/dev/null && P="parallel --will-cite"

cd "$T" || exit 1
case $CASE in
exported_functions)
  # GNU parallel's tutorial: a function bash exported is a command; so are
  # bash's own builtins (the commands run in the shell corral was started
  # from: bash here). Neither may be executed directly.
  my_func() { echo "in $1"; }
  export -f my_func
  eq "$($C -k my_func ::: 1 2 3 2>&1)" "in 1
in 2
in 3" "an exported function"
  has "$($C help ::: cd 2>&1)" "cd: cd \\[-L" "a bash builtin (help)"
  eq "$($C -k typeset -p ::: BASH_VERSINFO 2>&1 | head -c 22)" "declare -ar BASH_VERSI" "a bash builtin (typeset)"
  eq "$($C nonexistent-command-$$ ::: 1 2>/dev/null; echo $?)" "1" "a command that does not exist still fails"
  if [ -n "$P" ]; then
    eq "$($C -k my_func ::: 1 2 3 2>&1)" "$($P -k my_func ::: 1 2 3 2>&1)" "same as GNU parallel"
  fi ;;
hostile_inputs)
  # Empty names, corrupt joblogs, values that climb out of --results.
  err=$($C --wd '' pwd ::: 1 2>&1); eq $? 2 "--wd ''"
  eq "$(wc -l <<<"$err")" 1 "--wd '': one line"
  err=$($C --results '' echo ::: 1 2>&1); eq $? 2 "--results ''"
  : > "$T/empty"
  $C --joblog "$T/empty" --retry-failed >/dev/null 2>&1; eq $? 0 "--retry-failed from an empty joblog"
  printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n9223372036854775808\t:\t1\t1\t0\t0\t0\t0\techo x\n99999999999999999999\t:\t1\t1\t0\t0\t0\t0\techo x\n' > "$T/huge"
  eq "$(timeout 20 $C --joblog "$T/huge" --resume echo ::: 1)" "1" "--resume over Seq numbers no run reaches"
  # A torn last line gets its end before the next line is appended.
  printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n1\t:\t1796000000.000\t     0.001\t0\t2\t0\t0\techo a\n2\t:\t1' > "$T/torn"
  eq "$($C -k --joblog "$T/torn" --resume echo ::: a b)" "b" "--resume after a torn line"
  eq "$($C -k --joblog "$T/torn" --resume echo ::: a b)" "" "--resume again: nothing left"
  # ".." as a value stays inside the results tree; through a name with
  # replacement strings it is refused.
  mkdir -p "$T/r/a/b" && cd "$T/r/a/b"
  $C --results o echo ::: .. . >/dev/null 2>&1; eq $? 0 "--results with the values .. and ."
  eq "$(find "$T/r" -name stdout | sort | tr '\n' ' ')" "$T/r/a/b/o/1/\../stdout $T/r/a/b/o/1/\./stdout " "escaped names"
  err=$($C --results 'o/{}' echo ::: ../../x 2>&1); eq $? 125 "a value leading out of --results NAME"
  has "$err" "lead out of it" "says why"
  eq "$(find "$T/r" -name 'x*' | wc -l)" 0 "nothing written outside"
  cd "$T"
  # --results --resume runs a job that was stopped again (its seq file is
  # empty), not one that ended.
  $C -j2 --deadline 1s --results res 'echo start {}; sleep {}; echo end {}' ::: 0 30 >/dev/null 2>&1
  eq "$(cat res/1/30/seq)" "" "a stopped job's seq is empty"
  eq "$(cat res/1/0/seq)" "1" "an ended job's seq"
  $C -j2 --results res --resume 'echo start {}; sleep 0; echo end {}' ::: 0 30 >/dev/null 2>&1
  eq "$(cat res/1/30/stdout)" "start 30
end 30" "the stopped job ran again"
  eq "$(cat res/1/0/stdout)" "start 0
end 0" "the ended one did not"
  # -d takes printf's octal and hexadecimal escapes (GNU parallel).
  eq "$(printf 'aAbAc' | $C -k -d '\101' echo | tr '\n' ' ')" "a b c " "-d octal"
  eq "$(printf 'aAbAc' | $C -k -d '\x41' echo | tr '\n' ' ')" "a b c " "-d hexadecimal"
  # --wd with replacement strings: each job's own directory, made.
  eq "$($C -k --wd "$T/wd/{}" pwd ::: a b)" "$T/wd/a
$T/wd/b" "--wd DIR/{}"
  # -E with an empty string: no end-of-file string (xargs, GNU parallel).
  eq "$($C -k -E '' echo ::: a '' b)" "a

b" "-E ''"
  eq "$($C -k -E x echo ::: a x b)" "a" "-E x" ;;
summary_not_started)
  # The summary counts the jobs that never started with and without --json.
  for j in "" "--json=$T/j"; do
    err=$($C --summary $j -j2 --policy fail-fast 'sleep {}; exit 1' ::: 0.2 "$S" "$S" "$S" 2>&1 >/dev/null)
    has "$err" "0 ok, 1 failed, 1 cancelled, 2 not started" "the summary's counts with [$j]"
  done
  no_left ;;
joblog_stdout)
  out=$($C --joblog - -k echo ::: a b)
  [ -e "$T/-" ] && fail "--joblog - created a file named -"
  # The same lines as GNU parallel, Receive aside (corral writes 0).
  got=$(cut -f1,2,7- <<<"$out")
  eq "$got" "$(printf 'Seq\tHost\tExitval\tSignal\tCommand\na\n1\t:\t0\t0\techo a\nb\n2\t:\t0\t0\techo b')" "joblog on standard output"
  if [ -n "$P" ]; then
    eq "$got" "$($P --joblog - -k echo ::: a b | cut -f1,2,7-)" "same as GNU parallel"
  fi
  err=$($C --joblog - --resume echo ::: a 2>&1); rc=$?
  eq $rc 2 "--resume with --joblog -"
  has "$err" "from a file" "says why"
  # Two formats on one stream would be neither: refused, one line.
  err=$($C --joblog - --json echo ::: a 2>&1); rc=$?
  eq $rc 2 "--joblog - with --json on standard output"
  eq "$(wc -l <<<"$err")" 1 "one line"
  has "$err" "--json=FILE" "says what to write" ;;
json_input_complete)
  # Decided by the first success with the second job running (default -j):
  # both values became jobs, so the input is complete.
  $C --json="$T/j" --policy first 'sleep {}' ::: 0.1 1 >/dev/null
  json "$T/j" "assert rows[-1]['input_complete'] is True, rows[-1]" || fail "input_complete, every value running"
  $C --json="$T/j" -j1 --policy first 'sleep {}' ::: 0.1 1 2 >/dev/null
  json "$T/j" "s=rows[-1]; assert s['input_complete'] is True and s['counts']['NOT_STARTED']==2, s" ||
    fail "input_complete, values listed as NOT_STARTED"
  $C --json="$T/j" -j1 --policy first 'sleep 0.1' 'sleep 1' 'sleep 2' </dev/null >/dev/null
  json "$T/j" "assert rows[-1]['input_complete'] is True, rows[-1]" || fail "input_complete, commands as arguments"
  # A pipe that does not end: not read to its end.
  yes 1 | head -100000 | $C --json="$T/j" -j1 --policy first 'true {}' >/dev/null
  json "$T/j" "assert rows[-1]['input_complete'] is False, rows[-1]" || fail "input_complete, a pipe left unread"
  no_left ;;
job_messages)
  # What standard error says (no live view: it is not a terminal).
  # Times far apart: a loaded machine (sanitizers, two cores) must not
  # move a job across the timeout.
  got=$($C --timeout 2 'sleep {}' ::: 0.1 30 2>&1 >/dev/null)
  eq "$got" "corral: Warning: This job was killed because it timed out:
corral: Warning: sleep 30" "a timeout"
  got=$($C -j2 --halt soon,fail=1 'sleep {}; exit 1' ::: 0.2 2 3 2>&1 >/dev/null)
  eq "$got" "corral: This job failed:
sleep 0.2; exit 1
corral: Starting no more jobs. Waiting for 1 jobs to finish.
corral: This job failed:
sleep 2; exit 1" "--halt soon,fail=1"
  # A timeout is said for each attempt.
  got=$($C --retries 2 --timeout 1 'sleep 30; : {}' ::: a 2>&1 >/dev/null)
  eq "$got" "corral: Warning: This job was killed because it timed out:
corral: Warning: sleep 30; : a
corral: Warning: This job was killed because it timed out:
corral: Warning: sleep 30; : a" "--retries 2 --timeout 1"
  # Said again after each later failure while jobs still run.
  got=$($C -j3 --halt soon,fail=1 'sleep {}; exit 1' ::: 0.1 2 4 5 2>&1 >/dev/null)
  eq "$got" "corral: This job failed:
sleep 0.1; exit 1
corral: Starting no more jobs. Waiting for 2 jobs to finish.
corral: This job failed:
sleep 2; exit 1
corral: Starting no more jobs. Waiting for 1 jobs to finish.
corral: This job failed:
sleep 4; exit 1" "--halt soon,fail=1, several failures"
  got=$($C -j2 --halt now,success=1 'sleep {}' ::: 0.2 3 2>&1 >/dev/null)
  eq "$got" "corral: This job succeeded:
sleep 0.2" "--halt now,success=1"
  got=$($C -j1 --halt now,done=1 'exit {}' ::: 0 1 2>&1 >/dev/null)
  eq "$got" "corral: This job finished:
exit 0" "--halt now,done=1"
  got=$($C -k 'echo {}' ::: a b 2>&1)
  eq "$got" "a
b" "nothing said without a timeout or --halt"
  if [ -n "$P" ]; then
    for a in "--timeout 2|sleep {}|0.1 30" "-j2 --halt soon,fail=1|sleep {}; exit 1|0.2 2 3" \
             "-j2 --halt now,success=1|sleep {}|0.2 3" "-j1 --halt now,done=1|exit {}|0 1" \
             "-j1 --halt soon,fail=2|echo {}; exit 1|1 2 3" \
             "-j3 --halt soon,fail=1|sleep {}; exit 1|0.1 2 4 5" \
             "-j3 --halt soon,success=1|sleep {}; [ {} != 4 ]|0.1 2 4 5" \
             "--retries 2 --timeout 1|sleep 30; : {}|a"; do
      IFS='|' read -r o t v <<<"$a"
      eq "$($C $o "$t" ::: $v 2>&1)" "$($P $o "$t" ::: $v 2>&1 | sed 's/^parallel:/corral:/')" "same as GNU parallel: $o $t"
    done
  fi
  no_left ;;
options_documented)
  # Every long option in corral's option table is in --help, the man page
  # and docs/cli.md; the refused ones are listed in docs/cli.md.
  SRC=$(cd "$(dirname "$0")/../.." && pwd)
  $C --help > "$T/help" || fail "--help"
  python3 - "$SRC" "$T/help" <<'PY' || fail "options missing from the documentation"
import re, sys
src, helpf = sys.argv[1], sys.argv[2]
code = open(src + "/cli/opts.c").read()
table = code[code.index("longopts[] = {"):]
table = table[:table.index("{0, 0, 0, 0}")]
opts = re.findall(r'\{"([a-z-]+)", \w+, 0, (\w+)\}', table)
assert len(opts) > 40, opts
man = re.sub(r"\\f[BRIP]", "", open(src + "/cli/corral.1").read()).replace("\\-", "-")
doc = open(src + "/docs/cli.md").read()
helptext = open(helpf).read()
word = lambda name, text: re.search(r"--" + re.escape(name) + r"(?![a-z-])", text)
missing = []
for name, what in opts:
    places = [("docs/cli.md", doc)]
    if not what.startswith("O_REFUSE"):
        places += [("--help", helptext), ("corral.1", man)]
    missing += ["--%s in %s" % (name, w) for w, t in places if not word(name, t)]
if missing:
    print("\n".join(missing))
    sys.exit(1)
PY
  for o in --nonall --onall --tmux; do
    err=$($C $o echo ::: a 2>&1); rc=$?
    eq $rc 2 "$o is refused"
    has "$err" "not in corral\|remote hosts" "$o says why"
  done ;;
gnu_options)
  eq "$($C -I ,, -k echo ,, x,,y ::: a 'b c')" "a xay
b c xb cy" "-I ,,"
  eq "$($C -I ,, -k echo ::: a)" "a" "-I without the string in the command appends"
  err=$($C -I 2>&1); eq $? 2 "-I without a value"
  got=$($C -t -k echo ::: a 'b c' 2>&1 >/dev/null)
  eq "$got" "echo a
echo 'b c'" "-t prints each command on stderr"
  eq "$($C --verbose echo ::: x 2>&1 >/dev/null)" "echo x" "--verbose"
  eq "$($C --group --no-notice --env HOME --env=PATH -k echo ::: a b 2>&1)" "a
b" "--group, --no-notice, --env accepted"
  eq "$($C --tagstring '{#}:{}' -k echo ::: 'a b' "it's")" "1:a b	a b
2:it's	it's" "--tagstring, values unquoted"
  eq "$($C -k --tagstring '' echo hi ::: a)" "hi a" "an empty --tagstring is no tag"
  err=$($C --tagstring 'x{=1=}' echo ::: a 2>&1); eq $? 2 "{= =} in --tagstring is refused"
  has "$err" "not supported" "says why"
  err=$($C -N 2147483647 echo ::: a 2>&1); eq $? 2 "-N beyond the maximum"
  has "$err" "at most 100000000" "the message names the maximum"
  eq "$($C --ctag -k echo ::: a | cat -v)" "^[[32ma^[[0m	a" "--ctag: colour through a pipe"
  eq "$($C --tag -k echo ::: a | cat -v)" "a	a" "--tag: no colour through a pipe"
  eq "$($C -q -k printf '%s  %s|' x{}y "it's" ::: 'a  b' c)" "xa  by  it's|xcy  it's|" "-q"
  eq "$($C -q -k echo 'a  b' ::: c)" "a  b c" "-q appends {} unquoted"
  if [ -n "$P" ]; then
    eq "$($C -q -k printf '%s  %s|' x{}y "it's" ::: 'a  b' c)" "$($P -q -k printf '%s  %s|' x{}y "it's" ::: 'a  b' c)" "-q as GNU parallel"
    eq "$($C --quote -k perl -e 'print "@ARGV\n"' {} ::: 'a b' '$x')" "$($P --quote -k perl -e 'print "@ARGV\n"' {} ::: 'a b' '$x')" "--quote as GNU parallel"
    for a in "--tagstring {#}:{} -k echo" "--tagstring x{.}y --lb echo"; do
      eq "$($C $a ::: a.b 'c d' | sort)" "$($P $a ::: a.b 'c d' | sort)" "same as GNU parallel: $a"
    done
    for a in "-I ,, -k echo ,, x,,y" "-I ,, -k echo" "-t -k echo" "--group -k echo" "--env HOME -k echo"; do
      eq "$($C $a ::: a 'b c' 2>/dev/null)" "$($P $a ::: a 'b c' 2>/dev/null)" "same output as GNU parallel: $a"
      eq "$($C $a ::: a 'b c' 2>&1 >/dev/null)" "$($P $a ::: a 'b c' 2>&1 >/dev/null)" "same stderr as GNU parallel: $a"
    done
  fi ;;
empty_source)
  # A ::: with no values: nothing runs, exit 0; beside values, one empty value.
  out=$($C echo ::: 2>&1); rc=$?
  eq "$rc:$out" "0:" "corral echo :::"
  $C --json="$T/j" echo ::: >/dev/null
  json "$T/j" "s=rows[-1]; assert s['decision']=='success' and s['input_complete'] is True, s" || fail "JSON of an empty :::"
  eq "$($C --dry-run echo ::: a b :::)" "echo a ''
echo b ''" "an empty ::: beside values"
  eq "$($C echo :::: 2>&1; echo $?)" "0" "corral echo ::::"
  if [ -n "$P" ]; then
    for a in "echo :::" "echo ::: a b :::" "echo {2}-{1} ::: a b :::" "echo ::::"; do
      eq "$($C --dry-run -k $a 2>&1; echo $?)" "$($P --dry-run -k $a 2>&1; echo $?)" "same as GNU parallel: $a"
    done
  fi ;;
empty_files_beside_values)
  # An empty :::: file or standard input is one empty value beside a source
  # with values, wherever it stands; every source empty: no job.
  : > "$T/e"; printf 'l1\nl2\n' > "$T/f"
  eq "$($C -k echo {1}-{2}-{3} :::: "$T/e" ::: a b)" "-a-
-b-" "an empty first :::: file"
  eq "$($C -k echo {1}-{2} ::: a b :::: "$T/e")" "a-
b-" "an empty second :::: file"
  eq "$($C -k echo {1}-{2} :::: - ::: a b </dev/null)" "-a
-b" "empty standard input"
  eq "$($C -k echo {1}-{2} :::: "$T/e" ::::+ "$T/f")" "-l1" "linked to an empty file"
  eq "$($C -k echo {1}-{2} :::: "$T/e" :::: "$T/e"; echo $?)" "0" "every file empty"
  eq "$($C -k echo {1}-{2} ::: :::: "$T/e"; echo $?)" "0" "an empty ::: and an empty file"
  if [ -n "$P" ]; then
    for a in "::: a b :::: e" ":::: e ::: a b" ":::: e :::: f" ":::: f :::: e :::: f" ":::: e ::::+ f" \
             ":::: f ::::+ e" ":::: e :::: e" "::: :::: e" ":::: e ::: :::: f" "::: x :::: e :::: e"; do
      eq "$($C -k echo {1}-{2}-{3} $a 2>&1; echo $?)" "$($P -k echo {1}-{2}-{3} $a 2>&1; echo $?)" "same as GNU parallel: $a"
    done
  fi ;;
colsep_trims)
  # GNU parallel trims the columns of --colsep (Perl's \s) unless --trim n.
  eq "$($C --colsep , echo x{1}x{2}x ::: ' a , b ')" "xaxbx" "--colsep trims"
  eq "$($C --colsep , echo x{}x ::: "$(printf '\ta\r')")" "xax" "tabs and carriage returns too"
  eq "$($C --colsep , --trim n echo x{1}x{2}x ::: ' a , b ')" "x a x b x" "--trim n keeps them"
  eq "$($C echo x{}x ::: ' a ')" "x a x" "no --colsep: no trim"
  eq "$($C --trim lr echo x{}x ::: "$(printf ' a\f')")" "xax" "--trim lr: a form feed too"
  if [ -n "$P" ]; then
    for o in "--colsep ," "--colsep , --trim n" "--colsep , --trim l" "--colsep \s+" "--trim r"; do
      eq "$($C -k $o echo x{1}x{2}x ::: ' a , b ' "$(printf '\ta\r,b\f')" 2>&1)" \
         "$($P -k $o echo x{1}x{2}x ::: ' a , b ' "$(printf '\ta\r,b\f')" 2>&1)" "same as GNU parallel: $o"
    done
  fi ;;
keep_order_line_buffer)
  # -k --lb: the first job in order prints its lines while it runs; the
  # others follow in order, whole lines not mixed. Job 1 goes on only once
  # the reader has seen its first line (else it says "late").
  got=$($C -k --lb 'if [ {} = 1 ]; then echo 1-start; i=0; while [ ! -e '"$T/seen"' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; [ -e '"$T/seen"' ] || echo late; echo 1-end; else echo {}-a; printf {}-b; fi' ::: 1 2 3 |
        { IFS= read -r first; touch "$T/seen"; echo "$first"; cat; })
  eq "$got" "1-start
1-end
2-a
2-b3-a
3-b" "-k --lb"
  eq "$($C -k --lb --tag echo ::: a b)" "a	a
b	b" "-k --lb --tag"
  # -u wins over -k, as GNU parallel; -u with --lb is refused.
  eq "$($C -j2 -u -k 'sleep {}; echo {}' ::: 0.6 0.1)" "0.1
0.6" "-u -k"
  err=$($C -u --lb echo ::: a 2>&1); rc=$?
  eq "$rc" 2 "-u --lb"
  has "$err" "keep one of them" "says what to write"
  if [ -n "$P" ]; then
    for o in "-k --lb" "--lb -k" "-k --lb --tag" "-k -u"; do
      # Standard output and error apart: a running job's two pipes are read
      # as data comes, in no fixed order between them.
      eq "$($C -j2 $o 'sleep {}; echo {}; echo {}e >&2' ::: 0.6 0.1 0.2 2>"$T/ce")" \
         "$($P -j2 $o 'sleep {}; echo {}; echo {}e >&2' ::: 0.6 0.1 0.2 2>"$T/pe")" "same as GNU parallel: $o"
      eq "$(cat "$T/ce")" "$(cat "$T/pe")" "same standard error as GNU parallel: $o"
    done
  fi
  no_left ;;
joblog_columns)
  # Receive is the bytes of standard output; -k writes the lines in order;
  # a job a signal ended has Exitval 0 and its Signal, a timed-out one -1
  # and 15; --halt now,fail=1 on a timed-out job exits 255 (GNU parallel's -1).
  $C -k --joblog "$T/jl" 'sleep 0.{}; printf {}; echo e >&2' ::: 3 1 2 >/dev/null 2>&1
  eq "$(cut -f1,5,6,7,8,9 "$T/jl")" "Seq	Send	Receive	Exitval	Signal	Command
1	0	1	0	0	sleep 0.3; printf 3; echo e >&2
2	0	1	0	0	sleep 0.1; printf 1; echo e >&2
3	0	1	0	0	sleep 0.2; printf 2; echo e >&2" "-k: in order, Receive"
  eq "$($C --joblog - 'kill -9 $$' ::: 1 | cut -f5-)" "Send	Receive	Exitval	Signal	Command
0	0	0	9	kill -9 \$\$ 1" "killed by a signal"
  eq "$($C --joblog - --timeout 0.3 'sleep 3' ::: 1 2>/dev/null | cut -f5-)" "Send	Receive	Exitval	Signal	Command
0	0	-1	15	sleep 3 1" "timed out"
  $C --halt now,fail=1 --timeout 0.3 'sleep 3' ::: 1 2>/dev/null; eq $? 255 "--halt now,fail=1 on a timeout"
  if [ -n "$P" ]; then
    for a in "-k|sleep 0.{}; printf {}; echo e >&2|3 1 2" "|kill -9 \$\$|1" "--timeout 0.3|sleep 3|1" "-u|printf 123|1"; do
      IFS='|' read -r o t v <<<"$a"
      $C $o --joblog "$T/c" "$t" ::: $v >/dev/null 2>&1; crc=$?
      $P $o --joblog "$T/p" "$t" ::: $v >/dev/null 2>&1; prc=$?
      eq "$crc $(cut -f1,2,5- "$T/c")" "$prc $(cut -f1,2,5- "$T/p")" "same as GNU parallel: $o $t"
    done
  fi
  no_left ;;
results_layout)
  # GNU parallel's --results forms: a tree DIR/1/VALUE/2/VALUE/{seq,stdout,
  # stderr} (values escaped: / as \_, \ as \\), a name with replacement
  # strings (NAME, NAME.err, NAME.seq; a directory when it ends in /),
  # NAME.csv / .tsv / .json (-.csv on standard output). Nothing is printed.
  tree() { (cd "$1" && find . -type f | sort | while IFS= read -r f; do printf '%s=%s|' "$f" "$(cat "$f")"; done); }
  out=$($C -k --results "$T/r" 'echo o{1}; echo e{2} >&2' ::: a/b 'q\z' ::: 1 2>&1)
  eq "$out" "" "nothing printed"
  eq "$(tree "$T/r")" "./1/a\_b/2/1/seq=1|./1/a\_b/2/1/stderr=e1|./1/a\_b/2/1/stdout=oa/b|./1/q\\\\z/2/1/seq=2|./1/q\\\\z/2/1/stderr=e1|./1/q\\\\z/2/1/stdout=oq\z|" "the tree"
  $C --results "$T/f_{}" echo ::: x
  eq "$(cat "$T/f_x"; cat "$T/f_x.err"; cat "$T/f_x.seq")" "x
1" "a name per job"
  $C --results "$T/d_{}/" echo ::: x
  eq "$(tree "$T/d_x")" "./seq=1|./stderr=|./stdout=x|" "a directory per job"
  got=$($C -k --results -.csv 'echo {}; exit 2' ::: a 'b,c' | sed -E 's/,[0-9]+\.[0-9]{3},[0-9]+\.[0-9]{3},/,T,R,/')
  eq "$got" 'Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr
1,:,T,R,0,2,2,0,"echo a; exit 2",a,"a
",
2,:,T,R,0,4,2,0,"echo '"'"'b,c'"'"'; exit 2","b,c","b,c
",' "-.csv"
  $C --results "$T/x.json" echo ::: '"q"'
  python3 -c "import json; r=json.loads(open('$T/x.json').read()); assert r['V']==['\"q\"'] and r['Stdout']=='\"q\"\\n' and r['Seq']==1, r" ||
    fail "NAME.json"
  # --tag: the output in the row is tagged too, as GNU parallel.
  eq "$($C --tag --results -.csv 'echo a; printf x; : {}' ::: q | tail -2 | sed -E 's/^1,:,[0-9.]+,[0-9.]+,/1,:,T,R,/')" '1,:,T,R,0,3,0,0,"echo a; printf x; : q",q,"q	a
q	x",' "--tag in -.csv"
  # --resume with --results: the jobs whose results exist are not run again.
  rm -rf "$T/r"
  $C --results "$T/r" 'echo {}' ::: 1 2
  rm -rf "$T/r/1/2"
  eq "$($C --resume --results "$T/r" -t 'echo {}' ::: 1 2 3 2>&1)" "echo 2
echo 3" "--resume --results"
  if [ -n "$P" ]; then
    for a in "-k --results R echo {} ::: a/b 'q\z' '' ::: 1 2" "-k --results R -N2 echo ::: a b c" \
             "-k --header : --results R echo ::: b 1 2 ::: a 3" "-k --colsep , --results R echo ::: x,y" \
             "--results R_{}_x echo ::: a b" "--results R_{1}/{2}/ echo ::: a b ::: 1"; do
      rm -rf "$T/c" "$T/p"; mkdir "$T/c" "$T/p"
      co=$(cd "$T/c" && eval "$C $a" 2>&1; echo $?; tree .)
      po=$(cd "$T/p" && eval "$P $a" 2>&1; echo $?; tree .)
      eq "$co" "$po" "same as GNU parallel: $a"
    done
    for a in "-k --results -.tsv 'echo {}; echo e >&2' ::: a 'b	c'" "-k --results -.json 'echo {}; exit 3' ::: a ::: 1 '\\'" \
             "-k --results -.csv echo ::: 1 2 3 4 5 6 7 8 9 10 11" "-k --header : --results -.csv echo ::: h 1 ::: g 2"; do
      t='s/[0-9]{10}\.[0-9]{3}/T/g; s/(,|\t|: )[0-9]+\.[0-9]{3}(,|\t)/\1R\2/g'
      eq "$(eval "$C $a" 2>&1 | sed -E "$t")" "$(eval "$P $a" 2>&1 | sed -E "$t")" "same as GNU parallel: $a"
    done
  fi ;;
delimiter_splits_values)
  # ::: values are records too: split at -d DELIM, at newlines without it,
  # not at all with -0; every part a value, an empty one too.
  eq "$($C -k --dry-run -d , echo ::: 'a,b' 'c,' ::: 1)" "echo a 1
echo b 1
echo c 1
echo '' 1" "-d , splits ::: values"
  eq "$($C -k --dry-run echo ::: "$(printf 'a\nb')")" "echo a
echo b" "a newline splits a ::: value"
  eq "$($C -k --dry-run -0 echo ::: "$(printf 'a\nb')")" "echo 'a
b'" "-0: no split"
  eq "$($C -k --dry-run -d , echo ::: a,b :::+ 1,2)" "echo a 1
echo b 2" "linked values split"
  if [ -n "$P" ]; then
    for a in "-d , echo ::: 'a,' c" "-d , echo ::: '' c" "-d , echo ::: , c" "-d ab echo ::: xaby" \
             "-d , --colsep : echo {2} ::: a:1,b:2" "--header : -d , echo {h} ::: h,1,2" \
             "echo ::: a ::: \$'1\\n2'" "-0 echo ::: \$'a\\nb' c"; do
      eq "$(eval "$C -k --dry-run $a" 2>&1; echo $?)" "$(eval "$P -k --dry-run $a" 2>&1; echo $?)" "same as GNU parallel: $a"
    done
  fi ;;
jobs_forms)
  # -P and --max-procs are -j; a -j -N that leaves no job is refused.
  eq "$($C -P 2 -k echo {%} ::: a b)" "1
2" "-P 2"
  eq "$($C --max-procs 1 echo {%} ::: a b)" "1
1" "--max-procs 1"
  n=$(nproc)
  err=$($C -j -$n echo ::: a 2>&1); rc=$?
  eq "$rc" 2 "-j -$n on $n cores"
  has "$err" "leaves no job to run" "says why"
  eq "$($C -j -$((n - 1)) echo {%} ::: a)" "1" "-j -$((n - 1)) on $n cores"
  if [ -n "$P" ]; then
    for o in "-P 2" "--max-procs 1" "-j +1" "-j 50%" "-j 0"; do
      eq "$($C -k $o echo ::: a b)" "$($P -k $o echo ::: a b)" "same as GNU parallel: $o"
    done
  fi ;;
more_gnu_options)
  # -v: the command on standard output before the job's output.
  eq "$($C -v -k echo ::: a b)" "echo a
a
echo b
b" "-v -k"
  eq "$($C -v --lb -j1 echo ::: a b)" "echo a
a
echo b
b" "-v --lb"
  # --wd DIR: the jobs run there (made when missing).
  eq "$($C --wd "$T/w/x" -k 'pwd; : {}' ::: a)" "$T/w/x" "--wd"
  eq "$($C --number-of-cores)" "$(nproc)" "--number-of-cores"
  for o in --will-cite --plain --silent -r --no-run-if-empty --bar --eta --progress --linebuffer; do
    eq "$($C $o -k echo ::: a b 2>&1)" "a
b" "$o accepted"
  done
  # Options corral does not have: one line saying what to write, exit 2.
  for o in "-S host" "--sshlogin host" "--nice 5" "--load 90%" "--memfree 1G" "--files" "--fifo" \
           "--pipepart" "--round-robin" "--tty" "--semaphore" "--shellquote" "--tee" "--rpl x" \
           "--arg-sep ,," "--compress" "--transfer" "--return x" "--sqlworker x"; do
    err=$($C $o echo ::: a 2>&1); rc=$?
    eq "$rc" 2 "$o refused"
    eq "$(wc -l <<<"$err")" 1 "$o: one line"
    has "$err" "write\|on this machine only" "$o says what to write"
  done
  if [ -n "$P" ]; then
    for o in "-v -k" "-v -j1 --lb" "--number-of-cores" "--number-of-cpus"; do
      eq "$($C $o echo ::: a b 2>&1)" "$($P $o echo ::: a b 2>&1)" "same as GNU parallel: $o"
    done
    eq "$(cd "$T" && $C --wd w2 -k 'pwd; : {}' ::: a)" "$(cd "$T" && $P --wd w2 -k 'pwd; : {}' ::: a)" "same as GNU parallel: --wd"
  fi
  no_left ;;
retry_failed)
  # --retry-failed: the command line is ignored; the jobs whose last joblog
  # line failed run again with their sequence numbers, lines appended.
  $C --joblog "$T/jl" -k 'echo {}; exit {}' ::: 0 1 2 0 >/dev/null; eq $? 2 "first run"
  out=$($C --joblog "$T/jl" --retry-failed -k echo ::: ignored); rc=$?
  eq "$rc $out" "2 1
2" "--retry-failed"
  eq "$(cut -f1,7- "$T/jl" | tail -2)" "2	1	0	echo 1; exit 1
3	2	0	echo 2; exit 2" "appended with their sequence numbers"
  $C --joblog "$T/ok" true ::: 1
  eq "$($C --joblog "$T/ok" --retry-failed; echo $?)" "0" "nothing failed"
  err=$($C --retry-failed 2>&1); rc=$?
  eq "$rc" 2 "--retry-failed without --joblog"
  has "$err" "write --joblog FILE --retry-failed" "says what to write"
  # {-N} past the first value counts from the end again, as GNU parallel.
  eq "$($C echo {-3} {-4} ::: a ::: b)" "b a" "{-3} {-4} of two values"
  if [ -n "$P" ]; then
    rm -f "$T/c" "$T/p"
    for x in c p; do
      [ $x = c ] && R=$C || R=$P
      $R --joblog "$T/$x" -k 'echo {}; exit {}' ::: 0 1 2 0 >/dev/null
      $R --joblog "$T/$x" --retry-failed -k > "$T/$x.out"; echo $? >> "$T/$x.out"
    done
    eq "$(cat "$T/c.out"; cut -f1,7- "$T/c")" "$(cat "$T/p.out"; cut -f1,7- "$T/p")" "same as GNU parallel"
    for k in 1 2 3 4 5; do
      eq "$($C -k echo {-$k} {-$k.} ::: a.x ::: b.y ::: c)" "$($P -k echo {-$k} {-$k.} ::: a.x ::: b.y ::: c)" "same as GNU parallel: {-$k}"
    done
  fi ;;
eof_string)
  # -E STR (--eof=STR): a record equal to STR ends its source, the rest is
  # not read (::: values and files alike), as GNU parallel and xargs.
  eq "$(printf 'a\nb\nEOF\nc\n' | $C -k -E EOF echo)" "a
b" "-E on standard input"
  eq "$($C -k -E EOF echo ::: a EOF b)" "a" "-E in ::: values"
  printf 'a\nEOF\nc\n' > "$T/f"
  eq "$($C -k --eof=EOF echo {1}{2} :::: "$T/f" ::: x y)" "ax
ay" "--eof= in a file beside values"
  eq "$($C -j1 --halt now,fail=50% -E EOF 'exit {}' ::: 0 3 EOF 0 0; echo $?)" "3" "the jobs after EOF are not counted"
  if [ -n "$P" ]; then
    for a in "-E EOF echo ::: a EOF b" "-E EOF echo :::: $T/f ::: x y" "--eof=EOF echo :::: $T/f"; do
      eq "$($C -k $a 2>&1; echo $?)" "$($P -k $a 2>&1; echo $?)" "same as GNU parallel: $a"
    done
  fi ;;
halt_percent_of_one_job)
  # A percentage of the jobs that comes to exactly one job acts as fail=1:
  # the exit status is that job's own (GNU parallel).
  eq "$($C -j1 --halt now,fail=50% 'exit {}' ::: 3 0 2>/dev/null; echo $?)" "3" "50% of 2 jobs"
  eq "$($C -j1 --halt now,fail=50% 'exit {}' ::: 0 3 3 0 2>/dev/null; echo $?)" "50" "50% of 4 jobs"
  if [ -n "$P" ]; then
    for a in "now,fail=50%|3 0" "soon,done=50%|3 0" "now,fail=25%|1 0 0 0" "now,fail=50%|0 1 1 0" "now,fail=34%|1 0 0"; do
      IFS='|' read -r h v <<<"$a"
      eq "$($C -j1 --halt $h 'echo {}; exit {}' ::: $v 2>&1; echo $?)" "$($P -j1 --halt $h 'echo {}; exit {}' ::: $v 2>&1 | sed 's/^parallel:/corral:/'; echo ${PIPESTATUS[0]})" "same as GNU parallel: --halt $h ::: $v"
    done
  fi ;;
job_environment)
  # GNU parallel's PARALLEL_SEQ, PARALLEL_JOBSLOT and PARALLEL_PID (the
  # process the job was started by).
  eq "$($C -j1 -k 'echo $PARALLEL_SEQ $PARALLEL_JOBSLOT $((PARALLEL_PID == PPID)); : {}' ::: a b)" "1 1 1
2 1 1" "the job's environment"
  if [ -n "$P" ]; then
    eq "$($C -j1 -k 'echo $PARALLEL_SEQ $PARALLEL_JOBSLOT ${PARALLEL_PID:+pid}; : {}' ::: a b)" \
       "$($P -j1 -k 'echo $PARALLEL_SEQ $PARALLEL_JOBSLOT ${PARALLEL_PID:+pid}; : {}' ::: a b)" "same as GNU parallel"
  fi ;;
plus_strings)
  # --plus: GNU parallel's bash-like strings on {} (their strings literal).
  eq "$($C -k --plus echo {:-none} {:2:3} {:7} {#ab} {%hi} {/def/X} {^a} {^^c} ::: abcdefghi '' | sed 's/ *$//')" \
     "abcdefghi cde hi cdefghi abcdefg abcXghi Abcdefghi abCdefghi
none" "--plus strings"
  eq "$($C -k --plus echo '{,A}' '{,,B}' ::: ABAB)" "aBAB AbAb" "{,x} {,,x}"
  eq "$($C -k echo {#ab} ::: abc)" "{#ab} abc" "without --plus: as written, {} appended"
  eq "$($C -k --plus echo '{/#a/b}' '{/%c/b}' '{//a/b}' '{/#x/b}' ::: abcabc)" "bbcabc abcabb bbcbbc abcabc" \
     "anchored and global replacements"
  eq "$($C -k --plus --tagstring '{%c}' echo ::: abc)" "ab	abc" "--plus in --tagstring"
  # -I's siblings: --bnr {/}, --bner {/.}, --dnr {//}, --er {.}, --seqreplace
  # {#}, --slotreplace {%}; --dryrun is --dry-run.
  eq "$($C -k -j1 --bnr B --bner BE --dnr D --er E --seqreplace S --slotreplace L echo B BE D E S L ::: x/y.z)" \
     "y.z y x x/y 1 1" "replacement options"
  eq "$($C --dryrun echo ::: a)" "echo a" "--dryrun"
  if [ -n "$P" ]; then
    for a in "--plus echo {:-none} {:2:3} {:7} {#ab} {%hi} {/def/X} {^a} {^^c} ::: abcdefghi ''" \
             "--plus echo {,A} {,,B} ::: ABAB" "echo {#ab} ::: abc" "--plus echo {:20} {:2:30} {/q/r} ::: abc" \
             "--plus echo {/#a/b} {/%c/b} {//a/b} {/#x/b} ::: abcabc" \
             "-j1 --bnr B --bner BE --dnr D --er E --seqreplace S --slotreplace L echo B BE D E S L ::: x/y.z" \
             "-I ,, --er ,,, echo ,, ,,, ::: a/b.c"; do
      eq "$(eval "$C -k $a" 2>&1)" "$(eval "$P -k $a" 2>&1)" "same as GNU parallel: $a"
    done
  fi ;;
dry_run_tag)
  # --dry-run says each command with its tag, as GNU parallel.
  eq "$($C -k --dry-run --tag echo ::: 'a b' c)" "a b	echo 'a b'
c	echo c" "--dry-run --tag"
  eq "$($C -k --dry-run --tagstring '{#}:{}' echo ::: a)" "1:a	echo a" "--dry-run --tagstring"
  if [ -n "$P" ]; then
    for o in "--tag" "--tagstring x{}" "--tag --colsep ,"; do
      eq "$($C -k --dry-run $o echo ::: 'a,b' c)" "$($P -k --dry-run $o echo ::: 'a,b' c)" "same as GNU parallel: $o"
    done
  fi ;;
template_warning)
  # Arguments that look like commands, with a pipe on stdin: said.
  out=$(printf 'x\n' | $C -k 'echo a' 'echo b' 2>"$T/err")
  eq "$out" "a echo b x" "GNU parallel's rule: a template and its input"
  eq "$(cat "$T/err")" "corral: standard input is read for the template 'echo a ...' (GNU parallel's rule); to run each argument as a command, write --commands" "the warning"
  if [ -n "$P" ]; then
    eq "$out" "$(printf 'x\n' | $P -k 'echo a' 'echo b' 2>/dev/null)" "same as GNU parallel"
  fi
  out=$(printf 'x\n' | $C -k --commands 'echo a' 'echo b' 2>"$T/err")
  eq "$out:$(cat "$T/err")" "a
b:" "--commands: no warning"
  for args in "echo {} 'echo b'" "echo 'echo b'" "'echo a'"; do
    eval "printf 'x\n' | $C -k $args" >/dev/null 2>"$T/err"
    eq "$(cat "$T/err")" "" "no warning for $args"
  done ;;
halt_exit_status)
  # --halt's exit status as GNU parallel's: fixed when the condition is met
  # (jobs failing while "soon" waits do not count; N% is the percentage of
  # all jobs that had failed, rounded up; N = 1 the deciding job's own
  # status, also for done=1); never met: the percentage (rounded up) or
  # the number of the jobs run that failed, 0 when none did. Jobs finish in
  # input order: -j1, or -j3 with 300 ms between ends (a busy machine must
  # not reorder them); exit {} % 3: 3, 6 and 9 succeed.
  cases=(
    "-j3 --halt soon,fail=2|2" "-j3 --halt soon,done=3|2" "-j1 --halt now,fail=30%|34"
    "-j3 --halt soon,fail=30%|34" "-j1 --halt now,success=50%|67" "-j1 --halt soon,done=50%|45"
    "-j1 --halt 20%|23" "-j3 --halt now,fail=1|1" "-j3 --halt soon,fail=1|1"
    "-j3 --halt now,success=1|0" "-j1 --halt now,done=2|2")
  job() { case $1 in -j1*) echo 'sleep 0.{}; echo {}; exit $(( {} % 3 ))' ;;
                     *) echo 'sleep $(( {} * 3 / 10 )).$(( {} * 3 % 10 )); echo {}; exit $(( {} % 3 ))' ;; esac; }
  for c in "${cases[@]}"; do
    opts=${c%|*}
    $C -k $opts "$(job "$opts")" ::: 1 2 3 4 5 6 7 8 9 >/dev/null 2>&1
    eq $? "${c#*|}" "exit status with [$opts]"
  done
  for c in "--halt now,success=5 true ::: 1 2 3|0" "--halt now,success=5 false ::: 1 2 3|3" \
           "-j1 --halt soon,done=1 exit ::: 3 4|3" "-j1 --halt now,done=1 exit ::: 0 4|0" \
           "-j1 --halt 10% exit ::: 1 0 0 0 0 0 0 0 0 0 0 0|9" "-j1 --halt now,fail=1 exit ::: 0 7 0|7"; do
    eval "$C ${c%|*}" >/dev/null 2>&1
    eq $? "${c#*|}" "exit status of [${c%|*}]"
  done
  if [ -n "$P" ]; then
    # GNU parallel is the reference here, not under test: it polls its
    # jobs, and on a loaded machine may see two ends 300 ms apart at once;
    # it gets three tries to show the status it gives on a quiet machine.
    for c in "${cases[@]}"; do
      opts=${c%|*}
      for try in 1 2 3; do
        $P -k $opts "$(job "$opts")" ::: 1 2 3 4 5 6 7 8 9 >/dev/null 2>&1
        got=$?
        [ "$got" = "${c#*|}" ] && break
      done
      eq $got "${c#*|}" "GNU parallel's exit status with [$opts]"
    done
  fi
  no_left ;;
nul_in_record)
  # A NUL inside a newline-separated record: no argument can hold it. It
  # becomes the two characters \0 with a warning, as GNU parallel (it cut
  # the record there, losing the rest silently).
  printf 'a\0b\nc\0\0\nd\n' >"$T/in"
  out=$($C -k 'printf "%s|" {}' :::: "$T/in" 2>"$T/err"); rc=$?
  eq "$rc $out" '0 a\0b|c\0\0|d|' "records with NULs"
  eq "$(grep -c 'Warning: a NUL character in the input was replaced with' "$T/err")" 1 "warned once"
  out=$($C -k 'printf "%s|" {}' <"$T/in" 2>/dev/null)
  eq "$out" 'a\0b|c\0\0|d|' "the same on standard input"
  # -0: NUL ends a record; nothing to say.
  out=$(printf 'a\0b c\0' | $C -k -0 'printf "%s|" {}' 2>"$T/err")
  eq "$out" 'a|b c|' "-0"
  eq "$(cat "$T/err")" "" "-0 says nothing"
  if [ -n "$P" ]; then
    eq "$($P -k 'printf "%s|" {}' :::: "$T/in" 2>/dev/null)" 'a\0b|c\0\0|d|' "GNU parallel"
  fi ;;
joblog_resume_after_stop)
  # A job stopped before its end (Ctrl-C, --halt now) gets no joblog line,
  # so --resume runs it again, as GNU parallel (it was logged with Exitval
  # -1 and --resume skipped it: the interrupted work was never redone). A
  # timed-out job is logged (Exitval -1, signal 15), as GNU parallel.
  $C --joblog "$T/jl" -j2 "sleep {}; : $S" ::: 0.2 30 >/dev/null 2>&1 &
  p=$!
  for i in $(seq 1 100); do [ "$({ wc -l <"$T/jl"; } 2>/dev/null)" = 2 ] && break; sleep 0.1; done
  kill -INT $p; wait $p; eq $? 130 "stopped by SIGINT"
  eq "$(cut -f1,7- "$T/jl")" "$(printf 'Seq\tExitval\tSignal\tCommand\n1\t0\t0\tsleep 0.2; : %s' "$S")" "only the job that ended"
  out=$($C --joblog "$T/jl" --resume -j2 "echo ran {}; : $S" ::: 0.2 30); rc=$?
  eq "$rc $out" "0 ran 30" "--resume runs the stopped job"
  $C --joblog "$T/jl2" -j2 --halt now,fail=1 "sleep {}; exit 1; : $S" ::: 0.2 30 >/dev/null 2>&1
  eq "$(cut -f1,7,8 "$T/jl2" | tr '\t\n' ' |')" "Seq Exitval Signal|1 1 0|" "--halt now: the killed job is not listed"
  $C --joblog "$T/jl3" --timeout 0.3 -j2 "sleep {}; : $S" ::: 0.1 30 >/dev/null 2>&1
  eq "$(sort -n "$T/jl3" | cut -f1,7,8 | tr '\t\n' ' |')" "Seq Exitval Signal|1 0 0|2 -1 15|" "a timeout is logged"
  if [ -n "$P" ]; then
    $P --joblog "$T/jl4" -j2 --halt now,fail=1 "sleep {}; exit 1; : $S" ::: 0.2 30 >/dev/null 2>&1
    eq "$(cut -f1,7,8 "$T/jl4" | tr '\t\n' ' |')" "Seq Exitval Signal|1 1 0|" "GNU parallel: the killed job is not listed"
  fi
  no_left ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
exit 0
