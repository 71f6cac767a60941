/* TCP: connecting by name with Happy Eyeballs, listening, accepting. The
 * connections are streams (stream.c).
 *
 * Listening sockets are not libuv streams: libuv accepts on readiness by
 * itself and, out of descriptors, accepts and drops connections to keep
 * its loop from spinning. Here a listener is a plain non-blocking socket
 * watched with a uv_poll_t only while a task waits in accept, and the task
 * calls accept4(2) itself: a connection is taken only when a task asks for
 * it, and EMFILE reaches that task while the connection stays queued. */
#include "ground/fault.h"
#include "io/net.h"
#include "io/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LISTEN_MAX 8

/* ---- connect ---- */

static void on_connect(uv_connect_t *req, int status) {
  corral_stream *s = req->handle->data;
  s->cstatus = CORRAL__CB("tcp_connect_cb", ECONNREFUSED, status);
  if (s->writer) corral__wake(s->writer, 0);
}

static int connect_one(corral_task *self, const struct sockaddr_storage *sa,
                       corral_stream **out) {
  int rc;
  corral_stream *s = corral__stream_new(self->rt, CORRAL__S_TCP, &rc);
  if (!s) return rc;
  char a[48];
  snprintf(s->label, sizeof s->label, "to %s port %d",
           corral_addr_string((const struct sockaddr *)sa, a, sizeof a),
           corral__addr_port(sa));
  s->cstatus = 1;
  rc = CORRAL__UV("tcp_connect", EMFILE,
                  uv_tcp_connect(&s->creq, &s->uv.tcp, (const struct sockaddr *)sa,
                                 on_connect));
  if (rc) {
    corral__stream_close(s);
    return corral__from_uv(rc);
  }
  s->refs++;
  s->writer = self;
  rc = corral__park(self, CORRAL__W_TCP_CONNECT, &s->wwait, CORRAL_FOREVER);
  s->writer = NULL;
  s->refs--; /* s is not closed: it cannot be freed here */
  if (s->cstatus == 1 || s->cstatus < 0) {
    if (s->cstatus < 0) rc = corral__from_uv(s->cstatus);
    corral__stream_close(s); /* a pending connect gets UV_ECANCELED */
    return rc ? rc : CORRAL_EIO;
  }
  corral__stream_opened(s);
  (void)CORRAL__UV("tcp_nodelay", EINVAL, uv_tcp_nodelay(&s->uv.tcp, 1));
  *out = s;
  return 0;
}

typedef struct he_state he_state;
typedef struct {
  he_state *he;
  int i;
} he_attempt;

struct he_state {
  struct sockaddr_storage addrs[CORRAL__ADDRS_MAX];
  int rc[CORRAL__ADDRS_MAX];
  he_attempt att[CORRAL__ADDRS_MAX];
  int n;
  corral_stream *winner;
  corral_event failed; /* an attempt failed: start the next one now */
};

static int attempt(void *arg, void **res) {
  (void)res;
  he_attempt *a = arg;
  he_state *he = a->he;
  corral_stream *s = NULL;
  int rc = connect_one(corral__self(), &he->addrs[a->i], &s);
  if (rc == 0) {
    if (he->winner) /* another attempt won in the same turn */
      corral__stream_close(s);
    else
      he->winner = s;
    return 0;
  }
  he->rc[a->i] = rc;
  corral_event_set(&he->failed);
  return rc;
}

/* RFC 8305, section 4: alternate the families, IPv6 first. */
static void interleave(he_state *he) {
  struct sockaddr_storage v6[CORRAL__ADDRS_MAX], v4[CORRAL__ADDRS_MAX];
  int n6 = 0, n4 = 0;
  for (int i = 0; i < he->n; i++) {
    if (he->addrs[i].ss_family == AF_INET6)
      v6[n6++] = he->addrs[i];
    else
      v4[n4++] = he->addrs[i];
  }
  int k = 0;
  for (int i = 0; i < n6 || i < n4; i++) {
    if (i < n6) he->addrs[k++] = v6[i];
    if (i < n4) he->addrs[k++] = v4[i];
  }
}

/* The attempts as a small structured program (Trio's open_tcp_stream): a
 * FIRST group, one task per attempt, the next started after the delay or
 * as soon as one failed; the group cancels the rest when one connects. */
static int happy_eyeballs(he_state *he, int64_t delay) {
  corral_group g;
  int rc = corral_group_open(&g, &(corral_group_opts){
                                     .policy = CORRAL_FIRST,
                                     .name = "happy eyeballs"});
  if (rc) return rc;
  int body = 0;
  for (int i = 0; i < he->n && !he->winner; i++) {
    corral_event_clear(&he->failed);
    he->att[i] = (he_attempt){he, i};
    char name[CORRAL_NAME_MAX];
    snprintf(name, sizeof name, "connect attempt %d", i + 1);
    body = corral_spawn(&g, attempt, &he->att[i], name, NULL);
    if (body || i == he->n - 1) break;
    corral_scope sc;
    corral_move_on_after(&sc, delay);
    body = corral_scope_exit(&sc, corral_event_wait(&he->failed));
    if (body) break; /* someone connected, or the caller was cancelled */
  }
  if (body == CORRAL_ECANCELED || body == CORRAL_ECLOSED) body = 0;
  return corral_group_close(&g, body);
}

/* Try he->addrs (he->n of them, in order) and fill *out with the winner.
 * host and port name them in the error message. */
static int connect_addrs(corral_task *self, he_state *he, int64_t delay,
                         const char *host, int port, corral_stream **out) {
  int rc;
  corral_event_init(&he->failed);
  if (he->n == 1 || delay == CORRAL_FOREVER || self->compact) {
    for (int i = 0; i < he->n && !he->winner; i++) {
      rc = connect_one(self, &he->addrs[i], &he->winner);
      he->rc[i] = rc;
      if (rc == CORRAL_ECANCELED || rc == CORRAL_ETIMEDOUT) return rc;
    }
  } else {
    rc = happy_eyeballs(he, delay);
    if (he->winner && rc == CORRAL_ECANCELED) { /* the caller's, not ours */
      corral__stream_close(he->winner);
      he->winner = NULL;
      return rc;
    }
    if (rc == CORRAL_ECANCELED || rc == CORRAL_ETIMEDOUT) return rc;
  }
  if (he->winner) {
    *out = he->winner;
    return 0;
  }
  /* Every address failed: the first attempt's error, all of them told. */
  char msg[512];
  size_t len = (size_t)snprintf(msg, sizeof msg, "connect to %s port %d:",
                                host, port);
  for (int i = 0; i < he->n && len < sizeof msg; i++) {
    char a[64];
    len += (size_t)snprintf(msg + len, sizeof msg - len, "%s %s: %s",
                            i ? ";" : "",
                            corral_addr_string((struct sockaddr *)&he->addrs[i],
                                               a, sizeof a),
                            corral_strerror(he->rc[i]));
  }
  rc = he->rc[0] ? he->rc[0] : CORRAL_EIO;
  return corral_errorf(rc, "%s", msg);
}

int corral_tcp_connect_ex(const char *host, int port,
                          const corral_connect_opts *opts,
                          corral_stream **out) {
  if (out) *out = NULL;
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!out || !host || !*host || port < 0 || port > 65535)
    return CORRAL_EINVAL;
  corral_connect_opts o = {0};
  if (opts) o = *opts;
  if (o.family != 0 && o.family != AF_INET && o.family != AF_INET6)
    return CORRAL_EINVAL;
  int64_t delay = o.happy_eyeballs_delay_ns ? o.happy_eyeballs_delay_ns
                                            : CORRAL_HAPPY_EYEBALLS_DELAY;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  he_state *he = corral__calloc(self->rt, sizeof *he);
  if (!he) return CORRAL_ENOMEM;
  int rc = corral__resolve(host, port, SOCK_STREAM, o.family, false,
                           he->addrs, CORRAL__ADDRS_MAX);
  if (rc > 0) {
    he->n = rc;
    interleave(he);
    rc = connect_addrs(self, he, delay, host, port, out);
  }
  corral__free(self->rt, he);
  return rc;
}

int corral__tcp_connect_addrs(const struct sockaddr_storage *a, int n,
                              int64_t delay, corral_stream **out) {
  *out = NULL;
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (n < 1 || n > CORRAL__ADDRS_MAX) return CORRAL_EINVAL;
  he_state *he = corral__calloc(self->rt, sizeof *he);
  if (!he) return CORRAL_ENOMEM;
  memcpy(he->addrs, a, (size_t)n * sizeof *a);
  he->n = n;
  int rc = connect_addrs(self, he, delay, "(list)", 0, out);
  corral__free(self->rt, he);
  return rc;
}

/* ---- listen / accept ---- */

struct corral_listener {
  corral__rt *rt;
  corral__handle reg;
  unsigned refs;     /* a task in accept + polls still closing */
  int closed;
  int n, next;       /* sockets; where the next accept starts */
  int fds[LISTEN_MAX];
  uv_poll_t polls[LISTEN_MAX];
  corral_task *acceptor;
  corral__wait wait;  /* names the listener in dumps */
  char label[32];
};

static void listener_unref(corral_listener *l) {
  if (--l->refs == 0 && l->closed) corral__free(l->rt, l);
}

static void on_poll_closed(uv_handle_t *h) {
  listener_unref(h->data);
}

static void listener_close(corral_listener *l) {
  if (l->closed) return;
  l->closed = 1;
  corral__handle_unregister(&l->reg);
  if (l->acceptor) corral__wake(l->acceptor, CORRAL_ECLOSED);
  for (int i = 0; i < l->n; i++) {
    l->refs++;
    /* libuv stops watching at once: the port is free when this returns. */
    uv_close((uv_handle_t *)&l->polls[i], on_poll_closed);
    corral__io_disown_fd(l->rt, l->fds[i]);
    close(l->fds[i]);
  }
  if (l->refs == 0) corral__free(l->rt, l);
}

static void close_registered(corral__handle *h) {
  listener_close(corral__container_of(h, corral_listener, reg));
}

/* Bind and listen on every address; with port 0 the first socket picks
 * the port and the others take the same. */
static int open_sockets(corral_listener *l, struct sockaddr_storage *a, int n,
                        int backlog, bool reuse_port) {
  int port = corral__addr_port(&a[0]);
  for (int i = 0; i < n; i++) {
    corral__addr_set_port(&a[i], port);
    int fd = CORRAL__SYS("tcp_socket", EMFILE,
                         socket(a[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                0));
    if (fd < 0) return -errno;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0) {
      int e = -errno;
      close(fd);
      return e;
    }
    if (a[i].ss_family == AF_INET6 && n > 1)
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (CORRAL__SYS("tcp_bind", EADDRINUSE,
                    bind(fd, (struct sockaddr *)&a[i], corral__addr_len(&a[i]))) < 0 ||
        CORRAL__SYS("tcp_listen", EADDRINUSE, listen(fd, backlog)) < 0) {
      int e = -errno;
      close(fd);
      return e;
    }
    l->fds[l->n] = fd;
    int rc = CORRAL__UV("tcp_listen_poll_init", ENOMEM,
                        uv_poll_init_socket(l->rt->loop, &l->polls[l->n], fd));
    if (rc) {
      close(fd);
      return corral__from_uv(rc);
    }
    l->polls[l->n].data = l;
    corral__io_own_fd(l->rt, fd);
    l->n++;
    if (port == 0) {
      struct sockaddr_storage ss;
      socklen_t len = sizeof ss;
      if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = corral__addr_port(&ss);
    }
  }
  return 0;
}

int corral_tcp_listen(const char *host, int port, int backlog,
                      corral_listener **out) {
  corral_listen_opts o = {0};
  o.backlog = backlog;
  return corral_tcp_listen_ex(host, port, &o, out);
}

int corral_tcp_listen_ex(const char *host, int port,
                         const corral_listen_opts *opts,
                         corral_listener **out) {
  if (out) *out = NULL;
  corral_listen_opts o = {0};
  if (opts) o = *opts;
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!out || port < 0 || port > 65535) return CORRAL_EINVAL;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  corral__rt *rt = self->rt;
  struct sockaddr_storage a[LISTEN_MAX];
  int n = corral__resolve(host, port, SOCK_STREAM, 0, true, a, LISTEN_MAX);
  if (n < 0) return n;
  int rc = 0;
  /* With port 0 and several addresses, the port the first socket got may
   * be taken on another family: try again a few times. */
  for (int tries = 0; tries < 8; tries++) {
    corral_listener *l = corral__calloc(rt, sizeof *l);
    if (!l) return CORRAL_ENOMEM;
    l->rt = rt;
    corral__handle_register(rt, &l->reg, "tcp listener", close_registered);
    struct sockaddr_storage b[LISTEN_MAX];
    memcpy(b, a, sizeof a);
    rc = open_sockets(l, b, n, o.backlog > 0 ? o.backlog : 511,
                      o.reuse_port != 0);
    if (rc == 0) {
      struct sockaddr_storage ss; /* for the label only: no fault here */
      socklen_t len = sizeof ss;
      int lport = getsockname(l->fds[0], (struct sockaddr *)&ss, &len) == 0
                      ? corral__addr_port(&ss)
                      : -1;
      snprintf(l->label, sizeof l->label, "listener port %d", lport);
      l->wait = (corral__wait){.what = l->label};
      *out = l;
      return 0;
    }
    listener_close(l);
    if (!(rc == CORRAL_EADDRINUSE && port == 0 && n > 1)) break;
  }
  return corral_errorf(rc, "listen on %s port %d: %s", host ? host : "*",
                       port, corral_strerror(rc));
}

int corral_listener_port(const corral_listener *l) {
  if (!l || l->n == 0) return CORRAL_EINVAL;
  if (corral__tl_rt && l->rt != corral__tl_rt) return CORRAL_EFOREIGN;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (CORRAL__SYS("tcp_getsockname", EBADF,
                  getsockname(l->fds[0], (struct sockaddr *)&ss, &len)) < 0)
    return -errno;
  return corral__addr_port(&ss);
}

static void on_listen_ready(uv_poll_t *h, int status, int events) {
  (void)status, (void)events;
  corral_listener *l = h->data;
  if (l->acceptor) corral__wake(l->acceptor, 0);
}

/* An accepted descriptor as a TCP stream. */
static int wrap_accepted(corral__rt *rt, int fd, corral_stream **out) {
  int rc;
  corral_stream *s = corral__stream_new(rt, CORRAL__S_TCP, &rc);
  if (!s) {
    close(fd);
    return rc;
  }
  rc = CORRAL__UV("tcp_open", ENOMEM, uv_tcp_open(&s->uv.tcp, fd));
  if (rc) {
    corral__stream_close(s);
    close(fd);
    return corral__from_uv(rc);
  }
  s->fd = fd;
  snprintf(s->label, sizeof s->label, "tcp fd %d", fd);
  corral__io_own_fd(rt, fd);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  *out = s;
  return 0;
}

int corral_listener_accept(corral_listener *l, corral_stream **out) {
  if (out) *out = NULL;
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!l || !out) return CORRAL_EINVAL;
  if (l->rt != self->rt) return CORRAL_EFOREIGN;
  if (l->closed) return CORRAL_ECLOSED;
  if (l->acceptor) return CORRAL_EBUSY;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  int rc = 0;
  l->refs++;
  for (;;) {
    int fd = -1;
    for (int k = 0; k < l->n && fd < 0; k++) {
      int i = (l->next + k) % l->n;
      do fd = CORRAL__SYS("tcp_accept", EMFILE,
                          accept4(l->fds[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
      while (fd < 0 && errno == EINTR);
      if (fd >= 0) {
        l->next = (i + 1) % l->n;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                 errno != ECONNABORTED && errno != EPROTO) {
        rc = -errno; /* EMFILE, ENFILE, ENOBUFS, ...: the caller decides */
        break;
      }
    }
    if (fd >= 0) {
      rc = wrap_accepted(l->rt, fd, out);
      break;
    }
    if (rc) {
      rc = corral_errorf(rc, "accept: %s", corral_strerror(rc));
      break;
    }
    for (int i = 0; i < l->n && rc == 0; i++)
      rc = corral__from_uv(CORRAL__UV("tcp_listen_poll_start", EBADF,
                                      uv_poll_start(&l->polls[i], UV_READABLE,
                                                    on_listen_ready)));
    if (rc == 0) {
      l->acceptor = self;
      rc = corral__park(self, CORRAL__W_TCP_ACCEPT, &l->wait, CORRAL_FOREVER);
      l->acceptor = NULL;
    }
    if (!l->closed)
      for (int i = 0; i < l->n; i++) uv_poll_stop(&l->polls[i]);
    if (rc) break;
  }
  listener_unref(l);
  return rc;
}

int corral_listener_close(corral_listener *l) {
  if (!l) return 0;
  corral__rt *rt = corral__tl_rt;
  if (!rt) return CORRAL_ENOTASK;
  if (l->rt != rt) return CORRAL_EFOREIGN;
  listener_close(l);
  return 0;
}
