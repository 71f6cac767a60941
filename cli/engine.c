/* The engine of the corral command (engine.h): a feeder reads the input
 * lazily and spawns one task per job into a group, at most -j at a time;
 * each job task runs its command (with retries and a timeout), then reports
 * to the decision engine, the outputs, the joblog and the JSON log. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

const char *cli_jobstatus_name(cli_jobstatus s) {
  static const char *const n[] = {"OK", "ERROR", "CANCELLED", "TIMED_OUT",
                                  "NOT_STARTED"};
  return (unsigned)s < 5 ? n[s] : "?";
}

/* -------------------------------------------------------------- decisions */

void cli_stop_all(engine *e, const char *by, const char *why, int now) {
  if (!e->stop_by[0]) {
    snprintf(e->stop_by, sizeof e->stop_by, "%s", by);
    snprintf(e->stop_why, sizeof e->stop_why, "%s", why);
  }
  e->stop_feeding = 1;
  if (e->feed_open) corral_scope_cancel(&e->feed_scope, why);
  if (now && e->g_open) corral_group_cancel(&e->g, why);
}

static void stop_all(engine *e, const char *by, const char *why, int now) {
  cli_stop_all(e, by, why, now);
}

static void say_timeout(engine *e, job *j);

static void decide(engine *e, job *j) {
  if (e->verdict.triggered) return;
  cli_policy_decide(&e->c->policy, &e->tally, j ? j->seq : 0,
                    j ? j->status == CLI_JOB_OK : 0, &e->verdict);
  if (!e->verdict.triggered) return;
  /* The exit status is fixed now, by the job that decided (GNU parallel). */
  int own = !j || j->status == CLI_JOB_OK ? 0
            : j->status == CLI_JOB_TIMED_OUT ? 255 /* GNU parallel: -1 */
            : j->sig ? 128 + j->sig : j->exit_code > 0 ? j->exit_code : 1;
  e->halt_status = cli_halt_status_at_trigger(&e->c->policy, &e->tally, own);
  stop_all(e, "policy", e->verdict.why, e->verdict.decision == CLI_STOP_NOW);
  /* Said after the deciding job's output (print_job). */
  if (e->verdict.decision == CLI_STOP_SOON && !e->view_on) {
    e->soon_waiting = e->tally.running;
    e->soon_seq = j ? j->seq : 0;
  }
}

/* -------------------------------------------------------------- jobs */

static void job_free(job *j) {
  cli_args_free(&j->args);
  free(j->block);
  free(j->cmd);
  cli_spool_free(&j->out);
  cli_spool_free(&j->err);
  cli_buf_free(&j->tail);
  for (int i = 0; i < 3; i++) {
    cli_spool_free(&j->part[i]);
    if (j->fd_res[i] >= 0) close(j->fd_res[i]);
  }
  free(j);
}

typedef struct {
  job *j;
  int which;
  corral_stream *pipe;
} reader_arg;

/* Copy one output stream of a job to where the output mode wants it. */
static int reader_fn(void *arg, void **result) {
  (void)result;
  reader_arg *r = arg;
  char buf[16384];
  int n;
  while ((n = corral_stream_read(r->pipe, buf, sizeof buf)) > 0)
    cli_on_data(r->j, r->which, buf, (size_t)n);
  return 0;
}

/* After the job ended (or was stopped): what it wrote before it ended is
 * still in the pipes. Read it to the end, shielded, within a short time
 * (what the job left running was killed with it), then mark the end. */
static void drain_output(job *j, reader_arg *ra) {
  corral_scope sh;
  memset(&sh, 0, sizeof sh);
  int on = corral_shield(&sh, 500 * CLI_NS_PER_MS) == 0;
  char buf[16384];
  for (int i = 0; i < 2; i++) {
    int n;
    while (on && ra[i].pipe && (n = corral_stream_read(ra[i].pipe, buf, sizeof buf)) > 0)
      cli_on_data(j, ra[i].which, buf, (size_t)n);
  }
  if (on && corral_scope_exit(&sh, 0)) {
    /* the time ran out: the rest is lost with the job */
  }
  cli_on_data(j, 1, NULL, 0);
  cli_on_data(j, 2, NULL, 0);
}

/* GNU parallel refuses a command line the system cannot exec (E2BIG)
 * before it runs it; so do we: a word longer than MAX_ARG_STRLEN, or
 * arguments and environment beyond ARG_MAX. */
static int too_long(char *const *argv) {
  extern char **environ;
  long max = sysconf(_SC_ARG_MAX);
  size_t total = 0;
  for (int pass = 0; pass < 2; pass++)
    for (char *const *v = pass ? environ : argv; v && *v; v++) {
      size_t l = strlen(*v) + 1;
      if (l > 32 * 4096) return 1; /* MAX_ARG_STRLEN (Linux) */
      total += l + sizeof(char *);
    }
  return max > 0 && total + 4096 > (size_t)max;
}

/* errno's name and meaning: "ENOENT: command not found". */
static void start_error(int rc, char *buf, size_t len) {
  const char *name = strerrorname_np(-rc);
  const char *what = rc == CORRAL_ENOENT ? "command not found"
                     : rc == -EACCES ? "permission denied (not executable)"
                     : rc == -E2BIG ? "argument list too long (give long input on standard input: --pipe)"
                     : corral_strerror(rc);
  snprintf(buf, len, "%s: %s", name ? name : "error", what);
}

typedef struct {
  job *j;
  corral_stream *pipe;
} writer_arg;

/* --pipe: write the job's block to its standard input, then close it. A
 * job that stops reading early (head -1) is not an error. */
static int writer_fn(void *arg, void **result) {
  (void)result;
  writer_arg *w = arg;
  int rc = corral_stream_write(w->pipe, w->j->block, w->j->blen, NULL);
  (void)rc;
  rc = corral_stream_shutdown(w->pipe);
  (void)rc;
  return 0;
}

/* Spawn the job's command and wait for it (and its output). Returns 0, 1
 * when it could not start, or CORRAL_ECANCELED when it was stopped (the
 * termination sequence ran, the process is reaped). */
extern char **environ;

static int run_once(engine *e, job *j) {
  if (e->c->http) return cli_http_once(e, j);
  char **argv = NULL, *storage = NULL, *shv[4];
  if (!e->c->shell_direct || cli_split_simple(j->cmd, &argv, &storage) != 1) {
    shv[0] = (char *)(e->c->shell ? e->c->shell : "/bin/sh");
    shv[1] = "-c";
    shv[2] = j->cmd;
    shv[3] = NULL;
  }
  corral_term_step steps[CLI_TERMSEQ_MAX];
  for (size_t i = 0; i < e->ts_live.n; i++) {
    steps[i].signum = e->ts_live.step[i].sig;
    steps[i].wait_ns = e->ts_live.step[i].wait_ns;
  }
  corral_process_opts o = {.argv = (const char *const *)(argv ? argv : shv),
                           .term_seq = steps, .term_seq_len = e->ts_live.n};
  o.cwd = e->c->workdir; /* --wd */
  cli_buf wd = {0};
  if (e->c->wd_tmpl) { /* --wd with replacement strings: the job's own, made when missing */
    if (cli_template_expand(e->c->wd_tmpl, &j->args, &wd) || cli_buf_adds(&wd, "")) {
      free(argv);
      free(storage);
      return CORRAL_ENOMEM;
    }
    cli_mkpath(wd.data);
    o.cwd = wd.data;
  }
  o.stdio[0].mode = j->block ? CORRAL_STDIO_PIPE : CORRAL_STDIO_NULL;
  int capture = e->c->out != CLI_OUT_UNGROUP || e->json_stdout || e->c->results_dir;
  o.stdio[1].mode = o.stdio[2].mode = capture ? CORRAL_STDIO_PIPE : CORRAL_STDIO_INHERIT;
  /* The job's environment: ours with GNU parallel's PARALLEL_SEQ and
   * PARALLEL_JOBSLOT, built for the spawn (setenv in our own would keep
   * every value it was ever given: glibc never frees them). */
  size_t ne = 0;
  for (char **ev = environ; *ev; ev++) ne++;
  const char **env = malloc((ne + 3) * sizeof *env);
  char seqs[48], slots[32];
  if (env) {
    size_t k = 0;
    for (char **ev = environ; *ev; ev++)
      if (strncmp(*ev, "PARALLEL_SEQ=", 13) && strncmp(*ev, "PARALLEL_JOBSLOT=", 17))
        env[k++] = *ev;
    snprintf(seqs, sizeof seqs, "PARALLEL_SEQ=%llu", (unsigned long long)j->seq);
    snprintf(slots, sizeof slots, "PARALLEL_JOBSLOT=%u", j->slot);
    env[k++] = seqs;
    env[k++] = slots;
    env[k] = NULL;
    o.env = env;
  }
  int rc;
  for (;;) {
    e->spawning++;
    rc = !env ? CORRAL_ENOMEM
         : too_long((char *const *)o.argv) ? -E2BIG
         : corral_process_spawn(&o, &j->proc);
    e->spawning--;
    /* Out of descriptors or processes (EAGAIN: ulimit -u) while other
     * jobs run: wait until one of them ends, then try again (GNU
     * parallel, too, runs fewer jobs at once when file handles or
     * processes run short, and says so). Alone, it is an error. */
    int fds = rc == -EMFILE || rc == -ENFILE;
    if ((!fds && rc != -EAGAIN) || e->nlive + e->spawning == 0) break;
    if (!e->fd_warned++) {
      char m[256];
      int n = snprintf(m, sizeof m,
                       "corral: Warning: Only enough %s to run %llu jobs in parallel.\n"
                       "corral: Warning: Raise 'ulimit -%c' (try: ulimit -%c `ulimit -H%c`).\n",
                       fds ? "file handles" : "available processes",
                       (unsigned long long)(e->nlive + e->spawning), fds ? 'n' : 'u',
                       fds ? 'n' : 'u', fds ? 'n' : 'u');
      cli_sink_put(e, CLI_SINK_ERR, m, (size_t)n);
    }
    uint64_t seen = e->nended;
    while (rc != CORRAL_ECANCELED && e->nended == seen && e->nlive + e->spawning > 0)
      if (corral_sleep(5 * CLI_NS_PER_MS)) rc = CORRAL_ECANCELED;
    if (rc == CORRAL_ECANCELED) break;
  }
  free(env);
  free(argv);
  free(storage);
  cli_buf_free(&wd);
  if (rc == CORRAL_ECANCELED) return rc; /* stopped while it waited */
  if (rc) {
    /* As a shell: 127 not found, 126 found but cannot run. Never silent:
     * GNU parallel's style on stderr, the errno in the JSON log. */
    j->exit_code = rc == CORRAL_ENOENT ? 127 : 126;
    char what[120];
    start_error(rc, what, sizeof what);
    snprintf(j->why, sizeof j->why, "%s", what);
    size_t cl = strlen(j->cmd);
    cli_buf msg = {0};
    cli_buf_printf(&msg, "corral: Error: cannot run job %llu: %s: %.*s%s\n",
                   (unsigned long long)j->seq, what, cl > 60 ? 60 : (int)cl, j->cmd,
                   cl > 60 ? "..." : "");
    cli_buf_add(&j->tail, msg.data, msg.len);
    cli_sink_put(e, CLI_SINK_ERR, msg.data, msg.len);
    cli_buf_free(&msg);
    return 1;
  }
  e->nlive++;
  int es = 0, sig = 0;
  if (!capture && !j->block) {
    rc = corral_process_wait(j->proc, &es, &sig);
  } else {
    corral_group g;
    memset(&g, 0, sizeof g); /* never mistaken for a group still open */
    reader_arg ra[2] = {{j, 1, corral_process_stream(j->proc, 1)},
                        {j, 2, corral_process_stream(j->proc, 2)}};
    int opened = 0;
    writer_arg wa = {j, corral_process_stream(j->proc, 0)};
    corral_task *rt[2] = {NULL, NULL}, *wt = NULL;
    rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT, .name = "job io"});
    if (rc == 0) {
      opened = 1;
      int brc = wa.pipe ? corral_spawn(&g, writer_fn, &wa, "stdin", &wt) : 0;
      for (int i = 0; i < 2 && !brc; i++)
        if (ra[i].pipe) brc = corral_spawn(&g, reader_fn, &ra[i], i ? "stderr" : "stdout", &rt[i]);
      if (!brc) brc = corral_process_wait(j->proc, &es, &sig);
      if (brc == 0) {
        /* Exited: its output ends when every writer is gone. Something it
         * left running may hold the pipes: end its group, then stop
         * reading. */
        size_t nd;
        if (capture &&
            corral_wait(rt, 2, CORRAL_ALL_COMPLETED, 200 * CLI_NS_PER_MS, &nd) == CORRAL_ETIMEDOUT) {
          corral_process_signal(j->proc, SIGKILL);
          if (corral_wait(rt, 2, CORRAL_ALL_COMPLETED, 200 * CLI_NS_PER_MS, &nd) == CORRAL_ETIMEDOUT)
            corral_group_cancel(&g, "output still open after the job ended");
        }
      } else if (brc != CORRAL_ECANCELED) {
        corral_group_cancel(&g, "job failed");
      }
      /* A block the job never read (something it left holds the pipe). */
      if (wt && corral_cancel(wt, "the job ended")) {
        /* it had finished writing */
      }
      int grc = corral_group_close(&g, 0); /* the readers never fail */
      (void)grc;
      for (int i = 0; i < 2; i++) corral_task_release(rt[i]);
      corral_task_release(wt);
      rc = brc;
    }
    if (opened) {
      /* The job's process has ended; end what it left too, then read
       * what is left in the pipes (a timed-out job's last words). */
      corral_process_signal(j->proc, SIGKILL);
      drain_output(j, ra);
    }
  }
  j->exit_code = es;
  j->sig = sig;
  /* Closing ends what is left of the job's process group. */
  corral_process_close(j->proc);
  j->proc = NULL;
  e->nlive--;
  e->nended++; /* a job waiting for a free descriptor or process tries again */
  return rc;
}

static void finish(engine *e, job *j);

static int job_fn(void *arg, void **result) {
  (void)result;
  job *j = arg;
  engine *e = j->e;
  /* off the pending list, on the running list */
  if (j->pprev) j->pprev->pnext = j->pnext; else e->pending = j->pnext;
  if (j->pnext) j->pnext->pprev = j->pprev;
  j->pnext = j->pprev = NULL;
  j->rprev = e->run_tail;
  if (e->run_tail) e->run_tail->rnext = j; else e->run_head = j;
  e->run_tail = j;
  e->tally.running++;
  e->view_dirty = 1;
  if (e->c->verbose) { /* -t: the command on stderr as it starts */
    cli_buf b = {0};
    if (!cli_buf_adds(&b, j->cmd) && !cli_buf_addc(&b, '\n')) cli_sink_put(e, CLI_SINK_ERR, b.data, b.len);
    cli_buf_free(&b);
  }
  /* -v: the command on stdout; output that is not held back (--lb, -u,
   * --results) follows it from now on, held output is printed after it */
  if (e->c->verbose_out && !e->json_stdout &&
      (e->c->out == CLI_OUT_LINE || e->c->out == CLI_OUT_UNGROUP || e->c->results_dir || j->live)) {
    j->said = 1;
    cli_buf b = {0};
    if (!cli_buf_adds(&b, j->cmd) && !cli_buf_addc(&b, '\n')) cli_sink_put(e, CLI_SINK_OUT, b.data, b.len);
    cli_buf_free(&b);
  }
  unsigned max = e->c->retries ? e->c->retries : 1;
  for (unsigned a = 1; a <= max; a++) {
    if (a > 1) {
      int64_t d = e->c->retry_delay_ns;
      for (unsigned k = 2; k < a && d < 30 * CLI_NS_PER_SEC; k++) d *= 2;
      if (d && corral_sleep(d)) {
        j->status = CLI_JOB_CANCELLED;
        break;
      }
      cli_spool_reset(&j->out);
      cli_spool_reset(&j->err);
      j->why[0] = 0;
    }
    j->attempts = a;
    j->t0 = corral_now();
    j->epoch0 = cli_epoch_now();
    j->exit_code = j->sig = 0;
    int64_t timeout = e->c->timeout_ns;
    if (e->c->timeout_pct > 0) {
      int64_t m = cli_median_ns(e);
      timeout = m ? (int64_t)((double)m * e->c->timeout_pct / 100.0) : 0;
    }
    corral_scope s;
    memset(&s, 0, sizeof s); /* never mistaken for a scope still entered */
    int scoped = timeout > 0 && corral_fail_after(&s, timeout) == 0;
    int rc = timeout > 0 && !scoped ? CORRAL_EINVAL : run_once(e, j);
    if (scoped) rc = corral_scope_exit(&s, rc);
    j->t1 = corral_now();
    if (rc == 1) {
      j->status = CLI_JOB_ERROR;
    } else if (rc != 0 && rc != CORRAL_ETIMEDOUT && rc != CORRAL_ECANCELED) {
      j->status = CLI_JOB_ERROR; /* corral itself failed to run it */
      j->exit_code = j->exit_code ? j->exit_code : 1;
      snprintf(j->why, sizeof j->why, "corral: %s", corral_strerror(rc));
    } else if (rc == CORRAL_ETIMEDOUT) {
      j->status = CLI_JOB_TIMED_OUT;
      char d[32];
      cli_format_duration(timeout, d, sizeof d);
      snprintf(j->by, sizeof j->by, "timeout");
      snprintf(j->why, sizeof j->why, "ran longer than the timeout of %s", d);
    } else if (rc == CORRAL_ECANCELED) {
      j->status = CLI_JOB_CANCELLED;
      corral_cancel_reason r;
      if (e->stop_by[0]) {
        snprintf(j->by, sizeof j->by, "%s", e->stop_by);
        snprintf(j->why, sizeof j->why, "%s", e->stop_why);
      } else if (corral_cancel_reason_get(&r) == 0 && r.cause == CORRAL_CANCEL_DEADLINE) {
        snprintf(j->by, sizeof j->by, "deadline");
        snprintf(j->why, sizeof j->why, "the run's deadline passed");
      } else {
        snprintf(j->by, sizeof j->by, "cancel");
        snprintf(j->why, sizeof j->why, "%s", r.message);
      }
    } else if (j->exit_code == 0 && j->sig == 0) {
      j->status = CLI_JOB_OK;
    } else {
      j->status = CLI_JOB_ERROR;
    }
    if (j->status == CLI_JOB_OK || j->status == CLI_JOB_CANCELLED) break;
    if (corral_checkpoint_cancel() || e->stop_feeding) break;
    if (a < max && j->status == CLI_JOB_TIMED_OUT) say_timeout(e, j);
  }
  /* off the running list */
  if (j->rprev) j->rprev->rnext = j->rnext; else e->run_head = j->rnext;
  if (j->rnext) j->rnext->rprev = j->rprev; else e->run_tail = j->rprev;
  e->tally.running--;
  finish(e, j);
  return 0;
}

static void release_slot(engine *e, job *j) {
  if (j->slot && j->slot <= e->nslots) e->slot_used[j->slot - 1] = 0;
  corral_semaphore_release(&e->sem);
}

/* Does the job get a joblog line? Only a job that ran to its end (a
 * timeout is an end): one stopped by a signal, a policy or the deadline is
 * not listed, so that --resume runs it again, as GNU parallel. */
static int joblogged(engine *e, job *j) {
  return e->jl.f && j->status != CLI_JOB_CANCELLED && j->status != CLI_JOB_NOT_STARTED;
}

/* GNU parallel's Exitval: -1 for a job killed for its timeout, 0 for one
 * a signal ended (the Signal column says which), else the exit status. */
static int joblog_exitval(const job *j) {
  return j->status == CLI_JOB_TIMED_OUT ? -1 : j->sig ? 0 : j->exit_code;
}

/* The joblog line of a finished job in a file. On standard output (--joblog
 * -) it is written with the job's output instead (print_job). */
static void log_job(engine *e, job *j) {
  if (!joblogged(e, j) || e->jl.to_stdout) return;
  int jrc = cli_joblog_write(&e->jl, j->seq, j->epoch0, (double)(j->t1 - j->t0) / 1e9, j->bytes[1],
                             joblog_exitval(j),
                             j->sig, j->cmd);
  if (jrc && !e->joblog_failed++) cli_file_error(e, "the joblog", e->c->joblog, jrc);
}

/* What GNU parallel says on standard error about a finished job: a timeout
 * (always), and under --halt (or --policy fail-fast / first) each job that
 * counts towards it. corral http says a timeout as it says an HTTP error.
 * The live view shows the same, so it is said only without the view. */
static void add_timeout(engine *e, job *j, cli_buf *b) {
  if (e->c->http) {
    cli_buf_adds(b, "corral http: ");
    cli_buf_adds(b, j->cmd);
    cli_buf_adds(b, ": ");
    cli_buf_adds(b, j->why);
    cli_buf_addc(b, '\n');
  } else {
    cli_buf_adds(b, "corral: Warning: This job was killed because it timed out:\n"
                    "corral: Warning: ");
    cli_buf_adds(b, j->cmd);
    cli_buf_addc(b, '\n');
  }
}

/* An attempt that timed out and will be retried: said now, as GNU parallel
 * says each one (the last attempt's is said with the job's end). */
static void say_timeout(engine *e, job *j) {
  if (e->view_on) return;
  cli_buf b = {0};
  add_timeout(e, j, &b);
  if (b.len) cli_sink_put(e, CLI_SINK_ERR, b.data, b.len);
  cli_buf_free(&b);
}

static int say_job(engine *e, job *j) {
  if (e->view_on || j->status == CLI_JOB_CANCELLED || j->status == CLI_JOB_NOT_STARTED) return 0;
  cli_buf b = {0};
  if (j->status == CLI_JOB_TIMED_OUT) add_timeout(e, j, &b);
  const cli_policy *p = &e->c->policy;
  int ok = j->status == CLI_JOB_OK;
  const char *what = NULL;
  if (p->when != CLI_WHEN_NEVER) {
    if (p->why == CLI_WHY_FAIL && !ok) what = "failed";
    else if (p->why == CLI_WHY_SUCCESS && ok) what = "succeeded";
    else if (p->why == CLI_WHY_DONE) what = "finished";
  }
  if (what) {
    cli_buf_adds(&b, "corral: This job ");
    cli_buf_adds(&b, what);
    cli_buf_adds(&b, ":\n");
    cli_buf_adds(&b, j->cmd);
    cli_buf_addc(&b, '\n');
  }
  if (b.len) cli_sink_put(e, CLI_SINK_ERR, b.data, b.len);
  cli_buf_free(&b);
  return what != NULL;
}

static void say_waiting(engine *e, uint64_t waiting) {
  char m[96];
  int n = snprintf(m, sizeof m, "corral: Starting no more jobs. Waiting for %llu jobs to finish.\n",
                   (unsigned long long)waiting);
  cli_sink_put(e, CLI_SINK_ERR, m, (size_t)n);
}

/* A finished job's output, then (--joblog -) its joblog line on standard
 * output, written under the same hold of standard output's lock (stdio on
 * descriptor 1 would race a job's output that waits for the reader, and
 * fail with EAGAIN: the stream made the pipe non-blocking), then what is
 * said about it on standard error. A job that never started prints
 * nothing. */
static void print_job(engine *e, job *j) {
  if (j->status == CLI_JOB_NOT_STARTED) return;
  cli_buf line = {0};
  if (joblogged(e, j) && e->jl.to_stdout)
    cli_joblog_line(&line, j->seq, j->epoch0, (double)(j->t1 - j->t0) / 1e9, j->bytes[1],
                    joblog_exitval(j), j->sig, j->cmd);
  cli_emit_job_output(e, j, line.data, line.len);
  cli_buf_free(&line);
  if (e->c->results_dir) cli_results_row(e, j, joblog_exitval(j));
  if (e->c->out == CLI_OUT_KEEP_ORDER) log_job(e, j);
  int said = say_job(e, j);
  /* --halt soon: said after the deciding job's messages, then again after
   * each later job the condition names (failed, succeeded, finished) while
   * others still run, with their number, as GNU parallel does. Claimed
   * before the write: the write may let another job print (a write is a
   * schedule point), and it would say it again. */
  uint64_t waiting = e->soon_waiting;
  if (waiting && (e->soon_seq == 0 || e->soon_seq == j->seq)) {
    e->soon_waiting = 0;
    e->soon_said = 1;
    say_waiting(e, waiting);
  } else if (said && e->soon_said && e->tally.running > 0 && !e->view_on) {
    say_waiting(e, e->tally.running);
  }
}

/* -k: print the finished jobs at the head of the input order and free
 * them. One flusher at a time (a write may let other jobs run and finish;
 * the flusher prints them too), so the order holds; a job is queued as
 * finished only once nothing of it is left to do but print it. */
static void flush_in_order(engine *e) {
  if (e->flushing) return;
  e->flushing = 1;
  for (;;) {
    while (e->ohead && e->ohead->finished) {
      job *h = e->ohead;
      e->ohead = h->onext;
      if (!e->ohead) e->otail = NULL;
      print_job(e, h);
      job_free(h);
      corral_semaphore_release(&e->oq_sem);
    }
    /* -k --lb: the first unfinished job prints as it goes (this may wait,
     * and the job may finish meanwhile: look again). */
    if (!e->c->keep_lines || !e->ohead || e->ohead->live) break;
    cli_go_live(e, e->ohead);
  }
  e->flushing = 0;
}

/* A job that will never run: its JSON line, counted; with -k it waits in
 * the order (finished), else it is freed. */
static void never_started(engine *e, job *j) {
  j->status = CLI_JOB_NOT_STARTED;
  release_slot(e, j);
  cli_json_job(e, j); /* may wait: j is not marked finished before */
  e->not_started++;
  if (e->c->out == CLI_OUT_KEEP_ORDER) j->finished = 1; else job_free(j);
}

static void finish(engine *e, job *j) {
  free(j->block); /* --pipe: a finished job's block is not kept (-k) */
  j->block = NULL;
  switch (j->status) {
  case CLI_JOB_OK: e->tally.ok++; break;
  case CLI_JOB_ERROR:
  case CLI_JOB_TIMED_OUT: e->tally.failed++, e->timed_out += j->status == CLI_JOB_TIMED_OUT; break;
  case CLI_JOB_CANCELLED: e->tally.cancelled++; break;
  case CLI_JOB_NOT_STARTED: break;
  }
  cli_record_stats(e, j);
  /* -k: the joblog's lines in order too, written with the output (as GNU
   * parallel, which writes the line when it prints the job) */
  if (!e->jl.to_stdout && e->c->out != CLI_OUT_KEEP_ORDER) log_job(e, j);
  cli_json_job(e, j);
  /* Grouped output: the slot is free once the output is written, so a
   * reader that does not keep up holds back new jobs (as GNU parallel,
   * which prints before it starts the next job) instead of piling up
   * finished jobs' output. */
  int keep = e->c->out == CLI_OUT_KEEP_ORDER;
  if (keep) release_slot(e, j);
  if (j->status != CLI_JOB_CANCELLED) decide(e, j);
  cli_sweep(e, 0);
  e->view_dirty = 1;
  /* Output last: in input order (-k) this may print and free j itself.
   * The job is marked finished only now: the JSON line, the joblog and the
   * sweep above may wait (a write is a schedule point), and a finished job
   * can be printed and freed by the job that flushes meanwhile. */
  if (e->c->out == CLI_OUT_KEEP_ORDER) {
    j->finished = 1;
    flush_in_order(e);
  } else {
    print_job(e, j);
    release_slot(e, j);
    job_free(j);
  }
}

/* ------------------------------------------------------------- feeding */

static int wait_readable(int fd, void *ctx) {
  (void)ctx;
  return corral_wait_readable(fd);
}

/* The next job to run, or NULL at the end of the input (or an error). */
static job *next_job(engine *e, int *err) {
  *err = 0;
  for (;;) {
    cli_args a = {0};
    char *block = NULL;
    size_t blen = 0;
    if (e->c->in.pipe) {
      int rc = cli_input_block(e->in, &block, &blen);
      if (rc <= 0) {
        *err = rc;
        return NULL;
      }
    } else if (e->c->commands) {
      if (e->seq_next >= e->c->ncommands) return NULL;
      a.v = malloc(sizeof *a.v);
      if (!a.v || !(a.v[0] = strdup(e->c->commands[e->seq_next]))) {
        free(a.v);
        *err = -ENOMEM;
        return NULL;
      }
      a.n = 1;
    } else {
      int rc = cli_input_next(e->in, &a);
      if (rc <= 0) {
        *err = rc;
        return NULL;
      }
      if (cli_input_nul_warning(e->in)) {
        static const char w[] = "corral: Warning: a NUL character in the input was replaced with \\0 "
                                "(no argument can hold one); for NUL-separated input give -0 (--null)\n";
        cli_sink_put(e, CLI_SINK_ERR, w, sizeof w - 1);
      }
    }
    uint64_t seq = ++e->seq_next;
    if (e->c->command_seqs) seq = e->c->command_seqs[seq - 1]; /* --retry-failed */
    if ((e->c->shard_n && (seq - 1) % e->c->shard_n != e->c->shard_i) ||
        cli_seqset_has(&e->skip, seq)) {
      cli_args_free(&a);
      free(block);
      continue;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
      cli_args_free(&a);
      free(block);
      *err = -ENOMEM;
      return NULL;
    }
    j->e = e;
    j->block = block;
    j->blen = blen;
    j->seq = seq;
    cli_spool_init(&j->out);
    cli_spool_init(&j->err);
    for (int i = 0; i < 3; i++) cli_spool_init(&j->part[i]);
    j->args = a;
    j->args.seq = seq;
    for (int i = 0; i < 3; i++) j->fd_res[i] = -1;
    for (unsigned s = 0; s < e->nslots; s++)
      if (!e->slot_used[s]) {
        e->slot_used[s] = 1;
        j->slot = s + 1;
        break;
      }
    j->args.slot = j->slot;
    cli_buf cmd = {0};
    if (e->c->tmpl) {
      *err = cli_template_expand(e->c->tmpl, &j->args, &cmd);
    } else {
      for (size_t i = 0; i < a.n && !*err; i++)
        *err = (i ? cli_buf_addc(&cmd, ' ') : 0) || cli_buf_adds(&cmd, a.v[i]) ? -ENOMEM : 0;
      if (!cmd.data) *err = cli_buf_add(&cmd, "", 0);
    }
    j->cmd = cmd.data;
    if (*err) {
      job_free(j);
      return NULL;
    }
    /* --resume --results: a job whose results exist ran (GNU parallel) */
    if (e->c->resume && e->c->results_dir && cli_results_exist(e, j)) {
      if (j->slot) e->slot_used[j->slot - 1] = 0;
      job_free(j);
      continue;
    }
    return j;
  }
}

/* The records never read when the run stopped early: each a NOT_STARTED
 * job, for the JSON lines and the summary's count (so both say the same;
 * not read when neither is written, nor from an endless input). */
static void drain_not_started(engine *e) {
  int summary = e->c->summary || e->view_on;
  if ((!e->json && !summary) || e->input_ended) return;
  if (e->in && cli_input_endless(e->in)) return;
  int err;
  job *j;
  /* Release the slots' guard: the slot allocator is not used here. */
  while ((j = next_job(e, &err))) {
    j->status = CLI_JOB_NOT_STARTED;
    if (j->slot) e->slot_used[j->slot - 1] = 0;
    j->slot = 0;
    if (e->json) cli_json_job(e, j);
    e->not_started++;
    job_free(j);
  }
  /* Every input record is now a job (run or not): the input is complete. */
  if (err == 0) e->input_ended = 1;
}

static void feed(engine *e) {
  int err = 0;
  for (;;) {
    if (e->stop_feeding) break;
    if (!e->c->dry_run && corral_semaphore_acquire(&e->sem)) break;
    if (e->stop_feeding) {
      corral_semaphore_release(&e->sem);
      break;
    }
    if (e->c->delay_ns && e->last_start &&
        corral_sleep_until(e->last_start + e->c->delay_ns)) {
      corral_semaphore_release(&e->sem);
      break;
    }
    /* -k: at most oq_max jobs wait for the ones before them (their
     * output holds memory and a file each). */
    if (e->c->out == CLI_OUT_KEEP_ORDER && !e->c->dry_run &&
        corral_semaphore_acquire(&e->oq_sem)) {
      corral_semaphore_release(&e->sem);
      break;
    }
    job *j = next_job(e, &err);
    if (!j && e->c->out == CLI_OUT_KEEP_ORDER && !e->c->dry_run)
      corral_semaphore_release(&e->oq_sem);
    if (!j) {
      if (!e->c->dry_run) corral_semaphore_release(&e->sem);
      if (err == 0) e->input_ended = 1;
      break;
    }
    if (e->c->dry_run) {
      cli_buf b = {0};
      if (e->c->tag) cli_add_tag(e, j, &b); /* as GNU parallel */
      cli_buf_adds(&b, j->cmd);
      cli_buf_addc(&b, '\n');
      cli_sink_put(e, CLI_SINK_OUT, b.data, b.len);
      cli_buf_free(&b);
      if (j->slot) e->slot_used[j->slot - 1] = 0;
      job_free(j);
      if (e->out_closed) break;
      continue;
    }
    e->last_start = corral_now();
    if (e->c->results_dir) {
      int rrc = cli_open_results(e, j);
      if (rrc == -EPERM && e->c->results_tmpl && !e->results_failed++)
        e->own_error = 1, dprintf(2, "corral: --results %s: job %llu's values lead out of it (\"..\"): nothing of it is written\n",
                e->c->results_dir, (unsigned long long)j->seq);
      else if (rrc && !e->results_failed++) cli_file_error(e, "to --results", e->c->results_dir, rrc);
    }
    if (e->c->out == CLI_OUT_KEEP_ORDER) {
      if (e->otail) e->otail->onext = j; else e->ohead = j;
      e->otail = j;
      /* -k --lb: the first in order prints as it goes (it printed nothing yet) */
      if (e->c->keep_lines && e->ohead == j && !e->flushing) j->live = 1;
    }
    char name[32];
    snprintf(name, sizeof name, "job %llu", (unsigned long long)j->seq);
    /* The calls above may have let other tasks run (a semaphore acquired
     * at once, input that was ready: each a schedule point), and a policy
     * (--halt soon) may have stopped the run meanwhile. */
    int rc = e->stop_feeding ? CORRAL_ECANCELED : corral_spawn(&e->g, job_fn, j, name, NULL);
    if (rc == 0) {
      e->launched++;
      j->pnext = e->pending;
      if (e->pending) e->pending->pprev = j;
      e->pending = j;
    }
    if (rc) {
      /* The run stopped, or the group refuses (it was cancelled): the
       * job never starts. */
      never_started(e, j);
      break;
    }
  }
  if (err && err != CORRAL_ECANCELED) {
    dprintf(2, "corral: reading the input: %s\n", strerror(-err));
    stop_all(e, "input", "the input could not be read", 0);
  }
  if (e->input_ended) {
    e->tally.input_done = 1;
    e->tally.total = e->launched;
    decide(e, NULL); /* a quorum may have become impossible */
  }
}

/* -------------------------------------------------------------- signals */

static void on_signal(uv_signal_t *h, int signum) {
  engine *e = h->data;
  e->nsig++;
  if (e->nsig == 1) {
    e->stop_sig = signum;
    char why[32];
    snprintf(why, sizeof why, "%s", signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM" : "SIGHUP");
    snprintf(e->stop_by, sizeof e->stop_by, "signal");
    snprintf(e->stop_why, sizeof e->stop_why, "%s", why);
    stop_all(e, "signal", why, 1);
    /* The jobs get their termination sequence; their output then has 2 s
     * more to reach a reader before corral gives up on it. */
    int64_t t = 2 * CLI_NS_PER_SEC;
    for (size_t i = 0; i < e->ts_live.n; i++) t += e->ts_live.step[i].wait_ns;
    e->abandon_at = corral_now() + t;
  } else {
    /* Second signal: no more grace. */
    e->ts_live.n = 1;
    e->ts_live.step[0].sig = SIGKILL;
    e->ts_live.step[0].wait_ns = 0;
    for (job *j = e->run_head; j; j = j->rnext)
      if (j->proc) corral_process_signal(j->proc, SIGKILL);
    cli_cgroup_kill(&e->cg);
    cli_sinks_abandon(e); /* and wait no more for a reader of our output */
  }
  e->view_dirty = 1;
}

static void on_sig_close(uv_handle_t *h) {
  engine *e = h->data;
  e->nsigs_open--;
}

/* ----------------------------------------------------------------- main */

static int main_fn(void *arg, void **result) {
  engine *e = arg;
  (void)result;
  uv_loop_t *loop = corral_loop();
  static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(loop, &e->sigs[i]);
    e->sigs[i].data = e;
    uv_signal_start(&e->sigs[i], on_signal, sigs[i]);
    /* libuv's handler without SA_ONSTACK would run on whatever task's
     * stack is current: on the runtime's alternate stack instead (as the
     * library's own signal watches, docs/reliability.md "Soak"). */
    struct sigaction sa;
    if (sigaction(sigs[i], NULL, &sa) == 0 && !(sa.sa_flags & SA_ONSTACK)) {
      sa.sa_flags |= SA_ONSTACK;
      sigaction(sigs[i], &sa, NULL);
    }
    uv_unref((uv_handle_t *)&e->sigs[i]); /* a watch alone keeps nothing alive */
    e->nsigs_open++;
  }
  e->t_start_rt = corral_now();
  cli_sinks_open(e);
  if (!e->c->dry_run) corral_create_task(cli_watch_task, e, "stdout watch", &e->watch_task);
  if (e->view_on) {
    cli_sink_put(e, CLI_SINK_ERR, "\033[?25l", 6); /* hide the cursor while drawing */
    corral_create_task(cli_view_task, e, "view", &e->view_task);
  }
  corral_group_opts go = {.policy = CORRAL_COLLECT, .name = "jobs",
                          .timeout_ns = e->c->deadline_ns};
  int rc = e->c->http ? cli_http_open(e) : 0;
  if (rc == 0) rc = corral_group_open(&e->g, &go);
  if (rc == 0) {
    e->g_open = 1;
    corral_scope_enter(&e->feed_scope, &(corral_scope_opts){.name = "input"});
    e->feed_open = 1;
    /* The number of jobs may be known already: a quorum larger than it is
     * decided before anything runs. */
    if (e->tally.input_done) {
      decide(e, NULL);
      if (e->verdict.triggered && !e->verdict.success)
        dprintf(2, "corral: %s: nothing was run\n", e->verdict.why);
    }
    feed(e);
    e->feed_open = 0;
    if (corral_scope_exit(&e->feed_scope, 0) == CORRAL_ECANCELED) {
      /* the run was stopped (its reason is already recorded) */
    }
    rc = corral_group_close(&e->g, 0);
    /* A job whose task the stop reached before it ran: never started. */
    job *last = e->pending;
    while (last && last->pnext) last = last->pnext;
    e->pending = NULL;
    for (job *j = last, *prev; j; j = prev) { /* in input order */
      prev = j->pprev;
      j->pnext = j->pprev = NULL;
      never_started(e, j);
    }
    /* -k: what waited behind a job that never ran is printed now. */
    flush_in_order(e);
    if (e->c->http) cli_http_close(e);
    e->g_open = 0;
    if (rc == CORRAL_ETIMEDOUT) {
      e->deadline_hit = 1;
      if (!e->stop_by[0]) {
        snprintf(e->stop_by, sizeof e->stop_by, "deadline");
        snprintf(e->stop_why, sizeof e->stop_why, "the run's deadline passed");
      }
    }
  }
  if (!e->c->dry_run) drain_not_started(e);
  /* Containment: nothing of any job may be left. */
  int64_t end = corral_now() + 3 * CLI_NS_PER_SEC;
  if (e->cg_used) {
    cli_cgroup_leave(&e->cg);
    e->strays += cli_cgroup_count(&e->cg); /* every job has ended: strays */
    cli_cgroup_kill(&e->cg);
    while (cli_cgroup_populated(&e->cg) && corral_now() < end) {
      cli_sweep(e, 0);
      if (corral_sleep(CLI_NS_PER_MS)) break;
    }
  }
  cli_sweep(e, 1);
  while (cli_count_children() > 0 && corral_now() < end) {
    if (corral_sleep(10 * CLI_NS_PER_MS)) break;
    cli_sweep(e, 1);
  }
  e->left_behind = cli_count_children() + cli_cgroup_fini(&e->cg);
  e->view_stop = 1;
  if (e->watch_task) {
    corral_cancel(e->watch_task, "done");
    if (corral_join(e->watch_task, NULL) == CORRAL_ECANCELED) {
      /* it was cancelled by us: that is how it ends */
    }
    corral_task_release(e->watch_task);
  }
  if (e->view_task) {
    corral_cancel(e->view_task, "done");
    if (corral_join(e->view_task, NULL) == CORRAL_ECANCELED) {
      /* it was cancelled by us: that is how it ends */
    }
    corral_task_release(e->view_task);
    cli_view_clear(e);
    cli_sink_put(e, CLI_SINK_ERR, "\033[?25h", 6);
  }
  cli_sinks_close(e);
  for (int i = 0; i < 3; i++) uv_close((uv_handle_t *)&e->sigs[i], on_sig_close);
  return 0;
}

static unsigned default_jobs(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

int cli_engine_run(cli_config *c) {
  engine *e = calloc(1, sizeof *e);
  if (!e) return CLI_EXIT_INTERNAL;
  e->c = c;
  { /* GNU parallel's $PARALLEL_PID for the jobs: set once, inherited */
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("PARALLEL_PID", pid, 1);
  }
  /* A descriptor 0, 1 or 2 closed by the caller (>&-) is held by
   * /dev/null, read-only (so writes to it still fail), so that no file
   * corral opens takes its place. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDONLY);
      if (n >= 0 && n != fd) {
        dup2(n, fd);
        close(n);
      }
      e->std_closed[fd] = 1;
    }
  for (int i = 0; i < CLI_NSINKS; i++) e->sink[i].fd = -1;
  e->sink[CLI_SINK_OUT].fd = e->std_closed[1] ? -1 : 1;
  e->sink[CLI_SINK_ERR].fd = e->std_closed[2] ? -1 : 2;
  e->stdout_tty = isatty(1);
  e->ts_live = c->termseq;
  if (e->ts_live.n == 0) cli_termseq_default(&e->ts_live);
  if (c->jobs == 0) c->jobs = default_jobs();
  e->nslots = c->jobs;
  e->slot_used = calloc(c->jobs, 1);
  corral_semaphore_init(&e->sem, c->jobs);
  /* -k: jobs waiting for the ones before them hold their output: up to
   * two descriptors each beyond 64 KiB, within the descriptor limit the
   * jobs inherit (left as it is), after 4 per running job. */
  {
    size_t qmax = c->jobs * 16 > 256 ? (size_t)c->jobs * 16 : 256;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      size_t room = rl.rlim_cur > 64 + 4 * (rlim_t)c->jobs
                        ? (size_t)(rl.rlim_cur - 64 - 4 * (rlim_t)c->jobs) / 2 : 1;
      if (room < qmax) qmax = room ? room : 1;
    }
    corral_semaphore_init(&e->oq_sem, qmax);
  }
  int status = CLI_EXIT_INTERNAL;
  char err[512] = "";
  if (!e->slot_used) goto out;
  if (!c->commands) {
    c->in.wait_readable = wait_readable;
    c->in.jobs = c->jobs;
    int rc = cli_input_open(&c->in, &e->in, err, sizeof err);
    if (rc) {
      /* A missing input file: GNU parallel's message and status (255). */
      if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR) {
        dprintf(2, "corral: Error: Cannot open input file %s\n", err);
        status = 255;
      } else {
        dprintf(2, "corral: %s\n", err[0] ? err : strerror(-rc));
        status = rc == -EINVAL ? CLI_EXIT_USAGE : 1;
      }
      goto out;
    }
  }
  /* The total is known up front for argument and ::: inputs. */
  if (!c->shard_n && !c->resume && !c->resume_failed) {
    uint64_t t = c->commands ? c->ncommands : cli_input_total(e->in);
    if (t || (c->commands && !c->ncommands)) {
      e->tally.total = t;
      e->tally.input_done = 1;
    }
  }
  if ((c->resume || c->resume_failed) && !(c->resume && c->results_dir && !c->joblog)) {
    if (!c->joblog) {
      dprintf(2, "corral: --resume needs --joblog FILE\n");
      status = CLI_EXIT_USAGE;
      goto out;
    }
    int rc = cli_seqset_load(&e->skip, c->joblog, c->resume_failed);
    if (rc) {
      dprintf(2, "corral: cannot read the joblog %s: %s\n", c->joblog, strerror(-rc));
      status = 1;
      goto out;
    }
  }
  if (c->joblog && !c->dry_run) {
    int rc = cli_joblog_open(&e->jl, c->joblog, c->resume || c->resume_failed || c->retry_failed);
    if (rc) {
      dprintf(2, "corral: cannot write the joblog %s: %s\n", c->joblog, strerror(-rc));
      status = CLI_EXIT_INTERNAL;
      goto out;
    }
  }
  if (c->json_path && !c->dry_run) {
    e->json = 1;
    if (!strcmp(c->json_path, "-")) {
      e->json_stdout = 1;
    } else {
      int fd = open(c->json_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd < 0) {
        dprintf(2, "corral: cannot write the JSON log %s: %s\n", c->json_path, strerror(errno));
        status = CLI_EXIT_INTERNAL;
        goto out;
      }
      e->sink[CLI_SINK_JSON].fd = fd;
      e->sink[CLI_SINK_JSON].own_fd = 1;
    }
  }
  if (!c->dry_run && c->out != CLI_OUT_UNGROUP) {
    if (cli_check_tmpdir(e, err, sizeof err)) {
      dprintf(2, "corral: %s\n", err);
      status = CLI_EXIT_INTERNAL;
      goto out;
    }
  } else {
    e->tmpdir = "/tmp";
  }
  e->res_fd = -1;
  if (c->results_dir && !c->dry_run) {
    int rc = cli_results_start(e);
    if (rc) {
      dprintf(2, "corral: cannot write to --results %s: %s\n", c->results_dir, strerror(-rc));
      status = CLI_EXIT_INTERNAL;
      goto out;
    }
  }
  if (c->view && !c->dry_run) {
    struct winsize ws = {0};
    e->view_on = 1;
    e->tty_cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    e->tty_rows = ws.ws_col > 0 ? ws.ws_row : 0;
    /* Commands are shown in the terminal's character set, cut by columns. */
    setlocale(LC_CTYPE, "");
  }
#ifdef __linux__
  /* Orphans and setsid() escapees of every job become our children, so we
   * can find and end them (and no zombie stays behind). */
  e->subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
#endif
  e->cg_used = !c->dry_run && c->cgroups && cli_cgroup_init(&e->cg);
  signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error return, not death */
  e->t_start = uv_hrtime();
  int64_t t0 = (int64_t)uv_hrtime();
  /* The runtime's stall report is a diagnostic for library developers; the
   * command's users would read it as a message about their jobs. */
  corral_options ro = {0};
  ro.stall_report_ns = CORRAL_FOREVER;
  int rc = corral_run(&ro, main_fn, e, NULL);
  int64_t elapsed = (int64_t)uv_hrtime() - t0;
  if (rc) {
    dprintf(2, "corral: internal error: %s\n", corral_strerror(rc));
    status = CLI_EXIT_INTERNAL;
    goto out;
  }
  e->tally.input_done = 1;
  cli_policy_final(&c->policy, &e->tally, &e->verdict);
  if (e->deadline_hit) {
    e->verdict.success = 0;
    snprintf(e->verdict.why, sizeof e->verdict.why, "the deadline passed");
  } else if (e->stop_sig) {
    e->verdict.success = 0;
    snprintf(e->verdict.why, sizeof e->verdict.why, "stopped by %.100s", e->stop_why);
  } else if (e->out_closed) {
    e->verdict.success = 0;
    snprintf(e->verdict.why, sizeof e->verdict.why, "standard output was closed");
  }
  if (e->launched == 0 && e->input_ended && !e->verdict.triggered && !e->stop_by[0] &&
      !e->not_started)
    snprintf(e->verdict.why, sizeof e->verdict.why, "the input was empty: nothing to run");
  status = c->dry_run && !e->out_closed && !e->own_error ? 0 : cli_exit_status(e);
  cli_summary_json(e, status, elapsed);
  if (!c->dry_run && (c->summary || e->view_on)) cli_print_summary(e, elapsed);
out:
  if (e->res_fd >= 0) close(e->res_fd);
  if (e->in) cli_input_close(e->in);
  cli_joblog_close(&e->jl);
  cli_seqset_free(&e->skip);
  if (e->sink[CLI_SINK_JSON].own_fd) close(e->sink[CLI_SINK_JSON].fd);
  while (e->ohead) {
    job *h = e->ohead;
    e->ohead = h->onext;
    job_free(h);
  }
  free(e->slot_used);
  free(e);
  return status;
}

