/* corral_process_run: spawn, feed the input, collect both outputs, wait
 * (Python's subprocess.run / asyncio's communicate), as three tasks and the
 * wait in one group, on the public process and pipe calls. */
#include "io/process.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* After the child's exit (and its group's end), a reader stops once its
 * pipe has been silent this long: a process that left the group (setsid)
 * may hold the pipe open for as long as it lives. */
#define DRAIN_NS ((int64_t)100 * 1000000)
/* ... and at the latest this long after the exit, silent or not: such a
 * process writing more often than DRAIN_NS would hold the call forever. */
#define DRAIN_MAX_NS ((int64_t)1000 * 1000000)

typedef struct {
  corral_stream *pipe;
  corral_scope *scope;   /* the reader's, while it reads */
  const int *draining;   /* the child has exited */
  const int64_t *drain_end; /* then: when the readers stop at the latest */
  char **data;
  size_t *len;
  int *truncated;
  size_t max;
  const void *input;
  size_t input_len;
  int rc;
} run_io;

static int read_all(run_io *io, corral_scope *rs) {
  size_t cap = 0;
  char chunk[16384];
  for (;;) {
    int n = corral_stream_read(io->pipe, chunk, sizeof chunk);
    if (n <= 0) return n == 0 || n == CORRAL_ECLOSED ? 0 : n;
    if (*io->draining) {
      int64_t d = corral_now() + DRAIN_NS;
      CORRAL_IGNORE(corral_scope_set_deadline(rs, d < *io->drain_end ? d : *io->drain_end));
    }
    size_t keep = (size_t)n;
    if (*io->len + keep > io->max) {
      keep = io->max - *io->len;
      *io->truncated = 1;
    }
    if (keep) {
      if (*io->len + keep + 1 > cap) {
        size_t nc = cap ? cap : 4096;
        while (nc < *io->len + keep + 1) nc *= 2;
        char *nb = realloc(*io->data, nc);
        if (!nb) return CORRAL_ENOMEM;
        *io->data = nb;
        cap = nc;
      }
      memcpy(*io->data + *io->len, chunk, keep);
      *io->len += keep;
      (*io->data)[*io->len] = 0;
    }
  }
}

static int run_reader(void *arg, void **result) {
  (void)result;
  run_io *io = arg;
  corral_scope rs;
  int rc = corral_scope_enter(&rs, &(corral_scope_opts){.name = "output drain"});
  if (rc) return rc;
  io->scope = &rs;
  rc = read_all(io, &rs);
  io->scope = NULL;
  return corral_scope_exit(&rs, rc); /* the drain's end is no error */
}

static int run_writer(void *arg, void **result) {
  (void)result;
  run_io *io = arg;
  int rc = corral_stream_write(io->pipe, io->input, io->input_len, NULL);
  corral_stream_shutdown(io->pipe); /* end of input */
  return rc == CORRAL_EPIPE ? 0 : rc; /* a child may stop reading early */
}

void corral_completed_clear(corral_completed *res) {
  if (!res) return;
  free(res->out);
  free(res->err);
  memset(res, 0, sizeof *res);
}

int corral_process_run(const corral_process_opts *opts, const void *input,
                       size_t input_len, size_t max_output,
                       corral_completed *res) {
  if (!opts || !res) return CORRAL_EINVAL;
  memset(res, 0, sizeof *res);
  corral_process_opts o = *opts;
  o.stdio[1] = (corral_stdio){.mode = CORRAL_STDIO_PIPE};
  o.stdio[2] = (corral_stdio){.mode = CORRAL_STDIO_PIPE};
  if (input) o.stdio[0] = (corral_stdio){.mode = CORRAL_STDIO_PIPE};
  if (max_output == 0) max_output = (size_t)64 << 20;
  corral_process *p;
  int rc = corral_process_spawn(&o, &p);
  if (rc) return rc;
  int draining = 0;
  int64_t drain_end = CORRAL_FOREVER;
  run_io rd[2] = {
      {.pipe = corral_process_stream(p, 1), .draining = &draining, .drain_end = &drain_end, .data = &res->out,
       .len = &res->out_len, .truncated = &res->out_truncated, .max = max_output},
      {.pipe = corral_process_stream(p, 2), .draining = &draining, .drain_end = &drain_end, .data = &res->err,
       .len = &res->err_len, .truncated = &res->err_truncated, .max = max_output}};
  run_io wr = {.pipe = corral_process_stream(p, 0), .input = input, .input_len = input_len};
  corral_group g;
  memset(&g, 0, sizeof g); /* never mistaken for a group still open */
  rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_FAIL_FAST,
                                                  .name = "process_run"});
  if (rc == 0) {
    int brc = corral_spawn(&g, run_reader, &rd[0], "stdout", NULL);
    if (!brc) brc = corral_spawn(&g, run_reader, &rd[1], "stderr", NULL);
    if (!brc && input) brc = corral_spawn(&g, run_writer, &wr, "stdin", NULL);
    /* The body waits for the exit; the readers end at end of stream. */
    if (!brc) brc = corral_process_wait(p, &res->exit_status, &res->term_signal);
    /* The child is done: what it left running in its group would hold the
     * pipes open forever. */
    if (!brc) corral__process_end_group(p);
    /* What left the group (setsid) may hold them open as long as it
     * lives: the readers go on while output comes, and stop once their
     * pipe is silent for DRAIN_NS, or DRAIN_MAX_NS after the exit. */
    if (!brc) {
      draining = 1;
      drain_end = corral_now() + DRAIN_MAX_NS;
      for (int i = 0; i < 2; i++)
        if (rd[i].scope)
          CORRAL_IGNORE(corral_scope_set_deadline(rd[i].scope, corral_now() + DRAIN_NS));
    }
    rc = corral_group_close(&g, brc);
    if (rc == CORRAL_EGROUP && brc) rc = brc;
  }
  /* The status, and the end of a child the group left running (it failed
   * before the exit): a wait inside a cancelled scope runs the termination
   * sequence, and after the exit returns the status at once. */
  corral_scope s;
  memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
  corral_scope_enter(&s, &(corral_scope_opts){.name = "process_run"});
  corral_scope_cancel(&s, "process_run ends");
  CORRAL_IGNORE(corral_process_wait(p, &res->exit_status, &res->term_signal));
  int src = corral_scope_exit(&s, 0);
  (void)src; /* our own cancellation: nothing to report */
  corral_process_close(p);
  for (int i = 0; i < 2; i++)
    if (!*rd[i].data) {
      *rd[i].data = calloc(1, 1);
      if (!*rd[i].data) rc = rc ? rc : CORRAL_ENOMEM;
    }
  return rc;
}
