/* One decision engine for --policy and GNU parallel's --halt.
 *
 *   --policy all          --halt never (default): run everything
 *   --policy fail-fast    --halt now,fail=1
 *   --policy first        --halt now,success=1
 *   --policy quorum=K     stop (now) once K jobs succeeded, or once so many
 *                         failed that K successes are impossible
 *   --halt now|soon,fail=N|N%,success=N|N%,done=N|N%, and GNU parallel's
 *   old forms 0, 1, 2, -1, -2, 1-99%.
 * "now" cancels the running jobs; "soon" starts no new job and lets the
 * running ones finish. Percentages are of the total number of jobs, so they
 * are decided once the whole input has been read. */
#ifndef CORRAL_CLI_POLICY_H
#define CORRAL_CLI_POLICY_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CLI_WHEN_NEVER, CLI_WHEN_SOON, CLI_WHEN_NOW } cli_when;
typedef enum { CLI_WHY_FAIL, CLI_WHY_SUCCESS, CLI_WHY_DONE, CLI_WHY_QUORUM } cli_why;

typedef struct cli_policy {
  cli_when when;
  cli_why why;
  uint64_t count;  /* threshold (jobs) unless pct */
  double pct;      /* > 0: threshold as a percentage of all jobs */
  char name[32];   /* how the user said it, for messages and JSON */
  int halt;        /* given as --halt: GNU parallel's exit statuses */
} cli_policy;

/* 0, or -1 with a one-line hint in err saying what to write instead. */
int cli_policy_parse(const char *s, cli_policy *p, char *err, size_t errlen);
int cli_halt_parse(const char *s, cli_policy *p, char *err, size_t errlen);

typedef struct cli_tally {
  uint64_t ok, failed, cancelled, running;
  uint64_t total;  /* jobs in the input (valid when input_done) */
  int input_done;
} cli_tally;

typedef enum { CLI_GO, CLI_STOP_SOON, CLI_STOP_NOW } cli_decision;

typedef struct cli_verdict {
  cli_decision decision;
  int triggered;   /* the halt condition was met */
  int success;     /* the policy is satisfied (exit 0 if nothing else) */
  char why[160];   /* e.g. "quorum of 3 reached", "job 4 failed" */
} cli_verdict;

/* Decide after a job finished (last_seq, last_ok describe it) or when the
 * input ended (last_seq == 0). Once a verdict has triggered, later calls
 * keep it. */
void cli_policy_decide(const cli_policy *p, const cli_tally *t,
                       uint64_t last_seq, int last_ok, cli_verdict *v);
/* GNU parallel's exit status under --halt (its should_we_halt and halt):
 * fixed when the condition is met: 0 for success=; for fail= and done=,
 * with N% the percentage of all jobs that had failed then (rounded up),
 * with N = 1 the deciding job's own status (job_status: its exit status,
 * 128 + a signal, 0 when it succeeded), else the number that had failed
 * then (at most 101); jobs that fail while "soon" waits do not count. */
int cli_halt_status_at_trigger(const cli_policy *p, const cli_tally *t, int job_status);
/* Under --halt when the condition was never met: with N% the percentage
 * of the jobs run that failed (rounded up), else their number (at most
 * 101; 0 when none failed, also for a success= that was not reached). */
int cli_halt_status_final(const cli_policy *p, const cli_tally *t);
/* The verdict when the run ended without a trigger. */
void cli_policy_final(const cli_policy *p, const cli_tally *t, cli_verdict *v);

#endif
