/* Seed 003, "Understanding Task Scheduling with create_task()": three users
 * fetched concurrently in about one second. */
#include "common.h"

static int fetch_user(void *arg, void **result) {
  static char names[8][16];
  intptr_t id = (intptr_t)arg;
  int rc = corral_sleep(CORRAL_SEC(1));
  if (rc) return rc;
  snprintf(names[id], sizeof names[id], "User-%ld", (long)id);
  *result = names[id];
  return 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  ex_start();
  /* Scheduling, then collecting: all three run at once. */
  corral_task *t[3];
  for (intptr_t i = 0; i < 3; i++) {
    int rc = corral_create_task(fetch_user, (void *)(i + 1), "fetch_user", &t[i]);
    if (rc) return rc;
  }
  const char *r[3] = {0};
  int rc = 0;
  for (int i = 0; i < 3; i++) {
    void *v = NULL;
    if (!rc) rc = corral_join(t[i], &v);
    r[i] = v;
    corral_task_release(t[i]);
  }
  if (rc) return rc;
  printf("Results: %s, %s, %s\n", r[0], r[1], r[2]);
  printf("Took %.2fs (not 3s)\n", ex_elapsed());
  return 0;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
