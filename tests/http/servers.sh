#!/usr/bin/env bash
# The servers of libcorral-http's tests, examples and benchmark, for a shell:
#
#   tests/http/servers.sh start DIR [--no-log]   # prints the ports
#   tests/http/servers.sh stop DIR               # stops both, removes DIR
#
# start: nginx (Debian nginx-light) on free ports of 127.0.0.1 with its own
# config, pid file and logs in DIR (nothing in /run or /var/log), serving a
# generated site from DIR/www; and the Python fixture (fixture.py serve).
# It prints, and writes to DIR/ports.env:
#   NGINX_PORT=... NGINX_H2_PORT=... NGINX_TLS_PORT=... FIXTURE_PORT=...
# (--no-log: no nginx access log, for benchmarks.) The C tests and examples
# do the same from tests/http/servers.h and need neither command.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
NGINX=/usr/sbin/nginx; [ -x "$NGINX" ] || NGINX=nginx
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,14p' "$0" >&2; exit 2; }

stop() {
  for f in "$dir/nginx.pid" "$dir/fixture.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case "$cmd" in
  start)
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    ports=$("$PY" "$here/fixture.py" site "$dir" ${3:-})
    eval "$ports"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null >/dev/null 2>&1 &
    "$PY" "$here/fixture.py" serve --no-stdin </dev/null >"$dir/fixture.out" 2>&1 &
    echo $! > "$dir/fixture.pid"
    ok=0
    for _ in $(seq 200); do
      if grep -q '^PORT' "$dir/fixture.out" 2>/dev/null &&
         (exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null; then ok=1; break; fi
      sleep 0.05
    done
    if [ $ok = 0 ]; then
      echo "servers.sh: nginx or the fixture did not start (see $dir)" >&2
      stop; exit 1
    fi
    FIXTURE_PORT=$(sed -n 's/^PORT //p' "$dir/fixture.out")
    line="NGINX_PORT=$NGINX_PORT NGINX_H2_PORT=$NGINX_H2_PORT NGINX_TLS_PORT=$NGINX_TLS_PORT FIXTURE_PORT=$FIXTURE_PORT"
    echo "$line" | tee "$dir/ports.env"
    ;;
  stop) stop ;;
  *) echo "servers.sh: start DIR | stop DIR" >&2; exit 2 ;;
esac
