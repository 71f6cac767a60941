/* Shared by the HTTP examples: the servers they talk to, one client, a
 * JSON field or two, elapsed time. Each example starts nginx and the Python
 * fixture itself (tests/http/servers.h: private temp directory, free ports,
 * stopped at exit, and they die with the example if it crashes). */
#ifndef CORRAL_EXAMPLE_HTTP_COMMON_H
#define CORRAL_EXAMPLE_HTTP_COMMON_H

#include "common.h"
#include "corral/http.h"
#include "servers.h"

static http_servers ex_srv;
static corral_http_client *ex_http;

static void ex_servers_down(void) { servers_stop(&ex_srv); }

static inline char *ex_url(char *buf, size_t n, int port, const char *path) {
  snprintf(buf, n, "http://127.0.0.1:%d%s", port, path);
  return buf;
}

/* The body runs with ex_http open (closed after it). */
static corral_fn ex_http_body;
static int ex_http_main(void *arg, void **result) {
  int rc = corral_http_client_open(&ex_http, NULL);
  if (rc) return rc;
  rc = ex_http_body(arg, result);
  corral_http_client_close(ex_http);
  return rc;
}

/* main(): servers up, run body as the root task, servers down. The exit
 * status is 0 only when body returned 0 ("it behaved"). */
static inline int ex_http_run(int argc, char **argv, corral_fn body) {
  ex_argc = argc;
  ex_argv = argv;
  if (servers_start(&ex_srv, 1) != 0) {
    fprintf(stderr, "error: could not start nginx and the fixture\n");
    return 1;
  }
  atexit(ex_servers_down);
  ex_http_body = body;
  int rc = corral_run(NULL, ex_http_main, NULL, NULL);
  fflush(stdout);
  if (rc < 0) {
    fprintf(stderr, "error: %s\n", corral_strerror(rc));
    if (corral_last_error()) corral_error_print(corral_last_error(), stderr);
    return 1;
  }
  return 0;
}

/* GET url: 0 and the response for 2xx; a 4xx/5xx becomes an error whose
 * message is the status line ("503 Service Unavailable"). */
static inline int ex_get_ok(const char *url, corral_http_response *r) {
  int rc = corral_http_get(ex_http, url, r);
  if (rc) return rc;
  if (r->status < 200 || r->status > 299) {
    int st = r->status;
    corral_http_response_free(r);
    return corral_errorf(CORRAL_EIO, "%d %s", st, corral_http_status_name(st));
  }
  return 0;
}

/* A number / string field of a flat JSON object (enough for the examples). */
static inline int ex_json_int(const char *json, const char *key, int dflt) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = json ? strstr(json, pat) : NULL;
  return p ? atoi(p + strlen(pat)) : dflt;
}
static inline void ex_json_str(const char *json, const char *key, char *out,
                               size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  const char *p = json ? strstr(json, pat) : NULL;
  out[0] = 0;
  if (!p) return;
  p += strlen(pat);
  size_t i = 0;
  while (p[i] && p[i] != '"' && i + 1 < n) {
    out[i] = p[i];
    i++;
  }
  out[i] = 0;
}

#endif
