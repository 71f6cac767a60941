/* Containment beyond process groups: a Linux cgroup v2 for the run. When
 * corral can create a cgroup below its own and move itself into it (it runs
 * as root, or in a delegated subtree such as a systemd user scope), every
 * job is born inside it (a child starts in its parent's cgroup, at no cost
 * per job), so nothing a job starts can be outside it, whatever it does
 * (setsid, double fork, daemons). At the end of the run (and on a second
 * Ctrl-C) corral moves itself back out and cgroup.kill ends all of it; an
 * empty cgroup is the proof that nothing was left behind. */
#ifndef CORRAL_CLI_CONTAIN_H
#define CORRAL_CLI_CONTAIN_H

#include <stdint.h>

typedef struct cli_cgroup {
  char base[1024]; /* the run's cgroup directory, "" when not used */
  char orig[900];  /* the cgroup corral came from */
  int inside;      /* corral itself is in base */
} cli_cgroup;

/* Try to create the run's cgroup and enter it; 1 when it is used. */
int cli_cgroup_init(cli_cgroup *cg);
/* Move corral back to where it came from (before killing). 0 or -errno. */
int cli_cgroup_leave(cli_cgroup *cg);
/* How many processes are in it now. */
uint64_t cli_cgroup_count(const cli_cgroup *cg);
/* Leave it, then kill everything in it (cgroup.kill); does not wait. */
void cli_cgroup_kill(cli_cgroup *cg);
/* 1 while some process is still in it. */
int cli_cgroup_populated(const cli_cgroup *cg);
/* Remove it (when empty); returns the processes still in it. */
uint64_t cli_cgroup_fini(cli_cgroup *cg);

#endif
