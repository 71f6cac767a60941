/* Seed 002: parallel tool calls of an LLM agent, one TaskGroup per dispatch
 * cycle. The block does not end until every call has finished or been
 * cancelled; results are collected after it. In cycle 2 one tool fails and
 * the others are cancelled: no orphans, no silent partial results. */
#include "common.h"

typedef struct {
  const char *tool;
  int64_t latency;
  int fail;
  char answer[64];
} tool_call;

static int call_tool(void *arg, void **result) {
  tool_call *c = arg;
  printf("  [%5.2fs] %s: started\n", ex_elapsed(), c->tool);
  int rc = corral_sleep(c->latency);
  if (rc) {
    printf("  [%5.2fs] %s: cancelled\n", ex_elapsed(), c->tool);
    return rc;
  }
  if (c->fail)
    return corral_errorf(CORRAL_EIO, "%s: tool backend returned 500", c->tool);
  snprintf(c->answer, sizeof c->answer, "%s answered", c->tool);
  printf("  [%5.2fs] %s: done\n", ex_elapsed(), c->tool);
  *result = c->answer;
  return 0;
}

static int dispatch_cycle(int cycle, tool_call *calls, int n) {
  printf("cycle %d: dispatching %d tool calls\n", cycle, n);
  ex_start();
  corral_task *t[4] = {0};
  corral_group tg;
  int rc = corral_group_open(&tg, &(corral_group_opts){.name = "tool-dispatch"});
  for (int i = 0; i < n && rc == 0; i++)
    rc = corral_spawn(&tg, call_tool, &calls[i], calls[i].tool, &t[i]);
  rc = corral_group_close(&tg, rc);
  /* Every call has finished or been cancelled here. */
  if (rc == 0) {
    printf("cycle %d: all %d results after %.2fs:", cycle, n, ex_elapsed());
    for (int i = 0; i < n; i++)
      printf(" [%s]", (const char *)corral_task_result(t[i]));
    printf("\n");
  } else {
    printf("cycle %d: failed after %.2fs, nothing left running:\n", cycle,
           ex_elapsed());
    corral_error_print(corral_last_error(), stdout);
    for (int i = 0; i < n; i++)
      printf("  %s: %s\n", calls[i].tool,
             corral_status_name(corral_task_status(t[i])));
  }
  for (int i = 0; i < n; i++) corral_task_release(t[i]);
  return 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  tool_call c1[3] = {{"call_tool_a", CORRAL_MS(400), 0, ""},
                     {"call_tool_b", CORRAL_MS(700), 0, ""},
                     {"call_tool_c", CORRAL_MS(500), 0, ""}};
  dispatch_cycle(1, c1, 3);
  printf("\n");
  tool_call c2[3] = {{"call_tool_a", CORRAL_MS(900), 0, ""},
                     {"call_tool_b", CORRAL_MS(300), 1, ""},
                     {"call_tool_c", CORRAL_MS(1200), 0, ""}};
  dispatch_cycle(2, c2, 3);
  return 0;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
