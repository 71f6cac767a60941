/* Command-line parsing of the corral command (opts.h). */
#include "opts.h"
#include "joblog.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
  O_TIMEOUT = 256, O_DEADLINE, O_RETRIES, O_RETRY_DELAY, O_DELAY, O_TERMSEQ,
  O_HALT, O_POLICY, O_LINEBUF, O_TAG, O_RESULTS, O_JOBLOG, O_RESUME,
  O_RESUME_FAILED, O_JSON, O_DRYRUN, O_SHARD, O_COLSEP, O_COMMANDS, O_VIEW,
  O_NOVIEW, O_SUMMARY, O_NO_DIRECT, O_NO_CGROUP, O_HEDGE, O_TMPDIR, O_LINK, O_PIPE,
  O_BLOCK, O_RECEND, O_RECSTART, O_TRIM, O_HEADER, O_PLUS, O_SHUF,
  /* GNU parallel's options that corral accepts with nothing to do, and
   * those it refuses with a reason (refused[] below) */
  O_ACCEPT, O_ACCEPT_ARG, O_REFUSE, O_REFUSE_ARG, O_VERBOSE, O_TAGSTRING, O_CTAG,
  O_WORKDIR, O_NCPU, O_RETRY_FAILED, O_BNR, O_BNER, O_DNR, O_ER, O_SEQR, O_SLOTR
};

static const struct option longopts[] = {
    {"jobs", required_argument, 0, 'j'},
    {"max-procs", required_argument, 0, 'j'},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"deadline", required_argument, 0, O_DEADLINE},
    {"retries", required_argument, 0, O_RETRIES},
    {"retry-delay", required_argument, 0, O_RETRY_DELAY},
    {"delay", required_argument, 0, O_DELAY},
    {"term-seq", required_argument, 0, O_TERMSEQ},
    {"termseq", required_argument, 0, O_TERMSEQ},
    {"halt", required_argument, 0, O_HALT},
    {"halt-on-error", required_argument, 0, O_HALT},
    {"policy", required_argument, 0, O_POLICY},
    {"keep-order", no_argument, 0, 'k'},
    {"line-buffer", no_argument, 0, O_LINEBUF},
    {"lb", no_argument, 0, O_LINEBUF},
    {"tag", no_argument, 0, O_TAG},
    {"ungroup", no_argument, 0, 'u'},
    {"results", required_argument, 0, O_RESULTS},
    {"joblog", required_argument, 0, O_JOBLOG},
    {"resume", no_argument, 0, O_RESUME},
    {"resume-failed", no_argument, 0, O_RESUME_FAILED},
    {"retry-failed", no_argument, 0, O_RETRY_FAILED},
    {"json", optional_argument, 0, O_JSON},
    {"dry-run", no_argument, 0, O_DRYRUN},
    {"dryrun", no_argument, 0, O_DRYRUN},
    {"basenamereplace", required_argument, 0, O_BNR},
    {"bnr", required_argument, 0, O_BNR},
    {"basenameextensionreplace", required_argument, 0, O_BNER},
    {"bner", required_argument, 0, O_BNER},
    {"dirnamereplace", required_argument, 0, O_DNR},
    {"dnr", required_argument, 0, O_DNR},
    {"extensionreplace", required_argument, 0, O_ER},
    {"er", required_argument, 0, O_ER},
    {"seqreplace", required_argument, 0, O_SEQR},
    {"slotreplace", required_argument, 0, O_SLOTR},
    {"use-cpus-instead-of-cores", no_argument, 0, O_ACCEPT},
    {"shard", required_argument, 0, O_SHARD},
    {"null", no_argument, 0, '0'},
    {"arg-file", required_argument, 0, 'a'},
    {"colsep", required_argument, 0, O_COLSEP},
    {"commands", no_argument, 0, O_COMMANDS},
    {"view", no_argument, 0, O_VIEW},
    {"no-view", no_argument, 0, O_NOVIEW},
    {"summary", no_argument, 0, O_SUMMARY},
    {"no-direct-exec", no_argument, 0, O_NO_DIRECT},
    {"no-cgroup", no_argument, 0, O_NO_CGROUP},
    {"hedge", no_argument, 0, O_HEDGE},
    {"tmpdir", required_argument, 0, O_TMPDIR},
    {"link", no_argument, 0, O_LINK},
    {"xapply", no_argument, 0, O_LINK},
    {"max-args", required_argument, 0, 'n'},
    {"max-replace-args", required_argument, 0, 'N'},
    {"max-lines", required_argument, 0, 'L'},
    {"max-chars", required_argument, 0, 's'},
    {"xargs", no_argument, 0, 'm'},
    {"pipe", no_argument, 0, O_PIPE},
    {"spreadstdin", no_argument, 0, O_PIPE},
    {"block", required_argument, 0, O_BLOCK},
    {"block-size", required_argument, 0, O_BLOCK},
    {"recend", required_argument, 0, O_RECEND},
    {"recstart", required_argument, 0, O_RECSTART},
    {"delimiter", required_argument, 0, 'd'},
    {"trim", required_argument, 0, O_TRIM},
    {"header", required_argument, 0, O_HEADER},
    {"plus", no_argument, 0, O_PLUS},
    {"shuf", no_argument, 0, O_SHUF},
    {"verbose", no_argument, 0, O_VERBOSE},
    {"group", no_argument, 0, O_ACCEPT},
    {"no-notice", no_argument, 0, O_ACCEPT},
    {"env", required_argument, 0, O_ACCEPT_ARG},
    {"quote", no_argument, 0, 'q'},
    {"tagstring", required_argument, 0, O_TAGSTRING},
    {"ctag", no_argument, 0, O_CTAG},
    {"colour-tag", no_argument, 0, O_CTAG},
    {"color-tag", no_argument, 0, O_CTAG},
    {"linebuffer", no_argument, 0, O_LINEBUF},
    {"workdir", required_argument, 0, O_WORKDIR},
    {"wd", required_argument, 0, O_WORKDIR},
    {"will-cite", no_argument, 0, O_ACCEPT},
    {"plain", no_argument, 0, O_ACCEPT},
    {"silent", no_argument, 0, O_ACCEPT},
    {"no-run-if-empty", no_argument, 0, 'r'},
    {"bar", no_argument, 0, O_ACCEPT},
    {"eta", no_argument, 0, O_ACCEPT},
    {"progress", no_argument, 0, O_ACCEPT},
    {"number-of-cpus", no_argument, 0, O_NCPU},
    {"number-of-cores", no_argument, 0, O_NCPU},
    {"number-of-threads", no_argument, 0, O_NCPU},
    {"nonall", no_argument, 0, O_REFUSE},
    {"onall", no_argument, 0, O_REFUSE},
    {"tmux", no_argument, 0, O_REFUSE},
    {"sshlogin", required_argument, 0, O_REFUSE_ARG},
    {"sshloginfile", required_argument, 0, O_REFUSE_ARG},
    {"slf", required_argument, 0, O_REFUSE_ARG},
    {"basefile", required_argument, 0, O_REFUSE_ARG},
    {"return", required_argument, 0, O_REFUSE_ARG},
    {"transferfile", required_argument, 0, O_REFUSE_ARG},
    {"trc", required_argument, 0, O_REFUSE_ARG},
    {"transfer", no_argument, 0, O_REFUSE},
    {"cleanup", no_argument, 0, O_REFUSE},
    {"nice", required_argument, 0, O_REFUSE_ARG},
    {"load", required_argument, 0, O_REFUSE_ARG},
    {"memfree", required_argument, 0, O_REFUSE_ARG},
    {"compress", no_argument, 0, O_REFUSE},
    {"files", no_argument, 0, O_REFUSE},
    {"fifo", no_argument, 0, O_REFUSE},
    {"cat", no_argument, 0, O_REFUSE},
    {"pipepart", no_argument, 0, O_REFUSE},
    {"pipe-part", no_argument, 0, O_REFUSE},
    {"round-robin", no_argument, 0, O_REFUSE},
    {"roundrobin", no_argument, 0, O_REFUSE},
    {"tty", no_argument, 0, O_REFUSE},
    {"semaphore", no_argument, 0, O_REFUSE},
    {"shellquote", no_argument, 0, O_REFUSE},
    {"group-by", required_argument, 0, O_REFUSE_ARG},
    {"tee", no_argument, 0, O_REFUSE},
    {"filter", required_argument, 0, O_REFUSE_ARG},
    {"rpl", required_argument, 0, O_REFUSE_ARG},
    {"arg-sep", required_argument, 0, O_REFUSE_ARG},
    {"arg-file-sep", required_argument, 0, O_REFUSE_ARG},
    {"eof", optional_argument, 0, 'E'},
    {"sqlmaster", required_argument, 0, O_REFUSE_ARG},
    {"sqlworker", required_argument, 0, O_REFUSE_ARG},
    {"sqlandworker", required_argument, 0, O_REFUSE_ARG},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0}};

/* GNU parallel's options corral refuses, and what to write instead. */
static const struct {
  const char *name, *why;
} refused[] = {
    {"nonall", "--nonall runs on remote hosts: corral runs jobs on this machine only"},
    {"onall", "--onall runs on remote hosts: corral runs jobs on this machine only"},
    {"tmux", "--tmux is not in corral: write --results DIR to keep each job's output"},
    {"sshlogin", "--sshlogin runs jobs on remote hosts: corral runs them on this machine only"},
    {"sshloginfile", "--sshloginfile lists remote hosts: corral runs jobs on this machine only"},
    {"slf", "--slf lists remote hosts: corral runs jobs on this machine only"},
    {"basefile", "--basefile copies files to remote hosts: corral runs jobs on this machine only"},
    {"return", "--return fetches files from remote hosts: corral runs jobs on this machine only"},
    {"transferfile", "--transferfile copies files to remote hosts: corral runs jobs on this machine only"},
    {"transfer", "--transfer copies files to remote hosts: corral runs jobs on this machine only"},
    {"trc", "--trc copies files to and from remote hosts: corral runs jobs on this machine only"},
    {"cleanup", "--cleanup removes files on remote hosts: corral runs jobs on this machine only"},
    {"nice", "--nice is not in corral: write the command as 'nice -n N COMMAND', or run 'nice -n N corral ...'"},
    {"load", "--load is not in corral: write -j N to limit the jobs at once"},
    {"memfree", "--memfree is not in corral: write -j N to limit the jobs at once"},
    {"compress", "--compress is not in corral: write --tmpdir DIR for where a job's output past 64 KiB waits"},
    {"files", "--files is not in corral: write --results DIR to keep each job's output in files"},
    {"fifo", "--fifo is not in corral: write --pipe (each job reads its block on standard input)"},
    {"cat", "--cat is not in corral: write --pipe (each job reads its block on standard input)"},
    {"pipepart", "--pipepart is not in corral: write --pipe -a FILE"},
    {"pipe-part", "--pipe-part is not in corral: write --pipe -a FILE"},
    {"round-robin", "--round-robin is not in corral: write --pipe (one block per job)"},
    {"roundrobin", "--roundrobin is not in corral: write --pipe (one block per job)"},
    {"tty", "--tty is not in corral (a job's standard input is /dev/null): write -j 1 -u for output straight to the terminal"},
    {"semaphore", "--semaphore (sem) is not in corral: write the commands in one corral call (corral 'CMD1' 'CMD2')"},
    {"shellquote", "--shellquote is not in corral: write --dry-run to see the quoted commands"},
    {"group-by", "--group-by is not in corral: write sort -k1,1 FILE | corral --pipe ... (records of a group together)"},
    {"tee", "--tee is not in corral: write ::: for each command over the same input"},
    {"filter", "--filter is not in corral: write grep ... FILE | corral ... (filter the input first)"},
    {"rpl", "--rpl defines Perl replacement strings, which corral does not run: write the built-in ones ({} {.} {/} ...: corral --help)"},
    {"arg-sep", "--arg-sep is not in corral: write ::: (or -- before a value ':::')"},
    {"arg-file-sep", "--arg-file-sep is not in corral: write :::: or -a FILE"},
    {"sqlmaster", "--sqlmaster is not in corral: write --joblog FILE or --results NAME.csv"},
    {"sqlworker", "--sqlworker is not in corral: write --joblog FILE or --results NAME.csv"},
    {"sqlandworker", "--sqlandworker is not in corral: write --joblog FILE or --results NAME.csv"},
};

static void refuse(const char *arg, char *err, size_t errlen) {
  const char *name = arg + strspn(arg, "-");
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
    if (!strncmp(name, refused[i].name, strcspn(name, "="))) {
      snprintf(err, errlen, "%s", refused[i].why);
      return;
    }
  snprintf(err, errlen, "--%s is not in corral: see corral --help", name);
}

/* What to write instead of a bad option, in one line: a long option's
 * exact name (getopt_long also takes an unambiguous prefix), a value only
 * for an option that takes one. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), d[64];
  if (lb >= 63) return 99;
  for (size_t j = 0; j <= lb; j++) d[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = d[0];
    d[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t t = d[j];
      size_t best = prev + (a[i - 1] != b[j - 1]);
      if (d[j] + 1 < best) best = d[j] + 1;
      if (d[j - 1] + 1 < best) best = d[j - 1] + 1;
      d[j] = best;
      prev = t;
    }
  }
  return d[lb];
}

static void how_to_write(const struct option *o, char *buf, size_t len) {
  snprintf(buf, len, "--%s%s", o->name,
           o->has_arg == required_argument ? " VALUE" : o->has_arg == optional_argument ? "[=FILE]" : "");
}

static void bad_option(const char *arg, char *err, size_t errlen) {
  char how[64];
  if (!arg) arg = "?";
  if (strncmp(arg, "--", 2) != 0) { /* short options */
    char c = optopt > 0 && optopt < 256 ? (char)optopt : '?';
    if (strchr("jPaCnNLsdI", c))
      snprintf(err, errlen, "-%c needs a value: write e.g. -%c %s", c, c,
               strchr("jPnNLs", c) ? "4" : c == 'a' ? "FILE" : c == 'I' ? ",," : "','");
    else if (strchr("eil", c)) /* xargs' old forms of -E, -I, -L */
      snprintf(err, errlen, "unknown option -%c: write %s (see corral --help)", c,
               c == 'e' ? "-E STR (end-of-file string)" : c == 'i' ? "-I STR" : "-L N");
    else
      snprintf(err, errlen, "unknown option -%c: see corral --help", c);
    return;
  }
  const char *name = arg + 2, *eq = strchr(name, '=');
  size_t nl = eq ? (size_t)(eq - name) : strlen(name);
  const struct option *hit = NULL, *close = NULL;
  size_t nhit = 0, best = 3;
  char list[256] = "";
  for (const struct option *o = longopts; o->name; o++) {
    if (strlen(o->name) == nl && !strncmp(o->name, name, nl)) {
      hit = o, nhit = 1;
      break;
    }
    if (!strncmp(o->name, name, nl)) {
      hit = o, nhit++;
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s--%s", l ? ", " : "", o->name);
    }
  }
  if (nhit > 1) {
    snprintf(err, errlen, "option '--%.*s' is ambiguous: write one of %s", (int)nl, name, list);
    return;
  }
  if (hit && eq && hit->has_arg == no_argument) {
    snprintf(err, errlen, "--%s takes no value: write --%s alone", hit->name, hit->name);
    return;
  }
  if (hit) {
    how_to_write(hit, how, sizeof how);
    snprintf(err, errlen, "--%s needs a value: write %s", hit->name, how);
    return;
  }
  char word[64];
  snprintf(word, sizeof word, "%.*s", (int)(nl < 63 ? nl : 63), name);
  for (const struct option *o = longopts; o->name; o++) {
    size_t d = edit_distance(word, o->name);
    if (d < best) best = d, close = o;
  }
  if (close) {
    how_to_write(close, how, sizeof how);
    snprintf(err, errlen, "unknown option '--%s': did you mean %s? (see corral --help)", word, how);
  } else {
    snprintf(err, errlen, "unknown option '--%s': see corral --help", word);
  }
}

/* -I STR: STR in the command words stands for {} (GNU parallel, xargs). */
/* -I STR and GNU parallel's --bnr, --bner, --dnr, --er, --seqreplace,
 * --slotreplace: each STR in the command words stands for its replacement
 * string ({}, {/}, {/.}, {//}, {.}, {#}, {%}). */
#define CLI_NREPL 7
static const char *const repl_for[CLI_NREPL] = {"{}", "{/}", "{/.}", "{//}", "{.}", "{#}", "{%}"};
static int replace_words(cli_parsed *p, const char *const *rs) {
  if (!(p->iwords = calloc(p->nwords + 1, sizeof *p->iwords))) return -1;
  for (size_t k = 0; k < p->nwords; k++) {
    const char *w = p->words[k];
    cli_buf b = {0};
    int rc = 0;
    while (*w && !rc) {
      size_t best = 0;
      int which = -1;
      for (int r = 0; r < CLI_NREPL; r++) {
        size_t l = rs[r] ? strlen(rs[r]) : 0;
        if (l > best && !strncmp(w, rs[r], l)) best = l, which = r;
      }
      if (which >= 0) {
        rc = cli_buf_adds(&b, repl_for[which]);
        w += best;
      } else {
        rc = cli_buf_addc(&b, *w++);
      }
    }
    if (rc || cli_buf_adds(&b, "")) {
      cli_buf_free(&b);
      return -1;
    }
    p->iwords[k] = b.data;
  }
  p->words = p->iwords;
  return 0;
}

/* -q: each command word quoted as one shell word (GNU parallel's --quote). */
static int quote_words(cli_parsed *p) {
  char **w = calloc(p->nwords + 1, sizeof *w);
  if (!w) return -1;
  for (size_t k = 0; k < p->nwords; k++) {
    cli_buf b = {0};
    if (cli_template_quote_word(p->words[k], &b) || cli_buf_addc(&b, 0)) {
      cli_buf_free(&b);
      for (size_t i = 0; i < k; i++) free(w[i]);
      free(w);
      return -1;
    }
    w[k] = b.data;
  }
  if (p->iwords)
    for (size_t k = 0; p->iwords[k]; k++) free(p->iwords[k]);
  free(p->iwords);
  p->words = p->iwords = w;
  return 0;
}

static int add_src(cli_parsed *p, cli_source s) {
  cli_source *n = realloc(p->src, (p->nsrc + 1) * sizeof *n);
  if (!n) return -1;
  p->src = n;
  p->src[p->nsrc++] = s;
  return 0;
}

static int is_sep(const char *a) {
  return !strcmp(a, ":::") || !strcmp(a, "::::") || !strcmp(a, ":::+") || !strcmp(a, "::::+");
}

static unsigned ncpu(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

/* GNU parallel's -j: N, 0 (as many as possible), +N / -N (cores plus or
 * minus N), N% of the cores. */
static int parse_jobs(const char *s, unsigned *out) {
  uint64_t v;
  size_t n = strlen(s);
  if (n > 1 && s[n - 1] == '%') {
    char *end;
    double pct = strtod(s, &end);
    if (end != s + n - 1 || !(pct > 0)) return -1;
    double j = ncpu() * pct / 100.0;
    *out = j < 1 ? 1 : (unsigned)j;
    return 0;
  }
  if (s[0] == '+' || s[0] == '-') {
    if (cli_parse_u64(s + 1, &v)) return -1;
    long j = (long)ncpu() + (s[0] == '+' ? (long)v : -(long)v);
    if (j < 1) return -2; /* GNU parallel: "Cannot run any jobs." */
    *out = (unsigned)j;
    return 0;
  }
  if (cli_parse_u64(s, &v) || v > 100000) return -1;
  *out = v == 0 ? 1024 : (unsigned)v;
  return 0;
}

/* GNU parallel's sizes: k m g t are powers of 1000, K M G T of 1024. */
static int parse_size(const char *s, uint64_t *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || !(v > 0)) return -1;
  static const char units[] = "kmgt";
  double mul = 1;
  if (*end) {
    const char *u = strchr(units, *end | 0x20);
    if (!u || end[1]) return -1;
    for (const char *k = units; k <= u; k++) mul *= (*end >= 'a') ? 1000.0 : 1024.0;
  }
  v *= mul;
  if (v < 1 || v > (double)((uint64_t)1 << 40)) return -1;
  *out = (uint64_t)v;
  return 0;
}

static int parse_count(const char *opt, const char *s, size_t *out, char *err,
                       size_t errlen) {
  uint64_t v;
  if (cli_parse_u64(s, &v) || v > 100000000) {
    snprintf(err, errlen, "cannot read %s '%s': write %s N (a whole number, at most 100000000)",
             opt, s, opt);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

static int shard_from_env(uint64_t *i, uint64_t *n, int need_n) {
  const char *id = getenv("SLURM_ARRAY_TASK_ID");
  const char *cnt = getenv("SLURM_ARRAY_TASK_COUNT");
  const char *min = getenv("SLURM_ARRAY_TASK_MIN");
  uint64_t v, m = 0;
  if (id && cli_parse_u64(id, &v) == 0) {
    if (min && cli_parse_u64(min, &m) == 0 && m <= v) v -= m;
    *i = v;
    if (need_n) {
      if (!cnt || cli_parse_u64(cnt, n)) return -1;
    }
    return 0;
  }
  const char *k = getenv("JOB_COMPLETION_INDEX");
  if (k && cli_parse_u64(k, &v) == 0) {
    *i = v;
    return need_n ? -1 : 0; /* Kubernetes does not say N: --shard /N */
  }
  return -1;
}

static int parse_shard(const char *s, cli_config *c, char *err, size_t errlen) {
  uint64_t i = 0, n = 0;
  if (!strcmp(s, "auto")) {
    if (shard_from_env(&i, &n, 1)) {
      snprintf(err, errlen, "--shard auto needs SLURM_ARRAY_TASK_ID and "
               "SLURM_ARRAY_TASK_COUNT: write --shard I/N, or --shard /N with "
               "JOB_COMPLETION_INDEX");
      return -1;
    }
  } else if (s[0] == '/') {
    if (cli_parse_u64(s + 1, &n) || shard_from_env(&i, &n, 0)) {
      snprintf(err, errlen, "--shard /N takes the index from JOB_COMPLETION_INDEX or "
               "SLURM_ARRAY_TASK_ID, and none is set: write --shard I/N");
      return -1;
    }
  } else {
    const char *sl = strchr(s, '/');
    char a[32];
    if (!sl || (size_t)(sl - s) >= sizeof a) goto bad;
    memcpy(a, s, (size_t)(sl - s));
    a[sl - s] = 0;
    if (cli_parse_u64(a, &i) || cli_parse_u64(sl + 1, &n)) goto bad;
  }
  if (n == 0 || i >= n) goto bad;
  c->shard_i = i;
  c->shard_n = n;
  return 0;
bad:
  snprintf(err, errlen, "cannot read --shard '%s': write --shard I/N with 0 <= I < N "
           "(e.g. --shard 0/4), --shard auto or --shard /N", s);
  return -1;
}

int cli_parse_args(int argc, char **argv, cli_parsed *p, int stdin_tty,
                   int stdin_null, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  cli_config *c = &p->cfg;
  c->retries = 1;
  c->retry_delay_ns = 100 * CLI_NS_PER_MS;
  c->shell_direct = 1;
  c->cgroups = 1;
  c->in.sep = '\n';
  cli_termseq_default(&c->termseq);
  cli_policy_parse("all", &c->policy, err, errlen);
  p->view_opt = -1;
  int have_policy = 0, have_halt = 0, nafiles = 0, context = 0, replace_args = 0;
  const char *recend = NULL, *recstart = NULL, *delim = NULL;
  const char *replstr[CLI_NREPL] = {0}; /* -I, --bnr, --bner, --dnr, --er, --seqreplace, --slotreplace */
  int nrepl = 0;
  int quote = 0; /* -q */
  int trim_given = 0, keep = 0, linebuf = 0, ungroup = 0, plus = 0;
  char *tagstring = NULL;
  char **afiles = calloc((size_t)argc + 1, sizeof *afiles);
  if (!afiles) return snprintf(err, errlen, "out of memory"), CLI_EXIT_USAGE;
  optind = 0; /* 0: glibc starts afresh (state of an earlier parse is dropped) */
  opterr = 0;
  int ch, li = -1, rc;
  while ((ch = getopt_long(argc, argv, "+j:P:kua:0hVC:n:N:L:s:mXd:I:tqvrS:E:", longopts, &li)) != -1) {
    int64_t ns;
    uint64_t u;
    switch (ch) {
    case 'j':
    case 'P':
      if ((rc = parse_jobs(optarg, &c->jobs)) == -2) {
        snprintf(err, errlen, "-j %s leaves no job to run on %u cores: write a smaller N, "
                 "or -j 1", optarg, ncpu());
        goto usage;
      }
      if (rc) {
        snprintf(err, errlen, "cannot read -j '%s': write -j N (N jobs at once), -j 0, "
                 "-j +N, -j -N or -j N%%", optarg);
        goto usage;
      }
      break;
    case O_TIMEOUT: {
      size_t n = strlen(optarg);
      if (n > 1 && optarg[n - 1] == '%') {
        char *end;
        double pct = strtod(optarg, &end);
        if (end == optarg + n - 1 && pct > 0) {
          c->timeout_pct = pct;
          break;
        }
      } else if (cli_parse_duration(optarg, &ns) == 0 && ns > 0) {
        c->timeout_ns = ns;
        break;
      }
      snprintf(err, errlen, "cannot read --timeout '%s': write a duration such as "
               "--timeout 30s, 500ms, 2m, or a bare number of seconds, or N%% of "
               "the median job time (e.g. 200%%)", optarg);
      goto usage;
    }
    case O_DEADLINE:
      if (cli_parse_duration(optarg, &ns) || ns <= 0) {
        snprintf(err, errlen, "cannot read --deadline '%s': write a duration such as "
                 "--deadline 10m (units ms, s, m, h, d; a bare number is seconds)", optarg);
        goto usage;
      }
      c->deadline_ns = ns;
      break;
    case O_RETRIES:
      if (cli_parse_u64(optarg, &u) || u > 1000000) {
        snprintf(err, errlen, "cannot read --retries '%s': write --retries N (a job "
                 "runs at most N times)", optarg);
        goto usage;
      }
      c->retries = u ? (unsigned)u : 1;
      break;
    case O_RETRY_DELAY:
    case O_DELAY:
      if (cli_parse_duration(optarg, &ns)) {
        snprintf(err, errlen, "cannot read --%s '%s': write a duration such as 500ms, "
                 "2s or 1m (a bare number is seconds)",
                 ch == O_DELAY ? "delay" : "retry-delay", optarg);
        goto usage;
      }
      if (ch == O_DELAY) c->delay_ns = ns; else c->retry_delay_ns = ns;
      break;
    case O_TERMSEQ:
      if (cli_termseq_parse(optarg, &c->termseq, err, errlen)) goto usage;
      break;
    case O_HALT:
      if (have_policy) {
        snprintf(err, errlen, "--halt and --policy both say when to stop: keep one of them");
        goto usage;
      }
      if (cli_halt_parse(optarg, &c->policy, err, errlen)) goto usage;
      have_halt = 1;
      break;
    case O_POLICY:
      if (have_halt) {
        snprintf(err, errlen, "--halt and --policy both say when to stop: keep one of them");
        goto usage;
      }
      if (cli_policy_parse(optarg, &c->policy, err, errlen)) goto usage;
      have_policy = 1;
      break;
    case 'k': keep = 1; break;
    case O_LINEBUF: linebuf = 1; break;
    case O_TAG: c->tag = 1; break;
    case 'u': ungroup = 1; break;
    case O_RESULTS:
      if (!*optarg) {
        snprintf(err, errlen, "--results needs a name: write --results DIR (or NAME.csv, NAME.json)");
        goto usage;
      }
      c->results_dir = optarg;
      break;
    case O_JOBLOG: c->joblog = optarg; break;
    case O_RESUME: c->resume = 1; break;
    case O_RESUME_FAILED: c->resume_failed = 1; break;
    case O_RETRY_FAILED: c->retry_failed = 1; break;
    case O_JSON: c->json_path = optarg ? optarg : "-"; break;
    case O_DRYRUN: c->dry_run = 1; break;
    case O_SHARD:
      if (parse_shard(optarg, c, err, errlen)) goto usage;
      break;
    case '0': c->in.sep = '\0'; break;
    case 'a': afiles[nafiles++] = optarg; break;
    case 'C':
    case O_COLSEP:
      free(p->colsep);
      p->colsep = strdup(optarg);
      if (!p->colsep || !*p->colsep) {
        snprintf(err, errlen, "--colsep needs a separator: write e.g. --colsep ',' or "
                 "--colsep '\\t'");
        goto usage;
      }
      c->in.colsep = p->colsep;
      break;
    case O_COMMANDS: p->force_commands = 1; break;
    case O_VIEW: p->view_opt = 1; break;
    case O_NOVIEW: p->view_opt = 0; break;
    case O_SUMMARY: c->summary = 1; break;
    case O_NO_DIRECT: c->shell_direct = 0; break;
    case O_NO_CGROUP: c->cgroups = 0; break;
    case O_HEDGE: c->hedge = 1; break;
    case O_TMPDIR: c->tmpdir = optarg; break;
    case O_LINK: c->in.link = 1; break;
    case 'n':
    case 'N':
    case 'L':
      if (parse_count(ch == 'n' ? "-n" : ch == 'N' ? "-N" : "-L", optarg, &c->in.max_args,
                      err, errlen))
        goto usage;
      c->in.no_args = c->in.max_args == 0 && ch != 'L'; /* -N 0: run once per record */
      replace_args = ch == 'N';
      if (c->in.max_args == 0) c->in.max_args = 1;
      break;
    case 's':
      if (parse_count("-s", optarg, &c->in.max_chars, err, errlen)) goto usage;
      break;
    case 'm': c->in.batch = 1; break;
    case 'X': c->in.batch = 1, context = 1; break;
    case O_PIPE: c->in.pipe = 1; break;
    case O_BLOCK:
      if (parse_size(optarg, &c->in.block)) {
        snprintf(err, errlen, "cannot read --block '%s': write a size such as --block 1M, "
                 "500k or 65536 (k m g: powers of 1000; K M G: of 1024)", optarg);
        goto usage;
      }
      break;
    case O_RECEND: recend = optarg; break;
    case O_RECSTART: recstart = optarg; break;
    case 'd': delim = optarg; break;
    case O_TRIM:
      trim_given = 1;
      if (!strcmp(optarg, "n")) c->in.trim = 0;
      else if (!strcmp(optarg, "l")) c->in.trim = CLI_TRIM_L;
      else if (!strcmp(optarg, "r")) c->in.trim = CLI_TRIM_R;
      else if (!strcmp(optarg, "lr") || !strcmp(optarg, "rl")) c->in.trim = CLI_TRIM_L | CLI_TRIM_R;
      else {
        snprintf(err, errlen, "cannot read --trim '%s': write --trim n, l, r or lr", optarg);
        goto usage;
      }
      break;
    case O_HEADER:
      if (strcmp(optarg, ":")) {
        snprintf(err, errlen, "--header '%s': corral reads one header line: write --header :",
                 optarg);
        goto usage;
      }
      c->in.header = 1;
      break;
    case O_PLUS: plus = 1; break; /* {##} {..} {+.} ... always; {:-x} {#x} ... with --plus */
    case O_SHUF: c->in.shuffle = 1; break;
    case 'I':
    case O_BNR: case O_BNER: case O_DNR: case O_ER: case O_SEQR: case O_SLOTR: {
      int r = ch == 'I' ? 0 : ch == O_BNR ? 1 : ch == O_BNER ? 2 : ch == O_DNR ? 3
            : ch == O_ER ? 4 : ch == O_SEQR ? 5 : 6;
      if (!*optarg) {
        snprintf(err, errlen, "%s needs the string to replace: write e.g. %s ,, echo ,, ::: a",
                 ch == 'I' ? "-I" : argv[optind - 1], ch == 'I' ? "-I" : argv[optind - 1]);
        goto usage;
      }
      replstr[r] = optarg;
      nrepl = 1;
      break;
    }
    case 't':
    case O_VERBOSE: c->verbose = 1; break;
    case 'v': c->verbose_out = 1; break;
    case 'r': break; /* --no-run-if-empty: corral runs nothing for empty input */
    case O_WORKDIR:
      if (!strcmp(optarg, "...")) {
        snprintf(err, errlen, "--wd ... (a temporary directory per job) is not in corral: "
                 "write --wd DIR, or make the directory in the command");
        goto usage;
      }
      if (!*optarg) {
        snprintf(err, errlen, "--wd needs a directory: write --wd DIR");
        goto usage;
      }
      c->workdir = optarg;
      break;
    case O_NCPU: p->ncpu = 1; break;
    case 'S': refuse("sshlogin", err, errlen); goto usage;
    case 'E': /* -E STR, --eof[=STR]; an empty STR is no end-of-file string (xargs) */
      c->in.eof_str = !optarg ? "_" : *optarg ? optarg : NULL;
      break;
    case O_ACCEPT: case O_ACCEPT_ARG: break; /* --group, --no-notice, --env */
    case O_CTAG: c->tag = 1, c->color = 2; break; /* 2: even when not a terminal */
    case O_TAGSTRING: {
      char *w[1] = {optarg};
      if (cli_template_check(w, 1, err, errlen)) goto usage;
      tagstring = optarg; /* compiled below, when --plus is known */
      c->tag = 1;
      break;
    }
    case 'q': quote = 1; break;
    case O_REFUSE:
    case O_REFUSE_ARG: refuse(li >= 0 ? longopts[li].name : "?", err, errlen); goto usage;
    case 'h': p->help = 1; break;
    case 'V': p->version = 1; break;
    case '?':
    default:
      bad_option(argv[optind - 1], err, errlen);
      goto usage;
    }
  }
  /* As GNU parallel: -u wins over -k; -k --lb prints the oldest running
   * job's lines as they come, the others' when their turn comes. */
  if (ungroup && linebuf) {
    snprintf(err, errlen, "--ungroup and --line-buffer cannot be combined: keep one of them");
    goto usage;
  }
  c->out = ungroup ? CLI_OUT_UNGROUP : keep ? CLI_OUT_KEEP_ORDER
         : linebuf ? CLI_OUT_LINE : CLI_OUT_GROUP;
  c->keep_lines = keep && linebuf;
  if ((c->resume || c->resume_failed) && !c->joblog &&
      !(c->resume && c->results_dir)) {
    snprintf(err, errlen, "--resume needs the joblog of the earlier run: write --joblog FILE "
             "--resume (or --results DIR --resume)");
    goto usage;
  }
  if ((c->resume || c->resume_failed) && c->joblog && !strcmp(c->joblog + (c->joblog[0] == '+'), "-")) {
    snprintf(err, errlen, "--resume reads the joblog of the earlier run from a file: "
             "write --joblog FILE --resume (--joblog - writes to standard output)");
    goto usage;
  }
  if (c->joblog && !strcmp(c->joblog + (c->joblog[0] == '+'), "-") && c->json_path &&
      !strcmp(c->json_path, "-")) {
    snprintf(err, errlen, "--joblog - and --json both write to standard output: "
             "write one of them to a file (--joblog FILE or --json=FILE)");
    goto usage;
  }
  for (int i = 0; i < nafiles; i++)
    if (add_src(p, (cli_source){.kind = CLI_SRC_FILE, .path = afiles[i]})) goto oom;
  /* Positional: template words, then ::: / :::: sources (:::+ and ::::+
   * link a source to the one before it). */
  int i = optind;
  p->words = argv + i;
  while (i < argc && !is_sep(argv[i])) i++;
  p->nwords = (size_t)(&argv[i] - p->words);
  if (nrepl && p->nwords && replace_words(p, replstr)) goto oom;
  if (quote && p->nwords && quote_words(p)) goto oom;
  while (i < argc) {
    int linked = argv[i][strlen(argv[i]) - 1] == '+';
    int list = argv[i][3] != ':';
    const char *name = argv[i];
    if (linked && p->nsrc == 0) {
      snprintf(err, errlen, "'%s' links to the input source before it, and there is none: "
               "write %s first", name, list ? ":::" : "::::");
      goto usage;
    }
    int s = ++i;
    while (i < argc && !is_sep(argv[i])) i++;
    if (i == s) { /* nothing alone, or one empty value (input.c) */
      if (add_src(p, (cli_source){.kind = CLI_SRC_LIST, .values = argv + s, .n = 0,
                                  .linked = linked}))
        goto oom;
      continue;
    }
    if (list) {
      if (add_src(p, (cli_source){.kind = CLI_SRC_LIST, .values = argv + s,
                                  .n = (size_t)(i - s), .linked = linked}))
        goto oom;
    } else { /* :::: files, one source each; ::::+ links the first */
      for (int k = s; k < i; k++)
        if (add_src(p, (cli_source){.kind = CLI_SRC_FILE, .path = argv[k],
                                    .linked = linked && k == s}))
          goto oom;
    }
  }
  /* An empty ::: or :::: beside a source with values gives one empty value,
   * alone no job (GNU parallel: "echo ::: a :::" runs "echo a ''"): the
   * input decides (input.c), when it knows which sources are empty. */
  free(afiles);
  afiles = NULL;
  if (p->help || p->version || p->ncpu) return 0;
  if (c->workdir) {
    char *w = (char *)c->workdir;
    if (cli_template_new_ex(&w, 1, CLI_TMPL_NO_APPEND | CLI_TMPL_RAW |
                                       (c->in.header ? CLI_TMPL_HEADER : 0),
                            &c->wd_tmpl))
      goto oom;
    if (!cli_template_explicit(c->wd_tmpl)) {
      cli_template_free(c->wd_tmpl);
      c->wd_tmpl = NULL;
    }
  }
  if (c->workdir && !c->wd_tmpl) { /* --wd DIR: made when it is missing, as GNU parallel */
    char *d = strdup(c->workdir);
    if (!d) goto oom;
    for (char *q = d + 1;; q++) {
      if (*q && *q != '/') continue;
      char was = *q;
      *q = 0;
      mkdir(d, 0777);
      *q = was;
      if (!was) break;
    }
    free(d);
    struct stat st;
    if (stat(c->workdir, &st) || !S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "--wd %s: cannot make this directory (%s): write --wd DIR with "
               "a directory corral can use", c->workdir, strerror(errno ? errno : ENOTDIR));
      goto usage;
    }
  }
  if ((delim && !(p->delim = cli_unescape(delim))) ||
      (recend && !(p->recend = cli_unescape(recend))) ||
      (recstart && !(p->recstart = cli_unescape(recstart))))
    goto oom;
  c->in.delim = p->delim;
  c->in.recend = p->recend;
  c->in.recstart = p->recstart;
  if (cli_template_check(p->words, p->nwords, err, errlen)) goto usage;
  c->in.src = p->src;
  c->in.nsrc = p->nsrc;
  /* GNU parallel repeats the word around {} for each value with -X, and
   * with -N too (-m and -n join the values). */
  if (replace_args && c->in.max_args > 1 && !c->in.batch) context = 1;
  int tflags = (context ? CLI_TMPL_CONTEXT : 0) | (c->in.header ? CLI_TMPL_HEADER : 0) |
               (plus ? CLI_TMPL_PLUS : 0);
  if (tagstring && cli_template_new_ex(&tagstring, 1, CLI_TMPL_NO_APPEND | CLI_TMPL_RAW |
                                                      (plus ? CLI_TMPL_PLUS : 0), &c->tagtmpl))
    goto oom;
  if (c->results_dir) {
    /* GNU parallel's forms of --results: NAME.csv / .tsv / .json (-.csv
     * on standard output), a NAME with replacement strings (a file per
     * job, or a directory when it ends in /), else a directory tree. */
    const char *r = c->results_dir;
    size_t rl = strlen(r);
    const char *ext = rl > 4 ? r + rl - 4 : "";
    if (!strcasecmp(ext, ".csv") || !strcasecmp(ext, ".tsv")) {
      c->results_csv = (ext[1] | 0x20) == 'c' ? ',' : '\t';
    } else if (rl > 5 && !strcasecmp(r + rl - 5, ".json")) {
      c->results_json = 1;
    } else {
      char *w = (char *)r;
      if (cli_template_new_ex(&w, 1, CLI_TMPL_NO_APPEND | CLI_TMPL_RAW |
                                          (c->in.header ? CLI_TMPL_HEADER : 0),
                              &c->results_tmpl))
        goto oom;
      if (!cli_template_explicit(c->results_tmpl)) {
        cli_template_free(c->results_tmpl);
        c->results_tmpl = NULL;
      }
    }
    c->results_stdout = (c->results_csv || c->results_json) && r[0] == '-' && r[1] == '.';
    if (c->results_stdout && c->json_path && !strcmp(c->json_path, "-")) {
      snprintf(err, errlen, "--results %s and --json both write to standard output: "
               "write --json=FILE", r);
      goto usage;
    }
    if (c->results_stdout && c->joblog && !strcmp(c->joblog, "-")) {
      snprintf(err, errlen, "--results %s and --joblog - both write to standard output: "
               "write --joblog FILE", r);
      goto usage;
    }
  }
  if (c->in.pipe) {
    if (p->nwords == 0) {
      snprintf(err, errlen, "--pipe needs a command to feed the blocks to: write e.g. "
               "corral --pipe wc -l");
      goto usage;
    }
    for (size_t k = 0; k < p->nsrc; k++)
      if (p->src[k].kind == CLI_SRC_LIST || k > 0) {
        snprintf(err, errlen, "--pipe splits one input into blocks: give it on standard "
                 "input, or as -a FILE / :::: FILE");
        goto usage;
      }
    if (c->in.batch || c->in.link || c->in.header || c->in.shuffle) {
      snprintf(err, errlen, "--pipe feeds blocks of records to the jobs: -m, -X, --link, "
               "--header and --shuf do not apply to it");
      goto usage;
    }
    if (cli_template_new_ex(p->words, p->nwords, CLI_TMPL_NO_APPEND, &c->tmpl)) goto oom;
    if (cli_template_uses_total(c->tmpl)) {
      snprintf(err, errlen, "{##} is the number of jobs, and --pipe knows it only at the "
               "end of the input: use {#}");
      goto usage;
    }
    c->use_input = 1;
  c->in.tmpl = c->tmpl;
    if (!(p->shell = cli_pick_shell())) goto oom;
    c->shell = p->shell;
    p->cfg.view = p->view_opt;
    return 0;
  }
  if (recend || recstart) {
    snprintf(err, errlen, "--recend and --recstart split blocks for --pipe: write "
             "--pipe with them, or -d SEP to split records");
    goto usage;
  }
  if (c->retry_failed) {
    /* GNU parallel: the command line is ignored; the failed jobs of the
     * joblog run again with their sequence numbers, their lines appended */
    static char *none[] = {NULL};
    if (!c->joblog || !strcmp(c->joblog + (c->joblog[0] == '+'), "-")) {
      snprintf(err, errlen, "--retry-failed runs again the jobs that failed in a joblog: "
               "write --joblog FILE --retry-failed");
      goto usage;
    }
    size_t n;
    int rc2 = cli_joblog_failed(c->joblog, &p->rf_cmds, &p->rf_seqs, &n);
    if (rc2) {
      snprintf(err, errlen, "--retry-failed cannot read the joblog %s: %s", c->joblog,
               rc2 == -EINVAL ? "it is not a joblog" : strerror(-rc2));
      goto usage;
    }
    c->commands = p->rf_cmds ? p->rf_cmds : none;
    c->ncommands = n;
    c->command_seqs = p->rf_seqs;
    if (!(p->shell = cli_pick_shell())) goto oom;
    c->shell = p->shell;
    p->cfg.view = p->view_opt;
    return 0;
  }
  if (p->nwords == 0 && (c->in.batch || context)) {
    snprintf(err, errlen, "-m and -X put several inputs on one command line: give the "
             "command, e.g. corral -X rm ::: a b c");
    goto usage;
  }
  if (p->nwords == 0) {
    c->use_input = 1; /* the input records are the commands */
  } else if (p->nsrc > 0) {
    if (cli_template_new_ex(p->words, p->nwords, tflags, &c->tmpl)) goto oom;
    c->use_input = 1;
  } else if (p->force_commands || stdin_tty || stdin_null) {
    c->commands = p->words;
    c->ncommands = p->nwords;
  } else {
    if (cli_template_new_ex(p->words, p->nwords, tflags, &c->tmpl)) goto oom;
    c->use_input = 1;
    /* 'make a' 'make b' with a pipe on stdin: very likely meant as commands */
    p->warn_template = p->nwords >= 2;
    for (size_t k = 0; k < p->nwords; k++)
      if (!strchr(p->words[k], ' ') || strchr(p->words[k], '{')) p->warn_template = 0;
  }
  if (c->commands && (c->in.colsep || c->in.sep == '\0' || c->in.delim || c->in.link ||
                      c->in.max_args || c->in.batch || c->in.header || c->in.trim)) {
    snprintf(err, errlen, "--colsep, -0, -d, --link, -N, -m, -X, --header and --trim apply "
             "to input, and there is none: give input with ::: VALUES, :::: FILE or -a FILE");
    goto usage;
  }
  /* GNU parallel trims the columns of --colsep unless --trim says otherwise */
  if (c->in.colsep && !trim_given) c->in.trim = CLI_TRIM_L | CLI_TRIM_R;
  c->in.tmpl = c->tmpl;
  if (c->tmpl && cli_template_uses_total(c->tmpl)) c->in.read_all = 1;
  if (!(p->shell = cli_pick_shell())) goto oom;
  c->shell = p->shell;
  p->cfg.view = p->view_opt;
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
usage:
  free(afiles);
  return CLI_EXIT_USAGE;
}

/* Shells that take POSIX sh syntax (corral quotes values for them). */
static int posix_shell(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  static const char *const ok[] = {"sh", "bash", "dash", "ksh", "ksh93", "mksh", "zsh",
                                   "ash", "yash", "posh"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    if (!strcmp(b, ok[i])) return 1;
  return 0;
}

char *cli_pick_shell(void) {
  const char *ps = getenv("PARALLEL_SHELL");
  if (ps && *ps) return strdup(ps);
  char link[64], exe[4096];
  snprintf(link, sizeof link, "/proc/%ld/exe", (long)getppid());
  ssize_t n = readlink(link, exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    if (posix_shell(exe) && access(exe, X_OK) == 0)
      return strdup(exe);
  }
  const char *sh = getenv("SHELL");
  if (sh && *sh == '/' && posix_shell(sh) && access(sh, X_OK) == 0) return strdup(sh);
  return strdup("/bin/sh");
}

void cli_parsed_free(cli_parsed *p) {
  free(p->shell);
  cli_template_free(p->cfg.tmpl);
  cli_template_free(p->cfg.tagtmpl);
  cli_template_free(p->cfg.results_tmpl);
  cli_template_free(p->cfg.wd_tmpl);
  for (size_t k = 0; p->rf_cmds && p->rf_cmds[k]; k++) free(p->rf_cmds[k]);
  free(p->rf_cmds);
  free(p->rf_seqs);
  free(p->src);
  free(p->colsep);
  free(p->delim);
  free(p->recend);
  free(p->recstart);
  if (p->iwords)
    for (size_t k = 0; p->iwords[k]; k++) free(p->iwords[k]);
  free(p->iwords);
  memset(p, 0, sizeof *p);
}
