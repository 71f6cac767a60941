/* Seed 003, "Performance Comparison": five 1-second calls, one after the
 * other and then concurrently. */
#include "common.h"

static int simulated_api_call(void *arg, void **result) {
  (void)arg;
  int rc = corral_sleep(CORRAL_SEC(1));
  *result = "ok";
  return rc;
}

static int sequential_approach(void) {
  for (int i = 0; i < 5; i++) {
    void *r;
    int rc = simulated_api_call(NULL, &r);
    if (rc) return rc;
  }
  return 0;
}

static int concurrent_approach(void) {
  corral_call calls[5];
  corral_outcome out[5];
  for (int i = 0; i < 5; i++)
    calls[i] = (corral_call){simulated_api_call, NULL, "api"};
  int rc = corral_gather(calls, 5, out, NULL);
  corral_outcomes_clear(out, 5);
  return rc;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  printf("Sequential approach:\n");
  ex_start();
  int rc = sequential_approach();
  double seq = ex_elapsed();
  printf("  Time: %.2fs\n", seq);
  printf("\nConcurrent approach:\n");
  ex_start();
  if (!rc) rc = concurrent_approach();
  double conc = ex_elapsed();
  printf("  Time: %.2fs\n", conc);
  printf("\nSpeedup: %.1fx faster!\n", seq / conc);
  printf("Results match: %s\n", rc == 0 ? "True" : "False");
  return rc;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
