#!/usr/bin/env bash
# The switch and stack tests on the other back ends:
#  - aarch64 assembly, cross-built with gcc-aarch64-linux-gnu, run by qemu-user
#  - the portable ucontext fallback, built natively
# Prints a closing "N passed, N failed" line; exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
out=build-cross
mkdir -p "$out"
pass=0 fail=0
if [ "$(uname -s)" != Linux ]; then
  echo "cross: skipped (the aarch64 cross run needs Debian's cross compiler and qemu-user)"
  exit 0
fi
srcs="src/ground/ctx_asm.c src/ground/stack.c src/ground/aset.c src/ground/alloc.c src/core/errcode.c tests/test_ctx.c"
cflags="-std=gnu11 -O2 -Wall -Wextra -Werror -fstack-clash-protection -Iinclude -Isrc -Itests"

run_suite() { # label runner binary
  local label=$1 runner=$2 bin=$3
  for c in $(grep -oE '^TEST\([a-z0-9_]+\)' tests/test_ctx.c | sed 's/TEST(\(.*\))/\1/'); do
    if timeout 60 $runner "$bin" "$c" >"$out/$label.$c.log" 2>&1; then
      pass=$((pass + 1)); echo "  ok   $label.$c"
    else
      fail=$((fail + 1)); echo "  FAIL $label.$c"; sed 's/^/       /' "$out/$label.$c.log"
    fi
  done
}

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
  aarch64-linux-gnu-gcc $cflags -static -o "$out/test_ctx_aarch64" \
    src/ground/ctx_aarch64.S $srcs -lm || { echo "aarch64 build failed"; exit 1; }
  echo "aarch64 (qemu-user):"
  run_suite aarch64 qemu-aarch64 "$out/test_ctx_aarch64"
else
  echo "corral: aarch64 cross tools missing (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
  fail=$((fail + 1))
fi

cc $cflags -DCORRAL_CTX_UCONTEXT=1 -o "$out/test_ctx_ucontext" \
  src/ground/ctx_ucontext.c src/ground/stack.c src/ground/aset.c src/ground/alloc.c src/core/errcode.c tests/test_ctx.c -lm -lpthread || { echo "ucontext build failed"; exit 1; }
echo "ucontext fallback (native):"
run_suite ucontext "" "$out/test_ctx_ucontext"

echo "cross: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
