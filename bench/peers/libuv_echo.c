/* Raw libuv callbacks: the echo floor. 1000 connections x 100 round trips of
 * 64 bytes, client and server in one loop ("echo"); the same with one loop
 * per thread on 2 threads, each with its own SO_REUSEPORT listener on one
 * port and half the clients ("echo_sharded": requests/s and the 99th
 * percentile of a round trip), the layout of bench_corral's echo_sharded. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MSG 64
static _Thread_local uv_loop_t *loop;
static long rounds = 100, nclients;
static _Thread_local long done_clients;
/* echo_sharded: per-thread latency log (ns), NULL in the echo case. */
static _Thread_local uint32_t *lat;
static _Thread_local long nlat;
static atomic_long srv_closed;

typedef struct {
  uv_tcp_t h;
  char buf[4096];
} srv_conn;

typedef struct {
  uv_tcp_t h;
  uv_connect_t creq;
  uv_write_t wreq;
  char msg[MSG], back[4096];
  size_t got;
  long round;
  uint64_t t0;
} cli_conn;

static void free_close(uv_handle_t *h) { free(h); }
static void srv_free_close(uv_handle_t *h) {
  free(h);
  atomic_fetch_add(&srv_closed, 1);
}

typedef struct {
  uv_write_t req;
  char data[];
} echo_wr;
static void on_echo_written(uv_write_t *req, int status) { (void)status; free(req); }
static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  srv_conn *c = (srv_conn *)h;
  *b = uv_buf_init(c->buf, sizeof c->buf);
}
static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  if (n < 0) { uv_close((uv_handle_t *)s, srv_free_close); return; }
  if (n == 0) return;
  uv_buf_t wb = uv_buf_init(b->base, (unsigned)n);
  int w = uv_try_write(s, &wb, 1);
  if (w == n) return;
  if (w < 0) w = 0;
  echo_wr *r = malloc(sizeof *r + (size_t)(n - w));
  memcpy(r->data, b->base + w, (size_t)(n - w));
  uv_buf_t rb = uv_buf_init(r->data, (unsigned)(n - w));
  uv_write(&r->req, s, &rb, 1, on_echo_written);
}
static void on_conn(uv_stream_t *l, int status) {
  if (status < 0) return;
  srv_conn *c = malloc(sizeof *c);
  uv_tcp_init(loop, &c->h);
  if (uv_accept(l, (uv_stream_t *)&c->h) == 0) {
    uv_tcp_nodelay(&c->h, 1);
    uv_read_start((uv_stream_t *)&c->h, srv_alloc, srv_read);
  } else {
    uv_close((uv_handle_t *)&c->h, free_close);
  }
}

static void cli_send(cli_conn *c);
static void cli_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  cli_conn *c = (cli_conn *)h;
  *b = uv_buf_init(c->back + c->got, (unsigned)(sizeof c->back - c->got));
}
static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  cli_conn *c = (cli_conn *)s;
  if (n < 0) { uv_close((uv_handle_t *)s, free_close); return; }
  c->got += (size_t)n;
  if (c->got < MSG) return;
  c->got = 0;
  if (lat) lat[nlat++] = (uint32_t)(uv_hrtime() - c->t0);
  if (++c->round == rounds) {
    done_clients++;
    uv_close((uv_handle_t *)s, free_close);
    return;
  }
  cli_send(c);
}
static void cli_written(uv_write_t *r, int status) { (void)r; (void)status; }
static void cli_send(cli_conn *c) {
  uv_buf_t b = uv_buf_init(c->msg, MSG);
  if (lat) c->t0 = uv_hrtime();
  if (uv_try_write((uv_stream_t *)&c->h, &b, 1) == MSG) return;
  uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, cli_written);
}
static void on_connected(uv_connect_t *req, int status) {
  cli_conn *c = req->data;
  if (status < 0) { uv_close((uv_handle_t *)&c->h, free_close); return; }
  uv_tcp_nodelay(&c->h, 1);
  uv_read_start((uv_stream_t *)&c->h, cli_alloc, cli_read);
  cli_send(c);
}

/* ---- echo_sharded ---- */
#define SHARDS 2
typedef struct {
  int idx;
  long conns;
  uint32_t *lat;
  long nlat;
  uint64_t t_end;
  int fd;
} shard;
static shard shards[SHARDS];
static int port;
static atomic_int go;
static long total;

static int listen_reuseport(int want, int *bound) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", want, &a);
  socklen_t al = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4096) ||
      getsockname(fd, (struct sockaddr *)&a, &al)) {
    close(fd);
    return -1;
  }
  *bound = ntohs(a.sin_port);
  return fd;
}

static void on_check(uv_timer_t *t) {
  uv_tcp_t *server = t->data;
  if (atomic_load(&srv_closed) < total) return;
  uv_close((uv_handle_t *)server, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

static void *shard_main(void *arg) {
  shard *sh = arg;
  uv_loop_t l;
  uv_loop_init(&l);
  loop = &l;
  lat = sh->lat;
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  uv_tcp_open(&server, sh->fd);
  uv_listen((uv_stream_t *)&server, 4096, on_conn);
  while (!atomic_load(&go)) {
    struct timespec ts = {0, 10000};
    nanosleep(&ts, NULL);
  }
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  for (long i = 0; i < sh->conns; i++) {
    cli_conn *c = calloc(1, sizeof *c);
    memset(c->msg, 'x', MSG);
    uv_tcp_init(loop, &c->h);
    c->creq.data = c;
    uv_tcp_connect(&c->creq, &c->h, (struct sockaddr *)&a, on_connected);
  }
  while (done_clients < sh->conns && uv_run(loop, UV_RUN_ONCE)) {
  }
  sh->t_end = uv_hrtime();
  sh->nlat = nlat;
  /* This loop also serves other shards' clients: stop once all are gone. */
  uv_timer_t check;
  uv_timer_init(loop, &check);
  check.data = &server;
  uv_timer_start(&check, on_check, 1, 1);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int echo_sharded(void) {
  total = nclients;
  port = 0;
  for (int i = 0; i < SHARDS; i++) {
    shard *sh = &shards[i];
    sh->idx = i;
    sh->conns = total / SHARDS + (i < total % SHARDS);
    sh->lat = malloc(sizeof *sh->lat * (size_t)(sh->conns * rounds));
    sh->fd = listen_reuseport(port, &port);
    if (!sh->lat || sh->fd < 0) return 1;
  }
  pthread_t th[SHARDS];
  for (int i = 0; i < SHARDS; i++) pthread_create(&th[i], NULL, shard_main, &shards[i]);
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, NULL); /* every loop listens */
  uint64_t t0 = uv_hrtime();
  atomic_store(&go, 1);
  uint64_t t_end = 0;
  long n = 0;
  for (int i = 0; i < SHARDS; i++) {
    pthread_join(th[i], NULL);
    if (shards[i].t_end > t_end) t_end = shards[i].t_end;
    n += shards[i].nlat;
  }
  if (n != total * rounds) return 1;
  uint32_t *all = malloc(sizeof *all * (size_t)n);
  long k = 0;
  for (int i = 0; i < SHARDS; i++) {
    memcpy(all + k, shards[i].lat, sizeof *all * (size_t)shards[i].nlat);
    k += shards[i].nlat;
    free(shards[i].lat);
  }
  qsort(all, (size_t)n, sizeof *all, cmp_u32);
  printf("{\"bench\": \"echo_sharded\", \"system\": \"libuv\", \"value\": %.3f, \"unit\": \"req/s\"}\n",
         (double)n / ((double)(t_end - t0) / 1e9));
  printf("{\"bench\": \"echo_sharded_p99\", \"system\": \"libuv\", \"value\": %.3f, \"unit\": \"us\"}\n",
         (double)all[(size_t)((double)n * 0.99)] / 1e3);
  free(all);
  return 0;
}

int main(int argc, char **argv) {
  int want = argc == 1, sharded = argc == 1;
  for (int i = 1; i < argc; i++) {
    want |= strcmp(argv[i], "echo") == 0;
    sharded |= strcmp(argv[i], "echo_sharded") == 0;
  }
  nclients = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) ? 100 : 1000;
  if (sharded && echo_sharded()) return 1;
  if (!want) return 0;
  loop = uv_default_loop();
  uv_tcp_t server;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &server);
  uv_tcp_bind(&server, (struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&server, 4096, on_conn);
  struct sockaddr_in bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  uint64_t t0 = uv_hrtime();
  for (long i = 0; i < nclients; i++) {
    cli_conn *c = calloc(1, sizeof *c);
    memset(c->msg, 'x', MSG);
    uv_tcp_init(loop, &c->h);
    c->creq.data = c;
    uv_tcp_connect(&c->creq, &c->h, (struct sockaddr *)&bound, on_connected);
  }
  while (done_clients < nclients && uv_run(loop, UV_RUN_ONCE)) {
  }
  printf("{\"bench\": \"echo\", \"system\": \"libuv\", \"value\": %.3f, \"unit\": \"ms\"}\n",
         (double)(uv_hrtime() - t0) / 1e6);
  return done_clients == nclients ? 0 : 1;
}
