/* A real C client library, hiredis, inside corral tasks through the public
 * hooks only (see redis_hooks.h): a fan-out of queries under fail-fast, a
 * query that would block for 10 s abandoned by a 100 ms deadline, and a
 * failing query that cancels its blocked siblings at once. Starts and stops
 * its own redis-server. Exits 0 when everything behaved as intended. */
#define _GNU_SOURCE
#include "redis_hooks.h"

#include <dirent.h>

static const char *sock;
static int64_t t0;

static double ms(void) { return (double)(corral_now() - t0) / 1e6; }

static int nothing(void *a, void **r) {
  (void)a, (void)r;
  return 0;
}

/* Open descriptors, once libuv's process-wide signal pipe exists. */
static int count_fds(void) {
  static int warm;
  if (!warm++) corral_run(NULL, nothing, NULL, NULL);
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* One query on its own connection. arg: the command. */
static int query(void *arg, void **result) {
  const char *cmd = arg;
  redisContext *c;
  int rc = redis_open(sock, &c);
  if (rc) return rc;
  redisReply *r;
  rc = redis_query(c, &r, cmd); /* hiredis splits it into arguments */
  if (rc == 0) {
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    *result = (void *)(intptr_t)v;
    printf("  %7.1f ms  %-24s -> %lld\n", ms(), cmd, v);
    freeReplyObject(r);
  } else {
    const corral_error *e = rc == CORRAL_ECANCELED ? NULL : corral_last_error();
    printf("  %7.1f ms  %-24s -> %s%s%s\n", ms(), cmd, corral_err_name(rc),
           e ? ": " : "", e ? corral_error_message(e) : "");
  }
  redis_close(c); /* after a cancellation the connection is discarded */
  return rc;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  int ok = 1;
  t0 = corral_now();

  printf("1. eight INCRs fanned out under fail-fast:\n");
  corral_call calls[8];
  for (int i = 0; i < 8; i++) calls[i] = (corral_call){query, "INCR hits", "incr"};
  corral_outcome out[8];
  int rc = corral_gather(calls, 8, out, NULL);
  long long max = 0;
  for (int i = 0; i < 8; i++)
    if ((intptr_t)out[i].result > max) max = (intptr_t)out[i].result;
  corral_outcomes_clear(out, 8);
  printf("   gather: %s, counter reached %lld\n", corral_err_name(rc), max);
  ok &= rc == 0 && max == 8;

  printf("2. BLPOP with a 10 s server-side wait, under a 100 ms deadline:\n");
  t0 = corral_now();
  corral_scope s;
  if (corral_move_on_after(&s, CORRAL_MS(100)) != 0) return CORRAL_EINVAL;
  rc = query("BLPOP nothing 10", NULL);
  rc = corral_scope_exit(&s, rc);
  double at = ms();
  printf("   abandoned after %.0f ms (move_on: %s)\n", at, corral_err_name(rc));
  ok &= rc == 0 && at < 1000;

  printf("3. three blocked BLPOPs and one failing query, fail-fast:\n");
  t0 = corral_now();
  corral_call mixed[4] = {{query, "BLPOP a 10", "wait-a"},
                          {query, "BLPOP b 10", "wait-b"},
                          {query, "BLPOP c 10", "wait-c"},
                          {query, "INCRBYFLOAT hits oops", "bad"}};
  corral_outcome o4[4];
  rc = corral_gather(mixed, 4, o4, NULL);
  at = ms();
  printf("   gather: %s after %.0f ms:", corral_err_name(rc), at);
  int cancelled = 0;
  for (int i = 0; i < 4; i++) {
    printf(" %s=%s", mixed[i].name, corral_status_name(o4[i].status));
    cancelled += o4[i].status == CORRAL_STATUS_CANCELLED;
  }
  printf("\n");
  if (o4[3].error) corral_error_print(o4[3].error, stdout);
  ok &= rc == CORRAL_EGROUP && cancelled == 3 &&
        o4[3].status == CORRAL_STATUS_ERROR && at < 1000;
  corral_outcomes_clear(o4, 4);
  return ok ? 0 : CORRAL_EIO;
}

int main(int argc, char **argv) {
  char dir[] = "/tmp/corral-redis-XXXXXX", path[128];
  pid_t server = -1;
  if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
    sock = argv[2];
  } else {
    if (!mkdtemp(dir)) return 1;
    server = redis_server_start(dir, path, sizeof path);
    if (server < 0) {
      fprintf(stderr, "redis_fanout: could not start redis-server "
                      "(apt-get install redis-server)\n");
      return 1;
    }
    sock = path;
  }
  int before = count_fds();
  int rc = corral_run(NULL, body, NULL, NULL);
  int after = count_fds();
  printf("descriptors: %d before, %d after\n", before, after);
  redis_server_stop(server);
  if (server > 0) {
    unlink(path);
    rmdir(dir);
  }
  if (rc || before != after) {
    printf("FAILED (%s)\n", corral_err_name(rc));
    return 1;
  }
  printf("ok\n");
  return 0;
}
