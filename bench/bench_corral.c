/* corral's side of `make bench`: one JSON object per line on stdout.
 *   bench_corral [case ...]   (default: all)   BENCH_QUICK=1 shrinks sizes */
#define _GNU_SOURCE
#include "corral.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS (1000000LL)

static int quick;
static long scale(long n) { return quick ? n / 10 : n; }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The runtime's thread CPU time: time the thread ran, whatever else the
 * machine did meanwhile (the ratio of ping-pong to switch, both on one
 * thread, is then stable on a loaded machine). */
static int64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4096;
}

static void emit(const char *bench, double v, const char *unit) {
  printf("{\"bench\": \"%s\", \"system\": \"corral\", \"value\": %.3f, \"unit\": \"%s\"}\n",
         bench, v, unit);
  fflush(stdout);
}

/* ---- switch: two tasks ping-pong through yields ---- */
static long switch_n;
static int yielder(void *arg, void **res) {
  (void)arg, (void)res;
  for (long i = 0; i < switch_n; i++) CORRAL_IGNORE(corral_yield());
  return 0;
}
static int b_switch(void *arg, void **res) {
  (void)arg, (void)res;
  switch_n = scale(10000000) / 2;
  corral_group g;
  corral_group_open(&g, NULL);
  int64_t t0 = now_ns(), c0 = cpu_ns();
  corral_spawn(&g, yielder, NULL, "a", NULL);
  corral_spawn(&g, yielder, NULL, "b", NULL);
  int rc = corral_group_close(&g, 0);
  int64_t c1 = cpu_ns();
  emit("switch", (double)(now_ns() - t0) / (double)(switch_n * 2), "ns");
  emit("switch_cpu", (double)(c1 - c0) / (double)(switch_n * 2), "ns");
  return rc;
}

/* ---- spawn_join / gather ---- */
static int nop(void *arg, void **res) {
  (void)arg, (void)res;
  return 0;
}
static int b_spawn_join(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(1000000);
  corral_group g;
  int64_t t0 = now_ns();
  corral_group_open(&g, NULL);
  for (long i = 0; i < n; i++) corral_spawn(&g, nop, NULL, "nop", NULL);
  int rc = corral_group_close(&g, 0);
  emit("spawn_join", (double)(now_ns() - t0) / (double)n, "ns");
  return rc;
}
static int b_spawn_join_eager(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(1000000);
  corral_group g;
  int64_t t0 = now_ns();
  corral_group_open(&g, &(corral_group_opts){.eager = 1});
  for (long i = 0; i < n; i++) corral_spawn(&g, nop, NULL, "nop", NULL);
  int rc = corral_group_close(&g, 0);
  emit("spawn_join_eager", (double)(now_ns() - t0) / (double)n, "ns");
  return rc;
}
static int b_gather(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(1000000);
  corral_call *calls = malloc(sizeof *calls * (size_t)n);
  corral_outcome *out = malloc(sizeof *out * (size_t)n);
  for (long i = 0; i < n; i++) calls[i] = (corral_call){nop, NULL, "nop"};
  int64_t t0 = now_ns();
  int rc = corral_gather(calls, (size_t)n, out, NULL);
  emit("gather", (double)(now_ns() - t0) / (double)n, "ns");
  free(calls);
  free(out);
  return rc;
}

/* ---- timers: 100k tasks sleep 10 ms ---- */
static int sleeper10(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(10 * MS);
}
static int b_timers(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(100000);
  corral_group g;
  int64_t t0 = now_ns();
  corral_group_open(&g, NULL);
  for (long i = 0; i < n; i++) corral_spawn(&g, sleeper10, NULL, "t", NULL);
  int rc = corral_group_close(&g, 0);
  emit("timers", (double)(now_ns() - t0 - 10 * MS) / 1e6, "ms");
  return rc;
}

/* ---- fail_fast: 100k sleeping siblings, one fails ---- */
static int long_sleep(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(3600LL * 1000 * MS);
}
static int64_t fail_t0;
static int failer(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_sleep(1 * MS)); /* let every sibling start and sleep */
  fail_t0 = now_ns();
  return CORRAL_EIO;
}
static int b_fail_fast(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(100000);
  corral_group g;
  corral_group_open(&g, NULL);
  for (long i = 0; i < n; i++) corral_spawn(&g, long_sleep, NULL, "s", NULL);
  corral_spawn(&g, failer, NULL, "failer", NULL);
  int rc = corral_group_close(&g, 0);
  emit("fail_fast", (double)(now_ns() - fail_t0) / 1e6, "ms");
  return rc == CORRAL_EGROUP ? 0 : -1;
}

/* ---- hold: 1M suspended tasks (default stacks, or compact) ---- */
static int hold_compact;
static int b_hold(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(1000000);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.compact = hold_compact});
  long rss0 = rss_bytes();
  int64_t t0 = now_ns();
  long held = 0;
  for (long i = 0; i < n; i++) {
    if (corral_spawn(&g, long_sleep, NULL, "h", NULL)) break;
    held++;
  }
  CORRAL_IGNORE(corral_sleep(1)); /* every task runs until it sleeps */
  int64_t t1 = now_ns();
  long rss1 = rss_bytes();
  const char *sfx = hold_compact ? "_compact" : "";
  char name[32];
  snprintf(name, sizeof name, "hold%s", sfx);
  emit(name, (double)held, "tasks");
  snprintf(name, sizeof name, "hold_rss%s", sfx);
  emit(name, (double)(rss1 - rss0) / (double)held, "bytes");
  snprintf(name, sizeof name, "hold_create%s", sfx);
  emit(name, (double)(t1 - t0) / (double)held, "ns");
  corral_group_cancel(&g, NULL);
  return corral_group_close(&g, 0);
}

static int b_hold_compact(void *arg, void **res) {
  hold_compact = 1;
  int rc = b_hold(arg, res);
  hold_compact = 0;
  return rc;
}

/* ---- gather_limit: 100k short tasks, limit 100 ---- */
static int short_task(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_yield();
}
static int b_gather_limit(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(100000);
  corral_call *calls = malloc(sizeof *calls * (size_t)n);
  corral_outcome *out = malloc(sizeof *out * (size_t)n);
  for (long i = 0; i < n; i++) calls[i] = (corral_call){short_task, NULL, "s"};
  int64_t t0 = now_ns();
  int rc = corral_gather(calls, (size_t)n, out, &(corral_gather_opts){.limit = 100});
  emit("gather_limit", (double)(now_ns() - t0) / 1e6, "ms");
  free(calls);
  free(out);
  return rc;
}

/* ---- echo: 1000 connections x 100 round trips of 64 bytes ---- */
#define ECHO_MSG 64
static int echo_port, echo_compact;
static long echo_rounds;
static int echo_handler(void *arg, void **res) {
  (void)res;
  corral_stream *c = arg;
  char buf[4096];
  int n;
  while ((n = corral_stream_read(c, buf, sizeof buf)) > 0)
    if (corral_stream_write(c, buf, (size_t)n, NULL)) break;
  corral_stream_close(c);
  return 0;
}
static int echo_server(void *arg, void **res) {
  (void)res;
  corral_listener *l = arg;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT,
                                             .compact = echo_compact});
  corral_stream *c;
  while (corral_listener_accept(l, &c) == 0)
    corral_spawn(&g, echo_handler, c, "handler", NULL);
  return corral_group_close(&g, 0);
}
static int echo_client(void *arg, void **res) {
  (void)arg, (void)res;
  corral_stream *s;
  int rc = corral_tcp_connect("127.0.0.1", echo_port, &s);
  if (rc) return rc;
  char msg[ECHO_MSG], back[ECHO_MSG];
  memset(msg, 'x', sizeof msg);
  for (long r = 0; r < echo_rounds && rc == 0; r++) {
    rc = corral_stream_write(s, msg, sizeof msg, NULL);
    for (size_t got = 0; rc == 0 && got < sizeof back;) {
      int n = corral_stream_read(s, back + got, sizeof back - got);
      if (n <= 0) rc = n ? n : CORRAL_EPIPE;
      else got += (size_t)n;
    }
  }
  corral_stream_close(s);
  return rc;
}
static int b_echo(void *arg, void **res) {
  (void)arg, (void)res;
  long conns = quick ? 100 : 1000;
  echo_rounds = 100;
  corral_listener *l;
  int rc = corral_tcp_listen("127.0.0.1", 0, 4096, &l);
  if (rc) return rc;
  echo_port = corral_listener_port(l);
  corral_task *srv;
  corral_create_task(echo_server, l, "server", &srv);
  int64_t t0 = now_ns();
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.compact = echo_compact});
  for (long i = 0; i < conns; i++) corral_spawn(&g, echo_client, NULL, "client", NULL);
  rc = corral_group_close(&g, 0);
  emit(echo_compact ? "echo_compact" : "echo", (double)(now_ns() - t0) / 1e6, "ms");
  corral_cancel(srv, NULL);
  CORRAL_IGNORE(corral_join(srv, NULL));
  corral_task_release(srv);
  corral_listener_close(l);
  return rc;
}
static int b_echo_compact(void *arg, void **res) {
  echo_compact = 1;
  return b_echo(arg, res);
}

/* ---- echo_sharded: one runtime per core. SHARDS threads, each running its
 * own runtime with its own listening socket on one shared port
 * (SO_REUSEPORT: the kernel spreads the connections) and half the clients:
 * 1000 connections x 100 round trips of 64 bytes in all. A client's
 * connection lands on either shard. Reports requests per second and the
 * 99th percentile of a round trip. bench/peers/libuv_echo.c does the same
 * with one libuv loop per thread. ---- */
#define SHARDS 2
typedef struct {
  int idx;
  long conns;             /* clients of this shard */
  uint32_t *lat;          /* round-trip times, ns */
  atomic_long nlat;
  corral_listener *l;
  int64_t t_end;
  int rc;
} eshard;
static eshard eshards[SHARDS];
static atomic_int es_port, es_listening, es_go;
static atomic_long es_closed; /* server side connections ended, all shards */
static long es_total, es_rounds;

static int es_handler(void *arg, void **res) {
  (void)res;
  corral_stream *c = arg;
  char buf[4096];
  int n;
  while ((n = corral_stream_read(c, buf, sizeof buf)) > 0)
    if (corral_stream_write(c, buf, (size_t)n, NULL)) break;
  corral_stream_close(c);
  atomic_fetch_add(&es_closed, 1);
  return 0;
}
static int es_accept(void *arg, void **res) {
  (void)res;
  eshard *sh = arg;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_stream *c;
  while (corral_listener_accept(sh->l, &c) == 0)
    corral_spawn(&g, es_handler, c, "handler", NULL);
  return corral_group_close(&g, 0);
}
static int es_client(void *arg, void **res) {
  (void)res;
  eshard *sh = arg;
  corral_stream *s;
  int rc = corral_tcp_connect("127.0.0.1", atomic_load(&es_port), &s);
  if (rc) return rc;
  char msg[ECHO_MSG], back[ECHO_MSG];
  memset(msg, 'x', sizeof msg);
  for (long r = 0; r < es_rounds && rc == 0; r++) {
    int64_t t0 = now_ns();
    rc = corral_stream_write(s, msg, sizeof msg, NULL);
    for (size_t got = 0; rc == 0 && got < sizeof back;) {
      int n = corral_stream_read(s, back + got, sizeof back - got);
      if (n <= 0) rc = n ? n : CORRAL_EPIPE;
      else got += (size_t)n;
    }
    sh->lat[atomic_fetch_add(&sh->nlat, 1)] = (uint32_t)(now_ns() - t0);
  }
  corral_stream_close(s);
  return rc;
}
static int es_main(void *arg, void **res) {
  (void)res;
  eshard *sh = arg;
  /* Shard 0 picks the port; the others join it once it listens. */
  if (sh->idx > 0)
    while (!atomic_load(&es_port)) CORRAL_IGNORE(corral_sleep(100000));
  int rc = corral_tcp_listen_ex("127.0.0.1", atomic_load(&es_port),
                                &(corral_listen_opts){.backlog = 4096, .reuse_port = 1},
                                &sh->l);
  if (rc) return rc;
  if (sh->idx == 0) atomic_store(&es_port, corral_listener_port(sh->l));
  atomic_fetch_add(&es_listening, 1);
  corral_task *srv;
  corral_create_task(es_accept, sh, "server", &srv);
  while (!atomic_load(&es_go)) CORRAL_IGNORE(corral_sleep(10000));
  corral_group g;
  corral_group_open(&g, NULL);
  for (long i = 0; i < sh->conns; i++) corral_spawn(&g, es_client, sh, "client", NULL);
  rc = corral_group_close(&g, 0);
  sh->t_end = now_ns();
  /* Every shard serves clients of every shard: stop once all are gone. */
  while (atomic_load(&es_closed) < es_total) CORRAL_IGNORE(corral_sleep(1000000));
  corral_cancel(srv, NULL);
  CORRAL_IGNORE(corral_join(srv, NULL));
  corral_task_release(srv);
  corral_listener_close(sh->l);
  return rc;
}
static void *es_thread(void *arg) {
  eshard *sh = arg;
  corral_options o = {0};
  o.stall_report_ns = CORRAL_FOREVER;
  sh->rc = corral_run(&o, es_main, sh, NULL);
  return NULL;
}
static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}
static int b_echo_sharded(void) {
  es_total = quick ? 100 : 1000;
  es_rounds = 100;
  atomic_store(&es_port, 0);
  atomic_store(&es_listening, 0);
  atomic_store(&es_go, 0);
  atomic_store(&es_closed, 0);
  pthread_t th[SHARDS];
  for (int i = 0; i < SHARDS; i++) {
    eshard *sh = &eshards[i];
    memset(sh, 0, sizeof *sh);
    sh->idx = i;
    sh->conns = es_total / SHARDS + (i < es_total % SHARDS);
    sh->lat = malloc(sizeof *sh->lat * (size_t)(sh->conns * es_rounds));
    if (!sh->lat || pthread_create(&th[i], NULL, es_thread, sh)) return -1;
  }
  while (atomic_load(&es_listening) < SHARDS) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  int64_t t0 = now_ns();
  atomic_store(&es_go, 1);
  for (int i = 0; i < SHARDS; i++) pthread_join(th[i], NULL);
  int64_t t_end = 0;
  long n = 0;
  int rc = 0;
  for (int i = 0; i < SHARDS; i++) {
    if (eshards[i].t_end > t_end) t_end = eshards[i].t_end;
    n += atomic_load(&eshards[i].nlat);
    if (eshards[i].rc) {
      fprintf(stderr, "bench echo_sharded: shard %d: %s\n", i, corral_strerror(eshards[i].rc));
      rc = -1;
    }
  }
  uint32_t *all = malloc(sizeof *all * (size_t)(n ? n : 1));
  long k = 0;
  for (int i = 0; i < SHARDS; i++) {
    if (all) memcpy(all + k, eshards[i].lat, sizeof *all * (size_t)atomic_load(&eshards[i].nlat));
    k += atomic_load(&eshards[i].nlat);
    free(eshards[i].lat);
  }
  if (rc == 0 && all && n == es_total * es_rounds) {
    qsort(all, (size_t)n, sizeof *all, cmp_u32);
    emit("echo_sharded", (double)n / ((double)(t_end - t0) / 1e9), "req/s");
    emit("echo_sharded_p99", (double)all[(size_t)((double)n * 0.99)] / 1e3, "us");
  } else {
    rc = -1;
  }
  free(all);
  return rc;
}

/* ---- channels: ping-pong of one token between two tasks that run the same
 * relay (like the switch case: same code on both sides) over two rendezvous
 * channels, 1M messages; 4-to-1 fan-in through one channel of capacity
 * 128, 1M items ---- */
static long chan_n;
static corral_channel *chan_a, *chan_b;
static int64_t chan_dt, chan_cpu;
typedef struct {
  corral_channel *in, *out;
  int first;
} relay_role;
static int relay(void *arg, void **res) {
  (void)res;
  relay_role *r = arg;
  long v = 0;
  int64_t t0 = now_ns(), c0 = cpu_ns();
  if (r->first && corral_channel_send(r->out, &v)) return CORRAL_EIO;
  for (long i = 0; i < chan_n; i++) {
    if (corral_channel_receive(r->in, &v)) return CORRAL_EIO;
    v++;
    if ((i + 1 < chan_n || !r->first) && corral_channel_send(r->out, &v))
      return CORRAL_EIO;
  }
  if (r->first) {
    chan_cpu = cpu_ns() - c0;
    chan_dt = now_ns() - t0;
  }
  return 0;
}
static int b_chan_pingpong(void *arg, void **res) {
  (void)arg, (void)res;
  chan_n = scale(1000000) / 2; /* each side receives chan_n messages */
  corral_channel_open(&chan_a, sizeof(long), 0, "ping");
  corral_channel_open(&chan_b, sizeof(long), 0, "pong");
  relay_role ra = {chan_a, chan_b, 1}, rb = {chan_b, chan_a, 0};
  corral_group g;
  corral_group_open(&g, NULL);
  corral_spawn(&g, relay, &rb, "b", NULL);
  corral_spawn(&g, relay, &ra, "a", NULL);
  int rc = corral_group_close(&g, 0);
  emit("chan_pingpong", (double)chan_dt / (double)(chan_n * 2), "ns");
  emit("chan_pingpong_cpu", (double)chan_cpu / (double)(chan_n * 2), "ns");
  corral_channel_free(chan_a);
  corral_channel_free(chan_b);
  return rc;
}
static int fan_producer(void *arg, void **res) {
  (void)arg, (void)res;
  for (long i = 0; i < chan_n; i++)
    if (corral_channel_send(chan_a, &i)) return CORRAL_EIO;
  return 0;
}
static int fan_consumer(void *arg, void **res) {
  (void)arg, (void)res;
  long v, sum = 0;
  for (long i = 0; i < chan_n * 4; i++) {
    if (corral_channel_receive(chan_a, &v)) return CORRAL_EIO;
    sum += v;
  }
  return sum == 4 * (chan_n * (chan_n - 1) / 2) ? 0 : CORRAL_EIO;
}
static int b_chan_fanin(void *arg, void **res) {
  (void)arg, (void)res;
  chan_n = scale(1000000) / 4;
  corral_channel_open(&chan_a, sizeof(long), 128, "fan-in");
  corral_group g;
  int64_t t0 = now_ns();
  corral_group_open(&g, NULL);
  corral_spawn(&g, fan_consumer, NULL, "consumer", NULL);
  for (int k = 0; k < 4; k++)
    corral_spawn(&g, fan_producer, NULL, "producer", NULL);
  int rc = corral_group_close(&g, 0);
  emit("chan_fanin", (double)(now_ns() - t0) / (double)(chan_n * 4), "ns");
  corral_channel_free(chan_a);
  return rc;
}

/* ---- offload: round trip of a no-op through a worker thread ---- */
static int nop_work(void *arg, void **res) {
  (void)arg, (void)res;
  return 0;
}
static int b_offload(void *arg, void **res) {
  (void)arg, (void)res;
  long n = scale(200000);
  CORRAL_IGNORE(corral_to_thread(nop_work, NULL, NULL, NULL)); /* warm up */
  int64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    int rc = corral_to_thread(nop_work, NULL, NULL, NULL);
    if (rc) return rc;
  }
  emit("offload", (double)(now_ns() - t0) / (double)n / 1000.0, "us");
  return 0;
}

/* ---- subprocess: spawn and wait for `true`, stdio on /dev/null, one at a
 * time and 8 in flight ---- */
static long sp_left;
static int sp_run_true(void) {
  static const char *const argv[] = {"true", NULL};
  corral_process_opts o = {.argv = argv};
  for (int i = 0; i < 3; i++) o.stdio[i].mode = CORRAL_STDIO_NULL;
  corral_process *p;
  int rc = corral_process_spawn(&o, &p);
  if (rc) return rc;
  int es = -1;
  rc = corral_process_wait(p, &es, NULL);
  corral_process_close(p);
  return rc ? rc : es == 0 ? 0 : CORRAL_EIO;
}
static int sp_worker(void *arg, void **res) {
  (void)arg, (void)res;
  while (sp_left > 0) {
    sp_left--;
    int rc = sp_run_true();
    if (rc) return rc;
  }
  return 0;
}
static int sp_bench(long conc) {
  long n = scale(1000);
  int rc = sp_run_true(); /* warm up */
  if (rc) return rc;
  sp_left = n;
  int64_t t0 = now_ns();
  corral_group g;
  rc = corral_group_open(&g, NULL);
  if (rc) return rc;
  int brc = 0;
  for (long i = 0; i < conc && !brc; i++) brc = corral_spawn(&g, sp_worker, NULL, "worker", NULL);
  rc = corral_group_close(&g, brc);
  if (rc) return rc;
  emit(conc == 1 ? "subprocess" : "subprocess_8", (double)(now_ns() - t0) / (double)n / 1000.0,
       "us");
  return 0;
}
static int b_subprocess(void *arg, void **res) {
  (void)arg, (void)res;
  return sp_bench(1);
}
static int b_subprocess_8(void *arg, void **res) {
  (void)arg, (void)res;
  return sp_bench(8);
}

static const struct {
  const char *name;
  corral_fn fn;
} cases[] = {{"switch", b_switch},       {"spawn_join", b_spawn_join},
             {"spawn_join_eager", b_spawn_join_eager},
             {"gather", b_gather},       {"timers", b_timers},
             {"fail_fast", b_fail_fast}, {"hold", b_hold},
             {"hold_compact", b_hold_compact},
             {"gather_limit", b_gather_limit},
             {"echo", b_echo},
             {"echo_compact", b_echo_compact},
             {"chan_pingpong", b_chan_pingpong},
             {"chan_fanin", b_chan_fanin},
             {"offload", b_offload},
             {"subprocess", b_subprocess},
             {"subprocess_8", b_subprocess_8},
             {"echo_sharded", NULL}};

int main(int argc, char **argv) {
  quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK"));
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int want = argc == 1;
    for (int a = 1; a < argc; a++)
      if (strcmp(argv[a], cases[i].name) == 0) want = 1;
    if (!want) continue;
    if (!cases[i].fn) { /* runs its own runtimes, one per thread */
      if (b_echo_sharded()) fprintf(stderr, "bench %s failed\n", cases[i].name);
      continue;
    }
    /* Spawning a million tasks in one go is a stall by design here. */
    corral_options o = {0};
    o.stall_report_ns = CORRAL_FOREVER;
    int rc = corral_run(&o, cases[i].fn, NULL, NULL);
    if (rc) fprintf(stderr, "bench %s: %s\n", cases[i].name, corral_strerror(rc));
  }
  return 0;
}
