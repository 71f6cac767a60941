/* Where the jobs' output goes (grouped, in order, by line, tagged, straight
 * through, --results) and the live view's drawing (engine_int.h). */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "view.h"

/* ---------------------------------------------------------------- output */

int cli_write_all(engine *e, int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        int wrc = corral_wait_writable(fd);
        if (wrc) return wrc;
        continue;
      }
      if (errno == EPIPE && fd == 1) e->out_closed = 1;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

void cli_view_clear(engine *e);

static const char *const colors[] = {"\033[31m", "\033[32m", "\033[33m",
                                     "\033[34m", "\033[35m", "\033[36m"};

static void add_tag(engine *e, job *j, cli_buf *b) {
  if (e->c->color) cli_buf_adds(b, colors[j->seq % 6]);
  for (size_t i = 0; i < j->args.n; i++) {
    if (i) cli_buf_addc(b, ' ');
    cli_buf_adds(b, j->args.v[i]);
  }
  if (e->c->color) cli_buf_adds(b, "\033[0m");
  cli_buf_addc(b, '\t');
}

/* Write data to fd, each line prefixed with the job's tag if --tag. */
static void emit(engine *e, job *j, int fd, const char *p, size_t n) {
  if (n == 0 || e->out_closed) return;
  cli_view_clear(e);
  if (!e->c->tag) {
    cli_write_all(e, fd, p, n);
    return;
  }
  cli_buf b = {0};
  size_t i = 0;
  while (i < n) {
    const char *nl = memchr(p + i, '\n', n - i);
    size_t l = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
    add_tag(e, j, &b);
    cli_buf_add(&b, p + i, l);
    i += l;
  }
  cli_write_all(e, fd, b.data, b.len);
  cli_buf_free(&b);
}

void cli_on_data(void *ctx, int which, const char *p, size_t n) {
  job *j = ctx;
  engine *e = j->e;
  if (j->fd_res[which] >= 0 && n) {
    if (write(j->fd_res[which], p, n) < 0) {
      /* a full disk shows in the file; keep the job running */
    }
  }
  j->bytes[which] += n;
  if (which == 2 && n) {
    cli_buf_add(&j->tail, p, n);
    if (j->tail.len > 4096) cli_buf_consume(&j->tail, j->tail.len - 1024);
  }
  if (e->c->out == CLI_OUT_LINE && !e->json_stdout) {
    cli_buf *b = &j->part[which];
    if (n == 0) { /* end of stream: the unfinished last line */
      emit(e, j, which, b->data, b->len);
      cli_buf_free(b);
      return;
    }
    cli_buf_add(b, p, n);
    char *nl = memrchr(b->data, '\n', b->len);
    if (nl) {
      size_t l = (size_t)(nl - b->data) + 1;
      emit(e, j, which, b->data, l);
      cli_buf_consume(b, l);
    }
    return;
  }
  if (n) cli_buf_add(which == 1 ? &j->out : &j->err, p, n);
}

void cli_emit_job_output(engine *e, job *j) {
  if (e->json_stdout) return;
  emit(e, j, 1, j->out.data, j->out.len);
  emit(e, j, 2, j->err.data, j->err.len);
}

/* ------------------------------------------------------------------ view */

void cli_view_draw(engine *e) {
  if (!e->view_on) return;
  size_t n = 0;
  for (job *j = e->run_head; j; j = j->rnext) n++;
  cli_view_job *vj = calloc(n ? n : 1, sizeof *vj);
  if (!vj) return;
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
  cli_write_all(e, 2, b.data, b.len);
  cli_buf_free(&b);
  free(vj);
  e->view_dirty = 0;
}

void cli_view_clear(engine *e) {
  if (!e->view_on || e->view_lines == 0) return;
  cli_buf b = {0};
  cli_view_erase(e->view_lines, &b);
  cli_write_all(e, 2, b.data, b.len);
  cli_buf_free(&b);
  e->view_lines = 0;
  e->view_dirty = 1;
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

void cli_open_results(engine *e, job *j) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%llu", e->c->results_dir, (unsigned long long)j->seq);
  mkdir(e->c->results_dir, 0777);
  mkdir(dir, 0777);
  static const char *const names[] = {NULL, "stdout", "stderr"};
  for (int i = 1; i < 3; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    j->fd_res[i] = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  }
  char p[4200];
  snprintf(p, sizeof p, "%s/cmd", dir);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd >= 0) {
    if (write(fd, j->cmd, strlen(j->cmd)) < 0 || write(fd, "\n", 1) < 0) {
    }
    close(fd);
  }
}

void cli_write_exitval(engine *e, job *j) {
  char p[4200];
  snprintf(p, sizeof p, "%s/%llu/exitval", e->c->results_dir, (unsigned long long)j->seq);
  FILE *f = fopen(p, "we");
  if (!f) return;
  fprintf(f, "%d\n", j->sig ? -1 : j->exit_code);
  fclose(f);
}

