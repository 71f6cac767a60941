/* Where the jobs' output goes (grouped, in order, by line, tagged, straight
 * through, --results), the sinks corral writes to, and the live view's
 * drawing (engine_int.h).
 *
 * Memory: a job's output waits in a spool (CLI_SPOOL_MEM bytes in memory,
 * the rest in an unlinked file in the temporary directory); an unfinished
 * line of --line-buffer too. Writing: standard output and error are corral
 * streams, so a reader that does not keep up parks the writing task only;
 * timeouts, signals and the live view go on. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "view.h"

/* ----------------------------------------------------------------- spool */

void cli_spool_init(cli_spool *s) {
  memset(s, 0, sizeof *s);
  s->fd = -1;
}

void cli_spool_reset(cli_spool *s) {
  cli_buf_free(&s->mem);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  s->file_len = 0;
}

void cli_spool_free(cli_spool *s) { cli_spool_reset(s); }

uint64_t cli_spool_len(const cli_spool *s) { return s->fd >= 0 ? s->file_len : s->mem.len; }

size_t cli_spool_read(const cli_spool *s, uint64_t off, char *buf, size_t n) {
  if (s->fd < 0) {
    if (off >= s->mem.len) return 0;
    size_t l = s->mem.len - (size_t)off < n ? s->mem.len - (size_t)off : n;
    memcpy(buf, s->mem.data + off, l);
    return l;
  }
  for (;;) {
    ssize_t r = pread(s->fd, buf, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 ? (size_t)r : 0;
  }
}

static int file_write(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* An anonymous file in dir: O_TMPFILE, else a name unlinked at once. */
static int tmpfile_in(const char *dir) {
  int fd;
#ifdef O_TMPFILE
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -errno;
#endif
  char path[4200];
  snprintf(path, sizeof path, "%s/corral.XXXXXX", dir);
  fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) return -errno;
  unlink(path);
  return fd;
}

/* Append to the spool; past CLI_SPOOL_MEM everything moves to a file. */
static int spool_add(engine *e, cli_spool *s, const char *p, size_t n) {
  if (n == 0) return 0;
  if (s->fd < 0 && s->mem.len + n <= CLI_SPOOL_MEM)
    return cli_buf_add(&s->mem, p, n) ? -ENOMEM : 0;
  if (s->fd < 0) {
    int fd = tmpfile_in(e->tmpdir);
    if (fd == -EMFILE || fd == -ENFILE) {
      /* Out of descriptors (a low ulimit -n): memory instead of failing
       * the run; a later chunk tries the file again. */
      if (!e->spool_mem_warned++)
        dprintf(2, "corral: Warning: no file handle left for a job's output "
                   "file: kept in memory (raise 'ulimit -n')\n");
      return cli_buf_add(&s->mem, p, n) ? -ENOMEM : 0;
    }
    if (fd < 0) return fd;
    int rc = file_write(fd, s->mem.data ? s->mem.data : "", s->mem.len);
    if (rc) {
      close(fd);
      return rc;
    }
    s->fd = fd;
    s->file_len = s->mem.len;
    cli_buf_free(&s->mem);
  }
  int rc = file_write(s->fd, p, n);
  if (rc == 0) s->file_len += n;
  return rc;
}

int cli_check_tmpdir(engine *e, char *err, size_t errlen) {
  const char *d = e->c->tmpdir;
  if (!d) d = getenv("TMPDIR");
  if (!d || !*d) d = "/tmp";
  e->tmpdir = d;
  struct stat st;
  int rc = stat(d, &st) ? -errno : !S_ISDIR(st.st_mode) ? -ENOTDIR : 0;
  if (rc == 0) {
    int fd = tmpfile_in(d);
    if (fd < 0) rc = fd; else close(fd);
  }
  if (rc)
    snprintf(err, errlen, "cannot keep the jobs' output in %s%s: %s (set --tmpdir DIR or "
             "TMPDIR to a writable directory)", d, e->c->tmpdir ? " (--tmpdir)" : "",
             strerror(-rc));
  return rc;
}

/* ----------------------------------------------------------------- sinks */

void cli_file_error(engine *e, const char *what, const char *path, int err) {
  e->own_error = 1;
  dprintf(2, "corral: cannot write %s%s%s: %s\n", what, path ? " " : "", path ? path : "",
          strerror(-err));
}

int cli_sinks_open(engine *e) {
  int inherit = e->c->out == CLI_OUT_UNGROUP && !e->json_stdout && !e->c->results_dir;
  for (int i = 0; i < CLI_NSINKS; i++) {
    cli_sink *k = &e->sink[i];
    corral_lock_init(&k->lock, i == CLI_SINK_OUT ? "stdout" : i == CLI_SINK_ERR ? "stderr" : "json");
    k->lock_ready = 1;
    if (k->fd < 0 || k->broken) continue;
    /* Jobs that write straight to our descriptor (--ungroup) expect it as
     * it is: no stream (it would make it non-blocking) under them. */
    if (i != CLI_SINK_JSON && inherit) continue;
    struct stat st;
    if (fstat(k->fd, &st) == 0 && S_ISREG(st.st_mode)) continue; /* never waits */
    if (i == CLI_SINK_JSON) {
      int d = dup(k->fd);
      if (d >= 0 && corral_pipe_open(d, &k->s) != 0) {
        close(d);
        k->s = NULL;
      }
    } else if (corral_stdio_open(k->fd, &k->s) != 0) {
      k->s = NULL;
    }
  }
  return 0;
}

void cli_sinks_close(engine *e) {
  for (int i = 0; i < CLI_NSINKS; i++) {
    cli_sink *k = &e->sink[i];
    if (k->s) corral_stream_close(k->s);
    k->s = NULL;
  }
}

void cli_sinks_abandon(engine *e) {
  e->out_abandoned = 1;
  for (int i = 0; i < CLI_NSINKS; i++) {
    cli_sink *k = &e->sink[i];
    if (!k->s) continue;
    if (!k->broken) k->broken = 1, k->err = CORRAL_ECLOSED;
    corral_stream_close(k->s); /* a writer waiting for the reader wakes */
    k->s = NULL;
  }
}

static void sink_failed(engine *e, int which, int rc) {
  cli_sink *k = &e->sink[which];
  if (k->broken) return;
  k->broken = 1;
  k->err = rc;
  if (e->out_abandoned) return;
  if (which == CLI_SINK_OUT) {
    /* Nobody reads what the jobs print: stop starting jobs and end the
     * running ones (exit 141, as a program killed by SIGPIPE). */
    e->out_closed = 1;
    if (rc != -EPIPE) {
      e->own_error = 1;
      dprintf(2, "corral: cannot write standard output: %s\n",
              rc > -4096 ? strerror(-rc) : corral_strerror(rc));
    }
    cli_stop_all(e, "output", rc == -EPIPE ? "standard output was closed"
                                           : "standard output cannot be written", 1);
  } else if (which == CLI_SINK_JSON) {
    cli_file_error(e, "the JSON log", e->c->json_path, rc);
  }
  /* standard error: nowhere left to say it */
}

static int plain_write(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        int rc = corral_current() ? corral_wait_writable(fd) : CORRAL_ENOTASK;
        if (rc == CORRAL_ENOTASK) {
          struct pollfd pf = {.fd = fd, .events = POLLOUT};
          if (poll(&pf, 1, -1) < 0 && errno != EINTR) return -errno;
          continue;
        }
        if (rc) return rc;
        continue;
      }
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int cli_sink_write(engine *e, int which, const char *p, size_t n) {
  cli_sink *k = &e->sink[which];
  if (k->broken) return k->err;
  if (n == 0) return 0;
  int rc;
  if (k->fd < 0) {
    rc = -EBADF;
  } else if (k->s) {
    size_t w = 0;
    rc = corral_stream_write(k->s, p, n, &w);
  } else {
    rc = plain_write(k->fd, p, n);
  }
  if (rc == CORRAL_ECANCELED || rc == CORRAL_ETIMEDOUT) return rc;
  if (rc) sink_failed(e, which, rc);
  return rc;
}

int cli_sink_lock(engine *e, int which) {
  cli_sink *k = &e->sink[which];
  if (!k->lock_ready || !corral_current()) return 0;
  return corral_lock_acquire(&k->lock);
}

void cli_sink_unlock(engine *e, int which) {
  cli_sink *k = &e->sink[which];
  if (!k->lock_ready || !corral_current()) return;
  corral_lock_release(&k->lock);
}

/* Output is written in a shield: a job stopped by a timeout or a policy
 * still prints what it wrote, whole (a second signal abandons the sinks,
 * which wakes a writer waiting for a reader). */
typedef struct {
  corral_scope s;
  int on;
} shield;

static void shield_on(shield *sh) {
  memset(sh, 0, sizeof *sh);
  sh->on = corral_current() && corral_shield(&sh->s, CORRAL_FOREVER) == 0;
}

static void shield_off(shield *sh) {
  if (sh->on && corral_scope_exit(&sh->s, 0)) {
    /* nothing inside was cancellable */
  }
}

int cli_sink_put(engine *e, int which, const char *p, size_t n) {
  shield sh;
  shield_on(&sh);
  int rc = cli_sink_lock(e, which);
  if (rc == 0) {
    rc = cli_sink_write(e, which, p, n);
    cli_sink_unlock(e, which);
  }
  shield_off(&sh);
  return rc;
}

/* Watches the output. Standard output is a pipe or a socket whose reader may go away while
 * every job is still running (and nothing is written yet: grouped output
 * waits for a job's end). Look every 100 ms: poll(2) reports POLLERR on a
 * pipe whose reader closed it, POLLHUP on a socket. Then the run stops as
 * when a write fails with EPIPE. */
int cli_watch_task(void *arg, void **result) {
  (void)result;
  engine *e = arg;
  cli_sink *k = &e->sink[CLI_SINK_OUT];
  struct stat st;
  int pipe = k->fd >= 0 && fstat(k->fd, &st) == 0 &&
             (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
  while (!e->view_stop) {
    struct pollfd pf = {.fd = k->fd, .events = 0};
    if (pipe && !k->broken && poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP)))
      sink_failed(e, CLI_SINK_OUT, -EPIPE);
    /* Stopped by a signal: the jobs' output is still printed, but a reader
     * that takes none of it does not hold corral beyond this time. */
    /* The same once the run's deadline has passed. */
    if (e->c->deadline_ns && !e->abandon_at &&
        corral_now() >= e->t_start_rt + e->c->deadline_ns) {
      int64_t t = 2 * CLI_NS_PER_SEC;
      for (size_t i = 0; i < e->ts_live.n; i++) t += e->ts_live.step[i].wait_ns;
      e->abandon_at = corral_now() + t;
    }
    if (e->abandon_at && corral_now() >= e->abandon_at && !e->out_abandoned)
      cli_sinks_abandon(e);
    if (corral_sleep(100 * CLI_NS_PER_MS)) break;
  }
  return 0;
}

/* ---------------------------------------------------------------- output */

static void view_erase(engine *e);

static const char *const colors[] = {"\033[31m", "\033[32m", "\033[33m",
                                     "\033[34m", "\033[35m", "\033[36m"};

void cli_add_tag(engine *e, job *j, cli_buf *b) {
  if (e->c->tagtmpl && !e->c->color) {
    /* An empty --tagstring is no tag at all, as in GNU parallel. */
    size_t len0 = b->len;
    cli_template_expand(e->c->tagtmpl, &j->args, b);
    if (b->len != len0) cli_buf_addc(b, '\t');
    return;
  }
  if (e->c->color) cli_buf_adds(b, colors[j->seq % 6]);
  if (e->c->tagtmpl) {
    cli_template_expand(e->c->tagtmpl, &j->args, b);
  } else {
    for (size_t i = 0; i < j->args.n; i++) {
      if (i) cli_buf_addc(b, ' ');
      cli_buf_adds(b, j->args.v[i]);
    }
  }
  if (e->c->color) cli_buf_adds(b, "\033[0m");
  cli_buf_addc(b, '\t');
}

/* Write p to the sink, each line prefixed with the job's tag with --tag.
 * *bol: the next byte starts a line. The caller holds the sink's lock. */
static int put_tagged(engine *e, job *j, int which, const char *p, size_t n, int *bol) {
  if (n == 0) return 0;
  if (!e->c->tag) {
    *bol = p[n - 1] == '\n';
    return cli_sink_write(e, which, p, n);
  }
  cli_buf b = {0};
  size_t i = 0;
  int rc = 0;
  while (i < n && rc == 0) {
    const char *nl = memchr(p + i, '\n', n - i);
    size_t l = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
    if (*bol) cli_add_tag(e, j, &b);
    cli_buf_add(&b, p + i, l);
    *bol = nl != NULL;
    i += l;
    if (b.len >= 65536 || i == n) {
      rc = cli_sink_write(e, which, b.data, b.len);
      cli_buf_reset(&b);
    }
  }
  cli_buf_free(&b);
  return rc;
}

/* Copy a spool to the sink (caller holds the lock), in 64 KiB pieces. */
static int put_spool(engine *e, job *j, int which, const cli_spool *s, int *bol) {
  if (s->fd < 0) return put_tagged(e, j, which, s->mem.data, s->mem.len, bol);
  enum { CHUNK = 64 * 1024 };
  char *buf = malloc(CHUNK);
  if (!buf) return -ENOMEM;
  int rc = 0;
  size_t got;
  for (uint64_t off = 0; rc == 0 && (got = cli_spool_read(s, off, buf, CHUNK)) > 0; off += got)
    rc = put_tagged(e, j, which, buf, got, bol);
  free(buf);
  return rc;
}

/* With --tag every line ends with a newline, so the next prefix starts a
 * line (also after a last line that had none). */
static void end_line(engine *e, int which, int bol) {
  if (e->c->tag && !bol) cli_sink_write(e, which, "\n", 1);
}

static int lock_for(engine *e, int which) {
  int rc = cli_sink_lock(e, which);
  if (rc == 0 && e->view_on) {
    if (which == CLI_SINK_OUT) {
      if (cli_sink_lock(e, CLI_SINK_ERR) == 0) {
        view_erase(e);
        cli_sink_unlock(e, CLI_SINK_ERR);
      }
    } else {
      view_erase(e);
    }
  }
  return rc;
}

static void spool_failed(engine *e, job *j, int rc) {
  if (e->spool_failed++) return;
  dprintf(2, "corral: cannot keep the output of job %llu in %s: %s\n",
          (unsigned long long)j->seq, e->tmpdir, strerror(-rc));
  e->own_error = 1;
  cli_stop_all(e, "output", "the jobs' output could not be kept", 1);
}

/* Bytes [from, to) of a spool to the sink (caller holds the lock). */
static int put_spool_range(engine *e, job *j, int which, const cli_spool *s, uint64_t from,
                           uint64_t to, int *bol) {
  enum { CHUNK = 64 * 1024 };
  char *buf = malloc(CHUNK);
  if (!buf) return -ENOMEM;
  int rc = 0;
  while (rc == 0 && from < to) {
    size_t want = to - from < CHUNK ? (size_t)(to - from) : CHUNK;
    size_t got = cli_spool_read(s, from, buf, want);
    if (!got) break;
    rc = put_tagged(e, j, which, buf, got, bol);
    from += got;
  }
  free(buf);
  return rc;
}

/* Where the last line of a spool ends (0: no newline in it). */
static uint64_t spool_line_end(const cli_spool *s) {
  char buf[4096];
  uint64_t end = cli_spool_len(s);
  while (end > 0) {
    uint64_t from = end > sizeof buf ? end - sizeof buf : 0;
    size_t got = cli_spool_read(s, from, buf, (size_t)(end - from));
    const char *nl = got ? memrchr(buf, '\n', got) : NULL;
    if (nl) return from + (uint64_t)(nl - buf) + 1;
    if (got == 0) break;
    end = from;
  }
  return 0;
}

void cli_go_live(engine *e, job *j) {
  if (j->live) return;
  if (e->json_stdout) {
    j->live = 1;
    return;
  }
  shield sh;
  shield_on(&sh);
  /* Both locks, in the order every writer takes them (standard output
   * first): what the job printed so far goes out before anything it
   * prints from now on. Until the job is marked live its output keeps
   * going to its spools, also while this task waits for the locks. */
  int lo = lock_for(e, CLI_SINK_OUT);
  int le = cli_sink_lock(e, CLI_SINK_ERR);
  uint64_t cut[3] = {0};
  for (int w = 1; w <= 2; w++) {
    cli_spool *s = w == 1 ? &j->out : &j->err;
    cut[w] = spool_line_end(s);
    /* An unfinished last line waits for its end with the lines to come. */
    uint64_t len = cli_spool_len(s);
    if (len > cut[w]) {
      int rc = 0;
      char buf[4096];
      for (uint64_t off = cut[w]; rc == 0 && off < len;) {
        size_t got = cli_spool_read(s, off, buf, sizeof buf);
        if (!got) break;
        rc = spool_add(e, &j->part[w], buf, got);
        off += got;
      }
      if (rc) spool_failed(e, j, rc);
    }
  }
  j->live = 1;
  for (int w = 1; w <= 2; w++) {
    int bol = 1;
    if ((w == 1 ? lo : le) == 0 && cut[w])
      put_spool_range(e, j, w == 1 ? CLI_SINK_OUT : CLI_SINK_ERR, w == 1 ? &j->out : &j->err, 0,
                      cut[w], &bol);
    cli_spool_reset(w == 1 ? &j->out : &j->err);
  }
  if (le == 0) cli_sink_unlock(e, CLI_SINK_ERR);
  if (lo == 0) cli_sink_unlock(e, CLI_SINK_OUT);
  shield_off(&sh);
}

void cli_on_data(void *ctx, int which, const char *p, size_t n) {
  job *j = ctx;
  engine *e = j->e;
  if (j->fd_res[which] >= 0 && n) {
    int rc = file_write(j->fd_res[which], p, n);
    if (rc) {
      close(j->fd_res[which]);
      j->fd_res[which] = -1;
      if (!e->results_failed++) cli_file_error(e, "to --results", e->c->results_dir, rc);
    }
  }
  j->bytes[which] += n;
  if (which == 2 && n) {
    cli_buf_add(&j->tail, p, n);
    if (j->tail.len > 4096) cli_buf_consume(&j->tail, j->tail.len - 1024);
  }
  if ((e->c->out == CLI_OUT_LINE || j->live) && !e->json_stdout) {
    cli_spool *part = &j->part[which];
    int sk = which == 1 ? CLI_SINK_OUT : CLI_SINK_ERR;
    const char *nl = n ? memrchr(p, '\n', n) : NULL;
    if (n && !nl) { /* no line ends here: keep it */
      int rc = spool_add(e, part, p, n);
      if (rc) spool_failed(e, j, rc);
      return;
    }
    size_t l = nl ? (size_t)(nl - p) + 1 : 0;
    if (l || cli_spool_len(part)) {
      shield sh;
      shield_on(&sh);
      if (lock_for(e, sk) == 0) {
        int bol = 1;
        int rc = put_spool(e, j, sk, part, &bol);
        if (rc == 0) rc = put_tagged(e, j, sk, p, l, &bol);
        if (n == 0) end_line(e, sk, bol); /* the stream's last line */
        cli_sink_unlock(e, sk);
      }
      shield_off(&sh);
      cli_spool_reset(part);
    }
    if (n > l) {
      int rc = spool_add(e, part, p + l, n - l);
      if (rc) spool_failed(e, j, rc);
    }
    return;
  }
  if (n) {
    int rc = spool_add(e, which == 1 ? &j->out : &j->err, p, n);
    if (rc) spool_failed(e, j, rc);
  }
}

void cli_emit_job_output(engine *e, job *j, const char *trailer, size_t tlen) {
  if (e->json_stdout) return;
  shield sh;
  shield_on(&sh);
  for (int w = 1; w <= 2; w++) {
    cli_spool *s = w == 1 ? &j->out : &j->err;
    int sk = w == 1 ? CLI_SINK_OUT : CLI_SINK_ERR;
    if (cli_spool_len(s) == 0 && (w == 2 || !tlen)) continue;
    if (lock_for(e, sk)) continue;
    int bol = 1;
    if (put_spool(e, j, sk, s, &bol) == 0) end_line(e, sk, bol);
    if (w == 1 && tlen) cli_sink_write(e, sk, trailer, tlen);
    cli_sink_unlock(e, sk);
  }
  shield_off(&sh);
}

/* ------------------------------------------------------------------ view */

/* Erase the frame (the caller holds standard error's lock). */
static void view_erase(engine *e) {
  if (!e->view_on || e->view_lines == 0) return;
  cli_buf b = {0};
  cli_view_erase(e->view_lines, &b);
  cli_sink_write(e, CLI_SINK_ERR, b.data, b.len);
  cli_buf_free(&b);
  e->view_lines = 0;
  e->view_dirty = 1;
}

void cli_view_draw(engine *e) {
  if (!e->view_on) return;
  /* A job's output on the same terminal is being written: the next frame. */
  if (e->stdout_tty && corral_lock_owner(&e->sink[CLI_SINK_OUT].lock)) return;
  /* The lock first: taking it may let other tasks run (a schedule point),
   * and the frame, the running jobs and view_lines must be those of the
   * moment it is written (a writer erases view_lines lines). */
  if (cli_sink_lock(e, CLI_SINK_ERR)) return;
  size_t n = 0;
  for (job *j = e->run_head; j; j = j->rnext) n++;
  cli_view_job *vj = calloc(n ? n : 1, sizeof *vj);
  if (!vj) {
    cli_sink_unlock(e, CLI_SINK_ERR);
    return;
  }
  int64_t now = corral_now();
  size_t i = 0;
  for (job *j = e->run_head; j && i < n; j = j->rnext, i++) {
    vj[i].seq = j->seq;
    vj[i].elapsed_ns = now - j->t0;
    vj[i].cmd = j->cmd;
  }
  char note[400] = "";
  if (e->nsig == 1) snprintf(note, sizeof note, "stopping (%s): press Ctrl-C again to kill at once", e->stop_why);
  else if (e->verdict.triggered && e->tally.running) snprintf(note, sizeof note, "stopping: %s", e->verdict.why);
  cli_view_state s = {.ok = e->tally.ok, .failed = e->tally.failed,
                      .cancelled = e->tally.cancelled, .running = e->tally.running,
                      .total = e->tally.total, .total_known = e->tally.input_done,
                      .elapsed_ns = now - e->t_start, .jobs = vj, .njobs = n,
                      .width = e->tty_cols, .max_jobs = 8, .note = note[0] ? note : NULL};
  cli_buf b = {0};
  cli_view_erase(e->view_lines, &b);
  cli_view_render(&s, &b, &e->view_lines);
  free(vj); /* the job's commands are not used past here: b holds the frame */
  cli_sink_write(e, CLI_SINK_ERR, b.data, b.len);
  cli_sink_unlock(e, CLI_SINK_ERR);
  cli_buf_free(&b);
  e->view_dirty = 0;
}

void cli_view_clear(engine *e) {
  if (!e->view_on || e->view_lines == 0) return;
  if (cli_sink_lock(e, CLI_SINK_ERR) == 0) {
    view_erase(e);
    cli_sink_unlock(e, CLI_SINK_ERR);
  }
}

int cli_view_task(void *arg, void **result) {
  (void)result;
  engine *e = arg;
  while (!e->view_stop) {
    cli_view_draw(e);
    if (corral_sleep(100 * CLI_NS_PER_MS)) break; /* at most 10 frames/s */
  }
  return 0;
}

/* --------------------------------------------------------------- results */

int cli_open_results(engine *e, job *j) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%llu", e->c->results_dir, (unsigned long long)j->seq);
  if (mkdir(dir, 0777) && errno != EEXIST) return -errno;
  static const char *const names[] = {NULL, "stdout", "stderr"};
  for (int i = 1; i < 3; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    j->fd_res[i] = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (j->fd_res[i] < 0) return -errno;
  }
  char p[4200];
  snprintf(p, sizeof p, "%s/cmd", dir);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return -errno;
  int rc = file_write(fd, j->cmd, strlen(j->cmd));
  if (rc == 0) rc = file_write(fd, "\n", 1);
  close(fd);
  return rc;
}

void cli_write_exitval(engine *e, job *j) {
  char p[4200], v[32];
  snprintf(p, sizeof p, "%s/%llu/exitval", e->c->results_dir, (unsigned long long)j->seq);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  int rc = fd < 0 ? -errno : 0;
  if (fd >= 0) {
    int l = snprintf(v, sizeof v, "%d\n", j->sig ? -1 : j->exit_code);
    rc = file_write(fd, v, (size_t)l);
    close(fd);
  }
  if (rc && !e->results_failed++) cli_file_error(e, "to --results", e->c->results_dir, rc);
}
