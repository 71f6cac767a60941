/* Name resolution on libuv's resolver (uv_getaddrinfo on its worker
 * threads), as a blocking task call.
 *
 * The request lives on the heap with a copy of the runtime's allocator:
 * when the waiting task is cancelled, the abort callback tries uv_cancel
 * (a lookup still queued is dropped) and lets the task go at once; the
 * request then belongs to its callback, which frees the result and
 * itself whenever it comes, even after the runtime ended. */
#include "ground/fault.h"
#include "io/io.h"

#include <arpa/inet.h>
#include <stdio.h>

typedef struct dnsreq {
  uv_getaddrinfo_t req;
  corral_allocator al;
  corral_task *task;  /* NULL once the task went away */
  int status;
  struct addrinfo *res;
  corral__wait w;     /* on the heap: compact tasks may wait too */
} dnsreq;

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res) {
  dnsreq *d = r->data;
  if (!d->task) { /* abandoned: nobody wants the answer */
    if (res) uv_freeaddrinfo(res);
    corral__al_free(&d->al, d);
    return;
  }
  d->status = res ? CORRAL__CB("dns_cb", 3008 /* EAI_NONAME */, status) : status;
  if (d->status && res) {
    uv_freeaddrinfo(res); /* the failure injected: no answer */
    res = NULL;
  }
  d->res = res;
  corral__wake(d->task, 0);
}

static corral_abort_result abort_resolve(corral_task *t, void *arg) {
  (void)t;
  dnsreq *d = arg;
  d->task = NULL;
  uv_cancel((uv_req_t *)&d->req); /* the callback comes either way */
  return CORRAL_ABORT_SUCCEEDED;
}

/* libuv's resolver codes as corral codes. */
static int map_status(int st) {
  switch (st) {
  case UV_EAI_NONAME:
  case UV_EAI_NODATA:
  case UV_EAI_ADDRFAMILY: return CORRAL_ENOTFOUND;
  case UV_EAI_AGAIN: return CORRAL_EAGAIN;
  case UV_EAI_MEMORY: return CORRAL_ENOMEM;
  case UV_EAI_CANCELED: return CORRAL_ECANCELED;
  case UV_EAI_BADFLAGS:
  case UV_EAI_BADHINTS:
  case UV_EAI_FAMILY:
  case UV_EAI_SERVICE:
  case UV_EAI_SOCKTYPE:
  case UV_EAI_PROTOCOL: return CORRAL_EINVAL;
  default: return st <= -3000 && st > -3100 ? CORRAL_EIO : st;
  }
}

int corral_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res) {
  if (res) *res = NULL;
  corral_task *self = corral__self();
  if (!self) return CORRAL_ENOTASK;
  if (!res || (!node && !service)) return CORRAL_EINVAL;
  if (corral__checkpoint_scope(self->rt, self))
    return corral__fail(self, CORRAL_ECANCELED);
  corral__rt *rt = self->rt;
  dnsreq *d = corral__calloc(rt, sizeof *d);
  if (!d) return CORRAL_ENOMEM;
  d->al = rt->al;
  d->task = self;
  d->w = (corral__wait){.abort = abort_resolve, .arg = d, .what = "getaddrinfo"};
  d->req.data = d;
  int rc = CORRAL__UV("getaddrinfo", EAGAIN,
                      uv_getaddrinfo(rt->loop, &d->req, on_resolved, node, service, hints));
  if (rc) {
    corral__free(rt, d);
    return corral_errorf(map_status(rc), "resolve '%s': %s", node ? node : "",
                         uv_strerror(rc));
  }
  rc = corral__park(self, CORRAL__W_DNS, &d->w, CORRAL_FOREVER);
  if (rc) return rc; /* aborted: d belongs to its callback now */
  int st = d->status;
  *res = d->res;
  corral__free(rt, d);
  if (st)
    return corral_errorf(map_status(st), "resolve '%s': %s", node ? node : "",
                         uv_strerror(st));
  return 0;
}

void corral_freeaddrinfo(struct addrinfo *res) {
  if (res) uv_freeaddrinfo(res);
}

const char *corral_addr_string(const struct sockaddr *sa, char *buf,
                               size_t size) {
  const void *a = NULL;
  if (sa && sa->sa_family == AF_INET)
    a = &((const struct sockaddr_in *)sa)->sin_addr;
  else if (sa && sa->sa_family == AF_INET6)
    a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (!a || !buf || !inet_ntop(sa->sa_family, a, buf, (socklen_t)size))
    return "?";
  return buf;
}

/* ---- addresses for sockets ---- */

#include "io/net.h"

#include <string.h>

int corral__resolve(const char *host, int port, int socktype, int family,
                    bool passive, struct sockaddr_storage *out, int max) {
  if (port < 0 || port > 65535 || max < 1) return CORRAL_EINVAL;
  if (!passive && (!host || !*host))
    return corral_errorf(CORRAL_EINVAL, "no host name");
  if (host && !*host) host = NULL;
  memset(out, 0, sizeof *out);
  if (host && family != AF_INET6 &&
      uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
    return 1;
  if (host && family != AF_INET &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
    return 1;
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  char svc[8];
  snprintf(svc, sizeof svc, "%d", port);
  int rc = corral_getaddrinfo(host, svc, &hints, &res);
  if (rc) return rc;
  int n = 0;
  for (struct addrinfo *a = res; a && n < max; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        a->ai_addrlen > sizeof *out)
      continue;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, a->ai_addr, a->ai_addrlen);
    bool dup = false;
    for (int i = 0; i < n && !dup; i++)
      dup = memcmp(&out[i], &ss, sizeof ss) == 0;
    if (!dup) out[n++] = ss;
  }
  corral_freeaddrinfo(res);
  if (n == 0)
    return corral_errorf(CORRAL_ENOTFOUND, "'%s' has no usable address",
                         host ? host : "");
  return n;
}
