/* libcorral-http under abuse: bad URLs, header injection, servers that
 * misbehave (huge headers, endless bodies, silence, resets, redirect loops,
 * a listener that accepts only 10 connections at a time), cancellation at
 * every point of a transfer, and misuse of the API (outside a task, another
 * runtime, a closed client, a body callback that blocks or closes the
 * client). Every case checks the corral code, that curl's message is in the
 * error record, that the pool is usable afterwards, and that descriptors
 * and child processes are back where they started. Servers: nginx and the
 * fixture (tests/http/fixture.py), started and stopped by each case. */
#include "corral/http.h"
#include "test.h"
#include "harness.h"

#include <pthread.h>

/* The latest error record's message contains `part`. */
#define CHECK_MSG(part)                                                      \
  do {                                                                       \
    const corral_error *e_ = corral_last_error();                            \
    CHECK(e_ != NULL);                                                       \
    if (!strstr(corral_error_message(e_), (part)))                           \
      FAILF("message \"%s\" lacks \"%s\"", corral_error_message(e_), (part)); \
  } while (0)

/* The pool still answers, and nothing is left in flight. */
static void usable(corral_http_client *c) {
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_get(c, NGINX(u, "/hello.txt"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_STR(r.body, "hello from nginx\n");
  corral_http_response_free(&r);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
}

/* ---- URLs ---- */

static int m_urls(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_http_response r;
  static const struct {
    const char *url, *msg;
  } bad[] = {
      {"", "no scheme"},
      {"example.org/x", "no scheme"},
      {"127.0.0.1:80/", "no scheme"},
      {"ftp://127.0.0.1/x", "scheme"},
      {"file:///etc/passwd", "scheme"},
      {"gopher://127.0.0.1/", "scheme"},
      {"HTTPX://127.0.0.1/", "scheme"},
      {"http://", "URL"},
      {"http:///x", "URL"},
      {"http://127.0.0.1/a b", "URL"},
      {"http://127.0.0.1/a\r\nX-Injected: 1", "URL"},
      {"http://127.0.0.1/a\nb", "URL"},
      {"http://127.0.0.1:99999/", "URL"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = corral_http_get(c, bad[i].url, &r);
    if (rc != CORRAL_EINVAL)
      FAILF("url %zu \"%s\": %s", i, bad[i].url, corral_err_name(rc));
    CHECK_MSG(bad[i].msg);
    CHECK_EQ(r.status, 0);
    corral_http_response_free(&r);
  }
  /* A NUL ends the URL (it is a C string): what follows is never sent. */
  char u[256];
  static const char nul[] = "/hello.txt\0/../../etc/passwd";
  char withnul[300];
  size_t n = strlen(NGINX(u, ""));
  memcpy(withnul, u, n);
  memcpy(withnul + n, nul, sizeof nul);
  CHECK_RC(corral_http_get(c, withnul, &r), 0);
  CHECK_STR(r.body, "hello from nginx\n");
  corral_http_response_free(&r);
  /* 100 KB of path: sent as is; nginx answers 414, a result. */
  size_t big = 100 * 1024;
  char *longu = malloc(big + 64);
  CHECK(longu != NULL);
  n = strlen(NGINX(u, "/"));
  memcpy(longu, u, n);
  memset(longu + n, 'a', big);
  longu[n + big] = 0;
  CHECK_RC(corral_http_get(c, longu, &r), 0);
  CHECK_EQ(r.status, 414);
  corral_http_response_free(&r);
  free(longu);
  /* Schemes are case-insensitive (RFC 3986 3.1). */
  snprintf(u, sizeof u, "HTTP://127.0.0.1:%d/hello.txt", S.nginx_port);
  CHECK_RC(corral_http_get(c, u, &r), 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(bad_urls) {
  up(1);
  run(m_urls, NULL);
  finish();
}

/* ---- header injection ---- */

static int m_inject(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c, *c2 = NULL;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  FIXTURE(u, "/echo");
  corral_http_response r;
  static const char *const bad[] = {
      "X-A: 1\r\nX-B: 2", "X-A: 1\nX-B: 2", "X-A: 1\r", "X-A\r\nX-B: 2",
      "X-A: a\x01z",      "X-A: a\x7fz",    ": v",      "X A: v",
      "X-A",              "\tX-A: v",       "X-A : v",  "X-A;",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *h[] = {"X-Ok: 1", bad[i], NULL};
    corral_http_request rq = {.url = u, .headers = h};
    int rc = corral_http_fetch(c, &rq, &r);
    if (rc != CORRAL_EINVAL) FAILF("header %zu: %s", i, corral_err_name(rc));
    CHECK_MSG("header line 1");
    corral_http_response_free(&r);
    /* The same as a default header or user agent: the client is refused. */
    const char *dh[] = {bad[i], NULL};
    CHECK_RC(corral_http_client_open(&c2, &(corral_http_client_opts){.headers = dh}),
             CORRAL_EINVAL);
    CHECK(c2 == NULL);
  }
  CHECK_RC(corral_http_client_open(&c2, &(corral_http_client_opts){.user_agent = "a\r\nX-B: 1"}),
           CORRAL_EINVAL);
  CHECK_MSG("user agent");
  CHECK(c2 == NULL);
  static const char *const methods[] = {"GET /x HTTP/1.1\r\n", "GE T", "", "G\nET"};
  for (size_t i = 0; i < 4; i++) {
    corral_http_request rq = {.url = u, .method = methods[i]};
    CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_EINVAL);
    CHECK_MSG("method");
    corral_http_response_free(&r);
  }
  /* Nothing was sent: no request, no connection. */
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.requests, 0);
  CHECK_EQ(st.connections, 0);
  /* What is allowed goes through: a tab and obs-text in a value. */
  const char *ok[] = {"X-Test: a\tb \xc3\xa9", NULL};
  corral_http_request rq = {.url = u, .method = "PUT", .headers = ok, .body = "x", .body_len = 1};
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK(strncmp(r.body, "PUT a\tb", 7) == 0);
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(header_injection_refused) {
  up(1);
  run(m_inject, NULL);
  finish();
}

/* ---- servers that misbehave ---- */

static int m_headers(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_http_response r;
  /* 64 KiB of headers: a result, every one kept. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/headers/64"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK(r.header_count >= 64);
  CHECK(corral_http_response_header(&r, "x-big-63") != NULL);
  CHECK_EQ(strlen(corral_http_response_header(&r, "x-big-63")), 1024);
  corral_http_response_free(&r);
  /* 4 MiB of headers: refused, not stored. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/headers/4096"), &r), CORRAL_HTTP_ETOOBIG);
  CHECK_MSG("header");
  CHECK_EQ(r.header_count, 0); /* an error owns nothing */
  CHECK_EQ(r.status, 200);      /* but keeps the numbers */
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(huge_response_headers) {
  up(1);
  run(m_headers, NULL);
  finish();
}

typedef struct {
  size_t got, stop_at;
  int sleep_ms, close_client, nested;
  corral_http_client *c;
  int nested_rc;
} sink;

static int on_piece(void *arg, const void *data, size_t len) {
  sink *s = arg;
  (void)data;
  s->got += len;
  if (s->sleep_ms) {
    int rc = corral_sleep(s->sleep_ms * MS);
    if (rc) return rc;
  }
  if (s->nested && s->got == len) { /* a request from inside the callback */
    char u[256];
    corral_http_response r;
    s->nested_rc = corral_http_get(s->c, NGINX(u, "/hello.txt"), &r);
    if (s->nested_rc == 0 && r.status != 200) s->nested_rc = CORRAL_EIO;
    corral_http_response_free(&r);
  }
  if (s->close_client && s->got >= s->stop_at) {
    corral_http_client_close(s->c);
    s->c = NULL;
  }
  if (!s->close_client && s->stop_at && s->got >= s->stop_at)
    return corral_errorf(CORRAL_EPIPE, "enough after %zu bytes", s->got);
  return 0;
}

static int m_infinite(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.max_body = 1 << 20}), 0);
  char u[256];
  corral_http_response r;
  /* In memory: the client's cap stops it. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/infinite"), &r), CORRAL_HTTP_ETOOBIG);
  CHECK_MSG("larger than");
  CHECK_EQ(r.status, 200);
  CHECK(r.body == NULL); /* an error owns nothing */
  corral_http_response_free(&r);
  /* Content-Length of 1 TB: refused before any of it is stored. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/infinite-length"), &r), CORRAL_HTTP_ETOOBIG);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  /* Streamed with a cap: the cap applies to what is handed over. */
  sink s = {0};
  corral_http_request rq = {.url = FIXTURE(u, "/infinite"), .on_body = on_piece,
                            .on_body_arg = &s, .max_body = 300000};
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_HTTP_ETOOBIG);
  CHECK(s.got <= 300000 && s.got > 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  /* Streamed without a cap: only a deadline ends it. */
  s = (sink){0};
  rq.max_body = 0;
  corral_scope sc;
  CHECK_RC(corral_fail_after(&sc, 300 * MS), 0);
  int rc = corral_http_fetch(c, &rq, &r);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&sc, rc), CORRAL_ETIMEDOUT);
  CHECK(s.got > 1000000);
  CHECK_EQ(r.status, 200); /* what had arrived */
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(endless_bodies) {
  up(1);
  run(m_infinite, NULL);
  finish();
}

static int m_broken(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.max_redirects = 5}), 0);
  char u[256];
  corral_http_response r;
  /* Closes after the headers, 1 MB announced. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/close-after-headers"), &r), CORRAL_ECONNRESET);
  CHECK_MSG("/close-after-headers");
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  /* Resets in the middle of the body, streamed. */
  sink s = {0};
  corral_http_request rq = {.url = FIXTURE(u, "/reset"), .on_body = on_piece, .on_body_arg = &s};
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_ECONNRESET);
  CHECK(s.got > 0 && s.got < (1 << 20));
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  /* A redirect loop. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/loop"), &r), CORRAL_HTTP_EPROTO);
  CHECK_MSG("redirects");
  CHECK_EQ(r.status, 302);
  CHECK_EQ(r.redirects, 5);
  corral_http_response_free(&r);
  /* Never answers / stops in the middle of the headers: a deadline. */
  static const char *const silent[] = {"/slow/60000", "/half-headers"};
  for (int i = 0; i < 2; i++) {
    corral_scope sc;
    CHECK_RC(corral_fail_after(&sc, 200 * MS), 0);
    int rc = corral_http_get(c, FIXTURE(u, silent[i]), &r);
    CHECK_RC(rc, CORRAL_ECANCELED);
    CHECK_MSG("cancelled");
    CHECK_RC(corral_scope_exit(&sc, rc), CORRAL_ETIMEDOUT);
    CHECK_EQ(r.status, i == 0 ? 0 : 200); /* the status line had arrived */
    corral_http_response_free(&r);
  }
  /* DNS failure, nobody listening. */
  CHECK_RC(corral_http_get(c, "http://no-such-host.invalid/", &r), CORRAL_HTTP_ERESOLVE);
  CHECK_MSG("no-such-host.invalid");
  corral_http_response_free(&r);
  CHECK_RC(corral_http_get(c, "http://127.0.0.1:1/", &r), CORRAL_ECONNREFUSED);
  CHECK_MSG("127.0.0.1");
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(broken_servers) {
  up(1);
  run(m_broken, NULL);
  finish();
}

/* ---- a listener that serves 10 connections at a time ---- */

typedef struct {
  int listener;
  volatile int stop;
  pthread_t th[10];
} ten_server;

static void *ten_serve(void *arg) {
  ten_server *t = arg;
  while (!t->stop) {
    int fd = accept(t->listener, NULL, NULL);
    if (fd < 0) {
      servers_sleep_ms(5);
      continue;
    }
    /* One request per connection ("Connection: close"), 5 s to send it. */
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    size_t have = 0;
    ssize_t n;
    while (have + 1 < sizeof buf && (n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
      have += (size_t)n;
      buf[have] = 0;
      if (strstr(buf, "\r\n\r\n")) {
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                 "Connection: close\r\n\r\nten";
        if (write(fd, ok, sizeof ok - 1) < 0) break;
        break;
      }
    }
    close(fd);
  }
  return NULL;
}

static int ten_start(ten_server *t) {
  t->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  CHECK(bind(t->listener, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(t->listener, 10) == 0);
  CHECK(getsockname(t->listener, (struct sockaddr *)&a, &al) == 0);
  struct timeval tv = {0, 50000}; /* accept wakes up to see `stop` */
  setsockopt(t->listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (int i = 0; i < 10; i++) pthread_create(&t->th[i], NULL, ten_serve, t);
  return ntohs(a.sin_port);
}

static void ten_stop(ten_server *t) {
  t->stop = 1;
  for (int i = 0; i < 10; i++) pthread_join(t->th[i], NULL);
  close(t->listener);
}

typedef struct {
  corral_http_client *c;
  const char *url;
  int rc, status;
} job;

static int job_get(void *arg, void **res) {
  (void)res;
  job *j = arg;
  corral_http_response r;
  j->rc = corral_http_get(j->c, j->url, &r);
  j->status = r.status;
  if (j->rc && getenv("HTTP_TEST_VERBOSE"))
    fprintf(stderr, "%s: %s\n", corral_err_name(j->rc),
            corral_last_error() ? corral_error_message(corral_last_error()) : "-");
  if (j->rc && !corral_last_error()) j->rc = CORRAL_EIO - 1000; /* no message */
  corral_http_response_free(&r);
  return 0;
}

static int m_ten(void *arg, void **res) {
  (void)arg, (void)res;
  ten_server t = {0};
  int port = ten_start(&t);
  char u[256];
  url(u, port, "/");
  static job jobs[1000];
  for (int round = 0; round < 2; round++) {
    /* Round 0: the client limits itself to 10 connections: all succeed.
     * Round 1: no limit, a 3 s connect timeout: connections beyond the
     * server's backlog wait for SYN retransmits; each request either
     * succeeds or fails with a clear code and message. */
    corral_http_client *c;
    corral_http_client_opts o = {.max_connections = round == 0 ? 10 : 0,
                                 .connect_timeout_ns = 3 * SEC};
    CHECK_RC(corral_http_client_open(&c, &o), 0);
    /* A connection whose final ACK the full accept queue dropped looks
     * established to the client while the server never sees it: only a
     * deadline ends such a request. */
    corral_scope sc;
    CHECK_RC(corral_move_on_after(&sc, 8 * SEC), 0);
    corral_group g;
    CHECK_RC(corral_group_open(&g, NULL), 0);
    for (int i = 0; i < 1000; i++) {
      jobs[i] = (job){c, u, 0, 0};
      CHECK_RC(corral_spawn(&g, job_get, &jobs[i], "get", NULL), 0);
    }
    int grc = corral_group_close(&g, 0);
    CHECK(grc == 0 || grc == CORRAL_ECANCELED);
    CHECK_RC(corral_scope_exit(&sc, grc), 0);
    int ok = 0;
    for (int i = 0; i < 1000; i++) {
      if (jobs[i].rc == 0) {
        CHECK_EQ(jobs[i].status, 200);
        ok++;
      } else if (jobs[i].rc != CORRAL_ETIMEDOUT && jobs[i].rc != CORRAL_ECONNRESET &&
                 !(round == 1 && jobs[i].rc == CORRAL_ECANCELED)) {
        FAILF("request %d: %s", i, corral_err_name(jobs[i].rc));
      }
    }
    if (round == 0) CHECK_EQ(ok, 1000);
    else CHECK(ok >= 10);
    corral_http_client_stats st;
    corral_http_client_stats_get(c, &st);
    CHECK_EQ(st.in_flight, 0);
    if (round == 0) CHECK_EQ(st.requests, 1000);
    usable(c);
    corral_http_client_close(c);
  }
  ten_stop(&t);
  return 0;
}
TEST(thousand_requests_server_accepts_ten) {
  up(1);
  run(m_ten, NULL);
  finish();
}

/* ---- cancellation at every point ---- */

/* A listener whose backlog is full: a new connection's SYN is never
 * answered, so the request stays in its connect phase. */
static int blackhole(int fill[4], int *port) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(l, 0) == 0);
  CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
  for (int i = 0; i < 4; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(fill[i], (struct sockaddr *)&a, sizeof a);
  }
  *port = ntohs(a.sin_port);
  return l;
}

static int cancel_after(corral_http_client *c, const corral_http_request *rq,
                        int64_t ns, corral_http_response *r) {
  corral_scope sc;
  CHECK_RC(corral_move_on_after(&sc, ns), 0);
  int rc = corral_http_fetch(c, rq, r);
  CHECK_RC(corral_scope_exit(&sc, rc), 0);
  CHECK(corral_scope_timed_out(&sc));
  return rc;
}

static int m_cancel_points(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_http_response r;
  corral_http_request rq = {.url = u};
  /* During connect. */
  int fill[4], port;
  int l = blackhole(fill, &port);
  url(u, port, "/");
  CHECK_RC(cancel_after(c, &rq, 100 * MS, &r), CORRAL_ECANCELED);
  CHECK_MSG("cancelled");
  corral_http_response_free(&r);
  for (int i = 0; i < 4; i++) close(fill[i]);
  close(l);
  /* While DNS resolves (a name nobody answers fast, or at once). */
  rq.url = "http://no-such-host.invalid/";
  for (int64_t us = 10; us <= 10000; us *= 10) {
    corral_scope sc;
    CHECK_RC(corral_move_on_after(&sc, us * 1000), 0);
    int rc = corral_http_fetch(c, &rq, &r);
    CHECK(rc == CORRAL_ECANCELED || rc == CORRAL_HTTP_ERESOLVE);
    rc = corral_scope_exit(&sc, rc);
    CHECK(rc == 0 || rc == CORRAL_HTTP_ERESOLVE);
    corral_http_response_free(&r);
  }
  rq.url = u;
  /* In the middle of the headers. */
  FIXTURE(u, "/half-headers");
  CHECK_RC(cancel_after(c, &rq, 200 * MS, &r), CORRAL_ECANCELED);
  corral_http_response_free(&r);
  /* In the middle of the body, in memory and streamed. */
  FIXTURE(u, "/drip/100/20");
  CHECK_RC(cancel_after(c, &rq, 200 * MS, &r), CORRAL_ECANCELED);
  CHECK_EQ(r.status, 200);
  CHECK(r.body == NULL && r.url == NULL);
  corral_http_response_free(&r);
  sink s = {0};
  rq.on_body = on_piece, rq.on_body_arg = &s;
  CHECK_RC(cancel_after(c, &rq, 200 * MS, &r), CORRAL_ECANCELED);
  CHECK(s.got > 0 && s.got < 100 * 1024);
  corral_http_response_free(&r);
  /* Inside the body callback, blocked in a sleep. */
  s = (sink){.sleep_ms = 10000};
  CHECK_RC(cancel_after(c, &rq, 200 * MS, &r), CORRAL_ECANCELED);
  CHECK_EQ(s.got, 1024);
  corral_http_response_free(&r);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(cancel_at_every_point) {
  up(1);
  run(m_cancel_points, NULL);
  finish();
}

/* ---- the body callback uses corral ---- */

static int m_callback(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_http_response r;
  /* Sleeps (the transfer waits) and makes a request of its own. */
  sink s = {.sleep_ms = 1, .nested = 1, .c = c};
  corral_http_request rq = {.url = FIXTURE(u, "/drip/20/0"), .on_body = on_piece,
                            .on_body_arg = &s};
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(s.got, 20 * 1024);
  CHECK_RC(s.nested_rc, 0);
  corral_http_response_free(&r);
  /* Stops with its own code: the request returns it, with the status. */
  s = (sink){.stop_at = 5000};
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_EPIPE);
  CHECK_MSG("enough after");
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  usable(c);
  /* Closes the client it is called for. */
  s = (sink){.stop_at = 5000, .close_client = 1, .c = c};
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_ECANCELED);
  CHECK(s.c == NULL);
  corral_http_response_free(&r);
  return 0;
}
TEST(body_callback_blocks_and_stops) {
  up(1);
  run(m_callback, NULL);
  finish();
}

/* ---- misuse ---- */

static corral_http_client *shared;
static int foreign_rc = 1, foreign_close_ok;

static int foreign_main(void *arg, void **res) {
  (void)arg, (void)res;
  char u[256];
  foreign_rc = corral_http_get(shared, NGINX(u, "/hello.txt"), NULL);
  return 0;
}
static void *foreign_thread(void *arg) {
  (void)arg;
  corral_run(NULL, foreign_main, NULL, NULL);
  corral_http_client_close(shared); /* not this thread's: refused, no effect */
  foreign_close_ok = 1;
  return NULL;
}

static int m_misuse(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_http_client_open(&shared, NULL), 0);
  pthread_t th;
  pthread_create(&th, NULL, foreign_thread, NULL);
  /* The other runtime's thread runs while this one waits in a plain join
   * (no task of ours runs meanwhile). */
  pthread_join(th, NULL);
  CHECK_RC(foreign_rc, CORRAL_EFOREIGN);
  CHECK(foreign_close_ok);
  usable(shared);
  corral_http_client *c = shared;
  corral_http_client_close(c);
  /* After close: refused with a message, not a use after free. */
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_get(c, NGINX(u, "/hello.txt"), &r), CORRAL_EINVAL);
  CHECK_MSG("not an open client");
  corral_http_response_free(&r);
  corral_http_client_stats st = {.requests = 7};
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.requests, 0);
  corral_http_client_close(c); /* twice: ignored */
  return 0;
}
TEST(misuse_other_runtime_and_closed_client) {
  up(1);
  run(m_misuse, NULL);
  /* Outside any task: refused. */
  corral_http_response r;
  CHECK_RC(corral_http_get(shared, "http://127.0.0.1/", &r), CORRAL_ENOTASK);
  corral_http_client_close(shared); /* closed already: ignored */
  finish();
}

/* A runtime whose main task fails while requests are in flight in its
 * children, its client still open: the children are cancelled, the client
 * is closed when its task ends, and nothing is left. */
static int m_runtime_end(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  static job jobs[20];
  static char u[256];
  FIXTURE(u, "/slow/60000");
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 20; i++) {
    jobs[i] = (job){c, u, 0, 0};
    CHECK_RC(corral_spawn(&g, job_get, &jobs[i], "slow", NULL), 0);
  }
  CHECK_RC(corral_sleep(100 * MS), 0);
  return corral_group_close(&g, CORRAL_EIO); /* the body fails: client left open */
}
TEST(runtime_ends_with_requests_in_flight) {
  up(1);
  CHECK_RC(corral_run(NULL, m_runtime_end, NULL, NULL), CORRAL_EGROUP);
  CHECK_EQ(servers_count_fds(), fd0);
  finish();
}

/* ---- a server that drops a kept-alive connection on its second request
 * (its idle timeout struck as the request arrived): the request is sent
 * again on a new connection, RFC 9112 9.3.1 ---- */

typedef struct {
  int listener;
  volatile int stop;
  pthread_t th;
} dropper;

static void *drop_serve(void *arg) {
  dropper *d = arg;
  while (!d->stop) {
    int fd = accept(d->listener, NULL, NULL);
    if (fd < 0) continue; /* the accept timeout: look at `stop` */
    char buf[4096];
    size_t have = 0;
    int served = 0;
    ssize_t n;
    while ((n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
      have += (size_t)n;
      buf[have] = 0;
      if (!strstr(buf, "\r\n\r\n")) continue;
      if (served++) break; /* the second request: drop the connection */
      static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndrop";
      if (write(fd, ok, sizeof ok - 1) < 0) break;
      have = 0;
    }
    struct linger lg = {1, 0}; /* a reset, as a server closing unread data */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
  }
  return NULL;
}

static int m_dropped(void *arg, void **res) {
  (void)arg, (void)res;
  dropper d = {0};
  d.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  CHECK(bind(d.listener, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(d.listener, 16) == 0);
  CHECK(getsockname(d.listener, (struct sockaddr *)&a, &al) == 0);
  struct timeval tv = {0, 50000};
  setsockopt(d.listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  pthread_create(&d.th, NULL, drop_serve, &d);
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  url(u, ntohs(a.sin_port), "/");
  for (int i = 0; i < 6; i++) { /* every other one lands on a dropped connection */
    corral_http_response r;
    CHECK_RC(corral_http_get(c, u, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "drop");
    corral_http_response_free(&r);
    CHECK_RC(corral_sleep(5 * MS), 0);
  }
  /* Not idempotent: a POST is not sent twice; it fails with a clear code. */
  corral_http_response r;
  CHECK_RC(corral_http_get(c, u, &r), 0); /* a fresh connection, kept */
  corral_http_response_free(&r);
  corral_http_request post = {.url = u, .body = "x", .body_len = 1};
  int rc = corral_http_fetch(c, &post, &r);
  CHECK(rc == 0 || rc == CORRAL_ECONNRESET); /* curl itself may resend it */
  if (rc) CHECK_MSG(u);
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  d.stop = 1;
  pthread_join(d.th, NULL);
  close(d.listener);
  return 0;
}
TEST(kept_alive_connection_dropped_on_request) {
  up(1);
  run(m_dropped, NULL);
  finish();
}
