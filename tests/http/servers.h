/* Start and stop the HTTP servers of libcorral-http's tests and examples:
 * nginx (Debian nginx-light) serving a generated site from a private temp
 * directory (its own config, pid and log files there), and the Python
 * fixture (tests/http/fixture.py) for slow, failing, resetting, chunked,
 * large and redirecting endpoints. Both are children of the calling process
 * that die with it (Linux: PR_SET_PDEATHSIG), so even a crashed test
 * leaves no server behind; servers_stop() terminates and reaps them and
 * removes the directory. The same, for a shell: tests/http/servers.sh. */
#ifndef CORRAL_TEST_HTTP_SERVERS_H
#define CORRAL_TEST_HTTP_SERVERS_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CORRAL_HTTP_FIXTURES
#error "CORRAL_HTTP_FIXTURES must name the tests/http directory"
#endif

typedef struct http_servers {
  char dir[256];
  int nginx_port, nginx_h2_port, nginx_tls_port, fixture_port;
  pid_t nginx_pid, fixture_pid;
  int fixture_stdin; /* closing it stops the fixture */
} http_servers;

static inline const char *servers_python(void) {
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                : "python3";
}

/* fork + exec argv with stdin/stdout redirected (-1: inherit), dying with
 * us. */
static inline pid_t servers_spawn(char *const argv[], int in, int out) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (getppid() != parent) _exit(127);
  if (in >= 0) dup2(in, 0);
  if (out >= 0) dup2(out, 1);
  execvp(argv[0], argv);
  _exit(127);
}

static inline int servers_pipe(int p[2]) {
  if (pipe(p) != 0) return -1;
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  return 0;
}

static inline void servers_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static inline int servers_port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* Run argv to completion, its stdout into buf (NUL-terminated). */
static inline int servers_capture(char *const argv[], char *buf, size_t size) {
  int p[2];
  if (servers_pipe(p) != 0) return -1;
  pid_t pid = servers_spawn(argv, -1, p[1]);
  close(p[1]);
  size_t n = 0;
  ssize_t r;
  while (n + 1 < size && (r = read(p[0], buf + n, size - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = 0;
  close(p[0]);
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static inline void servers_stop(http_servers *s) {
  if (s->nginx_pid > 0) {
    kill(s->nginx_pid, SIGTERM);
    waitpid(s->nginx_pid, NULL, 0);
    s->nginx_pid = 0;
  }
  if (s->fixture_pid > 0) {
    close(s->fixture_stdin);
    kill(s->fixture_pid, SIGTERM);
    waitpid(s->fixture_pid, NULL, 0);
    s->fixture_pid = 0;
  }
  if (s->dir[0]) {
    char *rm[] = {"rm", "-rf", s->dir, NULL};
    pid_t pid = servers_spawn(rm, -1, -1);
    if (pid > 0) waitpid(pid, NULL, 0);
    s->dir[0] = 0;
  }
}

/* Start nginx (access log on unless no_log) and the fixture. 0 or -1 (with
 * a message on stderr; nothing left running). */
static inline int servers_start(http_servers *s, int no_log) {
  memset(s, 0, sizeof *s);
  s->fixture_stdin = -1;
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(s->dir, sizeof s->dir, "%s/corral-http-XXXXXX", tmp);
  if (!mkdtemp(s->dir)) {
    s->dir[0] = 0;
    perror("mkdtemp");
    return -1;
  }
  const char *py = servers_python();
  char out[256];
  for (int attempt = 0; attempt < 3 && !s->nginx_pid; attempt++) {
    char *site[] = {(char *)py, CORRAL_HTTP_FIXTURES "/fixture.py", "site",
                    s->dir, no_log ? "--no-log" : NULL, NULL};
    if (servers_capture(site, out, sizeof out) != 0 ||
        sscanf(out, "NGINX_PORT=%d NGINX_H2_PORT=%d NGINX_TLS_PORT=%d",
               &s->nginx_port, &s->nginx_h2_port, &s->nginx_tls_port) != 3) {
      fprintf(stderr, "servers: fixture.py site failed: %s\n", out);
      break;
    }
    char conf[300], err[300];
    snprintf(conf, sizeof conf, "%s/nginx.conf", s->dir);
    snprintf(err, sizeof err, "%s/error.log", s->dir);
    const char *nginx = access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx"
                                                             : "nginx";
    char *argv[] = {(char *)nginx, "-p", s->dir, "-c", conf, "-e", err, NULL};
    pid_t pid = servers_spawn(argv, -1, -1);
    for (int i = 0; pid > 0 && i < 1500; i++) { /* up to 15 s */
      if (servers_port_open(s->nginx_port) &&
          servers_port_open(s->nginx_h2_port) &&
          (!s->nginx_tls_port || servers_port_open(s->nginx_tls_port))) {
        s->nginx_pid = pid;
        break;
      }
      if (waitpid(pid, NULL, WNOHANG) == pid) break; /* port taken: retry */
      servers_sleep_ms(10);
    }
    if (!s->nginx_pid && pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
  }
  if (!s->nginx_pid) {
    fprintf(stderr, "servers: nginx did not start (see %s/error.log)\n",
            s->dir);
    servers_stop(s);
    return -1;
  }
  int in[2], o[2];
  if (servers_pipe(in) != 0) goto fail;
  if (servers_pipe(o) != 0) {
    close(in[0]), close(in[1]);
    goto fail;
  }
  char *fx[] = {(char *)py, CORRAL_HTTP_FIXTURES "/fixture.py", "serve", NULL};
  s->fixture_pid = servers_spawn(fx, in[0], o[1]);
  close(in[0]);
  close(o[1]);
  s->fixture_stdin = in[1];
  size_t n = 0;
  ssize_t r;
  while (n + 1 < sizeof out && (r = read(o[0], out + n, 1)) > 0 &&
         out[n] != '\n')
    n++;
  out[n] = 0;
  close(o[0]);
  if (s->fixture_pid <= 0 || sscanf(out, "PORT %d", &s->fixture_port) != 1) {
    fprintf(stderr, "servers: fixture.py serve did not start\n");
    goto fail;
  }
  return 0;
fail:
  servers_stop(s);
  return -1;
}

/* Open descriptors of this process. */
static inline int servers_count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* Live child processes of this process (any thread's); -1 where /proc
 * does not tell (not Linux). */
static inline int servers_count_children(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    found = 1;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) n++;
    fclose(f);
  }
  closedir(d);
  return found ? n : -1;
}

#endif
