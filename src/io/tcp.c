/* TCP on libuv streams, as blocking-looking task calls.
 *
 * One reader and one writer may wait on a socket at a time (like a file
 * descriptor used by one task for each direction). Reading stays armed
 * between reads (no epoll_ctl pair per read): libuv reads straight into the
 * waiting task's buffer; a chunk that arrives while no task reads goes to a
 * small per-socket stash and reading stops until it is consumed, so at most
 * one chunk is read ahead and nothing is lost when a read is cancelled (the
 * next read gets it). Writes try
 * uv_try_write first; what is left goes through uv_write from a private copy,
 * so a cancelled write can finish in the background without the caller's
 * buffer. */
#include "io/io.h"

#include <limits.h>
#include <string.h>

struct corral_tcp {
  uv_tcp_t h;
  corral__rt *rt;
  corral__handle reg;             /* in the runtime's registry */
  corral_task *reader;            /* blocked in read / accept */
  corral_task *writer;            /* blocked in write / connect / shutdown */
  char *rbuf;                     /* the waiting reader's buffer, or NULL */
  size_t rlen;
  int rresult;                    /* bytes, 0 = EOF, < 0 error */
  int eof;                        /* sticky end of stream */
  int rerr;                       /* sticky read error, delivered once */
  int armed;                      /* uv_read_start in effect */
  char *stash;                    /* read ahead while no task was reading */
  size_t stash_off, stash_len;
  int pending;                    /* listener: connections to accept */
  int listen_err;
  int wresult;
  int closed;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  struct sockaddr_storage addr; /* bind / connect address */
};

typedef struct {
  uv_write_t req;
  corral_tcp *s; /* NULL once the socket is closed */
  int waited;    /* a writer waits for this request */
  char data[];
} wreq_t;

#define from_uv corral__from_uv

static void close_socket(corral_tcp *s);
static void close_registered(corral__handle *h) {
  close_socket(corral__container_of(h, corral_tcp, reg));
}

static corral_tcp *new_socket(corral__rt *rt, int *rc) {
  corral_tcp *s = corral__calloc(rt, sizeof *s);
  if (!s) {
    *rc = CORRAL_ENOMEM;
    return NULL;
  }
  *rc = uv_tcp_init(rt->loop, &s->h);
  if (*rc) {
    corral__free(rt, s);
    return NULL;
  }
  s->h.data = s;
  s->rt = rt;
  corral__handle_register(rt, &s->reg, "tcp", close_registered);
  return s;
}

static void on_closed(uv_handle_t *h) {
  corral_tcp *s = h->data;
  corral__free(s->rt, s->stash);
  corral__free(s->rt, s);
}

static void close_socket(corral_tcp *s) {
  if (s->closed) return;
  s->closed = 1;
  corral__handle_unregister(&s->reg);
  if (s->reader) corral__wake(s->reader, CORRAL_ECLOSED);
  if (s->writer) corral__wake(s->writer, CORRAL_ECLOSED);
  s->reader = s->writer = NULL;
  uv_close((uv_handle_t *)&s->h, on_closed);
}

void corral_tcp_close(corral_tcp *s) {
  if (s) close_socket(s);
}

static int addr_of(const char *host, int port, struct sockaddr_storage *ss) {
  if (!host || port < 0 || port > 65535) return CORRAL_EINVAL;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return CORRAL_EINVAL;
}

/* Common start of listen and connect: a task, an out pointer, an address,
 * a new socket. */
static int open_socket(const char *host, int port, corral_tcp **out,
                       corral_tcp **s) {
  corral_task *self = corral__self();
  if (out) *out = NULL;
  if (!self) return CORRAL_ENOTASK;
  if (!out) return CORRAL_EINVAL;
  if (corral__cancelled_scope(self->scope)) return CORRAL_ECANCELED;
  struct sockaddr_storage ss;
  int rc = addr_of(host, port, &ss);
  if (rc) return corral_errorf(rc, "bad address '%s'", host ? host : "");
  *s = new_socket(self->rt, &rc);
  if (!*s) return rc;
  memcpy(&(*s)->addr, &ss, sizeof ss);
  return 0;
}

/* ---- listen / accept ---- */

static void on_connection(uv_stream_t *srv, int status) {
  corral_tcp *s = srv->data;
  if (status < 0)
    s->listen_err = status;
  else
    s->pending++;
  if (s->reader) corral__wake(s->reader, 0);
}

int corral_tcp_listen(const char *host, int port, int backlog,
                      corral_tcp **out) {
  corral_tcp *s;
  int rc = open_socket(host, port, out, &s);
  if (rc) return rc;
  rc = uv_tcp_bind(&s->h, (struct sockaddr *)&s->addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&s->h, backlog > 0 ? backlog : 511,
                          on_connection);
  if (rc) {
    close_socket(s);
    return corral_errorf(from_uv(rc), "listen on %s:%d: %s", host, port,
                         uv_strerror(rc));
  }
  *out = s;
  return 0;
}

int corral_tcp_port(const corral_tcp *s) {
  if (!s) return CORRAL_EINVAL;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int rc = uv_tcp_getsockname(&s->h, (struct sockaddr *)&ss, &len);
  if (rc) return from_uv(rc);
  return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int corral_tcp_accept(corral_tcp *l, corral_tcp **out) {
  corral_task *self = corral__self();
  if (out) *out = NULL;
  if (!self) return CORRAL_ENOTASK;
  if (!l || !out) return CORRAL_EINVAL;
  if (l->rt != self->rt) return CORRAL_EFOREIGN;
  if (l->closed) return CORRAL_ECLOSED;
  if (l->reader) return CORRAL_EBUSY;
  while (l->pending == 0 && !l->listen_err) {
    l->reader = self;
    int rc = corral__park(self, CORRAL__W_TCP_ACCEPT, NULL, CORRAL_FOREVER);
    l->reader = NULL;
    if (rc) return rc;
  }
  if (l->listen_err) {
    int e = l->listen_err;
    l->listen_err = 0;
    return from_uv(e);
  }
  int rc;
  corral_tcp *c = new_socket(self->rt, &rc);
  if (!c) return rc;
  rc = uv_accept((uv_stream_t *)&l->h, (uv_stream_t *)&c->h);
  if (rc) {
    close_socket(c);
    return from_uv(rc);
  }
  l->pending--;
  uv_tcp_nodelay(&c->h, 1);
  *out = c;
  return 0;
}

/* ---- connect ---- */

static void on_connect(uv_connect_t *req, int status) {
  corral_tcp *s = req->handle->data;
  s->wresult = status;
  if (s->writer) corral__wake(s->writer, 0);
}

int corral_tcp_connect(const char *host, int port, corral_tcp **out) {
  corral_tcp *s;
  int rc = open_socket(host, port, out, &s);
  if (rc) return rc;
  corral_task *self = corral__self();
  s->wresult = 1; /* pending */
  rc = uv_tcp_connect(&s->creq, &s->h, (struct sockaddr *)&s->addr,
                      on_connect);
  if (rc) {
    close_socket(s);
    return corral_errorf(from_uv(rc), "connect to %s:%d: %s", host, port,
                         uv_strerror(rc));
  }
  while (s->wresult == 1) {
    s->writer = self;
    rc = corral__park(self, CORRAL__W_TCP_CONNECT, NULL, CORRAL_FOREVER);
    s->writer = NULL;
    if (rc) { /* the callback still comes, with UV_ECANCELED, after close */
      close_socket(s);
      return rc;
    }
  }
  if (s->wresult < 0) {
    rc = s->wresult;
    close_socket(s);
    return corral_errorf(from_uv(rc), "connect to %s:%d: %s", host, port,
                         uv_strerror(rc));
  }
  uv_tcp_nodelay(&s->h, 1);
  *out = s;
  return 0;
}

/* ---- read ---- */

#define CORRAL__STASH 16384

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  corral_tcp *s = h->data;
  if (s->rbuf) { /* a task waits: straight into its buffer */
    buf->base = s->rbuf;
    buf->len = s->rlen;
    return;
  }
  if (!s->stash) s->stash = corral__malloc(s->rt, CORRAL__STASH);
  /* No room (the stash holds a chunk, or no memory): UV_ENOBUFS follows. */
  buf->base = s->stash;
  buf->len = s->stash && s->stash_len == 0 ? CORRAL__STASH : 0;
}

static void stop_reading(corral_tcp *s) {
  if (s->armed) uv_read_stop((uv_stream_t *)&s->h);
  s->armed = 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  corral_tcp *s = st->data;
  if (n == 0) return; /* EAGAIN */
  if (n == UV_ENOBUFS) { /* the stash is full: wait for a reader */
    stop_reading(s);
    return;
  }
  if (n < 0) stop_reading(s); /* EOF or error: nothing more to read */
  if (n == UV_EOF) s->eof = 1;
  if (s->rbuf && buf->base == s->rbuf) {
    s->rresult = n == UV_EOF ? 0 : (int)n;
    s->rbuf = NULL; /* later chunks of this callback pass go to the stash */
    if (s->reader) corral__wake(s->reader, 0);
  } else if (n > 0) {
    s->stash_off = 0;
    s->stash_len = (size_t)n;
    stop_reading(s); /* one chunk ahead at most */
  } else if (n != UV_EOF) {
    s->rerr = (int)n;
  }
}

/* Hand out what the stash holds. */
static int from_stash(corral_tcp *s, char *buf, size_t len) {
  size_t k = s->stash_len < len ? s->stash_len : len;
  memcpy(buf, s->stash + s->stash_off, k);
  s->stash_off += k;
  s->stash_len -= k;
  return (int)k;
}

int corral_tcp_read(corral_tcp *s, void *buf, size_t len) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!s || (!buf && len)) return CORRAL_EINVAL;
  if (s->rt != self->rt) return CORRAL_EFOREIGN;
  if (s->closed) return CORRAL_ECLOSED;
  if (s->reader) return CORRAL_EBUSY;
  if (corral__cancelled_scope(self->scope)) return CORRAL_ECANCELED;
  if (len == 0) return 0;
  if (len > INT_MAX) len = INT_MAX;
  if (s->stash_len) return from_stash(s, buf, len);
  if (s->rerr) {
    int e = s->rerr;
    s->rerr = 0;
    return from_uv(e);
  }
  if (s->eof) return 0;
  /* A compact task's stack is not addressable while it is suspended: read
   * into a bounce buffer when buf lies on it. */
  int err;
  char *bounce = corral__io_bounce(self, buf, &len, &err);
  if (err) return err;
  s->rbuf = bounce ? bounce : buf;
  s->rlen = len;
  s->rresult = INT_MIN; /* nothing yet */
  if (!s->armed) {
    int rc = uv_read_start((uv_stream_t *)&s->h, on_alloc, on_read);
    if (rc) {
      s->rbuf = NULL;
      corral__free(s->rt, bounce);
      return from_uv(rc);
    }
    s->armed = 1;
  }
  s->reader = self;
  int rc = corral__park(self, CORRAL__W_TCP_READ, NULL, CORRAL_FOREVER);
  s->reader = NULL;
  s->rbuf = NULL; /* from here on, arriving data goes to the stash */
  int got = s->rresult;
  if (got == INT_MIN) { /* cancelled or closed before any data */
    got = rc ? rc : CORRAL_EIO;
  } else if (bounce && got > 0) {
    memcpy(buf, bounce, (size_t)got); /* data that arrived wins a cancel */
  }
  corral__free(s->rt, bounce);
  return got;
}

/* ---- write ---- */

/* libuv calls back every pending write (UV_ECANCELED on close) before the
 * socket's close callback, so w->s is valid here. */
static void on_write(uv_write_t *req, int status) {
  wreq_t *w = (wreq_t *)req;
  corral_tcp *s = w->s;
  if (!s->closed) {
    s->wresult = status;
    if (w->waited && s->writer) corral__wake(s->writer, 0);
  }
  corral__free(s->rt, w);
}

int corral_tcp_write(corral_tcp *s, const void *buf, size_t len) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!s || (!buf && len)) return CORRAL_EINVAL;
  if (s->rt != self->rt) return CORRAL_EFOREIGN;
  if (s->closed) return CORRAL_ECLOSED;
  if (s->writer) return CORRAL_EBUSY;
  if (corral__cancelled_scope(self->scope)) return CORRAL_ECANCELED;
  const char *p = buf;
  while (len > 0) { /* the fast path: the kernel takes it now */
    uv_buf_t b = uv_buf_init((char *)p, len > INT_MAX ? INT_MAX : (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&s->h, &b, 1);
    if (n == UV_EAGAIN) break;
    if (n < 0) return from_uv(n);
    p += n;
    len -= (size_t)n;
  }
  if (len == 0) return 0;
  if (len > INT_MAX) return CORRAL_ERANGE;
  wreq_t *w = corral__malloc(s->rt, sizeof *w + len);
  if (!w) return CORRAL_ENOMEM;
  memcpy(w->data, p, len);
  w->s = s;
  w->waited = 1;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  s->wresult = 1;
  int rc = uv_write(&w->req, (uv_stream_t *)&s->h, &b, 1, on_write);
  if (rc) {
    corral__free(s->rt, w);
    return from_uv(rc);
  }
  s->writer = self;
  rc = corral__park(self, CORRAL__W_TCP_WRITE, NULL, CORRAL_FOREVER);
  s->writer = NULL;
  if (s->wresult == 1) { /* cancelled or closed: it finishes on its own */
    w->waited = 0;
    return rc ? rc : CORRAL_EIO;
  }
  return s->wresult < 0 ? from_uv(s->wresult) : 0;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  corral_tcp *s = req->handle->data;
  s->wresult = status;
  if (s->writer) corral__wake(s->writer, 0);
}

int corral_tcp_shutdown(corral_tcp *s) {
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!s) return CORRAL_EINVAL;
  if (s->closed) return CORRAL_ECLOSED;
  if (s->writer) return CORRAL_EBUSY;
  s->wresult = 1;
  int rc = uv_shutdown(&s->sreq, (uv_stream_t *)&s->h, on_shutdown);
  if (rc) return from_uv(rc);
  while (s->wresult == 1 && !s->closed) {
    s->writer = self;
    /* Not abortable: the request owns s->sreq until its callback. */
    corral__park(self, CORRAL__W_TCP_SHUTDOWN, CORRAL__UNABORTABLE,
                 CORRAL_FOREVER);
    s->writer = NULL;
  }
  if (s->closed) return CORRAL_ECLOSED;
  return s->wresult < 0 ? from_uv(s->wresult) : 0;
}
