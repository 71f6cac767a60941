/* Pipes and standard streams as corral streams (the calls are stream.c's). */
#include "ground/fault.h"
#include "io/stream.h"

#include <errno.h>
#include <fcntl.h>
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
