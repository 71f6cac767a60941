/* Small helpers of the corral command (see util.h). */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

static int buf_grow(cli_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) return -ENOMEM;
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p) return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int cli_buf_add(cli_buf *b, const void *p, size_t n) {
  if (buf_grow(b, n)) return -ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

int cli_buf_adds(cli_buf *b, const char *s) { return cli_buf_add(b, s, strlen(s)); }

int cli_buf_addc(cli_buf *b, char c) { return cli_buf_add(b, &c, 1); }

int cli_buf_printf(cli_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return -EINVAL;
  if (buf_grow(b, (size_t)n)) return -ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void cli_buf_reset(cli_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

void cli_buf_free(cli_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void cli_buf_consume(cli_buf *b, size_t n) {
  if (n >= b->len) {
    cli_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = 0;
}

int cli_parse_u64(const char *s, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s)) return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int cli_parse_duration(const char *s, int64_t *ns) {
  if (!s || !*s) return -1;
  double total = 0;
  const char *p = s;
  int parts = 0;
  while (*p) {
    if (!isdigit((unsigned char)*p) && *p != '.') return -1;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (errno || end == p || !isfinite(v) || v < 0) return -1;
    p = end;
    double unit;
    if (!*p) {
      if (parts) return -1; /* "1m30": a trailing bare number is ambiguous */
      unit = 1e9;
    } else if (!strncmp(p, "ns", 2)) unit = 1, p += 2;
    else if (!strncmp(p, "us", 2)) unit = 1e3, p += 2;
    else if (!strncmp(p, "ms", 2)) unit = 1e6, p += 2;
    else if (*p == 's') unit = 1e9, p++;
    else if (*p == 'm') unit = 60e9, p++;
    else if (*p == 'h') unit = 3600e9, p++;
    else if (*p == 'd') unit = 86400e9, p++;
    else return -1;
    total += v * unit;
    parts++;
  }
  if (total > 9.2e18) return -1;
  *ns = (int64_t)llround(total);
  return 0;
}

void cli_format_duration(int64_t ns, char *buf, size_t len) {
  if (ns < 0) ns = 0;
  if (ns < CLI_NS_PER_SEC)
    snprintf(buf, len, "%lldms", (long long)(ns / CLI_NS_PER_MS));
  else if (ns < 60 * CLI_NS_PER_SEC)
    snprintf(buf, len, "%.1fs", (double)ns / 1e9);
  else if (ns < 3600 * CLI_NS_PER_SEC) {
    long long s = ns / CLI_NS_PER_SEC;
    snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
  } else {
    long long m = ns / (60 * CLI_NS_PER_SEC);
    snprintf(buf, len, "%lldh%02lldm", m / 60, m % 60);
  }
}

static int safe_char(unsigned char c) {
  return isalnum(c) || c == '_' || c == '+' || c == '-' || c == '.' || c == '/';
}

int cli_shell_quote(cli_buf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n && safe_char((unsigned char)s[i]) && (s[i] & 0x80) == 0; i++) {
  }
  if (n && i == n) return cli_buf_add(b, s, n);
  int rc = cli_buf_addc(b, '\'');
  for (i = 0; i < n && !rc; i++) {
    if (s[i] == '\'') rc = cli_buf_adds(b, "'\"'\"'");
    else rc = cli_buf_addc(b, s[i]);
  }
  if (!rc) rc = cli_buf_addc(b, '\'');
  return rc;
}

/* Words a shell treats specially as the first word of a command. */
static const char *const shell_words[] = {
    "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for",
    "function", "if", "in", "then", "until", "while", "select", "time",
    ".", ":", "alias", "bg", "break", "cd", "command", "continue", "eval",
    "exec", "exit", "export", "fc", "fg", "getopts", "hash", "jobs", "local",
    "read", "readonly", "return", "set", "shift", "source", "trap", "type",
    "ulimit", "umask", "unalias", "unset", "wait",
    /* bash's own (the commands run in the shell corral was started from) */
    "coproc", "declare", "typeset", "let", "shopt", "mapfile", "readarray",
    "pushd", "popd", "dirs", "compgen", "complete", "compopt", "help",
    "enable", "disown", "bind", "builtin", "caller", "history", "logout",
    "suspend", "times", "printf", NULL};

/* A function the shell exports (bash: BASH_FUNC_name%%=() { ... }, or
 * name()= before bash 4.3's format; GNU parallel's tutorial's `export -f`):
 * the command must run in the shell, where the function is defined. */
static int exported_function(const char *w, size_t n) {
  extern char **environ;
  for (char **ev = environ; *ev; ev++) {
    if (strncmp(*ev, "BASH_FUNC_", 10) != 0) continue;
    const char *name = *ev + 10;
    if (!strncmp(name, w, n) && (!strncmp(name + n, "%%=", 3) || !strncmp(name + n, "()=", 3)))
      return 1;
  }
  return 0;
}

int cli_split_simple(const char *cmd, char ***argv_out, char **storage) {
  *argv_out = NULL;
  *storage = NULL;
  size_t n = strlen(cmd), words = 0;
  if (!n) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)cmd[i];
    if (c == ' ') {
      if (i == 0 || i == n - 1 || cmd[i + 1] == ' ') return 0;
      continue;
    }
    if (!(isalnum(c) || strchr("_+-./,:@%", c))) return 0;
    if (i == 0 || cmd[i - 1] == ' ') words++;
  }
  /* First word: no assignment (has no '=' anyway), not a builtin. */
  size_t w0 = strcspn(cmd, " ");
  for (const char *const *k = shell_words; *k; k++)
    if (strlen(*k) == w0 && !strncmp(cmd, *k, w0)) return 0;
  if (exported_function(cmd, w0)) return 0;
  char *st = strdup(cmd);
  char **argv = calloc(words + 1, sizeof *argv);
  if (!st || !argv) {
    free(st);
    free(argv);
    return -ENOMEM;
  }
  size_t k = 0;
  for (char *tok = strtok(st, " "); tok; tok = strtok(NULL, " ")) argv[k++] = tok;
  *argv_out = argv;
  *storage = st;
  return 1;
}

/* One character of s[i..n): what to append (*put, *plen) and its columns. */
static size_t visible_next(const char *s, size_t n, size_t i, mbstate_t *st, const char **put,
                           size_t *plen, int *w) {
  unsigned char c = (unsigned char)s[i];
  if (c < 0x80) { /* ASCII without the locale's help */
    *put = c == '\t' || c == '\r' || c == '\n' ? " " : c < 0x20 || c == 0x7f ? "?" : s + i;
    *plen = 1;
    *w = 1;
    return 1;
  }
  wchar_t wc;
  size_t k = mbrtowc(&wc, s + i, n - i, st);
  if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
    memset(st, 0, sizeof *st);
    *put = "?", *plen = 1, *w = 1;
    return 1;
  }
  int cw = iswcntrl((wint_t)wc) ? -1 : wcwidth(wc);
  if (cw < 0) *put = "?", *plen = 1, *w = 1;
  else *put = s + i, *plen = k, *w = cw;
  return k;
}

int cli_buf_add_visible(cli_buf *b, const char *s, size_t n, int cols) {
  mbstate_t st;
  const char *put;
  size_t plen;
  int w, total = 0;
  if (cols >= 0) { /* does all of it fit? */
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < n && total <= cols;) {
      i += visible_next(s, n, i, &st, &put, &plen, &w);
      total += w;
    }
  }
  int cut = cols >= 0 && total > cols, limit = cut ? cols - 1 : cols, used = 0;
  memset(&st, 0, sizeof st);
  for (size_t i = 0; i < n;) {
    size_t k = visible_next(s, n, i, &st, &put, &plen, &w);
    if (cols >= 0 && used + w > limit) break;
    cli_buf_add(b, put, plen);
    used += w;
    i += k;
  }
  if (cut && cols > 0) {
    cli_buf_addc(b, '~');
    used++;
  }
  return used;
}
