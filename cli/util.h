/* Small helpers of the corral command: growable buffers, durations, shell
 * quoting. No runtime dependency, so they are unit-tested on their own. */
#ifndef CORRAL_CLI_UTIL_H
#define CORRAL_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define CLI_NS_PER_MS 1000000LL
#define CLI_NS_PER_SEC 1000000000LL

/* A growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct cli_buf {
  char *data;
  size_t len, cap;
} cli_buf;

int cli_buf_add(cli_buf *b, const void *p, size_t n); /* 0 or -ENOMEM */
int cli_buf_adds(cli_buf *b, const char *s);
int cli_buf_addc(cli_buf *b, char c);
int cli_buf_printf(cli_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_buf_reset(cli_buf *b); /* len = 0, keeps the memory */
void cli_buf_free(cli_buf *b);
/* Drop the first n bytes. */
void cli_buf_consume(cli_buf *b, size_t n);

/* Append s[0..n) as text for a terminal line: a tab, CR or LF becomes a
 * space, any other control character (ESC included: a job's text must not
 * drive the terminal) and any byte that is not a character of the locale
 * (LC_CTYPE) becomes '?'. At most `cols` columns, counted with wcwidth(3)
 * (cols < 0: no limit); a cut shows '~' in the last column. Returns the
 * columns used. */
int cli_buf_add_visible(cli_buf *b, const char *s, size_t n, int cols);

/* Parse a duration: a bare number is seconds ("2", "0.5"); units ns, us,
 * ms, s, m, h, d, also combined ("1m30s", GNU parallel's "1d2h"). Stores
 * nanoseconds in *ns. Returns 0, or -1 for anything else (empty, negative,
 * unknown unit, overflow). */
int cli_parse_duration(const char *s, int64_t *ns);
/* Format a duration for people: "850ms", "2.4s", "3m05s", "1h02m". */
void cli_format_duration(int64_t ns, char *buf, size_t len);

/* Parse a non-negative decimal integer that fits in *out; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);

/* Append s quoted for a POSIX shell the way GNU parallel quotes a
 * replacement string: words made only of [A-Za-z0-9_+-./] as they are, the
 * empty string as '', anything else in single quotes with ' written as
 * '"'"'. */
int cli_shell_quote(cli_buf *b, const char *s, size_t n);

/* 1 if cmd can run without a shell: only plain words separated by single
 * spaces, no shell syntax, and a first word that is not a shell builtin or
 * keyword (POSIX's and bash's) nor a function the shell exported
 * (BASH_FUNC_name%% in the environment). Then *argv (malloc'd, NULL-terminated, pointing into *storage)
 * holds the words. Used to exec simple commands directly, as sh -c would
 * after its own parse (same argv, one fork+exec less). */
int cli_split_simple(const char *cmd, char ***argv, char **storage);

#endif
