/* Streamed job inputs (input.h). */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

typedef struct {
  int fd, own, regular, eof;
  char *buf;
  size_t start, end, cap;
} reader;

typedef struct {
  char **v; /* records (already split? no: raw records) */
  size_t n;
} recs;

struct cli_input {
  cli_input_opts o;
  /* source 0 */
  int first_is_list;
  size_t list_pos;
  reader rd;
  /* sources 1..n-1, in memory */
  recs *rest;
  size_t nrest;
  size_t *odo;     /* odometer over rest */
  char *cur0;      /* current record of source 0 */
  int have0, done;
};

char *cli_unescape(const char *s) {
  char *o = malloc(strlen(s) + 1), *q = o;
  if (!o) return NULL;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      switch (*s) {
      case 't': *q++ = '\t'; break;
      case 'n': *q++ = '\n'; break;
      case 'r': *q++ = '\r'; break;
      case '0': *q++ = '\0'; break;
      default: *q++ = *s; break;
      }
    } else {
      *q++ = *s;
    }
  }
  *q = 0;
  return o;
}

static int reader_open(reader *r, const char *path, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  if (!strcmp(path, "-")) {
    r->fd = 0;
  } else {
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
      int e = errno;
      snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
      return -e;
    }
    r->own = 1;
  }
  struct stat st;
  r->regular = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
  r->cap = CHUNK;
  r->buf = malloc(r->cap);
  if (!r->buf) {
    if (r->own) close(r->fd);
    return -ENOMEM;
  }
  return 0;
}

static void reader_close(reader *r) {
  if (r->own && r->fd >= 0) close(r->fd);
  free(r->buf);
  memset(r, 0, sizeof *r);
  r->fd = -1;
}

/* Next record as a new string; 1, 0 at end, -errno. */
static int reader_next(cli_input *in, reader *r, char **out) {
  for (;;) {
    char *p = r->end > r->start
                  ? memchr(r->buf + r->start, in->o.sep, r->end - r->start)
                  : NULL;
    if (p || (r->eof && r->end > r->start)) {
      size_t len = p ? (size_t)(p - (r->buf + r->start)) : r->end - r->start;
      char *s = malloc(len + 1);
      if (!s) return -ENOMEM;
      memcpy(s, r->buf + r->start, len);
      s[len] = 0;
      r->start += len + (p ? 1 : 0);
      *out = s;
      return 1;
    }
    if (r->eof) return 0;
    if (r->start > 0) {
      memmove(r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
    if (r->end == r->cap) {
      if (r->cap > ((size_t)1 << 30)) return -E2BIG; /* a 1 GiB record */
      char *nb = realloc(r->buf, r->cap * 2);
      if (!nb) return -ENOMEM;
      r->buf = nb;
      r->cap *= 2;
    }
    if (!r->regular && in->o.wait_readable) {
      int rc = in->o.wait_readable(r->fd, in->o.wait_ctx);
      if (rc < 0) return rc;
    }
    ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -errno;
    }
    if (got == 0) r->eof = 1;
    r->end += (size_t)got;
  }
}

static int load_all(cli_input *in, const cli_source *s, recs *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  if (s->kind == CLI_SRC_LIST) {
    out->v = calloc(s->n ? s->n : 1, sizeof *out->v);
    if (!out->v) return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
      if (!(out->v[i] = strdup(s->values[i]))) return -ENOMEM;
      out->n++;
    }
    return 0;
  }
  reader r;
  int rc = reader_open(&r, s->path, err, errlen);
  if (rc) return rc;
  size_t cap = 0;
  char *rec;
  while ((rc = reader_next(in, &r, &rec)) == 1) {
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nv = realloc(out->v, cap * sizeof *nv);
      if (!nv) {
        free(rec);
        rc = -ENOMEM;
        break;
      }
      out->v = nv;
    }
    out->v[out->n++] = rec;
  }
  reader_close(&r);
  if (rc < 0) snprintf(err, errlen, "cannot read %s: %s", s->path, strerror(-rc));
  return rc < 0 ? rc : 0;
}

int cli_input_open(const cli_input_opts *o, cli_input **out, char *err,
                   size_t errlen) {
  *out = NULL;
  cli_input *in = calloc(1, sizeof *in);
  if (!in) return -ENOMEM;
  in->o = *o;
  in->rd.fd = -1;
  static const cli_source stdin_src = {.kind = CLI_SRC_FILE, .path = "-"};
  if (o->nsrc == 0) {
    in->o.src = &stdin_src;
    in->o.nsrc = 1;
  }
  int rc = 0;
  const cli_source *s0 = &in->o.src[0];
  if (s0->kind == CLI_SRC_LIST) in->first_is_list = 1;
  else rc = reader_open(&in->rd, s0->path, err, errlen);
  if (!rc && in->o.nsrc > 1) {
    in->nrest = in->o.nsrc - 1;
    in->rest = calloc(in->nrest, sizeof *in->rest);
    in->odo = calloc(in->nrest, sizeof *in->odo);
    if (!in->rest || !in->odo) rc = -ENOMEM;
    for (size_t i = 0; !rc && i < in->nrest; i++) {
      rc = load_all(in, &in->o.src[i + 1], &in->rest[i], err, errlen);
      if (!rc && in->rest[i].n == 0) in->done = 1; /* empty product */
    }
  }
  if (rc) {
    cli_input_close(in);
    return rc;
  }
  *out = in;
  return 0;
}

int cli_input_endless(const cli_input *in) {
  return !in->first_is_list && !in->rd.regular;
}

static int add_cols(cli_input *in, const char *rec, cli_args *a, size_t *cap) {
  const char *cs = in->o.colsep;
  size_t cl = cs ? strlen(cs) : 0;
  const char *p = rec;
  for (;;) {
    const char *q = cl ? strstr(p, cs) : NULL;
    size_t len = q ? (size_t)(q - p) : strlen(p);
    if (a->n == *cap) {
      *cap = *cap ? *cap * 2 : 4;
      char **nv = realloc(a->v, *cap * sizeof *nv);
      if (!nv) return -ENOMEM;
      a->v = nv;
    }
    char *v = malloc(len + 1);
    if (!v) return -ENOMEM;
    memcpy(v, p, len);
    v[len] = 0;
    a->v[a->n++] = v;
    if (!q) return 0;
    p = q + cl;
  }
}

static int next0(cli_input *in) {
  free(in->cur0);
  in->cur0 = NULL;
  in->have0 = 0;
  if (in->first_is_list) {
    const cli_source *s = &in->o.src[0];
    if (in->list_pos >= s->n) return 0;
    if (!(in->cur0 = strdup(s->values[in->list_pos++]))) return -ENOMEM;
    in->have0 = 1;
    return 1;
  }
  int rc = reader_next(in, &in->rd, &in->cur0);
  if (rc == 1) in->have0 = 1;
  return rc;
}

int cli_input_next(cli_input *in, cli_args *a) {
  memset(a, 0, sizeof *a);
  if (in->done) return 0;
  /* Advance the odometer (last source fastest); on wrap take the next
   * record of source 0. */
  int need0 = !in->have0;
  if (in->have0) {
    size_t i = in->nrest;
    while (i > 0) {
      i--;
      if (++in->odo[i] < in->rest[i].n) break;
      in->odo[i] = 0;
      if (i == 0) need0 = 1;
    }
    if (in->nrest == 0) need0 = 1;
  }
  if (need0) {
    int rc = next0(in);
    if (rc <= 0) {
      in->done = 1;
      return rc;
    }
  }
  size_t cap = 0;
  int rc = add_cols(in, in->cur0, a, &cap);
  for (size_t i = 0; !rc && i < in->nrest; i++)
    rc = add_cols(in, in->rest[i].v[in->odo[i]], a, &cap);
  if (rc) {
    cli_args_free(a);
    return rc;
  }
  return 1;
}

void cli_input_close(cli_input *in) {
  if (!in) return;
  if (!in->first_is_list) reader_close(&in->rd);
  for (size_t i = 0; i < in->nrest; i++) {
    if (!in->rest) break;
    for (size_t k = 0; k < in->rest[i].n; k++) free(in->rest[i].v[k]);
    free(in->rest[i].v);
  }
  free(in->rest);
  free(in->odo);
  free(in->cur0);
  free(in);
}
