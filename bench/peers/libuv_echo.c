/* Raw libuv callbacks: the echo floor. 1000 connections x 100 round trips of
 * 64 bytes, client and server in one loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MSG 64
static uv_loop_t *loop;
static long rounds = 100, done_clients, nclients;

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
} cli_conn;

static void free_close(uv_handle_t *h) { free(h); }

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
  if (n < 0) { uv_close((uv_handle_t *)s, free_close); return; }
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

int main(int argc, char **argv) {
  int want = argc == 1;
  for (int i = 1; i < argc; i++) want |= strcmp(argv[i], "echo") == 0;
  if (!want) return 0;
  nclients = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) ? 100 : 1000;
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
