/* Raw libuv callbacks, the floor for timers: 100k timers of 10 ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static long fired;
static void on_timer(uv_timer_t *t) { (void)t; fired++; }

int main(int argc, char **argv) {
  int quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK"));
  int want = argc == 1;
  for (int i = 1; i < argc; i++) want |= strcmp(argv[i], "timers") == 0;
  if (!want) return 0;
  long n = quick ? 10000 : 100000;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t *t = malloc(sizeof *t * (size_t)n);
  uint64_t t0 = uv_hrtime();
  for (long i = 0; i < n; i++) {
    uv_timer_init(&loop, &t[i]);
    uv_timer_start(&t[i], on_timer, 10, 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  printf("{\"bench\": \"timers\", \"system\": \"libuv\", \"value\": %.3f, \"unit\": \"ms\"}\n",
         (double)(uv_hrtime() - t0) / 1e6 - 10);
  for (long i = 0; i < n; i++) uv_close((uv_handle_t *)&t[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(t);
  return fired == n ? 0 : 1;
}
