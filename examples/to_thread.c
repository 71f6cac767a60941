/* to_thread: blocking C calls offloaded to worker threads (asyncio's
 * to_thread, Trio's to_thread.run_sync), so the tasks around them keep
 * running:
 *   1. four blocking "downloads" (200 ms each) run side by side: the
 *      batch takes about 200 ms, not 800 ms, and a ticker task keeps
 *      ticking meanwhile;
 *   2. a legacy call that hangs for 1 s is abandoned after 300 ms: the
 *      task moves on, and its result is cleaned up when it finally
 *      returns (the runtime waits for it before it ends);
 *   3. a call still waiting for a free worker is cancelled: it never runs.
 * Exits 0 when all of that happened. */
#include "common.h"

#include <stdatomic.h>
#include <time.h>

static void block_for_ms(long ms) { /* a plain blocking call */
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static atomic_int running, most_running;
static int download(void *arg, void **result) {
  int now = atomic_fetch_add(&running, 1) + 1;
  int most = atomic_load(&most_running);
  while (now > most && !atomic_compare_exchange_weak(&most_running, &most, now)) {
  }
  block_for_ms(200);
  atomic_fetch_sub(&running, 1);
  char *body = malloc(64);
  snprintf(body, 64, "contents of %s", (const char *)arg);
  *result = body;
  return 0;
}

static int offload_download(void *arg, void **result) {
  return corral_to_thread(download, arg, result,
                          &(corral_thread_opts){.name = "download"});
}

static atomic_int ticks;
static int ticker(void *arg, void **result) {
  (void)arg, (void)result;
  for (;;) {
    int rc = corral_sleep(CORRAL_MS(50));
    if (rc) return rc == CORRAL_ECANCELED ? 0 : rc;
    atomic_fetch_add(&ticks, 1);
  }
}

static int legacy_call(void *arg, void **result) {
  (void)arg;
  block_for_ms(1000);
  *result = strdup("late answer");
  return 0;
}

static atomic_int cleaned;
static double cleaned_at;
static void legacy_cleanup(void *arg, int code, void *result) {
  (void)arg;
  cleaned_at = ex_elapsed();
  printf("  [%.1fs] the abandoned call returned (%s, \"%s\"): cleaned up\n",
         cleaned_at, code == 0 ? "ok" : corral_strerror(code),
         (const char *)result);
  free(result);
  atomic_store(&cleaned, 1);
}

static atomic_int queued_ran;
static int never(void *arg, void **result) {
  (void)arg, (void)result;
  atomic_store(&queued_ran, 1);
  return 0;
}
static int hold_worker(void *arg, void **result) {
  (void)arg, (void)result;
  block_for_ms(300);
  return 0;
}
static int offload_hold(void *arg, void **result) {
  return corral_to_thread(hold_worker, arg, result, NULL);
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  int ok = 1;
  ex_start();
  corral_task *tick;
  corral_create_task(ticker, NULL, "ticker", &tick);

  printf("1. four blocking downloads, offloaded side by side\n");
  corral_call calls[4] = {{offload_download, "a.txt", "a"},
                          {offload_download, "b.txt", "b"},
                          {offload_download, "c.txt", "c"},
                          {offload_download, "d.txt", "d"}};
  corral_outcome out[4];
  int rc = corral_gather(calls, 4, out, NULL);
  double batch = ex_elapsed();
  for (int i = 0; i < 4; i++)
    printf("  %s -> %s\n", calls[i].name,
           out[i].status == CORRAL_STATUS_OK ? (char *)out[i].result : "failed");
  for (int i = 0; i < 4; i++) free(out[i].status == CORRAL_STATUS_OK ? out[i].result : NULL);
  corral_outcomes_clear(out, 4);
  printf("  [%.1fs] batch done (sequential would take 0.8s): %d ran at once; "
         "the ticker ticked %d times meanwhile\n", batch,
         atomic_load(&most_running), atomic_load(&ticks));
  ok &= rc == 0 && atomic_load(&most_running) >= 2 && atomic_load(&ticks) >= 1;

  printf("2. a legacy call that hangs for 1s, abandoned after 300ms\n");
  double t = ex_elapsed();
  void *r = NULL;
  rc = corral_to_thread(legacy_call, NULL, &r,
                        &(corral_thread_opts){.name = "legacy",
                                              .abandon_after_ns = CORRAL_MS(300),
                                              .cleanup = legacy_cleanup});
  printf("  [%.1fs] to_thread returned %s after %.1fs: moving on\n",
         ex_elapsed(), corral_err_name(rc), ex_elapsed() - t);
  ok &= rc == CORRAL_EABANDONED && !atomic_load(&cleaned);

  printf("3. a call waiting for a free worker is cancelled: it never runs\n");
  corral_group g;
  corral_group_open(&g, NULL);
  for (int i = 0; i < 7; i++) /* with the legacy call: all 8 workers busy */
    corral_spawn(&g, offload_hold, NULL, "hold", NULL);
  CORRAL_IGNORE(corral_sleep(CORRAL_MS(20))); /* they are running now */
  corral_scope sc;
  corral_move_on_after(&sc, CORRAL_MS(100));
  rc = corral_to_thread(never, NULL, NULL, &(corral_thread_opts){.name = "queued"});
  CORRAL_IGNORE(corral_scope_exit(&sc, rc)); /* rc: the queued call's code */
  printf("  [%.1fs] queued call: %s\n", ex_elapsed(), corral_err_name(rc));
  ok &= rc == CORRAL_ECANCELED;
  ok &= corral_group_close(&g, 0) == 0;
  corral_cancel(tick, "done");
  ok &= corral_join(tick, NULL) == 0; /* the ticker ends quietly */
  corral_task_release(tick);
  printf("main returns; the runtime waits for the abandoned call\n");
  return ok ? 0 : corral_errorf(CORRAL_EINVAL, "the story went wrong");
}

int main(int argc, char **argv) {
  int rc = ex_main(argc, argv, body);
  int ok = rc == 0 && atomic_load(&cleaned) && !atomic_load(&queued_ran);
  printf("end: cleanup ran %s, the cancelled call %s\n",
         atomic_load(&cleaned) ? "before the runtime ended" : "NEVER",
         atomic_load(&queued_ran) ? "RAN" : "never ran");
  return ok ? 0 : 1;
}
