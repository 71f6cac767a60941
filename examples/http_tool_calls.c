/* Seed 002 for real: an LLM agent's parallel tool calls as HTTP requests,
 * one TaskGroup per dispatch cycle. Cycle 1: three tools answer. Cycle 2:
 * tool b's backend answers 500 after 0.3 s; the group cancels the other two
 * requests (removed from the connection pool at once) and waits for them:
 * no orphans, no silent partial results. */
#include "http_common.h"

typedef struct {
  const char *tool;
  int latency_ms;
  int fail;
  char answer[64];
} tool_call;

static int call_tool(void *arg, void **result) {
  tool_call *c = arg;
  char path[96], u[256];
  if (c->fail)
    snprintf(path, sizeof path, "/status/500?ms=%d", c->latency_ms);
  else
    snprintf(path, sizeof path, "/delay/%d/%s", c->latency_ms, c->tool);
  ex_url(u, sizeof u, ex_srv.fixture_port, path);
  printf("  [%5.2fs] %s: POST %s\n", ex_elapsed(), c->tool, path);
  corral_http_response r;
  int rc = ex_get_ok(u, &r);
  if (rc == CORRAL_ECANCELED) {
    printf("  [%5.2fs] %s: cancelled\n", ex_elapsed(), c->tool);
    return rc;
  }
  if (rc) {
    printf("  [%5.2fs] %s: %s\n", ex_elapsed(), c->tool,
           corral_error_message(corral_last_error()));
    return rc;
  }
  snprintf(c->answer, sizeof c->answer, "%s answered", c->tool);
  corral_http_response_free(&r);
  printf("  [%5.2fs] %s: done\n", ex_elapsed(), c->tool);
  *result = c->answer;
  return 0;
}

/* Returns 1 if the group failed. */
static int dispatch_cycle(int cycle, tool_call *calls, int n,
                          corral_status *st) {
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
  }
  for (int i = 0; i < n; i++) {
    st[i] = corral_task_status(t[i]);
    if (rc) printf("  %s: %s\n", calls[i].tool, corral_status_name(st[i]));
    corral_task_release(t[i]);
  }
  return rc != 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_status s1[3], s2[3];
  tool_call c1[3] = {{"call_tool_a", 400, 0, ""},
                     {"call_tool_b", 700, 0, ""},
                     {"call_tool_c", 500, 0, ""}};
  int f1 = dispatch_cycle(1, c1, 3, s1);
  printf("\n");
  tool_call c2[3] = {{"call_tool_a", 900, 0, ""},
                     {"call_tool_b", 300, 1, ""},
                     {"call_tool_c", 1200, 0, ""}};
  int f2 = dispatch_cycle(2, c2, 3, s2);
  corral_http_client_stats st;
  corral_http_client_stats_get(ex_http, &st);
  int behaved = !f1 && f2 && s2[0] == CORRAL_STATUS_CANCELLED &&
                s2[1] == CORRAL_STATUS_ERROR &&
                s2[2] == CORRAL_STATUS_CANCELLED && st.in_flight == 0;
  return behaved ? 0 : CORRAL_EIO;
}

int main(int argc, char **argv) { return ex_http_run(argc, argv, body); }
