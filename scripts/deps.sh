#!/usr/bin/env bash
# Install what corral needs on Debian/Ubuntu when run as root; otherwise
# print the exact command and fail. Usage: scripts/deps.sh [build|test|bench|http]
set -euo pipefail
what=${1:-build}
# libcurl4-openssl-dev: libcorral-http (skipped by the build when missing).
pkgs=(build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev libjansson-dev)
# The HTTP tests, examples and benchmark serve from nginx-light, a Python
# fixture (python3) and HTTPS with a certificate made by openssl.
http_servers=(nginx-light python3 openssl)
case "$what" in
  test) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user valgrind
              redis-server libhiredis-dev "${http_servers[@]}" tmux time parallel procps
              clang-14 libclang-rt-14-dev) ;;
  bench) pkgs+=(python3 python3-trio golang-go nodejs gnuplot-nox curl python3-aiohttp "${http_servers[@]}" parallel time) ;;
  http) pkgs+=("${http_servers[@]}") ;;
esac
if ! command -v dpkg-query >/dev/null; then
  # Not Debian (macOS, others): check the tools themselves.
  if command -v cmake >/dev/null && command -v pkg-config >/dev/null &&
     pkg-config --exists libuv && pkg-config --exists jansson &&
     command -v cc >/dev/null; then
    pkg-config --exists libcurl ||
      echo "corral: libcurl not found: libcorral-http is skipped (macOS: brew install curl)" >&2
    exit 0
  fi
  echo "corral: needs a C compiler, cmake, pkg-config, libuv and jansson (and curl for libcorral-http)" >&2
  echo "        (macOS: brew install cmake pkg-config libuv jansson curl nginx)" >&2
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
