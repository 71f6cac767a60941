/* hiredis inside corral tasks, through corral's public hooks only.
 *
 * hiredis's synchronous calls block the thread; its non-blocking context
 * does not. Driving the non-blocking context with corral_wait_readable /
 * corral_wait_writable gives each task a blocking-looking, cancellable
 * query: the task waits, the other tasks run. A query interrupted by a
 * cancellation leaves the connection in an unknown protocol state, so the
 * connection is discarded (redis_close). */
#ifndef CORRAL_EXAMPLE_REDIS_HOOKS_H
#define CORRAL_EXAMPLE_REDIS_HOOKS_H

#include <corral.h>
#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* BLOCKS. Connect to the server's unix socket. 0 or a negative code. */
static int redis_open(const char *path, redisContext **out) {
  *out = NULL;
  redisContext *c = redisConnectUnixNonBlock(path);
  if (!c) return CORRAL_ENOMEM;
  if (c->err) {
    int rc = corral_errorf(CORRAL_ECONNREFUSED, "redis: %s", c->errstr);
    redisFree(c);
    return rc;
  }
  int rc = corral_wait_writable(c->fd); /* the connection is established */
  int err = 0;
  socklen_t len = sizeof err;
  if (rc == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
      err)
    rc = corral_errorf(-err, "redis: connect: %s", strerror(err));
  if (rc) {
    corral_notify_closing(c->fd);
    redisFree(c);
    return rc;
  }
  *out = c;
  return 0;
}

/* Close the connection; tasks waiting on it get CORRAL_ECLOSED. */
static void redis_close(redisContext *c) {
  if (!c) return;
  corral_notify_closing(c->fd);
  redisFree(c);
}

/* BLOCKS (a cancellation point). Send a command and wait for its reply.
 * Returns 0 and *reply (free it with freeReplyObject), a negative code for a
 * transport error or a cancellation (then discard the connection), or
 * CORRAL_EIO with the server's message for an error reply. */
static int redis_query(redisContext *c, redisReply **reply, const char *fmt,
                       ...) {
  *reply = NULL;
  va_list ap;
  va_start(ap, fmt);
  int ok = redisvAppendCommand(c, fmt, ap);
  va_end(ap);
  if (ok != REDIS_OK) return CORRAL_ENOMEM;
  int done = 0, rc;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK)
      return corral_errorf(CORRAL_EIO, "redis: %s", c->errstr);
    if (!done && (rc = corral_wait_writable(c->fd)) != 0) return rc;
  }
  void *r = NULL;
  for (;;) {
    if (redisGetReplyFromReader(c, &r) != REDIS_OK)
      return corral_errorf(CORRAL_EIO, "redis: %s", c->errstr);
    if (r) break;
    if ((rc = corral_wait_readable(c->fd)) != 0) return rc;
    if (redisBufferRead(c) != REDIS_OK)
      return corral_errorf(CORRAL_EIO, "redis: %s", c->errstr);
  }
  redisReply *rep = r;
  if (rep->type == REDIS_REPLY_ERROR) {
    rc = corral_errorf(CORRAL_EIO, "redis: %s", rep->str);
    freeReplyObject(rep);
    return rc;
  }
  *reply = rep;
  return 0;
}

static void redis_server_stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* A private redis-server on a unix socket in dir (no TCP port, no disk
 * persistence). Returns its pid, or -1. */
static pid_t redis_server_start(const char *dir, char *sock, size_t n) {
  snprintf(sock, n, "%s/redis.sock", dir);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
           "--save", "", "--appendonly", "no", "--dir", dir, (char *)NULL);
    _exit(127);
  }
  /* Up to 5 s to come up: until a connection is accepted (the socket file
   * appears at bind, before listen). */
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(sock) >= sizeof sa.sun_path) {
    redis_server_stop(pid);
    return -1;
  }
  memcpy(sa.sun_path, sock, strlen(sock) + 1);
  for (int i = 0; i < 500 && pid > 0; i++) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0) close(fd);
    if (ok) return pid;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return -1;
    usleep(10000);
  }
  redis_server_stop(pid);
  return -1;
}

#endif
