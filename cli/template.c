/* Command templates with GNU parallel's replacement strings (template.h). */
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { P_TEXT, P_ARG, P_SEQ, P_SLOT, P_TOTAL, P_NAME, P_SPACE } part_kind;

typedef struct {
  part_kind kind;
  size_t off, len;  /* P_TEXT, P_NAME (the whole "{name}"): slice of t->text */
  long col;         /* P_ARG: 0 = all, >0 1-based, <0 from the end */
  cli_transform tr;
  size_t word;      /* which word of the template it is in */
  /* --plus: GNU parallel's bash-like strings on {} ({:-x} {:2:3} {#x} {%x}
   * {/x/y} {^x} {^^x} {,x} {,,x}); a and b are slices of t->text */
  int op;
  size_t aoff, alen, boff, blen;
  long n1, n2;
} part;

enum { OP_NONE, OP_DEFAULT, OP_SUBSTR, OP_PREFIX, OP_SUFFIX, OP_REPLACE, OP_UPPER1,
       OP_UPPERALL, OP_LOWER1, OP_LOWERALL,
       OP_REPLACE_START, OP_REPLACE_END, OP_REPLACE_ALL }; /* {/#a/b} {/%a/b} {//a/b} */

struct cli_template {
  char *text;
  part *parts;
  size_t nparts;
  int explicit_, uses_slot, uses_total, context;
  int raw;          /* CLI_TMPL_RAW: values as they are, not quoted */
  int plus;         /* CLI_TMPL_PLUS: the bash-like --plus strings */
  size_t nall;      /* parts that take every value ({} {.} ...) */
};

static int add_part(cli_template *t, part p) {
  part *np = realloc(t->parts, (t->nparts + 1) * sizeof *np);
  if (!np) return -ENOMEM;
  t->parts = np;
  t->parts[t->nparts++] = p;
  return 0;
}

static const struct {
  const char *s;
  cli_transform t;
} tails[] = {
    {"}", CLI_T_WHOLE},         {".}", CLI_T_NOEXT},      {"/}", CLI_T_BASE},
    {"//}", CLI_T_DIR},         {"/.}", CLI_T_BASE_NOEXT}, {"..}", CLI_T_NOEXT2},
    {"...}", CLI_T_NOEXT3},     {"/..}", CLI_T_BASE_NOEXT2},
    {"/...}", CLI_T_BASE_NOEXT3}, {"+/}", CLI_T_PLUS_DIR}, {"+.}", CLI_T_EXT},
    {"+..}", CLI_T_EXT2}};

/* Parse "{...}" at s (s[0] == '{'); return its length or 0 if it is not a
 * replacement string. */
/* --plus: "{OP...}" at s; its length or 0. Offsets are from base. */
static size_t parse_plus(const char *base, const char *s, part *p) {
  const char *q = s + 1, *end = strchr(q, '}');
  if (!end || memchr(q, '{', (size_t)(end - q))) return 0;
  size_t len = (size_t)(end - s) + 1;
  p->kind = P_ARG;
  p->col = 0;
  p->tr = CLI_T_WHOLE;
#define A_FROM(x) (p->aoff = (size_t)((x) - base), p->alen = (size_t)(end - (x)))
  if (q[0] == ':' && q[1] == '-') {
    p->op = OP_DEFAULT;
    A_FROM(q + 2);
    return len;
  }
  if (q[0] == ':' && isdigit((unsigned char)q[1])) {
    char *e;
    p->n1 = strtol(q + 1, &e, 10);
    p->n2 = -1;
    if (*e == ':' && isdigit((unsigned char)e[1])) p->n2 = strtol(e + 1, &e, 10);
    if (e != end) return 0;
    p->op = OP_SUBSTR;
    return len;
  }
  if (end <= q + 1) return 0; /* {#} {%} are taken earlier; the others need a string */
  if (q[0] == '#' && q[1] != '#') return p->op = OP_PREFIX, A_FROM(q + 1), len;
  if (q[0] == '%') return p->op = OP_SUFFIX, A_FROM(q + 1), len;
  if (q[0] == '^' && q[1] == '^') return end > q + 2 ? (p->op = OP_UPPERALL, A_FROM(q + 2), len) : 0;
  if (q[0] == '^') return p->op = OP_UPPER1, A_FROM(q + 1), len;
  if (q[0] == ',' && q[1] == ',') return end > q + 2 ? (p->op = OP_LOWERALL, A_FROM(q + 2), len) : 0;
  if (q[0] == ',') return p->op = OP_LOWER1, A_FROM(q + 1), len;
  if (q[0] == '/') {
    const char *pat = q + 1;
    p->op = *pat == '#' ? OP_REPLACE_START : *pat == '%' ? OP_REPLACE_END
          : *pat == '/' ? OP_REPLACE_ALL : OP_REPLACE;
    if (p->op != OP_REPLACE) pat++;
    const char *m = pat < end ? memchr(pat, '/', (size_t)(end - pat)) : NULL;
    if (!m || m == pat) return 0;
    p->aoff = (size_t)(pat - base);
    p->alen = (size_t)(m - pat);
    p->boff = (size_t)(m + 1 - base);
    p->blen = (size_t)(end - m - 1);
    return len;
  }
#undef A_FROM
  return 0;
}

static size_t parse_repl(const char *s, part *p) {
  const char *q = s + 1;
  memset(p, 0, sizeof *p);
  if (q[0] == '#' && q[1] == '}') return p->kind = P_SEQ, 3;
  if (q[0] == '#' && q[1] == '#' && q[2] == '}') return p->kind = P_TOTAL, 4;
  if (q[0] == '%' && q[1] == '}') return p->kind = P_SLOT, 3;
  p->kind = P_ARG;
  long col = 0;
  if (*q == '-' || isdigit((unsigned char)*q)) {
    int neg = *q == '-';
    if (neg) q++;
    if (!isdigit((unsigned char)*q)) return 0;
    while (isdigit((unsigned char)*q)) {
      col = col * 10 + (*q - '0');
      if (col > 1000000) return 0;
      q++;
    }
    if (col == 0 && neg) return 0;
    if (neg) col = -col;
  }
  p->col = col; /* {0} is {}, as in GNU parallel */
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
    size_t l = strlen(tails[i].s);
    if (!strncmp(q, tails[i].s, l)) {
      p->tr = tails[i].t;
      return (size_t)(q - s) + l;
    }
  }
  /* {name}: a column named by --header; kept literal when there is none. */
  if (q == s + 1 && (isalpha((unsigned char)*q) || *q == '_')) {
    const char *e = q;
    while (*e && *e != '}' && *e != '{' && !isspace((unsigned char)*e)) e++;
    if (*e == '}') {
      p->kind = P_NAME;
      return (size_t)(e - s) + 1;
    }
  }
  return 0;
}

int cli_template_check(char *const *words, size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    const char *a = strstr(words[i], "{=");
    if (!a) continue;
    int closed = strstr(a + 2, "=}") != NULL;
    for (size_t k = i + 1; !closed && k < n; k++) closed = strstr(words[k], "=}") != NULL;
    if (closed) {
      snprintf(err, errlen, "{= perl expression =} replacement strings are not supported "
               "(corral runs no Perl): compute the value in the command, e.g. "
               "'v={}; echo \"${v%%.gz}\"', or use {.} {/} {//} {/.} {..} {+.}");
      return -EINVAL;
    }
  }
  return 0;
}

/* A text slice; in context mode (-X) split at spaces so words are known. */
static int add_text(cli_template *t, size_t off, size_t len, size_t *word) {
  if (!len) return 0;
  if (!t->context) return add_part(t, (part){.kind = P_TEXT, .off = off, .len = len});
  size_t i = off, end = off + len;
  while (i < end) {
    size_t s = i;
    int sp = t->text[i] == ' ';
    while (i < end && (t->text[i] == ' ') == sp) i++;
    if (sp) (*word)++;
    part p = {.kind = sp ? P_SPACE : P_TEXT, .off = s, .len = i - s, .word = *word};
    if (add_part(t, p)) return -ENOMEM;
  }
  return 0;
}

int cli_template_quote_word(const char *w, cli_buf *out) {
  size_t lit = 0, i = 0;
  int rc = 0;
  if (!*w) return cli_buf_adds(out, "''");
  for (; w[i] && !rc;) {
    part p;
    size_t l = w[i] == '{' ? parse_repl(w + i, &p) : 0;
    if (!l) {
      i++;
      continue;
    }
    if (i > lit) rc = cli_shell_quote(out, w + lit, i - lit);
    if (!rc) rc = cli_buf_add(out, w + i, l);
    i += l;
    lit = i;
  }
  if (!rc && i > lit) rc = cli_shell_quote(out, w + lit, i - lit);
  return rc;
}

int cli_template_new_ex(char *const *words, size_t n, int flags, cli_template **out) {
  *out = NULL;
  cli_template *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->context = !!(flags & CLI_TMPL_CONTEXT);
  t->raw = !!(flags & CLI_TMPL_RAW);
  t->plus = !!(flags & CLI_TMPL_PLUS);
  cli_buf b = {0};
  for (size_t i = 0; i < n; i++)
    if ((i && cli_buf_addc(&b, ' ')) || cli_buf_adds(&b, words[i])) goto oom;
  if (!b.data && cli_buf_add(&b, "", 0)) goto oom;
  t->text = b.data;
  size_t lit = 0, i = 0, word = 0;
  while (t->text[i]) {
    part p;
    size_t l = t->text[i] == '{' ? parse_repl(t->text + i, &p) : 0;
    if (!l && t->plus && t->text[i] == '{') l = parse_plus(t->text, t->text + i, &p);
    if (!l) {
      i++;
      continue;
    }
    if (add_text(t, lit, i - lit, &word)) goto oom2;
    p.word = word;
    if (p.kind == P_NAME) p.off = i, p.len = l;
    if (add_part(t, p)) goto oom2;
    if (p.kind != P_NAME || (flags & CLI_TMPL_HEADER)) t->explicit_ = 1; /* {#} and {%} count, as in GNU parallel */
    if (p.kind == P_SLOT) t->uses_slot = 1;
    if (p.kind == P_TOTAL) t->uses_total = 1;
    if (p.kind == P_ARG && p.col == 0) t->nall++;
    i += l;
    lit = i;
  }
  if (add_text(t, lit, i - lit, &word)) goto oom2;
  if (!t->explicit_ && !(flags & CLI_TMPL_NO_APPEND)) {
    /* GNU parallel appends the inputs only when the template has no
     * replacement string at all. */
    if (n) {
      if (t->context) word++;
      if (add_part(t, (part){.kind = t->context ? P_SPACE : P_TEXT, .off = i, .len = 0,
                             .word = word}))
        goto oom2;
    }
    if (add_part(t, (part){.kind = P_ARG, .col = 0, .tr = CLI_T_WHOLE, .word = word}))
      goto oom2;
    t->nall++;
  }
  *out = t;
  return 0;
oom:
  cli_buf_free(&b);
  free(t);
  return -ENOMEM;
oom2:
  cli_template_free(t);
  return -ENOMEM;
}

int cli_template_new(char *const *words, size_t n, cli_template **out) {
  return cli_template_new_ex(words, n, 0, out);
}

void cli_template_free(cli_template *t) {
  if (!t) return;
  free(t->text);
  free(t->parts);
  free(t);
}

int cli_template_explicit(const cli_template *t) { return t->explicit_; }
int cli_template_uses_slot(const cli_template *t) { return t->uses_slot; }
int cli_template_uses_total(const cli_template *t) { return t->uses_total; }

/* POSIX dirname (what Perl's File::Basename::dirname gives GNU parallel). */
static int dirname_of(const char *v, cli_buf *out) {
  size_t n = strlen(v);
  while (n > 1 && v[n - 1] == '/') n--;          /* trailing slashes */
  while (n > 0 && v[n - 1] != '/') n--;          /* the last component */
  if (n == 0) return cli_buf_adds(out, ".");
  while (n > 1 && v[n - 1] == '/') n--;          /* slashes before it */
  return cli_buf_add(out, v, n);
}

/* Where the k-th last extension of the basename starts (its dot), or NULL
 * when the basename has fewer than k dots. */
static const char *ext_dot(const char *base, int k) {
  const char *p = base + strlen(base);
  while (p > base) {
    p--;
    if (*p == '.' && --k == 0) return p;
  }
  return NULL;
}

int cli_transform_apply(cli_transform t, const char *v, cli_buf *out) {
  const char *base = strrchr(v, '/');
  base = base ? base + 1 : v;
  const char *dot;
  switch (t) {
  case CLI_T_WHOLE: return cli_buf_adds(out, v);
  case CLI_T_BASE: return cli_buf_adds(out, base);
  case CLI_T_DIR: return dirname_of(v, out);
  case CLI_T_NOEXT:
  case CLI_T_NOEXT2:
  case CLI_T_NOEXT3:
    dot = ext_dot(base, t == CLI_T_NOEXT ? 1 : t == CLI_T_NOEXT2 ? 2 : 3);
    return cli_buf_add(out, v, dot ? (size_t)(dot - v) : strlen(v));
  case CLI_T_BASE_NOEXT:
  case CLI_T_BASE_NOEXT2:
  case CLI_T_BASE_NOEXT3:
    dot = ext_dot(base, t == CLI_T_BASE_NOEXT ? 1 : t == CLI_T_BASE_NOEXT2 ? 2 : 3);
    return cli_buf_add(out, base, dot ? (size_t)(dot - base) : strlen(base));
  case CLI_T_PLUS_DIR:
    return cli_buf_add(out, v, base > v ? (size_t)(base - v - 1) : 0);
  case CLI_T_EXT:
  case CLI_T_EXT2:
    dot = ext_dot(base, t == CLI_T_EXT ? 1 : 2);
    return dot ? cli_buf_adds(out, dot + 1) : cli_buf_add(out, "", 0);
  }
  return -EINVAL;
}

/* Case of n bytes at p: upper (1) or lower (0), ASCII. */
static void set_case(char *p, size_t n, int upper) {
  for (size_t i = 0; i < n; i++)
    p[i] = (char)(upper ? toupper((unsigned char)p[i]) : tolower((unsigned char)p[i]));
}

/* A --plus string on the value v (strings taken literally). */
static int apply_op(const cli_template *t, const part *p, const char *v, cli_buf *out) {
  const char *a = t->text + p->aoff, *b = t->text + p->boff;
  size_t al = p->alen, vl = strlen(v);
  size_t start = out->len;
  int rc;
  switch (p->op) {
  case OP_DEFAULT: return *v ? cli_buf_adds(out, v) : cli_buf_add(out, a, al);
  case OP_SUBSTR:
    if ((size_t)p->n1 >= vl) return cli_buf_add(out, "", 0);
    return cli_buf_add(out, v + p->n1,
                       p->n2 < 0 || (size_t)p->n2 > vl - (size_t)p->n1 ? vl - (size_t)p->n1 : (size_t)p->n2);
  case OP_PREFIX: return cli_buf_adds(out, vl >= al && !memcmp(v, a, al) ? v + al : v);
  case OP_SUFFIX: return cli_buf_add(out, v, vl >= al && !memcmp(v + vl - al, a, al) ? vl - al : vl);
  case OP_REPLACE: {
    const char *m = memmem(v, vl, a, al);
    if (!m) return cli_buf_adds(out, v);
    return cli_buf_add(out, v, (size_t)(m - v)) || cli_buf_add(out, b, p->blen) ||
           cli_buf_adds(out, m + al) ? -ENOMEM : 0;
  }
  case OP_REPLACE_START:
    if (vl < al || memcmp(v, a, al)) return cli_buf_adds(out, v);
    return cli_buf_add(out, b, p->blen) || cli_buf_adds(out, v + al) ? -ENOMEM : 0;
  case OP_REPLACE_END:
    if (vl < al || memcmp(v + vl - al, a, al)) return cli_buf_adds(out, v);
    return cli_buf_add(out, v, vl - al) || cli_buf_add(out, b, p->blen) ? -ENOMEM : 0;
  case OP_REPLACE_ALL:
    for (const char *m; (m = memmem(v, strlen(v), a, al)); v = m + al)
      if (cli_buf_add(out, v, (size_t)(m - v)) || cli_buf_add(out, b, p->blen)) return -ENOMEM;
    return cli_buf_adds(out, v);
  default:
    if ((rc = cli_buf_adds(out, v))) return rc;
    if (!al) return 0;
    if (p->op == OP_UPPER1 || p->op == OP_LOWER1) {
      if (vl >= al && !memcmp(v, a, al)) set_case(out->data + start, al, p->op == OP_UPPER1);
      return 0;
    }
    for (char *m = out->data + start; (m = memmem(m, out->len - (size_t)(m - out->data), a, al));
         m += al)
      set_case(m, al, p->op == OP_UPPERALL);
    return 0;
  }
}

static int add_value(const cli_template *t, const part *p, const char *v, cli_buf *tmp,
                     cli_buf *out) {
  if (p->op) {
    if (t->raw) return apply_op(t, p, v, out);
    cli_buf_reset(tmp);
    int rc = apply_op(t, p, v, tmp);
    return rc ? rc : cli_shell_quote(out, tmp->data ? tmp->data : "", tmp->len);
  }
  if (t->raw) return cli_transform_apply(p->tr, v, out);
  cli_buf_reset(tmp);
  int rc = cli_transform_apply(p->tr, v, tmp);
  if (!rc) rc = cli_shell_quote(out, tmp->data ? tmp->data : "", tmp->len);
  return rc;
}

/* One part. one != NULL: -X, a part taking every value takes only *one. */
static int expand_part(const cli_template *t, const part *p, const cli_args *a,
                       const char *one, cli_buf *tmp, cli_buf *out) {
  int rc = 0;
  switch (p->kind) {
  case P_TEXT:
  case P_SPACE:
    rc = cli_buf_add(out, t->text + p->off, p->len);
    if (!rc && p->len == 0) rc = cli_buf_addc(out, ' '); /* appended {} */
    break;
  case P_SEQ: rc = cli_buf_printf(out, "%llu", (unsigned long long)a->seq); break;
  case P_SLOT: rc = cli_buf_printf(out, "%u", a->slot); break;
  case P_TOTAL: rc = cli_buf_printf(out, "%llu", (unsigned long long)a->total); break;
  case P_NAME: {
    size_t k = 0;
    for (; k < a->nnames; k++)
      if (strlen(a->names[k]) == p->len - 2 && !memcmp(a->names[k], t->text + p->off + 1, p->len - 2))
        break;
    if (k < a->nnames && k < a->n) rc = add_value(t, &(part){.tr = CLI_T_WHOLE}, a->v[k], tmp, out);
    else if (k >= a->nnames) rc = cli_buf_add(out, t->text + p->off, p->len);
    break;
  }
  case P_ARG:
    if (p->col == 0) {
      if (one) return add_value(t, p, one, tmp, out);
      for (size_t k = 0; k < a->n && !rc; k++) {
        if (k) rc = cli_buf_addc(out, ' ');
        if (!rc) rc = add_value(t, p, a->v[k], tmp, out);
      }
      /* -N 0: a job takes no value and {} is empty, as in GNU parallel. */
    } else {
      long idx = p->col > 0 ? p->col - 1 : (long)a->n + p->col;
      /* GNU parallel indexes a Perl array with n + col: past the first
       * value it counts from the end again ({-3} of two values is {-1}) */
      if (idx < 0) idx += (long)a->n;
      /* GNU parallel: a position with no input expands to nothing. */
      if (idx >= 0 && (size_t)idx < a->n) rc = add_value(t, p, a->v[idx], tmp, out);
    }
    break;
  }
  return rc;
}

int cli_template_expand(const cli_template *t, const cli_args *a, cli_buf *out) {
  cli_buf tmp = {0};
  int rc = 0;
  for (size_t i = 0; i < t->nparts && !rc;) {
    const part *p = &t->parts[i];
    if (!t->context || p->kind == P_SPACE) {
      rc = expand_part(t, p, a, NULL, &tmp, out);
      i++;
      continue;
    }
    /* -X: the word [i, e); repeated once per value when it takes them all. */
    size_t e = i;
    int all = 0;
    while (e < t->nparts && t->parts[e].kind != P_SPACE && t->parts[e].word == p->word) {
      if (t->parts[e].kind == P_ARG && t->parts[e].col == 0) all = 1;
      e++;
    }
    if (!all) {
      for (size_t k = i; k < e && !rc; k++) rc = expand_part(t, &t->parts[k], a, NULL, &tmp, out);
    } else {
      for (size_t v = 0; v < a->n && !rc; v++) {
        if (v) rc = cli_buf_addc(out, ' ');
        for (size_t k = i; k < e && !rc; k++)
          rc = expand_part(t, &t->parts[k], a, a->v[v], &tmp, out);
      }
    }
    i = e;
  }
  cli_buf_free(&tmp);
  return rc;
}

size_t cli_template_length(const cli_template *t, const cli_args *a) {
  cli_buf b = {0};
  size_t n = cli_template_expand(t, a, &b) ? (size_t)-1 / 2 : b.len;
  cli_buf_free(&b);
  return n;
}

size_t cli_template_value_cost(const cli_template *t, const char *v) {
  cli_buf tmp = {0}, out = {0};
  size_t cost = 0;
  if (!t->context) {
    for (size_t i = 0; i < t->nparts; i++) {
      const part *p = &t->parts[i];
      if (p->kind != P_ARG || p->col != 0) continue;
      cli_buf_reset(&out);
      if (add_value(t, p, v, &tmp, &out) == 0) cost += out.len + 1;
    }
  } else {
    cli_args none = {0};
    for (size_t i = 0; i < t->nparts;) {
      size_t e = i;
      int all = 0;
      while (e < t->nparts && t->parts[e].kind != P_SPACE && t->parts[e].word == t->parts[i].word) {
        if (t->parts[e].kind == P_ARG && t->parts[e].col == 0) all = 1;
        e++;
      }
      if (e == i) e++;
      if (all) {
        cli_buf_reset(&out);
        for (size_t k = i; k < e; k++) expand_part(t, &t->parts[k], &none, v, &tmp, &out);
        cost += out.len + 1;
      }
      i = e;
    }
  }
  cli_buf_free(&tmp);
  cli_buf_free(&out);
  return cost;
}

void cli_args_free(cli_args *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) free(a->v[i]);
  free(a->v);
  a->v = NULL;
  a->n = 0;
}
