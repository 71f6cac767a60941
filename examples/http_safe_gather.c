/* Seed 001's safe_gather patterns for real, over HTTP (the fixture answers
 * after the given delays):
 *  1. all pieces needed (fail-fast): one fetch fails, the others are
 *     cancelled (their requests removed at once) and waited for;
 *  2. a batch with partial results and a 2 s timeout
 *     (return_exceptions=True, timeout);
 *  3. shutdown calls with a cleanup timeout (2 s here: the seed's 10 s
 *     would only make the example slower; the slow service takes 30 s). */
#include "http_common.h"

typedef struct {
  const char *name;
  int delay_ms;
  int fail;
} step;

static int do_step(void *arg, void **result) {
  step *s = arg;
  char path[96], u[256];
  if (s->fail) snprintf(path, sizeof path, "/status/502?ms=%d", s->delay_ms);
  else snprintf(path, sizeof path, "/delay/%d/%s", s->delay_ms, s->name);
  ex_url(u, sizeof u, ex_srv.fixture_port, path);
  corral_http_response r;
  int rc = ex_get_ok(u, &r);
  if (rc) return rc;
  corral_http_response_free(&r);
  *result = (void *)s->name;
  return 0;
}

static void show(const char *label, const corral_outcome *o) {
  switch (o->status) {
  case CORRAL_STATUS_OK: printf("  %-18s ok\n", label); break;
  case CORRAL_STATUS_ERROR:
    printf("  %-18s failed: %s\n", label, corral_error_message(o->error));
    break;
  default: printf("  %-18s %s\n", label, corral_status_name(o->status));
  }
}

/* Runs one safe_gather; counts[status]++ for each outcome. */
static int run(step *s, size_t n, int return_exceptions, int64_t timeout,
               int counts[8]) {
  corral_call calls[8];
  corral_outcome out[8];
  for (size_t i = 0; i < n; i++) calls[i] = (corral_call){do_step, &s[i], s[i].name};
  ex_start();
  int rc = corral_safe_gather(calls, n, out, return_exceptions, timeout);
  printf("  -> %s after %.2fs\n", rc ? corral_err_name(rc) : "OK", ex_elapsed());
  for (size_t i = 0; i < n; i++) {
    show(s[i].name, &out[i]);
    counts[out[i].status]++;
  }
  corral_outcomes_clear(out, n);
  return rc;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  int c1[8] = {0}, c2[8] = {0}, c3[8] = {0};
  printf("1. Data fetching, all pieces needed (fail-fast):\n");
  step fetch[3] = {{"fetch_channel_info", 300, 0},
                   {"fetch_front_row", 2000, 0},
                   {"fetch_participants", 500, 1}};
  int r1 = run(fetch, 3, 0, CORRAL_FOREVER, c1);

  printf("\n2. Batch with partial results and a 2 s timeout:\n");
  step batch[5] = {{"batch-1", 400, 0}, {"batch-2", 800, 0},
                   {"batch-3", 600, 1}, {"batch-4", 1200, 0},
                   {"batch-5", 9000, 0}};
  int r2 = run(batch, 5, 1, CORRAL_SEC(2), c2);

  printf("\n3. Shutdown with a 2 s cleanup timeout:\n");
  step shutdown[3] = {{"service1.shutdown", 200, 0},
                      {"service2.shutdown", 500, 0},
                      {"service3.shutdown", 30000, 0}};
  int r3 = run(shutdown, 3, 1, CORRAL_SEC(2), c3);
  corral_http_client_stats st;
  corral_http_client_stats_get(ex_http, &st);
  printf("\nRequests still in flight: %llu\n", (unsigned long long)st.in_flight);
  int behaved =
      r1 == CORRAL_EGROUP && c1[CORRAL_STATUS_OK] == 1 &&
      c1[CORRAL_STATUS_ERROR] == 1 && c1[CORRAL_STATUS_CANCELLED] == 1 &&
      r2 == CORRAL_ETIMEDOUT && c2[CORRAL_STATUS_OK] == 3 &&
      c2[CORRAL_STATUS_ERROR] == 1 && c2[CORRAL_STATUS_TIMED_OUT] == 1 &&
      r3 == CORRAL_ETIMEDOUT && c3[CORRAL_STATUS_OK] == 2 &&
      c3[CORRAL_STATUS_TIMED_OUT] == 1 && st.in_flight == 0;
  return behaved ? 0 : CORRAL_EIO;
}

int main(int argc, char **argv) { return ex_http_run(argc, argv, body); }
