/* Seed 003, Example 2: gather() over four weather services. */
#include "weather.h"

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  ex_start();
  corral_call calls[4];
  corral_outcome out[4];
  for (int i = 0; i < 4; i++)
    calls[i] = (corral_call){fetch_weather_service, &weather_jobs[i],
                             weather_jobs[i].name};
  int rc = corral_gather(calls, 4, out, NULL);
  double elapsed = ex_elapsed();
  if (rc == 0) {
    printf("\nFetched from %d services in %.2fs\n", 4, elapsed);
    for (int i = 0; i < 4; i++) {
      const weather *w = out[i].result; /* input order */
      printf("  %s: %s at %d\u00b0F\n", w->service, w->conditions,
             w->temperature);
    }
  }
  corral_outcomes_clear(out, 4);
  return rc;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
