/* libcorral-http against real servers: nginx for the bulk, the Python
 * fixture (tests/http/fixture.py) for slow, failing, resetting, chunked and
 * redirecting endpoints. Every case starts its own servers, checks that
 * descriptors and child processes are back where they started, and leaves
 * nothing running (the servers die with the test process). */
#include "corral/http.h"
#include "test.h"
#include "harness.h"

#include <curl/curl.h>
#include <stdarg.h>

static int check_pattern(const unsigned char *p, size_t n, size_t off) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)((off + i) & 0xff)) return 0;
  return 1;
}

/* Lines of nginx's access log ("$connection $connection_requests
 * $server_protocol $status $uri"): how many, on how many connections, how
 * many over HTTP/2. nginx logs a request after it has sent the response, so
 * the client may be done first: wait (up to 5 s) for `expect` lines. */
static void access_log(int expect, int *lines, int *conns, int *h2) {
  char path[300], line[512];
  snprintf(path, sizeof path, "%s/access.log", S.dir);
  static long ids[4096];
  int n = 0, k = 0, v2 = 0;
  for (int attempt = 0; attempt < 250; attempt++) {
    n = k = v2 = 0;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f)) {
      long id;
      char proto[32];
      if (sscanf(line, "%ld %*d %31s", &id, proto) != 2) continue;
      n++;
      v2 += strcmp(proto, "HTTP/2.0") == 0;
      int seen = 0;
      for (int i = 0; i < k && !seen; i++) seen = ids[i] == id;
      if (!seen && k < 4096) ids[k++] = id;
    }
    fclose(f);
    if (n >= expect) break;
    servers_sleep_ms(20);
  }
  *lines = n, *conns = k, *h2 = v2;
}

/* ---- status names, arguments ---- */

TEST(status_names) {
  CHECK_STR(corral_http_status_name(200), "OK");
  CHECK_STR(corral_http_status_name(404), "Not Found");
  CHECK_STR(corral_http_status_name(418), "Unknown");
  CHECK_STR(corral_http_status_name(429), "Too Many Requests");
  CHECK_STR(corral_http_status_name(503), "Service Unavailable");
  CHECK_STR(corral_http_status_name(-1), "Unknown");
  CHECK(corral_http_curl_version()[0] != 0);
}

static int m_args(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = NULL;
  CHECK_RC(corral_http_client_open(NULL, NULL), CORRAL_EINVAL);
  corral_http_client_opts bad = {.max_connections = -1};
  CHECK_RC(corral_http_client_open(&c, &bad), CORRAL_EINVAL);
  bad = (corral_http_client_opts){.version = (corral_http_version)9};
  CHECK_RC(corral_http_client_open(&c, &bad), CORRAL_EINVAL);
  CHECK(c == NULL);
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_http_response r;
  CHECK_RC(corral_http_get(c, NULL, &r), CORRAL_EINVAL);
  CHECK_RC(corral_http_get(NULL, "http://127.0.0.1/", &r), CORRAL_EINVAL);
  CHECK_RC(corral_http_get(c, "ftp://127.0.0.1/x", &r), CORRAL_EINVAL);
  CHECK(strstr(corral_error_message(corral_last_error()), "ftp://") != NULL);
  corral_http_response_free(&r);
  CHECK_RC(corral_http_get(c, "not a url at all", &r), CORRAL_EINVAL);
  corral_http_response_free(&r);
  /* No request smuggling through the method or header lines. */
  const char *inject[] = {"X-A: 1\r\nX-B: 2", NULL};
  const char *noname[] = {": value", NULL};
  corral_http_request rq = {.url = "http://127.0.0.1:1/", .headers = inject};
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_EINVAL);
  rq.headers = noname;
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_EINVAL);
  rq = (corral_http_request){.url = "http://127.0.0.1:1/", .method = "GET /x HTTP/1.1\r\n"};
  CHECK_RC(corral_http_fetch(c, &rq, &r), CORRAL_EINVAL);
  corral_http_client *c2 = NULL;
  CHECK_RC(corral_http_client_open(&c2, &(corral_http_client_opts){.headers = inject}), CORRAL_EINVAL);
  CHECK(c2 == NULL);
  corral_http_response_free(&r);
  corral_http_response_free(NULL);
  corral_http_client_close(c);
  corral_http_client_close(NULL);
  return 0;
}
TEST(bad_arguments) {
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), CORRAL_ENOTASK);
  CHECK_RC(corral_http_get(NULL, "http://127.0.0.1/", NULL), CORRAL_ENOTASK);
  CHECK_RC(corral_run(NULL, m_args, NULL, NULL), 0); /* libcurl's globals */
  int before = servers_count_fds();
  CHECK_RC(corral_run(NULL, m_args, NULL, NULL), 0);
  CHECK_EQ(servers_count_fds(), before);
}

/* ---- nginx ---- */

static int m_get(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_http_response r;
  char u[256];
  CHECK_RC(corral_http_get(c, NGINX(u, "/hello.txt"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.version, 11);
  CHECK_EQ(r.body_len, 17);
  CHECK_STR(r.body, "hello from nginx\n");
  CHECK_STR(corral_http_response_header(&r, "content-type"), "text/plain");
  CHECK_STR(corral_http_response_header(&r, "Content-Length"), "17");
  CHECK(strncmp(corral_http_response_header(&r, "server"), "nginx", 5) == 0);
  CHECK(corral_http_response_header(&r, "X-Nope") == NULL);
  CHECK_STR(r.url, u);
  corral_http_response_free(&r);
  /* HEAD: headers, no body. */
  corral_http_request h = {.method = "HEAD", .url = u};
  CHECK_RC(corral_http_fetch(c, &h, &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.body_len, 0);
  CHECK_STR(corral_http_response_header(&r, "Content-Length"), "17");
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(get_from_nginx) {
  up(0);
  run(m_get, NULL);
  finish();
}

static int m_keepalive(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  for (int i = 0; i < 20; i++) {
    corral_http_response r;
    CHECK_RC(corral_http_get(c, NGINX(u, "/1k.bin"), &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.body_len, 1024);
    CHECK_EQ(r.reused, i > 0);
    corral_http_response_free(&r);
  }
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.requests, 20);
  CHECK_EQ(st.connections, 1);
  CHECK_EQ(st.in_flight, 0);
  CHECK_EQ(st.bytes_in, 20 * 1024);
  corral_http_client_close(c);
  return 0;
}
TEST(keep_alive_reuse) {
  up(0);
  run(m_keepalive, NULL);
  int lines, conns, h2;
  access_log(21, &lines, &conns, &h2);
  CHECK_EQ(lines, 21); /* the warm-up request + 20 */
  CHECK_EQ(conns, 2);  /* one for the warm-up client, one for the 20 */
  finish();
}

typedef struct {
  corral_http_client *c;
  const char *url;
  int status, version;
  size_t len;
} get_job;

static int get_task(void *arg, void **res) {
  (void)res;
  get_job *j = arg;
  corral_http_response r;
  int rc = corral_http_get(j->c, j->url, &r);
  j->status = r.status;
  j->version = r.version;
  j->len = r.body_len;
  corral_http_response_free(&r);
  return rc;
}

/* n concurrent GETs of url on one client; all must be HTTP/2 on one
 * connection. */
static void h2_fan(corral_http_client *c, const char *u, int n) {
  get_job jobs[50];
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < n; i++) {
    jobs[i] = (get_job){c, u, 0, 0, 0};
    CHECK_RC(corral_spawn(&g, get_task, &jobs[i], "get", NULL), 0);
  }
  int grc = corral_group_close(&g, 0);
  if (grc) corral_error_print(corral_last_error(), stderr);
  CHECK_RC(grc, 0);
  for (int i = 0; i < n; i++) {
    CHECK_EQ(jobs[i].status, 200);
    CHECK_EQ(jobs[i].version, 20);
    CHECK_EQ(jobs[i].len, 1024);
  }
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.connections, 1); /* every stream multiplexed on one */
}

/* libcurl before 8.0 fails to reuse a prior-knowledge HTTP/2 connection
 * ("Error in the HTTP2 framing layer", curl issue 10634): there, one
 * request per connection. */
static int h2c_streams(void) {
  return curl_version_info(CURLVERSION_NOW)->version_num >= 0x080000 ? 50 : 1;
}

static int m_h2c(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  corral_http_client_opts o = {.version = CORRAL_HTTP_VERSION_2_PRIOR_KNOWLEDGE};
  CHECK_RC(corral_http_client_open(&c, &o), 0);
  char u[256];
  h2_fan(c, NGINX2(u, "/1k.bin"), h2c_streams());
  corral_http_client_close(c);
  return 0;
}
TEST(http2_cleartext_prior_knowledge) {
  up(0);
  run(m_h2c, NULL);
  int lines, conns, h2;
  access_log(1 + h2c_streams(), &lines, &conns, &h2);
  CHECK_EQ(h2, h2c_streams());
  CHECK_EQ(conns, 2); /* warm-up (HTTP/1.1) + one HTTP/2 connection */
  finish();
}

static int m_tls(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  char u[256], ca[300];
  snprintf(ca, sizeof ca, "%s/cert.pem", S.dir);
  snprintf(u, sizeof u, "https://127.0.0.1:%d/1k.bin", S.nginx_tls_port);
  /* Verification is on by default: a self-signed certificate fails. */
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  CHECK_RC(corral_http_get(c, u, NULL), CORRAL_HTTP_ETLS);
  CHECK(strlen(corral_error_message(corral_last_error())) > 0);
  corral_http_client_close(c);
  /* Trusted through the CA file: HTTP/2 by ALPN, 50 streams, one
   * connection. */
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.ca_file = ca}), 0);
  h2_fan(c, u, 50);
  corral_http_client_close(c);
  return 0;
}
TEST(https_verified_http2_multiplexing) {
  up(0);
  if (!S.nginx_tls_port) {
    fprintf(stderr, "no openssl command: HTTPS not tested\n");
    finish();
    return;
  }
  run(m_tls, NULL);
  int lines, conns, h2;
  access_log(1 + 50, &lines, &conns, &h2);
  CHECK_EQ(h2, 50);
  finish();
}

static int m_large(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_http_response r;
  char u[256];
  CHECK_RC(corral_http_get(c, NGINX(u, "/large.bin"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.body_len, 4 << 20);
  CHECK(check_pattern((unsigned char *)r.body, r.body_len, 0));
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(large_body) {
  up(0);
  run(m_large, NULL);
  finish();
}

typedef struct {
  size_t got, pieces;
  int bad;
} sink;

/* Runs in the requesting task: it may block. */
static int sink_fn(void *arg, const void *data, size_t len) {
  sink *s = arg;
  if (!check_pattern(data, len, s->got)) s->bad = 1;
  s->got += len;
  if (s->pieces++ % 16 == 0) return corral_sleep(MS);
  return 0;
}

static int m_stream(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.max_body = 10}), 0);
  char u[256];
  sink s = {0};
  corral_http_request rq = {.url = NGINX(u, "/large.bin"), .on_body = sink_fn,
                            .on_body_arg = &s};
  corral_http_response r;
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0); /* no cap when streaming */
  CHECK_EQ(r.status, 200);
  CHECK(r.body == NULL);
  CHECK_EQ(s.got, 4 << 20);
  CHECK_EQ(s.bad, 0);
  CHECK(s.pieces > 1);
  corral_http_response_free(&r);
  /* A callback error stops the transfer and is returned. */
  sink t = {0};
  rq.on_body_arg = &t;
  rq.url = FIXTURE(u, "/chunked/500/1024");
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_EQ(t.got, 500 * 1024);
  CHECK_EQ(t.bad, 0);
  corral_http_response_free(&r);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  corral_http_client_close(c);
  return 0;
}
TEST(streamed_body) {
  up(0);
  run(m_stream, NULL);
  finish();
}

typedef struct {
  corral_stream *in;
  size_t got;
  int bad;
} pipe_reader;

static int read_pipe(void *arg, void **res) {
  (void)res;
  pipe_reader *p = arg;
  unsigned char buf[3000];
  int n;
  while ((n = corral_stream_read(p->in, buf, sizeof buf)) > 0) {
    if (!check_pattern(buf, (size_t)n, p->got)) p->bad = 1;
    p->got += (size_t)n;
    if (p->got % 7 == 0) CHECK_RC(corral_sleep(MS / 10), 0); /* a slow reader */
  }
  return n;
}

/* The body flows into a pipe that another task reads: the reader's pace
 * paces the transfer. */
static int m_to_stream(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_stream *rd, *wr;
  CHECK_RC(corral_pipe(&rd, &wr), 0);
  pipe_reader p = {rd, 0, 0};
  corral_task *t;
  CHECK_RC(corral_create_task(read_pipe, &p, "reader", &t), 0);
  char u[256];
  corral_http_request rq = {.url = NGINX(u, "/large.bin"),
                            .on_body = corral_http_body_to_stream,
                            .on_body_arg = wr};
  corral_http_response r;
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  CHECK_RC(corral_stream_close(wr), 0); /* the reader sees end of stream */
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK_EQ(p.got, 4 << 20);
  CHECK_EQ(p.bad, 0);
  CHECK_RC(corral_stream_close(rd), 0);
  corral_http_client_close(c);
  return 0;
}
TEST(body_streamed_into_a_pipe) {
  up(0);
  run(m_to_stream, NULL);
  finish();
}

static int stop_at_100k(void *arg, const void *data, size_t len) {
  (void)data;
  size_t *n = arg;
  *n += len;
  return *n >= 100000 ? CORRAL_EPIPE : 0;
}

static int m_stream_stop(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  size_t n = 0;
  corral_http_request rq = {.url = NGINX(u, "/large.bin"),
                            .on_body = stop_at_100k, .on_body_arg = &n};
  CHECK_RC(corral_http_fetch(c, &rq, NULL), CORRAL_EPIPE);
  CHECK(n >= 100000 && n < (4 << 20));
  corral_http_response r;
  CHECK_RC(corral_http_get(c, NGINX(u, "/hello.txt"), &r), 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(streamed_body_stopped_by_callback) {
  up(0);
  run(m_stream_stop, NULL);
  finish();
}

/* ---- fixture ---- */

static int m_chunked(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_http_response r;
  char u[256];
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/chunked/100/1000"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_STR(corral_http_response_header(&r, "Transfer-Encoding"), "chunked");
  CHECK_EQ(r.body_len, 100000);
  for (size_t i = 0; i < 100; i++)
    CHECK(check_pattern((unsigned char *)r.body + i * 1000, 1000, 0));
  corral_http_response_free(&r);
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/large/3000000"), &r), 0);
  CHECK_EQ(r.body_len, 3000000);
  CHECK(check_pattern((unsigned char *)r.body, r.body_len, 0));
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(chunked_and_large_from_fixture) {
  up(0);
  run(m_chunked, NULL);
  finish();
}

static int m_cap(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.max_body = 100000}), 0);
  corral_http_response r;
  char u[256];
  /* Length known in advance (nginx). */
  CHECK_RC(corral_http_get(c, NGINX(u, "/large.bin"), &r), CORRAL_HTTP_ETOOBIG);
  CHECK(strstr(corral_error_message(corral_last_error()), "cap") != NULL);
  CHECK(r.body == NULL);
  corral_http_response_free(&r);
  /* Chunked: discovered on the way. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/chunked/200/1000"), &r), CORRAL_HTTP_ETOOBIG);
  corral_http_response_free(&r);
  /* Exactly at the cap is fine; the per-request cap overrides. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/chunked/100/1000"), &r), 0);
  CHECK_EQ(r.body_len, 100000);
  corral_http_response_free(&r);
  corral_http_request rq = {.url = NGINX(u, "/large.bin"), .max_body = 8 << 20};
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_EQ(r.body_len, 4 << 20);
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(body_size_cap) {
  up(0);
  run(m_cap, NULL);
  finish();
}

static int m_status(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_http_response r;
  char u[256];
  static const int codes[] = {201, 204, 400, 403, 429, 500, 503};
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
    char p[32];
    snprintf(p, sizeof p, "/status/%d", codes[i]);
    CHECK_RC(corral_http_get(c, FIXTURE(u, p), &r), 0);
    CHECK_EQ(r.status, codes[i]);
    corral_http_response_free(&r);
  }
  CHECK_RC(corral_http_get(c, NGINX(u, "/no/such/file"), &r), 0);
  CHECK_EQ(r.status, 404);
  CHECK_STR(corral_http_status_name(r.status), "Not Found");
  corral_http_response_free(&r);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.connections, 2); /* one per server, all kept alive */
  corral_http_client_close(c);
  return 0;
}
TEST(status_4xx_5xx_are_results) {
  up(0);
  run(m_status, NULL);
  finish();
}

static int m_redirect(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_client_open(&c, NULL), 0); /* not followed */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/redirect/3"), &r), 0);
  CHECK_EQ(r.status, 302);
  CHECK_STR(corral_http_response_header(&r, "Location"), "/redirect/2");
  corral_http_response_free(&r);
  corral_http_client_close(c);
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.max_redirects = 5}), 0);
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/redirect/3"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.redirects, 3);
  CHECK_STR(r.body, "arrived\n");
  CHECK(strstr(r.url, "/redirect/0") != NULL);
  corral_http_response_free(&r);
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/redirect/9"), &r), CORRAL_HTTP_EPROTO);
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(redirects) {
  up(0);
  run(m_redirect, NULL);
  finish();
}

static int m_post(void *arg, void **res) {
  (void)arg, (void)res;
  const char *defaults[] = {"X-Test: default", "X-Other: 1", NULL};
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, &(corral_http_client_opts){.headers = defaults}), 0);
  char u[256];
  corral_http_response r;
  const char *h[] = {"X-Test: mine", NULL};
  corral_http_request rq = {.url = FIXTURE(u, "/echo"), .headers = h,
                            .body = "payload", .body_len = 7};
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_STR(r.body, "POST mine payload");
  corral_http_response_free(&r);
  rq.method = "PUT";
  rq.headers = NULL;
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_STR(r.body, "PUT default payload");
  corral_http_response_free(&r);
  rq = (corral_http_request){.method = "DELETE", .url = u};
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_STR(r.body, "DELETE default ");
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(methods_headers_body) {
  up(0);
  run(m_post, NULL);
  finish();
}

static int m_idle_closed(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/bye"), &r), 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  CHECK_RC(corral_sleep(300 * MS), 0); /* the server closes it meanwhile */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/status/200"), &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.reused, 0);
  corral_http_response_free(&r);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.connections, 2);
  corral_http_client_close(c);
  return 0;
}
TEST(pooled_connection_closed_by_the_server) {
  up(0);
  run(m_idle_closed, NULL);
  finish();
}

static int m_ua_limits(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/ua"), &r), 0);
  CHECK(strncmp(r.body, "corral-http/", 12) == 0);
  corral_http_response_free(&r);
  corral_http_client_close(c);
  corral_http_client_opts o = {.user_agent = "probe/1.0",
                               .max_host_connections = 2};
  CHECK_RC(corral_http_client_open(&c, &o), 0);
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/ua"), &r), 0);
  CHECK_STR(r.body, "probe/1.0");
  corral_http_response_free(&r);
  /* 8 slow requests at once, at most 2 connections to the host. */
  get_job jobs[8];
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 8; i++) {
    jobs[i] = (get_job){c, FIXTURE(u, "/slow/100"), 0, 0, 0};
    CHECK_RC(corral_spawn(&g, get_task, &jobs[i], "get", NULL), 0);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 8; i++) CHECK_EQ(jobs[i].status, 200);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.connections, 2);
  corral_http_client_close(c);
  return 0;
}
TEST(user_agent_and_per_host_limit) {
  up(0);
  run(m_ua_limits, NULL);
  finish();
}

/* ---- transport errors ---- */

static int m_errors(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_http_response r;
  /* A port nobody listens on. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
  close(fd);
  CHECK_RC(corral_http_get(c, url(u, ntohs(a.sin_port), "/"), &r), CORRAL_ECONNREFUSED);
  CHECK(strlen(corral_error_message(corral_last_error())) > 0);
  CHECK_EQ(r.status, 0);
  corral_http_response_free(&r);
  /* DNS: RFC 6761 reserves .invalid. */
  CHECK_RC(corral_http_get(c, "http://no-such-host.invalid/", &r), CORRAL_HTTP_ERESOLVE);
  CHECK(strstr(corral_error_message(corral_last_error()), "no-such-host.invalid") != NULL);
  corral_http_response_free(&r);
  /* Reset in the middle of the body. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/reset"), &r), CORRAL_ECONNRESET);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  /* Still usable. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/status/200"), &r), 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(refused_dns_reset) {
  up(0);
  run(m_errors, NULL);
  finish();
}

/* A listener that never accepts, its backlog filled: a new connection's SYN
 * goes unanswered, so only the connect timeout ends the attempt. */
static int m_connect_timeout(void *arg, void **res) {
  (void)arg, (void)res;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(l, 0) == 0);
  CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
  int fill[4];
  for (int i = 0; i < 4; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM, 0);
    fcntl(fill[i], F_SETFL, O_NONBLOCK);
    connect(fill[i], (struct sockaddr *)&a, sizeof a);
  }
  corral_http_client *c;
  corral_http_client_opts o = {.connect_timeout_ns = 200 * MS};
  CHECK_RC(corral_http_client_open(&c, &o), 0);
  char u[256];
  int64_t t0 = corral_now();
  CHECK_RC(corral_http_get(c, url(u, ntohs(a.sin_port), "/"), NULL), CORRAL_ETIMEDOUT);
  CHECK(corral_now() - t0 < 5 * SEC);
  CHECK(strstr(corral_error_message(corral_last_error()), "imeout") != NULL ||
        strstr(corral_error_message(corral_last_error()), "timed out") != NULL);
  corral_http_client_close(c);
  for (int i = 0; i < 4; i++) close(fill[i]);
  close(l);
  return 0;
}
TEST(connect_timeout) {
  up(0);
  run(m_connect_timeout, NULL);
  finish();
}

/* ---- cancellation ---- */

static int m_slow(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_http_response r;
  int64_t t0 = corral_now();
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, 100 * MS), 0);
  int rc = corral_http_get(c, FIXTURE(u, "/slow/10000"), &r);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0); /* move-on: silently stopped */
  CHECK(corral_scope_timed_out(&s));
  int64_t took = corral_now() - t0;
  CHECK(took < 5 * SEC); /* abandoned, not waited for (it would take 10 s) */
  CHECK_EQ(r.status, 0);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  /* fail_after reports the timeout. */
  CHECK_RC(corral_fail_after(&s, 50 * MS), 0);
  rc = corral_http_get(c, FIXTURE(u, "/slow/10000"), &r);
  CHECK_RC(corral_scope_exit(&s, rc), CORRAL_ETIMEDOUT);
  /* The pool is still usable. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/status/200"), &r), 0);
  CHECK_EQ(r.status, 200);
  corral_http_response_free(&r);
  corral_http_client_close(c);
  return 0;
}
TEST(slow_response_cancelled) {
  up(0);
  run(m_slow, NULL);
  finish();
}

static int m_cancelled_on_entry(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  corral_scope_cancel(&s, "no");
  CHECK_RC(corral_http_get(c, NGINX(u, "/hello.txt"), NULL), CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, CORRAL_ECANCELED), 0);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.requests, 0);
  corral_http_client_close(c);
  return 0;
}
TEST(cancelled_before_start) {
  up(0);
  run(m_cancelled_on_entry, NULL);
  finish();
}

typedef struct {
  corral_http_client *c;
  char url[256];
  int fail_on_5xx;
  int rc;
} ff_job;

static int ff_task(void *arg, void **res) {
  (void)res;
  ff_job *j = arg;
  corral_http_response r;
  int rc = corral_http_get(j->c, j->url, &r);
  if (rc == 0 && r.status >= 500)
    rc = corral_errorf(CORRAL_EIO, "%d %s", r.status,
                       corral_http_status_name(r.status));
  corral_http_response_free(&r);
  return j->rc = rc;
}

static int m_fail_fast(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  ff_job jobs[11];
  corral_task *t[11];
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 11; i++) {
    jobs[i] = (ff_job){.c = c};
    url(jobs[i].url, S.fixture_port, i == 5 ? "/status/500" : "/slow/10000");
    CHECK_RC(corral_spawn(&g, ff_task, &jobs[i], "fetch", &t[i]), 0);
  }
  int64_t t0 = corral_now();
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK(corral_now() - t0 < 5 * SEC);
  const corral_error *e = corral_last_error();
  CHECK_EQ(corral_error_count(e), 1);
  CHECK_STR(corral_error_message(corral_error_child(e, 0)), "500 Internal Server Error");
  for (int i = 0; i < 11; i++) {
    CHECK_EQ(corral_task_status(t[i]), i == 5 ? CORRAL_STATUS_ERROR : CORRAL_STATUS_CANCELLED);
    corral_task_release(t[i]);
  }
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  corral_http_client_close(c);
  return 0;
}
TEST(fail_fast_group) {
  up(0);
  run(m_fail_fast, NULL);
  finish();
}

static int interrupter(void *arg, void **res) {
  (void)arg, (void)res;
  int rc = corral_sleep(50 * MS);
  if (rc) return rc;
  raise(SIGINT);
  return 0;
}

static int slow_task(void *arg, void **res);

static int m_sigint(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  ff_job j = {.c = c};
  url(j.url, S.fixture_port, "/slow/10000");
  corral_group g;
  corral_task *t;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  CHECK_RC(corral_group_cancel_on_signal(&g, SIGINT), 0);
  CHECK_RC(corral_spawn(&g, slow_task, &j, "slow", &t), 0);
  CHECK_RC(corral_spawn(&g, interrupter, NULL, "ctrl-c", NULL), 0);
  int64_t t0 = corral_now();
  int grc = corral_group_close(&g, 0);
  CHECK(grc == 0 || grc == CORRAL_ECANCELED); /* cancelled, nothing failed */
  CHECK(corral_now() - t0 < 5 * SEC);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_CANCELLED);
  CHECK_EQ(treason(t).cause, CORRAL_CANCEL_SIGNAL);
  CHECK_RC(j.rc, CORRAL_ECANCELED);
  corral_task_release(t);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  corral_http_client_close(c);
  return 0;
}
TEST(ctrl_c_cancels_requests) {
  up(0);
  run(m_sigint, NULL);
  finish();
}

static int slow_task(void *arg, void **res) {
  (void)res;
  ff_job *j = arg;
  return j->rc = corral_http_get(j->c, j->url, NULL);
}

static int m_close_cancels(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  ff_job j = {.c = c};
  url(j.url, S.fixture_port, "/slow/10000");
  corral_group g;
  corral_task *t;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
  CHECK_RC(corral_spawn(&g, slow_task, &j, "slow", &t), 0);
  int rc = corral_sleep(50 * MS); /* the request goes out meanwhile */
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 1);
  corral_http_client_close(c); /* the request in flight is cancelled */
  CHECK_RC(corral_group_close(&g, rc), 0);
  CHECK_EQ(corral_task_status(t), CORRAL_STATUS_CANCELLED);
  CHECK_RC(j.rc, CORRAL_ECANCELED);
  corral_task_release(t);
  return 0;
}
TEST(close_cancels_requests_in_flight) {
  up(0);
  run(m_close_cancels, NULL);
  finish();
}

static int opener(void *arg, void **res) {
  (void)res;
  corral_http_client **out = arg;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  char u[256];
  CHECK_RC(corral_http_get(c, NGINX(u, "/hello.txt"), NULL), 0);
  *out = c;
  return 0; /* misuse: returns with its client open */
}

static int m_left_open(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = NULL;
  corral_task *t;
  CHECK_RC(corral_create_task(opener, &c, "opener", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  CHECK(c != NULL); /* closed when 'opener' ended: nothing left open */
  return 0;
}
TEST(client_left_open_is_closed_when_its_task_ends) {
  up(0);
  run(m_left_open, NULL); /* checks the descriptors */
  finish();
}

static int sleeper(void *arg, void **res) {
  (void)arg, (void)res;
  int rc = corral_sleep(30 * SEC);
  return rc == CORRAL_ECANCELED ? 0 : CORRAL_EIO;
}

/* Transfers that curl completes inside its timer callback (fast loopback
 * answers) must wake their tasks at once, not when the runtime's next own
 * timer (here a 30 s sleep) would have woken the loop. */
static int m_timer_wake(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  CHECK_RC(corral_http_client_open(&c, NULL), 0);
  corral_task *sl;
  CHECK_RC(corral_create_task(sleeper, NULL, "sleeper", &sl), 0);
  char u[256];
  NGINX(u, "/hello.txt");
  for (int round = 0; round < 30; round++) {
    corral_scope s;
    CHECK_RC(corral_fail_after(&s, 10 * SEC), 0);
    get_job jobs[10];
    corral_group g;
    CHECK_RC(corral_group_open(&g, NULL), 0);
    for (int i = 0; i < 10; i++) {
      jobs[i] = (get_job){c, u, 0, 0, 0};
      CHECK_RC(corral_spawn(&g, get_task, &jobs[i], "get", NULL), 0);
    }
    int rc = corral_group_close(&g, 0);
    CHECK_RC(corral_scope_exit(&s, rc), 0);
  }
  corral_cancel(sl, "done");
  CHECK_RC(corral_join(sl, NULL), 0);
  corral_task_release(sl);
  corral_http_client_close(c);
  return 0;
}
TEST(completions_inside_curl_timer_wake_tasks_at_once) {
  up(1);
  run(m_timer_wake, NULL);
  finish();
}

/* ---- scale ---- */

static int m_1000(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c;
  corral_http_client_opts o = {.max_connections = 64};
  CHECK_RC(corral_http_client_open(&c, &o), 0);
  static get_job jobs[1000];
  char u[256];
  NGINX(u, "/1k.bin");
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 1000; i++) {
    jobs[i] = (get_job){c, u, 0, 0, 0};
    CHECK_RC(corral_spawn(&g, get_task, &jobs[i], "get", NULL), 0);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 1000; i++) {
    CHECK_EQ(jobs[i].status, 200);
    CHECK_EQ(jobs[i].len, 1024);
  }
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.requests, 1000);
  CHECK(st.connections >= 1 && st.connections <= 64);
  corral_http_client_close(c);
  return 0;
}
TEST(concurrent_1000) {
  up(0);
  run(m_1000, NULL);
  int lines, conns, h2;
  access_log(1001, &lines, &conns, &h2);
  CHECK_EQ(lines, 1001);
  CHECK(conns <= 65);
  finish();
}
