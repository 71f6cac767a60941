#!/usr/bin/env bash
# Line coverage of the library reached by the fuzzer's corpus: builds the
# replay harness with clang's source-based coverage in build-cov/, replays
# every input of the given corpus directories (default: fuzz/corpus,
# fuzz/regress and build-fuzz/corpus) and prints llvm-cov's report for the
# core and ground layers. Needs clang-14 and llvm-14 (llvm-profdata,
# llvm-cov).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$here/build-cov
cc=$(command -v clang-14 || command -v clang)
cxx=$(command -v clang++-14 || command -v clang++)
prof=$(command -v llvm-profdata-14 || command -v llvm-profdata)
cov=$(command -v llvm-cov-14 || command -v llvm-cov)
flags="-fprofile-instr-generate -fcoverage-mapping"
CC=$cc CXX=$cxx cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCORRAL_EXAMPLES=OFF -DCORRAL_BENCH=OFF \
  -DCORRAL_HTTP=OFF >/dev/null
cmake --build "$dir" -j"${JOBS:-2}" --target fuzz_replay >/dev/null
if [ $# -eq 0 ]; then
  set -- "$here/fuzz/corpus" "$here/fuzz/regress"
  [ -d "$here/build-fuzz/corpus" ] && set -- "$@" "$here/build-fuzz/corpus"
fi
rm -f "$dir"/replay-*.profraw
LLVM_PROFILE_FILE="$dir/replay-%p.profraw" "$dir/fuzz/fuzz_replay" "$@"
"$prof" merge -sparse "$dir"/replay-*.profraw -o "$dir/replay.profdata"
"$cov" report "$dir/fuzz/fuzz_replay" -instr-profile="$dir/replay.profdata" \
  "$here/src/core" "$here/src/ground" 2>/dev/null | sed "s|$here/||"
