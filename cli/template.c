/* Command templates with GNU parallel's replacement strings (template.h). */
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { P_TEXT, P_ARG, P_SEQ, P_SLOT } part_kind;

typedef struct {
  part_kind kind;
  size_t off, len;  /* P_TEXT: slice of t->text */
  long col;         /* P_ARG: 0 = all, >0 1-based, <0 from the end */
  cli_transform tr;
} part;

struct cli_template {
  char *text;
  part *parts;
  size_t nparts;
  int explicit_, uses_slot;
};

static int add_part(cli_template *t, part p) {
  part *np = realloc(t->parts, (t->nparts + 1) * sizeof *np);
  if (!np) return -ENOMEM;
  t->parts = np;
  t->parts[t->nparts++] = p;
  return 0;
}

/* Parse "{...}" at s (s[0] == '{'); return its length or 0 if it is not a
 * replacement string. */
static size_t parse_repl(const char *s, part *p) {
  const char *q = s + 1;
  memset(p, 0, sizeof *p);
  if (q[0] == '#' && q[1] == '}') return p->kind = P_SEQ, 3;
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
    if (col == 0) return 0;
    if (neg) col = -col;
  }
  p->col = col;
  static const struct { const char *s; cli_transform t; } tails[] = {
      {"}", CLI_T_WHOLE}, {".}", CLI_T_NOEXT}, {"/}", CLI_T_BASE},
      {"//}", CLI_T_DIR}, {"/.}", CLI_T_BASE_NOEXT}};
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
    size_t l = strlen(tails[i].s);
    if (!strncmp(q, tails[i].s, l)) {
      p->tr = tails[i].t;
      return (size_t)(q - s) + l;
    }
  }
  return 0;
}

int cli_template_new(char *const *words, size_t n, cli_template **out) {
  *out = NULL;
  cli_template *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  cli_buf b = {0};
  for (size_t i = 0; i < n; i++)
    if ((i && cli_buf_addc(&b, ' ')) || cli_buf_adds(&b, words[i])) goto oom;
  if (!b.data && cli_buf_add(&b, "", 0)) goto oom;
  t->text = b.data;
  size_t lit = 0, i = 0;
  while (t->text[i]) {
    part p;
    size_t l = t->text[i] == '{' ? parse_repl(t->text + i, &p) : 0;
    if (!l) {
      i++;
      continue;
    }
    if (i > lit && add_part(t, (part){.kind = P_TEXT, .off = lit, .len = i - lit}))
      goto oom2;
    if (add_part(t, p)) goto oom2;
    t->explicit_ = 1; /* {#} and {%} count too, as in GNU parallel */
    if (p.kind == P_SLOT) t->uses_slot = 1;
    i += l;
    lit = i;
  }
  if (i > lit && add_part(t, (part){.kind = P_TEXT, .off = lit, .len = i - lit}))
    goto oom2;
  if (!t->explicit_) {
    /* GNU parallel appends the inputs only when the template has no
     * replacement string at all. */
    if (n && add_part(t, (part){.kind = P_TEXT, .off = i, .len = 0})) goto oom2;
    if (add_part(t, (part){.kind = P_ARG, .col = 0, .tr = CLI_T_WHOLE})) goto oom2;
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

void cli_template_free(cli_template *t) {
  if (!t) return;
  free(t->text);
  free(t->parts);
  free(t);
}

int cli_template_explicit(const cli_template *t) { return t->explicit_; }
int cli_template_uses_slot(const cli_template *t) { return t->uses_slot; }

/* POSIX dirname (what Perl's File::Basename::dirname gives GNU parallel). */
static int dirname_of(const char *v, cli_buf *out) {
  size_t n = strlen(v);
  while (n > 1 && v[n - 1] == '/') n--;          /* trailing slashes */
  while (n > 0 && v[n - 1] != '/') n--;          /* the last component */
  if (n == 0) return cli_buf_adds(out, ".");
  while (n > 1 && v[n - 1] == '/') n--;          /* slashes before it */
  return cli_buf_add(out, v, n);
}

int cli_transform_apply(cli_transform t, const char *v, cli_buf *out) {
  const char *base = strrchr(v, '/');
  base = base ? base + 1 : v;
  switch (t) {
  case CLI_T_WHOLE: return cli_buf_adds(out, v);
  case CLI_T_BASE: return cli_buf_adds(out, base);
  case CLI_T_DIR: return dirname_of(v, out);
  case CLI_T_NOEXT: {
    const char *dot = strrchr(base, '.');
    return cli_buf_add(out, v, dot ? (size_t)(dot - v) : strlen(v));
  }
  case CLI_T_BASE_NOEXT: {
    const char *dot = strrchr(base, '.');
    return cli_buf_add(out, base, dot ? (size_t)(dot - base) : strlen(base));
  }
  }
  return -EINVAL;
}

static int add_value(const part *p, const char *v, cli_buf *tmp, cli_buf *out) {
  cli_buf_reset(tmp);
  int rc = cli_transform_apply(p->tr, v, tmp);
  if (!rc) rc = cli_shell_quote(out, tmp->data ? tmp->data : "", tmp->len);
  return rc;
}

int cli_template_expand(const cli_template *t, const cli_args *a, cli_buf *out) {
  cli_buf tmp = {0};
  int rc = 0;
  for (size_t i = 0; i < t->nparts && !rc; i++) {
    const part *p = &t->parts[i];
    switch (p->kind) {
    case P_TEXT:
      rc = cli_buf_add(out, t->text + p->off, p->len);
      if (!rc && p->len == 0) rc = cli_buf_addc(out, ' '); /* appended {} */
      break;
    case P_SEQ: rc = cli_buf_printf(out, "%llu", (unsigned long long)a->seq); break;
    case P_SLOT: rc = cli_buf_printf(out, "%u", a->slot); break;
    case P_ARG:
      if (p->col == 0) {
        for (size_t k = 0; k < a->n && !rc; k++) {
          if (k) rc = cli_buf_addc(out, ' ');
          if (!rc) rc = add_value(p, a->v[k], &tmp, out);
        }
        if (a->n == 0 && !rc) rc = cli_buf_adds(out, "''");
      } else {
        long idx = p->col > 0 ? p->col - 1 : (long)a->n + p->col;
        /* GNU parallel: a position with no input expands to nothing. */
        if (idx >= 0 && (size_t)idx < a->n) rc = add_value(p, a->v[idx], &tmp, out);
      }
      break;
    }
  }
  cli_buf_free(&tmp);
  return rc;
}

void cli_args_free(cli_args *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) free(a->v[i]);
  free(a->v);
  a->v = NULL;
  a->n = 0;
}
