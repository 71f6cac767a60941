/* Orphans and escapees of jobs (engine_int.h): corral is a subreaper on
 * Linux, so they become its children. */
#include "engine_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ containment */

#ifdef __linux__
/* The next process of a /proc walk whose parent is `self`: its pid and
 * process group. 0 at the end of the walk. */
static int next_child(DIR *d, pid_t self, pid_t *pid, pid_t *pgrp) {
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long id = strtol(de->d_name, &end, 10);
    if (*end || id <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    char *rp = strrchr(buf, ')'), state;
    int ppid, pg;
    if (!rp || sscanf(rp + 2, "%c %d %d", &state, &ppid, &pg) != 3 || ppid != self) continue;
    *pid = (pid_t)id;
    *pgrp = (pid_t)pg;
    return 1;
  }
  return 0;
}
#endif

/* Our children that are not job leaders: orphans of jobs (reparented to
 * us, the subreaper) and escapees. Reap the dead; kill those whose
 * process group is not a running job's (or all of them when final). */
void cli_sweep(engine *e, int final) {
#ifdef __linux__
  if (!e->subreaper) return;
  /* A spawn in progress may let other tasks run (libcorral starts a child
   * on a worker thread while others are alive): its child is ours before
   * its job has its pid. The next sweep sees it as a job leader. */
  if (e->spawning) return;
  /* Dead orphans first, cheaply: peek at a zombie child without reaping
   * (the library reaps the job leaders itself). */
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) break;
    int leader = 0;
    for (job *j = e->run_head; j; j = j->rnext)
      if (j->proc && (pid_t)corral_process_pid(j->proc) == si.si_pid) leader = 1;
    if (leader) break; /* the library's: it reaps it (pidfd or SIGCHLD) */
    waitpid(si.si_pid, NULL, WNOHANG);
  }
  /* Live escapees: a walk of /proc, at most 4 times a second. */
  int64_t now = corral_now();
  if (!final && now - e->last_scan < 250 * CLI_NS_PER_MS) return;
  e->last_scan = now;
  pid_t self = getpid();
  DIR *d = opendir("/proc");
  if (!d) return;
  pid_t pid, pgrp;
  while (next_child(d, self, &pid, &pgrp)) {
    int leader = 0, in_job = 0;
    for (job *j = e->run_head; j; j = j->rnext) {
      pid_t jp = j->proc ? (pid_t)corral_process_pid(j->proc) : 0;
      if (jp == pid) leader = 1;
      if (jp == pgrp) in_job = 1;
    }
    if (leader) continue; /* the library reaps it */
    if (waitpid(pid, NULL, WNOHANG) > 0) continue; /* a dead orphan */
    if (in_job && !final) continue; /* still part of a running job */
    if (pgrp == pid) kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, NULL, 0);
    e->strays++;
  }
  closedir(d);
#else
  (void)e;
  (void)final;
#endif
}

uint64_t cli_count_children(void) {
  uint64_t n = 0;
#ifdef __linux__
  DIR *d = opendir("/proc");
  if (!d) return 0;
  pid_t pid, pgrp;
  while (next_child(d, getpid(), &pid, &pgrp)) n++;
  closedir(d);
#endif
  return n;
}

