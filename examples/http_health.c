/* Seed 003's health checker for real: 10 endpoints checked concurrently in
 * a COLLECT group (a supervisor: one failure does not cancel the others)
 * with a 2 s timeout for the whole round. Eight are healthy (nginx), one
 * answers 503, one hangs: every endpoint's status is reported. */
#include "http_common.h"

typedef struct {
  char name[16];
  char url[256];
  int status;
  double ms;
} endpoint;

static int check(void *arg, void **result) {
  (void)result;
  endpoint *e = arg;
  int64_t t0 = corral_now();
  corral_http_response r;
  int rc = corral_http_get(ex_http, e->url, &r);
  e->ms = (double)(corral_now() - t0) / 1e6;
  if (rc) return rc;
  e->status = r.status;
  corral_http_response_free(&r);
  if (e->status != 200)
    return corral_errorf(CORRAL_EIO, "%s: %d %s", e->name, e->status,
                         corral_http_status_name(e->status));
  return 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  endpoint ep[10];
  corral_task *t[10];
  for (int i = 0; i < 10; i++) {
    memset(&ep[i], 0, sizeof ep[i]);
    snprintf(ep[i].name, sizeof ep[i].name, "svc%d", i);
    char path[64];
    snprintf(path, sizeof path, "/health/svc%d", i);
    if (i == 8) ex_url(ep[i].url, sizeof ep[i].url, ex_srv.fixture_port, "/status/503");
    else if (i == 9) ex_url(ep[i].url, sizeof ep[i].url, ex_srv.fixture_port, "/slow/30000");
    else ex_url(ep[i].url, sizeof ep[i].url, ex_srv.nginx_port, path);
  }
  printf("Checking 10 endpoints (COLLECT, 2 s timeout for the round)\n");
  ex_start();
  corral_group g;
  corral_group_opts o = {.policy = CORRAL_COLLECT, .name = "health",
                         .timeout_ns = CORRAL_SEC(2)};
  int rc = corral_group_open(&g, &o);
  for (int i = 0; i < 10 && rc == 0; i++)
    rc = corral_spawn(&g, check, &ep[i], ep[i].name, &t[i]);
  rc = corral_group_close(&g, rc);
  printf("Round finished after %.2fs: %s\n", ex_elapsed(),
         rc ? corral_err_name(rc) : "OK");
  int healthy = 0, unhealthy = 0, timed_out = 0;
  for (int i = 0; i < 10; i++) {
    corral_status s = corral_task_status(t[i]);
    if (s == CORRAL_STATUS_OK) {
      healthy++;
      printf("  %-6s healthy    %d %s (%.1f ms)\n", ep[i].name, ep[i].status,
             corral_http_status_name(ep[i].status), ep[i].ms);
    } else if (s == CORRAL_STATUS_ERROR) {
      unhealthy++;
      printf("  %-6s unhealthy  %s\n", ep[i].name,
             corral_error_message(corral_task_error(t[i])));
    } else { /* TIMED_OUT: cancelled by the group's own deadline */
      timed_out += s == CORRAL_STATUS_TIMED_OUT || s == CORRAL_STATUS_CANCELLED;
      printf("  %-6s no answer  %s by the round's timeout after %.0f ms\n",
             ep[i].name, corral_status_name(s), ep[i].ms);
    }
    corral_task_release(t[i]);
  }
  printf("%d healthy, %d unhealthy, %d without an answer\n", healthy,
         unhealthy, timed_out);
  /* The round reports the failure (EGROUP) and the timeout in the tasks. */
  return healthy == 8 && unhealthy == 1 && timed_out == 1 &&
                 (rc == CORRAL_EGROUP || rc == CORRAL_ETIMEDOUT)
             ? 0
             : CORRAL_EIO;
}

int main(int argc, char **argv) { return ex_http_run(argc, argv, body); }
