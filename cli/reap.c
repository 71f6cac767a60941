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
    if (leader) continue; /* the library reaps it */
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

uint64_t cli_count_children(void) {
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

