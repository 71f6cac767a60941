/* Command templates with GNU parallel's replacement strings:
 *   {}    the input (several inputs: each one, quoted, space separated)
 *   {.}   input without extension     {/}   basename
 *   {//}  dirname (POSIX rules)       {/.}  basename without extension
 *   {#}   job sequence number         {%}   job slot number
 *   {##}  total number of jobs        {0}   the same as {}
 *   {n} {n.} {n/} {n//} {n/.}         the same on input n (1-based; -n
 *                                     counts from the end)
 *   {..} {...} {/..} {/...}           without two / three extensions
 *   {+/} {+.} {+..}                   the dirname / the extension(s) they
 *                                     remove (GNU parallel's --plus set)
 *   {NAME}                            with --header: the column named NAME
 * Values are shell-quoted as GNU parallel quotes them. When a template has
 * none of them, " {}" is appended (GNU parallel's rule). */
#ifndef CORRAL_CLI_TEMPLATE_H
#define CORRAL_CLI_TEMPLATE_H

#include "util.h"

#include <stdint.h>

typedef struct cli_template cli_template;

/* What one job is expanded from. */
typedef struct cli_args {
  char **v;     /* the job's input values (columns / one per source) */
  size_t n;
  uint64_t seq; /* {#}, 1-based */
  unsigned slot; /* {%}, 1-based */
  uint64_t total; /* {##}: 0 when unknown */
  const char *const *names; /* --header: the name of each column (borrowed) */
  size_t nnames;
  size_t width; /* values per input record (0: all of them are one) */
} cli_args;

#define CLI_TMPL_NO_APPEND 1 /* --pipe: no " {}" appended */
#define CLI_TMPL_CONTEXT 2   /* -X: a word with {} is repeated per value */
#define CLI_TMPL_HEADER 4    /* --header: {NAME} is a replacement string */
#define CLI_TMPL_RAW 8       /* --tagstring: values not shell-quoted */
#define CLI_TMPL_PLUS 16     /* --plus: also {:-x} {:N} {:N:M} {#x} {%x} {/x/y}
                                {^x} {^^x} {,x} {,,x} on {} (strings literal) */

/* Compile the template from the command words (joined with single spaces,
 * as GNU parallel does). Returns 0 or -ENOMEM. */
int cli_template_new(char *const *words, size_t n, cli_template **out);
int cli_template_new_ex(char *const *words, size_t n, int flags, cli_template **out);
void cli_template_free(cli_template *t);
/* Append the command for a to out. 0 or -ENOMEM. */
int cli_template_expand(const cli_template *t, const cli_args *a, cli_buf *out);
/* 1 if the template used a replacement string (else {} was appended). */
int cli_template_explicit(const cli_template *t);
/* 1 if it uses {%} (the slot must be known before expanding). */
int cli_template_uses_slot(const cli_template *t);
/* 1 if it uses {##} (the total must be known before expanding). */
int cli_template_uses_total(const cli_template *t);
/* -m / -X: the length of the command for a, and how much one more value v
 * adds to it. */
size_t cli_template_length(const cli_template *t, const cli_args *a);
size_t cli_template_value_cost(const cli_template *t, const char *v);
/* 0, or -EINVAL with a message saying what to write instead when the
 * words use a replacement string corral does not run ({= perl =}). */
int cli_template_check(char *const *words, size_t n, char *err, size_t errlen);

/* -q: the word w quoted for the shell as one word, its replacement strings
 * left to be filled (GNU parallel's --quote). 0 or -ENOMEM. */
int cli_template_quote_word(const char *w, cli_buf *out);

/* The transformations on one value, for tests and --results names. */
typedef enum {
  CLI_T_WHOLE, CLI_T_NOEXT, CLI_T_BASE, CLI_T_DIR, CLI_T_BASE_NOEXT,
  CLI_T_NOEXT2, CLI_T_NOEXT3, CLI_T_BASE_NOEXT2, CLI_T_BASE_NOEXT3,
  CLI_T_PLUS_DIR, CLI_T_EXT, CLI_T_EXT2
} cli_transform;
int cli_transform_apply(cli_transform t, const char *v, cli_buf *out);

void cli_args_free(cli_args *a);

#endif
