/* The live view on a terminal: a progress bar with done / failed / running
 * counts and an ETA, then the running jobs with their elapsed time. The
 * engine redraws it at most 10 times a second, in one write, erasing the
 * previous frame in place (no clear screen, so no flicker). */
#ifndef CORRAL_CLI_VIEW_H
#define CORRAL_CLI_VIEW_H

#include <stdint.h>

#include "util.h"

typedef struct cli_view_job {
  uint64_t seq;
  int64_t elapsed_ns;
  const char *cmd;
} cli_view_job;

typedef struct cli_view_state {
  uint64_t ok, failed, cancelled, running, total;
  int total_known;
  int64_t elapsed_ns;
  const cli_view_job *jobs; /* running jobs, oldest first */
  size_t njobs;
  int width, height;        /* terminal columns and rows (0: unknown) */
  int max_jobs;             /* running jobs to list */
  const char *note;         /* e.g. "stopping: SIGINT (again to kill)" */
} cli_view_state;

/* Append one frame (lines ending in "\033[K\n"); *lines gets its height. */
void cli_view_render(const cli_view_state *s, cli_buf *out, int *lines);
/* Append what erases a frame of `lines` lines drawn just above the cursor. */
void cli_view_erase(int lines, cli_buf *out);

#endif
