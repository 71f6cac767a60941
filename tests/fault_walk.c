/* Fault injection walk (built with CORRAL_FAULT_INJECTION: make test-fault).
 *
 * One program uses every family of the library: the runtime's start
 * (loop, timer, watchdog thread, stack pool), tasks (stacks, task slabs),
 * scopes watching a signal, timers, TCP streams (listen, port, accept,
 * connect, read, write, shutdown; an echo and a bulk transfer that fills
 * the kernel's buffers), a pipe stream, descriptor waits on a pipe, UDP
 * (open, connect, send, receive) and DNS (getaddrinfo on libuv's pool). A clean run counts the system
 * and libuv calls it makes (C); then for N = 1 .. C the program runs again
 * with the N-th call failed with that call's errno (src/ground/fault.h) and
 * the walk checks:
 *  - the failure surfaces as that code: in the task that made the call (its
 *    first failure; a failure in a libuv callback: in the TCP task waiting
 *    for it), or from corral_run for the runtime's own start; a call with a
 *    fallback (guard pages, advice, TCP_NODELAY, the loop's timer) is
 *    absorbed and the program succeeds;
 *  - no hang (an alarm per run), no descriptor left open, no child process
 *    left, every block of the runtime freed (a counting allocator; the
 *    second walk uses the default allocator, whose task slabs are mmap'd,
 *    and leaves leaks to LeakSanitizer).
 * FAULT_WALK_VERBOSE=1 prints every site as it is failed. */
#define _GNU_SOURCE 1 /* pipe2 */
#include "test.h"
#include "corral/net.h"
#include "corral/stream.h"
#include "corral/file.h"
#include "corral/signal.h"
#include "corral/thread.h"
#include "corral/process.h"
#include "ground/fault.h"

#include <netdb.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#ifndef CORRAL_FAULT_INJECTION
#error "fault_walk needs a CORRAL_FAULT_INJECTION build"
#endif

/* ---- what each task saw ---- */

#define MAXREC 64
typedef struct {
  char name[CORRAL_NAME_MAX];
  int first_err; /* first failing library call's code (0: none) */
  const char *call;
} rec;

static struct {
  rec r[MAXREC];
  int n;
  char fired_in[CORRAL_NAME_MAX]; /* task current when the fault fired */
  int fired_err;
  char second[96]; /* the second fault's site and task */
  long live_blocks;
} W;

static rec *me(void) {
  const char *name = corral_task_name(corral_current());
  for (int i = 0; i < W.n; i++)
    if (strcmp(W.r[i].name, name) == 0) return &W.r[i];
  if (W.n == MAXREC) abort();
  rec *r = &W.r[W.n++];
  snprintf(r->name, sizeof r->name, "%s", name);
  return r;
}

/* Record the first failure of a library call made by the current task. */
static int note(const char *call, int rc) {
  if (rc < 0) {
    rec *r = me();
    if (!r->first_err) {
      r->first_err = rc;
      r->call = call;
      if (getenv("FAULT_WALK_VERBOSE"))
        fprintf(stderr, "    %s: %s -> %s\n", r->name, call, corral_err_name(rc));
    }
  }
  return rc;
}
#define TRY(call)                                                            \
  do {                                                                       \
    int rc_ = note(#call, (call));                                           \
    if (rc_ < 0) return rc_;                                                 \
  } while (0)

static long cur_n;
static void on_fire(const char *site, int err, void *arg) {
  (void)arg;
  corral_task *t = corral_current();
  if (W.fired_err) { /* a second fault: the first is the one checked */
    snprintf(W.second, sizeof W.second, "%s in '%s'", site, t ? corral_task_name(t) : "");
    return;
  }
  snprintf(W.fired_in, sizeof W.fired_in, "%s", t ? corral_task_name(t) : "");
  W.fired_err = err;
  if (getenv("FAULT_WALK_VERBOSE"))
    fprintf(stderr, "  fault %ld: %s fails with %s in '%s'\n", cur_n, site,
            corral_err_name(-err), W.fired_in);
}

/* ---- the program ---- */

#define MSG "the quick brown fox jumps over the lazy dog"
#define ROUNDS 3

static int server(void *arg, void **res) {
  (void)res;
  corral_listener *l = arg;
  corral_stream *c = NULL;
  TRY(corral_listener_accept(l, &c));
  char buf[256];
  int rc = 0;
  for (;;) {
    int n = note("corral_stream_read", corral_stream_read(c, buf, sizeof buf));
    if (n <= 0) {
      rc = n;
      break;
    }
    rc = note("corral_stream_write", corral_stream_write(c, buf, (size_t)n, NULL));
    if (rc) break;
  }
  if (rc == 0) rc = note("corral_stream_shutdown", corral_stream_shutdown(c));
  corral_stream_close(c);
  return rc;
}

static int client(void *arg, void **res) {
  (void)res;
  int port = *(int *)arg;
  corral_stream *c = NULL;
  TRY(corral_tcp_connect("127.0.0.1", port, &c));
  int rc = 0;
  for (int i = 0; i < ROUNDS && rc == 0; i++)
    rc = note("corral_stream_write", corral_stream_write(c, MSG, sizeof MSG - 1, NULL));
  if (rc == 0) rc = note("corral_stream_shutdown", corral_stream_shutdown(c));
  size_t got = 0;
  char buf[256];
  while (rc == 0) {
    int n = note("corral_stream_read", corral_stream_read(c, buf, sizeof buf));
    if (n < 0) rc = n;
    if (n <= 0) break;
    got += (size_t)n;
  }
  corral_stream_close(c);
  if (rc == 0 && got != ROUNDS * (sizeof MSG - 1))
    return corral_errorf(CORRAL_EIO, "echo: %zu bytes back", got);
  return rc;
}

/* Eight megabytes one way: the kernel's buffers fill, so the writer waits
 * for the socket to become writable. */
#define BULK (8 << 20)
static int sink(void *arg, void **res) {
  (void)res;
  corral_listener *l = arg;
  corral_stream *c = NULL;
  TRY(corral_listener_accept(l, &c));
  static char buf[65536];
  size_t got = 0;
  int n;
  while ((n = note("corral_stream_read", corral_stream_read(c, buf, sizeof buf))) > 0)
    got += (size_t)n;
  corral_stream_close(c);
  if (n == 0 && got != BULK) return corral_errorf(CORRAL_EIO, "sink: %zu bytes", got);
  return n;
}

static int bulk(void *arg, void **res) {
  (void)res;
  int port = *(int *)arg;
  corral_stream *c = NULL;
  TRY(corral_tcp_connect("127.0.0.1", port, &c));
  char *data = calloc(1, BULK);
  int rc = data ? note("corral_stream_write", corral_stream_write(c, data, BULK, NULL))
                : CORRAL_ENOMEM;
  free(data);
  if (rc == 0) rc = note("corral_stream_shutdown", corral_stream_shutdown(c));
  corral_stream_close(c);
  return rc;
}

/* A pipe of the library's (corral_pipe) and descriptor waits on a pipe of
 * our own. */
static int pipe_writer(void *arg, void **res) {
  (void)res;
  int fd = *(int *)arg;
  TRY(corral_sleep(MS));
  TRY(corral_wait_writable(fd));
  return write(fd, "x", 1) == 1 ? 0 : CORRAL_EIO;
}

static int poller(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *r = NULL, *w = NULL;
  TRY(corral_pipe(&r, &w));
  int rc = note("corral_stream_write", corral_stream_write(w, "ab", 2, NULL));
  char two[2];
  if (rc == 0) rc = note("corral_stream_read", corral_stream_read(r, two, 2));
  if (rc > 0) rc = 0;
  corral_stream_close(r);
  corral_stream_close(w);
  if (rc) return rc;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return CORRAL_EIO;
  corral_group g;
  rc = note("corral_group_open", corral_group_open(&g, NULL));
  if (rc == 0) {
    int body = note("corral_spawn", corral_spawn(&g, pipe_writer, &fds[1], "pipe_writer", NULL));
    if (body == 0) body = note("corral_wait_readable", corral_wait_readable(fds[0]));
    char c;
    if (body == 0 && read(fds[0], &c, 1) != 1) body = CORRAL_EIO;
    rc = corral_group_close(&g, body);
    if (rc == CORRAL_EGROUP && body < 0 && body != CORRAL_ECANCELED) rc = body;
  }
  corral_notify_closing(fds[0]);
  corral_notify_closing(fds[1]);
  close(fds[0]);
  close(fds[1]);
  return rc;
}

/* UDP: a datagram to ourselves, received by a task that waits for it. */
static int udp_sender(void *arg, void **res) {
  (void)res;
  corral_udp *u = arg;
  TRY(corral_sleep(MS));
  TRY(corral_udp_send_to(u, "ping", 4, NULL));
  return 0;
}

static int udp(void *arg, void **res) {
  (void)arg, (void)res;
  corral_udp *u = NULL;
  TRY(corral_udp_open("127.0.0.1", 0, &u));
  int rc = 0, port = note("corral_udp_port", corral_udp_port(u));
  if (port < 0) rc = port;
  if (rc == 0) rc = note("corral_udp_connect", corral_udp_connect(u, "127.0.0.1", port));
  corral_group g;
  if (rc == 0) rc = note("corral_group_open", corral_group_open(&g, NULL));
  if (rc == 0) {
    char buf[16];
    int body = note("corral_spawn", corral_spawn(&g, udp_sender, u, "udp_sender", NULL));
    if (body == 0) body = note("corral_udp_recv_from", corral_udp_recv_from(u, buf, sizeof buf, NULL));
    if (body > 0) body = body == 4 ? 0 : CORRAL_EIO;
    rc = corral_group_close(&g, body);
    if (rc == CORRAL_EGROUP && body < 0 && body != CORRAL_ECANCELED) rc = body;
  }
  corral_udp_close(u);
  return rc;
}

/* DNS through libuv's resolver on its thread pool. */
static int dns(void *arg, void **res) {
  (void)arg, (void)res;
  struct addrinfo *ai = NULL;
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
  TRY(corral_getaddrinfo("localhost", "80", &hints, &ai));
  corral_freeaddrinfo(ai);
  return 0;
}

/* Files on libuv's pool: a directory, a file written, read back, stat'd,
 * renamed, removed. Whatever fails, nothing is left on disk. */
static int files(void *arg, void **res) {
  (void)arg, (void)res;
  char dir[96], a[128], b[128];
  snprintf(dir, sizeof dir, "%s/corral-fault-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  int rc = note("corral_file_mkdir", corral_file_mkdir(dir, 0700));
  corral_file *f = NULL;
  if (rc == 0) rc = note("corral_file_open", corral_file_open(a, O_CREAT | O_RDWR | O_TRUNC, 0600, &f));
  if (rc == 0) rc = note("corral_file_write", corral_file_write(f, MSG, sizeof MSG - 1, NULL));
  char buf[64];
  if (rc == 0) rc = note("corral_file_pread", corral_file_pread(f, buf, sizeof buf, 0));
  if (rc > 0) rc = rc == sizeof MSG - 1 ? 0 : CORRAL_EIO;
  corral_stat st;
  if (rc == 0) rc = note("corral_file_sync", corral_file_sync(f));
  if (rc == 0) rc = note("corral_file_fstat", corral_file_fstat(f, &st));
  if (f) {
    int c = note("corral_file_close", corral_file_close(f));
    if (rc == 0) rc = c;
  }
  if (rc == 0) rc = note("corral_file_stat", corral_file_stat(a, &st));
  if (rc == 0) rc = note("corral_file_rename", corral_file_rename(a, b));
  if (rc == 0) rc = note("corral_file_unlink", corral_file_unlink(b));
  if (rc == 0) rc = note("corral_file_rmdir", corral_file_rmdir(dir));
  unlink(a), unlink(b), rmdir(dir); /* after a failure */
  return rc;
}

/* Offload to a worker thread. */
static int add_one(void *arg, void **res) {
  (void)res;
  ++*(int *)arg;
  return 0;
}
static int slow_add_one(void *arg, void **res) {
  usleep(30000);
  return add_one(arg, res);
}
static int offload(void *arg, void **res) {
  (void)arg, (void)res;
  int v = 41;
  TRY(corral_to_thread(add_one, &v, NULL, NULL));
  if (v != 42) return CORRAL_EIO;
  /* A call abandoned after 5 ms: the runtime's end waits for it (or, if
   * it was still queued then, it never runs: ETIMEDOUT). */
  static int w;
  corral_thread_opts o = {.name = "slow", .abandon_after_ns = CORRAL_MS(5)};
  int rc = corral_to_thread(slow_add_one, &w, NULL, &o);
  return rc == CORRAL_EABANDONED || rc == CORRAL_ETIMEDOUT ? 0 : note("corral_to_thread", rc);
}

/* A child process: its stdout through a pipe, /dev/null for stdin, waited
 * for; no child may be left behind. */
static int process(void *arg, void **res) {
  (void)arg, (void)res;
  static const char *const argv[] = {"echo", "hi", NULL};
  corral_process_opts o = {.argv = argv};
  o.stdio[0].mode = CORRAL_STDIO_NULL;
  o.stdio[1].mode = CORRAL_STDIO_PIPE;
  corral_process *p = NULL;
  TRY(corral_process_spawn(&o, &p));
  char buf[16];
  int rc = 0, n, got = 0;
  while ((n = note("corral_stream_read", corral_stream_read(corral_process_stream(p, 1), buf, sizeof buf))) > 0)
    got += n;
  if (n < 0) rc = n;
  int st = -1;
  int w = note("corral_process_wait", corral_process_wait(p, &st, NULL));
  corral_process_close(p);
  if (rc == 0) rc = w;
  if (rc == 0 && (st != 0 || got != 3)) rc = CORRAL_EIO;
  return rc;
}


/* A child cancelled mid-run: its shell ignores SIGTERM and leaves a
 * grandchild in the background, so the termination sequence (SIGTERM to
 * the group, 5 ms, SIGKILL) must kill the whole group, with kill(2) and
 * waitpid(2) on the path. */
static int process_cancel(void *arg, void **res) {
  (void)arg, (void)res;
  static const char *const argv[] = {"sh", "-c", "trap '' TERM; sleep 100 & wait", NULL};
  corral_process_opts o = {.argv = argv, .kill_grace_ns = 5 * MS};
  o.stdio[0].mode = CORRAL_STDIO_NULL;
  corral_process *p = NULL;
  TRY(corral_process_spawn(&o, &p));
  corral_scope s;
  int rc = note("corral_move_on_after", corral_move_on_after(&s, 5 * MS));
  if (rc == 0) {
    rc = corral_process_wait(p, NULL, NULL);
    rc = note("corral_process_wait", rc == CORRAL_ECANCELED ? 0 : rc);
    rc = corral_scope_exit(&s, rc);
  }
  corral_process_close(p);
  return rc;
}

/* The cross-thread portal: a worker thread (corral_to_thread) calls into
 * the runtime through it (corral_portal_call) and waits for the task. */
static int portal_add(void *arg, void **res) {
  (void)res;
  TRY(corral_sleep(MS));
  ++*(int *)arg;
  return 0;
}
static int portal_thread(void *arg, void **res) {
  (void)res;
  corral_portal *p = arg;
  static int v;
  v = 1;
  int rc = corral_portal_call(p, portal_add, &v, NULL);
  return rc ? rc : v == 2 ? 0 : CORRAL_EIO;
}
static int portal(void *arg, void **res) {
  (void)arg, (void)res;
  corral_portal *p = NULL;
  TRY(corral_portal_open(&p));
  int rc = note("corral_to_thread", corral_to_thread(portal_thread, p, NULL, NULL));
  corral_portal_release(p);
  return rc;
}

/* A terminal (a pseudo-terminal's slave side) and a pipe borrowed as
 * standard streams (corral_stdio_open works on a duplicate). */
static int tty(void *arg, void **res) {
  (void)arg, (void)res;
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return 0; /* no pseudo-terminals here: nothing to test */
  int rc = grantpt(m) || unlockpt(m) ? CORRAL_EIO : 0;
  char name[64];
  int sl = -1;
  if (rc == 0 && ptsname_r(m, name, sizeof name) == 0)
    sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (sl < 0) rc = CORRAL_EIO;
  corral_stream *t = NULL;
  if (rc == 0) rc = note("corral_stdio_open", corral_stdio_open(sl, &t));
  if (rc == 0) rc = note("corral_stream_write", corral_stream_write(t, "tty\n", 4, NULL));
  if (rc == 0) {
    fcntl(m, F_SETFL, O_NONBLOCK);
    rc = note("corral_wait_readable", corral_wait_readable(m));
    char buf[16];
    if (rc == 0 && read(m, buf, sizeof buf) <= 0) rc = CORRAL_EIO;
    corral_notify_closing(m);
  }
  corral_stream_close(t);
  int fds[2];
  if (rc == 0 && pipe2(fds, O_CLOEXEC) == 0) {
    corral_stream *w = NULL;
    rc = note("corral_stdio_open", corral_stdio_open(fds[1], &w));
    if (rc == 0) rc = note("corral_stream_write", corral_stream_write(w, "p", 1, NULL));
    corral_stream_close(w);
    close(fds[0]);
    close(fds[1]);
  }
  if (sl >= 0) close(sl);
  close(m);
  return rc;
}

/* A signal watch (Trio's open_signal_receiver), opened and closed. */
static int signals(void *arg, void **res) {
  (void)arg, (void)res;
  int sig = SIGUSR1;
  corral_signal_watch *w = NULL;
  TRY(corral_signal_watch_open(&sig, 1, &w));
  corral_signal_watch_close(w);
  return 0;
}

static int signal_watch(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope s;
  TRY(corral_move_on_after(&s, 50 * MS));
  int rc = note("corral_scope_cancel_on_signal", corral_scope_cancel_on_signal(&s, SIGUSR2));
  if (rc == 0) rc = note("corral_sleep", corral_sleep(MS));
  return corral_scope_exit(&s, rc);
}

static int sleeper(void *arg, void **res) {
  (void)arg, (void)res;
  TRY(corral_sleep(2 * MS));
  return 0;
}

#define NSLEEPERS 40

/* The cancellation walk (see cancel_walk below): 1 cancels the program's
 * group at the entry of the chosen park, 2 from a task that runs right
 * after it (the park's task is parked by then). */
static int cancel_mode;
static corral_group *prog_g;
static corral_portal *prog_portal;

static int prog(void *arg, void **res) {
  (void)arg, (void)res;
  corral_listener *l = NULL, *l2 = NULL;
  TRY(corral_tcp_listen("127.0.0.1", 0, 0, &l));
  int rc = note("corral_tcp_listen", corral_tcp_listen("127.0.0.1", 0, 0, &l2));
  int port = rc ? rc : note("corral_listener_port", corral_listener_port(l));
  int port2 = port < 0 ? port : note("corral_listener_port", corral_listener_port(l2));
  if (port < 0 || port2 < 0) rc = port < 0 ? port : port2;
  corral_group g;
  if (rc == 0) rc = note("corral_group_open", corral_group_open(&g, NULL));
  if (rc) {
    corral_listener_close(l);
    corral_listener_close(l2);
    return rc;
  }
  if (cancel_mode) {
    prog_g = &g;
    if (cancel_mode == 2 && corral_portal_open(&prog_portal) != 0) prog_portal = NULL;
  }
  static const struct {
    corral_fn fn;
    const char *name;
  } tasks[] = {{server, "server"}, {client, "client"}, {sink, "sink"},
               {bulk, "bulk"},     {poller, "poller"}, {udp, "udp"},
               {dns, "dns"},       {signal_watch, "signal"},
               {files, "files"},   {offload, "offload"},
               {signals, "signals"}, {process, "process"},
               {process_cancel, "process_cancel"}, {portal, "portal"},
               {tty, "tty"}};
  void *args[] = {l, &port, l2, &port2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                  NULL, NULL, NULL};
  int body = 0;
  for (size_t i = 0; i < sizeof tasks / sizeof tasks[0] && !body; i++)
    body = note("spawn", corral_spawn(&g, tasks[i].fn, args[i], tasks[i].name, NULL));
  for (int i = 0; i < NSLEEPERS && !body; i++) {
    char name[16];
    snprintf(name, sizeof name, "sleeper%d", i);
    body = note("spawn", corral_spawn(&g, sleeper, NULL, name, NULL));
  }
  rc = corral_group_close(&g, body);
  prog_g = NULL;
  corral_portal_release(prog_portal);
  prog_portal = NULL;
  corral_listener_close(l);
  corral_listener_close(l2);
  return rc;
}

/* ---- the walk ---- */

/* The allocation walk fails the runtime's allocation number alloc_fail_at
 * (0: none); alloc_count counts them. */
static long alloc_count, alloc_fail_at;
static int alloc_fails(void) { return ++alloc_count == alloc_fail_at; }
static void *c_malloc(void *c, size_t n) {
  (void)c;
  if (alloc_fails()) return NULL;
  void *p = malloc(n);
  if (p) W.live_blocks++;
  return p;
}
static void *c_realloc(void *c, void *p, size_t n) {
  (void)c;
  if (alloc_fails()) return NULL;
  void *q = realloc(p, n);
  if (!p && q) W.live_blocks++;
  return q;
}
static void c_free(void *c, void *p) {
  (void)c;
  if (p) W.live_blocks--;
  free(p);
}

static int count_children(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, c, prev = ' ';
  while ((c = fgetc(f)) != EOF) {
    if (c != ' ' && prev == ' ') n++;
    prev = c;
  }
  fclose(f);
  return n;
}

static const char *cur_walk;
static void on_alarm(int sig) {
  (void)sig;
  fprintf(stderr, "fault_walk(%s): run with call %ld failed (%s in '%s'%s%s) hangs\n",
          cur_walk, cur_n, corral__inject_site() ? corral__inject_site() : "-",
          W.fired_in, W.second[0] ? "; then " : "", W.second);
  for (int i = 0; i < W.n; i++)
    fprintf(stderr, "  task %s: first failure %s (%s)\n", W.r[i].name,
            corral_err_name(W.r[i].first_err), W.r[i].call ? W.r[i].call : "-");
  _exit(3);
}

/* Calls with a fallback: failing them must not fail the program. */
static int absorbed(const char *site) {
  static const char *const list[] = {
      "stack_probe_", "stack_pidfd_open", "stack_process_madvise",
      "stack_madvise_", "stack_guard_install", "stack_mprotect",
      "slab_madvise_", "altstack_mmap", "sigaltstack", "tcp_nodelay",
      "timer_start", "watch_thread", "file_close", "offload_drain_timer",
      "process_waitid", "offload_thread_more",
      "process_waitpid" /* EINTR: retried */};
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
    if (strncmp(site, list[i], strlen(list[i])) == 0) return 1;
  return 0;
}

static corral_error *run_error; /* the root task's error record */

/* Does the record (or an aggregate nested in it) hold code? */
static int holds_code(const corral_error *e, int code) {
  if (!e) return 0;
  if (corral_error_code(e) == code) return 1;
  for (size_t i = 0; i < corral_error_count(e); i++)
    if (holds_code(corral_error_child(e, i), code)) return 1;
  return 0;
}

static int program_rc2(const corral_allocator *al, long nth, long nth2) {
  memset(&W.r, 0, sizeof W.r);
  W.n = 0;
  W.fired_in[0] = 0;
  W.fired_err = 0;
  W.second[0] = 0;
  W.live_blocks = 0;
  corral_error_unref(run_error);
  run_error = NULL;
  corral_options o = {.allocator = al, .stack_size = 64 * 1024, .error = &run_error};
  corral__inject_arm2(nth, nth2);
  /* Left armed: the counters stay readable, and call nth has passed. */
  return corral_run(&o, prog, NULL, NULL);
}
static int program_rc(const corral_allocator *al, long nth) { return program_rc2(al, nth, 0); }

/* The signals the program watches: their dispositions are back to what
 * they were after every run (a watch that failed to install or a run that
 * failed restores them). */
static const int watched[] = {SIGUSR1, SIGUSR2, SIGCHLD};
static void dispositions(void (*out[3])(int)) {
  for (int i = 0; i < 3; i++) {
    struct sigaction sa;
    sigaction(watched[i], NULL, &sa);
    out[i] = sa.sa_handler;
  }
}

static const rec *find(const char *name) {
  for (int i = 0; i < W.n; i++)
    if (strcmp(W.r[i].name, name) == 0) return &W.r[i];
  return NULL;
}

/* Kill steps of the termination sequence: failing one is absorbed when a
 * later step (SIGKILL) still ends the child, and surfaces in the waiting
 * task when it was the last. A worker thread that cannot start: absorbed
 * when the pool has another (the portal's and the offload task's calls
 * share it), the caller's EAGAIN when it has none. */
static int absorbed_or_surfaced(const char *site) {
  return strcmp(site, "process_kill") == 0 || strcmp(site, "offload_thread") == 0;
}

static int fds0, kids0;
static void (*disp0[3])(int);

/* One run with call n (and n2 > n when nonzero) failed. Returns -1 when
 * no fault fired, 1 when the fault was absorbed, 0 when it surfaced. */
static int check_run(const corral_allocator *al, const char *what, long n, long n2) {
  cur_n = n;
  alarm(20);
  int rc = program_rc2(al, n, n2);
  long fired = corral__inject_fired();
  const char *site = corral__inject_site();
  alarm(0);
  int in_record = holds_code(run_error, -W.fired_err);
  corral_error_unref(run_error); /* before the leak check: it is a block */
  run_error = NULL;
  char label[160];
  if (n2)
    snprintf(label, sizeof label, "calls %ld and %ld (first %s)", n, n2, site ? site : "-");
  else
    snprintf(label, sizeof label, "call %ld (%s)", n, site ? site : "-");
  if (count_fds() != fds0)
    FAILF("%s: %s failed: %d descriptors open, %d before", what, label,
          count_fds(), fds0);
  if (count_children() != kids0)
    FAILF("%s: %s failed: child processes left", what, label);
  if (al && W.live_blocks != 0)
    FAILF("%s: %s failed: %ld blocks not freed", what, label, W.live_blocks);
  void (*disp[3])(int);
  dispositions(disp);
  for (int i = 0; i < 3; i++)
    if (disp[i] != disp0[i])
      FAILF("%s: %s failed: the disposition of signal %d was not restored", what,
            label, watched[i]);
  if (!fired) {
    if (rc != 0) FAILF("%s: run %ld without a fault failed: %s", what, n, corral_err_name(rc));
    return -1;
  }
  int code = -W.fired_err;
  if (n2) {
    /* Two faults: what must hold is the above (no leak, no hang, nothing
     * left running); a first fault that has no fallback fails the run. */
    if (rc == 0 && !absorbed(site) && !absorbed_or_surfaced(site))
      FAILF("%s: %s failed, but the program succeeded", what, label);
    return 0;
  }
  if (absorbed(site)) {
    if (rc != 0)
      FAILF("%s: %s has a fallback, but the program failed with %s", what,
            site, corral_err_name(rc));
    return 1;
  }
  if (absorbed_or_surfaced(site) && rc == 0) return 1;
  if (rc == 0)
    FAILF("%s: call %ld (%s) failed with %s, but the program succeeded", what,
          n, site, corral_err_name(code));
  if (strcmp(site, "loop_init") == 0 || strcmp(site, "timer_init") == 0) {
    if (rc != code)
      FAILF("%s: %s failed with %s, corral_run returned %s", what, site,
            corral_err_name(code), corral_err_name(rc));
    return 0;
  }
  if (strcmp(site, "stack_mmap") == 0 || strcmp(site, "slab_mmap") == 0) {
    /* No memory for a task: its spawn or its start fails with ENOMEM,
     * which the root's error record holds (or corral_run returns). */
    if (rc != code && !in_record)
      FAILF("%s: %s failed, corral_run returned %s without %s in its record",
            what, site, corral_err_name(rc), corral_err_name(code));
    return 0;
  }
  const rec *r = NULL;
  if (strstr(site, "_cb")) {
    /* A libuv callback: the I/O task waiting for it sees the code. */
    static const char *const io_tasks[] = {"server", "client", "sink", "bulk", "dns", "poller", "udp", "udp_sender", "files", "offload", "process", "process_cancel", "portal", "tty"};
    if (strcmp(site, "dns_cb") == 0) code = CORRAL_ENOTFOUND; /* EAI_NONAME */
    for (size_t i = 0; i < sizeof io_tasks / sizeof io_tasks[0] && !r; i++) {
      const rec *t = find(io_tasks[i]);
      if (t && t->first_err == code) r = t;
    }
    if (!r)
      for (int i = 0; i < W.n; i++)
        fprintf(stderr, "  task %s: first failure %s (%s)\n", W.r[i].name,
                corral_err_name(W.r[i].first_err), W.r[i].call ? W.r[i].call : "-");
    if (!r)
      FAILF("%s: %s failed with %s in a callback: no I/O task saw it", what,
            site, corral_err_name(code));
  } else {
    r = find(W.fired_in);
    if (!r || r->first_err != code)
      FAILF("%s: %s failed with %s in task '%s', which saw %s first", what,
            site, corral_err_name(code), W.fired_in,
            r ? corral_err_name(r->first_err) : "nothing");
  }
  return 0;
}

static void walk(const corral_allocator *al, const char *what) {
  cur_walk = what;
  signal(SIGALRM, on_alarm);
  corral__inject_on_fire(on_fire, NULL);
  fds0 = count_fds();
  kids0 = count_children();
  dispositions(disp0);
  CHECK_RC(program_rc(al, 0), 0);
  long calls = corral__inject_calls();
  corral_error_unref(run_error);
  run_error = NULL;
  CHECK(calls > 20);
  if (al) CHECK_EQ(W.live_blocks, 0);
  long injected = 0, absorbed_n = 0;
  const char *only = getenv("FAULT_WALK_N"); /* debugging: one run */
  for (long n = only ? atol(only) : 1; n <= (only ? atol(only) : calls + 2); n++) {
    int k = check_run(al, what, n, 0);
    if (k >= 0) injected++;
    if (k == 1) absorbed_n++;
  }
  /* Two faults in one run, for a sample of N: the second a few calls after
   * the first, often in the first one's cleanup (a failed close, kill,
   * waitpid or free path after a failed read or spawn). */
  long doubles = 0;
  const char *only2 = getenv("FAULT_WALK_N2");
  static const long gaps[] = {1, 2, 3, 5, 8, 13, 21};
  if (only && only2) {
    check_run(al, what, atol(only), atol(only2));
    doubles = 1;
  } else if (!only) {
    long step = getenv("FAULT_WALK_DOUBLE_STEP") ? atol(getenv("FAULT_WALK_DOUBLE_STEP")) : 7;
    if (step <= 0) step = 7;
    for (long n = 1; n <= calls; n += step) {
      if (check_run(al, what, n, n + 1) >= 0) doubles++;
      long gap = gaps[1 + (n / step) % (sizeof gaps / sizeof gaps[0] - 1)];
      if (check_run(al, what, n, n + gap) >= 0) doubles++;
    }
  }
  printf("fault_walk(%s): %ld calls per run, %ld faults injected (%ld absorbed by "
         "a fallback), %ld runs with two faults; each surfaced, no leak, no hang\n",
         what, calls, injected, absorbed_n, doubles);
  corral__inject_on_fire(NULL, NULL);
}

/* ---- cancellation at every cancellation point ---- */

static int park_kind;
static int canceller(void *a, void **r) {
  (void)a, (void)r;
  if (prog_g) CORRAL_IGNORE(corral_group_cancel(prog_g, "cancel walk"));
  return 0;
}
static void on_park(int kind, void *arg) {
  (void)arg;
  park_kind = kind;
  if (!prog_g) return;
  if (cancel_mode == 1)
    CORRAL_IGNORE(corral_group_cancel(prog_g, "cancel walk"));
  else if (prog_portal)
    CORRAL_IGNORE(corral_portal_submit(prog_portal, canceller, NULL, "canceller"));
}

/* The program once per abortable park P (every blocking call's
 * cancellation point, in every task), with the program's group cancelled
 * at P: at its entry (mode 1) or while it is parked (mode 2). Each run ends
 * with 0 or CORRAL_ECANCELED (never another code: a cancellation is not a
 * failure), no hang, nothing left open, running or allocated. */
static void cancel_walk(const corral_allocator *al, int mode, const char *what) {
  cur_walk = what;
  signal(SIGALRM, on_alarm);
  fds0 = count_fds();
  kids0 = count_children();
  dispositions(disp0);
  cancel_mode = mode;
  corral__inject_park_arm(0, on_park, NULL);
  CHECK_RC(program_rc(al, 0), 0);
  long parks = corral__inject_parks();
  CHECK(parks > 20);
  long fired = 0, cascades = 0;
  const char *only = getenv("FAULT_WALK_N");
  for (long k = only ? atol(only) : 1; k <= (only ? atol(only) : parks + 2); k++) {
    cur_n = k;
    park_kind = -1;
    corral__inject_park_arm(k, on_park, NULL);
    alarm(20);
    int rc = program_rc(al, 0);
    alarm(0);
    int kind = park_kind;
    corral_error_unref(run_error);
    run_error = NULL;
    if (kind >= 0) fired++;
    if (count_fds() != fds0)
      FAILF("%s: cancelled at park %ld (kind %d): %d descriptors open, %d before",
            what, k, kind, count_fds(), fds0);
    if (count_children() != kids0)
      FAILF("%s: cancelled at park %ld (kind %d): child processes left", what, k, kind);
    if (al && W.live_blocks != 0)
      FAILF("%s: cancelled at park %ld (kind %d): %ld blocks not freed", what, k,
            kind, W.live_blocks);
    void (*disp[3])(int);
    dispositions(disp);
    for (int i = 0; i < 3; i++)
      if (disp[i] != disp0[i])
        FAILF("%s: cancelled at park %ld: signal %d's disposition not restored",
              what, k, watched[i]);
    /* A TCP task woken just before the cancellation may meet the kernel's
     * answer to its peer's close (the peer was cancelled and closed first)
     * before its next cancellation point: ECONNRESET or EPIPE, a cascade
     * of the cancellation, not a fault of the library. */
    int cascade = rc == CORRAL_EGROUP;
    for (int i = 0; i < W.n && cascade; i++) {
      int e = W.r[i].first_err;
      if (e && e != CORRAL_ECANCELED &&
          !((e == CORRAL_ECONNRESET || e == CORRAL_EPIPE) &&
            (!strcmp(W.r[i].name, "bulk") || !strcmp(W.r[i].name, "sink") ||
             !strcmp(W.r[i].name, "client") || !strcmp(W.r[i].name, "server"))))
        cascade = 0;
    }
    if (cascade) cascades++;
    if (rc != 0 && rc != CORRAL_ECANCELED && !cascade) {
      for (int i = 0; i < W.n; i++)
        if (W.r[i].first_err && W.r[i].first_err != CORRAL_ECANCELED)
          fprintf(stderr, "  task %s: %s (%s)\n", W.r[i].name,
                  corral_err_name(W.r[i].first_err), W.r[i].call ? W.r[i].call : "-");
      FAILF("%s: cancelled at park %ld (kind %d): the program ended with %s", what,
            k, kind, corral_err_name(rc));
    }
  }
  corral__inject_park_arm(0, NULL, NULL);
  cancel_mode = 0;
  printf("cancel_walk(%s): %ld cancellation points per run, each cancelled in "
         "turn (%ld runs; %ld with a TCP peer's reset after its cancelled peer "
         "closed): no other code but ECANCELED, no leak, no hang\n",
         what, parks, fired, cascades);
}

TEST(cancel_at_every_park_entry) {
  corral_allocator al = {c_malloc, c_realloc, c_free, NULL};
  cancel_walk(&al, 1, "at the park's entry");
}

TEST(cancel_while_parked_at_every_park) {
  corral_allocator al = {c_malloc, c_realloc, c_free, NULL};
  cancel_walk(&al, 2, "while parked");
}

/* ---- allocation failure ---- */

/* The program once per allocation the runtime makes (its own allocator:
 * task slabs, records, I/O objects, requests), with that allocation
 * failed. Each run ends with 0 (a fallback), CORRAL_ENOMEM, or an error
 * whose record holds it (a group's aggregate), or CORRAL_ECANCELED /
 * CORRAL_EGROUP in the tasks that the failure cancelled; and with nothing
 * left allocated, open or running, and no hang. */
TEST(walk_allocation_failures) {
  corral_allocator al = {c_malloc, c_realloc, c_free, NULL};
  cur_walk = "allocation failures";
  signal(SIGALRM, on_alarm);
  fds0 = count_fds();
  kids0 = count_children();
  dispositions(disp0);
  alloc_count = alloc_fail_at = 0;
  CHECK_RC(program_rc(&al, 0), 0);
  long allocs = alloc_count;
  corral_error_unref(run_error);
  run_error = NULL;
  CHECK(allocs > 20);
  long failed = 0, absorbed_n = 0;
  const char *only = getenv("FAULT_WALK_N");
  for (long k = only ? atol(only) : 1; k <= (only ? atol(only) : allocs + 2); k++) {
    cur_n = k;
    alloc_count = 0;
    alloc_fail_at = k;
    alarm(20);
    int rc = program_rc(&al, 0);
    alarm(0);
    long seen = alloc_count;
    alloc_fail_at = 0;
    int in_record = holds_code(run_error, CORRAL_ENOMEM);
    corral_error_unref(run_error);
    run_error = NULL;
    if (count_fds() != fds0)
      FAILF("allocation %ld failed: %d descriptors open, %d before", k, count_fds(), fds0);
    if (count_children() != kids0)
      FAILF("allocation %ld failed: child processes left", k);
    if (W.live_blocks != 0)
      FAILF("allocation %ld failed: %ld blocks not freed", k, W.live_blocks);
    void (*disp[3])(int);
    dispositions(disp);
    for (int i = 0; i < 3; i++)
      if (disp[i] != disp0[i])
        FAILF("allocation %ld failed: signal %d's disposition not restored", k, watched[i]);
    if (seen < k) continue; /* this run made fewer allocations */
    failed++;
    if (rc == 0) {
      absorbed_n++;
      continue;
    }
    int enomem_seen = 0;
    for (int i = 0; i < W.n; i++)
      if (W.r[i].first_err == CORRAL_ENOMEM) enomem_seen = 1;
    if (rc != CORRAL_ENOMEM && !in_record && !enomem_seen) {
      for (int i = 0; i < W.n; i++)
        if (W.r[i].first_err)
          fprintf(stderr, "  task %s: %s (%s)\n", W.r[i].name,
                  corral_err_name(W.r[i].first_err), W.r[i].call ? W.r[i].call : "-");
      FAILF("allocation %ld failed: the program ended with %s, and no task saw ENOMEM",
            k, corral_err_name(rc));
    }
  }
  printf("allocation walk: %ld allocations per run, each failed in turn (%ld runs, "
         "%ld absorbed): ENOMEM surfaced, no leak, no hang\n", allocs, failed, absorbed_n);
}

TEST(walk_counting_allocator) {
  corral_allocator al = {c_malloc, c_realloc, c_free, NULL};
  walk(&al, "counting allocator");
}

TEST(walk_default_allocator) { walk(NULL, "default allocator"); }

/* The same errno everywhere: the code a task sees is the one injected,
 * not a translation. */
static void list_site(const char *site, int err, void *arg) {
  (void)err;
  int *n = arg;
  if (getenv("FAULT_WALK_VERBOSE")) fprintf(stderr, "  call %d: %s\n", *n, site);
  ++*n;
}

TEST(sites_listed) {
  int n = 0;
  corral__inject_trace(list_site, &n);
  CHECK_RC(program_rc(NULL, 0), 0);
  corral__inject_trace(NULL, NULL);
  CHECK(n > 20);
}
