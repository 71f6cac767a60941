/* libcorral-http: one curl multi handle per client, driven by the runtime's
 * libuv loop through curl's multi_socket API (a uv_poll_t per socket curl
 * asks us to watch, one uv_timer_t for curl's timeout).
 *
 * A request adds its easy handle to the multi and parks the calling task
 * (corral_park). The loop callbacks run curl; when a transfer completes,
 * its task is unparked. When the task's scope is cancelled while parked, the
 * abort callback removes the easy handle from the multi at once, which
 * closes its connection: the task wakes with CORRAL_ECANCELED and nothing of
 * the transfer is left behind.
 *
 * Streaming keeps the user's callback in the task: the curl write callback
 * copies one piece and wakes the task; further pieces are refused with
 * CURL_WRITEFUNC_PAUSE (curl keeps them) until the task has handed the piece
 * to the user and unpaused the transfer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "corral/http.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MiB ((size_t)1024 * 1024)
#define EASY_POOL_MAX 256
#define HEADERS_MAX ((size_t)256 * 1024) /* response header block, bytes */
#define REDIRECT_BODY_MAX ((size_t)64 * 1024) /* drained to keep the
                                                 connection, else cut */

typedef struct xfer xfer;
typedef struct sock sock;

struct sock { /* one socket curl asked us to watch */
  uv_poll_t poll;
  curl_socket_t fd;
  int events; /* what the poll watches now */
  int want;   /* what curl asked for */
  int conn;   /* a connection socket (opened through on_open_socket) */
  int idle;   /* conn kept in curl's pool, no transfer on it */
  int closed; /* handle closing */
  corral_http_client *c;
  sock *prev, *next;
};

/* The clients a task opened, kept in a task-local value: when the task has
 * ended, its value is destroyed and any client still open is reported and
 * closed (see owner_ended). */
typedef struct owner_reg {
  corral_task *task;
  corral_http_client *clients;
  char name[CORRAL_NAME_MAX];
} owner_reg;

struct corral_http_client {
  CURLM *multi;
  owner_reg *reg;
  corral_http_client *reg_prev, *reg_next;
  uv_loop_t *loop;
  uv_timer_t *timer; /* separately allocated: freed by its close callback */
  corral_http_client_opts o;
  char *user_agent, *ca_file, *proxy;
  char **headers; /* default headers, copied */
  size_t nheaders;
  xfer *xfers; /* transfers in the multi */
  sock *socks;
  sock **fdtab; /* by descriptor */
  size_t fdcap;
  CURL *pool[EASY_POOL_MAX]; /* easy handles with the client's options,
                                ready for reuse */
  size_t npool;
  struct { char *buf; size_t cap; } hbufs[EASY_POOL_MAX]; /* header buffers */
  size_t nhbufs;
  int in_curl;     /* > 0 while a curl call is on the stack */
  xfer *deferred;  /* aborts that arrived while in_curl */
  corral_http_client_stats st;
  int no_proxy_env; /* no proxy variable set when the client opened */
};

struct xfer {
  corral_http_client *c;
  CURL *easy;
  corral_task *task;
  const corral_http_request *req;
  struct curl_slist *hdrs;
  xfer *prev, *next, *defer_next;
  int added, parked, done, paused, abort_pending;
  int follow;     /* redirects followed here, not by curl (custom methods) */
  int strip_creds; /* a redirect left the first origin: no Authorization,
                      no Cookie */
  long hops;      /* redirects followed here */
  int redirecting; /* follow: the response arriving is a 3xx with a
                      Location, its body not the caller's */
  char *location;  /* follow: that Location, as sent */
  size_t skipped;  /* follow: bytes of that response's body drained */
  int cut;         /* follow: its body was too long, the transfer cut */
  int status_now;  /* follow: the status of the response arriving */
  int stop_code; /* our reason for failing a write (cap, callback) */
  int stop_headers; /* the cap on response headers stopped it */
  size_t streamed; /* body bytes handed to on_body */
  CURLcode result;
  /* body: in memory, or the one pending piece when streaming */
  char *body;
  size_t len, cap, max;
  /* raw header block of the latest response */
  char *hbuf;
  size_t hlen, hcap, hcount;
  size_t htotal;   /* header bytes of every response of the transfer (1xx,
                      redirects, the final one): one cap for them all */
  curl_off_t clen; /* the response's Content-Length (-1: none yet) */
  int bad_length;  /* the Content-Length was not a number */
  char what[80];
  char errbuf[CURL_ERROR_SIZE];
};

/* ---- park / unpark: the runtime's public hooks ---- */

static corral_abort_result xfer_abort(corral_task *t, void *arg);
static int park_xfer(xfer *x) {
  return corral_park(x->what, xfer_abort, x);
}
static void unpark_xfer(xfer *x, int code) { corral_unpark(x->task, code); }

/* ---- helpers ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

const char *corral_http_curl_version(void) {
  return curl_version_info(CURLVERSION_NOW)->version;
}

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static void xfer_wake(xfer *x) {
  if (x->parked) {
    x->parked = 0;
    unpark_xfer(x, 0);
  }
}

/* Take the easy handle out of the multi (closing its connection if the
 * transfer was not finished). Never while curl is on the stack. The xfer
 * stays on the client's list until its task leaves corral_http_fetch, so
 * that a close in between still reaches it. */
static void xfer_detach(xfer *x) {
  corral_http_client *c = x->c;
  if (!x->added) return;
  x->added = 0;
  curl_multi_remove_handle(c->multi, x->easy);
  c->st.in_flight--;
}

static void xfer_unlink(xfer *x) {
  corral_http_client *c = x->c;
  if (x->prev) x->prev->next = x->next;
  else c->xfers = x->next;
  if (x->next) x->next->prev = x->prev;
  x->prev = x->next = NULL;
}

static void process_done(corral_http_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    xfer *x = NULL;
    CURLcode res = m->data.result; /* m dies with the removal below */
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    x->result = res;
    x->done = 1;
    xfer_detach(x);
    xfer_wake(x);
  }
}

static void run_deferred(corral_http_client *c) {
  while (c->in_curl == 0 && c->deferred) {
    xfer *x = c->deferred;
    c->deferred = x->defer_next;
    x->abort_pending = 0;
    xfer_detach(x);
    if (x->parked) {
      x->parked = 0;
      unpark_xfer(x, CORRAL_ECANCELED);
    }
  }
}

/* After any curl call made from a loop callback or a task. */
static void after_curl(corral_http_client *c) {
  process_done(c);
  run_deferred(c);
}

/* ---- curl's multi_socket callbacks, on the runtime's loop ----
 *
 * A connection's socket keeps its uv_poll_t from curl's opensocket callback
 * to its closesocket callback. Between transfers (curl says REMOVE but keeps
 * the connection for reuse) the poll stays armed for reading, so reusing the
 * connection costs no epoll_ctl and no handle; an idle socket that becomes
 * readable (the server closed it) is only disarmed: curl finds out when it
 * reuses it. Other sockets curl asks us to watch (a resolver's) get a
 * handle from the first request to REMOVE. */

static void on_sock_closed(uv_handle_t *h) { free(h->data); }
static void on_poll(uv_poll_t *p, int status, int events);

static sock **sock_slot(corral_http_client *c, curl_socket_t fd) {
  if (fd < 0) return NULL;
  if ((size_t)fd >= c->fdcap) {
    size_t n = c->fdcap ? c->fdcap : 64;
    while (n <= (size_t)fd) n *= 2;
    sock **t = realloc(c->fdtab, n * sizeof *t);
    if (!t) return NULL;
    memset(t + c->fdcap, 0, (n - c->fdcap) * sizeof *t);
    c->fdtab = t;
    c->fdcap = n;
  }
  return &c->fdtab[fd];
}

static sock *sock_new(corral_http_client *c, curl_socket_t fd, int conn) {
  sock **slot = sock_slot(c, fd);
  if (!slot) return NULL;
  sock *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  if (uv_poll_init_socket(c->loop, &k->poll, fd) != 0) {
    free(k);
    return NULL;
  }
  k->poll.data = k;
  k->fd = fd;
  k->c = c;
  k->conn = conn;
  k->next = c->socks;
  if (c->socks) c->socks->prev = k;
  c->socks = k;
  *slot = k;
  return k;
}

static void sock_close(sock *k) {
  corral_http_client *c = k->c;
  if (k->prev) k->prev->next = k->next;
  else c->socks = k->next;
  if (k->next) k->next->prev = k->prev;
  if ((size_t)k->fd < c->fdcap && c->fdtab[k->fd] == k) c->fdtab[k->fd] = NULL;
  k->closed = 1;
  uv_poll_stop(&k->poll);
  uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static int sock_watch(sock *k, int ev) {
  if (ev == k->events) return 0; /* unchanged: no syscall */
  k->events = ev;
  if (!ev) return uv_poll_stop(&k->poll) == 0 ? 0 : -1;
  return uv_poll_start(&k->poll, ev, on_poll) == 0 ? 0 : -1;
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock *k = p->data;
  corral_http_client *c = k->c;
  if (k->idle) { /* a pooled connection the server closed: curl will see */
    sock_watch(k, 0);
    return;
  }
  int flags = 0;
  if (status < 0) { /* POLLERR (a reset): libuv stopped the handle; let
                       curl's own read or write find the precise error */
    events = k->events;
    k->events = 0; /* re-armed below if curl still wants the socket */
  }
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  c->in_curl++;
  curl_multi_socket_action(c->multi, k->fd, flags, &running);
  c->in_curl--;
  /* k is freed only by its close callback, so it is still readable here. */
  if (status < 0 && !k->closed && !k->idle && !k->events && k->want)
    sock_watch(k, k->want);
  after_curl(c);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  (void)e, (void)socketp;
  corral_http_client *c = userp;
  sock **slot = sock_slot(c, fd);
  sock *k = slot ? *slot : NULL;
  if (what == CURL_POLL_REMOVE) {
    if (!k) return 0;
    /* A connection kept for reuse stays armed for reading (no epoll_ctl
     * between requests). But REMOVE also comes right before curl closes a
     * socket itself, without the close callback (curl 7.88 does so for a
     * connect attempt it abandons): a socket that was not waiting to read
     * is let go here, before its number can be closed and reused under an
     * armed poll (libuv aborts on the EBADF). */
    if (k->conn && k->events == UV_READABLE) {
      k->idle = 1;
      k->want = 0;
      return 0;
    }
    sock_close(k);
    return 0;
  }
  if (!k && !(k = sock_new(c, fd, 0))) return -1;
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  k->idle = 0;
  k->want = ev;
  return sock_watch(k, ev);
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose,
                                    struct curl_sockaddr *a) {
  corral_http_client *c = arg;
  (void)purpose;
#ifdef SOCK_CLOEXEC
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
#else
  int fd = socket(a->family, a->socktype, a->protocol);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
  if (fd < 0) return CURL_SOCKET_BAD;
  sock **slot = sock_slot(c, fd);
  if (slot && *slot) sock_close(*slot); /* a stale entry: never reuse it */
  if (!sock_new(c, fd, 1)) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

static int on_close_socket(void *arg, curl_socket_t fd) {
  corral_http_client *c = arg;
  sock **slot = sock_slot(c, fd);
  if (slot && *slot) sock_close(*slot); /* before the number can be reused */
  return close(fd);
}

static void on_timeout(uv_timer_t *t) {
  corral_http_client *c = t->data;
  int running;
  c->in_curl++;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  c->in_curl--;
  after_curl(c);
}

static int on_timer(CURLM *m, long ms, void *userp) {
  (void)m;
  corral_http_client *c = userp;
  if (ms < 0) uv_timer_stop(c->timer);
  else uv_timer_start(c->timer, on_timeout, (uint64_t)ms, 0);
  return 0;
}

/* RFC 9110 5.6.2: methods and header names are tokens. */
static int is_tchar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int valid_token(const char *t) {
  if (!*t) return 0;
  for (; *t; t++)
    if (!is_tchar(*t)) return 0;
  return 1;
}

/* RFC 9110 5.5: a field value is visible characters, obs-text, spaces and
 * tabs. CR and LF would end the line (header injection, request
 * smuggling); other control characters are refused as well. */
static int is_ctl(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }

/* "Name: value": NULL if the line is acceptable, else why not. */
static const char *bad_header(const char *h) {
  if (strpbrk(h, "\r\n")) return "CR or LF in it (header injection)";
  const char *colon = strchr(h, ':');
  if (!colon || colon == h) return "not \"Name: value\"";
  for (const char *p = h; p < colon; p++)
    if (!is_tchar(*p)) return "the name is not an RFC 9110 token";
  for (const char *p = colon + 1; *p; p++)
    if (is_ctl((unsigned char)*p)) return "a control character in the value";
  return NULL;
}

static int same_name(const char *a, const char *b);

/* The message's framing is the library's: a Content-Length header that is
 * not the body's length, or a Transfer-Encoding, would make the server
 * read part of the body as a next request (request smuggling; Go's
 * net/http ignores such headers). body_len < 0: a default header, where
 * neither is allowed. NULL or why not. */
static const char *bad_framing(const char *h, long long body_len) {
  if (same_name(h, "Transfer-Encoding:"))
    return "Transfer-Encoding is the library's (a body is sent with "
           "Content-Length)";
  if (!same_name(h, "Content-Length:")) return NULL;
  if (body_len < 0) return "Content-Length is the library's";
  const char *v = strchr(h, ':') + 1;
  while (*v == ' ' || *v == '\t') v++;
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  while (*end == ' ' || *end == '\t') end++;
  if (*v < '0' || *v > '9' || *end || errno || n != body_len)
    return "a Content-Length that is not body_len (request smuggling)";
  return NULL;
}

static int has_ctl(const char *s) {
  for (; *s; s++)
    if (is_ctl((unsigned char)*s)) return 1;
  return 0;
}

/* A URL for a message: control characters escaped, long ones shortened
 * (error messages are one line of bounded length). */
static const char *show_url(char *buf, size_t size, const char *url) {
  size_t k = 0;
  /* A password in the URL (RFC 3986 3.2.1 userinfo) is shown as "***"
   * (Go's net/url does the same in its messages). */
  const char *pw = NULL, *at = NULL, *sep = strstr(url, "://");
  if (sep) {
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++)
      if (*p == '@') at = p;
    if (at) pw = memchr(auth, ':', (size_t)(at - auth));
  }
  for (const char *p = url; *p && k + 8 < size; p++) {
    if (pw && p == pw + 1) {
      k += (size_t)snprintf(buf + k, size - k, "***");
      p = at - 1;
      continue;
    }
    unsigned char ch = (unsigned char)*p;
    if (is_ctl(ch) || ch == '\t') k += (size_t)snprintf(buf + k, size - k, "\\x%02x", ch);
    else buf[k++] = (char)ch;
    if (k >= 160 && p[1] && strlen(p + 1) > 3) {
      k += (size_t)snprintf(buf + k, size - k, "...(%zu bytes)", strlen(url));
      break;
    }
  }
  buf[k] = 0;
  return buf;
}

/* corral-http speaks http and https only, named: curl would guess a scheme
 * for "example.org" and read "http:///x" as host "x". NULL or why not. */
static const char *bad_scheme(const char *url) {
  const char *sep = strstr(url, "://");
  if (!sep) return "no scheme (http:// or https://)";
  size_t n = (size_t)(sep - url);
  if (!((n == 4 && strncasecmp(url, "http", 4) == 0) ||
        (n == 5 && strncasecmp(url, "https", 5) == 0)))
    return "scheme not supported (http and https are)";
  if (sep[3] == '/' || sep[3] == 0) return "URL without a host";
  for (const char *p = sep + 3; *p; p++) /* RFC 3986: none of these */
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return "a space or control character in the URL";
  return NULL;
}

/* ---- the clients alive in this process ----
 * Every open client is listed with its runtime's loop, so that a call with
 * a closed client or another runtime's is refused with a code instead of
 * touching memory that is gone or belongs to another thread. */

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static corral_http_client **live;
static size_t nlive, live_cap;

static int live_add(corral_http_client *c) {
  pthread_mutex_lock(&live_mu);
  int rc = 0;
  if (nlive == live_cap) {
    size_t n = live_cap ? live_cap * 2 : 8;
    corral_http_client **t = realloc(live, n * sizeof *t);
    if (t) live = t, live_cap = n;
    else rc = -1;
  }
  if (rc == 0) live[nlive++] = c;
  pthread_mutex_unlock(&live_mu);
  return rc;
}

/* The loop of an open client, or NULL; remove: take it off the list. */
static uv_loop_t *live_find(const corral_http_client *c, int remove);

/* ---- client ---- */

static void on_timer_closed(uv_handle_t *h) { free(h); }
static void client_free(corral_http_client *c);

static void owner_ended(void *value) {
  owner_reg *reg = value;
  while (reg->clients) {
    fprintf(stderr,
            "corral-http: a client opened by task '%s' was still open when "
            "the task ended; closing it\n",
            reg->name);
    corral_http_client *c = reg->clients;
    live_find(c, 1);
    client_free(c);
  }
  free(reg);
}

static const corral_local_key owner_key = CORRAL_LOCAL_KEY_INIT(owner_ended);

static void owner_register(corral_http_client *c, corral_task *self) {
  owner_reg *reg = corral_local_get(&owner_key);
  if (!reg || reg->task != self) { /* none, or the spawner's (inherited) */
    reg = calloc(1, sizeof *reg);
    if (!reg) return; /* no misuse detection then */
    reg->task = self;
    snprintf(reg->name, sizeof reg->name, "%s", corral_task_name(self));
    if (corral_local_set(&owner_key, reg) != 0) {
      free(reg);
      return;
    }
  }
  c->reg = reg;
  c->reg_next = reg->clients;
  if (reg->clients) reg->clients->reg_prev = c;
  reg->clients = c;
}

static void owner_unregister(corral_http_client *c) {
  owner_reg *reg = c->reg;
  if (!reg) return;
  if (c->reg_prev) c->reg_prev->reg_next = c->reg_next;
  else reg->clients = c->reg_next;
  if (c->reg_next) c->reg_next->reg_prev = c->reg_prev;
  c->reg = NULL;
}

static uv_loop_t *live_find(const corral_http_client *c, int remove) {
  uv_loop_t *loop = NULL;
  pthread_mutex_lock(&live_mu);
  for (size_t i = nlive; i-- > 0;)
    if (live[i] == c) {
      loop = c->loop;
      if (remove) {
        live[i] = live[--nlive];
        if (!nlive) {
          free(live);
          live = NULL;
          live_cap = 0;
        }
      }
      break;
    }
  pthread_mutex_unlock(&live_mu);
  return loop;
}

int corral_http_client_open(corral_http_client **out,
                            const corral_http_client_opts *opts) {
  if (!out) return CORRAL_EINVAL;
  *out = NULL;
  corral_task *self = corral_current();
  uv_loop_t *loop = corral_loop();
  if (!self || !loop) return CORRAL_ENOTASK;
  corral_http_client_opts o = {0};
  if (opts) o = *opts;
  if (o.max_connections < 0 || o.max_host_connections < 0 ||
      o.max_redirects < 0 ||
      (unsigned)o.version > CORRAL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
    return corral_errorf(CORRAL_EINVAL, "corral_http_client_open: bad option");
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK)
    return corral_errorf(CORRAL_ENOMEM, "curl_global_init: %s",
                         curl_easy_strerror(global_rc));
  for (size_t i = 0; o.headers && o.headers[i]; i++) {
    const char *why = bad_header(o.headers[i]);
    if (!why) why = bad_framing(o.headers[i], -1);
    if (why)
      return corral_errorf(CORRAL_EINVAL,
                           "corral_http_client_open: default header line %zu: %s",
                           i, why);
  }
  if (o.user_agent && has_ctl(o.user_agent))
    return corral_errorf(CORRAL_EINVAL,
                         "corral_http_client_open: a control character in the "
                         "user agent (header injection)");
  /* A CA file that cannot be read fails here, not at every request. */
  if (o.ca_file && access(o.ca_file, R_OK) != 0)
    return corral_errorf(CORRAL_EINVAL, "corral_http_client_open: ca_file "
                         "%s: %s", o.ca_file, strerror(errno));
  if (o.proxy && *o.proxy && (strpbrk(o.proxy, " \t") || has_ctl(o.proxy)))
    return corral_errorf(CORRAL_EINVAL,
                         "corral_http_client_open: a space or control "
                         "character in the proxy");
  corral_http_client *c = calloc(1, sizeof *c);
  if (!c) return CORRAL_ENOMEM;
  c->loop = loop;
  c->o = o;
  c->o.headers = NULL;
  char ua[64];
  snprintf(ua, sizeof ua, "corral-http/%s", corral_version_string());
  c->user_agent = strdup(o.user_agent ? o.user_agent : ua);
  c->ca_file = dupstr(o.ca_file);
  int bad = !c->user_agent || (o.ca_file && !c->ca_file);
  for (size_t i = 0; o.headers && o.headers[i]; i++) c->nheaders++;
  if (c->nheaders) {
    c->headers = calloc(c->nheaders, sizeof *c->headers);
    bad |= !c->headers;
    for (size_t i = 0; !bad && i < c->nheaders; i++)
      bad |= !(c->headers[i] = strdup(o.headers[i]));
  }
  /* What curl reads: http_proxy in lower case only (HTTP_PROXY is what a
   * CGI program gets from a request's "Proxy:" header), the others in
   * either case. */
  static const char *const proxy_vars[] = {"http_proxy", "https_proxy",
                                           "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
  c->proxy = dupstr(o.proxy);
  bad |= o.proxy && !c->proxy;
  c->no_proxy_env = 1;
  for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
    if (getenv(proxy_vars[i]) && *getenv(proxy_vars[i])) c->no_proxy_env = 0;
  c->timer = malloc(sizeof *c->timer);
  c->multi = curl_multi_init();
  if (bad || !c->timer || !c->multi) {
    free(c->timer);
    c->timer = NULL;
    client_free(c);
    return CORRAL_ENOMEM;
  }
  uv_timer_init(loop, c->timer);
  c->timer->data = c;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  if (o.max_connections > 0) {
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      o.max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, o.max_connections);
  } else {
    /* Keep as many idle connections as a fan-out of 100 needs. */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 256L);
  }
  if (o.max_host_connections > 0)
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      o.max_host_connections);
  if (live_add(c) != 0) {
    client_free(c);
    return CORRAL_ENOMEM;
  }
  owner_register(c, self);
  *out = c;
  return 0;
}

static void client_free(corral_http_client *c);

void corral_http_client_close(corral_http_client *c) {
  if (!c) return;
  uv_loop_t *loop = live_find(c, 0);
  if (!loop) {
    fprintf(stderr, "corral-http: corral_http_client_close(%p): not an open "
                    "client (closed already?); ignored\n", (void *)c);
    return;
  }
  if (loop != corral_loop()) {
    fprintf(stderr, "corral-http: corral_http_client_close(%p): the client "
                    "belongs to another runtime; ignored\n", (void *)c);
    return;
  }
  live_find(c, 1);
  client_free(c);
}

/* Close an open client, or free one that open could not finish. */
static void client_free(corral_http_client *c) {
  owner_unregister(c);
  /* Cancel what is still in flight (tasks of other owners), and forget
   * transfers whose task has not yet run since they finished. */
  while (c->xfers) {
    xfer *x = c->xfers;
    xfer_detach(x);
    xfer_unlink(x);
    x->c = NULL;
    if (x->parked) {
      x->parked = 0;
      unpark_xfer(x, CORRAL_ECANCELED);
    }
  }
  for (xfer *x = c->deferred; x; x = x->defer_next) x->c = NULL;
  c->deferred = NULL;
  if (c->multi) curl_multi_cleanup(c->multi); /* closes every connection */
  while (c->socks) sock_close(c->socks);
  free(c->fdtab);
  if (c->timer) uv_close((uv_handle_t *)c->timer, on_timer_closed);
  for (size_t i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
  for (size_t i = 0; i < c->nhbufs; i++) free(c->hbufs[i].buf);
  for (size_t i = 0; i < c->nheaders; i++) free(c->headers[i]);
  free(c->headers);
  free(c->user_agent);
  free(c->ca_file);
  free(c->proxy);
  free(c);
}

void corral_http_client_stats_get(const corral_http_client *c,
                                  corral_http_client_stats *out) {
  if (!out) return;
  if (!c || live_find(c, 0) != corral_loop()) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = c->st;
}

/* ---- transfer callbacks ---- */

static int grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  char *p = realloc(*buf, n);
  if (!p) return -1;
  *buf = p;
  *cap = n;
  return 0;
}

static size_t on_write(char *data, size_t one, size_t n, void *arg) {
  xfer *x = arg;
  (void)one; /* always 1 */
  if (x->redirecting) { /* a redirect's body: not the caller's */
    x->skipped += n;
    if (x->skipped > REDIRECT_BODY_MAX) {
      x->cut = 1; /* the connection is closed, the redirect followed */
      return 0;
    }
    return n;
  }
  if (x->req->on_body) {
    if (x->len) { /* the task has not taken the last piece yet */
      x->paused = 1;
      return CURL_WRITEFUNC_PAUSE;
    }
    if (n > x->max - x->streamed) { /* the request's cap, if it set one */
      x->stop_code = CORRAL_HTTP_ETOOBIG;
      return 0;
    }
    x->streamed += n;
    if (grow(&x->body, &x->cap, n + 1) != 0) {
      x->stop_code = CORRAL_ENOMEM;
      return 0;
    }
    memcpy(x->body, data, n);
    x->len = n;
    x->c->st.bytes_in += n;
    xfer_wake(x);
    return n;
  }
  if (x->len + n > x->max) {
    x->stop_code = CORRAL_HTTP_ETOOBIG;
    return 0;
  }
  if (!x->body) { /* first piece: size the buffer once if the length is known */
    curl_off_t cl = -1;
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (cl > 0 && (size_t)cl > x->max && !x->c->o.decompress) {
      x->stop_code = CORRAL_HTTP_ETOOBIG;
      return 0;
    }
    if (cl > 0 && grow(&x->body, &x->cap, (size_t)cl + 1) != 0) {
      x->stop_code = CORRAL_ENOMEM;
      return 0;
    }
  }
  if (grow(&x->body, &x->cap, x->len + n + 1) != 0) {
    x->stop_code = CORRAL_ENOMEM;
    return 0;
  }
  memcpy(x->body + x->len, data, n);
  x->len += n;
  x->c->st.bytes_in += n;
  return n;
}

static size_t on_header(char *data, size_t one, size_t n, void *arg) {
  xfer *x = arg;
  (void)one;
  /* Counted over every response of the transfer: endless "100 Continue"
   * responses are refused like one huge header block. */
  x->htotal += n;
  if (x->htotal > HEADERS_MAX) {
    x->stop_code = CORRAL_HTTP_ETOOBIG;
    x->stop_headers = 1;
    return 0;
  }
  if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* a new response begins */
    x->hlen = 0;
    x->hcount = 0;
    x->clen = -1;
    if (x->follow) {
      const char *sp = memchr(data, ' ', n);
      x->status_now = sp ? atoi(sp + 1) : 0;
      x->redirecting = 0;
    }
    return n;
  }
  if (x->follow && n > 9 && (data[0] == 'L' || data[0] == 'l') &&
      strncasecmp(data, "Location:", 9) == 0) {
    int st = x->status_now;
    if (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) {
      const char *v = data + 9, *e = data + n;
      while (v < e && (*v == ' ' || *v == '\t')) v++;
      while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
      free(x->location);
      x->location = strndup(v, (size_t)(e - v));
      if (!x->location) {
        x->stop_code = CORRAL_ENOMEM;
        return 0;
      }
      x->redirecting = 1;
    }
  }
  if ((data[0] == 'C' || data[0] == 'c') && n > 15 &&
      strncasecmp(data, "Content-Length:", 15) == 0) {
    /* RFC 9112 6.3: a length that is not digits, or two different ones,
     * make the framing invalid (a response splitting attempt); curl would
     * read "-1" as "until the close" and take the last of two. */
    const char *v = data + 15, *e = data + n;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    long long len = 0;
    int ok = v < e && e - v <= 18;
    for (const char *p = v; ok && p < e; p++) {
      ok = *p >= '0' && *p <= '9';
      len = len * 10 + (*p - '0');
    }
    if (!ok || (x->clen >= 0 && len != x->clen)) {
      x->stop_code = CORRAL_HTTP_EPROTO;
      x->bad_length = !ok;
      return 0;
    }
    x->clen = len;
  }
  if ((data[0] == ' ' || data[0] == '\t') && x->hcount) {
    /* obs-fold: a line that continues the previous field's value; RFC 9112
     * 5.2 has it read as one space (curl 7 hands it over as a line). */
    size_t a = 0, b = n;
    while (a < b && (data[a] == ' ' || data[a] == '\t')) a++;
    while (b > a && (data[b - 1] == '\r' || data[b - 1] == '\n' ||
                     data[b - 1] == ' ' || data[b - 1] == '\t'))
      b--;
    if (a == b) return n;
    if (grow(&x->hbuf, &x->hcap, x->hlen + (b - a) + 4) != 0) {
      x->stop_code = CORRAL_ENOMEM;
      return 0;
    }
    size_t end = x->hlen; /* before the previous line's CRLF */
    while (end && (x->hbuf[end - 1] == '\r' || x->hbuf[end - 1] == '\n')) end--;
    x->hbuf[end++] = ' ';
    memcpy(x->hbuf + end, data + a, b - a);
    end += b - a;
    memcpy(x->hbuf + end, "\r\n", 3);
    x->hlen = end + 2;
    return n;
  }
  /* Keep "Name: value" lines; skip the blank line and junk. */
  const char *colon = memchr(data, ':', n);
  if (!colon || colon == data) return n;
  if (x->hlen + n > HEADERS_MAX) {
    x->stop_code = CORRAL_HTTP_ETOOBIG;
    x->stop_headers = 1;
    return 0;
  }
  if (grow(&x->hbuf, &x->hcap, x->hlen + n + 1) != 0) {
    x->stop_code = CORRAL_ENOMEM;
    return 0;
  }
  memcpy(x->hbuf + x->hlen, data, n);
  x->hlen += n;
  x->hbuf[x->hlen] = 0;
  x->hcount++;
  return n;
}

/* ---- requests ---- */

static corral_abort_result xfer_abort(corral_task *t, void *arg) {
  (void)t;
  xfer *x = arg;
  if (!x->c) return CORRAL_ABORT_SUCCEEDED; /* client closed meanwhile */
  if (x->c->in_curl) { /* never remove a handle under curl's feet */
    if (!x->abort_pending) {
      x->abort_pending = 1;
      x->defer_next = x->c->deferred;
      x->c->deferred = x;
    }
    return CORRAL_ABORT_FAILED;
  }
  x->parked = 0;
  xfer_detach(x);
  return CORRAL_ABORT_SUCCEEDED;
}

/* Same header name (up to ':'), case-insensitive. */
static int same_name(const char *a, const char *b) {
  const char *ca = strchr(a, ':'), *cb = strchr(b, ':');
  size_t la = ca ? (size_t)(ca - a) : strlen(a);
  size_t lb = cb ? (size_t)(cb - b) : strlen(b);
  return la == lb && strncasecmp(a, b, la) == 0;
}

/* Not sent to another origin after a redirect (curl since 7.83, Go). */
static int is_cred(const char *h) {
  return same_name(h, "Authorization:") || same_name(h, "Cookie:");
}

static int build_headers(corral_http_client *c, const corral_http_request *r,
                         int strip_creds, struct curl_slist **out) {
  struct curl_slist *l = NULL, *n;
  for (size_t i = 0; i < c->nheaders; i++) {
    int overridden = strip_creds && is_cred(c->headers[i]);
    for (size_t j = 0; r->headers && r->headers[j] && !overridden; j++)
      overridden = same_name(c->headers[i], r->headers[j]);
    if (overridden) continue;
    if (!(n = curl_slist_append(l, c->headers[i]))) goto oom;
    l = n;
  }
  for (size_t j = 0; r->headers && r->headers[j]; j++) {
    if (strip_creds && is_cred(r->headers[j])) continue;
    if (!(n = curl_slist_append(l, r->headers[j]))) goto oom;
    l = n;
  }
  if (r->body) { /* no 100-continue round trip for a body we already hold */
    if (!(n = curl_slist_append(l, "Expect:"))) goto oom;
    l = n;
    /* No Content-Type unless the caller names one (curl would call any
     * body a form, application/x-www-form-urlencoded). */
    int typed = 0;
    for (size_t i = 0; i < c->nheaders && !typed; i++)
      typed = same_name(c->headers[i], "Content-Type:");
    for (size_t j = 0; r->headers && r->headers[j] && !typed; j++)
      typed = same_name(r->headers[j], "Content-Type:");
    if (!typed) {
      if (!(n = curl_slist_append(l, "Content-Type:"))) goto oom;
      l = n;
    }
  }
  *out = l;
  return 0;
oom:
  curl_slist_free_all(l);
  return CORRAL_ENOMEM;
}

/* A new easy handle with the client's options: they stay set while the
 * handle waits in the client's pool (curl_easy_reset, and setting them all
 * again, cost about as much as curl's own work on a small response). */
static CURL *easy_new(corral_http_client *c) {
  const corral_http_client_opts *o = &c->o;
  CURL *e = curl_easy_init();
  if (!e) return NULL;
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
                   (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* curl's receive buffer: 8 KiB instead of its 16 KiB (it is resident in
   * every pooled handle; bodies arrive in pieces of at most this size). */
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 8192L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
  if (curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent) != CURLE_OK) {
    curl_easy_cleanup(e);
    return NULL;
  }
  /* No proxy in the environment when the client opened: say so, and curl
   * does not read six environment variables for every request. */
  if (c->proxy || c->no_proxy_env)
    if (curl_easy_setopt(e, CURLOPT_PROXY, c->proxy ? c->proxy : "") != CURLE_OK) {
      curl_easy_cleanup(e);
      return NULL;
    }
  /* Decoding asked for: every coding libcurl was built with. */
  if (o->decompress) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  /* corral's time rule: CORRAL_FOREVER none, 0 (not set) 30 s, below 0
   * already expired. */
  int64_t ct = o->connect_timeout_ns;
  long ct_ms = ct == 0                ? 30000L
               : ct == CORRAL_FOREVER ? (long)INT32_MAX
               : ct < 0               ? 1L
               : ct / 1000000 >= INT32_MAX ? (long)INT32_MAX
                                           : (long)((ct + 999999) / 1000000);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ct_ms);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
  if (c->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) != CURLE_OK) {
    curl_easy_cleanup(e);
    return NULL;
  }
  static const long versions[] = {
      CURL_HTTP_VERSION_NONE, CURL_HTTP_VERSION_1_1, CURL_HTTP_VERSION_2_0,
      CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE};
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, versions[o->version]);
  if (o->verbose) curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  return e;
}

/* What changes from one request to the next; every such option is set
 * each time, since the handle keeps the previous request's. */
static int setup(xfer *x, const char *method) {
  corral_http_client *c = x->c;
  const corral_http_request *r = x->req;
  CURL *e = x->easy;
  curl_slist_free_all(x->hdrs);
  x->hdrs = NULL;
  if (build_headers(c, r, x->strip_creds, &x->hdrs) != 0) return CORRAL_ENOMEM;
  CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, r->url);
  if (rc != CURLE_OK) return rc == CURLE_OUT_OF_MEMORY ? CORRAL_ENOMEM : CORRAL_EINVAL;
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 0L);
  /* Wait for a connection that may multiplex rather than open another one:
   * only where the answer comes early (TLS: ALPN at the handshake; prior
   * knowledge). With plain HTTP/1.1 it would hold every request to a host
   * until the first response has arrived. */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT,
                   c->o.version == CORRAL_HTTP_VERSION_2_PRIOR_KNOWLEDGE ||
                           strncasecmp(r->url, "https:", 6) == 0
                       ? 1L
                       : 0L);
  /* curl picks GET, HEAD or POST from the options below; any other method
   * (or a GET with a body) is sent as a custom request line over them. */
  int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0,
      post = strcmp(method, "POST") == 0;
  /* RFC 9110 8.6: Content-Length: 0 for an empty POST, PUT or PATCH. */
  int with_body = r->body || post || strcmp(method, "PUT") == 0 ||
                  strcmp(method, "PATCH") == 0;
  if (head) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (with_body) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                   post || head || (get && !with_body) ? NULL : method);
  /* Redirects are followed here, not by curl: curl sends a custom method
   * unchanged after every redirect (without its body after a 301, 302 or
   * 303), and drains a redirect's body without end. */
  x->follow = c->o.max_redirects > 0;
  return 0;
}

/* curl's result -> the closest corral / errno-style code. */
static int map_result(xfer *x) {
  long oserr = 0;
  curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
  switch (x->result) {
  case CURLE_OK: return 0;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return CORRAL_HTTP_ERESOLVE;
  case CURLE_COULDNT_CONNECT:
    return oserr > 0 && oserr != ECONNREFUSED ? (int)-oserr
                                              : CORRAL_ECONNREFUSED;
  case CURLE_OPERATION_TIMEDOUT: return CORRAL_ETIMEDOUT;
  case CURLE_RECV_ERROR:
    /* curl reports a broken chunked encoding as a receive error ("Illegal
     * or missing hexadecimal sequence in chunked-encoding"): the server's
     * fault, not the connection's. */
    if (strstr(x->errbuf, "chunk")) return CORRAL_HTTP_EPROTO;
    return CORRAL_ECONNRESET;
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING: return CORRAL_ECONNRESET;
  case CURLE_WRITE_ERROR:
  case CURLE_ABORTED_BY_CALLBACK:
    return x->stop_code ? x->stop_code : CORRAL_EIO;
  case CURLE_FILESIZE_EXCEEDED: return CORRAL_HTTP_ETOOBIG;
  case CURLE_OUT_OF_MEMORY: {
    /* After the status line it is curl refusing one header line over its
     * 100 KiB limit (CURL_MAX_HTTP_HEADER), not a failed allocation. */
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status) {
      x->stop_code = CORRAL_HTTP_ETOOBIG;
      x->stop_headers = 2;
      return CORRAL_HTTP_ETOOBIG;
    }
    return CORRAL_ENOMEM;
  }
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    /* The caller's URL was checked before: after a response these come
     * from the server (a redirect to another scheme or a bad Location; a
     * reply that is not HTTP, which curl calls HTTP/0.9). */
    {
      char *ip = NULL;
      curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip);
      return ip && *ip ? CORRAL_HTTP_EPROTO : CORRAL_EINVAL;
    }
  case CURLE_BAD_FUNCTION_ARGUMENT: return CORRAL_EINVAL;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ISSUER_ERROR: return CORRAL_HTTP_ETLS;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING: return CORRAL_HTTP_EPROTO;
  default: return CORRAL_EIO;
  }
}

/* Split the header block into name/value pairs, in one allocation. */
static int take_headers(xfer *x, corral_http_response *resp) {
  if (!x->hcount) return 0;
  size_t arr = x->hcount * sizeof(corral_http_header);
  char *mem = malloc(arr + x->hlen + 1);
  if (!mem) return CORRAL_ENOMEM;
  corral_http_header *h = (corral_http_header *)mem;
  char *text = mem + arr;
  memcpy(text, x->hbuf, x->hlen + 1);
  size_t k = 0;
  for (char *line = text; *line && k < x->hcount;) {
    char *eol = strchr(line, '\n');
    char *next = eol ? eol + 1 : line + strlen(line);
    if (eol) *eol = 0;
    char *end = line + strlen(line);
    while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
      *--end = 0;
    char *colon = strchr(line, ':');
    if (colon) {
      *colon = 0;
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      h[k].name = line;
      h[k].value = v;
      k++;
    }
    line = next;
  }
  resp->headers = h;
  resp->header_count = k;
  return 0;
}

static void fill_response(xfer *x, corral_http_response *resp) {
  long status = 0, ver = 0, redirects = 0, connects = 0;
  curl_off_t total = 0;
  char *url = NULL;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &ver);
  curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
  curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total);
  curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
  if (x->c) x->c->st.connections += (uint64_t)connects;
  if (!resp) return;
  resp->status = (int)status;
  resp->version = ver == CURL_HTTP_VERSION_1_0   ? 10
                  : ver == CURL_HTTP_VERSION_1_1 ? 11
                  : ver == CURL_HTTP_VERSION_2_0 ? 20
                  : ver == CURL_HTTP_VERSION_3   ? 30
                                                 : 0;
  (void)redirects;
  resp->redirects = x->hops;
  resp->reused = status && connects == 0;
  resp->total_ns = (int64_t)total * 1000;
  resp->url = dupstr(url);
  take_headers(x, resp);
  if (!x->req->on_body && x->body) {
    x->body[x->len] = 0;
    resp->body = x->body;
    resp->body_len = x->len;
    x->body = NULL;
  }
}

static void release_easy(xfer *x) {
  corral_http_client *c = x->c;
  if (!x->easy) return;
  if (c && c->npool < EASY_POOL_MAX) {
    /* Nothing of this request may outlive it: the pointers into the
     * caller's storage and this frame are cleared. */
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, NULL);
    if (x->req->body || x->req->method) curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
    c->pool[c->npool++] = x->easy;
  } else {
    curl_easy_cleanup(x->easy);
  }
  x->easy = NULL;
}

/* Worth sending again: an idempotent request (RFC 9110 9.2.2) that broke
 * on a reused connection before any byte of a response arrived. */
static int should_retry(xfer *x, const char *method) {
  if (x->result != CURLE_RECV_ERROR && x->result != CURLE_SEND_ERROR &&
      x->result != CURLE_GOT_NOTHING)
    return 0;
  long connects = 1, status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (connects != 0 || status != 0 || x->hcount || x->len || x->streamed)
    return 0;
  static const char *const idempotent[] = {"GET", "HEAD", "OPTIONS", "TRACE",
                                           "PUT", "DELETE"};
  for (size_t i = 0; i < sizeof idempotent / sizeof idempotent[0]; i++)
    if (strcmp(method, idempotent[i]) == 0) return 1;
  return 0;
}

/* The absolute URL a Location names, resolved against the URL of the
 * response (RFC 3986 5), in a malloc'd string; NULL if it is not a URL. */
static char *resolve_location(xfer *x) {
  char *base = NULL, *out = NULL;
  curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &base);
  CURLU *u = curl_url();
  if (u && base && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, x->location, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    char *full = NULL;
    if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK) out = strdup(full);
    curl_free(full);
  }
  curl_url_cleanup(u);
  return out;
}

/* Scheme, host and port of two URLs are the same (RFC 6454 origin). */
static int same_origin(const char *a, const char *b) {
  CURLU *ua = curl_url(), *ub = curl_url();
  int same = 0;
  if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
      curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK) {
    same = 1;
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST,
                                      CURLUPART_PORT};
    for (int i = 0; i < 3 && same; i++) {
      char *pa = NULL, *pb = NULL;
      unsigned fl = parts[i] == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0;
      curl_url_get(ua, parts[i], &pa, fl);
      curl_url_get(ub, parts[i], &pb, fl);
      same = pa && pb && strcasecmp(pa, pb) == 0;
      curl_free(pa);
      curl_free(pb);
    }
  }
  curl_url_cleanup(ua);
  curl_url_cleanup(ub);
  return same;
}

/* A redirect curl would not follow: to another scheme, or to a Location
 * that is not a URL. */
static _Thread_local char redirect_why[CURL_ERROR_SIZE + 80];
static int redirect_refused(xfer *x, const corral_http_response *resp) {
  long status = resp ? resp->status : 0;
  if (!resp) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status < 300 || status > 399 ||
      (x->result != CURLE_UNSUPPORTED_PROTOCOL && x->result != CURLE_URL_MALFORMAT))
    return 0;
  snprintf(redirect_why, sizeof redirect_why,
           "redirect refused (%ld to a scheme other than http or https, or "
           "not a URL): %s",
           status, x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
  return 1;
}

int corral_http_fetch(corral_http_client *c, const corral_http_request *req,
                        corral_http_response *resp) {
  if (resp) memset(resp, 0, sizeof *resp);
  uv_loop_t *loop = corral_loop();
  if (!corral_current() || !loop) return CORRAL_ENOTASK;
  if (!c || !req || !req->url)
    return corral_errorf(CORRAL_EINVAL, "corral_http_fetch: %s is NULL",
                         !c ? "client" : !req ? "request" : "url");
  uv_loop_t *owner = live_find(c, 0);
  if (!owner)
    return corral_errorf(CORRAL_EINVAL, "corral_http_fetch: not an open "
                                        "client (closed already?)");
  if (owner != loop)
    return corral_errorf(CORRAL_EFOREIGN,
                         "corral_http_fetch: client of another runtime");
  int rc = corral_checkpoint_cancel();
  if (rc) return rc;
  const char *method = req->method ? req->method : req->body ? "POST" : "GET";
  char shown[200];
  if (!valid_token(method))
    return corral_errorf(CORRAL_EINVAL,
                         "corral_http_fetch: bad method \"%s\" (not an RFC "
                         "9110 token)",
                         show_url(shown, sizeof shown, method));
  for (size_t i = 0; req->headers && req->headers[i]; i++) {
    const char *why = bad_header(req->headers[i]);
    if (!why) why = bad_framing(req->headers[i], (long long)req->body_len);
    if (why)
      return corral_errorf(CORRAL_EINVAL,
                           "corral_http_fetch: header line %zu: %s", i, why);
  }
  if (req->body_len && !req->body)
    return corral_errorf(CORRAL_EINVAL, "corral_http_fetch: body_len %zu "
                         "without a body", req->body_len);
  if (req->body_len && strcmp(method, "HEAD") == 0)
    return corral_errorf(CORRAL_EINVAL, "corral_http_fetch: a HEAD request "
                         "with a body");
  const char *why = bad_scheme(req->url);
  if (why)
    return corral_errorf(CORRAL_EINVAL, "%s %s: %s", method,
                         show_url(shown, sizeof shown, req->url), why);
  corral_http_request hop; /* the request a redirect followed here makes */
  char *hop_url = NULL;
  xfer x;
  memset(&x, 0, sizeof x);
  x.clen = -1;
  x.c = c;
  x.req = req;
  x.task = corral_current();
  x.max = req->on_body ? (req->max_body ? req->max_body : SIZE_MAX)
          : req->max_body ? req->max_body
          : c->o.max_body ? c->o.max_body
                          : 64 * MiB;
  if (strchr(req->url, '@'))
    snprintf(x.what, sizeof x.what, "http %s %s", method,
             show_url(shown, sizeof shown, req->url));
  else
    snprintf(x.what, sizeof x.what, "http %s %s", method, req->url);
  x.easy = c->npool ? c->pool[--c->npool] : easy_new(c);
  if (!x.easy) return CORRAL_ENOMEM;
  if (c->nhbufs) {
    c->nhbufs--;
    x.hbuf = c->hbufs[c->nhbufs].buf;
    x.hcap = c->hbufs[c->nhbufs].cap;
  }
  rc = setup(&x, method);
  if (rc) {
    rc = corral_errorf(rc, "%s %s: %s", method,
                       show_url(shown, sizeof shown, req->url),
                       rc == CORRAL_EINVAL ? "bad URL" : "out of memory");
    goto out;
  }
  int retried = 0;
again:;
  c->in_curl++;
  CURLMcode mrc = curl_multi_add_handle(c->multi, x.easy);
  c->in_curl--;
  if (mrc != CURLM_OK) {
    rc = corral_errorf(mrc == CURLM_OUT_OF_MEMORY ? CORRAL_ENOMEM : CORRAL_EIO,
                       "%s %s: %s", method,
                       show_url(shown, sizeof shown, req->url),
                       curl_multi_strerror(mrc));
    goto out;
  }
  x.added = 1;
  x.next = c->xfers;
  if (c->xfers) c->xfers->prev = &x;
  c->xfers = &x;
  c->st.in_flight++;
  after_curl(c);

  for (;;) {
    if (req->on_body && x.len) { /* hand one piece to the user, in the task */
      int urc = req->on_body(req->on_body_arg, x.body, x.len);
      x.len = 0;
      if (urc) {
        rc = urc;
        break;
      }
      if (!x.c) {
        rc = CORRAL_ECANCELED;
        break;
      }
      if (x.paused && x.added) {
        x.paused = 0;
        c->in_curl++;
        CURLcode prc = curl_easy_pause(x.easy, CURLPAUSE_CONT); /* may
                                                   deliver a piece */
        c->in_curl--;
        if (prc != CURLE_OK && !x.done) {
          /* A piece curl held back was refused (the cap): curl returns
           * the error here and never reports the transfer done. */
          x.result = prc;
          x.done = 1;
          xfer_detach(&x);
        }
        after_curl(c);
      }
      continue;
    }
    if (x.done || !x.c) break;
    x.parked = 1;
    rc = park_xfer(&x);
    x.parked = 0;
    if (rc) break;
  }
  if (x.c && x.added) xfer_detach(&x); /* cancelled, or the callback stopped */
  if (rc == 0 && x.c && x.follow && x.redirecting && x.location &&
      (x.result == CURLE_OK || (x.cut && x.result == CURLE_WRITE_ERROR))) {
    /* A redirect, followed with curl's rules: a POST answered 301, 302 or
     * 303 goes on as a GET without its body; 303 turns any method but HEAD
     * into a GET (RFC 9110 15.4.4); otherwise method and body are kept. */
    long status = x.status_now;
    char *next = resolve_location(&x);
    const char *bad = next ? bad_scheme(next) : "not a URL";
    if (x.hops + 1 > c->o.max_redirects) {
      rc = corral_errorf(CORRAL_HTTP_EPROTO, "%s %s: Maximum (%ld) redirects followed",
                         method, show_url(shown, sizeof shown, req->url), c->o.max_redirects);
    } else if (bad) {
      rc = corral_errorf(CORRAL_HTTP_EPROTO,
                         "%s %s: redirect refused (%ld to %s): %s", method,
                         show_url(shown, sizeof shown, req->url), status,
                         show_url(redirect_why, 200, next ? next : x.location), bad);
    } else {
      if (!x.hops) hop = *req;
      x.hops++;
      free(hop_url);
      hop.url = hop_url = next;
      next = NULL;
      int post = strcmp(method, "POST") == 0, head = strcmp(method, "HEAD") == 0;
      if ((status == 303 && !head) || (post && (status == 301 || status == 302))) {
        hop.method = "GET";
        hop.body = NULL;
        hop.body_len = 0;
        method = "GET";
      }
      if (!x.strip_creds && !same_origin(req->url, hop_url)) x.strip_creds = 1;
      x.req = &hop;
      xfer_unlink(&x);
      x.done = 0;
      x.result = CURLE_OK;
      x.hlen = x.hcount = 0;
      x.len = 0;
      x.errbuf[0] = 0;
      x.redirecting = x.cut = 0;
      x.skipped = 0;
      x.stop_code = 0;
      rc = setup(&x, method);
      if (rc == 0) goto again;
      rc = corral_errorf(rc, "%s %s: redirect: %s", method,
                         show_url(shown, sizeof shown, req->url),
                         rc == CORRAL_EINVAL ? "bad URL" : "out of memory");
    }
    free(next);
  }
  if (rc == 0 && x.c && !retried && should_retry(&x, method)) {
    /* A kept-alive connection the server closed as the request went out
     * (its idle timeout): nothing of a response arrived, so the request is
     * sent once more, on a new connection (RFC 9112 9.3.1). */
    retried = 1;
    xfer_unlink(&x);
    x.done = 0;
    x.result = CURLE_OK;
    x.hlen = x.hcount = x.htotal = 0;
    x.redirecting = x.cut = 0;
    x.skipped = 0;
    x.len = 0;
    x.errbuf[0] = 0;
    curl_easy_setopt(x.easy, CURLOPT_FRESH_CONNECT, 1L);
    goto again;
  }
  if (x.c) {
    xfer_unlink(&x);
    c->st.requests++;
  }
  if (rc == 0 && !x.c) rc = CORRAL_ECANCELED; /* the client was closed */
  /* What arrived, also when the transfer failed or was stopped. */
  fill_response(&x, resp);
  if (rc == 0) {
    rc = map_result(&x);
    if (rc)
      corral_errorf(rc, "%s %s: %s", method,
                    show_url(shown, sizeof shown, req->url),
                    x.stop_code == CORRAL_HTTP_ETOOBIG
                        ? (x.stop_headers == 2 ? "a response header line "
                                                 "longer than 100 KiB"
                           : x.stop_headers ? "response headers larger than "
                                            "256 KiB"
                                          : "response body larger than the cap")
                    : x.stop_code == CORRAL_HTTP_EPROTO
                        ? (x.bad_length ? "a Content-Length that is not a "
                                          "number (RFC 9112 6.3)"
                                        : "two different Content-Length "
                                          "headers (RFC 9112 6.3)")
                    : x.stop_code == CORRAL_ENOMEM ? "out of memory"
                    : redirect_refused(&x, resp) ? redirect_why
                    : x.errbuf[0] ? x.errbuf
                                  : curl_easy_strerror(x.result));
  } else if (rc == CORRAL_ECANCELED) {
    corral_errorf(rc, "%s %s: cancelled", method,
                  show_url(shown, sizeof shown, req->url));
  }
  if (rc && resp) { /* an error keeps the numbers, owns nothing: a caller
                       that returns at once leaks nothing */
    free(resp->headers);
    free(resp->body);
    free(resp->url);
    resp->headers = NULL;
    resp->header_count = 0;
    resp->body = NULL;
    resp->body_len = 0;
    resp->url = NULL;
  }
out:
  free(hop_url);
  free(x.location);
  if (x.c) release_easy(&x);
  else if (x.easy) curl_easy_cleanup(x.easy);
  curl_slist_free_all(x.hdrs);
  free(x.body);
  if (x.c && x.hbuf && x.c->nhbufs < EASY_POOL_MAX) {
    x.c->hbufs[x.c->nhbufs].buf = x.hbuf;
    x.c->hbufs[x.c->nhbufs++].cap = x.hcap;
  } else {
    free(x.hbuf);
  }
  return rc;
}

int corral_http_body_to_stream(void *stream, const void *data, size_t len) {
  return corral_stream_write(stream, data, len, NULL);
}

int corral_http_get(corral_http_client *c, const char *url,
                    corral_http_response *resp) {
  corral_http_request r = {0};
  r.url = url;
  return corral_http_fetch(c, &r, resp);
}

const char *corral_http_response_header(const corral_http_response *resp,
                                        const char *name) {
  if (!resp || !name) return NULL;
  for (size_t i = 0; i < resp->header_count; i++)
    if (strcasecmp(resp->headers[i].name, name) == 0)
      return resp->headers[i].value;
  return NULL;
}

void corral_http_response_free(corral_http_response *resp) {
  if (!resp) return;
  free(resp->headers);
  free(resp->body);
  free(resp->url);
  memset(resp, 0, sizeof *resp);
}
