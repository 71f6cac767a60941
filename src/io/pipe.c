/* Pipes and standard streams as corral streams (the calls are stream.c's). */
#include "ground/fault.h"
#include "io/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int start(corral_task **self, corral_stream **out) {
  if (out) *out = NULL;
  *self = corral__self();
  if (!*self) return CORRAL_ENOTASK;
  if (!out) return CORRAL_EINVAL;
  return 0;
}

int corral_pipe_open(int fd, corral_stream **out) {
  corral_task *self;
  int rc = start(&self, out);
  if (rc) return rc;
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) return CORRAL_EBADF;
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return CORRAL_EINVAL;
  return corral__stream_from_fd(self->rt, fd, out);
}

int corral_pipe(corral_stream **read_end, corral_stream **write_end) {
  if (write_end) *write_end = NULL;
  corral_task *self;
  int rc = start(&self, read_end);
  if (rc) return rc;
  if (!write_end) return CORRAL_EINVAL;
  int fds[2];
  if (CORRAL__SYS("pipe", EMFILE, pipe2(fds, O_CLOEXEC)) < 0) return -errno;
  rc = corral__stream_from_fd(self->rt, fds[0], read_end);
  if (rc) {
    close(fds[0]);
    close(fds[1]);
    return rc;
  }
  rc = corral__stream_from_fd(self->rt, fds[1], write_end);
  if (rc) {
    corral__stream_close(*read_end);
    *read_end = NULL;
    close(fds[1]);
  }
  return rc;
}

int corral_stdio_open(int fd, corral_stream **out) {
  corral_task *self;
  int rc = start(&self, out);
  if (rc) return rc;
  int flags = fd < 0 ? -1 : fcntl(fd, F_GETFL);
  if (flags < 0) return CORRAL_EBADF;
  /* Work on a duplicate, so closing the stream leaves fd open. */
  int d = CORRAL__SYS("stdio_dup", EMFILE, fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (d < 0) return -errno;
  rc = corral__stream_from_fd(self->rt, d, out);
  if (rc) {
    fcntl(d, F_SETFL, flags);
    close(d);
    return rc;
  }
  (*out)->restore_flags = flags;
  return 0;
}

/* ---- direction ---- */

/* A UNIX socket shut down one way before it became a stream (a child's
 * pipes are socket pairs whose parent end is shut down so, see
 * process.c): the kernel keeps one state for "our reading side is shut"
 * and "the peer's writing side is": either way nothing more can arrive. So
 * with nothing left unread it is write-only; likewise, a socket that can
 * no longer send while the peer is still there is read-only. */
static void socket_direction(corral_stream *s) {
  struct pollfd pf = {s->fd, POLLIN | POLLOUT | POLLRDHUP, 0};
  if (poll(&pf, 1, 0) != 1 || (pf.revents & (POLLHUP | POLLERR))) return;
  int queued = 0;
  if ((pf.revents & POLLRDHUP) && ioctl(s->fd, FIONREAD, &queued) == 0 &&
      queued == 0)
    s->noread = 1;
  if (send(s->fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE)
    s->nowrite = 1;
}

/* Which ways s goes. libuv knows for pipes and sockets (the access mode
 * of a pipe end, the direction uv_spawn gave a child's pipe); a terminal's
 * handle is marked one way only whatever its descriptor allows, and a
 * file has none: their access mode says. */
void corral__stream_learn_direction(corral_stream *s) {
  if (s->type == CORRAL__S_PIPE || s->type == CORRAL__S_TCP) {
    s->noread = !uv_is_readable(&s->uv.stream);
    s->nowrite = !uv_is_writable(&s->uv.stream);
    if (s->type == CORRAL__S_PIPE && s->is_socket) socket_direction(s);
    return;
  }
  int fl = s->fd >= 0 ? fcntl(s->fd, F_GETFL) : -1;
  if (fl < 0) return;
  s->noread = (fl & O_ACCMODE) == O_WRONLY;
  s->nowrite = (fl & O_ACCMODE) == O_RDONLY;
}

/* A call against the stream's direction: CORRAL_EBADF, as read(2) and
 * write(2) on such a descriptor, with a message. */
int corral__stream_wrong_way(corral_stream *s, bool reading) {
  return corral_errorf(
      CORRAL_EBADF, "%s is not open for %s: it is %s-only (%s)", s->label,
      reading ? "reading" : "writing", reading ? "write" : "read",
      reading ? "a pipe's write end, a child's stdin, or opened O_WRONLY"
              : "a pipe's read end, a child's stdout or stderr, or opened "
                "O_RDONLY");
}
