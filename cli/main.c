/* corral: run commands in parallel with structured-concurrency guarantees. */
#include <corral.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "merge.h"
#include "opts.h"

static const char usage_text[] =
    "Usage: corral [OPTIONS] COMMAND...                 each argument is a command\n"
    "       corral [OPTIONS] TEMPLATE ::: VALUES... [:::[+] VALUES...] [::::[+] FILE...]\n"
    "       SOURCE | corral [OPTIONS] [TEMPLATE]        one job per input line\n"
    "       SOURCE | corral --pipe [OPTIONS] COMMAND    one job per block of lines\n"
    "       corral http [OPTIONS] [--hedge] URL...        GET each URL (or each input line)\n"
    "       corral merge [--summary-only] LOG.json...\n"
    "\n"
    "Runs jobs at once under a policy; no process of a job outlives the run.\n"
    "Templates take GNU parallel's replacement strings: {} {.} {/} {//} {/.}\n"
    "{#} {%} {##} {N} {N.} {N/} {N//} {N/.} {0} {..} {+.} {+/} ({= =}: refused);\n"
    "without one, {} is appended. Commands run in $PARALLEL_SHELL, else the shell\n"
    "corral was started from, else $SHELL, else /bin/sh.\n"
    "\n"
    "Input:\n"
    "  ::: A B ...            values (several ::: give their cross product)\n"
    "  :::: FILE, -a, --arg-file FILE  one value per line of FILE (- is stdin)\n"
    "  :::+ A B, ::::+ FILE   in step with the source before (not a product)\n"
    "  --link, --xapply       every source in step; shorter ones wrap around\n"
    "  -0, --null             records end with NUL instead of newline\n"
    "  -d, --delimiter DELIM  records end with DELIM\n"
    "  --colsep REGEX         split records into columns {1} {2} ... (\\s \\d \\t)\n"
    "  -E STR, --eof=STR      a record equal to STR ends its source\n"
    "  --trim n|l|r|lr        trim white space around values (--colsep: lr)\n"
    "  --header :             first record names the columns: {NAME}\n"
    "  -N, -n, -L N           N records per job ({1}..{N}); with --pipe per block\n"
    "                         (--max-replace-args, --max-args, --max-lines)\n"
    "  -m, --xargs, -X        as many records per job as fit -s (-X: repeat the\n"
    "                         word around {} for each); -s, --max-chars N\n"
    "  -I STR                 STR in the command stands for {}; likewise\n"
    "                         --bnr, --basenamereplace {/}, --bner,\n"
    "                         --basenameextensionreplace {/.}, --dnr,\n"
    "                         --dirnamereplace {//}, --er, --extensionreplace {.},\n"
    "                         --seqreplace {#}, --slotreplace {%}\n"
    "  -q, --quote            quote each command word as one shell word\n"
    "  --plus                 also {:-x} {:N:M} {#x} {%x} {/x/y} {^x} {,x} ...\n"
    "  --dryrun, --use-cpus-instead-of-cores   --dry-run; accepted\n"
    "  --shuf                 jobs in random order\n"
    "  --pipe, --spreadstdin  blocks of standard input to the jobs' stdin;\n"
    "                         --block, --block-size SIZE (1M), --recend STR,\n"
    "                         --recstart STR\n"
    "  --commands             the arguments are commands even if stdin is a pipe\n"
    "                         (write it in scripts: 'make a' 'make b' with a\n"
    "                         pipe on stdin would be a template and its input)\n"
    "  --shard I/N            run only slice I (0-based) of N; --shard auto reads\n"
    "                         SLURM_ARRAY_TASK_ID/COUNT, --shard /N reads the index\n"
    "                         from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)\n"
    "  --dry-run              print the commands, run nothing\n"
    "  -t, --verbose          print each command on stderr as it starts\n"
    "  -v                     print each command on stdout before its output\n"
    "  --wd, --workdir DIR    run the jobs in DIR\n"
    "  --number-of-cores, --number-of-cpus, --number-of-threads  print the cores\n"
    "  --will-cite, --plain, --silent, --bar, --eta, --progress, -r,\n"
    "  --no-run-if-empty, --linebuffer   accepted (GNU parallel's; the live view\n"
    "                         shows progress on a terminal)\n"
    "Limits and time (DURATION: 500ms, 2s, 1m, 1h; a bare number is seconds):\n"
    "  -j, --jobs N           jobs at once (default: cores; 0, +N, -N, N% too);\n"
    "                         also -P, --max-procs\n"
    "  --timeout DURATION|N%  per job (N%: of the median successful job time)\n"
    "  --deadline DURATION    for the whole run\n"
    "  --retries N            run a failing job at most N times\n"
    "  --retry-delay DURATION first back-off before a retry, doubled each time\n"
    "                         (default 100ms)\n"
    "  --delay DURATION       between job starts\n"
    "  --term-seq, --termseq SEQ  how a job is stopped (default TERM,2s,KILL)\n"
    "  --no-cgroup            no cgroup per run, even where one can be made\n"
    "  --no-direct-exec       run every command through the shell\n"
    "  --env VAR              accepted: jobs inherit corral's whole environment\n"
    "Policy (default all):\n"
    "  --policy all|fail-fast|first|quorum=K\n"
    "  --halt, --halt-on-error now|soon,fail|success|done=N|N%  (GNU parallel's)\n"
    "Output (default: each job's output whole, when it finishes; past 64 KiB a\n"
    "job's output waits in an unlinked file in --tmpdir DIR, else $TMPDIR or /tmp):\n"
    "  --group                accepted: this is the default\n"
    "  -k, --keep-order       in input order\n"
    "  --line-buffer, --lb    line by line as it comes\n"
    "  --tag                  prefix lines with the job's input\n"
    "  --tagstring STR        prefix lines with STR ({} {#} ... unquoted)\n"
    "  --ctag, --colour-tag, --color-tag  --tag in colour even if not a terminal\n"
    "  -u, --ungroup          straight through, unbuffered\n"
    "  --results NAME         output to files: NAME/1/VAL/{seq,stdout,stderr},\n"
    "                         NAME.csv / .tsv / .json, or a name per job ({})\n"
    "  --joblog FILE          GNU parallel's joblog (+FILE appends, - stdout)\n"
    "  --resume, --resume-failed   skip jobs the joblog shows done (or done well)\n"
    "  --retry-failed         run again the failed jobs of --joblog FILE\n"
    "  --json[=FILE]          JSON lines: one per job, then a summary; without\n"
    "                         FILE on standard output, with each job's output\n"
    "  --view, --no-view      live view on stderr (default: when it is a terminal)\n"
    "  --summary              summary table on stderr even without the view\n"
    "  --hedge                (http) a request slower than the 95th percentile so far\n"
    "                         gets a duplicate; the first answer wins\n"
    "  --no-notice            accepted: corral prints no notice\n"
    "  -h, --help             -V, --version\n"
    "\n"
    "Exit status: 0 when the policy succeeded; else the number of failed jobs\n"
    "(at most 101); with --halt ...,fail=1 the failed job's status; 124 when the\n"
    "deadline passed; 125 when corral could not write its output, logs or spool;\n"
    "141 when standard output was closed (its reader exited: no new job starts,\n"
    "the running ones are stopped); 128+N after signal N; 2 for bad usage; 255\n"
    "when an input file cannot be opened. See corral(1).\n";

static int stdin_is_null(void) {
  struct stat a, b;
  if (fstat(0, &a) != 0) return 1; /* closed */
  if (!S_ISCHR(a.st_mode)) return 0;
  return stat("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "merge")) {
    int so = argc > 2 && !strcmp(argv[2], "--summary-only");
    int first = 2 + so;
    if (first >= argc) {
      fprintf(stderr, "corral merge: no logs given: write corral merge shard-*.json\n");
      return 2;
    }
    for (int i = first; i < argc; i++)
      if (argv[i][0] == '-' && argv[i][1]) {
        fprintf(stderr, "corral merge: unknown option %s: write corral merge [--summary-only] LOG.json...\n",
                argv[i]);
        return 2;
      }
    return cli_merge(argv + first, (size_t)(argc - first), so, stdout);
  }
  int http = argc > 1 && !strcmp(argv[1], "http");
  if (http) argc--, argv++; /* corral http [OPTIONS] URL... */
  cli_parsed p;
  char err[512] = "";
  int rc = cli_parse_args(argc, argv, &p, isatty(0), stdin_is_null(), err, sizeof err);
  if (!rc && http && p.nwords && p.nsrc) {
    snprintf(err, sizeof err, "corral http takes URLs as arguments or one per input line "
             "(-a FILE, :::: FILE, standard input), not both");
    rc = 2;
  }
  if (!rc && !http && p.cfg.hedge) {
    snprintf(err, sizeof err, "--hedge is for HTTP requests: write corral http --hedge URL...");
    rc = 2;
  }
  if (!rc && http && (p.cfg.in.batch || p.cfg.in.pipe || p.cfg.in.max_args > 1)) {
    snprintf(err, sizeof err, "corral http GETs one URL per job: -m, -X, -N and --pipe "
             "do not apply to it");
    rc = 2;
  }
  if (!rc && http) {
    /* The arguments (or input records) are URLs, used as they are. */
    cli_template_free(p.cfg.tmpl);
    p.cfg.tmpl = NULL;
    p.cfg.in.tmpl = NULL;
    if (p.nwords) {
      p.cfg.commands = p.words;
      p.cfg.ncommands = p.nwords;
      p.cfg.use_input = 0;
    } else {
      p.cfg.use_input = 1;
    }
    p.cfg.http = 1;
  }
  if (rc) {
    fprintf(stderr, "corral: %s\n", err);
    cli_parsed_free(&p);
    return rc;
  }
  if (p.warn_template && !http)
    fprintf(stderr, "corral: standard input is read for the template '%s ...' (GNU "
            "parallel's rule); to run each argument as a command, write --commands\n",
            p.words[0]);
  if (p.help) {
    fputs(usage_text, stdout);
    cli_parsed_free(&p);
    return 0;
  }
  if (p.ncpu) { /* GNU parallel's --number-of-cores / -cpus / -threads */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    printf("%ld\n", n > 0 ? n : 1);
    cli_parsed_free(&p);
    return 0;
  }
  if (p.version) {
    printf("corral %s (libcorral %s)\n", corral_version_string(), corral_version_string());
    cli_parsed_free(&p);
    return 0;
  }
  if (p.cfg.commands == NULL && !p.cfg.use_input) {
    fprintf(stderr, "corral: nothing to run: write corral 'CMD1' 'CMD2' or corral CMD ::: ARGS\n");
    cli_parsed_free(&p);
    return 2;
  }
  if (p.view_opt < 0) {
    const char *term = getenv("TERM");
    p.cfg.view = isatty(2) && !(term && !strcmp(term, "dumb"));
  }
  p.cfg.color = p.cfg.tag && (p.cfg.color == 2 || isatty(1)); /* 2: --ctag */
  fflush(stdout);
  rc = cli_engine_run(&p.cfg);
  cli_parsed_free(&p);
  return rc;
}
