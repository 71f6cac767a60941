#!/usr/bin/env bash
# Install what corral needs on Debian/Ubuntu when run as root; otherwise
# print the exact command and fail. Usage: scripts/deps.sh [build|test|bench]
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake pkg-config libuv1-dev)
case "$what" in
  test) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user valgrind
              redis-server libhiredis-dev) ;;
  bench) pkgs+=(python3 python3-trio golang-go nodejs gnuplot-nox) ;;
esac
if ! command -v dpkg-query >/dev/null; then
  # Not Debian (macOS, others): check the tools themselves.
  if command -v cmake >/dev/null && command -v pkg-config >/dev/null &&
     pkg-config --exists libuv && command -v cc >/dev/null; then
    exit 0
  fi
  echo "corral: needs a C compiler, cmake, pkg-config and libuv" >&2
  echo "        (macOS: brew install cmake pkg-config libuv)" >&2
  exit 1
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "corral: missing packages. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "corral: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
