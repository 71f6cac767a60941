/* A stream used against its direction (reading a pipe's write end,
 * writing its read end, shutting down a read end; the same for subprocess
 * pipes, terminals opened one way and standard streams) fails at once with
 * CORRAL_EBADF, as read(2) / write(2) on such a descriptor do, and a
 * message naming the stream; nothing blocks. Every test checks that the
 * descriptors and children are back to their starting count. */
#define _GNU_SOURCE
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Every read call on a stream that cannot be read, then write and
 * shutdown on one that cannot be written. */
static void check_not_readable(corral_stream *s, const char *what) {
  char buf[8];
  size_t got = 9;
  int rc;
  if ((rc = corral_stream_read(s, buf, sizeof buf)) != CORRAL_EBADF)
    FAILF("%s: read: %s", what, corral_err_name(rc));
  const corral_error *e = corral_last_error();
  if (!e || !strstr(corral_error_message(e), "not open for reading"))
    FAILF("%s: read: message \"%s\"", what,
          e ? corral_error_message(e) : "(none)");
  CHECK_RC(corral_stream_read_exactly(s, buf, 4, &got), CORRAL_EBADF);
  CHECK_EQ(got, 0);
  CHECK_RC(corral_stream_read_until(s, buf, sizeof buf, "\n", 1),
           CORRAL_EBADF);
  CHECK_RC(corral_stream_read_line(s, buf, sizeof buf), CORRAL_EBADF);
}

static void check_not_writable(corral_stream *s, const char *what) {
  size_t wrote = 9;
  int rc;
  if ((rc = corral_stream_write(s, "x", 1, &wrote)) != CORRAL_EBADF)
    FAILF("%s: write: %s", what, corral_err_name(rc));
  CHECK_EQ(wrote, 0);
  const corral_error *e = corral_last_error();
  if (!e || !strstr(corral_error_message(e), "not open for writing"))
    FAILF("%s: write: message \"%s\"", what,
          e ? corral_error_message(e) : "(none)");
  if ((rc = corral_stream_shutdown(s)) != CORRAL_EBADF)
    FAILF("%s: shutdown: %s", what, corral_err_name(rc));
}

static int m_pipe_ends(void *a, void **r) {
  (void)a, (void)r;
  corral_stream *rd, *wr;
  CHECK_RC(corral_pipe(&rd, &wr), 0);
  check_not_readable(wr, "pipe write end");
  check_not_writable(rd, "pipe read end");
  /* The right way round still works afterwards. */
  CHECK_RC(corral_stream_write(wr, "hi\n", 3, NULL), 0);
  char buf[8];
  CHECK_RC(corral_stream_read_line(rd, buf, sizeof buf), 3);
  CHECK_RC(corral_stream_shutdown(wr), 0);
  CHECK_RC(corral_stream_read(rd, buf, sizeof buf), 0);
  corral_stream_close(rd);
  corral_stream_close(wr);
  return 0;
}

TEST(pipe_used_against_its_direction) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_pipe_ends, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* corral_pipe_open and corral_stdio_open on one-way descriptors: a pipe's
 * ends and a file opened read-only / write-only. */
static int m_opened_ends(void *a, void **r) {
  (void)a, (void)r;
  int fds[2];
  CHECK(pipe(fds) == 0);
  corral_stream *rd, *wr, *srd, *swr;
  CHECK_RC(corral_stdio_open(fds[0], &srd), 0);
  CHECK_RC(corral_stdio_open(fds[1], &swr), 0);
  CHECK_RC(corral_pipe_open(fds[0], &rd), 0);
  CHECK_RC(corral_pipe_open(fds[1], &wr), 0);
  check_not_readable(swr, "stdio on a pipe's write end");
  check_not_writable(srd, "stdio on a pipe's read end");
  check_not_readable(wr, "pipe_open on a write end");
  check_not_writable(rd, "pipe_open on a read end");
  corral_stream_close(srd);
  corral_stream_close(swr);
  corral_stream_close(rd);
  corral_stream_close(wr);
  char path[] = "/tmp/corral-dir-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
  CHECK(ro >= 0 && wo >= 0);
  unlink(path);
  corral_stream *fro, *fwo;
  CHECK_RC(corral_stdio_open(ro, &fro), 0);
  CHECK_RC(corral_stdio_open(wo, &fwo), 0);
  CHECK_STR(corral_stream_kind(fro), "file");
  check_not_writable(fro, "read-only file");
  check_not_readable(fwo, "write-only file");
  corral_stream_close(fro);
  corral_stream_close(fwo);
  close(ro);
  close(wo);
  return 0;
}

TEST(opened_descriptors_used_against_their_direction) {
  int before = count_fds();
  CHECK_RC(run_virtual(m_opened_ends, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

/* A terminal opened read-only, then write-only. */
static int g_tty_ro, g_tty_wo;
static int m_tty_ends(void *a, void **r) {
  (void)a, (void)r;
  corral_stream *ro, *wo;
  CHECK_RC(corral_stdio_open(g_tty_ro, &ro), 0);
  CHECK_RC(corral_stdio_open(g_tty_wo, &wo), 0);
  CHECK_STR(corral_stream_kind(ro), "tty");
  check_not_writable(ro, "read-only terminal");
  check_not_readable(wo, "write-only terminal");
  corral_stream_close(ro);
  corral_stream_close(wo);
  return 0;
}

TEST(terminal_used_against_its_direction) {
  int before = count_fds();
  int leader = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(leader >= 0);
  CHECK(grantpt(leader) == 0 && unlockpt(leader) == 0);
  g_tty_ro = open(ptsname(leader), O_RDONLY | O_NOCTTY);
  g_tty_wo = open(ptsname(leader), O_WRONLY | O_NOCTTY);
  CHECK(g_tty_ro >= 0 && g_tty_wo >= 0);
  CHECK_RC(corral_run(NULL, m_tty_ends, NULL, NULL), 0);
  close(g_tty_ro);
  close(g_tty_wo);
  close(leader);
  CHECK_EQ(count_fds(), before);
}

/* A child's stdin stream cannot be read, its stdout stream cannot be
 * written nor shut down. */
static int m_child_pipes(void *a, void **r) {
  (void)a, (void)r;
  const char *argv[] = {"cat", NULL};
  corral_process_opts o = {.argv = argv};
  o.stdio[0].mode = CORRAL_STDIO_PIPE;
  o.stdio[1].mode = CORRAL_STDIO_PIPE;
  corral_process *p;
  CHECK_RC(corral_process_spawn(&o, &p), 0);
  corral_stream *in = corral_process_stream(p, 0);
  corral_stream *out = corral_process_stream(p, 1);
  check_not_readable(in, "child's stdin");
  check_not_writable(out, "child's stdout");
  CHECK_RC(corral_stream_write(in, "abc\n", 4, NULL), 0);
  CHECK_RC(corral_stream_shutdown(in), 0);
  char buf[8];
  CHECK_RC(corral_stream_read_line(out, buf, sizeof buf), 4);
  CHECK_STR(buf, "abc\n");
  int st = -1;
  CHECK_RC(corral_process_wait(p, &st, NULL), 0);
  CHECK_EQ(st, 0);
  corral_process_close(p);
  return 0;
}

TEST(subprocess_pipes_used_against_their_direction) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_child_pipes, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
  CHECK(waitpid(-1, NULL, WNOHANG) < 0); /* no child left */
}
