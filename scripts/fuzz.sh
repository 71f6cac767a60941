#!/usr/bin/env bash
# Build the libFuzzer harness (fuzz/fuzz_runtime.c) with clang, ASan and
# UBSan in its own build directory and run it.
# Usage: scripts/fuzz.sh [seconds (default 600)] [build dir (default build-fuzz)]
#        extra libFuzzer flags in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-jobs=2);
#        FUZZ_SANITIZE=undefined builds without AddressSanitizer, so that
#        compact tasks run (ASan turns them into ordinary ones).
# New inputs go to <build dir>/corpus (the seeds in fuzz/corpus are read,
# never written); a crash leaves its input in <build dir>/artifacts/.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-600}
dir=${2:-$here/build-fuzz}
cc=${CC:-}
if [ -z "$cc" ] || ! "$cc" --version 2>/dev/null | grep -q clang; then
  cc=$(command -v clang-14 || command -v clang || true)
fi
if [ -z "$cc" ]; then
  echo "fuzz: clang is needed (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi
CC=$cc cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCORRAL_FUZZ=ON -DCORRAL_FUZZ_SANITIZE="${FUZZ_SANITIZE:-address,undefined}" \
  -DCORRAL_TESTS=OFF -DCORRAL_EXAMPLES=OFF -DCORRAL_BENCH=OFF -DCORRAL_HTTP=OFF \
  >/dev/null || exit 1
cmake --build "$dir" -j"${JOBS:-2}" --target fuzz_runtime >/dev/null || exit 1
mkdir -p "$dir/corpus" "$dir/artifacts"
"$dir/fuzz/fuzz_runtime" -max_total_time="$secs" -timeout=20 \
  -dict="$here/fuzz/fuzz.dict" -artifact_prefix="$dir/artifacts/" \
  -print_final_stats=1 ${FUZZ_FLAGS:-} "$dir/corpus" "$here/fuzz/corpus" 2>&1 |
  tee "$dir/last-run.log" | grep -E '^(#[0-9]+.*(pulse|DONE|NEW.*cov)|stat::|==|SUMMARY|fuzz_runtime:|INFO: Seed)' | tail -40
exit "${PIPESTATUS[0]}"
