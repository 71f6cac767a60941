/* corral's side of the http_fanout bench: N GETs of HTTP_FANOUT_URL (a
 * 1 KiB file on a local nginx) by 100 tasks sharing one client (keep-alive
 * pool), one JSON object per line: requests/s, p50 and p99 latency (µs) and
 * memory per in-flight request (peak RSS growth / concurrency, bytes).
 *   bench_http [http_fanout]    BENCH_QUICK=1: 1,000 requests;
 *   HTTP_FANOUT_N=n: n requests */
#define _GNU_SOURCE
#include "corral/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONCURRENCY 100

static const char *url;
static long total, next_req, failures;
static int64_t *lat;
static corral_http_client *client;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = 0;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0) v = atol(line + n);
  if (f) fclose(f);
  return v;
}

static void emit(const char *bench, double v, const char *unit) {
  printf("{\"bench\": \"%s\", \"system\": \"corral\", \"value\": %.3f, \"unit\": \"%s\"}\n",
         bench, v, unit);
  fflush(stdout);
}

static int worker(void *arg, void **res) {
  (void)arg, (void)res;
  while (next_req < total) {
    long i = next_req++;
    int64_t t0 = now_ns();
    corral_http_response r;
    int rc = corral_http_get(client, url, &r);
    if (rc || r.status != 200 || r.body_len != 1024) failures++;
    corral_http_response_free(&r);
    lat[i] = now_ns() - t0;
  }
  return 0;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int fanout(void *arg, void **res) {
  (void)arg, (void)res;
  int rc = corral_http_client_open(&client, NULL);
  if (rc) return rc;
  rc = corral_http_get(client, url, NULL); /* warm: DNS, libcurl globals */
  if (rc) goto out;
  long rss0 = status_kb("VmRSS:");
  int64_t t0 = now_ns();
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < CONCURRENCY && rc == 0; i++)
    rc = corral_spawn(&g, worker, NULL, "get", NULL);
  rc = corral_group_close(&g, rc);
  double secs = (double)(now_ns() - t0) / 1e9;
  long hwm = status_kb("VmHWM:");
  if (rc || failures) {
    fprintf(stderr, "bench_http: %ld failed requests (%s)\n", failures,
            corral_strerror(rc));
    rc = rc ? rc : CORRAL_EIO;
    goto out;
  }
  qsort(lat, (size_t)total, sizeof *lat, cmp64);
  emit("http_fanout", (double)total / secs, "req/s");
  emit("http_fanout_p50", (double)lat[total / 2] / 1e3, "us");
  emit("http_fanout_p99", (double)lat[total * 99 / 100] / 1e3, "us");
  emit("http_fanout_mem", (double)(hwm - rss0) * 1024 / CONCURRENCY, "bytes");
out:
  corral_http_client_close(client);
  return rc;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "http_fanout") != 0) return 0;
  url = getenv("HTTP_FANOUT_URL");
  if (!url) {
    fprintf(stderr, "bench_http: set HTTP_FANOUT_URL\n");
    return 2;
  }
  const char *q = getenv("BENCH_QUICK");
  total = q && strcmp(q, "0") != 0 && *q ? 1000 : 10000;
  const char *n = getenv("HTTP_FANOUT_N"); /* for instruction counts */
  if (n && atol(n) > 0) total = atol(n);
  lat = calloc((size_t)total, sizeof *lat);
  if (!lat) return 1;
  int rc = corral_run(NULL, fanout, NULL, NULL);
  free(lat);
  return rc ? 1 : 0;
}
