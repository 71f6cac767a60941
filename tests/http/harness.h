/* What the libcorral-http test programs share: the servers (nginx and the
 * fixture, started by up() and stopped at exit), URL helpers, and run(),
 * which runs a runtime's main and then checks that descriptors and child
 * processes are back where they started. Include after test.h. */
#ifndef CORRAL_TESTS_HTTP_HARNESS_H
#define CORRAL_TESTS_HTTP_HARNESS_H

#include "corral/http.h"
#include "servers.h"

static http_servers S;
static int fd0 = -1;

static inline void down(void) { servers_stop(&S); }

/* Child processes, where the system tells (Linux /proc). */
#define CHECK_CHILDREN(n)                                                    \
  do {                                                                       \
    int k_ = servers_count_children();                                       \
    if (k_ >= 0) CHECK_EQ(k_, (n));                                          \
  } while (0)

static inline const char *url(char *buf, int port, const char *path) {
  snprintf(buf, 256, "http://127.0.0.1:%d%s", port, path);
  return buf;
}
#define NGINX(b, p) url(b, S.nginx_port, p)
#define NGINX2(b, p) url(b, S.nginx_h2_port, p)
#define FIXTURE(b, p) url(b, S.fixture_port, p)

static inline int m_warm(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  int rc = corral_http_client_open(&c, NULL);
  if (rc) return rc;
  char u[256];
  rc = corral_http_get(c, NGINX(u, "/hello.txt"), NULL);
  corral_http_client_close(c);
  return rc;
}

/* Servers up, libcurl initialised, then the descriptor baseline. */
static inline void up(int no_log) {
  if (servers_start(&S, no_log) != 0) FAILF("could not start the servers");
  atexit(down);
  CHECK_RC(corral_run(NULL, m_warm, NULL, NULL), 0);
  fd0 = servers_count_fds();
  CHECK_CHILDREN(2);
}

/* Run fn as a runtime's main; afterwards nothing may be left open. */
static inline void run(corral_fn fn, void *arg) {
  CHECK_RC(corral_run(NULL, fn, arg, NULL), 0);
  CHECK_EQ(servers_count_fds(), fd0);
  CHECK_CHILDREN(2);
}

static inline void finish(void) {
  servers_stop(&S);
  CHECK_CHILDREN(0);
}

#endif
