#!/usr/bin/env bash
# make install into a scratch prefix, then build a consumer with pkg-config
# and another with CMake's find_package(corral), and run both.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
if [ -f "$build/bin/corral" ]; then
  # The command and its man page are installed with the library.
  "$tmp/prefix/bin/corral" --version | grep -q '^corral '
  [ -f "$tmp/prefix/share/man/man1/corral.1" ]
  echo "corral command and man page: ok"
fi
cat > "$tmp/hello.c" <<'C'
#include <corral.h>
#include <stdio.h>
static int body(void *a, void **r) { (void)a; *r = "ok"; return corral_sleep(1000); }
int main(void) {
  void *r = NULL;
  int rc = corral_run(NULL, body, NULL, &r);
  if (rc || corral_version() != CORRAL_VERSION_HEX) return 1;
  puts((const char *)r);
  return 0;
}
C
lib=$(ls -d "$tmp/prefix"/lib* | head -1)
export PKG_CONFIG_PATH="$lib/pkgconfig"
cc -o "$tmp/hello_pc" "$tmp/hello.c" $(pkg-config --cflags --libs corral)
LD_LIBRARY_PATH="$lib" "$tmp/hello_pc" | grep -qx ok
echo "pkg-config consumer: ok"
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(corral REQUIRED)
add_executable(hello ../hello.c)
target_link_libraries(hello PRIVATE corral::corral)
add_executable(hello_static ../hello.c)
target_link_libraries(hello_static PRIVATE corral::corral_static)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
LD_LIBRARY_PATH="$lib" "$tmp/cm/build/hello" | grep -qx ok
"$tmp/cm/build/hello_static" | grep -qx ok
echo "find_package consumer (shared and static): ok"

# libcorral-http, when it was built: pkg-config corral-http and
# find_package(corral) -> corral::corral_http.
if [ -f "$lib/pkgconfig/corral-http.pc" ]; then
  cat > "$tmp/http.c" <<'C'
#include <corral/http.h>
#include <stdio.h>
#include <string.h>
static int body(void *a, void **r) {
  (void)a;
  corral_http_client *c;
  int rc = corral_http_client_open(&c, NULL);
  corral_http_client_close(c);
  *r = (void *)corral_http_status_name(404);
  return rc;
}
int main(void) {
  void *r = NULL;
  if (corral_run(NULL, body, NULL, &r) || strcmp(r, "Not Found")) return 1;
  puts("ok");
  return 0;
}
C
  cc -o "$tmp/http_pc" "$tmp/http.c" $(pkg-config --cflags --libs corral-http)
  LD_LIBRARY_PATH="$lib" "$tmp/http_pc" | grep -qx ok
  cc -o "$tmp/http_pc_static" "$tmp/http.c" $(pkg-config --cflags corral-http) \
    "$lib/libcorral-http.a" "$lib/libcorral.a" $(pkg-config --libs libcurl libuv) -lpthread -lm
  "$tmp/http_pc_static" | grep -qx ok
  echo "pkg-config corral-http consumer (shared and static): ok"
  mkdir "$tmp/cmh"
  cat > "$tmp/cmh/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(corral REQUIRED)
add_executable(http ../http.c)
target_link_libraries(http PRIVATE corral::corral_http)
add_executable(http_static ../http.c)
target_link_libraries(http_static PRIVATE corral::corral_http_static)
CM
  cmake -S "$tmp/cmh" -B "$tmp/cmh/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
  cmake --build "$tmp/cmh/build" >/dev/null
  LD_LIBRARY_PATH="$lib" "$tmp/cmh/build/http" | grep -qx ok
  "$tmp/cmh/build/http_static" | grep -qx ok
  echo "find_package corral::corral_http consumer (shared and static): ok"
fi
