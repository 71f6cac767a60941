/* TCP: echo, cancellation, errors, no descriptor leaks. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int read_exact(corral_stream *s, char *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    int n = corral_stream_read(s, buf + got, len - got);
    if (n <= 0) return n < 0 ? n : CORRAL_EPIPE;
    got += (size_t)n;
  }
  return 0;
}

static int echo_handler(void *arg, void **res) {
  (void)res;
  corral_stream *c = arg;
  char buf[4096];
  int n;
  while ((n = corral_stream_read(c, buf, sizeof buf)) > 0)
    if ((n = corral_stream_write(c, buf, (size_t)n, NULL)) < 0) break;
  corral_stream_close(c);
  return n < 0 ? n : 0;
}

static int server(void *arg, void **res) {
  (void)res;
  corral_listener *l = arg;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  int rc;
  for (;;) {
    corral_stream *c;
    rc = corral_listener_accept(l, &c);
    if (rc) break;
    corral_spawn(&g, echo_handler, c, "handler", NULL);
  }
  return corral_group_close(&g, rc == CORRAL_ECANCELED ? 0 : rc);
}

static int port;
static int client(void *arg, void **res) {
  (void)res;
  int id = (int)(intptr_t)arg;
  corral_stream *s;
  int rc = corral_tcp_connect("127.0.0.1", port, &s);
  if (rc) return rc;
  char msg[300], back[300];
  for (int round = 0; round < 20 && rc == 0; round++) {
    int len = snprintf(msg, sizeof msg, "client %d round %d %*s|", id, round,
                       (id * 7 + round) % 200, "");
    rc = corral_stream_write(s, msg, (size_t)len, NULL);
    if (!rc) rc = read_exact(s, back, (size_t)len);
    if (!rc && memcmp(msg, back, (size_t)len) != 0)
      rc = corral_errorf(CORRAL_EIO, "client %d got garbage", id);
  }
  corral_stream_close(s);
  return rc;
}

static int m_echo(void *arg, void **res) {
  (void)res;
  int compact = (int)(intptr_t)arg;
  corral_listener *l;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  port = corral_listener_port(l);
  CHECK(port > 0);
  corral_task *srv;
  corral_create_task(server, l, "server", &srv);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.compact = compact});
  for (int i = 0; i < 100; i++)
    corral_spawn(&g, client, (void *)(intptr_t)i, "client", NULL);
  int rc = corral_group_close(&g, 0);
  if (rc) corral_error_print(corral_last_error(), stderr);
  CHECK_RC(rc, 0);
  corral_cancel(srv, "done");
  CHECK_RC(corral_join(srv, NULL), CORRAL_ECANCELED); /* it was cancelled */
  corral_task_release(srv);
  corral_listener_close(l);
  return 0;
}
TEST(echo_100_clients) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_echo, (void *)0, NULL), 0);
  CHECK_EQ(count_fds(), before);
}
TEST(echo_100_compact_clients) {
  CHECK_RC(corral_run(NULL, m_echo, (void *)1, NULL), 0);
}
/* The same on the shuffled scheduler (random run-queue order), a few
 * seeds: no reliance on who runs first after a wake-up. */
TEST(echo_100_clients_shuffled) {
  int before = count_fds();
  for (uint64_t seed = 1; seed <= 4; seed++) {
    corral_options o = {0};
    o.shuffle_seed = seed;
    CHECK_RC(corral_run(&o, m_echo, (void *)0, NULL), 0);
  }
  CHECK_EQ(count_fds(), before);
}

static int m_cancel_read(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  /* A read with nothing to read is cancelled by a deadline... */
  corral_scope s;
  char buf[16];
  corral_move_on_after(&s, 50 * MS);
  int rc = corral_stream_read(b, buf, sizeof buf);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  /* ...and no data is lost afterwards. */
  CHECK_RC(corral_stream_write(a, "hello", 5, NULL), 0);
  CHECK_RC(read_exact(b, buf, 5), 0);
  CHECK(memcmp(buf, "hello", 5) == 0);
  /* End of stream after a half-close. */
  CHECK_RC(corral_stream_shutdown(a), 0);
  CHECK_RC(corral_stream_read(b, buf, sizeof buf), 0);
  CHECK_RC(corral_stream_read(b, buf, sizeof buf), 0);
  corral_stream_close(a);
  corral_stream_close(b);
  corral_listener_close(l);
  return 0;
}
TEST(read_cancelled_without_losing_data) {
  CHECK_RC(corral_run(NULL, m_cancel_read, NULL, NULL), 0);
}

static corral_stream *shared_sock;
static int blocked_reader(void *arg, void **res) {
  (void)arg, (void)res;
  char buf[8];
  return corral_stream_read(shared_sock, buf, sizeof buf);
}
static int m_errors(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *s;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  int p = corral_listener_port(l);
  corral_listener_close(l);
  int rc = corral_tcp_connect("127.0.0.1", p, &s); /* nobody listens now */
  CHECK_RC(rc, CORRAL_ECONNREFUSED);
  CHECK(s == NULL);
  int nf = corral_tcp_connect("no-such-host.invalid", 80, &s);
  CHECK(nf == CORRAL_ENOTFOUND || nf == CORRAL_EAGAIN); /* EAGAIN: no DNS */
  CHECK_RC(corral_tcp_connect("", 80, &s), CORRAL_EINVAL);
  CHECK_RC(corral_tcp_connect("127.0.0.1", 70000, &s), CORRAL_EINVAL);
  CHECK_RC(corral_tcp_listen(NULL, 70000, 0, &l), CORRAL_EINVAL);
  CHECK_RC(corral_stream_read(NULL, NULL, 0), CORRAL_EINVAL);
  CHECK_RC(corral_stream_write(NULL, "x", 1, NULL), CORRAL_EINVAL);
  corral_stream_close(NULL);
  /* Closing a socket a task is blocked on wakes it with ECLOSED. */
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  shared_sock = b;
  corral_task *t;
  corral_create_task(blocked_reader, NULL, "reader", &t);
  CORRAL_IGNORE(corral_yield());
  corral_stream_close(b);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECLOSED);
  corral_task_release(t);
  /* a and l are left open on purpose: the runtime closes them. */
  return 0;
}
TEST(errors_refused_bad_address_closed) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_errors, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before); /* left-open sockets were closed */
}

TEST(outside_task) {
  corral_stream *s;
  corral_listener *l;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), CORRAL_ENOTASK);
  CHECK_RC(corral_tcp_connect("127.0.0.1", 1, &s), CORRAL_ENOTASK);
}

/* Virtual clock with real I/O: the autojump threshold lets loopback data
 * arrive before a virtual deadline is jumped to. No real time is measured:
 * the check is that the read gets its data. */
static int late_writer(void *arg, void **res) {
  (void)res;
  corral_stream *a = arg;
  CORRAL_IGNORE(corral_sleep(100 * MS)); /* virtual */
  return corral_stream_write(a, "ping", 4, NULL);
}
static int m_virtual_io(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  corral_task *t;
  corral_create_task(late_writer, a, "writer", &t);
  int64_t t0 = corral_now();
  corral_scope s;
  corral_fail_after(&s, 10 * SEC); /* virtual */
  char buf[8];
  int n = corral_stream_read(b, buf, sizeof buf);
  CHECK_RC(corral_scope_exit(&s, n < 0 ? n : 0), 0);
  CHECK_EQ(n, 4);
  CHECK_EQ(corral_now() - t0, 100 * MS); /* virtual time: exact */
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  corral_stream_close(a);
  corral_stream_close(b);
  corral_listener_close(l);
  return 0;
}
TEST(virtual_clock_with_real_io) {
  corral_options o = {.virtual_clock = 1, .autojump_threshold_ns = 50 * MS};
  CHECK_RC(corral_run(&o, m_virtual_io, NULL, NULL), 0);
}

/* Reading stays armed between reads: what arrives while nobody reads waits
 * in the socket's stash (one chunk ahead at most), partial reads take it in
 * order, and a large transfer arrives intact while the reader dawdles. */
#define BIG (256 * 1024)
static int big_writer(void *arg, void **res) {
  (void)res;
  corral_stream *a = arg;
  static unsigned char data[BIG];
  for (int i = 0; i < BIG; i++) data[i] = (unsigned char)(i * 7 + (i >> 9));
  int rc = corral_stream_write(a, data, BIG, NULL);
  if (rc == 0) rc = corral_stream_shutdown(a);
  return rc;
}
static int m_read_ahead(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  char buf[64];
  /* Arm reading, then let data arrive while nobody reads. */
  corral_scope s;
  corral_move_on_after(&s, 5 * MS);
  CHECK_RC(corral_stream_read(b, buf, sizeof buf), CORRAL_ECANCELED);
  CORRAL_IGNORE(corral_scope_exit(&s, 0));
  CHECK_RC(corral_stream_write(a, "hello world", 11, NULL), 0);
  CHECK_RC(corral_sleep(20 * MS), 0);
  CHECK_RC(corral_stream_read(b, buf, 5), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_RC(corral_stream_read(b, buf, sizeof buf), 6);
  CHECK(memcmp(buf, " world", 6) == 0);
  /* A big transfer while the reader sleeps now and then. */
  corral_task *w;
  CHECK_RC(corral_create_task(big_writer, a, "writer", &w), 0);
  CHECK_RC(corral_sleep(20 * MS), 0);
  static unsigned char got[BIG + 1];
  size_t n = 0;
  for (;;) {
    int k = corral_stream_read(b, got + n, n + 4096 <= BIG + 1 ? 4096 : BIG + 1 - n);
    CHECK(k >= 0);
    if (k == 0) break;
    n += (size_t)k;
    if (n % (64 * 1024) < 4096) CORRAL_IGNORE(corral_sleep(MS));
  }
  CHECK_EQ(n, BIG);
  for (int i = 0; i < BIG; i++)
    if (got[i] != (unsigned char)(i * 7 + (i >> 9))) FAILF("byte %d differs", i);
  CHECK_RC(corral_join(w, NULL), 0);
  corral_task_release(w);
  corral_stream_close(a);
  corral_stream_close(b);
  corral_listener_close(l);
  return 0;
}
TEST(read_ahead_keeps_data_in_order) {
  CHECK_RC(corral_run(NULL, m_read_ahead, NULL, NULL), 0);
}

/* ---- faults ---- */

/* Tasks blocked in accept, read and write on TCP objects another task
 * closes, while thousands of tasks are runnable: each gets CORRAL_ECLOSED
 * and nothing touches freed memory (AddressSanitizer checks). */
static corral_listener *f_l;
static corral_stream *f_r, *f_w;
static int f_accept(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *c;
  return corral_listener_accept(f_l, &c);
}
static int f_read(void *arg, void **res) {
  (void)arg, (void)res;
  char buf[16];
  return corral_stream_read(f_r, buf, sizeof buf);
}
static int f_write(void *arg, void **res) {
  (void)arg, (void)res;
  static char big[32 << 20];
  return corral_stream_write(f_w, big, sizeof big, NULL);
}
static int f_spin(void *arg, void **res) {
  (void)arg, (void)res;
  for (int i = 0; i < 3; i++) CORRAL_IGNORE(corral_yield());
  return 0;
}
static int m_close_under(void *arg, void **res) {
  (void)res;
  int compact = (int)(intptr_t)arg;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  corral_stream *c, *d;
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &c), 0);
  CHECK_RC(corral_listener_accept(l, &d), 0);
  f_l = l;
  f_r = d; /* nothing is written to c */
  f_w = a; /* b never reads: a's write blocks */
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT, .compact = compact});
  corral_task *t[3];
  corral_spawn(&g, f_accept, NULL, "acceptor", &t[0]);
  corral_spawn(&g, f_read, NULL, "reader", &t[1]);
  corral_spawn(&g, f_write, NULL, "writer", &t[2]);
  CORRAL_IGNORE(corral_sleep(20 * MS));
  for (int i = 0; i < 3000; i++) corral_spawn(&g, f_spin, NULL, "spin", NULL);
  CORRAL_IGNORE(corral_yield());
  corral_listener_close(l);
  corral_stream_close(d);
  corral_stream_close(a);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  corral_stream_close(b);
  corral_stream_close(c);
  for (int i = 0; i < 3; i++) {
    CHECK_RC(corral_task_code(t[i]), CORRAL_ECLOSED);
    corral_task_release(t[i]);
  }
  return 0;
}
TEST(close_wakes_accept_read_write_many_runnable) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_close_under, (void *)0, NULL), 0);
  CHECK_EQ(count_fds(), before);
}
TEST(close_wakes_compact_accept_read_write) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_close_under, (void *)1, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A large write to a peer that never reads, cancelled; then shutdown and
 * close under a 100 ms deadline return at once (they used to hang). */
static int m_shutdown_after_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  static char big[64 << 20];
  corral_scope s;
  corral_move_on_after(&s, 50 * MS);
  size_t wrote = 0;
  int rc = corral_stream_write(a, big, sizeof big, &wrote);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  CHECK(wrote < sizeof big);
  corral_fail_after(&s, 100 * MS);
  rc = corral_stream_shutdown(a);
  CHECK_RC(rc, 0);
  corral_stream_close(a);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  /* Inside a cancelled scope, shutdown still does its job. */
  corral_move_on_after(&s, 0);
  CHECK_RC(corral_stream_shutdown(b), 0);
  CORRAL_IGNORE(corral_scope_exit(&s, 0));
  corral_stream_close(b);
  corral_listener_close(l);
  return 0;
}
TEST(shutdown_after_cancelled_write_under_deadline) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_shutdown_after_cancel, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Connection reset by the peer (RST: SO_LINGER 0), and half-close: each
 * direction ends on its own. */
#include <sys/socket.h>
static int m_reset_half_close(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  /* half-close: a says it is done; b still answers; then b ends too */
  CHECK_RC(corral_stream_write(a, "request", 7, NULL), 0);
  CHECK_RC(corral_stream_shutdown(a), 0);
  CHECK_RC(corral_stream_write(a, "more", 4, NULL), CORRAL_EPIPE);
  char buf[32];
  CHECK_RC(corral_stream_read_exactly(b, buf, 7, NULL), 0);
  CHECK_RC(corral_stream_read(b, buf, sizeof buf), 0); /* end of a's side */
  CHECK_RC(corral_stream_write(b, "reply", 5, NULL), 0);
  CHECK_RC(corral_stream_read_exactly(a, buf, 5, NULL), 0);
  CHECK(memcmp(buf, "reply", 5) == 0);
  corral_stream_close(b);
  CHECK_RC(corral_stream_read(a, buf, sizeof buf), 0);
  corral_stream_close(a);
  /* reset */
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  struct linger lg = {1, 0};
  CHECK(setsockopt(corral_stream_fd(b), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
  corral_stream_close(b);
  CHECK_RC(corral_stream_read(a, buf, sizeof buf), CORRAL_ECONNRESET);
  CHECK_RC(corral_stream_read(a, buf, sizeof buf), 0); /* delivered once */
  int rc = corral_stream_write(a, "x", 1, NULL);
  CHECK(rc == CORRAL_EPIPE || rc == CORRAL_ECONNRESET);
  corral_stream_close(a);
  corral_listener_close(l);
  return 0;
}
TEST(connection_reset_and_half_close) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_reset_half_close, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Out of descriptors: accept reports CORRAL_EMFILE to the accepting task,
 * the connection waits in the backlog and is accepted once a descriptor
 * is free. In a forked child, whose descriptor limit is lowered. */
#include <sys/resource.h>
static int m_emfile(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  int lport = corral_listener_port(l);
  /* Fill the table up to the limit with plain descriptors. */
  int spare[4096], nspare = 0, fd;
  struct rlimit rl = {64, 64};
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  while (nspare < 4096 && (fd = dup(0)) >= 0) spare[nspare++] = fd;
  CHECK(nspare > 2);
  close(spare[--nspare]); /* room for the client socket only */
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(c >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
  corral_stream *s;
  CHECK_RC(corral_listener_accept(l, &s), CORRAL_EMFILE);
  CHECK(s == NULL);
  close(spare[--nspare]);
  CHECK_RC(corral_listener_accept(l, &s), 0); /* the same connection */
  CHECK(write(c, "hi", 2) == 2);
  char buf[4];
  CHECK_RC(corral_stream_read_exactly(s, buf, 2, NULL), 0);
  corral_stream_close(s);
  close(c);
  while (nspare) close(spare[--nspare]);
  corral_listener_close(l);
  return 0;
}
static void emfile_child(void) {
  int rc = corral_run(NULL, m_emfile, NULL, NULL);
  _exit(rc == 0 ? 0 : 3);
}
TEST(accept_reports_out_of_descriptors) {
  char out[4096];
  int st = run_child(emfile_child, out, sizeof out);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAILF("child: status %d: %s", st, out);
}

/* SO_REUSEPORT: two listeners share one port (one per runtime in a
 * sharded server); without it the second is refused. A connected socket
 * made elsewhere becomes a TCP stream with corral_pipe_open. */
static int m_reuse_port(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listen_opts o = {0};
  o.reuse_port = 1;
  corral_listener *l1, *l2, *l3;
  CHECK_RC(corral_tcp_listen_ex("127.0.0.1", 0, &o, &l1), 0);
  int p = corral_listener_port(l1);
  CHECK_RC(corral_tcp_listen_ex("127.0.0.1", p, &o, &l2), 0);
  CHECK_EQ(corral_listener_port(l2), p);
  CHECK_RC(corral_tcp_listen("127.0.0.1", p, 0, &l3), CORRAL_EADDRINUSE);
  CHECK(l3 == NULL);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  corral_stream *c, *s;
  CHECK_RC(corral_pipe_open(fd, &c), 0);
  CHECK_STR(corral_stream_kind(c), "tcp");
  CHECK_RC(corral_stream_write(c, "x", 1, NULL), 0);
  /* The kernel picked one of the two listeners. */
  corral_scope sc;
  corral_move_on_after(&sc, 20 * MS);
  int rc = corral_listener_accept(l1, &s);
  CORRAL_IGNORE(corral_scope_exit(&sc, 0));
  if (rc != 0) CHECK_RC(corral_listener_accept(l2, &s), 0);
  char b;
  CHECK_RC(corral_stream_read(s, &b, 1), 1);
  corral_stream_close(s);
  corral_stream_close(c);
  corral_listener_close(l1);
  corral_listener_close(l2);
  return 0;
}
/* The descriptors of corral's own sockets are refused to
 * corral_wait_readable (EBUSY): the runtime watches them itself. */
static int m_owned_fds(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  CHECK_RC(corral_wait_readable(corral_stream_fd(a)), CORRAL_EBUSY);
  CHECK_RC(corral_wait_readable(corral_stream_fd(b)), CORRAL_EBUSY);
  corral_stream_close(a);
  corral_stream_close(b);
  corral_listener_close(l);
  return 0;
}
TEST(own_descriptors_refused_to_fd_waits) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_owned_fds, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

TEST(reuse_port_listeners_share_a_port) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_reuse_port, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A slow peer over TCP: the writer waits for room again and again (the
 * kernel's buffers are far smaller than 8 MiB), the reader dawdles; every
 * byte arrives in order and the writer's count is exact. */
#define SLOW (8 << 20)
static unsigned char slow_data[SLOW], slow_got[SLOW];
static int slow_tcp_reader(void *arg, void **res) {
  corral_stream *r = arg;
  size_t got = 0;
  for (;;) {
    size_t want = got + 4096 <= SLOW ? 4096 : SLOW - got;
    int n = corral_stream_read(r, slow_got + got, want);
    if (n < 0) return n;
    if (n == 0) break;
    got += (size_t)n;
    if (got % (512 * 1024) < 4096) CORRAL_IGNORE(corral_sleep(MS));
  }
  if (got != SLOW || memcmp(slow_got, slow_data, SLOW) != 0) return CORRAL_EIO;
  *res = (void *)(uintptr_t)got;
  return 0;
}
static int m_slow_tcp(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  corral_stream *a, *b;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  CHECK_RC(corral_tcp_connect("127.0.0.1", corral_listener_port(l), &a), 0);
  CHECK_RC(corral_listener_accept(l, &b), 0);
  for (size_t i = 0; i < SLOW; i++) slow_data[i] = (unsigned char)(i * 29 + 1);
  corral_task *t;
  CHECK_RC(corral_create_task(slow_tcp_reader, b, "reader", &t), 0);
  size_t wrote = 0;
  /* A stuck transfer fails with the task tree instead of a silent hang. */
  corral_scope sc;
  corral_fail_after(&sc, 20 * SEC);
  int rc = corral_stream_write(a, slow_data, SLOW, &wrote);
  if (rc == 0) rc = corral_stream_shutdown(a);
  void *got = NULL;
  if (rc == 0) rc = corral_join(t, &got);
  if (rc == CORRAL_ECANCELED) corral_dump(stderr);
  CHECK_RC(corral_scope_exit(&sc, rc), 0);
  CHECK_EQ(wrote, SLOW);
  CHECK_EQ((uintptr_t)got, SLOW);
  corral_task_release(t);
  corral_stream_close(a);
  corral_stream_close(b);
  corral_listener_close(l);
  return 0;
}
TEST(slow_peer_over_tcp) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_slow_tcp, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A request/response exchange costs one read(2) per message on each side:
 * reading exactly the few bytes of a reply must not leave libuv a full
 * buffer that it reads again only to find nothing (counted in the read
 * calls of /proc/self/io, which every thread of the process adds to). */
static long read_calls(void) {
  FILE *f = fopen("/proc/self/io", "r");
  if (!f) return -1;
  char line[128];
  long n = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "syscr: %ld", &n) == 1) break;
  fclose(f);
  return n;
}
static int m_read_calls(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &l), 0);
  port = corral_listener_port(l);
  corral_task *srv;
  corral_create_task(server, l, "server", &srv);
  corral_stream *s;
  CHECK_RC(corral_tcp_connect("127.0.0.1", port, &s), 0);
  char msg[64], back[64];
  memset(msg, 'x', sizeof msg);
  CHECK_RC(corral_stream_write(s, msg, sizeof msg, NULL), 0);
  CHECK_RC(read_exact(s, back, sizeof back), 0); /* warmed up */
  long before = read_calls();
  CHECK(before >= 0);
  enum { EXCHANGES = 200 };
  for (int i = 0; i < EXCHANGES; i++) {
    CHECK_RC(corral_stream_write(s, msg, sizeof msg, NULL), 0);
    CHECK_RC(read_exact(s, back, sizeof back), 0);
  }
  long calls = read_calls() - before;
  /* two sides, one read each per exchange; a few more for chance splits */
  if (calls > 2 * EXCHANGES + 20)
    fprintf(stderr, "%ld read(2) calls for %d exchanges\n", calls, EXCHANGES);
  CHECK(calls <= 2 * EXCHANGES + 20);
  corral_stream_close(s);
  corral_cancel(srv, "done");
  CHECK_RC(corral_join(srv, NULL), CORRAL_ECANCELED);
  corral_task_release(srv);
  corral_listener_close(l);
  return 0;
}
TEST(small_reads_cost_one_read_call_per_message) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_read_calls, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}
