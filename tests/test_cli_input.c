/* The corral command's inputs (streamed, cross products in GNU parallel's
 * order, files, NUL records, columns) and joblog / --resume. */
#include "test.h"

#include "input.h"
#include "joblog.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>


static char *all_jobs(cli_input_opts *o) {
  cli_input *in;
  char err[256];
  CHECK_EQ(cli_input_open(o, &in, err, sizeof err), 0);
  cli_buf b = {0};
  cli_args a;
  int rc;
  while ((rc = cli_input_next(in, &a)) == 1) {
    for (size_t i = 0; i < a.n; i++) {
      cli_buf_adds(&b, i ? "," : "");
      cli_buf_adds(&b, a.v[i]);
    }
    cli_buf_adds(&b, ";");
    cli_args_free(&a);
  }
  CHECK_EQ(rc, 0);
  cli_input_close(in);
  if (!b.data) cli_buf_adds(&b, "");
  return b.data;
}

static void write_file(const char *path, const char *data, size_t n) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fwrite(data, 1, n, f);
  fclose(f);
}

TEST(cross_product_in_gnu_parallel_order) {
  int fds = count_fds();
  char *l1[] = {"a", "b"}, *l2[] = {"1", "2", "3"};
  cli_source s[2] = {{.kind = CLI_SRC_LIST, .values = l1, .n = 2},
                     {.kind = CLI_SRC_LIST, .values = l2, .n = 3}};
  cli_input_opts o = {.src = s, .nsrc = 2, .sep = '\n'};
  char *got = all_jobs(&o);
  CHECK_STR(got, "a,1;a,2;a,3;b,1;b,2;b,3;");
  free(got);
  /* An empty source beside one with values is one empty value (GNU
   * parallel: "echo ::: a b :::" runs "echo a ''" and "echo b ''")... */
  s[1].n = 0;
  got = all_jobs(&o);
  CHECK_STR(got, "a,;b,;");
  free(got);
  /* ... and when every source is empty there is no job. */
  s[0].n = 0;
  got = all_jobs(&o);
  CHECK_STR(got, "");
  free(got);
  CHECK_EQ(count_fds(), fds);
}

/* GNU parallel's rule for empty :::: files: one empty value beside a source
 * with values, wherever the empty one is (the streamed first source, one
 * held in memory, a linked one), no job when every source is empty. */
TEST(empty_files_beside_other_sources) {
  int fds = count_fds();
  char empty[] = "/tmp/corral_test_emptyXXXXXX", full[] = "/tmp/corral_test_fullXXXXXX";
  int fd = mkstemp(empty);
  CHECK(fd >= 0);
  close(fd);
  fd = mkstemp(full);
  CHECK(fd >= 0);
  close(fd);
  write_file(full, "l1\nl2\n", 6);
  char *ab[] = {"a", "b"};
  cli_source E = {.kind = CLI_SRC_FILE, .path = empty}, F = {.kind = CLI_SRC_FILE, .path = full};
  cli_source L = {.kind = CLI_SRC_LIST, .values = ab, .n = 2};
  struct {
    cli_source s[3];
    size_t n;
    int read_all;
    const char *want;
  } cases[] = {
      {{E}, 1, 0, ""},
      {{E, L}, 2, 0, ",a;,b;"},
      {{E, L}, 2, 1, ",a;,b;"},
      {{L, E}, 2, 0, "a,;b,;"},
      {{E, E}, 2, 0, ""},
      {{E, F}, 2, 0, ",l1;,l2;"},
      {{F, E}, 2, 0, "l1,;l2,;"},
      {{F, E, F}, 3, 0, "l1,,l1;l1,,l2;l2,,l1;l2,,l2;"},
      {{E, L, E}, 3, 0, ",a,;,b,;"},
      {{L, E, L}, 3, 0, "a,,a;a,,b;b,,a;b,,b;"},
      {{E, F}, 2, 2, ",l1;"},       /* ::::+ : linked */
      {{F, E}, 2, 2, "l1,;"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (cases[i].read_all == 2) cases[i].s[1].linked = 1;
    cli_input_opts o = {.src = cases[i].s, .nsrc = cases[i].n, .sep = '\n',
                        .read_all = cases[i].read_all == 1};
    char *got = all_jobs(&o);
    CHECK_STR(got, cases[i].want);
    free(got);
  }
  unlink(empty);
  unlink(full);
  CHECK_EQ(count_fds(), fds);
}

TEST(files_nul_records_and_columns) {
  int fds = count_fds();
  char path[] = "/tmp/corral_test_inXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  write_file(path, "x\ty z\n\nlast", 11);
  cli_source s[1] = {{.kind = CLI_SRC_FILE, .path = path}};
  cli_input_opts o = {.src = s, .nsrc = 1, .sep = '\n'};
  char *got = all_jobs(&o);
  CHECK_STR(got, "x\ty z;;last;"); /* empty lines are jobs, as in GNU parallel */
  free(got);
  o.colsep = "\t";
  got = all_jobs(&o);
  CHECK_STR(got, "x,y z;;last;");
  free(got);
  write_file(path, "a b\0c\nd\0", 8);
  o.colsep = NULL;
  o.sep = '\0';
  got = all_jobs(&o);
  CHECK_STR(got, "a b;c\nd;");
  free(got);
  /* A missing file: an error naming it, nothing leaked. */
  s[0].path = "/nonexistent/corral";
  cli_input *in;
  char err[256];
  CHECK(cli_input_open(&o, &in, err, sizeof err) < 0);
  CHECK(strstr(err, "/nonexistent/corral"));
  unlink(path);
  CHECK_EQ(count_fds(), fds);
}

TEST(file_times_list_cross_product) {
  char path[] = "/tmp/corral_test_inXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  write_file(path, "f1\nf2\n", 6);
  char *l[] = {"x", "y"};
  cli_source s[2] = {{.kind = CLI_SRC_LIST, .values = l, .n = 2},
                     {.kind = CLI_SRC_FILE, .path = path}};
  cli_input_opts o = {.src = s, .nsrc = 2, .sep = '\n'};
  char *got = all_jobs(&o);
  CHECK_STR(got, "x,f1;x,f2;y,f1;y,f2;");
  free(got);
  unlink(path);
}

/* 2,000,000 lines through a pipe: records are handed out one by one, the
 * reader's buffer stays at one chunk (the input is never read up front). */
TEST(stream_is_constant_memory) {
  int p[2];
  CHECK_EQ(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    FILE *f = fdopen(p[1], "w");
    for (int i = 0; i < 2000000; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    _exit(0);
  }
  close(p[1]);
  int saved = dup(0);
  dup2(p[0], 0);
  close(p[0]);
  cli_input_opts o = {.sep = '\n'};
  cli_input *in;
  char err[256];
  CHECK_EQ(cli_input_open(&o, &in, err, sizeof err), 0);
  CHECK(cli_input_endless(in));
  cli_args a;
  long n = 0;
  long rss_start = 0;
  while (cli_input_next(in, &a) == 1) {
    if (n == 1000) {
      FILE *f = fopen("/proc/self/statm", "r");
      CHECK(fscanf(f, "%*d %ld", &rss_start) == 1);
      fclose(f);
    }
    n++;
    cli_args_free(&a);
  }
  long rss_end = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  CHECK(fscanf(f, "%*d %ld", &rss_end) == 1);
  fclose(f);
  CHECK_EQ(n, 2000000);
  /* pages: 2M lines (~26 MB) went through; growth stays under 1 MB
   * (AddressSanitizer keeps freed blocks in quarantine: not measured). */
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(rss_end - rss_start < 256);
#else
  (void)rss_start;
#endif
  cli_input_close(in);
  dup2(saved, 0);
  close(saved);
  int st;
  waitpid(pid, &st, 0);
}

TEST(linked_sources_and_wrap_around) {
  int fds = count_fds();
  char *l1[] = {"a", "b", "c"}, *l2[] = {"1", "2"}, *l3[] = {"X", "Y"};
  cli_source s[3] = {{.kind = CLI_SRC_LIST, .values = l1, .n = 3},
                     {.kind = CLI_SRC_LIST, .values = l2, .n = 2, .linked = 1},
                     {.kind = CLI_SRC_LIST, .values = l3, .n = 2}};
  cli_input_opts o = {.src = s, .nsrc = 3, .sep = '\n'};
  char *got = all_jobs(&o); /* :::+ stops at the shortest, then the product */
  CHECK_STR(got, "a,1,X;a,1,Y;b,2,X;b,2,Y;");
  free(got);
  s[1].linked = 0;
  o.link = 1; /* --link: one group, the shorter ones start again */
  got = all_jobs(&o);
  CHECK_STR(got, "a,1,X;b,2,Y;c,1,X;");
  free(got);
  /* A file linked to a list, streamed in step. */
  char path[] = "/tmp/corral_test_inXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  write_file(path, "f1\nf2\nf3\nf4\n", 12);
  cli_source s2[2] = {{.kind = CLI_SRC_FILE, .path = path},
                      {.kind = CLI_SRC_LIST, .values = l2, .n = 2, .linked = 1}};
  cli_input_opts o2 = {.src = s2, .nsrc = 2, .sep = '\n'};
  got = all_jobs(&o2);
  CHECK_STR(got, "f1,1;f2,2;");
  free(got);
  o2.link = 1;
  got = all_jobs(&o2);
  CHECK_STR(got, "f1,1;f2,2;f3,1;f4,2;");
  free(got);
  unlink(path);
  CHECK_EQ(count_fds(), fds);
}

TEST(several_rows_per_job_and_totals) {
  int fds = count_fds();
  char *l1[] = {"a", "b", "c", "d", "e"};
  cli_source s[1] = {{.kind = CLI_SRC_LIST, .values = l1, .n = 5}};
  cli_input_opts o = {.src = s, .nsrc = 1, .sep = '\n', .max_args = 2};
  char *got = all_jobs(&o);
  CHECK_STR(got, "a,b;c,d;e;");
  free(got);
  cli_input *in;
  char err[256];
  CHECK_EQ(cli_input_open(&o, &in, err, sizeof err), 0);
  CHECK_EQ(cli_input_total(in), 3); /* {##} */
  cli_args a;
  CHECK_EQ(cli_input_next(in, &a), 1);
  CHECK_EQ(a.total, 3);
  cli_args_free(&a);
  cli_input_close(in);
  /* -m: as many as fit in -s; a short input is spread over the slots. */
  char *w[] = {"echo"};
  cli_template *t;
  CHECK_EQ(cli_template_new(w, 1, &t), 0);
  cli_input_opts m = {.src = s, .nsrc = 1, .sep = '\n', .batch = 1, .tmpl = t, .jobs = 2};
  got = all_jobs(&m);
  CHECK_STR(got, "a,b,c;d,e;");
  free(got);
  m.jobs = 1;
  m.max_chars = 11; /* "echo a b c" and its NUL */
  got = all_jobs(&m);
  CHECK_STR(got, "a,b,c;d,e;");
  free(got);
  cli_template_free(t);
  CHECK_EQ(count_fds(), fds);
}

TEST(header_delimiter_trim_and_regex_columns) {
  int fds = count_fds();
  char path[] = "/tmp/corral_test_inXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  write_file(path, "name, size\n a.txt ,3\nb ,  4\n", 28);
  cli_source s[1] = {{.kind = CLI_SRC_FILE, .path = path}};
  cli_input_opts o = {.src = s, .nsrc = 1, .sep = '\n', .colsep = ",\\s*",
                      .header = 1, .trim = CLI_TRIM_L | CLI_TRIM_R};
  cli_input *in;
  char err[256];
  CHECK_EQ(cli_input_open(&o, &in, err, sizeof err), 0);
  cli_args a;
  CHECK_EQ(cli_input_next(in, &a), 1);
  CHECK_EQ(a.nnames, 2);
  CHECK_STR(a.names[0], "name");
  CHECK_STR(a.names[1], "size");
  CHECK_EQ(a.n, 2);
  CHECK_STR(a.v[0], "a.txt");
  CHECK_STR(a.v[1], "3");
  char *w[] = {"cp", "{name}", "{size}.bak"};
  cli_template *t;
  CHECK_EQ(cli_template_new_ex(w, 3, CLI_TMPL_HEADER, &t), 0);
  cli_buf b = {0};
  CHECK_EQ(cli_template_expand(t, &a, &b), 0);
  CHECK_STR(b.data, "cp a.txt 3.bak");
  cli_buf_free(&b);
  cli_template_free(t);
  cli_args_free(&a);
  cli_input_close(in);
  /* -d with a multi-byte delimiter; empty records stay jobs. */
  write_file(path, "a::b::::c", 9);
  cli_input_opts d = {.src = s, .nsrc = 1, .delim = "::"};
  char *got = all_jobs(&d);
  CHECK_STR(got, "a;b;;c;");
  free(got);
  /* A --colsep that is not a regular expression: a clear error. */
  cli_input_opts bad = {.src = s, .nsrc = 1, .sep = '\n', .colsep = "a("};
  CHECK_EQ(cli_input_open(&bad, &in, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "--colsep"));
  unlink(path);
  CHECK_EQ(count_fds(), fds);
}

/* --pipe: blocks end on record boundaries, at most --block bytes unless one
 * record is longer; -N counts records; --recstart/--recend. */
TEST(pipe_blocks) {
  int fds = count_fds();
  char path[] = "/tmp/corral_test_inXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  write_file(path, "aaa\nbb\ncccccccc\nd\n>x\n1\n>y\n2", 27);
  cli_source s[1] = {{.kind = CLI_SRC_FILE, .path = path}};
  struct { cli_input_opts o; const char *want; } cases[] = {
      {{.src = s, .nsrc = 1, .sep = '\n', .pipe = 1, .block = 8}, "aaa\nbb\n|cccccccc\n|d\n>x\n1\n|>y\n2|"},
      {{.src = s, .nsrc = 1, .sep = '\n', .pipe = 1, .max_args = 3}, "aaa\nbb\ncccccccc\n|d\n>x\n1\n|>y\n2|"},
      {{.src = s, .nsrc = 1, .sep = '\n', .pipe = 1, .block = 5, .recstart = ">"},
       "aaa\nbb\ncccccccc\nd\n|>x\n1\n|>y\n2|"},
      {{.src = s, .nsrc = 1, .sep = '\n', .pipe = 1, .max_args = 2, .delim = ">"},
       "aaa\nbb\ncccccccc\nd\n>x\n1\n>|y\n2|"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    cli_input *in;
    char err[256];
    CHECK_EQ(cli_input_open(&cases[c].o, &in, err, sizeof err), 0);
    cli_buf got = {0};
    char *d;
    size_t n;
    int rc;
    while ((rc = cli_input_block(in, &d, &n)) == 1) {
      cli_buf_add(&got, d, n);
      cli_buf_addc(&got, '|');
      free(d);
    }
    CHECK_EQ(rc, 0);
    CHECK_STR(got.data, cases[c].want);
    cli_buf_free(&got);
    cli_input_close(in);
  }
  unlink(path);
  CHECK_EQ(count_fds(), fds);
}

TEST(joblog_and_resume) {
  char path[] = "/tmp/corral_test_jlXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  cli_joblog j = {0};
  CHECK_EQ(cli_joblog_open(&j, path, 0), 0);
  CHECK_EQ(cli_joblog_write(&j, 1, 1700000000.5, 0.25, 7, 0, 0, "echo a"), 0);
  CHECK_EQ(cli_joblog_write(&j, 2, 1700000000.6, 1.5, 0, 3, 0, "exit 3"), 0);
  CHECK_EQ(cli_joblog_write(&j, 4, 1700000000.7, 2.0, 0, -1, 15, "sleep 9"), 0);
  cli_joblog_close(&j);
  FILE *f = fopen(path, "r");
  char line[256];
  CHECK(fgets(line, sizeof line, f));
  CHECK_STR(line, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n");
  CHECK(fgets(line, sizeof line, f));
  CHECK_STR(line, "1\t:\t1700000000.500\t     0.250\t0\t7\t0\t0\techo a\n");
  fclose(f);
  cli_seqset s;
  CHECK_EQ(cli_seqset_load(&s, path, 0), 0); /* --resume: every logged job */
  CHECK(cli_seqset_has(&s, 1) && cli_seqset_has(&s, 2) && cli_seqset_has(&s, 4));
  CHECK(!cli_seqset_has(&s, 3));
  cli_seqset_free(&s);
  CHECK_EQ(cli_seqset_load(&s, path, 1), 0); /* --resume-failed: only successes */
  CHECK(cli_seqset_has(&s, 1));
  CHECK(!cli_seqset_has(&s, 2) && !cli_seqset_has(&s, 4));
  cli_seqset_free(&s);
  /* "+FILE" appends without a second header. */
  char plus[300];
  snprintf(plus, sizeof plus, "+%s", path);
  CHECK_EQ(cli_joblog_open(&j, plus, 0), 0);
  CHECK_EQ(cli_joblog_write(&j, 2, 1700000001.0, 0.1, 0, 0, 0, "exit 3"), 0);
  cli_joblog_close(&j);
  CHECK_EQ(cli_seqset_load(&s, path, 1), 0);
  CHECK(cli_seqset_has(&s, 2));
  cli_seqset_free(&s);
  /* Not a joblog. */
  write_file(path, "hello\n", 6);
  CHECK_EQ(cli_seqset_load(&s, path, 0), -EINVAL);
  unlink(path);
  CHECK_EQ(cli_seqset_load(&s, path, 0), 0); /* missing: nothing done yet */
  CHECK(!cli_seqset_has(&s, 1));
}

/* --retry-failed: the last line of a job decides; torn lines are skipped;
 * the jobs come in sequence order with their commands. */
TEST(joblog_failed_last_line_decides) {
  int fds = count_fds();
  char path[] = "/tmp/corral_test_jlfXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  const char *text =
      "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
      "3\t:\t1.0\t     0.1\t0\t0\t2\t0\texit 2\n"
      "1\t:\t1.0\t     0.1\t0\t0\t1\t0\techo a; exit 1\n"
      "2\t:\t1.0\t     0.1\t0\t0\t0\t9\tkill -9 $$\n"
      "1\t:\t1.0\t     0.1\t0\t0\t0\t0\techo a; exit 1\n"
      "4\t:\t1.0";
  write_file(path, text, strlen(text));
  char **cmds;
  uint64_t *seqs;
  size_t n;
  CHECK_EQ(cli_joblog_failed(path, &cmds, &seqs, &n), 0);
  CHECK_EQ(n, 2);
  CHECK_EQ(seqs[0], 2);
  CHECK_STR(cmds[0], "kill -9 $$");
  CHECK_EQ(seqs[1], 3);
  CHECK_STR(cmds[1], "exit 2");
  CHECK(cmds[2] == NULL);
  for (size_t i = 0; i < n; i++) free(cmds[i]);
  free(cmds);
  free(seqs);
  write_file(path, "not a joblog\n", 13);
  CHECK_EQ(cli_joblog_failed(path, &cmds, &seqs, &n), -EINVAL);
  unlink(path);
  CHECK_EQ(cli_joblog_failed(path, &cmds, &seqs, &n), 0); /* missing: none */
  CHECK_EQ(n, 0);
  free(cmds);
  free(seqs);
  CHECK_EQ(count_fds(), fds);
}
