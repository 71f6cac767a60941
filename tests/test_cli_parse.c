/* The corral command's parsing modules: replacement strings, durations,
 * quoting, policies / --halt, term sequences, options. */
#include "test.h"

#include "engine.h"
#include "input.h"
#include "opts.h"
#include "policy.h"
#include "proc.h"
#include "template.h"
#include "util.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static char *expand(const char *tmpl, const char *const *vals, size_t n,
                    uint64_t seq, unsigned slot) {
  char *words[1] = {(char *)tmpl};
  cli_template *t;
  CHECK_EQ(cli_template_new(words, 1, &t), 0);
  cli_args a = {.v = (char **)vals, .n = n, .seq = seq, .slot = slot};
  cli_buf b = {0};
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  cli_template_free(t);
  return b.data;
}

#define EXPECT_EXPAND(tmpl, val, want)                                       \
  do {                                                                       \
    const char *v_[1] = {val};                                               \
    char *got_ = expand(tmpl, v_, 1, 7, 3);                                  \
    CHECK_STR(got_, want);                                                   \
    free(got_);                                                              \
  } while (0)

/* Each expectation below was checked against GNU parallel 20221122
 * (parallel --dry-run). */
TEST(replacement_strings_as_gnu_parallel) {
  EXPECT_EXPAND("echo {} {.} {/} {//} {/.}", "/x/y.tar.gz",
                "echo /x/y.tar.gz /x/y.tar y.tar.gz /x y.tar");
  EXPECT_EXPAND("echo {} {.} {/} {//} {/.}", "dir.x/file",
                "echo dir.x/file dir.x/file file dir.x file");
  EXPECT_EXPAND("echo {.} {//} {/.}", ".hidden", "echo '' . ''");
  EXPECT_EXPAND("echo {.} {/} {//} {/.}", "dir/.bashrc", "echo dir/ .bashrc dir ''");
  EXPECT_EXPAND("echo {//} {/}", "/file", "echo / file");
  EXPECT_EXPAND("echo {//} {/} {.}", "a/", "echo . '' a/");
  EXPECT_EXPAND("echo {//}", "a//b", "echo a");
  EXPECT_EXPAND("echo {}", "", "echo ''");
  EXPECT_EXPAND("echo {#} {%}", "x", "echo 7 3");
  EXPECT_EXPAND("echo", "a b", "echo 'a b'");       /* {} appended */
  EXPECT_EXPAND("echo {#}", "a", "echo 7");         /* {#} counts: nothing appended */
  EXPECT_EXPAND("echo {foo} {}", "a", "echo {foo} a"); /* not a replacement string */
}

TEST(quoting_as_gnu_parallel) {
  EXPECT_EXPAND("echo {}", "it's", "echo 'it'\"'\"'s'");
  EXPECT_EXPAND("echo {}", "a$b", "echo 'a$b'");
  EXPECT_EXPAND("echo {}", "x+y-z_1./", "echo x+y-z_1./");
  EXPECT_EXPAND("echo {}", "x,y", "echo 'x,y'");
  EXPECT_EXPAND("echo {}", "x=y", "echo 'x=y'");
  EXPECT_EXPAND("echo {}", "xéy", "echo 'xéy'");
  EXPECT_EXPAND("echo {}", "-x", "echo -x");
}

TEST(positional_replacement_strings) {
  const char *v[2] = {"a.c", "d/e"};
  char *s = expand("echo {2} {1} {1.} {2/} {-1} {3}", v, 2, 1, 1);
  CHECK_STR(s, "echo d/e a.c a e d/e "); /* {3}: nothing, as GNU parallel */
  free(s);
  s = expand("echo {}", v, 2, 1, 1);
  CHECK_STR(s, "echo a.c d/e");
  free(s);
  s = expand("cmd", v, 2, 1, 1);
  CHECK_STR(s, "cmd a.c d/e");
  free(s);
}

TEST(template_words_are_joined) {
  char *w[3] = {"sh", "-c", "echo {}; echo {}"};
  cli_template *t;
  CHECK_EQ(cli_template_new(w, 3, &t), 0);
  CHECK(cli_template_explicit(t));
  const char *v[1] = {"x"};
  cli_args a = {.v = (char **)v, .n = 1, .seq = 1, .slot = 1};
  cli_buf b = {0};
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  CHECK_STR(b.data, "sh -c echo x; echo x");
  cli_buf_free(&b);
  cli_template_free(t);
}

TEST(durations) {
  int64_t ns;
  CHECK_EQ(cli_parse_duration("500ms", &ns), 0); CHECK_EQ(ns, 500 * MS);
  CHECK_EQ(cli_parse_duration("2s", &ns), 0); CHECK_EQ(ns, 2 * SEC);
  CHECK_EQ(cli_parse_duration("1m", &ns), 0); CHECK_EQ(ns, 60 * SEC);
  CHECK_EQ(cli_parse_duration("3", &ns), 0); CHECK_EQ(ns, 3 * SEC);
  CHECK_EQ(cli_parse_duration("0.5", &ns), 0); CHECK_EQ(ns, 500 * MS);
  CHECK_EQ(cli_parse_duration("1m30s", &ns), 0); CHECK_EQ(ns, 90 * SEC);
  CHECK_EQ(cli_parse_duration("1d2h", &ns), 0); CHECK_EQ(ns, 26 * 3600 * SEC);
  CHECK_EQ(cli_parse_duration("250us", &ns), 0); CHECK_EQ(ns, 250000);
  CHECK_EQ(cli_parse_duration("", &ns), -1);
  CHECK_EQ(cli_parse_duration("-1", &ns), -1);
  CHECK_EQ(cli_parse_duration("5x", &ns), -1);
  CHECK_EQ(cli_parse_duration("s", &ns), -1);
  CHECK_EQ(cli_parse_duration("1m30", &ns), -1);
  CHECK_EQ(cli_parse_duration("1e30", &ns), -1);
  CHECK_EQ(cli_parse_duration("99999999999d", &ns), -1);
}

TEST(simple_commands_skip_the_shell) {
  char **argv, *st;
  CHECK_EQ(cli_split_simple("true", &argv, &st), 1);
  CHECK_STR(argv[0], "true");
  CHECK(argv[1] == NULL);
  free(argv);
  free(st);
  CHECK_EQ(cli_split_simple("gzip -9 a.txt", &argv, &st), 1);
  CHECK_STR(argv[2], "a.txt");
  free(argv);
  free(st);
  CHECK_EQ(cli_split_simple("echo a; echo b", &argv, &st), 0);
  CHECK_EQ(cli_split_simple("echo 'a b'", &argv, &st), 0);
  CHECK_EQ(cli_split_simple("echo $HOME", &argv, &st), 0);
  CHECK_EQ(cli_split_simple("ls *.c", &argv, &st), 0);
  CHECK_EQ(cli_split_simple("cd /tmp", &argv, &st), 0);   /* builtin */
  CHECK_EQ(cli_split_simple("exit 3", &argv, &st), 0);    /* builtin */
  CHECK_EQ(cli_split_simple("A=1 env", &argv, &st), 0);   /* assignment */
  CHECK_EQ(cli_split_simple("echo  two", &argv, &st), 0); /* keep sh's view */
  CHECK_EQ(cli_split_simple("ls ~", &argv, &st), 0);
  CHECK_EQ(cli_split_simple("", &argv, &st), 0);
}

static cli_verdict run_policy(const char *spec, int halt, const char *events,
                              uint64_t total, int input_done) {
  cli_policy p;
  char err[256];
  CHECK_EQ(halt ? cli_halt_parse(spec, &p, err, sizeof err)
                : cli_policy_parse(spec, &p, err, sizeof err), 0);
  cli_tally t = {.total = total, .input_done = input_done};
  cli_verdict v = {0};
  uint64_t seq = 0;
  for (const char *e = events; *e; e++) {
    seq++;
    if (*e == 'o') t.ok++; else t.failed++;
    cli_policy_decide(&p, &t, seq, *e == 'o', &v);
    if (v.triggered) break;
  }
  if (!v.triggered) cli_policy_final(&p, &t, &v);
  return v;
}

TEST(policies_map_to_one_engine) {
  cli_verdict v = run_policy("all", 0, "ofo", 3, 1);
  CHECK(!v.triggered); CHECK(!v.success);
  v = run_policy("all", 0, "ooo", 3, 1);
  CHECK(v.success);
  v = run_policy("fail-fast", 0, "oof", 5, 1);
  CHECK(v.triggered); CHECK_EQ(v.decision, CLI_STOP_NOW); CHECK(!v.success);
  CHECK_STR(v.why, "job 3 failed (fail-fast)");
  v = run_policy("first", 0, "ffo", 5, 1);
  CHECK(v.triggered); CHECK(v.success); CHECK_STR(v.why, "job 3 succeeded first (first)");
  v = run_policy("first", 0, "fff", 3, 1);
  CHECK(!v.triggered); CHECK(!v.success);
}

TEST(quorum_decided_as_early_as_possible) {
  cli_verdict v = run_policy("quorum=2", 0, "fo", 5, 1);
  CHECK(!v.triggered);
  v = run_policy("quorum=2", 0, "foo", 5, 1);
  CHECK(v.triggered); CHECK(v.success); CHECK_STR(v.why, "quorum of 2 reached");
  /* 5 jobs, quorum 4: the second failure makes it impossible. */
  v = run_policy("quorum=4", 0, "ff", 5, 1);
  CHECK(v.triggered); CHECK(!v.success); CHECK_EQ(v.decision, CLI_STOP_NOW);
  CHECK_STR(v.why, "quorum of 4 impossible: 2 of 5 jobs failed");
  /* Total unknown (streaming input): only reaching it decides early. */
  v = run_policy("quorum=4", 0, "ff", 0, 0);
  CHECK(v.triggered); /* the final verdict at the end of the input */
  CHECK(!v.success);
}

TEST(halt_forms) {
  cli_verdict v = run_policy("now,fail=1", 1, "of", 9, 1);
  CHECK(v.triggered); CHECK_EQ(v.decision, CLI_STOP_NOW);
  v = run_policy("soon,fail=2", 1, "ofof", 9, 1);
  CHECK(v.triggered); CHECK_EQ(v.decision, CLI_STOP_SOON);
  v = run_policy("soon,fail=50%", 1, "ffo", 4, 1);
  CHECK(v.triggered); /* 2 of 4 */
  v = run_policy("now,success=2", 1, "fofo", 9, 1);
  CHECK(v.triggered); CHECK(v.success);
  v = run_policy("now,done=3", 1, "fof", 9, 1);
  CHECK(v.triggered);
  v = run_policy("2", 1, "f", 9, 1);
  CHECK(v.triggered); CHECK_EQ(v.decision, CLI_STOP_NOW);
  v = run_policy("1", 1, "f", 9, 1);
  CHECK_EQ(v.decision, CLI_STOP_SOON);
  v = run_policy("-2", 1, "fo", 9, 1);
  CHECK(v.success);
  v = run_policy("never", 1, "fff", 3, 1);
  CHECK(!v.triggered);
  cli_policy p;
  char err[256];
  CHECK_EQ(cli_halt_parse("now", &p, err, sizeof err), -1);
  CHECK(strstr(err, "write --halt now,fail=1"));
  CHECK_EQ(cli_halt_parse("now,fail=0", &p, err, sizeof err), -1);
  CHECK_EQ(cli_halt_parse("later,fail=1", &p, err, sizeof err), -1);
  CHECK_EQ(cli_halt_parse("now,fail=200%", &p, err, sizeof err), -1);
  CHECK_EQ(cli_policy_parse("quorum=0", &p, err, sizeof err), -1);
  CHECK_EQ(cli_policy_parse("majority", &p, err, sizeof err), -1);
  CHECK(strstr(err, "quorum=K"));
}

TEST(term_sequences) {
  cli_termseq ts;
  char err[256];
  CHECK_EQ(cli_termseq_parse("TERM,2s,KILL", &ts, err, sizeof err), 0);
  CHECK_EQ(ts.n, 2);
  CHECK_EQ(ts.step[0].sig, SIGTERM);
  CHECK_EQ(ts.step[0].wait_ns, 2 * SEC);
  CHECK_EQ(ts.step[1].sig, SIGKILL);
  CHECK_EQ(cli_termseq_parse("TERM,200,TERM,100,TERM,50,KILL,25", &ts, err, sizeof err), 0);
  CHECK_EQ(ts.n, 4);
  CHECK_EQ(ts.step[1].wait_ns, 100 * MS); /* bare numbers are ms, as GNU parallel */
  CHECK_EQ(cli_termseq_parse("SIGINT,1s,9", &ts, err, sizeof err), 0);
  CHECK_EQ(ts.step[0].sig, SIGINT);
  CHECK_EQ(ts.step[1].sig, 9);
  CHECK_EQ(cli_termseq_parse("BOGUS,1", &ts, err, sizeof err), -1);
  CHECK_EQ(cli_termseq_parse("TERM,", &ts, err, sizeof err), -1);
  CHECK_EQ(cli_termseq_parse("", &ts, err, sizeof err), -1);
  CHECK(strstr(err, "--term-seq TERM,2s,KILL"));
}

static int parse(const char *line, cli_parsed *p, char *err, size_t len) {
  static char buf[1024];
  static char *argv[64];
  snprintf(buf, sizeof buf, "%s", line);
  int argc = 0;
  for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
  argv[argc] = NULL;
  return cli_parse_args(argc, argv, p, 0, 0, err, len);
}

TEST(options_and_usage_errors) {
  cli_parsed p;
  char err[512];
  CHECK_EQ(parse("corral -j 3 --timeout 2s --retries 3 echo ::: a b ::: 1", &p, err, sizeof err), 0);
  CHECK_EQ(p.cfg.jobs, 3);
  CHECK_EQ(p.cfg.timeout_ns, 2 * SEC);
  CHECK_EQ(p.cfg.retries, 3);
  CHECK_EQ(p.nsrc, 2);
  CHECK_EQ(p.src[0].n, 2);
  CHECK(p.cfg.tmpl != NULL);
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --timeout 200% --halt soon,fail=3 sleep", &p, err, sizeof err), 0);
  CHECK(p.cfg.timeout_pct == 200);
  CHECK(p.cfg.tmpl != NULL); /* stdin is neither a terminal nor /dev/null here */
  cli_parsed_free(&p);
  char *argv2[] = {"corral", "--commands", "make a", "make b", NULL};
  CHECK_EQ(cli_parse_args(4, argv2, &p, 0, 0, err, sizeof err), 0);
  CHECK_EQ(p.cfg.ncommands, 2);
  CHECK_STR(p.cfg.commands[1], "make b");
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --timeout soon echo", &p, err, sizeof err), CLI_EXIT_USAGE);
  CHECK(strstr(err, "--timeout 30s"));
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --policy fail-fast --halt now,fail=1 x", &p, err, sizeof err), CLI_EXIT_USAGE);
  CHECK(strstr(err, "keep one"));
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral -j many x", &p, err, sizeof err), CLI_EXIT_USAGE);
  CHECK(strstr(err, "-j N"));
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --resume x ::: a", &p, err, sizeof err), CLI_EXIT_USAGE);
  CHECK(strstr(err, "--joblog FILE --resume"));
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --bogus x", &p, err, sizeof err), CLI_EXIT_USAGE);
  cli_parsed_free(&p);
  /* An empty ::: is GNU parallel's "no job" (alone), not a usage error. */
  CHECK_EQ(parse("corral echo :::", &p, err, sizeof err), 0);
  CHECK_EQ(p.nsrc, 1u);
  CHECK_EQ(p.src[0].n, 0u);
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --shard 4/4 x", &p, err, sizeof err), CLI_EXIT_USAGE);
  CHECK(strstr(err, "0 <= I < N"));
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --shard 1/4 echo ::: a", &p, err, sizeof err), 0);
  CHECK_EQ(p.cfg.shard_i, 1);
  CHECK_EQ(p.cfg.shard_n, 4);
  cli_parsed_free(&p);
}

/* Checked against GNU parallel 20221122 (with --plus for {##} {..} {+.}). */
TEST(more_replacement_strings_as_gnu_parallel) {
  EXPECT_EXPAND("echo {0}", "a b", "echo 'a b'");
  EXPECT_EXPAND("echo {..} {+..} {...} {+/} {/..} {.} {+.}", "/x/a.b",
                "echo /x/a.b '' /x/a.b /x a.b /x/a b");
  EXPECT_EXPAND("echo {..} {+..} {...} {+/} {/..} {.} {+.}", "a.b.c.d",
                "echo a.b c.d a '' a.b a.b.c d");
  EXPECT_EXPAND("echo {/...} {+.}", ".hid", "echo .hid hid");
  char *w[1] = {"echo {##}/{#}"};
  cli_template *t;
  CHECK_EQ(cli_template_new(w, 1, &t), 0);
  CHECK(cli_template_uses_total(t));
  const char *v[1] = {"x"};
  cli_args a = {.v = (char **)v, .n = 1, .seq = 2, .slot = 1, .total = 9};
  cli_buf b = {0};
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  CHECK_STR(b.data, "echo 9/2");
  cli_buf_free(&b);
  cli_template_free(t);
  char err[256];
  char *perl[2] = {"echo", "{=s/a/b/=}"};
  CHECK_EQ(cli_template_check(perl, 2, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "not supported"));
  char *open_only[2] = {"echo", "{=x"};
  CHECK_EQ(cli_template_check(open_only, 2, err, sizeof err), 0); /* literal */
}

/* -X repeats the word holding {} once per value; -m joins the values. */
TEST(context_replace) {
  char *w[3] = {"echo", "a{.}b-{#}", "c"};
  cli_template *t;
  CHECK_EQ(cli_template_new_ex(w, 3, CLI_TMPL_CONTEXT, &t), 0);
  const char *v[2] = {"1.x", "2.y"};
  cli_args a = {.v = (char **)v, .n = 2, .seq = 4, .slot = 1};
  cli_buf b = {0};
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  CHECK_STR(b.data, "echo a1b-4 a2b-4 c");
  /* One more value adds its word and a space. */
  CHECK_EQ(cli_template_value_cost(t, "3.z"), strlen(" a3b-4"));
  cli_buf_free(&b);
  cli_template_free(t);
  CHECK_EQ(cli_template_new_ex(w, 3, 0, &t), 0);
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  CHECK_STR(b.data, "echo a1 2b-4 c");
  cli_buf_free(&b);
  cli_template_free(t);
  char *pw[2] = {"wc", "-l"};
  CHECK_EQ(cli_template_new_ex(pw, 2, CLI_TMPL_NO_APPEND, &t), 0); /* --pipe */
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  CHECK_STR(b.data, "wc -l");
  cli_buf_free(&b);
  cli_template_free(t);
}

TEST(input_options) {
  cli_parsed p;
  char err[512];
  CHECK_EQ(parse("corral --link -N 2 echo ::: a b :::+ 1 2 :::: f ::::+ g", &p, err, sizeof err), 0);
  CHECK(p.cfg.in.link);
  CHECK_EQ(p.cfg.in.max_args, 2);
  CHECK_EQ(p.nsrc, 4);
  CHECK(!p.src[0].linked && p.src[1].linked && !p.src[2].linked && p.src[3].linked);
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --pipe --block 2M --recend x wc", &p, err, sizeof err), 0);
  CHECK(p.cfg.in.pipe);
  CHECK_EQ(p.cfg.in.block, 2 * 1048576);
  CHECK_STR(p.cfg.in.recend, "x");
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --pipe --block 10k wc", &p, err, sizeof err), 0);
  CHECK_EQ(p.cfg.in.block, 10000);
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral -X -s 100 --trim lr -d , echo", &p, err, sizeof err), 0);
  CHECK(p.cfg.in.batch);
  CHECK_EQ(p.cfg.in.max_chars, 100);
  CHECK_EQ(p.cfg.in.trim, CLI_TRIM_L | CLI_TRIM_R);
  CHECK_STR(p.cfg.in.delim, ",");
  cli_parsed_free(&p);
  static const struct { const char *cmd, *hint; } bad[] = {
      {"corral echo :::+ a", "write :::"},
      {"corral --pipe", "--pipe wc -l"},
      {"corral --pipe echo ::: a", "standard input"},
      {"corral --pipe -X echo", "do not apply"},
      {"corral --block 5q --pipe wc", "--block 1M"},
      {"corral --header 1 echo ::: a", "--header :"},
      {"corral --trim x echo", "--trim n, l, r or lr"},
      {"corral --recend x echo", "-d SEP"},
      {"corral -N x echo", "-N N"},
      {"corral echo {=uc=} ::: a", "not supported"},
      {"corral --pipe echo {##}", "use {#}"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = 0;
    CHECK_EQ(parse(bad[i].cmd, &p, err, sizeof err), CLI_EXIT_USAGE);
    if (!strstr(err, bad[i].hint)) {
      fprintf(stderr, "%s: [%s] lacks [%s]\n", bad[i].cmd, err, bad[i].hint);
      CHECK(0);
    }
    CHECK(!strchr(err, '\n'));
    cli_parsed_free(&p);
  }
  setenv("PARALLEL_SHELL", "/bin/dash", 1);
  char *sh = cli_pick_shell();
  CHECK_STR(sh, "/bin/dash");
  free(sh);
  unsetenv("PARALLEL_SHELL");
}

TEST(shard_from_slurm_and_kubernetes) {
  cli_parsed p;
  char err[512];
  setenv("SLURM_ARRAY_TASK_ID", "5", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "3", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  CHECK_EQ(parse("corral --shard auto echo ::: a", &p, err, sizeof err), 0);
  CHECK_EQ(p.cfg.shard_i, 2);
  CHECK_EQ(p.cfg.shard_n, 4);
  cli_parsed_free(&p);
  unsetenv("SLURM_ARRAY_TASK_ID");
  setenv("JOB_COMPLETION_INDEX", "3", 1);
  CHECK_EQ(parse("corral --shard /8 echo ::: a", &p, err, sizeof err), 0);
  CHECK_EQ(p.cfg.shard_i, 3);
  CHECK_EQ(p.cfg.shard_n, 8);
  cli_parsed_free(&p);
  CHECK_EQ(parse("corral --shard auto echo ::: a", &p, err, sizeof err), CLI_EXIT_USAGE);
  CHECK(strstr(err, "--shard /N"));
  cli_parsed_free(&p);
}

/* Text for a terminal line (live view, summary): controls made visible,
 * cut by columns with a '~', characters of the locale kept whole. */
static char *visible(const char *s, int cols) {
  static cli_buf b;
  cli_buf_reset(&b);
  cli_buf_add_visible(&b, s, strlen(s), cols);
  return b.data ? b.data : "";
}
TEST(terminal_text_is_visible_and_cut) {
  CHECK(strcmp(visible("plain", -1), "plain") == 0);
  CHECK(strcmp(visible("a\tb\nc\rd", -1), "a b c d") == 0);
  CHECK(strcmp(visible("x\033[31my\x7f", -1), "x?[31my?") == 0);
  CHECK(strcmp(visible("abcdef", 6), "abcdef") == 0);
  CHECK(strcmp(visible("abcdefg", 6), "abcde~") == 0);
  CHECK(strcmp(visible("abc", 0), "") == 0);
  cli_buf one = {0};
  CHECK_EQ(cli_buf_add_visible(&one, "abc", 3, 1), 1);
  CHECK(strcmp(one.data, "~") == 0);
  cli_buf_free(&one);
  /* the C locale: bytes outside ASCII are not characters */
  CHECK(strcmp(visible("caf\xc3\xa9", -1), "caf??") == 0);
  if (setlocale(LC_CTYPE, "C.UTF-8")) {
    CHECK(strcmp(visible("caf\xc3\xa9", -1), "caf\xc3\xa9") == 0);
    CHECK(strcmp(visible("\xe6\x97\xa5\xe6\x9c\xac", 4), "\xe6\x97\xa5\xe6\x9c\xac") == 0); /* two wide */
    CHECK(strcmp(visible("\xe6\x97\xa5\xe6\x9c\xac!", 4), "\xe6\x97\xa5~") == 0);
    CHECK(strcmp(visible("ab\xff\xc3", -1), "ab??") == 0); /* invalid, truncated */
    CHECK(strcmp(visible("\xc2\x9b" "31m", -1), "?31m") == 0); /* C1 CSI */
    setlocale(LC_CTYPE, "C");
  }
}
