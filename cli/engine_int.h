/* Internal to the engine of the corral command: the engine's state and the
 * files that share it (engine.c: jobs, feeding, decisions, signals, the run;
 * output.c: where jobs' output goes, the live view; report.c: statistics,
 * JSON lines, the summary, the exit status; reap.c: orphans and escapees). */
#ifndef CORRAL_CLI_ENGINE_INT_H
#define CORRAL_CLI_ENGINE_INT_H

#include <corral.h>
#include <uv.h>

#include <stdio.h>

#include "contain.h"
#include "engine.h"

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
  int http_status, hedged; /* corral http */
  char *block;             /* --pipe: the job's standard input */
  size_t blen;
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
  struct corral_http_client *http; /* corral http */
  int64_t lat[1024];               /* latencies of answered requests (ring) */
  uint64_t nlat;
  corral_event lat_known;          /* set once 5 requests have answered */
};


/* output.c */
int cli_write_all(engine *e, int fd, const char *p, size_t n);
void cli_on_data(void *ctx, int which, const char *p, size_t n);
void cli_emit_job_output(engine *e, job *j);
void cli_view_draw(engine *e);
void cli_view_clear(engine *e);
int cli_view_task(void *arg, void **result);
void cli_open_results(engine *e, job *j);
void cli_write_exitval(engine *e, job *j);

/* report.c */
double cli_epoch_now(void);
void cli_json_job(engine *e, job *j);
void cli_summary_json(engine *e, int status, int64_t elapsed);
int64_t cli_median_ns(engine *e);
void cli_record_stats(engine *e, job *j);
void cli_print_summary(engine *e, int64_t elapsed);
int cli_exit_status(engine *e);

/* http.c: GET the job's URL (hedged with --hedge). 0, 1 when it could not
 * start, or CORRAL_ECANCELED. */
int cli_http_once(engine *e, job *j);
int cli_http_open(engine *e);
void cli_http_close(engine *e);

/* reap.c */
void cli_sweep(engine *e, int final);
uint64_t cli_count_children(void);

#endif
