/* Termination sequences (proc.h). */
#include "proc.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const struct { const char *name; int sig; } signames[] = {
    {"TERM", SIGTERM}, {"KILL", SIGKILL}, {"INT", SIGINT}, {"HUP", SIGHUP},
    {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"PIPE", SIGPIPE}, {"ABRT", SIGABRT},
    {"SEGV", SIGSEGV}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}};

const char *cli_signame(int sig, char *buf, size_t len) {
  for (size_t i = 0; i < sizeof signames / sizeof *signames; i++)
    if (signames[i].sig == sig) return signames[i].name;
  snprintf(buf, len, "%d", sig);
  return buf;
}

static int parse_sig(const char *s, size_t n) {
  if (n > 3 && !strncasecmp(s, "SIG", 3)) s += 3, n -= 3;
  if (n && isdigit((unsigned char)*s)) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
      if (!isdigit((unsigned char)s[i])) return -1;
      v = v * 10 + (s[i] - '0');
      if (v > 64) return -1;
    }
    return v > 0 ? v : -1;
  }
  for (size_t i = 0; i < sizeof signames / sizeof *signames; i++)
    if (strlen(signames[i].name) == n && !strncasecmp(s, signames[i].name, n))
      return signames[i].sig;
  return -1;
}

void cli_termseq_default(cli_termseq *ts) {
  memset(ts, 0, sizeof *ts);
  ts->step[0].sig = SIGTERM;
  ts->step[0].wait_ns = 2 * CLI_NS_PER_SEC;
  ts->step[1].sig = SIGKILL;
  ts->step[1].wait_ns = 0;
  ts->n = 2;
}

int cli_termseq_parse(const char *s, cli_termseq *ts, char *err, size_t errlen) {
  memset(ts, 0, sizeof *ts);
  const char *p = s;
  int want_sig = 1;
  while (*p) {
    size_t n = strcspn(p, ",");
    char tok[64];
    if (n == 0 || n >= sizeof tok) goto bad;
    memcpy(tok, p, n);
    tok[n] = 0;
    if (want_sig) {
      int sig = parse_sig(tok, n);
      if (sig < 0 || ts->n == CLI_TERMSEQ_MAX) goto bad;
      ts->step[ts->n].sig = sig;
      ts->step[ts->n].wait_ns = 0;
      ts->n++;
      want_sig = 0;
    } else {
      int64_t ns;
      uint64_t ms;
      if (cli_parse_u64(tok, &ms) == 0) ns = (int64_t)ms * CLI_NS_PER_MS;
      else if (cli_parse_duration(tok, &ns) != 0) {
        /* Not a time: a signal right after a signal, wait 0. */
        int sig = parse_sig(tok, n);
        if (sig < 0 || ts->n == CLI_TERMSEQ_MAX) goto bad;
        ts->step[ts->n].sig = sig;
        ts->n++;
        p += n;
        if (*p) p++;
        continue;
      }
      ts->step[ts->n - 1].wait_ns = ns;
      want_sig = 1;
    }
    p += n;
    if (*p) {
      p++;
      if (!*p) goto bad;
    }
  }
  if (ts->n == 0) goto bad;
  return 0;
bad:
  snprintf(err, errlen,
           "cannot read --term-seq '%s': write signals and waits, e.g. "
           "--term-seq TERM,2s,KILL (bare numbers are milliseconds)", s);
  return -1;
}

