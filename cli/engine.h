/* The engine of the corral command: every job is a task in one group, run
 * under the chosen policy with the limits, timeouts, retries, output mode
 * and containment of the options. */
#ifndef CORRAL_CLI_ENGINE_H
#define CORRAL_CLI_ENGINE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "input.h"
#include "joblog.h"
#include "policy.h"
#include "proc.h"
#include "template.h"
#include "util.h"

typedef enum {
  CLI_OUT_GROUP, CLI_OUT_KEEP_ORDER, CLI_OUT_LINE, CLI_OUT_UNGROUP
} cli_outmode;

typedef enum {
  CLI_JOB_OK, CLI_JOB_ERROR, CLI_JOB_CANCELLED, CLI_JOB_TIMED_OUT,
  CLI_JOB_NOT_STARTED
} cli_jobstatus;
const char *cli_jobstatus_name(cli_jobstatus s);

/* Exit codes beyond "number of failed jobs" (documented in corral.1). */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_DEADLINE 124
#define CLI_EXIT_INTERNAL 125 /* also: a file corral writes failed */

typedef struct cli_config {
  /* what to run */
  cli_template *tmpl;      /* NULL: every input record is a command */
  char **commands;         /* commands given as arguments (no input) */
  size_t ncommands;
  const uint64_t *command_seqs; /* --retry-failed: each command's own {#} */
  int retry_failed;        /* --retry-failed: the failed jobs of --joblog */
  cli_input_opts in;
  int use_input;
  /* limits and time */
  unsigned jobs;           /* -j */
  int64_t timeout_ns;      /* per job; 0 none */
  double timeout_pct;      /* > 0: % of the median successful runtime */
  int64_t deadline_ns;     /* whole run; 0 none */
  unsigned retries;        /* a job runs at most this many times (>= 1) */
  int64_t retry_delay_ns;  /* back-off base, doubled per retry */
  int64_t delay_ns;        /* between starts */
  cli_termseq termseq;
  cli_policy policy;
  /* output */
  cli_outmode out;
  int keep_lines;          /* -k --lb: the first job in order prints its
                              lines as they come */
  int tag, color;
  cli_template *tagtmpl;   /* --tagstring (values unquoted), else the input */
  int verbose;             /* -t, --verbose: each command on stderr first */
  int verbose_out;         /* -v: each command on stdout before its output */
  const char *workdir;     /* --wd DIR: where the jobs run (NULL: here) */
  const char *results_dir;  /* --results NAME (GNU parallel's forms): */
  cli_template *results_tmpl; /* NAME with replacement strings: per job */
  cli_template *wd_tmpl;      /* --wd DIR with replacement strings: per job */
  char results_csv;        /* NAME.csv / NAME.tsv: ',' or '\t' (0: none) */
  int results_json;        /* NAME.json */
  int results_stdout;      /* -.csv, -.tsv, -.json: on standard output */
  const char *joblog;
  int resume, resume_failed;
  const char *json_path;   /* "-": standard output, jobs' output inside */
  const char *tmpdir;      /* --tmpdir: where grouped output spills
                              (NULL: $TMPDIR, else /tmp) */
  int dry_run;
  int view;                /* live view on stderr */
  int summary;             /* summary table on stderr */
  /* sharding */
  uint64_t shard_i, shard_n; /* n == 0: no sharding */
  int shell_direct;        /* exec simple commands without sh (default 1) */
  const char *shell;       /* runs the commands (NULL: /bin/sh) */
  int cgroups;             /* use cgroup v2 containment when possible */
  int http;                /* corral http: jobs are URLs to GET */
  int hedge;               /* http: hedge requests slower than the p95 */
} cli_config;

/* Run everything; returns the process exit status. */
int cli_engine_run(cli_config *cfg);

#endif
