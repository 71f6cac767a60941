#!/usr/bin/env bash
# The source tree's layers stay layers: a file may include headers of its
# own layer and of the layers below it, never above. Run by `make test`
# (as the CTest test layers.check). Prints a closing "N passed, N failed".
#
#   layer    may include
#   ground   ground
#   core     ground core
#   io       ground core io
#   top      ground core io          (src/run.c)
#   http     the public headers only  (include/)
#   cli      the public headers only  (include/)
set -u
cd "$(dirname "$0")/.."
declare -A allowed=(
  [ground]="ground"
  [core]="ground core"
  [io]="ground core io"
  [top]="ground core io"
  [http]=""
  [cli]=""
)
max_lines=650
pass=0 fail=0
bad() { echo "layers: $*"; fail=$((fail + 1)); }

layer_of() {
  case "$1" in
    src/ground/*) echo ground ;;
    src/core/*) echo core ;;
    src/io/*) echo io ;;
    src/*) echo top ;;
    http/*) echo http ;;
    cli/*) echo cli ;;
    *) echo "" ;;
  esac
}

files=$(ls src/*.[ch] src/*/*.[ch] src/*/*.S 2>/dev/null; \
        find http cli -name '*.[ch]' 2>/dev/null)
for f in $files; do
  me=$(layer_of "$f")
  [ -n "$me" ] || continue
  ok=1
  while IFS= read -r inc; do
    dir=${inc%%/*}
    [ "$dir" = "$inc" ] && continue # a sibling or a public header
    case "$dir" in ground|core|io) ;; *) continue ;; esac
    if [[ " ${allowed[$me]} " != *" $dir "* ]]; then
      bad "$f ($me) includes $inc ($dir)"
      ok=0
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  # A sibling include must stay in the same folder (no ../ escapes).
  if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"\.\./' "$f"; then
    bad "$f includes a path with ../"
    ok=0
  fi
  case "$f" in src/*)
    n=$(wc -l < "$f")
    if [ "$n" -gt "$max_lines" ]; then bad "$f has $n lines (more than $max_lines)"; ok=0; fi
  esac
  [ $ok -eq 1 ] && pass=$((pass + 1))
done
echo "layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
