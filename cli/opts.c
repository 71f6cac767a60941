/* Command-line parsing of the corral command (opts.h). */
#include "opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  O_TIMEOUT = 256, O_DEADLINE, O_RETRIES, O_RETRY_DELAY, O_DELAY, O_TERMSEQ,
  O_HALT, O_POLICY, O_LINEBUF, O_TAG, O_RESULTS, O_JOBLOG, O_RESUME,
  O_RESUME_FAILED, O_JSON, O_DRYRUN, O_SHARD, O_COLSEP, O_COMMANDS, O_VIEW,
  O_NOVIEW, O_SUMMARY, O_NO_DIRECT, O_NO_CGROUP, O_HEDGE,
  O_TMPDIR
};

static const struct option longopts[] = {
    {"jobs", required_argument, 0, 'j'},
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
    {"json", optional_argument, 0, O_JSON},
    {"dry-run", no_argument, 0, O_DRYRUN},
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
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0}};

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
    if (strchr("jaC", c))
      snprintf(err, errlen, "-%c needs a value: write e.g. -%c %s", c, c,
               c == 'j' ? "4" : c == 'a' ? "FILE" : "','");
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

static int add_src(cli_parsed *p, cli_source s) {
  cli_source *n = realloc(p->src, (p->nsrc + 1) * sizeof *n);
  if (!n) return -1;
  p->src = n;
  p->src[p->nsrc++] = s;
  return 0;
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
    *out = j < 1 ? 1 : (unsigned)j;
    return 0;
  }
  if (cli_parse_u64(s, &v) || v > 100000) return -1;
  *out = v == 0 ? 1024 : (unsigned)v;
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
  int have_policy = 0, have_halt = 0, nafiles = 0;
  char **afiles = calloc((size_t)argc + 1, sizeof *afiles);
  if (!afiles) return snprintf(err, errlen, "out of memory"), CLI_EXIT_USAGE;
  optind = 1;
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, "+j:kua:0hVC:", longopts, NULL)) != -1) {
    int64_t ns;
    uint64_t u;
    switch (ch) {
    case 'j':
      if (parse_jobs(optarg, &c->jobs)) {
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
    case 'k': c->out = CLI_OUT_KEEP_ORDER; break;
    case O_LINEBUF: c->out = CLI_OUT_LINE; break;
    case O_TAG: c->tag = 1; break;
    case 'u': c->out = CLI_OUT_UNGROUP; break;
    case O_RESULTS: c->results_dir = optarg; break;
    case O_JOBLOG: c->joblog = optarg; break;
    case O_RESUME: c->resume = 1; break;
    case O_RESUME_FAILED: c->resume_failed = 1; break;
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
      p->colsep = cli_unescape(optarg);
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
    case 'h': p->help = 1; break;
    case 'V': p->version = 1; break;
    case '?':
    default:
      bad_option(argv[optind - 1], err, errlen);
      goto usage;
    }
  }
  if (c->out == CLI_OUT_LINE && 0) goto usage;
  if ((c->resume || c->resume_failed) && !c->joblog) {
    snprintf(err, errlen, "--resume needs the joblog of the earlier run: write --joblog FILE --resume");
    goto usage;
  }
  for (int i = 0; i < nafiles; i++)
    if (add_src(p, (cli_source){.kind = CLI_SRC_FILE, .path = afiles[i]})) goto oom;
  /* Positional: template words, then ::: / :::: sources. */
  int i = optind;
  p->words = argv + i;
  while (i < argc && strcmp(argv[i], ":::") && strcmp(argv[i], "::::")) {
    if (!strcmp(argv[i], ":::+") || !strcmp(argv[i], "::::+")) break;
    i++;
  }
  p->nwords = (size_t)(&argv[i] - p->words);
  while (i < argc) {
    if (!strcmp(argv[i], ":::+") || !strcmp(argv[i], "::::+")) {
      snprintf(err, errlen, "linked inputs (%s) are not supported: put the values in "
               "one file and use --colsep", argv[i]);
      goto usage;
    }
    if (!strcmp(argv[i], ":::")) {
      int s = ++i;
      while (i < argc && strcmp(argv[i], ":::") && strcmp(argv[i], "::::") &&
             strcmp(argv[i], ":::+") && strcmp(argv[i], "::::+"))
        i++;
      if (i == s) {
        snprintf(err, errlen, "':::' needs values after it: write ::: a b c");
        goto usage;
      }
      if (add_src(p, (cli_source){.kind = CLI_SRC_LIST, .values = argv + s, .n = (size_t)(i - s)}))
        goto oom;
    } else { /* :::: files, one source each */
      int s = ++i;
      while (i < argc && strcmp(argv[i], ":::") && strcmp(argv[i], "::::") &&
             strcmp(argv[i], ":::+") && strcmp(argv[i], "::::+")) {
        if (add_src(p, (cli_source){.kind = CLI_SRC_FILE, .path = argv[i]})) goto oom;
        i++;
      }
      if (i == s) {
        snprintf(err, errlen, "'::::' needs file names after it: write :::: FILE");
        goto usage;
      }
    }
  }
  free(afiles);
  afiles = NULL;
  if (p->help || p->version) return 0;
  c->in.src = p->src;
  c->in.nsrc = p->nsrc;
  if (p->nwords == 0) {
    c->use_input = 1; /* the input records are the commands */
  } else if (p->nsrc > 0) {
    if (cli_template_new(p->words, p->nwords, &c->tmpl)) goto oom;
    c->use_input = 1;
  } else if (p->force_commands || stdin_tty || stdin_null) {
    c->commands = p->words;
    c->ncommands = p->nwords;
  } else {
    if (cli_template_new(p->words, p->nwords, &c->tmpl)) goto oom;
    c->use_input = 1;
  }
  if (c->commands && (c->in.colsep || c->in.sep == '\0')) {
    snprintf(err, errlen, "--colsep and -0 apply to input, and there is none: give "
             "input with ::: VALUES, :::: FILE or -a FILE");
    goto usage;
  }
  p->cfg.view = p->view_opt;
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
usage:
  free(afiles);
  return CLI_EXIT_USAGE;
}

void cli_parsed_free(cli_parsed *p) {
  cli_template_free(p->cfg.tmpl);
  free(p->src);
  free(p->colsep);
  memset(p, 0, sizeof *p);
}
