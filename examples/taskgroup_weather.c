/* Seed 003, Example 3: the same four services with a TaskGroup. */
#include "weather.h"

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  ex_start();
  corral_task *t[4] = {0};
  corral_group tg;
  int rc = corral_group_open(&tg, NULL); /* FAIL_FAST, like TaskGroup */
  for (int i = 0; i < 4 && rc == 0; i++)
    rc = corral_spawn(&tg, fetch_weather_service, &weather_jobs[i],
                      weather_jobs[i].name, &t[i]);
  rc = corral_group_close(&tg, rc);
  /* Every task has finished or been cancelled by now. */
  if (rc == 0) {
    printf("\nFetched %d services in %.2fs\n", 4, ex_elapsed());
    for (int i = 0; i < 4; i++) {
      const weather *w = corral_task_result(t[i]);
      printf("  %s: %s\n", w->service, w->conditions);
    }
  } else {
    printf("Fetch failed: %s\n", corral_strerror(rc));
    corral_error_print(corral_last_error(), stdout);
  }
  for (int i = 0; i < 4; i++) corral_task_release(t[i]);
  return 0;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
