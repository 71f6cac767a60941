/* cgroup v2 containment of a run (contain.h). */
#include "contain.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, s, strlen(s));
  int e = n < 0 ? -errno : 0;
  close(fd);
  return e;
}

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static int cgroup2_mount(char *out, size_t len) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return -1;
  char line[1024];
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    char *sep = strstr(line, " - ");
    if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0) continue;
    char mnt[400];
    if (sscanf(line, "%*s %*s %*s %*s %399s", mnt) == 1) {
      snprintf(out, len, "%s", mnt);
      found = 0;
      break;
    }
  }
  fclose(f);
  return found;
}

static int move_self(const char *dir) {
  char p[1100], s[32];
  snprintf(p, sizeof p, "%s/cgroup.procs", dir);
  snprintf(s, sizeof s, "%d", (int)getpid());
  return write_file(p, s);
}

/* The cgroups of runs whose corral is gone (killed with SIGKILL: nothing
 * could clean up) hold what their jobs left running: end it and remove
 * them. A directory whose corral-PID is alive belongs to another run. */
static void reap_stale(const char *orig) {
  DIR *d = opendir(orig);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    if (strncmp(de->d_name, "corral-", 7) != 0) continue;
    long pid = strtol(de->d_name + 7, &end, 10);
    if (*end || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    cli_cgroup old = {.inside = 0};
    if (snprintf(old.base, sizeof old.base, "%s/%s", orig, de->d_name) >= (int)sizeof old.base) continue;
    uint64_t n = cli_cgroup_count(&old);
    if (n) {
      char p[1100];
      snprintf(p, sizeof p, "%s/cgroup.kill", old.base);
      if (write_file(p, "1") != 0) continue;
      for (int i = 0; i < 100 && cli_cgroup_populated(&old); i++) usleep(1000);
      dprintf(2, "corral: Warning: ended %llu process%s left running by corral %ld, "
                 "which was killed before it could end them\n",
              (unsigned long long)n, n == 1 ? "" : "es", pid);
    }
    rmdir(old.base);
  }
  closedir(d);
}

int cli_cgroup_init(cli_cgroup *cg) {
  cg->base[0] = cg->orig[0] = 0;
  cg->inside = 0;
#ifdef __linux__
  char mnt[400], rel[400] = "";
  if (cgroup2_mount(mnt, sizeof mnt)) return 0;
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return 0;
  char line[500];
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "0::", 3)) {
      snprintf(rel, sizeof rel, "%.399s", line + 3);
      rel[strcspn(rel, "\n")] = 0;
    }
  fclose(f);
  if (!rel[0]) return 0;
  if (!strcmp(rel, "/")) rel[0] = 0;
  snprintf(cg->orig, sizeof cg->orig, "%s%s", mnt, rel);
  reap_stale(cg->orig);
  snprintf(cg->base, sizeof cg->base, "%s/corral-%d", cg->orig, (int)getpid());
  if (mkdir(cg->base, 0755) != 0) return cg->base[0] = 0, 0;
  char p[1100];
  snprintf(p, sizeof p, "%s/cgroup.kill", cg->base);
  /* cgroup.kill: Linux 5.14. Moving ourselves needs a delegated subtree
   * (or root); we must also be able to move back. */
  if (access(p, W_OK) == 0 && move_self(cg->base) == 0) {
    cg->inside = 1;
    if (cli_cgroup_leave(cg) == 0 && move_self(cg->base) == 0) {
      cg->inside = 1;
      return 1;
    }
  }
  cli_cgroup_leave(cg);
  rmdir(cg->base);
  cg->base[0] = 0;
  return 0;
#else
  return 0;
#endif
}

int cli_cgroup_leave(cli_cgroup *cg) {
  if (!cg->inside) return 0;
  int rc = move_self(cg->orig);
  if (rc == 0) cg->inside = 0;
  return rc;
}

uint64_t cli_cgroup_count(const cli_cgroup *cg) {
  if (!cg->base[0]) return 0;
  char p[1100];
  snprintf(p, sizeof p, "%s/cgroup.procs", cg->base);
  FILE *f = fopen(p, "re");
  if (!f) return 0;
  uint64_t n = 0;
  int pid;
  while (fscanf(f, "%d", &pid) == 1) n++;
  fclose(f);
  return n;
}

void cli_cgroup_kill(cli_cgroup *cg) {
  if (!cg->base[0] || cli_cgroup_leave(cg) != 0) return;
  char p[1100];
  snprintf(p, sizeof p, "%s/cgroup.kill", cg->base);
  write_file(p, "1");
}

int cli_cgroup_populated(const cli_cgroup *cg) {
  if (!cg->base[0]) return 0;
  char p[1100], line[128];
  snprintf(p, sizeof p, "%s/cgroup.events", cg->base);
  FILE *f = fopen(p, "re");
  if (!f) return 0;
  int v = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "populated %d", &v) == 1) break;
  fclose(f);
  return v;
}

uint64_t cli_cgroup_fini(cli_cgroup *cg) {
  if (!cg->base[0]) return 0;
  uint64_t left = cli_cgroup_count(cg);
  if (!left && cli_cgroup_populated(cg)) left = 1;
  cli_cgroup_leave(cg);
  if (!left) rmdir(cg->base);
  cg->base[0] = 0;
  return left;
}
