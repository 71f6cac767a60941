/* Seed 003, Example 4: gather(return_exceptions=True): ServiceB fails,
 * ServiceA and ServiceC still succeed. */
#include "common.h"

static int fetch_service(void *arg, void **result) {
  const char *name = arg;
  int rc = corral_sleep(CORRAL_MS(500));
  if (rc) return rc;
  if (strcmp(name, "ServiceB") == 0)
    return corral_errorf(CORRAL_ECONNREFUSED, "Could not reach %s", name);
  *result = (void *)name;
  return 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_call calls[3] = {{fetch_service, "ServiceA", "ServiceA"},
                          {fetch_service, "ServiceB", "ServiceB"},
                          {fetch_service, "ServiceC", "ServiceC"}};
  corral_outcome out[3];
  int rc = corral_safe_gather(calls, 3, out, /*return_exceptions=*/1,
                              CORRAL_FOREVER);
  printf("Collected %d results:\n", 3);
  for (int i = 0; i < 3; i++) {
    if (out[i].status == CORRAL_STATUS_OK)
      printf("  [%d] Success: %s\n", i + 1, (const char *)out[i].result);
    else
      printf("  [%d] Failed: %s\n", i + 1,
             out[i].error ? corral_error_message(out[i].error)
                          : corral_strerror(out[i].code));
  }
  corral_outcomes_clear(out, 3);
  return rc;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
