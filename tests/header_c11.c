/* corral.h as a strict C11 user sees it: -std=c11 -Wpedantic -Werror
 * (tests/CMakeLists.txt). Spawn options inline, by value. */
#include "corral.h"

static int child(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(CORRAL_MS(1));
}

static int body(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  int rc = corral_group_open(&g, NULL);
  if (rc) return rc;
  corral_task *t = NULL;
  rc = corral_spawn(&g, child, NULL, "named", NULL);
  if (!rc)
    rc = corral_spawn_with(&g, child, NULL, &t,
                           (corral_spawn_opts){.name = "inline", .eager = 1});
  if (!rc) rc = corral_join(t, NULL);
  corral_task_release(t);
  CORRAL_IGNORE(corral_yield());
  return corral_group_close(&g, rc);
}

int main(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  return corral_run(&o, body, NULL, NULL) == 0 ? 0 : 1;
}
