/* Name resolution, connecting and listening by name, Happy Eyeballs
 * (RFC 8305) on the virtual clock with a listener that never answers. */
#include "test.h"
#include "io/net.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

static int m_resolve(void *arg, void **res) {
  (void)arg, (void)res;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  CHECK_RC(corral_getaddrinfo("localhost", "80", &hints, &ai), 0);
  int v4 = 0;
  char buf[64];
  for (struct addrinfo *a = ai; a; a = a->ai_next)
    if (strcmp(corral_addr_string(a->ai_addr, buf, sizeof buf), "127.0.0.1") == 0)
      v4 = 1;
  CHECK(v4);
  corral_freeaddrinfo(ai);
  CHECK_RC(corral_getaddrinfo("::1", NULL, NULL, &ai), 0);
  CHECK_STR(corral_addr_string(ai->ai_addr, buf, sizeof buf), "::1");
  corral_freeaddrinfo(ai);
  int rc = corral_getaddrinfo("no-such-host.invalid", NULL, NULL, &ai);
  CHECK(rc == CORRAL_ENOTFOUND || rc == CORRAL_EAGAIN);
  CHECK(ai == NULL);
  CHECK(corral_last_error() != NULL);
  CHECK_RC(corral_getaddrinfo(NULL, NULL, NULL, &ai), CORRAL_EINVAL);
  CHECK_RC(corral_getaddrinfo("localhost", NULL, NULL, NULL), CORRAL_EINVAL);
  hints.ai_family = 12345;
  CHECK_RC(corral_getaddrinfo("localhost", NULL, &hints, &ai), CORRAL_EINVAL);
  corral_freeaddrinfo(NULL);
  return 0;
}
TEST(resolve_localhost_numeric_and_missing) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_resolve, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Cancelled lookups return at once; their results are freed when they
 * arrive (LeakSanitizer checks), the runtime's end included. */
static int resolver(void *arg, void **res) {
  (void)arg, (void)res;
  struct addrinfo *ai = NULL;
  int rc = corral_getaddrinfo("localhost", "http", NULL, &ai);
  corral_freeaddrinfo(ai);
  return rc;
}
static int m_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  for (int i = 0; i < 50; i++) corral_spawn(&g, resolver, NULL, "resolver", NULL);
  CORRAL_IGNORE(corral_yield()); /* every one of them waits for its lookup now */
  int64_t t0 = corral_now();
  corral_group_cancel(&g, "stop");
  CHECK_RC(corral_group_close(&g, 0), 0);
  CHECK_EQ(corral_group_succeeded(&g) + corral_group_failed(&g), 0);
  CHECK_EQ(corral_now(), t0); /* at once: nobody waited for a lookup */
  /* Inside a cancelled scope no lookup starts. */
  corral_scope s;
  corral_move_on_after(&s, 0);
  CHECK_RC(resolver(NULL, NULL), CORRAL_ECANCELED);
  CORRAL_IGNORE(corral_scope_exit(&s, 0));
  /* The lookups cancelled above may still run on worker threads: the
   * runtime's end waits for them and frees their results. */
  return 0;
}
TEST(cancelled_lookup_returns_at_once) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_cancel, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Listen and connect by name. */
static int m_by_name(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  CHECK_RC(corral_tcp_listen("localhost", 0, 0, &l), 0);
  int port = corral_listener_port(l);
  CHECK(port > 0);
  corral_stream *c, *s;
  CHECK_RC(corral_tcp_connect("localhost", port, &c), 0);
  CHECK_RC(corral_listener_accept(l, &s), 0);
  CHECK_RC(corral_stream_write(c, "ping\n", 5, NULL), 0);
  char line[16];
  CHECK_RC(corral_stream_read_line(s, line, sizeof line), 5);
  CHECK_STR(line, "ping\n");
  corral_stream_close(c);
  corral_stream_close(s);
  corral_listener_close(l);
  /* Every interface: reachable on IPv4 (and IPv6 where the host has it). */
  CHECK_RC(corral_tcp_listen(NULL, 0, 0, &l), 0);
  port = corral_listener_port(l);
  CHECK_RC(corral_tcp_connect("127.0.0.1", port, &c), 0);
  CHECK_RC(corral_listener_accept(l, &s), 0);
  corral_stream_close(c);
  corral_stream_close(s);
  if (corral_tcp_connect_ex("::1", port, &(corral_connect_opts){.family = AF_INET6}, &c) == 0) {
    CHECK_RC(corral_listener_accept(l, &s), 0);
    corral_stream_close(c);
    corral_stream_close(s);
  }
  corral_listener_close(l);
  CHECK_RC(corral_tcp_connect_ex("localhost", 1, &(corral_connect_opts){.family = 7}, &c),
           CORRAL_EINVAL);
  return 0;
}
TEST(listen_and_connect_by_name) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_by_name, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A listener whose accept queue is full: a SYN to it is dropped, so a
 * connect to it hangs (the kernel retries for minutes). */
static int hang_fd, hang_filler;
static struct sockaddr_storage hanging_addr(void) {
  hang_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(hang_fd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(hang_fd, 0) == 0);
  socklen_t len = sizeof a;
  getsockname(hang_fd, (struct sockaddr *)&a, &len);
  hang_filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(connect(hang_filler, (struct sockaddr *)&a, sizeof a) == 0);
  struct sockaddr_storage ss = {0};
  memcpy(&ss, &a, sizeof a);
  return ss;
}
static struct sockaddr_storage v4(int port) {
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a->sin_port = htons((uint16_t)port);
  return ss;
}
static int peer_port(corral_stream *s) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  getpeername(corral_stream_fd(s), (struct sockaddr *)&ss, &len);
  return corral__addr_port(&ss);
}
static int m_happy(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *good, *gone;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &good), 0);
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &gone), 0);
  int gport = corral_listener_port(good), xport = corral_listener_port(gone);
  corral_listener_close(gone); /* refuses at once now */
  struct sockaddr_storage addrs[3];
  corral_stream *c, *s;
  /* 1. The first address hangs: the second starts after exactly 250 ms
   * and wins; the hanging attempt is cancelled and closed. */
  addrs[0] = hanging_addr();
  addrs[1] = v4(gport);
  int64_t t0 = corral_now();
  CHECK_RC(corral__tcp_connect_addrs(addrs, 2, CORRAL_HAPPY_EYEBALLS_DELAY, &c), 0);
  CHECK_EQ(corral_now() - t0, 250 * MS);
  CHECK_EQ(peer_port(c), gport);
  CHECK_RC(corral_listener_accept(good, &s), 0);
  corral_stream_close(c);
  corral_stream_close(s);
  /* 2. The first is refused: the next starts at once, no delay. */
  addrs[0] = v4(xport);
  addrs[1] = v4(gport);
  t0 = corral_now();
  CHECK_RC(corral__tcp_connect_addrs(addrs, 2, CORRAL_HAPPY_EYEBALLS_DELAY, &c), 0);
  CHECK_EQ(corral_now() - t0, 0);
  CHECK_RC(corral_listener_accept(good, &s), 0);
  corral_stream_close(c);
  corral_stream_close(s);
  /* 3. All refused: the first error, every address in the message. */
  addrs[1] = v4(xport);
  CHECK_RC(corral__tcp_connect_addrs(addrs, 2, CORRAL_HAPPY_EYEBALLS_DELAY, &c),
           CORRAL_ECONNREFUSED);
  CHECK(c == NULL);
  CHECK(strstr(corral_error_message(corral_last_error()), "127.0.0.1") != NULL);
  /* 5. A negative delay starts every attempt at once: no wait for the
   * hanging one. CORRAL_FOREVER: one at a time, the next after a failure. */
  close(hang_fd);
  close(hang_filler);
  addrs[0] = hanging_addr();
  addrs[1] = v4(gport);
  t0 = corral_now();
  CHECK_RC(corral__tcp_connect_addrs(addrs, 2, -1, &c), 0);
  CHECK_EQ(corral_now() - t0, 0);
  CHECK_RC(corral_listener_accept(good, &s), 0);
  corral_stream_close(c);
  corral_stream_close(s);
  addrs[0] = v4(xport);
  CHECK_RC(corral__tcp_connect_addrs(addrs, 2, CORRAL_FOREVER, &c), 0);
  CHECK_EQ(peer_port(c), gport);
  CHECK_RC(corral_listener_accept(good, &s), 0);
  corral_stream_close(c);
  corral_stream_close(s);
  /* 4. Cancelled while every attempt hangs: nothing is left. */
  close(hang_fd);
  close(hang_filler);
  addrs[0] = hanging_addr();
  addrs[1] = addrs[0];
  corral_scope sc;
  corral_move_on_after(&sc, SEC);
  t0 = corral_now();
  int rc = corral__tcp_connect_addrs(addrs, 2, CORRAL_HAPPY_EYEBALLS_DELAY, &c);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&sc, rc), 0);
  CHECK_EQ(corral_now() - t0, SEC);
  close(hang_fd);
  close(hang_filler);
  corral_listener_close(good);
  return 0;
}
TEST(happy_eyeballs_staggered_first_wins) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_happy, NULL), 0);
  CHECK_EQ(count_fds(), before);
}
