/* Seed 001, the safe_gather patterns:
 *  1. all must succeed (fail-fast): one fetch fails, the others are
 *     cancelled and waited for, the finished one is kept;
 *  2. partial results with a timeout (return_exceptions=True, timeout);
 *  3. shutdown of several services with a cleanup timeout. */
#include "common.h"

typedef struct {
  const char *name;
  int64_t delay;
  int fail;
} step;

static int do_step(void *arg, void **result) {
  step *s = arg;
  int rc = corral_sleep(s->delay);
  if (rc) return rc;
  if (s->fail) return corral_errorf(CORRAL_EIO, "%s: upstream error", s->name);
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

static int run(step *s, size_t n, int return_exceptions, int64_t timeout) {
  corral_call calls[8];
  corral_outcome out[8];
  for (size_t i = 0; i < n; i++) calls[i] = (corral_call){do_step, &s[i], s[i].name};
  ex_start();
  int rc = corral_safe_gather(calls, n, out, return_exceptions, timeout);
  printf("  -> %s after %.2fs\n", rc ? corral_err_name(rc) : "OK", ex_elapsed());
  for (size_t i = 0; i < n; i++) show(s[i].name, &out[i]);
  corral_outcomes_clear(out, n);
  return rc;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  printf("1. Data fetching, all pieces needed (fail-fast):\n");
  step fetch[3] = {{"fetch_channel_info", CORRAL_MS(300), 0},
                   {"fetch_front_row", CORRAL_SEC(2), 0},
                   {"fetch_participants", CORRAL_MS(500), 1}};
  run(fetch, 3, 0, CORRAL_FOREVER);

  printf("\n2. Batch with partial results and a 2 s timeout:\n");
  step batch[5] = {{"batch-1", CORRAL_MS(400), 0}, {"batch-2", CORRAL_MS(800), 0},
                   {"batch-3", CORRAL_MS(600), 1}, {"batch-4", CORRAL_MS(1200), 0},
                   {"batch-5", CORRAL_SEC(9), 0}};
  run(batch, 5, 1, CORRAL_SEC(2));

  printf("\n3. Shutdown with a 10 s cleanup timeout:\n");
  step shutdown[3] = {{"service1.shutdown", CORRAL_MS(200), 0},
                      {"service2.shutdown", CORRAL_MS(500), 0},
                      {"service3.shutdown", CORRAL_SEC(30), 0}};
  run(shutdown, 3, 1, CORRAL_SEC(10));
  return 0;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
