/* Streams: the calls shared by TCP, pipes, terminals and files (see
 * stream.h for the design: reads stay armed, writes go straight from the
 * caller's buffer, a reference count keeps a closed stream's memory alive
 * for the tasks it woke). */
#include "ground/fault.h"
#include "io/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 16384              /* read-ahead while no task reads */
#define WMAX ((size_t)1 << 30)   /* one write(2)'s share of a larger buffer */

static const char *const kinds[] = {"tcp", "pipe", "tty", "file"};

/* ---- lifetime ---- */

static void free_stream(corral_stream *s) {
  corral__free(s->rt, s->buf);
  corral__free(s->rt, s);
}

static void unref(corral_stream *s) {
  if (--s->refs == 0 && s->closed) free_stream(s);
}

static void on_handle_closed(uv_handle_t *h) { unref(h->data); }

static void on_wpoll_closed(uv_handle_t *h) { unref(h->data); }

static void stop_reading(corral_stream *s) {
  if (s->armed) uv_read_stop(&s->uv.stream);
  s->armed = 0;
}

/* Close the libuv handle (and with it the descriptor) but keep the object:
 * shutdown of a pipe's write end, and close. */
static void release_handle(corral_stream *s) {
  if (s->released) return;
  s->released = 1;
  stop_reading(s);
  if (s->restore_flags >= 0 && s->fd >= 0) fcntl(s->fd, F_SETFL, s->restore_flags);
  if (s->type != CORRAL__S_FILE) corral__io_disown_fd(s->rt, s->fd);
  if (s->type == CORRAL__S_FILE) {
    if (s->fd >= 0) close(s->fd);
  } else {
    s->refs++;
    uv_close(&s->uv.handle, on_handle_closed);
  }
  s->fd = -1;
}

void corral__stream_close(corral_stream *s) {
  if (s->closed) return;
  s->closed = 1;
  corral__handle_unregister(&s->reg);
  if (s->reader) corral__wake(s->reader, CORRAL_ECLOSED);
  if (s->writer) corral__wake(s->writer, CORRAL_ECLOSED);
  if (s->wpoll_open) {
    s->wpoll_open = 0;
    s->refs++;
    uv_close((uv_handle_t *)&s->wpoll, on_wpoll_closed);
    close(s->wfd); /* libuv stopped watching it in uv_close */
    s->wfd = -1;
  }
  release_handle(s);
  if (s->refs == 0) free_stream(s);
}

static void close_registered(corral__handle *h) {
  corral__stream_close(corral__container_of(h, corral_stream, reg));
}

static corral_stream *alloc_stream(corral__rt *rt, int type) {
  corral_stream *s = corral__calloc(rt, sizeof *s);
  if (!s) return NULL;
  s->rt = rt;
  s->type = (uint8_t)type;
  s->fd = s->wfd = s->restore_flags = -1;
  s->uv.handle.data = s;
  s->wpoll.data = s;
  s->rwait = (corral__wait){.what = s->label};
  s->wwait = (corral__wait){.what = s->label};
  snprintf(s->label, sizeof s->label, "%s", kinds[type]);
  return s;
}

corral_stream *corral__stream_new(corral__rt *rt, int type, int *rc) {
  corral_stream *s = alloc_stream(rt, type);
  if (!s) {
    *rc = CORRAL_ENOMEM;
    return NULL;
  }
  *rc = type == CORRAL__S_TCP
            ? CORRAL__UV("tcp_init", ENOMEM, uv_tcp_init(rt->loop, &s->uv.tcp))
            : CORRAL__UV("pipe_init", ENOMEM, uv_pipe_init(rt->loop, &s->uv.pipe, 0));
  if (*rc) {
    corral__free(rt, s);
    return NULL;
  }
  s->uv.handle.data = s;
  s->is_socket = 1; /* TCP, and uv_spawn's pipes are socket pairs */
  corral__handle_register(rt, &s->reg, kinds[type], close_registered);
  return s;
}

void corral__stream_opened(corral_stream *s) {
  uv_os_fd_t fd;
  if (s->type != CORRAL__S_FILE && uv_fileno(&s->uv.handle, &fd) == 0) {
    s->fd = fd;
    snprintf(s->label, sizeof s->label, "%s fd %d", kinds[s->type], fd);
    struct stat st;
    s->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    corral__io_own_fd(s->rt, fd);
    corral__stream_learn_direction(s);
  }
}

int corral__stream_from_fd(corral__rt *rt, int fd, corral_stream **out) {
  *out = NULL;
  int type, rc = 0;
  switch (uv_guess_handle(fd)) {
  case UV_TCP: type = CORRAL__S_TCP; break;
  case UV_NAMED_PIPE: type = CORRAL__S_PIPE; break;
  case UV_TTY: type = CORRAL__S_TTY; break;
  case UV_FILE: type = CORRAL__S_FILE; break;
  case UV_UDP: return CORRAL_EINVAL;
  default: return CORRAL_EBADF;
  }
  corral_stream *s = alloc_stream(rt, type);
  if (!s) return CORRAL_ENOMEM;
  bool inited = false;
  switch (type) {
  case CORRAL__S_TCP:
    rc = CORRAL__UV("tcp_init", ENOMEM, uv_tcp_init(rt->loop, &s->uv.tcp));
    inited = rc == 0;
    if (!rc) rc = CORRAL__UV("tcp_open", ENOMEM, uv_tcp_open(&s->uv.tcp, fd));
    break;
  case CORRAL__S_PIPE:
    rc = CORRAL__UV("pipe_init", ENOMEM, uv_pipe_init(rt->loop, &s->uv.pipe, 0));
    inited = rc == 0;
    if (!rc) rc = CORRAL__UV("pipe_open", ENOMEM, uv_pipe_open(&s->uv.pipe, fd));
    break;
  case CORRAL__S_TTY: {
    int fl = fcntl(fd, F_GETFL);
    rc = CORRAL__UV("tty_init", ENOMEM,
                    uv_tty_init(rt->loop, &s->uv.tty, fd,
                                fl >= 0 && (fl & O_ACCMODE) != O_WRONLY));
    uv_os_fd_t ufd;
    /* libuv may reopen the terminal (a description of its own) and use
     * the new descriptor: ours is then ours to close. */
    if (!rc && uv_fileno(&s->uv.handle, &ufd) == 0 && ufd != fd) close(fd);
    break;
  }
  default: /* a regular file: no libuv handle */
    s->fd = fd;
    snprintf(s->label, sizeof s->label, "file fd %d", fd);
    corral__stream_learn_direction(s);
  }
  s->uv.handle.data = s;
  if (rc) {
    if (inited) { /* the handle did not take fd: free it once closed */
      s->closed = s->released = 1;
      s->refs = 1;
      uv_close(&s->uv.handle, on_handle_closed);
    } else {
      corral__free(rt, s);
    }
    return corral__from_uv(rc);
  }
  corral__handle_register(rt, &s->reg, kinds[type], close_registered);
  if (type != CORRAL__S_FILE) corral__stream_opened(s);
  *out = s;
  return 0;
}

/* ---- common checks ---- */

static int enter(corral_stream *s, corral_task **self) {
  *self = corral__self();
  if (!*self) return CORRAL_ENOTASK;
  if (!s) return CORRAL_EINVAL;
  if (s->rt != (*self)->rt) return CORRAL_EFOREIGN;
  if (s->closed) return CORRAL_ECLOSED;
  return 0;
}

static int stream_fd(corral_stream *s) {
  if (s->fd < 0 && !s->released) corral__stream_opened(s);
  return s->fd;
}

/* ---- reading ---- */

/* Make room for `room` more bytes after the buffered ones. */
static int buf_reserve(corral_stream *s, size_t room) {
  if (s->blen == 0) s->boff = 0;
  if (s->bcap - s->boff - s->blen >= room) return 0;
  if (s->boff) {
    memmove(s->buf, s->buf + s->boff, s->blen);
    s->boff = 0;
    if (s->bcap - s->blen >= room) return 0;
  }
  size_t cap = s->bcap ? s->bcap : CHUNK;
  while (cap - s->blen < room) cap *= 2;
  char *b = corral__realloc(s->rt, s->buf, cap);
  if (!b) return CORRAL_ENOMEM;
  s->buf = b;
  s->bcap = cap;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  corral_stream *s = h->data;
  if (s->rbuf) { /* a task waits: where it asked */
    b->base = s->rbuf;
    b->len = s->rlen;
  } else if (s->blen == 0 && buf_reserve(s, CHUNK) == 0) {
    b->base = s->buf; /* read ahead one chunk */
    b->len = s->bcap;
  } else { /* a chunk is ahead already (or no memory): UV_ENOBUFS follows */
    b->base = NULL;
    b->len = 0;
  }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  corral_stream *s = st->data;
  if (n == 0) return; /* EAGAIN */
  if (n > 0) n = CORRAL__CB("stream_read_cb", ECONNRESET, n);
  if (n == UV_ENOBUFS) {
    stop_reading(s); /* until a reader consumes the chunk ahead */
    return;
  }
  bool direct = s->rbuf && s->rdirect && b->base == s->rbuf;
  if (n > 0) {
    if (direct)
      s->rresult = n;
    else
      s->blen += (size_t)n; /* the stream's buffer */
  } else {
    stop_reading(s);
    if (n == UV_EOF)
      s->eof = 1;
    else
      s->rerr = (int)n;
  }
  if (s->rbuf) {
    s->rbuf = NULL; /* later chunks of this pass go to the buffer */
    s->rdone = 1;
    if (s->reader) corral__wake(s->reader, 0);
  }
}

static int arm(corral_stream *s) {
  if (s->armed) return 0;
  int rc = CORRAL__UV("stream_read_start", ENOMEM,
                      uv_read_start(&s->uv.stream, on_alloc, on_read));
  if (rc) return corral__from_uv(rc);
  s->armed = 1;
  return 0;
}

static int take(corral_stream *s, void *buf, size_t len) {
  size_t k = s->blen < len ? s->blen : len;
  memcpy(buf, s->buf + s->boff, k);
  s->boff += k;
  s->blen -= k;
  return (int)k;
}

/* An end already known: the error once, then end of stream. */
static int known_end(corral_stream *s) {
  int e = s->rerr;
  s->rerr = 0;
  s->eof = 1;
  return e;
}

/* A regular file (no libuv handle): read now, it never makes us wait. */
static ssize_t file_read(corral_stream *s, void *p, size_t n) {
  ssize_t r;
  do r = CORRAL__SYS("file_read", EIO, read(s->fd, p, n));
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

/* Park as the reader until libuv delivered into s->rbuf (set by the
 * caller), an end, or an error; returns 0 then, else the wake code. */
static int wait_read(corral_stream *s, corral_task *self) {
  s->rdone = 0;
  s->rresult = 0;
  int rc = arm(s);
  if (rc) {
    s->rbuf = NULL;
    return rc;
  }
  s->reader = self;
  rc = corral__park(self, CORRAL__W_STREAM_READ, &s->rwait, CORRAL_FOREVER);
  s->reader = NULL;
  s->rbuf = NULL; /* from here on, arriving bytes go to the buffer */
  if (s->rdone) return 0; /* what arrived wins over a cancellation */
  return rc ? rc : CORRAL_EIO;
}

static int fill(corral_stream *s, corral_task *self);

static int read_some(corral_stream *s, corral_task *self, char *buf,
                     size_t len) {
  for (;;) {
    if (s->closed) return CORRAL_ECLOSED;
    if (s->blen) return take(s, buf, len);
    if (s->rerr || s->eof || s->released) return known_end(s);
    if (s->type == CORRAL__S_FILE) {
      ssize_t r = file_read(s, buf, len);
      if (r == 0) s->eof = 1;
      return (int)r;
    }
    /* A small read goes through the stream's buffer: libuv reads again
     * after a read that filled its buffer, and a read that fills the
     * caller's few bytes exactly would cost a second read(2) that finds
     * nothing (a request/response exchange: one wasted system call per
     * message). The copy of a small read costs less than that. */
    if (len < CHUNK) {
      int rc = fill(s, self);
      if (rc) return rc;
      continue;
    }
    /* A compact task's stack is not addressable while it is parked: read
     * into a bounce buffer when buf lies on it. */
    int err;
    char *bounce = corral__io_bounce(self, buf, &len, &err);
    if (err) return err;
    s->rbuf = bounce ? bounce : buf;
    s->rlen = len;
    s->rdirect = 1;
    int rc = wait_read(s, self);
    if (rc == 0 && s->rresult > 0) {
      if (bounce) memcpy(buf, bounce, (size_t)s->rresult);
      rc = (int)s->rresult;
    } else if (rc == 0) {
      rc = INT_MIN; /* an end or an error: look again */
    }
    corral__free(s->rt, bounce);
    if (rc != INT_MIN) return rc;
  }
}

/* Read more into the stream's buffer. 0: something happened (bytes, end,
 * error: the caller looks at the state again), else the wake code. */
static int fill(corral_stream *s, corral_task *self) {
  if (s->closed) return CORRAL_ECLOSED;
  if (s->rerr || s->eof || s->released) return 0;
  if (buf_reserve(s, CHUNK)) return CORRAL_ENOMEM;
  char *tail = s->buf + s->boff + s->blen;
  size_t room = s->bcap - s->boff - s->blen;
  if (s->type == CORRAL__S_FILE) {
    ssize_t r = file_read(s, tail, room);
    if (r > 0)
      s->blen += (size_t)r;
    else if (r == 0)
      s->eof = 1;
    else
      s->rerr = (int)r;
    return 0;
  }
  s->rbuf = tail;
  s->rlen = room;
  s->rdirect = 0;
  return wait_read(s, self);
}

/* Checks of every read call. */
static int read_enter(corral_stream *s, corral_task **self, const void *buf,
                      size_t len) {
  int rc = enter(s, self);
  if (rc) return rc;
  if (!buf && len) return CORRAL_EINVAL;
  if (s->noread) return corral__stream_wrong_way(s, true);
  if (s->reader) return CORRAL_EBUSY;
  if (corral__checkpoint_scope((*self)->rt, *self))
    return corral__fail(*self, CORRAL_ECANCELED);
  return 0;
}

int corral_stream_read(corral_stream *s, void *buf, size_t len) {
  corral_task *self;
  int rc = read_enter(s, &self, buf, len);
  if (rc || len == 0) return rc;
  if (len > INT_MAX) len = INT_MAX;
  s->refs++;
  rc = read_some(s, self, buf, len);
  unref(s);
  /* Bytes that were buffered already: a schedule point all the same (s
   * is not touched again). */
  if (rc > 0) corral__quick_done(self->rt, self);
  return rc;
}

int corral_stream_read_exactly(corral_stream *s, void *buf, size_t len,
                               size_t *got) {
  if (got) *got = 0;
  corral_task *self;
  int rc = read_enter(s, &self, buf, len);
  if (rc) return rc;
  size_t off = 0;
  s->refs++;
  while (off < len) {
    size_t want = len - off;
    rc = read_some(s, self, (char *)buf + off, want > INT_MAX ? INT_MAX : want);
    if (rc <= 0) {
      if (rc == 0) rc = CORRAL_EEOF;
      break;
    }
    off += (size_t)rc;
    rc = 0;
  }
  unref(s);
  if (got) *got = off;
  return rc;
}

/* The buffered search of read_until / read_line. lenient: at the end of
 * the stream, hand out what is left (a last line without its newline). */
static int read_delim(corral_stream *s, char *buf, size_t cap,
                      const void *delim, size_t dlen, bool lenient) {
  corral_task *self;
  int rc = read_enter(s, &self, buf, cap);
  if (rc) return rc;
  if (!delim || dlen == 0 || cap < dlen || cap > INT_MAX) return CORRAL_EINVAL;
  size_t scanned = 0; /* bytes known to hold no delimiter start */
  s->refs++;
  for (;;) {
    if (s->closed) {
      rc = CORRAL_ECLOSED;
      break;
    }
    if (s->blen >= dlen) {
      const char *b = s->buf + s->boff;
      const char *hit = memmem(b + scanned, s->blen - scanned, delim, dlen);
      if (hit) {
        size_t n = (size_t)(hit - b) + dlen;
        if (n > cap) {
          rc = CORRAL_ERANGE;
          break;
        }
        rc = take(s, buf, n);
        break;
      }
      scanned = s->blen - dlen + 1;
    }
    if (s->blen >= cap) {
      rc = CORRAL_ERANGE;
      break;
    }
    if (s->eof || s->released || s->rerr) {
      if (s->rerr && s->blen == 0) {
        rc = known_end(s);
      } else if (lenient && s->blen) {
        rc = take(s, buf, s->blen);
      } else {
        rc = CORRAL_EEOF;
      }
      break;
    }
    rc = fill(s, self);
    if (rc) break;
  }
  unref(s);
  return rc;
}

int corral_stream_read_until(corral_stream *s, void *buf, size_t cap,
                             const void *delim, size_t dlen) {
  return read_delim(s, buf, cap, delim, dlen, false);
}

int corral_stream_read_line(corral_stream *s, char *buf, size_t cap) {
  if (!buf || cap < 2) return CORRAL_EINVAL;
  int rc = read_delim(s, buf, cap - 1, "\n", 1, true);
  if (rc >= 0) buf[rc] = 0;
  return rc;
}

/* ---- writing ---- */

/* write(2) that cannot raise SIGPIPE: the signal is blocked in this thread
 * for the call, and one the call raised is consumed (sigtimedwait with a
 * zero timeout) before the mask is restored. An application that blocks
 * SIGPIPE itself keeps its mask and its pending signal untouched. The
 * signal's disposition is never changed. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  ssize_t r;
  do r = CORRAL__SYS("stream_write", EPIPE, write(fd, p, n));
  while (r < 0 && errno == EINTR);
  int e = errno;
  if (!sigismember(&old, SIGPIPE)) {
    if (r < 0 && e == EPIPE) {
      static const struct timespec zero = {0, 0};
      while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  errno = e;
  return r;
}

static ssize_t raw_write(corral_stream *s, const char *p, size_t n) {
  ssize_t r;
  if (s->is_socket) {
    do r = CORRAL__SYS("stream_send", EPIPE,
                       send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT));
    while (r < 0 && errno == EINTR);
  } else {
    r = write_nosigpipe(s->fd, p, n);
  }
  return r < 0 ? -errno : r;
}

static void on_wpoll(uv_poll_t *h, int status, int events) {
  (void)status, (void)events; /* the next write tells */
  corral_stream *s = h->data;
  uv_poll_stop(h);
  if (s->writer) corral__wake(s->writer, 0);
}

/* The kernel's buffer is full: wait until it takes more. libuv watches the
 * descriptor already (for reading), so the wait is on a duplicate. */
static int wait_writable(corral_stream *s, corral_task *self) {
  if (!s->wpoll_open) {
    int fd = CORRAL__SYS("stream_dup", EMFILE, fcntl(s->fd, F_DUPFD_CLOEXEC, 3));
    if (fd < 0) return -errno;
    int rc = CORRAL__UV("stream_poll_init", ENOMEM, uv_poll_init(s->rt->loop, &s->wpoll, fd));
    if (rc) {
      close(fd);
      return corral__from_uv(rc);
    }
    s->wpoll.data = s;
    s->wfd = fd;
    s->wpoll_open = 1;
  }
  int rc = CORRAL__UV("stream_poll_start", EBADF,
                      uv_poll_start(&s->wpoll, UV_WRITABLE, on_wpoll));
  if (rc) return corral__from_uv(rc);
  s->writer = self;
  rc = corral__park(self, CORRAL__W_STREAM_WRITE, &s->wwait, CORRAL_FOREVER);
  s->writer = NULL;
  if (s->wpoll_open) uv_poll_stop(&s->wpoll);
  if (s->closed) return CORRAL_ECLOSED;
  return rc;
}

int corral_stream_write(corral_stream *s, const void *buf, size_t len,
                        size_t *written) {
  if (written) *written = 0;
  corral_task *self;
  int rc = enter(s, &self);
  if (rc) return rc;
  if (!buf && len) return CORRAL_EINVAL;
  if (s->nowrite) return corral__stream_wrong_way(s, false);
  if (s->writer) return CORRAL_EBUSY;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  if (s->wshut || s->released || stream_fd(s) < 0) return CORRAL_EPIPE;
  const char *p = buf;
  size_t off = 0;
  s->refs++;
  while (off < len) {
    size_t n = len - off < WMAX ? len - off : WMAX;
    ssize_t r = raw_write(s, p + off, n);
    if (r >= 0) {
      off += (size_t)r;
    } else if (r == -EAGAIN || r == -EWOULDBLOCK) {
      rc = wait_writable(s, self);
      if (rc) break;
    } else {
      rc = (int)r;
      break;
    }
  }
  unref(s);
  if (written) *written = off;
  if (rc == 0) corral__quick_done(self->rt, self); /* see corral_stream_read */
  return rc;
}

int corral_stream_shutdown(corral_stream *s) {
  corral_task *self;
  int rc = enter(s, &self);
  if (rc) return rc;
  if (s->nowrite) return corral__stream_wrong_way(s, false);
  if (s->writer) return CORRAL_EBUSY;
  if (s->wshut) return 0;
  int fd = stream_fd(s);
  s->wshut = 1;
  if (fd < 0) return 0;
  if (s->is_socket) {
    if (CORRAL__SYS("stream_shutdown", EIO, shutdown(fd, SHUT_WR)) < 0 && errno != ENOTCONN)
      return -errno;
  } else if (s->type == CORRAL__S_PIPE) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY) release_handle(s);
  }
  return 0;
}

int corral_stream_close(corral_stream *s) {
  if (!s) return 0;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK; /* another thread, or after the end */
  if (s->rt != rt) return CORRAL_EFOREIGN;
  corral__stream_close(s);
  return 0;
}

int corral_stream_fd(const corral_stream *s) {
  if (!s) return CORRAL_EINVAL;
  if (corral__tl_rt && s->rt != corral__tl_rt) return CORRAL_EFOREIGN;
  if (s->closed) return CORRAL_ECLOSED;
  if (s->released) return CORRAL_EBADF;
  return stream_fd((corral_stream *)s);
}

const char *corral_stream_kind(const corral_stream *s) {
  return s && s->type < 4 ? kinds[s->type] : "?";
}
