/* Files: open/read/write/pread/pwrite/sync/stat/rename/unlink/mkdir,
 * whole-file helpers, cancellation while queued, descriptors back to the
 * starting count. */
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>

static char dir[64];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/corral-file-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
}
static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK_EQ(system(cmd), 0);
}
static const char *path(const char *name) {
  static char buf[4][128];
  static int i;
  char *b = buf[i++ % 4];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

static int m_basic(void *arg, void **res) {
  (void)arg, (void)res;
  corral_file *f;
  size_t wrote = 99;
  CHECK_RC(corral_file_open(path("a"), O_RDWR | O_CREAT | O_TRUNC, 0640, &f), 0);
  CHECK(corral_file_fd(f) >= 0);
  CHECK_RC(corral_file_write(f, "hello, world", 12, &wrote), 0);
  CHECK_EQ(wrote, 12);
  CHECK_RC(corral_file_pwrite(f, "W", 1, 7, &wrote), 0);
  CHECK_EQ(wrote, 1);
  CHECK_RC(corral_file_sync(f), 0);
  char buf[32] = {0};
  CHECK_EQ(corral_file_pread(f, buf, sizeof buf, 0), 12);
  CHECK_STR(buf, "hello, World");
  CHECK_EQ(corral_file_pread(f, buf, sizeof buf, 12), 0); /* EOF */
  corral_stat st;
  CHECK_RC(corral_file_fstat(f, &st), 0);
  CHECK_EQ(st.size, 12);
  CHECK_EQ(st.mode & 0777, 0640);
  CHECK(S_ISREG(st.mode));
  CHECK(st.mtime_ns > 0);
  CHECK_RC(corral_file_close(f), 0);

  CHECK_RC(corral_file_open(path("a"), O_RDONLY, 0, &f), 0);
  memset(buf, 0, sizeof buf);
  CHECK_EQ(corral_file_read(f, buf, 5), 5);
  CHECK_EQ(corral_file_read(f, buf + 5, 100), 7); /* the position moved */
  CHECK_STR(buf, "hello, World");
  CHECK(corral_file_write(f, "x", 1, &wrote) < 0); /* read-only */
  CHECK_EQ(wrote, 0);
  CHECK_RC(corral_file_close(f), 0);

  CHECK_RC(corral_file_mkdir(path("d"), 0755), 0);
  CHECK_RC(corral_file_mkdir(path("d"), 0755), -EEXIST);
  CHECK_RC(corral_file_rename(path("a"), path("d/b")), 0);
  CHECK_RC(corral_file_stat(path("a"), &st), CORRAL_ENOENT);
  CHECK_RC(corral_file_stat(path("d/b"), &st), 0);
  CHECK_EQ(st.size, 12);
  CHECK_RC(corral_file_rmdir(path("d")), -ENOTEMPTY);
  CHECK_RC(corral_file_unlink(path("d/b")), 0);
  CHECK_RC(corral_file_unlink(path("d/b")), CORRAL_ENOENT);
  CHECK_RC(corral_file_rmdir(path("d")), 0);
  CHECK_RC(corral_file_open(path("nope"), O_RDONLY, 0, &f), CORRAL_ENOENT);
  CHECK(f == NULL);
  CHECK(corral_last_error() != NULL); /* names the path */
  CHECK(strstr(corral_error_message(corral_last_error()), "nope") != NULL);
  /* Bad input: codes, never a crash. */
  CHECK_RC(corral_file_open(NULL, O_RDONLY, 0, &f), CORRAL_EINVAL);
  CHECK_RC(corral_file_read(NULL, buf, 1), CORRAL_EINVAL);
  CHECK_RC(corral_file_pread(NULL, buf, 1, 0), CORRAL_EINVAL);
  CHECK_RC(corral_file_write(NULL, buf, 1, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_file_stat(NULL, &st), CORRAL_EINVAL);
  CHECK_RC(corral_file_close(NULL), 0);
  return 0;
}

TEST(basic_operations) {
  make_dir();
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_basic, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
  remove_dir();
}

TEST(outside_a_task) {
  corral_file *f = NULL;
  CHECK_RC(corral_file_open("/dev/null", O_RDONLY, 0, &f), CORRAL_ENOTASK);
  CHECK_RC(corral_file_unlink("/nonexistent"), CORRAL_ENOTASK);
}

static int m_whole(void *arg, void **res) {
  (void)arg, (void)res;
  enum { N = 300000 };
  char *big = malloc(N);
  for (int i = 0; i < N; i++) big[i] = (char)('a' + i % 26);
  CHECK_RC(corral_file_write_all(path("big"), big, N, 0644), 0);
  char *data;
  size_t len;
  CHECK_RC(corral_file_read_all(path("big"), N, &data, &len), 0);
  CHECK_EQ(len, N);
  CHECK(memcmp(data, big, N) == 0);
  CHECK_EQ(data[N], 0);
  free(data);
  CHECK_RC(corral_file_read_all(path("big"), N - 1, &data, &len), CORRAL_ERANGE);
  CHECK(data == NULL);
  CHECK_EQ(len, 0);
  /* A file whose size says 0 is read to its end (proc files). */
  CHECK_RC(corral_file_read_all("/proc/self/status", 1 << 20, &data, &len), 0);
  CHECK(len > 0 && strstr(data, "Name:") != NULL);
  free(data);
  CHECK_RC(corral_file_read_all("/proc/self/status", 8, &data, &len), CORRAL_ERANGE);
  CHECK_RC(corral_file_write_all(path("empty"), "", 0, 0644), 0);
  CHECK_RC(corral_file_read_all(path("empty"), 10, &data, &len), 0);
  CHECK_EQ(len, 0);
  CHECK_EQ(data[0], 0);
  free(data);
  CHECK_RC(corral_file_read_all(path("missing"), 10, &data, &len), CORRAL_ENOENT);
  free(big);
  return 0;
}

TEST(whole_file_helpers) {
  make_dir();
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_whole, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
  remove_dir();
}

/* Cancellation while queued: libuv's pool (4 threads) is kept busy by four
 * reads of a FIFO nobody writes yet; a stat queued behind them is
 * cancelled, returns CORRAL_ECANCELED at once and never runs. */
static int fifo_opened; /* readers whose open returned (runtime thread) */
static int fifo_reader(void *arg, void **res) {
  (void)res;
  corral_file *f;
  int rc = corral_file_open(arg, O_RDONLY, 0, &f); /* blocks in a worker */
  if (rc) return rc;
  fifo_opened++;
  char c;
  rc = corral_file_read(f, &c, 1);
  corral_file_close(f);
  return rc < 0 ? rc : 0;
}

static int queued_mkdir(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_file_mkdir(path("never"), 0755);
}

static int m_cancel_queued(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_EQ(mkfifo(path("fifo"), 0600), 0);
  corral_group g;
  CHECK_RC(corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT}), 0);
  for (int i = 0; i < 4; i++)
    CHECK_RC(corral_spawn(&g, fifo_reader, (void *)path("fifo"), "reader", NULL), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(50)), 0); /* all four block in open */
  corral_task *t;
  CHECK_RC(corral_spawn(&g, queued_mkdir, NULL, "queued", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(20)), 0);
  CHECK_RC(corral_cancel(t, "give up"), 0);
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  corral_task_release(t);
  /* Release the readers: a writer opens the FIFO, and writes once every
   * reader has it open (a reader opening after the writer closed would
   * wait for the next writer forever). */
  int wfd = open(path("fifo"), O_WRONLY);
  CHECK(wfd >= 0);
  while (fifo_opened < 4) CHECK_RC(corral_sleep(CORRAL_MS(1)), 0);
  CHECK_EQ(write(wfd, "xxxx", 4), 4);
  close(wfd);
  CHECK_RC(corral_group_close(&g, 0), 0);
  corral_stat st;
  CHECK_RC(corral_file_stat(path("never"), &st), CORRAL_ENOENT); /* never ran */
  return 0;
}

TEST(cancel_while_queued_never_runs) {
  setenv("UV_THREADPOOL_SIZE", "4", 1); /* read at the pool's first use */
  make_dir();
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_cancel_queued, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
  remove_dir();
}

/* A running request cannot be withdrawn: the task waits for it and gets
 * its real result. */
static int m_cancel_running(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_EQ(mkfifo(path("fifo2"), 0600), 0);
  corral_stat st; /* libuv's workers exist from here on */
  CHECK_RC(corral_file_stat(path("fifo2"), &st), 0);
  corral_scope sc;
  CHECK_RC(corral_scope_enter(&sc, NULL), 0);
  corral_task *t;
  CHECK_RC(corral_create_task(fifo_reader, (void *)path("fifo2"), "reader", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(100)), 0); /* open runs in a worker */
  CHECK_RC(corral_cancel(t, "stop"), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(30)), 0);
  CHECK(!corral_task_done(t)); /* still waiting for its open */
  int wfd = open(path("fifo2"), O_WRONLY);
  CHECK(wfd >= 0);
  close(wfd);
  /* The open completed (a real descriptor), then the read saw the
   * cancellation; its close still ran. */
  CHECK_RC(corral_join(t, NULL), CORRAL_ECANCELED);
  corral_task_release(t);
  return corral_scope_exit(&sc, 0);
}

TEST(cancel_while_running_waits) {
  make_dir();
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_cancel_running, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
  remove_dir();
}

/* Files left open are closed by the runtime's end; a close while another
 * task's request runs is deferred until it completes. */
static int m_left_open(void *arg, void **res) {
  (void)arg, (void)res;
  corral_file *f;
  for (int i = 0; i < 10; i++)
    CHECK_RC(corral_file_open("/dev/null", O_RDONLY, 0, &f), 0);
  return 0;
}

TEST(runtime_end_closes_files) {
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_left_open, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
}

static int blocked_read(void *arg, void **res) {
  (void)res;
  char c;
  return corral_file_read(arg, &c, 1) == 1 ? 0 : CORRAL_EIO;
}

static int m_close_deferred(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_EQ(mkfifo(path("fifo3"), 0600), 0);
  int wfd = open(path("fifo3"), O_RDWR); /* keeps the FIFO open */
  CHECK(wfd >= 0);
  corral_file *f;
  CHECK_RC(corral_file_open(path("fifo3"), O_RDONLY, 0, &f), 0);
  corral_task *t;
  CHECK_RC(corral_create_task(blocked_read, f, "reader", &t), 0);
  CHECK_RC(corral_sleep(CORRAL_MS(30)), 0);
  CHECK_RC(corral_file_close(f), 0); /* deferred: the read still runs */
  CHECK_EQ(write(wfd, "z", 1), 1);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  close(wfd);
  return 0;
}

TEST(close_waits_for_running_requests) {
  make_dir();
  int fds = count_fds();
  CHECK_RC(corral_run(NULL, m_close_deferred, NULL, NULL), 0);
  CHECK_EQ(count_fds(), fds);
  remove_dir();
}
