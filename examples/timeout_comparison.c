/* Seed 003, "Error Handling: Comparing gather() and TaskGroup()": API2 asks
 * for 10 s and gives up at once with a timeout. gather with
 * return_exceptions keeps API1 and API3; the TaskGroup cancels them. */
#include "common.h"

typedef struct {
  const char *name;
  int64_t delay;
  char data[64];
} api;

static int fetch_with_timeout(void *arg, void **result) {
  api *a = arg;
  if (a->delay > CORRAL_SEC(5))
    return corral_errorf(CORRAL_ETIMEDOUT, "%s took too long", a->name);
  int rc = corral_sleep(a->delay);
  if (rc) return rc;
  snprintf(a->data, sizeof a->data, "Data from %s", a->name);
  *result = a->data;
  return 0;
}

static api apis[3] = {{"API1", CORRAL_SEC(1), ""}, {"API2", CORRAL_SEC(10), ""},
                      {"API3", CORRAL_SEC(1), ""}};

static int with_gather(void) {
  printf("with gather(return_exceptions=True):\n");
  ex_start();
  corral_call calls[3];
  corral_outcome out[3];
  for (int i = 0; i < 3; i++)
    calls[i] = (corral_call){fetch_with_timeout, &apis[i], apis[i].name};
  int rc = corral_safe_gather(calls, 3, out, 1, CORRAL_FOREVER);
  for (int i = 0; i < 3; i++) {
    if (out[i].status == CORRAL_STATUS_OK)
      printf("  Success: %s\n", (const char *)out[i].result);
    else
      printf("  Failed: %s\n", corral_error_message(out[i].error));
  }
  printf("  (took %.2fs; API1 and API3 completed)\n", ex_elapsed());
  corral_outcomes_clear(out, 3);
  return rc;
}

static int with_taskgroup(void) {
  printf("\nwith TaskGroup:\n");
  ex_start();
  corral_task *t[3] = {0};
  corral_group tg;
  int rc = corral_group_open(&tg, NULL);
  for (int i = 0; i < 3 && rc == 0; i++)
    rc = corral_spawn(&tg, fetch_with_timeout, &apis[i], apis[i].name, &t[i]);
  rc = corral_group_close(&tg, rc);
  if (rc == CORRAL_EGROUP) {
    printf("  All tasks failed (%.2fs):\n", ex_elapsed());
    corral_error_print(corral_last_error(), stdout);
    for (int i = 0; i < 3; i++)
      printf("  %s: %s\n", apis[i].name,
             corral_status_name(corral_task_status(t[i])));
    rc = 0;
  }
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  return rc;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  int rc = with_gather();
  if (rc == 0) rc = with_taskgroup();
  return rc;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
