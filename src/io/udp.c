/* UDP on a plain non-blocking socket watched by a uv_poll_t while a task
 * waits: send and receive are sendto(2) / recvfrom(2) from the task, so a
 * cancelled receive consumes no datagram and a cancelled send sent
 * nothing. */
#include "ground/fault.h"
#include "io/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct corral_udp {
  uv_poll_t poll;
  corral__rt *rt;
  corral__handle reg;
  unsigned refs;      /* tasks inside calls + the poll while closing */
  int closed;
  int fd;
  int events;         /* what the poll watches */
  corral_task *reader, *writer;
  corral__wait wait; /* names the socket in dumps */
  char label[24];
};

static void udp_unref(corral_udp *u) {
  if (--u->refs == 0 && u->closed) corral__free(u->rt, u);
}

static void on_closed(uv_handle_t *h) { udp_unref(h->data); }

static void udp_close(corral_udp *u) {
  if (u->closed) return;
  u->closed = 1;
  corral__handle_unregister(&u->reg);
  if (u->reader) corral__wake(u->reader, CORRAL_ECLOSED);
  if (u->writer) corral__wake(u->writer, CORRAL_ECLOSED);
  u->refs++;
  corral__io_disown_fd(u->rt, u->fd);
  uv_close((uv_handle_t *)&u->poll, on_closed);
  close(u->fd); /* libuv stopped watching it in uv_close */
}

static void close_registered(corral__handle *h) {
  udp_close(corral__container_of(h, corral_udp, reg));
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watch what the waiters need. 0 or the code of uv_poll_start (then the
 * poll watches what it did before). */
static int update(corral_udp *u) {
  int ev = (u->reader ? UV_READABLE : 0) | (u->writer ? UV_WRITABLE : 0);
  if (ev == u->events || u->closed) return 0;
  if (ev) {
    int rc = CORRAL__UV("udp_poll_start", EBADF, uv_poll_start(&u->poll, ev, on_poll));
    if (rc) return corral__from_uv(rc);
  } else {
    uv_poll_stop(&u->poll);
  }
  u->events = ev;
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  corral_udp *u = h->data;
  if ((status < 0 || (events & UV_READABLE)) && u->reader)
    corral__wake(u->reader, 0);
  if ((status < 0 || (events & UV_WRITABLE)) && u->writer)
    corral__wake(u->writer, 0);
}

/* Park as reader or writer until the socket is ready. */
static int wait_ready(corral_udp *u, corral_task *self, bool write) {
  corral_task **slot = write ? &u->writer : &u->reader;
  *slot = self;
  int rc = update(u);
  if (rc) { /* not watched: parking would never end */
    *slot = NULL;
    (void)update(u);
    return rc;
  }
  rc = corral__park(self, write ? CORRAL__W_UDP_SEND : CORRAL__W_UDP_RECV,
                    &u->wait, CORRAL_FOREVER);
  *slot = NULL;
  (void)update(u);
  if (u->closed) return CORRAL_ECLOSED;
  return rc;
}

static int enter(corral_udp *u, corral_task **self) {
  *self = corral__self();
  if (!*self) return CORRAL_ENOTASK;
  if (!u) return CORRAL_EINVAL;
  if (u->rt != (*self)->rt) return CORRAL_EFOREIGN;
  if (u->closed) return CORRAL_ECLOSED;
  return 0;
}

int corral_udp_open(const char *host, int port, corral_udp **out) {
  if (out) *out = NULL;
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!out) return CORRAL_EINVAL;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  struct sockaddr_storage a;
  int rc = corral__resolve(host && *host ? host : "0.0.0.0", port, SOCK_DGRAM,
                           0, true, &a, 1);
  if (rc < 0) return rc;
  int fd = CORRAL__SYS("udp_socket", EMFILE,
                       socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd < 0) return -errno;
  if (CORRAL__SYS("udp_bind", EADDRINUSE, bind(fd, (struct sockaddr *)&a, corral__addr_len(&a))) < 0) {
    rc = -errno;
    close(fd);
    return corral_errorf(rc, "bind udp %s port %d: %s", host ? host : "*",
                         port, corral_strerror(rc));
  }
  corral_udp *u = corral__calloc(self->rt, sizeof *u);
  if (!u) {
    close(fd);
    return CORRAL_ENOMEM;
  }
  rc = CORRAL__UV("udp_poll_init", ENOMEM, uv_poll_init_socket(self->rt->loop, &u->poll, fd));
  if (rc) {
    corral__free(self->rt, u);
    close(fd);
    return corral__from_uv(rc);
  }
  u->poll.data = u;
  u->rt = self->rt;
  u->fd = fd;
  corral__io_own_fd(self->rt, fd);
  corral__handle_register(self->rt, &u->reg, "udp", close_registered);
  snprintf(u->label, sizeof u->label, "udp port %d", corral_udp_port(u));
  u->wait = (corral__wait){.what = u->label};
  *out = u;
  return 0;
}

int corral_udp_connect(corral_udp *u, const char *host, int port) {
  corral_task *self;
  int rc = enter(u, &self);
  if (rc) return rc;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  struct sockaddr_storage local, a[CORRAL__ADDRS_MAX];
  socklen_t len = sizeof local;
  if (getsockname(u->fd, (struct sockaddr *)&local, &len) < 0) return -errno;
  u->refs++;
  int n = corral__resolve(host, port, SOCK_DGRAM, local.ss_family, false, a,
                          CORRAL__ADDRS_MAX);
  bool closed = u->closed;
  udp_unref(u);
  if (closed) return CORRAL_ECLOSED;
  if (n < 0) return n;
  if (CORRAL__SYS("udp_connect", ENETUNREACH,
                  connect(u->fd, (struct sockaddr *)&a[0], corral__addr_len(&a[0]))) < 0)
    return -errno;
  return 0;
}

int corral_udp_port(const corral_udp *u) {
  if (!u) return CORRAL_EINVAL;
  if (corral__tl_rt && u->rt != corral__tl_rt) return CORRAL_EFOREIGN;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(u->fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
  return corral__addr_port(&ss);
}

int corral_udp_send_to(corral_udp *u, const void *buf, size_t len,
                       const struct sockaddr *to) {
  corral_task *self;
  int rc = enter(u, &self);
  if (rc) return rc;
  if (!buf && len) return CORRAL_EINVAL;
  if (u->writer) return CORRAL_EBUSY;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  socklen_t tolen = !to ? 0
                    : to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
  u->refs++;
  for (;;) {
    ssize_t r = CORRAL__SYS("udp_sendto", ENOBUFS, sendto(u->fd, buf, len, MSG_NOSIGNAL, to, tolen));
    if (r >= 0) {
      rc = 0;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      rc = -errno;
      break;
    }
    rc = wait_ready(u, self, true);
    if (rc) break;
  }
  udp_unref(u);
  return rc;
}

int corral_udp_recv_from(corral_udp *u, void *buf, size_t len,
                         struct sockaddr_storage *from) {
  corral_task *self;
  int rc = enter(u, &self);
  if (rc) return rc;
  if (!buf && len) return CORRAL_EINVAL;
  if (u->reader) return CORRAL_EBUSY;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  /* A compact task's stack is not addressable while parked, but nothing
   * is written into buf while parking: the receive happens afterwards. */
  u->refs++;
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t r = CORRAL__SYS("udp_recvfrom", ECONNREFUSED,
                            recvfrom(u->fd, buf, len, MSG_TRUNC, (struct sockaddr *)&ss, &sl));
    if (r >= 0) {
      if (from) memcpy(from, &ss, sizeof ss);
      rc = r > INT32_MAX ? INT32_MAX : (int)r;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      rc = -errno;
      break;
    }
    rc = wait_ready(u, self, false);
    if (rc) break;
  }
  udp_unref(u);
  return rc;
}

int corral_udp_close(corral_udp *u) {
  if (!u) return 0;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (u->rt != rt) return CORRAL_EFOREIGN;
  udp_close(u);
  return 0;
}
