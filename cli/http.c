/* corral http: each job GETs a URL through libcorral-http, under the same
 * policies, limits, timeouts, retries, output and JSON as commands. With
 * --hedge, a request still unanswered after the 95th percentile of the
 * latencies seen so far gets a duplicate; the first answer wins and the
 * other request is cancelled (a FIRST group of two tasks). A request that
 * starts before 5 answers are known gets its hedge too: the duplicate waits
 * for the percentile and then for the rest of it, counted from the
 * request's own start. */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#ifdef CORRAL_CLI_HTTP
#include <corral/http.h>

int cli_http_open(engine *e) {
  corral_http_client_opts o = {.max_connections = 0, .max_redirects = 5};
  int rc = corral_http_client_open(&e->http, &o);
  if (rc) dprintf(2, "corral http: cannot start the client: %s\n", corral_strerror(rc));
  corral_event_init(&e->lat_known);
  return rc;
}

void cli_http_close(engine *e) {
  corral_http_client_close(e->http);
  e->http = NULL;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The 95th percentile of the answered requests so far (0: fewer than 5). */
static int64_t p95(engine *e) {
  size_t n = e->nlat < 1024 ? (size_t)e->nlat : 1024;
  if (n < 5) return 0;
  int64_t v[1024];
  memcpy(v, e->lat, n * sizeof *v);
  qsort(v, n, sizeof *v, cmp64);
  return v[(n * 95 + 99) / 100 - 1];
}

typedef struct {
  engine *e;
  job *j;
  int hedge;     /* the duplicate: starts at t0 + the 95th percentile */
  int64_t t0;
  corral_group *g; /* hedged: the pair's group (a failed request ends it) */
  int sent;        /* the request went out */
  corral_http_response resp;
  int rc;
  uint64_t order; /* when it answered (0: it did not) */
} attempt;

static uint64_t answered;

static int fetch_fn(void *arg, void **result) {
  (void)result;
  attempt *a = arg;
  if (a->hedge) {
    int rc = corral_event_wait(&a->e->lat_known);
    if (rc) return rc;
    int64_t left = a->t0 + p95(a->e) - corral_now();
    if (left > 0 && (rc = corral_sleep(left)) != 0) return rc;
  }
  a->sent = 1;
  a->rc = corral_http_get(a->e->http, a->j->cmd, &a->resp);
  if (a->rc) {
    /* Hedging is for slowness, not for errors (--retries is): a request
     * that failed stops its duplicate, which may still be waiting. */
    if (a->g && !a->hedge && a->rc != CORRAL_ECANCELED)
      (void)corral_group_cancel(a->g, "the request failed");
    return a->rc;
  }
  a->order = ++answered;
  return 0;
}

/* A URL line as written in a file: blanks around it (spaces, tabs, the CR
 * of a CRLF line) are not part of it. */
static void trim_url(char *s) {
  size_t n = strlen(s), a = 0;
  while (n && strchr(" \t\r\n\v\f", s[n - 1])) n--;
  while (a < n && strchr(" \t\r\n\v\f", s[a])) a++;
  memmove(s, s + a, n - a);
  s[n - a] = 0;
}

int cli_http_once(engine *e, job *j) {
  trim_url(j->cmd);
  if (!j->cmd[0] || j->cmd[0] == '#') {
    /* A blank line or a comment (as in curl's -K files): no request, the
     * job succeeds with no output. */
    j->exit_code = 0;
    cli_on_data(j, 1, NULL, 0);
    cli_on_data(j, 2, NULL, 0);
    return 0;
  }
  attempt at[2];
  memset(at, 0, sizeof at);
  for (int i = 0; i < 2; i++) at[i].e = e, at[i].j = j;
  int64_t t0 = corral_now();
  int rc;
  attempt *win = &at[0];
  if (e->c->hedge) {
    at[1].hedge = 1;
    at[1].t0 = t0;
    corral_group g;
    memset(&g, 0, sizeof g); /* never mistaken for a group still open */
    rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_FIRST, .name = "hedge"});
    if (rc == 0) {
      at[0].g = at[1].g = &g;
      int brc = corral_spawn(&g, fetch_fn, &at[0], "request", NULL);
      if (!brc) brc = corral_spawn(&g, fetch_fn, &at[1], "hedge", NULL);
      rc = corral_group_close(&g, brc);
    }
    if (at[1].order && (!at[0].order || at[1].order < at[0].order)) win = &at[1];
    if (win->order) rc = 0;
    else if (at[0].rc && at[0].rc != CORRAL_ECANCELED) rc = at[0].rc;
    else if (rc == CORRAL_EGROUP) rc = at[0].rc ? at[0].rc : at[1].rc;
    j->hedged = at[1].sent;
  } else {
    rc = fetch_fn(&at[0], NULL);
  }
  if (rc == CORRAL_ECANCELED || corral_checkpoint_cancel()) {
    for (int i = 0; i < 2; i++) corral_http_response_free(&at[i].resp);
    return CORRAL_ECANCELED;
  }
  j->http_status = win->resp.status;
  if (rc == 0) {
    int64_t ns = corral_now() - t0;
    e->lat[e->nlat++ % 1024] = ns;
    if (e->nlat >= 5) corral_event_set(&e->lat_known);
    if (win->resp.body_len) cli_on_data(j, 1, win->resp.body, win->resp.body_len);
    j->exit_code = win->resp.status >= 400 ? 1 : 0;
    if (j->exit_code)
      snprintf(j->why, sizeof j->why, "HTTP %d %s", win->resp.status,
               corral_http_status_name(win->resp.status));
  } else {
    const corral_error *err = corral_last_error();
    const char *msg = err && corral_error_message(err) ? corral_error_message(err) : corral_strerror(rc);
    /* The library's message names the request ("GET URL: ..."): the line
     * below names the URL already. */
    size_t ul = strlen(j->cmd);
    if (!strncmp(msg, "GET ", 4) && !strncmp(msg + 4, j->cmd, ul) && !strncmp(msg + 4 + ul, ": ", 2))
      msg += 4 + ul + 2;
    snprintf(j->why, sizeof j->why, "%s", msg);
    j->exit_code = 1;
  }
  if (j->exit_code) {
    char line[300];
    int n = snprintf(line, sizeof line, "corral http: %s: %s\n", j->cmd, j->why);
    cli_on_data(j, 2, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
  }
  cli_on_data(j, 1, NULL, 0);
  cli_on_data(j, 2, NULL, 0);
  for (int i = 0; i < 2; i++) corral_http_response_free(&at[i].resp);
  return 0;
}

#else

int cli_http_open(engine *e) {
  (void)e;
  dprintf(2, "corral http: this corral was built without libcorral-http (libcurl)\n");
  return CORRAL_EINVAL;
}
void cli_http_close(engine *e) { (void)e; }
int cli_http_once(engine *e, job *j) {
  (void)e, (void)j;
  return 1;
}

#endif
