/* Streamed job inputs (input.h). */
#include "input.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define MAX_RECORD ((size_t)1 << 30) /* a 1 GiB record is refused */

typedef struct {
  int fd, own, regular, eof;
  char *buf;
  size_t start, end, cap;
} reader;

typedef struct {
  char **v; /* raw records */
  size_t n;
} recs;

/* One source: read as a stream (group 0) or held in memory. */
typedef struct {
  const cli_source *s;
  int streamed;
  reader rd;       /* streamed file */
  size_t pos;      /* streamed list */
  recs mem;        /* in memory */
  size_t ncols_hdr; /* --header: its number of columns */
} srcst;

/* Sources read in step (linked). */
typedef struct {
  size_t first, count;
  int wrap;        /* --link: shorter sources start again */
  size_t len;      /* rows (in memory) */
  size_t idx;      /* current row (odometer / group 0 in memory) */
} group;

typedef struct {
  char **v;
  size_t n;
} row;

struct cli_input {
  cli_input_opts o;
  const char *sep;
  size_t seplen;
  srcst *s;
  size_t ns;
  group *g;
  size_t ng;
  int streamed0;   /* group 0 is read as a stream */
  char **cur0;     /* current records of group 0 (one per member) */
  int have0, done;
  /* An empty source beside sources with values gives one empty value, as
   * GNU parallel; when every source is empty there is no job. */
  int known_values; /* a source known at open holds a value */
  int pending;      /* only a streamed source can tell: decided at its first row */
  int first0, last0; /* group 0's first row was read / it is the last one */
  /* columns */
  regex_t re;
  int use_re;
  char *colsep;    /* literal separator */
  /* --header */
  char **names;
  size_t nnames;
  /* rows read ahead (batches) */
  row *q;
  size_t qhead, qlen, qcap;
  int primed, ended, shuffled;
  uint64_t total;
  size_t spread;   /* a short input: rows per job */
  /* --pipe */
  reader prd;
  const char *recend, *recstart;
  size_t relen, rslen;
  int nul_seen;    /* 1: a NUL in a record was replaced, not said yet; 2: said */
  cli_source *own_src; /* the sources with ::: values split at the separator */
  char ***own_vals;    /* per source: its split values (NULL: borrowed) */
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
      case 'a': *q++ = '\a'; break;
      case 'b': *q++ = '\b'; break;
      case 'f': *q++ = '\f'; break;
      case 'v': *q++ = '\v'; break;
      case 'x': /* \xHH, as printf(1) (GNU parallel's -d) */
        if (isxdigit((unsigned char)s[1])) {
          unsigned v = 0;
          for (int k = 0; k < 2 && isxdigit((unsigned char)s[1]); k++, s++)
            v = v * 16 + (unsigned)(isdigit((unsigned char)s[1]) ? s[1] - '0' : (s[1] | 0x20) - 'a' + 10);
          *q++ = (char)v;
        } else {
          *q++ = 'x';
        }
        break;
      default:
        if (*s >= '0' && *s <= '7') { /* \NNN octal, as printf(1); \0 is NUL */
          unsigned v = (unsigned)(*s - '0');
          for (int k = 0; k < 2 && s[1] >= '0' && s[1] <= '7'; k++) v = v * 8 + (unsigned)(*++s - '0');
          *q++ = (char)v;
        } else {
          *q++ = *s;
        }
        break;
      }
    } else {
      *q++ = *s;
    }
  }
  *q = 0;
  return o;
}

/* ------------------------------------------------------------ reading */

static int reader_open(reader *r, const char *path, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  if (!strcmp(path, "-")) {
    r->fd = 0;
  } else {
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
      int e = errno;
      snprintf(err, errlen, "`%s': %s.", path, strerror(e));
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

/* Read more into r (growing the buffer when full). 1 read something, 0 at
 * the end, -errno. */
static int reader_fill(cli_input *in, reader *r) {
  if (r->eof) return 0;
  if (r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->end == r->cap) {
    if (r->cap >= MAX_RECORD) return -E2BIG;
    char *nb = realloc(r->buf, r->cap * 2);
    if (!nb) return -ENOMEM;
    r->buf = nb;
    r->cap *= 2;
  }
  for (;;) {
    if (!r->regular && in->o.wait_readable) {
      int rc = in->o.wait_readable(r->fd, in->o.wait_ctx);
      if (rc < 0) return rc;
    }
    ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -errno;
    }
    if (got == 0) {
      r->eof = 1;
      return 0;
    }
    r->end += (size_t)got;
    return 1;
  }
}

/* Next record as a new string; 1, 0 at end, -errno. */
static int reader_next(cli_input *in, reader *r, char **out) {
  size_t scanned = 0; /* bytes already searched for the separator */
  for (;;) {
    size_t avail = r->end - r->start;
    char *p = NULL;
    if (avail > scanned) {
      size_t from = scanned >= in->seplen ? scanned - (in->seplen - 1) : 0;
      p = in->seplen == 1 ? memchr(r->buf + r->start + from, in->sep[0], avail - from)
                          : memmem(r->buf + r->start + from, avail - from, in->sep, in->seplen);
    }
    if (p || (r->eof && avail > 0)) {
      size_t len = p ? (size_t)(p - (r->buf + r->start)) : avail;
      const char *src = r->buf + r->start;
      /* A NUL inside a record (no -0): an argument cannot hold it, and
       * the C string would end there, losing the rest silently. It
       * becomes the two characters \0, as GNU parallel writes it. */
      size_t nuls = 0;
      for (const char *z = src; (z = memchr(z, 0, len - (size_t)(z - src))); z++) nuls++;
      char *s = malloc(len + nuls + 1);
      if (!s) return -ENOMEM;
      if (nuls) {
        char *q = s;
        for (size_t i = 0; i < len; i++)
          if (src[i]) *q++ = src[i];
          else *q++ = '\\', *q++ = '0';
        if (!in->nul_seen) in->nul_seen = 1;
      } else {
        memcpy(s, src, len);
      }
      s[len + nuls] = 0;
      r->start += len + (p ? in->seplen : 0);
      if (in->o.eof_str && !strcmp(s, in->o.eof_str)) { /* -E: the rest is not read */
        free(s);
        r->eof = 1;
        r->start = r->end;
        return 0;
      }
      *out = s;
      return 1;
    }
    if (r->eof) return 0;
    scanned = avail;
    int rc = reader_fill(in, r);
    if (rc < 0) return rc;
  }
}

static int recs_add(recs *r, size_t *cap, char *s) {
  if (r->n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    char **nv = realloc(r->v, *cap * sizeof *nv);
    if (!nv) return -ENOMEM;
    r->v = nv;
  }
  r->v[r->n++] = s;
  return 0;
}

static int load_all(cli_input *in, srcst *st, char *err, size_t errlen) {
  const cli_source *s = st->s;
  recs *out = &st->mem;
  size_t cap = 0;
  if (s->kind == CLI_SRC_LIST) {
    for (size_t i = 0; i < s->n; i++) {
      if (in->o.eof_str && !strcmp(s->values[i], in->o.eof_str)) break; /* -E */
      char *v = strdup(s->values[i]);
      if (!v || recs_add(out, &cap, v)) {
        free(v);
        return -ENOMEM;
      }
    }
    return 0;
  }
  reader r;
  int rc = reader_open(&r, s->path, err, errlen);
  if (rc) return rc;
  char *rec;
  while ((rc = reader_next(in, &r, &rec)) == 1) {
    if (recs_add(out, &cap, rec)) {
      free(rec);
      rc = -ENOMEM;
      break;
    }
  }
  reader_close(&r);
  if (rc < 0) snprintf(err, errlen, "cannot read %s: %s", s->path, strerror(-rc));
  return rc < 0 ? rc : 0;
}

/* The next record of a streamed source: 1, 0 at its end, -errno. */
static int src_next(cli_input *in, srcst *st, char **out) {
  if (st->s->kind == CLI_SRC_LIST) {
    if (st->pos >= st->s->n) return 0;
    if (in->o.eof_str && !strcmp(st->s->values[st->pos], in->o.eof_str)) { /* -E */
      st->pos = st->s->n;
      return 0;
    }
    return (*out = strdup(st->s->values[st->pos++])) ? 1 : -ENOMEM;
  }
  return reader_next(in, &st->rd, out);
}

/* ------------------------------------------------------------ columns */

/* Perl's escapes in --colsep as POSIX extended regular expressions. */
static char *perl_to_ere(const char *s, int *meta) {
  size_t n = strlen(s);
  char *o = malloc(n * 16 + 1), *q = o;
  if (!o) return NULL;
  *meta = 0;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      const char *rep = NULL;
      char lit[3] = {0};
      switch (*s) {
      case 't': lit[0] = '\t'; break;
      case 'n': lit[0] = '\n'; break;
      case 'r': lit[0] = '\r'; break;
      case 's': rep = "[[:space:]]"; break;
      case 'S': rep = "[^[:space:]]"; break;
      case 'd': rep = "[0-9]"; break;
      case 'D': rep = "[^0-9]"; break;
      case 'w': rep = "[[:alnum:]_]"; break;
      case 'W': rep = "[^[:alnum:]_]"; break;
      default: lit[0] = '\\', lit[1] = *s; break;
      }
      if (rep) {
        *meta = 1;
        q += sprintf(q, "%s", rep);
      } else {
        q += sprintf(q, "%s", lit);
      }
    } else {
      if (strchr(".[]()*+?{}|^$", *s)) *meta = 1;
      *q++ = *s;
    }
  }
  *q = 0;
  return o;
}

static int setup_colsep(cli_input *in, char *err, size_t errlen) {
  const char *cs = in->o.colsep;
  if (!cs) return 0;
  int meta;
  char *ere = perl_to_ere(cs, &meta);
  if (!ere) return -ENOMEM;
  if (meta) {
    int rc = regcomp(&in->re, ere, REG_EXTENDED);
    if (rc == 0) {
      in->use_re = 1;
      free(ere);
      return 0;
    }
    char msg[128];
    regerror(rc, &in->re, msg, sizeof msg);
    snprintf(err, errlen, "--colsep '%s' is not a regular expression corral "
             "understands (%s): write a literal separator or a POSIX extended "
             "regular expression", cs, msg);
    free(ere);
    return -EINVAL;
  }
  free(ere);
  in->colsep = cli_unescape(cs);
  return in->colsep ? 0 : -ENOMEM;
}

/* Perl's \s, which GNU parallel's --trim removes. */
static int trim_space(char ch) {
  return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static int push_val(cli_args *a, size_t *cap, const char *p, size_t len, int trim) {
  if (trim & CLI_TRIM_L)
    while (len && trim_space(*p)) p++, len--;
  if (trim & CLI_TRIM_R)
    while (len && trim_space(p[len - 1])) len--;
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
  return 0;
}

/* Split rec into columns appended to a. */
static int add_cols(cli_input *in, const char *rec, cli_args *a, size_t *cap) {
  const char *p = rec;
  int trim = in->o.trim;
  if (in->use_re) {
    regmatch_t m;
    int flags = 0;
    while (*p && regexec(&in->re, p, 1, &m, flags) == 0 && m.rm_eo > m.rm_so) {
      int rc = push_val(a, cap, p, (size_t)m.rm_so, trim);
      if (rc) return rc;
      p += m.rm_eo;
      flags = REG_NOTBOL;
    }
    return push_val(a, cap, p, strlen(p), trim);
  }
  const char *cs = in->colsep;
  size_t cl = cs ? strlen(cs) : 0;
  for (;;) {
    const char *q = cl ? strstr(p, cs) : NULL;
    size_t len = q ? (size_t)(q - p) : strlen(p);
    int rc = push_val(a, cap, p, len, trim);
    if (rc || !q) return rc;
    p = q + cl;
  }
}

/* ------------------------------------------------------------ rows */

/* Every empty source held in memory gets one empty value; the groups' row
 * counts follow. */
static int fill_empty(cli_input *in) {
  for (size_t i = 0; i < in->ns; i++) {
    srcst *st = &in->s[i];
    if (st->streamed || st->mem.n) continue;
    char **v = malloc(sizeof *v);
    if (!v || !(v[0] = strdup(""))) {
      free(v);
      return -ENOMEM;
    }
    free(st->mem.v);
    st->mem.v = v;
    st->mem.n = 1;
  }
  return 0;
}

static void group_lengths(cli_input *in) {
  for (size_t gi = 0; gi < in->ng; gi++) {
    group *g = &in->g[gi];
    if (gi == 0 && in->streamed0) continue;
    size_t len = 0;
    for (size_t k = 0; k < g->count; k++) {
      size_t n = in->s[g->first + k].mem.n;
      if (k == 0 || (g->wrap ? n > len : n < len)) len = n;
      if (n == 0) len = 0, k = g->count; /* an empty source: no rows */
    }
    g->len = len;
    if (len == 0 && !in->pending) in->done = 1; /* an empty product */
  }
}

/* The first row of a streamed group 0: a member with no record at all
 * gives one empty value (and the group ends after this row), unless every
 * source is empty. */
static int first0(cli_input *in) {
  group *g0 = &in->g[0];
  in->first0 = 1;
  int any = 0, missing = 0;
  for (size_t k = 0; k < g0->count; k++) {
    int rc = src_next(in, &in->s[g0->first + k], &in->cur0[k]);
    if (rc < 0) return rc;
    if (rc) any = 1; else missing = 1;
  }
  if (!any && !in->known_values) return 0;
  for (size_t k = 0; missing && k < g0->count; k++)
    if (!in->cur0[k] && !(in->cur0[k] = strdup(""))) return -ENOMEM;
  in->last0 = missing;
  if (in->pending) {
    in->pending = 0;
    int rc = fill_empty(in);
    if (rc) return rc;
    group_lengths(in);
  }
  in->have0 = 1;
  return 1;
}

static int next0(cli_input *in) {
  group *g0 = &in->g[0];
  for (size_t k = 0; k < g0->count; k++) {
    free(in->cur0[k]);
    in->cur0[k] = NULL;
  }
  in->have0 = 0;
  if (in->streamed0 && !in->first0) return first0(in);
  if (in->last0) return 0;
  if (!in->streamed0) {
    size_t i = g0->idx == (size_t)-1 ? 0 : g0->idx + 1;
    if (i >= g0->len) return 0;
    g0->idx = i;
    in->have0 = 1;
    return 1;
  }
  for (size_t k = 0; k < g0->count; k++) {
    int rc = src_next(in, &in->s[g0->first + k], &in->cur0[k]);
    if (rc <= 0) return rc; /* linked sources end with the shortest */
  }
  in->have0 = 1;
  return 1;
}

/* Record of member k of a group in memory, at row i. */
static const char *mem_rec(cli_input *in, const group *g, size_t k, size_t i) {
  const recs *r = &in->s[g->first + k].mem;
  return r->v[g->wrap ? i % r->n : i];
}

/* The next row (one value per column of every source). 1, 0, -errno. */
static int next_row(cli_input *in, cli_args *a) {
  memset(a, 0, sizeof *a);
  if (in->done) return 0;
  int need0 = !in->have0;
  if (in->have0) {
    size_t i = in->ng - 1;
    need0 = 1;
    while (i > 0) {
      if (++in->g[i].idx < in->g[i].len) {
        need0 = 0;
        break;
      }
      in->g[i].idx = 0;
      i--;
    }
  }
  if (need0) {
    int rc = next0(in);
    if (rc <= 0) {
      in->done = 1;
      return rc;
    }
  }
  size_t cap = 0;
  int rc = 0;
  const group *g0 = &in->g[0];
  for (size_t k = 0; !rc && k < g0->count; k++)
    rc = add_cols(in, in->streamed0 ? in->cur0[k] : mem_rec(in, g0, k, g0->idx), a, &cap);
  for (size_t gi = 1; !rc && gi < in->ng; gi++)
    for (size_t k = 0; !rc && k < in->g[gi].count; k++)
      rc = add_cols(in, mem_rec(in, &in->g[gi], k, in->g[gi].idx), a, &cap);
  if (rc) {
    cli_args_free(a);
    return rc;
  }
  return 1;
}

static int q_push(cli_input *in, row r) {
  if (in->qlen == in->qcap) {
    size_t nc = in->qcap ? in->qcap * 2 : 64;
    row *nq = malloc(nc * sizeof *nq);
    if (!nq) return -ENOMEM;
    for (size_t i = 0; i < in->qlen; i++) nq[i] = in->q[(in->qhead + i) % in->qcap];
    free(in->q);
    in->q = nq;
    in->qcap = nc;
    in->qhead = 0;
  }
  in->q[(in->qhead + in->qlen++) % in->qcap] = r;
  return 0;
}

/* A row from the read-ahead queue, else from the input. */
static int get_row(cli_input *in, cli_args *a) {
  if (in->qlen) {
    row r = in->q[in->qhead];
    in->qhead = (in->qhead + 1) % in->qcap;
    in->qlen--;
    memset(a, 0, sizeof *a);
    a->v = r.v;
    a->n = r.n;
    return 1;
  }
  if (in->ended) return 0;
  int rc = next_row(in, a);
  if (rc == 0) in->ended = 1;
  return rc;
}

static int peek_row(cli_input *in, row *out) {
  if (!in->qlen) {
    cli_args a;
    int rc = in->ended ? 0 : next_row(in, &a);
    if (rc == 0) in->ended = 1;
    if (rc <= 0) return rc;
    rc = q_push(in, (row){a.v, a.n});
    if (rc) {
      cli_args_free(&a);
      return rc;
    }
  }
  *out = in->q[in->qhead];
  return 1;
}

static int append_row(cli_args *a, size_t *cap, cli_args *r) {
  if (a->n + r->n > *cap) {
    size_t nc = *cap ? *cap : 8;
    while (nc < a->n + r->n) nc *= 2;
    char **nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return -ENOMEM;
    a->v = nv;
    *cap = nc;
  }
  memcpy(a->v + a->n, r->v, r->n * sizeof *r->v);
  a->n += r->n;
  free(r->v);
  r->v = NULL;
  r->n = 0;
  return 0;
}

static size_t max_chars(const cli_input *in) {
  return in->o.max_chars ? in->o.max_chars : 65536;
}

/* -m / -X: read ahead until the input ended or every job slot would get a
 * full command line; a short input is spread evenly over the slots. */
static int prime_batch(cli_input *in) {
  in->primed = 1;
  unsigned jobs = in->o.jobs ? in->o.jobs : 1;
  size_t budget = max_chars(in) * jobs, used = 0, n = 0;
  size_t cap_rows = in->o.max_args > 1 ? in->o.max_args * jobs : 0;
  while (used <= budget && (!cap_rows || n <= cap_rows)) {
    cli_args a;
    int rc = next_row(in, &a);
    if (rc < 0) return rc;
    if (rc == 0) {
      in->ended = 1;
      in->spread = (n + jobs - 1) / jobs;
      return 0;
    }
    for (size_t i = 0; i < a.n; i++) used += cli_template_value_cost(in->o.tmpl, a.v[i]);
    n++;
    rc = q_push(in, (row){a.v, a.n});
    if (rc) {
      cli_args_free(&a);
      return rc;
    }
  }
  return 0;
}

static int next_batch(cli_input *in, cli_args *a) {
  if (!in->primed) {
    int rc = prime_batch(in);
    if (rc) return rc;
  }
  size_t cap = 0, rows = 0;
  size_t limit = in->o.max_args > 1 ? in->o.max_args : (size_t)-1;
  if (in->spread && in->spread < limit) limit = in->spread;
  size_t len = 0, maxc = max_chars(in), width = 0;
  memset(a, 0, sizeof *a);
  while (rows < limit) {
    row r = {0};
    int rc = peek_row(in, &r);
    if (rc < 0) {
      cli_args_free(a);
      return rc;
    }
    if (rc == 0) break;
    if (rows == 0) {
      cli_args one = {.v = r.v, .n = r.n};
      len = cli_template_length(in->o.tmpl, &one);
    } else {
      size_t add = 0;
      for (size_t i = 0; i < r.n; i++) add += cli_template_value_cost(in->o.tmpl, r.v[i]);
      if (len + add + 1 > maxc) break; /* the command line and its NUL */
      len += add;
    }
    cli_args got;
    get_row(in, &got);
    if (rows == 0) width = got.n;
    else if (got.n != width) width = 0;
    rc = append_row(a, &cap, &got);
    if (rc) {
      cli_args_free(&got);
      cli_args_free(a);
      return rc;
    }
    rows++;
  }
  a->names = (const char *const *)in->names;
  a->nnames = in->nnames;
  a->total = in->total;
  a->width = width;
  return rows ? 1 : 0;
}

/* --shuf: every row, in random order. */
static int shuffle_all(cli_input *in) {
  in->shuffled = 1;
  for (;;) {
    cli_args a;
    int rc = next_row(in, &a);
    if (rc < 0) return rc;
    if (rc == 0) break;
    rc = q_push(in, (row){a.v, a.n});
    if (rc) {
      cli_args_free(&a);
      return rc;
    }
  }
  in->ended = 1;
  unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
  for (size_t i = in->qlen; i > 1; i--) {
    size_t k = (size_t)rand_r(&seed) % i;
    row *x = &in->q[(in->qhead + i - 1) % in->qcap], *y = &in->q[(in->qhead + k) % in->qcap];
    row t = *x;
    *x = *y;
    *y = t;
  }
  return 0;
}

int cli_input_next(cli_input *in, cli_args *a) {
  if (in->o.shuffle && !in->shuffled) {
    int rc = shuffle_all(in);
    if (rc) return rc;
  }
  if (in->o.batch) return next_batch(in, a);
  size_t want = in->o.max_args > 1 ? in->o.max_args : 1;
  int rc = get_row(in, a);
  if (rc <= 0) return rc;
  if (in->o.no_args) cli_args_free(a);
  size_t cap = a->n, width = a->n;
  for (size_t k = 1; k < want; k++) {
    cli_args r;
    int rc2 = get_row(in, &r);
    if (rc2 < 0) {
      cli_args_free(a);
      return rc2;
    }
    if (rc2 == 0) break;
    if (r.n != width) width = 0;
    if (append_row(a, &cap, &r)) {
      cli_args_free(&r);
      cli_args_free(a);
      return -ENOMEM;
    }
  }
  a->names = (const char *const *)in->names;
  a->nnames = in->nnames;
  a->total = in->total;
  a->width = width;
  return 1;
}

/* ------------------------------------------------------------ --pipe */

/* A block may end at p: the record end before it, the record start after. */
static int split_at(const cli_input *in, const char *b, size_t n, size_t p, int eof) {
  if (p == 0) return 0;
  if (p >= n) return eof;
  if (in->relen && (p < in->relen || memcmp(b + p - in->relen, in->recend, in->relen)))
    return 0;
  if (in->rslen) {
    if (p + in->rslen > n) return 0;
    if (memcmp(b + p, in->recstart, in->rslen)) return 0;
  }
  return 1;
}

int cli_input_block(cli_input *in, char **data, size_t *len) {
  reader *r = &in->prd;
  size_t bs = in->o.block ? (size_t)in->o.block : (size_t)1 << 20; /* 1M */
  size_t nrec = in->o.max_args;
  *data = NULL;
  *len = 0;
  /* Enough bytes to decide: the block and a look-ahead for recstart. */
  size_t want = nrec ? 0 : bs + in->rslen + 1;
  size_t seen = 0, pnext = 1;
  int back_done = 0;
  for (;;) {
    size_t avail = r->end - r->start;
    const char *b = r->buf + r->start;
    if (avail == 0 && r->eof) return 0;
    size_t cut = 0;
    if (nrec) {
      /* -N: exactly nrec records (fewer at the end). Positions already
       * looked at are not looked at again after the next read. */
      size_t last = r->eof ? avail : (avail > in->rslen ? avail - in->rslen - 1 : 0);
      for (; pnext <= last && !cut; pnext++)
        if (split_at(in, b, avail, pnext, r->eof) && ++seen == nrec) cut = pnext;
      if (!cut && r->eof) cut = avail;
    } else if (avail >= want || r->eof) {
      size_t lim = avail < bs ? avail : bs;
      /* The record start after a cut lies within the block too (what GNU
       * parallel sees, reading exactly the block). */
      if (in->rslen && lim == bs) lim = bs > in->rslen ? bs - in->rslen : 1;
      if (r->eof && avail <= bs) cut = avail;
      if (!back_done) {
        for (size_t p = lim; p > 0 && !cut; p--)
          if (split_at(in, b, avail, p, r->eof)) cut = p;
        back_done = 1;
        pnext = lim + 1;
      }
      /* A record longer than the block: the block grows to its end (what
       * was looked at is not looked at again after the next read). */
      size_t last = r->eof ? avail : (avail > in->rslen ? avail - in->rslen - 1 : 0);
      for (; !cut && pnext <= last; pnext++)
        if (split_at(in, b, avail, pnext, r->eof)) cut = pnext;
      if (!cut && r->eof) cut = avail;
    }
    if (cut) {
      char *d = malloc(cut);
      if (!d) return -ENOMEM;
      memcpy(d, b, cut);
      r->start += cut;
      *data = d;
      *len = cut;
      return 1;
    }
    int rc = reader_fill(in, r);
    if (rc < 0) return rc;
  }
}

/* ------------------------------------------------------------ open/close */

/* GNU parallel reads ::: values as records too: a value that holds the
 * record separator (a newline; -d DELIM) is several values, each part a
 * value, an empty one too ("a," with -d , is "a" and ""). */
static int split_lists(cli_input *in) {
  size_t ns = in->o.nsrc, sl = in->seplen;
  int need = 0;
  for (size_t i = 0; i < ns && !need; i++) {
    const cli_source *src = &in->o.src[i];
    for (size_t k = 0; src->kind == CLI_SRC_LIST && k < src->n && !need; k++)
      need = memmem(src->values[k], strlen(src->values[k]), in->sep, sl) != NULL;
  }
  if (!need) return 0;
  in->own_src = malloc(ns * sizeof *in->own_src);
  in->own_vals = calloc(ns, sizeof *in->own_vals);
  if (!in->own_src || !in->own_vals) return -ENOMEM;
  memcpy(in->own_src, in->o.src, ns * sizeof *in->own_src);
  in->o.src = in->own_src;
  for (size_t i = 0; i < ns; i++) {
    cli_source *src = &in->own_src[i];
    if (src->kind != CLI_SRC_LIST) continue;
    size_t parts = 0;
    for (size_t k = 0; k < src->n; k++) {
      const char *v = src->values[k], *end = v + strlen(v), *q;
      parts++;
      while ((q = memmem(v, (size_t)(end - v), in->sep, sl))) parts++, v = q + sl;
    }
    if (parts == src->n) continue;
    char **out = calloc(parts + 1, sizeof *out);
    if (!out) return -ENOMEM;
    in->own_vals[i] = out;
    size_t m = 0;
    for (size_t k = 0; k < src->n; k++) {
      const char *v = src->values[k], *end = v + strlen(v);
      for (;;) {
        const char *q = memmem(v, (size_t)(end - v), in->sep, sl);
        size_t len = q ? (size_t)(q - v) : (size_t)(end - v);
        if (!(out[m] = strndup(v, len))) return -ENOMEM;
        m++;
        if (!q) break;
        v = q + sl;
      }
    }
    src->values = out;
    src->n = parts;
  }
  return 0;
}

static int read_header(cli_input *in, char *err, size_t errlen) {
  size_t cap = 0;
  cli_args names = {0};
  for (size_t i = 0; i < in->ns; i++) {
    srcst *st = &in->s[i];
    char *rec = NULL;
    int rc;
    if (st->streamed) {
      rc = src_next(in, st, &rec);
    } else if (st->mem.n) {
      rec = st->mem.v[0];
      memmove(st->mem.v, st->mem.v + 1, (st->mem.n - 1) * sizeof *st->mem.v);
      st->mem.n--;
      rc = 1;
    } else {
      rc = 0;
    }
    if (rc < 0) {
      snprintf(err, errlen, "cannot read the header: %s", strerror(-rc));
      cli_args_free(&names);
      return rc;
    }
    size_t before = names.n;
    if (rc == 1) {
      int trim = in->o.trim;
      in->o.trim = CLI_TRIM_L | CLI_TRIM_R;
      rc = add_cols(in, rec, &names, &cap);
      in->o.trim = trim;
      free(rec);
      if (rc) {
        cli_args_free(&names);
        return rc;
      }
    }
    st->ncols_hdr = names.n - before;
  }
  in->names = names.v;
  in->nnames = names.n;
  return 0;
}

int cli_input_open(const cli_input_opts *o, cli_input **out, char *err,
                   size_t errlen) {
  *out = NULL;
  cli_input *in = calloc(1, sizeof *in);
  if (!in) return -ENOMEM;
  in->o = *o;
  in->prd.fd = -1;
  static const cli_source stdin_src = {.kind = CLI_SRC_FILE, .path = "-"};
  if (o->nsrc == 0) {
    in->o.src = &stdin_src;
    in->o.nsrc = 1;
  }
  static const char nul = 0;
  if (o->delim && *o->delim) {
    in->sep = o->delim;
    in->seplen = strlen(o->delim);
  } else if (o->delim) {
    in->sep = &nul; /* -d '\0' */
    in->seplen = 1;
  } else {
    in->sep = o->sep ? (o->sep == '\n' ? "\n" : &in->o.sep) : &nul;
    in->seplen = 1;
  }
  int rc = setup_colsep(in, err, errlen);
  if (!rc && !o->pipe) rc = split_lists(in);
  if (rc) goto fail;
  if (o->pipe) {
    in->recstart = o->recstart ? o->recstart : "";
    in->recend = o->recend ? o->recend : (o->recstart ? "" : "\n");
    in->relen = strlen(in->recend);
    if (!o->recend && !o->recstart && (o->delim || !o->sep)) {
      in->recend = in->sep; /* -d / -0 say where records end */
      in->relen = in->seplen;
    }
    in->rslen = strlen(in->recstart);
    rc = reader_open(&in->prd, in->o.src[0].kind == CLI_SRC_FILE ? in->o.src[0].path : "-",
                     err, errlen);
    if (rc) goto fail;
    *out = in;
    return 0;
  }
  /* What is read now (sources held in memory, headers) is read before any
   * task runs: plain blocking reads. */
  in->o.wait_readable = NULL;
  in->ns = in->o.nsrc;
  in->s = calloc(in->ns, sizeof *in->s);
  in->g = calloc(in->ns, sizeof *in->g);
  if (!in->s || !in->g) {
    rc = -ENOMEM;
    goto fail;
  }
  for (size_t i = 0; i < in->ns; i++) {
    in->s[i].s = &in->o.src[i];
    in->s[i].rd.fd = -1;
    if (i == 0 || (!in->o.link && !in->o.src[i].linked)) {
      in->g[in->ng].first = i;
      in->g[in->ng].wrap = in->o.link;
      in->ng++;
    }
    in->g[in->ng - 1].count++;
  }
  group *g0 = &in->g[0];
  in->streamed0 = !in->o.read_all && !in->o.shuffle && !(g0->wrap && g0->count > 1);
  in->cur0 = calloc(g0->count, sizeof *in->cur0);
  if (!in->cur0) {
    rc = -ENOMEM;
    goto fail;
  }
  for (size_t i = 0; i < in->ns && !rc; i++) {
    srcst *st = &in->s[i];
    if (in->streamed0 && i < g0->count) {
      st->streamed = 1;
      if (st->s->kind == CLI_SRC_FILE) rc = reader_open(&st->rd, st->s->path, err, errlen);
    } else {
      rc = load_all(in, st, err, errlen);
    }
  }
  if (!rc && in->o.header) rc = read_header(in, err, errlen);
  if (rc) goto fail;
  int unknown = 0;
  for (size_t i = 0; i < in->ns; i++) {
    const srcst *st = &in->s[i];
    if (st->streamed && st->s->kind == CLI_SRC_FILE) unknown = 1;
    else if (st->streamed ? st->pos < st->s->n : st->mem.n > 0) in->known_values = 1;
  }
  if (in->known_values) rc = fill_empty(in);
  else in->pending = unknown;
  if (rc) goto fail;
  group_lengths(in);
  g0->idx = (size_t)-1;
  if (!in->o.jobs) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    in->o.jobs = n > 0 ? (unsigned)n : 1;
  }
  in->total = cli_input_total(in);
  in->o.wait_readable = o->wait_readable;
  *out = in;
  return 0;
fail:
  cli_input_close(in);
  return rc;
}

int cli_input_nul_warning(cli_input *in) {
  if (in->nul_seen != 1) return 0;
  in->nul_seen = 2;
  return 1;
}

int cli_input_endless(const cli_input *in) {
  if (in->o.pipe) return !in->prd.regular;
  if (!in->streamed0) return 0;
  for (size_t k = 0; k < in->g[0].count; k++) {
    const srcst *st = &in->s[k];
    if (st->s->kind == CLI_SRC_FILE && !st->rd.regular) return 1;
  }
  return 0;
}

uint64_t cli_input_total(const cli_input *in) {
  if (in->o.pipe || in->o.batch) return 0;
  uint64_t t = 1;
  for (size_t gi = 0; gi < in->ng; gi++) {
    const group *g = &in->g[gi];
    if (gi == 0 && in->streamed0) {
      for (size_t k = 0; k < g->count; k++)
        if (in->s[k].s->kind != CLI_SRC_LIST) return 0;
      size_t len = 0;
      for (size_t k = 0; k < g->count; k++) {
        size_t n = in->s[k].s->n;
        for (size_t i = 0; in->o.eof_str && i < n; i++) /* -E: the values before it */
          if (!strcmp(in->s[k].s->values[i], in->o.eof_str)) n = i;
        if (in->o.header && n) n--; /* the header is not a job */
        if (n == 0 && in->known_values) n = 1; /* one empty value */
        if (k == 0 || n < len) len = n;
      }
      t *= len;
    } else {
      t *= g->len;
    }
  }
  size_t per = in->o.max_args > 1 ? in->o.max_args : 1;
  return (t + per - 1) / per;
}

void cli_input_close(cli_input *in) {
  if (!in) return;
  for (size_t i = 0; in->s && i < in->ns; i++) {
    srcst *st = &in->s[i];
    if (st->rd.buf) reader_close(&st->rd);
    for (size_t k = 0; k < st->mem.n; k++) free(st->mem.v[k]);
    free(st->mem.v);
  }
  if (in->prd.buf) reader_close(&in->prd);
  if (in->cur0)
    for (size_t k = 0; k < in->g[0].count; k++) free(in->cur0[k]);
  free(in->cur0);
  free(in->s);
  free(in->g);
  for (size_t i = 0; i < in->qlen; i++) {
    row *r = &in->q[(in->qhead + i) % in->qcap];
    for (size_t k = 0; k < r->n; k++) free(r->v[k]);
    free(r->v);
  }
  free(in->q);
  for (size_t i = 0; i < in->nnames; i++) free(in->names[i]);
  free(in->names);
  if (in->use_re) regfree(&in->re);
  free(in->colsep);
  for (size_t i = 0; in->own_vals && i < in->o.nsrc; i++)
    if (in->own_vals[i]) {
      for (char **v = in->own_vals[i]; *v; v++) free(*v);
      free(in->own_vals[i]);
    }
  free(in->own_vals);
  free(in->own_src);
  free(in);
}
