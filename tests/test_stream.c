/* Streams on pipes, socket pairs and files: reading some / exactly / up to
 * a delimiter (nothing lost on cancel), writes of any size with an exact
 * count when cancelled, broken pipes without SIGPIPE, closing under
 * blocked tasks, shutdown, stdio, foreign runtimes. Every test checks that
 * the descriptors are back to their starting count. */
#define _GNU_SOURCE /* posix_openpt, ptsname */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <termios.h>
#include <sys/socket.h>
#include <unistd.h>

static int m_pipe_basics(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  CHECK_STR(corral_stream_kind(r), "pipe");
  CHECK(corral_stream_fd(r) >= 0);
  const char *text = "first line\nsecond line\nthird|fourth\nno newline";
  size_t wrote = 0;
  CHECK_RC(corral_stream_write(w, text, strlen(text), &wrote), 0);
  CHECK_EQ(wrote, strlen(text));
  CHECK_RC(corral_stream_shutdown(w), 0); /* the reader sees the end */
  CHECK_RC(corral_stream_write(w, "x", 1, NULL), CORRAL_EPIPE);
  char buf[64];
  CHECK_RC(corral_stream_read_line(r, buf, sizeof buf), 11);
  CHECK_STR(buf, "first line\n");
  CHECK_RC(corral_stream_read_exactly(r, buf, 7, NULL), 0);
  CHECK(memcmp(buf, "second ", 7) == 0);
  CHECK_RC(corral_stream_read_until(r, buf, sizeof buf, "|", 1), 11);
  CHECK(memcmp(buf, "line\nthird|", 11) == 0);
  /* read_until at the end without the delimiter: CORRAL_EEOF, data kept */
  char rest[64];
  int n = corral_stream_read_until(r, rest, sizeof rest, "#", 1);
  CHECK_RC(n, CORRAL_EEOF);
  CHECK_RC(corral_stream_read_line(r, rest, sizeof rest), 7);
  CHECK_STR(rest, "fourth\n");
  CHECK_RC(corral_stream_read_line(r, rest, sizeof rest), 10);
  CHECK_STR(rest, "no newline");
  CHECK_RC(corral_stream_read_line(r, rest, sizeof rest), CORRAL_EEOF);
  CHECK_RC(corral_stream_read(r, rest, sizeof rest), 0);
  size_t got = 99;
  CHECK_RC(corral_stream_read_exactly(r, rest, 4, &got), CORRAL_EEOF);
  CHECK_EQ(got, 0);
  CHECK_RC(corral_stream_close(r), 0);
  CHECK_RC(corral_stream_close(w), 0);
  CHECK_RC(corral_stream_close(NULL), 0);
  return 0;
}
TEST(pipe_read_some_exactly_until_line) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_pipe_basics, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A line that arrives in pieces, with a cancellation in between: nothing
 * is lost, and a line longer than the buffer is refused without being
 * consumed. */
static corral_stream *g_w;
static int late_rest(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_sleep(100 * MS));
  return corral_stream_write(g_w, "lo world\n", 9, NULL);
}
static int m_line_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  g_w = w;
  CHECK_RC(corral_stream_write(w, "hel", 3, NULL), 0);
  char buf[32];
  corral_scope s;
  corral_move_on_after(&s, 50 * MS);
  int rc = corral_stream_read_line(r, buf, sizeof buf);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  corral_task *t;
  corral_create_task(late_rest, NULL, "writer", &t);
  CHECK_RC(corral_stream_read_line(r, buf, sizeof buf), 12);
  CHECK_STR(buf, "hello world\n");
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  /* Too long for the buffer: ERANGE, and the bytes stay readable. */
  CHECK_RC(corral_stream_write(w, "0123456789abcdef\n", 17, NULL), 0);
  CHECK_RC(corral_stream_read_line(r, buf, 8), CORRAL_ERANGE);
  CHECK_RC(corral_stream_read_exactly(r, buf, 17, NULL), 0);
  CHECK(memcmp(buf, "0123456789abcdef\n", 17) == 0);
  /* read_exactly cancelled half way keeps what it got. */
  CHECK_RC(corral_stream_write(w, "abc", 3, NULL), 0);
  size_t got = 0;
  corral_move_on_after(&s, 50 * MS);
  rc = corral_stream_read_exactly(r, buf, 6, &got);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CORRAL_IGNORE(corral_scope_exit(&s, rc));
  CHECK_EQ(got, 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  corral_stream_close(r);
  corral_stream_close(w);
  return 0;
}
TEST(read_line_cancelled_loses_nothing) {
  int before = count_fds();
  corral_options o = {.virtual_clock = 1, .autojump_threshold_ns = 20 * MS};
  CHECK_RC(corral_run(&o, m_line_cancel, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A cancelled write to a peer that does not read says exactly how much the
 * kernel took: the reader then finds exactly that many bytes. */
#define BIGW (16 << 20)
static int m_cancelled_write(void *arg, void **res) {
  (void)arg, (void)res;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  corral_stream *a, *b;
  CHECK_RC(corral_pipe_open(sv[0], &a), 0);
  CHECK_RC(corral_pipe_open(sv[1], &b), 0);
  char *big = malloc(BIGW);
  for (size_t i = 0; i < BIGW; i++) big[i] = (char)(i * 13);
  corral_scope s;
  corral_move_on_after(&s, 50 * MS);
  size_t wrote = 0;
  int rc = corral_stream_write(a, big, BIGW, &wrote);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CORRAL_IGNORE(corral_scope_exit(&s, rc));
  CHECK(wrote > 0 && wrote < BIGW);
  /* Shutdown after it does not hang (nothing is queued behind us). */
  corral_fail_after(&s, 100 * MS);
  CHECK_RC(corral_scope_exit(&s, corral_stream_shutdown(a)), 0);
  char *back = malloc(BIGW);
  size_t got = 0;
  CHECK_RC(corral_stream_read_exactly(b, back, BIGW, &got), CORRAL_EEOF);
  CHECK_EQ(got, wrote);
  CHECK(memcmp(back, big, wrote) == 0);
  free(big);
  free(back);
  corral_stream_close(a);
  corral_stream_close(b);
  return 0;
}
TEST(cancelled_write_reports_bytes_taken) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_cancelled_write, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Writes larger than INT_MAX go through whole (they used to stop at a few
 * MB with ERANGE). The buffer is an untouched anonymous mapping. */
static int drain(void *arg, void **res) {
  corral_stream *r = arg;
  static char buf[1 << 20];
  size_t total = 0;
  int n;
  while ((n = corral_stream_read(r, buf, sizeof buf)) > 0) total += (size_t)n;
  *res = (void *)(uintptr_t)total;
  return n;
}
static int m_huge_write(void *arg, void **res) {
  (void)arg, (void)res;
  size_t len = (size_t)INT32_MAX + (64u << 20);
  void *big = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(big != MAP_FAILED);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  corral_stream *a, *b;
  CHECK_RC(corral_pipe_open(sv[0], &a), 0);
  CHECK_RC(corral_pipe_open(sv[1], &b), 0);
  corral_task *t;
  corral_create_task(drain, b, "drain", &t);
  size_t wrote = 0;
  CHECK_RC(corral_stream_write(a, big, len, &wrote), 0);
  CHECK_EQ(wrote, len);
  CHECK_RC(corral_stream_shutdown(a), 0);
  void *total;
  CHECK_RC(corral_join(t, &total), 0);
  CHECK_EQ((uintptr_t)total, len);
  corral_task_release(t);
  corral_stream_close(a);
  corral_stream_close(b);
  munmap(big, len);
  return 0;
}
TEST(write_larger_than_int_max) {
  const char *pre = getenv("LD_PRELOAD");
  if (pre && strstr(pre, "vgpreload")) { /* memcheck: minutes per GB */
    fprintf(stderr, "skipped under valgrind\n");
    return;
  }
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_huge_write, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Broken pipe: CORRAL_EPIPE, no SIGPIPE, the disposition untouched, no
 * signal left pending. */
static int m_broken_pipe(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  corral_stream_close(r);
  CHECK_RC(corral_stream_write(w, "x", 1, NULL), CORRAL_EPIPE);
  corral_stream_close(w);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK_RC(corral_pipe_open(sv[0], &w), 0);
  close(sv[1]);
  CHECK_RC(corral_stream_write(w, "x", 1, NULL), CORRAL_EPIPE);
  corral_stream_close(w);
  return 0;
}
TEST(broken_pipe_is_epipe_not_sigpipe) {
  int before = count_fds();
  struct sigaction old;
  sigaction(SIGPIPE, NULL, &old);
  CHECK(old.sa_handler == SIG_DFL); /* a SIGPIPE would kill this test */
  CHECK_RC(corral_run(NULL, m_broken_pipe, NULL, NULL), 0);
  struct sigaction now;
  sigaction(SIGPIPE, NULL, &now);
  CHECK(now.sa_handler == SIG_DFL);
  sigset_t pending;
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGPIPE));
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  CHECK(!sigismember(&mask, SIGPIPE));
  CHECK_EQ(count_fds(), before);
}

/* Closing a stream other tasks are blocked on, while thousands of tasks
 * are runnable: the blocked ones get CORRAL_ECLOSED and nobody touches
 * freed memory (AddressSanitizer checks). */
static corral_stream *g_r;
static int blocked_read(void *arg, void **res) {
  (void)arg, (void)res;
  char buf[16];
  return corral_stream_read(g_r, buf, sizeof buf);
}
static int blocked_write(void *arg, void **res) {
  (void)arg, (void)res;
  static char big[1 << 20];
  return corral_stream_write(g_w, big, sizeof big, NULL);
}
static int spinner(void *arg, void **res) {
  (void)arg, (void)res;
  for (int i = 0; i < 3; i++) CORRAL_IGNORE(corral_yield());
  return 0;
}
static int m_close_under(void *arg, void **res) {
  (void)res;
  int compact = (int)(intptr_t)arg;
  corral_stream *r, *w, *r2, *w2;
  CHECK_RC(corral_pipe(&r, &w2), 0); /* nothing is ever written to it */
  CHECK_RC(corral_pipe(&r2, &w), 0); /* nothing is ever read from it */
  g_r = r;
  g_w = w;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT, .compact = compact});
  corral_task *tr, *tw;
  corral_spawn(&g, blocked_read, NULL, "reader", &tr);
  corral_spawn(&g, blocked_write, NULL, "writer", &tw);
  CORRAL_IGNORE(corral_sleep(10 * MS)); /* both block: nothing to read, the pipe is full */
  for (int i = 0; i < 3000; i++) corral_spawn(&g, spinner, NULL, "spin", NULL);
  CORRAL_IGNORE(corral_yield());
  corral_stream_close(r);
  corral_stream_close(w);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  corral_stream_close(r2);
  corral_stream_close(w2);
  CHECK_RC(corral_task_code(tr), CORRAL_ECLOSED);
  CHECK_RC(corral_task_code(tw), CORRAL_ECLOSED);
  corral_task_release(tr);
  corral_task_release(tw);
  return 0;
}
TEST(close_wakes_blocked_tasks_many_runnable) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_close_under, (void *)0, NULL), 0);
  CHECK_EQ(count_fds(), before);
}
TEST(close_wakes_blocked_compact_tasks) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_close_under, (void *)1, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A slow reader: the writer waits for room again and again; every byte
 * arrives in order. */
static corral_stream *g_slow_w;
static int slow_reader(void *arg, void **res) {
  corral_stream *r = arg;
  static unsigned char buf[BIGW / 4];
  size_t got = 0;
  while (got < sizeof buf) {
    int n = corral_stream_read(r, buf + got, 4096);
    if (n <= 0) { /* say so, and stop the writer rather than hang it */
      fprintf(stderr, "reader: %s after %zu bytes\n", corral_err_name(n), got);
      corral_stream_close(g_slow_w);
      return n ? n : CORRAL_EEOF;
    }
    got += (size_t)n;
    if (got % (256 * 1024) < 4096) CORRAL_IGNORE(corral_sleep(MS));
  }
  for (size_t i = 0; i < sizeof buf; i++)
    if (buf[i] != (unsigned char)(i * 31)) return CORRAL_EIO;
  *res = (void *)(uintptr_t)got;
  return 0;
}
static int m_slow_peer(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  g_slow_w = w;
  static unsigned char data[BIGW / 4];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 31);
  corral_task *t;
  corral_create_task(slow_reader, r, "reader", &t);
  /* A stuck transfer fails with the task tree instead of a silent hang. */
  corral_scope sc;
  corral_fail_after(&sc, 20 * SEC);
  int rc = corral_stream_write(w, data, sizeof data, NULL);
  void *got = NULL;
  if (rc == 0) rc = corral_join(t, &got);
  if (rc == CORRAL_ECANCELED) corral_dump(stderr);
  CHECK_RC(corral_scope_exit(&sc, rc), 0);
  CHECK_EQ((uintptr_t)got, sizeof data);
  corral_task_release(t);
  corral_stream_close(r);
  corral_stream_close(w);
  return 0;
}
TEST(slow_peer_write_waits_for_room) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_slow_peer, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Standard streams: a regular file and a pipe, borrowed; the descriptor
 * stays open and keeps its flags. */
static int g_fd;
static int m_stdio(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *s;
  CHECK_RC(corral_stdio_open(g_fd, &s), 0);
  CHECK_STR(corral_stream_kind(s), "file");
  char line[32];
  CHECK_RC(corral_stream_read_line(s, line, sizeof line), 4);
  CHECK_STR(line, "one\n");
  CHECK_RC(corral_stream_read_line(s, line, sizeof line), 4);
  CHECK_STR(line, "two\n");
  CHECK_RC(corral_stream_read_line(s, line, sizeof line), CORRAL_EEOF);
  corral_stream_close(s);
  int p[2];
  CHECK(pipe(p) == 0);
  int flags = fcntl(p[1], F_GETFL);
  CHECK_RC(corral_stdio_open(p[1], &s), 0);
  CHECK_STR(corral_stream_kind(s), "pipe");
  CHECK_RC(corral_stream_write(s, "hi", 2, NULL), 0);
  corral_stream_close(s);
  CHECK_EQ(fcntl(p[1], F_GETFL), flags); /* blocking again */
  CHECK(read(p[0], line, sizeof line) == 2);
  close(p[0]);
  close(p[1]);
  CHECK_RC(corral_stdio_open(-1, &s), CORRAL_EBADF);
  CHECK_RC(corral_pipe_open(g_fd, &s), CORRAL_EINVAL); /* a regular file */
  return 0;
}
TEST(stdio_file_and_pipe) {
  int before = count_fds();
  char path[] = "/tmp/corral_stdio_XXXXXX";
  g_fd = mkstemp(path);
  CHECK(g_fd >= 0);
  unlink(path);
  CHECK(write(g_fd, "one\ntwo\n", 8) == 8);
  lseek(g_fd, 0, SEEK_SET);
  CHECK_RC(corral_run(NULL, m_stdio, NULL, NULL), 0);
  CHECK(fcntl(g_fd, F_GETFD) >= 0); /* still open */
  close(g_fd);
  CHECK_EQ(count_fds(), before);
}

/* A stream of one runtime used from another: CORRAL_EFOREIGN for every
 * call, shutdown and close included, and nothing happens to it. */
static corral_stream *g_foreign;
static corral_listener *g_foreign_l;
static corral_udp *g_foreign_u;
static pthread_barrier_t g_bar;
static int m_owner(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  g_foreign = w;
  CHECK_RC(corral_tcp_listen("127.0.0.1", 0, 0, &g_foreign_l), 0);
  CHECK_RC(corral_udp_open("127.0.0.1", 0, &g_foreign_u), 0);
  pthread_barrier_wait(&g_bar); /* the other runtime uses it now */
  pthread_barrier_wait(&g_bar);
  CHECK_RC(corral_stream_write(w, "ok", 2, NULL), 0); /* still usable */
  char buf[4];
  CHECK_RC(corral_stream_read(r, buf, sizeof buf), 2);
  corral_stream_close(r);
  corral_stream_close(w);
  corral_listener_close(g_foreign_l);
  CHECK(corral_udp_port(g_foreign_u) > 0);
  corral_udp_close(g_foreign_u);
  return 0;
}
static int m_intruder(void *arg, void **res) {
  (void)arg, (void)res;
  char buf[4];
  CHECK_RC(corral_stream_read(g_foreign, buf, 4), CORRAL_EFOREIGN);
  CHECK_RC(corral_stream_write(g_foreign, "x", 1, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_stream_read_line(g_foreign, buf, 4), CORRAL_EFOREIGN);
  CHECK_RC(corral_stream_shutdown(g_foreign), CORRAL_EFOREIGN);
  CHECK_RC(corral_stream_close(g_foreign), CORRAL_EFOREIGN);
  corral_stream *c;
  CHECK_RC(corral_listener_accept(g_foreign_l, &c), CORRAL_EFOREIGN);
  CHECK_RC(corral_listener_close(g_foreign_l), CORRAL_EFOREIGN);
  CHECK_RC(corral_listener_port(g_foreign_l), CORRAL_EFOREIGN);
  CHECK_RC(corral_stream_fd(g_foreign), CORRAL_EFOREIGN);
  CHECK_RC(corral_udp_send_to(g_foreign_u, "x", 1, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_udp_recv_from(g_foreign_u, buf, 4, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_udp_connect(g_foreign_u, "127.0.0.1", 9), CORRAL_EFOREIGN);
  CHECK_RC(corral_udp_port(g_foreign_u), CORRAL_EFOREIGN);
  CHECK_RC(corral_udp_close(g_foreign_u), CORRAL_EFOREIGN);
  return 0;
}
static void *owner_thread(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corral_run(NULL, m_owner, NULL, NULL);
}
TEST(foreign_runtime_refused) {
  int before = count_fds();
  pthread_barrier_init(&g_bar, NULL, 2);
  pthread_t th;
  pthread_create(&th, NULL, owner_thread, NULL);
  pthread_barrier_wait(&g_bar);
  /* No runtime on this thread: refused too, nothing happens. */
  CHECK_RC(corral_stream_close(g_foreign), CORRAL_ENOTASK);
  CHECK_RC(corral_listener_close(g_foreign_l), CORRAL_ENOTASK);
  CHECK_RC(corral_udp_close(g_foreign_u), CORRAL_ENOTASK);
  CHECK_RC(corral_run(NULL, m_intruder, NULL, NULL), 0);
  pthread_barrier_wait(&g_bar);
  void *rc;
  pthread_join(th, &rc);
  CHECK_RC((int)(intptr_t)rc, 0);
  pthread_barrier_destroy(&g_bar);
  CHECK_EQ(count_fds(), before);
}

TEST(outside_task) {
  corral_stream *a, *b;
  CHECK_RC(corral_pipe(&a, &b), CORRAL_ENOTASK);
  CHECK_RC(corral_stdio_open(0, &a), CORRAL_ENOTASK);
  CHECK_RC(corral_stream_read(NULL, NULL, 0), CORRAL_ENOTASK);
}

/* A terminal: a pseudo-terminal's follower side as a stream, written and
 * read back through the leader. */
static int g_pty;
static int m_tty(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *t;
  CHECK_RC(corral_pipe_open(g_pty, &t), 0);
  CHECK_STR(corral_stream_kind(t), "tty");
  CHECK_RC(corral_stream_write(t, "to the terminal\n", 16, NULL), 0);
  corral_stream_close(t);
  return 0;
}
TEST(terminal_stream) {
  int before = count_fds();
  int leader = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(leader >= 0);
  CHECK(grantpt(leader) == 0 && unlockpt(leader) == 0);
  g_pty = open(ptsname(leader), O_RDWR | O_NOCTTY);
  CHECK(g_pty >= 0);
  struct termios tio;
  tcgetattr(g_pty, &tio);
  cfmakeraw(&tio);
  tcsetattr(g_pty, TCSANOW, &tio);
  CHECK_RC(corral_run(NULL, m_tty, NULL, NULL), 0);
  char buf[32];
  ssize_t n = read(leader, buf, sizeof buf);
  CHECK_EQ(n, 16);
  CHECK(memcmp(buf, "to the terminal\n", 16) == 0);
  close(leader);
  CHECK_EQ(count_fds(), before);
}

/* The internal constructor subprocess pipes are built on: a pipe stream
 * handed to uv_spawn as UV_CREATE_PIPE, read line by line. */
#include "io/stream.h"
static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  (void)status, (void)sig;
  uv_close((uv_handle_t *)p, NULL);
}
static uv_process_t g_proc;
static int m_spawn_pipe(void *arg, void **res) {
  (void)arg, (void)res;
  int rc;
  corral_stream *out = corral__stream_new(corral__tl_rt, CORRAL__S_PIPE, &rc);
  CHECK(out != NULL);
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&out->uv.pipe},
      {.flags = UV_INHERIT_FD, .data.fd = 2}};
  char *args[] = {"sh", "-c", "echo one; echo two", NULL};
  uv_process_options_t o = {.exit_cb = on_exit_cb, .file = "sh", .args = args,
                            .stdio_count = 3, .stdio = stdio};
  CHECK_RC(uv_spawn(corral_loop(), &g_proc, &o), 0);
  corral__stream_opened(out);
  char line[16];
  CHECK_RC(corral_stream_read_line(out, line, sizeof line), 4);
  CHECK_STR(line, "one\n");
  CHECK_RC(corral_stream_read_line(out, line, sizeof line), 4);
  CHECK_STR(line, "two\n");
  CHECK_RC(corral_stream_read_line(out, line, sizeof line), CORRAL_EEOF);
  corral_stream_close(out);
  while (uv_is_active((uv_handle_t *)&g_proc)) CORRAL_IGNORE(corral_sleep(MS));
  return 0;
}
TEST(subprocess_pipe_from_internal_constructor) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_spawn_pipe, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* Closing under blocked tasks on the shuffled scheduler, two seeds (a
 * random pick among 3,000 runnable tasks is slow). */
TEST(close_wakes_blocked_tasks_shuffled) {
  int before = count_fds();
  for (uint64_t seed = 1; seed <= 2; seed++) {
    corral_options o = {0};
    o.shuffle_seed = seed;
    CHECK_RC(corral_run(&o, m_close_under, (void *)0, NULL), 0);
  }
  CHECK_EQ(count_fds(), before);
}

/* corral_dump names the stream a task waits on. */
static int dump_reader(void *arg, void **res) {
  (void)res;
  char buf[4];
  return corral_stream_read(arg, buf, sizeof buf);
}
static int m_dump(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r, *w;
  CHECK_RC(corral_pipe(&r, &w), 0);
  corral_task *t;
  CHECK_RC(corral_create_task(dump_reader, r, "reader", &t), 0);
  CORRAL_IGNORE(corral_yield());
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  corral_dump(f);
  fclose(f);
  char want[64];
  snprintf(want, sizeof want, "stream read (pipe fd %d)", corral_stream_fd(r));
  if (!strstr(text, want)) FAILF("dump lacks '%s':\n%s", want, text);
  free(text);
  corral_stream_close(r);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECLOSED);
  corral_task_release(t);
  corral_stream_close(w);
  return 0;
}
TEST(dump_names_the_stream) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_dump, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}
