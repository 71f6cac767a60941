/* Seed 003, the capstone: eight services (3 x 0.5 s, 3 x 1.5 s, 2 x 2.5 s),
 * two of which fail, gathered with return_exceptions and a 5 s overall
 * timeout. Returns (successful results, failed services, timed-out flag).
 *   --seed N   choose which two services fail (default 1)
 *   --slow     make one service take 7 s, past the timeout */
#include "common.h"

typedef struct {
  char name[16];
  int64_t latency;
  int fails;
} service;

static int fetch(void *arg, void **result) {
  service *s = arg;
  int rc = corral_sleep(s->latency);
  if (rc) return rc;
  if (s->fails)
    return corral_errorf(CORRAL_ECONNRESET, "%s: connection reset", s->name);
  *result = s->name;
  return 0;
}

typedef struct {
  size_t ok, failed, timed_out_tasks;
  int timed_out;
} report;

static int coordinate(service *svc, size_t n, int64_t timeout, report *rep) {
  corral_call calls[8];
  corral_outcome out[8];
  for (size_t i = 0; i < n; i++)
    calls[i] = (corral_call){fetch, &svc[i], svc[i].name};
  int rc = corral_safe_gather(calls, n, out, 1, timeout);
  *rep = (report){0};
  rep->timed_out = rc == CORRAL_ETIMEDOUT;
  for (size_t i = 0; i < n; i++) {
    if (out[i].status == CORRAL_STATUS_OK)
      rep->ok++;
    else if (out[i].status == CORRAL_STATUS_TIMED_OUT)
      rep->timed_out_tasks++;
    else
      rep->failed++;
  }
  corral_outcomes_clear(out, n);
  return rc == CORRAL_ETIMEDOUT ? 0 : rc;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  const char *sv = ex_value("--seed");
  unsigned long seed = sv ? strtoul(sv, NULL, 10) : 1;
  static const int64_t lat[8] = {CORRAL_MS(500), CORRAL_MS(500), CORRAL_MS(500), CORRAL_MS(1500),
                                 CORRAL_MS(1500), CORRAL_MS(1500), CORRAL_MS(2500), CORRAL_MS(2500)};
  service svc[8];
  for (int i = 0; i < 8; i++) {
    snprintf(svc[i].name, sizeof svc[i].name, "service-%d", i + 1);
    svc[i].latency = lat[i];
    svc[i].fails = 0;
  }
  /* Two distinct failing services, chosen by the seed. */
  unsigned long x = seed * 2654435761ul + 12345;
  int a = (int)(x % 8), b = (int)((x / 8) % 7);
  if (b >= a) b++;
  svc[a].fails = svc[b].fails = 1;
  if (ex_flag("--slow")) svc[7].latency = CORRAL_SEC(7);

  ex_start();
  report rep;
  int rc = coordinate(svc, 8, CORRAL_SEC(5), &rep);
  if (rc) return rc;
  printf("Successfully fetched: %zu services\n", rep.ok);
  printf("Failed services: %zu (handled gracefully):", rep.failed);
  for (int i = 0; i < 8; i++)
    if (svc[i].fails) printf(" %s", svc[i].name);
  printf("\n");
  if (rep.timed_out_tasks)
    printf("Timed out: %zu (cancelled at the deadline)\n", rep.timed_out_tasks);
  printf("Total time: %.2fs\n", ex_elapsed());
  printf("Timeout triggered: %s\n", rep.timed_out ? "True" : "False");
  return 0;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
