/* Tiny test harness. Each TEST(name) is registered by tests/CMakeLists.txt
 * as its own CTest test (one process per case, with a timeout): the program
 * runs the case named by argv[1], or every case when given none. CHECK
 * macros print both sides and exit non-zero. */
#ifndef CORRAL_TEST_H
#define CORRAL_TEST_H

#include "corral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  void (*fn)(void);
} test_case;

#define TEST_MAX 256
static test_case test_cases_[TEST_MAX];
static int test_count_;

#define TEST(name)                                                           \
  static void name(void);                                                    \
  __attribute__((constructor)) static void reg_##name(void) {                \
    test_cases_[test_count_++] = (test_case){#name, name};                   \
  }                                                                          \
  static void name(void)

#define FAILF(...)                                                           \
  do {                                                                       \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                          \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
    exit(1);                                                                 \
  } while (0)

#define CHECK(c)                                                             \
  do {                                                                       \
    if (!(c)) FAILF("CHECK failed: %s", #c);                                 \
  } while (0)

#define CHECK_EQ(a, b)                                                       \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_) FAILF("CHECK_EQ failed: %s == %s (%lld vs %lld)", #a, #b, \
                        a_, b_);                                             \
  } while (0)

#define CHECK_RC(a, b)                                                       \
  do {                                                                       \
    int a_ = (int)(a), b_ = (int)(b);                                        \
    if (a_ != b_)                                                            \
      FAILF("CHECK_RC failed: %s: got %s (%d), want %s (%d)", #a,            \
            corral_err_name(a_), a_, corral_err_name(b_), b_);               \
  } while (0)

#define CHECK_STR(a, b)                                                      \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                   \
      FAILF("CHECK_STR failed: %s == %s (\"%s\" vs \"%s\")", #a, #b,         \
            a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
  } while (0)

#define MS (1000000LL)
#define SEC (1000000000LL)

/* Run child() in a forked process with stderr captured into buf; return
 * the wait status. */
#include <sys/wait.h>
#include <unistd.h>
static inline int run_child(void (*child)(void), char *buf, size_t size) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    child();
    _exit(0);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t r;
  while (got < size - 1 && (r = read(fds[0], buf + got, size - 1 - got)) > 0)
    got += (size_t)r;
  buf[got] = 0;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

/* Open descriptors of this process, counted once libuv's process-wide
 * signal pipe exists (the first loop makes it and keeps it): what I/O tests
 * compare before and after. */
#include <dirent.h>
static int test_nothing_(void *a, void **r) {
  (void)a, (void)r;
  return 0;
}
static inline int count_fds(void) {
  static int warm;
  if (!warm++) corral_run(NULL, test_nothing_, NULL, NULL);
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* The cancel reason of a finished task, by value. */
static inline corral_cancel_reason treason(const corral_task *t) {
  corral_cancel_reason r;
  memset(&r, 0, sizeof r);
  corral_task_cancel_reason(t, &r);
  return r;
}

/* Run fn as the main task on the virtual clock once per seed (0: FIFO,
 * else that shuffle seed); fail on any code but 0. */
static inline void run_seeds(corral_fn fn, void *arg, const uint64_t *seeds,
                             size_t n) {
  for (size_t i = 0; i < n; i++) {
    corral_options o = {0};
    o.virtual_clock = 1;
    o.shuffle_seed = seeds[i];
    int rc = corral_run(&o, fn, arg, NULL);
    if (rc != 0)
      FAILF("seed %llu: corral_run returned %s", (unsigned long long)seeds[i],
            corral_err_name(rc));
  }
}

/* Run fn as the main task on the virtual clock; return corral_run's code. */
static inline int run_virtual(corral_fn fn, void *arg) {
  corral_options o = {0};
  o.virtual_clock = 1;
  return corral_run(&o, fn, arg, NULL);
}

int main(int argc, char **argv) {
  int ran = 0;
  for (int i = 0; i < test_count_; i++) {
    if (argc > 1 && strcmp(argv[1], test_cases_[i].name) != 0) continue;
    test_cases_[i].fn();
    ran++;
  }
  if (argc > 1 && ran == 0) {
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  return 0;
}

#endif
