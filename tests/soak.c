/* Soak: mixed load for a fixed time, with resource samples every second.
 *
 *   soak [seconds (default 600)] [samples.csv]
 *
 * Load, all at once, on the real clock, under one runtime:
 *  - TCP echo: a server spawning a handler per connection; 16 clients that
 *    connect, exchange random amounts (1 byte .. 64 KiB) a few times, and
 *    are cancelled at random by a move_on_after deadline in the middle of
 *    their reads and writes;
 *  - timers: 32 tasks sleeping random times in nested scopes with random
 *    deadlines (move-on and fail-after) and shields;
 *  - channels: rounds of 3 producers and 3 consumers on a bounded channel,
 *    each round cancelled after a random time and its channel freed;
 *  - groups: gathers of short tasks under every policy with random failures;
 *  - offload: 4 tasks calling corral_to_thread (0.1 .. 3 ms of work that
 *    allocates its result) under 1 .. 3 ms deadlines, half of them with an
 *    abandon deadline whose cleanup frees the result;
 *  - subprocesses: 3 tasks spawning short children (include/corral/
 *    process.h): `true`, an exit code, output read through a pipe, a child
 *    cancelled mid-run by a deadline (SIGTERM to its group, then SIGKILL),
 *    a child whose grandchild runs in the background (`sh -c 'sleep 100 &
 *    wait'`: cancelled, the whole group must go), a child that ignores
 *    SIGTERM (only the SIGKILL after the grace ends it), and closes without
 *    a wait. The soak makes itself a subreaper (PR_SET_CHILD_SUBREAPER), so
 *    an orphaned grandchild would become its child and be counted;
 *  - files (include/corral/file.h): 4 tasks opening, writing, reading back,
 *    stat'ing and unlinking files in a directory of their own, some
 *    cancelled by a deadline in the middle; the directory must be empty at
 *    the end.
 * Every second a sampler records RSS, open descriptors and child processes.
 * Pass/fail: the second half of the run must not grow over the first:
 *  - descriptors and child processes: the second half's maximum at most the
 *    first half's plus 16 (children: plus 2), its median at most the first
 *    half's plus 4 (a spawn holds up to 5 descriptors for a moment: its
 *    socket pair, /dev/null, the /proc scan of its group's end). The load's concurrency is fixed (16 client and at most
 *    16 server connections), so the number open when a sample is taken
 *    varies by chance within that bound; a leak of one descriptor per
 *    connection adds ~150 a second;
 *  - RSS: after a warm-up (the first minute, or the first third of a
 *    shorter run, which fills the stack pool, the task slabs and malloc's
 *    heap and arenas), its least-squares trend may not exceed 128 KiB a
 *    minute (256 when the window is under two minutes), and the median of the window's last quarter may not exceed
 *    the median of its first quarter by more than 256 KiB. A leak of 100
 *    bytes per connection at ~150 connections/s adds ~880 KiB a minute, per
 *    child ~230 KiB, per timer or channel item far more; the RSS of a
 *    healthy run moves by a few steps of libc's heap reaching its
 *    high-water mark (docs/reliability.md, "Soak").
 * SOAK_LEAK=100 leaks 100 bytes per connection: the RSS check must fail.
 * SOAK_SMAPS=60,240 copies /proc/self/smaps and malloc_info(3) at those
 * seconds (see dump_memory), to name the mapping that grows.
 * After corral_run returns: descriptors back to their count before it, no
 * child process left, no file left. Exit status 0 when everything holds. */
#define _GNU_SOURCE 1
#include "corral.h"
#include "corral/channel.h"
#include "corral/file.h"
#include "corral/process.h"
#include "corral/stream.h"
#include "corral/thread.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MS CORRAL_MS(1)

typedef struct {
  uint64_t s;
} rng;
static uint64_t next(rng *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s;
}
static int64_t pick(rng *r, int64_t n) { return (int64_t)(next(r) % (uint64_t)n); }

static struct {
  int64_t end;      /* corral_now() at which the load stops */
  int port;
  long connections, exchanges, tcp_cancels, tcp_errors;
  long sleeps, timer_cancels;
  long items, rounds;
  long gathers;
  long offloads, offload_cancels, abandoned;
  long spawns, spawn_cancels, spawn_errors;
  long file_rounds, file_cancels, file_errors;
  char dir[256];
  int seconds;
  size_t leak; /* SOAK_LEAK=bytes: leak that much per connection */
  /* samples */
  int n;
  long rss_kb[4096];
  int fds[4096], kids[4096];
  FILE *csv;
} S;

static int running(void) { return corral_now() < S.end; }

/* The counting allocator's figures (SOAK_COUNT_ALLOC, below). */
static _Atomic long live_blocks, live_bytes;

/* ---- resources ---- */

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n - 3; /* ., .. and the directory's own descriptor */
}

static int count_children(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, c, prev = ' ';
  while ((c = fgetc(f)) != EOF) {
    if (c != ' ' && prev == ' ') n++;
    prev = c;
  }
  fclose(f);
  return n;
}

/* SOAK_SMAPS=60,240: at those seconds the soak copies /proc/self/smaps to
 * PREFIX-SECOND.smaps and writes malloc_info(3) (every arena of libc's
 * malloc) to PREFIX-SECOND.malloc; PREFIX is SOAK_SMAPS_PREFIX, else
 * "soak". Diffing two snapshots names the mapping that grew. */
/* The clients' receive buffers and the handlers' buffer: a page of them
 * becomes resident when a read first reaches it. */
static char *tcp_in[17];
static char handler_buf[65536]; /* tasks of one thread take turns: one buffer */

/* Resident KiB of [p, p + n) (/proc/self/pagemap, bit 63: present). */
static long resident_kb(const void *p, size_t n) {
  long page = sysconf(_SC_PAGESIZE), kb = 0;
  int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return -1;
  uintptr_t a = (uintptr_t)p / (uintptr_t)page, b = ((uintptr_t)p + n - 1) / (uintptr_t)page;
  for (uintptr_t i = a; i <= b; i++) {
    uint64_t e;
    if (pread(fd, &e, sizeof e, (off_t)(i * sizeof e)) == sizeof e && (e >> 63)) kb += page / 1024;
  }
  close(fd);
  return kb;
}

static int dump_second(int i) {
  const char *list = getenv("SOAK_SMAPS");
  if (!list) return 0;
  for (const char *p = list; *p;) {
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p) break;
    if (v == i) return 1;
    p = *e ? e + 1 : e;
  }
  return 0;
}

static void dump_memory(int i) {
  const char *prefix = getenv("SOAK_SMAPS_PREFIX") ? getenv("SOAK_SMAPS_PREFIX") : "soak";
  char path[512];
  snprintf(path, sizeof path, "%s-%d.smaps", prefix, i);
  FILE *in = fopen("/proc/self/smaps", "r"), *out = fopen(path, "w");
  if (in && out) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  }
  if (in) fclose(in);
  if (out) fclose(out);
  snprintf(path, sizeof path, "%s-%d.malloc", prefix, i);
  out = fopen(path, "w");
  if (out) {
    malloc_info(0, out);
    fclose(out);
  }
  snprintf(path, sizeof path, "%s-%d.buffers", prefix, i);
  out = fopen(path, "w");
  if (out) {
    long total = 0;
    for (int k = 1; k <= 16; k++)
      if (tcp_in[k]) {
        long r = resident_kb(tcp_in[k], 65536);
        fprintf(out, "client %d receive buffer: %ld KiB resident\n", k, r);
        total += r;
      }
    fprintf(out, "clients' receive buffers: %ld KiB resident\n", total);
    fprintf(out, "handlers' buffer: %ld KiB resident\n", resident_kb(handler_buf, sizeof handler_buf));
    fclose(out);
  }
  /* Under LD_PRELOAD=heapmap.so (scripts/heapmap.c): its map of the heap. */
  void (*heapmap)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "heapmap_dump");
  if (heapmap) {
    snprintf(path, sizeof path, "%s-%d.heapmap", prefix, i);
    heapmap(path);
  }
}

static int sampler(void *arg, void **res) {
  (void)arg, (void)res;
  int64_t t0 = corral_now();
  for (int i = 1; running(); i++) {
    if (corral_sleep_until(t0 + CORRAL_SEC(i)) != 0) break;
    if (S.n == 4096) break;
    if (dump_second(i)) dump_memory(i);
    S.rss_kb[S.n] = rss_kb();
    S.fds[S.n] = count_fds();
    S.kids[S.n] = count_children();
    if (S.csv)
      fprintf(S.csv, "%d,%ld,%d,%d,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld\n", i,
              S.rss_kb[S.n], S.fds[S.n], S.kids[S.n], S.connections,
              S.tcp_cancels, S.sleeps, S.items, S.gathers, S.offloads,
              S.spawns, S.spawn_cancels, S.file_rounds, (long)live_blocks,
              (long)live_bytes);
    S.n++;
  }
  return 0;
}

/* ---- TCP echo ---- */

static int handler(void *arg, void **res) {
  (void)res;
  corral_stream *c = arg;
  char *buf = handler_buf;
  for (;;) {
    int n = corral_stream_read(c, buf, sizeof handler_buf);
    if (n <= 0) break;
    if (corral_stream_write(c, buf, (size_t)n, NULL) != 0) break;
  }
  corral_stream_close(c);
  return 0; /* a client that went away is no failure of the server */
}

static int server(void *arg, void **res) {
  (void)res;
  corral_listener *l = arg;
  corral_group g;
  int rc = corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT, .name = "handlers"});
  if (rc) return rc;
  while (running()) {
    corral_stream *c = NULL;
    rc = corral_listener_accept(l, &c);
    if (rc) break;
    if (corral_spawn(&g, handler, c, "handler", NULL) != 0) corral_stream_close(c);
  }
  corral_group_cancel(&g, "soak over");
  rc = corral_group_close(&g, 0);
  return rc == CORRAL_ECANCELED ? 0 : rc;
}

static int client(void *arg, void **res) {
  (void)res;
  rng r = {(uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull | 1};
  char *out = malloc(65536), *in = malloc(65536);
  if (!out || !in) return CORRAL_ENOMEM;
  tcp_in[(uintptr_t)arg] = in;
  memset(out, 'x', 65536);
  while (running()) {
    corral_scope s;
    corral_move_on_after(&s, (1 + pick(&r, 12)) * MS);
    corral_stream *c = NULL;
    int rc = corral_tcp_connect("127.0.0.1", S.port, &c);
    for (int k = 1 + (int)pick(&r, 5); rc == 0 && k > 0; k--) {
      size_t len = 1 + (size_t)pick(&r, 65536);
      rc = corral_stream_write(c, out, len, NULL);
      size_t got = 0;
      while (rc == 0 && got < len) {
        int n = corral_stream_read(c, in, 65536);
        if (n <= 0) rc = n ? n : CORRAL_EIO;
        else got += (size_t)n;
      }
      if (rc == 0) S.exchanges++;
    }
    corral_stream_close(c);
    if (c) S.connections++;
    if (c && S.leak) memset(malloc(S.leak), 1, S.leak); /* SOAK_LEAK: the check must catch it */
    int cancelled = corral_scope_cancelled(&s);
    rc = corral_scope_exit(&s, rc);
    if (cancelled) S.tcp_cancels++;
    else if (rc) {
      S.tcp_errors++; /* counted, not failed: the machine's ports are shared */
      fprintf(stderr, "soak: connection: %s\n", corral_err_name(rc));
    }
    /* ~150 connections/s in all: TIME_WAIT stays far from the port range. */
    if (corral_sleep((50 + pick(&r, 100)) * MS) != 0) break;
  }
  free(out);
  tcp_in[(uintptr_t)arg] = NULL;
  free(in);
  return 0;
}

/* ---- timers ---- */

static int timers(void *arg, void **res) {
  (void)res;
  rng r = {(uint64_t)(uintptr_t)arg * 0xbf58476d1ce4e5b9ull | 1};
  while (running()) {
    corral_scope a, b;
    int kind = (int)pick(&r, 3);
    if (kind == 0) corral_move_on_after(&a, pick(&r, 5) * MS);
    else if (kind == 1) corral_fail_after(&a, pick(&r, 5) * MS);
    else corral_shield(&a, (1 + pick(&r, 5)) * MS);
    corral_move_on_after(&b, pick(&r, 6) * MS);
    int rc = corral_sleep(pick(&r, 6) * MS);
    rc = corral_scope_exit(&b, rc);
    if (rc == 0) rc = corral_sleep(pick(&r, 3) * MS);
    rc = corral_scope_exit(&a, rc);
    S.sleeps++;
    if (rc) S.timer_cancels++;
  }
  return 0;
}

/* ---- channels ---- */

static int producer(void *arg, void **res) {
  (void)res;
  corral_channel *ch = arg;
  for (long i = 0;; i++)
    if (corral_channel_send(ch, &i) != 0) return 0;
}

static int consumer(void *arg, void **res) {
  (void)res;
  corral_channel *ch = arg;
  long v;
  while (corral_channel_receive(ch, &v) == 0) S.items++;
  return 0;
}

static int channels(void *arg, void **res) {
  (void)res;
  rng r = {(uint64_t)(uintptr_t)arg | 1};
  while (running()) {
    corral_channel *ch;
    int rc = corral_channel_open(&ch, sizeof(long), (size_t)pick(&r, 9), "soak");
    if (rc) return rc;
    corral_group g;
    corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
    for (int i = 0; i < 3; i++) {
      corral_spawn(&g, producer, ch, "producer", NULL);
      corral_spawn(&g, consumer, ch, "consumer", NULL);
    }
    CORRAL_IGNORE(corral_sleep((1 + pick(&r, 20)) * MS));
    if (pick(&r, 2))
      corral_group_cancel(&g, "round over");
    else
      corral_channel_close_send(ch); /* consumers drain; producers get ECLOSED */
    CORRAL_IGNORE(corral_group_close(&g, 0));
    corral_channel_free(ch);
    S.rounds++;
  }
  return 0;
}

/* ---- groups ---- */

static int short_task(void *arg, void **res) {
  (void)res;
  uint64_t v = (uint64_t)(uintptr_t)arg;
  if (corral_sleep((int64_t)(v % 4) * MS) != 0) return CORRAL_ECANCELED;
  return v % 7 == 0 ? corral_errorf(CORRAL_EIO, "random failure") : 0;
}

static int gathers(void *arg, void **res) {
  (void)res;
  rng r = {(uint64_t)(uintptr_t)arg * 31 | 1};
  while (running()) {
    corral_call calls[8];
    corral_outcome out[8];
    size_t n = 1 + (size_t)pick(&r, 8);
    for (size_t i = 0; i < n; i++)
      calls[i] = (corral_call){short_task, (void *)(uintptr_t)next(&r), "short"};
    static const int pol[] = {CORRAL_GATHER_ALL, CORRAL_GATHER_FAIL_FAST,
                              CORRAL_GATHER_FIRST, CORRAL_GATHER_QUORUM};
    corral_gather_opts o = {.policy = pol[pick(&r, 4)],
                            .quorum = 1 + (size_t)pick(&r, (int64_t)n),
                            .timeout_ns = pick(&r, 2) ? (1 + pick(&r, 4)) * MS : 0,
                            .limit = (size_t)pick(&r, 3)};
    CORRAL_IGNORE(corral_gather(calls, n, out, &o));
    corral_outcomes_clear(out, n);
    S.gathers++;
  }
  return 0;
}

/* ---- offload ---- */

static void spin_us(long us) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  long long end = t.tv_sec * 1000000000LL + t.tv_nsec + us * 1000;
  do clock_gettime(CLOCK_MONOTONIC, &t);
  while (t.tv_sec * 1000000000LL + t.tv_nsec < end);
}

static int work(void *arg, void **res) {
  spin_us((long)(uintptr_t)arg);
  *res = malloc(64); /* freed by the caller or, when abandoned, the cleanup */
  return 0;
}

static void dropped(void *arg, int code, void *result) {
  (void)arg, (void)code;
  free(result);
}

static int offloader(void *arg, void **res) {
  (void)res;
  rng r = {(uint64_t)(uintptr_t)arg * 0x94d049bb133111ebull | 1};
  while (running()) {
    corral_scope s;
    corral_move_on_after(&s, (1 + pick(&r, 3)) * MS);
    void *out = NULL;
    corral_thread_opts o = {.name = "work",
                            .abandon_after_ns = pick(&r, 2) ? (1 + pick(&r, 2)) * MS : 0,
                            .cleanup = dropped};
    int rc = corral_to_thread(work, (void *)(uintptr_t)(100 + pick(&r, 3000)), &out, &o);
    free(out);
    int cancelled = corral_scope_cancelled(&s);
    CORRAL_IGNORE(corral_scope_exit(&s, rc));
    S.offloads++;
    if (rc == CORRAL_EABANDONED) S.abandoned++;
    else if (cancelled) S.offload_cancels++;
  }
  return 0;
}

/* ---- subprocesses ---- */

/* One child of a random kind. Returns 0, or the error of a call that must
 * not fail (counted). */
static int one_child(rng *r) {
  static const char *const a_true[] = {"true", NULL};
  static const char *const a_exit[] = {"sh", "-c", "exit 3", NULL};
  static const char *const a_echo[] = {"echo", "soak", NULL};
  static const char *const a_sleep[] = {"sleep", "5", NULL};
  static const char *const a_grand[] = {"sh", "-c", "sleep 100 & wait", NULL};
  static const char *const a_deaf[] = {"sh", "-c", "trap '' TERM; sleep 100", NULL};
  int kind = (int)pick(r, 7);
  const char *const *argv[] = {a_true, a_exit, a_echo, a_sleep, a_grand, a_deaf, a_sleep};
  corral_process_opts o = {.argv = argv[kind], .kill_grace_ns = (5 + pick(r, 20)) * MS};
  o.stdio[0].mode = CORRAL_STDIO_NULL;
  o.stdio[1].mode = kind == 2 ? CORRAL_STDIO_PIPE : CORRAL_STDIO_NULL;
  corral_scope s;
  /* The long-running kinds are cancelled mid-run: before the child has
   * even exec'd for the shortest deadlines. */
  corral_move_on_after(&s, (kind >= 3 ? 1 + pick(r, 30) : 2000) * MS);
  corral_process *p = NULL;
  int rc = corral_process_spawn(&o, &p), st = 0, sig = 0;
  if (rc == 0 && kind == 6) {
    /* closed without a wait after a moment: close kills and reaps */
    CORRAL_IGNORE(corral_sleep(pick(r, 5) * MS));
    corral_process_close(p);
    p = NULL;
  }
  if (rc == 0 && kind == 2) {
    char buf[16];
    int n, got = 0;
    while ((n = corral_stream_read(corral_process_stream(p, 1), buf, sizeof buf)) > 0) got += n;
    if (n < 0) rc = n;
  }
  if (rc == 0 && p) rc = corral_process_wait(p, &st, &sig);
  corral_process_close(p);
  int cancelled = corral_scope_cancelled(&s);
  rc = corral_scope_exit(&s, rc);
  S.spawns++;
  if (cancelled) {
    S.spawn_cancels++;
    return 0;
  }
  if (rc == 0 && kind == 1 && st != 3) rc = CORRAL_EIO;
  if (rc == 0 && kind < 3 && kind != 1 && st != 0) rc = CORRAL_EIO;
  if (rc) {
    S.spawn_errors++;
    fprintf(stderr, "soak: child kind %d: %s (status %d, signal %d)\n", kind,
            corral_err_name(rc), st, sig);
  }
  return rc;
}

static int spawner(void *arg, void **res) {
  (void)res;
  rng r = {(uint64_t)(uintptr_t)arg * 0xd6e8feb86659fd93ull | 1};
  while (running()) {
    CORRAL_IGNORE(one_child(&r));
    /* ~30 children a second per task: the machine is shared. */
    if (corral_sleep((10 + pick(&r, 40)) * MS) != 0) break;
  }
  return 0;
}

/* ---- files ---- */

static int file_round(rng *r, int id) {
  char path[300];
  snprintf(path, sizeof path, "%s/f%d", S.dir, id);
  static char out[65536];
  char in[4096];
  size_t len = 1 + (size_t)pick(r, sizeof out);
  corral_scope s;
  corral_move_on_after(&s, (pick(r, 4) ? 100 : pick(r, 3)) * MS);
  corral_file *f = NULL;
  size_t wrote = 0;
  int rc = corral_file_open(path, O_CREAT | O_RDWR | O_TRUNC, 0600, &f);
  if (rc == 0) rc = corral_file_write(f, out, len, &wrote);
  size_t got = 0;
  while (rc == 0 && got < len) {
    int n = corral_file_pread(f, in, sizeof in, (int64_t)got);
    if (n <= 0) rc = n ? n : CORRAL_EIO;
    else got += (size_t)n;
  }
  corral_stat st;
  if (rc == 0) rc = corral_file_fstat(f, &st);
  if (rc == 0 && st.size != len) rc = CORRAL_EIO;
  if (f) {
    int c = corral_file_close(f);
    if (rc == 0) rc = c;
  }
  int cancelled = corral_scope_cancelled(&s);
  rc = corral_scope_exit(&s, rc);
  /* outside the scope: the file goes whatever happened */
  int u = corral_file_unlink(path);
  if (u != 0 && u != CORRAL_ENOENT && u != CORRAL_ECANCELED) rc = u;
  S.file_rounds++;
  if (cancelled) S.file_cancels++;
  else if (rc) {
    S.file_errors++;
    fprintf(stderr, "soak: file round: %s\n", corral_err_name(rc));
  }
  return rc;
}

static int filer(void *arg, void **res) {
  (void)res;
  int id = (int)(uintptr_t)arg;
  rng r = {(uint64_t)id * 0x2545f4914f6cdd1dull | 1};
  while (running()) {
    CORRAL_IGNORE(file_round(&r, id));
    if (corral_sleep(pick(&r, 3) * MS) != 0) break;
  }
  return 0;
}

static int dir_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* ---- main ---- */

/* SOAK_ONLY=name,name...: run only those loads (tcp, timers, channels,
 * gathers, offload, processes, files), to find which one drifts. */
static int want(const char *name) {
  const char *only = getenv("SOAK_ONLY");
  return !only || strstr(only, name) != NULL;
}

static int soak_main(void *arg, void **res) {
  (void)arg, (void)res;
  S.end = corral_now() + CORRAL_SEC(S.seconds);
  corral_listener *l;
  int rc = corral_tcp_listen("127.0.0.1", 0, 0, &l);
  if (rc) return rc;
  S.port = corral_listener_port(l);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_FAIL_FAST, .name = "soak"});
  corral_spawn(&g, sampler, NULL, "sampler", NULL);
  corral_spawn(&g, server, l, "server", NULL);
  for (uintptr_t i = 1; i <= 16 && want("tcp"); i++) corral_spawn(&g, client, (void *)i, "client", NULL);
  for (uintptr_t i = 1; i <= 32 && want("timers"); i++) corral_spawn(&g, timers, (void *)i, "timers", NULL);
  for (uintptr_t i = 1; i <= 2 && want("channels"); i++) corral_spawn(&g, channels, (void *)i, "channels", NULL);
  for (uintptr_t i = 1; i <= 4 && want("gathers"); i++) corral_spawn(&g, gathers, (void *)i, "gathers", NULL);
  for (uintptr_t i = 1; i <= 4 && want("offload"); i++) corral_spawn(&g, offloader, (void *)i, "offloader", NULL);
  for (uintptr_t i = 1; i <= 3 && want("processes"); i++) corral_spawn(&g, spawner, (void *)i, "spawner", NULL);
  for (uintptr_t i = 1; i <= 4 && want("files"); i++) corral_spawn(&g, filer, (void *)i, "filer", NULL);
  /* The server waits in accept: stop it when the load is over. */
  CORRAL_IGNORE(corral_sleep_until(S.end + CORRAL_SEC(1)));
  corral_listener_close(l);
  rc = corral_group_close(&g, 0);
  return rc;
}

static int nothing(void *a, void **r) {
  (void)a, (void)r;
  return 0;
}

/* SOAK_COUNT_ALLOC=1: the runtime allocates through a counting allocator
 * and the CSV gets its live blocks and bytes (then task slabs come from
 * malloc rather than mmap): if RSS grows while these stay flat, the growth
 * is not the runtime's memory. */
static void *ca_malloc(void *c, size_t n) {
  (void)c;
  void *p = malloc(n);
  if (p) {
    live_blocks++;
    live_bytes += (long)malloc_usable_size(p);
  }
  return p;
}
static void *ca_realloc(void *c, void *p, size_t n) {
  (void)c;
  long old = p ? (long)malloc_usable_size(p) : 0;
  void *q = realloc(p, n);
  if (q) {
    if (!p) live_blocks++;
    live_bytes += (long)malloc_usable_size(q) - old;
  }
  return q;
}
static void ca_free(void *c, void *p) {
  (void)c;
  if (p) {
    live_blocks--;
    live_bytes -= (long)malloc_usable_size(p);
  }
  free(p);
}

/* RSS after the warm-up (see the checks at the end of main). */
#define RSS_TREND_KIB 128
#define RSS_GROWTH_KIB 256

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}
static long median(const long *v, int n) {
  long *c = malloc(sizeof *c * (size_t)(n ? n : 1));
  if (!c || n == 0) return free(c), 0;
  memcpy(c, v, sizeof *c * (size_t)n);
  qsort(c, (size_t)n, sizeof *c, cmp_long);
  long m = c[n / 2];
  free(c);
  return m;
}
/* Least-squares slope of v over its n samples (one a second), per
 * minute: a steady drift shows here even when the halves' medians and
 * maxima stay within their bounds. */
static double slope_per_min(const long *v, int n) {
  if (n < 2) return 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; i++) {
    sx += i;
    sy += (double)v[i];
    sxx += (double)i * i;
    sxy += (double)i * (double)v[i];
  }
  double d = n * sxx - sx * sx;
  return d == 0 ? 0 : 60.0 * (n * sxy - sx * sy) / d;
}

static int max_int(const int *v, int n) {
  int m = 0;
  for (int i = 0; i < n; i++)
    if (v[i] > m) m = v[i];
  return m;
}

int main(int argc, char **argv) {
  S.seconds = argc > 1 ? atoi(argv[1]) : 600;
  if (S.seconds < 4) S.seconds = 4;
  if (argc > 2) {
    S.csv = fopen(argv[2], "w");
    if (S.csv)
      fprintf(S.csv, "second,rss_kb,fds,children,connections,tcp_cancels,sleeps,"
                     "items,gathers,offloads,spawns,spawn_cancels,file_rounds,"
                     "live_blocks,live_bytes\n");
  }
  if (getenv("SOAK_LEAK")) S.leak = (size_t)atol(getenv("SOAK_LEAK"));
  /* The sample arrays are resident from the start: filling them is not
   * growth of the load's memory (12 KiB in ten minutes otherwise). */
  memset(S.rss_kb, 0xff, sizeof S.rss_kb);
  memset(S.fds, 0xff, sizeof S.fds);
  memset(S.kids, 0xff, sizeof S.kids);
  /* Orphaned grandchildren come to us and count as children. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  snprintf(S.dir, sizeof S.dir, "%s/corral-soak-%d",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  if (mkdir(S.dir, 0700) != 0) {
    perror(S.dir);
    return 1;
  }
  /* The first loop makes libuv's process-wide signal pipe: count after it. */
  corral_run(NULL, nothing, NULL, NULL);
  int fds0 = count_fds(), kids0 = count_children();
  corral_allocator ca = {ca_malloc, ca_realloc, ca_free, NULL};
  /* SOAK_STACK_CACHE=n: the stack pool keeps at most n stacks. */
  corral_options ro = {0};
  if (getenv("SOAK_COUNT_ALLOC")) ro.allocator = &ca;
  if (getenv("SOAK_STACK_CACHE")) ro.stack_cache = (size_t)atol(getenv("SOAK_STACK_CACHE"));
  int rc = corral_run(&ro, soak_main, NULL, NULL);
  int fds1 = count_fds(), kids1 = count_children();
  int left = dir_entries(S.dir);
  rmdir(S.dir);
  if (S.csv) fclose(S.csv);
  int h = S.n / 2, fail = 0;
  long rss1 = median(S.rss_kb, h), rss2 = median(S.rss_kb + h, S.n - h);
  int fd1 = max_int(S.fds, h), fd2 = max_int(S.fds + h, S.n - h);
  long fdv[4096];
  for (int i = 0; i < S.n; i++) fdv[i] = S.fds[i];
  long fdm1 = median(fdv, h), fdm2 = median(fdv + h, S.n - h);
  int k1 = max_int(S.kids, h), k2 = max_int(S.kids + h, S.n - h);
  long kv[4096];
  for (int i = 0; i < S.n; i++) kv[i] = S.kids[i];
  /* Trends over the second half (the first warms pools and arenas). */
  /* RSS after the warm-up (the first minute, or the first third of a
   * shorter run): its trend, and its growth from the window's first
   * quarter to its last (medians). */
  int warm = S.n / 3 < 60 ? S.n / 3 : 60, wn = S.n - warm, q = wn / 4 > 0 ? wn / 4 : 1;
  double rss_slope = slope_per_min(S.rss_kb + warm, wn);
  long rss_early = median(S.rss_kb + warm, q), rss_late = median(S.rss_kb + S.n - q, q);
  double fd_slope = slope_per_min(fdv + h, S.n - h);
  double kid_slope = slope_per_min(kv + h, S.n - h);
  printf("soak: %d s, %d samples; %ld connections (%ld exchanges, %ld cancelled, "
         "%ld errors), %ld timer rounds (%ld cancelled), %ld channel items in "
         "%ld rounds, %ld gathers, %ld offloaded calls (%ld cancelled, %ld abandoned), "
         "%ld children (%ld cancelled, %ld errors), %ld file rounds (%ld cancelled, "
         "%ld errors)\n",
         S.seconds, S.n, S.connections, S.exchanges, S.tcp_cancels, S.tcp_errors,
         S.sleeps, S.timer_cancels, S.items, S.rounds, S.gathers, S.offloads,
         S.offload_cancels, S.abandoned, S.spawns, S.spawn_cancels, S.spawn_errors,
         S.file_rounds, S.file_cancels, S.file_errors);
  printf("soak: RSS median %ld KiB -> %ld KiB; descriptors median %ld -> %ld, "
         "max %d -> %d; children max %d -> %d\n", rss1, rss2, fdm1, fdm2, fd1,
         fd2, k1, k2);
  printf("soak: after the first %d s: RSS %ld KiB -> %ld KiB (medians of the first and "
         "last %d s), trend %+.1f KiB a minute; second half's trend per minute: "
         "descriptors %+.2f, children %+.2f\n", warm, rss_early, rss_late, q, rss_slope,
         fd_slope, kid_slope);
  for (int m = 0; m * 60 < S.n; m++) {
    int k = S.n - m * 60 < 60 ? S.n - m * 60 : 60;
    long lo = S.rss_kb[m * 60], hi = lo;
    for (int i = m * 60; i < m * 60 + k; i++) {
      if (S.rss_kb[i] < lo) lo = S.rss_kb[i];
      if (S.rss_kb[i] > hi) hi = S.rss_kb[i];
    }
    printf("soak: minute %d: RSS %ld / %ld / %ld KiB (min / median / max)\n", m + 1, lo,
           median(S.rss_kb + m * 60, k), hi);
  }
  /* RSS after the warm-up: a trend of at most RSS_TREND_KIB a minute and a
   * growth of at most RSS_GROWTH_KIB. A leak of 100 bytes per connection
   * adds ~880 KiB a minute, per child ~230, per timer sleep tens of MiB;
   * what stays is libc's main heap reaching its high-water mark (a few
   * steps of 4 to 70 KiB, docs/reliability.md "Soak"). The number of
   * descriptors and children open at a sample varies with the load's
   * concurrency (15 .. 60): their slope over a minute is mostly that
   * noise, so they are held by the halves' medians and maxima and by the
   * count after the run. */
  /* A window under two minutes (the 60-second run's is 40 s) extrapolates
   * one step of the heap's high-water mark (up to 70 KiB, more on a loaded
   * machine where more of the load is in flight at once) to over 100 KiB a
   * minute: its trend bound is twice the long run's, which a leak of 100
   * bytes per connection (~880 KiB a minute) still exceeds fourfold. */
  int trend_bound = wn < 120 ? 2 * RSS_TREND_KIB : RSS_TREND_KIB;
  if (rss_slope > trend_bound || rss_late - rss_early > RSS_GROWTH_KIB) {
    printf("soak: FAIL: RSS grew after the warm-up (bounds: %d KiB a minute, %d KiB)\n",
           trend_bound, RSS_GROWTH_KIB);
    fail = 1;
  }
  if (rc != 0) {
    printf("soak: FAIL: corral_run returned %s\n", corral_err_name(rc));
    fail = 1;
  }
  if (S.n < 4) {
    printf("soak: FAIL: only %d samples\n", S.n);
    fail = 1;
  }
  if (fd2 > fd1 + 16 || fdm2 > fdm1 + 4 || k2 > k1 + 2) {
    printf("soak: FAIL: descriptors or child processes grew\n");
    fail = 1;
  }
  if (fds1 != fds0 || kids1 != kids0) {
    printf("soak: FAIL: after the run %d descriptors (%d before), %d children "
           "(%d before)\n", fds1, fds0, kids1, kids0);
    fail = 1;
  }
  if (left != 0) {
    printf("soak: FAIL: %d files left in %s\n", left, S.dir);
    fail = 1;
  }
  if (S.spawn_errors || S.file_errors) {
    printf("soak: FAIL: children or files failed\n");
    fail = 1;
  }
  if ((want("tcp") && S.connections == 0) || (want("timers") && S.sleeps == 0) ||
      (want("channels") && S.items == 0) || (want("gathers") && S.gathers == 0) ||
      (want("offload") && S.offloads == 0) ||
      (want("processes") && (S.spawns == 0 || S.spawn_cancels == 0)) ||
      (want("files") && S.file_rounds == 0)) {
    printf("soak: FAIL: some load did not run\n");
    fail = 1;
  }
  if (!fail) printf("soak: PASS\n");
  return fail;
}
