/* The seed's service health checker, on real processes: ten shell commands
 * checked at once, each with a 2 s timeout. One check fails, one hangs past
 * its timeout and is terminated (SIGTERM to its process group, SIGKILL after
 * a grace period); every exit status is reported, and nothing is left
 * running. Exits 0 when it all behaved that way. Real time only: the
 * children run on the real clock. */
#include "common.h"

#include <signal.h>
#include <string.h>

typedef struct {
  const char *name, *script;
  corral_completed res;
  int rc;
  double secs;
} check;

static check checks[] = {
    {"auth", "sleep 0.2; echo healthy", {0}, 0, 0},
    {"database", "sleep 0.5; echo healthy", {0}, 0, 0},
    {"cache", "sleep 0.3; echo healthy", {0}, 0, 0},
    {"dns", "getent hosts localhost >/dev/null && echo localhost resolves", {0}, 0, 0},
    {"disk", "df -P / >/dev/null && echo / is mounted", {0}, 0, 0},
    {"search", "sleep 0.4; echo healthy", {0}, 0, 0},
    {"payments", "sleep 0.6; echo connection refused >&2; exit 7", {0}, 0, 0},
    {"queue", "sleep 0.2; echo healthy", {0}, 0, 0},
    {"storage", "sleep 0.3; echo healthy", {0}, 0, 0},
    {"reports", "trap '' TERM; sleep 600", {0}, 0, 0}, /* ignores SIGTERM */
};
#define NCHECKS (sizeof checks / sizeof checks[0])

static int run_check(void *arg, void **result) {
  (void)result;
  check *c = arg;
  const char *const argv[] = {"sh", "-c", c->script, NULL};
  corral_process_opts o = {.argv = argv, .kill_grace_ns = CORRAL_MS(300)};
  int64_t t0 = corral_now();
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_fail_after(&s, CORRAL_SEC(2));
  c->rc = corral_process_run(&o, NULL, 0, 4096, &c->res);
  c->rc = corral_scope_exit(&s, c->rc);
  c->secs = (double)(corral_now() - t0) / 1e9;
  return 0; /* the report below judges; the group collects everyone */
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  ex_start();
  corral_group g;
  memset(&g, 0, sizeof g); /* never mistaken for a group still open */
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT, .name = "checks"});
  for (size_t i = 0; i < NCHECKS; i++) corral_spawn(&g, run_check, &checks[i], checks[i].name, NULL);
  int rc = corral_group_close(&g, 0);
  int ok = 0, failed = 0, timed_out = 0;
  for (size_t i = 0; i < NCHECKS; i++) {
    check *c = &checks[i];
    corral_completed *r = &c->res;
    trim(r->out);
    trim(r->err);
    if (c->rc == CORRAL_ETIMEDOUT) {
      timed_out++;
      printf("  %-9s timed out after %.1fs, ended by SIG%s%s%s\n", c->name, c->secs,
             r->term_signal == SIGKILL ? "KILL" : r->term_signal == SIGTERM ? "TERM" : "?",
             *r->err ? ": " : "", r->err);
    } else if (c->rc) {
      failed++;
      printf("  %-9s could not run: %s\n", c->name, corral_strerror(c->rc));
    } else if (r->exit_status == 0) {
      ok++;
      printf("  %-9s ok     exit 0   %s\n", c->name, r->out);
    } else {
      failed++;
      printf("  %-9s FAILED exit %-3d %s\n", c->name, r->exit_status, r->err);
    }
    corral_completed_clear(r);
  }
  printf("%d healthy, %d failed, %d timed out in %.1fs\n", ok, failed, timed_out, ex_elapsed());
  return rc == 0 && ok == 8 && failed == 1 && timed_out == 1 ? 0 : 1;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body) ? 1 : 0; }
