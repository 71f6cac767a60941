/* echo_sharded: one runtime per core behind one listening port.
 *
 * Each shard is a thread running its own corral runtime with its own
 * listening socket on the same port (SO_REUSEPORT: the kernel spreads new
 * connections over the shards). A connection's lines are not answered by
 * the shard that accepted it: each line is handed through a portal to the
 * next shard, which turns it upper case and hands the answer back through
 * the first shard's portal, where the connection's task writes it out.
 * Sockets are plain non-blocking descriptors driven with
 * corral_wait_readable / corral_wait_writable.
 *
 * The program is its own client: the main thread (no runtime) opens
 * connections, sends lines and checks the answers, then stops every shard
 * with corral_portal_call and shows that a portal whose runtime has ended
 * answers CORRAL_ECLOSED. Exits 0 when every answer was right.
 *   echo_sharded [--shards N] [--connections N] [--lines N] */
#define _GNU_SOURCE /* accept4 */
#include "corral.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SHARDS 64

typedef struct shard {
  int idx;
  int lfd;                 /* its own listening socket on the shared port */
  corral_portal *portal;
  corral_group group;      /* the accept loop and the connections */
  atomic_int accepted, processed;
} shard;

static shard shards[MAX_SHARDS];
static int nshards;
static pthread_barrier_t ready;

/* A line on its way to another shard and back. Shared by two runtimes:
 * reference counted, freed by whoever lets go last. */
typedef struct msg {
  atomic_int refs;
  int origin, worker;
  corral_event done;       /* set in the origin's runtime only */
  size_t len;
  char text[256];
} msg;

static void msg_unref(msg *m) {
  if (atomic_fetch_sub(&m->refs, 1) == 1) free(m);
}

/* In the origin shard's runtime: the answer is back. */
static int deliver(void *arg, void **res) {
  (void)res;
  msg *m = arg;
  corral_event_set(&m->done);
  msg_unref(m);
  return 0;
}

/* In the worker shard's runtime: do the work, send the answer back. */
static int process(void *arg, void **res) {
  (void)res;
  msg *m = arg;
  shard *me = &shards[m->worker];
  for (size_t i = 0; i < m->len; i++)
    m->text[i] = (char)toupper((unsigned char)m->text[i]);
  atomic_fetch_add(&me->processed, 1);
  int rc = corral_portal_submit(shards[m->origin].portal, deliver, m, "deliver");
  if (rc) msg_unref(m); /* the origin is gone: nobody waits any more */
  return 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) return -errno;
    int rc = corral_wait_writable(fd);
    if (rc) return rc;
  }
  return 0;
}

typedef struct conn {
  shard *sh;
  int fd;
} conn;

/* One connection: read lines, hand each to the next shard, write answers. */
static int connection(void *arg, void **res) {
  (void)res;
  conn c = *(conn *)arg;
  free(arg);
  char buf[256];
  size_t have = 0;
  int rc = 0;
  for (;;) {
    char *nl = memchr(buf, '\n', have);
    if (!nl) {
      if (have == sizeof buf) break; /* line too long: hang up */
      ssize_t r = recv(c.fd, buf + have, sizeof buf - have, 0);
      if (r == 0) break;
      if (r < 0) {
        if (errno != EAGAIN && errno != EINTR) break;
        if ((rc = corral_wait_readable(c.fd)) != 0) break;
        continue;
      }
      have += (size_t)r;
      continue;
    }
    size_t len = (size_t)(nl - buf);
    msg *m = calloc(1, sizeof *m);
    if (!m) {
      rc = CORRAL_ENOMEM;
      break;
    }
    atomic_init(&m->refs, 2); /* this task and the trip */
    m->origin = c.sh->idx;
    m->worker = (c.sh->idx + 1) % nshards;
    corral_event_init(&m->done);
    m->len = len < 200 ? len : 200;
    memcpy(m->text, buf, m->len);
    memmove(buf, nl + 1, have - len - 1);
    have -= len + 1;
    rc = corral_portal_submit(shards[m->worker].portal, process, m, "process");
    if (rc) {
      free(m);
      break;
    }
    rc = corral_event_wait(&m->done);
    if (rc == 0) {
      char out[320];
      int n = snprintf(out, sizeof out, "%.*s (accepted by shard %d, done by shard %d)\n",
                       (int)m->len, m->text, m->origin, m->worker);
      rc = write_all(c.fd, out, (size_t)n);
    }
    msg_unref(m);
    if (rc) break;
  }
  corral_notify_closing(c.fd);
  close(c.fd);
  return rc == CORRAL_ECANCELED ? rc : 0;
}

static int accept_loop(void *arg, void **res) {
  (void)res;
  shard *sh = arg;
  for (;;) {
    int fd = accept4(sh->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        return corral_errorf(-errno, "accept: %s", strerror(errno));
      int rc = corral_wait_readable(sh->lfd);
      if (rc) return rc;
      continue;
    }
    atomic_fetch_add(&sh->accepted, 1);
    conn *c = malloc(sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    *c = (conn){sh, fd};
    if (corral_spawn(&sh->group, connection, c, "connection", NULL) != 0) {
      free(c);
      close(fd);
    }
  }
}

static int shard_main(void *arg, void **res) {
  (void)res;
  shard *sh = arg;
  int rc = corral_portal_open(&sh->portal);
  if (rc) return rc;
  corral_group_open(&sh->group, &(corral_group_opts){.name = "shard"});
  pthread_barrier_wait(&ready); /* every portal exists */
  corral_spawn(&sh->group, accept_loop, sh, "accept", NULL);
  rc = corral_group_close(&sh->group, 0);
  corral_notify_closing(sh->lfd);
  close(sh->lfd);
  return rc == CORRAL_ECANCELED ? 0 : rc;
}

/* Sent by the main thread through the portal: stop this shard. */
static int stop_shard(void *arg, void **res) {
  (void)res;
  shard *sh = arg;
  return corral_group_cancel(&sh->group, "stopped by the main thread");
}

static void *shard_thread(void *arg) {
  shard *sh = arg;
  int rc = corral_run(NULL, shard_main, sh, NULL);
  if (rc) fprintf(stderr, "shard %d: %s\n", sh->idx, corral_strerror(rc));
  return NULL;
}

static int listen_reuseport(int port, int *bound) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
    close(fd);
    return -1;
  }
  *bound = ntohs(a.sin_port);
  return fd;
}

static int arg_int(int argc, char **argv, const char *name, int dflt) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
  return dflt;
}

int main(int argc, char **argv) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  nshards = arg_int(argc, argv, "--shards", cores < 2 ? 2 : (int)cores);
  int nconn = arg_int(argc, argv, "--connections", 8);
  int nlines = arg_int(argc, argv, "--lines", 5);
  if (nshards < 1 || nshards > MAX_SHARDS || nconn < 1 || nlines < 1) {
    fprintf(stderr, "usage: echo_sharded [--shards 1..%d] [--connections N] [--lines N]\n",
            MAX_SHARDS);
    return 2;
  }
  int port = 0;
  for (int i = 0; i < nshards; i++) {
    shards[i].idx = i;
    shards[i].lfd = listen_reuseport(port, &port);
    if (shards[i].lfd < 0) {
      perror("listen with SO_REUSEPORT");
      return 1;
    }
  }
  printf("%d shards (one runtime per core) listening on 127.0.0.1:%d\n", nshards, port);
  pthread_barrier_init(&ready, NULL, (unsigned)nshards + 1);
  pthread_t th[MAX_SHARDS];
  for (int i = 0; i < nshards; i++) pthread_create(&th[i], NULL, shard_thread, &shards[i]);
  pthread_barrier_wait(&ready);

  int bad = 0;
  for (int c = 0; c < nconn; c++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      perror("connect");
      return 1;
    }
    char line[64], want[64], got[512];
    int accepted_by = -1, done_by = -1;
    for (int l = 0; l < nlines; l++) {
      int n = snprintf(line, sizeof line, "hello %d.%d\n", c, l);
      snprintf(want, sizeof want, "HELLO %d.%d (", c, l);
      if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) bad++;
      size_t have = 0;
      while (have < sizeof got - 1 && (have == 0 || got[have - 1] != '\n')) {
        ssize_t r = recv(fd, got + have, sizeof got - 1 - have, 0);
        if (r <= 0) break;
        have += (size_t)r;
      }
      got[have] = 0;
      if (strncmp(got, want, strlen(want)) != 0 ||
          sscanf(strchr(got, '(') ? strchr(got, '(') : "",
                 "(accepted by shard %d, done by shard %d)", &accepted_by,
                 &done_by) != 2 ||
          done_by != (accepted_by + 1) % nshards) {
        printf("  connection %d: unexpected answer '%s'\n", c, got);
        bad++;
      }
    }
    printf("connection %d: %d lines, accepted by shard %d, answered by shard %d\n", c,
           nlines, accepted_by, done_by);
    close(fd);
  }

  for (int i = 0; i < nshards; i++) {
    int rc = corral_portal_call(shards[i].portal, stop_shard, &shards[i], NULL);
    if (rc) {
      printf("stopping shard %d: %s\n", i, corral_strerror(rc));
      bad++;
    }
  }
  for (int i = 0; i < nshards; i++) pthread_join(th[i], NULL);
  int total = 0;
  for (int i = 0; i < nshards; i++) {
    printf("shard %d: accepted %d connections, processed %d lines for its neighbour\n",
           i, atomic_load(&shards[i].accepted), atomic_load(&shards[i].processed));
    total += atomic_load(&shards[i].processed);
  }
  if (total != nconn * nlines) bad++;
  int rc = corral_portal_submit(shards[0].portal, stop_shard, &shards[0], NULL);
  printf("after the runtimes ended, a submission answers %s\n", corral_err_name(rc));
  if (rc != CORRAL_ECLOSED) bad++;
  for (int i = 0; i < nshards; i++) corral_portal_release(shards[i].portal);
  pthread_barrier_destroy(&ready);
  printf("%s\n", bad ? "FAILED" : "every answer was right");
  return bad ? 1 : 0;
}
