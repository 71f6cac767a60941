/* Seed 003, Example 5: task 2 fails after 1 s; tasks 1 and 3 (5 s each)
 * are cancelled by the group and never complete. */
#include "common.h"

static int work_on_task(void *arg, void **result) {
  intptr_t id = (intptr_t)arg;
  int64_t duration = id == 2 ? 1 : 5;
  printf("Task %ld starting (will take %llds)\n", (long)id,
         (long long)duration);
  int rc = corral_sleep(CORRAL_SEC(duration));
  if (rc) {
    printf("Task %ld cancelled at %.2fs\n", (long)id, ex_elapsed());
    return rc;
  }
  if (id == 2)
    return corral_errorf(CORRAL_EINVAL, "Task %ld failed during processing",
                         (long)id);
  *result = "completed";
  return 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  ex_start();
  corral_task *t[3] = {0};
  corral_group tg;
  int rc = corral_group_open(&tg, &(corral_group_opts){.name = "tasks"});
  static const char *const names[3] = {"task-1", "task-2", "task-3"};
  for (intptr_t i = 0; i < 3 && rc == 0; i++)
    rc = corral_spawn(&tg, work_on_task, (void *)(i + 1), names[i], &t[i]);
  rc = corral_group_close(&tg, rc);
  if (rc == 0) {
    printf("Results: all completed\n");
  } else {
    printf("\nTaskGroup failed after %.2fs: %s\n", ex_elapsed(),
           corral_strerror(rc));
    corral_error_print(corral_last_error(), stdout);
    for (int i = 0; i < 3; i++)
      printf("  task %d: %s\n", i + 1,
             corral_status_name(corral_task_status(t[i])));
    printf("Key point: Task 1 and Task 3 were cancelled automatically!\n");
    printf("(They never reached completion despite having 5s allocated)\n");
  }
  for (int i = 0; i < 3; i++) corral_task_release(t[i]);
  return 0;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
