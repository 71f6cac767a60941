/* The engine of the corral command (engine.h): a feeder reads the input
 * lazily and spawns one task per job into a group, at most -j at a time;
 * each job task runs its command (with retries and a timeout), then reports
 * to the decision engine, the outputs, the joblog and the JSON log. */
#include "engine.h"

#include <corral.h>
#include <jansson.h>
#include <uv.h>
#include <corral/process.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <dirent.h>
#include <sys/prctl.h>
#endif

#include "contain.h"
#include "view.h"

const char *cli_jobstatus_name(cli_jobstatus s) {
  static const char *const n[] = {"OK", "ERROR", "CANCELLED", "TIMED_OUT",
                                  "NOT_STARTED"};
  return (unsigned)s < 5 ? n[s] : "?";
}

typedef struct engine engine;
typedef struct job job;

struct job {
  engine *e;
  uint64_t seq;
  unsigned slot;
  cli_args args;
  char *cmd;
  corral_process *proc;
  cli_jobstatus status;
  int exit_code, sig, attempts, finished;
  int64_t t0, t1;
  double epoch0;
  cli_buf out, err, part[3], tail;
  uint64_t bytes[3];
  int fd_res[3];
  char why[160], by[16];
  job *rnext, *rprev; /* running list */
  job *onext;         /* keep-order queue */
};

#define HIST_N 1700
#define SLOWEST 5
#define FAIL_KEEP 8

typedef struct {
  uint64_t seq;
  int64_t ns;
  char cmd[120];
} slow_rec;

typedef struct {
  uint64_t seq;
  cli_jobstatus status;
  int exit_code, sig;
  char cmd[120];
  char tail[400];
} fail_rec;

struct engine {
  cli_config *c;
  cli_input *in;
  corral_group g;
  int g_open;
  corral_scope feed_scope;
  int feed_open;
  corral_semaphore sem;
  unsigned char *slot_used;
  unsigned nslots;
  cli_tally tally;
  cli_verdict verdict;
  int flushing;
  int stop_feeding, input_ended, stop_sig, nsig, out_closed, deadline_hit;
  int first_fail_status;
  char stop_by[16], stop_why[160];
  cli_termseq ts_live;
  uint64_t seq_next, not_started, launched;
  int64_t t_start, last_start, last_scan;
  job *run_head, *run_tail;
  job *ohead, *otail;
  cli_joblog jl;
  cli_seqset skip;
  FILE *json;
  int json_stdout;
  uv_signal_t sigs[3];
  int nsigs_open;
  /* view */
  int view_on, view_lines, view_dirty, tty_cols;
  corral_task *view_task;
  int view_stop;
  /* statistics */
  uint32_t hist[HIST_N];
  uint64_t hist_n;
  slow_rec slow[SLOWEST];
  fail_rec fails[FAIL_KEEP];
  size_t nfails;
  uint64_t strays, left_behind, timed_out;
  int subreaper, cg_used;
  cli_cgroup cg;
};

/* ---------------------------------------------------------------- output */

static int write_all(engine *e, int fd, const char *p, size_t n) {
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

static void view_clear(engine *e);

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
  view_clear(e);
  if (!e->c->tag) {
    write_all(e, fd, p, n);
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
  write_all(e, fd, b.data, b.len);
  cli_buf_free(&b);
}

static void on_data(void *ctx, int which, const char *p, size_t n) {
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

static void emit_job_output(engine *e, job *j) {
  if (e->json_stdout) return;
  emit(e, j, 1, j->out.data, j->out.len);
  emit(e, j, 2, j->err.data, j->err.len);
}

/* ------------------------------------------------------------------ JSON */

static double epoch_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A JSON string from bytes: invalid UTF-8 becomes U+FFFD (JSON strings
 * are Unicode; the byte counts keep the exact sizes). */
static json_t *jstr_n(const char *p, size_t n) {
  if (!p) return json_string("");
  json_t *v = json_stringn(p, n);
  if (v) return v;
  cli_buf b = {0};
  const unsigned char *s = (const unsigned char *)p;
  for (size_t i = 0; i < n;) {
    size_t l = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3
             : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
    int ok = l > 0 && i + l <= n && s[i] != 0;
    for (size_t k = 1; ok && k < l; k++) ok = (s[i + k] & 0xc0) == 0x80;
    if (ok) {
      json_t *t = json_stringn((const char *)s + i, l);
      ok = t != NULL;
      json_decref(t);
    }
    if (ok) {
      cli_buf_add(&b, s + i, l);
      i += l;
    } else {
      cli_buf_adds(&b, "\xEF\xBF\xBD");
      i++;
    }
  }
  v = json_stringn(b.data ? b.data : "", b.len);
  cli_buf_free(&b);
  return v ? v : json_string("");
}

static void json_job(engine *e, job *j) {
  if (!e->json) return;
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string("job"));
  json_object_set_new(o, "seq", json_integer((json_int_t)j->seq));
  json_t *in = json_array();
  for (size_t i = 0; i < j->args.n; i++)
    json_array_append_new(in, jstr_n(j->args.v[i], strlen(j->args.v[i])));
  json_object_set_new(o, "input", in);
  json_object_set_new(o, "command", jstr_n(j->cmd, strlen(j->cmd)));
  json_object_set_new(o, "status", json_string(cli_jobstatus_name(j->status)));
  if (j->status == CLI_JOB_NOT_STARTED) {
    json_object_set_new(o, "cancel", json_pack("{s:s,s:s}", "by", e->stop_by,
                                               "reason", e->stop_why));
  } else {
    json_object_set_new(o, "exit_code", j->sig || j->attempts == 0 ? json_null()
                                                                   : json_integer(j->exit_code));
    char sb[16];
    json_object_set_new(o, "signal", j->sig ? json_string(cli_signame(j->sig, sb, sizeof sb))
                                            : json_null());
    json_object_set_new(o, "start", json_real(j->epoch0));
    double dur = (double)(j->t1 - j->t0) / 1e9;
    json_object_set_new(o, "end", json_real(j->epoch0 + dur));
    json_object_set_new(o, "duration_s", json_real(dur));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "retries", json_integer(j->attempts > 0 ? j->attempts - 1 : 0));
    json_object_set_new(o, "slot", json_integer(j->slot));
    json_object_set_new(o, "stdout_bytes", json_integer((json_int_t)j->bytes[1]));
    json_object_set_new(o, "stderr_bytes", json_integer((json_int_t)j->bytes[2]));
    if (j->status == CLI_JOB_CANCELLED || j->status == CLI_JOB_TIMED_OUT)
      json_object_set_new(o, "cancel", json_pack("{s:s,s:s}", "by", j->by, "reason", j->why));
    else if (j->status == CLI_JOB_ERROR && j->why[0])
      json_object_set_new(o, "error", json_string(j->why));
    if (e->json_stdout) {
      /* With the JSON log on standard output, the jobs' output is in it. */
      json_object_set_new(o, "stdout", jstr_n(j->out.data, j->out.len));
      json_object_set_new(o, "stderr", jstr_n(j->err.data, j->err.len));
    }
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(16));
  if (s) {
    fputs(s, e->json);
    fputc('\n', e->json);
    fflush(e->json);
    free(s);
  }
  json_decref(o);
}

/* ------------------------------------------------------------ statistics */

static int hist_bucket(int64_t ns) {
  if (ns < 1000) return 0;
  int b = (int)(log((double)ns / 1000.0) / log(1.02)) + 1;
  return b < HIST_N ? b : HIST_N - 1;
}

static int64_t hist_median(engine *e) {
  if (e->hist_n < 3) return 0;
  uint64_t half = (e->hist_n + 1) / 2, acc = 0;
  for (int b = 0; b < HIST_N; b++) {
    acc += e->hist[b];
    if (acc >= half) return b == 0 ? 1000 : (int64_t)(1000.0 * pow(1.02, b));
  }
  return 0;
}

static void record_stats(engine *e, job *j) {
  int64_t ns = j->t1 - j->t0;
  if (j->status == CLI_JOB_OK) {
    e->hist[hist_bucket(ns)]++;
    e->hist_n++;
  }
  if (j->attempts > 0) {
    int k = -1;
    for (int i = 0; i < SLOWEST; i++)
      if (e->slow[i].seq == 0 || e->slow[i].ns < ns) {
        k = i;
        break;
      }
    if (k >= 0) {
      memmove(&e->slow[k + 1], &e->slow[k], (SLOWEST - 1 - k) * sizeof e->slow[0]);
      e->slow[k].seq = j->seq;
      e->slow[k].ns = ns;
      snprintf(e->slow[k].cmd, sizeof e->slow[k].cmd, "%s", j->cmd);
    }
  }
  if ((j->status == CLI_JOB_ERROR || j->status == CLI_JOB_TIMED_OUT) && e->nfails < FAIL_KEEP) {
    fail_rec *f = &e->fails[e->nfails++];
    f->seq = j->seq;
    f->status = j->status;
    f->exit_code = j->exit_code;
    f->sig = j->sig;
    snprintf(f->cmd, sizeof f->cmd, "%s", j->cmd);
    /* the last 3 lines of its stderr */
    const char *t = j->tail.data ? j->tail.data : "";
    size_t l = j->tail.len;
    while (l && t[l - 1] == '\n') l--;
    size_t s = l;
    for (int lines = 0; s > 0; s--)
      if (t[s - 1] == '\n' && ++lines == 3) break;
    if (l - s >= sizeof f->tail) s = l - (sizeof f->tail - 1);
    memcpy(f->tail, t + s, l - s);
    f->tail[l - s] = 0;
    if (!f->tail[0] && j->why[0]) snprintf(f->tail, sizeof f->tail, "%s", j->why);
  }
}

/* ------------------------------------------------------------ containment */

/* Our children that are not job leaders: orphans of jobs (reparented to
 * us, the subreaper) and escapees. Reap the dead; kill those whose
 * process group is not a running job's (or all of them when final). */
static void sweep(engine *e, int final) {
#ifdef __linux__
  if (!e->subreaper) return;
  /* Dead orphans first, cheaply: peek at a zombie child without reaping
   * (libuv reaps the job leaders itself). */
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) break;
    int leader = 0;
    for (job *j = e->run_head; j; j = j->rnext)
      if (j->proc && (pid_t)corral_process_pid(j->proc) == si.si_pid) leader = 1;
    if (leader) break; /* libuv's; it reaps it on its SIGCHLD */
    waitpid(si.si_pid, NULL, WNOHANG);
  }
  /* Live escapees: a walk of /proc, at most 4 times a second. */
  int64_t now = corral_now();
  if (!final && now - e->last_scan < 250 * CLI_NS_PER_MS) return;
  e->last_scan = now;
  pid_t self = getpid();
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    if (!rp) continue;
    char state;
    int ppid, pgrp;
    if (sscanf(rp + 2, "%c %d %d", &state, &ppid, &pgrp) != 3 || ppid != self) continue;
    int leader = 0, in_job = 0;
    for (job *j = e->run_head; j; j = j->rnext) {
      pid_t jp = j->proc ? (pid_t)corral_process_pid(j->proc) : 0;
      if (jp == (pid_t)pid) leader = 1;
      if (jp == (pid_t)pgrp) in_job = 1;
    }
    if (leader) continue; /* libuv reaps it */
    if (waitpid((pid_t)pid, NULL, WNOHANG) > 0) continue; /* a dead orphan */
    if (in_job && !final) continue; /* still part of a running job */
    if (pgrp == pid) kill(-(pid_t)pid, SIGKILL);
    kill((pid_t)pid, SIGKILL);
    kill((pid_t)pid, SIGCONT);
    waitpid((pid_t)pid, NULL, 0);
    e->strays++;
  }
  closedir(d);
#else
  (void)e;
  (void)final;
#endif
}

static uint64_t count_children(void) {
  uint64_t n = 0;
#ifdef __linux__
  pid_t self = getpid();
  DIR *d = opendir("/proc");
  if (!d) return 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = 0;
    char *rp = strrchr(buf, ')');
    int ppid;
    char st;
    if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == self) n++;
  }
  closedir(d);
#endif
  return n;
}

/* ------------------------------------------------------------------ view */

static void view_draw(engine *e) {
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
  write_all(e, 2, b.data, b.len);
  cli_buf_free(&b);
  free(vj);
  e->view_dirty = 0;
}

static void view_clear(engine *e) {
  if (!e->view_on || e->view_lines == 0) return;
  cli_buf b = {0};
  cli_view_erase(e->view_lines, &b);
  write_all(e, 2, b.data, b.len);
  cli_buf_free(&b);
  e->view_lines = 0;
  e->view_dirty = 1;
}

static int view_fn(void *arg, void **result) {
  (void)result;
  engine *e = arg;
  while (!e->view_stop) {
    view_draw(e);
    if (corral_sleep(100 * CLI_NS_PER_MS)) break; /* at most 10 frames/s */
  }
  return 0;
}

/* -------------------------------------------------------------- decisions */

static void stop_all(engine *e, const char *by, const char *why, int now) {
  if (!e->stop_by[0]) {
    snprintf(e->stop_by, sizeof e->stop_by, "%s", by);
    snprintf(e->stop_why, sizeof e->stop_why, "%s", why);
  }
  e->stop_feeding = 1;
  if (e->feed_open) corral_scope_cancel(&e->feed_scope, why);
  if (now && e->g_open) corral_group_cancel(&e->g, why);
}

static void decide(engine *e, job *j) {
  if (e->verdict.triggered) return;
  cli_policy_decide(&e->c->policy, &e->tally, j ? j->seq : 0,
                    j ? j->status == CLI_JOB_OK : 0, &e->verdict);
  if (!e->verdict.triggered) return;
  if (j && j->status != CLI_JOB_OK && !e->first_fail_status)
    e->first_fail_status = j->sig ? 128 + j->sig : (j->exit_code > 0 ? j->exit_code : 1);
  stop_all(e, "policy", e->verdict.why, e->verdict.decision == CLI_STOP_NOW);
}

/* -------------------------------------------------------------- jobs */

static void job_free(job *j) {
  cli_args_free(&j->args);
  free(j->cmd);
  cli_buf_free(&j->out);
  cli_buf_free(&j->err);
  cli_buf_free(&j->tail);
  for (int i = 0; i < 3; i++) {
    cli_buf_free(&j->part[i]);
    if (j->fd_res[i] >= 0) close(j->fd_res[i]);
  }
  free(j);
}

static void open_results(engine *e, job *j) {
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

static void write_exitval(engine *e, job *j) {
  char p[4200];
  snprintf(p, sizeof p, "%s/%llu/exitval", e->c->results_dir, (unsigned long long)j->seq);
  FILE *f = fopen(p, "we");
  if (!f) return;
  fprintf(f, "%d\n", j->sig ? -1 : j->exit_code);
  fclose(f);
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
    on_data(r->j, r->which, buf, (size_t)n);
  on_data(r->j, r->which, NULL, 0);
  return 0;
}

/* Spawn the job's command and wait for it (and its output). Returns 0, 1
 * when it could not start, or CORRAL_ECANCELED when it was stopped (the
 * termination sequence ran, the process is reaped). */
static int run_once(engine *e, job *j) {
  char **argv = NULL, *storage = NULL, *shv[4];
  if (!e->c->shell_direct || cli_split_simple(j->cmd, &argv, &storage) != 1) {
    shv[0] = "/bin/sh";
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
  o.stdio[0].mode = CORRAL_STDIO_NULL;
  int capture = e->c->out != CLI_OUT_UNGROUP || e->json_stdout || e->c->results_dir;
  o.stdio[1].mode = o.stdio[2].mode = capture ? CORRAL_STDIO_PIPE : CORRAL_STDIO_INHERIT;
  char seqs[32], slots[16];
  snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)j->seq);
  snprintf(slots, sizeof slots, "%u", j->slot);
  setenv("PARALLEL_SEQ", seqs, 1);
  setenv("PARALLEL_JOBSLOT", slots, 1);
  int rc = corral_process_spawn(&o, &j->proc);
  free(argv);
  free(storage);
  if (rc) {
    j->exit_code = rc == CORRAL_ENOENT ? 127 : 126;
    snprintf(j->why, sizeof j->why, "cannot run: %s", corral_strerror(rc));
    cli_buf_printf(&j->tail, "corral: %s: %s\n", j->cmd, corral_strerror(rc));
    if (!e->json_stdout && e->c->out != CLI_OUT_UNGROUP)
      cli_buf_printf(&j->err, "corral: %s: %s\n", j->cmd, corral_strerror(rc));
    else if (!e->json_stdout)
      dprintf(2, "corral: %s: %s\n", j->cmd, corral_strerror(rc));
    return 1;
  }
  int es = 0, sig = 0;
  if (!capture) {
    rc = corral_process_wait(j->proc, &es, &sig);
  } else {
    corral_group g;
    reader_arg ra[2] = {{j, 1, corral_process_stream(j->proc, 1)},
                        {j, 2, corral_process_stream(j->proc, 2)}};
    corral_task *rt[2] = {NULL, NULL};
    rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT, .name = "job io"});
    if (rc == 0) {
      int brc = corral_spawn(&g, reader_fn, &ra[0], "stdout", &rt[0]);
      if (!brc) brc = corral_spawn(&g, reader_fn, &ra[1], "stderr", &rt[1]);
      if (!brc) brc = corral_process_wait(j->proc, &es, &sig);
      if (brc == 0) {
        /* Exited: its output ends when every writer is gone. Something it
         * left running may hold the pipes: end its group, then stop
         * reading. */
        size_t nd;
        if (corral_wait(rt, 2, CORRAL_ALL_COMPLETED, 200 * CLI_NS_PER_MS, &nd) == CORRAL_ETIMEDOUT) {
          corral_process_signal(j->proc, SIGKILL);
          if (corral_wait(rt, 2, CORRAL_ALL_COMPLETED, 200 * CLI_NS_PER_MS, &nd) == CORRAL_ETIMEDOUT)
            corral_group_cancel(&g, "output still open after the job ended");
        }
      } else if (brc != CORRAL_ECANCELED) {
        corral_group_cancel(&g, "job failed");
      }
      int grc = corral_group_close(&g, 0); /* the readers never fail */
      (void)grc;
      for (int i = 0; i < 2; i++) corral_task_release(rt[i]);
      rc = brc;
    }
  }
  j->exit_code = es;
  j->sig = sig;
  /* Closing ends what is left of the job's process group. */
  corral_process_close(j->proc);
  j->proc = NULL;
  return rc;
}

static void finish(engine *e, job *j);

static int job_fn(void *arg, void **result) {
  (void)result;
  job *j = arg;
  engine *e = j->e;
  /* running list */
  j->rprev = e->run_tail;
  if (e->run_tail) e->run_tail->rnext = j; else e->run_head = j;
  e->run_tail = j;
  e->tally.running++;
  e->view_dirty = 1;
  unsigned max = e->c->retries ? e->c->retries : 1;
  for (unsigned a = 1; a <= max; a++) {
    if (a > 1) {
      int64_t d = e->c->retry_delay_ns;
      for (unsigned k = 2; k < a && d < 30 * CLI_NS_PER_SEC; k++) d *= 2;
      if (d && corral_sleep(d)) {
        j->status = CLI_JOB_CANCELLED;
        break;
      }
      cli_buf_reset(&j->out);
      cli_buf_reset(&j->err);
      j->why[0] = 0;
    }
    j->attempts = a;
    j->t0 = corral_now();
    j->epoch0 = epoch_now();
    j->exit_code = j->sig = 0;
    int64_t timeout = e->c->timeout_ns;
    if (e->c->timeout_pct > 0) {
      int64_t m = hist_median(e);
      timeout = m ? (int64_t)((double)m * e->c->timeout_pct / 100.0) : 0;
    }
    corral_scope s;
    if (timeout > 0) corral_fail_after(&s, timeout);
    int rc = run_once(e, j);
    if (timeout > 0) rc = corral_scope_exit(&s, rc);
    j->t1 = corral_now();
    if (rc == 1) {
      j->status = CLI_JOB_ERROR;
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

static void finish(engine *e, job *j) {
  j->finished = 1;
  switch (j->status) {
  case CLI_JOB_OK: e->tally.ok++; break;
  case CLI_JOB_ERROR:
  case CLI_JOB_TIMED_OUT: e->tally.failed++, e->timed_out += j->status == CLI_JOB_TIMED_OUT; break;
  case CLI_JOB_CANCELLED: e->tally.cancelled++; break;
  case CLI_JOB_NOT_STARTED: break;
  }
  record_stats(e, j);
  if (e->jl.f)
    cli_joblog_write(&e->jl, j->seq, j->epoch0, (double)(j->t1 - j->t0) / 1e9,
                     j->sig || j->status == CLI_JOB_TIMED_OUT ? -1 : j->exit_code,
                     j->sig, j->cmd);
  if (e->c->results_dir) write_exitval(e, j);
  json_job(e, j);
  if (j->status == CLI_JOB_ERROR || j->status == CLI_JOB_TIMED_OUT) {
    if (!e->first_fail_status)
      e->first_fail_status = j->sig ? 128 + j->sig : (j->exit_code > 0 ? j->exit_code : 1);
  }
  release_slot(e, j);
  if (j->status != CLI_JOB_CANCELLED) decide(e, j);
  sweep(e, 0);
  e->view_dirty = 1;
  /* Output last: in input order (-k) this may print and free j itself. */
  if (e->c->out == CLI_OUT_KEEP_ORDER) {
    /* One flusher at a time (a write may wait), so the order holds. */
    if (!e->flushing) {
      e->flushing = 1;
      while (e->ohead && e->ohead->finished) {
        job *h = e->ohead;
        e->ohead = h->onext;
        if (!e->ohead) e->otail = NULL;
        emit_job_output(e, h);
        job_free(h);
      }
      e->flushing = 0;
    }
  } else {
    emit_job_output(e, j);
    job_free(j);
  }
  if (e->out_closed) stop_all(e, "output", "standard output was closed", 1);
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
    if (e->c->commands) {
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
    }
    uint64_t seq = ++e->seq_next;
    if ((e->c->shard_n && (seq - 1) % e->c->shard_n != e->c->shard_i) ||
        cli_seqset_has(&e->skip, seq)) {
      cli_args_free(&a);
      continue;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
      cli_args_free(&a);
      *err = -ENOMEM;
      return NULL;
    }
    j->e = e;
    j->seq = seq;
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
    return j;
  }
}

static void drain_not_started(engine *e) {
  if (!e->json || e->input_ended) return;
  if (e->in && cli_input_endless(e->in)) return;
  int err;
  job *j;
  /* Release the slots' guard: the slot allocator is not used here. */
  while ((j = next_job(e, &err))) {
    j->status = CLI_JOB_NOT_STARTED;
    if (j->slot) e->slot_used[j->slot - 1] = 0;
    j->slot = 0;
    json_job(e, j);
    e->not_started++;
    job_free(j);
  }
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
    job *j = next_job(e, &err);
    if (!j) {
      if (!e->c->dry_run) corral_semaphore_release(&e->sem);
      if (err == 0) e->input_ended = 1;
      break;
    }
    if (e->c->dry_run) {
      cli_buf b = {0};
      cli_buf_adds(&b, j->cmd);
      cli_buf_addc(&b, '\n');
      write_all(e, 1, b.data, b.len);
      cli_buf_free(&b);
      if (j->slot) e->slot_used[j->slot - 1] = 0;
      job_free(j);
      if (e->out_closed) break;
      continue;
    }
    e->last_start = corral_now();
    if (e->c->results_dir) open_results(e, j);
    if (e->c->out == CLI_OUT_KEEP_ORDER) {
      if (e->otail) e->otail->onext = j; else e->ohead = j;
      e->otail = j;
    }
    char name[32];
    snprintf(name, sizeof name, "job %llu", (unsigned long long)j->seq);
    int rc = corral_spawn(&e->g, job_fn, j, name, NULL);
    if (rc == 0) e->launched++;
    if (rc) {
      /* The group refuses (it was cancelled): the job never starts. */
      j->status = CLI_JOB_NOT_STARTED;
      if (e->c->out == CLI_OUT_KEEP_ORDER) {
        j->finished = 1;
      } else {
        release_slot(e, j);
        job_free(j);
        break;
      }
      release_slot(e, j);
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
  } else {
    /* Second signal: no more grace. */
    e->ts_live.n = 1;
    e->ts_live.step[0].sig = SIGKILL;
    e->ts_live.step[0].wait_ns = 0;
    for (job *j = e->run_head; j; j = j->rnext)
      if (j->proc) corral_process_signal(j->proc, SIGKILL);
    cli_cgroup_kill(&e->cg);
  }
  e->view_dirty = 1;
}

static void on_sig_close(uv_handle_t *h) {
  engine *e = h->data;
  e->nsigs_open--;
}

/* ----------------------------------------------------------------- main */

static void print_summary(engine *e, int64_t elapsed) {
  cli_buf b = {0};
  char d[32];
  cli_format_duration(elapsed, d, sizeof d);
  uint64_t total = e->tally.ok + e->tally.failed + e->tally.cancelled;
  cli_buf_printf(&b, "corral: %llu jobs in %s: %llu ok, %llu failed, %llu cancelled",
                 (unsigned long long)total, d, (unsigned long long)e->tally.ok,
                 (unsigned long long)e->tally.failed, (unsigned long long)e->tally.cancelled);
  if (e->not_started) cli_buf_printf(&b, ", %llu not started", (unsigned long long)e->not_started);
  cli_buf_printf(&b, "\n  decision: %s (%s)\n", e->verdict.success ? "success" : "failure", e->verdict.why);
  if (e->slow[0].seq) {
    cli_buf_adds(&b, "  slowest:\n");
    for (int i = 0; i < SLOWEST && e->slow[i].seq; i++) {
      cli_format_duration(e->slow[i].ns, d, sizeof d);
      cli_buf_printf(&b, "    #%-5llu %8s  %s\n", (unsigned long long)e->slow[i].seq, d, e->slow[i].cmd);
    }
  }
  if (e->nfails) {
    cli_buf_adds(&b, "  failures:\n");
    for (size_t i = 0; i < e->nfails; i++) {
      fail_rec *f = &e->fails[i];
      char sb[16];
      if (f->status == CLI_JOB_TIMED_OUT)
        cli_buf_printf(&b, "    #%-5llu timed out     %s\n", (unsigned long long)f->seq, f->cmd);
      else if (f->sig)
        cli_buf_printf(&b, "    #%-5llu killed by %-4s %s\n", (unsigned long long)f->seq,
                       cli_signame(f->sig, sb, sizeof sb), f->cmd);
      else
        cli_buf_printf(&b, "    #%-5llu exit %-8d %s\n", (unsigned long long)f->seq, f->exit_code, f->cmd);
      for (char *line = f->tail, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        cli_buf_printf(&b, "           | %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
      }
    }
    if (e->tally.failed > e->nfails)
      cli_buf_printf(&b, "    ... and %llu more\n", (unsigned long long)(e->tally.failed - e->nfails));
  }
  cli_buf_printf(&b, "  processes left behind: %llu", (unsigned long long)e->left_behind);
  if (e->strays) cli_buf_printf(&b, " (%llu escaped processes killed)", (unsigned long long)e->strays);
  cli_buf_addc(&b, '\n');
  write_all(e, 2, b.data, b.len);
  cli_buf_free(&b);
}

static int exit_status(engine *e) {
  if (e->stop_sig) return 128 + e->stop_sig;
  if (e->deadline_hit) return CLI_EXIT_DEADLINE;
  if (e->verdict.success) return 0;
  const cli_policy *p = &e->c->policy;
  if (e->verdict.triggered && p->why == CLI_WHY_FAIL && p->pct <= 0 && p->count == 1)
    return e->first_fail_status ? e->first_fail_status : 1;
  if (p->pct > 0 && p->why == CLI_WHY_FAIL) {
    uint64_t all = e->tally.ok + e->tally.failed;
    int pc = all ? (int)(100 * e->tally.failed / all) : 0;
    return pc ? pc : 1;
  }
  uint64_t f = e->tally.failed;
  return f == 0 ? 1 : f > 101 ? 101 : (int)f;
}

static void summary_json(engine *e, int status, int64_t elapsed) {
  if (!e->json) return;
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "type", "summary", "policy",
                        e->c->policy.name[0] ? e->c->policy.name : "all", "decision",
                        e->verdict.success ? "success" : "failure", "reason", e->verdict.why,
                        "input_complete", e->input_ended);
  json_t *c = json_pack("{s:I,s:I,s:I,s:I,s:I}", "OK", (json_int_t)e->tally.ok, "ERROR",
                        (json_int_t)(e->tally.failed - e->timed_out), "CANCELLED",
                        (json_int_t)e->tally.cancelled, "TIMED_OUT", (json_int_t)e->timed_out,
                        "NOT_STARTED", (json_int_t)e->not_started);
  json_object_set_new(o, "counts", c);
  json_object_set_new(o, "stopped_by", e->stop_by[0] ? json_string(e->stop_by) : json_null());
  json_object_set_new(o, "duration_s", json_real((double)elapsed / 1e9));
  json_object_set_new(o, "processes_left", json_integer((json_int_t)e->left_behind));
  json_object_set_new(o, "escaped_killed", json_integer((json_int_t)e->strays));
  char cont[64];
  snprintf(cont, sizeof cont, "process-group%s%s", e->subreaper ? "+subreaper" : "",
           e->cg_used ? "+cgroup" : "");
  json_object_set_new(o, "containment", json_string(cont));
  json_object_set_new(o, "exit_status", json_integer(status));
  if (e->c->shard_n)
    json_object_set_new(o, "shard", json_pack("{s:I,s:I}", "index", (json_int_t)e->c->shard_i,
                                              "count", (json_int_t)e->c->shard_n));
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(16));
  if (s) {
    fputs(s, e->json);
    fputc('\n', e->json);
    fflush(e->json);
    free(s);
  }
  json_decref(o);
}

static int main_fn(void *arg, void **result) {
  engine *e = arg;
  (void)result;
  uv_loop_t *loop = corral_loop();
  static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(loop, &e->sigs[i]);
    e->sigs[i].data = e;
    uv_signal_start(&e->sigs[i], on_signal, sigs[i]);
    e->nsigs_open++;
  }
  if (e->view_on) {
    write_all(e, 2, "\033[?25l", 6); /* hide the cursor while drawing */
    corral_create_task(view_fn, e, "view", &e->view_task);
  }
  corral_group_opts go = {.policy = CORRAL_COLLECT, .name = "jobs",
                          .timeout_ns = e->c->deadline_ns};
  int rc = corral_group_open(&e->g, &go);
  if (rc == 0) {
    e->g_open = 1;
    corral_scope_enter(&e->feed_scope, &(corral_scope_opts){.name = "input"});
    e->feed_open = 1;
    feed(e);
    e->feed_open = 0;
    if (corral_scope_exit(&e->feed_scope, 0) == CORRAL_ECANCELED) {
      /* the run was stopped (its reason is already recorded) */
    }
    rc = corral_group_close(&e->g, 0);
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
      sweep(e, 0);
      if (corral_sleep(CLI_NS_PER_MS)) break;
    }
  }
  sweep(e, 1);
  while (count_children() > 0 && corral_now() < end) {
    if (corral_sleep(10 * CLI_NS_PER_MS)) break;
    sweep(e, 1);
  }
  e->left_behind = count_children() + cli_cgroup_fini(&e->cg);
  if (e->view_task) {
    e->view_stop = 1;
    corral_cancel(e->view_task, "done");
    if (corral_join(e->view_task, NULL) == CORRAL_ECANCELED) {
      /* it was cancelled by us: that is how it ends */
    }
    corral_task_release(e->view_task);
    view_clear(e);
    write_all(e, 2, "\033[?25h", 6);
  }
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
  e->ts_live = c->termseq;
  if (e->ts_live.n == 0) cli_termseq_default(&e->ts_live);
  if (c->jobs == 0) c->jobs = default_jobs();
  e->nslots = c->jobs;
  e->slot_used = calloc(c->jobs, 1);
  corral_semaphore_init(&e->sem, c->jobs);
  int status = CLI_EXIT_INTERNAL;
  char err[512] = "";
  if (!e->slot_used) goto out;
  if (!c->commands) {
    c->in.wait_readable = wait_readable;
    int rc = cli_input_open(&c->in, &e->in, err, sizeof err);
    if (rc) {
      dprintf(2, "corral: %s\n", err[0] ? err : strerror(-rc));
      status = 1;
      goto out;
    }
  }
  /* The total is known up front for argument and ::: inputs. */
  int lists_only = c->commands != NULL;
  if (!c->commands && c->in.nsrc > 0) {
    lists_only = 1;
    for (size_t i = 0; i < c->in.nsrc; i++)
      if (c->in.src[i].kind != CLI_SRC_LIST) lists_only = 0;
  }
  if (lists_only && !c->shard_n && !c->resume && !c->resume_failed) {
    uint64_t t = 1;
    if (c->commands) t = c->ncommands;
    else
      for (size_t i = 0; i < c->in.nsrc; i++) t *= c->in.src[i].n;
    e->tally.total = t;
    e->tally.input_done = 1;
  }
  if (c->resume || c->resume_failed) {
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
    int rc = cli_joblog_open(&e->jl, c->joblog, c->resume || c->resume_failed);
    if (rc) {
      dprintf(2, "corral: cannot write the joblog %s: %s\n", c->joblog, strerror(-rc));
      status = 1;
      goto out;
    }
  }
  if (c->json_path && !c->dry_run) {
    if (!strcmp(c->json_path, "-")) {
      e->json = stdout;
      e->json_stdout = 1;
    } else if (!(e->json = fopen(c->json_path, "we"))) {
      dprintf(2, "corral: cannot write %s: %s\n", c->json_path, strerror(errno));
      status = 1;
      goto out;
    }
  }
  if (c->view && !c->dry_run) {
    struct winsize ws;
    e->view_on = 1;
    e->tty_cols = ioctl(2, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 80;
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
  int rc = corral_run(NULL, main_fn, e, NULL);
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
  status = c->dry_run ? 0 : exit_status(e);
  summary_json(e, status, elapsed);
  if (!c->dry_run && (c->summary || e->view_on)) print_summary(e, elapsed);
out:
  if (e->in) cli_input_close(e->in);
  cli_joblog_close(&e->jl);
  cli_seqset_free(&e->skip);
  if (e->json && e->json != stdout) fclose(e->json);
  while (e->ohead) {
    job *h = e->ohead;
    e->ohead = h->onext;
    job_free(h);
  }
  free(e->slot_used);
  free(e);
  return status;
}
