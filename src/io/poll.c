/* Waiting for a foreign descriptor: corral_wait_readable / _writable and
 * corral_notify_closing (the public hooks for fd-based C libraries).
 *
 * A descriptor gets a uv_poll_t only while some task waits on it, so the
 * runtime never holds a registration for a descriptor its owner may close
 * behind its back. Whoever ends a wait (the poll callback, the waiting task
 * after a cancellation, notify_closing) clears the waiter's slot and
 * updates the poll; the woken task finds the record again through the
 * table, never through a pointer kept across the park, because
 * notify_closing may already have freed it. */
#include "io/io.h"
#include "ground/fault.h"

#include <fcntl.h>
#include <stdlib.h>

typedef struct corral__fdwait {
  uv_poll_t h;
  corral__handle reg;
  corral__rt *rt;
  int fd;
  int events; /* what the poll watches now */
  corral_task *reader, *writer;
  /* The waiters' abort records live here, not on their stacks (compact
   * tasks wait too): a cancellation frees the slot at once, so a new
   * waiter is not refused while the cancelled one has not run yet. */
  corral__wait rwait, wwait;
} fdwait;

static void on_fdwait_closed(uv_handle_t *h) {
  fdwait *r = h->data;
  corral__free(r->rt, r);
}

static void fdwait_close(fdwait *r) {
  corral__rt *rt = r->rt;
  if ((size_t)r->fd < rt->io.nfds && rt->io.fds[r->fd] == r)
    rt->io.fds[r->fd] = NULL;
  corral__handle_unregister(&r->reg);
  uv_close((uv_handle_t *)&r->h, on_fdwait_closed);
}

static void fdwait_close_handle(corral__handle *h) {
  fdwait *r = corral__container_of(h, fdwait, reg);
  if (r->reader) corral__wake(r->reader, CORRAL_ECLOSED);
  if (r->writer) corral__wake(r->writer, CORRAL_ECLOSED);
  fdwait_close(r);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watch what the waiters need; close the record when nobody waits. */
static int fdwait_update(fdwait *r) {
  int ev = (r->reader ? UV_READABLE | UV_DISCONNECT : 0) |
           (r->writer ? UV_WRITABLE : 0);
  if (ev == 0) {
    fdwait_close(r);
    return 0;
  }
  if (ev == r->events) return 0;
  r->events = ev;
  return CORRAL__UV("poll_start", EBADF, uv_poll_start(&r->h, ev, on_poll));
}

static void on_poll(uv_poll_t *h, int status, int events) {
  fdwait *r = h->data;
  bool rd = status < 0 || (events & (UV_READABLE | UV_DISCONNECT));
  bool wr = status < 0 || (events & UV_WRITABLE);
  /* Ready or in error: the waiter's next read or write tells which. */
  if (rd && r->reader) {
    corral__wake(r->reader, 0);
    r->reader = NULL;
  }
  if (wr && r->writer) {
    corral__wake(r->writer, 0);
    r->writer = NULL;
  }
  (void)fdwait_update(r);
}

static corral_abort_result fd_abort(corral_task *t, void *arg) {
  fdwait *r = arg;
  if (r->reader == t) r->reader = NULL;
  if (r->writer == t) r->writer = NULL;
  (void)fdwait_update(r); /* may close r: the task never touches it again */
  return CORRAL_ABORT_SUCCEEDED;
}

/* The table's slot for fd, grown as needed; NULL when out of memory. */
static fdwait **fd_slot(corral__rt *rt, int fd) {
  corral__io *io = &rt->io;
  if ((size_t)fd >= io->nfds) {
    size_t n = io->nfds ? io->nfds : 64;
    while (n <= (size_t)fd) n *= 2;
    fdwait **v = corral__realloc(rt, io->fds, n * sizeof *v);
    if (!v) return NULL;
    for (size_t i = io->nfds; i < n; i++) v[i] = NULL;
    io->fds = v;
    io->nfds = n;
  }
  return &io->fds[fd];
}

/* Descriptors of corral's own objects (streams, UDP sockets) are marked in
 * the table, so a wait on one is refused even while libuv is not watching
 * it at that moment. */
#define FD_OWNED ((fdwait *)1)

void corral__io_own_fd(corral__rt *rt, int fd) {
  fdwait **slot = fd >= 0 ? fd_slot(rt, fd) : NULL;
  if (slot && !*slot) *slot = FD_OWNED; /* out of memory: unmarked */
}

void corral__io_disown_fd(corral__rt *rt, int fd) {
  if (fd >= 0 && (size_t)fd < rt->io.nfds && rt->io.fds[fd] == FD_OWNED)
    rt->io.fds[fd] = NULL;
}

static fdwait *fdwait_get(corral__rt *rt, int fd, int *rc) {
  corral__io *io = &rt->io;
  fdwait **slot = fd_slot(rt, fd);
  if (!slot) {
    *rc = CORRAL_ENOMEM;
    return NULL;
  }
  fdwait *r = *slot;
  if (r == FD_OWNED) {
    *rc = CORRAL_EBUSY;
    return NULL;
  }
  if (r) return r;
  r = corral__calloc(rt, sizeof *r);
  if (!r) {
    *rc = CORRAL_ENOMEM;
    return NULL;
  }
  *rc = CORRAL__UV("poll_init", ENOMEM, uv_poll_init(rt->loop, &r->h, fd));
  if (*rc) {
    corral__free(rt, r);
    /* libuv already watches it: a socket of the runtime's own. */
    if (*rc == UV_EEXIST) *rc = CORRAL_EBUSY;
    return NULL;
  }
  r->h.data = r;
  r->rwait = (corral__wait){.abort = fd_abort, .arg = r};
  r->wwait = (corral__wait){.abort = fd_abort, .arg = r};
  r->rt = rt;
  r->fd = fd;
  corral__handle_register(rt, &r->reg, "fd wait", fdwait_close_handle);
  io->fds[fd] = r;
  return r;
}

static int fd_wait(int fd, bool write) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (fd < 0 || fcntl(fd, F_GETFD) < 0) return CORRAL_EBADF;
  corral__rt *rt = self->rt;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  int rc = 0;
  fdwait *r = fdwait_get(rt, fd, &rc);
  /* A regular file or a directory cannot be polled: like poll(2), it is
   * always ready. */
  if (!r && rc == UV_EPERM) {
    corral__quick_done(rt, self);
    return 0;
  }
  if (!r) return rc;
  corral_task **slot = write ? &r->writer : &r->reader;
  if (*slot) return CORRAL_EBUSY;
  *slot = self;
  rc = fdwait_update(r);
  if (rc) {
    *slot = NULL;
    (void)fdwait_update(r);
    return corral__from_uv(rc);
  }
  rc = corral__park(self, write ? CORRAL__W_FD_WRITABLE : CORRAL__W_FD_READABLE,
                    write ? &r->wwait : &r->rwait, CORRAL_FOREVER);
  /* Whoever woke us freed our slot (the poll callback, fd_abort,
   * notify_closing); the record may be gone. Should a path have left the
   * slot set, drop it, looking the record up again. */
  r = (size_t)fd < rt->io.nfds ? rt->io.fds[fd] : NULL;
  if (r && r != FD_OWNED) {
    slot = write ? &r->writer : &r->reader;
    if (*slot == self) {
      *slot = NULL;
      (void)fdwait_update(r);
    }
  }
  return rc;
}

int corral_wait_readable(int fd) { return fd_wait(fd, false); }
int corral_wait_writable(int fd) { return fd_wait(fd, true); }

int corral_notify_closing(int fd) {
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (fd < 0) return CORRAL_EBADF;
  fdwait *r = (size_t)fd < rt->io.nfds ? rt->io.fds[fd] : NULL;
  if (r && r != FD_OWNED) fdwait_close_handle(&r->reg);
  return 0;
}

void corral__fdwait_free_table(corral__rt *rt) {
  corral__free(rt, rt->io.fds);
  rt->io.fds = NULL;
  rt->io.nfds = 0;
}
