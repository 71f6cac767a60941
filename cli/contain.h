/* Containment beyond process groups: a Linux cgroup v2 for the run. When
 * corral can create a cgroup below its own (it runs as root, or in a
 * delegated subtree such as a systemd user scope), every job starts inside
 * it atomically (clone3 CLONE_INTO_CGROUP), so nothing a job starts can be
 * outside it, whatever it does (setsid, double fork, daemons). At the end
 * of the run (and on a second Ctrl-C) cgroup.kill ends all of it, and an
 * empty cgroup is the proof that nothing was left behind. */
#ifndef CORRAL_CLI_CONTAIN_H
#define CORRAL_CLI_CONTAIN_H

#include <stdint.h>

typedef struct cli_cgroup {
  char base[1024]; /* the run's cgroup directory, "" when not used */
  int fd;          /* its descriptor for CLONE_INTO_CGROUP, -1 when off */
} cli_cgroup;

/* Try to create the run's cgroup; returns 1 when it can be used. */
int cli_cgroup_init(cli_cgroup *cg);
/* Stop using it for new jobs (the kernel refused a spawn into it). */
void cli_cgroup_disable(cli_cgroup *cg);
/* How many processes are in it now. */
uint64_t cli_cgroup_count(const cli_cgroup *cg);
/* Kill everything in it (cgroup.kill); does not wait. */
void cli_cgroup_kill(const cli_cgroup *cg);
/* 1 while some process is still in it. */
int cli_cgroup_populated(const cli_cgroup *cg);
/* Remove it (when empty); returns the processes still in it. */
uint64_t cli_cgroup_fini(cli_cgroup *cg);

#endif
