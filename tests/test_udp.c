/* UDP: bind, send_to / recv_from, connect, cancellation that consumes
 * nothing, truncation, close under a blocked receiver, name lookups. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int m_udp(void *arg, void **res) {
  (void)arg, (void)res;
  corral_udp *a, *b;
  CHECK_RC(corral_udp_open("127.0.0.1", 0, &a), 0);
  CHECK_RC(corral_udp_open("localhost", 0, &b), 0); /* by name */
  int pb = corral_udp_port(b);
  CHECK(pb > 0);
  struct sockaddr_storage to = {0}, from;
  struct sockaddr_in *in = (struct sockaddr_in *)&to;
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)pb);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_RC(corral_udp_send_to(a, "hello", 5, (struct sockaddr *)&to), 0);
  char buf[16];
  CHECK_RC(corral_udp_recv_from(b, buf, sizeof buf, &from), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(ntohs(((struct sockaddr_in *)&from)->sin_port), corral_udp_port(a));
  /* A receive cancelled before anything came consumes nothing. */
  corral_scope s;
  corral_move_on_after(&s, 30 * MS);
  int rc = corral_udp_recv_from(b, buf, sizeof buf, NULL);
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&s, rc), 0);
  /* connect: send without an address; too long a datagram is cut and its
   * full length told. */
  CHECK_RC(corral_udp_connect(a, "localhost", pb), 0);
  CHECK_RC(corral_udp_send(a, "0123456789", 10), 0);
  CHECK_RC(corral_udp_recv_from(b, buf, 4, NULL), 10);
  CHECK(memcmp(buf, "0123", 4) == 0);
  /* Nothing queued: the next receive waits for the next datagram. */
  CHECK_RC(corral_udp_send(a, "x", 1), 0);
  CHECK_RC(corral_udp_recv_from(b, buf, sizeof buf, NULL), 1);
  int nf = corral_udp_connect(a, "no-such-host.invalid", 9);
  CHECK(nf == CORRAL_ENOTFOUND || nf == CORRAL_EAGAIN);
  CHECK_RC(corral_udp_open("127.0.0.1", 70000, &b), CORRAL_EINVAL);
  CHECK_RC(corral_udp_send_to(NULL, "x", 1, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_udp_close(a), 0);
  CHECK_RC(corral_udp_close(NULL), 0);
  /* b is left open on purpose: the runtime's end closes it. */
  return 0;
}
TEST(send_receive_connect_cancel_truncate) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_udp, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

static corral_udp *g_u;
static int receiver(void *arg, void **res) {
  (void)arg, (void)res;
  char buf[8];
  return corral_udp_recv_from(g_u, buf, sizeof buf, NULL);
}
static int spin(void *arg, void **res) {
  (void)arg, (void)res;
  CORRAL_IGNORE(corral_yield());
  return corral_yield();
}
static int m_close(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_udp_open(NULL, 0, &g_u), 0);
  corral_group g;
  corral_group_open(&g, &(corral_group_opts){.policy = CORRAL_COLLECT});
  corral_task *t;
  corral_spawn(&g, receiver, NULL, "receiver", &t);
  CORRAL_IGNORE(corral_sleep(10 * MS));
  for (int i = 0; i < 2000; i++) corral_spawn(&g, spin, NULL, "spin", NULL);
  CORRAL_IGNORE(corral_yield());
  corral_udp_close(g_u);
  CHECK_RC(corral_group_close(&g, 0), CORRAL_EGROUP);
  CHECK_RC(corral_task_code(t), CORRAL_ECLOSED);
  corral_task_release(t);
  return 0;
}
TEST(close_wakes_receiver) {
  int before = count_fds();
  CHECK_RC(corral_run(NULL, m_close, NULL, NULL), 0);
  CHECK_EQ(count_fds(), before);
}

TEST(outside_task) {
  corral_udp *u;
  CHECK_RC(corral_udp_open(NULL, 0, &u), CORRAL_ENOTASK);
}
