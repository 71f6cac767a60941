/* libcorral-http against what curl's documentation, RFC 9110/9112 and the
 * users of curl, Go's net/http, httpx and aiohttp expect: bodies that end at
 * a close, responses without a body, the caps, trickling servers, garbage
 * replies, redirects (method changes, credentials across hosts, schemes),
 * Content-Encoding, request bodies and methods, URLs (IPv6 literals,
 * userinfo), proxies from the environment, cancellation during a redirect,
 * several clients, a per-host limit under 1,000 requests. Servers: nginx
 * and the fixture (tests/http/fixture.py), started and stopped by each
 * case; descriptors and child processes are checked afterwards. */
#include "corral/http.h"
#include "test.h"
#include "harness.h"

#include <netinet/in.h>
#include <pthread.h>

#define CHECK_MSG(part)                                                      \
  do {                                                                       \
    const corral_error *e_ = corral_last_error();                            \
    CHECK(e_ != NULL);                                                       \
    if (!strstr(corral_error_message(e_), (part)))                           \
      FAILF("message \"%s\" lacks \"%s\"", corral_error_message(e_), (part)); \
  } while (0)

static int check_pattern(const unsigned char *p, size_t n, size_t off) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)((off + i) & 0xff)) return 0;
  return 1;
}

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

/* One request, its body compared with `want` (NULL: only the code). */
static void expect(corral_http_client *c, corral_http_request *rq, int code,
                   int status, const char *want) {
  corral_http_response r;
  int rc = corral_http_fetch(c, rq, &r);
  if (rc != code)
    FAILF("%s %s: %s, expected %s (%s)", rq->method ? rq->method : "GET",
          rq->url, corral_err_name(rc), corral_err_name(code),
          corral_last_error() ? corral_error_message(corral_last_error()) : "");
  if (status) CHECK_EQ(r.status, status);
  if (want) {
    CHECK(r.body != NULL);
    if (strcmp(r.body, want) != 0)
      FAILF("%s: body \"%s\", expected \"%s\"", rq->url, r.body, want);
  }
  corral_http_response_free(&r);
}

static void get_expect(corral_http_client *c, const char *u, int code,
                       int status, const char *want) {
  corral_http_request rq = {.url = u};
  expect(c, &rq, code, status, want);
}

typedef struct {
  char buf[16384];
  size_t len;
} collected;

static int collect(void *arg, const void *data, size_t len) {
  collected *c = arg;
  if (c->len + len >= sizeof c->buf) return CORRAL_EIO;
  memcpy(c->buf + c->len, data, len);
  c->len += len;
  return 0;
}

static corral_http_client *open_client(const corral_http_client_opts *o) {
  corral_http_client *c = NULL;
  CHECK_RC(corral_http_client_open(&c, o), 0);
  return c;
}

/* ---- bodies that end at a close; responses without a body ---- */

static int m_no_length(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  for (int i = 0; i < 2; i++) {
    corral_http_response r;
    CHECK_RC(corral_http_get(c, FIXTURE(u, "/no-length/100000"), &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.body_len, 100000);
    CHECK(check_pattern((unsigned char *)r.body, r.body_len, 0));
    CHECK(corral_http_response_header(&r, "content-length") == NULL);
    corral_http_response_free(&r);
  }
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(no_content_length_body_ends_at_close) {
  up(1);
  run(m_no_length, NULL);
  finish();
}

static int m_no_body(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  corral_scope s; /* a hang would show as ETIMEDOUT, not as a stuck test */
  CHECK_RC(corral_fail_after(&s, 10 * SEC), 0);
  static const char *const paths[] = {"/status/204", "/status/304",
                                      "/not-modified"};
  for (int round = 0; round < 2; round++) /* the second on the pooled conn */
    for (size_t i = 0; i < 3; i++) {
      corral_http_response r;
      CHECK_RC(corral_http_get(c, FIXTURE(u, paths[i]), &r), 0);
      CHECK_EQ(r.status, i == 0 ? 204 : 304);
      CHECK_EQ(r.body_len, 0);
      corral_http_response_free(&r);
    }
  /* HEAD: the Content-Length describes the GET's body, none follows. */
  corral_http_request rq = {.method = "HEAD", .url = FIXTURE(u, "/large/1000000")};
  for (int i = 0; i < 2; i++) {
    corral_http_response r;
    CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.body_len, 0);
    CHECK_STR(corral_http_response_header(&r, "Content-Length"), "1000000");
    corral_http_response_free(&r);
  }
  rq.url = NGINX(u, "/large.bin");
  expect(c, &rq, 0, 200, NULL);
  get_expect(c, FIXTURE(u, "/status/200"), 0, 200, "status 200\n");
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(no_body_204_304_head) {
  up(1);
  run(m_no_body, NULL);
  finish();
}

/* ---- the cap: a clear code, the connection not reused half-read ---- */

static int m_cap(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c =
      open_client(&(corral_http_client_opts){.max_connections = 1, .max_body = 50000});
  char u[256];
  static const char *const big[] = {"/large/100000", "/chunked/100/1000",
                                    "/no-length/100000", "/infinite"};
  for (size_t i = 0; i < 4; i++) {
    get_expect(c, FIXTURE(u, big[i]), CORRAL_HTTP_ETOOBIG, 200, NULL);
    CHECK_MSG("larger than the cap");
    /* The next response on the one connection allowed is whole and right:
     * nothing of the refused body is read as its start. */
    corral_http_response r;
    CHECK_RC(corral_http_get(c, FIXTURE(u, "/large/1000"), &r), 0);
    CHECK_EQ(r.body_len, 1000);
    CHECK(check_pattern((unsigned char *)r.body, 1000, 0));
    corral_http_response_free(&r);
  }
  CHECK_RC(corral_http_get(c, NGINX(u, "/large.bin"), NULL), CORRAL_HTTP_ETOOBIG);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(body_over_the_cap_pool_still_usable) {
  up(1);
  run(m_cap, NULL);
  finish();
}

/* ---- a server that trickles one byte a second ---- */

static int m_trickle(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, 1500 * MS), 0);
  int rc = corral_http_get(c, FIXTURE(u, "/trickle/100"), NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK(corral_scope_caught(&s));
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(trickling_server_ended_by_the_deadline) {
  up(1);
  run(m_trickle, NULL);
  finish();
}

/* ---- a server that reads the request and never answers ---- */

static int m_silent(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  /* No default response timeout (as curl, Go's zero Client): a deadline
   * ends it, with the scope's code. */
  corral_scope s;
  CHECK_RC(corral_fail_after(&s, 300 * MS), 0);
  int rc = corral_http_get(c, FIXTURE(u, "/silent"), NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), CORRAL_ETIMEDOUT);
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK_EQ(st.in_flight, 0);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(server_that_never_answers_ended_by_a_deadline) {
  up(1);
  run(m_silent, NULL);
  finish();
}

/* ---- many small headers ---- */

static int m_many_headers(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/many-headers/5000"), &r), 0);
  CHECK(r.header_count >= 5000);
  CHECK_STR(corral_http_response_header(&r, "x-h4999"), "v");
  CHECK_STR(r.body, "ok\n");
  corral_http_response_free(&r);
  /* 60,000 lines of 8 bytes: over the 256 KiB of headers. */
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/many-headers/60000"), &r),
           CORRAL_HTTP_ETOOBIG);
  CHECK_MSG("headers");
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(very_many_response_headers) {
  up(1);
  run(m_many_headers, NULL);
  finish();
}

/* ---- garbage instead of HTTP ---- */

static int m_garbage(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  get_expect(c, FIXTURE(u, "/garbage"), CORRAL_HTTP_EPROTO, 0, NULL);
  get_expect(c, FIXTURE(u, "/bad-status"), CORRAL_HTTP_EPROTO, 0, NULL);
  /* A NUL inside a header (curl refuses it). */
  get_expect(c, FIXTURE(u, "/nul-header"), CORRAL_HTTP_EPROTO, 0, NULL);
  /* Two different lengths: invalid framing (RFC 9112 6.3); curl alone
   * would read the second. */
  get_expect(c, FIXTURE(u, "/two-lengths"), CORRAL_HTTP_EPROTO, 200, NULL);
  CHECK_MSG("Content-Length");
  /* A folded header value (obs-fold) reads as one value with spaces
   * (RFC 9112 5.2); its continuation lines are not fields of their own. */
  corral_http_response r;
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/folded"), &r), 0);
  CHECK_STR(corral_http_response_header(&r, "x-folded"), "one two three: 3");
  CHECK_STR(corral_http_response_header(&r, "x-after"), "yes");
  CHECK(corral_http_response_header(&r, "three") == NULL);
  CHECK(corral_http_response_header(&r, "\tthree") == NULL);
  CHECK_STR(r.body, "ok");
  corral_http_response_free(&r);
  /* A chunk size that is not hex, one of 2^64-1: the server's fault. */
  get_expect(c, FIXTURE(u, "/bad-chunk"), CORRAL_HTTP_EPROTO, 200, NULL);
  CHECK_MSG("chunked");
  get_expect(c, FIXTURE(u, "/huge-chunk"), CORRAL_HTTP_EPROTO, 200, NULL);
  /* A length that is not a number. */
  static const char *const badlen[] = {"-1", "abc", "5x", "%2B5", "0x5",
                                       "99999999999999999999", ""};
  for (size_t i = 0; i < sizeof badlen / sizeof badlen[0]; i++) {
    char path[80];
    snprintf(path, sizeof path, "/bad-length?v=%s", badlen[i]);
    corral_http_response br;
    int brc = corral_http_get(c, FIXTURE(u, path), &br);
    if (brc != CORRAL_HTTP_EPROTO)
      FAILF("Content-Length \"%s\": %s", badlen[i], corral_err_name(brc));
    corral_http_response_free(&br);
  }
  get_expect(c, FIXTURE(u, "/bad-length?v=5"), 0, 200, "hello");
  get_expect(c, FIXTURE(u, "/bad-length?v=%205%20"), 0, 200, "hello");
  /* Both a length and chunked: the chunked encoding wins (RFC 9112 6.3). */
  get_expect(c, FIXTURE(u, "/length-and-chunked"), 0, 200, "hello");
  /* One header line of 200 KB, then one of 1 MB (curl refuses a line over
   * 100 KiB: not an out-of-memory). */
  get_expect(c, FIXTURE(u, "/long-line/50000"), 0, 200, "ok");
  get_expect(c, FIXTURE(u, "/long-line/200000"), CORRAL_HTTP_ETOOBIG, 0, NULL);
  CHECK_MSG("header line longer than 100 KiB");
  get_expect(c, FIXTURE(u, "/long-line/1000000"), CORRAL_HTTP_ETOOBIG, 0, NULL);
  /* "100 Continue" without end: the headers' cap counts them all. */
  get_expect(c, FIXTURE(u, "/continue-flood"), CORRAL_HTTP_ETOOBIG, 0, NULL);
  CHECK_MSG("headers");
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(garbage_malformed_status_nul_two_lengths_continue_flood) {
  up(1);
  run(m_garbage, NULL);
  finish();
}

/* ---- redirects ---- */

/* "/go?code=C&to=PATH" on the fixture. */
static const char *go(char *buf, int code, const char *to) {
  char t[160];
  size_t k = 0;
  for (const char *p = to; *p && k + 4 < sizeof t; p++) {
    if (*p == ':' || *p == '/' || *p == '?' || *p == '&' || *p == '=' || *p == '@')
      k += (size_t)snprintf(t + k, sizeof t - k, "%%%02X", (unsigned char)*p);
    else t[k++] = *p;
  }
  t[k] = 0;
  snprintf(buf, 256, "http://127.0.0.1:%d/go?code=%d&to=%s", S.fixture_port,
           code, t);
  return buf;
}

static int m_redirect_methods(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(&(corral_http_client_opts){.max_redirects = 5});
  char u[256];
  static const struct {
    const char *method;
    int code;
    const char *want;
  } cases[] = {
      /* curl (CURLOPT_POSTREDIR unset): a POST answered 301, 302 or 303
       * goes on as a GET without its body; 307 and 308 keep both. */
      {"POST", 301, "GET auth=- cookie=- cl=- ae=- body=0"},
      {"POST", 302, "GET auth=- cookie=- cl=- ae=- body=0"},
      {"POST", 303, "GET auth=- cookie=- cl=- ae=- body=0"},
      {"POST", 307, "POST auth=- cookie=- cl=3 ae=- body=3"},
      {"POST", 308, "POST auth=- cookie=- cl=3 ae=- body=3"},
      /* 303 See Other: any method but HEAD goes on as a GET (RFC 9110
       * 15.4.4). */
      {"PUT", 303, "GET auth=- cookie=- cl=- ae=- body=0"},
      {"DELETE", 303, "GET auth=- cookie=- cl=- ae=- body=0"},
      {"PATCH", 303, "GET auth=- cookie=- cl=- ae=- body=0"},
      /* Other methods keep their method and body on 301/302/307/308, as
       * curl does. */
      {"PUT", 302, "PUT auth=- cookie=- cl=3 ae=- body=3"},
      {"PUT", 307, "PUT auth=- cookie=- cl=3 ae=- body=3"},
      {"DELETE", 301, "DELETE auth=- cookie=- cl=- ae=- body=0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int body = strcmp(cases[i].method, "DELETE") != 0;
    corral_http_request rq = {.method = cases[i].method,
                              .url = go(u, cases[i].code, "/inspect"),
                              .body = body ? "abc" : NULL,
                              .body_len = body ? 3 : 0};
    corral_http_response r;
    int rc = corral_http_fetch(c, &rq, &r);
    if (rc) FAILF("case %zu: %s", i, corral_err_name(rc));
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.redirects, 1);
    if (strcmp(r.body, cases[i].want) != 0)
      FAILF("case %zu: %s after %d: \"%s\", expected \"%s\"", i,
            cases[i].method, cases[i].code, r.body, cases[i].want);
    corral_http_response_free(&r);
  }
  /* Streamed: the redirect's own body ("moved") is not handed over, for a
   * redirect curl follows and for one followed by corral-http. */
  static const char *const sm[] = {"POST", "PUT"};
  for (int i = 0; i < 2; i++) {
    collected col = {0};
    corral_http_request srq = {.method = sm[i], .url = go(u, 307, "/inspect"),
                               .body = "abc", .body_len = 3, .on_body = collect,
                               .on_body_arg = &col};
    expect(c, &srq, 0, 200, NULL);
    col.buf[col.len] = 0;
    if (strncmp(col.buf, sm[i], strlen(sm[i])) != 0) FAILF("%s streamed: \"%s\"", sm[i], col.buf);
    CHECK(strstr(col.buf, "moved") == NULL);
  }
  /* A redirect whose body never ends: after 64 KiB its connection is
   * closed and the redirect followed (curl alone drained it for ever). */
  {
    static const char *const em[] = {"POST", "PUT"};
    for (int i = 0; i < 2; i++) {
      char eu[300];
      snprintf(eu, sizeof eu, "%s&endless=1", go(u, 307, "/inspect"));
      corral_http_request erq = {.method = em[i], .url = eu, .body = "abc",
                                 .body_len = 3, .max_body = 100000};
      corral_scope es;
      CHECK_RC(corral_fail_after(&es, 20 * SEC), 0);
      corral_http_response er;
      int erc = corral_http_fetch(c, &erq, &er);
      erc = corral_scope_exit(&es, erc);
      if (erc != 0)
        FAILF("%s, endless redirect body: %s", em[i], corral_err_name(erc));
      char want[80];
      snprintf(want, sizeof want, "%s auth=- cookie=- cl=3 ae=- body=3", em[i]);
      CHECK_STR(er.body, want);
      CHECK_EQ(er.redirects, 1);
      corral_http_response_free(&er);
    }
  }
  /* HEAD stays HEAD. */
  corral_http_request rq = {.method = "HEAD", .url = go(u, 303, "/large/77")};
  corral_http_response r;
  CHECK_RC(corral_http_fetch(c, &rq, &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_STR(corral_http_response_header(&r, "content-length"), "77");
  CHECK_EQ(r.body_len, 0);
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(redirect_method_rewrites) {
  up(1);
  run(m_redirect_methods, NULL);
  finish();
}

static int m_redirect_creds(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(&(corral_http_client_opts){.max_redirects = 5});
  char u[256], to[200];
  const char *h[] = {"Authorization: Bearer s3cret", "Cookie: sid=1", NULL};
  /* Same host and port: kept. */
  corral_http_request rq = {.url = go(u, 302, "/inspect"), .headers = h};
  expect(c, &rq, 0, 200, "GET auth=Bearer s3cret cookie=sid=1 cl=- ae=- body=0");
  /* Another host name for the same server: dropped (curl; Go, httpx). */
  snprintf(to, sizeof to, "http://localhost:%d/inspect", S.fixture_port);
  rq.url = go(u, 302, to);
  expect(c, &rq, 0, 200, "GET auth=- cookie=- cl=- ae=- body=0");
  /* The same for a method whose redirects corral-http follows itself. */
  rq = (corral_http_request){.method = "PUT", .url = go(u, 307, to), .headers = h,
                             .body = "abc", .body_len = 3};
  expect(c, &rq, 0, 200, "PUT auth=- cookie=- cl=3 ae=- body=3");
  rq.url = go(u, 307, "/inspect");
  expect(c, &rq, 0, 200, "PUT auth=Bearer s3cret cookie=sid=1 cl=3 ae=- body=3");
  /* Credentials in the URL: Basic for the first host only. */
  char withuser[300];
  snprintf(withuser, sizeof withuser, "http://alice:pw@127.0.0.1:%d/inspect",
           S.fixture_port);
  rq = (corral_http_request){.url = withuser};
  expect(c, &rq, 0, 200, "GET auth=Basic YWxpY2U6cHc= cookie=- cl=- ae=- body=0");
  go(u, 302, to);
  snprintf(withuser, sizeof withuser, "http://alice:pw@%.200s",
           u + strlen("http://"));
  rq.url = withuser;
  expect(c, &rq, 0, 200, "GET auth=- cookie=- cl=- ae=- body=0");
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(redirect_to_another_host_drops_credentials) {
  up(1);
  run(m_redirect_creds, NULL);
  finish();
}

static int m_redirect_schemes(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(&(corral_http_client_opts){.max_redirects = 5});
  char u[256];
  static const char *const targets[] = {
      "file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x",
      "dict://127.0.0.1/x", "ldap://127.0.0.1/x", "telnet://127.0.0.1/",
      "smtp://127.0.0.1/"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    corral_http_response r;
    int rc = corral_http_get(c, go(u, 302, targets[i]), &r);
    if (rc != CORRAL_HTTP_EPROTO)
      FAILF("redirect to %s: %s", targets[i], corral_err_name(rc));
    CHECK_MSG("redirect");
    corral_http_response_free(&r);
  }
  /* A PUT's redirects (followed by corral-http, not curl): the same rules,
   * and the same limit. */
  corral_http_request rq = {.method = "PUT", .url = go(u, 302, "file:///etc/passwd"),
                            .body = "abc", .body_len = 3};
  expect(c, &rq, CORRAL_HTTP_EPROTO, 302, NULL);
  CHECK_MSG("redirect refused");
  rq.url = FIXTURE(u, "/loop");
  expect(c, &rq, CORRAL_HTTP_EPROTO, 302, NULL);
  CHECK_MSG("redirects");
  rq.url = FIXTURE(u, "/redirect/5");
  expect(c, &rq, 0, 200, "arrived\n");
  /* Not followed at all: the 3xx is the result, Location in the headers. */
  corral_http_client *c0 = open_client(NULL);
  corral_http_response r;
  CHECK_RC(corral_http_get(c0, go(u, 302, "file:///etc/passwd"), &r), 0);
  CHECK_EQ(r.status, 302);
  CHECK_STR(corral_http_response_header(&r, "location"), "file:///etc/passwd");
  corral_http_response_free(&r);
  corral_http_client_close(c0);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(redirect_to_other_schemes_refused) {
  up(1);
  run(m_redirect_schemes, NULL);
  finish();
}

static int m_redirect_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(&(corral_http_client_opts){.max_redirects = 5});
  char u[256];
  corral_scope s;
  CHECK_RC(corral_move_on_after(&s, 300 * MS), 0);
  int rc = corral_http_get(c, go(u, 302, "/slow/10000"), NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  /* The same in a redirect corral-http follows itself (a PUT's). */
  corral_http_request rq = {.method = "PUT", .url = go(u, 307, "/slow/10000"),
                            .body = "abc", .body_len = 3};
  CHECK_RC(corral_move_on_after(&s, 300 * MS), 0);
  rc = corral_http_fetch(c, &rq, NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK(corral_scope_caught(&s));
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(cancelled_during_a_redirect) {
  up(1);
  run(m_redirect_cancel, NULL);
  finish();
}

/* ---- Content-Encoding ---- */


static int m_gzip(void *arg, void **res) {
  (void)arg, (void)res;
  char u[256];
  /* Not asked to decode: the body as it came, its Content-Encoding kept
   * (libcurl without CURLOPT_ACCEPT_ENCODING; curl without --compressed). */
  corral_http_client *c = open_client(NULL);
  corral_http_response r;
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/gzip"), &r), 0);
  CHECK(r.body_len > 2 && (unsigned char)r.body[0] == 0x1f &&
        (unsigned char)r.body[1] == 0x8b);
  CHECK_STR(corral_http_response_header(&r, "content-encoding"), "gzip");
  corral_http_response_free(&r);
  get_expect(c, FIXTURE(u, "/inspect"), 0, 200, "GET auth=- cookie=- cl=- ae=- body=0");
  corral_http_client_close(c);
  /* decompress: Accept-Encoding sent, the body decoded; the cap counts
   * decoded bytes (a small gzip bomb is refused). */
  c = open_client(&(corral_http_client_opts){.decompress = 1});
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/gzip"), &r), 0);
  CHECK_EQ(r.body_len, 11000);
  CHECK(strncmp(r.body, "hello gzip\nhello gzip\n", 22) == 0);
  corral_http_response_free(&r);
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/inspect"), &r), 0);
  CHECK(strstr(r.body, "gzip") != NULL);
  corral_http_response_free(&r);
  corral_http_request rq = {.url = FIXTURE(u, "/gzip"), .max_body = 5000};
  expect(c, &rq, CORRAL_HTTP_ETOOBIG, 200, NULL);
  /* A body that does not decode: the server broke the protocol. */
  get_expect(c, FIXTURE(u, "/bad-gzip"), CORRAL_HTTP_EPROTO, 200, NULL);
  /* Streamed: decoded as well. */
  collected col = {0};
  rq = (corral_http_request){.url = FIXTURE(u, "/gzip"), .on_body = collect,
                             .on_body_arg = &col};
  expect(c, &rq, 0, 200, NULL);
  CHECK_EQ(col.len, 11000);
  CHECK(strncmp(col.buf, "hello gzip\n", 11) == 0);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(content_encoding_gzip) {
  up(1);
  run(m_gzip, NULL);
  finish();
}

/* ---- request bodies and methods ---- */

static int m_bodies(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  FIXTURE(u, "/inspect");
  corral_http_request rq = {.url = u, .body = "", .body_len = 0};
  expect(c, &rq, 0, 200, "POST auth=- cookie=- cl=0 ae=- body=0");
  /* PUT and PATCH without a body still say Content-Length: 0 (RFC 9110
   * 8.6: the method defines a meaning for content). */
  rq = (corral_http_request){.method = "PUT", .url = u};
  expect(c, &rq, 0, 200, "PUT auth=- cookie=- cl=0 ae=- body=0");
  rq.method = "PATCH";
  expect(c, &rq, 0, 200, "PATCH auth=- cookie=- cl=0 ae=- body=0");
  rq.method = "POST";
  expect(c, &rq, 0, 200, "POST auth=- cookie=- cl=0 ae=- body=0");
  rq.method = "DELETE";
  expect(c, &rq, 0, 200, "DELETE auth=- cookie=- cl=- ae=- body=0");
  rq.method = "OPTIONS";
  expect(c, &rq, 0, 200, "OPTIONS auth=- cookie=- cl=- ae=- body=0");
  rq.method = "PROPFIND";
  expect(c, &rq, 0, 200, "PROPFIND auth=- cookie=- cl=- ae=- body=0");
  /* A body with GET stays a GET (curl alone would send a POST). */
  rq = (corral_http_request){.method = "GET", .url = u, .body = "abc", .body_len = 3};
  expect(c, &rq, 0, 200, "GET auth=- cookie=- cl=3 ae=- body=3");
  rq.method = "PATCH";
  expect(c, &rq, 0, 200, "PATCH auth=- cookie=- cl=3 ae=- body=3");
  rq.method = "DELETE";
  expect(c, &rq, 0, 200, "DELETE auth=- cookie=- cl=3 ae=- body=3");
  /* Several MiB from memory, checked by the server. */
  size_t big = 6 * 1024 * 1024 + 7;
  char *b = malloc(big);
  CHECK(b != NULL);
  for (size_t i = 0; i < big; i++) b[i] = (char)(i * 7);
  rq = (corral_http_request){.method = "PUT", .url = u, .body = b, .body_len = big};
  char want[100];
  snprintf(want, sizeof want, "PUT auth=- cookie=- cl=%zu ae=- body=%zu", big, big);
  expect(c, &rq, 0, 200, want);
  rq.method = NULL;
  snprintf(want, sizeof want, "POST auth=- cookie=- cl=%zu ae=- body=%zu", big, big);
  expect(c, &rq, 0, 200, want);
  free(b);
  /* 6 MiB to nginx, whose limit is 1 MiB: it answers 413 before reading
   * the body and closes; the 413 is the result (not a reset). */
  {
    char nu[256];
    size_t n6 = 6 * 1024 * 1024;
    char *b6 = calloc(1, n6);
    CHECK(b6 != NULL);
    corral_http_request nrq = {.url = NGINX(nu, "/hello.txt"), .body = b6, .body_len = n6};
    corral_http_response nr;
    int nrc = corral_http_fetch(c, &nrq, &nr);
    if (nrc) FAILF("6 MiB to nginx: %s (%s)", corral_err_name(nrc),
                   corral_error_message(corral_last_error()));
    CHECK_EQ(nr.status, 413);
    corral_http_response_free(&nr);
    free(b6);
  }
  /* Framing is the library's: a Content-Length that is not the body's
   * length (the rest of the body would be read as a next request), or a
   * Transfer-Encoding, is refused; the right length is accepted. */
  static const char smuggle[] = "abcGET /status/418 HTTP/1.1\r\nHost: x\r\n\r\n";
  const char *cl3[] = {"Content-Length: 3", NULL};
  const char *te[] = {"Transfer-Encoding: chunked", NULL};
  const char *clx[] = {"Content-Length: 3x", NULL};
  const char *const *bad[] = {cl3, te, clx};
  for (int i = 0; i < 3; i++) {
    rq = (corral_http_request){.url = u, .headers = bad[i], .body = smuggle,
                               .body_len = sizeof smuggle - 1};
    expect(c, &rq, CORRAL_EINVAL, 0, NULL);
    CHECK_MSG("header line 0");
  }
  const char *cl0[] = {"Content-Length: 3", NULL};
  rq = (corral_http_request){.url = u, .headers = cl0, .body = "abc", .body_len = 3};
  expect(c, &rq, 0, 200, "POST auth=- cookie=- cl=3 ae=- body=3");
  corral_http_client *bc = NULL;
  CHECK_RC(corral_http_client_open(&bc, &(corral_http_client_opts){.headers = cl3}),
           CORRAL_EINVAL);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(request_bodies_and_methods) {
  up(1);
  run(m_bodies, NULL);
  finish();
}

/* ---- URLs: IPv6 literal, userinfo ---- */

typedef struct {
  int fd, port;
  pthread_t th;
} v6server;

static void *v6_serve(void *arg) {
  v6server *v = arg;
  int fd = accept(v->fd, NULL, NULL);
  if (fd < 0) return NULL;
  char buf[4096];
  size_t have = 0;
  ssize_t n;
  while (have + 1 < sizeof buf && (n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
    have += (size_t)n;
    buf[have] = 0;
    if (strstr(buf, "\r\n\r\n")) break;
  }
  static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nv6";
  if (write(fd, ok, sizeof ok - 1) < 0) {
  }
  close(fd);
  return NULL;
}

static int m_urls(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *c = open_client(NULL);
  char u[256];
  /* IPv6 literal, where the machine has ::1. */
  v6server v = {.fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  socklen_t al = sizeof a;
  if (v.fd >= 0 && bind(v.fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      listen(v.fd, 4) == 0 && getsockname(v.fd, (struct sockaddr *)&a, &al) == 0) {
    v.port = ntohs(a.sin6_port);
    pthread_create(&v.th, NULL, v6_serve, &v);
    snprintf(u, sizeof u, "http://[::1]:%d/x", v.port);
    get_expect(c, u, 0, 200, "v6");
    pthread_join(v.th, NULL);
  } else {
    fprintf(stderr, "no IPv6 loopback: the IPv6 literal is not tried\n");
  }
  if (v.fd >= 0) close(v.fd);
  get_expect(c, "http://[::1/x", CORRAL_EINVAL, 0, NULL);
  get_expect(c, "dict://127.0.0.1:1/x", CORRAL_EINVAL, 0, NULL);
  /* The password of a URL never shows in a message or the final URL. */
  corral_http_response r;
  CHECK_RC(corral_http_get(c, "http://alice:s3cret@127.0.0.1:1/x", &r),
           CORRAL_ECONNREFUSED);
  const corral_error *e = corral_last_error();
  CHECK(e && !strstr(corral_error_message(e), "s3cret"));
  CHECK(strstr(corral_error_message(e), "alice") != NULL);
  corral_http_response_free(&r);
  char withuser[300];
  snprintf(withuser, sizeof withuser, "http://alice:s3cret@127.0.0.1:%d/status/200",
           S.fixture_port);
  CHECK_RC(corral_http_get(c, withuser, &r), 0);
  /* The final URL is curl's, userinfo included (documented). */
  CHECK(r.url && strstr(r.url, "/status/200"));
  corral_http_response_free(&r);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(urls_ipv6_userinfo_schemes) {
  up(1);
  run(m_urls, NULL);
  finish();
}

/* ---- proxies from the environment ---- */

static int m_proxy(void *arg, void **res) {
  (void)arg, (void)res;
  char u[256], px[64];
  snprintf(px, sizeof px, "http://127.0.0.1:%d", S.fixture_port);
  /* http_proxy: requests go through it (curl, Go, httpx alike). */
  setenv("http_proxy", px, 1);
  corral_http_client *c = open_client(NULL);
  get_expect(c, "http://example.invalid/x", 0, 200,
             "proxied http://example.invalid/x");
  corral_http_client_close(c);
  /* no_proxy names hosts reached directly. */
  setenv("no_proxy", "127.0.0.1", 1);
  c = open_client(NULL);
  get_expect(c, FIXTURE(u, "/status/200"), 0, 200, "status 200\n");
  corral_http_client_close(c);
  /* The proxy option "" turns the environment off. */
  c = open_client(&(corral_http_client_opts){.proxy = ""});
  get_expect(c, "http://example.invalid/x", CORRAL_HTTP_ERESOLVE, 0, NULL);
  corral_http_client_close(c);
  /* A proxy named in the options. */
  unsetenv("http_proxy");
  unsetenv("no_proxy");
  c = open_client(&(corral_http_client_opts){.proxy = px});
  get_expect(c, "http://example.invalid/y", 0, 200,
             "proxied http://example.invalid/y");
  corral_http_client_close(c);
  /* HTTP_PROXY in capitals is not read (curl's rule: a CGI program gets a
   * request's "Proxy:" header as HTTP_PROXY). */
  setenv("HTTP_PROXY", px, 1);
  c = open_client(NULL);
  get_expect(c, "http://example.invalid/x", CORRAL_HTTP_ERESOLVE, 0, NULL);
  corral_http_client_close(c);
  unsetenv("HTTP_PROXY");
  /* A control character in the proxy option. */
  corral_http_client *bad = NULL;
  CHECK_RC(corral_http_client_open(&bad, &(corral_http_client_opts){.proxy = "http://a\r\nb"}),
           CORRAL_EINVAL);
  c = open_client(NULL);
  usable(c);
  corral_http_client_close(c);
  return 0;
}
TEST(proxies_from_the_environment) {
  up(1);
  run(m_proxy, NULL);
  finish();
}

/* ---- several clients; one per-host limit under 1,000 requests ---- */

typedef struct {
  corral_http_client *c;
  char url[256];
  int rc, status;
} job;

static int job_get(void *arg, void **res) {
  (void)res;
  job *j = arg;
  corral_http_response r;
  j->rc = corral_http_get(j->c, j->url, &r);
  j->status = r.status;
  corral_http_response_free(&r);
  return 0;
}

static int m_many_clients(void *arg, void **res) {
  (void)arg, (void)res;
  enum { NC = 8, PER = 25 };
  corral_http_client *cs[NC];
  static job jobs[NC * PER];
  for (int i = 0; i < NC; i++) cs[i] = open_client(NULL);
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < NC * PER; i++) {
    jobs[i].c = cs[i % NC];
    NGINX(jobs[i].url, "/1k.bin");
    CHECK_RC(corral_spawn(&g, job_get, &jobs[i], "get", NULL), 0);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < NC * PER; i++) {
    CHECK_RC(jobs[i].rc, 0);
    CHECK_EQ(jobs[i].status, 200);
  }
  for (int i = 0; i < NC; i++) {
    corral_http_client_stats st;
    corral_http_client_stats_get(cs[i], &st);
    CHECK_EQ(st.requests, PER);
    corral_http_client_close(cs[i]);
  }
  return 0;
}
TEST(several_clients_in_one_runtime) {
  up(1);
  run(m_many_clients, NULL);
  finish();
}

static corral_http_client *stale;
static int m_stale_open(void *arg, void **res) {
  (void)arg, (void)res;
  stale = open_client(NULL);
  corral_http_client_close(stale);
  return 0;
}
static int m_stale_use(void *arg, void **res) {
  (void)arg, (void)res;
  char u[256];
  CHECK_RC(corral_http_get(stale, NGINX(u, "/hello.txt"), NULL), CORRAL_EINVAL);
  CHECK_MSG("not an open client");
  return 0;
}
TEST(client_used_after_its_runtime_ended) {
  up(1);
  run(m_stale_open, NULL);
  run(m_stale_use, NULL);
  finish();
}

static int fixture_connections(corral_http_client *c) {
  char u[256];
  corral_http_response r;
  CHECK_RC(corral_http_get(c, FIXTURE(u, "/connections"), &r), 0);
  int n = atoi(r.body);
  corral_http_response_free(&r);
  return n;
}

static int m_host_limit(void *arg, void **res) {
  (void)arg, (void)res;
  corral_http_client *probe = open_client(NULL);
  int before = fixture_connections(probe);
  corral_http_client *c =
      open_client(&(corral_http_client_opts){.max_host_connections = 4});
  static job jobs[1000];
  corral_group g;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  for (int i = 0; i < 1000; i++) {
    jobs[i].c = c;
    FIXTURE(jobs[i].url, "/status/200");
    CHECK_RC(corral_spawn(&g, job_get, &jobs[i], "get", NULL), 0);
  }
  CHECK_RC(corral_group_close(&g, 0), 0);
  for (int i = 0; i < 1000; i++) {
    CHECK_RC(jobs[i].rc, 0);
    CHECK_EQ(jobs[i].status, 200);
  }
  corral_http_client_stats st;
  corral_http_client_stats_get(c, &st);
  CHECK(st.connections <= 4);
  int after = fixture_connections(probe);
  CHECK(after - before <= 4 + 1); /* + the probe's own, if it reconnected */
  corral_http_client_close(c);
  corral_http_client_close(probe);
  return 0;
}
TEST(thousand_requests_per_host_limit) {
  up(1);
  run(m_host_limit, NULL);
  finish();
}

/* ---- TLS: verified by default, a clear code; the CA file option ---- */

static int m_tls(void *arg, void **res) {
  (void)arg, (void)res;
  if (!S.nginx_tls_port) {
    fprintf(stderr, "no openssl: the TLS cases are not tried\n");
    return 0;
  }
  char u[256], ca[300];
  snprintf(ca, sizeof ca, "%s/cert.pem", S.dir);
  snprintf(u, sizeof u, "https://127.0.0.1:%d/hello.txt", S.nginx_tls_port);
  corral_http_client *c = open_client(NULL);
  get_expect(c, u, CORRAL_HTTP_ETLS, 0, NULL);
  CHECK_MSG("certificate");
  usable(c);
  corral_http_client_close(c);
  c = open_client(&(corral_http_client_opts){.ca_file = ca});
  get_expect(c, u, 0, 200, "hello from nginx\n");
  corral_http_client_close(c);
  c = open_client(&(corral_http_client_opts){.insecure = 1});
  get_expect(c, u, 0, 200, "hello from nginx\n");
  corral_http_client_close(c);
  /* A CA file that is not there: refused at open, with its name. */
  corral_http_client *bad = NULL;
  CHECK_RC(corral_http_client_open(&bad, &(corral_http_client_opts){.ca_file = "/nonexistent/ca.pem"}),
           CORRAL_EINVAL);
  CHECK_MSG("/nonexistent/ca.pem");
  CHECK(bad == NULL);
  return 0;
}
TEST(tls_verified_by_default_ca_file) {
  up(1);
  run(m_tls, NULL);
  finish();
}
