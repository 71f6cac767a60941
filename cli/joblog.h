/* GNU parallel's --joblog: one TAB-separated line per finished job with the
 * columns Seq Host Starttime JobRuntime Send Receive Exitval Signal Command
 * (Host is ":" for this machine, times in seconds with 3 decimals, Send and
 * Receive 0, Exitval -1 for a job that was killed), and --resume /
 * --resume-failed from such a file. */
#ifndef CORRAL_CLI_JOBLOG_H
#define CORRAL_CLI_JOBLOG_H

#include <stdint.h>
#include <stdio.h>

#include "util.h"

typedef struct cli_joblog {
  FILE *f;
  int to_stdout; /* "-": each line follows the job's output */
} cli_joblog;

/* path "+FILE" appends, as in GNU parallel; append also with --resume*. The
 * header is written when the file is new or empty. "-" is standard output
 * (a duplicate of descriptor 1, header first, flushed per line). 0 or
 * -errno. */
int cli_joblog_open(cli_joblog *j, const char *path, int append);
/* One joblog line (with its newline) appended to b. receive: the bytes the
 * job wrote to standard output (GNU parallel's Receive). 0 or -ENOMEM. */
int cli_joblog_line(cli_buf *b, uint64_t seq, double start_epoch, double runtime_s,
                    uint64_t receive, int exitval, int sig, const char *cmd);
int cli_joblog_write(cli_joblog *j, uint64_t seq, double start_epoch,
                     double runtime_s, uint64_t receive, int exitval, int sig,
                     const char *cmd);
void cli_joblog_close(cli_joblog *j);

/* The sequence numbers a previous run finished (a bitmap). */
/* The largest job number a joblog line may carry (2^31: a quarter of a
 * GiB of bitmap at most); a line with a larger one is corrupt and ignored. */
#define CLI_SEQ_MAX (1ULL << 31)

typedef struct cli_seqset {
  uint8_t *bits;
  uint64_t nbits;
} cli_seqset;

/* Read a joblog: with failed_too == 0 every logged job counts as done
 * (--resume); with 1 only those that succeeded (--resume-failed reruns the
 * rest). A missing file is an empty set. 0, -errno, or -EINVAL for a file
 * that is not a joblog. */
int cli_seqset_load(cli_seqset *s, const char *path, int failed_too);
int cli_seqset_has(const cli_seqset *s, uint64_t seq);
/* --retry-failed: the jobs whose last line in the joblog failed (Exitval
 * or Signal not 0), in sequence order: their commands (*cmds, malloc'd
 * strings in a malloc'd array) and sequence numbers (*seqs). A missing
 * file is none. 0, -errno, or -EINVAL for a file that is not a joblog. */
int cli_joblog_failed(const char *path, char ***cmds, uint64_t **seqs, size_t *n);
void cli_seqset_free(cli_seqset *s);

#endif
