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
#include <sys/ioctl.h>
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
  if (e->c->verbose_out && !j->said && j->t0 && lo == 0) { /* -v: it started before */
    j->said = 1;
    cli_sink_write(e, CLI_SINK_OUT, j->cmd, strlen(j->cmd));
    cli_sink_write(e, CLI_SINK_OUT, "\n", 1);
  }
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
  /* --results: the output goes to its files (and into the CSV / JSON row),
   * not to corral's output, as GNU parallel. */
  if (e->c->results_dir && !e->json_stdout) {
    if ((e->c->results_csv || e->c->results_json) && n) {
      int rc = spool_add(e, which == 1 ? &j->out : &j->err, p, n);
      if (rc) spool_failed(e, j, rc);
    }
    return;
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
  cli_spool none;
  cli_spool_init(&none);
  for (int w = 1; w <= 2; w++) {
    cli_spool *s = e->c->results_dir ? &none : w == 1 ? &j->out : &j->err; /* --results: in files */
    int sk = w == 1 ? CLI_SINK_OUT : CLI_SINK_ERR;
    /* -v: the command before its held output (GNU parallel) */
    int cmd = w == 1 && e->c->verbose_out && !e->c->results_dir &&
              (e->c->out == CLI_OUT_GROUP || (e->c->out == CLI_OUT_KEEP_ORDER && !j->said));
    if (cli_spool_len(s) == 0 && (w == 2 || !tlen) && !cmd) continue;
    if (lock_for(e, sk)) continue;
    if (cmd) {
      cli_sink_write(e, sk, j->cmd, strlen(j->cmd));
      cli_sink_write(e, sk, "\n", 1);
    }
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
  /* The size now: the terminal may have been resized since the last frame. */
  struct winsize ws;
  if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) e->tty_cols = ws.ws_col, e->tty_rows = ws.ws_row;
  cli_view_state s = {.ok = e->tally.ok, .failed = e->tally.failed,
                      .cancelled = e->tally.cancelled, .running = e->tally.running,
                      .total = e->tally.total, .total_known = e->tally.input_done,
                      .elapsed_ns = now - e->t_start, .jobs = vj, .njobs = n,
                      .width = e->tty_cols, .height = e->tty_rows, .max_jobs = 8, .note = note[0] ? note : NULL};
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

/* mkdir -p: every directory of path (up to its last byte). 0 or -errno. */
int cli_mkpath(const char *path) {
  if (!*path) return -ENOENT;
  char *p = strdup(path);
  if (!p) return -ENOMEM;
  int rc = 0;
  for (char *q = p + 1;; q++) {
    if (*q != '/' && *q) continue;
    char was = *q;
    *q = 0;
    if (mkdir(p, 0777) && errno != EEXIST) rc = -errno;
    *q = was;
    if (!was || rc) break;
  }
  if (rc) {
    struct stat st; /* a component that exists but could not be made */
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rc = 0;
  }
  free(p);
  return rc;
}

/* One value as one directory name, as GNU parallel writes it: \ TAB and /
 * as \\ \t and \_, at most 255 bytes (NAME_MAX). */
static int res_escape(cli_buf *b, const char *v) {
  size_t start = b->len;
  int rc = 0;
  /* "." and ".." would name this directory or its parent (GNU parallel
   * writes them so, and a value ".." puts the files outside the results
   * directory): written \. and \.. (no escaped value starts so). */
  if (!strcmp(v, ".") || !strcmp(v, "..")) return cli_buf_addc(b, '\\') || cli_buf_adds(b, v);
  for (; *v && !rc; v++)
    rc = *v == '\\' ? cli_buf_adds(b, "\\\\") : *v == '\t' ? cli_buf_adds(b, "\\t")
       : *v == '/' ? cli_buf_adds(b, "\\_") : cli_buf_addc(b, *v);
  if (!rc && b->len - start > 255) b->data[b->len = start + 255] = 0;
  return rc;
}

/* The name of column i (0-based) of a record: its --header name, else its
 * number from 1. */
static const char *col_name(const cli_args *a, size_t i, char *num, size_t nlen) {
  if (i < a->nnames && a->names[i]) return a->names[i];
  snprintf(num, nlen, "%zu", i + 1);
  return num;
}

/* GNU parallel orders the columns of the tree by name: numerically (a name
 * that is no number is 0), then as strings. */
static const cli_args *sort_args;
static int col_cmp(const void *x, const void *y) {
  size_t a = *(const size_t *)x, b = *(const size_t *)y;
  char na[32], nb[32];
  const char *sa = col_name(sort_args, a, na, sizeof na), *sb = col_name(sort_args, b, nb, sizeof nb);
  double da = strtod(sa, NULL), db = strtod(sb, NULL);
  if (da != db) return da < db ? -1 : 1;
  return strcmp(sa, sb);
}

/* DIR/NAME1/VALUE1/NAME2/VALUE2/... for the job's values, record after
 * record. 0 or -ENOMEM. */
static int res_tree(const cli_args *a, const char *root, cli_buf *out) {
  size_t w = a->width && a->n % a->width == 0 ? a->width : a->n;
  size_t *order = malloc((w ? w : 1) * sizeof *order);
  if (!order) return -ENOMEM;
  for (size_t i = 0; i < w; i++) order[i] = i;
  sort_args = a;
  qsort(order, w, sizeof *order, col_cmp);
  int rc = cli_buf_adds(out, root);
  for (size_t r = 0; w && r < a->n / w && !rc; r++)
    for (size_t i = 0; i < w && !rc; i++) {
      char num[32];
      rc = cli_buf_addc(out, '/') || res_escape(out, col_name(a, order[i], num, sizeof num)) ||
           cli_buf_addc(out, '/') || res_escape(out, a->v[r * w + order[i]]);
    }
  free(order);
  return rc ? -ENOMEM : 0;
}

static int res_open(const char *path, int *fd) {
  *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  return *fd < 0 ? -errno : 0;
}

/* Where a job's results go: a directory (*dir = 1) or the name of its
 * standard output's file. 0 or -ENOMEM. */
static int res_base(engine *e, job *j, cli_buf *base, int *dir) {
  const cli_config *c = e->c;
  *dir = 1;
  if (!c->results_tmpl) return res_tree(&j->args, c->results_dir, base);
  if (cli_template_expand(c->results_tmpl, &j->args, base) || cli_buf_adds(base, ""))
    return -ENOMEM;
  *dir = base->len && base->data[base->len - 1] == '/';
  /* A value may not climb out of where the name puts it: a ".." that the
   * name itself does not have is refused (the job fails, nothing is
   * written), where GNU parallel would write there. */
  if (!strstr(c->results_dir, "..")) {
    for (const char *q = base->data; q && *q; q = strchr(q, '/'), q = q ? q + 1 : NULL)
      if (q[0] == '.' && q[1] == '.' && (q[2] == '/' || q[2] == 0)) return -EPERM;
  }
  return 0;
}

int cli_results_exist(engine *e, job *j) {
  const cli_config *c = e->c;
  if (!c->results_dir || c->results_csv || c->results_json) return 0;
  cli_buf base = {0};
  int dir, ok = 0;
  if (res_base(e, j, &base, &dir) == 0) {
    /* its seq file holds its number once it ended (a stopped job's is
     * empty: it runs again) */
    cli_buf_adds(&base, dir ? "/seq" : ".seq");
    struct stat st;
    ok = base.data && stat(base.data, &st) == 0 && st.st_size > 0;
  }
  cli_buf_free(&base);
  return ok;
}

int cli_open_results(engine *e, job *j) {
  const cli_config *c = e->c;
  if (c->results_csv || c->results_json) return 0; /* one file, written at the end of each job */
  cli_buf base = {0};
  int dir, rc = res_base(e, j, &base, &dir);
  if (rc) goto out;
  if (dir) {
    rc = cli_mkpath(base.data);
  } else { /* NAME, NAME.err, NAME.seq; its directory made first */
    char *sl = strrchr(base.data, '/');
    if (sl && sl != base.data) {
      *sl = 0;
      rc = cli_mkpath(base.data);
      *sl = '/';
    }
  }
  if (rc) goto out;
  char p[8192];
  const char *sfx[3] = {dir ? "/seq" : ".seq", dir ? "/stdout" : "", dir ? "/stderr" : ".err"};
  for (int i = 1; i < 3 && !rc; i++) {
    snprintf(p, sizeof p, "%s%s", base.data, sfx[i]);
    rc = res_open(p, &j->fd_res[i]);
  }
  if (!rc) {
    /* The seq file gets its number when the job has ended, not stopped
     * (cli_results_row): --resume reruns a job whose seq is empty. */
    snprintf(p, sizeof p, "%s%s", base.data, sfx[0]);
    rc = res_open(p, &j->fd_res[0]);
  }
out:
  cli_buf_free(&base);
  return rc;
}

/* The whole spool as a string (NUL-terminated; "" when empty). */
static int spool_all(const cli_spool *s, cli_buf *b) {
  uint64_t len = cli_spool_len(s);
  if (cli_buf_add(b, "", 0)) return -ENOMEM;
  for (uint64_t off = 0; off < len;) {
    char buf[65536];
    size_t got = cli_spool_read(s, off, buf, sizeof buf);
    if (!got) break;
    if (cli_buf_add(b, buf, got)) return -ENOMEM;
    off += got;
  }
  return 0;
}

/* A CSV field as GNU parallel writes it: quoted (" doubled) when it holds
 * a quote, white space, the separator or a NUL. */
static int csv_field(cli_buf *b, char sep, int first, const char *v, size_t n) {
  int q = 0;
  for (size_t i = 0; i < n && !q; i++)
    q = v[i] == '"' || v[i] == sep || v[i] == ' ' || (v[i] >= '\t' && v[i] <= '\r') || !v[i];
  int rc = first ? 0 : cli_buf_addc(b, sep);
  if (!q) return rc || cli_buf_add(b, v, n) ? -ENOMEM : 0;
  rc = rc || cli_buf_addc(b, '"');
  for (size_t i = 0; i < n && !rc; i++)
    rc = v[i] == '"' ? cli_buf_adds(b, "\"\"") : cli_buf_addc(b, v[i]);
  return rc || cli_buf_addc(b, '"') ? -ENOMEM : 0;
}

static int json_str(cli_buf *b, const char *v, size_t n) {
  int rc = cli_buf_addc(b, '"');
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char ch = (unsigned char)v[i];
    rc = ch == '\\' ? cli_buf_adds(b, "\\\\") : ch == '"' ? cli_buf_adds(b, "\\\"")
       : ch < 32 ? cli_buf_printf(b, "\\u%04x", ch) : cli_buf_addc(b, (char)ch);
  }
  return rc || cli_buf_addc(b, '"') ? -ENOMEM : 0;
}

/* Perl's ++ on a string ("V9" becomes "W0"), which names GNU parallel's
 * CSV columns V1, V2, ... */
static void perl_incr(char *s) {
  for (size_t i = strlen(s); i-- > 0;) {
    char *ch = &s[i];
    if (*ch == '9') *ch = '0';
    else if (*ch == 'z') *ch = 'a';
    else if (*ch == 'Z') *ch = 'A';
    else {
      (*ch)++;
      return;
    }
  }
  /* every character wrapped: "99" becomes "100", "Z9" "AA0" */
  size_t l = strlen(s);
  memmove(s + 1, s, l + 1);
  s[0] = s[1] == '0' ? '1' : s[1];
}

/* --tag: each line of b after the job's tag (GNU parallel tags the output
 * it puts in the CSV / JSON row too). */
static int tag_lines(engine *e, job *j, cli_buf *b) {
  if (!e->c->tag || !b->len) return 0;
  cli_buf t = {0};
  int rc = 0;
  for (size_t i = 0; i < b->len && !rc;) {
    const char *nl = memchr(b->data + i, '\n', b->len - i);
    size_t l = nl ? (size_t)(nl - (b->data + i)) + 1 : b->len - i;
    cli_add_tag(e, j, &t);
    rc = cli_buf_add(&t, b->data + i, l);
    i += l;
  }
  cli_buf_free(b);
  *b = t;
  return rc;
}

void cli_results_row(engine *e, job *j, int exitval) {
  const cli_config *c = e->c;
  if (!c->results_csv && !c->results_json) {
    if (j->fd_res[0] >= 0 && j->status != CLI_JOB_CANCELLED) {
      char v[32];
      int l = snprintf(v, sizeof v, "%llu", (unsigned long long)j->seq);
      if (file_write(j->fd_res[0], v, (size_t)l) && !e->results_failed++)
        cli_file_error(e, "to --results", c->results_dir, -EIO);
    }
    return;
  }
  cli_buf b = {0}, out = {0}, err = {0};
  int rc = spool_all(&j->out, &out) || spool_all(&j->err, &err) ? -ENOMEM : 0;
  if (!rc) rc = tag_lines(e, j, &out) || tag_lines(e, j, &err) ? -ENOMEM : 0;
  char num[160];
  snprintf(num, sizeof num, "%.3f", j->epoch0);
  char rt[32];
  snprintf(rt, sizeof rt, "%.3f", (double)(j->t1 - j->t0) / 1e9);
  if (!rc && c->results_json) {
    rc = cli_buf_printf(&b, "{ \"Seq\": %llu, \"Host\": \":\", \"Starttime\": %s, \"JobRuntime\": %s, "
                        "\"Send\": 0, \"Receive\": %llu, \"Exitval\": %d, \"Signal\": %d, \"Command\": ",
                        (unsigned long long)j->seq, num, rt, (unsigned long long)j->bytes[1],
                        exitval, j->sig) ||
         json_str(&b, j->cmd, strlen(j->cmd)) || cli_buf_adds(&b, ", \"V\": [ ");
    for (size_t i = 0; i < j->args.n && !rc; i++)
      rc = (i && cli_buf_addc(&b, ',')) || json_str(&b, j->args.v[i], strlen(j->args.v[i]));
    rc = rc || cli_buf_adds(&b, " ], \"Stdout\": ") || json_str(&b, out.data, out.len) ||
         cli_buf_adds(&b, ", \"Stderr\": ") || json_str(&b, err.data, err.len) ||
         cli_buf_adds(&b, " }\n");
  } else if (!rc) {
    char sep = c->results_csv;
    if (!e->res_header) {
      e->res_header = 1;
      static const char *const cols[] = {"Seq", "Host", "Starttime", "JobRuntime", "Send",
                                         "Receive", "Exitval", "Signal", "Command"};
      for (size_t i = 0; i < 9 && !rc; i++) rc = csv_field(&b, sep, i == 0, cols[i], strlen(cols[i]));
      char v[64] = "V1";
      for (size_t i = 0; i < j->args.n && !rc; i++) {
        const char *name = v;
        if (c->in.header) name = i < j->args.nnames && j->args.names[i] ? j->args.names[i] : "";
        rc = csv_field(&b, sep, 0, name, strlen(name));
        if (strlen(v) < sizeof v - 2) perl_incr(v);
      }
      rc = rc || csv_field(&b, sep, 0, "Stdout", 6) || csv_field(&b, sep, 0, "Stderr", 6) ||
           cli_buf_addc(&b, '\n');
    }
    char sq[32], rcv[32], ev[16], sg[16];
    snprintf(sq, sizeof sq, "%llu", (unsigned long long)j->seq);
    snprintf(rcv, sizeof rcv, "%llu", (unsigned long long)j->bytes[1]);
    snprintf(ev, sizeof ev, "%d", exitval);
    snprintf(sg, sizeof sg, "%d", j->sig);
    const char *f[] = {sq, ":", num, rt, "0", rcv, ev, sg, j->cmd};
    for (size_t i = 0; i < 9 && !rc; i++) rc = csv_field(&b, sep, i == 0, f[i], strlen(f[i]));
    for (size_t i = 0; i < j->args.n && !rc; i++)
      rc = csv_field(&b, sep, 0, j->args.v[i], strlen(j->args.v[i]));
    rc = rc || csv_field(&b, sep, 0, out.data, out.len) || csv_field(&b, sep, 0, err.data, err.len) ||
         cli_buf_addc(&b, '\n');
  }
  if (!rc) {
    if (c->results_stdout) rc = cli_sink_put(e, CLI_SINK_OUT, b.data, b.len);
    else if (e->res_fd >= 0) rc = file_write(e->res_fd, b.data, b.len);
  }
  if (rc && !c->results_stdout && !e->results_failed++) cli_file_error(e, "to --results", c->results_dir, rc);
  cli_buf_free(&b);
  cli_buf_free(&out);
  cli_buf_free(&err);
}

int cli_results_start(engine *e) {
  const cli_config *c = e->c;
  e->res_fd = -1;
  if (!c->results_dir || c->results_stdout) return 0;
  if (c->results_csv || c->results_json) {
    e->res_fd = open(c->results_dir, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    return e->res_fd < 0 ? -errno : 0;
  }
  if (c->results_tmpl) return 0; /* each job makes its own */
  int rc = cli_mkpath(c->results_dir);
  if (rc) return rc;
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/.corral-probe", c->results_dir);
  int fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  close(fd);
  unlink(probe);
  return 0;
}
