/* Resolve a name, connect to it, exchange a request: a tiny weather
 * service on "localhost" and a client that finds it by name.
 *
 *   resolve_and_fetch            run it; exits 0 when the story went right
 *
 * The server is a task with its own group of connection handlers; the
 * client resolves "localhost", connects by name (Happy Eyeballs over every
 * address the name has), sends one request line and reads one reply line,
 * all under a deadline. At the end the server is cancelled: nothing it
 * opened outlives it. */
#include "common.h"

static corral_listener *listener;

static int handle(void *arg, void **result) {
  (void)result;
  corral_stream *c = arg;
  char line[128];
  int n = corral_stream_read_line(c, line, sizeof line);
  if (n > 0) {
    const char *reply = strcmp(line, "GET /weather/paris\n") == 0
                            ? "200 sunny 21C\n"
                            : "404 unknown city\n";
    printf("server: got \"%.*s\", answering \"%.*s\"\n", n - 1, line,
           (int)strlen(reply) - 1, reply);
    n = corral_stream_write(c, reply, strlen(reply), NULL);
  }
  corral_stream_close(c);
  return n < 0 ? n : 0;
}

static int server(void *arg, void **result) {
  (void)arg, (void)result;
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT,
                                             .name = "handlers"});
  int rc;
  for (;;) {
    corral_stream *c;
    rc = corral_listener_accept(listener, &c);
    if (rc) break;
    corral_spawn(&g, handle, c, "handler", NULL);
  }
  /* Cancelled by main at the end: that is how a server stops. */
  return corral_group_close(&g, rc == CORRAL_ECANCELED ? 0 : rc);
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  /* 1. What does "localhost" stand for? */
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  int rc = corral_getaddrinfo("localhost", NULL, &hints, &ai);
  if (rc) return rc;
  printf("resolve: localhost is");
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    char buf[64];
    printf(" %s", corral_addr_string(a->ai_addr, buf, sizeof buf));
  }
  printf("\n");
  corral_freeaddrinfo(ai);

  /* 2. A server on that name, any free port. */
  rc = corral_tcp_listen("localhost", 0, 0, &listener);
  if (rc) return rc;
  int port = corral_listener_port(listener);
  printf("server: listening on localhost\n");
  corral_task *srv;
  corral_create_task(server, NULL, "server", &srv);

  /* 3. The client: connect by name, ask, read the answer; 5 s at most. */
  corral_scope s;
  corral_fail_after(&s, CORRAL_SEC(5));
  corral_stream *c = NULL;
  char reply[64] = "";
  rc = corral_tcp_connect("localhost", port, &c);
  if (!rc) {
    printf("client: connected to localhost\n");
    const char *req = "GET /weather/paris\n";
    rc = corral_stream_write(c, req, strlen(req), NULL);
  }
  if (!rc) rc = corral_stream_read_line(c, reply, sizeof reply);
  corral_stream_close(c);
  rc = corral_scope_exit(&s, rc < 0 ? rc : 0);
  if (rc == 0) printf("client: the answer is \"%.*s\"\n", (int)strlen(reply) - 1, reply);

  /* 4. Stop the server; its handlers and listener go with it. */
  corral_cancel(srv, "done");
  CORRAL_IGNORE(corral_join(srv, NULL)); /* cancelled: that is its code */
  corral_task_release(srv);
  corral_listener_close(listener);
  if (rc) {
    fprintf(stderr, "client: %s\n", corral_strerror(rc));
    return rc;
  }
  int ok = strcmp(reply, "200 sunny 21C\n") == 0;
  printf("%s\n", ok ? "done: the request went by name and came back"
                    : "done: wrong answer");
  return ok ? 0 : CORRAL_EIO;
}

int main(int argc, char **argv) { return ex_main(argc, argv, body); }
