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

/* A job's output kept until it can be printed (grouped output) or until its
 * line is complete (--line-buffer): in memory up to CLI_SPOOL_MEM bytes,
 * then in an unlinked file in the temporary directory, as GNU parallel
 * does, so the memory a job takes does not grow with what it prints. */
#define CLI_SPOOL_MEM (64 * 1024)
typedef struct cli_spool {
  cli_buf mem;
  int fd;            /* -1: everything is in mem */
  uint64_t file_len; /* bytes in the file */
} cli_spool;

/* Where corral writes: standard output, standard error, the JSON log. A
 * corral stream when the descriptor is a pipe, a socket or a terminal, so
 * a reader that does not keep up makes the writing task wait and never the
 * loop; one writer at a time (the lock) keeps every job's output whole. */
enum { CLI_SINK_OUT, CLI_SINK_ERR, CLI_SINK_JSON, CLI_NSINKS };
typedef struct cli_sink {
  int fd;            /* -1: closed */
  int own_fd;        /* corral opened fd (the JSON file) */
  corral_stream *s;  /* NULL: write(2) on fd */
  corral_lock lock;
  int lock_ready;
  int broken;        /* a write failed: nothing more goes there */
  int err;           /* that write's error (negative errno) */
  const char *name;  /* for messages */
} cli_sink;

struct job {
  engine *e;
  uint64_t seq;
  unsigned slot;
  cli_args args;
  char *cmd;
  corral_process *proc;
  cli_jobstatus status;
  int exit_code, sig, attempts, finished;
  int live;                    /* -k --lb: first in order, lines go out as they come */
  int said;                    /* -v: its command was printed */
  int64_t t0, t1;
  double epoch0;
  cli_spool out, err, part[3]; /* grouped output; unfinished lines */
  cli_buf tail;
  uint64_t bytes[3];
  int fd_res[3];
  char why[160], by[16];
  int http_status, hedged; /* corral http */
  char *block;             /* --pipe: the job's standard input */
  size_t blen;
  job *rnext, *rprev; /* running list */
  job *onext;         /* keep-order queue */
  job *pnext, *pprev; /* spawned, not started yet */
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
  corral_semaphore oq_sem; /* -k: jobs queued behind the first unfinished */
  unsigned char *slot_used;
  unsigned nslots;
  cli_tally tally;
  cli_verdict verdict;
  int flushing;
  int stop_feeding, input_ended, stop_sig, nsig, out_closed, deadline_hit;
  int halt_status; /* the exit status fixed when the policy decided */
  char stop_by[16], stop_why[160];
  cli_termseq ts_live;
  uint64_t seq_next, not_started, launched;
  int64_t t_start, last_start, last_scan;
  job *run_head, *run_tail;
  job *ohead, *otail;
  job *pending;       /* spawned tasks that have not run yet */
  cli_joblog jl;
  cli_seqset skip;
  int json; /* a JSON log is written (sink CLI_SINK_JSON or, with
               json_stdout, CLI_SINK_OUT) */
  int json_stdout;
  cli_sink sink[CLI_NSINKS];
  const char *tmpdir;
  int own_error;      /* corral could not write something it was asked to */
  int out_abandoned;  /* a second signal: stop waiting for slow readers */
  int64_t abandon_at; /* after a signal: abandon then (corral_now) */
  int64_t t_start_rt; /* corral_now() when the run started */
  int spool_failed, spool_mem_warned, results_failed, joblog_failed, stdout_tty;
  int res_fd, res_header; /* --results NAME.csv / .tsv / .json */
  int std_closed[3];  /* descriptor 0, 1, 2 was closed when corral started */
  uv_signal_t sigs[3];
  int nsigs_open;
  /* view */
  int view_on, view_lines, view_dirty, tty_cols, tty_rows;
  uint64_t soon_waiting; /* --halt soon: jobs still running, to be said */
  uint64_t soon_seq;     /* after this job's output (0: the next job's) */
  int soon_said;         /* said once: again after each later such job */
  corral_task *view_task, *watch_task;
  int view_stop;
  /* statistics */
  uint32_t hist[HIST_N];
  uint64_t hist_n;
  slow_rec slow[SLOWEST];
  fail_rec fails[FAIL_KEEP];
  size_t nfails;
  uint64_t strays, left_behind, timed_out;
  int subreaper, cg_used;
  uint64_t nended;    /* children ended and closed so far (a job short of
                         descriptors or processes waits for the next) */
  unsigned nlive;     /* jobs whose child was started and not closed yet */
  int fd_warned;      /* said once: too few descriptors for -j */
  int spawning; /* jobs inside corral_process_spawn: their child exists
                   before its job knows its pid (cli_sweep waits) */
  cli_cgroup cg;
  struct corral_http_client *http; /* corral http */
  int64_t lat[1024];               /* latencies of answered requests (ring) */
  uint64_t nlat;
  corral_event lat_known;          /* set once 5 requests have answered */
};


/* engine.c */
void cli_stop_all(engine *e, const char *by, const char *why, int now);

/* output.c */
#define CLI_EXIT_PIPE 141 /* 128 + SIGPIPE: standard output was closed */
int cli_sinks_open(engine *e);  /* in the main task */
void cli_sinks_close(engine *e);
void cli_sinks_abandon(engine *e); /* wake writers waiting for a reader */
/* Write to a sink, waiting (this task only) while a reader is slow; the
 * caller holds the sink's lock (cli_sink_lock). 0 or a negative errno;
 * a failure marks the sink broken (standard output: the run stops). */
int cli_sink_write(engine *e, int which, const char *p, size_t n);
int cli_sink_lock(engine *e, int which);
void cli_sink_unlock(engine *e, int which);
/* Write a whole message under the sink's lock. */
int cli_sink_put(engine *e, int which, const char *p, size_t n);
void cli_spool_init(cli_spool *s);
void cli_spool_reset(cli_spool *s);
void cli_spool_free(cli_spool *s);
uint64_t cli_spool_len(const cli_spool *s);
/* Read the spool from offset off: up to n bytes into buf; bytes read. */
size_t cli_spool_read(const cli_spool *s, uint64_t off, char *buf, size_t n);
void cli_on_data(void *ctx, int which, const char *p, size_t n);
/* A finished job's output; trailer (tlen bytes, may be 0) follows its
 * standard output under the same hold of the lock. */
void cli_emit_job_output(engine *e, job *j, const char *trailer, size_t tlen);
/* --tag / --tagstring: the job's tag and its TAB (nothing for an empty
 * --tagstring) appended to b. */
void cli_add_tag(engine *e, job *j, cli_buf *b);
/* -k --lb: the job became the first in order; its complete lines so far
 * are printed and the ones to come go out as they come. */
void cli_go_live(engine *e, job *j);
int cli_check_tmpdir(engine *e, char *err, size_t errlen);
void cli_view_draw(engine *e);
void cli_view_clear(engine *e);
int cli_view_task(void *arg, void **result);
int cli_watch_task(void *arg, void **result); /* standard output's reader */
/* --results: before any job (the directory, or the CSV / JSON file);
 * at a job's start (its files); when its output is printed (its CSV / JSON
 * row). 0 or -errno. */
int cli_results_start(engine *e);
/* mkdir -p: every directory of path. 0 or -errno. */
int cli_mkpath(const char *path);
int cli_open_results(engine *e, job *j);
void cli_results_row(engine *e, job *j, int exitval);
/* --resume with --results: 1 if the job ended in an earlier run (its seq file holds its number). */
int cli_results_exist(engine *e, job *j);
void cli_file_error(engine *e, const char *what, const char *path, int err);

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
